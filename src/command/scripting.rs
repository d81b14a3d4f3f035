//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP,
//! FCALL, FCALL_RO, FUNCTION LOAD|DELETE|LIST|FLUSH|DUMP|RESTORE|STATS|KILL|HELP.
//! The engines are in `crate::scripting`. Lock order: the store, then the script engine;
//! FUNCTION STATS and KILL take neither (they answer while a script runs).

use bytes::Bytes;
use std::sync::atomic::Ordering;

use super::connection::help_reply;
use super::flags::*;
use super::{CommandSpec, Ctx, Write, is};
use crate::protocol::Reply;
use crate::scripting::functions::Policy;

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
    let loaded;
    let mut lower = [0u8; 40];
    let sha: &str = if by_sha {
        // Cached scripts are keyed by 40 lowercase hex digits; anything else is not cached
        // (and gets NOSCRIPT from the lookup).
        let given = &args[1];
        if given.len() == lower.len() {
            lower.copy_from_slice(given);
            lower.make_ascii_lowercase();
        }
        std::str::from_utf8(&lower).unwrap_or_default()
    } else {
        loaded = match engine.load(&args[1]) {
            Ok(sha) => sha,
            Err(e) => return Reply::Error(e.into()),
        };
        &loaded
    };
    // A long script hands this runtime worker over from its instruction hook
    // (`scripting::hand_off_worker`), not here: most scripts are short.
    engine.eval(ctx, &shared.script_status, sha, keys, argv, read_only)
}

fn fcall_generic(ctx: &mut Ctx, args: &[Bytes], read_only: bool) -> Reply {
    ctx.store();
    let shared = ctx.shared.clone();
    let mut engine = shared.scripting.lock();
    engine
        .functions
        .call(ctx, &shared.script_status, args, read_only)
}

// FCALL function numkeys [key ...] [arg ...]
fn fcall(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    fcall_generic(ctx, args, false)
}

// FCALL_RO function numkeys [key ...] [arg ...]
fn fcall_ro(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    fcall_generic(ctx, args, true)
}

/// Redis names the subcommand as the client spelled it.
fn function_syntax(sub: &[u8]) -> Reply {
    Reply::Error(
        format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(sub)
        )
        .into(),
    )
}

// FUNCTION LOAD [REPLACE] function-code
fn function_load(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut replace = false;
    let mut i = 2;
    while i < args.len() - 1 {
        if is(&args[i], "replace") {
            replace = true;
        } else {
            return Reply::Error(
                format!(
                    "ERR Unknown option given: {}",
                    String::from_utf8_lossy(&args[i])
                )
                .into(),
            );
        }
        i += 1;
    }
    ctx.store();
    let shared = ctx.shared.clone();
    let r = shared.scripting.lock().functions.load(
        &args[args.len() - 1],
        replace,
        &shared.script_status,
    );
    match r {
        Ok(name) => {
            ctx.wrote(Write::unkeyed());
            Reply::bulk_str(&name)
        }
        Err(e) => Reply::Error(e.into()),
    }
}

// FUNCTION DELETE library-name
fn function_delete(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    ctx.store();
    let shared = ctx.shared.clone();
    let found = shared
        .scripting
        .lock()
        .functions
        .delete(&args[2], &shared.script_status);
    if !found {
        return Reply::error("ERR Library not found");
    }
    ctx.wrote(Write::unkeyed());
    Reply::Ok
}

// FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]
fn function_list(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut pattern: Option<&[u8]> = None;
    let mut with_code = false;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "withcode") && !with_code {
            with_code = true;
        } else if is(a, "libraryname") && pattern.is_none() {
            let Some(p) = args.get(i + 1) else {
                return Reply::error("ERR library name argument was not given");
            };
            pattern = Some(p);
            i += 1;
        } else {
            return Reply::Error(
                format!("ERR Unknown argument {}", String::from_utf8_lossy(a)).into(),
            );
        }
        i += 1;
    }
    ctx.store();
    let shared = ctx.shared.clone();
    let engine = shared.scripting.lock();
    engine.functions.list(pattern, with_code)
}

// FUNCTION FLUSH [ASYNC|SYNC]
fn function_flush(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match args.len() {
        2 => {}
        3 if is(&args[2], "async") || is(&args[2], "sync") => {}
        3 => return Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
        _ => return function_syntax(&args[1]),
    }
    ctx.store();
    let shared = ctx.shared.clone();
    shared
        .scripting
        .lock()
        .functions
        .flush(&shared.script_status);
    ctx.wrote(Write::unkeyed());
    Reply::Ok
}

// FUNCTION DUMP
fn function_dump(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.store();
    let shared = ctx.shared.clone();
    let payload = shared.scripting.lock().functions.dump();
    Reply::Bulk(payload)
}

// FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]
fn function_restore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let policy = match args.get(3) {
        _ if args.len() > 4 => return function_syntax(&args[1]),
        None => Policy::Append,
        Some(p) if is(p, "flush") => Policy::Flush,
        Some(p) if is(p, "append") => Policy::Append,
        Some(p) if is(p, "replace") => Policy::Replace,
        Some(_) => {
            return Reply::error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            );
        }
    };
    ctx.store();
    let shared = ctx.shared.clone();
    let r = shared
        .scripting
        .lock()
        .functions
        .restore(&args[2], policy, &shared.script_status);
    match r {
        Ok(()) => {
            ctx.wrote(Write::unkeyed());
            Reply::Ok
        }
        Err(e) => Reply::Error(e.into()),
    }
}

// FUNCTION STATS
fn function_stats(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let st = &ctx.shared.script_status;
    let since = st.running_since.load(Ordering::SeqCst);
    if since != 0 && !st.function.load(Ordering::SeqCst) {
        // Redis reports on functions only; while an EVAL runs it answers BUSY.
        return Reply::error(crate::scripting::BUSY_ERROR);
    }
    let running = match (since, st.running.lock().clone()) {
        (s, Some((name, argv))) if s != 0 => Reply::Map(vec![
            (Reply::bulk_str("name"), Reply::bulk_str(&name)),
            (Reply::bulk_str("command"), Reply::bulks(argv)),
            (
                Reply::bulk_str("duration_ms"),
                Reply::Int((crate::store::unix_ms() - s).max(0)),
            ),
        ]),
        _ => Reply::Null,
    };
    Reply::Map(vec![
        (Reply::bulk_str("running_script"), running),
        (
            Reply::bulk_str("engines"),
            Reply::Map(vec![(
                Reply::bulk_str("LUA"),
                Reply::Map(vec![
                    (
                        Reply::bulk_str("libraries_count"),
                        Reply::Int(st.libraries.load(Ordering::Relaxed) as i64),
                    ),
                    (
                        Reply::bulk_str("functions_count"),
                        Reply::Int(st.functions.load(Ordering::Relaxed) as i64),
                    ),
                ]),
            )]),
        ),
    ])
}

// FUNCTION KILL
fn function_kill(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    kill_generic(ctx, false)
}

/// SCRIPT KILL / FUNCTION KILL: each stops only its own kind of script.
fn kill_generic(ctx: &mut Ctx, eval: bool) -> Reply {
    let st = &ctx.shared.script_status;
    if st.running_since.load(Ordering::SeqCst) == 0 {
        return Reply::error("NOTBUSY No scripts in execution right now.");
    }
    if st.wrote.load(Ordering::SeqCst) {
        return Reply::error(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        );
    }
    let function = st.function.load(Ordering::SeqCst);
    if eval && function {
        return Reply::error(crate::scripting::BUSY_FUNCTION_ERROR);
    }
    if !eval && !function {
        return Reply::error(crate::scripting::BUSY_ERROR);
    }
    st.kill.store(true, Ordering::SeqCst);
    Reply::Ok
}

fn function_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    help_reply(
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    )
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
    let r = {
        let mut engine = shared.scripting.lock();
        let r = engine.load(&args[2]);
        engine.publish(&shared.script_status);
        r
    };
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
    let mut engine = shared.scripting.lock();
    engine.flush();
    engine.publish(&shared.script_status);
    Reply::Ok
}

// SCRIPT KILL
fn script_kill(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    kill_generic(ctx, true)
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
    CommandSpec::new("exists", -3, NOSCRIPT, script_exists).group(G),
    CommandSpec::new("flush", -2, NOSCRIPT, script_flush).group(G),
    CommandSpec::new("kill", 2, NOSCRIPT | ALLOW_BUSY, script_kill).group(G),
    CommandSpec::new("help", 2, LOADING | STALE, script_help).group(G),
];

const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("load", -3, WRITE | DENYOOM | NOSCRIPT, function_load)
        .group(G)
        .doc(
            "Create a function with the given arguments (name, code, description)",
            "7.0.0",
        ),
    CommandSpec::new("delete", 3, WRITE | NOSCRIPT, function_delete)
        .group(G)
        .doc("Delete a function by name", "7.0.0"),
    CommandSpec::new("list", -2, NOSCRIPT, function_list)
        .group(G)
        .doc("List information about all the functions", "7.0.0"),
    CommandSpec::new("flush", -2, WRITE | NOSCRIPT, function_flush)
        .group(G)
        .doc("Deleting all functions", "7.0.0"),
    CommandSpec::new("dump", 2, NOSCRIPT, function_dump)
        .group(G)
        .doc(
            "Dump all functions into a serialized binary payload",
            "7.0.0",
        ),
    CommandSpec::new("restore", -3, WRITE | DENYOOM | NOSCRIPT, function_restore)
        .group(G)
        .doc("Restore all the functions on the given payload", "7.0.0"),
    CommandSpec::new("stats", 2, NOSCRIPT | ALLOW_BUSY, function_stats)
        .group(G)
        .doc(
            "Return information about the function currently running (name, description, duration)",
            "7.0.0",
        ),
    CommandSpec::new("kill", 2, NOSCRIPT | ALLOW_BUSY, function_kill)
        .group(G)
        .doc("Kill the function currently in execution.", "7.0.0"),
    CommandSpec::new("help", 2, LOADING | STALE, function_help)
        .group(G)
        .doc("Show helpful text about the different subcommands", "7.0.0"),
];

pub const COMMANDS: &[CommandSpec] = &[
    // Keys are found through numkeys (Redis reports 0 0 0 and the movablekeys flag).
    CommandSpec::new(
        "fcall",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | MAY_REPLICATE | NO_MANDATORY_KEYS | MOVABLEKEYS,
        fcall,
    )
    .group(G)
    .doc("Invoke a function", "7.0.0"),
    CommandSpec::new(
        "fcall_ro",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | READONLY | NO_MANDATORY_KEYS | MOVABLEKEYS,
        fcall_ro,
    )
    .group(G)
    .doc("Invoke a read-only function", "7.0.0"),
    CommandSpec::new("function", -2, 0, function_help)
        .group(G)
        .doc("A container for function commands", "7.0.0")
        .subs(FUNCTION_SUBCOMMANDS),
    CommandSpec::new(
        "eval",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | MAY_REPLICATE | NO_MANDATORY_KEYS | MOVABLEKEYS,
        eval,
    )
    .group(G)
    .doc("Execute a Lua script server side", "2.6.0"),
    CommandSpec::new(
        "evalsha",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | MAY_REPLICATE | NO_MANDATORY_KEYS | MOVABLEKEYS,
        evalsha,
    )
    .group(G)
    .doc("Execute a Lua script server side", "2.6.0"),
    CommandSpec::new(
        "eval_ro",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | READONLY | NO_MANDATORY_KEYS | MOVABLEKEYS,
        eval_ro,
    )
    .group(G)
    .doc("Execute a read-only Lua script server side", "7.0.0"),
    CommandSpec::new(
        "evalsha_ro",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | READONLY | NO_MANDATORY_KEYS | MOVABLEKEYS,
        evalsha_ro,
    )
    .group(G)
    .doc("Execute a read-only Lua script server side", "7.0.0"),
    CommandSpec::new("script", -2, 0, script_help)
        .group(G)
        .doc("A container for Lua scripts management commands", "2.6.0")
        .subs(SCRIPT_SUBCOMMANDS),
];
