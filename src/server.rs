//! The server: shared state, listeners, background cycles and shutdown.
//!
//! API: `run(config)` binds the listeners (TCP and TLS from `bind`/`port`/`tls-port`, handed to
//! the supervisor of [`crate::listener`], which CONFIG SET asks to move them; optionally
//! `unixsocket`), spawns one task per connection (`connection::task::serve`), the active-expiry
//! cycle (every 1000/hz ms, bounded work per pass), the metrics endpoint when `metrics-port` is
//! set (bound before the AOF loads, see [`crate::metrics`]) and the signal handler, and returns
//! when a shutdown (SIGTERM, SIGINT, SHUTDOWN) has stopped the accept loops and flushed what
//! must be flushed.

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use crate::command::{CommandEntry, flags};
use crate::config::Config;
use crate::connection::{ClientHandle, ClientState, OutputLimit, Registry};
use crate::engine::{Store, StoreInner};
use crate::protocol::Reply;
use crate::pubsub::Hub;
use crate::store::{unix_ms, unix_us};

/// INFO's `mem_allocator` (the binary's global allocator, see `main.rs`).
pub const ALLOCATOR: &str = "jemalloc-5.3.0";

#[derive(Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands: AtomicU64,
    pub failed_calls: AtomicU64,
    pub rejected_calls: AtomicU64,
    pub net_in: AtomicU64,
    pub net_out: AtomicU64,
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    /// Shared with the pub/sub hub, which disconnects subscribers too.
    pub output_limit_disconnections: Arc<AtomicU64>,
    pub peak_memory: AtomicU64,
    /// `used_memory()` as last sampled (every [`memory::SAMPLE_EVERY`] while maxmemory is
    /// set, else by the cron); the maxmemory check adds `memory_delta` to it.
    pub used_memory: AtomicU64,
    /// Net bytes allocated by commands since `used_memory` was sampled (see
    /// [`Shared::note_command_memory`]), less what eviction freed since.
    pub memory_delta: AtomicI64,
    /// Full resynchronisations served, partial ones accepted and refused (INFO stats).
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Keys evicted for `maxmemory` (INFO `evicted_keys`).
    pub evicted_keys: AtomicU64,
    /// Net bytes recent eviction passes queued for clients (tracking invalidations, keyspace
    /// events), not counted against `maxmemory` until `eviction_output_until` (microseconds
    /// since `started`): see [`Shared::unflushed_eviction_output`].
    pub eviction_output: AtomicI64,
    pub eviction_output_until: AtomicU64,
    /// Microseconds since `started`, plus one, at which used memory was first found over
    /// `maxmemory` without eviction bringing it back (0: it is not); INFO's
    /// `current_eviction_exceeded_time`.
    pub eviction_exceeded_since: AtomicU64,
    /// Microseconds spent over `maxmemory` in periods that ended (INFO's
    /// `total_eviction_exceeded_time`).
    pub eviction_exceeded_total: AtomicU64,
    /// Error replies by error code (INFO errorstats), in code order.
    pub errors: Mutex<std::collections::BTreeMap<String, u64>>,
}

/// Distinct error codes INFO errorstats tracks; later new codes are not counted (Redis's
/// ERROR_STATS_NUMBER), so user-chosen codes (`redis.error_reply`) cannot grow it unbounded.
const ERROR_CODES_TRACKED: usize = 128;

/// What an eviction pass achieved (Redis's EVICT_OK / EVICT_RUNNING / EVICT_FAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// Memory is within `maxmemory`.
    Ok,
    /// Still over, but the pass ran out of time: more is evicted soon; commands are not
    /// refused meanwhile.
    Running,
    /// Over, and nothing (more) can be evicted: deny-OOM commands are refused.
    Fail,
}

/// Within this many bytes of `maxmemory` the eviction check confirms the estimate of used
/// memory with a fresh reading (tens of microseconds) before deciding: far from the limit
/// every command pays two counter reads, near it the decision is exact, as Redis's is.
const CONFIRM_MARGIN: i64 = 64 * 1024;

/// How long the messages an eviction pass queued for clients are left to their writers before
/// they count as used memory again (see [`Shared::unflushed_eviction_output`]): Redis's cron
/// period, far longer than a writer takes to hand them to the socket.
const EVICTION_OUTPUT_GRACE: Duration = Duration::from_millis(100);

/// How long one eviction pass may run (Redis's evictionTimeLimitUs): up to tenacity 10,
/// 50 us per step (500 us by default); above, 15% more per step (about two minutes at 99);
/// 100 is no limit.
pub fn eviction_time_limit(tenacity: u64) -> Duration {
    match tenacity {
        0..=10 => Duration::from_micros(50 * tenacity),
        11..=99 => Duration::from_micros((500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64),
        _ => Duration::MAX,
    }
}

pub struct SlowEntry {
    pub id: u64,
    pub time: i64,
    pub micros: u64,
    pub argv: Vec<Bytes>,
    pub peer: String,
    pub name: Bytes,
}

impl SlowEntry {
    pub fn reply(&self) -> Reply {
        Reply::Array(vec![
            Reply::Int(self.id as i64),
            Reply::Int(self.time),
            Reply::Int(self.micros as i64),
            Reply::Array(self.argv.iter().cloned().map(Reply::Bulk).collect()),
            Reply::bulk_str(&self.peer),
            Reply::Bulk(self.name.clone()),
        ])
    }
}

/// Config values read on hot paths, refreshed by `apply_config`.
struct Cached {
    requirepass: RwLock<Option<Bytes>>,
    max_bulk_len: AtomicI64,
    query_buffer_limit: AtomicU64,
    maxclients: AtomicU64,
    timeout_secs: AtomicU64,
    slowlog_threshold: AtomicI64,
    slowlog_max: AtomicU64,
    latency_tracking: AtomicBool,
    maxmemory: AtomicU64,
    /// `maxmemory-policy` ([`crate::store::evict::Policy`] as its index), `maxmemory-samples`,
    /// `maxmemory-eviction-tenacity` and `lazyfree-lazy-eviction`, read by every eviction.
    evict_policy: std::sync::atomic::AtomicU8,
    evict_samples: AtomicU64,
    evict_tenacity: AtomicU64,
    lazy_eviction: AtomicBool,
    /// Shared with the pub/sub hub.
    pubsub_limit: Arc<RwLock<OutputLimit>>,
    normal_limit: RwLock<OutputLimit>,
    /// The `*-max-listpack-*` / `*-max-intset-*` / `stream-node-max-*` thresholds, in
    /// [`ENCODING_KNOBS`] order: read by every hash/set/zset/stream write.
    encoding: [AtomicI64; ENCODING_KNOBS.len()],
}

/// Encoding thresholds mirrored out of the config for the write paths.
pub const ENCODING_KNOBS: [&str; 8] = [
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "stream-node-max-bytes",
    "stream-node-max-entries",
    "hll-sparse-max-bytes",
];

pub struct Shared {
    pub store: Store,
    /// Users and permissions.
    pub acl: crate::acl::Acl,
    /// The Lua engine. Lock order: the store first, then this.
    pub scripting: Mutex<crate::scripting::Scripting>,
    pub script_status: Arc<crate::scripting::ScriptStatus>,
    pub pubsub: Arc<Hub>,
    pub config: RwLock<Config>,
    pub clients: Registry,
    pub stats: Stats,
    pub started: Instant,
    pub start_unix: u64,
    pub run_id: String,
    pub executable: String,
    pub slowlog: Mutex<VecDeque<SlowEntry>>,
    slowlog_next: AtomicU64,
    port: AtomicU16,
    databases: usize,
    cached: Cached,
    monitors: RwLock<Vec<Arc<ClientHandle>>>,
    has_monitors: AtomicBool,
    loading: AtomicBool,
    shutdown_requested: AtomicBool,
    shutdown: Notify,
    /// CLIENT UNPAUSE wakes the clients CLIENT PAUSE holds (the pause itself is
    /// `store.pause()`).
    pub unpaused: Notify,
    /// Clients waiting for a pause to end (INFO counts them in `blocked_clients`).
    pub paused_clients: AtomicU64,
    /// Highest AOF offset known to be on disk; writers holding `appendfsync always` replies wait
    /// on it.
    pub durable: watch::Sender<u64>,
    /// Append-only file state (writer, rewrite, status for INFO).
    pub aof: crate::aof::Aof,
    /// RDB snapshot state (SAVE, BGSAVE, save points, INFO persistence).
    pub rdb: crate::snapshot::Rdb,
    /// Master or replica, and the link to the master (`crate::replica`).
    pub replica: crate::replica::ReplicaState,
    /// The connections MIGRATE keeps to its targets.
    pub migrate: crate::command::migrate::Sockets,
    /// The way to the task that owns the client listeners (CONFIG SET port / bind / tls-port).
    pub listeners: crate::listener::Control,
}

impl Shared {
    /// The server state for `config`. Fails (with the message redis-server prints before
    /// exiting) when the ACL file cannot be read.
    pub fn new(config: Config) -> Result<Arc<Shared>, String> {
        let databases = config.get_i64("databases").max(1) as usize;
        let run_id: String = (0..40)
            .map(|_| char::from_digit(rand::random_range(0..16u32), 16).expect("hex digit"))
            .collect();
        // The configuration loader validated the `user` lines; an unreadable aclfile is the
        // only failure left, reported as redis-server does before exiting.
        let acl = crate::acl::Acl::new(&config)?;
        let stats = Stats::default();
        let pubsub_limit = Arc::new(RwLock::new(OutputLimit::default()));
        let client_memory = Arc::new(crate::connection::ClientMemory::default());
        let pubsub = Arc::new(
            Hub::with_limits(
                pubsub_limit.clone(),
                stats.output_limit_disconnections.clone(),
            )
            .with_client_memory(client_memory.clone()),
        );
        let shared = Arc::new(Shared {
            store: Store::new(databases, Some(pubsub.clone())),
            acl,
            scripting: Mutex::new(crate::scripting::Scripting::new()),
            script_status: Arc::new(crate::scripting::ScriptStatus::default()),
            pubsub,
            clients: Registry::with_memory(client_memory),
            stats,
            started: Instant::now(),
            start_unix: (unix_ms() / 1000) as u64,
            run_id,
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            slowlog: Mutex::new(VecDeque::new()),
            slowlog_next: AtomicU64::new(0),
            port: AtomicU16::new(config.get_i64("port") as u16),
            databases,
            cached: Cached {
                requirepass: RwLock::new(None),
                max_bulk_len: AtomicI64::new(0),
                query_buffer_limit: AtomicU64::new(0),
                maxclients: AtomicU64::new(0),
                timeout_secs: AtomicU64::new(0),
                slowlog_threshold: AtomicI64::new(0),
                slowlog_max: AtomicU64::new(0),
                latency_tracking: AtomicBool::new(true),
                maxmemory: AtomicU64::new(0),
                evict_policy: Default::default(),
                evict_samples: AtomicU64::new(5),
                evict_tenacity: AtomicU64::new(10),
                lazy_eviction: AtomicBool::new(false),
                pubsub_limit,
                normal_limit: RwLock::new(OutputLimit::default()),
                encoding: Default::default(),
            },
            config: RwLock::new(config),
            monitors: RwLock::new(Vec::new()),
            has_monitors: AtomicBool::new(false),
            loading: AtomicBool::new(false),
            shutdown_requested: AtomicBool::new(false),
            shutdown: Notify::new(),
            unpaused: Notify::new(),
            paused_clients: AtomicU64::new(0),
            durable: watch::Sender::new(0),
            aof: crate::aof::Aof::default(),
            rdb: crate::snapshot::Rdb::default(),
            replica: crate::replica::ReplicaState::default(),
            migrate: Default::default(),
            listeners: Default::default(),
        });
        shared.apply_config();
        let weak = Arc::downgrade(&shared);
        crate::store::set_growth_check(Arc::new(move |bytes| {
            weak.upgrade()
                .is_none_or(|s| s.keyspace_growth_allowed(bytes))
        }));
        Ok(shared)
    }

    /// Re-read the config values cached for hot paths (after startup and CONFIG SET).
    pub fn apply_config(&self) {
        let c = self.config.read();
        self.port
            .store(c.get_i64("port").clamp(0, 65535) as u16, Ordering::Relaxed);
        self.replica.apply_config(&c);
        self.store.notifier().set_flags(c.notify_keyspace_events());
        let policy = c.get("maxmemory-policy").unwrap_or_default();
        self.store.set_access_policy(crate::store::access::Policy {
            lfu: policy.ends_with("-lfu"),
            no_shared_integers: c.get_i64("maxmemory") != 0
                && (policy.ends_with("-lru") || policy.ends_with("-lfu")),
            log_factor: c.get_i64("lfu-log-factor").clamp(0, i32::MAX as i64) as u32,
            decay_time: c.get_i64("lfu-decay-time").clamp(0, i32::MAX as i64) as u32,
        });
        let pass = c.get("requirepass").unwrap_or_default();
        self.acl.apply_requirepass(&pass);
        *self.cached.requirepass.write() = if pass.is_empty() {
            None
        } else {
            Some(Bytes::from(pass))
        };
        self.cached
            .max_bulk_len
            .store(c.get_i64("proto-max-bulk-len"), Ordering::Relaxed);
        self.cached.query_buffer_limit.store(
            c.get_i64("client-query-buffer-limit") as u64,
            Ordering::Relaxed,
        );
        self.cached
            .maxclients
            .store(c.get_i64("maxclients") as u64, Ordering::Relaxed);
        self.cached
            .timeout_secs
            .store(c.get_i64("timeout").max(0) as u64, Ordering::Relaxed);
        self.cached
            .slowlog_threshold
            .store(c.get_i64("slowlog-log-slower-than"), Ordering::Relaxed);
        self.cached
            .latency_tracking
            .store(c.get_bool("latency-tracking"), Ordering::Relaxed);
        self.cached.slowlog_max.store(
            c.get_i64("slowlog-max-len").max(0) as u64,
            Ordering::Relaxed,
        );
        self.cached
            .maxmemory
            .store(c.get_i64("maxmemory").max(0) as u64, Ordering::Relaxed);
        self.cached.evict_policy.store(
            crate::store::evict::Policy::parse(&policy) as u8,
            Ordering::Relaxed,
        );
        self.cached.evict_samples.store(
            c.get_i64("maxmemory-samples").max(1) as u64,
            Ordering::Relaxed,
        );
        self.cached.evict_tenacity.store(
            c.get_i64("maxmemory-eviction-tenacity").clamp(0, 100) as u64,
            Ordering::Relaxed,
        );
        self.cached
            .lazy_eviction
            .store(c.get_bool("lazyfree-lazy-eviction"), Ordering::Relaxed);
        if c.get_i64("maxmemory") > 0 {
            self.sample_memory();
        }
        let client_limit = crate::connection::evict::limit_from_config(
            c.get_i64("maxmemory-clients"),
            c.get_i64("maxmemory"),
        );
        if self.clients.memory.set_limit(client_limit) {
            self.clients.recount_memory();
        } else {
            self.clients.evict_clients();
        }
        memory::set_background_thread(c.get_bool("jemalloc-bg-thread"));
        let lim = |class| {
            let (hard, soft, soft_secs) = c.output_buffer_limit(class);
            OutputLimit {
                hard,
                soft,
                soft_secs,
            }
        };
        for (slot, name) in self.cached.encoding.iter().zip(ENCODING_KNOBS) {
            slot.store(c.get_i64(name).max(0), Ordering::Relaxed);
        }
        *self.cached.pubsub_limit.write() = lim("pubsub");
        *self.cached.normal_limit.write() = lim("normal");
    }

    /// Some when the default user needs a password (requirepass, or set by ACL): new
    /// connections start unauthenticated and protected mode lets remote clients in.
    pub fn requirepass(&self) -> Option<Bytes> {
        if self.acl.default_needs_auth() {
            Some(self.cached.requirepass.read().clone().unwrap_or_default())
        } else {
            None
        }
    }
    pub fn max_bulk_len(&self) -> i64 {
        self.cached.max_bulk_len.load(Ordering::Relaxed)
    }
    pub fn query_buffer_limit(&self) -> u64 {
        self.cached.query_buffer_limit.load(Ordering::Relaxed)
    }
    pub fn idle_timeout(&self) -> Option<Duration> {
        match self.cached.timeout_secs.load(Ordering::Relaxed) {
            0 => None,
            s => Some(Duration::from_secs(s)),
        }
    }
    /// `maxmemory` in bytes (0 = no limit).
    pub fn maxmemory(&self) -> u64 {
        self.cached.maxmemory.load(Ordering::Relaxed)
    }

    /// Used memory as the maxmemory check sees it: the last sample plus what commands
    /// allocated and eviction freed since.
    ///
    /// Used memory is what the allocator has handed out (jemalloc's `stats.allocated`, as Redis's
    /// `used_memory` counts its allocations), sampled every [`memory::SAMPLE_EVERY`] because
    /// reading it costs tens of microseconds (jemalloc merges every arena's statistics), plus
    /// what each command allocated since the sample, read from the running thread's own
    /// counters around the command (two pointer reads), and minus what eviction freed (measured
    /// the same way around each deletion). So data growth and eviction are seen by the next
    /// command; client buffers filled outside commands within one sampling period are not. A
    /// sample taken while a command runs may count part of it twice (or, for an eviction,
    /// its freeing twice) until the next sample, 10 ms later.
    ///
    /// DEVIATION(redis): without jemalloc as the global allocator (the library's own unit
    /// tests) the resident set size stands in for allocated memory.
    pub fn used_memory_estimate(&self) -> i64 {
        self.stats.used_memory.load(Ordering::Relaxed) as i64
            + self.stats.memory_delta.load(Ordering::Relaxed)
    }

    /// Whether the keyspace's tables may allocate `bytes` more to grow (Redis's
    /// dictExpandAllowed): not when that would take used memory over `maxmemory`, which
    /// would make the next command evict keys only because the table grew. Called with the
    /// store lock held: reads atomics only.
    pub fn keyspace_growth_allowed(&self, bytes: usize) -> bool {
        let max = self.maxmemory();
        max == 0 || self.used_memory_estimate() + bytes as i64 <= max as i64
    }

    /// Memory is over `maxmemory` (one atomic load when no limit is set).
    pub fn over_maxmemory(&self) -> bool {
        let max = self.maxmemory();
        max != 0 && self.used_memory_estimate() > max as i64
    }

    /// `maxmemory-policy`.
    pub fn eviction_policy(&self) -> crate::store::evict::Policy {
        use crate::store::evict::Policy;
        const ALL: [Policy; 8] = [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
            Policy::AllkeysLru,
            Policy::AllkeysLfu,
            Policy::AllkeysRandom,
            Policy::NoEviction,
        ];
        ALL[self.cached.evict_policy.load(Ordering::Relaxed) as usize % 8]
    }

    /// Bring used memory back under `maxmemory` by evicting keys as `maxmemory-policy` says
    /// (Redis's performEvictions). Dispatch calls it before every command while a limit is
    /// set (a deny-OOM command is refused on [`Eviction::Fail`]); the memory sampler calls it
    /// too, so memory over the limit after CONFIG SET maxmemory, or a pass cut short by its
    /// time limit, is dealt with without waiting for traffic.
    ///
    /// Takes the store lock only when memory is over the limit and the policy may evict.
    /// Never call it with the lock held, nor while a script runs (dispatch skips it then, as
    /// Redis does: evicting in the middle of a script would mix its effects with `DEL`s).
    ///
    /// A pass evicts until the memory it freed covers the excess, or nothing is left to
    /// evict (`Fail`), or it ran longer than `maxmemory-eviction-tenacity` allows
    /// (`Running`: the next command or sampler tick goes on). The evictions are one unit:
    /// their `DEL`s are drained to the AOF before the command that caused them runs.
    pub fn perform_evictions(self: &Arc<Self>) -> Eviction {
        use crate::store::evict::Policy;
        let max = self.maxmemory() as i64;
        if max == 0 {
            return Eviction::Ok;
        }
        // Redis's isSafeToPerformEvictions: not while loading, not on a replica (its master
        // evicts and sends the DELs: `replica-ignore-maxmemory yes`), nor while clients are
        // paused (the dataset stays static); memory then counts as within the limit.
        if self.is_loading()
            || self.replica.is_replica()
            || (self.store.pause().is_set() && self.store.pause().active(unix_ms()).is_some())
        {
            return Eviction::Ok;
        }
        // The estimate misses what was allocated and freed outside commands since the last
        // sample (client buffers, disconnections): near the limit, decide on a fresh reading.
        let unflushed = self.unflushed_eviction_output();
        if self.used_memory_estimate() - unflushed <= max - CONFIRM_MARGIN
            || self.sample_memory() as i64 - unflushed <= max
        {
            return self.eviction_outcome(Eviction::Ok);
        }
        let policy = self.eviction_policy();
        let samples = self.cached.evict_samples.load(Ordering::Relaxed) as usize;
        let unlink = self.cached.lazy_eviction.load(Ordering::Relaxed);
        let limit = eviction_time_limit(self.cached.evict_tenacity.load(Ordering::Relaxed));
        let mut store = self.store.lock();
        // Another connection may have evicted while this one waited for the lock. The reading
        // above may also have caught a command half-way (a replica's output buffer being
        // reallocated, both copies alive, while the size it reports is the old one): before
        // evicting, read again with no command running. The replicas' output does not count
        // (see `Replication::output_buffers`).
        let used = if policy == Policy::NoEviction {
            self.used_memory_estimate()
        } else {
            self.sample_memory() as i64
        };
        let to_free = used - store.repl.output_buffers_held() as i64 - unflushed - max;
        if to_free <= 0 {
            return self.eviction_outcome(Eviction::Ok);
        }
        if policy == Policy::NoEviction {
            return self.eviction_outcome(Eviction::Fail);
        }
        store.begin_command(0, unix_ms());
        let start = Instant::now();
        let mut freed: i64 = 0;
        let mut keys = 0u64;
        let mut output: i64 = 0;
        let mut result = Eviction::Ok;
        while freed < to_free {
            let Some((db, key)) = store.pick_victim(policy, samples) else {
                result = Eviction::Fail;
                break;
            };
            // What the deletion frees, as Redis measures around its dbDelete: the value (the
            // name is shared with the copy kept for the effects, and is not counted).
            let before = memory::thread_net();
            drop(store.dbs[db].delete(&key));
            freed += match (before, memory::thread_net()) {
                (Some(b), Some(a)) => b - a,
                // Without jemalloc's counters, a lower bound: the key itself.
                _ => key.len() as i64,
            };
            // What telling others of it queued (invalidations, events): see
            // `unflushed_eviction_output`.
            let before = memory::thread_net();
            store.evicted(db, key, unlink);
            if let (Some(b), Some(a)) = (before, memory::thread_net()) {
                output += a - b;
            }
            keys += 1;
            if keys.is_multiple_of(16) && start.elapsed() > limit {
                result = Eviction::Running;
                break;
            }
        }
        self.stats.memory_delta.fetch_sub(freed, Ordering::Relaxed);
        self.stats.evicted_keys.fetch_add(keys, Ordering::Relaxed);
        if output > 0 {
            let until = (self.started.elapsed() + EVICTION_OUTPUT_GRACE).as_micros() as u64;
            let s = &self.stats;
            let earlier = if s.eviction_output_until.load(Ordering::Relaxed) > 0 {
                unflushed
            } else {
                0
            };
            s.eviction_output.store(earlier + output, Ordering::Relaxed);
            s.eviction_output_until.store(until, Ordering::Relaxed);
        }
        store.drain_effects();
        if store.blocking.has_ready() {
            crate::command::serve_ready_keys_now(self, &mut store);
        }
        drop(store);
        self.eviction_outcome(result)
    }

    /// What recent eviction passes queued for clients (their tracking invalidations and
    /// keyspace events) and is left out of the comparison with `maxmemory` for
    /// [`EVICTION_OUTPUT_GRACE`] after the last of them.
    ///
    /// DEVIATION(redis): Redis counts these messages too, but writes them to the sockets
    /// before it reads the next command, so the next eviction check finds them gone unless
    /// their client stopped reading. Here each client's writer task sends them while other
    /// connections already run commands: counting them at once made every pass evict for the
    /// messages of the previous one (ten tracking clients turned 40 KB of excess into a
    /// hundred more evictions). Messages still queued after the grace period count again.
    fn unflushed_eviction_output(&self) -> i64 {
        let s = &self.stats;
        let until = s.eviction_output_until.load(Ordering::Relaxed);
        if until == 0 {
            return 0;
        }
        if (self.started.elapsed().as_micros() as u64) < until {
            return s.eviction_output.load(Ordering::Relaxed);
        }
        let _ = s.eviction_output_until.compare_exchange(
            until,
            0,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        0
    }

    /// Keep the time spent over the limit (INFO's `*_eviction_exceeded_time`).
    fn eviction_outcome(&self, r: Eviction) -> Eviction {
        let s = &self.stats;
        let since = s.eviction_exceeded_since.load(Ordering::Relaxed);
        // The clock is read only when a period starts or ends (not per command).
        let now = || self.started.elapsed().as_micros() as u64 + 1;
        match r {
            Eviction::Ok
                if since != 0
                    && s.eviction_exceeded_since
                        .compare_exchange(since, 0, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok() =>
            {
                s.eviction_exceeded_total
                    .fetch_add(now() - since, Ordering::Relaxed);
            }
            Eviction::Running | Eviction::Fail if since == 0 => {
                let _ = s.eviction_exceeded_since.compare_exchange(
                    0,
                    now(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            _ => {}
        }
        r
    }

    /// INFO's (total, current) eviction exceeded time, in milliseconds.
    pub fn eviction_exceeded_ms(&self) -> (u64, u64) {
        let s = &self.stats;
        let since = s.eviction_exceeded_since.load(Ordering::Relaxed);
        let current = if since == 0 {
            0
        } else {
            (self.started.elapsed().as_micros() as u64 + 1).saturating_sub(since)
        };
        (
            (s.eviction_exceeded_total.load(Ordering::Relaxed) + current) / 1000,
            current / 1000,
        )
    }

    /// Count what a command allocated (net, on the thread that ran it) towards the maxmemory
    /// check until the next sample; `before` is [`memory::thread_net`] taken when it started.
    #[inline]
    pub fn note_command_memory(&self, before: Option<i64>) {
        if let (Some(b), Some(now)) = (before, memory::thread_net()) {
            let d = now - b;
            if d != 0 {
                self.stats.memory_delta.fetch_add(d, Ordering::Relaxed);
            }
        }
    }

    /// Take a fresh reading of used memory (and the peak), restarting the per-command tally.
    pub fn sample_memory(&self) -> u64 {
        let used = used_memory();
        self.stats.memory_delta.store(0, Ordering::Relaxed);
        self.stats.used_memory.store(used, Ordering::Relaxed);
        self.stats.peak_memory.fetch_max(used, Ordering::Relaxed);
        used
    }

    pub fn pubsub_limit(&self) -> OutputLimit {
        *self.cached.pubsub_limit.read()
    }
    pub fn normal_limit(&self) -> OutputLimit {
        *self.cached.normal_limit.read()
    }
    pub fn databases(&self) -> usize {
        self.databases
    }
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::Relaxed)
    }
    /// An encoding threshold by its [`ENCODING_KNOBS`] name (a constant: checked by a test).
    pub fn encoding_knob(&self, name: &str) -> usize {
        debug_assert!(ENCODING_KNOBS.contains(&name), "{name}");
        let i = ENCODING_KNOBS.iter().position(|k| *k == name).unwrap_or(0);
        self.cached.encoding[i].load(Ordering::Relaxed) as usize
    }
    pub fn config_i64(&self, name: &str) -> i64 {
        self.config.read().get_i64(name)
    }
    pub fn config_str(&self, name: &str) -> String {
        self.config.read().get(name).unwrap_or_default()
    }
    pub fn config_file(&self) -> String {
        self.config
            .read()
            .file()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Relaxed)
    }
    pub fn set_loading(&self, v: bool) {
        self.loading.store(v, Ordering::SeqCst);
    }

    /// The `aof_*` lines of INFO persistence. Takes the store lock: never call it with the
    /// lock held.
    pub fn aof_info(&self) -> String {
        crate::aof::info_fields(self)
    }

    /// Hook run after every command that changed data, still under the store lock.
    pub fn after_write(&self, _store: &mut StoreInner) {}

    pub fn reset_stats(&self) {
        let s = &self.stats;
        for a in [
            &s.rejected_connections,
            &s.commands,
            &s.failed_calls,
            &s.rejected_calls,
            &s.net_in,
            &s.net_out,
            &s.reads,
            &s.writes,
            &s.output_limit_disconnections,
            &s.connections,
            &s.sync_full,
            &s.sync_partial_ok,
            &s.sync_partial_err,
            &s.evicted_keys,
            &self.clients.memory.evicted,
            &s.eviction_exceeded_total,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        for e in crate::command::table().by_name.values() {
            for x in std::iter::once(e).chain(e.subs.values()) {
                x.calls.store(0, Ordering::Relaxed);
                x.usec.store(0, Ordering::Relaxed);
                x.failed.store(0, Ordering::Relaxed);
                x.rejected.store(0, Ordering::Relaxed);
                x.latency.clear();
            }
        }
        self.slowlog.lock().clear();
        self.stats.errors.lock().clear();
    }

    /// Count an error reply sent to a client under its code (the text up to the first space).
    pub fn count_error(&self, msg: &str) {
        let code = msg.split(' ').next().unwrap_or("");
        let mut errors = self.stats.errors.lock();
        if let Some(n) = errors.get_mut(code) {
            *n += 1;
        } else if errors.len() < ERROR_CODES_TRACKED {
            errors.insert(code.to_string(), 1);
        }
    }

    /// `latency-tracking`: whether commands record their durations for INFO LATENCYSTATS.
    #[inline]
    pub fn latency_tracking(&self) -> bool {
        self.cached.latency_tracking.load(Ordering::Relaxed)
    }

    /// Whether SLOWLOG would keep a command of `entry` that took `us` microseconds.
    pub fn slowlog_wants(&self, entry: &CommandEntry, us: u64) -> bool {
        let threshold = self.cached.slowlog_threshold.load(Ordering::Relaxed);
        threshold >= 0 && (us as i64) >= threshold && !entry.has_flag(flags::SKIP_SLOWLOG)
    }

    pub fn slowlog_record(
        &self,
        client: &ClientState,
        entry: &CommandEntry,
        argv: &[Bytes],
        us: u64,
    ) {
        let threshold = self.cached.slowlog_threshold.load(Ordering::Relaxed);
        if threshold < 0 || (us as i64) < threshold || entry.has_flag(flags::SKIP_SLOWLOG) {
            return;
        }
        let max = self.cached.slowlog_max.load(Ordering::Relaxed) as usize;
        // Redis keeps at most 32 arguments and 128 bytes per argument, secrets redacted.
        let argv = crate::command::redacted(argv);
        let mut args: Vec<Bytes> = argv
            .iter()
            .take(if argv.len() > 32 { 31 } else { 32 })
            .map(|a| {
                if a.len() > 128 {
                    let mut v = a[..128].to_vec();
                    v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
                    Bytes::from(v)
                } else {
                    crate::store::own(a)
                }
            })
            .collect();
        if argv.len() > 32 {
            args.push(Bytes::from(format!(
                "... ({} more arguments)",
                argv.len() - 31
            )));
        }
        let name = client.handle.info.lock().name.clone().unwrap_or_default();
        let mut log = self.slowlog.lock();
        log.push_back(SlowEntry {
            id: self.slowlog_next.fetch_add(1, Ordering::Relaxed),
            time: unix_ms() / 1000,
            micros: us,
            argv: args,
            peer: client.handle.addr.clone(),
            name,
        });
        while log.len() > max {
            log.pop_front();
        }
    }

    pub fn add_monitor(&self, h: Arc<ClientHandle>) {
        self.monitors.write().push(h);
        self.has_monitors.store(true, Ordering::SeqCst);
    }

    pub fn remove_monitor(&self, id: u64) {
        let mut m = self.monitors.write();
        m.retain(|h| h.id != id);
        self.has_monitors.store(!m.is_empty(), Ordering::SeqCst);
    }

    /// True while some client is in MONITOR mode (a relaxed load: the check on every command).
    #[inline]
    pub fn has_monitors(&self) -> bool {
        self.has_monitors.load(Ordering::Relaxed)
    }

    /// Send a MONITOR line for `argv`, run by `client` in its current database, or by a script
    /// of that client (`from_script`: Redis shows `lua` as the address). When to call it is
    /// `command::monitor_before`/`monitor_after`'s business.
    pub fn feed_monitors(&self, client: &ClientState, argv: &[Bytes], from_script: bool) {
        if !self.has_monitors() {
            return;
        }
        let us = unix_us();
        let mut line = format!(
            "+{}.{:06} [{} {}]",
            us / 1_000_000,
            us % 1_000_000,
            client.db,
            if from_script {
                "lua"
            } else if client.handle.unix {
                "unix:"
            } else {
                client.handle.addr.as_str()
            }
        );
        for a in crate::command::redacted(argv).iter() {
            line.push_str(" \"");
            for &c in a.iter() {
                match c {
                    b'\\' => line.push_str("\\\\"),
                    b'"' => line.push_str("\\\""),
                    b'\n' => line.push_str("\\n"),
                    b'\r' => line.push_str("\\r"),
                    b'\t' => line.push_str("\\t"),
                    7 => line.push_str("\\a"),
                    8 => line.push_str("\\b"),
                    c if c.is_ascii_graphic() || c == b' ' => line.push(c as char),
                    c => line.push_str(&format!("\\x{c:02x}")),
                }
            }
            line.push('"');
        }
        line.push_str("\r\n");
        for m in self.monitors.read().iter() {
            if m.id != client.id {
                m.outbox.push_bytes(line.as_bytes());
                m.outbox.wake();
            }
        }
    }

    /// CLIENT PAUSE: as in Redis, a pause already in force is never shortened nor weakened
    /// (ALL stays ALL until it ends).
    pub fn pause(&self, ms: u64, all: bool) {
        self.pause_for(crate::engine::PausePurpose::ClientCommand, ms, all);
    }

    /// Pause for `purpose` (CLIENT PAUSE, or FAILOVER for as long as it runs).
    pub fn pause_for(&self, purpose: crate::engine::PausePurpose, ms: u64, all: bool) {
        let until = unix_ms().saturating_add(ms.min(i64::MAX as u64) as i64);
        self.store.pause().pause(purpose, until, all);
    }

    /// CLIENT UNPAUSE: ends the pause CLIENT PAUSE asked for (a FAILOVER's stays).
    pub fn unpause(&self) {
        self.unpause_for(crate::engine::PausePurpose::ClientCommand);
    }

    pub fn unpause_for(&self, purpose: crate::engine::PausePurpose) {
        self.store.pause().unpause(purpose);
        self.unpaused.notify_waiters();
    }

    /// How long `argv` must wait because of CLIENT PAUSE (None: run it now). Under PAUSE WRITE
    /// that is every command that may write or feed replication, judged as Redis judges it
    /// before running it: a script by the flags it declares (a `no-writes` EVAL or FCALL runs;
    /// one without a shebang waits), EXEC by the commands it queued. A command with the wrong
    /// arity or an unknown name is not held: its error goes out at once.
    pub fn pause_delay(&self, client: &ClientState, argv: &[Bytes]) -> Option<Duration> {
        let now = unix_ms();
        let (until, all) = self.store.pause().active(now)?;
        // Under ALL everything waits, CLIENT UNPAUSE and AUTH included, as in Redis.
        let entry = crate::command::resolve(argv).ok()?;
        if !crate::command::arity_ok(entry.spec.arity, argv.len()) {
            return None;
        }
        let held = all
            || if entry.spec.name == "exec" {
                client.multi.as_ref().is_some_and(|m| {
                    m.queue
                        .iter()
                        .any(|q| crate::command::resolve(q).is_ok_and(|e| self.may_replicate(e, q)))
                })
            } else {
                self.may_replicate(entry, argv)
            };
        held.then(|| Duration::from_millis((until - now) as u64))
    }

    /// Whether running `argv` may write or feed replication (Redis's `CMD_WRITE |
    /// CMD_MAY_REPLICATE` after a script's declared flags replace its command's).
    fn may_replicate(&self, entry: &CommandEntry, argv: &[Bytes]) -> bool {
        if !entry.has_flag(flags::WRITE | flags::MAY_REPLICATE) {
            return false;
        }
        if !matches!(entry.spec.name, "eval" | "evalsha" | "fcall") {
            return true;
        }
        // A script that is running holds the lock: judge it as undeclared (it waits).
        let Some(scripting) = self.scripting.try_lock() else {
            return true;
        };
        match scripting.declared_flags(argv) {
            Some(f) => f & crate::scripting::script_flags::NO_WRITES == 0,
            None => true,
        }
    }

    pub fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
    }

    pub fn shutdown_requested(&self) -> bool {
        self.shutdown_requested.load(Ordering::SeqCst)
    }

    pub async fn wait_shutdown(&self) {
        loop {
            let n = self.shutdown.notified();
            if self.shutdown_requested() {
                return;
            }
            n.await;
        }
    }
}

/// Bytes allocated by the process for data and buffers (INFO used_memory): jemalloc's
/// `stats.allocated`, or the resident set size when jemalloc is not the global allocator.
/// Costs tens of microseconds (jemalloc merges every arena's statistics): not per command.
pub fn used_memory() -> u64 {
    memory::allocated().unwrap_or_else(rss_bytes)
}

/// jemalloc introspection (the binary's global allocator, `main.rs`).
///
/// - [`allocated`]: process-wide allocated bytes (less what the thread caches hold, see
///   `held`); advances jemalloc's statistics epoch, which
///   merges every arena's counters (tens of microseconds), so it is read by the sampler, INFO
///   and MEMORY, never per command.
/// - [`thread_net`]: bytes allocated minus bytes freed by the calling thread since it started,
///   from jemalloc's per-thread counters (a pointer read): dispatch takes it around a command
///   to see what the command allocated.
///
/// Both return None when jemalloc is not the global allocator (the library's unit tests link
/// it without routing allocations through it); the first call finds out by allocating 4 MiB
/// and checking that jemalloc saw it.
pub mod memory {
    use std::sync::OnceLock;
    use std::time::Duration;
    use tikv_jemalloc_ctl::{epoch, stats, thread};

    /// How often used memory is sampled while `maxmemory` is set.
    pub const SAMPLE_EVERY: Duration = Duration::from_millis(10);

    struct Mibs {
        epoch: tikv_jemalloc_ctl::epoch_mib,
        allocated: stats::allocated_mib,
        /// `stats.arenas.<all>.tcache_bytes`: freed objects the threads' caches hold.
        tcache_bytes: [usize; 4],
    }

    /// Bytes held in the threads' caches (tcache), merged over all arenas at the last epoch.
    #[allow(unsafe_code)]
    fn tcache_bytes(m: &Mibs) -> usize {
        // SAFETY: `stats.arenas.<i>.tcache_bytes` is a size_t, read into a usize of the same
        // size; the MIB was resolved from that name.
        unsafe { tikv_jemalloc_ctl::raw::read_mib::<usize>(&m.tcache_bytes) }.unwrap_or(0)
    }

    /// What the application holds: jemalloc's `stats.allocated` counts the objects freed into
    /// a thread cache (tcache) as still allocated, up to megabytes per thread for values of
    /// a few KiB; Redis's `used_memory` (its own counter) does not, and neither does this.
    fn held(m: &Mibs) -> Option<usize> {
        m.epoch.advance().ok()?;
        let a = m.allocated.read().ok()?;
        Some(a.saturating_sub(tcache_bytes(m)))
    }

    fn mibs() -> Option<&'static Mibs> {
        static M: OnceLock<Option<Mibs>> = OnceLock::new();
        M.get_or_init(|| {
            let mut tcache = [0usize; 4];
            // MALLCTL_ARENAS_ALL (4096): the statistics merged over every arena.
            tikv_jemalloc_ctl::raw::name_to_mib(b"stats.arenas.4096.tcache_bytes\0", &mut tcache)
                .ok()?;
            let m = Mibs {
                epoch: epoch::mib().ok()?,
                allocated: stats::allocated::mib().ok()?,
                tcache_bytes: tcache,
            };
            let read = |m: &Mibs| held(m);
            let before = read(&m)?;
            let probe: Vec<u8> = Vec::with_capacity(4 << 20);
            let during = read(&m)?;
            drop(std::hint::black_box(probe));
            (during >= before + (4 << 20)).then_some(m)
        })
        .as_ref()
    }

    /// Allocated bytes the application holds, process-wide (see the module documentation for
    /// the cost).
    pub fn allocated() -> Option<u64> {
        held(mibs()?).map(|v| v as u64)
    }

    /// jemalloc's own view, for INFO memory's `allocator_*` lines: (allocated, active,
    /// resident) bytes, read at a fresh epoch.
    pub fn allocator_stats() -> Option<(u64, u64, u64)> {
        let m = mibs()?;
        m.epoch.advance().ok()?;
        Some((
            m.allocated.read().ok()? as u64,
            stats::active::read().ok()? as u64,
            stats::resident::read().ok()? as u64,
        ))
    }

    /// What an allocation of `n` bytes really takes (jemalloc's size class for it): a
    /// buffer's capacity undercounts its memory by up to a quarter for large sizes. `n`
    /// itself without jemalloc.
    #[allow(unsafe_code)]
    pub fn allocation_size(n: usize) -> usize {
        if n == 0 || mibs().is_none() {
            return n;
        }
        // SAFETY: nallocx only computes the size class of a request; it allocates nothing.
        match unsafe { tikv_jemalloc_sys::nallocx(n, 0) } {
            0 => n,
            real => real,
        }
    }

    /// MEMORY PURGE: hand every arena's unused dirty pages back to the OS now
    /// (`arena.<all>.purge`, as Redis's jemalloc_purge). False without jemalloc.
    #[allow(unsafe_code)]
    pub fn purge() -> bool {
        if mibs().is_none() {
            return false;
        }
        // SAFETY: `arena.<i>.purge` is a void control: jemalloc requires null old and new
        // value pointers and a zero length, which is all this passes.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                c"arena.4096.purge".as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            )
        };
        rc == 0
    }

    /// `jemalloc-bg-thread`: jemalloc's background threads purge dirty pages as they age
    /// (dirty_decay_ms), so memory freed by a burst goes back to the OS without waiting for
    /// later allocations to trigger the decay. Applied only when it changes.
    pub fn set_background_thread(on: bool) {
        use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
        // 0: never set; 1: off; 2: on.
        static LAST: AtomicU8 = AtomicU8::new(0);
        let want = if on { 2 } else { 1 };
        if LAST.swap(want, Relaxed) == want || mibs().is_none() {
            return;
        }
        if let Err(e) = tikv_jemalloc_ctl::background_thread::write(on) {
            tracing::warn!(error = %e, "could not set jemalloc background threads");
        }
    }

    type Counters = Option<(thread::ThreadLocal<u64>, thread::ThreadLocal<u64>)>;

    thread_local! {
        static COUNTERS: Counters = mibs().and_then(|_| {
            Some((thread::allocatedp::read().ok()?, thread::deallocatedp::read().ok()?))
        });
    }

    /// Net bytes allocated by this thread so far (see the module documentation).
    #[inline]
    pub fn thread_net() -> Option<i64> {
        COUNTERS.with(|c| {
            c.as_ref()
                .map(|(a, d)| a.get().wrapping_sub(d.get()) as i64)
        })
    }
}

/// Resident set size from /proc.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

pub fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            l.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// (user, system) CPU seconds of this process.
pub fn cpu_times() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    let Some(rest) = stat.rsplit(')').next() else {
        return (0.0, 0.0);
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = 100.0;
    let get = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0) / tick;
    (get(11), get(12))
}

/// Parse the `bind` value: addresses, `-` prefix marks one whose failure is not fatal.
pub(crate) fn bind_addresses(bind: &str) -> Vec<(String, bool)> {
    bind.split_whitespace()
        .map(|a| match a.strip_prefix('-') {
            Some(rest) => (rest.to_string(), true),
            None => (a.to_string(), false),
        })
        .collect()
}

/// Run the server until shutdown.
pub async fn run(config: Config) -> std::io::Result<()> {
    let unixsocket = config.get("unixsocket").unwrap_or_default();
    crate::command::set_renamed_commands(&config.renamed_commands());
    let metrics_port = config.get_i64("metrics-port") as u16;
    let metrics_bind = config.get("metrics-bind").unwrap_or_default();
    let shared = Shared::new(config).map_err(std::io::Error::other)?;

    // The metrics endpoint comes up before the AOF is loaded, so probes see "loading".
    let probe = Arc::new(crate::metrics::Probe::default());
    let mut metrics_tasks = Vec::new();
    if metrics_port > 0 {
        for l in crate::metrics::bind(&metrics_bind, metrics_port).await? {
            metrics_tasks.push(tokio::spawn(crate::metrics::serve(
                shared.clone(),
                probe.clone(),
                l,
            )));
        }
    }

    crate::aof::startup(&shared)?;
    // As in Redis, the AOF wins when it is on; otherwise the snapshot is the dataset.
    if !shared.config.read().get_bool("appendonly") {
        crate::snapshot::load_at_startup(&shared)?;
    }

    // The client listeners, as redis-server binds them at startup (a failure is fatal); the
    // supervisor owns them from here on so that CONFIG SET can move them.
    let target = crate::listener::Target::from_config(&shared.config.read());
    let fatal = |port: u16, kind: &'static str| {
        move |e: std::io::Error| {
            warn!(port, "Failed listening on port {port} ({kind}), aborting.");
            e
        }
    };
    let mut tcp = Vec::new();
    if target.port > 0 {
        tcp = crate::listener::bind_all(&target.bind, target.port, target.backlog)
            .and_then(crate::listener::to_tokio)
            .map_err(fatal(target.port, "TCP"))?;
    }
    let mut tls = Vec::new();
    let mut tls_config = None;
    if target.tls_port > 0 {
        tls_config = Some(crate::tls::configure(&shared).map_err(|msg| {
            warn!(%msg, "Failed to configure TLS. Check logs for more info.");
            std::io::Error::other(msg)
        })?);
        tls = crate::listener::bind_all(&target.bind, target.tls_port, target.backlog)
            .and_then(crate::listener::to_tokio)
            .map_err(fatal(target.tls_port, "TLS"))?;
    }
    if tcp.is_empty() && tls.is_empty() && unixsocket.is_empty() {
        // As redis-server: a server nobody can reach is a configuration mistake.
        warn!("Configured to not listen anywhere, exiting.");
        return Err(std::io::Error::other("configured to not listen anywhere"));
    }
    // SIGTERM and SIGINT are caught from before the first client is accepted: registered in
    // the spawned task, a signal sent right after a client's first reply could still find the
    // default action (exit with no final save).
    let signal_streams = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        )
    };
    let mut tasks = vec![crate::listener::start(&shared, tcp, tls, tls_config)];
    if !unixsocket.is_empty() {
        let _ = std::fs::remove_file(&unixsocket);
        let l = tokio::net::UnixListener::bind(&unixsocket)?;
        let perm = shared.config_i64("unixsocketperm");
        if perm > 0 {
            use std::os::unix::fs::PermissionsExt;
            // The config holds the permission bits themselves (it parsed the octal text).
            let mode = (perm & 0o777) as u32;
            let _ = std::fs::set_permissions(&unixsocket, std::fs::Permissions::from_mode(mode));
        }
        tasks.push(tokio::spawn(accept_unix(
            shared.clone(),
            l,
            unixsocket.clone(),
        )));
    }
    tasks.extend(metrics_tasks);
    probe.set_ready();
    tokio::spawn(cron(shared.clone()));
    tokio::spawn(timers(shared.clone()));
    crate::replica::start_from_config(&shared);
    tokio::spawn(memory_sampler(shared.clone()));
    tokio::spawn(signals(shared.clone(), signal_streams));
    info!(
        version = env!("CARGO_PKG_VERSION"),
        port = target.port,
        pid = std::process::id(),
        config_file = %shared.config_file(),
        "Ready to accept connections"
    );
    let supervised = shared.config_str("supervised");
    crate::process::notify_ready(&supervised);
    shared.wait_shutdown().await;
    info!("User requested shutdown...");
    crate::process::notify_stopping(&supervised);
    for t in tasks {
        t.abort();
    }
    // A BUSY script may hold the store (SHUTDOWN NOSAVE stops the server anyway): do not wait
    // for it.
    if let Some(mut store) = shared.store.try_lock_for(Duration::from_millis(200)) {
        crate::snapshot::abort_bgsave(&shared, &mut store);
    }
    crate::snapshot::join(&shared);
    crate::aof::shutdown(&shared);
    for c in shared.clients.all() {
        c.outbox.close();
    }
    if !unixsocket.is_empty() {
        let _ = std::fs::remove_file(&unixsocket);
    }
    info!("ferrymq is now ready to exit, bye bye...");
    Ok(())
}

/// One TCP listener's accept loop, run by the listener supervisor ([`crate::listener`]).
pub(crate) async fn accept_tcp(shared: Arc<Shared>, l: TcpListener) {
    let laddr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
    loop {
        match l.accept().await {
            Ok((sock, peer)) => {
                let _ = sock.set_nodelay(true);
                set_keepalive(&sock, shared.config_i64("tcp-keepalive"));
                if let Some(denied) = protected_mode_denial(&shared, &peer) {
                    // Redis writes the explanation and closes; the client never gets a session.
                    let mut sock = sock;
                    tokio::spawn(async move {
                        use tokio::io::AsyncWriteExt;
                        let _ = sock.write_all(denied.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    });
                    shared
                        .stats
                        .rejected_connections
                        .fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let (rd, wr) = sock.into_split();
                let shared = shared.clone();
                let laddr = laddr.clone();
                tokio::spawn(async move {
                    crate::connection::task::serve(shared, rd, wr, peer.to_string(), laddr, false)
                        .await;
                });
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// `tcp-keepalive <seconds>`: probe idle peers so dead ones are noticed (0 disables).
pub(crate) fn set_keepalive(sock: &tokio::net::TcpStream, secs: i64) {
    if secs <= 0 {
        return;
    }
    let ka = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(secs as u64))
        .with_interval(Duration::from_secs((secs as u64 / 3).max(1)));
    let _ = socket2::SockRef::from(sock).set_tcp_keepalive(&ka);
}

const PROTECTED_MODE_ERROR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// `protected-mode yes` with no password: only loopback peers are served.
pub(crate) fn protected_mode_denial(
    shared: &Shared,
    peer: &std::net::SocketAddr,
) -> Option<&'static str> {
    if peer.ip().is_loopback() || shared.requirepass().is_some() {
        return None;
    }
    if shared.config_str("protected-mode") != "yes" {
        return None;
    }
    Some(PROTECTED_MODE_ERROR)
}

async fn accept_unix(shared: Arc<Shared>, l: tokio::net::UnixListener, path: String) {
    loop {
        match l.accept().await {
            Ok((sock, _)) => {
                let (rd, wr) = sock.into_split();
                let shared = shared.clone();
                let path = path.clone();
                tokio::spawn(async move {
                    crate::connection::task::serve(shared, rd, wr, format!("{path}:0"), path, true)
                        .await;
                });
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Background cycle (Redis's serverCron): active expiry, idle-client timeouts, memory peak.
/// A connection idle this long gives its buffers back (Redis: more than 2 seconds).
const IDLE_BUFFERS_MS: u64 = 2000;

async fn cron(shared: Arc<Shared>) {
    let mut last_ping = Instant::now();
    let mut last_shrink = Instant::now();
    loop {
        let hz = shared.config_i64("hz").clamp(1, 500) as u64;
        tokio::time::sleep(Duration::from_millis(1000 / hz)).await;
        crate::store::resync_clock();
        // Never wait for the lock here (a long script may hold it): skip this pass instead, so
        // the cron does not park a runtime worker.
        if let Some(mut store) = shared.store.try_lock_for(Duration::from_millis(1)) {
            // A replica expires nothing itself: its master sends the DELs.
            if !shared.replica.is_replica() {
                // Bounded work per pass so the lock is never held for long.
                let removed = store.active_expire(Instant::now() + Duration::from_millis(2));
                if removed > 0 && store.blocking.has_ready() {
                    crate::command::serve_ready_keys_now(&shared, &mut store);
                }
            }
            if !store.tracking.is_off() {
                let max = shared.config_i64("tracking-table-max-keys").max(0) as usize;
                store.tracking.limit_keys(max, 1000);
            }
            replication_cron(&shared, &mut store, &mut last_ping);
            crate::failover::cron(&shared, &mut store);
        }
        if shared.maxmemory() == 0 {
            shared.sample_memory();
        }
        // Once a second is enough to catch clients idle for two (Redis's clientsCron visits
        // every client about once a second too).
        if last_shrink.elapsed() >= Duration::from_secs(1) {
            last_shrink = Instant::now();
            shared
                .clients
                .shrink_idle(unix_ms() as u64, IDLE_BUFFERS_MS);
            shared.migrate.close_idle();
        }
        crate::snapshot::cron(&shared);
    }
}

/// Redis's replicationCron, master side: a PING into the stream every
/// `repl-ping-replica-period` seconds while replicas are attached (they measure the link by
/// it), and the backlog freed after `repl-backlog-ttl` seconds without replicas.
fn replication_cron(
    shared: &Shared,
    store: &mut crate::engine::StoreInner,
    last_ping: &mut Instant,
) {
    if shared.replica.is_replica() || !store.repl.active() {
        return;
    }
    store.repl.prune();
    shared.replica.refresh_good(shared, &store.repl);
    let period = shared.config_i64("repl-ping-replica-period").max(1) as u64;
    // No PING while clients are paused, as in Redis: a FAILOVER waits for the replicas'
    // offsets to reach ours.
    let paused = shared.store.pause().active(unix_ms()).is_some();
    if !store.repl.links.is_empty() && !paused && last_ping.elapsed() >= Duration::from_secs(period)
    {
        store
            .repl
            .feed_command(&[bytes::Bytes::from_static(b"PING")]);
        *last_ping = Instant::now();
    }
    let ttl = shared.config_i64("repl-backlog-ttl");
    if store.repl.links.is_empty()
        && ttl > 0
        && store.repl.no_replicas_since.elapsed() >= Duration::from_secs(ttl as u64)
    {
        store.repl.free_backlog();
        shared.replica.update_feeding(&store.repl);
    }
}

/// Signal the keys whose timers are due (see `engine::timers`), then serve their waiters.
/// Sleeps until the earliest timer, or until an earlier one is added.
async fn timers(shared: Arc<Shared>) {
    let notify = shared.store.timer_notify().clone();
    // Runs the scheduled deliveries that are due (FMQ.RUNDUE), as an internal client.
    let mut runner = crate::connection::ClientState::new(
        Arc::new(crate::connection::ClientHandle::new(
            u64::MAX,
            "scheduler".into(),
            String::new(),
            false,
        )),
        true,
    );
    runner.reply_mode = crate::connection::ReplyMode::Off;
    let rundue = crate::command::lookup_command(b"fmq.rundue").expect("registered");
    let rundue_argv = [bytes::Bytes::from_static(b"FMQ.RUNDUE")];
    // Never block a runtime worker on the store lock a running script holds: wait for the
    // script first (as connections do).
    shared.script_status.wait_idle().await;
    crate::command::stream::arm_retention(&mut shared.store.lock());
    loop {
        shared.script_status.wait_idle().await;
        let (next, sched) = {
            let s = shared.store.lock();
            let sched = match (s.schedule.next_due(), s.retention.next()) {
                // A replica runs no schedule: its master sends what they produce.
                _ if shared.replica.is_replica() => None,
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            (s.timers.next(), sched)
        };
        if sched.is_some_and(|d| d <= crate::store::unix_ms()) && !shared.is_loading() {
            shared.script_status.wait_idle().await;
            // `execute` starts the command's clock where the runner's last command ended
            // (right for a connection's pipeline); this run starts now, maybe long after.
            runner.clock = None;
            crate::command::execute(&shared, &mut runner, rundue, &rundue_argv);
            continue;
        }
        let next = match (next, sched) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wait = match next {
            Some(at) => {
                let ms = (at - crate::store::unix_ms()).max(0) as u64;
                Duration::from_millis(ms)
            }
            None => Duration::from_secs(3600),
        };
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = notify.notified() => continue,
            }
        }
        shared.script_status.wait_idle().await;
        let mut store = shared.store.lock();
        let due = store.timers.take_due(crate::store::unix_ms());
        for (db, key) in &due {
            store.blocking.signal_ready(*db, key);
        }
        if store.blocking.has_ready() {
            crate::command::serve_ready_keys_now(&shared, &mut store);
        }
    }
}

/// While `maxmemory` is set, sample used memory every [`memory::SAMPLE_EVERY`] so the limit
/// check sees client buffers and freed memory promptly (commands' own allocations are added
/// as they happen, see [`Shared::used_memory_estimate`]), and evict when memory is over the
/// limit without a command to do it (after CONFIG SET maxmemory, or a pass cut short by its
/// time limit: Redis's eviction timer).
async fn memory_sampler(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(memory::SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if shared.maxmemory() == 0 {
            // Nothing to enforce (the cron samples for INFO): look again at the cron's pace
            // instead of waking 100 times a second on an idle server. CONFIG SET maxmemory
            // evicts at once by itself.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        tick.tick().await;
        if shared.maxmemory() > 0 {
            shared.sample_memory();
            if shared.over_maxmemory()
                && shared.eviction_policy() != crate::store::evict::Policy::NoEviction
                && !shared.script_status.is_running()
            {
                // Blocks on the store lock only for a command's critical section (a running
                // script, which may hold it for long, is skipped: the next tick retries).
                shared.perform_evictions();
            }
        }
    }
}

async fn signals(
    shared: Arc<Shared>,
    (mut term, mut int): (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
) {
    loop {
        let directive = tokio::select! {
            _ = term.recv() => {
                info!("Received SIGTERM scheduling shutdown...");
                "shutdown-on-sigterm"
            }
            _ = int.recv() => {
                info!("Received SIGINT scheduling shutdown...");
                "shutdown-on-sigint"
            }
        };
        // The final save when save points are configured (or `shutdown-on-sig* save`), as
        // Redis's prepareForShutdown; if it fails the server keeps running unless `force`.
        let flags = shared.config_str(directive);
        let has = |f: &str| flags.split_whitespace().any(|w| w == f);
        let (nosave, save, force) = (has("nosave"), has("save"), has("force"));
        let sh = shared.clone();
        let saved = tokio::task::spawn_blocking(move || {
            let mut store = sh.store.lock();
            crate::snapshot::shutdown_save(&sh, &mut store, nosave, save)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        if saved.is_ok() || force {
            break;
        }
        warn!(
            "SIGTERM received but errors trying to shut down the server, check the logs for more information"
        );
    }
    shared.request_shutdown();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_knobs_mirror_the_config() {
        let args: Vec<String> = [
            "--hash-max-listpack-entries",
            "7",
            "--stream-node-max-entries",
            "33",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let shared = Shared::new(Config::from_args(&args).unwrap()).unwrap();
        shared.apply_config();
        for name in ENCODING_KNOBS {
            assert_eq!(
                shared.encoding_knob(name) as i64,
                shared.config_i64(name),
                "{name}"
            );
        }
        assert_eq!(shared.encoding_knob("hash-max-listpack-entries"), 7);
        assert_eq!(shared.encoding_knob("stream-node-max-entries"), 33);
        assert_eq!(shared.encoding_knob("zset-max-listpack-value"), 64);
    }
}
