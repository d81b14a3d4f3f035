//! The per-connection tasks.
//!
//! The reader task owns the socket's read half and the [`ClientState`]: it decodes every complete
//! request in the buffer, dispatches each (replies go into the outbox), wakes the writer once per
//! batch, and reads again. While a command is blocked it stops processing input (as Redis does)
//! but keeps watching the socket, so a disconnect unregisters the waiter at once.
//!
//! The writer task owns the write half and drains the outbox (see `outbox`).

use bytes::BytesMut;
use parking_lot::Mutex;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{debug, info_span, warn};

use super::outbox::Take;
use super::{ClientHandle, ClientState, OutputLimit};
use crate::command::{Outcome, dispatch, unblock};
use crate::error;
use crate::protocol::request::Limits;
use crate::protocol::{Reply, RequestParser};
use crate::server::Shared;

/// Initial read buffer; grows with the requests, shrinks back when idle.
const READ_CHUNK: usize = 16 * 1024;

pub async fn serve<R, W>(shared: Arc<Shared>, rd: R, wr: W, addr: String, laddr: String, unix: bool)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let id = shared.clients.next_id();
    // Not `.instrument(span)`: entering a span on every poll of the connection cost ~6% of the
    // instructions of a small request. Events name the client explicitly instead.
    let span = info_span!("client", id, peer = %addr);
    {
        let handle = Arc::new(ClientHandle::new(id, addr, laddr, unix));
        shared.stats.connections.fetch_add(1, Ordering::Relaxed);
        let maxclients = shared.config_i64("maxclients").max(1) as usize;
        if shared.clients.len() >= maxclients {
            shared
                .stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            let mut wr = wr;
            let _ = wr
                .write_all(format!("-{}\r\n", error::MAX_CLIENTS).as_bytes())
                .await;
            return;
        }
        shared.clients.add(handle.clone());
        debug!(parent: &span, "connected");
        let sink = Arc::new(Sink::new(wr));
        let writer = tokio::spawn(write_loop(shared.clone(), handle.clone(), sink.clone()));
        let mut state = ClientState::new(handle.clone(), shared.requirepass().is_none());
        read_loop(&shared, &mut state, rd, &sink).await;
        disconnect(&shared, &mut state).await;
        handle.outbox.close();
        let _ = writer.await;
        shared.clients.remove(id);
        debug!(parent: &span, "disconnected");
    }
}

/// Undo everything a client registered: waiter, subscriptions, watches, monitor.
async fn disconnect(shared: &Arc<Shared>, state: &mut ClientState) {
    // The store lock is held by a running script: wait for it without parking the worker.
    shared.script_status.wait_idle().await;
    unblock(shared, state.id, None);
    shared.pubsub.remove_client(state);
    if !state.watched.is_empty() {
        let watched = std::mem::take(&mut state.watched);
        shared.store.lock().watches.unwatch(state.id, &watched);
    }
    if state.monitor {
        shared.remove_monitor(state.id);
    }
    if state.tracking.is_some() {
        shared.store.lock().tracking.disable(state.id);
    }
}

async fn read_loop<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    state: &mut ClientState,
    mut rd: R,
    sink: &Sink<W>,
) {
    let handle = state.handle.clone();
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = BytesMut::new();
    // Bytes a batch of replies usually takes (a moving average): see `write_direct`.
    let mut typical_batch = 0usize;
    // One wait for CLIENT KILL for the connection's whole life, not one per read.
    let killed = handle.killed();
    tokio::pin!(killed);
    // The cron's request to give the buffers back when idle: one registration for as long as
    // it does not fire, not one per read.
    let shrink = handle.shrink.notified();
    tokio::pin!(shrink);
    // The buffers were given back: the next read waits with none (a few bytes on the task's
    // own stack), and the query buffer is allocated again when a request arrives.
    let mut parked = false;
    let mut parser = RequestParser::new();
    let mut soft_since = None;
    loop {
        if !parked {
            let want = parser
                .pending_bulk(buf.len())
                .clamp(READ_CHUNK, 1024 * 1024);
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(want);
            }
        }
        let idle = shared
            .idle_timeout()
            .filter(|_| state.subscription_count() == 0);
        let read = async {
            let r = async {
                if parked {
                    let mut first = [0u8; 64];
                    let n = rd.read(&mut first).await?;
                    buf.reserve(READ_CHUNK);
                    buf.extend_from_slice(&first[..n]);
                    Ok(n)
                } else {
                    rd.read_buf(&mut buf).await
                }
            };
            match idle {
                Some(t) => tokio::time::timeout(t, r).await.ok(),
                None => Some(r.await),
            }
        };
        let n = tokio::select! {
            r = read => match r {
                None => {
                    debug!(client = state.id, "closing idle client");
                    return;
                }
                Some(Ok(0)) | Some(Err(_)) => return,
                Some(Ok(n)) => n,
            },
            _ = &mut killed => return,
            _ = &mut shrink, if !parked => 0,
        };
        if n == 0 {
            // Asked to shrink: only an empty buffer goes (a partial request keeps its bytes).
            shrink.set(handle.shrink.notified());
            if buf.is_empty() && parser.partial_len() == 0 {
                buf = BytesMut::new();
                out = BytesMut::new();
                parked = true;
                handle.qbuf_cap.store(0, Ordering::Relaxed);
            }
            continue;
        }
        parked = false;
        // The batch's start is its first command's start too (the clock is read once).
        let batch_start = Instant::now();
        state.clock = Some(batch_start);
        shared.stats.net_in.fetch_add(n as u64, Ordering::Relaxed);
        shared.stats.reads.fetch_add(1, Ordering::Relaxed);
        if (buf.len() + parser.partial_len()) as u64 > shared.query_buffer_limit() {
            warn!(
                client = state.id,
                qbuf = buf.len(),
                partial = parser.partial_len(),
                "closing client that reached max query buffer length"
            );
            return;
        }
        handle
            .last_interaction
            .store(crate::store::unix_ms() as u64, Ordering::Relaxed);
        handle
            .qbuf
            .store(buf.len() + parser.partial_len(), Ordering::Relaxed);
        handle.qbuf_cap.store(buf.capacity(), Ordering::Relaxed);
        // The query buffer grew: client eviction may take this client (or bigger ones).
        shared.clients.memory_changed(&handle);
        if handle.is_killed() {
            return;
        }
        // The output limits, read once per batch (a lock each) rather than once per command.
        let out_limits = (shared.normal_limit(), shared.pubsub_limit());
        loop {
            let limits = Limits {
                max_bulk_len: shared.max_bulk_len(),
                authenticated: state.authenticated,
            };
            match parser.parse(&mut buf, limits) {
                Ok(Some(argv)) => {
                    // While a script runs, wait here (asynchronously) until it ends or the
                    // server turns BUSY, instead of parking a runtime worker on the store lock.
                    if shared.script_status.must_wait() {
                        shared.script_status.wait_turn().await;
                        state.clock = None;
                    }
                    // One atomic load unless a pause was asked for (no clock read).
                    if shared.store.pause().is_set() {
                        wait_pause(shared, state, &argv).await;
                    }
                    match dispatch(shared, state, argv) {
                        Outcome::Continue => {}
                        Outcome::Close => {
                            handle.outbox.wake();
                            return;
                        }
                        Outcome::Blocked(deadline) => {
                            handle.outbox.wake();
                            if !wait_unblocked(shared, state, deadline, &mut rd, &mut buf).await {
                                return;
                            }
                            state.clock = None;
                        }
                    }
                    // The reply grew the output: client eviction may take this client (or
                    // bigger ones), as Redis checks before the next command.
                    shared.clients.memory_changed(&handle);
                    if handle.is_killed() {
                        return;
                    }
                    if over_output_limit(out_limits, state, &mut soft_since) {
                        warn!(
                            client = state.id,
                            omem = handle.outbox.pending(),
                            "client scheduled to be closed ASAP for overcoming of output buffer limits"
                        );
                        shared
                            .stats
                            .output_limit_disconnections
                            .fetch_add(1, Ordering::Relaxed);
                        handle.outbox.kill();
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // Redis replies, then closes the connection.
                    debug!(client = state.id, error = e.0, "protocol error");
                    handle
                        .outbox
                        .push_reply(&Reply::Error(e.message().into()), state.resp);
                    handle.outbox.wake();
                    return;
                }
            }
        }
        // After a long batch, let the other connections that are ready run theirs first (a
        // yielded task resumes once the runtime has run out of ready work), then write: the
        // replies of one round go out together, as Redis writes them all before it waits for
        // events again. A peer that went to sleep while the batch ran is then woken once per
        // round instead of once per reply (a cross-CPU wake-up each): EVALSHA -P16 went from
        // 2.6 to 2.0 µs of server CPU per call. A short batch (an unpipelined request, a cheap
        // pipeline) writes at once: its peer is still awake, and the yield would cost an extra
        // poll of the event loop per request.
        // With `appendfsync everysec`, the first connection back writes the AOF for all of
        // them with one `write`.
        // The last command's end, kept by the command path: no clock read here.
        if state
            .clock
            .is_some_and(|end| end.saturating_duration_since(batch_start) >= YIELD_AFTER)
            || (shared.aof.writes_inline()
                && state.handle.outbox.held_beyond(*shared.durable.borrow()))
        {
            tokio::task::yield_now().await;
        }
        if buf.is_empty() && buf.capacity() > 4 * READ_CHUNK {
            buf = BytesMut::with_capacity(READ_CHUNK);
        } else if buf.is_empty() && buf.capacity() < READ_CHUNK {
            // Take back the space the consumed requests used (no allocation once their
            // arguments are gone), so the next read has the whole chunk and CLIENT LIST shows
            // the buffer's real size (qbuf + qbuf-free), as Redis does.
            buf.reserve(READ_CHUNK);
        }
        // What is left of the query buffer is known before the replies go out: a client that
        // has read them sees it in CLIENT LIST.
        handle
            .qbuf
            .store(buf.len() + parser.partial_len(), Ordering::Relaxed);
        handle.qbuf_cap.store(buf.capacity(), Ordering::Relaxed);
        write_direct(shared, state, sink, &mut out, &mut typical_batch);
        shared.clients.memory.update(&handle);
    }
}

const REPLY_CHUNK_BYTES: u64 = 16 * 1024;

/// A connection's reply buffer is always kept up to this size (see `write_direct`).
const KEEP_REPLY_BUFFER: usize = 4 * 1024;

/// A batch that ran at least this long yields before writing its replies (see `read_loop`).
const YIELD_AFTER: std::time::Duration = std::time::Duration::from_micros(20);
/// `client-output-buffer-limit` applied to a client's own replies (class `normal`, or `pubsub`
/// while subscribed), checked after each command as Redis checks after each reply: a client
/// that pipelines without reading is closed instead of growing its outbox without bound.
fn over_output_limit(
    (normal, pubsub): (OutputLimit, OutputLimit),
    state: &ClientState,
    soft_since: &mut Option<Instant>,
) -> bool {
    let limit = if state.subscription_count() > 0 {
        pubsub
    } else {
        normal
    };
    if limit.hard == 0 && limit.soft == 0 {
        return false;
    }
    // Redis counts only the reply list, not the client's fixed 16 KiB reply buffer
    // (PROTO_REPLY_CHUNK_BYTES), so a small reply never trips even a 1-byte limit.
    let pending = (state.handle.outbox.pending() as u64).saturating_sub(REPLY_CHUNK_BYTES);
    if limit.hard > 0 && pending >= limit.hard {
        return true;
    }
    if limit.soft > 0 && pending >= limit.soft {
        let since = *soft_since.get_or_insert_with(Instant::now);
        return since.elapsed().as_secs() >= limit.soft_secs;
    }
    *soft_since = None;
    false
}

/// Wait until a blocked command is served, times out, is unblocked, or the client goes away.
/// Returns false when the connection must close.
async fn wait_unblocked<R: AsyncRead + Unpin>(
    shared: &Arc<Shared>,
    state: &mut ClientState,
    deadline: Option<Instant>,
    rd: &mut R,
    buf: &mut BytesMut,
) -> bool {
    let handle = state.handle.clone();
    loop {
        let timed_out = tokio::select! {
            _ = handle.wake.notified() => false,
            _ = sleep_until(deadline) => true,
            r = rd.read_buf(buf) => {
                match r {
                    Ok(0) | Err(_) => {
                        // Client gone: give up the wait so nothing is handed to it any more.
                        shared.script_status.wait_idle().await;
                        unblock(shared, state.id, None);
                        return false;
                    }
                    Ok(n) => {
                        shared.stats.net_in.fetch_add(n as u64, Ordering::Relaxed);
                        if buf.len() as u64 > shared.query_buffer_limit() {
                            shared.script_status.wait_idle().await;
                            unblock(shared, state.id, None);
                            return false;
                        }
                        continue;
                    }
                }
            }
        };
        // Everything below takes the store lock, which a running script holds.
        shared.script_status.wait_idle().await;
        if handle.is_killed() {
            unblock(shared, state.id, None);
            return false;
        }
        if !shared.store.lock().blocking.is_blocked(state.id) {
            // Served (or unblocked by CLIENT UNBLOCK): the reply is already in the outbox.
            return true;
        }
        if timed_out {
            if let Some(reply) = unblock(shared, state.id, None) {
                handle.outbox.push_reply(&reply, state.resp);
            }
            handle.outbox.wake();
            return true;
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// The socket's write half, shared by the writer task and the reader's direct write. Only the
/// side holding the outbox's in-flight bytes writes, so writes stay in order; the mutex is held
/// for one non-blocking poll at a time, never across an `.await`.
struct Sink<W> {
    w: Mutex<W>,
}

impl<W: AsyncWrite + Unpin> Sink<W> {
    fn new(w: W) -> Self {
        Sink { w: Mutex::new(w) }
    }

    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.w.lock()).poll_write(cx, data)
    }

    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.w.lock()).poll_flush(cx)
    }

    async fn write_all(&self, data: &[u8]) -> io::Result<()> {
        let mut pos = 0;
        while pos < data.len() {
            match std::future::poll_fn(|cx| self.poll_write(cx, &data[pos..])).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => pos += n,
            }
        }
        // A no-op on TCP; a TLS stream may keep the tail encrypted but unsent until flushed.
        std::future::poll_fn(|cx| self.poll_flush(cx)).await
    }

    async fn shutdown(&self) {
        let _ = std::future::poll_fn(|cx| Pin::new(&mut *self.w.lock()).poll_shutdown(cx)).await;
    }

    /// Write what the socket takes right now without waiting: (bytes written, flushed).
    fn try_write(&self, data: &[u8]) -> io::Result<(usize, bool)> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut pos = 0;
        while pos < data.len() {
            match self.poll_write(&mut cx, &data[pos..]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => pos += n,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok((pos, false)),
            }
        }
        match self.poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => Ok((pos, true)),
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Ok((pos, false)),
        }
    }
}

/// End of a read batch: write the replies from this task when the socket takes them at once
/// (as Redis writes replies before going back to its event loop), and hand over to the writer
/// task only what would have to wait. Saves a task wake-up and a poll per batch.
fn write_direct<W: AsyncWrite + Unpin>(
    shared: &Shared,
    state: &ClientState,
    sink: &Sink<W>,
    out: &mut BytesMut,
    typical: &mut usize,
) {
    let outbox = &state.handle.outbox;
    let durable = *shared.durable.borrow();
    if !outbox.take_direct(out, durable) {
        // Replies waiting for the AOF: write it now if this thread may, then try again.
        if !outbox.held_beyond(durable) || {
            crate::aof::write_now(shared);
            !outbox.take_direct(out, *shared.durable.borrow())
        } {
            outbox.wake();
            return;
        }
    }
    match sink.try_write(out) {
        Ok((n, flushed)) if n == out.len() && flushed => {
            shared.stats.net_out.fetch_add(n as u64, Ordering::Relaxed);
            shared.stats.writes.fetch_add(1, Ordering::Relaxed);
            note_batch(typical, n);
            out.clear();
            if outbox.written() {
                outbox.wake();
            }
        }
        Ok((n, _)) => {
            // The socket is full (or the TLS layer holds bytes): the writer task waits for it.
            shared.stats.net_out.fetch_add(n as u64, Ordering::Relaxed);
            bytes::Buf::advance(out, n);
            outbox.hand_back(out);
            out.clear();
            outbox.wake();
        }
        Err(_) => {
            // Let the writer task meet the error and close the connection.
            outbox.hand_back(out);
            out.clear();
            outbox.wake();
        }
    }
    release_unusual(out, *typical);
}

/// Count a batch of `n` bytes written into the connection's usual batch size (a moving
/// average of the last few).
#[inline]
fn note_batch(typical: &mut usize, n: usize) {
    *typical = (*typical * 7 + n) / 8;
}

/// Free an emptied output buffer that is large (client eviction counts only what the outbox
/// holds) or far bigger than the connection's `typical` batch: a one-off large reply (INFO, a
/// big GET) or burst of pushes (the invalidations an eviction sends) gives its memory back at
/// once, as Redis does not grow a client's reply buffer for one, while a steady stream of
/// large batches keeps its buffer. Kept, such buffers counted as used memory: the INFO that
/// read used_memory left ~10 KB more for the CONFIG SET maxmemory after it to evict for, and
/// ten tracking clients kept 64 KB each after the invalidations of one eviction pass, which
/// made the next pass evict again.
#[inline]
fn release_unusual(buf: &mut BytesMut, typical: usize) {
    let cap = buf.capacity();
    if cap > 64 * 1024 || (cap > KEEP_REPLY_BUFFER && cap > 4 * typical) {
        *buf = BytesMut::new();
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    handle: Arc<ClientHandle>,
    wr: Arc<Sink<W>>,
) {
    let mut spare = BytesMut::new();
    let mut typical = 0usize;
    let mut durable = shared.durable.subscribe();
    loop {
        match handle.outbox.take(&mut spare) {
            Take::Idle => {
                handle.outbox.wait().await;
                // Let the tasks already runnable on this thread run first, so that what they
                // push for this client (a replica's stream, a subscriber's messages, served
                // pops) goes in this write too: one send per round of the event loop, as Redis
                // writes in beforeSleep, instead of one per feeding batch.
                tokio::task::yield_now().await;
            }
            Take::Close => break,
            Take::Write { hold_until } => {
                if hold_until > *durable.borrow() {
                    crate::aof::write_now(&shared);
                }
                if hold_until > 0 && durable.wait_for(|d| *d >= hold_until).await.is_err() {
                    break;
                }
                // A kill (CLIENT KILL, an output limit) ends a write the peer does not take,
                // such as to a stalled replica: its buffer is freed and the socket closed at
                // once, as Redis frees a killed client, instead of both waiting on the peer.
                let written = tokio::select! {
                    r = wr.write_all(&spare) => r.is_ok(),
                    _ = handle.killed() => false,
                };
                if !written {
                    drop(std::mem::take(&mut spare));
                    handle.outbox.written();
                    break;
                }
                shared
                    .stats
                    .net_out
                    .fetch_add(spare.len() as u64, Ordering::Relaxed);
                shared.stats.writes.fetch_add(1, Ordering::Relaxed);
                note_batch(&mut typical, spare.len());
                spare.clear();
                handle.outbox.written();
                shared.clients.memory.update(&handle);
                release_unusual(&mut spare, typical);
            }
        }
    }
    // A killed client's peer may not be reading: the socket closes when dropped instead.
    if !handle.is_killed() {
        wr.shutdown().await;
    }
    handle.notify_killed();
}

/// Hold `argv` while CLIENT PAUSE applies to it: until the pause ends, is extended, or CLIENT
/// UNPAUSE. The client counts as blocked meanwhile (INFO `blocked_clients`).
async fn wait_pause(shared: &Arc<Shared>, state: &mut ClientState, argv: &[bytes::Bytes]) {
    let mut counted = false;
    loop {
        // Registered before the check, so an UNPAUSE between the two is not missed.
        let unpaused = shared.unpaused.notified();
        tokio::pin!(unpaused);
        unpaused.as_mut().enable();
        let Some(d) = shared.pause_delay(state, argv) else {
            break;
        };
        if !counted {
            counted = true;
            shared.paused_clients.fetch_add(1, Ordering::Relaxed);
            state.handle.outbox.wake();
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = &mut unpaused => {}
        }
    }
    if counted {
        shared.paused_clients.fetch_sub(1, Ordering::Relaxed);
        state.clock = None;
    }
}
