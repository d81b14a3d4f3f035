//! Append-only file persistence, in Redis 7's multi-part layout (see [`manifest`]).
//!
//! # API and flow
//! - Startup ([`startup`], called by `server::run` before the first client is accepted): with
//!   `appendonly yes`, load the manifest, replay the base then the incremental files through the
//!   command table ([`loader`]), trim a truncated tail (`aof-load-truncated`), open the last
//!   incremental file for appending, start the writer, and install the [`AofSink`] in the store.
//! - Every effect: `StoreInner::propagate` calls [`AofSink::append`] under the store lock, in
//!   execution order. The sink encodes the command as RESP into the in-memory pending buffer and
//!   returns the offset just after it (offsets count every byte ever appended since start).
//! - A writer step ([`writer`]) takes the whole pending buffer, writes it with one syscall,
//!   fsyncs according to `appendfsync` and publishes the durable offset in `Shared::durable`.
//!   [`reply_barrier`] gives connections the offset their replies must wait for: with `always`
//!   until it is fsynced, with `everysec`/`no` until it is written, as Redis writes before it
//!   replies. Under `everysec`/`no` the connection that waits takes the step itself
//!   ([`write_now`]) after letting the other ready connections run, so one `write` covers every
//!   batch that was ready, as Redis writes once per event-loop iteration: the hand-off to a
//!   thread (wake it, be woken back through the watch) cost more than the write itself
//!   (`everysec` LPUSH went from 0.68-0.88x redis-server to 0.93-0.98x). Under `always` the
//!   writer thread writes and fsyncs: connections keep executing while an fsync runs, and the
//!   next group is what arrived meanwhile (group commit); fsyncing on the connection's thread
//!   instead was no faster with a fast disk and 2-4x slower with a busy one. The thread also
//!   writes what no reply waits for, retries, asks for the `everysec` fsync and drains at
//!   shutdown.
//! - Errors: a failed write or fsync puts the AOF in an error state; [`refuse_writes`] then
//!   refuses write commands with `MISCONF` until a write succeeds again. Nothing is dropped: the
//!   unwritten bytes are retried, and `always` replies stay held until they are on disk.
//! - Rewrite ([`rewrite`]: BGREWRITEAOF, automatic by size, `CONFIG SET appendonly yes`) builds a
//!   new base in bounded batches without stopping clients, then switches writes to a new
//!   incremental file and replaces the manifest atomically.
//! - Shutdown ([`shutdown`]): the writer drains the buffer, fsyncs, and stops.
//!
//! Lock order: store lock, then the pending-buffer lock (the sink appends under both). Threads
//! that take the store lock never hold the pending lock or the files lock meanwhile. The writer
//! lock (`Core::writer`) comes before the pending and files locks and is never taken while the
//! store lock is held (connections step the writer between batches, outside the store lock).

pub mod check;
pub mod loader;
pub mod manifest;
pub mod reader;
mod records;
pub(crate) use records::{RecordRef, RecordSet};
pub(crate) mod rewrite;
mod writer;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;
use tracing::{error, info, warn};

use crate::engine::StoreInner;
use crate::server::Shared;
use manifest::{FileEntry, Layout, Manifest};

pub(crate) use rewrite::Capture;

/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fsync {
    No = 0,
    Always = 1,
    EverySec = 2,
}

impl Fsync {
    fn parse(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// `strerror()`-style text of an I/O error (no Rust suffix), as Redis prints it.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

pub use crate::protocol::encode_command;

/// A point in the byte stream where the writer must start a new incremental file.
pub(crate) struct Marker {
    pub at: u64,
    pub reply: std::sync::mpsc::Sender<Result<FileEntry, String>>,
}

/// Effects encoded but not yet taken by the writer.
#[derive(Default)]
pub(crate) struct Pending {
    pub buf: Vec<u8>,
    /// Offset just after `buf` (bytes appended since start).
    pub end: u64,
    pub markers: VecDeque<Marker>,
    /// The writer thread waits for work; under `always` the next append wakes it.
    pub sleeping: bool,
}

/// Which files make up the AOF now.
pub(crate) struct Files {
    pub layout: Layout,
    pub manifest: Manifest,
}

/// Rewrite bookkeeping for INFO.
#[derive(Default)]
pub(crate) struct RewriteStats {
    pub in_progress: AtomicBool,
    pub scheduled: AtomicBool,
    pub started: Mutex<Option<Instant>>,
    pub last_secs: AtomicI64,
    pub last_ok: AtomicBool,
    pub count: AtomicU64,
    pub consecutive_failures: AtomicU64,
    pub abort: AtomicBool,
}

/// State shared by the sink, the writer, the fsync thread and the rewrite.
pub(crate) struct Core {
    pub pending: Mutex<Pending>,
    pub wake: Condvar,
    policy: AtomicU8,
    pub no_fsync_on_rewrite: AtomicBool,
    /// `aof_enabled`: effects are persisted (or will be, once the first base is written).
    pub enabled: AtomicBool,
    /// The writer keeps running; cleared to make it drain, fsync and exit.
    pub running: AtomicBool,
    pub failed: AtomicBool,
    pub error: Mutex<String>,
    /// Offset up to which effects are on disk as the policy requires.
    pub synced: AtomicU64,
    /// Durable offsets are published only up to here (while the first base of a runtime
    /// `appendonly yes` is being written nothing is durable yet).
    pub gate: AtomicU64,
    pub current_size: AtomicU64,
    pub base_size: AtomicU64,
    pub delayed_fsync: AtomicU64,
    pub fsync_in_progress: AtomicBool,
    pub rewrite: RewriteStats,
    pub files: Mutex<Option<Files>>,
    pub everysec: Mutex<writer::FsyncJob>,
    pub everysec_wake: Condvar,
    /// The writer's state while the AOF is on (the thread and inline writers share it).
    pub writer: Mutex<Option<writer::Writer>>,
    #[cfg(test)]
    pub fail_writes: AtomicU64,
}

impl Default for Core {
    fn default() -> Self {
        Core {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            policy: AtomicU8::new(Fsync::EverySec as u8),
            no_fsync_on_rewrite: AtomicBool::new(false),
            enabled: AtomicBool::new(false),
            running: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            error: Mutex::new(String::new()),
            synced: AtomicU64::new(0),
            gate: AtomicU64::new(u64::MAX),
            current_size: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
            delayed_fsync: AtomicU64::new(0),
            fsync_in_progress: AtomicBool::new(false),
            rewrite: RewriteStats {
                last_secs: AtomicI64::new(-1),
                last_ok: AtomicBool::new(true),
                ..Default::default()
            },
            files: Mutex::new(None),
            everysec: Mutex::new(writer::FsyncJob::default()),
            everysec_wake: Condvar::new(),
            writer: Mutex::new(None),
            #[cfg(test)]
            fail_writes: AtomicU64::new(0),
        }
    }
}

impl Core {
    pub fn policy(&self) -> Fsync {
        match self.policy.load(Ordering::Relaxed) {
            0 => Fsync::No,
            1 => Fsync::Always,
            _ => Fsync::EverySec,
        }
    }

    /// Enter the error state (logged once per episode).
    pub fn set_error(&self, what: &str, e: &std::io::Error) {
        let reason = strerror(e);
        *self.error.lock() = reason.clone();
        if !self.failed.swap(true, Ordering::SeqCst) {
            error!(error = %reason, "{what} on the AOF failed; refusing writes until it recovers");
        }
    }

    pub fn clear_error(&self) {
        if self.failed.swap(false, Ordering::SeqCst) {
            warn!("AOF write error looks solved, ferrymq can write again.");
        }
    }

    fn wake_writer(&self) {
        self.wake.notify_all();
    }
}

/// The AOF state the server owns (a field of `Shared`).
#[derive(Default)]
pub struct Aof {
    pub(crate) core: Arc<Core>,
    threads: Mutex<Threads>,
}

#[derive(Default)]
struct Threads {
    writer: Option<JoinHandle<()>>,
    fsyncer: Option<JoinHandle<()>>,
    rewrite: Option<JoinHandle<()>>,
}

impl Aof {
    pub fn is_enabled(&self) -> bool {
        self.core.enabled.load(Ordering::SeqCst)
    }

    /// Connections write the AOF themselves before replying (`everysec`/`no`; see [`write_now`]).
    pub fn writes_inline(&self) -> bool {
        self.core.enabled.load(Ordering::Relaxed) && self.core.policy() != Fsync::Always
    }

    pub fn rewrite_in_progress(&self) -> bool {
        self.core.rewrite.in_progress.load(Ordering::SeqCst)
    }

    /// Make writes fail `n` times (tests of the error state).
    #[cfg(test)]
    pub(crate) fn inject_write_failures(&self, n: u64) {
        self.core.fail_writes.store(n, Ordering::SeqCst);
    }
}

/// The AOF end of `StoreInner`: effects are appended here under the store lock.
pub struct AofSink {
    core: Arc<Core>,
    /// Database the replayed stream is in (None: the next effect selects its database).
    selected: Option<usize>,
    /// Offset after the last append.
    end: u64,
    /// Effects are only captured for a rewrite, not persisted (BGREWRITEAOF with AOF off).
    discard: bool,
    pub(crate) capture: Option<Box<Capture>>,
}

/// The AOF replays the effects log (`crate::engine::effects`), with a `SELECT` wherever the
/// database changes: a unit's effects are appended to the writer's buffer under one lock.
impl crate::engine::effects::EffectsConsumer for AofSink {
    fn consume(&mut self, effects: crate::engine::effects::Batch<'_>) {
        if let Some(c) = self.capture.as_mut() {
            // Only while a rewrite runs: the capture looks at what each effect did.
            for (db, command) in effects.iter() {
                c.on_effect(db, &reader::decode_one(command).unwrap_or_default());
            }
        }
        let mut selected = self.selected;
        if self.discard {
            self.selected = effects.iter().last().map(|(db, _)| db).or(selected);
            return;
        }
        let mut p = self.core.pending.lock();
        let before = p.buf.len();
        for (db, command) in effects.iter() {
            if selected != Some(db) {
                let select = [Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())];
                encode_command(&select, &mut p.buf);
                selected = Some(db);
            }
            p.buf.extend_from_slice(command);
        }
        p.end += (p.buf.len() - before) as u64;
        self.end = p.end;
        self.selected = selected;
        // Under `always` the thread fsyncs: wake it if it sleeps. Otherwise whoever waits for
        // this offset writes it ([`write_now`]), and the thread writes the rest within 250 ms.
        let wake = p.sleeping && self.core.policy() == Fsync::Always;
        if wake {
            p.sleeping = false;
        }
        drop(p);
        if wake {
            self.core.wake_writer();
        }
    }
}

impl AofSink {
    fn new(core: Arc<Core>, discard: bool) -> AofSink {
        let end = core.pending.lock().end;
        AofSink {
            core,
            selected: None,
            end,
            discard,
            capture: None,
        }
    }

    /// The next effect selects its database again (a new file starts).
    pub fn reselect(&mut self) {
        self.selected = None;
    }

    /// Offset after the last append.
    pub fn offset(&self) -> u64 {
        self.end
    }
}

/// The AOF offset that must be in the file before replies queued now may be written (`None`
/// when replies need not wait).
///
/// As in Redis, which writes the AOF buffer before it sends replies whatever the policy: with
/// `always` the offset must also be fsynced (the writer publishes it after the fsync), with
/// `everysec`/`no` only written, so a killed process loses nothing acknowledged and a power
/// failure at most about a second. While the first base of a runtime `appendonly yes` is being
/// written nothing is in a file yet and, as in Redis (whose AOF is not on until then), only
/// `always` waits for it.
pub fn reply_barrier(store: &StoreInner) -> Option<u64> {
    let sink = store.aof.as_ref()?;
    if sink.discard || sink.end == 0 {
        return None;
    }
    if sink.core.policy() != Fsync::Always && sink.core.gate.load(Ordering::Relaxed) != u64::MAX {
        return None;
    }
    Some(sink.end)
}

/// Write what was appended, for a connection whose replies wait for it, from the calling
/// thread under `everysec`/`no`: Redis writes its AOF buffer in its event loop before replying,
/// and so does the connection here — one `write` for everything every client appended so far
/// (connections yield before calling this, so one call covers all the batches that were ready).
/// Under `always`, after a write error, or with the AOF off, it wakes the writer thread instead:
/// the fsync stays off the runtime's workers (see [`writer`] for why). Afterwards
/// `Shared::durable` may have advanced.
pub fn write_now(shared: &Shared) {
    let core = &shared.aof.core;
    if core.policy() != Fsync::Always && !core.failed.load(Ordering::Relaxed) {
        // A short wait at most: outside `always` nothing fsyncs under this lock (but a file
        // switch at a rewrite's marker).
        let mut guard = core.writer.lock();
        if let Some(w) = guard.as_mut() {
            w.step(core);
            drop(guard);
            publish(shared);
            return;
        }
    }
    core.wake_writer();
}

/// While the AOF cannot be written, write commands are refused with this error (Redis's
/// `MISCONF` protection against silent loss).
pub fn refuse_writes(shared: &Shared) -> Option<String> {
    // A failed BGSAVE comes first, as in Redis's writeCommandsDeniedByDiskError.
    if let Some(e) = crate::snapshot::refuse_writes(shared) {
        return Some(e);
    }
    let core = &shared.aof.core;
    if !core.failed.load(Ordering::Relaxed) || !core.enabled.load(Ordering::Relaxed) {
        return None;
    }
    Some(format!(
        "MISCONF Errors writing to the AOF file: {}",
        core.error.lock()
    ))
}

/// The AOF figures the metrics endpoint exports (the same sources as [`info_fields`]).
pub struct Figures {
    pub enabled: bool,
    pub last_write_ok: bool,
    pub rewrite_in_progress: bool,
    pub last_rewrite_ok: bool,
    pub rewrites: u64,
    pub current_size: u64,
}

pub fn metrics(shared: &Shared) -> Figures {
    let c = &shared.aof.core;
    let rw = &c.rewrite;
    Figures {
        enabled: c.enabled.load(Ordering::SeqCst),
        last_write_ok: !c.failed.load(Ordering::SeqCst),
        rewrite_in_progress: rw.in_progress.load(Ordering::SeqCst),
        last_rewrite_ok: rw.last_ok.load(Ordering::SeqCst),
        rewrites: rw.count.load(Ordering::SeqCst),
        current_size: c.current_size.load(Ordering::SeqCst),
    }
}

/// The `aof_*` lines of INFO persistence, as Redis 7.0 prints them.
pub fn info_fields(shared: &Shared) -> String {
    let c = &shared.aof.core;
    let enabled = c.enabled.load(Ordering::SeqCst);
    let rw = &c.rewrite;
    let in_progress = rw.in_progress.load(Ordering::SeqCst);
    let current = rw
        .started
        .lock()
        .filter(|_| in_progress)
        .map(|t| t.elapsed().as_secs() as i64)
        .unwrap_or(-1);
    let mut s = format!(
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        enabled as u8,
        in_progress as u8,
        rw.scheduled.load(Ordering::SeqCst) as u8,
        rw.last_secs.load(Ordering::SeqCst),
        current,
        if rw.last_ok.load(Ordering::SeqCst) {
            "ok"
        } else {
            "err"
        },
        rw.count.load(Ordering::SeqCst),
        rw.consecutive_failures.load(Ordering::SeqCst),
        if c.failed.load(Ordering::SeqCst) {
            "err"
        } else {
            "ok"
        },
    );
    if enabled {
        let buffered = c.pending.lock().buf.len();
        s.push_str(&format!(
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:0\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:{}\r\naof_delayed_fsync:{}\r\n",
            c.current_size.load(Ordering::SeqCst),
            c.base_size.load(Ordering::SeqCst),
            buffered,
            c.fsync_in_progress.load(Ordering::SeqCst) as u8,
            c.delayed_fsync.load(Ordering::SeqCst),
        ));
    }
    s
}

/// The AOF directory and names from the config.
fn layout_from_config(shared: &Shared) -> Layout {
    let c = shared.config.read();
    Layout::new(
        &c.get("dir").unwrap_or_else(|| ".".into()),
        &c.get("appenddirname")
            .unwrap_or_else(|| "appendonlydir".into()),
        &c.get("appendfilename")
            .unwrap_or_else(|| "appendonly.aof".into()),
    )
}

/// Re-read `appendfsync` and `no-appendfsync-on-rewrite` (startup and CONFIG SET).
pub fn apply_config(shared: &Shared) {
    let (policy, no_on_rewrite) = {
        let c = shared.config.read();
        (
            Fsync::parse(&c.get("appendfsync").unwrap_or_default()),
            c.get_bool("no-appendfsync-on-rewrite"),
        )
    };
    let core = &shared.aof.core;
    core.policy.store(policy as u8, Ordering::SeqCst);
    core.no_fsync_on_rewrite
        .store(no_on_rewrite, Ordering::SeqCst);
    core.wake_writer();
}

fn io_err(msg: String) -> std::io::Error {
    std::io::Error::other(msg)
}

/// Load the AOF (when enabled) before the first client is accepted, then start persisting.
pub fn startup(shared: &Arc<Shared>) -> std::io::Result<()> {
    apply_config(shared);
    if !shared.config.read().get_bool("appendonly") {
        return Ok(());
    }
    let layout = layout_from_config(shared);
    std::fs::create_dir_all(&layout.dir).map_err(|e| {
        io_err(format!(
            "Can't create the append-only directory {}: {}",
            layout.dir.display(),
            strerror(&e)
        ))
    })?;
    rewrite::remove_temp_files(&layout);
    let mut manifest = layout.load().map_err(io_err)?;
    shared.set_loading(true);
    let loaded = match manifest.as_ref() {
        Some(m) if m.base.is_some() || !m.incrs.is_empty() => {
            let truncated_ok = shared.config.read().get_bool("aof-load-truncated");
            let start = Instant::now();
            let r = loader::load(shared, &layout, m, truncated_ok);
            if r.is_ok() {
                info!(
                    seconds = start.elapsed().as_secs_f64(),
                    "DB loaded from append only file"
                );
            }
            r
        }
        _ => Ok(()),
    };
    shared.set_loading(false);
    loaded.map_err(io_err)?;
    {
        let mut store = shared.store.lock();
        store.dirty = 0;
    }
    shared.reset_stats();

    let mut m = manifest.take().unwrap_or_default();
    let mk = |e: std::io::Error, what: &str| {
        io_err(format!(
            "Can't create the AOF {what} file: {}",
            strerror(&e)
        ))
    };
    let mut changed = false;
    if m.base.is_none() && m.incrs.is_empty() {
        // Like Redis: an empty dataset starts with an empty base file (an RDB of nothing with
        // `aof-use-rdb-preamble yes`).
        let seq = m.next_base_seq();
        if shared.config.read().get_bool("aof-use-rdb-preamble") {
            let name = layout.rdb_base_name(seq);
            let mut f = layout.create(&name).map_err(|e| mk(e, "base"))?;
            let enc = crate::command::dump::encodings_of(shared);
            for c in crate::snapshot::file_chunks(RecordSet::default(), &[], &enc) {
                std::io::Write::write_all(&mut f, &c).map_err(|e| mk(e, "base"))?;
            }
            f.sync_all().map_err(|e| mk(e, "base"))?;
            info!(file = %name, "Creating AOF base file on server start");
            m.base = Some(FileEntry { name, seq });
        } else {
            let name = layout.base_name(seq);
            layout.create(&name).map_err(|e| mk(e, "base"))?;
            info!(file = %name, "Creating AOF base file on server start");
            m.base = Some(FileEntry { name, seq });
        }
        changed = true;
    }
    if m.incrs.is_empty() {
        let seq = m.next_incr_seq();
        let name = layout.incr_name(seq);
        layout.create(&name).map_err(|e| mk(e, "incr"))?;
        info!(file = %name, "Creating AOF incr file on server start");
        m.incrs.push(FileEntry { name, seq });
        changed = true;
    }
    if !m.history.is_empty() {
        for h in std::mem::take(&mut m.history) {
            let _ = std::fs::remove_file(layout.path(&h.name));
        }
        changed = true;
    }
    if changed {
        layout
            .persist(&m)
            .map_err(|e| io_err(format!("Can't persist the AOF manifest: {}", strerror(&e))))?;
    }
    let last = m.incrs.last().expect("an incr file").name.clone();
    let file = layout
        .open_append(&last)
        .map_err(|e| io_err(format!("Can't open the AOF file {last}: {}", strerror(&e))))?;
    let total: u64 = m.data_files().map(|(f, _)| layout.size_of(&f.name)).sum();
    let core = &shared.aof.core;
    core.current_size.store(total, Ordering::SeqCst);
    core.base_size.store(total, Ordering::SeqCst);
    *core.files.lock() = Some(Files {
        layout,
        manifest: m,
    });
    start_writer(shared, Some(file));
    let mut store = shared.store.lock();
    store.aof = Some(AofSink::new(core.clone(), false));
    Ok(())
}

fn start_writer(shared: &Arc<Shared>, file: Option<std::fs::File>) {
    let core = &shared.aof.core;
    core.running.store(true, Ordering::SeqCst);
    core.enabled.store(true, Ordering::SeqCst);
    let mut t = shared.aof.threads.lock();
    t.writer = Some(writer::spawn(shared.clone(), file));
    t.fsyncer = Some(writer::spawn_everysec(core.clone()));
}

/// Stop the writer after it has written and fsynced everything appended so far.
fn stop_writer(shared: &Shared) {
    let core = &shared.aof.core;
    core.running.store(false, Ordering::SeqCst);
    core.wake_writer();
    let (w, f) = {
        let mut t = shared.aof.threads.lock();
        (t.writer.take(), t.fsyncer.take())
    };
    if let Some(w) = w {
        let _ = w.join();
    }
    {
        let mut job = core.everysec.lock();
        job.stop = true;
    }
    core.everysec_wake.notify_all();
    if let Some(f) = f {
        let _ = f.join();
    }
    core.everysec.lock().stop = false;
    core.enabled.store(false, Ordering::SeqCst);
    // Nothing more will be written: release every reply that waited for the AOF.
    let end = core.pending.lock().end;
    shared.durable.send_if_modified(|d| {
        if end > *d {
            *d = end;
            true
        } else {
            false
        }
    });
}

/// Abort a running rewrite and wait for its thread.
fn abort_rewrite(shared: &Shared) {
    let core = &shared.aof.core;
    let handle = shared.aof.threads.lock().rewrite.take();
    if let Some(h) = handle {
        core.rewrite.abort.store(true, Ordering::SeqCst);
        let _ = h.join();
        core.rewrite.abort.store(false, Ordering::SeqCst);
    }
}

/// Flush and fsync before exit.
pub fn shutdown(shared: &Shared) {
    abort_rewrite(shared);
    if !shared.aof.is_enabled() {
        return;
    }
    info!("Calling fsync() on the AOF file.");
    // SHUTDOWN NOSAVE during a BUSY script: the script holds the store lock for good, and its
    // effects reach the sink only when it ends, so what is queued is all there is to write.
    if !shared.script_status.busy.load(Ordering::SeqCst) {
        shared.store.lock().aof = None;
    }
    stop_writer(shared);
}

/// BGREWRITEAOF: start a background rewrite; Err is the error line.
pub fn bgrewrite(shared: &Arc<Shared>) -> Result<(), String> {
    rewrite::start(shared, rewrite::Mode::Current)
}

/// `CONFIG SET appendonly yes|no` took effect in the config: start or stop persistence.
/// `held`: the store, when the caller already holds it (CONFIG SET inside EXEC). A running
/// rewrite takes the store lock before it ends, so it is then told to stop but not waited for.
pub fn set_appendonly(
    shared: &Arc<Shared>,
    on: bool,
    held: Option<&mut StoreInner>,
) -> Result<(), String> {
    if on == shared.aof.is_enabled() {
        return Ok(());
    }
    let rw = &shared.aof.core.rewrite;
    if !on {
        match held {
            Some(store) => {
                rw.abort.store(true, Ordering::SeqCst);
                store.aof = None;
            }
            None => {
                abort_rewrite(shared);
                shared.store.lock().aof = None;
            }
        }
        stop_writer(shared);
        *shared.aof.core.files.lock() = None;
        return Ok(());
    }
    if held.is_some() && rw.in_progress.load(Ordering::SeqCst) {
        // Its end would remove the sink installed below; it cannot be waited for here.
        error!("Can't turn on AOF inside a transaction while an AOF rewrite is running");
        return Err("Unable to turn on AOF. Check server logs.".into());
    }
    if held.is_none() {
        abort_rewrite(shared);
    }
    let layout = layout_from_config(shared);
    std::fs::create_dir_all(&layout.dir).map_err(|e| {
        error!(error = %strerror(&e), "Can't create the append-only directory");
        "Unable to turn on AOF. Check server logs.".to_string()
    })?;
    let manifest = layout.load().map_err(|e| {
        error!(error = %e, "Can't read the AOF manifest");
        "Unable to turn on AOF. Check server logs.".to_string()
    })?;
    *shared.aof.core.files.lock() = Some(Files {
        layout,
        manifest: manifest.unwrap_or_default(),
    });
    // Nothing is durable until the first base file is complete.
    shared.aof.core.gate.store(0, Ordering::SeqCst);
    start_writer(shared, None);
    let enable = |store: &mut StoreInner| {
        store.aof = Some(AofSink::new(shared.aof.core.clone(), false));
        rewrite::start_with(shared, rewrite::Mode::Enable, store)
    };
    match held {
        Some(store) => enable(store),
        None => enable(&mut shared.store.lock()),
    }
    .map_err(|e| {
        error!(error = %e, "Can't start the first AOF rewrite");
        "Unable to turn on AOF. Check server logs.".to_string()
    })
}

/// Publish the durable offset (monotonic).
pub(crate) fn publish(shared: &Shared) {
    let core = &shared.aof.core;
    let v = core
        .synced
        .load(Ordering::SeqCst)
        .min(core.gate.load(Ordering::SeqCst));
    shared.durable.send_if_modified(|d| {
        if v > *d {
            *d = v;
            true
        } else {
            false
        }
    });
}

#[cfg(test)]
mod tests;
