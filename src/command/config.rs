//! CONFIG GET | SET | RESETSTAT | REWRITE | HELP: thin handlers over [`crate::config::Config`],
//! which owns parsing, validation and every error text.
//!
//! CONFIG SET runs as Redis's configSetCommand: set every value (all or nothing), then the
//! server re-reads the values it caches for hot paths (`Shared::apply_config`), then the apply
//! functions that can fail run in the order of their parameters (the listeners, see
//! [`crate::listener`]; `appendonly`). When one fails, every parameter of the call gets its old
//! value back, the apply functions run again with those, and the reply names the parameter.
//!
//! Locking: the config sits in a `RwLock` separate from the store; GET takes it shared, SET
//! and REWRITE hold it only for the parse (or the file write), never across an `.await` nor
//! while waiting for the listener supervisor (which reads it).

use std::sync::Arc;

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::config::Config;
use crate::engine::StoreInner;
use crate::listener::{self, Mode, Step};
use crate::protocol::Reply;
use crate::server::Shared;

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
    let (res, old) = {
        let mut config = ctx.shared.config.write();
        let old = config.clone();
        (config.set_many(&pairs), old)
    };
    let changed = match res {
        Ok(changed) => changed,
        Err(e) => return Reply::Error(e.into()),
    };
    let applies = apply_functions(&pairs, &changed);
    if changed.is_empty() && applies.is_empty() {
        return Reply::Ok;
    }
    tracing::debug!(directives = %changed.join(", "), "CONFIG SET");
    let shared = ctx.shared.clone();
    if changed.iter().any(|n| n == "dir") {
        chdir(&shared);
    }
    shared.apply_config();
    super::persistence::aof_settings_changed(&shared, &changed);
    for apply in &applies {
        if let Err(reason) = apply.run(&shared, ctx.in_outer_unit().then(|| ctx.store())) {
            let name = apply.param();
            tracing::warn!(
                "Failed applying new configuration. Possibly related to new {name} setting. Restoring previous settings."
            );
            let names: Vec<&[u8]> = pairs.iter().map(|(n, _)| *n).collect();
            shared.config.write().restore_from(&old, &names);
            if changed.iter().any(|n| n == "dir") {
                chdir(&shared);
            }
            shared.apply_config();
            super::persistence::aof_settings_changed(&shared, &changed);
            // Every apply function again, with the old values (what succeeded is undone, what
            // failed is retried); failures here are only logged.
            for apply in &applies {
                apply.restore(&shared, ctx.in_outer_unit().then(|| ctx.store()));
            }
            return Reply::Error(
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
                    .into(),
            );
        }
    }
    // The copy kept for undoing is a few KiB: gone before the eviction below measures used
    // memory, which would otherwise count it against the new limit.
    drop(old);
    if changed.iter().any(|n| n == "maxmemory") {
        maxmemory_changed(ctx);
    }
    Reply::Ok
}

/// As Redis: the configured dir becomes the working directory (the config checked that it
/// exists).
fn chdir(shared: &Shared) {
    let dir = shared.config.read().get("dir").unwrap_or_default();
    if let Err(e) = std::env::set_current_dir(&dir) {
        tracing::warn!(dir = %dir, error = %e, "chdir failed");
    }
}

/// What a CONFIG SET must do beyond storing values, where doing it can fail (Redis's apply
/// functions that return an error): on a failure every value of the call is put back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Apply {
    Listeners(Step),
    Appendonly,
    /// The `tls-*` settings Redis applies with `applyTlsCfg` (one run for all of them), named
    /// by the call's first such parameter, as Redis reports it.
    Tls(&'static str),
}

/// The parameters whose change Redis checks by building the TLS configuration again.
const TLS_SETTINGS: &[&str] = &[
    "tls-session-cache-size",
    "tls-session-cache-timeout",
    "tls-cluster",
    "tls-replication",
    "tls-prefer-server-ciphers",
    "tls-session-caching",
    "tls-cert-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-client-key-file-pass",
    "tls-dh-params-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-protocols",
    "tls-ciphers",
    "tls-ciphersuites",
];

/// The apply functions a CONFIG SET runs, once each, in the order their parameters first
/// appear. Redis runs one for every parameter whose value changed, and for `bind` always (its
/// setter reports a change even for the same addresses, which are closed and bound again).
fn apply_functions(pairs: &[(&[u8], &[u8])], changed: &[String]) -> Vec<Apply> {
    let mut out = Vec::new();
    for (name, _) in pairs {
        let Some(name) = Config::canonical_name(name) else {
            continue;
        };
        let apply = match Step::for_param(name) {
            Some(Step::Bind) => Apply::Listeners(Step::Bind),
            Some(step) if changed.iter().any(|n| n == name) => Apply::Listeners(step),
            None if name == "appendonly" && changed.iter().any(|n| n == name) => Apply::Appendonly,
            None if changed.iter().any(|n| n == name) => {
                match TLS_SETTINGS.iter().find(|&&t| t == name) {
                    Some(t) if !out.iter().any(|a| matches!(a, Apply::Tls(_))) => Apply::Tls(t),
                    _ => continue,
                }
            }
            _ => continue,
        };
        if !out.contains(&apply) {
            out.push(apply);
        }
    }
    out
}

impl Apply {
    fn param(self) -> &'static str {
        match self {
            Apply::Listeners(step) => step.param(),
            Apply::Appendonly => "appendonly",
            Apply::Tls(name) => name,
        }
    }

    /// Make the server match the value now in the config; Err is the reason CONFIG SET gives.
    /// `held`: the store, when the CONFIG SET runs inside another unit (EXEC) that holds it.
    fn run(self, shared: &Arc<Shared>, held: Option<&mut StoreInner>) -> Result<(), String> {
        match self {
            Apply::Listeners(step) => listener::apply(shared, &[step], Mode::Apply)
                .map_err(|(_, reason)| reason.to_string()),
            Apply::Appendonly => {
                let on = shared.config.read().get_bool("appendonly");
                crate::aof::set_appendonly(shared, on, held)
            }
            Apply::Tls(_) => apply_tls(shared),
        }
    }

    /// [`Apply::run`] with the restored value, logging a failure.
    fn restore(self, shared: &Arc<Shared>, held: Option<&mut StoreInner>) {
        match self {
            // The supervisor logs each step that fails.
            Apply::Listeners(step) => {
                let _ = listener::apply(shared, &[step], Mode::Restore);
            }
            Apply::Appendonly | Apply::Tls(_) => {
                if let Err(e) = self.run(shared, held) {
                    tracing::warn!("Failed applying restored failed CONFIG SET command: {e}");
                }
            }
        }
    }
}

/// Redis's `applyTlsCfg`: while TLS is in use (a TLS port, or TLS replication), the new
/// settings must make a working configuration, or the CONFIG SET fails and is undone. The
/// accept loops pick the new configuration up at their next connection.
fn apply_tls(shared: &Shared) -> Result<(), String> {
    let (port, replication, cluster) = {
        let c = shared.config.read();
        (
            c.get_i64("tls-port"),
            c.get_bool("tls-replication"),
            c.get_bool("tls-cluster"),
        )
    };
    if port == 0 && !replication && !cluster {
        return Ok(());
    }
    let built = crate::tls::build(&crate::tls::TlsSettings::from_shared(shared)).and_then(|_| {
        if replication {
            crate::tls::client_config(shared).map(|_| ())
        } else {
            Ok(())
        }
    });
    built.map_err(|e| {
        tracing::warn!("{e}");
        crate::error::CONFIG_TLS.to_string()
    })
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
