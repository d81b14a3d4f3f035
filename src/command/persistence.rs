//! Persistence commands: BGREWRITEAOF, SAVE, BGSAVE, and what `CONFIG SET` of the AOF
//! directives must start or stop.
//!
//! DEVIATION(redis): ferrymq has no RDB snapshots. SAVE and BGSAVE are accepted and answered as
//! Redis answers them, but write no `dump.rdb`; durability comes from the AOF only.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, is};
use crate::protocol::Reply;

const G: &str = "server";

// BGREWRITEAOF
fn bgrewriteaof(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    match crate::aof::bgrewrite(ctx.shared) {
        Ok(()) => Reply::status("Background append only file rewriting started"),
        Err(e) => Reply::Error(e.into()),
    }
}

// SAVE
fn save(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Ok
}

// BGSAVE [SCHEDULE]
fn bgsave(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 2 || (args.len() == 2 && !is(&args[1], "schedule")) {
        return Reply::error(crate::error::SYNTAX);
    }
    Reply::status("Background saving started")
}

/// After `CONFIG SET` changed `names`: apply the AOF directives. Err is the whole error line.
pub fn config_changed(ctx: &mut Ctx, names: &[String]) -> Result<(), String> {
    let shared = ctx.shared.clone();
    if names
        .iter()
        .any(|n| n == "appendfsync" || n == "no-appendfsync-on-rewrite")
    {
        crate::aof::apply_config(&shared);
    }
    if names.iter().any(|n| n == "appendonly") {
        let on = shared.config.read().get_bool("appendonly");
        if let Err(e) = crate::aof::set_appendonly(&shared, on) {
            let _ = shared.config.write().set_many(&[(
                &b"appendonly"[..],
                if on { &b"no"[..] } else { &b"yes"[..] },
            )]);
            return Err(format!(
                "ERR CONFIG SET failed (possibly related to argument 'appendonly') - {e}"
            ));
        }
    }
    Ok(())
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
