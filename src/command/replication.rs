//! The master side of replication, first step: SYNC, PSYNC (always a full resynchronisation)
//! and REPLCONF. A replica that attaches gets an RDB of the dataset (`store::rdb::write_file`,
//! made under the store lock), then every effect as the AOF gets it (`engine::replicas`), so
//! a redis-server started with `replicaof` this server's address ends up with the same data
//! and follows its writes.
//!
//! DEVIATION(redis): the RDB is built in memory in the critical section (no fork, no disk or
//! diskless transfer choice); no backlog (every PSYNC is a full resync), no REPLCONF ACK
//! offsets, no WAIT, no replica output-buffer limit yet.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, is, parse_i64};
use crate::engine::replicas::ReplicaLink;
use crate::error;
use crate::protocol::Reply;

/// Attach the client as a replica: everything it must receive before the live stream goes
/// into its outbox now, under the store lock that also registers the link.
fn attach(ctx: &mut Ctx, preamble: Option<String>) -> Reply {
    let enc = super::dump::encodings(ctx);
    let shared = ctx.shared.clone();
    let handle = ctx.client.handle.clone();
    let store = ctx.store();
    if store.replicas.iter().any(|r| r.id() == handle.id) {
        // Already a replica: Redis ignores a second SYNC.
        return Reply::NoReply;
    }
    let functions: Vec<Bytes> = shared
        .scripting
        .lock()
        .functions
        .load_commands()
        .into_iter()
        .filter_map(|mut c| c.pop())
        .collect();
    let rdb = crate::store::rdb::write_file(&store.dbs, &functions, &enc, crate::store::unix_ms());
    let mut out = Vec::with_capacity(64 + rdb.len());
    if let Some(p) = preamble {
        out.extend_from_slice(p.as_bytes());
    }
    out.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
    out.extend_from_slice(&rdb);
    handle.outbox.push_bytes(&out);
    handle.outbox.wake();
    store.replicas.push(ReplicaLink::new(handle));
    tracing::info!(
        client = ctx.client.id,
        "replica attached (full synchronization)"
    );
    Reply::NoReply
}

// SYNC
fn sync(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    attach(ctx, None)
}

// PSYNC replicationid offset
fn psync(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Err(e) = parse_i64(&args[2]) {
        return e;
    }
    let replid = ctx.shared.run_id.clone();
    attach(ctx, Some(format!("+FULLRESYNC {replid} 0\r\n")))
}

// REPLCONF option value [option value ...]
fn replconf(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len().is_multiple_of(2) {
        return Reply::error(error::SYNTAX);
    }
    for pair in args[1..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if is(opt, "listening-port") || is(opt, "rdb-only") || is(opt, "rdb-filter-only") {
            if !is(opt, "rdb-filter-only")
                && let Err(e) = parse_i64(val)
            {
                return e;
            }
        } else if is(opt, "ip-address") || is(opt, "capa") {
        } else if is(opt, "ack") || is(opt, "getack") {
            // Offsets are not tracked yet; neither gets a reply (a replica's stream must stay
            // clean).
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

const G: &str = "server";

pub const COMMANDS: &[CommandSpec] = &[
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
];
