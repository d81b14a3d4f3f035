//! Differential tests of Redis Functions and script flags against redis-server: FUNCTION
//! LOAD/DELETE/LIST/FLUSH/DUMP/RESTORE/STATS/KILL, FCALL/FCALL_RO, `#!lua` shebang flags for
//! EVAL, BUSY and FUNCTION KILL, persistence of libraries in the AOF, and the per-run memory
//! limit.

mod common;
use common::{Diff, DirServer as Proc, RawConn, Server, wait_for};
use std::time::Duration;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The payload of a bulk-string reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    let nl = reply.iter().position(|&c| c == b'\n').expect("header");
    assert_eq!(reply[0], b'$', "{}", text(reply));
    let n: usize = text(&reply[1..nl - 1]).parse().expect("length");
    reply[nl + 1..nl + 1 + n].to_vec()
}

/// Library loading (metadata, registration, load-time sandbox), FCALL and its errors, flags,
/// EVAL shebangs, OOM handling: every reply byte for byte.
#[test]
fn functions_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["function", "flush"],
        &["function", "load", "#!lua"],
        &["function", "load", "#!lua\n"],
        &["function", "load", "return 1"],
        &["function", "load", "#!foo name=x\nredis.register_function('a', function() return 1 end)"],
        &["function", "load", "#!lua name=x foo=bar\nredis.register_function('a', function() return 1 end)"],
        &["function", "load", "#!lua foo\nredis.register_function('a', function() return 1 end)"],
        &["function", "load", "#!lua name=x name=y\nredis.register_function('a', function() return 1 end)"],
        &["function", "load", "#!lua name=\nredis.register_function('a', function() return 1 end)"],
        &["function", "load", "#!lua name=a-b\nredis.register_function('a', function() return 1 end)"],
        &["function", "load", "#!lua name=a_b\nredis.register_function('a-b', function() return 1 end)"],
        &["function", "load", "#!lua name=a_b\nredis.register_function('', function() return 1 end)"],
        &["function", "load", "#!lua name=a_b\nredis.register_function('x')"],
        &["function", "load", "#!lua name=a_b\nredis.register_function('x', 1)"],
        &["function", "load", "#!lua name=a_b\nredis.register_function('x', function() end, 3)"],
        &["function", "load", "#!lua name=a_b\nredis.register_function()"],
        &["function", "load", "#!lua name=a_b\nredis.register_function({function_name='x'})"],
        &["function", "load", "#!lua name=a_b\nredis.register_function({callback=function() end})"],
        &["function", "load", "#!lua name=a_b\nredis.register_function({function_name='x', callback=function() end, flags={'bad'}})"],
        &["function", "load", "#!lua name=a_b\nredis.register_function({function_name='x', callback=function() end, flags='no-writes'})"],
        &["function", "load", "#!lua name=a_b\nredis.register_function({function_name='x', callback=function() end, foo=5})"],
        &["function", "load", "#!lua name=a_b\nredis.register_function({function_name='x', callback=function() end, flags={1}})"],
        &["function", "load", "#!lua name=a_b\nredis.register_function('x', function() end) redis.register_function('x', function() end)"],
        &["function", "load", "#!lua name=a_b\nredis.register_function('x', function() end"],
        &["function", "load", "#!lua name=a_b\nerror('boom')"],
        &["function", "load", "#!lua name=a_b\nlocal x = redis.setresp"],
        &["function", "load", "#!lua name=a_b\nlocal x = redis.call"],
        &["function", "load", "#!lua name=a_b\nlocal x = redis.LOG_DEBUG"],
        &["function", "load", "#!lua name=a_b\nlocal x = redis.REDIS_VERSION_NUM"],
        &["function", "load", "#!lua name=a_b\nlocal x = KEYS"],
        &["function", "load", "#!lua name=a_b\nlocal x = _G"],
        &["function", "load", "#!lua name=d\nx = 5"],
        &["function", "load", "#!lua name=d\nredis.foo = 5"],
        &["function", "load", "#!lua name=inf\nlocal i = 0 while true do i = i + 1 end"],
        &["function", "load", "#!lua name=a_b\nredis.register_function({function_name='x', callback=function() end, description=5})"],
        &["function", "list"],
        &["function", "load", "#!lua name=a_b\nredis.register_function({function_name='x', callback=function() end, description=5})"],
        &["function", "load", "#!lua name=d\nredis.register_function('x', function() return 1 end)"],
        &["function", "load", "#!lua name=d\nredis.register_function('X', function() return 1 end)"],
        &["function", "load", "#!lua name=a_b2\nredis.log(redis.LOG_WARNING, 'hi') redis.register_function('x2', function() return redis.REDIS_VERSION end)"],
        &["fcall", "x2", "0"],
        &["fcall", "X2", "0"],
        &["function", "load", "#!lua name=c\nredis.register_function('y', function() return {type(string), type(redis.call), type(cjson), type(bit), type(cmsgpack), type(math), type(table), type(redis.setresp), type(redis.pcall), type(redis.sha1hex), type(loadstring), type(KEYS)} end)"],
        &["fcall", "y", "0"],
        &["function", "load", "#!lua name=c2\nredis.register_function('y2', function(k,a) return {k[1], a[1], #k, #a} end)"],
        &["fcall", "y2", "1", "kk", "aa", "bb"],
        &["fcall", "y2", "3", "kk"],
        &["fcall", "y2", "-1", "kk"],
        &["fcall", "y2", "x", "kk"],
        &["fcall", "nosuch", "0"],
        &["fcall", "nosuch", "x"],
        &["fcall", "y2"],
        &["fcall_ro", "y2", "0"],
        &["function", "load", "#!lua name=g\nlocal n = 0\nredis.register_function('cnt', function() n = n + 1 return n end)"],
        &["fcall", "cnt", "0"],
        &["fcall", "cnt", "0"],
        &["function", "load", "#!lua name=g2\nredis.register_function('gl', function() foo = 1 end)"],
        &["fcall", "gl", "0"],
        &["function", "load", "#!lua name=g3\nredis.register_function('gl3', function() return redis.call('nosuch') end)"],
        &["fcall", "gl3", "0"],
        &["function", "load", "#!lua name=g4\nredis.register_function('gl4', function() error('boom') end)"],
        &["fcall", "gl4", "0"],
        &["function", "load", "#!lua name=g5\nredis.register_function('gl5', function() return redis.error_reply('MY err') end)"],
        &["fcall", "gl5", "0"],
        &["function", "load", "#!lua name=g6\nredis.register_function('gl6', function() return redis.call('incr', 'strk') end)"],
        &["set", "strk", "abc"],
        &["fcall", "gl6", "1", "strk"],
        &["function", "load", "#!lua name=g7\nredis.register_function('gl7', function() error({err='XYZ custom'}) end)"],
        &["fcall", "gl7", "0"],
        &["function", "load", "#!lua name=h\nlocal function helper() return string.len('abc') end\nredis.register_function('fh', function() return helper() end)"],
        &["fcall", "fh", "0"],
        &["function", "load", "#!lua name=h2\nlocal function helper() return redis.call('ping') end\nredis.register_function('fh2', function() return helper() end)"],
        &["fcall", "fh2", "0"],
        &["function", "load", "#!lua name=h4\nredis.register_function('fh4', function() redis.register_function('zz', function() end) end)"],
        &["fcall", "fh4", "0"],
        &["function", "load", "#!lua name=h6\nredis.register_function('fh6', function(k, a) return #KEYS end)"],
        &["fcall", "fh6", "0"],
        &["function", "load", "#!lua name=h7\nredis.register_function('fh7', function(k, a) k[1] = 'x' return k[1] end)"],
        &["fcall", "fh7", "0"],
        &["function", "load", "#!lua name=h9\nredis.register_function{function_name='fh9', callback=function(k, a) return redis.call('set', k[1], 'v') end, flags={'no-writes'}}"],
        &["fcall", "fh9", "1", "w"],
        &["fcall_ro", "fh9", "1", "w"],
        &["function", "load", "#!lua name=h10\nredis.register_function{function_name='fh10', callback=function(k, a) return redis.call('get', k[1]) end, flags={'no-writes'}, description='reads'}"],
        &["fcall_ro", "fh10", "1", "strk"],
        &["function", "list", "libraryname", "h1*"],
        &["function", "list", "libraryname", "h1*", "withcode"],
        &["function", "stats"],
        &["function", "delete", "h10"],
        &["function", "delete", "h10"],
        &["function", "delete"],
        &["function", "list", "libraryname"],
        &["function", "list", "withcode", "withcode"],
        &["function", "list", "foo"],
        &["function", "restore", "garbage"],
        &["function", "restore", "garbage", "BAD"],
        &["function", "restore", "garbage", "flush", "x"],
        &["function", "flush", "bad"],
        &["function", "flush", "sync", "x"],
        &["function", "kill"],
        &["function", "load", "replace", "#!lua name=h9\nredis.register_function('fh9', function() return 2 end)"],
        &["fcall", "fh9", "0"],
        &["function", "load", "replace", "#!lua name=h9\nredis.register_function('fh', function() return 2 end)"],
        &["function", "load", "foo", "x"],
        &["function", "load", "replace"],
        &["function", "load"],
        &["function", "bogus"],
        &["function"],
        &["function", "help"],
        &["multi"],
        &["fcall", "fh2", "0"],
        &["exec"],
        &["function", "flush", "async"],
        &["function", "stats"],
        &["eval", "#!lua flags=no-writes\nreturn redis.call('set','a','1')", "0"],
        &["eval", "#!lua flags=no-writes,allow-oom\nreturn redis.call('get','a')", "0"],
        &["eval", "#!lua\nreturn redis.call('set','a','1')", "0"],
        &["eval", "#!lua flags=bad\nreturn 1", "0"],
        &["eval", "#!lua foo=bar\nreturn 1", "0"],
        &["eval", "#!lua name=x\nreturn 1", "0"],
        &["eval", "#!js\nreturn 1", "0"],
        &["eval", "#!lua flags=\nreturn 1", "0"],
        &["eval", "#!lua flags=no-writes,,allow-oom\nreturn 1", "0"],
        &["eval", "#!lua flags=no-writes flags=allow-oom\nreturn 1", "0"],
        &["eval", "#!lua  flags=no-writes\nreturn 1", "0"],
        &["eval", "#!lua", "0"],
        &["eval", "#!lua flags=no-cluster,allow-cross-slot-keys,allow-stale\nreturn 1", "0"],
        &["eval", "#!lua\nerror('x')", "0"],
        &["eval", "#!lua\n\nreturn redis.call('incr','a','b')", "0"],
        &["eval_ro", "#!lua\nreturn 1", "0"],
        &["eval_ro", "#!lua flags=no-writes\nreturn 1", "0"],
        &["eval", "#!lua\nreturn bad syntax", "0"],
        &["eval", "\nreturn redis.call('incr','a','b')", "0"],
        &["eval", "\n\nerror('boom')", "0"],
        &["eval", "\n\nerror({err='X y'})", "0"],
        &["eval", "\n\nlocal x = nil + 1", "0"],
        &["eval", "\nreturn redis.call('incr','a',{})", "0"],
        &["eval", "\nreturn redis.call()", "0"],
        &["eval", "local x = nil; return x.y", "0"],
        &["eval", "return cjson.encode(function() end)", "0"],
        &["eval", "\nreturn pcall(function() error('x') end)", "0"],
        &["eval", "return redis.REDIS_VERSION", "0"],
        &["script", "load", "#!lua flags=bad\nreturn 1"],
        &["function", "load", "#!lua name=mm\nredis.register_function('m1', function(k, a) return redis.call('set', k[1], 'v') end)"],
        &["config", "set", "maxmemory", "1"],
        &["fcall", "m1", "1", "zz"],
        &["eval", "return redis.call('set','x','y')", "0"],
        &["eval", "#!lua\nreturn redis.call('set','x','y')", "0"],
        &["eval", "#!lua\nreturn redis.call('get','x')", "0"],
        &["eval", "#!lua flags=allow-oom\nreturn redis.call('set','x','y')", "0"],
        &["eval", "#!lua flags=no-writes\nreturn redis.call('get','x')", "0"],
        &["config", "set", "maxmemory", "0"],
    ]);
}

/// FUNCTION LIST / STATS / FCALL replies in RESP3 (maps, sets, nulls) and RESP2.
#[test]
fn list_stats_and_fcall_replies_match_redis_in_both_protocols() {
    for resp3 in [false, true] {
        let Some(mut d) = Diff::new() else { return };
        if resp3 {
            d.resp3();
        }
        d.script(&[
            &["FUNCTION", "STATS"],
            &["FUNCTION", "LIST"],
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=lib1\nredis.register_function{function_name='f1', callback=function(k, a) return {1, 'two', {3}, redis.call('get', k[1])} end, flags={'allow-oom', 'no-writes'}, description='the first'}",
            ],
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=lib2\nredis.register_function{function_name='f2', callback=function(k, a) redis.setresp(3) return {redis.call('hgetall', k[1]), {double=1.5}, {map={a=1}}, true, false} end, flags={'allow-cross-slot-keys','no-cluster','allow-stale','allow-oom','no-writes'}}",
            ],
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=lib3\nredis.register_function('f3', function(k, a) return redis.call('hset', k[1], a[1], a[2]) end)",
            ],
            &["FCALL", "f3", "1", "h", "field", "value"],
            &["FCALL", "f1", "1", "h"],
            &["FCALL", "f1", "1", "nokey"],
            &["FCALL_RO", "f2", "1", "h"],
            &["FCALL_RO", "F2", "1", "h"],
            &["FCALL_RO", "f3", "1", "h", "a", "b"],
            &["FUNCTION", "LIST", "LIBRARYNAME", "lib1", "WITHCODE"],
            &["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "lib2"],
            &["FUNCTION", "LIST", "LIBRARYNAME", "lib3"],
            &["FUNCTION", "LIST", "LIBRARYNAME", "LIB[3]"],
            &["FUNCTION", "LIST", "LIBRARYNAME", "nomatch*"],
            &["FUNCTION", "STATS"],
            &["FUNCTION", "DELETE", "lib1"],
            &["FUNCTION", "DELETE", "lib1"],
            &["FCALL", "f1", "0"],
            &["FUNCTION", "STATS"],
            &["FUNCTION", "FLUSH"],
            &["FUNCTION", "STATS"],
            &["FUNCTION", "LIST"],
            &["FUNCTION", "HELP"],
        ]);
    }
}

/// DUMP/RESTORE: ferrymq's payload is its own, so each server restores its own dump; the
/// replies to the same sequence must be equal, and garbage gets Redis's error.
#[test]
fn dump_restore_policies_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    let run = |c: &mut RawConn| -> Vec<String> {
        let mut out = Vec::new();
        let mut cmd = |c: &mut RawConn, args: &[&[u8]]| {
            let r = text(&c.cmd(args));
            out.push(r.clone());
            r
        };
        cmd(c, &[b"FUNCTION", b"FLUSH"]);
        cmd(
            c,
            &[
                b"FUNCTION",
                b"LOAD",
                b"#!lua name=la\nredis.register_function('fa', function() return 'a1' end)",
            ],
        );
        cmd(
            c,
            &[
                b"FUNCTION",
                b"LOAD",
                b"#!lua name=lb\nredis.register_function('fb', function() return 'b1' end)",
            ],
        );
        let payload = bulk(&c.cmd(&["FUNCTION", "DUMP"]));
        let p = &payload[..];
        // Only one library collides (Redis reports the first in its dictionary's order).
        cmd(c, &[b"FUNCTION", b"DELETE", b"lb"]);
        cmd(c, &[b"FUNCTION", b"RESTORE", p]);
        cmd(c, &[b"FUNCTION", b"RESTORE", p, b"append"]);
        cmd(
            c,
            &[
                b"FUNCTION",
                b"LOAD",
                b"REPLACE",
                b"#!lua name=la\nredis.register_function('fa', function() return 'a2' end)",
            ],
        );
        cmd(c, &[b"FCALL", b"fa", b"0"]);
        cmd(c, &[b"FUNCTION", b"RESTORE", p, b"replace"]);
        cmd(c, &[b"FCALL", b"fa", b"0"]);
        cmd(c, &[b"FUNCTION", b"DELETE", b"la"]);
        cmd(
            c,
            &[
                b"FUNCTION",
                b"LOAD",
                b"#!lua name=lc\nredis.register_function('fa', function() return 'c' end)",
            ],
        );
        cmd(c, &[b"FUNCTION", b"RESTORE", p, b"REPLACE"]);
        cmd(c, &[b"FCALL", b"fa", b"0"]);
        cmd(c, &[b"FUNCTION", b"RESTORE", p, b"FLUSH"]);
        cmd(c, &[b"FCALL", b"fa", b"0"]);
        cmd(c, &[b"FUNCTION", b"LIST", b"LIBRARYNAME", b"lc"]);
        cmd(c, &[b"FUNCTION", b"FLUSH"]);
        cmd(c, &[b"FUNCTION", b"RESTORE", p]);
        cmd(c, &[b"FCALL", b"fb", b"0"]);
        cmd(c, &[b"FUNCTION", b"RESTORE", &p[..p.len() - 1]]);
        let mut flipped = p.to_vec();
        *flipped.last_mut().unwrap() ^= 1;
        cmd(c, &[b"FUNCTION", b"RESTORE", &flipped]);
        cmd(c, &[b"FUNCTION", b"RESTORE", b""]);
        cmd(c, &[b"FUNCTION", b"RESTORE", b"garbage"]);
        cmd(c, &[b"FUNCTION", b"RESTORE", b"garbage", b"bad"]);
        cmd(c, &[b"FUNCTION", b"RESTORE", b"garbage", b"flush", b"x"]);
        cmd(c, &[b"FUNCTION", b"restore", b"garbage", b"flush", b"x"]);
        cmd(c, &[b"FUNCTION", b"Flush", b"sync", b"x"]);
        cmd(c, &[b"FUNCTION", b"FLUSH"]);
        let empty = bulk(&c.cmd(&["FUNCTION", "DUMP"]));
        cmd(c, &[b"FUNCTION", b"RESTORE", &empty]);
        cmd(c, &[b"FUNCTION", b"STATS"]);
        out
    };
    let r = run(&mut d.redis);
    let f = run(&mut d.ferry);
    assert_eq!(r, f);
}

/// A long function makes other clients get the FUNCTION KILL flavour of BUSY; SCRIPT KILL
/// refuses it, FUNCTION STATS names it, FUNCTION KILL stops it (and the reverse for EVAL).
#[test]
fn busy_function_and_kill_match_redis() {
    let Some(rs) = Server::redis(&["--busy-reply-threshold", "100"]) else {
        return;
    };
    let fm = Server::ferrymq(&["--busy-reply-threshold", "100"]);
    let run = |s: &Server| -> Vec<String> {
        let mut runner = s.raw();
        let mut other = s.raw();
        let mut out = vec![text(&runner.cmd(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=loop\nredis.register_function('spin', function() local i = 0\nwhile true do i = i + 1 end end)",
        ]))];
        runner.send(&["FCALL", "spin", "0"]);
        assert!(wait_for(Duration::from_secs(10), || {
            other.cmd_s(&["PING"]).starts_with("-BUSY")
        }));
        out.push(other.cmd_s(&["PING"]));
        out.push(other.cmd_s(&["SCRIPT", "KILL"]));
        let stats = other.cmd_s(&["FUNCTION", "STATS"]);
        // duration_ms varies: keep what precedes it.
        out.push(stats.split("duration_ms").next().unwrap().to_string());
        out.push(other.cmd_s(&["FUNCTION", "KILL"]));
        out.push(text(&runner.read_reply()));
        out.push(other.cmd_s(&["PING"]));
        runner.send(&["EVAL", "local i = 0\nwhile true do i = i + 1 end", "0"]);
        assert!(wait_for(Duration::from_secs(10), || {
            other.cmd_s(&["PING"]).starts_with("-BUSY")
        }));
        out.push(other.cmd_s(&["PING"]));
        out.push(other.cmd_s(&["FUNCTION", "STATS"]));
        out.push(other.cmd_s(&["FUNCTION", "KILL"]));
        out.push(other.cmd_s(&["SCRIPT", "KILL"]));
        out.push(text(&runner.read_reply()));
        out.push(other.cmd_s(&["FUNCTION", "KILL"]));
        // A function that wrote cannot be killed; this one ends by itself after ~2 s.
        out.push(text(&runner.cmd(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=w\nredis.register_function('wspin', function() redis.call('set', 'x', '1') local s = tonumber(redis.call('time')[1])\nwhile tonumber(redis.call('time')[1]) < s + 2 do end return 'done' end)",
        ])));
        runner.send(&["FCALL", "wspin", "0"]);
        assert!(wait_for(Duration::from_secs(10), || {
            other.cmd_s(&["PING"]).starts_with("-BUSY")
        }));
        out.push(other.cmd_s(&["FUNCTION", "KILL"]));
        out.push(other.cmd_s(&["SCRIPT", "KILL"]));
        out.push(text(&runner.read_reply()));
        out.push(other.cmd_s(&["GET", "x"]));
        out
    };
    assert_eq!(run(&rs), run(&fm));
}

/// A script that tries to take the server's memory gets an error; the server keeps serving.
#[test]
fn script_memory_is_limited() {
    let s = Server::ferrymq(&[]);
    let mut c = s.raw();
    let r = c.cmd_s(&["EVAL", "return #string.rep('x', 2^31 - 1)", "0"]);
    assert!(
        r.starts_with("-ERR Error running script") && r.contains("not enough memory"),
        "{r}"
    );
    let r = c.cmd_s(&["EVAL", "local s = 'x' while true do s = s .. s end", "0"]);
    assert!(r.contains("not enough memory"), "{r}");
    let r = c.cmd_s(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=mem\nredis.register_function('grow', function() local t = {} local s = string.rep('z', 65536) while true do t[#t + 1] = s .. #t end end)",
    ]);
    assert_eq!(r, "$3\r\nmem\r\n");
    // Filling 256 MiB takes a while in a debug build on a busy machine.
    c.send(&["FCALL", "grow", "0"]);
    let r = c.try_read_reply(Duration::from_secs(120)).expect("reply");
    assert_eq!(
        text(&r),
        "-ERR Error running script grow, not enough memory\r\n"
    );
    let r = c.cmd_s(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=atload\nlocal t = {} local s = 'y' while true do s = s .. s end",
    ]);
    assert!(
        r.starts_with("-ERR Error registering functions: ERR"),
        "{r}"
    );
    assert!(r.contains("not enough memory"), "{r}");
    // Memory is given back and later scripts run normally.
    assert_eq!(
        c.cmd_s(&["EVAL", "return #string.rep('x', 1000000)", "0"]),
        ":1000000\r\n"
    );
    assert_eq!(c.cmd_s(&["PING"]), "+PONG\r\n");
}

const LIB_INC: &str = "#!lua name=counters\nredis.register_function('inc', function(k, a) return redis.call('incrby', k[1], a[1]) end)";
const LIB_GET: &str = "#!lua name=readers\nredis.register_function{function_name='peek', callback=function(k) return redis.call('get', k[1]) end, flags={'no-writes'}, description='read a counter'}";

fn wait_rewrite_done(c: &mut RawConn) {
    assert!(wait_for(Duration::from_secs(20), || {
        common::info_field(c, "aof_rewrite_in_progress").as_deref() == Some("0")
    }));
}

/// Libraries survive restarts through the AOF: as FUNCTION LOAD effects in the incremental
/// file, and at the head of the base after a rewrite; the EVAL cache does not.
#[test]
fn functions_survive_restart_and_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    // A RESP base, whose first commands are checked below.
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-use-rdb-preamble",
        "no",
    ];
    let s = Proc::ferrymq(dir.path(), &args);
    let mut c = s.raw();
    assert_eq!(
        c.cmd_s(&["FUNCTION", "LOAD", LIB_INC]),
        "$8\r\ncounters\r\n"
    );
    assert_eq!(c.cmd_s(&["FCALL", "inc", "1", "n", "5"]), ":5\r\n");
    let sha = bulk(&c.cmd(&["SCRIPT", "LOAD", "return 1"]));
    let list = c.cmd(&["FUNCTION", "LIST", "WITHCODE"]);
    s.shutdown();

    let s = Proc::ferrymq(dir.path(), &args);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["FUNCTION", "LIST", "WITHCODE"]), list);
    assert_eq!(c.cmd_s(&["FCALL", "inc", "1", "n", "1"]), ":6\r\n");
    assert_eq!(
        c.cmd_s(&["SCRIPT", "EXISTS", &text(&sha)]),
        "*1\r\n:0\r\n",
        "the EVAL cache is not persistent"
    );
    assert_eq!(c.cmd_s(&["BGREWRITEAOF"]).chars().next(), Some('+'));
    wait_rewrite_done(&mut c);
    // After the rewrite: one more library, and a deleted-then-reloaded one in the new incr.
    assert_eq!(c.cmd_s(&["FUNCTION", "LOAD", LIB_GET]), "$7\r\nreaders\r\n");
    assert_eq!(c.cmd_s(&["FUNCTION", "DELETE", "counters"]), "+OK\r\n");
    assert_eq!(
        c.cmd_s(&["FUNCTION", "LOAD", LIB_INC]),
        "$8\r\ncounters\r\n"
    );
    assert_eq!(c.cmd_s(&["FCALL", "inc", "1", "n", "1"]), ":7\r\n");
    let base = std::fs::read_dir(dir.path().join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".base.aof"))
        .expect("base file");
    let base = std::fs::read(base).unwrap();
    assert!(
        base.starts_with(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n"),
        "{}",
        text(&base)
    );
    let list = c.cmd(&["FUNCTION", "LIST", "WITHCODE"]);
    s.shutdown();

    let s = Proc::ferrymq(dir.path(), &args);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["FUNCTION", "LIST", "WITHCODE"]), list);
    assert_eq!(c.cmd_s(&["FCALL_RO", "peek", "1", "n"]), "$1\r\n7\r\n");
    // FUNCTION FLUSH is persisted too.
    assert_eq!(c.cmd_s(&["FUNCTION", "FLUSH"]), "+OK\r\n");
    s.shutdown();
    let s = Proc::ferrymq(dir.path(), &args);
    let mut c = s.raw();
    assert_eq!(c.cmd_s(&["FUNCTION", "LIST"]), "*0\r\n");
    assert_eq!(c.cmd_s(&["GET", "n"]), "$1\r\n7\r\n");
}

/// ferrymq's AOF (base with libraries, then incr) loads into redis-server 7, and redis-server's
/// loads into ferrymq, with the same libraries.
#[test]
fn function_aof_is_exchangeable_with_redis() {
    let redis_args = ["--appendonly", "yes", "--aof-use-rdb-preamble", "no"];
    // ferrymq writes, redis-server reads.
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = s.raw();
    c.cmd(&["FUNCTION", "LOAD", LIB_INC]);
    c.cmd(&["FCALL", "inc", "1", "n", "3"]);
    c.cmd(&["BGREWRITEAOF"]);
    wait_rewrite_done(&mut c);
    c.cmd(&["FUNCTION", "LOAD", LIB_GET]);
    s.shutdown();
    let Some(r) = Proc::redis(dir.path(), &redis_args) else {
        return;
    };
    let mut c = r.raw();
    assert_eq!(c.cmd_s(&["FCALL_RO", "peek", "1", "n"]), "$1\r\n3\r\n");
    assert_eq!(c.cmd_s(&["FCALL", "inc", "1", "n", "1"]), ":4\r\n");
    drop(r);

    // redis-server writes, ferrymq reads.
    let dir = tempfile::tempdir().unwrap();
    let r = Proc::redis(dir.path(), &redis_args).expect("redis-server");
    let mut c = r.raw();
    c.cmd(&["FUNCTION", "LOAD", LIB_INC]);
    c.cmd(&["FCALL", "inc", "1", "n", "3"]);
    c.cmd(&["BGREWRITEAOF"]);
    wait_rewrite_done(&mut c);
    c.cmd(&["FUNCTION", "LOAD", LIB_GET]);
    r.shutdown();
    let s = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = s.raw();
    assert_eq!(c.cmd_s(&["FCALL_RO", "peek", "1", "n"]), "$1\r\n3\r\n");
    assert_eq!(c.cmd_s(&["FCALL", "inc", "1", "n", "1"]), ":4\r\n");
}

/// The `struct` library: formats, alignment, conversions and error texts as lua_struct's.
#[test]
fn struct_library_matches_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["eval", "return struct.pack('>I2', 258)", "0"],
        &["eval", "return struct.pack('<i4', -2)", "0"],
        &["eval", "return struct.pack('bBhHlLTiI', -1, 255, -2, 65535, -3, 7, 8, -4, 9)", "0"],
        &["eval", "return struct.pack('>i16', -1)", "0"],
        &["eval", "return struct.pack('<I10', 2^40)", "0"],
        &["eval", "return struct.pack('!4 b i', 1, 2)", "0"],
        &["eval", "return struct.pack('!b d', 1, 1.5)", "0"],
        &["eval", "return struct.pack('!2 b i4 x h', 1, 2, 3)", "0"],
        &["eval", "return struct.pack('c3', 'abcdef')", "0"],
        &["eval", "return struct.pack('c0', 'abcdef')", "0"],
        &["eval", "return struct.pack('c5', 'ab')", "0"],
        &["eval", "return struct.pack('s', 'hi')", "0"],
        &["eval", "return struct.pack('>f', 1.5)", "0"],
        &["eval", "return struct.pack('<d', -0.1)", "0"],
        &["eval", "return struct.pack('z', 1)", "0"],
        &["eval", "return struct.pack('!3', 1)", "0"],
        &["eval", "return struct.pack('i33', 1)", "0"],
        &["eval", "return struct.pack('i', 'x')", "0"],
        &["eval", "return struct.pack('i')", "0"],
        &["eval", "return struct.pack('i', '12')", "0"],
        &["eval", "return struct.pack()", "0"],
        &["eval", "return struct.pack('i99999999999', 1)", "0"],
        &["eval", "return {struct.unpack('>I2', '\\1\\2')}", "0"],
        &["eval", "return {struct.unpack('<i4', struct.pack('<i4', -2))}", "0"],
        &["eval", "return {struct.unpack('bBhHlLTiI', struct.pack('bBhHlLTiI', -1, 255, -2, 65535, -3, 7, 8, -4, 9))}", "0"],
        &["eval", "return {struct.unpack('>i16', struct.pack('>i16', -1))}", "0"],
        &["eval", "return {struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))}", "0"],
        &["eval", "return {struct.unpack('c3 c2', 'abcdef')}", "0"],
        &["eval", "return {struct.unpack('b c0', '\\3abcdef')}", "0"],
        &["eval", "return {struct.unpack('c0', 'abcdef')}", "0"],
        &["eval", "return {struct.unpack('s s', 'ab\\0cd\\0')}", "0"],
        &["eval", "return {struct.unpack('s', 'abc')}", "0"],
        &["eval", "return {struct.unpack('i4', 'abc')}", "0"],
        &["eval", "return {struct.unpack('>f d', struct.pack('>f d', 1.5, 2.25))}", "0"],
        &["eval", "return {struct.unpack('i2', 'abcdef', 3)}", "0"],
        &["eval", "return {struct.unpack('i2', 'abcdef', 0)}", "0"],
        &["eval", "return {struct.unpack('i2', 'abcdef', 6)}", "0"],
        &["eval", "return {struct.unpack('x i2', 'abcdef')}", "0"],
        &["eval", "return {struct.unpack('z', 'abcdef')}", "0"],
        &["eval", "return struct.size('>i4 h !8 d c3')", "0"],
        &["eval", "return struct.size('s')", "0"],
        &["eval", "return struct.size('c0')", "0"],
        &["eval", "return struct.size('')", "0"],
        &["eval", "return struct.size('!8 b d')", "0"],
        &["eval", "return struct.size('z')", "0"],
        &["eval", "return type(struct)", "0"],
        &["eval", "return {struct.unpack('>I2', '\\1\\2')}", "0"],
        &["eval", "return tostring(struct.unpack('>I8', '\\255\\255\\255\\255\\255\\255\\255\\255'))", "0"],
        &["eval", "return tostring(struct.unpack('>i8', '\\128\\0\\0\\0\\0\\0\\0\\0'))", "0"],
        &["eval", "return struct.pack('>I8', -1)", "0"],
        &["eval", "return struct.pack('>I8', 2^64)", "0"],
        &["eval", "return struct.pack('>i4', 3.9)", "0"],
        &["eval", "return struct.pack('>i4', -3.9)", "0"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=st\nredis.register_function('st', function(k, a) return {struct.unpack('>I2 s', struct.pack('>I2 s', a[1], a[2]))} end)",
        ],
        &["FCALL", "st", "0", "513", "hello"],
    ]);
}

/// The sandbox: which globals exist, and that globals, library tables and the string metatable
/// are read-only (also through rawset/setmetatable), for EVAL scripts and for functions.
#[test]
fn sandbox_matches_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["EVAL", "redis.call = nil return 1", "0"],
        &["EVAL", "string.len = nil return 1", "0"],
        &["EVAL", "cjson.encode = nil return 1", "0"],
        &["EVAL", "rawset(string, 'x', 1) return 1", "0"],
        &["EVAL", "rawset(_G, 'x', 1) return 1", "0"],
        &["EVAL", "local t = getmetatable('') t.__index = nil return 1", "0"],
        &["EVAL", "setmetatable(_G, nil) return 1", "0"],
        &["EVAL", "KEYS[1] = 'x' return KEYS[1]", "0"],
        &["EVAL", "redis.x = 1 return 1", "0"],
        &["EVAL", "return rawset(_G, 'x', 1)", "0"],
        &["EVAL", "math.random = 5 return 1", "0"],
        &["EVAL", "local mt = getmetatable(_G) mt.__newindex = nil return 1", "0"],
        &["EVAL", "return ('abc'):upper()", "0"],
        &["EVAL", "local t = {} rawset(t, 'a', 1) return t.a", "0"],
        &["EVAL", "local t = setmetatable({}, {__index=function() return 7 end}) return t.x", "0"],
        &["EVAL", "getmetatable('').__index.len = nil", "0"],
        &["EVAL", "return type(getmetatable(''))", "0"],
        &["EVAL", "return loadstring('return 1+1')()", "0"],
        &["EVAL", "return type(assert)", "0"],
        &["EVAL", "return type(collectgarbage)", "0"],
        &["EVAL", "return type(dofile)", "0"],
        &["EVAL", "return type(error)", "0"],
        &["EVAL", "return type(gcinfo)", "0"],
        &["EVAL", "return type(getfenv)", "0"],
        &["EVAL", "return type(getmetatable)", "0"],
        &["EVAL", "return type(ipairs)", "0"],
        &["EVAL", "return type(load)", "0"],
        &["EVAL", "return type(loadfile)", "0"],
        &["EVAL", "return type(loadstring)", "0"],
        &["EVAL", "return type(module)", "0"],
        &["EVAL", "return type(newproxy)", "0"],
        &["EVAL", "return type(next)", "0"],
        &["EVAL", "return type(pairs)", "0"],
        &["EVAL", "return type(pcall)", "0"],
        &["EVAL", "return type(print)", "0"],
        &["EVAL", "return type(rawequal)", "0"],
        &["EVAL", "return type(rawget)", "0"],
        &["EVAL", "return type(rawset)", "0"],
        &["EVAL", "return type(require)", "0"],
        &["EVAL", "return type(select)", "0"],
        &["EVAL", "return type(setfenv)", "0"],
        &["EVAL", "return type(setmetatable)", "0"],
        &["EVAL", "return type(tonumber)", "0"],
        &["EVAL", "return type(tostring)", "0"],
        &["EVAL", "return type(type)", "0"],
        &["EVAL", "return type(unpack)", "0"],
        &["EVAL", "return type(xpcall)", "0"],
        &["EVAL", "return type(_VERSION)", "0"],
        &["EVAL", "return type(_G)", "0"],
        &["EVAL", "return type(coroutine)", "0"],
        &["EVAL", "return type(debug)", "0"],
        &["EVAL", "return type(string)", "0"],
        &["EVAL", "return type(table)", "0"],
        &["EVAL", "return type(math)", "0"],
        &["EVAL", "return type(os)", "0"],
        &["EVAL", "return type(io)", "0"],
        &["EVAL", "return type(package)", "0"],
        &["EVAL", "return type(struct)", "0"],
        &["EVAL", "return type(cjson)", "0"],
        &["EVAL", "return type(bit)", "0"],
        &["EVAL", "return type(cmsgpack)", "0"],
        &["EVAL", "return type(redis)", "0"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=sb\nredis.register_function('sb', function(k, a) return loadstring(a[1])() end)",
        ],
        &["FCALL", "sb", "0", "return type(setfenv)"],
        &["FCALL", "sb", "0", "return type(getfenv)"],
        &["FCALL", "sb", "0", "string.len = nil"],
        &["FCALL", "sb", "0", "rawset(_G, 'x', 1)"],
        &["FCALL", "sb", "0", "redis.call = nil"],
        &["FCALL", "sb", "0", "return string.len('abc')"],
    ]);
}

/// COMMAND DOCS of the function commands (summary, since, group; Redis adds complexity and
/// arguments, which the command table does not carry, so only the fields both have are
/// compared).
#[test]
fn command_docs_summaries_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    for c in [
        "fcall",
        "fcall_ro",
        "function|load",
        "function|delete",
        "function|list",
        "function|flush",
        "function|dump",
        "function|restore",
        "function|stats",
        "function|kill",
        "function|help",
    ] {
        // The name, then summary, since and group (the map's length differs: skipped).
        let head = |r: &[u8]| -> Vec<u8> {
            let t = text(r);
            let lines: Vec<&str> = t.split("\r\n").take(15).collect();
            [&lines[..3], &lines[4..]]
                .concat()
                .join("\r\n")
                .into_bytes()
        };
        d.cmd_norm(&["COMMAND", "DOCS", c], head);
    }
}

/// Library changes made while a rewrite is dumping keys end up in the new AOF exactly once.
#[test]
fn function_changes_during_a_rewrite_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes"];
    let s = Proc::ferrymq(dir.path(), &args);
    let mut c = s.raw();
    c.cmd(&["FUNCTION", "LOAD", LIB_INC]);
    // Enough keys that the dump takes many batches.
    for chunk in 0..20 {
        let mut cmd: Vec<String> = vec!["MSET".into()];
        for i in 0..2000 {
            cmd.push(format!("key:{chunk}:{i}"));
            cmd.push("v".into());
        }
        assert_eq!(c.cmd_s(&cmd), "+OK\r\n");
    }
    assert!(c.cmd_s(&["BGREWRITEAOF"]).starts_with('+'));
    assert_eq!(c.cmd_s(&["FUNCTION", "LOAD", LIB_GET]), "$7\r\nreaders\r\n");
    assert_eq!(c.cmd_s(&["FUNCTION", "DELETE", "counters"]), "+OK\r\n");
    c.cmd(&["SET", "n", "9"]);
    wait_rewrite_done(&mut c);
    let list = c.cmd(&["FUNCTION", "LIST", "WITHCODE"]);
    s.shutdown();
    let s = Proc::ferrymq(dir.path(), &args);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["FUNCTION", "LIST", "WITHCODE"]), list);
    assert_eq!(c.cmd_s(&["FCALL_RO", "peek", "1", "n"]), "$1\r\n9\r\n");
    assert_eq!(c.cmd_s(&["DBSIZE"]), ":40001\r\n");
}

/// Deeply nested or cyclic tables in a script's reply end in Redis's `reached lua stack limit`
/// error element (ferrymq stops at a smaller depth) instead of overflowing the stack.
#[test]
fn deep_and_cyclic_replies_are_cut() {
    let s = Server::ferrymq(&[]);
    let mut c = s.raw();
    for script in [
        "local t = {} for i = 1, 100000 do t = {t} end return t",
        "local t = {} t[1] = t return t",
    ] {
        let r = text(&c.cmd(&["EVAL", script, "0"]));
        assert!(r.starts_with("*1\r\n*1\r\n"), "{}", &r[..40.min(r.len())]);
        assert!(r.ends_with("-ERR reached lua stack limit\r\n"), "{script}");
    }
    assert_eq!(c.cmd_s(&["PING"]), "+PONG\r\n");
}

/// The shebang is split like Redis's sdssplitargs (quotes group and are removed; unbalanced
/// quotes are invalid metadata), and `redis.register_function` works only while FUNCTION LOAD
/// runs the library, also through a reference kept from load time.
#[test]
fn library_name_quoting_and_register_outside_load_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    let body = "\nredis.register_function('f1', function() return 1 end)";
    for shebang in [
        "#!lua name=\"q1\"",
        "#!lua name='q2'",
        "#!lua NAME=\"q3\"",
        "#!lua name=\"a\\x41\"",
        "#!lua name=\"q4",
        "#!lua name=q5\"",
        "#!lua name=\"\"",
        "#!lua name=\"a b\"",
        "#!lua name=\"x\"y",
        "#!lua name=x\tname=y",
        "#!lua name=x \"bad\"",
    ] {
        d.cmd(&["FUNCTION", "LOAD", &format!("{shebang}{body}")]);
        d.cmd(&["FUNCTION", "FLUSH"]);
    }
    d.script(&[
        &["EVAL", "redis.register_function('f1', function() return 1 end)", "0"],
        &["EVAL", "return {pcall(redis.register_function, 'x', function() end)}", "0"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=keep\nlocal f = redis.register_function\n\
             redis.register_function('f7', function() return f('f8', function() return 1 end) end)\n\
             redis.register_function('f9', function() return {pcall(f)} end)",
        ],
        &["FCALL", "f7", "0"],
        &["FCALL", "f9", "0"],
        &["FCALL", "f8", "0"],
    ]);
}
