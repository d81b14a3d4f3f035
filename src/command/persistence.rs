//! Persistence commands: BGREWRITEAOF, SAVE, BGSAVE, and what `CONFIG SET` of the AOF
//! directives must start or stop. The snapshots themselves live in `crate::snapshot`.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, is};
use crate::protocol::Reply;

const G: &str = "server";

// BGREWRITEAOF
fn bgrewriteaof(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    use std::sync::atomic::Ordering::SeqCst;
    let rewrite = &ctx.shared.aof.core.rewrite;
    if (ctx.shared.rdb.in_progress.load(SeqCst) || ctx.in_outer_unit())
        && !rewrite.in_progress.load(SeqCst)
    {
        // As Redis with a BGSAVE child, or inside EXEC (the rewrite cannot take the store the
        // transaction holds): the server cron starts it.
        rewrite.scheduled.store(true, SeqCst);
        return Reply::status("Background append only file rewriting scheduled");
    }
    match crate::aof::bgrewrite(ctx.shared) {
        Ok(()) => Reply::status("Background append only file rewriting started"),
        Err(e) => Reply::Error(e.into()),
    }
}

// SAVE
fn save(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    if ctx
        .shared
        .rdb
        .in_progress
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        return Reply::error(crate::snapshot::ALREADY);
    }
    let shared = ctx.shared.clone();
    match crate::snapshot::save(&shared, ctx.store()) {
        Ok(()) => Reply::Ok,
        // Redis answers a failed SAVE with a bare `-ERR` (the reason is in the log).
        Err(_) => Reply::error("ERR"),
    }
}

// BGSAVE [SCHEDULE]
fn bgsave(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 2 || (args.len() == 2 && !is(&args[1], "schedule")) {
        return Reply::error(crate::error::SYNTAX);
    }
    // Inside MULTI the snapshot cannot start under the transaction's lock: Redis schedules it.
    if ctx.in_exec() {
        if ctx
            .shared
            .rdb
            .in_progress
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Reply::error(crate::snapshot::ALREADY);
        }
        ctx.shared
            .rdb
            .scheduled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        return Reply::status("Background saving scheduled");
    }
    let shared = ctx.shared.clone();
    // The snapshot takes the store lock itself.
    ctx.release_store();
    match crate::snapshot::bgsave(&shared, args.len() == 2) {
        Ok(status) => Reply::status(status),
        Err(e) => Reply::Error(e.into()),
    }
}

/// After `CONFIG SET` changed `names`: apply the AOF directives that cannot fail (`appendonly`
/// is one of CONFIG SET's apply functions, see `command::config`).
pub fn aof_settings_changed(shared: &std::sync::Arc<crate::server::Shared>, names: &[String]) {
    if names
        .iter()
        .any(|n| n == "appendfsync" || n == "no-appendfsync-on-rewrite")
    {
        crate::aof::apply_config(shared);
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "bgrewriteaof",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        bgrewriteaof,
    )
    .group(G)
    .doc(
        "Asynchronously rewrite the append-only file to disk",
        "1.0.0",
    ),
    CommandSpec::new(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        save,
    )
    .group(G)
    .doc("Synchronously save the dataset to disk", "1.0.0"),
    CommandSpec::new("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, bgsave)
        .group(G)
        .doc("Asynchronously save the dataset to disk", "1.0.0"),
];
