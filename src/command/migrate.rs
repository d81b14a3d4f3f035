//! MIGRATE: DUMP the keys, RESTORE them on another server, and delete them here once the other
//! server acknowledged each one, as Redis does. RESTORE-ASKING (RESTORE for cluster migrations)
//! and MODULE (no modules can be loaded: ferrymq does not run Redis's C module ABI) live here too.
//!
//! Like Redis, MIGRATE blocks: it holds the store for the whole transfer, so the keys are
//! deleted exactly as they were sent and no client sees a half-moved key. The connection to
//! each target is kept for [`SOCKET_TTL`] so a sequence of MIGRATEs pays one connect (Redis's
//! `migrate_cached_sockets`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use super::flags::*;
use super::{CommandSpec, Ctx, Write, is, parse_i64};
use crate::config::notify::GENERIC;
use crate::error;
use crate::protocol::Reply;
use crate::store::rdb;

/// Redis's MIGRATE_SOCKET_CACHE_ITEMS.
const SOCKET_CACHE_ITEMS: usize = 64;
/// Redis's MIGRATE_SOCKET_CACHE_TTL: a cached connection unused this long is closed.
pub const SOCKET_TTL: Duration = Duration::from_secs(10);
/// Replies longer than this are cut, as Redis reads them into a 1 KiB buffer.
const LINE_MAX: u64 = 1024;

struct Cached {
    conn: BufReader<TcpStream>,
    /// The database the connection has selected, if known.
    db: Option<i64>,
    last_use: Instant,
}

/// The connections MIGRATE keeps open, by `host:port`.
#[derive(Default)]
pub struct Sockets {
    map: Mutex<HashMap<String, Cached>>,
}

impl Sockets {
    /// INFO's `migrate_cached_sockets`.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Close the connections unused for [`SOCKET_TTL`] (called from the server's cron).
    pub fn close_idle(&self) {
        let mut map = self.map.lock();
        if !map.is_empty() {
            map.retain(|_, c| c.last_use.elapsed() <= SOCKET_TTL);
        }
    }
}

/// How a transfer failed, for the IOERR text.
enum IoFail {
    Write(std::io::Error),
    Read(std::io::Error),
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock)
}

/// Connect within `timeout`. As in Redis, a name that does not resolve or a connect that
/// times out is a connect failure (None), while a refused connection shows up as the first
/// write failing (`Err`).
fn connect(
    host: &str,
    port: &str,
    timeout: Duration,
) -> Option<std::io::Result<BufReader<TcpStream>>> {
    let port: u16 = port.parse().ok()?;
    let deadline = Instant::now() + timeout;
    let mut refused = None;
    for addr in (host, port).to_socket_addrs().ok()? {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Some(Ok(BufReader::new(s)));
            }
            Err(e) if timed_out(&e) => {}
            Err(e) => refused = Some(e),
        }
    }
    refused.map(Err)
}

/// One reply line from the target (without CRLF), bounded in length.
fn read_line(conn: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = std::io::Read::take(&mut *conn, LINE_MAX).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(ErrorKind::UnexpectedEof.into());
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(line)
}

fn push_cmd(out: &mut Vec<u8>, argv: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
//   AUTH2 username password] [KEYS key [key ...]]
fn migrate(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (mut copy, mut replace) = (false, false);
    let (mut user, mut pass) = (None::<&Bytes>, None::<&Bytes>);
    let (mut first, mut count) = (3, 1);
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "copy") {
            copy = true;
        } else if is(&args[j], "replace") {
            replace = true;
        } else if is(&args[j], "auth") {
            if more == 0 {
                return Reply::error(error::SYNTAX);
            }
            j += 1;
            pass = Some(&args[j]);
        } else if is(&args[j], "auth2") {
            if more < 2 {
                return Reply::error(error::SYNTAX);
            }
            user = Some(&args[j + 1]);
            pass = Some(&args[j + 2]);
            j += 2;
        } else if is(&args[j], "keys") {
            if !args[3].is_empty() {
                return Reply::error(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                );
            }
            first = j + 1;
            count = args.len() - j - 1;
            break;
        } else {
            return Reply::error(error::SYNTAX);
        }
        j += 1;
    }
    let timeout = tri!(parse_i64(&args[5]));
    let dbid = tri!(parse_i64(&args[4]));
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });

    // The keys that exist; if none does, nothing is sent (a key may just have expired).
    let keys: Vec<&Bytes> = args[first..first + count]
        .iter()
        .filter(|k| ctx.db().get(k).is_some())
        .collect();
    if keys.is_empty() {
        return Reply::Status("NOKEY".into());
    }
    let enc = super::dump::encodings(ctx);
    let now = ctx.db().now();
    // Serialised once: a retry after a stale cached connection resends the same bytes.
    let mut sent: Vec<&Bytes> = Vec::new();
    let mut restores = Vec::new();
    for k in keys {
        let db = ctx.db();
        let ttl = match db.expire_at(k) {
            Some(at) if at - now < 0 => continue,
            Some(at) => (at - now).max(1),
            None => 0,
        };
        let Some(v) = db.get(k) else { continue };
        let payload = rdb::dump(v, &enc);
        let ttl = ttl.to_string();
        let mut argv: Vec<&[u8]> = vec![b"RESTORE", k, ttl.as_bytes(), &payload];
        if replace {
            argv.push(b"REPLACE");
        }
        push_cmd(&mut restores, &argv);
        sent.push(k);
    }

    let host = String::from_utf8_lossy(&args[1]).into_owned();
    let port = String::from_utf8_lossy(&args[2]).into_owned();
    let name = format!("{host}:{port}");
    let sockets = &ctx.shared.migrate;
    let mut may_retry = true;
    let done = loop {
        let mut map = sockets.map.lock();
        if !map.contains_key(&name) {
            if map.len() >= SOCKET_CACHE_ITEMS {
                // Too many: drop one (Redis drops one at random).
                if let Some(victim) = map.keys().next().cloned() {
                    map.remove(&victim);
                }
            }
            let conn = match connect(&host, &port, timeout) {
                None => return Reply::error("IOERR error or timeout connecting to the client"),
                Some(Ok(conn)) => conn,
                Some(Err(e)) => {
                    drop(map);
                    if may_retry {
                        may_retry = false;
                        continue;
                    }
                    break Transfer {
                        acked: Vec::new(),
                        replies: 0,
                        target_error: None,
                        broken: Some(IoFail::Write(e)),
                    };
                }
            };
            let cached = Cached {
                conn,
                db: None,
                last_use: Instant::now(),
            };
            map.insert(name.clone(), cached);
        }
        let cs = map.get_mut(&name).expect("inserted above");
        cs.last_use = Instant::now();
        let select = cs.db != Some(dbid);
        let mut cmd = Vec::with_capacity(restores.len() + 64);
        if let Some(p) = pass {
            match user {
                Some(u) => push_cmd(&mut cmd, &[b"AUTH", u, p]),
                None => push_cmd(&mut cmd, &[b"AUTH", p]),
            }
        }
        if select {
            push_cmd(&mut cmd, &[b"SELECT", dbid.to_string().as_bytes()]);
        }
        cmd.extend_from_slice(&restores);
        let done = transfer(cs, &cmd, pass.is_some(), select, sent.len(), timeout);
        // On an error the selected database is no longer known.
        cs.db = (done.target_error.is_none() && done.broken.is_none()).then_some(dbid);
        if done.broken.is_some() {
            map.remove(&name);
        }
        drop(map);
        // Retry once on a fresh connection when the target processed nothing and the link
        // broke without a timeout (a cached connection the target closed fails this way).
        let retry = match &done.broken {
            Some(IoFail::Read(e) | IoFail::Write(e)) => !timed_out(e),
            _ => false,
        };
        if retry && may_retry && done.replies == 0 && done.target_error.is_none() {
            may_retry = false;
            continue;
        }
        break done;
    };
    // Without COPY the keys the target restored are deleted here, replayed as one `DEL`.
    let moved: Vec<&Bytes> = done.acked.iter().map(|&i| sent[i]).collect();
    if !copy && !moved.is_empty() {
        let mut del = Vec::with_capacity(moved.len() + 1);
        del.push(Bytes::from_static(b"DEL"));
        del.extend(moved.iter().map(|k| (*k).clone()));
        let mut effect = Some(del);
        for k in moved {
            if ctx.db().remove(k).is_some() {
                let mut w = Write::key(k).wakes().event(GENERIC, "del");
                if let Some(del) = effect.take() {
                    w = w.effect(del);
                }
                ctx.wrote(w);
            }
        }
    }
    if let Some(e) = done.target_error {
        return Reply::error(format!(
            "ERR Target instance replied with error: {}",
            String::from_utf8_lossy(&e)
        ));
    }
    match done.broken {
        Some(fail) => Reply::error(format!(
            "IOERR error or timeout {} to target instance",
            if matches!(fail, IoFail::Write(_)) {
                "writing"
            } else {
                "reading"
            }
        )),
        None => Reply::Ok,
    }
}

/// What one transfer did.
struct Transfer {
    /// Indexes of the keys the target restored.
    acked: Vec<usize>,
    /// RESTORE replies read.
    replies: usize,
    /// The first error the target replied (AUTH's, SELECT's or a RESTORE's).
    target_error: Option<Vec<u8>>,
    /// The link failed.
    broken: Option<IoFail>,
}

/// Send `cmd` and read the replies: AUTH's, SELECT's, then one per RESTORE. A key counts as
/// restored when its RESTORE answered OK and neither AUTH nor SELECT failed, as in Redis.
fn transfer(
    cs: &mut Cached,
    cmd: &[u8],
    auth: bool,
    select: bool,
    n: usize,
    timeout: Duration,
) -> Transfer {
    let mut t = Transfer {
        acked: Vec::new(),
        replies: 0,
        target_error: None,
        broken: None,
    };
    let sock = cs.conn.get_mut();
    let _ = sock.set_write_timeout(Some(timeout));
    let _ = sock.set_read_timeout(Some(timeout));
    for chunk in cmd.chunks(64 * 1024) {
        if let Err(e) = sock.write_all(chunk) {
            t.broken = Some(IoFail::Write(e));
            return t;
        }
    }
    let mut refused = false;
    for _ in 0..(auth as usize + select as usize) {
        match read_line(&mut cs.conn) {
            Ok(line) if line.first() == Some(&b'-') => {
                refused = true;
                t.target_error.get_or_insert_with(|| line[1..].to_vec());
            }
            Ok(_) => {}
            Err(e) => {
                t.broken = Some(IoFail::Read(e));
                return t;
            }
        }
    }
    for i in 0..n {
        match read_line(&mut cs.conn) {
            Ok(line) if line.first() == Some(&b'-') => {
                t.target_error.get_or_insert_with(|| line[1..].to_vec());
            }
            Ok(_) if !refused => t.acked.push(i),
            Ok(_) => {}
            Err(e) => {
                t.broken = Some(IoFail::Read(e));
                return t;
            }
        }
        t.replies += 1;
    }
    t
}

const MODULE_DENIED: &str = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// MODULE LOAD / LOADEX / UNLOAD are refused unless `enable-module-command` allows them.
fn module_allowed(ctx: &Ctx) -> bool {
    let allowed = ctx.shared.config_str("enable-module-command");
    let local = ctx.client.handle.unix || ctx.client.handle.addr.starts_with("127.");
    allowed == "yes" || (allowed == "local" && local)
}

// MODULE LIST: no module is ever loaded.
fn module_list(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Array(vec![])
}

// MODULE LOAD path [arg ...] / MODULE LOADEX path [CONFIG name value ...] [ARGS arg ...]:
// ferrymq cannot load Redis modules (shared objects written against redis-server's C API), so
// a permitted load fails as a load of a bad file fails in Redis.
fn module_load(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    if !module_allowed(ctx) {
        return Reply::error(MODULE_DENIED);
    }
    tracing::warn!("MODULE LOAD: loading Redis modules is not supported");
    Reply::error("ERR Error loading the extension. Please check the server logs.")
}

// MODULE UNLOAD name
fn module_unload(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    if !module_allowed(ctx) {
        return Reply::error(MODULE_DENIED);
    }
    Reply::error("ERR Error unloading module: no such module with that name")
}

fn module_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    super::connection::help_reply(
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    )
}

const G: &str = "server";

const MODULE_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("help", 2, LOADING | STALE, module_help).group(G),
    CommandSpec::new("list", 2, ADMIN | NOSCRIPT, module_list).group(G),
    CommandSpec::new("load", -3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, module_load).group(G),
    CommandSpec::new(
        "loadex",
        -3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        module_load,
    )
    .group(G),
    CommandSpec::new(
        "unload",
        3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        module_unload,
    )
    .group(G),
];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("migrate", -6, WRITE | MOVABLEKEYS, migrate)
        .keys(3, 3, 1)
        .doc(
            "Atomically transfer a key from a Redis instance to another one.",
            "2.6.0",
        ),
    CommandSpec::new(
        "restore-asking",
        -4,
        WRITE | DENYOOM | ASKING,
        super::dump::restore,
    )
    .keys(1, 1, 1)
    .group(G)
    .doc(
        "An internal command for migrating keys in a cluster",
        "3.0.0",
    ),
    CommandSpec::new("module", -2, 0, module_help)
        .group(G)
        .doc("A container for module commands", "4.0.0")
        .subs(MODULE_SUBCOMMANDS),
];
