//! The AOF writer thread and the `everysec` fsync thread.
//!
//! The writer loops: take everything the sink appended (one swap under the pending lock),
//! write it with one `write` per batch, fsync per `appendfsync`, publish the durable offset
//! (`Shared::durable`), which releases the replies connections held for it. Under `always` a
//! batch holds the effects of every client that wrote while the previous fsync ran: one fsync
//! acknowledges them all (group commit).
//!
//! Why a thread and not a tokio task: `write`/`fsync` block, and a slow disk must stall neither
//! command execution nor the runtime's workers.
//!
//! `everysec`: the writer writes as soon as data arrives (so a crash of the process loses
//! nothing written) and asks the fsync thread for an fsync at most once per second; if an fsync
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

struct Writer {
    shared: Arc<Shared>,
    core: Arc<Core>,
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
    last_rewrite_check: Instant,
}

pub(crate) fn spawn(shared: Arc<Shared>, file: Option<File>) -> std::thread::JoinHandle<()> {
    let core = shared.aof.core.clone();
    let local_start = core.pending.lock().end;
    core.synced.store(local_start, Ordering::SeqCst);
    let file = file.map(Arc::new);
    core.everysec.lock().file = file.clone();
    let w = Writer {
        shared,
        core,
        file,
        local: Vec::new(),
        local_start,
        markers: VecDeque::new(),
        unsynced: false,
        last_fsync_request: Instant::now(),
        last_rewrite_check: Instant::now(),
    };
    std::thread::Builder::new()
        .name("aof-writer".into())
        .spawn(move || w.run())
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

impl Writer {
    fn run(mut self) {
        loop {
            let stopping = self.gather();
            let ok = self.flush_local();
            if ok {
                self.after_write();
            }
            super::publish(&self.shared);
            if stopping && (self.local.is_empty() || !ok) {
                if let Some(f) = &self.file {
                    if let Err(e) = f.sync_data() {
                        self.core.set_error("fsync", &e);
                    } else if ok {
                        self.core.synced.store(self.local_start, Ordering::SeqCst);
                    }
                }
                if !ok {
                    warn!(
                        unwritten = self.local.len(),
                        "AOF writer stopping with unwritten data after errors"
                    );
                }
                super::publish(&self.shared);
                for m in self.markers.drain(..) {
                    let _ = m.reply.send(Err("the AOF writer stopped".into()));
                }
                return;
            }
            if !ok {
                // Retry once a second (or sooner when stopping).
                let mut p = self.core.pending.lock();
                if self.core.running.load(Ordering::SeqCst) {
                    self.core.wake.wait_for(&mut p, Duration::from_millis(1000));
                }
            }
            self.periodic();
        }
    }

    /// Take what the sink appended (waiting for it). Returns true when the writer must stop.
    fn gather(&mut self) -> bool {
        let mut p = self.core.pending.lock();
        loop {
            if !p.buf.is_empty() || !p.markers.is_empty() || !self.local.is_empty() {
                break;
            }
            if !self.core.running.load(Ordering::SeqCst) {
                break;
            }
            p.sleeping = true;
            let timed_out = self
                .core
                .wake
                .wait_for(&mut p, Duration::from_millis(250))
                .timed_out();
            p.sleeping = false;
            if timed_out {
                break;
            }
        }
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
        !self.core.running.load(Ordering::SeqCst)
    }

    /// Write `local` up to each marker, switching files at markers. False after an error.
    fn flush_local(&mut self) -> bool {
        loop {
            let local_end = self.local_start + self.local.len() as u64;
            let seg_end = self
                .markers
                .front()
                .map(|m| m.at.min(local_end))
                .unwrap_or(local_end);
            let n = (seg_end - self.local_start) as usize;
            if n > 0 {
                let written = self.write_segment(n);
                if written == n {
                    self.core.clear_error();
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
                    let r = self.switch_file();
                    let _ = m.reply.send(r);
                }
                _ => return true,
            }
        }
    }

    /// Write `local[..n]`; returns how many bytes are now in the file for good.
    fn write_segment(&mut self, n: usize) -> usize {
        let Some(file) = self.file.clone() else {
            // Covered by the base being written (runtime `appendonly yes`).
            return n;
        };
        #[cfg(test)]
        if self
            .core
            .fail_writes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
            .is_ok()
        {
            self.core
                .set_error("write", &io::Error::from_raw_os_error(28));
            return 0;
        }
        let before = file.metadata().map(|m| m.len()).ok();
        let mut done = 0;
        while done < n {
            match (&*file).write(&self.local[done..n]) {
                Ok(0) => {
                    self.core
                        .set_error("write", &io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(k) => done += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.core.set_error("write", &e);
                    break;
                }
            }
        }
        if done < n && done > 0 {
            // Undo the partial write so a retry does not duplicate it (Redis does the same);
            // if that fails too, the bytes that made it stay and only the rest is retried.
            if let Some(len) = before
                && file.set_len(len).is_ok()
            {
                done = 0;
            }
        }
        self.core
            .current_size
            .fetch_add(done as u64, Ordering::Relaxed);
        if done > 0 {
            self.unsynced = true;
        }
        done
    }

    /// After a successful batch: fsync per policy and advance the synced offset.
    fn after_write(&mut self) {
        let end = self.local_start;
        let rewriting = self.core.rewrite.in_progress.load(Ordering::Relaxed);
        let skip = rewriting && self.core.no_fsync_on_rewrite.load(Ordering::Relaxed);
        match self.core.policy() {
            Fsync::Always if !skip => {
                if self.unsynced {
                    if let Some(f) = &self.file {
                        if let Err(e) = f.sync_data() {
                            // The bytes stay unacknowledged; the next batch fsyncs again.
                            self.core.set_error("fsync", &e);
                            return;
                        }
                        self.core.clear_error();
                    }
                    self.unsynced = false;
                }
                self.core.synced.store(end, Ordering::SeqCst);
            }
            _ => {
                self.core.synced.store(end, Ordering::SeqCst);
            }
        }
    }

    /// Once a second: the `everysec` fsync request and the automatic rewrite check.
    fn periodic(&mut self) {
        if self.core.policy() == Fsync::EverySec
            && self.unsynced
            && self.last_fsync_request.elapsed() >= Duration::from_secs(1)
        {
            let rewriting = self.core.rewrite.in_progress.load(Ordering::Relaxed);
            if !(rewriting && self.core.no_fsync_on_rewrite.load(Ordering::Relaxed)) {
                let mut job = self.core.everysec.lock();
                match job.started {
                    Some(t) if t.elapsed() < Duration::from_secs(2) => {}
                    Some(_) => {
                        self.core.delayed_fsync.fetch_add(1, Ordering::Relaxed);
                        self.last_fsync_request = Instant::now();
                    }
                    None => {
                        job.requested = true;
                        drop(job);
                        self.core.everysec_wake.notify_all();
                        self.unsynced = false;
                        self.last_fsync_request = Instant::now();
                    }
                }
            }
        }
        if self.last_rewrite_check.elapsed() >= Duration::from_secs(1) {
            self.last_rewrite_check = Instant::now();
            super::rewrite::maybe_auto_rewrite(&self.shared);
        }
    }

    /// Start the next incremental file at a marker.
    fn switch_file(&mut self) -> Result<FileEntry, String> {
        if let Some(f) = &self.file
            && let Err(e) = f.sync_data()
        {
            self.core.set_error("fsync", &e);
            return Err(format!("fsync: {}", super::strerror(&e)));
        }
        let mut files = self.core.files.lock();
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
        self.core.everysec.lock().file = Some(file.clone());
        self.file = Some(file);
        self.unsynced = false;
        Ok(entry)
    }
}
