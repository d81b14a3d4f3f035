//! FAILOVER: a coordinated switch of roles between this master and one of its replicas, as
//! Redis 6.2+ does it:
//!
//! 1. `FAILOVER [TO host port [FORCE]] [TIMEOUT ms]` pauses writes (as `CLIENT PAUSE WRITE`,
//!    which `CLIENT UNPAUSE` does not end) and enters `waiting-for-sync`;
//! 2. the server cron ([`cron`]) waits until the target (or any replica, without `TO`) has
//!    acknowledged the whole stream; at `TIMEOUT` it gives up, or with `FORCE` goes on anyway;
//! 3. `failover-in-progress`: this server becomes a replica of the target and sends it
//!    `PSYNC <replid> <offset> FAILOVER`, on which the target (sharing the replid) promotes
//!    itself and answers `+CONTINUE`;
//! 4. once the PSYNC is answered the pause ends. A refused PSYNC, or `FAILOVER ABORT`, makes
//!    this server a master again.
//!
//! INFO replication shows the state as `master_failover_state`.

use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::command::{Ctx, is, parse_i64};
use crate::engine::StoreInner;
use crate::error;
use crate::protocol::Reply;
use crate::server::Shared;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum State {
    #[default]
    None,
    WaitForSync,
    InProgress,
}

#[derive(Default)]
struct Inner {
    state: State,
    target: Option<(String, u16)>,
    end: Option<Instant>,
    force: bool,
}

/// The failover this server runs, if any.
#[derive(Default)]
pub struct Failover {
    inner: Mutex<Inner>,
}

impl Failover {
    /// INFO's `master_failover_state`.
    pub fn state_name(&self) -> &'static str {
        match self.inner.lock().state {
            State::None => "no-failover",
            State::WaitForSync => "waiting-for-sync",
            State::InProgress => "failover-in-progress",
        }
    }

    /// A failover is under way (REPLICAOF and SYNC are refused, writes stay paused).
    pub fn active(&self) -> bool {
        self.inner.lock().state != State::None
    }

    /// This server is handing over: its PSYNC to the target carries `FAILOVER`.
    pub fn in_progress(&self) -> bool {
        self.inner.lock().state == State::InProgress
    }
}

/// Writes stay paused for as long as the failover runs.
fn pause(shared: &Shared) {
    shared.pause_for(crate::engine::PausePurpose::Failover, u64::MAX, false);
}

/// Back to no failover, clients unpaused.
fn clear(shared: &Shared) {
    *shared.replica.failover.inner.lock() = Inner::default();
    shared.unpause_for(crate::engine::PausePurpose::Failover);
}

/// End a failover that did not complete; a server already following the target becomes a
/// master again.
pub fn abort(shared: &Arc<Shared>, store: &mut StoreInner, why: &str) {
    let state = {
        let f = shared.replica.failover.inner.lock();
        if f.state == State::None {
            return;
        }
        match &f.target {
            Some((h, p)) => tracing::info!("FAILOVER to {h}:{p} aborted: {why}"),
            None => tracing::info!("FAILOVER to any replica aborted: {why}"),
        }
        f.state
    };
    if state == State::InProgress {
        crate::replica::unset_master(shared, store);
    }
    clear(shared);
}

/// The target answered the PSYNC that carried `FAILOVER` (from the replica link).
pub fn psync_answered(shared: &Arc<Shared>, accepted: bool) {
    if !shared.replica.failover.in_progress() {
        return;
    }
    if accepted {
        tracing::info!("FAILOVER completed: this server is now a replica of the target");
        clear(shared);
    } else {
        let mut store = shared.store.lock();
        abort(shared, &mut store, "Failover target rejected psync request");
    }
}

/// A replica matching `host` and `port` as Redis's `findReplica` does (announced or peer
/// address, listening port): whether it is attached and whether it is online.
fn find(store: &StoreInner, host: &str, port: u16) -> Option<(bool, u64)> {
    store
        .repl
        .links
        .iter()
        .find(|l| l.port == port && l.host().eq_ignore_ascii_case(host))
        .map(|l| (l.held.is_none(), l.ack))
}

// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]
pub fn command(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let shared = ctx.shared.clone();
    if args.len() == 2 && is(&args[1], "abort") {
        if !shared.replica.failover.active() {
            return Reply::error("ERR No failover in progress.");
        }
        abort(&shared, ctx.store(), "Failover manually aborted");
        return Reply::Ok;
    }
    let (mut timeout, mut force, mut target) = (0i64, false, None::<(String, i64)>);
    let mut j = 1;
    while j < args.len() {
        if is(&args[j], "timeout") && j + 1 < args.len() && timeout == 0 {
            timeout = match parse_i64(&args[j + 1]) {
                Ok(t) => t,
                Err(e) => return e,
            };
            if timeout <= 0 {
                return Reply::error("ERR FAILOVER timeout must be greater than 0");
            }
            j += 1;
        } else if is(&args[j], "to") && j + 2 < args.len() && target.is_none() {
            let port = match parse_i64(&args[j + 2]) {
                Ok(p) => p,
                Err(e) => return e,
            };
            target = Some((String::from_utf8_lossy(&args[j + 1]).into_owned(), port));
            j += 2;
        } else if is(&args[j], "force") && !force {
            force = true;
        } else {
            return Reply::error(error::SYNTAX);
        }
        j += 1;
    }
    if shared.replica.failover.active() {
        return Reply::error("ERR FAILOVER already in progress.");
    }
    if shared.replica.is_replica() {
        return Reply::error("ERR FAILOVER is not valid when server is a replica.");
    }
    let store = ctx.store();
    store.repl.prune();
    if store.repl.links.is_empty() {
        return Reply::error("ERR FAILOVER requires connected replicas.");
    }
    if force && (timeout == 0 || target.is_none()) {
        return Reply::error(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        );
    }
    let target = match target {
        Some((host, port)) => {
            let port = u16::try_from(port).unwrap_or(0);
            match find(store, &host, port) {
                None => return Reply::error("ERR FAILOVER target HOST and PORT is not a replica."),
                Some((false, _)) => {
                    return Reply::error("ERR FAILOVER target replica is not online.");
                }
                Some((true, _)) => {}
            }
            tracing::info!("FAILOVER requested to {host}:{port}.");
            Some((host, port))
        }
        None => {
            tracing::info!("FAILOVER requested to any replica.");
            None
        }
    };
    *shared.replica.failover.inner.lock() = Inner {
        state: State::WaitForSync,
        target,
        end: (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout as u64)),
        force,
    };
    pause(&shared);
    Reply::Ok
}

/// Redis's `updateFailoverStatus`, from the server cron under the store lock: give up or force
/// at the deadline, otherwise hand over once a replica has everything.
pub fn cron(shared: &Arc<Shared>, store: &mut StoreInner) {
    let (target, force, end) = {
        let f = shared.replica.failover.inner.lock();
        if f.state != State::WaitForSync {
            return;
        }
        (f.target.clone(), f.force, f.end)
    };
    if end.is_some_and(|e| e <= Instant::now()) {
        if force && let Some(t) = target {
            tracing::info!(
                "FAILOVER to {}:{} time out exceeded, failing over.",
                t.0,
                t.1
            );
            hand_over(shared, store, t);
        } else {
            abort(shared, store, "Replica never caught up before timeout");
        }
        return;
    }
    store.repl.prune();
    let offset = store.repl.offset;
    let synced = match &target {
        Some((h, p)) => find(store, h, *p)
            .filter(|&(online, ack)| online && ack == offset)
            .map(|_| (h.clone(), *p)),
        None => store
            .repl
            .links
            .iter()
            .find(|l| l.held.is_none() && l.ack == offset)
            .map(|l| (l.host(), l.port)),
    };
    if let Some(t) = synced {
        tracing::info!("Failover target {}:{} is synced, failing over.", t.0, t.1);
        hand_over(shared, store, t);
    }
}

fn hand_over(shared: &Arc<Shared>, store: &mut StoreInner, target: (String, u16)) {
    {
        let mut f = shared.replica.failover.inner.lock();
        f.state = State::InProgress;
        f.target = Some(target.clone());
    }
    crate::replica::set_master(shared, store, target.0, target.1);
}

/// The target side: `PSYNC <replid> <offset> FAILOVER` from our master. Err is the reply.
pub fn psync_request(
    shared: &Arc<Shared>,
    store: &mut StoreInner,
    replid: &[u8],
) -> Result<(), Reply> {
    tracing::warn!(
        "Failover request received for replid {}.",
        String::from_utf8_lossy(replid)
    );
    if !shared.replica.is_replica() {
        return Err(Reply::error(
            "ERR PSYNC FAILOVER can't be sent to a master.",
        ));
    }
    if !replid.eq_ignore_ascii_case(store.repl.replid.as_bytes()) {
        return Err(Reply::error(
            "ERR PSYNC FAILOVER replid must match my replid.",
        ));
    }
    crate::replica::unset_master(shared, store);
    tracing::info!("MASTER MODE enabled (failover request)");
    Ok(())
}
