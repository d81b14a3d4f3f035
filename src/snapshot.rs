//! RDB snapshots of the running server: SAVE, BGSAVE, the `save` points, the final save of a
//! shutdown, loading `dir`/`dbfilename` at startup and DEBUG RELOAD. The file format lives in
//! `store::rdb` (pure); this file decides when, where and under which lock.
//!
//! # API
//! - [`save`] (SAVE, SHUTDOWN, DEBUG RELOAD): the whole file built under the store lock the
//!   caller holds (SAVE blocks the server, as in Redis), written to `temp-<pid>.rdb`, fsynced,
//!   renamed over `dir`/`dbfilename`, the directory fsynced.
//! - [`bgsave`] (BGSAVE, the save points, `BGSAVE SCHEDULE`): a point-in-time snapshot without
//!   a fork and without holding the store lock for long, built the way the AOF rewrite builds
//!   its base ([`crate::aof::rewrite::Capture`] in its RDB mode): keys are serialized in
//!   bounded batches, one short critical section each, and every effect that touches a key
//!   already serialized drops that record and queues the key again, so when the queue is
//!   empty (in that same critical section) the records equal the dataset at that instant. The
//!   file is then written by the `rdb-bgsave` thread with no lock held; only the final rename
//!   takes the store lock, so a SAVE (or shutdown) that aborted this BGSAVE is never
//!   overwritten by it.
//!
//!   DEVIATION(redis): without a fork the snapshot is the dataset at the instant its last
//!   batch is serialized (writes made after BGSAVE was called are in it), not at the call.
//! - [`cron`] (the server cron): a scheduled BGSAVE, then the save points.
//! - [`load_at_startup`] / [`load`]: read a file into a fresh keyspace and swap it in (with its
//!   function libraries) only when the whole file was read.
//! - [`info_fields`]: the `rdb_*` lines of INFO persistence.

pub mod check;

use bytes::Bytes;
use parking_lot::Mutex;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::SeqCst};
use std::time::Instant;
use tracing::{info, warn};

use crate::aof::rewrite::Capture;
use crate::engine::StoreInner;
use crate::server::Shared;
use crate::store::rdb::{self, file::LoadOptions};
use crate::store::unix_ms;

/// Redis's `CONFIG_BGSAVE_RETRY_DELAY`: after a failed BGSAVE the save points wait this long.
const RETRY_DELAY_SECS: i64 = 5;

pub use crate::error::{
    BGSAVE_CHILD_ACTIVE as CHILD_ACTIVE, BGSAVE_IN_PROGRESS as ALREADY, MISCONF_RDB as MISCONF,
};

/// Snapshot state and counters (INFO persistence, LASTSAVE).
pub struct Rdb {
    pub in_progress: AtomicBool,
    pub scheduled: AtomicBool,
    abort: AtomicBool,
    started: Mutex<Option<Instant>>,
    /// Unix seconds of the last successful save (the start time until then, as in Redis).
    pub last_save: AtomicI64,
    /// Unix seconds of the last BGSAVE attempt (the retry delay of the save points).
    last_try: AtomicI64,
    last_ok: AtomicBool,
    last_secs: AtomicI64,
    saves: AtomicU64,
    pub keys_loaded: AtomicU64,
    pub keys_expired: AtomicU64,
    /// Longest store-lock hold of the last BGSAVE's snapshot, in microseconds.
    pub last_max_hold_us: AtomicU64,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Default for Rdb {
    fn default() -> Self {
        Rdb {
            in_progress: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            abort: AtomicBool::new(false),
            started: Mutex::new(None),
            last_save: AtomicI64::new(unix_ms() / 1000),
            last_try: AtomicI64::new(0),
            last_ok: AtomicBool::new(true),
            last_secs: AtomicI64::new(-1),
            saves: AtomicU64::new(0),
            keys_loaded: AtomicU64::new(0),
            keys_expired: AtomicU64::new(0),
            last_max_hold_us: AtomicU64::new(0),
            thread: Mutex::new(None),
        }
    }
}

fn now_secs() -> i64 {
    unix_ms() / 1000
}

/// `dir`/`dbfilename`.
pub fn path(shared: &Shared) -> PathBuf {
    let c = shared.config.read();
    let dir = c.get("dir").unwrap_or_else(|| ".".into());
    PathBuf::from(dir).join(c.get("dbfilename").unwrap_or_else(|| "dump.rdb".into()))
}

/// The aux fields Redis 7.0 writes first (no replication fields: ferrymq is never a replica).
fn aux_fields() -> Vec<(&'static str, String)> {
    aux_fields_with(None)
}

/// Where a file stands in the replication history (Redis's `rdbSaveInfo`): the stream's
/// selected database, the replication ID and the offset the data corresponds to.
pub struct ReplInfo {
    pub db: usize,
    pub replid: String,
    pub offset: u64,
}

/// The aux fields, with the replication ones when the file is saved at a known offset of a
/// replication history (a SAVE on a master with a backlog or on a replica), as Redis writes
/// them: a restarted replica continues from there with a partial resynchronisation.
fn aux_fields_with(repl: Option<&ReplInfo>) -> Vec<(&'static str, String)> {
    let mut aux = vec![
        ("redis-ver", crate::REDIS_VERSION.to_string()),
        ("redis-bits", (usize::BITS).to_string()),
        ("ctime", now_secs().to_string()),
        (
            "used-mem",
            crate::server::memory::allocated().unwrap_or(0).to_string(),
        ),
    ];
    if let Some(r) = repl {
        aux.push(("repl-stream-db", r.db.to_string()));
        aux.push(("repl-id", r.replid.clone()));
        aux.push(("repl-offset", r.offset.to_string()));
    }
    aux.push(("aof-base", "0".to_string()));
    aux
}

/// The replication position of the data held now (under the store lock), if there is one.
fn repl_info(shared: &Shared, store: &StoreInner) -> Option<ReplInfo> {
    if !store.repl.active() {
        return None;
    }
    let db = if shared.replica.is_replica() {
        shared.replica.stream_db()
    } else {
        store.repl.selected_db().unwrap_or(0)
    };
    Some(ReplInfo {
        db,
        replid: store.repl.replid.clone(),
        offset: store.repl.offset,
    })
}

/// The replication position a loaded file's aux fields give, when all three are there.
fn loaded_repl_info(aux: &[(Bytes, Bytes)]) -> Option<ReplInfo> {
    let get = |k: &str| {
        aux.iter()
            .find(|(n, _)| n.as_ref() == k.as_bytes())
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    };
    let replid = get("repl-id").filter(|id| id.len() == 40)?.to_string();
    let offset = get("repl-offset")?
        .parse::<i64>()
        .ok()
        .filter(|o| *o >= 0)? as u64;
    let db = get("repl-stream-db")?
        .parse::<i64>()
        .ok()
        .filter(|d| *d >= 0)? as usize;
    Some(ReplInfo { db, replid, offset })
}

pub(crate) fn function_codes(shared: &Shared) -> Vec<Bytes> {
    shared
        .scripting
        .lock()
        .functions
        .load_commands()
        .into_iter()
        .filter_map(|mut c| c.pop())
        .collect()
}

fn strerror(e: &std::io::Error) -> String {
    crate::aof::strerror(e)
}

/// Write `data` (chunks) to `temp` in the target's directory, fsync it, and return it for
/// the rename.
fn write_temp(
    target: &std::path::Path,
    temp_name: &str,
    chunks: &[&[u8]],
) -> Result<PathBuf, String> {
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty());
    let temp = dir.map_or_else(|| PathBuf::from(temp_name), |d| d.join(temp_name));
    let r = (|| -> std::io::Result<()> {
        let f = std::fs::File::create(&temp)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        for c in chunks {
            w.write_all(c)?;
        }
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()
    })();
    if let Err(e) = r {
        let _ = std::fs::remove_file(&temp);
        return Err(format!(
            "Failed opening or writing the .rdb for saving: {}",
            strerror(&e)
        ));
    }
    Ok(temp)
}

fn rename_into_place(temp: &std::path::Path, target: &std::path::Path) -> Result<(), String> {
    if let Err(e) = std::fs::rename(temp, target) {
        let _ = std::fs::remove_file(temp);
        return Err(format!(
            "Error moving temp DB file {} on the final destination {}: {}",
            temp.display(),
            target.display(),
            strerror(&e)
        ));
    }
    if let Some(d) = target.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(f) = std::fs::File::open(d)
    {
        let _ = f.sync_all();
    }
    Ok(())
}

/// Stop a running BGSAVE (its records are dropped; its thread exits without renaming).
/// Called with the store lock held, which the thread needs to make progress or rename.
pub fn abort_bgsave(shared: &Shared, store: &mut StoreInner) {
    if shared.rdb.in_progress.load(SeqCst) {
        shared.rdb.abort.store(true, SeqCst);
        store.snapshot = None;
        info!("Background saving aborted: a synchronous save replaces it");
    }
}

/// SAVE: the dataset as it is now, written while the caller holds the store lock.
pub fn save(shared: &Shared, store: &mut StoreInner) -> Result<(), String> {
    let target = path(shared);
    let enc = crate::command::dump::encodings_of(shared);
    let data = rdb::write_file_with_aux(
        &store.keyspace.dbs,
        &function_codes(shared),
        &aux_fields_with(repl_info(shared, store).as_ref()),
        &enc,
        unix_ms(),
    );
    // `rdb-key-save-delay` (microseconds per key, a testing knob of Redis's) slows SAVE too,
    // which blocks the server as Redis's SAVE does.
    let delay = shared.config_i64("rdb-key-save-delay");
    if delay > 0 {
        let keys: usize = store.keyspace.dbs.iter().map(|d| d.map.len()).sum();
        std::thread::sleep(std::time::Duration::from_micros(
            (delay as u64)
                .saturating_mul(keys as u64)
                .min(3_600_000_000),
        ));
    }
    let r = write_temp(
        &target,
        &format!("temp-{}.rdb", std::process::id()),
        &[&data],
    )
    .and_then(|temp| rename_into_place(&temp, &target));
    match &r {
        Ok(()) => {
            store.dirty = 0;
            shared.rdb.last_save.store(now_secs(), SeqCst);
            shared.rdb.last_ok.store(true, SeqCst);
            info!("DB saved on disk");
        }
        Err(e) => warn!(error = %e, "Failed saving the DB"),
    }
    r
}

/// The save before exiting (SHUTDOWN, SIGTERM): when save points are configured or `force_save`
/// (SHUTDOWN SAVE), unless `nosave`. A running BGSAVE is aborted first, as Redis kills its
/// child.
pub fn shutdown_save(
    shared: &Shared,
    store: &mut StoreInner,
    nosave: bool,
    force_save: bool,
) -> Result<(), String> {
    abort_bgsave(shared, store);
    if nosave || (!force_save && save_points(shared).is_empty()) {
        return Ok(());
    }
    info!("Saving the final RDB snapshot before exiting.");
    save(shared, store)
}

/// The `save` points: (seconds, changes).
pub fn save_points(shared: &Shared) -> Vec<(i64, u64)> {
    let s = shared.config.read().get("save").unwrap_or_default();
    let v: Vec<i64> = s
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    v.chunks_exact(2)
        .map(|p| (p[0], p[1].max(0) as u64))
        .collect()
}

/// BGSAVE [SCHEDULE]: Ok is the status line.
pub fn bgsave(shared: &Arc<Shared>, schedule: bool) -> Result<&'static str, String> {
    if shared.rdb.in_progress.load(SeqCst) {
        return Err(ALREADY.into());
    }
    if shared.aof.core.rewrite.in_progress.load(SeqCst) {
        if schedule {
            shared.rdb.scheduled.store(true, SeqCst);
            return Ok("Background saving scheduled");
        }
        return Err(CHILD_ACTIVE.into());
    }
    start(shared)?;
    Ok("Background saving started")
}

/// Start the snapshot and its thread.
fn start(shared: &Arc<Shared>) -> Result<(), String> {
    let st = &shared.rdb;
    if st
        .in_progress
        .compare_exchange(false, true, SeqCst, SeqCst)
        .is_err()
    {
        return Err(ALREADY.into());
    }
    st.abort.store(false, SeqCst);
    st.scheduled.store(false, SeqCst);
    st.saves.fetch_add(1, SeqCst);
    st.last_try.store(now_secs(), SeqCst);
    *st.started.lock() = Some(Instant::now());
    let enc = crate::command::dump::encodings_of(shared);
    {
        let mut store = shared.store.lock();
        let cap = Capture::rdb(&store.keyspace.dbs, enc);
        store.snapshot = Some(Box::new(cap));
    }
    let sh = shared.clone();
    let handle = std::thread::Builder::new()
        .name("rdb-bgsave".into())
        .spawn(move || run(sh))
        .map_err(|e| {
            shared.store.lock().snapshot = None;
            st.in_progress.store(false, SeqCst);
            format!("ERR Can't save in background: {e}")
        })?;
    info!("Background saving started");
    if let Some(old) = st.thread.lock().replace(handle) {
        let _ = old.join();
    }
    Ok(())
}

fn run(shared: Arc<Shared>) {
    let st = &shared.rdb;
    let t0 = Instant::now();
    let result = snapshot_and_write(&shared);
    shared.store.lock().snapshot = None;
    st.last_secs.store(t0.elapsed().as_secs() as i64, SeqCst);
    match result {
        Ok(()) => {
            st.last_ok.store(true, SeqCst);
            st.last_save.store(now_secs(), SeqCst);
            info!(
                max_lock_hold_us = st.last_max_hold_us.load(SeqCst),
                "Background saving terminated with success"
            );
        }
        Err(e) => {
            if !st.abort.load(SeqCst) {
                st.last_ok.store(false, SeqCst);
            }
            warn!(error = %e, "Background saving error");
        }
    }
    *st.started.lock() = None;
    st.in_progress.store(false, SeqCst);
    // A BGREWRITEAOF that waited for this save.
    if shared.aof.core.rewrite.scheduled.load(SeqCst) && !shared.shutdown_requested() {
        let _ = crate::aof::bgrewrite(&shared);
    }
}

fn snapshot_and_write(shared: &Arc<Shared>) -> Result<(), String> {
    let st = &shared.rdb;
    let mut max_hold = std::time::Duration::ZERO;
    let (records, functions, dirty_at, enc) = loop {
        if st.abort.load(SeqCst) {
            return Err("aborted".into());
        }
        let mut store = shared.store.lock();
        let t = Instant::now();
        let Some(mut cap) = store.snapshot.take() else {
            return Err("aborted".into());
        };
        let done = cap.dump_batch(&store.keyspace.dbs);
        if done {
            let dirty_at = store.dirty;
            let functions = function_codes(shared);
            let r = cap.rdb.take().expect("an RDB capture");
            max_hold = max_hold.max(t.elapsed());
            drop(store);
            break (r.records, functions, dirty_at, r.enc);
        }
        store.snapshot = Some(cap);
        max_hold = max_hold.max(t.elapsed());
        drop(store);
        // Let the writers that queued behind this batch in.
        std::thread::yield_now();
    };
    st.last_max_hold_us
        .store(max_hold.as_micros() as u64, SeqCst);
    // Encoding and writing hold no lock: they run at a lower priority.
    let target = path(shared);
    let temp = crate::process::at_lower_priority(
        crate::process::Background::Snapshot,
        "rdb-bgsave-write",
        || -> Result<std::path::PathBuf, String> {
            // `rdb-key-save-delay` (microseconds per key, a testing knob of Redis's): a slow BGSAVE,
            // spent while writing and never under the store lock; an abort cuts it short.
            let delay = shared.config_i64("rdb-key-save-delay");
            if delay > 0 {
                let end = Instant::now()
                    + std::time::Duration::from_micros(
                        (delay as u64).saturating_mul(records.len() as u64),
                    );
                while Instant::now() < end {
                    if st.abort.load(SeqCst) {
                        return Err("aborted".into());
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
            let chunks = file_chunks(records, &functions, &enc);
            let all: Vec<&[u8]> = chunks.iter().map(|c| &c[..]).collect();
            write_temp(
                &target,
                &format!("temp-bg-{}.rdb", std::process::id()),
                &all,
            )
        },
    )?;
    // Rename under the store lock: a SAVE that aborted this snapshot holds it while it writes.
    let store = shared.store.lock();
    if st.abort.load(SeqCst) {
        drop(store);
        let _ = std::fs::remove_file(&temp);
        return Err("aborted".into());
    }
    rename_into_place(&temp, &target)?;
    let mut store = store;
    store.dirty = store.dirty.saturating_sub(dirty_at);
    Ok(())
}

/// `stop-writes-on-bgsave-error yes` with save points and a failed last BGSAVE: writes are
/// refused (one atomic load while the last BGSAVE succeeded).
pub fn refuse_writes(shared: &Shared) -> Option<String> {
    if shared
        .rdb
        .last_ok
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return None;
    }
    if !shared.config.read().get_bool("stop-writes-on-bgsave-error")
        || save_points(shared).is_empty()
    {
        return None;
    }
    Some(MISCONF.to_string())
}

/// The RDB file of a finished capture's records (BGSAVE, an AOF base with the RDB preamble),
/// as chunks to write in order: header, aux fields and libraries, then per database its
/// `SELECTDB`/`RESIZEDB` and records (in any order within it), `EOF` and the CRC-64.
pub(crate) fn file_chunks(
    records: crate::aof::RecordSet,
    functions: &[Bytes],
    enc: &rdb::Encodings,
) -> Vec<Vec<u8>> {
    use crate::aof::RecordRef;
    let mut head = Vec::new();
    rdb::write_header(&mut head, &aux_fields(), functions, enc);
    // Records are small (one key each): they are gathered into chunks of about CHUNK_BYTES, so
    // a file takes one `write` per chunk and a replica's outbox one push, not one per key. The
    // checksum runs over each chunk as it fills, not over each record.
    let mut out = Chunks {
        done: Vec::new(),
        cur: head,
        crc: 0,
    };
    let mut copy = Vec::new();
    for (db, (keys, expires)) in records.counts() {
        let mut start = Vec::new();
        rdb::write_db_start(&mut start, db, keys, expires);
        out.add(&start);
        records.for_each_in(db, |r| match r {
            RecordRef::Written(bytes) => out.add(bytes),
            RecordRef::Copied(key, c) => {
                // The big values copied during the capture are encoded here, with no lock
                // held.
                copy.clear();
                rdb::write_record(&mut copy, key, &c.value, c.lru, c.ttl, enc);
                out.add(&copy);
            }
        });
    }
    drop(records);
    let crc = out.crc_so_far();
    let mut tail = Vec::new();
    if enc.checksum {
        rdb::write_end(&mut tail, crc);
    } else {
        rdb::write_end_unchecked(&mut tail);
    }
    out.add(&tail);
    out.done.push(out.cur);
    out.done
}

/// Bytes per chunk of [`file_chunks`].
const CHUNK_BYTES: usize = 64 * 1024;

struct Chunks {
    done: Vec<Vec<u8>>,
    cur: Vec<u8>,
    /// The CRC-64 of the chunks in `done`.
    crc: u64,
}

impl Chunks {
    fn add(&mut self, data: &[u8]) {
        if self.cur.len() + data.len() > CHUNK_BYTES && !self.cur.is_empty() {
            let full = std::mem::replace(
                &mut self.cur,
                Vec::with_capacity(CHUNK_BYTES.max(data.len())),
            );
            self.crc = rdb::crc64(self.crc, &full);
            self.done.push(full);
        }
        self.cur.extend_from_slice(data);
    }

    /// The CRC-64 of everything added so far.
    fn crc_so_far(&self) -> u64 {
        rdb::crc64(self.crc, &self.cur)
    }
}

/// From the server cron: a scheduled BGSAVE, else the first save point that is due.
pub fn cron(shared: &Arc<Shared>) {
    let st = &shared.rdb;
    if st.in_progress.load(SeqCst) || shared.aof.core.rewrite.in_progress.load(SeqCst) {
        return;
    }
    // Starting a snapshot takes the store lock: never park the cron's runtime worker behind a
    // running script; the next pass starts it.
    if shared.script_status.is_running() {
        return;
    }
    if st.scheduled.load(SeqCst) {
        let _ = start(shared);
        return;
    }
    // A BGREWRITEAOF scheduled inside EXEC (one scheduled during a save starts when it ends).
    if shared.aof.core.rewrite.scheduled.load(SeqCst) {
        let _ = crate::aof::bgrewrite(shared);
        return;
    }
    let points = save_points(shared);
    if points.is_empty() {
        return;
    }
    let Some(dirty) = shared
        .store
        .try_lock_for(std::time::Duration::from_millis(1))
        .map(|s| s.dirty)
    else {
        return;
    };
    let now = now_secs();
    let since = now - st.last_save.load(SeqCst);
    let may_retry = st.last_ok.load(SeqCst) || now - st.last_try.load(SeqCst) > RETRY_DELAY_SECS;
    for (secs, changes) in points {
        if dirty >= changes && since > secs && may_retry {
            info!("{changes} changes in {secs} seconds. Saving...");
            let _ = start(shared);
            return;
        }
    }
}

/// Read `dir`/`dbfilename` into a fresh keyspace and swap it in with its libraries.
/// Ok(None): there is no file.
pub fn load(shared: &Shared, store: &mut StoreInner) -> Result<Option<(u64, u64)>, String> {
    Ok(load_with_repl(shared, store)?.map(|(l, e, _)| (l, e)))
}

/// [`load`], also returning the replication position the file was saved at.
#[allow(clippy::type_complexity)]
fn load_with_repl(
    shared: &Shared,
    store: &mut StoreInner,
) -> Result<Option<(u64, u64, Option<ReplInfo>)>, String> {
    let p = path(shared);
    let data = match std::fs::read(&p) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("Can't read {}: {}", p.display(), strerror(&e))),
    };
    let opts = LoadOptions {
        enc: crate::command::dump::encodings_of(shared),
        databases: store.keyspace.dbs.len(),
        grow: false,
        now: unix_ms(),
        skip_expired: true,
        policy: crate::store::access::Policy::unpack(store.access_policy.load(SeqCst)),
        checksum: shared.config_str("rdbchecksum") == "yes",
    };
    let loaded = rdb::file::read_file(&data, &opts)
        .map_err(|e| format!("Bad RDB file {}: {e}", p.display()))?;
    let codes: Vec<&[u8]> = loaded.functions.iter().map(|c| &c[..]).collect();
    shared
        .scripting
        .lock()
        .functions
        .restore_codes(
            &codes,
            crate::scripting::functions::Policy::Flush,
            &shared.script_status,
        )
        .map_err(|e| format!("Bad RDB file {}: a function library: {e}", p.display()))?;
    drop(store.replace_keyspace(loaded.keyspace));
    shared.rdb.keys_loaded.store(loaded.keys_loaded, SeqCst);
    shared.rdb.keys_expired.store(loaded.keys_expired, SeqCst);
    Ok(Some((
        loaded.keys_loaded,
        loaded.keys_expired,
        loaded_repl_info(&loaded.aux),
    )))
}

/// Startup with `appendonly no`: load the snapshot, if any, before clients are accepted.
pub fn load_at_startup(shared: &Arc<Shared>) -> std::io::Result<()> {
    shared.set_loading(true);
    let t = Instant::now();
    let r = {
        let mut store = shared.store.lock();
        let r = load_with_repl(shared, &mut store);
        store.dirty = 0;
        if let Ok(Some((_, _, Some(ri)))) = &r {
            restore_repl_position(shared, &mut store, ri);
        }
        r
    };
    shared.set_loading(false);
    match r {
        Ok(None) => Ok(()),
        Ok(Some((loaded, expired, _))) => {
            info!(
                keys_loaded = loaded,
                keys_expired = expired,
                seconds = t.elapsed().as_secs_f64(),
                "DB loaded from disk"
            );
            Ok(())
        }
        Err(e) => Err(std::io::Error::other(e)),
    }
}

/// Take up the replication history where the loaded file left it, as Redis's
/// loadDataFromDisk does: a replica continues its master's history (its first PSYNC asks for
/// the offset after the file's), a master starts a new history that keeps the file's as its
/// second ID, so its replicas can continue with a partial resynchronisation.
fn restore_repl_position(shared: &Shared, store: &mut StoreInner, ri: &ReplInfo) {
    store.repl.reset_to(ri.replid.clone(), ri.offset);
    if shared.config.read().replicaof().is_some() {
        shared.replica.set_stream_db(ri.db);
    } else {
        store.repl.shift_replid();
    }
    shared.replica.update_feeding(&store.repl);
    info!(
        replid = %ri.replid,
        offset = ri.offset,
        "replication position restored from the RDB file"
    );
}

/// The `rdb_*` fields of INFO persistence (`dirty` read by the caller under its lock).
pub fn info_fields(shared: &Shared, dirty: u64) -> String {
    let st = &shared.rdb;
    let in_progress = st.in_progress.load(SeqCst);
    let current = st
        .started
        .lock()
        .filter(|_| in_progress)
        .map_or(-1, |t| t.elapsed().as_secs() as i64);
    format!(
        "rdb_changes_since_last_save:{dirty}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{current}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
        in_progress as u8,
        st.last_save.load(SeqCst),
        if st.last_ok.load(SeqCst) { "ok" } else { "err" },
        st.last_secs.load(SeqCst),
        st.saves.load(SeqCst),
        st.keys_expired.load(SeqCst),
        st.keys_loaded.load(SeqCst),
    )
}

/// Wait for a running BGSAVE's thread to finish (shutdown, tests).
pub fn join(shared: &Shared) {
    let h = shared.rdb.thread.lock().take();
    if let Some(h) = h {
        let _ = h.join();
    }
}

#[cfg(test)]
mod tests;
