//! Lua scripting: EVAL scripts and FUNCTION libraries, each family in its own Lua 5.1 state (as
//! in Redis), with Redis's `redis` API and conversion rules.
//!
//! API: `command::scripting` handlers take the store lock first, then `Shared::scripting`
//! (always in that order), and call [`Scripting::eval`] or [`functions::Functions::call`] with
//! the command context. Both end in [`Engine::run`]: inside the script `redis.call`/`redis.pcall`
//! run commands through `command::call_nested` on the same locked store, so a script is atomic;
//! their effects are collected and written to the AOF as one MULTI/EXEC block (effects
//! replication, never the EVAL/FCALL itself).
//!
//! Flags: a script with a `#!lua [flags=...]` shebang, and every function, declares what it may
//! do (`no-writes`, `allow-oom`, ...); [`prepare`] applies Redis's checks before the run. Scripts
//! without a shebang keep the old rules (writes allowed, OOM checked per command).
//!
//! Long scripts: an instruction-count hook marks the server busy once the script has run longer
//! than `busy-reply-threshold`, so dispatch answers other clients with `BUSY` instead of queueing
//! them behind the lock, and honours `SCRIPT KILL` / `FUNCTION KILL` for scripts that have not
//! written. Each run may allocate at most [`MEMORY_LIMIT`] bytes more than the state held
//! before it, so a runaway script gets an error instead of taking the server's memory.

mod cjson;
pub mod convert;
pub mod functions;
mod libs;
mod lstruct;
mod msgpack;

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value as LuaValue, VmState};
use parking_lot::Mutex;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::Instant;

use crate::command::{Ctx, call_nested, flags, resolve};
use crate::protocol::Reply;
use convert::lua_to_reply;

/// State shared with the dispatch path without taking any lock.
#[derive(Default)]
pub struct ScriptStatus {
    /// A script has run longer than busy-reply-threshold: other clients get BUSY.
    pub busy: AtomicBool,
    /// SCRIPT KILL was requested for the running script.
    pub kill: AtomicBool,
    /// A script is running (unix ms start, 0 = none).
    pub running_since: AtomicI64,
    /// The running script has written: it cannot be killed.
    pub wrote: AtomicBool,
    /// The running script is a function (FCALL), not an EVAL script.
    pub function: AtomicBool,
    /// Name (sha or function) and command of the running script, for FUNCTION STATS: recorded
    /// by the instruction hook, so only once the script has run for a while (before that, other
    /// clients wait for it to end and cannot ask).
    pub running: Mutex<Option<(String, Vec<Bytes>)>>,
    /// Loaded libraries and functions, for FUNCTION STATS (answered even while busy).
    pub libraries: AtomicUsize,
    pub functions: AtomicUsize,
    /// For INFO memory: scripts in the EVAL cache, and the bytes each Lua state holds
    /// (refreshed after every load and run).
    pub cached_scripts: AtomicUsize,
    pub vm_eval_bytes: AtomicUsize,
    pub vm_functions_bytes: AtomicUsize,
    /// Signalled when the running script ends or turns BUSY: connections that wait for it
    /// (see [`ScriptStatus::wait_turn`]) go on at once.
    pub changed: tokio::sync::Notify,
    /// Store work left by commands allowed while BUSY (WATCH, UNWATCH, DISCARD, RESET): the
    /// running script holds the store lock, so they leave it here and the script's instruction
    /// hook runs it between two instructions (as Redis runs such commands from inside a busy
    /// script); what is left when the script ends runs then. Guarded by this mutex together
    /// with the end of BUSY, so no work is left behind (see [`ScriptStatus::defer`]).
    deferred: Mutex<Vec<DeferredOp>>,
    has_deferred: AtomicBool,
}

/// Store work of a command allowed while a script is BUSY, see `ScriptStatus::deferred`.
pub type DeferredOp = Box<dyn FnOnce(&mut crate::engine::StoreInner) + Send>;

impl ScriptStatus {
    /// A script runs and has not turned BUSY yet: a new command should wait for it.
    pub fn must_wait(&self) -> bool {
        self.is_running() && !self.busy.load(Ordering::Relaxed)
    }

    /// Wait (asynchronously, without parking a runtime worker on the store lock) until no
    /// script runs or the running one turned BUSY.
    pub async fn wait_turn(&self) {
        // Nearly every script ends within microseconds: check again for a moment before
        // parking on `changed` (a waiter registration, a timer and a wake-up each time).
        let spin_until = Instant::now() + WAIT_SPIN;
        let mut spins = 0u32;
        while self.must_wait() {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && Instant::now() >= spin_until {
                break;
            }
            std::hint::spin_loop();
        }
        self.wait_while(Self::must_wait).await;
    }

    /// Wait (asynchronously) until no script runs, BUSY or not: for work outside command
    /// dispatch that needs the store lock (a disconnecting or timed-out blocked client), which
    /// a running script holds. Parking a runtime worker on the lock instead could leave none to
    /// serve the SCRIPT KILL that ends the script.
    pub async fn wait_idle(&self) {
        self.wait_while(Self::is_running).await;
    }

    /// Park on `changed` while `cond` holds (re-checked after registering, so no signal is
    /// missed).
    async fn wait_while(&self, cond: fn(&Self) -> bool) {
        while cond(self) {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if !cond(self) {
                return;
            }
            // The timeout only guards against a state change nobody signalled.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(10), changed).await;
        }
    }

    /// Wake the connections waiting in [`ScriptStatus::wait_turn`].
    pub fn signal_changed(&self) {
        self.changed.notify_waiters();
    }

    pub fn is_running(&self) -> bool {
        self.running_since.load(Ordering::Relaxed) != 0
    }

    /// Leave `op` for the running script to run if it is BUSY (the script holds the store
    /// lock); otherwise hand it back to be run now under the lock.
    pub fn defer(&self, op: DeferredOp) -> Option<DeferredOp> {
        let mut q = self.deferred.lock();
        if !self.busy.load(Ordering::SeqCst) {
            return Some(op);
        }
        q.push(op);
        self.has_deferred.store(true, Ordering::SeqCst);
        None
    }

    /// Run the deferred store work (from the script's thread, which holds the store).
    pub fn run_deferred(&self, store: &mut crate::engine::StoreInner) {
        if !self.has_deferred.load(Ordering::SeqCst) {
            return;
        }
        let ops = {
            let mut q = self.deferred.lock();
            self.has_deferred.store(false, Ordering::SeqCst);
            std::mem::take(&mut *q)
        };
        for op in ops {
            op(store);
        }
    }

    /// The script ends (its thread holds the store): BUSY is over, and the store work left
    /// while it was BUSY runs now.
    pub fn end_busy(&self, store: &mut crate::engine::StoreInner) {
        let ops = {
            let mut q = self.deferred.lock();
            self.busy.store(false, Ordering::SeqCst);
            self.has_deferred.store(false, Ordering::SeqCst);
            std::mem::take(&mut *q)
        };
        for op in ops {
            op(store);
        }
    }

    /// The BUSY error for other clients: it names the command that can stop the script.
    pub fn busy_error(&self) -> &'static str {
        if self.function.load(Ordering::Relaxed) {
            BUSY_FUNCTION_ERROR
        } else {
            BUSY_ERROR
        }
    }
}

/// How long [`ScriptStatus::wait_turn`] spins before it parks.
const WAIT_SPIN: std::time::Duration = std::time::Duration::from_micros(20);

pub const BUSY_ERROR: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION_ERROR: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// Bytes a single run may allocate beyond what its Lua state held when it started.
/// DEVIATION(redis): Redis puts no limit on script memory; past this a script gets
/// `ERR Error running script <name>, not enough memory` and the server keeps serving.
pub const MEMORY_LIMIT: usize = 256 * 1024 * 1024;

/// Script flags (shebang `flags=` and function flags), in the order Redis lists them.
pub mod script_flags {
    pub const NO_WRITES: u32 = 1;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    pub const NAMES: &[(u32, &str)] = &[
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];

    pub fn by_name(name: &[u8]) -> Option<u32> {
        NAMES
            .iter()
            .find(|(_, n)| n.as_bytes() == name)
            .map(|(f, _)| *f)
    }
}

pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// The text of an error raised from Rust code (a library function or a hook).
pub(crate) fn error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        mlua::Error::RuntimeError(msg) => msg.clone(),
        mlua::Error::MemoryError(msg) => msg.clone(),
        mlua::Error::WithContext { cause, .. } => error_text(cause),
        other => other.to_string(),
    }
}

/// What a run may do, decided by [`prepare`].
pub struct RunOpts<'a> {
    /// Sha1 of an EVAL script or the function's name (named in error replies).
    pub name: &'a str,
    /// Write commands fail (EVAL_RO/FCALL_RO, or the `no-writes` flag).
    pub read_only: bool,
    /// The `allow-oom` flag: deny-OOM commands run even over maxmemory.
    pub allow_oom: bool,
    /// Over maxmemory when the script started (a script without a shebang then gets OOM from
    /// its first deny-OOM command, as long as it has not written).
    pub oom_at_start: bool,
    /// FCALL: the callback gets `keys, args`; otherwise KEYS and ARGV are globals.
    pub function: bool,
}

/// Redis's checks before a script runs (`scriptPrepareForRun`). `flags` is None for an EVAL
/// script without a shebang; `ro_cmd` for EVAL_RO/EVALSHA_RO/FCALL_RO.
pub fn prepare<'a>(
    ctx: &Ctx,
    name: &'a str,
    flags: Option<u32>,
    ro_cmd: bool,
    function: bool,
) -> Result<RunOpts<'a>, Reply> {
    let oom = ctx.shared.maxmemory() > 0 && ctx.client.pre_command_oom;
    let Some(f) = flags else {
        return Ok(RunOpts {
            name,
            read_only: ro_cmd,
            allow_oom: false,
            oom_at_start: oom,
            function,
        });
    };
    if f & script_flags::NO_WRITES == 0 {
        if let Some(msg) = crate::aof::refuse_writes(ctx.shared) {
            return Err(Reply::Error(msg.into()));
        }
        // A script that may write is refused up front on a read-only replica or without
        // enough good replicas (Redis's scriptPrepareForRun); the master's link obeys.
        if let Some(msg) = crate::replica::refuse_writes(ctx.shared)
            && !ctx.client.handle.info.lock().master
        {
            return Err(Reply::error(msg));
        }
        if ro_cmd {
            return Err(Reply::error(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
    }
    if f & (script_flags::ALLOW_OOM | script_flags::NO_WRITES) == 0 && oom {
        return Err(Reply::error(crate::error::OOM));
    }
    Ok(RunOpts {
        name,
        read_only: ro_cmd || f & script_flags::NO_WRITES != 0,
        allow_oom: f & script_flags::ALLOW_OOM != 0,
        oom_at_start: oom,
        function,
    })
}

/// Parse an EVAL script's `#!<engine> [flags=a,b]` first line. Returns the flags (None without
/// a shebang) and the offset where the Lua code starts (the newline is kept so line numbers
/// count the shebang, as in Redis).
pub fn parse_eval_shebang(body: &[u8]) -> Result<(Option<u32>, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((None, 0));
    }
    let Some(nl) = body.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = &body[..nl];
    let mut parts = line.split(|&c| c == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    if engine != b"#!lua" {
        return Err(format!(
            "ERR Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut out = 0u32;
    for p in parts {
        let Some(list) = p.strip_prefix(b"flags=") else {
            return Err(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(p)
            ));
        };
        if list.is_empty() {
            continue;
        }
        for f in list.split(|&c| c == b',') {
            match script_flags::by_name(f) {
                Some(bit) => out |= bit,
                None => {
                    return Err(format!(
                        "ERR Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(f)
                    ));
                }
            }
        }
    }
    Ok((Some(out), nl))
}

/// The run in progress on this thread: what `redis.call`, `redis.setresp` and the
/// instruction hook reach. The `redis` API functions and the hook are created once per Lua
/// state (creating them per run dominated the cost of a short script); they find the run
/// through [`CURRENT`], which points at this value only while [`Engine::run`] is on the stack.
struct Run<'r, 'c> {
    ctx: RefCell<&'r mut Ctx<'c>>,
    status: &'r ScriptStatus,
    opts: &'r RunOpts<'r>,
    /// The EVAL/FCALL command, for FUNCTION STATS (recorded once the script runs long).
    argv: &'r [Bytes],
    /// `redis.setresp`: the protocol commands reply in, inside the script.
    resp: Cell<u8>,
    started: Instant,
    /// For busy-reply-threshold, read by the hook (not per run: most runs never need it).
    shared: &'r Arc<crate::server::Shared>,
    /// The hook has fired once: `status.running` holds this run's name and command.
    recorded: Cell<bool>,
    /// The run was killed: the hook fires at every instruction until the run ends.
    killed: Cell<bool>,
    /// The last place in the user's code the hook saw (chunk name, line): where a killed run
    /// was stopped.
    user_pos: RefCell<Option<(String, usize)>>,
}

thread_local! {
    /// The [`Run`] executing on this thread (type-erased), or null.
    static CURRENT: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
    /// FUNCTION LOAD: when the library's code must stop (see [`LoadDeadline`]).
    static LOAD_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Publishes a [`Run`] in [`CURRENT`] and restores the previous value when dropped, also when
/// a panic unwinds out of the run, so no pointer to a dead frame stays behind.
struct CurrentGuard {
    prev: *const (),
}

impl CurrentGuard {
    fn set(run: &Run<'_, '_>) -> CurrentGuard {
        let prev = CURRENT.replace(run as *const Run<'_, '_> as *const ());
        CurrentGuard { prev }
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        CURRENT.set(self.prev);
    }
}

/// Call `f` with the run in progress on this thread, if any. `f` is generic over the run's
/// lifetimes, so nothing borrowed from it can escape.
fn with_run<R>(f: impl for<'a, 'r, 'c> FnOnce(&'a Run<'r, 'c>) -> R) -> Option<R> {
    let p = CURRENT.get() as *const Run<'static, 'static>;
    // SAFETY: CURRENT is non-null only while a `CurrentGuard` lives, i.e. while the `Engine::run`
    // frame owning the `Run` it points to is on this thread's stack (the guard is dropped before
    // the `Run`, on return and on unwind). The `Run` is only accessed through shared references
    // (its mutable parts are `Cell`/`RefCell`).
    let run = unsafe { p.as_ref() }?;
    Some(f(run))
}

/// Sets the FUNCTION LOAD deadline the instruction hook enforces, cleared when dropped.
pub(crate) struct LoadDeadline;

impl LoadDeadline {
    pub(crate) fn set(deadline: Instant) -> LoadDeadline {
        LOAD_DEADLINE.set(Some(deadline));
        LoadDeadline
    }
}

impl Drop for LoadDeadline {
    fn drop(&mut self) {
        LOAD_DEADLINE.set(None);
    }
}

/// Instructions between two calls of the hook.
const HOOK_INSTRUCTIONS: u32 = 100_000;

/// Install the instruction-count hook, firing every `every` instructions.
fn install_hook(lua: &Lua, every: u32) {
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(every),
        instruction_hook,
    )
    .expect("lua hook");
}

/// The instruction-count hook, installed once per Lua state: turns the server BUSY once a run
/// passes busy-reply-threshold, stops it on SCRIPT KILL / FUNCTION KILL, and stops a library's
/// load-time code past its deadline.
///
/// A kill must not be swallowed by a `pcall` in the script (`while true do pcall(f) end`): as
/// Redis does, once killed the hook fires at every instruction and raises the error again each
/// time, so it escapes at the first instruction outside the `pcall`. (Errors raised in the hook
/// run the error handler with hooks off, so the reply still names the script and line.)
fn instruction_hook(lua: &Lua, debug: &mlua::debug::Debug) -> mlua::Result<VmState> {
    if let Some(r) = with_run(|run| {
        let st = run.status;
        // Where the user's code is (the kill reply names it; a hook call that lands in the
        // server's own Lua helpers keeps the last place in the user's code).
        if let Some(src) = debug.source().source
            && src.starts_with("@user_")
        {
            run.user_pos
                .replace(Some((src.into_owned(), debug.current_line().unwrap_or(0))));
        }
        if !run.recorded.replace(true) {
            // Recorded here rather than at the start of every run: until the script turns BUSY
            // other clients wait for it to end, so only a long run can be observed.
            *st.running.lock() = Some((run.opts.name.to_string(), run.argv.to_vec()));
            hand_off_worker(|| {});
        }
        let threshold = run.shared.config_i64("busy-reply-threshold");
        if threshold > 0
            && run.started.elapsed().as_millis() as i64 >= threshold
            && !st.busy.swap(true, Ordering::SeqCst)
        {
            hand_off_worker(|| st.signal_changed());
        }
        if st.has_deferred.load(Ordering::Relaxed)
            && let Ok(mut ctx) = run.ctx.try_borrow_mut()
        {
            st.run_deferred(ctx.store());
        }
        if st.kill.load(Ordering::SeqCst) {
            if !run.killed.replace(true) {
                install_hook(lua, 1);
            }

            return Err(mlua::Error::RuntimeError(
                "ERR Script killed by user with SCRIPT KILL...".into(),
            ));
        }
        Ok(VmState::Continue)
    }) {
        return r;
    }
    if let Some(deadline) = LOAD_DEADLINE.get()
        && Instant::now() > deadline
    {
        return Err(mlua::Error::RuntimeError(
            "ERR FUNCTION LOAD timeout".into(),
        ));
    }
    Ok(VmState::Continue)
}

/// A script still running at the first hook call is a long one: hand this runtime worker's
/// queued tasks and its place in the scheduler to another thread (what `block_in_place` does)
/// so the rest of the server keeps answering (BUSY, SCRIPT KILL) while it runs. Doing it here
/// rather than around every run spares the short scripts (nearly all), which end before the
/// hook first runs, a thread hand-over each.
///
/// `then` runs while this thread holds no worker: tasks it wakes go to the shared queue, not
/// to this worker's own slot (where nobody else would run them until the script ends).
fn hand_off_worker(then: impl FnOnce()) {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if !multi_thread {
        then();
        return;
    }
    tokio::task::block_in_place(|| {
        then();
        // The pause lets the thread tokio wakes take the worker over before this one could
        // take it back on return; if it is late, the queued tasks are still left stealable
        // and the BUSY wake-up goes through here again.
        std::thread::sleep(HAND_OFF_PAUSE);
    });
}

/// See [`hand_off_worker`].
const HAND_OFF_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);

/// `redis.setresp` (checked in `libs`): the protocol of the replies the script gets.
fn set_resp(resp: u8) {
    with_run(|run| run.resp.set(resp));
}

/// `redis.call` / `redis.pcall` (the C functions in `libs`): run the command `argv` on behalf of
/// the script in progress. Returns its reply, made ready for [`convert::push_reply`], and the
/// protocol the script reads replies in; a failure is a `Reply::Error` (the C functions turn
/// it into an `{err=...}` table). The flag says the call got as far as the command's checks
/// (its error was counted there or when it ran); false for arguments that are not a call at
/// all. Plain Rust: it touches no Lua state.
pub(crate) fn run_script_command(argv: Result<Vec<Bytes>, &'static str>) -> (Reply, u8, bool) {
    let argv = match argv {
        Ok(a) => a,
        Err(msg) => return (Reply::error(msg), 2, false),
    };
    let outcome = with_run(|run| {
        let resp = run.resp.get();
        let Ok(mut ctx) = run.ctx.try_borrow_mut() else {
            return Err("ERR redis.call is not allowed here".to_string());
        };
        let entry = check_call(&mut ctx, &argv, run.opts, run.status)?;
        let saved_resp = ctx.client.resp;
        ctx.client.resp = resp;
        let before = ctx.nested_changes();
        let reply = call_nested(&mut ctx, entry, &argv);
        ctx.client.resp = saved_resp;
        if ctx.nested_changes() > before {
            run.status.wrote.store(true, Ordering::SeqCst);
        }
        Ok((convert::for_script(reply, resp), resp))
    });
    match outcome {
        None => (Reply::error("ERR redis.call is not allowed here"), 2, false),
        // Refused by the checks Redis's scriptCall makes, which count the error as a call's.
        Some(Err(msg)) => (Reply::Error(msg.into()), 2, true),
        Some(Ok((r, resp))) => (r, resp, true),
    }
}

/// `redis.acl_check_cmd(command, arg, ...)`: whether the user running the script may run that
/// command with those arguments.
pub(crate) fn acl_check_cmd(_lua: &Lua, args: mlua::MultiValue) -> mlua::Result<bool> {
    let fail = |m: &str| mlua::Error::RuntimeError(m.to_string());
    let argv = script_argv(&args).map_err(|m| fail(&m))?;
    let outside = "ERR redis.acl_check_cmd can only be called inside a script invocation";
    let verdict = with_run(|run| {
        let Ok(ctx) = run.ctx.try_borrow() else {
            return Err(outside);
        };
        let Ok(entry) = crate::command::resolve(&argv) else {
            return Err("ERR Invalid command passed to redis.acl_check_cmd()");
        };
        Ok(crate::acl::allowed(ctx.shared, ctx.client, entry, &argv))
    });
    match verdict {
        None => Err(fail(outside)),
        Some(Err(m)) => Err(fail(m)),
        Some(Ok(ok)) => Ok(ok),
    }
}

/// One Lua state with the libraries and the `redis` API installed.
pub struct Engine {
    pub(crate) lua: Lua,
    /// Lua-side helpers (`handler`, ...).
    pub(crate) hooks: Table,
    /// `hooks.handler`: the message handler every run is called under.
    handler: Function,
}

impl Engine {
    /// `extra`: Lua code run with the helper table before the globals are frozen.
    pub fn new(extra: Option<&str>) -> Engine {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )
        .expect("lua state");
        let hooks = libs::install(&lua, extra).expect("lua libraries");
        let handler: Function = hooks.raw_get("handler").expect("handler");
        install_hook(&lua, HOOK_INSTRUCTIONS);
        Engine {
            lua,
            hooks,
            handler,
        }
    }

    /// Compile `code` as a chunk named `chunk` (`@user_script`, `@user_function`).
    pub fn compile(&self, code: &[u8], chunk: &str) -> Result<Function, String> {
        self.lua
            .load(code)
            .set_name(chunk)
            .into_function()
            .map_err(|e| match &e {
                mlua::Error::SyntaxError { message, .. } => message.clone(),
                other => error_text(other),
            })
    }

    /// Run `f` (an EVAL script body or a function callback) with its keys and args.
    pub fn run(
        &self,
        ctx: &mut Ctx,
        status: &Arc<ScriptStatus>,
        f: &Function,
        keys: &[Bytes],
        args: &[Bytes],
        opts: &RunOpts,
    ) -> Reply {
        let lua = &self.lua;
        let outer_tx = ctx.begin_tx();
        let saved_db = ctx.client.db;
        status.kill.store(false, Ordering::SeqCst);
        status.wrote.store(false, Ordering::SeqCst);
        status.function.store(opts.function, Ordering::SeqCst);
        status
            .running_since
            .store(crate::store::unix_ms(), Ordering::SeqCst);
        let argv = ctx.argv();
        let shared = ctx.shared;
        let _ = lua.set_memory_limit(lua.used_memory().saturating_add(MEMORY_LIMIT));
        let run = Run {
            ctx: RefCell::new(&mut *ctx),
            status,
            opts,
            argv,
            resp: Cell::new(2),
            started: Instant::now(),
            shared,
            recorded: Cell::new(false),
            killed: Cell::new(false),
            user_pos: RefCell::new(None),
        };
        let result = {
            let _current = CurrentGuard::set(&run);
            self.invoke_script(f, keys, args, opts, &run)
        };
        let killed = run.killed.get().then(|| run.user_pos.take());
        if killed.is_some() {
            install_hook(lua, HOOK_INSTRUCTIONS);
        }
        let recorded = run.recorded.get();
        let _ = lua.set_memory_limit(0);
        if matches!(&result, Ok(Reply::Error(e)) if e.ends_with("not enough memory"))
            || matches!(&result, Err(mlua::Error::MemoryError(_)))
        {
            lua.gc_collect().ok();
        }
        status.end_busy(ctx.store());
        if recorded {
            *status.running.lock() = None;
        }
        status.running_since.store(0, Ordering::SeqCst);
        status.signal_changed();
        ctx.client.db = saved_db;
        ctx.end_tx(outer_tx);
        match result {
            // Killed: as Redis words it, naming the script and where its code was stopped.
            _ if killed.is_some() => {
                let (chunk, line) = killed.flatten().unwrap_or_else(|| {
                    let chunk = if opts.function {
                        "@user_function"
                    } else {
                        "@user_script"
                    };
                    (chunk.to_string(), 1)
                });
                Reply::Error(
                    format!(
                        "ERR Script killed by user with SCRIPT KILL... script: {}, on {chunk}:{line}.",
                        opts.name
                    )
                    .into(),
                )
            }
            Ok(r) => r,
            Err(e) => Reply::Error(
                format!("ERR Error running script {}, {}", opts.name, error_text(&e)).into(),
            ),
        }
    }

    /// The Lua part of [`Engine::run`]: KEYS/ARGV, the call, the reply.
    fn invoke_script(
        &self,
        f: &Function,
        keys: &[Bytes],
        args: &[Bytes],
        opts: &RunOpts,
        run: &Run<'_, '_>,
    ) -> mlua::Result<Reply> {
        use mlua::ffi;
        let function = opts.function;
        // One protected call builds KEYS and ARGV and calls `f` under the message handler, as
        // Redis's luaCallFunction does with lua_pcall: through mlua's API each table, string
        // and global would be a protected call of its own while the memory limit is set, and a
        // Lua-side wrapper around xpcall would add two calls per run.
        // SAFETY: the closure only uses the Lua C API on the stack it is handed (the two
        // arguments `handler` and `f`), within the stack space it checks; it owns nothing with
        // a destructor, so a memory error unwinding out of it (to mlua's protected call, which
        // reports it as an `Err`) skips no drop.
        let (ok, v): (bool, LuaValue) = unsafe {
            self.lua.exec_raw((&self.handler, f), |state| {
                if ffi::lua_checkstack(state, 8) == 0 {
                    ffi::luaL_error(state, c"stack overflow".as_ptr());
                }
                // Restart the instruction count: Lua carries it over from run to run, so
                // without this the hook (and its worker hand-off, a 1 ms pause) would land in
                // every few hundredth short script instead of only in runs that are long.
                ffi::lua_sethook(
                    state,
                    ffi::lua_gethook(state),
                    ffi::lua_gethookmask(state),
                    ffi::lua_gethookcount(state),
                );
                // Stack: handler f.
                ffi::lua_pushvalue(state, 2);
                for items in [keys, args] {
                    ffi::lua_createtable(state, items.len().min(i32::MAX as usize) as _, 0);
                    for (i, item) in items.iter().enumerate() {
                        ffi::lua_pushlstring(state, item.as_ptr().cast(), item.len());
                        ffi::lua_rawseti(state, -2, (i + 1) as _);
                    }
                }
                // Stack: handler f f KEYS ARGV.
                let nargs = if function {
                    2
                } else {
                    // EVAL: KEYS and ARGV are globals (left in place after the run, as in
                    // Redis); the globals table is read-only for scripts, hence rawset.
                    ffi::lua_pushstring(state, c"ARGV".as_ptr());
                    ffi::lua_insert(state, -2);
                    ffi::lua_rawset(state, ffi::LUA_GLOBALSINDEX);
                    ffi::lua_pushstring(state, c"KEYS".as_ptr());
                    ffi::lua_insert(state, -2);
                    ffi::lua_rawset(state, ffi::LUA_GLOBALSINDEX);
                    0
                };
                let status = ffi::lua_pcall(state, nargs, 1, 1);
                // Stack: handler f result. Leave (ok, result).
                ffi::lua_replace(state, 1);
                ffi::lua_settop(state, 1);
                ffi::lua_pushboolean(state, (status == 0) as std::ffi::c_int);
                ffi::lua_insert(state, 1);
            })?
        };
        // A command the script ran panicked: its panic was caught before it could unwind
        // through Lua's C frames (see `libs::run_call`) and goes on from here.
        libs::resume_command_panic();
        let resp = run.resp.get();
        if ok {
            return Ok(lua_to_reply(&v, resp));
        }
        Ok(raised_error(&v, opts.name))
    }
}

/// The checks `redis.call` makes before running a command (`scriptCall`), in Redis's order.
fn check_call(
    ctx: &mut Ctx,
    argv: &[Bytes],
    opts: &RunOpts,
    status: &ScriptStatus,
) -> Result<&'static crate::command::CommandEntry, String> {
    let Ok(entry) = resolve(argv) else {
        return Err("ERR Unknown Redis command called from script".into());
    };
    // Every refusal of a known command counts as a rejected call of it (INFO commandstats),
    // as Redis's scriptCall counts them.
    match check_resolved(ctx, entry, argv, opts, status) {
        Ok(()) => Ok(entry),
        Err(e) => {
            entry.rejected.fetch_add(1, Ordering::Relaxed);
            Err(e)
        }
    }
}

fn check_resolved(
    ctx: &mut Ctx,
    entry: &'static crate::command::CommandEntry,
    argv: &[Bytes],
    opts: &RunOpts,
    status: &ScriptStatus,
) -> Result<(), String> {
    let arity = entry.spec.arity;
    let ok = if arity >= 0 {
        argv.len() == arity as usize
    } else {
        argv.len() >= (-arity) as usize
    };
    if !ok {
        return Err("ERR Wrong number of args calling Redis command from script".into());
    }
    if entry.has_flag(flags::NOSCRIPT) {
        return Err("ERR This Redis command is not allowed from script".into());
    }
    // The calling user's permissions, before the read-only and OOM checks (Redis's order).
    if ctx.shared.acl.restricted()
        && let Some(msg) = crate::acl::check_in_script(ctx.shared, ctx.client, entry, argv)
    {
        return Err(msg.into());
    }
    // PUBLISH and the other may-replicate commands count as writes here (Redis's
    // `scriptCall`), so a read-only script never feeds the replication stream.
    if opts.read_only && entry.has_flag(flags::WRITE | flags::MAY_REPLICATE) {
        return Err("ERR Write commands are not allowed from read-only scripts.".into());
    }
    if entry.has_flag(flags::WRITE)
        && let Some(msg) = crate::aof::refuse_writes(ctx.shared)
    {
        return Err(msg);
    }
    if entry.has_flag(flags::WRITE)
        && let Some(msg) = crate::replica::refuse_writes(ctx.shared)
        && !ctx.client.handle.info.lock().master
    {
        return Err(msg.into());
    }
    if !opts.allow_oom
        && opts.oom_at_start
        && !status.wrote.load(Ordering::SeqCst)
        && entry.has_flag(flags::DENYOOM)
    {
        return Err(crate::error::OOM.into());
    }
    Ok(())
}

/// The reply for an error raised by a script: the handler's `{err, source, line}` table becomes
/// `<err> script: <name>, on <source>:<line>.`; anything else (a memory error, which Lua raises
/// without calling the handler) is reported as Redis reports an error it cannot place.
fn raised_error(v: &LuaValue, name: &str) -> Reply {
    let LuaValue::Table(t) = v else {
        let msg = match v {
            LuaValue::String(s) => s.to_string_lossy(),
            LuaValue::Error(e) => error_text(e),
            other => other.to_string().unwrap_or_default(),
        };
        let msg: String = msg.chars().take(100).collect();
        return Reply::Error(format!("ERR Error running script {name}, {msg}").into());
    };
    let err = match t.raw_get::<LuaValue>("err") {
        Ok(LuaValue::String(s)) => s.to_string_lossy(),
        _ => return Reply::error("ERR Error running script"),
    };
    let err = err.strip_prefix('-').unwrap_or(&err).to_string();
    let source = t.raw_get::<Option<String>>("source").ok().flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    match (source, line) {
        (Some(src), Some(line)) => {
            Reply::Error(format!("{err} script: {name}, on {src}:{line}.").into())
        }
        _ => Reply::Error(err.into()),
    }
}

/// A cached EVAL script.
struct Script {
    f: Function,
    /// Shebang flags; None without a shebang.
    flags: Option<u32>,
}

pub struct Scripting {
    eval: Engine,
    /// EVAL cache: sha1 hex -> compiled script.
    scripts: HashMap<String, Script>,
    pub functions: functions::Functions,
}

impl Scripting {
    pub fn new() -> Scripting {
        Scripting {
            eval: Engine::new(None),
            scripts: HashMap::new(),
            functions: functions::Functions::new(),
        }
    }

    pub fn exists(&self, sha: &str) -> bool {
        self.scripts.contains_key(sha)
    }

    /// The flags an EVAL/EVALSHA/FCALL declares (its shebang, or the function's flags), as
    /// Redis's `getCommandFlags` reads them before running it: None when it declares none (no
    /// shebang, an unknown script or function).
    pub fn declared_flags(&self, argv: &[Bytes]) -> Option<u32> {
        let name = argv.first()?;
        let body = argv.get(1)?;
        if name.eq_ignore_ascii_case(b"fcall") {
            return self.functions.flags_of(body);
        }
        let sha = if name.eq_ignore_ascii_case(b"evalsha") {
            if body.len() != 40 {
                return None;
            }
            String::from_utf8_lossy(body).to_ascii_lowercase()
        } else {
            sha1_hex(body)
        };
        match self.scripts.get(&sha) {
            Some(s) => s.flags,
            None if name.eq_ignore_ascii_case(b"eval") => parse_eval_shebang(body).ok()?.0,
            None => None,
        }
    }

    pub fn flush(&mut self) {
        self.scripts.clear();
        self.eval.lua.gc_collect().ok();
    }

    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// Compile and cache `body`; returns its sha1 or Redis's compile/shebang error.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, start) = parse_eval_shebang(body)?;
        let f = self
            .eval
            .compile(&body[start..], "@user_script")
            .map_err(|msg| format!("ERR Error compiling script (new function): {msg}"))?;
        self.scripts.insert(sha.clone(), Script { f, flags });
        Ok(sha)
    }

    /// Run a cached script with KEYS and ARGV. `ro_cmd` for EVAL_RO/EVALSHA_RO.
    pub fn eval(
        &mut self,
        ctx: &mut Ctx,
        status: &Arc<ScriptStatus>,
        sha: &str,
        keys: &[Bytes],
        args: &[Bytes],
        ro_cmd: bool,
    ) -> Reply {
        let Some(script) = self.scripts.get(sha) else {
            return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
        };
        let opts = match prepare(ctx, sha, script.flags, ro_cmd, false) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let reply = self.eval.run(ctx, status, &script.f, keys, args, &opts);
        // Only the EVAL state and the cache can have changed.
        status
            .cached_scripts
            .store(self.scripts.len(), Ordering::Relaxed);
        status
            .vm_eval_bytes
            .store(self.eval.lua.used_memory(), Ordering::Relaxed);
        reply
    }

    /// Refresh the INFO figures in `status`.
    pub fn publish(&self, status: &ScriptStatus) {
        status
            .cached_scripts
            .store(self.scripts.len(), Ordering::Relaxed);
        status
            .vm_eval_bytes
            .store(self.eval.lua.used_memory(), Ordering::Relaxed);
        status
            .vm_functions_bytes
            .store(self.functions.used_memory(), Ordering::Relaxed);
    }
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting::new()
    }
}

/// Arguments of redis.call: strings and numbers (numbers as Lua prints integers).
fn script_argv(args: &mlua::MultiValue) -> Result<Vec<Bytes>, String> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call".into());
    }
    let mut out = Vec::with_capacity(args.len());
    for a in args.iter() {
        match a {
            LuaValue::String(s) => out.push(Bytes::copy_from_slice(&s.as_bytes())),
            LuaValue::Integer(i) => out.push(Bytes::from(i.to_string())),
            LuaValue::Number(n) => out.push(Bytes::from(convert::lua_number_string(*n))),
            _ => {
                return Err(
                    "ERR Lua redis lib command arguments must be strings or integers".into(),
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `redis` API reaches a run only while one is in progress on this thread.
    #[test]
    fn redis_call_outside_a_run_is_refused() {
        let e = Engine::new(None);
        let t: Table = e.lua.load("return redis.pcall('ping')").eval().unwrap();
        assert_eq!(
            t.raw_get::<String>("err").unwrap(),
            "ERR redis.call is not allowed here"
        );
        let r: mlua::Result<LuaValue> = e.lua.load("return redis.call('ping')").eval();
        assert!(r.is_err());
        assert!(CURRENT.get().is_null());
        // The hook fires (every HOOK_INSTRUCTIONS) and lets code outside a run continue.
        let n: i64 = e
            .lua
            .load("local n = 0 for i = 1, 300000 do n = n + 1 end return n")
            .eval()
            .unwrap();
        assert_eq!(n, 300000);
    }

    #[test]
    fn eval_shebang_is_parsed_like_redis() {
        assert_eq!(parse_eval_shebang(b"return 1"), Ok((None, 0)));
        assert_eq!(parse_eval_shebang(b"#!lua\nreturn 1"), Ok((Some(0), 5)));
        assert_eq!(
            parse_eval_shebang(b"#!lua flags=no-writes,allow-oom\nx"),
            Ok((Some(script_flags::NO_WRITES | script_flags::ALLOW_OOM), 31))
        );
        assert_eq!(parse_eval_shebang(b"#!lua flags=\nx"), Ok((Some(0), 12)));
        for (body, err) in [
            (&b"#!lua"[..], "ERR Invalid script shebang"),
            (b"#!js\n", "ERR Unexpected engine in script shebang: #!js"),
            (
                b"#!lua foo=bar\n",
                "ERR Unknown lua shebang option: foo=bar",
            ),
            (
                b"#!lua flags=bad\n",
                "ERR Unexpected flag in script shebang: bad",
            ),
            (
                b"#!lua flags=no-writes,,x\n",
                "ERR Unexpected flag in script shebang: ",
            ),
        ] {
            assert_eq!(parse_eval_shebang(body), Err(err.to_string()));
        }
    }
}
