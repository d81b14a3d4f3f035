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
    /// Bytes taken (by the writer task or by the reader's direct write) and not yet written.
    /// While non-zero, nobody else may take: writes to the socket stay in order.
    in_flight: usize,
    /// Capacity of the buffer the in-flight bytes are in, while the writer (task or direct
    /// write) holds it (0 once they are handed back to `front`): client eviction counts it.
    in_flight_cap: usize,
    /// The unwritten tail of a direct write, handed to the writer task: written before `buf`.
    front: BytesMut,
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
        if !g.front.is_empty() {
            // What a partial direct write handed back goes too: nothing more is written.
            g.front = BytesMut::new();
            g.in_flight = 0;
        }
        drop(g);
        self.notify.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// The connection is going away (closed or killed): nothing more will be delivered.
    pub fn is_closing(&self) -> bool {
        self.is_killed() || self.inner.lock().closing
    }

    /// Bytes queued or being written (CLIENT LIST `omem`).
    pub fn pending(&self) -> usize {
        let g = self.inner.lock();
        g.buf.len() + g.in_flight
    }

    /// Memory the outbox holds (client eviction): its buffers, and the buffer whoever writes
    /// holds.
    pub fn memory(&self) -> usize {
        use crate::server::memory::allocation_size;
        let g = self.inner.lock();
        allocation_size(g.buf.capacity())
            + allocation_size(g.front.capacity())
            + allocation_size(g.in_flight_cap)
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
        if !g.front.is_empty() {
            std::mem::swap(&mut g.front, spare);
            g.in_flight = spare.len();
            g.in_flight_cap = spare.capacity();
            // Its durability was checked when it was taken the first time.
            return Take::Write { hold_until: 0 };
        }
        if g.in_flight > 0 {
            // A direct write is under way; its writer wakes us if more is queued after it.
            return Take::Idle;
        }
        if g.buf.is_empty() {
            return if g.closing { Take::Close } else { Take::Idle };
        }
        std::mem::swap(&mut g.buf, spare);
        g.in_flight = spare.len();
        g.in_flight_cap = spare.capacity();
        Take::Write {
            hold_until: g.hold_until,
        }
    }

    /// Reader side, at the end of a batch: take the queued bytes to write them directly from
    /// the reader's task (saving the hand-off to the writer task), if nobody is writing, nothing
    /// was handed back, and the replies do not wait for an AOF offset beyond `durable`.
    pub fn take_direct(&self, spare: &mut BytesMut, durable: u64) -> bool {
        let mut g = self.inner.lock();
        if g.killed
            || g.closing
            || g.in_flight > 0
            || g.buf.is_empty()
            || !g.front.is_empty()
            || g.hold_until > durable
        {
            return false;
        }
        std::mem::swap(&mut g.buf, spare);
        g.in_flight = spare.len();
        g.in_flight_cap = spare.capacity();
        true
    }

    /// True when the queued replies wait for an AOF offset beyond `durable`.
    pub fn held_beyond(&self, durable: u64) -> bool {
        self.inner.lock().hold_until > durable
    }

    /// Reader side: the socket did not take all of a direct write; `rest` (what is left) goes
    /// to the writer task, ahead of anything queued since. The caller then wakes the writer.
    pub fn hand_back(&self, rest: &mut BytesMut) {
        let mut g = self.inner.lock();
        std::mem::swap(&mut g.front, rest);
        g.in_flight = g.front.len();
        g.in_flight_cap = 0;
    }

    /// The bytes taken last were written. Returns true when more is queued (the writer task
    /// must be woken if it was not the one writing).
    pub fn written(&self) -> bool {
        let mut g = self.inner.lock();
        g.in_flight = 0;
        g.in_flight_cap = 0;
        !g.buf.is_empty() || !g.front.is_empty()
    }

    /// Writer side: wait for a wake-up.
    pub async fn wait(&self) {
        self.notify.notified().await;
    }
}
