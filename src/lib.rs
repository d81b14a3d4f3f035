//! ferrymq: a message broker that speaks the Redis protocol (RESP2 and RESP3).
//!
//! # Architecture
//! 1. **One ordering point for data.** Everything data depends on lives in one
//!    [`engine::Store`] behind a mutex: the keyspace ([`store::Keyspace`]), the blocked clients,
//!    the watched keys, the effects log and the AOF sink. Command handlers are synchronous
//!    functions run inside that critical section: they change data and *record* what follows
//!    from it; the engine carries it out once, when the unit ends. So AOF order is execution
//!    order, blocked clients are served first-come-first-served, and MULTI/EXEC (with its WATCH
//!    check), scripts, LMOVE and RENAME are atomic. Decoding, encoding and socket I/O happen
//!    outside it.
//! 2. **Pub/sub lives outside the store** ([`pubsub`]): it is not persisted and needs no
//!    ordering with data. The hub gets its output limit and counters when it is built.
//! 3. **Every byte to a client goes through its outbox** ([`connection::outbox`]): replies,
//!    pub/sub messages, results handed to a blocked client. One writer task per connection
//!    drains it in batches.
//! 4. **A connection's read, execute and write stay in its own task**
//!    ([`connection`]): the reader task decodes a batch, runs it and writes its replies itself
//!    when the socket takes them at once; the writer task only gets what would have to wait
//!    (a full socket, pub/sub messages, replies to a blocked command, replies held for
//!    `appendfsync always`). So an unpipelined request costs one task poll, one `recv` and one
//!    `send`. After a long batch (20 µs or more) the reader yields once before writing, so
//!    every other ready connection runs its batch first and the round's replies leave
//!    together, as Redis writes them all before it waits for events again: a peer that went
//!    to sleep meanwhile is woken once per round rather than once per reply.
//!    All connections run on one multi-thread runtime with a worker per core: on N cores N
//!    connections decode, encode and do their socket I/O at once; what serialises is the
//!    store lock, held only while commands run (pub/sub does not take it). A runtime per core
//!    was measured against this and not taken: unpipelined, both servers spend ~80 % of the
//!    CPU in the kernel's TCP path and the same ~9-10 µs per request, and the load generator
//!    is the bottleneck for both (benches/RESULTS.md, "Unpipelined requests, scripts and
//!    durable writes").
//!
//! # A command's whole path
//! socket → [`connection`] (reader task, RESP decoding in [`protocol`]) → [`command::dispatch`]
//! (the table: lookup, arity, auth/ACL, pub/sub context, MISCONF/OOM/LOADING, MULTI queueing) →
//! [`command::execute`] → the handler in its family file, through a [`command::Ctx`] that takes
//! the store lock on first use → [`store`] (values, expiry) → one record per key written,
//! `ctx.wrote(Write::key(..)...)` ([`command::write`]), carried out in the [`engine`] (the
//! effect to replay, or the request itself; WATCH; keyspace events to [`notify`]; ready keys;
//! plus lazy-expiry `DEL`s) → at the unit's end, still under the lock: the effects log drained to
//! its consumers ([`engine::effects`]: the [`aof`] sink, the replication stream
//! [`engine::replicas`]), waiters of ready keys
//! served ([`command::serve_ready_keys`], each a unit of its own), the reply barrier (with
//! `appendfsync always` a reply waits for its effects' fsync) → the reply in the client's
//! outbox → the writer task → socket.
//!
//! The layers import downwards only: [`protocol`], [`store`] and [`num`] import nothing from
//! `command`, `connection`, `server`, `aof`, `notify`, `pubsub` or `engine`.
//!
//! # Flows
//! - *PUBLISH reaches N subscribers*: the hub encodes the message once per protocol version and
//!   pushes a shared copy into each subscriber's outbox, enforcing output-buffer limits there.
//! - *LPUSH wakes a BRPOP waiter*: BRPOP registers a waiter under the store lock; LPUSH signals
//!   the key; when LPUSH's unit ends (its `lpush` drained to the AOF first),
//!   `command::serve_ready_keys` re-runs the waiting BRPOP, which pops and records the pop it
//!   performed (drained as its own unit), and the reply goes into the waiter's outbox.
//! - *XADD reaches the AOF*: the handler records its effect (the real ID) in the effects log;
//!   the drain at the end of the command appends it to the AOF sink, and the AOF writer
//!   persists it per `appendfsync`.
//! - *EXEC*: checks the watches and runs the queue in one critical section; the queued
//!   commands record into one transaction block, drained once as MULTI ... EXEC.
//! - *A write reaches a replica*: the same drain encodes the unit's effects once into the
//!   replication stream ([`engine::replicas`]): its backlog and each replica's outbox, counted
//!   in `master_repl_offset`. On the replica, the link task ([`replica`]) runs each command
//!   as the master client and appends its bytes, unchanged, to its own stream, so offsets and
//!   backlogs agree along a chain and after a promotion.

#![deny(clippy::await_holding_lock)]
#![deny(unsafe_code)]

pub mod acl;
pub mod aof;
pub mod command;
pub mod config;
pub mod connection;
pub mod dashboard;
pub mod engine;
pub mod error;
pub mod failover;
pub mod listener;
pub mod metrics;
pub mod notify;
pub mod num;
pub mod process;
pub mod protocol;
pub mod pubsub;
pub mod replica;
// The Lua C API (mlua's `ffi`) is the one place that needs `unsafe`.
#[allow(unsafe_code)]
pub mod scripting;
pub mod server;
pub mod snapshot;
pub mod store;
pub mod tls;

/// The Redis version ferrymq reports (HELLO, INFO): the behaviour it reproduces.
pub const REDIS_VERSION: &str = "7.0.15";
