//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queueing happens in dispatch (commands flagged MULTI_CONTROL are executed, everything else is
//! queued after the generic checks, and a failed check dooms the transaction). EXEC checks the
//! watches and runs the queue in one critical section (`command::exec_queue`), so it is atomic,
//! a write to a watched key either dooms it or comes after it, blocking commands act
//! non-blocking, and the effects reach the AOF wrapped in MULTI/EXEC.

use bytes::Bytes;
use std::sync::atomic::Ordering;

use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::connection::MultiState;
use crate::engine::StoreInner;
use crate::engine::watch::WATCHED_PENDING;
use crate::error;
use crate::protocol::Reply;

const G: &str = "transactions";

// MULTI
fn multi(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    if ctx.client.multi.is_some() {
        return Reply::error(error::NESTED_MULTI);
    }
    ctx.client.multi = Some(MultiState::default());
    ctx.client.handle.info.lock().multi = Some(0);
    Reply::Ok
}

fn end_multi(ctx: &mut Ctx) {
    ctx.client.multi = None;
    ctx.client.handle.info.lock().multi = None;
    let watched = std::mem::take(&mut ctx.client.watched);
    let id = ctx.client.id;
    ctx.store_op(move |s| {
        if !watched.is_empty() || s.watches.is_doomed(id) {
            s.watches.unwatch(id, &watched);
        }
    });
}

// DISCARD
fn discard(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    if ctx.client.multi.is_none() {
        return Reply::error(error::DISCARD_WITHOUT_MULTI);
    }
    end_multi(ctx);
    Reply::Ok
}

// EXEC
fn exec(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let Some(m) = ctx.client.multi.take() else {
        return Reply::error(error::EXEC_WITHOUT_MULTI);
    };
    if m.aborted {
        end_multi(ctx);
        return Reply::error(error::EXECABORT);
    }
    let doomed = {
        let id = ctx.client.id;
        let watched = ctx.client.watched.clone();
        let store = ctx.store();
        let mut doomed = store.watches.is_doomed(id);
        // A watched key that expired since WATCH counts as modified.
        for (db, k, had) in &watched {
            if store.watches.existed(id, *db, k, *had) && store.dbs[*db].get(k).is_none() {
                doomed = true;
            }
        }
        doomed
    };
    end_multi(ctx);
    if doomed {
        return Reply::NullArray;
    }
    #[cfg(test)]
    tests::at_exec_checked();
    // The queue runs in the critical section that checked the watches: a write to a watched
    // key cannot slip in between the check and the transaction (a lost check-and-set).
    super::exec_queue(ctx, m.queue)
}

// WATCH key [key ...]
fn watch(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if ctx.client.multi.is_some() {
        return Reply::error(error::WATCH_IN_MULTI);
    }
    let id = ctx.client.id;
    let db = ctx.client.db;
    for k in &args[1..] {
        if ctx
            .client
            .watched
            .iter()
            .any(|(d, w, _)| *d == db && w == k)
        {
            continue;
        }
        // Looked at without expiring anything (Redis's WATCH does not delete an expired key; it
        // remembers that it was expired).
        let look = move |store: &mut StoreInner, k: &Bytes| {
            let d = &store.dbs[db];
            let exists = d.exists_unexpired(k, d.now());
            let expired = !exists && d.map.contains_key(&k[..]);
            store.watches.watch(id, db, k, expired);
            exists
        };
        let key = crate::store::own(k);
        if ctx.holds_store() || !ctx.shared.script_status.busy.load(Ordering::SeqCst) {
            let exists = look(ctx.store(), &key) as u64;
            ctx.client.watched.push((db, key, exists));
        } else {
            // A script is BUSY and holds the store: the watch takes effect at its next
            // instruction-hook call, which records whether the key existed then.
            let k2 = key.clone();
            ctx.store_op(move |s| {
                let exists = look(s, &k2);
                s.watches.set_pending_exists(id, db, k2, exists);
            });
            ctx.client.watched.push((db, key, WATCHED_PENDING));
        }
    }
    Reply::Ok
}

// UNWATCH
fn unwatch(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let watched = std::mem::take(&mut ctx.client.watched);
    let id = ctx.client.id;
    ctx.store_op(move |s| s.watches.unwatch(id, &watched));
    Reply::Ok
}

pub const COMMANDS: &[CommandSpec] = &[
    // ALLOW_BUSY as in Redis: a MULTI sent while a script is BUSY opens the transaction, and
    // the command that then gets -BUSY dooms it (EXEC answers EXECABORT, not "without MULTI").
    // It touches no data, so it does not wait for the script's lock.
    CommandSpec::new(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | MULTI_CONTROL,
        multi,
    )
    .group(G)
    .doc("Mark the start of a transaction block", "1.2.0"),
    CommandSpec::new(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | MULTI_CONTROL,
        exec,
    )
    .group(G)
    .doc("Execute all commands issued after MULTI", "1.2.0"),
    CommandSpec::new(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | MULTI_CONTROL,
        discard,
    )
    .group(G)
    .doc("Discard all commands issued after MULTI", "2.0.0"),
    CommandSpec::new(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | MULTI_CONTROL,
        watch,
    )
    .keys(1, -1, 1)
    .group(G)
    .doc(
        "Watch the given keys to determine execution of the MULTI/EXEC block",
        "2.2.0",
    ),
    CommandSpec::new(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        unwatch,
    )
    .group(G)
    .doc("Forget about all watched keys", "2.2.0"),
];

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::RefCell;

    thread_local! {
        /// Run by EXEC (on the thread running it) once the WATCH check has passed.
        static EXEC_CHECKED: RefCell<Option<Box<dyn FnMut()>>> = const { RefCell::new(None) };
    }

    pub(crate) fn at_exec_checked() {
        EXEC_CHECKED.with(|h| {
            if let Some(f) = h.borrow_mut().as_mut() {
                f();
            }
        });
    }

    /// Make `f` run inside EXEC between the WATCH check and the queued commands (this thread).
    pub(crate) fn on_exec_checked(f: impl FnMut() + 'static) {
        EXEC_CHECKED.with(|h| *h.borrow_mut() = Some(Box::new(f)));
    }
}
