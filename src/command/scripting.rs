//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP.
//! The engine is in `crate::scripting`.

use bytes::Bytes;
use std::sync::atomic::Ordering;

use super::connection::help_reply;
use super::flags::*;
use super::{CommandSpec, Ctx, is};
use crate::protocol::Reply;

const G: &str = "scripting";

/// Split `numkeys key... arg...` as Redis's `evalGenericCommand` validates it.
fn split_keys(args: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), Reply> {
    let n = super::parse_i64(&args[2])?;
    if n < 0 {
        return Err(Reply::error("ERR Number of keys can't be negative"));
    }
    let n = n as usize;
    if n > args.len() - 3 {
        return Err(Reply::error(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok((&args[3..3 + n], &args[3 + n..]))
}

fn eval_generic(ctx: &mut Ctx, args: &[Bytes], by_sha: bool, read_only: bool) -> Reply {
    let (keys, argv) = match split_keys(args) {
        Ok(p) => p,
        Err(e) => return e,
    };
    // Lock order: the store, then the script engine.
    ctx.store();
    let shared = ctx.shared.clone();
    let mut engine = shared.scripting.lock();
    let sha = if by_sha {
        String::from_utf8_lossy(&args[1]).to_ascii_lowercase()
    } else {
        match engine.load(&args[1]) {
            Ok(sha) => sha,
            Err(e) => return Reply::Error(e.into()),
        }
    };
    // A script may run for long: let the runtime move this worker's other tasks elsewhere so
    // the rest of the server keeps answering (BUSY, SCRIPT KILL) meanwhile.
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(|| {
            engine.run(ctx, &shared.script_status, &sha, keys, argv, read_only)
        })
    } else {
        engine.run(ctx, &shared.script_status, &sha, keys, argv, read_only)
    }
}

// EVAL script numkeys [key ...] [arg ...]
fn eval(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    eval_generic(ctx, args, false, false)
}
// EVALSHA sha1 numkeys [key ...] [arg ...]
fn evalsha(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    eval_generic(ctx, args, true, false)
}
// EVAL_RO script numkeys [key ...] [arg ...]
fn eval_ro(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    eval_generic(ctx, args, false, true)
}
// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
fn evalsha_ro(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    eval_generic(ctx, args, true, true)
}

// SCRIPT LOAD script
fn script_load(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    ctx.store();
    let shared = ctx.shared.clone();
    let r = shared.scripting.lock().load(&args[2]);
    match r {
        Ok(sha) => Reply::bulk_str(&sha),
        Err(e) => Reply::Error(e.into()),
    }
}

// SCRIPT EXISTS sha1 [sha1 ...]
fn script_exists(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    ctx.store();
    let shared = ctx.shared.clone();
    let engine = shared.scripting.lock();
    Reply::Array(
        args[2..]
            .iter()
            .map(|s| {
                Reply::Int(engine.exists(&String::from_utf8_lossy(s).to_ascii_lowercase()) as i64)
            })
            .collect(),
    )
}

// SCRIPT FLUSH [ASYNC|SYNC]
fn script_flush(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match args.get(2) {
        None => {}
        Some(a) if args.len() == 3 && (is(a, "async") || is(a, "sync")) => {}
        Some(_) => {
            return Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        }
    }
    ctx.store();
    let shared = ctx.shared.clone();
    shared.scripting.lock().flush();
    Reply::Ok
}

// SCRIPT KILL
fn script_kill(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let st = &ctx.shared.script_status;
    if st.running_since.load(Ordering::SeqCst) == 0 {
        return Reply::error("NOTBUSY No scripts in execution right now.");
    }
    if st.wrote.load(Ordering::SeqCst) {
        return Reply::error(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        );
    }
    st.kill.store(true, Ordering::SeqCst);
    Reply::Ok
}

fn script_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    help_reply(
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    )
}

const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("load", 3, NOSCRIPT | STALE, script_load).group(G),
    CommandSpec::new("exists", -3, NOSCRIPT | STALE, script_exists).group(G),
    CommandSpec::new("flush", -2, NOSCRIPT, script_flush).group(G),
    CommandSpec::new("kill", 2, NOSCRIPT | ALLOW_BUSY, script_kill).group(G),
    CommandSpec::new("help", 2, LOADING | STALE, script_help).group(G),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, NOSCRIPT | SKIP_MONITOR | STALE, eval)
        .group(G)
        .doc("Execute a Lua script server side", "2.6.0"),
    CommandSpec::new("evalsha", -3, NOSCRIPT | SKIP_MONITOR | STALE, evalsha)
        .group(G)
        .doc("Execute a Lua script server side", "2.6.0"),
    CommandSpec::new(
        "eval_ro",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | READONLY,
        eval_ro,
    )
    .group(G)
    .doc("Execute a read-only Lua script server side", "7.0.0"),
    CommandSpec::new(
        "evalsha_ro",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | READONLY,
        evalsha_ro,
    )
    .group(G)
    .doc("Execute a read-only Lua script server side", "7.0.0"),
    CommandSpec::new("script", -2, 0, script_help)
        .group(G)
        .doc("A container for Lua scripts management commands", "2.6.0")
        .subs(SCRIPT_SUBCOMMANDS),
];
