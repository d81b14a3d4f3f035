//! Delayed delivery (FMQ.SCHEDULE and friends): a message pushed to a list or appended to a
//! stream at a given time. The scheduled command is kept in the engine's schedule
//! (`engine::schedule`), replayed from the AOF as `FMQ.SCHEDULE AT <due> HANDLE <h> ...`, and
//! run by the server's timer task through FMQ.RUNDUE, whose effects are the command's own plus
//! the handle's removal, in one unit: after a crash a message is either still scheduled or
//! delivered, never both and never lost.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, Write, call_nested, is, resolve};
use crate::engine::schedule::{self, Scheduled};
use crate::error;
use crate::protocol::Reply;

/// Commands a schedule may run.
const ALLOWED: [&str; 3] = ["xadd", "lpush", "rpush"];

/// Most scheduled commands one FMQ.RUNDUE runs (the timer task calls it again at once when
/// more are due), so a burst never holds the store for long.
const RUN_BATCH: usize = 1000;

/// A non-negative integer argument, or `ERR <name> must be a non-negative integer`.
pub(crate) fn non_negative(arg: &[u8], name: &str) -> Result<i64, Reply> {
    crate::protocol::request::parse_i64(arg)
        .filter(|&v| v >= 0)
        .ok_or_else(|| Reply::Error(format!("ERR {name} must be a non-negative integer").into()))
}

// FMQ.SCHEDULE <DELAY ms | AT unix-ms> [HANDLE handle] <XADD | LPUSH | RPUSH> key arg ...
fn fmq_schedule(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let when = if is(&args[1], "delay") {
        match non_negative(&args[2], "DELAY") {
            Ok(ms) => crate::store::unix_ms().saturating_add(ms),
            Err(e) => return e,
        }
    } else if is(&args[1], "at") {
        match non_negative(&args[2], "AT") {
            Ok(at) => at,
            Err(e) => return e,
        }
    } else {
        return Reply::error(error::SYNTAX);
    };
    let mut at = 3;
    let mut seq = None;
    if args.len() > at + 1 && is(&args[at], "handle") {
        match schedule::parse_handle(&args[at + 1]) {
            Some((due, s)) if due == when => seq = Some(s),
            _ => return Reply::error("ERR invalid HANDLE"),
        }
        at += 2;
    }
    let cmd = &args[at.min(args.len())..];
    if cmd.len() < 3 {
        return Reply::error(error::wrong_args("fmq.schedule"));
    }
    let name = cmd[0].to_ascii_lowercase();
    if !ALLOWED.iter().any(|a| a.as_bytes() == name) {
        return Reply::error("ERR FMQ.SCHEDULE runs XADD, LPUSH or RPUSH only");
    }
    if name == b"xadd"
        && let Err(e) = super::stream::check_deferred_xadd(cmd)
    {
        return e;
    }
    // The command runs later in this user's name: it must be one the user may run now.
    if ctx.shared.acl.restricted()
        && let Ok(entry) = crate::command::resolve(cmd)
        && let Some(e) = crate::acl::check_quiet(ctx.shared, ctx.client, entry, cmd)
    {
        return Reply::error(e);
    }
    let argv: Vec<Bytes> = cmd.iter().map(crate::store::own).collect();
    let db = ctx.client.db;
    let store = ctx.store();
    let earliest = store.schedule.next_due().is_none_or(|d| when < d);
    let Some(h) = store.schedule.add(when, seq, Scheduled { db, argv }) else {
        return Reply::error("ERR HANDLE already scheduled");
    };
    if earliest {
        store.timers.wake();
    }
    let effect = {
        let s = Scheduled {
            db,
            argv: cmd.to_vec(),
        };
        schedule::schedule_command(h, &s)
    };
    ctx.wrote(Write::unkeyed().effect(effect));
    Reply::Bulk(schedule::handle_bytes(h))
}

// FMQ.CANCEL handle [handle ...]: how many were still scheduled (and now are not).
fn fmq_cancel(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut n = 0;
    for a in &args[1..] {
        let Some(h) = schedule::parse_handle(a) else {
            continue;
        };
        if ctx.store().schedule.cancel(h) {
            n += 1;
            ctx.wrote(Write::unkeyed().effect(vec![Bytes::from_static(b"FMQ.CANCEL"), a.clone()]));
        }
    }
    Reply::Int(n)
}

// FMQ.SCHEDULED [COUNT n]: the next scheduled commands, as [handle, due, db, command...].
fn fmq_scheduled(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut count = 10usize;
    match args.len() {
        1 => {}
        3 if is(&args[1], "count") => match crate::protocol::request::parse_i64(&args[2]) {
            Some(n) if n > 0 => count = n as usize,
            _ => return Reply::error("ERR COUNT must be > 0"),
        },
        _ => return Reply::error(error::SYNTAX),
    }
    let store = ctx.store();
    let total = store.schedule.len();
    let rows: Vec<Reply> = store
        .schedule
        .iter()
        .take(count)
        .map(|(h, s)| {
            Reply::Array(vec![
                Reply::Bulk(schedule::handle_bytes(*h)),
                Reply::Int(h.0),
                Reply::Int(s.db as i64),
                Reply::Array(s.argv.iter().cloned().map(Reply::Bulk).collect()),
            ])
        })
        .collect();
    Reply::Array(vec![Reply::Int(total as i64), Reply::Array(rows)])
}

// FMQ.RUNDUE: run the scheduled commands that are due and apply the retention of streams
// whose age limit is due (the timer task calls it; a client may too). Replies with how many
// commands ran plus how many streams were trimmed.
fn fmq_rundue(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let now = crate::store::unix_ms();
    let due = ctx.store().schedule.take_due(now, RUN_BATCH);
    let outer = ctx.begin_tx();
    let trimmed = super::stream::run_due_retention(ctx, now as u64);
    if due.is_empty() {
        ctx.end_tx(outer);
        return Reply::Int(trimmed as i64);
    }
    let home = ctx.client.db;
    let mut ran = 0;
    for (h, s) in due {
        ctx.client.db = s.db;
        ctx.store().begin_command(s.db, now);
        if let Ok(entry) = resolve(&s.argv) {
            let reply = call_nested(ctx, entry, &s.argv);
            if let Reply::Error(e) = &reply {
                tracing::warn!(handle = %String::from_utf8_lossy(&schedule::handle_bytes(h)), error = %e, "scheduled command failed");
            }
        }
        ctx.wrote(Write::unkeyed().effect(vec![
            Bytes::from_static(b"FMQ.CANCEL"),
            schedule::handle_bytes(h),
        ]));
        ran += 1;
    }
    ctx.client.db = home;
    ctx.end_tx(outer);
    Reply::Int(ran + trimmed as i64)
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("fmq.schedule", -6, WRITE | DENYOOM, fmq_schedule)
        .keys(0, 0, 0)
        .group("generic")
        .doc(
            "Run XADD, LPUSH or RPUSH at a given time (delayed delivery); returns a handle.",
            "ferrymq",
        ),
    CommandSpec::new("fmq.cancel", -2, WRITE | FAST, fmq_cancel)
        .keys(0, 0, 0)
        .group("generic")
        .doc("Cancel scheduled commands by handle.", "ferrymq"),
    CommandSpec::new("fmq.scheduled", -1, READONLY, fmq_scheduled)
        .keys(0, 0, 0)
        .group("generic")
        .doc("List the next scheduled commands.", "ferrymq"),
    CommandSpec::new("fmq.rundue", 1, WRITE, fmq_rundue)
        .keys(0, 0, 0)
        .group("generic")
        .doc("Run the scheduled commands that are due.", "ferrymq"),
];
