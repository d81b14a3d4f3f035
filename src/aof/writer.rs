//! The AOF writer: its state (`Core::writer`), the thread, and the `everysec` fsync thread.
//!
//! A writer step takes everything the sink appended (one swap under the pending lock), writes
//! it with one `write`, fsyncs per `appendfsync` and advances the synced offset; publishing it
//! (`Shared::durable`) releases the replies connections held for it.
//!
//! Who steps: under `everysec`/`no` mostly the connections whose replies wait
//! ([`super::write_now`]), as Redis writes its AOF buffer in its event loop before it replies;
//! they yield to the other ready connections first, so one `write` covers every batch that was
//! ready. Under `always` this thread: woken by the first append while it sleeps, it writes and
//! fsyncs everything appended so far while connections keep executing, so one `fsync`
//! acknowledges every client that wrote meanwhile (group commit) and a slow disk stalls no
//! runtime worker. The thread also writes what no reply waits for (within 250 ms), retries
//! after errors, asks for the `everysec` fsync, checks automatic rewrites, and drains
//! everything at shutdown.
//!
//! `everysec`: replies leave only once written (so a crash of the process loses nothing
//! acknowledged); the thread asks the fsync thread for an fsync at most once per second; if an fsync
//! is still running after two seconds the request is postponed and counted in
//! `aof_delayed_fsync`, as Redis does.
//!
//! Errors: a failed write is undone with `ftruncate` when possible (else the bytes that made it
//! are kept and the rest is retried), the error state is set (writes get `MISCONF`), and the
//! write is retried every second; the first success clears the state.
//!
//! Markers: at a marker's offset the writer fsyncs the current incremental file, creates the
//! next one, records it in the manifest (unless the first base is still being written) and
//! answers the rewrite that asked for the switch.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tracing::warn;

use super::manifest::FileEntry;
use super::{Core, Fsync, Marker};
use crate::server::Shared;

/// Work for the `everysec` fsync thread.
#[derive(Default)]
pub(crate) struct FsyncJob {
    pub file: Option<Arc<File>>,
    pub requested: bool,
    pub stop: bool,
    pub started: Option<Instant>,
}

/// The writer's state, shared by the thread and inline writers (`Core::writer`).
pub(crate) struct Writer {
    /// None until the first base of a runtime `appendonly yes` is done: bytes before the first
    /// marker are part of that base and are not written anywhere else.
    file: Option<Arc<File>>,
    /// Taken from the sink and not yet written; `local_start` is the offset of `local[0]`.
    local: Vec<u8>,
    local_start: u64,
    markers: VecDeque<Marker>,
    /// Bytes written but not fsynced.
    unsynced: bool,
    last_fsync_request: Instant,
}

pub(crate) fn spawn(shared: Arc<Shared>, file: Option<File>) -> std::thread::JoinHandle<()> {
    let core = shared.aof.core.clone();
    let local_start = core.pending.lock().end;
    core.synced.store(local_start, Ordering::SeqCst);
    let file = file.map(Arc::new);
    core.everysec.lock().file = file.clone();
    *core.writer.lock() = Some(Writer {
        file,
        local: Vec::new(),
        local_start,
        markers: VecDeque::new(),
        unsynced: false,
        last_fsync_request: Instant::now(),
    });
    std::thread::Builder::new()
        .name("aof-writer".into())
        .spawn(move || run(shared))
        .expect("spawn the AOF writer")
}

pub(crate) fn spawn_everysec(core: Arc<Core>) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("aof-fsync".into())
        .spawn(move || {
            loop {
                let file = {
                    let mut job = core.everysec.lock();
                    while !job.requested && !job.stop {
                        core.everysec_wake.wait(&mut job);
                    }
                    if job.stop {
                        return;
                    }
                    job.requested = false;
                    job.started = Some(Instant::now());
                    job.file.clone()
                };
                if let Some(f) = file {
                    core.fsync_in_progress.store(true, Ordering::SeqCst);
                    match f.sync_data() {
                        Ok(()) => core.clear_error(),
                        Err(e) => core.set_error("fsync", &e),
                    }
                    core.fsync_in_progress.store(false, Ordering::SeqCst);
                }
                core.everysec.lock().started = None;
            }
        })
        .expect("spawn the AOF fsync thread")
}

fn run(shared: Arc<Shared>) {
    let core = shared.aof.core.clone();
    let mut retry = false;
    let mut last_rewrite_check = Instant::now();
    loop {
        let stopping = wait_for_work(&core, retry);
        let mut guard = core.writer.lock();
        let w = guard
            .as_mut()
            .expect("the writer's state lives while it runs");
        let ok = w.step(&core);
        super::publish(&shared);
        if stopping && (w.local.is_empty() || !ok) {
            if let Some(f) = &w.file {
                if let Err(e) = f.sync_data() {
                    core.set_error("fsync", &e);
                } else if ok {
                    core.synced.store(w.local_start, Ordering::SeqCst);
                }
            }
            if !ok {
                warn!(
                    unwritten = w.local.len(),
                    "AOF writer stopping with unwritten data after errors"
                );
            }
            super::publish(&shared);
            for m in w.markers.drain(..) {
                let _ = m.reply.send(Err("the AOF writer stopped".into()));
            }
            *guard = None;
            return;
        }
        w.periodic_fsync(&core);
        drop(guard);
        retry = !ok;
        if !ok {
            // Retry once a second (or sooner when stopping).
            let mut p = core.pending.lock();
            if core.running.load(Ordering::SeqCst) {
                core.wake.wait_for(&mut p, Duration::from_millis(1000));
            }
        }
        if last_rewrite_check.elapsed() >= Duration::from_secs(1) {
            last_rewrite_check = Instant::now();
            super::rewrite::maybe_auto_rewrite(&shared);
        }
    }
}

/// Wait until the sink has appended something (at most 250 ms: the periodic work runs even
/// when idle, and whatever no reply waited for gets written). Returns true when stopping.
fn wait_for_work(core: &Core, retry: bool) -> bool {
    let mut p = core.pending.lock();
    while !retry && p.buf.is_empty() && p.markers.is_empty() {
        if !core.running.load(Ordering::SeqCst) {
            break;
        }
        p.sleeping = true;
        let timed_out = core
            .wake
            .wait_for(&mut p, Duration::from_millis(250))
            .timed_out();
        p.sleeping = false;
        if timed_out {
            break;
        }
    }
    !core.running.load(Ordering::SeqCst)
}

impl Writer {
    /// Take what the sink appended, write it, fsync per policy. False after an error.
    pub(crate) fn step(&mut self, core: &Core) -> bool {
        self.take_pending(core);
        let ok = self.flush_local(core);
        if ok {
            self.after_write(core);
        }
        ok
    }

    /// Move the sink's buffer into `local` (one swap when nothing was left over).
    fn take_pending(&mut self, core: &Core) {
        let mut p = core.pending.lock();
        if self.local.is_empty() {
            std::mem::swap(&mut self.local, &mut p.buf);
            self.local_start = p.end - self.local.len() as u64;
        } else {
            self.local.extend_from_slice(&p.buf);
            p.buf.clear();
        }
        self.markers.extend(p.markers.drain(..));
        if p.buf.capacity() > 4 * 1024 * 1024 {
            p.buf = Vec::new();
        }
    }

    /// Write `local` up to each marker, switching files at markers. False after an error.
    fn flush_local(&mut self, core: &Core) -> bool {
        loop {
            let local_end = self.local_start + self.local.len() as u64;
            let seg_end = self
                .markers
                .front()
                .map(|m| m.at.min(local_end))
                .unwrap_or(local_end);
            let n = (seg_end - self.local_start) as usize;
            if n > 0 {
                let written = self.write_segment(core, n);
                if written == n {
                    core.clear_error();
                }
                if written == self.local.len() {
                    self.local.clear();
                } else {
                    self.local.drain(..written);
                }
                self.local_start += written as u64;
                if written < n {
                    return false;
                }
            }
            match self.markers.front() {
                Some(m) if m.at == self.local_start => {
                    let m = self.markers.pop_front().expect("front");
                    let r = self.switch_file(core);
                    let _ = m.reply.send(r);
                }
                _ => return true,
            }
        }
    }

    /// Write `local[..n]`; returns how many bytes are now in the file for good.
    fn write_segment(&mut self, core: &Core, n: usize) -> usize {
        let Some(file) = self.file.clone() else {
            // Covered by the base being written (runtime `appendonly yes`).
            return n;
        };
        #[cfg(test)]
        if core
            .fail_writes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
            .is_ok()
        {
            core.set_error("write", &io::Error::from_raw_os_error(28));
            return 0;
        }
        let mut done = 0;
        while done < n {
            match (&*file).write(&self.local[done..n]) {
                Ok(0) => {
                    core.set_error("write", &io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(k) => done += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    core.set_error("write", &e);
                    break;
                }
            }
        }
        if done < n && done > 0 {
            // Undo the partial write so a retry does not duplicate it (Redis does the same);
            // if that fails too, the bytes that made it stay and only the rest is retried. (The
            // length is asked only here: a `statx` per write would cost as much as the write.)
            if let Ok(m) = file.metadata()
                && file.set_len(m.len().saturating_sub(done as u64)).is_ok()
            {
                done = 0;
            }
        }
        core.current_size.fetch_add(done as u64, Ordering::Relaxed);
        if done > 0 {
            self.unsynced = true;
        }
        done
    }

    /// After a successful batch: fsync per policy and advance the synced offset.
    fn after_write(&mut self, core: &Core) {
        let end = self.local_start;
        let rewriting = core.rewrite.in_progress.load(Ordering::Relaxed);
        let skip = rewriting && core.no_fsync_on_rewrite.load(Ordering::Relaxed);
        match core.policy() {
            Fsync::Always if !skip => {
                if self.unsynced {
                    if let Some(f) = &self.file {
                        if let Err(e) = f.sync_data() {
                            // The bytes stay unacknowledged; the next batch fsyncs again.
                            core.set_error("fsync", &e);
                            return;
                        }
                        core.clear_error();
                    }
                    self.unsynced = false;
                }
                core.synced.store(end, Ordering::SeqCst);
            }
            _ => {
                core.synced.store(end, Ordering::SeqCst);
            }
        }
    }

    /// Once a second: the `everysec` fsync request.
    fn periodic_fsync(&mut self, core: &Core) {
        if core.policy() == Fsync::EverySec
            && self.unsynced
            && self.last_fsync_request.elapsed() >= Duration::from_secs(1)
        {
            let rewriting = core.rewrite.in_progress.load(Ordering::Relaxed);
            if !(rewriting && core.no_fsync_on_rewrite.load(Ordering::Relaxed)) {
                let mut job = core.everysec.lock();
                match job.started {
                    Some(t) if t.elapsed() < Duration::from_secs(2) => {}
                    Some(_) => {
                        core.delayed_fsync.fetch_add(1, Ordering::Relaxed);
                        self.last_fsync_request = Instant::now();
                    }
                    None => {
                        job.requested = true;
                        drop(job);
                        core.everysec_wake.notify_all();
                        self.unsynced = false;
                        self.last_fsync_request = Instant::now();
                    }
                }
            }
        }
    }

    /// Start the next incremental file at a marker.
    fn switch_file(&mut self, core: &Core) -> Result<FileEntry, String> {
        if let Some(f) = &self.file
            && let Err(e) = f.sync_data()
        {
            core.set_error("fsync", &e);
            return Err(format!("fsync: {}", super::strerror(&e)));
        }
        let mut files = core.files.lock();
        let Some(files) = files.as_mut() else {
            return Err("AOF is off".into());
        };
        let seq = files.manifest.next_incr_seq();
        let name = files.layout.incr_name(seq);
        let entry = FileEntry {
            name: name.clone(),
            seq,
        };
        let file = files
            .layout
            .create(&name)
            .map_err(|e| format!("can't create {name}: {}", super::strerror(&e)))?;
        if self.file.is_some() {
            let mut m = files.manifest.clone();
            m.incrs.push(entry.clone());
            files
                .layout
                .persist(&m)
                .map_err(|e| format!("can't persist the manifest: {}", super::strerror(&e)))?;
            files.manifest = m;
        }
        tracing::info!(file = %name, "Creating AOF incr file on background rewrite");
        let file = Arc::new(file);
        core.everysec.lock().file = Some(file.clone());
        self.file = Some(file);
        self.unsynced = false;
        Ok(entry)
    }
}
