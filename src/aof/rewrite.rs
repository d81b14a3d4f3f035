//! AOF rewrite (compaction) without stopping clients and without a fork.
//!
//! The new base describes the dataset at the moment the rewrite *ends* (T_end), and the new
//! incremental file starts exactly there. It is built in bounded batches, each under the store
//! lock for a short time, while clients keep writing:
//!
//! - The keys existing at the start are listed partition by partition (the address of the
//!   key's name picks its partition), one partition per critical section, so no step walks the
//!   whole keyspace under the lock (each pass scans the table without touching key bytes). A batch dumps the next listed keys with `Value::rewrite`
//!   (plus `PEXPIREAT`) into the base stream and marks them *covered*. A key that existed at
//!   the start and is never touched is found by its partition's listing; a key that is touched
//!   is queued by the effect (below), so listing later than the start loses nothing.
//! - Meanwhile every effect passes through [`Capture::on_effect`] (called by the sink, under the
//!   store lock, in execution order). If all keys it touches are covered, the effect is appended
//!   to the base stream too, so the covered keys stay exact. If none is covered, nothing is
//!   needed (their dump, later, will show the effect). If only some are, the covered ones get a
//!   `DEL` in the base stream, become uncovered again and are queued to be dumped again.
//!   Keys created during the rewrite are queued the same way. An effect whose keys cannot be
//!   known makes the dump start over (after a `FLUSHALL` in the stream); after a few restarts
//!   the rest is dumped in one critical section so the rewrite always ends.
//! - When nothing is left to dump, in that same critical section: the tail of the base stream
//!   is taken, a marker at the sink's current offset tells the writer to start the next
//!   incremental file there, and the capture is removed. The base stream, replayed, equals the
//!   dataset at that instant; the new incremental file holds everything after it.
//! - With `aof-use-rdb-preamble yes` (the default, as in Redis 7) the capture runs in its RDB
//!   mode (`Capture::rdb`, shared with BGSAVE): keys become RDB records instead of commands,
//!   an effect on a covered key re-queues it, and when nothing is left the records and the
//!   libraries of that instant are written as an RDB file, the base `<...>.<seq>.base.rdb`.
//! - The base is written to `temp-rewriteaof-bg-<pid>.aof`, fsynced, renamed to the next
//!   `<appendfilename>.<seq>.base.aof` (or `.base.rdb`), and the manifest is replaced atomically by
//!   `{new base, new incr}`; then the old files are deleted. A crash at any step leaves the old
//!   manifest (old base + old incrs + possibly the new incr, which the writer registers before
//!   writing to it) or the new one: always loadable.

use ahash::RandomState;
use bytes::Bytes;
use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

use super::manifest::{FileEntry, Layout, Manifest, sync_dir};
use super::records::RecordSet;
use super::{AofSink, Files, Marker, encode_command};
use crate::command::is;
use crate::engine::StoreInner;
use crate::server::Shared;
use crate::store::{Db, Walk, unix_ms};

/// Keys per batch, and base bytes per batch: bounds each critical section. (Tests use small
/// batches so that rewrites interleave with many more writes.)
const BATCH_KEYS: usize = if cfg!(test) { 16 } else { 256 };
pub(super) const BATCH_BYTES: usize = 1024 * 1024;
/// Keys listed per partition: the whole keyspace is never listed in one critical section.
const PART_KEYS: usize = 16 * 1024;
/// Time allowed for re-dumps after the last listing before the rest is done at once.
const MAX_REQUEUE_TIME: Duration = Duration::from_secs(2);
/// After this many restarts the remaining dump runs in one critical section.
const MAX_RESCANS: u32 = 3;
/// fsync the temp base every this many bytes (`aof-rewrite-incremental-fsync`).
const INCREMENTAL_FSYNC: u64 = 32 * 1024 * 1024;

type Key = (usize, Bytes);

/// What the rewrite is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// BGREWRITEAOF / automatic: compact the current AOF (or, with AOF off, just write a base).
    Current,
    /// Runtime `appendonly yes`: the first base; nothing is durable before it completes.
    Enable,
}

/// The rewrite's view of effects; lives in the sink while a rewrite runs.
pub(crate) struct Capture {
    out: Vec<u8>,
    /// Big values copied into `out`'s stream at their offsets, encoded when `out` is written,
    /// with no lock held (see [`Output`]).
    copies: Vec<Pending>,
    out_db: Option<usize>,
    covered: HashSet<Key, RandomState>,
    todo: Vec<Key>,
    cursor: usize,
    /// Where the listing walk is: database, and position in it ([`list_next`]).
    walk_db: usize,
    walk_cursor: Walk,
    part_keys: usize,
    extra: VecDeque<Key>,
    extra_set: HashSet<Key, RandomState>,
    rescan: bool,
    rescans: u32,
    /// When every partition had been listed (the queue of re-dumps may still grow).
    listed_all: Option<Instant>,
    /// Set for an RDB snapshot (BGSAVE): covered keys are kept as RDB records instead of
    /// commands in `out`, and an effect on a covered key makes it uncovered and queued again.
    pub(crate) rdb: Option<RdbRecords>,
    /// An FMQ.* effect reached an RDB capture: an AOF base made from it would lose it.
    pub(crate) broker_state: bool,
}

/// The keys an RDB snapshot has serialized so far (see [`Capture::rdb`]).
pub(crate) struct RdbRecords {
    pub(crate) enc: crate::store::rdb::Encodings,
    /// Per key: its record, or the copy it will be written from.
    pub(crate) records: RecordSet,
}

/// Home buckets per step of a walk ([`ScanMap::walk`]): about 24 keys at the table's
/// highest load, so a batch stops close to its key budget.
const WALK_HOMES: usize = 32;

/// The next keys of the walk over every database, from (`db`, `walk`): whole walk steps
/// ([`ScanMap::walk`]) until at least `want` keys or the end of the last database. A key
/// present for the whole walk is listed at least once however the tables grow or shrink
/// meanwhile (SCAN's guarantee); a key written meanwhile is queued by its effect anyway, and a
/// key listed twice is skipped once covered. The walk visits each bucket once: a capture
/// lists the keyspace in one pass, not one pass per listing.
///
/// [`ScanMap::walk`]: crate::store::ScanMap::walk
fn list_next(dbs: &[Db], db: &mut usize, walk: &mut Walk, want: usize) -> Vec<Key> {
    let mut v = Vec::new();
    while *db < dbs.len() && v.len() < want {
        let i = *db;
        if dbs[i]
            .map
            .walk(walk, WALK_HOMES, |k, _| v.push((i, k.to_bytes())))
        {
            *db += 1;
            *walk = Walk::default();
        }
    }
    v
}

impl Capture {
    pub(crate) fn new() -> Capture {
        Capture::with_partition_size(PART_KEYS)
    }

    /// `part_keys`: keys per listing (tests use small listings).
    pub(crate) fn with_partition_size(part_keys: usize) -> Capture {
        Capture {
            out: Vec::new(),
            copies: Vec::new(),
            out_db: None,
            covered: HashSet::default(),
            todo: Vec::new(),
            cursor: 0,
            walk_db: 0,
            walk_cursor: Walk::default(),
            part_keys: part_keys.max(1),
            extra: VecDeque::new(),
            extra_set: HashSet::default(),
            rescan: false,
            rescans: 0,
            listed_all: None,
            rdb: None,
            broker_state: false,
        }
    }

    /// A capture that builds an RDB snapshot of `dbs` (BGSAVE).
    pub(crate) fn rdb(dbs: &[Db], enc: crate::store::rdb::Encodings) -> Capture {
        let mut c = Capture::new();
        // Sized up front: growing a table of a million keys rehashes it inside one batch.
        let n: usize = dbs.iter().map(|d| d.len()).sum();
        c.rdb = Some(RdbRecords {
            enc,
            records: RecordSet::with_capacity(n),
        });
        c
    }

    fn emit(&mut self, db: Option<usize>, argv: &[Bytes]) {
        if self.rdb.is_some() {
            return;
        }
        if let Some(db) = db {
            self.select(db);
        }
        encode_command(argv, &mut self.out);
    }

    /// A `SELECT` unless `db` is the one the base has selected.
    fn select(&mut self, db: usize) {
        if self.out_db != Some(db) {
            encode_command(
                &[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())],
                &mut self.out,
            );
            self.out_db = Some(db);
        }
    }

    /// What the base has gained since the last call, to be written with no lock held.
    pub(super) fn take_out(&mut self) -> Output {
        Output {
            bytes: std::mem::take(&mut self.out),
            copies: std::mem::take(&mut self.copies),
        }
    }

    fn queue(&mut self, k: Key) {
        if !self.extra_set.contains(&k) {
            let k = (k.0, crate::store::own(&k.1));
            self.extra_set.insert(k.clone());
            self.extra.push_back(k);
        }
    }

    /// An effect was executed (see the module documentation).
    pub(crate) fn on_effect(&mut self, db: usize, argv: &[Bytes]) {
        if argv.is_empty() {
            return;
        }
        let name = &argv[0];
        if is(name, "function") {
            if self.rdb.is_some() {
                // The snapshot takes the libraries as they are when it ends.
                return;
            }
            // Libraries are not keys (and FLUSHALL keeps them): every change reaches the base
            // as it happened, even while a restart of the key dump is pending.
            self.emit(None, argv);
            return;
        }
        if (name.len() > 4 && name[..4].eq_ignore_ascii_case(b"fmq.") || is(name, "xcfgset"))
            && self.rdb.is_some()
        {
            // Broker state appeared during an RDB base, which cannot hold it: this rewrite
            // gives up (the AOF stays as it was) and the next one writes commands.
            self.broker_state = true;
            return;
        }
        if is(name, "fmq.schedule") || is(name, "fmq.cancel") {
            // Scheduled deliveries are not keys either (FLUSHALL keeps them): the base starts
            // with those pending when the rewrite began, then every change in order.
            self.emit(Some(db), argv);
            return;
        }
        if self.rescan {
            return;
        }
        if is(name, "select") || is(name, "multi") || is(name, "exec") {
            return;
        }
        if is(name, "flushall") {
            self.emit(None, argv);
            self.covered.clear();
            if let Some(r) = self.rdb.as_mut() {
                r.records.clear();
            }
            return;
        }
        if is(name, "flushdb") {
            self.emit(Some(db), argv);
            self.covered.retain(|(d, _)| *d != db);
            if let Some(r) = self.rdb.as_mut() {
                r.records.clear_db(db);
            }
            return;
        }
        if is(name, "swapdb") {
            let parse = |i: usize| {
                argv.get(i)
                    .and_then(|a| crate::protocol::request::parse_i64(a))
                    .filter(|v| *v >= 0)
                    .map(|v| v as usize)
            };
            let (Some(a), Some(b)) = (parse(1), parse(2)) else {
                self.rescan = true;
                return;
            };
            self.emit(None, argv);
            let swap = |d: usize| {
                if d == a {
                    b
                } else if d == b {
                    a
                } else {
                    d
                }
            };
            self.covered = self.covered.drain().map(|(d, k)| (swap(d), k)).collect();
            if let Some(r) = self.rdb.as_mut() {
                r.records.swap_dbs(a, b);
            }
            for (d, _) in self.todo.iter_mut().chain(self.extra.iter_mut()) {
                *d = swap(*d);
            }
            self.extra_set = self.extra.iter().cloned().collect();
            // The walk lists databases one after the other: a database already walked may
            // now hold keys it never listed. Walk again from the start (covered keys are
            // skipped when listed twice).
            // Each restart counts as a rescan, so a stream of SWAPDBs cannot keep the capture
            // from ending (past MAX_RESCANS the rest is listed in one critical section).
            if self.walk_db > 0 || self.walk_cursor != Walk::default() {
                self.walk_db = 0;
                self.walk_cursor = Walk::default();
                self.rescans += 1;
            }
            return;
        }
        let Some(keys) = effect_keys(db, argv) else {
            self.rescan = true;
            return;
        };
        let n = keys.iter().filter(|k| self.is_covered(k)).count();
        if n == keys.len() && self.rdb.is_none() {
            self.emit(Some(db), argv);
            return;
        }
        for k in keys {
            let was = match self.rdb.as_mut() {
                Some(r) => r.records.remove(k.0, &k.1),
                None => self.covered.remove(&k),
            };
            if was {
                self.emit(Some(k.0), &[Bytes::from_static(b"DEL"), k.1.clone()]);
            }
            self.queue(k);
        }
    }

    /// Whether `key` has been dumped and is still exact. An RDB capture's covered keys are
    /// the keys of its records (one set, not two kept in step).
    fn is_covered(&self, key: &Key) -> bool {
        match &self.rdb {
            Some(r) => r.records.contains(key.0, &key.1),
            None => self.covered.contains(key),
        }
    }

    /// One step of the walk (`ScanMap::walk`: [`WALK_HOMES`] home buckets) for an RDB capture:
    /// every key it visits that is not covered yet and has not expired becomes a record. Keys
    /// written meanwhile are queued by their effects, as for a listing. Returns (keys visited,
    /// record bytes written).
    fn walk_and_dump(&mut self, dbs: &[Db], now: i64) -> (usize, usize) {
        let i = self.walk_db;
        let d = &dbs[i];
        let RdbRecords { enc, records } = self.rdb.as_mut().expect("an RDB capture");
        let (mut n, mut bytes) = (0, 0);
        let finished = d.map.walk(&mut self.walk_cursor, WALK_HOMES, |k, v| {
            n += 1;
            let ttl = d.expire_at(k);
            if ttl.is_some_and(|t| t <= now) {
                // Logically gone: its deletion reaches the stream when expiry runs.
                return;
            }
            bytes += records.insert_new(i, k, v, ttl, enc).unwrap_or(0);
        });
        if finished {
            self.walk_db += 1;
            self.walk_cursor = Walk::default();
        }
        (n, bytes)
    }

    /// Dump the next keys. Returns true when every key is covered.
    pub(crate) fn dump_batch(&mut self, dbs: &[Db]) -> bool {
        if self.rescan {
            self.emit(None, &[Bytes::from_static(b"FLUSHALL")]);
            self.covered.clear();
            if let Some(r) = self.rdb.as_mut() {
                r.records.clear();
            }
            self.todo = Vec::new();
            self.cursor = 0;
            self.walk_db = 0;
            self.walk_cursor = Walk::default();
            self.listed_all = None;
            self.extra.clear();
            self.extra_set.clear();
            self.rescan = false;
            self.rescans += 1;
        }
        // Convergence: writers touching dumped keys faster than batches dump them could keep
        // a rewrite going forever; past a point the rest is dumped in one critical section.
        let unlimited = self.rescans > MAX_RESCANS
            || self
                .listed_all
                .is_some_and(|t| t.elapsed() > MAX_REQUEUE_TIME);
        let now = unix_ms();
        let mut n = 0;
        let mut bytes = 0;
        let mut listed = false;
        let mut cmds: Vec<Vec<Bytes>> = Vec::new();
        loop {
            if !unlimited && (n >= BATCH_KEYS || self.out.len() + bytes >= BATCH_BYTES) {
                return false;
            }
            if self.cursor >= self.todo.len() && self.walk_db < dbs.len() {
                if self.rdb.is_some() {
                    // An RDB capture dumps what the walk visits as it goes: nothing is listed
                    // to be looked up again (the lookups and key copies were a third of a
                    // full sync's capture).
                    let (walked, dumped) = self.walk_and_dump(dbs, now);
                    n += walked;
                    bytes += dumped;
                    if self.walk_db >= dbs.len() {
                        self.listed_all = Some(Instant::now());
                    }
                    continue;
                }
                // One listing per critical section.
                if listed && !unlimited {
                    return false;
                }
                self.todo = list_next(
                    dbs,
                    &mut self.walk_db,
                    &mut self.walk_cursor,
                    self.part_keys,
                );
                self.cursor = 0;
                if self.walk_db >= dbs.len() {
                    self.listed_all = Some(Instant::now());
                }
                listed = true;
                continue;
            }
            let key = if self.cursor < self.todo.len() {
                self.cursor += 1;
                // Listed keys are read once: taken, not cloned (a clone of a copied key
                // allocates its shared form).
                std::mem::take(&mut self.todo[self.cursor - 1])
            } else if let Some(k) = self.extra.pop_front() {
                self.extra_set.remove(&k);
                k
            } else {
                self.todo = Vec::new();
                return true;
            };
            n += 1;
            if self.is_covered(&key) {
                continue;
            }
            let Some(d) = dbs.get(key.0) else {
                continue;
            };
            let Some(v) = d.map.get(&key.1[..]) else {
                continue;
            };
            let ttl = d.expire_at(&key.1);
            if ttl.is_some_and(|t| t <= now) {
                // Logically gone: its deletion reaches the stream when expiry runs.
                continue;
            }
            if let Some(r) = self.rdb.as_mut() {
                bytes += r
                    .records
                    .insert_new(key.0, &key.1, v, ttl, &r.enc)
                    .unwrap_or(0);
                continue;
            }
            if super::records::is_big(&v.value) {
                // Copied now, turned into commands when the output is written (a 1M-entry
                // stream took ~300 ms to encode, with every client waiting).
                self.select(key.0);
                self.copies.push(Pending {
                    at: self.out.len(),
                    key: key.1.clone(),
                    value: Box::new(v.value.clone()),
                    ttl,
                });
                bytes += super::records::COPY_COST;
                self.covered.insert(key);
                continue;
            }
            cmds.clear();
            v.value.rewrite(&key.1, &mut cmds);
            for c in &cmds {
                self.emit(Some(key.0), c);
            }
            if let Some(t) = ttl {
                self.emit(Some(key.0), &expire_command(&key.1, t));
            }
            self.covered.insert(key);
        }
    }
}

fn expire_command(key: &Bytes, at: i64) -> [Bytes; 3] {
    [
        Bytes::from_static(b"PEXPIREAT"),
        key.clone(),
        Bytes::from(at.to_string()),
    ]
}

/// A big value whose commands go at offset `at` of the output.
struct Pending {
    at: usize,
    key: Bytes,
    value: Box<crate::store::Value>,
    ttl: Option<i64>,
}

impl Pending {
    fn encode(&self, out: &mut Vec<u8>) {
        let mut cmds = Vec::new();
        self.value.rewrite(&self.key, &mut cmds);
        for c in &cmds {
            encode_command(c, out);
        }
        if let Some(t) = self.ttl {
            encode_command(&expire_command(&self.key, t), out);
        }
    }
}

/// A piece of a base written as commands: the bytes, and the big values to encode at their
/// offsets in them.
pub(super) struct Output {
    bytes: Vec<u8>,
    copies: Vec<Pending>,
}

impl Output {
    /// Writes it all; returns the bytes written.
    pub(super) fn write_to(self, w: &mut impl Write) -> std::io::Result<u64> {
        let mut prev = 0;
        let mut n = 0u64;
        let mut buf = Vec::new();
        for p in &self.copies {
            w.write_all(&self.bytes[prev..p.at])?;
            buf.clear();
            p.encode(&mut buf);
            w.write_all(&buf)?;
            n += (p.at - prev + buf.len()) as u64;
            prev = p.at;
        }
        w.write_all(&self.bytes[prev..])?;
        Ok(n + (self.bytes.len() - prev) as u64)
    }

    /// All of it in one buffer.
    #[cfg(test)]
    pub(super) fn into_bytes(self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v).expect("a Vec takes every write");
        v
    }
}

/// A BGSAVE snapshot consumes the effects log beside the AOF and the replicas.
impl crate::engine::effects::EffectsConsumer for Capture {
    fn consume(&mut self, effects: crate::engine::effects::Batch<'_>) {
        for (db, command) in effects.iter() {
            self.on_effect(db, &super::reader::decode_one(command).unwrap_or_default());
        }
    }
}

/// (db, key) pairs an effect touches; None when they cannot be known from the command table.
fn effect_keys(db: usize, argv: &[Bytes]) -> Option<Vec<Key>> {
    let name = &argv[0];
    let num = |a: &Bytes| {
        crate::protocol::request::parse_i64(a)
            .filter(|v| *v >= 0)
            .map(|v| v as usize)
    };
    if is(name, "move") {
        let target = num(argv.get(2)?)?;
        return Some(vec![(db, argv[1].clone()), (target, argv[1].clone())]);
    }
    if is(name, "copy") {
        let mut dst_db = db;
        let mut i = 3;
        while i < argv.len() {
            if is(&argv[i], "db") {
                dst_db = num(argv.get(i + 1)?)?;
                i += 1;
            }
            i += 1;
        }
        return Some(vec![
            (db, argv.get(1)?.clone()),
            (dst_db, argv.get(2)?.clone()),
        ]);
    }
    let entry = crate::command::resolve(argv).ok()?;
    let pos = entry.key_positions(argv.len());
    if pos.is_empty() {
        return None;
    }
    Some(pos.into_iter().map(|p| (db, argv[p].clone())).collect())
}

/// Remove leftovers of rewrites interrupted by a crash.
pub(crate) fn remove_temp_files(layout: &Layout) {
    if let Ok(rd) = std::fs::read_dir(&layout.dir) {
        for e in rd.flatten() {
            let name = e.file_name();
            if name.to_string_lossy().starts_with("temp-rewriteaof-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Start a rewrite in the background; Err is the error line for the client.
pub(crate) fn start(shared: &Arc<Shared>, mode: Mode) -> Result<(), String> {
    start_with(shared, mode, &mut shared.store.lock())
}

/// [`start`] with the store already held (inside EXEC, or a caller that must not wait for it).
pub(crate) fn start_with(
    shared: &Arc<Shared>,
    mode: Mode,
    store: &mut crate::engine::StoreInner,
) -> Result<(), String> {
    let core = &shared.aof.core;
    if core
        .rewrite
        .in_progress
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return Err("ERR Background append only file rewriting already in progress".into());
    }
    // A rewrite told to stop by a caller that could not wait for it has ended by now.
    core.rewrite.abort.store(false, Ordering::SeqCst);
    *core.rewrite.started.lock() = Some(Instant::now());
    core.rewrite.scheduled.store(false, Ordering::SeqCst);
    {
        // With AOF off the layout comes from the config and the manifest on disk.
        let mut files = core.files.lock();
        if files.is_none() {
            let layout = super::layout_from_config(shared);
            let manifest = match layout.load() {
                Ok(m) => m.unwrap_or_default(),
                Err(e) => {
                    drop(files);
                    core.rewrite.in_progress.store(false, Ordering::SeqCst);
                    error!(error = %e, "Can't start the AOF rewrite");
                    return Err(format!("ERR {e}"));
                }
            };
            *files = Some(Files { layout, manifest });
        }
    }
    {
        if store.aof.is_none() {
            store.aof = Some(AofSink::new(core.clone(), true));
        }
        // Broker state (FMQ.* policies, schedules, parked entries) has no place in an RDB: once
        // the dataset has some, the base is written as commands.
        let rdb_base = shared.config.read().get_bool("aof-use-rdb-preamble") && !store.broker_state;
        let cap = if rdb_base {
            // An RDB base, as Redis 7 writes by default: the libraries are taken when the
            // snapshot ends.
            Capture::rdb(&store.dbs, crate::command::dump::encodings_of(shared))
        } else {
            let mut cap = Capture::new();
            // The base starts with the function libraries, as Redis's does (lock order: the
            // store, then the script engine).
            for cmd in shared.scripting.lock().functions.load_commands() {
                cap.emit(None, &cmd);
            }
            for (h, s) in store.schedule.iter() {
                cap.emit(
                    Some(s.db),
                    &crate::engine::schedule::schedule_command(*h, s),
                );
            }
            cap
        };
        store.aof.as_mut().expect("sink").capture = Some(Box::new(cap));
    }
    let sh = shared.clone();
    let handle = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || run(sh, mode))
        .map_err(|e| format!("ERR Can't start the rewrite: {e}"))?;
    info!("Background append only file rewriting started");
    let old = shared.aof.threads.lock().rewrite.replace(handle);
    if let Some(h) = old {
        let _ = h.join();
    }
    Ok(())
}

/// Automatic rewrite by `auto-aof-rewrite-percentage` / `auto-aof-rewrite-min-size`.
pub(crate) fn maybe_auto_rewrite(shared: &Arc<Shared>) {
    let core = &shared.aof.core;
    if !core.enabled.load(Ordering::SeqCst)
        || !core.running.load(Ordering::SeqCst)
        || core.rewrite.in_progress.load(Ordering::SeqCst)
        || core.failed.load(Ordering::SeqCst)
    {
        return;
    }
    let (perc, min) = {
        let c = shared.config.read();
        (
            c.get_i64("auto-aof-rewrite-percentage"),
            c.get_i64("auto-aof-rewrite-min-size"),
        )
    };
    let current = core.current_size.load(Ordering::SeqCst) as i64;
    if perc <= 0 || current <= min {
        return;
    }
    // Redis waits a little after a failed automatic rewrite.
    if core.rewrite.consecutive_failures.load(Ordering::SeqCst) > 0
        && core
            .rewrite
            .started
            .lock()
            .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
    {
        return;
    }
    let base = (core.base_size.load(Ordering::SeqCst) as i64).max(1);
    let growth = current.saturating_mul(100) / base - 100;
    if growth >= perc {
        info!(
            growth_percent = growth,
            "Starting automatic rewriting of AOF"
        );
        // The writer thread calls this, and it is joined by callers that may hold the store
        // (CONFIG SET appendonly inside EXEC): it never waits for the lock, the next check
        // starts the rewrite instead.
        if let Some(mut store) = shared.store.try_lock_for(Duration::from_millis(10)) {
            let _ = start_with(shared, Mode::Current, &mut store);
        }
    }
}

fn run(shared: Arc<Shared>, mode: Mode) {
    let core = shared.aof.core.clone();
    let start = Instant::now();
    let result = rewrite(&shared, mode);
    // Whatever happened, no capture may remain.
    {
        let mut store = shared.store.lock();
        let discard = store.aof.as_ref().is_some_and(|s| s.discard);
        if let Some(s) = store.aof.as_mut() {
            s.capture = None;
        }
        if discard {
            store.aof = None;
        }
    }
    core.rewrite
        .last_secs
        .store(start.elapsed().as_secs() as i64, Ordering::SeqCst);
    match &result {
        Ok(()) => {
            core.rewrite.last_ok.store(true, Ordering::SeqCst);
            core.rewrite.count.fetch_add(1, Ordering::SeqCst);
            core.rewrite.consecutive_failures.store(0, Ordering::SeqCst);
            info!("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            core.rewrite.last_ok.store(false, Ordering::SeqCst);
            core.rewrite
                .consecutive_failures
                .fetch_add(1, Ordering::SeqCst);
            warn!(error = %e, "Background AOF rewrite failed");
        }
    }
    if mode == Mode::Enable {
        core.gate.store(u64::MAX, Ordering::SeqCst);
        if result.is_err() && !core.rewrite.abort.load(Ordering::SeqCst) {
            // The first base could not be written: AOF stays off, as Redis reports it.
            core.rewrite.in_progress.store(false, Ordering::SeqCst);
            error!("Unable to turn on AOF: the first rewrite failed");
            shared.store.lock().aof = None;
            super::stop_writer(&shared);
            *core.files.lock() = None;
            let _ = shared.config.write().set_many(&[(b"appendonly", b"no")]);
            return;
        }
        super::publish(&shared);
    }
    core.rewrite.in_progress.store(false, Ordering::SeqCst);
}

fn rewrite(shared: &Arc<Shared>, mode: Mode) -> Result<(), String> {
    let core = &shared.aof.core;
    let (layout, base_seq) = {
        let files = core.files.lock();
        let f = files.as_ref().ok_or("AOF is off")?;
        (f.layout.clone(), f.manifest.next_base_seq())
    };
    let err = |what: &str, e: std::io::Error| format!("{what}: {}", super::strerror(&e));
    std::fs::create_dir_all(&layout.dir).map_err(|e| err("create dir", e))?;
    let temp = layout
        .dir
        .join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let mut rdb_base = false;
    let result = (|| -> Result<(FileEntry, Option<FileEntry>), String> {
        let mut f = File::create(&temp).map_err(|e| err("create temp file", e))?;
        let mut unsynced = 0u64;
        let mut switch = None;
        let mut rdb = None;
        loop {
            if core.rewrite.abort.load(Ordering::SeqCst) {
                return Err("aborted".into());
            }
            let (chunk, done) = {
                let mut store = shared.store.lock();
                let store = &mut *store;
                let Some(sink) = store.aof.as_mut() else {
                    return Err("aborted: AOF turned off".into());
                };
                let Some(mut cap) = sink.capture.take() else {
                    return Err("aborted".into());
                };
                if cap.broker_state {
                    return Err("aborted: broker state cannot go in an RDB base".into());
                }
                let done = cap.dump_batch(&store.keyspace.dbs);
                let chunk = cap.take_out();
                if done {
                    if let Some(r) = cap.rdb.take() {
                        // The libraries as they are at the instant the base describes.
                        let functions: Vec<Bytes> = shared
                            .scripting
                            .lock()
                            .functions
                            .load_commands()
                            .into_iter()
                            .filter_map(|mut c| c.pop())
                            .collect();
                        rdb = Some((r, functions));
                    }
                    if !sink.discard {
                        switch = Some(mark_switch(store));
                    }
                } else {
                    store.aof.as_mut().expect("sink").capture = Some(cap);
                }
                (chunk, done)
            };
            unsynced += chunk
                .write_to(&mut f)
                .map_err(|e| err("write temp file", e))?;
            if unsynced >= INCREMENTAL_FSYNC {
                f.sync_data().map_err(|e| err("fsync temp file", e))?;
                unsynced = 0;
            }
            if done {
                break;
            }
        }
        if let Some((r, functions)) = rdb {
            // The records become the base's RDB, written with no lock held.
            rdb_base = true;
            for c in crate::snapshot::file_chunks(r.records, &functions, &r.enc) {
                f.write_all(&c).map_err(|e| err("write temp file", e))?;
            }
        }
        f.sync_all().map_err(|e| err("fsync temp file", e))?;
        drop(f);
        let incr = match switch {
            None => None,
            Some(rx) => loop {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(Ok(entry)) => break Some(entry),
                    Ok(Err(e)) => return Err(format!("switching to a new incr file: {e}")),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        if core.rewrite.abort.load(Ordering::SeqCst) {
                            return Err("aborted".into());
                        }
                    }
                    Err(_) => return Err("the AOF writer stopped".into()),
                }
            },
        };
        let base = FileEntry {
            name: if rdb_base {
                layout.rdb_base_name(base_seq)
            } else {
                layout.base_name(base_seq)
            },
            seq: base_seq,
        };
        std::fs::rename(&temp, layout.path(&base.name)).map_err(|e| err("rename", e))?;
        sync_dir(&layout.dir).map_err(|e| err("fsync dir", e))?;
        Ok((base, incr))
    })();
    let (base, incr) = match result {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
    };
    // Commit: the manifest now names the new base and the incr file started at the switch.
    let mut files = core.files.lock();
    let Some(files) = files.as_mut() else {
        return Err("aborted: AOF turned off".into());
    };
    let old = files.manifest.clone();
    let mut m = Manifest {
        base: Some(base.clone()),
        incrs: Vec::new(),
        history: Vec::new(),
    };
    let mut obsolete: Vec<FileEntry> = old.base.iter().cloned().collect();
    match incr {
        Some(incr) => {
            obsolete.extend(old.incrs.iter().filter(|i| i.seq < incr.seq).cloned());
            m.incrs.push(incr);
        }
        // AOF off: the base alone is the dataset.
        None => obsolete.extend(old.incrs.iter().cloned()),
    }
    obsolete.extend(old.history.iter().cloned());
    obsolete.retain(|o| o.name != base.name);
    files
        .layout
        .persist(&m)
        .map_err(|e| err("persist manifest", e))?;
    files.manifest = m;
    for o in obsolete {
        info!(file = %o.name, "Removing the history file");
        let _ = std::fs::remove_file(files.layout.path(&o.name));
    }
    let size: u64 = files
        .manifest
        .data_files()
        .map(|(f, _)| files.layout.size_of(&f.name))
        .sum();
    core.current_size.store(size, Ordering::SeqCst);
    core.base_size.store(size, Ordering::SeqCst);
    let _ = mode;
    Ok(())
}

/// Under the store lock, at the end of the dump: the writer starts the next incr file exactly
/// here, and the next effect re-selects its database in that file.
fn mark_switch(store: &mut StoreInner) -> std::sync::mpsc::Receiver<Result<FileEntry, String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = store.aof.as_ref().expect("sink");
    let core = sink.core.clone();
    {
        let mut p = core.pending.lock();
        let at = p.end;
        p.markers.push_back(Marker { at, reply: tx });
    }
    core.wake_writer();
    if let Some(sink) = store.aof.as_mut() {
        sink.reselect();
    }
    rx
}
