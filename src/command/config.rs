//! CONFIG GET | SET | RESETSTAT | REWRITE | HELP: thin handlers over [`crate::config::Config`],
//! which owns parsing, validation and every error text. After a successful SET the server
//! re-reads the values it caches for hot paths (`Shared::apply_config`).
//!
//! Locking: the config sits in a `RwLock` separate from the store; GET takes it shared, SET
//! and REWRITE hold it only for the parse (or the file write), never across an `.await`.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::protocol::Reply;

const G: &str = "server";

// CONFIG GET parameter [parameter ...]
fn config_get(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let pats: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
    let pairs = ctx.shared.config.read().get_matching(&pats);
    Reply::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Reply::bulk_str(&k), Reply::bulk_str(&v)))
            .collect(),
    )
}

// CONFIG SET parameter value [parameter value ...]
fn config_set(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    // Arity guarantees at least one pair; an odd count is Redis's syntax error.
    if !args.len().is_multiple_of(2) {
        return Reply::error(crate::error::SYNTAX);
    }
    let pairs: Vec<(&[u8], &[u8])> = args[2..]
        .chunks(2)
        .map(|c| (&c[0][..], &c[1][..]))
        .collect();
    let res = ctx.shared.config.write().set_many(&pairs);
    match res {
        Ok(changed) => {
            if !changed.is_empty() {
                tracing::debug!(directives = %changed.join(", "), "CONFIG SET");
                if changed.iter().any(|n| n == "dir") {
                    // As Redis: the new dir becomes the working directory. The config
                    // checked that it exists.
                    let dir = ctx.shared.config.read().get("dir").unwrap_or_default();
                    if let Err(e) = std::env::set_current_dir(&dir) {
                        tracing::warn!(dir = %dir, error = %e, "chdir failed");
                    }
                }
                ctx.shared.apply_config();
                if let Err(e) = super::persistence::config_changed(ctx, &changed) {
                    return Reply::Error(e.into());
                }
                if changed.iter().any(|n| n == "maxmemory") {
                    maxmemory_changed(ctx);
                }
            }
            Reply::Ok
        }
        Err(e) => Reply::Error(e.into()),
    }
}

/// A new `maxmemory`: warn when memory is already over it and evict at once, as Redis's
/// CONFIG SET does (inside EXEC the store is held by the transaction: the memory sampler
/// evicts within its next tick instead).
fn maxmemory_changed(ctx: &mut Ctx) {
    let max = ctx.shared.maxmemory();
    if max == 0 {
        return;
    }
    let used = ctx.shared.sample_memory();
    if used > max {
        tracing::warn!(
            "WARNING: the new maxmemory value set via CONFIG SET ({max}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy."
        );
    }
    // A running script holds the store lock (CONFIG SET while BUSY): the sampler evicts later.
    if !ctx.in_outer_unit() && !ctx.shared.script_status.is_running() {
        ctx.release_store();
        ctx.shared.perform_evictions();
    }
}

// CONFIG RESETSTAT
fn config_resetstat(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.shared.reset_stats();
    Reply::Ok
}

// CONFIG REWRITE
fn config_rewrite(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let res = ctx.shared.config.read().rewrite();
    match res {
        Ok(()) => {
            tracing::warn!("CONFIG REWRITE executed with success.");
            Reply::Ok
        }
        Err(e) => {
            if ctx.shared.config.read().file().is_some() {
                tracing::warn!(error = %e, "CONFIG REWRITE failed");
            }
            Reply::Error(e.into())
        }
    }
}

/// CONFIG HELP, worded as redis-server 7.0.15 replies it.
const HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

// CONFIG HELP
fn config_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Array(HELP.iter().map(|l| Reply::status(l)).collect())
}

const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -3, ADMIN_FLAGS, config_get).group(G),
    CommandSpec::new("set", -4, ADMIN_FLAGS, config_set).group(G),
    CommandSpec::new("resetstat", 2, ADMIN_FLAGS, config_resetstat).group(G),
    CommandSpec::new("rewrite", 2, ADMIN_FLAGS, config_rewrite).group(G),
    CommandSpec::new("help", 2, LOADING | STALE, config_help).group(G),
];

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("config", -2, 0, config_help)
    .group(G)
    .doc("A container for server configuration commands", "2.0.0")
    .subs(CONFIG_SUBCOMMANDS)];
