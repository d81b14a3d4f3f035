//! Generic keyspace commands: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, RENAME(NX), MOVE,
//! COPY, SWAPDB, DBSIZE, FLUSHDB, FLUSHALL, the EXPIRE family, TTL family, PERSIST, TOUCH, OBJECT.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, Write, is, parse_i64};
use crate::config::notify::GENERIC;
use crate::error;
use crate::protocol::Reply;
use crate::pubsub::glob::glob_match;
use crate::store::string_form;

// DEL key [key ...]   /   UNLINK key [key ...]
fn del(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut n = 0;
    for k in &args[1..] {
        if ctx.db().remove(k).is_some() {
            // Blocked stream group readers learn that their key is gone.
            ctx.wrote(Write::key(k).wakes().event(GENERIC, "del"));
            n += 1;
        }
    }
    Reply::Int(n)
}

// EXISTS key [key ...]: does not count as an access (OBJECT IDLETIME keeps running).
fn exists(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    Reply::Int(args[1..].iter().filter(|k| db.contains(k)).count() as i64)
}

// TOUCH key [key ...]: counts as an access.
fn touch(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    Reply::Int(args[1..].iter().filter(|k| db.get(k).is_some()).count() as i64)
}

// TYPE key
fn type_cmd(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let t = ctx
        .db()
        .peek(&args[1])
        .map(|e| e.value.type_name())
        .unwrap_or("none");
    Reply::status(t)
}

fn matches(pattern: Option<&[u8]>, key: &[u8]) -> bool {
    match pattern {
        None => true,
        Some(b"*") => true,
        Some(p) => glob_match(p, key, false),
    }
}

// KEYS pattern
fn keys(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let pat = &args[1];
    let db = ctx.db();
    let now = db.now();
    let out: Vec<Bytes> = db
        .map
        .keys()
        .filter(|k| db.expire_at(k).is_none_or(|at| at > now))
        .filter(|k| matches(Some(pat), k))
        .map(|k| k.to_bytes())
        .collect();
    Reply::bulks(out)
}

/// Parse `[MATCH pattern] [COUNT count] [TYPE type]` (TYPE only when `allow_type`) as Redis's
/// `scanGenericCommand` does.
pub struct ScanOpts {
    pub pattern: Option<Bytes>,
    pub count: usize,
    pub ty: Option<Bytes>,
}

pub fn parse_scan_opts(args: &[Bytes], allow_type: bool) -> Result<ScanOpts, Reply> {
    let mut o = ScanOpts {
        pattern: None,
        count: 10,
        ty: None,
    };
    let mut i = 0;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "count") && more >= 1 {
            let c = parse_i64(&args[i + 1])?;
            if c < 1 {
                return Err(Reply::error(error::SYNTAX));
            }
            o.count = c as usize;
            i += 2;
        } else if is(&args[i], "match") && more >= 1 {
            o.pattern = Some(args[i + 1].clone());
            i += 2;
        } else if allow_type && is(&args[i], "type") && more >= 1 {
            o.ty = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Err(Reply::error(error::SYNTAX));
        }
    }
    Ok(o)
}

/// Parse a SCAN cursor (an unsigned 64-bit decimal).
pub fn parse_cursor(arg: &[u8]) -> Result<u64, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(Reply::error("ERR invalid cursor"))
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
//
// As Redis's scanGenericCommand: walk the table's buckets with the reverse-binary cursor
// (`ScanMap::scan`, `scan_loop`), then drop the keys that expired, do not match, or are not of
// TYPE. Each call costs O(COUNT), whatever the size of the database.
fn scan(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let cursor = match parse_cursor(&args[1]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let opts = match parse_scan_opts(&args[2..], true) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let db = ctx.db();
    let mut chosen: Vec<Bytes> = Vec::new();
    let next = super::hash::scan_loop(cursor, opts.count, |c| {
        let next = db.map.scan(c, |k, _| chosen.push(k.to_bytes()));
        (next, chosen.len())
    });
    let now = db.now();
    let mut out = Vec::new();
    for k in chosen {
        if db.expire_at(&k).is_some_and(|at| at <= now) {
            db.get(&k);
            continue;
        }
        if !matches(opts.pattern.as_deref(), &k) {
            continue;
        }
        if let Some(t) = &opts.ty {
            match db.get(&k) {
                Some(v) if is(t, v.type_name()) => {}
                _ => continue,
            }
        }
        out.push(Reply::Bulk(k));
    }
    Reply::Array(vec![Reply::bulk_str(&next.to_string()), Reply::Array(out)])
}

// RANDOMKEY
fn randomkey(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let db = ctx.db();
    for _ in 0..100 {
        if db.map.is_empty() {
            return Reply::Null;
        }
        let (k, _) = db
            .map
            .sample(1, rand::random::<u64>() as usize)
            .next()
            .expect("table not empty");
        let k = k.to_bytes();
        if db.get(&k).is_some() {
            return Reply::Bulk(k);
        }
    }
    Reply::Null
}

fn rename_generic(ctx: &mut Ctx, args: &[Bytes], nx: bool) -> Reply {
    let (src, dst) = (&args[1], &args[2]);
    let db = ctx.db();
    if db.get(src).is_none() {
        return Reply::error(error::NO_SUCH_KEY);
    }
    if src == dst {
        return if nx { Reply::Int(0) } else { Reply::Ok };
    }
    if nx && db.contains(dst) {
        return Reply::Int(0);
    }
    let ttl = db.expire_at(src);
    let form = db.string_form(src);
    let v = db.remove(src).expect("checked above");
    // As Redis: the destination is deleted and added again (a `new` event even if it existed).
    db.remove(dst);
    db.set(dst, v);
    db.set_string_form(dst, form);
    if let Some(at) = ttl {
        db.set_expire(dst, at);
    }
    ctx.wrote(Write::key(src).event(GENERIC, "rename_from"));
    ctx.wrote(
        Write::key(dst)
            .changes(0)
            .wakes()
            .event(GENERIC, "rename_to"),
    );
    if nx { Reply::Int(1) } else { Reply::Ok }
}

// RENAME key newkey
fn rename(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, false)
}

// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, true)
}

fn parse_db_index(ctx: &Ctx, arg: &[u8]) -> Result<usize, Reply> {
    let i = parse_i64(arg)?;
    if i < 0 || i as usize >= ctx.shared.databases() || i > i32::MAX as i64 {
        return Err(Reply::error(error::INVALID_DB));
    }
    Ok(i as usize)
}

// MOVE key db
fn move_cmd(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let dst = match parse_db_index(ctx, &args[2]) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let src = ctx.client.db;
    if src == dst {
        return Reply::error(error::SAME_OBJECT);
    }
    let key = &args[1];
    let store = ctx.store();
    if store.dbs[src].get(key).is_none() || store.dbs[dst].contains(key) {
        return Reply::Int(0);
    }
    let ttl = store.dbs[src].expire_at(key);
    let form = store.dbs[src].string_form(key);
    let v = store.dbs[src].remove(key).expect("checked");
    store.dbs[dst].set(key, v);
    store.dbs[dst].set_string_form(key, form);
    if let Some(at) = ttl {
        store.dbs[dst].set_expire(key, at);
    }
    ctx.wrote(Write::key(key).in_db(src).event(GENERIC, "move_from"));
    ctx.wrote(
        Write::key(key)
            .in_db(dst)
            .changes(0)
            .wakes()
            .event(GENERIC, "move_to"),
    );
    Reply::Int(1)
}

// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "replace") {
            replace = true;
            i += 1;
        } else if is(&args[i], "db") && i + 1 < args.len() {
            dst_db = match parse_db_index(ctx, &args[i + 1]) {
                Ok(d) => d,
                Err(e) => return e,
            };
            i += 2;
        } else {
            return Reply::error(error::SYNTAX);
        }
    }
    let (src, dst) = (&args[1], &args[2]);
    if src_db == dst_db && src == dst {
        return Reply::error(error::SAME_OBJECT);
    }
    let store = ctx.store();
    let Some(v) = store.dbs[src_db].get(src).cloned() else {
        return Reply::Int(0);
    };
    let ttl = store.dbs[src_db].expire_at(src);
    // The copy keeps the source's encoding, as Redis's dupStringObject does, in an object of
    // its own (a shared integer's copy has refcount 1).
    let form = store.dbs[src_db].string_form(src) | string_form::UNSHARED;
    if store.dbs[dst_db].contains(dst) {
        if !replace {
            return Reply::Int(0);
        }
        store.dbs[dst_db].remove(dst);
    }
    store.dbs[dst_db].set(dst, v);
    store.dbs[dst_db].set_string_form(dst, form);
    if let Some(at) = ttl {
        store.dbs[dst_db].set_expire(dst, at);
    }
    ctx.wrote(
        Write::key(dst)
            .in_db(dst_db)
            .wakes()
            .event(GENERIC, "copy_to"),
    );
    Reply::Int(1)
}

// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let a = match crate::protocol::request::parse_i64(&args[1]) {
        Some(a) => a,
        None => return Reply::error("ERR invalid first DB index"),
    };
    let b = match crate::protocol::request::parse_i64(&args[2]) {
        Some(b) => b,
        None => return Reply::error("ERR invalid second DB index"),
    };
    let n = ctx.shared.databases() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Reply::error(error::INVALID_DB);
    }
    let (a, b) = (a as usize, b as usize);
    ctx.store().swap_dbs(a, b);
    ctx.wrote(Write::unkeyed());
    Reply::Ok
}

// DBSIZE
fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Int(ctx.db().len() as i64)
}

fn flush_mode(args: &[Bytes]) -> Result<(), Reply> {
    match args.get(1) {
        None => Ok(()),
        Some(a) if args.len() == 2 && (is(a, "async") || is(a, "sync")) => Ok(()),
        Some(_) => Err(Reply::error(error::SYNTAX)),
    }
}

// FLUSHDB [ASYNC|SYNC]
fn flushdb(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Err(e) = flush_mode(args) {
        return e;
    }
    let i = ctx.client.db;
    let removed = ctx.store().flush_db(i);
    // As Redis counts it: one change per key removed (none on an empty database).
    ctx.wrote(
        Write::flushed()
            .changes(removed)
            .effect(vec![Bytes::from_static(b"FLUSHDB")]),
    );
    Reply::Ok
}

// FLUSHALL [ASYNC|SYNC]
fn flushall(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Err(e) = flush_mode(args) {
        return e;
    }
    let shared = ctx.shared.clone();
    let store = ctx.store();
    let mut removed = 0;
    for i in 0..store.dbs.len() {
        removed += store.flush_db(i);
    }
    // As Redis's flushAllDataAndResetRDB: a running BGSAVE is dropped and, with save points,
    // the empty dataset is saved at once (which leaves no change unsaved). Not while the AOF
    // is replayed at startup: the AOF is the dataset then.
    crate::snapshot::abort_bgsave(&shared, store);
    let saved = !shared.is_loading()
        && !crate::snapshot::save_points(&shared).is_empty()
        && crate::snapshot::save(&shared, store).is_ok();
    ctx.wrote(
        Write::flushed()
            .changes(if saved { 0 } else { removed })
            .effect(vec![Bytes::from_static(b"FLUSHALL")]),
    );
    Reply::Ok
}

/// Shared by EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: `unit_ms` is 1000 for seconds, `absolute`
/// for the *AT forms.
fn expire_generic(ctx: &mut Ctx, args: &[Bytes], unit_ms: i64, absolute: bool) -> Reply {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &args[3..] {
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "gt") {
            gt = true;
        } else if is(a, "lt") {
            lt = true;
        } else {
            return Reply::Error(
                format!("ERR Unsupported option {}", String::from_utf8_lossy(a)).into(),
            );
        }
    }
    if nx && (xx || gt || lt) {
        return Reply::error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return Reply::error("ERR GT and LT options at the same time are not compatible");
    }
    let when = match parse_i64(&args[2]) {
        Ok(w) => w,
        Err(e) => return e,
    };
    let invalid = || Reply::Error(format!("ERR invalid expire time in '{name}' command").into());
    if unit_ms == 1000 && !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
        return invalid();
    }
    let mut at = when * unit_ms;
    // One time for the whole command, as Redis's command time snapshot: a relative expiry
    // of 1 ms is never already past when it is checked below.
    let now = ctx.db().now();
    if !absolute {
        match at.checked_add(now) {
            Some(v) => at = v,
            None => return invalid(),
        }
    }
    let key = &args[1];
    let db = ctx.db();
    if db.get(key).is_none() {
        return Reply::Int(0);
    }
    let current = db.expire_at(key);
    if (nx && current.is_some()) || (xx && current.is_none()) {
        return Reply::Int(0);
    }
    if gt && current.is_none_or(|c| at <= c) {
        return Reply::Int(0);
    }
    if lt && current.is_some_and(|c| at >= c) {
        return Reply::Int(0);
    }
    if at <= now {
        db.remove(key);
        ctx.wrote(
            Write::key(key)
                .event(GENERIC, "del")
                .effect(vec![Bytes::from_static(b"DEL"), key.clone()]),
        );
        return Reply::Int(1);
    }
    db.set_expire(key, at);
    ctx.wrote(Write::key(key).event(GENERIC, "expire").effect(vec![
        Bytes::from_static(b"PEXPIREAT"),
        key.clone(),
        Bytes::from(at.to_string()),
    ]));
    Reply::Int(1)
}

// EXPIRE key seconds [NX|XX|GT|LT]
fn expire(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, 1000, false)
}
// PEXPIRE key milliseconds [NX|XX|GT|LT]
fn pexpire(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, 1, false)
}
// EXPIREAT key unix-time-seconds [NX|XX|GT|LT]
fn expireat(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, 1000, true)
}
// PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]
fn pexpireat(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, 1, true)
}

/// TTL family: `ms` selects milliseconds, `absolute` the *EXPIRETIME forms.
fn ttl_generic(ctx: &mut Ctx, args: &[Bytes], ms: bool, absolute: bool) -> Reply {
    let db = ctx.db();
    if db.peek(&args[1]).is_none() {
        return Reply::Int(-2);
    }
    let Some(at) = db.expire_at(&args[1]) else {
        return Reply::Int(-1);
    };
    if absolute {
        return Reply::Int(if ms { at } else { at / 1000 });
    }
    let left = (at - db.now()).max(0);
    Reply::Int(if ms { left } else { (left + 500) / 1000 })
}

// TTL key
fn ttl(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, args, false, false)
}
// PTTL key
fn pttl(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, args, true, false)
}
// EXPIRETIME key
fn expiretime(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, args, false, true)
}
// PEXPIRETIME key
fn pexpiretime(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, args, true, true)
}

// PERSIST key
fn persist(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    if db.get(&args[1]).is_none() {
        return Reply::Int(0);
    }
    if db.persist(&args[1]) {
        ctx.wrote(Write::key(&args[1]).event(GENERIC, "persist"));
        Reply::Int(1)
    } else {
        Reply::Int(0)
    }
}

// OBJECT ENCODING key (OBJECT's lookups do not count as an access)
fn object_encoding(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match ctx.db().peek(&args[2]) {
        Some(e) => Reply::bulk_str(e.encoding()),
        None => Reply::Null,
    }
}

// OBJECT FREQ key
fn object_freq(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let policy = db.access();
    let Some(e) = db.peek(&args[2]) else {
        return Reply::Null;
    };
    if !policy.lfu {
        return Reply::error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        );
    }
    Reply::Int(policy.decayed(e.access_word()) as i64)
}

// OBJECT IDLETIME key
fn object_idletime(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let policy = db.access();
    let Some(e) = db.peek(&args[2]) else {
        return Reply::Null;
    };
    if policy.lfu {
        return Reply::error(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        );
    }
    Reply::Int((crate::store::access::idle_ms(e.access_word()) / 1000) as i64)
}

// OBJECT REFCOUNT key
fn object_refcount(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match ctx.db().peek(&args[2]) {
        Some(e) => Reply::Int(e.refcount()),
        None => Reply::Null,
    }
}

fn object_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let lines = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(
        lines
            .iter()
            .map(|l| Reply::Status(l.to_string().into()))
            .collect(),
    )
}

const G: &str = "generic";

const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("encoding", 3, READONLY, object_encoding)
        .keys(2, 2, 1)
        .group(G),
    CommandSpec::new("freq", 3, READONLY, object_freq)
        .keys(2, 2, 1)
        .group(G),
    CommandSpec::new("idletime", 3, READONLY, object_idletime)
        .keys(2, 2, 1)
        .group(G),
    CommandSpec::new("refcount", 3, READONLY, object_refcount)
        .keys(2, 2, 1)
        .group(G),
    CommandSpec::new("help", 2, LOADING | STALE, object_help).group(G),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, del)
        .keys(1, -1, 1)
        .doc("Delete a key", "1.0.0"),
    CommandSpec::new("unlink", -2, WRITE | FAST, del)
        .keys(1, -1, 1)
        .doc("Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "4.0.0"),
    CommandSpec::new("exists", -2, READONLY | FAST, exists)
        .keys(1, -1, 1)
        .doc("Determine if a key exists", "1.0.0"),
    CommandSpec::new("touch", -2, READONLY | FAST, touch)
        .keys(1, -1, 1)
        .doc("Alters the last access time of a key(s). Returns the number of existing keys specified.", "3.2.1"),
    CommandSpec::new("type", 2, READONLY | FAST, type_cmd)
        .keys(1, 1, 1)
        .doc("Determine the type stored at key", "1.0.0"),
    CommandSpec::new("keys", 2, READONLY, keys).doc("Find all keys matching the given pattern", "1.0.0"),
    CommandSpec::new("scan", -2, READONLY, scan).doc("Incrementally iterate the keys space", "2.8.0"),
    CommandSpec::new("randomkey", 1, READONLY, randomkey).doc("Return a random key from the keyspace", "1.0.0"),
    CommandSpec::new("rename", 3, WRITE, rename)
        .keys(1, 2, 1)
        .doc("Rename a key", "1.0.0"),
    CommandSpec::new("renamenx", 3, WRITE | FAST, renamenx)
        .keys(1, 2, 1)
        .doc("Rename a key, only if the new key does not exist", "1.0.0"),
    CommandSpec::new("move", 3, WRITE | FAST, move_cmd)
        .keys(1, 1, 1)
        .doc("Move a key to another database", "1.0.0"),
    CommandSpec::new("copy", -3, WRITE | DENYOOM, copy)
        .keys(1, 2, 1)
        .doc("Copy a key", "6.2.0"),
    CommandSpec::new("swapdb", 3, WRITE | FAST, swapdb).doc("Swaps two Redis databases", "4.0.0"),
    CommandSpec::new("dbsize", 1, READONLY | FAST, dbsize)
        .group("server")
        .doc("Return the number of keys in the selected database", "1.0.0"),
    CommandSpec::new("flushdb", -1, WRITE, flushdb)
        .group("server")
        .doc("Remove all keys from the current database", "1.0.0"),
    CommandSpec::new("flushall", -1, WRITE, flushall)
        .group("server")
        .doc("Remove all keys from all databases", "1.0.0"),
    CommandSpec::new("expire", -3, WRITE | FAST, expire)
        .keys(1, 1, 1)
        .doc("Set a key's time to live in seconds", "1.0.0"),
    CommandSpec::new("pexpire", -3, WRITE | FAST, pexpire)
        .keys(1, 1, 1)
        .doc("Set a key's time to live in milliseconds", "2.6.0"),
    CommandSpec::new("expireat", -3, WRITE | FAST, expireat)
        .keys(1, 1, 1)
        .doc("Set the expiration for a key as a UNIX timestamp", "1.2.0"),
    CommandSpec::new("pexpireat", -3, WRITE | FAST, pexpireat)
        .keys(1, 1, 1)
        .doc("Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0"),
    CommandSpec::new("ttl", 2, READONLY | FAST, ttl)
        .keys(1, 1, 1)
        .doc("Get the time to live for a key in seconds", "1.0.0"),
    CommandSpec::new("pttl", 2, READONLY | FAST, pttl)
        .keys(1, 1, 1)
        .doc("Get the time to live for a key in milliseconds", "2.6.0"),
    CommandSpec::new("expiretime", 2, READONLY | FAST, expiretime)
        .keys(1, 1, 1)
        .doc("Get the expiration Unix timestamp for a key", "7.0.0"),
    CommandSpec::new("pexpiretime", 2, READONLY | FAST, pexpiretime)
        .keys(1, 1, 1)
        .doc("Get the expiration Unix timestamp for a key in milliseconds", "7.0.0"),
    CommandSpec::new("persist", 2, WRITE | FAST, persist)
        .keys(1, 1, 1)
        .doc("Remove the expiration from a key", "2.2.0"),
    CommandSpec::new("object", -2, 0, object_help)
        .doc("A container for object introspection commands", "2.2.3")
        .subs(OBJECT_SUBCOMMANDS),
];
