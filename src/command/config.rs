//! CONFIG GET | SET | RESETSTAT | REWRITE | HELP.

use bytes::Bytes;

use super::connection::help_reply;
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
    if !args.len().is_multiple_of(2) {
        return Reply::Error(crate::error::wrong_args("config|set").into());
    }
    let pairs: Vec<(&[u8], &[u8])> = args[2..]
        .chunks(2)
        .map(|c| (&c[0][..], &c[1][..]))
        .collect();
    let res = ctx.shared.config.write().set_many(&pairs);
    match res {
        Ok(_) => {
            ctx.shared.apply_config();
            Reply::Ok
        }
        Err(e) => Reply::Error(e.into()),
    }
}

// CONFIG RESETSTAT
fn config_resetstat(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.shared.reset_stats();
    Reply::Ok
}

// CONFIG REWRITE
fn config_rewrite(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    match ctx.shared.config.read().rewrite() {
        Ok(()) => Reply::Ok,
        Err(e) => Reply::Error(e.into()),
    }
}

fn config_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    help_reply(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    )
}

const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -3, ADMIN | NOSCRIPT | LOADING | STALE, config_get).group(G),
    CommandSpec::new("set", -4, ADMIN | NOSCRIPT | LOADING | STALE, config_set).group(G),
    CommandSpec::new(
        "resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        config_resetstat,
    )
    .group(G),
    CommandSpec::new(
        "rewrite",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        config_rewrite,
    )
    .group(G),
    CommandSpec::new("help", 2, LOADING | STALE, config_help).group(G),
];

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("config", -2, 0, config_help)
    .group(G)
    .doc("A container for server configuration commands", "2.0.0")
    .subs(CONFIG_SUBCOMMANDS)];
