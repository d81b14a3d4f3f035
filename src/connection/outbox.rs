//! One outbox per client: every byte sent to a client goes through it (its own replies, pub/sub
//! messages published by other clients, replies handed over when a blocked command is served).
//!
//! Producers append encoded bytes under a short lock and call [`Outbox::wake`]; the client's
//! writer task swaps the whole buffer out and writes it with one syscall, so a pipelined batch
//! or a burst of published messages costs one write. The connection wakes its writer once per
//! read batch, not once per reply.
//!
//! The outbox is also where output limits live: [`Outbox::push_limited`] checks the pending
//! bytes against the client class's hard/soft limits (`client-output-buffer-limit`) at the moment
//! a publisher enqueues, and marks the client for closing instead of growing without bound; the
//! publisher is never blocked. And it is where `appendfsync always` holds replies back: a buffer
//! whose replies depend on AOF offset N is written only once N is durable ([`Outbox::hold`]).

use bytes::BytesMut;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::Notify;

use crate::protocol::{Reply, encode};

/// `client-output-buffer-limit <class> <hard> <soft> <soft-seconds>`; zeros disable a limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

#[derive(Default)]
struct Inner {
    buf: BytesMut,
    /// Bytes taken by the writer and not yet written.
    in_flight: usize,
    /// AOF offset that must be durable before `buf` may be written.
    hold_until: u64,
    /// Write what is queued, then close.
    closing: bool,
    /// Drop what is queued and close now (killed, or over its output limit).
    killed: bool,
    soft_since: Option<Instant>,
}

#[derive(Default)]
pub struct Outbox {
    inner: Mutex<Inner>,
    /// Mirror of `Inner::killed`, read after every command without taking the lock.
    killed: AtomicBool,
    notify: Notify,
}

/// What the writer task should do next.
pub enum Take {
    /// Write these bytes once `hold_until` is durable.
    Write { hold_until: u64 },
    /// Nothing queued: wait for a wake-up.
    Idle,
    /// Close the connection.
    Close,
}

impl Outbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queue a reply (no limit check: a client's own replies are bounded by what it asks for).
    pub fn push_reply(&self, reply: &Reply, resp: u8) {
        let mut g = self.inner.lock();
        if g.killed {
            return;
        }
        encode(reply, resp, &mut g.buf);
    }

    /// Queue already encoded bytes.
    pub fn push_bytes(&self, data: &[u8]) {
        let mut g = self.inner.lock();
        if !g.killed {
            g.buf.extend_from_slice(data);
        }
    }

    /// Queue bytes for a client subject to `limit`; returns false (and kills the client) when the
    /// pending output passes the hard limit or has stayed over the soft limit for too long.
    pub fn push_limited(&self, data: &[u8], limit: OutputLimit) -> bool {
        let mut g = self.inner.lock();
        if g.killed {
            return false;
        }
        g.buf.extend_from_slice(data);
        let pending = (g.buf.len() + g.in_flight) as u64;
        let mut over = limit.hard > 0 && pending >= limit.hard;
        if !over && limit.soft > 0 {
            if pending >= limit.soft {
                let since = *g.soft_since.get_or_insert_with(Instant::now);
                over = since.elapsed().as_secs() >= limit.soft_secs;
            } else {
                g.soft_since = None;
            }
        }
        if over {
            g.killed = true;
            self.killed.store(true, Ordering::Release);
            g.buf = BytesMut::new();
            drop(g);
            self.notify.notify_one();
            return false;
        }
        true
    }

    /// Wake the writer (after a batch of pushes).
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Replies queued so far must wait until AOF offset `offset` is durable.
    pub fn hold(&self, offset: u64) {
        let mut g = self.inner.lock();
        g.hold_until = g.hold_until.max(offset);
    }

    /// Flush what is queued, then close.
    pub fn close(&self) {
        self.inner.lock().closing = true;
        self.notify.notify_one();
    }

    /// Close now, dropping queued output.
    pub fn kill(&self) {
        let mut g = self.inner.lock();
        g.killed = true;
        self.killed.store(true, Ordering::Release);
        g.buf = BytesMut::new();
        drop(g);
        self.notify.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Bytes queued or being written (CLIENT LIST `omem`).
    pub fn pending(&self) -> usize {
        let g = self.inner.lock();
        g.buf.len() + g.in_flight
    }

    /// Capacity held by the queue buffer (CLIENT LIST `tot-mem` part).
    pub fn capacity(&self) -> usize {
        self.inner.lock().buf.capacity()
    }

    /// Writer side: swap the queued bytes into `spare` (which must be empty).
    pub fn take(&self, spare: &mut BytesMut) -> Take {
        let mut g = self.inner.lock();
        if g.killed {
            return Take::Close;
        }
        if g.buf.is_empty() {
            return if g.closing { Take::Close } else { Take::Idle };
        }
        std::mem::swap(&mut g.buf, spare);
        g.in_flight = spare.len();
        Take::Write {
            hold_until: g.hold_until,
        }
    }

    /// Writer side: the bytes taken last were written.
    pub fn written(&self) {
        self.inner.lock().in_flight = 0;
    }

    /// Writer side: wait for a wake-up.
    pub async fn wait(&self) {
        self.notify.notified().await;
    }
}
