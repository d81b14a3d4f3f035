//! Commands: the table, dispatch, and the context handlers run in.
//!
//! # Adding a command
//! Write a handler `fn(ctx: &mut Ctx, args: &[Bytes]) -> Reply` in the family's file (grammar
//! line above it) and add a [`CommandSpec`] to the family's `COMMANDS` list at the end of that
//! file. `args[0]` is the command name as sent (`args[1]` the subcommand for containers).
//! Dispatch has already checked, in Redis's order: unknown command/subcommand, arity,
//! authentication, the RESP2 pub/sub context, MULTI queueing. Handlers never repeat those checks.
//!
//! # What a handler may do through [`Ctx`]
//! - `ctx.db()`: the client's database (takes the store lock on first use; commands that never
//!   touch data never lock). `ctx.store()` for the whole [`StoreInner`] (several databases).
//! - Data changes: one call per key written, `ctx.wrote(Write::key(&key)...)` (see [`write`]):
//!   it counts the change (INFO's dirty counter), touches WATCHers, wakes blocked clients when
//!   asked (`.wakes()`), raises the keyspace events (`.event(class, name)`) and records the
//!   effect to replay: the request itself at the end of a `WRITE` command that changed
//!   something, or the `.effect(argv)` given instead (blocking pops, `*` IDs, relative
//!   expiries). A handler calls nothing else when it writes.
//! - `ctx.block(args, keys, timeout, timeout_reply)` when nothing can be served: registers the
//!   client as a waiter and returns [`Reply::Blocked`]. Inside MULTI it returns `timeout_reply`
//!   at once (blocking commands act non-blocking there). When a signalled key wakes the waiter,
//!   the same handler runs again (`ctx.is_rerun()`); returning `ctx.block(...)` again keeps it
//!   waiting, any other reply is sent to it and ends the wait.
//! - Replies: [`Reply`] values; error texts come from `crate::error`.

/// `tri!(expr)`: the value of an `Ok`, or return the `Err` reply from the handler (for
/// handlers that return `Reply` and call helpers returning `Result<_, Reply>`).
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

pub mod acl;
pub mod bitmap;
pub mod broker;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod docs;
pub mod dump;
pub mod geo;
pub mod hash;
pub mod histogram;
pub mod hll;
pub mod keys;
pub mod list;
pub mod lolwut;
pub mod migrate;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod transaction;
pub mod write;
pub mod zset;

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::connection::{ClientState, ReplyMode};
use crate::engine::blocking::Waiter;
use crate::engine::{Store, StoreInner};
use crate::error;
use crate::protocol::Reply;
use crate::server::Shared;
use crate::store::Db;
use crate::store::value::Value;

pub use write::Write;

pub type Handler = fn(&mut Ctx, &[Bytes]) -> Reply;

/// Name -> entry. Looked up on every request: ahash rather than SipHash (the lookup was ~15% of
/// the instructions of a pipelined PING under callgrind, most of it hashing).
pub type CommandMap = HashMap<Vec<u8>, CommandEntry, ahash::RandomState>;

pub mod flags {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const FAST: u32 = 1 << 10;
    pub const NO_AUTH: u32 = 1 << 11;
    pub const NO_MULTI: u32 = 1 << 12;
    pub const ALLOW_BUSY: u32 = 1 << 13;
    /// Allowed in the RESP2 subscribed context.
    pub const SUBSCRIBED_OK: u32 = 1 << 14;
    /// Not queued inside MULTI (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET).
    pub const MULTI_CONTROL: u32 = 1 << 15;
    pub const SKIP_SLOWLOG: u32 = 1 << 16;
    /// Not a write, but may feed the replication stream (PUBLISH, EVAL, FCALL): paused by
    /// CLIENT PAUSE WRITE, refused in read-only scripts. Not shown by COMMAND INFO (Redis
    /// hides it too).
    pub const MAY_REPLICATE: u32 = 1 << 17;
    /// Some keys are found by parsing the arguments (COMMAND INFO's `movablekeys`, listed last).
    pub const MOVABLEKEYS: u32 = 1 << 18;
    /// Runs without any key (EVAL, FCALL with numkeys 0).
    pub const NO_MANDATORY_KEYS: u32 = 1 << 19;
    /// Refused while a replica loads its data in the background (shown by COMMAND INFO; a
    /// replica that loads asynchronously does not exist yet).
    pub const NO_ASYNC_LOADING: u32 = 1 << 20;
    /// Accepted on a cluster node for a slot being imported (RESTORE-ASKING); shown by
    /// COMMAND INFO.
    pub const ASKING: u32 = 1 << 21;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// One command (or subcommand) as the table describes it.
pub struct CommandSpec {
    /// Lowercase name (the subcommand's own name for subcommands).
    pub name: &'static str,
    /// As Redis counts it: positive = exact argc, negative = at least -arity.
    pub arity: i32,
    pub flags: u32,
    /// Key positions: first, last (negative counts from the end), step. 0,0,0 = no keys.
    pub keys: (i32, i32, i32),
    /// COMMAND DOCS group ("generic", "string", "list", "stream", "pubsub", ...).
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub handler: Handler,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub const fn new(name: &'static str, arity: i32, flags: u32, handler: Handler) -> Self {
        CommandSpec {
            name,
            arity,
            flags,
            keys: (0, 0, 0),
            group: "generic",
            summary: "",
            since: "1.0.0",
            handler,
            subcommands: &[],
        }
    }
    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Self {
        self.keys = (first, last, step);
        self
    }
    pub const fn group(mut self, g: &'static str) -> Self {
        self.group = g;
        self
    }
    pub const fn doc(mut self, summary: &'static str, since: &'static str) -> Self {
        self.summary = summary;
        self.since = since;
        self
    }
    pub const fn subs(mut self, s: &'static [CommandSpec]) -> Self {
        self.subcommands = s;
        self
    }
}

/// A table entry: the spec plus what the server tracks for it.
pub struct CommandEntry {
    pub spec: &'static CommandSpec,
    /// `name` or `container|sub`, as errors, COMMAND and INFO commandstats print it.
    pub full_name: String,
    pub subs: CommandMap,
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    /// INFO LATENCYSTATS: the durations of its calls.
    pub latency: histogram::LatencyHistogram,
}

impl CommandEntry {
    fn new(spec: &'static CommandSpec, parent: Option<&str>) -> Self {
        let full_name = match parent {
            Some(p) => format!("{p}|{}", spec.name),
            None => spec.name.to_string(),
        };
        let subs = spec
            .subcommands
            .iter()
            .map(|s| {
                (
                    s.name.as_bytes().to_vec(),
                    CommandEntry::new(s, Some(spec.name)),
                )
            })
            .collect();
        CommandEntry {
            spec,
            full_name,
            subs,
            calls: AtomicU64::new(0),
            usec: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latency: Default::default(),
        }
    }

    pub fn has_flag(&self, f: u32) -> bool {
        self.spec.flags & f != 0
    }

    /// Key arguments of `argv` according to the key spec.
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        let (first, last, step) = self.spec.keys;
        if first <= 0 || step <= 0 {
            return vec![];
        }
        let last = if last < 0 { argc as i32 + last } else { last };
        (first..=last.min(argc as i32 - 1))
            .step_by(step as usize)
            .map(|i| i as usize)
            .collect()
    }
}

pub struct Table {
    pub by_name: CommandMap,
}

fn families() -> impl Iterator<Item = &'static CommandSpec> {
    [
        acl::COMMANDS,
        connection::COMMANDS,
        keys::COMMANDS,
        dump::COMMANDS,
        string::COMMANDS,
        list::COMMANDS,
        stream::COMMANDS,
        broker::COMMANDS,
        pubsub::COMMANDS,
        server::COMMANDS,
        config::COMMANDS,
        transaction::COMMANDS,
        persistence::COMMANDS,
        hash::COMMANDS,
        set::COMMANDS,
        zset::COMMANDS,
        scripting::COMMANDS,
        bitmap::COMMANDS,
        sort::COMMANDS,
        replication::COMMANDS,
        hll::COMMANDS,
        geo::COMMANDS,
        lolwut::COMMANDS,
        cluster::COMMANDS,
        migrate::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

/// `rename-command` pairs from the configuration (lowercase; an empty target removes the
/// command). Set once at startup, before the first lookup builds the table.
static RENAMES: OnceLock<Vec<(Vec<u8>, Vec<u8>)>> = OnceLock::new();

/// Apply the configuration's `rename-command` directives; call before serving.
pub fn set_renamed_commands(pairs: &[(String, String)]) {
    let _ = RENAMES.set(
        pairs
            .iter()
            .map(|(f, t)| {
                (
                    f.to_ascii_lowercase().into_bytes(),
                    t.to_ascii_lowercase().into_bytes(),
                )
            })
            .collect(),
    );
}

pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut by_name: CommandMap = families()
            .map(|s| (s.name.as_bytes().to_vec(), CommandEntry::new(s, None)))
            .collect();
        for (from, to) in RENAMES.get().into_iter().flatten() {
            if let Some(e) = by_name.remove(from)
                && !to.is_empty()
            {
                by_name.insert(to.clone(), e);
            }
        }
        Table { by_name }
    })
}

/// Case-insensitive lookup without allocating for names of ordinary length.
fn lookup<'t>(map: &'t CommandMap, name: &[u8]) -> Option<&'t CommandEntry> {
    let mut buf = [0u8; 32];
    if name.len() <= buf.len() {
        let b = &mut buf[..name.len()];
        b.copy_from_slice(name);
        b.make_ascii_lowercase();
        map.get(&b[..])
    } else {
        map.get(&name.to_ascii_lowercase())
    }
}

pub fn lookup_command(name: &[u8]) -> Option<&'static CommandEntry> {
    lookup(&table().by_name, name)
}

/// Resolve `argv` to its table entry (descending into subcommands), or the error Redis gives.
pub fn resolve(argv: &[Bytes]) -> Result<&'static CommandEntry, String> {
    let Some(entry) = lookup_command(&argv[0]) else {
        return Err(error::unknown_command(argv));
    };
    if entry.subs.is_empty() || argv.len() < 2 {
        return Ok(entry);
    }
    match lookup(&entry.subs, &argv[1]) {
        Some(sub) => Ok(sub),
        None => Err(error::unknown_subcommand(entry.spec.name, &argv[1])),
    }
}

pub fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= (-arity) as usize
    }
}

enum StoreAccess<'a> {
    Unlocked(&'a Store),
    Locked(parking_lot::MutexGuard<'a, StoreInner>),
    Borrowed(&'a mut StoreInner),
}

/// What a handler runs in. See the module documentation.
pub struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    pub client: &'a mut ClientState,
    pub entry: &'static CommandEntry,
    argv: &'a [Bytes],
    store: StoreAccess<'a>,
    /// Changes made by this command ([`Write::changes`]).
    dirty: u64,
    propagated: bool,
    /// Effects belong to an open transaction block (inside EXEC or a script): they reach the
    /// log wrapped in MULTI/EXEC when the block closes.
    tx: bool,
    blocking_allowed: bool,
    /// Run by a script (`redis.call` from EVAL or FCALL).
    from_script: bool,
    rerun: bool,
    /// On a re-run, the signalled key that woke the waiter.
    ready_key: Option<Bytes>,
    /// The handler recorded a write of a key: WATCH sees only the keys it recorded.
    touched: bool,
    /// Changes made by commands a script ran through this context.
    nested_dirty: u64,
    block_deadline: Option<Option<Instant>>,
    /// The handler panicked: its request is not propagated (see [`run_handler`]).
    panicked: bool,
}

impl<'a> Ctx<'a> {
    fn new(
        shared: &'a Arc<Shared>,
        client: &'a mut ClientState,
        entry: &'static CommandEntry,
        argv: &'a [Bytes],
        store: StoreAccess<'a>,
    ) -> Self {
        Ctx {
            shared,
            client,
            entry,
            argv,
            store,
            dirty: 0,
            propagated: false,
            tx: false,
            blocking_allowed: true,
            from_script: false,
            rerun: false,
            ready_key: None,
            touched: false,
            nested_dirty: 0,
            block_deadline: None,
            panicked: false,
        }
    }

    /// The whole store, locked on first use.
    pub fn store(&mut self) -> &mut StoreInner {
        if let StoreAccess::Unlocked(s) = self.store {
            let mut g = s.lock();
            g.begin_command(
                self.client.db,
                crate::store::unix_ms_at(self.client.cmd_start),
            );
            if self.entry.has_flag(flags::READONLY) {
                g.keyspace.count_reads(self.client.db);
            }
            self.store = StoreAccess::Locked(g);
        }
        match &mut self.store {
            StoreAccess::Locked(g) => g,
            StoreAccess::Borrowed(s) => s,
            StoreAccess::Unlocked(_) => unreachable!("locked above"),
        }
    }

    /// This command already has the store (locked or borrowed from a caller).
    pub fn holds_store(&self) -> bool {
        !matches!(self.store, StoreAccess::Unlocked(_))
    }

    /// Run `op` on the store, or, while a script is BUSY (it holds the store lock), leave it for
    /// the script to run between two of its instructions: for the commands allowed while BUSY
    /// that keep state in the store (WATCH, UNWATCH, DISCARD, RESET).
    pub fn store_op(&mut self, op: impl FnOnce(&mut StoreInner) + Send + 'static) {
        let op: crate::scripting::DeferredOp = Box::new(op);
        let op = match self.store {
            StoreAccess::Unlocked(_) => match self.shared.script_status.defer(op) {
                Some(op) => op,
                None => return,
            },
            _ => op,
        };
        op(self.store());
    }

    /// Whether this command runs inside another unit's critical section (EXEC's queue, a
    /// script, the AOF replay): the store lock cannot be released or taken again.
    pub fn in_exec(&self) -> bool {
        matches!(self.store, StoreAccess::Borrowed(_))
    }

    /// Drop the store lock if this command took it (a command that waits for something else).
    /// Whether this command runs inside another unit's critical section (EXEC's queue, a
    /// script's call, a served waiter): the store lock is held by the caller and cannot be
    /// released or taken again.
    pub fn in_outer_unit(&self) -> bool {
        matches!(self.store, StoreAccess::Borrowed(_))
    }

    pub fn release_store(&mut self) {
        if let StoreAccess::Locked(_) = self.store {
            self.store = StoreAccess::Unlocked(&self.shared.store);
        }
    }

    /// The server, the client and the locked store at once (for running other commands in
    /// this command's critical section: EXEC's queue, a script's calls).
    fn split_locked(&mut self) -> (&'a Arc<Shared>, &mut ClientState, &mut StoreInner) {
        self.store();
        let store: &mut StoreInner = match &mut self.store {
            StoreAccess::Locked(g) => g,
            StoreAccess::Borrowed(s) => s,
            StoreAccess::Unlocked(_) => unreachable!("locked above"),
        };
        (self.shared, self.client, store)
    }

    fn store_if_locked(&mut self) -> Option<&mut StoreInner> {
        match &mut self.store {
            StoreAccess::Locked(g) => Some(g),
            StoreAccess::Borrowed(s) => Some(s),
            StoreAccess::Unlocked(_) => None,
        }
    }

    /// The client's selected database.
    pub fn db(&mut self) -> &mut Db {
        let i = self.client.db;
        &mut self.store().dbs[i]
    }

    pub fn db_index(&self) -> usize {
        self.client.db
    }

    pub fn resp(&self) -> u8 {
        self.client.resp
    }

    pub fn shared(&self) -> &Arc<Shared> {
        self.shared
    }

    pub fn changes(&self) -> u64 {
        self.dirty
    }

    /// True when this run re-executes a blocked command because a key it waits on changed.
    pub fn is_rerun(&self) -> bool {
        self.rerun
    }

    /// On a re-run, the key whose signal woke this waiter: Redis serves a waiter from the key
    /// that became ready, not from the first of its keys that has data.
    pub fn ready_key(&self) -> Option<&Bytes> {
        self.ready_key.as_ref()
    }

    /// True when the command may block (false inside MULTI/EXEC and scripts).
    pub fn may_block(&self) -> bool {
        self.blocking_allowed
    }

    /// True when a script runs the command (`redis.call`/`redis.pcall`).
    pub fn from_script(&self) -> bool {
        self.from_script
    }

    /// Wait for `keys`; see the module documentation. `timeout` None = forever.
    pub fn block(
        &mut self,
        args: &[Bytes],
        keys: Vec<Bytes>,
        timeout: Option<Duration>,
        timeout_reply: Reply,
    ) -> Reply {
        if self.rerun {
            return Reply::Blocked;
        }
        if !self.blocking_allowed {
            return timeout_reply;
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let deadline_ms = timeout
            .map(|t| crate::store::unix_ms() + t.as_millis() as i64)
            .unwrap_or(0);
        let waiter = Waiter {
            client: self.client.handle.clone(),
            db: self.client.db,
            keys,
            argv: args.iter().map(crate::store::own).collect(),
            cmd: self.entry,
            resp: self.client.resp,
            timeout_reply,
            deadline_ms,
        };
        self.store().blocking.register(waiter);
        self.block_deadline = Some(deadline);
        Reply::Blocked
    }

    /// Changes made by commands run through `call_nested`.
    pub fn nested_changes(&self) -> u64 {
        self.nested_dirty
    }

    /// Open a transaction block for what follows (a script: its effects are replayed as one
    /// MULTI/EXEC block). Returns whether one was already open (a script inside EXEC joins
    /// EXEC's block); pass that to [`Ctx::end_tx`].
    pub fn begin_tx(&mut self) -> bool {
        std::mem::replace(&mut self.tx, true)
    }

    /// Close the block [`Ctx::begin_tx`] opened, unless an enclosing one stays open.
    pub fn end_tx(&mut self, outer: bool) {
        self.tx = outer;
        if !outer && let Some(store) = self.store_if_locked() {
            store.close_tx();
        }
    }

    /// True inside a transaction block (EXEC, a script).
    pub fn in_tx(&self) -> bool {
        self.tx
    }

    /// The arguments of the running command.
    pub fn argv(&self) -> &'a [Bytes] {
        self.argv
    }

    /// Run the handler: the one way every path (a client's command, EXEC's queue, a script's
    /// `redis.call`, a woken waiter, AOF replay) executes a command. Then the request is
    /// propagated if it changed data and no write gave another effect, WATCH sees the key
    /// arguments if no write named its key, and lazy expiry's deletions are recorded.
    fn run(&mut self) -> Reply {
        let argv = self.argv;
        let reply = run_handler(self, argv);
        self.finish_effects();
        let dirty = self.dirty;
        if dirty > 0
            && let Some(store) = self.store_if_locked()
        {
            store.dirty += dirty;
        }
        // Scripts are judged by the commands they run (see `call_nested`), not by their own
        // flags.
        if let Some(t) = &self.client.tracking
            && t.remembers()
            && !self.from_script
            && self.entry.has_flag(flags::READONLY)
            && !self.entry.has_flag(flags::PUBSUB)
            && !matches!(self.entry.spec.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
        {
            self.remember_keys();
        }
        reply
    }

    /// CLIENT TRACKING: this read-only command's keys are cached by the client from now on.
    #[cold]
    #[inline(never)]
    fn remember_keys(&mut self) {
        let argv = self.argv;
        let positions = crate::acl::key_positions(&self.entry.full_name, argv)
            .unwrap_or_else(|| self.entry.key_positions(argv.len()));
        let id = self.client.id;
        self.store()
            .tracking
            .remember(id, positions.into_iter().filter_map(|p| argv.get(p)));
    }

    /// End of command: propagate the request if it changed data and no explicit effect was given.
    fn finish_effects(&mut self) {
        if (self.dirty > 0 || self.panicked) && self.entry.has_flag(flags::WRITE) && !self.touched {
            let db = self.client.db;
            let argv = self.argv;
            for p in self.entry.key_positions(argv.len()) {
                self.modified(db, &argv[p]);
            }
        }
        if self.dirty > 0 && !self.propagated && self.entry.has_flag(flags::WRITE) && !self.panicked
        {
            let argv = self.argv;
            let db = self.client.db;
            let tx = self.tx;
            self.store().propagate(db, argv, tx);
        }
        let db = self.client.db;
        if let Some(s) = self.store_if_locked() {
            s.flush_expired(db);
        }
    }
}

/// Run the entry's handler in `ctx`. A panic in a handler is a bug, but it must cost only the
/// command that hit it: it is caught here, logged, and the client gets an error reply, while
/// the server keeps serving everybody else (the connection stays usable too).
///
/// The store lock is not poisoned (parking_lot) and stays held by `ctx` until the command ends
/// as usual. What the handler changed before panicking stays, but is made structurally sound
/// ([`Ctx::repair_after_panic`]): effects the handler already recorded are kept, the request
/// itself is not propagated (it was not carried out), watchers of its keys are invalidated,
/// and a waiter it registered is dropped.
///
/// DEVIATION(redis): Redis has no recoverable failure of a command: an assertion or a
/// `DEBUG PANIC` crashes the server.
fn run_handler(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    let handler = ctx.entry.spec.handler;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(ctx, argv))) {
        Ok(reply) => reply,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".into());
            tracing::error!(
                client = ctx.client.id,
                command = %ctx.entry.full_name,
                panic = %what,
                "command handler panicked: the command was aborted"
            );
            ctx.repair_after_panic();
            Reply::Error(error::internal_error(&ctx.entry.full_name).into())
        }
    }
}

impl Ctx<'_> {
    /// Restore the store's structural invariants after the handler panicked part-way.
    fn repair_after_panic(&mut self) {
        self.panicked = true;
        let id = self.client.id;
        let db = self.client.db;
        let positions = self.entry.key_positions(self.argv.len());
        let argv = self.argv;
        let holds_lock = self.store_if_locked().is_some();
        if self.block_deadline.take().is_some() {
            self.store().blocking.remove(id);
        }
        if let Some(store) = self.store_if_locked() {
            // A container emptied (or created empty) before the panic would break "no empty
            // keys": an empty list, hash, set or sorted set is the same as no key.
            for p in positions {
                let key = &argv[p];
                let empty = match store.dbs[db].map.get(&key[..]).map(|e| &e.value) {
                    Some(Value::List(l)) => l.is_empty(),
                    Some(Value::Hash(h)) => h.is_empty(),
                    Some(Value::Set(s)) => s.is_empty(),
                    Some(Value::ZSet(z)) => z.is_empty(),
                    _ => false,
                };
                if empty {
                    store.dbs[db].remove(key);
                }
            }
        }
        // A script that panicked out of its handler is not running any more; while this
        // command holds the store lock no other script can be running either.
        if holds_lock
            && self
                .shared
                .script_status
                .running_since
                .load(Ordering::SeqCst)
                != 0
        {
            let st = self.shared.script_status.clone();
            st.end_busy(self.store());
            st.running_since.store(0, Ordering::SeqCst);
            st.signal_changed();
        }
    }
}

/// Run `argv` on behalf of a script (`redis.call`): same store and client, blocking disabled,
/// effects recorded in the caller's transaction block (see [`Ctx::begin_tx`]).
///
/// The caller checks the command first (`scripting::check_call`: arity, flags, the calling
/// user's permissions).
pub fn call_nested(ctx: &mut Ctx, entry: &'static CommandEntry, argv: &[Bytes]) -> Reply {
    let tx = ctx.tx;
    let (shared, client, store) = ctx.split_locked();
    let mut sub = Ctx::new(shared, client, entry, argv, StoreAccess::Borrowed(store));
    sub.blocking_allowed = false;
    sub.from_script = true;
    sub.tx = tx;
    // The TSC clock (as Redis's monotonic clock): a script's commands are short, and two
    // clock_gettime calls were a tenth of a 100-command script's time.
    let start = quanta::Instant::now();
    let reply = sub.run();
    if shared.latency_tracking() {
        entry
            .latency
            .record(start.elapsed().as_micros() as u64 * 1000);
    }
    let dirty = sub.dirty;
    drop(sub);
    monitor_after(shared, client, entry, argv, true);
    entry.calls.fetch_add(1, Ordering::Relaxed);
    ctx.nested_dirty += dirty;
    // CLIENT TRACKING: a read a script makes caches the keys the script declared (the
    // calling command's), as Redis 7.0 remembers them.
    if ctx.client.tracking.as_ref().is_some_and(|t| t.remembers())
        && entry.has_flag(flags::READONLY)
    {
        ctx.remember_keys();
    }
    reply
}

/// MONITOR sees a command once it has run, in the database it left selected (SELECT shows
/// the new one), as Redis's `call()` feeds it; ADMIN commands are never shown; commands that
/// run scripts (SKIP_MONITOR) are shown before they run instead (see [`monitor_before`]), so
/// the commands of the script follow them.
#[inline]
fn monitor_after(
    shared: &Shared,
    client: &ClientState,
    entry: &CommandEntry,
    argv: &[Bytes],
    from_script: bool,
) {
    if shared.has_monitors() && !entry.has_flag(flags::ADMIN | flags::SKIP_MONITOR) {
        shared.feed_monitors(client, argv, from_script);
    }
}

/// EVAL, EVALSHA and FCALL are shown before they run (Redis's script commands feed MONITOR
/// themselves first thing).
#[inline]
fn monitor_before(shared: &Shared, client: &ClientState, entry: &CommandEntry, argv: &[Bytes]) {
    if shared.has_monitors() && entry.has_flag(flags::SKIP_MONITOR) {
        shared.feed_monitors(client, argv, false);
    }
}

/// `argv` as MONITOR and SLOWLOG show it: the arguments that carry secrets replaced by
/// `(redacted)`, as Redis's `redactClientCommandArgument` callers do (AUTH, HELLO ... AUTH,
/// ACL SETUSER, CONFIG SET of a password, MIGRATE ... AUTH/AUTH2).
pub fn redacted(argv: &[Bytes]) -> std::borrow::Cow<'_, [Bytes]> {
    let name = |i: usize, s: &str| argv.get(i).is_some_and(|a| is(a, s));
    let mut hide: Vec<usize> = Vec::new();
    if name(0, "auth") {
        hide.extend(1..argv.len());
    } else if name(0, "hello") {
        if let Some(i) = (2..argv.len()).find(|&i| name(i, "auth")) {
            hide.extend((i + 1..argv.len()).take(2));
        }
    } else if name(0, "acl") && name(1, "setuser") {
        hide.extend(2..argv.len());
    } else if name(0, "config") && name(1, "set") {
        let mut i = 2;
        while i + 1 < argv.len() {
            if [
                "requirepass",
                "masterauth",
                "tls-key-file-pass",
                "tls-client-key-file-pass",
            ]
            .iter()
            .any(|p| name(i, p))
            {
                hide.push(i + 1);
            }
            i += 2;
        }
    } else if name(0, "migrate") {
        if let Some(i) = (6..argv.len()).find(|&i| name(i, "auth")) {
            hide.push(i + 1);
        } else if let Some(i) = (6..argv.len()).find(|&i| name(i, "auth2")) {
            hide.extend([i + 1, i + 2]);
        }
    }
    hide.retain(|&i| i < argv.len());
    if hide.is_empty() {
        return std::borrow::Cow::Borrowed(argv);
    }
    let mut out = argv.to_vec();
    for i in hide {
        out[i] = Bytes::from_static(b"(redacted)");
    }
    std::borrow::Cow::Owned(out)
}

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    /// Wait for a wake-up or the deadline (None = forever).
    Blocked(Option<Instant>),
    /// Send what is queued, then close.
    Close,
}

fn send(client: &mut ClientState, reply: &Reply) {
    match client.reply_mode {
        ReplyMode::On => client.handle.outbox.push_reply(reply, client.resp),
        ReplyMode::Off => {}
        ReplyMode::SkipNext => client.reply_mode = ReplyMode::Skip,
        ReplyMode::Skip => {
            client.reply_mode = ReplyMode::On;
        }
    }
}

/// CLIENT TRACKING after a command's reply: the invalidations of keys it wrote itself follow
/// the reply, and CLIENT CACHING applied to this command (or the transaction it ended) only.
#[cold]
#[inline(never)]
fn after_tracked_command(shared: &Shared, client: &mut ClientState, entry: &CommandEntry) {
    if !client.tracking_pending.is_empty() {
        let pending = std::mem::take(&mut client.tracking_pending);
        shared
            .store
            .lock()
            .tracking
            .send_deferred(client.id, pending);
    }
    // Any CLIENT subcommand keeps a CLIENT CACHING in force (Redis checks the command, not
    // the subcommand).
    if client.multi.is_none()
        && !entry.full_name.starts_with("client|")
        && let Some(t) = client.tracking.as_mut()
    {
        t.caching = false;
    }
}

/// Reject a command before it runs; inside MULTI this also dooms the transaction.
fn reject(
    shared: &Shared,
    client: &mut ClientState,
    entry: Option<&CommandEntry>,
    msg: String,
) -> Outcome {
    if let Some(e) = entry {
        e.rejected.fetch_add(1, Ordering::Relaxed);
    }
    shared.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
    if entry.is_some_and(|e| e.spec.name == "exec") {
        // EXEC itself refused, in MULTI or not: the transaction is discarded, naming the
        // reason, and the watches go with it (Redis's execCommandAbort).
        client.multi = None;
        client.handle.info.lock().multi = None;
        let watched = std::mem::take(&mut client.watched);
        let id = client.id;
        let op: crate::scripting::DeferredOp = Box::new(move |s| s.watches.unwatch(id, &watched));
        if let Some(op) = shared.script_status.defer(op) {
            op(&mut shared.store.lock());
        }
        let reason = msg.strip_prefix("ERR ").unwrap_or(&msg).to_string();
        let msg = format!("EXECABORT Transaction discarded because of: {reason}");
        shared.count_error(&msg);
        send(client, &Reply::Error(msg.into()));
        return Outcome::Continue;
    }
    if let Some(m) = client.multi.as_mut() {
        m.aborted = true;
    }
    shared.count_error(&msg);
    send(client, &Reply::Error(msg.into()));
    Outcome::Continue
}

/// Run one request from `client`: checks, MULTI queueing, execution, serving of woken waiters,
/// AOF propagation, then the reply is queued in the client's outbox.
pub fn dispatch(shared: &Arc<Shared>, client: &mut ClientState, argv: Vec<Bytes>) -> Outcome {
    let entry = match resolve(&argv) {
        Ok(e) => e,
        Err(msg) => return reject(shared, client, None, msg),
    };
    if !arity_ok(entry.spec.arity, argv.len()) {
        return reject(
            shared,
            client,
            Some(entry),
            error::wrong_args(&entry.full_name),
        );
    }
    if !client.authenticated && !entry.has_flag(flags::NO_AUTH) {
        return reject(shared, client, Some(entry), error::NOAUTH.into());
    }
    if client.multi.is_some() && entry.has_flag(flags::NO_MULTI) {
        let msg = "ERR Command not allowed inside a transaction".to_string();
        return reject(shared, client, Some(entry), msg);
    }
    if shared.acl.restricted()
        && let Some(msg) = crate::acl::check(shared, client, entry, &argv)
    {
        return reject(shared, client, Some(entry), msg);
    }
    // Redis does not check memory while a script is BUSY (the check could evict in the middle
    // of the script's changes).
    let busy = shared.script_status.busy.load(Ordering::Relaxed);
    if shared.maxmemory() > 0 && !busy {
        let oom = shared.perform_evictions() == crate::server::Eviction::Fail;
        client.pre_command_oom = oom;
        if oom && refused_when_oom(client, entry) {
            return reject(shared, client, Some(entry), error::OOM.into());
        }
    }
    if client.in_pubsub_context() && !entry.has_flag(flags::SUBSCRIBED_OK) {
        let msg = format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            entry.full_name
        );
        return reject(shared, client, Some(entry), msg);
    }
    // EXEC counts as a write when it would run one, and as denied on a stale replica when it
    // would run a command that is (Redis's `is_write_command` / `is_denystale_command`), so a
    // state change after the commands were queued aborts the transaction.
    let exec = entry.spec.name == "exec" && client.multi.is_some();
    let writes = entry.has_flag(flags::WRITE) || (exec && queued_any(client, flags::WRITE, true));
    if writes && let Some(msg) = crate::aof::refuse_writes(shared) {
        return reject(shared, client, Some(entry), msg);
    }
    if writes && let Some(msg) = crate::replica::refuse_writes(shared) {
        return reject(shared, client, Some(entry), msg.into());
    }
    if shared.replica.is_replica()
        && (!entry.has_flag(flags::STALE) || (exec && queued_any(client, flags::STALE, false)))
        && let Some(msg) = crate::replica::refuse_stale(shared)
    {
        return reject(shared, client, Some(entry), msg.into());
    }
    if shared.is_loading() && !entry.has_flag(flags::LOADING) {
        return reject(shared, client, Some(entry), error::LOADING.into());
    }
    // After the checks above, as in Redis: an unauthenticated or subscribed client gets those
    // errors first. Only the commands flagged ALLOW_BUSY run while a script is BUSY.
    if busy && !entry.has_flag(flags::ALLOW_BUSY) {
        return reject(
            shared,
            client,
            Some(entry),
            shared.script_status.busy_error().into(),
        );
    }
    if let Some(m) = client.multi.as_mut()
        && !entry.has_flag(flags::MULTI_CONTROL)
    {
        m.queue.push(argv);
        send(client, &Reply::status("QUEUED"));
        return Outcome::Continue;
    }
    monitor_before(shared, client, entry, &argv);
    client.handle.info.lock().last_cmd = entry.full_name.as_str();
    let (reply, deadline) = execute(shared, client, entry, &argv);
    monitor_after(shared, client, entry, &argv, false);
    if let Some(d) = deadline {
        return Outcome::Blocked(d);
    }
    // The reply was allocated by the command (counted by `execute`): queueing it and freeing
    // it count too, so only the bytes the outbox keeps remain in the estimate of used memory.
    let mem_before = memory_mark(shared);
    send(client, &reply);
    drop(reply);
    shared.note_command_memory(mem_before);
    if client.tracking.is_some() {
        after_tracked_command(shared, client, entry);
    }
    if client.close_after_reply {
        Outcome::Close
    } else {
        Outcome::Continue
    }
}

/// Whether a command queued in the client's transaction has `flag` (`set`), or lacks it.
fn queued_any(client: &ClientState, flag: u32, set: bool) -> bool {
    client.multi.as_ref().is_some_and(|m| {
        m.queue
            .iter()
            .any(|argv| resolve(argv).is_ok_and(|e| e.has_flag(flag) == set))
    })
}

/// Whether `entry` is refused while memory is over `maxmemory` and eviction cannot help
/// (Redis's processCommand): deny-OOM commands, EXEC of a transaction that queued one, and,
/// inside MULTI, every command but EXEC, DISCARD, QUIT and RESET (queueing takes memory too).
fn refused_when_oom(client: &ClientState, entry: &CommandEntry) -> bool {
    if entry.has_flag(flags::DENYOOM) {
        return true;
    }
    let Some(m) = client.multi.as_ref() else {
        return false;
    };
    match entry.spec.name {
        "exec" => m
            .queue
            .iter()
            .any(|argv| resolve(argv).is_ok_and(|e| e.has_flag(flags::DENYOOM))),
        "discard" | "quit" | "reset" => false,
        _ => true,
    }
}

/// Execute a resolved command now (dispatch and EXEC use this). Returns the reply and, when the
/// command blocked, its deadline.
pub fn execute(
    shared: &Arc<Shared>,
    client: &mut ClientState,
    entry: &'static CommandEntry,
    argv: &[Bytes],
) -> (Reply, Option<Option<Instant>>) {
    // One clock read per command: in a pipelined batch the previous command's end is this
    // one's start (the reader resets the cursor after every wait).
    let start = client.clock.take().unwrap_or_else(Instant::now);
    client.cmd_start = start;
    let mem_before = memory_mark(shared);
    let mut client_hold = None;
    let mut woff = None;
    let mut served = Vec::new();
    let mut ctx = Ctx::new(
        shared,
        client,
        entry,
        argv,
        StoreAccess::Unlocked(&shared.store),
    );
    let reply = ctx.run();
    if ctx.client.tracking.is_some() {
        ctx.take_own_broadcasts();
    }
    if let Some(store) = ctx.store_if_locked() {
        store.drain_effects();
        if store.blocking.has_ready() {
            serve_ready_keys(shared, store);
            if !store.served_slowlog.is_empty() {
                served = std::mem::take(&mut store.served_slowlog);
            }
        }
        let dirty = ctx.dirty + ctx.nested_dirty;
        let store = ctx.store_if_locked().expect("locked");
        if dirty > 0 {
            shared.after_write(store);
            if store.repl.active() {
                woff = Some(store.repl.offset);
            }
        }
        // With `appendfsync always` a reply may leave only once its effects are on disk.
        if let Some(offset) = crate::aof::reply_barrier(store) {
            client_hold = Some(offset);
        }
    }
    let deadline = ctx.block_deadline;
    let dirty = ctx.dirty;
    drop(ctx);
    if let Some(offset) = client_hold {
        client.handle.outbox.hold(offset);
    }
    if let Some(w) = woff {
        client.woff = w;
    }
    shared.note_command_memory(mem_before);
    record_call(shared, client, entry, argv, start, &reply, dirty);
    // The waiters it served go into the SLOWLOG after it, as in Redis.
    for (state, entry, argv, us) in served {
        shared.slowlog_record(&state, entry, &argv, us);
    }
    (reply, deadline)
}

/// [`serve_ready_keys`] outside a command (expiry, timers, disconnects): the SLOWLOG entries
/// of the served waiters are written at once.
pub fn serve_ready_keys_now(shared: &Arc<Shared>, store: &mut StoreInner) {
    serve_ready_keys(shared, store);
    for (state, entry, argv, us) in std::mem::take(&mut store.served_slowlog) {
        shared.slowlog_record(&state, entry, &argv, us);
    }
}

/// With `maxmemory` set, this thread's allocation counter before a command runs, so what the
/// command allocated counts at once (see `Shared::over_maxmemory`).
#[inline]
fn memory_mark(shared: &Shared) -> Option<i64> {
    if shared.maxmemory() > 0 {
        crate::server::memory::thread_net()
    } else {
        None
    }
}

fn record_call(
    shared: &Shared,
    client: &mut ClientState,
    entry: &CommandEntry,
    argv: &[Bytes],
    start: Instant,
    reply: &Reply,
    _dirty: u64,
) {
    let end = Instant::now();
    client.clock = Some(end);
    let us = end.saturating_duration_since(start).as_micros() as u64;
    // A command that blocked is counted once, when it is served or its wait ends (as Redis
    // counts it: not while CLIENT_BLOCKED).
    if !matches!(reply, Reply::Blocked) {
        entry.calls.fetch_add(1, Ordering::Relaxed);
        entry.usec.fetch_add(us, Ordering::Relaxed);
    }
    if shared.latency_tracking() && !matches!(reply, Reply::Blocked) {
        // Microseconds, as Redis measures them, recorded in nanoseconds as Redis records.
        entry.latency.record(us * 1000);
    }
    if let Reply::Error(e) = reply {
        count_failure(shared, entry, e);
    }
    shared.stats.commands.fetch_add(1, Ordering::Relaxed);
    shared.slowlog_record(client, entry, argv, us);
}

/// EXEC's queue, run in the critical section EXEC's own context holds (where it checked the
/// watches); the caller (`execute`) then serves woken waiters and applies the reply barrier.
pub fn exec_queue(ctx: &mut Ctx, queue: Vec<Vec<Bytes>>) -> Reply {
    let (shared, client, store) = ctx.split_locked();
    execute_transaction(shared, client, store, queue)
}

/// A call of `entry` that ended in the error `e`: commandstats, stats and errorstats.
fn count_failure(shared: &Shared, entry: &CommandEntry, e: &str) {
    entry.failed.fetch_add(1, Ordering::Relaxed);
    shared.stats.failed_calls.fetch_add(1, Ordering::Relaxed);
    shared.count_error(e);
}

/// Run a queued transaction's commands atomically (EXEC, and MULTI blocks replayed from the
/// AOF) in the critical section `guard` belongs to: blocking disabled, effects wrapped in
/// MULTI/EXEC when there is more than one.
pub fn execute_transaction(
    shared: &Arc<Shared>,
    client: &mut ClientState,
    guard: &mut StoreInner,
    queue: Vec<Vec<Bytes>>,
) -> Reply {
    let mut replies = Vec::with_capacity(queue.len());
    for argv in &queue {
        let entry = match resolve(argv) {
            Ok(e) => e,
            Err(msg) => {
                replies.push(Reply::Error(msg.into()));
                continue;
            }
        };
        if shared.acl.restricted()
            && let Some(msg) = crate::acl::check_at_exec(shared, client, entry, argv)
        {
            // Not a call of the command: like Redis, no command statistic counts it.
            replies.push(Reply::Error(msg.into()));
            continue;
        }
        monitor_before(shared, client, entry, argv);
        let start = client.clock.take().unwrap_or_else(Instant::now);
        client.cmd_start = start;
        guard.begin_command(client.db, crate::store::unix_ms_at(start));
        if entry.has_flag(flags::READONLY) {
            guard.keyspace.count_reads(client.db);
        }
        let mut ctx = Ctx::new(shared, client, entry, argv, StoreAccess::Borrowed(guard));
        ctx.blocking_allowed = false;
        ctx.tx = true;
        let reply = ctx.run();
        let dirty = ctx.dirty;
        drop(ctx);
        monitor_after(shared, client, entry, argv, false);
        record_call(shared, client, entry, argv, start, &reply, dirty);
        replies.push(reply);
    }
    guard.close_tx();
    Reply::Array(replies)
}

/// Serve blocked clients whose keys were signalled, in arrival order, by re-running their
/// commands with blocking disabled. Runs under the store lock, right after the command that
/// signalled, so the handed-over data cannot be taken by anybody else first.
pub fn serve_ready_keys(shared: &Arc<Shared>, store: &mut StoreInner) {
    while let Some((db, key)) = store.blocking.pop_ready() {
        for id in store.blocking.waiting_on(db, &key) {
            let Some(w) = store.blocking.get(id) else {
                continue;
            };
            let handle = w.client.clone();
            let argv = w.argv.clone();
            let entry = w.cmd;
            let resp = w.resp;
            let wdb = w.db;
            let mut state = ClientState::new(handle.clone(), true);
            state.db = wdb;
            state.resp = resp;
            store.begin_command(wdb, crate::store::unix_ms());
            let mut ctx = Ctx::new(
                shared,
                &mut state,
                entry,
                &argv,
                StoreAccess::Borrowed(store),
            );
            ctx.rerun = true;
            ctx.ready_key = Some(key.clone());
            ctx.blocking_allowed = false;
            let started = Instant::now();
            let reply = ctx.run();
            drop(ctx);
            // Each served waiter is a unit of its own: its pop follows the push that fed it.
            store.drain_effects();
            if matches!(reply, Reply::Blocked) {
                continue;
            }
            store.blocking.remove(id);
            entry.calls.fetch_add(1, Ordering::Relaxed);
            // An error handed to a woken client (XGROUP DESTROY: -NOGROUP) is an error reply
            // like any other for INFO errorstats.
            if let Reply::Error(e) = &reply {
                count_failure(shared, entry, e);
            }
            if let Some(offset) = crate::aof::reply_barrier(store) {
                handle.outbox.hold(offset);
            }
            if store.repl.active() {
                handle
                    .served_woff
                    .fetch_max(store.repl.offset, Ordering::Relaxed);
            }
            handle.outbox.push_reply(&reply, resp);
            // The invalidation of a key the served command wrote follows its reply, as for a
            // command that did not block.
            if !state.tracking_pending.is_empty() {
                let pending = std::mem::take(&mut state.tracking_pending);
                store.tracking.send_deferred(state.id, pending);
            }
            let us = started.elapsed().as_micros() as u64;
            if shared.slowlog_wants(entry, us) {
                store.served_slowlog.push((state, entry, argv.to_vec(), us));
            }
            handle.outbox.wake();
            handle.wake.notify_one();
        }
    }
}

/// A blocked client's wait ended without being served (timeout, CLIENT UNBLOCK, disconnect):
/// if it is still registered, unregister it and return the reply it gets. `None` means it was
/// served concurrently and its reply is already in its outbox.
pub fn unblock(shared: &Shared, client_id: u64, reply: Option<Reply>) -> Option<Reply> {
    let mut store = shared.store.lock();
    let w = store.blocking.remove(client_id)?;
    // Its one call, counted now (see `record_call`).
    w.cmd.calls.fetch_add(1, Ordering::Relaxed);
    let reply = reply.unwrap_or(w.timeout_reply);
    if let Reply::Error(e) = &reply {
        count_failure(shared, w.cmd, e);
    }
    Some(reply)
}

// ---------------------------------------------------------------------------------------------
// Argument helpers shared by the families.

/// Case-insensitive comparison of an argument with a keyword.
#[inline]
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// An integer argument as Redis's `getLongLongFromObjectOrReply` parses it.
pub fn parse_i64(arg: &[u8]) -> Result<i64, Reply> {
    crate::protocol::request::parse_i64(arg).ok_or(Reply::error(error::NOT_INTEGER))
}

/// Longest wait honoured as a real deadline.
const MAX_TIMEOUT_MS: i64 = 365 * 24 * 3600 * 1000;

/// A blocking timeout in seconds (BLPOP, BLMOVE, BZPOPMIN & co), exactly as redis-server 7.0
/// judges it (`getTimeoutFromObjectOrReply`): the text is a
/// `long double`, turned into `ceil(seconds * 1000)` milliseconds; 0 (and anything that rounds
/// up to 0, such as -0.0001) waits forever; a negative count, an infinite value or one whose
/// milliseconds overflow a 64-bit integer is "negative" (the C conversion wraps).
/// `None` = wait forever.
///
/// DEVIATION(redis): waits longer than a year are treated as forever (Redis would wake the
/// client after, say, 30 years).
pub fn parse_timeout_secs(arg: &[u8]) -> Result<Option<Duration>, Reply> {
    let secs = crate::num::strtold(arg).ok_or(Reply::error(error::TIMEOUT_NOT_FLOAT))?;
    let ms = match secs {
        crate::num::LongDouble::Huge => return Err(Reply::error(error::TIMEOUT_NEGATIVE)),
        crate::num::LongDouble::Tiny => 1,
        crate::num::LongDouble::Value(v) => {
            let ms = (v * 1000.0).ceil();
            // `(long long)` of a value outside the range is INT64_MIN on the platforms Redis
            // runs on: the client is told the timeout is negative.
            // 2^63: the first value an `i64` cannot hold. NaN fails `contains` too.
            if !(0.0..9_223_372_036_854_775_808.0).contains(&ms) {
                return Err(Reply::error(error::TIMEOUT_NEGATIVE));
            }
            ms as i64
        }
    };
    if ms == 0 || ms > MAX_TIMEOUT_MS {
        Ok(None)
    } else {
        Ok(Some(Duration::from_millis(ms as u64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::connection::ClientHandle;
    use crate::connection::outbox::Take;
    use crate::store::list::List;

    fn server(extra: &[&str]) -> Arc<Shared> {
        let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Shared::new(Config::from_args(&args).expect("config")).expect("server")
    }

    fn client(id: u64) -> ClientState {
        let h = Arc::new(ClientHandle::new(id, "test".into(), String::new(), false));
        ClientState::new(h, true)
    }

    fn argv(args: &[&str]) -> Vec<Bytes> {
        args.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    /// Dispatch `args` and return what reached the client's outbox.
    fn run(shared: &Arc<Shared>, c: &mut ClientState, args: &[&str]) -> String {
        dispatch(shared, c, argv(args));
        let mut buf = bytes::BytesMut::new();
        match c.handle.outbox.take(&mut buf) {
            Take::Write { .. } => {
                c.handle.outbox.written();
                String::from_utf8_lossy(&buf).into_owned()
            }
            _ => String::new(),
        }
    }

    /// Creates an empty list at its key, records one effect, then fails.
    fn half_done_then_panic(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
        ctx.db()
            .entry_or_insert_with(&args[1], || Value::List(Box::new(List::new())));
        ctx.wrote(Write::unkeyed().effect(vec![Bytes::from_static(b"PING")]));
        panic!("simulated bug");
    }

    static PANICKY: CommandSpec =
        CommandSpec::new("panicky", 2, flags::WRITE, half_done_then_panic).keys(1, 1, 1);

    /// A handler that panics after changing the store: the caller gets an error, the store
    /// lock is free again, no empty key is left behind, and the connection keeps working.
    #[test]
    fn a_panicking_handler_costs_only_its_command() {
        let shared = server(&[]);
        let mut c = client(1);
        let entry: &'static CommandEntry = Box::leak(Box::new(CommandEntry::new(&PANICKY, None)));
        let (reply, blocked) = execute(&shared, &mut c, entry, &argv(&["panicky", "k"]));
        assert!(blocked.is_none());
        match reply {
            Reply::Error(e) => assert_eq!(
                &e[..],
                "ERR internal error while running 'panicky': the command was aborted"
            ),
            other => panic!("unexpected reply {other:?}"),
        }
        assert_eq!(entry.failed.load(Ordering::Relaxed), 1);
        let store = shared
            .store
            .try_lock_for(Duration::from_millis(100))
            .expect("the store lock is released");
        assert!(store.dbs[0].map.is_empty(), "the empty list was removed");
        drop(store);
        assert_eq!(run(&shared, &mut c, &["RPUSH", "k", "a"]), ":1\r\n");
        assert_eq!(
            run(&shared, &mut c, &["LRANGE", "k", "0", "-1"]),
            "*1\r\n$1\r\na\r\n"
        );
    }

    /// Check-and-set with WATCH: a write to a watched key that arrives after EXEC checked the
    /// watches but before its queue ran must not be lost. The hook runs another client's SET in
    /// exactly that gap: either it lands before the queue (and EXEC must then fail), or it waits
    /// for the transaction to finish (and is then the last write).
    #[test]
    fn a_write_racing_exec_never_loses_the_transaction_or_the_write() {
        let shared = server(&[]);
        let mut a = client(1);
        assert_eq!(run(&shared, &mut a, &["SET", "k", "1"]), "+OK\r\n");
        assert_eq!(run(&shared, &mut a, &["WATCH", "k"]), "+OK\r\n");
        assert_eq!(run(&shared, &mut a, &["MULTI"]), "+OK\r\n");
        assert_eq!(run(&shared, &mut a, &["SET", "k", "2"]), "+QUEUED\r\n");
        let writer: Arc<parking_lot::Mutex<Option<std::thread::JoinHandle<String>>>> =
            Arc::default();
        let (sh, w) = (shared.clone(), writer.clone());
        transaction::tests::on_exec_checked(move || {
            let sh = sh.clone();
            let h = std::thread::spawn(move || run(&sh, &mut client(2), &["SET", "k", "100"]));
            // Give the other write every chance to land in the gap (it cannot while EXEC holds
            // the store lock; the bounded wait then ends and EXEC goes on).
            let until = Instant::now() + Duration::from_millis(300);
            while !h.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(1));
            }
            *w.lock() = Some(h);
        });
        let exec = run(&shared, &mut a, &["EXEC"]);
        transaction::tests::on_exec_checked(|| {});
        let other = writer
            .lock()
            .take()
            .expect("hook ran")
            .join()
            .expect("writer");
        assert_eq!(other, "+OK\r\n");
        let value = run(&shared, &mut a, &["GET", "k"]);
        match exec.as_str() {
            // The transaction ran: the other write came after it, so it is the value now.
            "*1\r\n+OK\r\n" => assert_eq!(value, "$3\r\n100\r\n", "the racing write was lost"),
            // The other write came first and doomed the transaction.
            "*-1\r\n" => assert_eq!(value, "$3\r\n100\r\n"),
            other => panic!("unexpected EXEC reply {other:?}"),
        }
    }

    /// DEBUG PANIC (when DEBUG is enabled) fails the command, not the server; inside EXEC only
    /// that command fails and the rest of the transaction runs.
    #[test]
    fn debug_panic_replies_an_error() {
        let shared = server(&["--enable-debug-command", "yes"]);
        let mut c = client(1);
        let err = "-ERR internal error while running 'debug': the command was aborted\r\n";
        assert_eq!(run(&shared, &mut c, &["DEBUG", "PANIC"]), err);
        assert_eq!(run(&shared, &mut c, &["SET", "a", "1"]), "+OK\r\n");
        assert_eq!(run(&shared, &mut c, &["MULTI"]), "+OK\r\n");
        assert_eq!(run(&shared, &mut c, &["DEBUG", "PANIC"]), "+QUEUED\r\n");
        assert_eq!(run(&shared, &mut c, &["INCR", "a"]), "+QUEUED\r\n");
        assert_eq!(
            run(&shared, &mut c, &["EXEC"]),
            format!("*2\r\n{err}:2\r\n")
        );
        assert_eq!(run(&shared, &mut c, &["GET", "a"]), "$1\r\n2\r\n");
        // Without enable-debug-command the subcommand is refused like every DEBUG.
        let locked = server(&[]);
        assert!(
            run(&locked, &mut client(2), &["DEBUG", "PANIC"])
                .starts_with("-ERR DEBUG command not allowed")
        );
    }
}
