//! Client connections.
//!
//! - [`ClientHandle`]: what other parts of the server may touch of a client (its outbox, the
//!   fields CLIENT LIST shows, the kill switch), shared through the [`Registry`].
//! - [`ClientState`]: what only the client's own connection task touches (selected db, protocol,
//!   authentication, MULTI queue, subscriptions). Command handlers get it through `Ctx`.
//! - `task::serve`: the reader loop (decode, dispatch, wait while blocked) and the writer task.

pub mod evict;
pub mod outbox;
pub mod task;

use bytes::Bytes;
use dashmap::DashMap;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;
use tokio::sync::Notify;

pub use evict::ClientMemory;
pub use outbox::{Outbox, OutputLimit};

/// The fields CLIENT LIST / CLIENT INFO show, updated by the owning connection.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub db: usize,
    pub resp: u8,
    pub last_cmd: &'static str,
    pub multi: Option<usize>,
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    pub monitor: bool,
    pub no_evict: bool,
    pub no_touch: bool,
    /// CLIENT LIST: `t` (tracking), `B` (BCAST); `redir=`.
    pub tracking: bool,
    pub tracking_bcast: bool,
    pub redir: i64,
    pub user: String,
    /// A replica attached to this server (CLIENT LIST flag `S`, type `replica`).
    pub replica: bool,
    /// The link to this server's master (flag `M`, type `master`).
    pub master: bool,
}

pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    /// True for unix-socket clients (CLIENT LIST flag `U`).
    pub unix: bool,
    pub created: Instant,
    pub outbox: Outbox,
    pub info: Mutex<ClientInfo>,
    /// Unix ms of the last command (CLIENT LIST `idle`, `timeout`).
    pub last_interaction: AtomicU64,
    killed: AtomicBool,
    kill_notify: Notify,
    /// Wakes the connection task while it waits in a blocking command.
    pub wake: Notify,
    /// CLIENT LIST `qbuf`: bytes in the query buffer. As in Redis, while a read batch is being
    /// executed that is the whole batch (the commands already run included), between batches
    /// what is left of a partial command. Stored once per batch (relaxed).
    pub qbuf: AtomicUsize,
    /// The query buffer's capacity when `qbuf` was stored (for `qbuf-free`).
    pub qbuf_cap: AtomicUsize,
    /// The cron asks a connection idle for a while to give its buffers back (see
    /// [`Registry::shrink_idle`]).
    pub shrink: Notify,
    /// What this client counts for in [`ClientMemory`]'s total ([`evict::GONE`] once it
    /// has gone).
    pub counted_mem: AtomicUsize,
    /// The replication offset right after this client's blocked command was served (its pop
    /// was made by the command that fed the key, on another thread): `WAIT` waits for the
    /// larger of this and `ClientState::woff`. DEVIATION(redis): Redis 7.0 leaves a served
    /// client's offset where it was before it blocked, so a consumer's `WAIT` after a served
    /// BRPOP could say the pop was replicated when it was not; Redis 7.2, which runs the
    /// blocked command again when it is served, behaves as this does.
    pub served_woff: AtomicU64,
}

impl ClientHandle {
    pub fn new(id: u64, addr: String, laddr: String, unix: bool) -> Self {
        ClientHandle {
            id,
            addr,
            laddr,
            unix,
            created: Instant::now(),
            outbox: Outbox::new(),
            info: Mutex::new(ClientInfo {
                resp: 2,
                user: "default".into(),
                ..Default::default()
            }),
            last_interaction: AtomicU64::new(crate::store::unix_ms() as u64),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            wake: Notify::new(),
            qbuf: AtomicUsize::new(0),
            qbuf_cap: AtomicUsize::new(0),
            shrink: Notify::new(),
            counted_mem: AtomicUsize::new(0),
            served_woff: AtomicU64::new(0),
        }
    }

    /// Close the connection as soon as possible, dropping pending output (CLIENT KILL, output
    /// buffer limits, shutdown).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.outbox.kill();
        self.kill_notify.notify_waiters();
        self.wake.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst) || self.outbox.is_killed()
    }

    /// Resolves once the client is killed. Any number of tasks may wait (the reader and the
    /// writer both do): each registers before it checks, so no kill is missed.
    pub async fn killed(&self) {
        loop {
            let n = self.kill_notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.is_killed() {
                return;
            }
            n.await;
        }
    }

    /// Called by code that killed the client through its outbox (output buffer limit).
    pub fn notify_killed(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_notify.notify_waiters();
        self.wake.notify_one();
    }
}

/// A queued MULTI transaction.
#[derive(Default)]
pub struct MultiState {
    pub queue: Vec<Vec<Bytes>>,
    /// A command failed to queue (unknown, arity...): EXEC replies EXECABORT.
    pub aborted: bool,
}

/// CLIENT REPLY ON|OFF|SKIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    SkipNext,
    Skip,
}

/// A client's channels, patterns or shard channels, in the order it subscribed: an
/// UNSUBSCRIBE / PUNSUBSCRIBE without arguments confirms them in that order, as Redis 7.0
/// does for patterns (a list there).
pub type Subscriptions = indexmap::IndexSet<Bytes, ahash::RandomState>;

/// State owned by the connection task.
pub struct ClientState {
    pub handle: Arc<ClientHandle>,
    pub id: u64,
    pub db: usize,
    pub resp: u8,
    pub authenticated: bool,
    /// The ACL user this connection runs as (None: `default`).
    pub user: Option<crate::acl::UserRef>,
    pub multi: Option<MultiState>,
    /// Watched keys: (db, key, version seen), see `command::transaction`.
    pub watched: Vec<(usize, Bytes, u64)>,
    pub subs: Subscriptions,
    pub psubs: Subscriptions,
    pub ssubs: Subscriptions,
    pub close_after_reply: bool,
    pub reply_mode: ReplyMode,
    pub monitor: bool,
    /// CLIENT TRACKING settings (None: off).
    pub tracking: Option<crate::engine::tracking::ClientTracking>,
    /// Invalidations of keys this client's own command wrote, sent after its reply.
    pub tracking_pending: Vec<crate::engine::tracking::Invalidation>,
    /// Start of the command being executed (its time snapshot for expiry decisions).
    pub cmd_start: Instant,
    /// End of the previous command when nothing happened in between (same pipelined batch):
    /// the next command starts there instead of reading the clock again.
    pub clock: Option<Instant>,
    /// What REPLCONF announced before SYNC/PSYNC: listening port, address, capabilities.
    pub replconf: ReplConf,
    /// Replication offset right after this client's last write (what WAIT waits for).
    pub woff: u64,
    /// Memory was over `maxmemory` (and eviction could not bring it under) when the running
    /// command was admitted: a script without a shebang then gets OOM from its first deny-OOM
    /// command (Redis's `pre_command_oom_state`, kept per client here because commands of
    /// different clients run in parallel up to the store lock).
    pub pre_command_oom: bool,
}

/// What a replica announces with REPLCONF.
#[derive(Debug, Default, Clone)]
pub struct ReplConf {
    pub port: u16,
    pub ip: Option<String>,
    /// `capa psync2`: it understands `+CONTINUE <replid>`.
    pub psync2: bool,
}

impl ClientState {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        ClientState {
            id: handle.id,
            handle,
            db: 0,
            resp: 2,
            authenticated,
            user: None,
            multi: None,
            watched: Vec::new(),
            subs: Subscriptions::default(),
            psubs: Subscriptions::default(),
            ssubs: Subscriptions::default(),
            close_after_reply: false,
            reply_mode: ReplyMode::On,
            monitor: false,
            tracking: None,
            tracking_pending: Vec::new(),
            cmd_start: Instant::now(),
            clock: None,
            replconf: ReplConf::default(),
            woff: 0,
            pre_command_oom: false,
        }
    }

    /// Channels + patterns + shard channels this client is subscribed to.
    pub fn subscription_count(&self) -> usize {
        self.subs.len() + self.psubs.len() + self.ssubs.len()
    }

    /// RESP2 clients with subscriptions are restricted to the pub/sub commands.
    pub fn in_pubsub_context(&self) -> bool {
        self.resp == 2 && self.subscription_count() > 0
    }
}

/// All connected clients, by id (CLIENT LIST/KILL/UNBLOCK, INFO clients, shutdown).
#[derive(Default)]
pub struct Registry {
    clients: DashMap<u64, Arc<ClientHandle>>,
    next_id: AtomicU64,
    /// Client eviction's accounting (shared with the pub/sub hub).
    pub memory: Arc<ClientMemory>,
}

impl Registry {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }
    pub fn add(&self, h: Arc<ClientHandle>) {
        self.clients.insert(h.id, h);
    }
    pub fn remove(&self, id: u64) {
        if let Some((_, h)) = self.clients.remove(&id) {
            self.memory.forget(&h);
        }
    }

    /// A registry whose client eviction accounting is `memory`.
    pub fn with_memory(memory: Arc<ClientMemory>) -> Self {
        Registry {
            memory,
            ..Registry::default()
        }
    }

    /// Measure every client again (client eviction was just turned on: nothing was tracked
    /// while it was off), then evict if that is over the limit.
    pub fn recount_memory(&self) {
        for e in self.clients.iter() {
            self.memory.recount(e.value());
        }
        self.evict_clients();
    }

    /// `h` changed its buffers: count it again and evict clients if the total is over
    /// `maxmemory-clients` (one atomic load while the limit is off). See [`evict`].
    #[inline]
    pub fn memory_changed(&self, h: &ClientHandle) {
        if self.memory.limit() != 0 {
            self.memory.recount(h);
            self.evict_clients();
        }
    }

    /// Disconnect the biggest evictable clients while the clients' memory is over
    /// `maxmemory-clients` (Redis's evictClients).
    #[inline]
    pub fn evict_clients(&self) {
        self.memory.evict(self);
    }
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.get(&id).map(|e| e.value().clone())
    }
    pub fn len(&self) -> usize {
        self.clients.len()
    }
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
    /// Ask every connection idle for more than `idle_ms` that still holds an empty query
    /// buffer to free it (and its reply buffer), as Redis's clientsCronResizeQueryBuffer
    /// trims the buffer of a client idle for over two seconds. Costs two atomic loads per
    /// client; a connection it wakes frees its buffers and waits for its next request with
    /// none (see `task::read_loop`).
    pub fn shrink_idle(&self, now_ms: u64, idle_ms: u64) {
        for e in self.clients.iter() {
            let h = e.value();
            if h.qbuf_cap.load(Ordering::Relaxed) > 0
                && now_ms.saturating_sub(h.last_interaction.load(Ordering::Relaxed)) > idle_ms
            {
                h.shrink.notify_one();
            }
        }
    }

    /// INFO `mem_clients_normal`: the memory of the normal and pub/sub clients, as client
    /// eviction counts it (the running total while `maxmemory-clients` keeps one, otherwise
    /// measured now, one client at a time).
    pub fn normal_memory(&self) -> u64 {
        if self.memory.limit() != 0 {
            return self.memory.total().max(0) as u64;
        }
        self.clients
            .iter()
            .map(|e| e.value().counted_usage() as u64)
            .sum()
    }

    /// Every client, ordered by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        let mut v: Vec<_> = self.clients.iter().map(|e| e.value().clone()).collect();
        v.sort_by_key(|h| h.id);
        v
    }
}
