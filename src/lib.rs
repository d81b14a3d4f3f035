//! ferrymq: a message broker that speaks the Redis protocol (RESP2 and RESP3).
//!
//! # Architecture
//! 1. **One ordering point for data.** All databases live in one [`store::Store`] behind a
//!    mutex. Command handlers are synchronous functions run inside that critical section: they
//!    mutate, record their AOF effect, signal ready keys and hand data to blocked clients. So AOF
//!    order is execution order, blocked clients are served first-come-first-served, and
//!    MULTI/EXEC, LMOVE, RENAME are atomic. Decoding, encoding and socket I/O happen outside it.
//! 2. **Pub/sub lives outside the store** ([`pubsub`]): it is not persisted and needs no
//!    ordering with data.
//! 3. **Every byte to a client goes through its outbox** ([`connection::outbox`]): replies,
//!    pub/sub messages, results handed to a blocked client. One writer task per connection
//!    drains it in batches.
//!
//! # Flows
//! - *PUBLISH reaches N subscribers*: the hub encodes the message once per protocol version and
//!   pushes a shared copy into each subscriber's outbox, enforcing output-buffer limits there.
//! - *LPUSH wakes a BRPOP waiter*: BRPOP registers a waiter under the store lock; LPUSH signals
//!   the key; before the lock is released `command::serve_ready_keys` re-runs the waiting BRPOP,
//!   which pops, propagates the pop it performed, and the reply goes into the waiter's outbox.
//! - *XADD reaches the AOF*: the handler propagates its effect (the real ID) under the lock;
//!   the AOF writer persists it per `appendfsync`.

#![deny(clippy::await_holding_lock)]
#![deny(unsafe_code)]

pub mod acl;
pub mod aof;
pub mod command;
pub mod config;
pub mod connection;
pub mod engine;
pub mod error;
pub mod notify;
pub mod num;
pub mod protocol;
pub mod pubsub;
// The Lua C API (mlua's `ffi`) is the one place that needs `unsafe`.
#[allow(unsafe_code)]
pub mod scripting;
pub mod server;
pub mod store;
pub mod tls;

/// The Redis version ferrymq reports (HELLO, INFO): the behaviour it reproduces.
pub const REDIS_VERSION: &str = "7.0.15";
