//! Replication commands. Master side: SYNC and PSYNC (a partial resynchronisation from the
//! backlog when the replica's history allows it, else a full one: an RDB of the dataset made
//! under the store lock, then the stream from that offset), REPLCONF (what a replica announces,
//! and its ACKs), WAIT. Both sides: ROLE, REPLICAOF / SLAVEOF (`crate::replica`).
//! The stream itself is `engine::replicas`.
//!
//! DEVIATION(redis): without a fork, a full resync's snapshot is the dataset at the moment its
//! capture ends (not when the replica asked), and it is always sent from memory as `$<len>`
//! (no disk or diskless transfer choice).

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, is, parse_i64};
use crate::engine::replicas::{FullSync, ReplicaLink};
use crate::error;
use crate::protocol::Reply;
use std::ops::DerefMut;

/// Attach the client as a replica that needs everything: an RDB, then the live stream. The
/// snapshot is captured by the `repl-sync` thread in short batches (see
/// [`crate::engine::replicas::FullSync`]); replicas that ask while one is being captured wait
/// for the same one.
fn full_sync(ctx: &mut Ctx, psync: bool) -> Reply {
    let enc = super::dump::encodings(ctx);
    let shared = ctx.shared.clone();
    let handle = ctx.client.handle.clone();
    let conf = ctx.client.replconf.clone();
    handle.info.lock().replica = true;
    tracing::info!(
        client = handle.id,
        "replica asks for a full synchronization"
    );
    let store = ctx.store();
    store
        .repl
        .set_backlog_size(shared.config_i64("repl-backlog-size").max(0) as usize);
    store.repl.ensure_backlog();
    shared.replica.update_feeding(&store.repl);
    shared
        .stats
        .sync_full
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(fs) = store.repl.full_sync.as_mut() {
        fs.waiting.push((handle, conf, psync));
        return Reply::NoReply;
    }
    let capture = Box::new(crate::aof::rewrite::Capture::rdb(&store.keyspace.dbs, enc));
    store.repl.full_sync = Some(FullSync {
        capture,
        waiting: vec![(handle, conf, psync)],
    });
    let sh = shared.clone();
    if let Err(e) = std::thread::Builder::new()
        .name("repl-sync".into())
        .spawn(move || build_full_sync(&sh))
    {
        store.repl.full_sync = None;
        return Reply::error(format!("ERR Can't start the replica synchronization: {e}"));
    }
    Reply::NoReply
}

/// The `repl-sync` thread: capture the snapshot batch by batch; in the critical section that
/// finishes it, answer `+FULLRESYNC <replid> <offset>` and attach the replicas with their
/// stream held back; write the RDB with no lock held; then, under the lock again, send it and
/// release the held stream behind it.
fn build_full_sync(shared: &std::sync::Arc<crate::server::Shared>) {
    let t0 = std::time::Instant::now();
    let limit = replica_limit(shared);
    let (records, waiting) = loop {
        let mut store = shared.store.lock();
        let Some(mut fs) = store.repl.full_sync.take() else {
            return;
        };
        fs.waiting
            .retain(|(h, ..)| !h.is_killed() && !h.outbox.is_closing());
        if fs.waiting.is_empty() {
            return;
        }
        if !fs.capture.dump_batch(&store.keyspace.dbs) {
            store.repl.full_sync = Some(fs);
            drop(store);
            std::thread::yield_now();
            continue;
        }
        // The records are the dataset as of now: the stream continues from this offset.
        store.repl.reselect();
        let head = format!(
            "+FULLRESYNC {} {}\r\n",
            store.repl.replid, store.repl.offset
        );
        let mut ids = Vec::new();
        for (h, conf, psync) in fs.waiting {
            if psync {
                h.outbox.push_bytes(head.as_bytes());
                h.outbox.wake();
            }
            ids.push(h.id);
            attach(store.deref_mut(), h, conf, Some(Vec::new()), limit);
        }
        break (fs.capture.rdb.take().expect("an RDB capture"), ids);
    };
    let captured = t0.elapsed();
    let functions = crate::snapshot::function_codes(shared);
    // Encoding holds no lock: it runs at a lower priority.
    let chunks = crate::process::at_lower_priority(
        crate::process::Background::Replica,
        "repl-sync-encode",
        || crate::snapshot::file_chunks(records.records, &functions, &records.enc),
    );
    let len: usize = chunks.iter().map(|c| c.len()).sum();
    let mut store = shared.store.lock();
    for link in store
        .repl
        .links
        .iter_mut()
        .filter(|l| waiting.contains(&l.id()))
    {
        let out = &link.handle.outbox;
        out.push_bytes(format!("${len}\r\n").as_bytes());
        for c in &chunks {
            out.push_bytes(c);
        }
        if let Some(held) = link.held.take() {
            out.push_bytes(&held);
        }
        out.wake();
    }
    tracing::info!(
        bytes = len,
        replicas = waiting.len(),
        capture_ms = captured.as_millis() as u64,
        total_ms = t0.elapsed().as_millis() as u64,
        "full synchronization sent"
    );
}

fn attach(
    store: &mut crate::engine::StoreInner,
    handle: std::sync::Arc<crate::connection::ClientHandle>,
    conf: crate::connection::ReplConf,
    held: Option<Vec<u8>>,
    limit: (u64, u64, u64),
) {
    handle.info.lock().replica = true;
    store.repl.links.push(ReplicaLink {
        handle,
        port: conf.port,
        ip: conf.ip,
        ack: 0,
        ack_time: std::time::Instant::now(),
        held,
        limit: crate::connection::outbox::OutputLimit {
            hard: limit.0,
            soft: limit.1,
            soft_secs: limit.2,
        },
        soft_since: None,
    });
}

/// `client-output-buffer-limit replica` as configured now.
fn replica_limit(shared: &crate::server::Shared) -> (u64, u64, u64) {
    shared.config.read().output_buffer_limit("replica")
}

/// Checks SYNC and PSYNC share: Err is the reply.
fn sync_allowed(ctx: &mut Ctx) -> Result<(), Reply> {
    if ctx.client.handle.info.lock().replica {
        // Already a replica: Redis ignores a second SYNC.
        return Err(Reply::NoReply);
    }
    let r = &ctx.shared.replica;
    if r.failover.active() {
        return Err(Reply::error("NOMASTERLINK Can't SYNC while failing over"));
    }
    if r.is_replica() && !r.link_up() {
        return Err(Reply::error(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    Ok(())
}

// SYNC
fn sync(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    if let Err(r) = sync_allowed(ctx) {
        return r;
    }
    full_sync(ctx, false)
}

// PSYNC replicationid offset [FAILOVER]
fn psync(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if ctx.client.handle.info.lock().replica {
        return Reply::NoReply;
    }
    // A master handing over to us (its FAILOVER): take over, then continue its history.
    if args.len() > 3 && is(&args[3], "failover") {
        let shared = ctx.shared.clone();
        if let Err(r) = crate::failover::psync_request(&shared, ctx.store(), &args[1]) {
            return r;
        }
    }
    if let Err(r) = sync_allowed(ctx) {
        return r;
    }
    let offset = match parse_i64(&args[2]) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let replid = String::from_utf8_lossy(&args[1]).into_owned();
    let shared = ctx.shared.clone();
    let handle = ctx.client.handle.clone();
    let conf = ctx.client.replconf.clone();
    let limit = replica_limit(&shared);
    let store = ctx.store();
    if offset >= 0
        && store.repl.can_continue(&replid, offset as u64)
        && let Some(missing) = store.repl.backlog_from(offset as u64)
    {
        let head = if conf.psync2 {
            format!("+CONTINUE {}\r\n", store.repl.replid)
        } else {
            "+CONTINUE\r\n".to_string()
        };
        handle.outbox.push_bytes(head.as_bytes());
        handle.outbox.push_bytes(&missing);
        handle.outbox.wake();
        attach(store, handle, conf, None, limit);
        shared
            .stats
            .sync_partial_ok
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            client = ctx.client.id,
            bytes = missing.len(),
            "replica attached (partial resynchronization)"
        );
        return Reply::NoReply;
    }
    if replid != "?" {
        shared
            .stats
            .sync_partial_err
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    full_sync(ctx, true)
}

// REPLCONF option value [option value ...]
fn replconf(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len().is_multiple_of(2) {
        return Reply::error(error::SYNTAX);
    }
    for pair in args[1..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if is(opt, "listening-port") {
            match parse_i64(val) {
                Ok(p) => ctx.client.replconf.port = p.clamp(0, 65535) as u16,
                Err(e) => return e,
            }
        } else if is(opt, "rdb-only") {
            if let Err(e) = parse_i64(val) {
                return e;
            }
        } else if is(opt, "rdb-filter-only") {
        } else if is(opt, "ip-address") {
            ctx.client.replconf.ip = Some(String::from_utf8_lossy(val).into_owned());
        } else if is(opt, "capa") {
            if is(val, "psync2") {
                ctx.client.replconf.psync2 = true;
            }
        } else if is(opt, "ack") {
            // Only from an attached replica; never answered (its stream must stay clean).
            if let Some(off) = crate::num::string2ll(val) {
                ack(ctx, off.max(0) as u64);
            }
            return Reply::NoReply;
        } else if is(opt, "getack") {
            // A master asks its replicas; the link task answers it (`crate::replica`).
            return Reply::NoReply;
        } else {
            return Reply::error(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    Reply::Ok
}

/// REPLCONF ACK from a replica: record its offset and answer the WAITs it satisfies.
fn ack(ctx: &mut Ctx, offset: u64) {
    let id = ctx.client.id;
    let store = ctx.store();
    let Some(link) = store.repl.links.iter_mut().find(|l| l.id() == id) else {
        return;
    };
    link.ack = link.ack.max(offset);
    link.ack_time = std::time::Instant::now();
    let shared = ctx.shared.clone();
    let store = ctx.store();
    shared.replica.refresh_good(&shared, &store.repl);
    serve_waits(store);
}

/// Answer the WAITs whose replica count is reached; the others' timeout reply is the count
/// so far.
pub fn serve_waits(store: &mut crate::engine::StoreInner) {
    let mut waits = std::mem::take(&mut store.repl.waits);
    waits.retain(|w| {
        if !store.blocking.is_blocked(w.client) {
            return false;
        }
        let n = store.repl.acked(w.offset);
        if n < w.replicas {
            if let Some(waiter) = store.blocking.get_mut(w.client) {
                waiter.timeout_reply = Reply::Int(n);
            }
            return true;
        }
        if let Some(waiter) = store.blocking.remove(w.client) {
            waiter
                .cmd
                .calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            waiter.client.outbox.push_reply(&Reply::Int(n), waiter.resp);
            waiter.client.outbox.wake();
            waiter.client.wake.notify_one();
        }
        false
    });
    store.repl.waits = waits;
}

// WAIT numreplicas timeout
fn wait(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if ctx.shared.replica.is_replica() {
        return Reply::error(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        );
    }
    let numreplicas = match parse_i64(&args[1]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let timeout_ms = match crate::num::string2ll(&args[2]) {
        Some(t) if t < 0 => return Reply::error("ERR timeout is negative"),
        Some(t) => t,
        None => return Reply::error("ERR timeout is not an integer or out of range"),
    };
    let may_block = ctx.may_block();
    let client = ctx.client.id;
    // The client's last write, or the pop made for it when its blocked command was served.
    let served = ctx
        .client
        .handle
        .served_woff
        .load(std::sync::atomic::Ordering::Relaxed);
    let target = ctx.client.woff.max(served);
    let store = ctx.store();
    let acked = store.repl.acked(target);
    if acked >= numreplicas || !may_block {
        return Reply::Int(acked);
    }
    store.repl.waits.push(crate::engine::replicas::WaitReq {
        client,
        offset: target,
        replicas: numreplicas,
    });
    // Ask the replicas where they are now rather than waiting for their next periodic ACK.
    store.repl.feed_command(&[
        Bytes::from_static(b"REPLCONF"),
        Bytes::from_static(b"GETACK"),
        Bytes::from_static(b"*"),
    ]);
    let timeout = (timeout_ms > 0).then(|| std::time::Duration::from_millis(timeout_ms as u64));
    ctx.block(args, Vec::new(), timeout, Reply::Int(acked))
}

// ROLE
fn role(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let shared = ctx.shared.clone();
    let store = ctx.store();
    if let Some(r) = crate::replica::role_reply(&shared, store.repl.offset) {
        return r;
    }
    store.repl.prune();
    let replicas = store
        .repl
        .links
        .iter()
        .map(|l| {
            Reply::Array(vec![
                Reply::bulk_str(&l.host()),
                Reply::bulk_str(&l.port.to_string()),
                Reply::bulk_str(&l.ack.to_string()),
            ])
        })
        .collect();
    Reply::Array(vec![
        Reply::bulk_str("master"),
        Reply::Int(store.repl.offset as i64),
        Reply::Array(replicas),
    ])
}

// REPLICAOF host port | NO ONE
fn replicaof(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let shared = ctx.shared.clone();
    if shared.replica.failover.active() {
        return Reply::error("ERR REPLICAOF not allowed while failing over.");
    }
    if is(&args[1], "no") && is(&args[2], "one") {
        let store = ctx.store();
        if shared.replica.is_replica() {
            crate::replica::unset_master(&shared, store);
            tracing::info!("MASTER MODE enabled (user request)");
        }
        return Reply::Ok;
    }
    if ctx.client.handle.info.lock().replica {
        return Reply::error("ERR Command is not valid when client is a replica.");
    }
    let port = match crate::num::string2ll(&args[2]) {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        _ => return Reply::error("ERR Invalid master port"),
    };
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    let store = ctx.store();
    if !crate::replica::set_master(&shared, store, host.clone(), port) {
        return Reply::status("OK Already connected to specified master");
    }
    tracing::info!(master = %format!("{host}:{port}"), "REPLICAOF enabled (user request)");
    Reply::Ok
}

const G: &str = "server";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "failover",
        -1,
        ADMIN | NOSCRIPT | STALE,
        crate::failover::command,
    )
    .group(G)
    .doc(
        "Start a coordinated failover between this server and one of its replicas.",
        "6.2.0",
    ),
    CommandSpec::new(
        "sync",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        sync,
    )
    .group(G)
    .doc("Internal command used for replication", "1.0.0"),
    CommandSpec::new(
        "psync",
        -3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        psync,
    )
    .group(G)
    .doc("Internal command used for replication", "2.8.0"),
    CommandSpec::new(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        replconf,
    )
    .group(G)
    .doc(
        "An internal command for configuring the replication stream",
        "3.0.0",
    ),
    CommandSpec::new("wait", 3, NOSCRIPT, wait)
        .group(G)
        .doc(
            "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
            "3.0.0",
        ),
    CommandSpec::new("role", 1, NOSCRIPT | LOADING | STALE | FAST, role)
        .group(G)
        .doc("Return the role of the instance in the context of replication", "2.8.12"),
    CommandSpec::new(
        "replicaof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        replicaof,
    )
    .group(G)
    .doc("Make the server a replica of another instance, or promote it as master.", "5.0.0"),
    CommandSpec::new(
        "slaveof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        replicaof,
    )
    .group(G)
    .doc("Make the server a replica of another instance, or promote it as master.", "1.0.0"),
];
