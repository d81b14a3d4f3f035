//! Connection commands: PING, ECHO, AUTH, HELLO, SELECT, QUIT, RESET, CLIENT.

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::flags::*;
use super::{CommandSpec, Ctx, is, parse_i64};
use crate::connection::{ClientHandle, ReplyMode};
use crate::error;
use crate::protocol::Reply;

// PING [message]
fn ping(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 2 {
        return Reply::Error(error::wrong_args("ping").into());
    }
    if ctx.client.in_pubsub_context() {
        let payload = args.get(1).cloned().unwrap_or_default();
        return Reply::Array(vec![Reply::bulk_str("pong"), Reply::Bulk(payload)]);
    }
    match args.get(1) {
        Some(m) => Reply::Bulk(m.clone()),
        None => Reply::status("PONG"),
    }
}

// ECHO message
fn echo(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    Reply::Bulk(args[1].clone())
}

/// Check credentials against the ACL users (hashed passwords, compared in constant time); on
/// success the connection runs as that user, on failure the attempt goes to the ACL LOG.
fn check_password(ctx: &mut Ctx, user: &[u8], pass: &[u8]) -> bool {
    match ctx.shared.acl.authenticate(user, pass) {
        Some(u) => {
            ctx.client.user = Some(u);
            ctx.client.handle.info.lock().user = String::from_utf8_lossy(user).into_owned();
            true
        }
        None => {
            let object = crate::store::own(&ctx.argv()[0]);
            crate::acl::log(
                ctx.shared,
                ctx.client,
                "auth",
                object,
                Bytes::copy_from_slice(user),
            );
            false
        }
    }
}

// AUTH [username] password
fn auth(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return Reply::error(error::SYNTAX);
    }
    let (user, pass): (&[u8], &[u8]) = if args.len() == 2 {
        if ctx.shared.acl.default_user().read().nopass {
            return Reply::error(error::AUTH_NOT_CONFIGURED);
        }
        (b"default", &args[1])
    } else {
        (&args[1], &args[2])
    };
    if check_password(ctx, user, pass) {
        ctx.client.authenticated = true;
        Reply::Ok
    } else {
        Reply::error(error::WRONGPASS)
    }
}

/// The map HELLO replies with.
fn hello_map(ctx: &Ctx) -> Reply {
    Reply::Map(vec![
        (Reply::bulk_str("server"), Reply::bulk_str("redis")),
        (
            Reply::bulk_str("version"),
            Reply::bulk_str(crate::REDIS_VERSION),
        ),
        (Reply::bulk_str("proto"), Reply::Int(ctx.client.resp as i64)),
        (Reply::bulk_str("id"), Reply::Int(ctx.client.id as i64)),
        (Reply::bulk_str("mode"), Reply::bulk_str("standalone")),
        (Reply::bulk_str("role"), Reply::bulk_str("master")),
        (Reply::bulk_str("modules"), Reply::Array(vec![])),
    ])
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut ver = None;
    if args.len() >= 2 {
        match crate::protocol::request::parse_i64(&args[1]) {
            Some(v) => ver = Some(v),
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
        }
        let v = ver.unwrap_or(0);
        if !(2..=3).contains(&v) {
            return Reply::error(error::NOPROTO);
        }
    }
    let mut auth_pair = None;
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "auth") && more >= 2 {
            auth_pair = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 3;
        } else if is(&args[i], "setname") && more >= 1 {
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Reply::Error(
                format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&args[i])
                )
                .into(),
            );
        }
    }
    if let Some((u, p)) = auth_pair {
        if !check_password(ctx, &u, &p) {
            return Reply::error(error::WRONGPASS);
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Reply::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    if let Some(n) = name {
        if let Err(e) = validate_name(&n) {
            return e;
        }
        ctx.client.handle.info.lock().name = if n.is_empty() { None } else { Some(n) };
    }
    if let Some(v) = ver {
        ctx.client.resp = v as u8;
        ctx.client.handle.info.lock().resp = v as u8;
        if ctx.client.subscription_count() > 0 {
            ctx.shared.pubsub.set_resp(ctx.client.id, v as u8);
        }
    }
    hello_map(ctx)
}

// SELECT index
fn select(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let idx = match parse_i64(&args[1]) {
        Ok(i) => i,
        Err(_) => return Reply::error(error::SELECT_NOT_INT),
    };
    if idx < 0 || idx as usize >= ctx.shared.databases() {
        return Reply::error(error::INVALID_DB);
    }
    ctx.client.db = idx as usize;
    ctx.client.handle.info.lock().db = idx as usize;
    Reply::Ok
}

// QUIT
fn quit(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.client.close_after_reply = true;
    ctx.client.reply_mode = ReplyMode::On;
    Reply::Ok
}

// RESET
fn reset(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.client.multi = None;
    let watched = std::mem::take(&mut ctx.client.watched);
    if !watched.is_empty() {
        let id = ctx.client.id;
        ctx.store_op(move |s| s.watches.unwatch(id, &watched));
    }
    ctx.shared.pubsub.remove_client(ctx.client);
    ctx.client.resp = 2;
    ctx.client.db = 0;
    ctx.client.reply_mode = ReplyMode::On;
    if ctx.client.monitor {
        ctx.client.monitor = false;
        ctx.shared.remove_monitor(ctx.client.id);
    }
    if ctx.client.tracking.take().is_some() {
        let id = ctx.client.id;
        ctx.store_op(move |s| s.tracking.disable(id));
    }
    ctx.client.authenticated = !ctx.shared.acl.default_needs_auth();
    ctx.client.user = None;
    {
        let mut info = ctx.client.handle.info.lock();
        info.user = "default".into();
        info.resp = 2;
        info.db = 0;
        info.name = None;
        info.no_evict = false;
        info.no_touch = false;
        info.monitor = false;
        info.tracking = false;
        info.tracking_bcast = false;
    }
    Reply::status("RESET")
}

fn validate_name(n: &[u8]) -> Result<(), Reply> {
    if n.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

/// One CLIENT LIST line, fields in Redis 7.0's order. Takes the store lock (for the `b` flag).
/// `argv_mem`: the bytes of the arguments of the command the client is running (Redis's
/// `argv-mem`; the caller knows them for its own client, 0 for the others).
pub fn client_line(shared: &crate::server::Shared, h: &ClientHandle, argv_mem: usize) -> String {
    let blocked = shared.store.lock().blocking.is_blocked(h.id);
    client_line_with(h, blocked, argv_mem)
}

/// Sum of the argument lengths of a command, as Redis's `argv-mem` counts them.
fn argv_mem(argv: &[Bytes]) -> usize {
    argv.iter().map(|a| a.len()).sum()
}

/// Redis's PROTO_REPLY_CHUNK_BYTES: the reply buffer every client has.
const REPLY_BUFFER: usize = 16 * 1024;

/// `client_line` for a caller that knows whether the client is blocked (and may hold the store
/// lock, like the ACL LOG).
pub fn client_line_with(h: &ClientHandle, blocked: bool, argv_mem: usize) -> String {
    let info = h.info.lock().clone();
    let now = crate::store::unix_ms() as u64;
    let idle = now.saturating_sub(h.last_interaction.load(Ordering::Relaxed)) / 1000;
    let mut flags = String::new();
    if info.replica {
        flags.push('S');
    }
    if info.master {
        flags.push('M');
    }
    if info.monitor {
        flags.push('O');
    }
    if info.sub + info.psub + info.ssub > 0 {
        flags.push('P');
    }
    if info.multi.is_some() {
        flags.push('x');
    }
    if blocked {
        flags.push('b');
    }
    if info.tracking {
        flags.push('t');
        if info.tracking_bcast {
            flags.push('B');
        }
    }
    if h.unix {
        flags.push('U');
    }
    if info.no_evict {
        flags.push('e');
    }
    if info.no_touch {
        flags.push('T');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    // Redis fills its fixed reply buffer first (`obl` bytes), then a list of 16 KiB blocks
    // (`oll` of them, `omem` bytes): the outbox's pending bytes are shown the same way.
    let pending = h.outbox.pending();
    let obl = pending.min(REPLY_BUFFER);
    let omem = pending - obl;
    let oll = omem.div_ceil(REPLY_BUFFER);
    let qbuf = h.qbuf.load(Ordering::Relaxed);
    let qbuf_cap = h.qbuf_cap.load(Ordering::Relaxed).max(qbuf);
    let tot = pending + h.outbox.capacity() + qbuf_cap + argv_mem + REPLY_BUFFER;
    let name = info
        .name
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let opt = |b: &Option<Bytes>| {
        b.as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default()
    };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
        h.id,
        h.addr,
        h.laddr,
        h.id + 7,
        name,
        h.created.elapsed().as_secs(),
        idle,
        flags,
        info.db,
        info.sub,
        info.psub,
        info.ssub,
        info.multi.map(|m| m as i64).unwrap_or(-1),
        qbuf,
        qbuf_cap - qbuf,
        argv_mem,
        // DEVIATION(redis): replies go to the outbox; the fixed reply buffer Redis reports
        // (size and peak use) is shown at its initial size.
        REPLY_BUFFER,
        REPLY_BUFFER,
        obl,
        oll,
        omem,
        tot,
        if info.last_cmd.is_empty() {
            "NULL"
        } else {
            info.last_cmd
        },
        info.user,
        if info.tracking { info.redir } else { -1 },
        info.resp,
        opt(&info.lib_name),
        opt(&info.lib_ver),
    )
}

fn client_type_matches(h: &ClientHandle, ty: &[u8]) -> Option<bool> {
    let info = h.info.lock();
    let pubsub = info.sub + info.psub + info.ssub > 0;
    let special = info.replica || info.master;
    if is(ty, "normal") {
        Some(!pubsub && !special)
    } else if is(ty, "pubsub") {
        Some(pubsub && !special)
    } else if is(ty, "master") {
        Some(info.master)
    } else if is(ty, "replica") || is(ty, "slave") {
        Some(info.replica)
    } else {
        None
    }
}

// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID client-id ...]
fn client_list(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut ty: Option<Bytes> = None;
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "type") && i + 1 < args.len() {
            ty = Some(args[i + 1].clone());
            i += 2;
        } else if is(&args[i], "id") && i + 1 < args.len() {
            let mut v = vec![];
            for a in &args[i + 1..] {
                match crate::protocol::request::parse_i64(a) {
                    Some(n) if n > 0 => v.push(n as u64),
                    _ => return Reply::error("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
            i = args.len();
        } else {
            return Reply::error(error::SYNTAX);
        }
    }
    if let Some(t) = &ty
        && let Some(h) = ctx.shared.clients.all().first()
        && client_type_matches(h, t).is_none()
    {
        return Reply::Error(
            format!("ERR Unknown client type '{}'", String::from_utf8_lossy(t)).into(),
        );
    }
    let mut out = String::new();
    for h in ctx.shared.clients.all() {
        if let Some(t) = &ty
            && client_type_matches(&h, t) != Some(true)
        {
            continue;
        }
        if let Some(ids) = &ids
            && !ids.contains(&h.id)
        {
            continue;
        }
        let mem = if h.id == ctx.client.id {
            argv_mem(ctx.argv())
        } else {
            0
        };
        out.push_str(&client_line(ctx.shared, &h, mem));
        out.push('\n');
    }
    Reply::Verbatim(Bytes::from(out))
}

// CLIENT KILL ip:port | CLIENT KILL <filter> <value> ...
fn client_kill(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let me = ctx.client.id;
    if args.len() == 3 {
        let addr = &args[2];
        for h in ctx.shared.clients.all() {
            if h.addr.as_bytes() == &addr[..] {
                kill_client(ctx, &h);
                return Reply::Ok;
            }
        }
        return Reply::error("ERR No such client");
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut ty = None;
    let mut user = None;
    let mut skipme = true;
    let mut i = 2;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Reply::error(error::SYNTAX);
        }
        let v = &args[i + 1];
        if is(&args[i], "id") {
            match crate::protocol::request::parse_i64(v) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return Reply::error("ERR client-id should be greater than 0"),
            }
        } else if is(&args[i], "addr") {
            addr = Some(v.clone());
        } else if is(&args[i], "laddr") {
            laddr = Some(v.clone());
        } else if is(&args[i], "type") {
            let known = ["normal", "pubsub", "master", "replica", "slave"];
            if !known.iter().any(|k| is(v, k)) {
                return Reply::Error(
                    format!("ERR Unknown client type '{}'", String::from_utf8_lossy(v)).into(),
                );
            }
            ty = Some(v.clone());
        } else if is(&args[i], "user") {
            if ctx.shared.acl.get(v).is_none() {
                return Reply::Error(
                    format!("ERR No such user '{}'", String::from_utf8_lossy(v)).into(),
                );
            }
            user = Some(v.clone());
        } else if is(&args[i], "skipme") {
            if is(v, "yes") {
                skipme = true;
            } else if is(v, "no") {
                skipme = false;
            } else {
                return Reply::error(error::SYNTAX);
            }
        } else {
            return Reply::error(error::SYNTAX);
        }
        i += 2;
    }
    let mut killed = 0;
    for h in ctx.shared.clients.all() {
        if id.is_some_and(|x| x != h.id)
            || addr.as_ref().is_some_and(|a| h.addr.as_bytes() != &a[..])
            || laddr.as_ref().is_some_and(|a| h.laddr.as_bytes() != &a[..])
            || ty
                .as_ref()
                .is_some_and(|t| client_type_matches(&h, t) != Some(true))
            || user
                .as_ref()
                .is_some_and(|u| &u[..] != h.info.lock().user.as_bytes())
            || (skipme && h.id == me)
        {
            continue;
        }
        kill_client(ctx, &h);
        killed += 1;
    }
    Reply::Int(killed)
}

fn kill_client(ctx: &mut Ctx, h: &Arc<ClientHandle>) {
    if h.id == ctx.client.id {
        ctx.client.close_after_reply = true;
    } else {
        h.kill();
    }
}

// CLIENT SETINFO LIB-NAME|LIB-VER value
fn client_setinfo(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let v = &args[3];
    if v.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Reply::Error(
            format!(
                "ERR {} cannot contain spaces, newlines or special characters.",
                String::from_utf8_lossy(&args[2]).to_ascii_lowercase()
            )
            .into(),
        );
    }
    let val = if v.is_empty() { None } else { Some(v.clone()) };
    let mut info = ctx.client.handle.info.lock();
    if is(&args[2], "lib-name") {
        info.lib_name = val;
    } else if is(&args[2], "lib-ver") {
        info.lib_ver = val;
    } else {
        return Reply::Error(
            format!(
                "ERR Unrecognized option '{}'",
                String::from_utf8_lossy(&args[2])
            )
            .into(),
        );
    }
    Reply::Ok
}

fn on_off(arg: &[u8]) -> Option<bool> {
    if is(arg, "on") {
        Some(true)
    } else if is(arg, "off") {
        Some(false)
    } else {
        None
    }
}

fn client_no_evict(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match on_off(&args[2]) {
        Some(b) => {
            ctx.client.handle.info.lock().no_evict = b;
            Reply::Ok
        }
        None => Reply::error(error::SYNTAX),
    }
}

fn client_no_touch(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match on_off(&args[2]) {
        Some(b) => {
            ctx.client.handle.info.lock().no_touch = b;
            Reply::Ok
        }
        None => Reply::error(error::SYNTAX),
    }
}

// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX prefix [PREFIX prefix ...]] [OPTIN]
//                        [OPTOUT] [NOLOOP]
fn client_tracking(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    use crate::engine::tracking::ClientTracking;
    let mut redirect: i64 = 0;
    let mut redirect_to = None;
    let (mut bcast, mut optin, mut optout, mut noloop) = (false, false, false, false);
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = &args[j];
        if is(a, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Reply::error("ERR A client can only redirect to a single other client");
            }
            redirect = match parse_i64(&args[j]) {
                Ok(n) => n,
                Err(e) => return e,
            };
            match ctx.shared.clients.get(redirect as u64) {
                Some(h) if redirect > 0 => redirect_to = Some(h),
                _ => {
                    return Reply::error("ERR The client ID you want redirect to does not exist");
                }
            }
        } else if is(a, "bcast") {
            bcast = true;
        } else if is(a, "optin") {
            optin = true;
        } else if is(a, "optout") {
            optout = true;
        } else if is(a, "noloop") {
            noloop = true;
        } else if is(a, "prefix") && more {
            j += 1;
            prefixes.push(crate::store::own(&args[j]));
        } else {
            return Reply::error(error::SYNTAX);
        }
        j += 1;
    }
    if is(&args[2], "off") {
        if ctx.client.tracking.take().is_some() {
            let id = ctx.client.id;
            ctx.store().tracking.disable(id);
            let mut info = ctx.client.handle.info.lock();
            info.tracking = false;
            info.tracking_bcast = false;
        }
        return Reply::Ok;
    }
    if !is(&args[2], "on") {
        return Reply::error(error::SYNTAX);
    }
    if !bcast && !prefixes.is_empty() {
        return Reply::error("ERR PREFIX option requires BCAST mode to be enabled");
    }
    let old = ctx.client.tracking.clone();
    if let Some(o) = &old
        && o.bcast != bcast
    {
        return Reply::error(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
        );
    }
    if bcast && (optin || optout) {
        return Reply::error("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if optin && optout {
        return Reply::error("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if let Some(o) = &old
        && ((optin && o.optout) || (optout && o.optin))
    {
        return Reply::error(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
        );
    }
    let existing: Vec<Bytes> = old.as_ref().map(|o| o.prefixes.clone()).unwrap_or_default();
    if bcast {
        let overlap = |a: &[u8], b: &[u8]| a[..a.len().min(b.len())] == b[..a.len().min(b.len())];
        for (i, p) in prefixes.iter().enumerate() {
            if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
                return Reply::error(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(e)
                ));
            }
            if let Some(q) = prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                return Reply::error(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(q)
                ));
            }
        }
    }
    let mut all = existing;
    if bcast && all.is_empty() && prefixes.is_empty() {
        all.push(Bytes::new());
    }
    for p in prefixes {
        if !all.contains(&p) {
            all.push(p);
        }
    }
    all.sort();
    let settings = ClientTracking {
        redirect: redirect as u64,
        redirect_to,
        bcast,
        optin,
        optout,
        noloop,
        caching: false,
        prefixes: all,
    };
    {
        let mut info = ctx.client.handle.info.lock();
        info.tracking = true;
        info.tracking_bcast = bcast;
        info.redir = redirect;
    }
    let handle = ctx.client.handle.clone();
    let id = ctx.client.id;
    let store = ctx.store();
    store.tracking.disable(id);
    store.tracking.enable(handle, settings.clone());
    ctx.client.tracking = Some(settings);
    Reply::Ok
}

// CLIENT CACHING YES|NO
fn client_caching(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let Some(t) = ctx.client.tracking.as_mut() else {
        return Reply::error(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        );
    };
    if is(&args[2], "yes") {
        if !t.optin {
            return Reply::error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if is(&args[2], "no") {
        if !t.optout {
            return Reply::error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return Reply::error(error::SYNTAX);
    }
    t.caching = true;
    Reply::Ok
}

// CLIENT GETREDIR
fn client_getredir(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Int(
        ctx.client
            .tracking
            .as_ref()
            .map_or(-1, |t| t.redirect as i64),
    )
}

// CLIENT TRACKINGINFO
fn client_trackinginfo(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let id = ctx.client.id;
    let Some(t) = ctx.client.tracking.clone() else {
        return Reply::Map(vec![
            (
                Reply::bulk_str("flags"),
                Reply::Set(vec![Reply::bulk_str("off")]),
            ),
            (Reply::bulk_str("redirect"), Reply::Int(-1)),
            (Reply::bulk_str("prefixes"), Reply::Array(vec![])),
        ]);
    };
    let (broken, prefixes) = {
        let store = ctx.store();
        (store.tracking.is_broken(id), store.tracking.prefixes_of(id))
    };
    let mut flags = vec![Reply::bulk_str("on")];
    if t.bcast {
        flags.push(Reply::bulk_str("bcast"));
    }
    if t.optin {
        flags.push(Reply::bulk_str("optin"));
        if t.caching {
            flags.push(Reply::bulk_str("caching-yes"));
        }
    }
    if t.optout {
        flags.push(Reply::bulk_str("optout"));
        if t.caching {
            flags.push(Reply::bulk_str("caching-no"));
        }
    }
    if t.noloop {
        flags.push(Reply::bulk_str("noloop"));
    }
    if broken {
        flags.push(Reply::bulk_str("broken_redirect"));
    }
    Reply::Map(vec![
        (Reply::bulk_str("flags"), Reply::Set(flags)),
        (Reply::bulk_str("redirect"), Reply::Int(t.redirect as i64)),
        (
            Reply::bulk_str("prefixes"),
            Reply::Array(prefixes.into_iter().map(Reply::Bulk).collect()),
        ),
    ])
}

// CLIENT REPLY ON|OFF|SKIP
fn client_reply(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if is(&args[2], "on") {
        ctx.client.reply_mode = ReplyMode::On;
        Reply::Ok
    } else if is(&args[2], "off") {
        ctx.client.reply_mode = ReplyMode::Off;
        Reply::NoReply
    } else if is(&args[2], "skip") {
        // This command has no reply; the next command's reply is suppressed.
        ctx.client.reply_mode = ReplyMode::SkipNext;
        Reply::NoReply
    } else {
        Reply::error(error::SYNTAX)
    }
}

// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
fn client_unblock(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let id = match parse_i64(&args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let as_error = match args.get(3) {
        None => false,
        Some(a) if is(a, "timeout") => false,
        Some(a) if is(a, "error") => true,
        Some(_) => return Reply::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let Some(h) = ctx.shared.clients.get(id as u64) else {
        return Reply::Int(0);
    };
    let store = ctx.store();
    let Some(w) = store.blocking.remove(id as u64) else {
        return Reply::Int(0);
    };
    let reply = if as_error {
        Reply::error(error::UNBLOCKED)
    } else {
        w.timeout_reply.clone()
    };
    h.outbox.push_reply(&reply, w.resp);
    h.outbox.wake();
    h.wake.notify_one();
    Reply::Int(1)
}

// CLIENT PAUSE timeout [WRITE|ALL]
fn client_pause(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let ms = match crate::protocol::request::parse_i64(&args[2]) {
        Some(v) if v >= 0 => v,
        _ => return Reply::error("ERR timeout is not an integer or out of range"),
    };
    let all = match args.get(3) {
        None => true,
        Some(a) if is(a, "all") => true,
        Some(a) if is(a, "write") => false,
        Some(_) => return Reply::error(error::SYNTAX),
    };
    if args.len() > 4 {
        return Reply::error(error::SYNTAX);
    }
    ctx.shared.pause(ms as u64, all);
    Reply::Ok
}

fn client_unpause(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.shared.unpause();
    Reply::Ok
}

fn client_id(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Int(ctx.client.id as i64)
}

fn client_setname(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Err(e) = validate_name(&args[2]) {
        return e;
    }
    let n = &args[2];
    ctx.client.handle.info.lock().name = if n.is_empty() {
        None
    } else {
        Some(crate::store::own(n))
    };
    Reply::Ok
}

fn client_getname(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    match ctx.client.handle.info.lock().name.clone() {
        Some(n) => Reply::Bulk(n),
        None => Reply::Null,
    }
}

fn client_info(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let mut line = client_line(ctx.shared, &ctx.client.handle, argv_mem(ctx.argv()));
    line.push('\n');
    Reply::Verbatim(Bytes::from(line))
}

fn client_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    help_reply(
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    )
}

/// The reply of every `<CMD> HELP` subcommand: a header line, the given lines, and the common
/// HELP footer, as Redis's `addReplyHelp` builds it.
pub fn help_reply(cmd: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::Status(
        format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:").into(),
    )];
    for l in lines {
        out.push(Reply::Status(l.to_string().into()));
    }
    out.push(Reply::status("HELP"));
    out.push(Reply::status("    Prints this help."));
    Reply::Array(out)
}

const CONN: &str = "connection";

const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("id", 2, NOSCRIPT | LOADING | STALE, client_id).group(CONN),
    CommandSpec::new("setname", 3, NOSCRIPT | LOADING | STALE, client_setname).group(CONN),
    CommandSpec::new("getname", 2, NOSCRIPT | LOADING | STALE, client_getname).group(CONN),
    CommandSpec::new("info", 2, NOSCRIPT | LOADING | STALE, client_info).group(CONN),
    CommandSpec::new("list", -2, ADMIN | NOSCRIPT | LOADING | STALE, client_list).group(CONN),
    CommandSpec::new("kill", -3, ADMIN | NOSCRIPT | LOADING | STALE, client_kill).group(CONN),
    CommandSpec::new("setinfo", 4, NOSCRIPT | LOADING | STALE, client_setinfo).group(CONN),
    CommandSpec::new(
        "no-evict",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        client_no_evict,
    )
    .group(CONN),
    CommandSpec::new("no-touch", 3, NOSCRIPT | LOADING | STALE, client_no_touch).group(CONN),
    CommandSpec::new("tracking", -3, NOSCRIPT | LOADING | STALE, client_tracking).group(CONN),
    CommandSpec::new("caching", 3, NOSCRIPT | LOADING | STALE, client_caching).group(CONN),
    CommandSpec::new("getredir", 2, NOSCRIPT | LOADING | STALE, client_getredir).group(CONN),
    CommandSpec::new(
        "trackinginfo",
        2,
        NOSCRIPT | LOADING | STALE,
        client_trackinginfo,
    )
    .group(CONN),
    CommandSpec::new("reply", 3, NOSCRIPT | LOADING | STALE, client_reply).group(CONN),
    CommandSpec::new(
        "unblock",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        client_unblock,
    )
    .group(CONN),
    CommandSpec::new(
        "pause",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        client_pause,
    )
    .group(CONN),
    CommandSpec::new(
        "unpause",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        client_unpause,
    )
    .group(CONN),
    CommandSpec::new("help", 2, LOADING | STALE, client_help).group(CONN),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, FAST | SUBSCRIBED_OK, ping)
        .group(CONN)
        .doc("Ping the server", "1.0.0"),
    CommandSpec::new("echo", 2, LOADING | STALE | FAST, echo)
        .group(CONN)
        .doc("Echo the given string", "1.0.0"),
    CommandSpec::new(
        "auth",
        -2,
        ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        auth,
    )
    .group(CONN)
    .doc("Authenticate to the server", "1.0.0"),
    CommandSpec::new(
        "hello",
        -1,
        ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        hello,
    )
    .group(CONN)
    .doc("Handshake with Redis", "6.0.0"),
    CommandSpec::new("select", 2, LOADING | STALE | FAST, select)
        .group(CONN)
        .doc(
            "Change the selected database for the current connection",
            "1.0.0",
        ),
    CommandSpec::new(
        "quit",
        -1,
        ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SUBSCRIBED_OK | MULTI_CONTROL,
        quit,
    )
    .group(CONN)
    .doc("Close the connection", "1.0.0"),
    CommandSpec::new(
        "reset",
        1,
        ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SUBSCRIBED_OK | MULTI_CONTROL,
        reset,
    )
    .group(CONN)
    .doc("Reset the connection", "6.2.0"),
    CommandSpec::new("client", -2, SENTINEL_NONE, client_help)
        .group(CONN)
        .doc("A container for client connection commands", "2.4.0")
        .subs(CLIENT_SUBCOMMANDS),
];

const SENTINEL_NONE: u32 = 0;
