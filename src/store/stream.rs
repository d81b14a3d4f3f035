//! Stream storage: entries ordered by ID, consumer groups and their pending
//! entries lists. Pure data structure: no protocol, no locks.
//!
//! API (called by the stream command family, under the store lock):
//!
//! * `StreamId::parse` / `parse_range` / `parse_xadd` / `to_bytes` — the
//!   `ms-seq` text form with the exact acceptance rules of Redis
//!   (`streamGenericParseIDOrReply`); `incr` / `decr` for exclusive bounds.
//! * `Stream::append` (XADD) generates or checks the ID and stores the entry;
//!   `Stream::trim` (XADD MAXLEN/MINID, XTRIM) and `Stream::delete` (XDEL) remove
//!   entries; `Stream::range` / `Stream::rev_range` scan (XRANGE, XREVRANGE,
//!   XREAD, XREADGROUP); `Stream::get` looks one entry up (XCLAIM, history reads).
//! * Counters that XINFO and XSETID expose: `len`, `first_id` (the recorded first
//!   entry ID), `last_id`, `last_valid_id`, `max_deleted_entry_id`,
//!   `entries_added`, `node_count`; `set_id` for XSETID.
//! * Consumer groups: `create_group`, `group`, `group_mut`, `destroy_group`;
//!   `deliver_new` records what a `>` read handed out (PEL, last delivered ID,
//!   entries-read counter), `Group::consumer_pending` + `Group::redeliver` serve
//!   history reads, `Group::ack`, `claim` (XCLAIM), `autoclaim` (XAUTOCLAIM),
//!   `Group::pending_summary` / `Group::pending_range` (XPENDING),
//!   `Group::pending` / `pending_entries` / `consumers` (XINFO), `lag` and
//!   `estimate_distance` (the Redis 7.0 entries-read / lag rules).
//! * Redis 8.4-8.8: `Group::claimable` / `next_claimable` / `claim_for_read` (XREADGROUP
//!   CLAIM: the XNACK zone first, then the least recently delivered idle entries),
//!   `Group::nack` and `nacked` (XNACK: released entries, owned by nobody, in release order);
//!   `idmp_find` / `idmp_record` / `idmp_init` / `Idmp::configure` (XADD IDMP / IDMPAUTO and
//!   XCFGSET: per producer, the recent idempotent IDs and the entries they added).
//! * `mem_usage` (MEMORY USAGE) and `rewrite` (AOF rewrite commands).
//!
//! Layout. Entries live in packed nodes keyed by the ID of their first
//! ("master") entry in a `BTreeMap`, like the radix tree of listpacks of Redis:
//! each node holds up to `stream-node-max-entries` entries in one `Vec<u8>`.
//! An entry is `flags, ms-delta, seq, [nfields, (len, field, len, value)...]`
//! with varint lengths; when its field names equal the master entry's (the
//! common case) only the values are stored. IDs are delta-encoded against the
//! node key. Deleting marks the entry in place; a node goes away when its last
//! live entry is deleted, as in Redis.
//!
//! Node boundaries follow Redis exactly: we keep, per node, the size the
//! equivalent Redis listpack would have and split on the same
//! `stream-node-max-bytes` / `stream-node-max-entries` rule. That is what makes
//! `MAXLEN ~` / `MINID ~` (which only drop whole nodes) leave the same number of
//! entries as Redis, and `radix-tree-keys` in XINFO match.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

/// The entries-read counter value meaning "unknown" (Redis `SCG_INVALID_ENTRIES_READ`).
pub const INVALID_ENTRIES_READ: i64 = -1;

/// Largest total size of the fields and values of one entry (Redis
/// `STREAM_LISTPACK_MAX_SIZE`).
pub const MAX_ENTRY_BYTES: usize = 1 << 30;

// ---------------------------------------------------------------------------
// StreamId
// ---------------------------------------------------------------------------

/// A stream entry ID: milliseconds and sequence number, ordered as a pair.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

/// Result of parsing an ID with `StreamId::parse_xadd`: `ms-*` leaves the
/// sequence to the stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IdSpec {
    /// `*`: fully generated.
    Auto,
    /// `ms-*`: the sequence is generated.
    Ms(u64),
    /// An explicit (possibly seq-defaulted) ID.
    Exact(StreamId),
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next ID, or `None` at `MAX` (Redis `streamIncrID`).
    pub fn incr(&self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID, or `None` at `MIN` (Redis `streamDecrID`).
    pub fn decr(&self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// Parse `ms-seq` or `ms` (the sequence is then `missing_seq`), with the
    /// exact acceptance rules of Redis: each part goes through `string2ull`
    /// (a strict integer, or whatever `strtoull` accepts such as `+5` or
    /// leading zeros), at most 127 bytes. `-` and `+` are not handled here.
    pub fn parse(s: &[u8], missing_seq: u64) -> Option<StreamId> {
        match Self::parse_inner(s, missing_seq, false)? {
            IdSpec::Exact(id) => Some(id),
            _ => None,
        }
    }

    /// Like `parse`, plus the `-` (MIN) and `+` (MAX) shortcuts of range commands.
    pub fn parse_range(s: &[u8], missing_seq: u64) -> Option<StreamId> {
        match s {
            b"-" => Some(StreamId::MIN),
            b"+" => Some(StreamId::MAX),
            _ => Self::parse(s, missing_seq),
        }
    }

    /// Parse the ID argument of XADD: `*`, `ms-*`, `ms-seq` or `ms` (seq 0).
    pub fn parse_xadd(s: &[u8]) -> Option<IdSpec> {
        if s == b"*" {
            return Some(IdSpec::Auto);
        }
        Self::parse_inner(s, 0, true)
    }

    fn parse_inner(s: &[u8], missing_seq: u64, allow_star: bool) -> Option<IdSpec> {
        if s.len() > 127 {
            return None;
        }
        // Redis copies into a C buffer: the text ends at the first NUL.
        let s = match s.iter().position(|&b| b == 0) {
            Some(p) => &s[..p],
            None => s,
        };
        match s.iter().position(|&b| b == b'-') {
            Some(dash) => {
                let ms = string2ull(&s[..dash])?;
                let rest = &s[dash + 1..];
                if allow_star && rest == b"*" {
                    return Some(IdSpec::Ms(ms));
                }
                let seq = string2ull(rest)?;
                Some(IdSpec::Exact(StreamId::new(ms, seq)))
            }
            None => Some(IdSpec::Exact(StreamId::new(string2ull(s)?, missing_seq))),
        }
    }

    /// `ms-seq` as bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut v = Vec::with_capacity(41);
        self.write_to(&mut v);
        Bytes::from(v)
    }

    /// Append `ms-seq` to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut b = itoa::Buffer::new();
        out.extend_from_slice(b.format(self.ms).as_bytes());
        out.push(b'-');
        out.extend_from_slice(b.format(self.seq).as_bytes());
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

use crate::num::string2ll;

/// Redis `string2ull`: a strict i64 that must not be negative, or else what
/// C `strtoull` accepts in full (leading spaces, a sign, leading zeros; a `-`
/// negates modulo 2^64; overflow is an error).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = string2ll(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let digits = &s[i..];
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

// ---------------------------------------------------------------------------
// Redis listpack size model (for node boundaries only)
// ---------------------------------------------------------------------------

/// Header (total bytes + element count) and end byte of an empty listpack.
const LP_EMPTY: u64 = 7;

fn lp_backlen(l: u64) -> u64 {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Bytes a listpack integer element takes, backlen included.
fn lp_int(v: i64) -> u64 {
    let enc = match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8388608..=8388607 => 4,
        -2147483648..=2147483647 => 5,
        _ => 9,
    };
    enc + lp_backlen(enc)
}

/// Bytes a listpack string element takes (strings that look like integers are
/// stored as integers, as `lpAppend` does).
fn lp_str(s: &[u8]) -> u64 {
    if let Some(v) = string2ll(s) {
        return lp_int(v);
    }
    let len = s.len() as u64;
    let enc = if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    };
    enc + lp_backlen(enc)
}

// ---------------------------------------------------------------------------
// Varints and the node encoding
// ---------------------------------------------------------------------------

const FLAG_DELETED: u8 = 1;
const FLAG_SAMEFIELDS: u8 = 2;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decode a varint at `*pos`. Buffers are only ever written by `put_varint`,
/// so they are well formed.
#[inline]
fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

#[inline]
fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let len = get_varint(buf, pos) as usize;
    let s = &buf[*pos..*pos + len];
    *pos += len;
    s
}

/// A packed run of consecutive entries; the map key is its master ID.
#[derive(Clone)]
struct Node {
    /// Master field names, then the entries.
    buf: Vec<u8>,
    /// Where the entries start in `buf`.
    hdr_len: u32,
    /// Entries stored, deleted ones included.
    count: u32,
    /// Entries not deleted.
    live: u32,
    /// Size of the equivalent Redis listpack without its two counters.
    lp_fixed: u64,
    /// ID of the last stored entry (deleted or not).
    last: StreamId,
}

/// One entry decoded in place.
#[derive(Clone, Copy)]
struct RawEntry {
    id: StreamId,
    flags: u8,
    /// Offset of the flags byte.
    at: usize,
    /// Offset of the field data (after `nfields` when present).
    data: usize,
    nfields: u32,
    /// Offset of the next entry.
    next: usize,
}

impl Node {
    fn lp_bytes(&self) -> u64 {
        self.lp_fixed + lp_int(i64::from(self.live)) + lp_int(i64::from(self.count - self.live))
    }

    fn master_nfields(&self) -> u32 {
        let mut p = 0;
        get_varint(&self.buf, &mut p) as u32
    }

    /// Decode the head of the entry at `at`: its ID, flags, field count and where its fields
    /// start.
    #[inline]
    fn decode_head(&self, master: StreamId, at: usize) -> (StreamId, u8, u32, usize) {
        let buf = &self.buf;
        let mut p = at;
        let flags = buf[p];
        p += 1;
        let ms_delta = get_varint(buf, &mut p);
        let seq_raw = get_varint(buf, &mut p);
        let id = if ms_delta == 0 {
            StreamId::new(master.ms, master.seq.wrapping_add(seq_raw))
        } else {
            StreamId::new(master.ms.wrapping_add(ms_delta), seq_raw)
        };
        let nfields = if flags & FLAG_SAMEFIELDS != 0 {
            self.master_nfields()
        } else {
            get_varint(buf, &mut p) as u32
        };
        (id, flags, nfields, p)
    }

    /// Decode the entry at `at`.
    fn decode(&self, master: StreamId, at: usize) -> RawEntry {
        let buf = &self.buf;
        let (id, flags, nfields, data) = self.decode_head(master, at);
        let mut p = data;
        let items = if flags & FLAG_SAMEFIELDS != 0 {
            nfields
        } else {
            nfields * 2
        };
        for _ in 0..items {
            get_bytes(buf, &mut p);
        }
        RawEntry {
            id,
            flags,
            at,
            data,
            nfields,
            next: p,
        }
    }

    fn entry_ref<'a>(&'a self, e: &RawEntry) -> EntryRef<'a> {
        EntryRef {
            id: e.id,
            buf: &self.buf,
            data: e.data,
            nfields: e.nfields,
            same: e.flags & FLAG_SAMEFIELDS != 0,
        }
    }

    /// Offsets of every entry, for reverse scans.
    fn offsets(&self, master: StreamId, out: &mut Vec<u32>) {
        out.clear();
        let mut p = self.hdr_len as usize;
        while p < self.buf.len() {
            out.push(p as u32);
            p = self.decode(master, p).next;
        }
    }

    /// Find the entry with this exact ID (deleted or not).
    fn find(&self, master: StreamId, id: StreamId) -> Option<RawEntry> {
        if id > self.last || id < master {
            return None;
        }
        let mut p = self.hdr_len as usize;
        while p < self.buf.len() {
            let e = self.decode(master, p);
            if e.id == id {
                return Some(e);
            }
            if e.id > id {
                return None;
            }
            p = e.next;
        }
        None
    }
}

/// A borrowed view of one live entry.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    buf: &'a [u8],
    data: usize,
    nfields: u32,
    same: bool,
}

impl<'a> EntryRef<'a> {
    /// Number of field-value pairs.
    pub fn len(&self) -> usize {
        self.nfields as usize
    }

    pub fn is_empty(&self) -> bool {
        self.nfields == 0
    }

    /// The field-value pairs in insertion order.
    pub fn fields(&self) -> Fields<'a> {
        Fields {
            buf: self.buf,
            pos: self.data,
            master_pos: if self.same {
                // Skip the master field count.
                let mut p = 0;
                get_varint(self.buf, &mut p);
                Some(p)
            } else {
                None
            },
            left: self.nfields,
        }
    }

    /// Owned copy.
    pub fn to_entry(&self) -> Entry {
        Entry {
            id: self.id,
            fields: self
                .fields()
                .map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v)))
                .collect(),
        }
    }
}

/// Iterator over the field-value pairs of an entry.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    master_pos: Option<usize>,
    left: u32,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let field = match &mut self.master_pos {
            Some(mp) => get_bytes(self.buf, mp),
            None => get_bytes(self.buf, &mut self.pos),
        };
        let value = get_bytes(self.buf, &mut self.pos);
        Some((field, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Fields<'_> {}

/// An owned entry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    pub id: StreamId,
    pub fields: Vec<(Bytes, Bytes)>,
}

// ---------------------------------------------------------------------------
// Consumer groups
// ---------------------------------------------------------------------------

/// A delivered, not yet acknowledged entry, as the API reports it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PendingEntry {
    pub consumer: Bytes,
    /// Unix time in ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

/// A pending entry as stored: 16 bytes, so a PEL entry costs about what it costs in Redis
/// (~84 bytes with both indexes) rather than twice that with the consumer name inline.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Nack {
    delivery_time: u64,
    // DEVIATION(redis): delivery counts of 2^32-1 and more are one value, reported as
    // `i64::MAX` (what XNACK FATAL sets; Redis keeps 64 bits). Only an explicit RETRYCOUNT
    // that large, or four billion deliveries, could tell. A 64-bit count would cost 8 bytes
    // more per pending entry (measured: tests/stream.rs `bytes_per_pending_entry`).
    count: u32,
    /// `Consumer::id` of the owner ([`NACK_OWNER`] once released by XNACK).
    consumer: u32,
}

impl Nack {
    fn new(delivery_time: u64, count: u64, consumer: u32) -> Nack {
        let mut n = Nack {
            delivery_time,
            count: 0,
            consumer,
        };
        n.set_count(count);
        n
    }

    fn count(&self) -> u64 {
        if self.count == u32::MAX {
            i64::MAX as u64
        } else {
            u64::from(self.count)
        }
    }

    fn set_count(&mut self, count: u64) {
        self.count = u32::try_from(count).unwrap_or(u32::MAX);
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Consumer {
    /// Last time the consumer was seen by a command (XINFO `idle`).
    pub seen_time: u64,
    /// Last successful read or claim; -1 if never (kept for the 7.2 fields).
    pub active_time: i64,
    /// IDs this consumer owns in the group PEL.
    pub pel: BTreeSet<StreamId>,
    /// Key of this consumer in `Group::names`, referenced by its pending entries.
    id: u32,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical read counter; `INVALID_ENTRIES_READ` when unknown.
    pub entries_read: i64,
    pel: BTreeMap<StreamId, Nack>,
    /// By name, so XINFO CONSUMERS lists them in Redis's (lexicographic) order.
    consumers: BTreeMap<Bytes, Consumer>,
    /// Consumer id -> name, for the pending entries.
    names: std::collections::HashMap<u32, Bytes, ahash::RandomState>,
    next_consumer_id: u32,
    /// Broker policy (visibility timeout, dead-lettering); None for a plain Redis group.
    policy: Option<Box<GroupPolicy>>,
    /// The PEL ordered by delivery time, kept only while a visibility timeout is set, so the
    /// entries due for redelivery are found without a scan.
    by_time: Option<BTreeSet<(u64, StreamId)>>,
    /// Pending entries whose consumer left with FMQ.LEAVE: owned by nobody
    /// ([`HANDBACK_OWNER`]) and delivered again by the next `>` read.
    handback: BTreeSet<StreamId>,
    /// The XNACK zone (Redis 8.8): entries released by XNACK, owned by nobody
    /// ([`NACK_OWNER`]), claimed before any other pending entry, in release order.
    nacked: BTreeMap<u64, StreamId>,
    /// Position of each released entry in `nacked`.
    nack_pos: HashMap<StreamId, u64>,
    next_nack: u64,
}

/// The owner of handed-back entries (never a consumer's id).
const HANDBACK_OWNER: u32 = u32::MAX;

/// The consumer RDB files show entries released by XNACK under (in release order).
pub const NACKED_CONSUMER: &[u8] = b"\x00fmq-nacked";

/// The owner of entries released by XNACK (never a consumer's id); reported as `""`.
const NACK_OWNER: u32 = u32::MAX - 1;

/// One more delivery, kept within what a RESP integer can show (XNACK FATAL sets
/// `i64::MAX`).
fn bump(count: u64) -> u64 {
    count.saturating_add(1).min(i64::MAX as u64)
}

/// How XNACK adjusts the delivery count of what it releases.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NackMode {
    /// One delivery less: the delivery did not count.
    Silent,
    /// Unchanged.
    Fail,
    /// `i64::MAX`: never to be processed.
    Fatal,
}

/// The consumer the AOF rewrite hands entries back through (claim to it, then FMQ.LEAVE).
pub const HANDBACK_CONSUMER: &[u8] = b"\x00fmq-handback";

/// The `FMQ.GROUPSET` command that sets policy `p` on `group` of `key` (AOF rewrite).
pub fn policy_command(key: &Bytes, group: &Bytes, p: &GroupPolicy) -> Vec<Bytes> {
    let mut v = vec![
        Bytes::from_static(b"FMQ.GROUPSET"),
        key.clone(),
        group.clone(),
        Bytes::from_static(b"VISIBILITY"),
        Bytes::from(p.visibility_ms.to_string()),
        Bytes::from_static(b"MAXDELIVERIES"),
        Bytes::from(p.max_deliveries.to_string()),
    ];
    if let Some(d) = &p.dead_letter {
        v.push(Bytes::from_static(b"DEADLETTER"));
        v.push(d.clone());
    }
    if let Some(f) = &p.order_by {
        v.push(Bytes::from_static(b"ORDERBY"));
        v.push(f.clone());
    }
    v
}

/// A consumer group's broker policy (`FMQ.GROUPSET`).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct GroupPolicy {
    /// An entry pending longer than this (ms) is delivered again by a `>` read; 0 = off.
    pub visibility_ms: u64,
    /// An entry already delivered this many times goes to the dead-letter stream instead of
    /// being delivered again; 0 = no limit.
    pub max_deliveries: u64,
    /// Where entries over `max_deliveries` go.
    pub dead_letter: Option<Bytes>,
    /// Ordered message groups: entries with the same value of this field are delivered one
    /// at a time, in order.
    pub order_by: Option<Bytes>,
}

/// XPENDING summary form.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PendingSummary {
    pub count: usize,
    /// Smallest and greatest pending ID (None when nothing is pending).
    pub bounds: Option<(StreamId, StreamId)>,
    /// Consumers with at least one pending entry, by name, with their count.
    pub consumers: Vec<(Bytes, usize)>,
}

/// One row of the extended XPENDING form.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PendingRow {
    pub id: StreamId,
    pub consumer: Bytes,
    /// `now - delivery_time` (may be negative if the clock went back); -1 for an entry
    /// released by XNACK.
    pub idle: i64,
    pub delivery_count: u64,
    /// Released by XNACK (owned by nobody, `consumer` is empty).
    pub released: bool,
}

impl Group {
    fn new(last_id: StreamId, entries_read: i64) -> Self {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
            names: std::collections::HashMap::default(),
            next_consumer_id: 0,
            policy: None,
            by_time: None,
            handback: BTreeSet::new(),
            nacked: BTreeMap::new(),
            nack_pos: HashMap::new(),
            next_nack: 0,
        }
    }

    /// FMQ.LEAVE: remove consumer `name` and hand its pending entries back to the group (the
    /// next `>` read delivers them again). The number handed back, or None without such a
    /// consumer.
    pub fn leave(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        self.names.remove(&c.id);
        for id in &c.pel {
            if let Some(n) = self.pel.get_mut(id) {
                n.consumer = HANDBACK_OWNER;
                self.handback.insert(*id);
            }
        }
        Some(c.pel.len())
    }

    /// Park pending entry `id` (ordered message groups): owned by nobody, never delivered,
    /// delivered by a later `>` read once its message group is free.
    pub fn park(&mut self, id: StreamId) {
        let Some(n) = self.pel.get_mut(&id) else {
            return;
        };
        let old = n.consumer;
        n.consumer = HANDBACK_OWNER;
        n.set_count(0);
        if old == NACK_OWNER {
            self.unzone(id);
        } else if old != HANDBACK_OWNER
            && let Some(c) = self.consumer_by_id(old)
        {
            c.pel.remove(&id);
        }
        self.handback.insert(id);
    }

    /// Up to `max` handed-back entries, in ID order.
    pub fn handed_back(&self, max: usize) -> Vec<StreamId> {
        self.handback.iter().take(max).copied().collect()
    }

    /// Number of handed-back entries.
    pub fn handback_len(&self) -> usize {
        self.handback.len()
    }

    /// The broker policy, if one is set.
    pub fn policy(&self) -> Option<&GroupPolicy> {
        self.policy.as_deref()
    }

    /// Set (or with an all-off policy, clear) the broker policy; the delivery-time index
    /// exists exactly while a visibility timeout is set.
    pub fn set_policy(&mut self, p: GroupPolicy) {
        if p.visibility_ms > 0 {
            if self.by_time.is_none() {
                self.by_time = Some(
                    self.pel
                        .iter()
                        .map(|(id, n)| (n.delivery_time, *id))
                        .collect(),
                );
            }
        } else {
            self.by_time = None;
        }
        self.policy = (p != GroupPolicy::default()).then(|| Box::new(p));
    }

    /// Pending entries whose visibility timeout has passed at `now`, oldest delivery first,
    /// at most `max` (empty without a visibility timeout).
    pub fn due_for_redelivery(&self, now: u64, max: usize) -> Vec<StreamId> {
        let (Some(p), Some(idx)) = (self.policy(), &self.by_time) else {
            return Vec::new();
        };
        let Some(cut) = now.checked_sub(p.visibility_ms) else {
            return Vec::new();
        };
        idx.range(..=(cut, StreamId::MAX))
            .take(max)
            .map(|&(_, id)| id)
            .collect()
    }

    /// Deliver the pending entry `id` again, to `consumer` (created if missing): the new owner,
    /// time `now`, one more delivery. Returns the new delivery count (None if not pending).
    pub fn redeliver_to(&mut self, id: StreamId, consumer: &[u8], now: u64) -> Option<u64> {
        let count = bump(self.pel.get(&id)?.count());
        let cid = self.consumer_id(consumer, now);
        self.put_pending(id, cid, now, count);
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.active_time = now as i64;
        }
        Some(count)
    }

    /// Make `id` pending again for `consumer` (created if missing) with `count` deliveries.
    pub fn restore_pending(&mut self, id: StreamId, consumer: &[u8], now: u64, count: u64) {
        let cid = self.consumer_id(consumer, now);
        self.put_pending(id, cid, now, count);
    }

    /// When the next pending entry becomes visible again (unix ms), if any.
    pub fn next_redelivery(&self) -> Option<u64> {
        let p = self.policy()?;
        let (t, _) = self.by_time.as_ref()?.first()?;
        Some(t.saturating_add(p.visibility_ms))
    }

    fn index_move(&mut self, id: StreamId, old: Option<u64>, new: Option<u64>) {
        if let Some(idx) = &mut self.by_time {
            if let Some(t) = old {
                idx.remove(&(t, id));
            }
            if let Some(t) = new {
                idx.insert((t, id));
            }
        }
    }

    /// Consumers by name.
    pub fn consumers(&self) -> &BTreeMap<Bytes, Consumer> {
        &self.consumers
    }

    /// Number of pending entries.
    pub fn pending_len(&self) -> usize {
        self.pel.len()
    }

    /// Unix time in ms of the least recent delivery still pending (the largest XPENDING
    /// idle), None when nothing is pending. O(1) while a visibility timeout keeps the PEL
    /// indexed by time, else a walk of the PEL.
    pub fn oldest_delivery(&self) -> Option<u64> {
        match &self.by_time {
            Some(idx) => idx.first().map(|(t, _)| *t),
            None => self.pel.values().map(|n| n.delivery_time).min(),
        }
    }

    fn view(&self, n: &Nack) -> PendingEntry {
        PendingEntry {
            consumer: self.names.get(&n.consumer).cloned().unwrap_or_default(),
            delivery_time: n.delivery_time,
            delivery_count: n.count(),
        }
    }

    /// The pending entry `id`, if any.
    pub fn pending(&self, id: StreamId) -> Option<PendingEntry> {
        self.pel.get(&id).map(|n| self.view(n))
    }

    /// All pending entries in ID order.
    pub fn pending_entries(&self) -> impl Iterator<Item = (StreamId, PendingEntry)> + '_ {
        self.pel.iter().map(|(id, n)| (*id, self.view(n)))
    }

    /// Look a consumer up, creating it if missing. The name is copied.
    /// Returns whether it was created.
    pub fn get_or_create_consumer(&mut self, name: &[u8], now: u64) -> (&mut Consumer, bool) {
        // Avoid the copy when it exists.
        if self.consumers.contains_key(name) {
            return (self.consumers.get_mut(name).unwrap(), false);
        }
        let key = Bytes::copy_from_slice(name);
        // Ids are not reused while the group lives; skip any still taken after a wrap.
        let mut id = self.next_consumer_id;
        while self.names.contains_key(&id) || id >= NACK_OWNER {
            id = id.wrapping_add(1);
        }
        self.next_consumer_id = id.wrapping_add(1);
        self.names.insert(id, key.clone());
        let c = self.consumers.entry(key).or_insert_with(|| Consumer {
            seen_time: now,
            active_time: -1,
            pel: BTreeSet::new(),
            id,
        });
        (c, true)
    }

    /// XGROUP CREATECONSUMER: true if created.
    pub fn create_consumer(&mut self, name: &[u8], now: u64) -> bool {
        self.get_or_create_consumer(name, now).1
    }

    /// XGROUP DELCONSUMER: the number of pending entries the consumer had
    /// (now dropped from the group PEL), or None if it did not exist.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        self.names.remove(&c.id);
        for id in &c.pel {
            if let Some(n) = self.pel.remove(id) {
                self.index_move(*id, Some(n.delivery_time), None);
            }
        }
        Some(c.pel.len())
    }

    fn consumer_by_id(&mut self, id: u32) -> Option<&mut Consumer> {
        let name = self.names.get(&id)?;
        self.consumers.get_mut(name)
    }

    /// XACK one ID: true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                self.index_move(id, Some(n.delivery_time), None);
                if n.consumer == HANDBACK_OWNER {
                    self.handback.remove(&id);
                } else if n.consumer == NACK_OWNER {
                    self.unzone(id);
                } else if let Some(c) = self.consumer_by_id(n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// XGROUP SETID.
    pub fn set_id(&mut self, id: StreamId, entries_read: i64) {
        self.last_id = id;
        self.entries_read = entries_read;
    }

    /// Up to `count` (0 = all) IDs of this consumer's PEL from `start` on,
    /// for a history read.
    pub fn consumer_pending(
        &self,
        consumer: &[u8],
        start: StreamId,
        count: usize,
    ) -> Vec<StreamId> {
        let Some(c) = self.consumers.get(consumer) else {
            return Vec::new();
        };
        let it = c.pel.range(start..).copied();
        if count == 0 {
            it.collect()
        } else {
            it.take(count).collect()
        }
    }

    /// A history read re-delivered this (existing) entry.
    pub fn redeliver(&mut self, id: StreamId, now: u64) {
        if let Some(n) = self.pel.get_mut(&id) {
            let old = n.delivery_time;
            n.delivery_time = now;
            n.set_count(bump(n.count()));
            self.index_move(id, Some(old), Some(now));
        }
    }

    /// XPENDING key group.
    pub fn pending_summary(&self) -> PendingSummary {
        let bounds = match (self.pel.keys().next(), self.pel.keys().next_back()) {
            (Some(a), Some(b)) => Some((*a, *b)),
            _ => None,
        };
        let consumers = self
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| (n.clone(), c.pel.len()))
            .collect();
        PendingSummary {
            count: self.pel.len(),
            bounds,
            consumers,
        }
    }

    /// XPENDING key group [IDLE min] start end count [consumer].
    /// `count` bounds the output, never an allocation.
    pub fn pending_range(
        &self,
        start: StreamId,
        end: StreamId,
        count: usize,
        consumer: Option<&[u8]>,
        min_idle: Option<i64>,
        now: u64,
    ) -> Vec<PendingRow> {
        let mut out = Vec::new();
        if start > end || count == 0 {
            return out;
        }
        let row = |id: StreamId, n: &Nack| {
            let released = n.consumer == NACK_OWNER;
            let idle = (now as i64).wrapping_sub(n.delivery_time as i64);
            match min_idle {
                // A released entry counts as idle for ever.
                Some(min) if idle < min && !released => None,
                _ => Some(PendingRow {
                    id,
                    consumer: self.names.get(&n.consumer).cloned().unwrap_or_default(),
                    idle: if released { -1 } else { idle },
                    delivery_count: n.count(),
                    released,
                }),
            }
        };
        match consumer {
            Some(name) => {
                let Some(c) = self.consumers.get(name) else {
                    return out;
                };
                let rows = c
                    .pel
                    .range(start..=end)
                    .filter_map(|id| self.pel.get(id).and_then(|n| row(*id, n)));
                out.extend(rows.take(count));
            }
            None => {
                let rows = self
                    .pel
                    .range(start..=end)
                    .filter_map(|(id, n)| row(*id, n));
                out.extend(rows.take(count));
            }
        }
        out
    }

    fn unzone(&mut self, id: StreamId) {
        if let Some(pos) = self.nack_pos.remove(&id) {
            self.nacked.remove(&pos);
        }
    }

    /// Put `id` at the tail of the XNACK zone (moving it there if it already is in it).
    fn zone(&mut self, id: StreamId) {
        self.unzone(id);
        let pos = self.next_nack;
        self.next_nack += 1;
        self.nacked.insert(pos, id);
        self.nack_pos.insert(id, pos);
    }

    /// Number of entries in the XNACK zone (XINFO STREAM FULL `nacked-count`).
    pub fn nacked_len(&self) -> usize {
        self.nacked.len()
    }

    /// The XNACK zone in claim order (release order), with the delivery counts.
    pub fn nacked(&self) -> impl Iterator<Item = (StreamId, u64)> + '_ {
        self.nacked
            .values()
            .map(|id| (*id, self.pel.get(id).map_or(0, |n| n.count())))
    }

    /// XNACK one ID: release it to the group (owned by nobody, delivery time 0, at the tail of
    /// the XNACK zone) with its delivery count adjusted by `mode`, or set to `retry`. An ID
    /// not pending is released only when `force` (FORCE, and the entry is in the stream),
    /// with a count of `retry`, or 0 (`i64::MAX` for FATAL). True if released.
    pub fn nack(&mut self, id: StreamId, mode: NackMode, retry: Option<u64>, force: bool) -> bool {
        let fatal = i64::MAX as u64;
        match self.pel.get_mut(&id) {
            Some(n) => {
                let (old_owner, old_time) = (n.consumer, n.delivery_time);
                n.set_count(retry.unwrap_or(match mode {
                    NackMode::Silent => n.count().saturating_sub(1),
                    NackMode::Fail => n.count(),
                    NackMode::Fatal => fatal,
                }));
                n.delivery_time = 0;
                n.consumer = NACK_OWNER;
                self.index_move(id, Some(old_time), Some(0));
                if old_owner == HANDBACK_OWNER {
                    self.handback.remove(&id);
                } else if old_owner != NACK_OWNER
                    && let Some(c) = self.consumer_by_id(old_owner)
                {
                    c.pel.remove(&id);
                }
                self.zone(id);
                true
            }
            None if force => {
                let count = retry.unwrap_or(if mode == NackMode::Fatal { fatal } else { 0 });
                self.pel.insert(id, Nack::new(0, count, NACK_OWNER));
                self.index_move(id, None, Some(0));
                self.zone(id);
                true
            }
            None => false,
        }
    }

    /// The first `max` pending entries an `XREADGROUP ... CLAIM min-idle-time` read takes, in
    /// the order it takes them: the XNACK zone first, then entries owned by a consumer and idle
    /// at least `min_idle` ms at `now`, least recently delivered first (then by ID). One walk
    /// of the PEL, and a sort of only what is returned.
    pub fn claimable(&self, min_idle: u64, now: u64, max: usize) -> Vec<StreamId> {
        let mut out: Vec<StreamId> = self.nacked.values().take(max).copied().collect();
        let max = max - out.len();
        if max == 0 {
            return out;
        }
        let mut idle: Vec<(u64, StreamId)> = self
            .pel
            .iter()
            .filter(|(_, n)| n.consumer < NACK_OWNER)
            .filter(|(_, n)| (now as i64).wrapping_sub(n.delivery_time as i64) >= min_idle as i64)
            .map(|(id, n)| (n.delivery_time, *id))
            .collect();
        if idle.len() > max {
            idle.select_nth_unstable(max);
            idle.truncate(max);
        }
        idle.sort_unstable();
        out.extend(idle.into_iter().map(|(_, id)| id));
        out
    }

    /// When the next pending entry becomes claimable by a `CLAIM min_idle` read (unix ms):
    /// now if the XNACK zone has entries. None when nothing else is pending.
    pub fn next_claimable(&self, min_idle: u64) -> Option<u64> {
        if !self.nacked.is_empty() {
            return Some(0);
        }
        self.pel
            .values()
            .filter(|n| n.consumer < NACK_OWNER)
            .map(|n| n.delivery_time.saturating_add(min_idle))
            .min()
    }

    /// An `XREADGROUP ... CLAIM` read takes pending entry `id` for `consumer` (created if
    /// missing), as XCLAIM does: new owner, delivery time `now`, one more delivery. Returns
    /// the idle time it had (-1 if it was released by XNACK) and its delivery count before
    /// this one, or None if `id` is not pending.
    pub fn claim_for_read(
        &mut self,
        id: StreamId,
        consumer: &[u8],
        now: u64,
    ) -> Option<(i64, u64)> {
        let n = self.pel.get(&id)?;
        let idle = if n.consumer == NACK_OWNER {
            -1
        } else {
            (now as i64).wrapping_sub(n.delivery_time as i64).max(0)
        };
        let prev = n.count();
        self.redeliver_to(id, consumer, now)?;
        Some((idle, prev))
    }

    /// Give the pending entry `id` (which must exist) to consumer `cid`.
    fn assign(&mut self, id: StreamId, cid: u32) {
        let Some(n) = self.pel.get_mut(&id) else {
            return;
        };
        let old = n.consumer;
        n.consumer = cid;
        if old == HANDBACK_OWNER {
            self.handback.remove(&id);
        } else if old == NACK_OWNER {
            self.unzone(id);
        } else if old != cid
            && let Some(c) = self.consumer_by_id(old)
        {
            c.pel.remove(&id);
        }
        if let Some(c) = self.consumer_by_id(cid) {
            c.pel.insert(id);
        }
    }

    /// Look a consumer up for a command that acts as it (XREADGROUP, XCLAIM,
    /// XAUTOCLAIM): create it if missing, refresh its seen time. Returns
    /// whether it was created.
    pub fn touch_consumer(&mut self, name: &[u8], now: u64) -> bool {
        let (c, created) = self.get_or_create_consumer(name, now);
        c.seen_time = now;
        created
    }

    /// The id of a consumer, created and refreshed as `touch_consumer`.
    fn consumer_id(&mut self, name: &[u8], now: u64) -> u32 {
        self.touch_consumer(name, now);
        self.consumers[name].id
    }

    /// Insert or overwrite the pending entry `id` for consumer `cid`.
    fn put_pending(&mut self, id: StreamId, cid: u32, time: u64, count: u64) {
        match self.pel.get_mut(&id) {
            Some(n) => {
                let old = n.delivery_time;
                n.delivery_time = time;
                n.set_count(count);
                self.index_move(id, Some(old), Some(time));
            }
            None => {
                self.index_move(id, None, Some(time));
                self.pel.insert(id, Nack::new(time, count, cid));
            }
        }
        self.assign(id, cid);
    }
}

/// XCLAIM options.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClaimOptions {
    /// Minimum idle time in ms; 0 = any.
    pub min_idle: u64,
    /// New delivery time (ms).
    pub time: u64,
    /// RETRYCOUNT, when given.
    pub retry_count: Option<u64>,
    pub force: bool,
    pub justid: bool,
}

/// What XCLAIM did with one ID.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ClaimOutcome {
    /// Claimed: the PEL entry now reads like this.
    Claimed(PendingEntry),
    /// The entry was deleted from the stream; its PEL entry was dropped.
    Dropped,
    /// Nothing happened (not pending, or not idle enough).
    Skipped,
}

/// XAUTOCLAIM result.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct AutoclaimResult {
    /// The cursor for the next call (0-0 when the scan is complete).
    pub next: StreamId,
    /// Claimed IDs, with the PEL entry after the claim.
    pub claimed: Vec<(StreamId, PendingEntry)>,
    /// Pending IDs whose entries no longer exist (their PEL entries were dropped).
    pub deleted: Vec<StreamId>,
}

// ---------------------------------------------------------------------------
// Stream
// ---------------------------------------------------------------------------

/// Node size limits (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    /// 0 = no limit (capped at `MAX_ENTRY_BYTES`).
    pub max_bytes: u64,
    /// 0 = no limit.
    pub max_entries: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        }
    }
}

/// Why XADD could not append.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AppendError {
    /// The ID is not greater than the last one (`ERR The ID specified in XADD
    /// is equal or smaller than the target stream top item`).
    NotGreater,
    /// `*` on a stream whose last ID is the maximum.
    Exhausted,
    /// Fields and values over `MAX_ENTRY_BYTES`.
    TooLarge,
}

/// What deleting or trimming entries does to the consumer groups' references to them
/// (Redis 8.2's KEEPREF / DELREF / ACKED).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum RefPolicy {
    /// Delete the entries; pending lists keep their references (XDEL's behaviour).
    #[default]
    KeepRef,
    /// Delete the entries and remove them from every group's pending list.
    DelRef,
    /// Delete only entries every group has delivered and acknowledged.
    Acked,
}

/// Trim strategy of XADD / XTRIM.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TrimKind {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Trim {
    pub kind: TrimKind,
    /// `~`: only drop whole nodes.
    pub approx: bool,
    /// Most entries to drop (0 = no limit); only meaningful with `approx`.
    pub limit: u64,
}

#[derive(Clone, Default)]
pub struct Stream {
    /// Shared so that a copy of the stream (a snapshot's, taken under the store lock) costs a
    /// pointer per node, not the entries: a write to a node the copy still holds copies that
    /// node alone (`Arc::make_mut`).
    nodes: BTreeMap<StreamId, Arc<Node>>,
    /// Bytes of entry data the nodes hold (their encoded length, deleted entries included
    /// until their node goes): what retention's MAXBYTES limits.
    bytes: u64,
    length: u64,
    last_id: StreamId,
    first_id: StreamId,
    max_deleted_entry_id: StreamId,
    entries_added: u64,
    /// Greatest live ID (0-0 when empty): XREAD/XREADGROUP ask for it on every call, and
    /// finding it in the tail node would mean decoding that node.
    last_live: StreamId,
    /// By name: XINFO GROUPS lists them in Redis's (lexicographic) order.
    groups: BTreeMap<Bytes, Group>,
    /// Retention policy (FMQ.RETENTION); None for a plain Redis stream.
    retention: Option<Box<Retention>>,
    /// Idempotent production state (XADD IDMP / IDMPAUTO, XCFGSET; Redis 8.6); None until
    /// the stream uses it, so a stream that never does reports Redis 7.0's XINFO.
    // DEVIATION(redis): kept by the AOF (FMQ.IDMP) but not by RDB files, whose Redis 7 format
    // has no place for it.
    idmp: Option<Box<Idmp>>,
    /// An XNACK (Redis 8.8) ran on this stream: XINFO STREAM FULL shows `nacked-count`.
    nack_used: bool,
}

// ---------------------------------------------------------------------------
// Idempotent production (Redis 8.6)
// ---------------------------------------------------------------------------

/// Default IDMP-DURATION (seconds) and IDMP-MAXSIZE, and their upper bounds.
pub const IDMP_DEFAULT_DURATION: u64 = 100;
pub const IDMP_DEFAULT_MAXSIZE: u64 = 100;
pub const IDMP_MAX_DURATION: u64 = 86_400;
pub const IDMP_MAX_MAXSIZE: u64 = 10_000;

/// What XADD IDMP remembers: per producer, the most recent idempotent IDs (iids) with the
/// entry each added, for `duration` seconds and at most `maxsize` per producer; and two
/// lifetime counters.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Idmp {
    /// IDMP-DURATION, seconds.
    pub duration: u64,
    /// IDMP-MAXSIZE, iids per producer.
    pub maxsize: u64,
    /// iids recorded over the stream's life (`iids-added`).
    pub added: u64,
    /// XADDs answered with an earlier entry (`iids-duplicates`).
    pub duplicates: u64,
    /// By producer ID; ordered so the AOF rewrite is deterministic.
    producers: BTreeMap<Bytes, Producer>,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
struct Producer {
    /// (unix ms recorded, iid), oldest first.
    order: VecDeque<(u64, Bytes)>,
    ids: HashMap<Bytes, StreamId>,
}

impl Default for Idmp {
    fn default() -> Self {
        Idmp {
            duration: IDMP_DEFAULT_DURATION,
            maxsize: IDMP_DEFAULT_MAXSIZE,
            added: 0,
            duplicates: 0,
            producers: BTreeMap::new(),
        }
    }
}

impl Producer {
    /// Drop the iids recorded `duration_ms` or more before `now`.
    fn expire(&mut self, now: u64, duration_ms: u64) {
        while let Some((t, _)) = self.order.front() {
            if now.saturating_sub(*t) < duration_ms {
                break;
            }
            let (_, iid) = self.order.pop_front().expect("front");
            self.ids.remove(&iid);
        }
    }

    fn forget(&mut self, iid: &[u8]) {
        if self.ids.remove(iid).is_some()
            && let Some(p) = self.order.iter().position(|(_, i)| i[..] == *iid)
        {
            self.order.remove(p);
        }
    }

    fn record(&mut self, iid: Bytes, id: StreamId, time: u64, maxsize: u64) {
        self.forget(&iid);
        self.order.push_back((time, iid.clone()));
        self.ids.insert(iid, id);
        while self.order.len() as u64 > maxsize {
            let (_, old) = self.order.pop_front().expect("over maxsize");
            self.ids.remove(&old);
        }
    }

    /// iids not yet expired at `now`.
    fn live(&self, now: u64, duration_ms: u64) -> u64 {
        self.order
            .iter()
            .filter(|(t, _)| now.saturating_sub(*t) < duration_ms)
            .count() as u64
    }
}

impl Idmp {
    fn duration_ms(&self) -> u64 {
        self.duration.saturating_mul(1000)
    }

    /// (`pids-tracked`, `iids-tracked`) at `now`: what has not expired.
    pub fn tracked(&self, now: u64) -> (u64, u64) {
        let ms = self.duration_ms();
        let mut pids = 0;
        let mut iids = 0;
        for p in self.producers.values() {
            let n = p.live(now, ms);
            if n > 0 {
                pids += 1;
                iids += n;
            }
        }
        (pids, iids)
    }

    /// XCFGSET: set what is given; a value that differs from the current one forgets every
    /// producer's iids (the counters stay). True if something changed.
    pub fn configure(&mut self, duration: Option<u64>, maxsize: Option<u64>) -> bool {
        let changed = duration.is_some_and(|d| d != self.duration)
            || maxsize.is_some_and(|m| m != self.maxsize);
        if changed {
            self.duration = duration.unwrap_or(self.duration);
            self.maxsize = maxsize.unwrap_or(self.maxsize);
            self.producers.clear();
        }
        changed
    }

    /// Every producer with its iids, oldest first: (pid, [(unix ms, entry ID, iid)]).
    pub fn producers(&self) -> impl Iterator<Item = (&Bytes, Vec<(u64, StreamId, &Bytes)>)> {
        self.producers.iter().map(|(pid, p)| {
            let v = p
                .order
                .iter()
                .map(|(t, iid)| (*t, p.ids[iid], iid))
                .collect();
            (pid, v)
        })
    }
}

/// The `FMQ.IDMP` commands that rebuild `m` on `key` (AOF rewrite): the settings and
/// counters, then each producer's iids, oldest first.
pub fn idmp_commands(key: &Bytes, m: &Idmp) -> Vec<Vec<Bytes>> {
    fn uint(v: u64) -> Bytes {
        Bytes::copy_from_slice(itoa::Buffer::new().format(v).as_bytes())
    }
    let mut out = vec![vec![
        Bytes::from_static(b"FMQ.IDMP"),
        key.clone(),
        Bytes::from_static(b"CONFIG"),
        uint(m.duration),
        uint(m.maxsize),
        uint(m.added),
        uint(m.duplicates),
    ]];
    for (pid, iids) in m.producers() {
        let mut cmd = vec![
            Bytes::from_static(b"FMQ.IDMP"),
            key.clone(),
            Bytes::from_static(b"LOAD"),
            pid.clone(),
        ];
        for (t, id, iid) in iids {
            cmd.push(uint(t));
            cmd.push(id.to_bytes());
            cmd.push(iid.clone());
        }
        out.push(cmd);
    }
    out
}

/// A stream's retention policy: the server trims by count and age on its own.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Retention {
    /// Keep at most this many entries; 0 = no limit.
    pub maxlen: u64,
    /// Keep entries younger than this (by the time in their ID); 0 = no limit.
    pub maxage_ms: u64,
    /// Keep at most this many bytes of entry data ([`Stream::data_bytes`]), dropping the
    /// oldest entries; 0 = no limit.
    pub maxbytes: u64,
    /// What trimming does to the groups' references (ACKED: only what every group is done
    /// with).
    pub refs: RefPolicy,
}

impl RefPolicy {
    pub fn token(self) -> &'static [u8] {
        match self {
            RefPolicy::KeepRef => b"KEEPREF",
            RefPolicy::DelRef => b"DELREF",
            RefPolicy::Acked => b"ACKED",
        }
    }
}

/// The `FMQ.RETENTION` command that sets policy `r` on `key` (effects, AOF rewrite).
pub fn retention_command(key: &Bytes, r: &Retention) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"FMQ.RETENTION"),
        key.clone(),
        Bytes::from_static(b"MAXLEN"),
        Bytes::from(r.maxlen.to_string()),
        Bytes::from_static(b"MAXAGE"),
        Bytes::from(r.maxage_ms.to_string()),
        Bytes::from_static(b"MAXBYTES"),
        Bytes::from(r.maxbytes.to_string()),
        Bytes::from_static(r.refs.token()),
    ]
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("length", &self.length)
            .field("nodes", &self.nodes.len())
            .field("last_id", &self.last_id)
            .field("first_id", &self.first_id)
            .field("max_deleted_entry_id", &self.max_deleted_entry_id)
            .field("entries_added", &self.entries_added)
            .field("groups", &self.groups)
            .finish()
    }
}

impl Stream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live entries (XLEN).
    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Last generated ID (`last-generated-id`).
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// Recorded first entry ID (`recorded-first-entry-id`; 0-0 when empty).
    pub fn first_id(&self) -> StreamId {
        self.first_id
    }

    pub fn max_deleted_entry_id(&self) -> StreamId {
        self.max_deleted_entry_id
    }

    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// Number of nodes (`radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// XSETID: set the last ID and optionally the two counters. The caller
    /// validated the arguments against the stream.
    pub fn set_id(
        &mut self,
        last_id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) {
        self.last_id = last_id;
        if let Some(n) = entries_added {
            self.entries_added = n;
        }
        if let Some(m) = max_deleted {
            self.max_deleted_entry_id = m;
        }
    }

    /// The ID XADD would use for `spec`, without adding anything.
    pub fn next_id(&self, spec: IdSpec, now_ms: u64) -> Result<StreamId, AppendError> {
        let last = self.last_id;
        match spec {
            IdSpec::Auto => {
                if last.ms < now_ms {
                    Ok(StreamId::new(now_ms, 0))
                } else {
                    last.incr().ok_or(AppendError::Exhausted)
                }
            }
            IdSpec::Ms(ms) => {
                if ms == last.ms {
                    if last.seq == u64::MAX {
                        Err(AppendError::NotGreater)
                    } else {
                        Ok(StreamId::new(ms, last.seq + 1))
                    }
                } else if ms > last.ms {
                    Ok(StreamId::new(ms, 0))
                } else {
                    Err(AppendError::NotGreater)
                }
            }
            IdSpec::Exact(id) => {
                if id > last {
                    Ok(id)
                } else {
                    Err(AppendError::NotGreater)
                }
            }
        }
    }

    /// XADD: append one entry with the ID `spec` resolves to. `fields` holds
    /// field-value pairs (copied into the stream).
    pub fn append<F: AsRef<[u8]>>(
        &mut self,
        spec: IdSpec,
        fields: &[(F, F)],
        now_ms: u64,
        limits: NodeLimits,
    ) -> Result<StreamId, AppendError> {
        let tot: usize = fields
            .iter()
            .map(|(f, v)| f.as_ref().len() + v.as_ref().len())
            .sum();
        if tot > MAX_ENTRY_BYTES {
            return Err(AppendError::TooLarge);
        }
        let id = self.next_id(spec, now_ms)?;

        // Same rule as streamAppendItem: a new node when the tail's listpack
        // plus the raw element bytes reaches max_bytes, or it holds max_entries.
        let max_bytes = if limits.max_bytes == 0 || limits.max_bytes > MAX_ENTRY_BYTES as u64 {
            MAX_ENTRY_BYTES as u64
        } else {
            limits.max_bytes
        };
        let mut use_tail = false;
        if let Some((_, tail)) = self.nodes.iter_mut().next_back() {
            let full = tail.lp_bytes() + tot as u64 >= max_bytes
                || (limits.max_entries != 0 && u64::from(tail.count) >= limits.max_entries);
            if full {
                Arc::make_mut(tail).buf.shrink_to_fit();
            } else {
                use_tail = true;
            }
        }
        let nfields = fields.len();
        if use_tail {
            let (master, node) = self.nodes.iter_mut().next_back().unwrap();
            let master = *master;
            let node = Arc::make_mut(node);
            let before = node.buf.len();
            let same = {
                let mut p = 0;
                let n = get_varint(&node.buf, &mut p) as usize;
                n == nfields
                    && fields
                        .iter()
                        .all(|(f, _)| get_bytes(&node.buf, &mut p) == f.as_ref())
            };
            Self::push_entry(node, master, id, fields, same);
            self.bytes += (node.buf.len() - before) as u64;
        } else {
            let mut buf = Vec::with_capacity(64 + tot + nfields * 4);
            put_varint(&mut buf, nfields as u64);
            let mut lp_fixed = LP_EMPTY + lp_int(nfields as i64) + lp_int(0);
            for (f, _) in fields {
                let f = f.as_ref();
                put_varint(&mut buf, f.len() as u64);
                buf.extend_from_slice(f);
                lp_fixed += lp_str(f);
            }
            let mut node = Node {
                hdr_len: buf.len() as u32,
                buf,
                count: 0,
                live: 0,
                lp_fixed,
                last: id,
            };
            Self::push_entry(&mut node, id, id, fields, true);
            self.bytes += node.buf.len() as u64;
            self.nodes.insert(id, Arc::new(node));
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        self.last_live = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    fn push_entry<F: AsRef<[u8]>>(
        node: &mut Node,
        master: StreamId,
        id: StreamId,
        fields: &[(F, F)],
        same: bool,
    ) {
        let buf = &mut node.buf;
        let flags = if same { FLAG_SAMEFIELDS } else { 0 };
        buf.push(flags);
        let ms_delta = id.ms.wrapping_sub(master.ms);
        put_varint(buf, ms_delta);
        put_varint(
            buf,
            if ms_delta == 0 {
                id.seq.wrapping_sub(master.seq)
            } else {
                id.seq
            },
        );
        let n = fields.len() as u64;
        let mut lp = lp_int(i64::from(flags))
            + lp_int(ms_delta as i64)
            + lp_int(id.seq.wrapping_sub(master.seq) as i64);
        if !same {
            put_varint(buf, n);
            lp += lp_int(n as i64);
        }
        for (f, v) in fields {
            let (f, v) = (f.as_ref(), v.as_ref());
            if !same {
                put_varint(buf, f.len() as u64);
                buf.extend_from_slice(f);
                lp += lp_str(f);
            }
            put_varint(buf, v.len() as u64);
            buf.extend_from_slice(v);
            lp += lp_str(v);
        }
        let lp_count = if same { n + 3 } else { 2 * n + 4 };
        lp += lp_int(lp_count as i64);
        node.lp_fixed += lp;
        node.count += 1;
        node.live += 1;
        node.last = id;
    }

    /// Drop a whole node.
    fn remove_node(&mut self, master: StreamId) {
        if let Some(n) = self.nodes.remove(&master) {
            self.bytes -= n.buf.len() as u64;
        }
    }

    /// Bytes of entry data held (see `bytes`).
    pub fn data_bytes(&self) -> u64 {
        self.bytes
    }

    /// The node that could hold `id`.
    fn node_for(&self, id: StreamId) -> Option<(StreamId, &Node)> {
        self.nodes
            .range(..=id)
            .next_back()
            .map(|(k, n)| (*k, &**n))
            .filter(|(_, n)| n.last >= id)
    }

    /// The live entry with this ID.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let (master, node) = self.node_for(id)?;
        let e = node.find(master, id)?;
        if e.flags & FLAG_DELETED != 0 {
            return None;
        }
        Some(node.entry_ref(&e))
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// XDEL one ID: true if a live entry was deleted. Updates the recorded
    /// first ID and the maximal deleted ID as Redis does.
    pub fn delete(&mut self, id: StreamId) -> bool {
        self.remove_live(id, true)
    }

    /// The retention policy, if one is set.
    pub fn retention(&self) -> Option<&Retention> {
        self.retention.as_deref()
    }

    /// Set (or, all off, clear) the retention policy.
    pub fn set_retention(&mut self, r: Retention) {
        self.retention = (r.maxlen > 0 || r.maxage_ms > 0 || r.maxbytes > 0).then(|| Box::new(r));
    }

    /// Apply the retention policy at `now` (unix ms): trim to `maxlen`, then everything older
    /// than `maxage`, then the oldest entries until at most `maxbytes` are left. Returns the trims made, as the XTRIM commands that replay them exactly
    /// (each is deterministic given the state it runs on).
    pub fn apply_retention(&mut self, key: &Bytes, now: u64) -> Vec<Vec<Bytes>> {
        let Some(r) = self.retention.as_deref().cloned() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let xtrim = |kind: &'static [u8], threshold: Bytes| {
            vec![
                Bytes::from_static(b"XTRIM"),
                key.clone(),
                Bytes::from_static(kind),
                Bytes::from_static(b"="),
                threshold,
                Bytes::from_static(r.refs.token()),
            ]
        };
        if r.maxlen > 0 && self.length > r.maxlen {
            let trim = Trim {
                kind: TrimKind::MaxLen(r.maxlen),
                approx: false,
                limit: 0,
            };
            if self.trim_with(trim, r.refs) > 0 {
                out.push(xtrim(b"MAXLEN", Bytes::from(r.maxlen.to_string())));
            }
        }
        if r.maxage_ms > 0 && now > r.maxage_ms {
            let cut = StreamId {
                ms: now - r.maxage_ms,
                seq: 0,
            };
            if self.length > 0 && self.first_id < cut {
                let trim = Trim {
                    kind: TrimKind::MinId(cut),
                    approx: false,
                    limit: 0,
                };
                if self.trim_with(trim, r.refs) > 0 {
                    out.push(xtrim(b"MINID", cut.to_bytes()));
                }
            }
        }
        if r.maxbytes > 0 && self.bytes > r.maxbytes {
            // Oldest node by oldest node; recorded as the exact MAXLEN it came to, which
            // replays to the same entries.
            let mut trimmed = false;
            while self.bytes > r.maxbytes && self.length > 0 {
                let Some((&master, first)) = self.nodes.iter().next() else {
                    break;
                };
                if first.live == 0 {
                    self.remove_node(master);
                    continue;
                }
                let trim = Trim {
                    kind: TrimKind::MaxLen(self.length - u64::from(first.live)),
                    approx: false,
                    limit: 0,
                };
                if self.trim_with(trim, r.refs) == 0 {
                    break;
                }
                trimmed = true;
            }
            if trimmed {
                out.push(xtrim(b"MAXLEN", Bytes::from(self.length.to_string())));
            }
        }
        out
    }

    /// When the age limit next has something to trim (unix ms): the oldest entry's time plus
    /// the age; None without an age limit or entries.
    pub fn next_expiry(&self) -> Option<u64> {
        let r = self.retention.as_deref()?;
        if r.maxage_ms == 0 || self.length == 0 {
            return None;
        }
        Some(self.first_id.ms.saturating_add(r.maxage_ms))
    }

    /// Whether some consumer group still needs entry `id`: it is pending there, or the group
    /// has not delivered that far yet (Redis 8.2's ACKED rule).
    pub fn referenced(&self, id: StreamId) -> bool {
        self.groups
            .values()
            .any(|g| g.last_id < id || g.pel.contains_key(&id))
    }

    /// Remove `id` from every group's pending list (DELREF); how many lists held it.
    pub fn drop_refs(&mut self, id: StreamId) -> usize {
        self.groups
            .values_mut()
            .map(|g| g.ack(id))
            .filter(|&a| a)
            .count()
    }

    /// XDELEX for one ID: -1 when no such entry, 1 when deleted, 2 when ACKED kept it because
    /// a group still needs it. DELREF drops the groups' references even when the entry itself
    /// is already gone.
    pub fn delete_with(&mut self, id: StreamId, refs: RefPolicy) -> i64 {
        if !self.contains(id) {
            if refs == RefPolicy::DelRef {
                self.drop_refs(id);
            }
            return -1;
        }
        match refs {
            RefPolicy::Acked if self.referenced(id) => 2,
            _ => {
                self.delete(id);
                if refs == RefPolicy::DelRef {
                    self.drop_refs(id);
                }
                1
            }
        }
    }

    /// The live IDs of the node keyed `master`, ascending.
    fn node_live_ids(&self, master: StreamId) -> Vec<StreamId> {
        let Some(node) = self.nodes.get(&master) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(node.live as usize);
        let mut p = node.hdr_len as usize;
        while p < node.buf.len() {
            let e = node.decode(master, p);
            if e.flags & FLAG_DELETED == 0 {
                out.push(e.id);
            }
            p = e.next;
        }
        out
    }

    /// XADD/XTRIM trimming with a reference policy (Redis 8.2): KEEPREF is [`Stream::trim`];
    /// DELREF also removes the trimmed entries from every group's pending list; ACKED trims
    /// only entries no group needs any more, passing over the others (with `~`, only whole
    /// nodes of such entries, stopping at the first node that holds a needed one).
    pub fn trim_with(&mut self, trim: Trim, refs: RefPolicy) -> u64 {
        if refs == RefPolicy::KeepRef {
            return self.trim(trim);
        }
        let mut deleted: u64 = 0;
        let drop = |s: &mut Stream, id: StreamId| {
            s.remove_live(id, false);
            if refs == RefPolicy::DelRef {
                s.drop_refs(id);
            }
        };
        if trim.approx {
            loop {
                if let TrimKind::MaxLen(max) = trim.kind
                    && self.length <= max
                {
                    break;
                }
                let Some((&master, node)) = self.nodes.iter().next() else {
                    break;
                };
                let entries = u64::from(node.live);
                if trim.limit != 0 && deleted + entries > trim.limit {
                    break;
                }
                let whole = match trim.kind {
                    TrimKind::MaxLen(max) => self.length - entries >= max,
                    TrimKind::MinId(min) => node.last < min,
                };
                if !whole {
                    break;
                }
                let ids = self.node_live_ids(master);
                if refs == RefPolicy::Acked && ids.iter().any(|id| self.referenced(*id)) {
                    break;
                }
                if ids.is_empty() {
                    self.remove_node(master);
                    continue;
                }
                for id in ids {
                    drop(self, id);
                    deleted += 1;
                }
            }
            return deleted;
        }
        let mut from = StreamId::MIN;
        loop {
            if let TrimKind::MaxLen(max) = trim.kind
                && self.length <= max
            {
                break;
            }
            let Some(id) = self.range(from, StreamId::MAX).next().map(|e| e.id) else {
                break;
            };
            if let TrimKind::MinId(min) = trim.kind
                && id >= min
            {
                break;
            }
            if refs == RefPolicy::Acked && self.referenced(id) {
                match id.incr() {
                    Some(next) => from = next,
                    None => break,
                }
                continue;
            }
            drop(self, id);
            deleted += 1;
            from = id;
        }
        deleted
    }

    /// Remove the live entry `id` (false if there is none); `note_max`: record it as the
    /// greatest deleted ID (XDEL does, trimming does not).
    fn remove_live(&mut self, id: StreamId, note_max: bool) -> bool {
        let Some(master) = self.node_for(id).map(|(m, _)| m) else {
            return false;
        };
        let node = Arc::make_mut(self.nodes.get_mut(&master).unwrap());
        let Some(e) = node.find(master, id) else {
            return false;
        };
        if e.flags & FLAG_DELETED != 0 {
            return false;
        }
        if node.live == 1 {
            self.remove_node(master);
        } else {
            node.buf[e.at] |= FLAG_DELETED;
            node.live -= 1;
        }
        self.length -= 1;
        if note_max && id > self.max_deleted_entry_id {
            self.max_deleted_entry_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.first_live_id().unwrap_or(StreamId::MIN);
        }
        if id == self.last_live {
            self.last_live = self.last_live_id().unwrap_or(StreamId::MIN);
        }
        true
    }

    fn first_live_id(&self) -> Option<StreamId> {
        self.range(StreamId::MIN, StreamId::MAX)
            .next()
            .map(|e| e.id)
    }

    fn last_live_id(&self) -> Option<StreamId> {
        self.rev_range(StreamId::MIN, StreamId::MAX)
            .next()
            .map(|e| e.id)
    }

    /// First and last live entries (XINFO STREAM).
    pub fn first_entry(&self) -> Option<EntryRef<'_>> {
        self.range(StreamId::MIN, StreamId::MAX).next()
    }

    pub fn last_entry(&self) -> Option<EntryRef<'_>> {
        self.rev_range(StreamId::MIN, StreamId::MAX).next()
    }

    /// The greatest live ID, or 0-0 (used by XSETID validation, as Redis's
    /// `streamLastValidID`).
    pub fn last_valid_id(&self) -> StreamId {
        self.last_live
    }

    /// Trim as Redis's `streamTrim`; returns the number of entries removed.
    pub fn trim(&mut self, trim: Trim) -> u64 {
        let mut deleted: u64 = 0;
        loop {
            if let TrimKind::MaxLen(max) = trim.kind
                && self.length <= max
            {
                break;
            }
            let Some((&master, node)) = self.nodes.iter_mut().next() else {
                break;
            };
            let entries = u64::from(node.live);
            if trim.limit != 0 && deleted + entries > trim.limit {
                break;
            }
            let remove_node = match trim.kind {
                TrimKind::MaxLen(max) => self.length - entries >= max,
                TrimKind::MinId(min) => node.last < min,
            };
            if remove_node {
                self.remove_node(master);
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if trim.approx {
                break;
            }
            // Mark entries deleted inside this node; it survives even if no
            // live entry remains (Redis keeps it too).
            let node = Arc::make_mut(node);
            let mut p = node.hdr_len as usize;
            while p < node.buf.len() {
                let e = node.decode(master, p);
                let stop = match trim.kind {
                    TrimKind::MaxLen(max) => self.length <= max,
                    TrimKind::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if e.flags & FLAG_DELETED == 0 {
                    node.buf[e.at] |= FLAG_DELETED;
                    node.live -= 1;
                    self.length -= 1;
                    deleted += 1;
                }
                p = e.next;
            }
            break;
        }
        if deleted > 0 {
            self.first_id = self.first_live_id().unwrap_or(StreamId::MIN);
            // Trimming works from the front: the last live entry goes only with the rest.
            if self.length == 0 {
                self.last_live = StreamId::MIN;
            }
        }
        deleted
    }

    /// Live entries with `start <= id <= end`, ascending.
    pub fn range(&self, start: StreamId, end: StreamId) -> Range<'_> {
        let mut nodes = None;
        if start <= end {
            let from = match self.nodes.range(..=start).next_back() {
                Some((k, n)) if n.last >= start => *k,
                _ => start,
            };
            nodes = Some(self.nodes.range(from..=end));
        }
        Range {
            nodes,
            cur: None,
            start,
            end,
        }
    }

    /// Live entries with `start <= id <= end`, descending.
    pub fn rev_range(&self, start: StreamId, end: StreamId) -> RevRange<'_> {
        RevRange {
            nodes: if start <= end {
                Some(self.nodes.range(..=end).rev())
            } else {
                None
            },
            cur: None,
            offsets: Vec::new(),
            start,
            end,
        }
    }

    // -- consumer groups ----------------------------------------------------

    pub fn groups(&self) -> &BTreeMap<Bytes, Group> {
        &self.groups
    }

    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.groups.get(name)
    }

    pub fn group_mut(&mut self, name: &[u8]) -> Option<&mut Group> {
        self.groups.get_mut(name)
    }

    /// XGROUP CREATE: false if the group exists.
    pub fn create_group(&mut self, name: &[u8], last_id: StreamId, entries_read: i64) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.groups.insert(
            Bytes::copy_from_slice(name),
            Group::new(last_id, entries_read),
        );
        true
    }

    /// XGROUP DESTROY: true if it existed.
    pub fn destroy_group(&mut self, name: &[u8]) -> bool {
        self.groups.remove(name).is_some()
    }

    /// Redis `streamRangeHasTombstones`: may a deleted entry lie in
    /// `[start, end]` (both bounds default to the extremes)?
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_entry_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_entry_id {
            return false;
        }
        let start = start.unwrap_or(StreamId::MIN);
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted_entry_id && self.max_deleted_entry_id <= end
    }

    /// Redis 7.0 `streamEstimateDistanceFromFirstEverEntry`: the logical read
    /// counter of `id`, or `INVALID_ENTRIES_READ` when it cannot be known.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        let added = self.entries_added as i64;
        if self.length == 0 && id <= self.last_id {
            return added;
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return added,
            std::cmp::Ordering::Greater => return INVALID_ENTRIES_READ,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted_entry_id.is_zero() || self.max_deleted_entry_id < self.first_id {
            let base = added.wrapping_sub(self.length as i64);
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return base,
                std::cmp::Ordering::Equal => return base.wrapping_add(1),
                std::cmp::Ordering::Greater => {}
            }
        }
        INVALID_ENTRIES_READ
    }

    /// The `lag` of XINFO GROUPS (None = unknown, replied as null).
    pub fn lag(&self, group: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let added = self.entries_added as i64;
        if group.entries_read != INVALID_ENTRIES_READ
            && !self.range_has_tombstones(Some(group.last_id), None)
        {
            return Some(added.wrapping_sub(group.entries_read));
        }
        let read = self.estimate_distance(group.last_id);
        if read == INVALID_ENTRIES_READ {
            None
        } else {
            Some(added.wrapping_sub(read))
        }
    }

    /// Record a `>` read of `ids` (ascending, all greater than the group's last
    /// delivered ID) by `consumer`: advance the group, and unless `noack` add
    /// each ID to the group's and the consumer's PEL (taking over an existing
    /// PEL entry, which XGROUP SETID makes possible). Creates the consumer if
    /// needed. Returns false if the group does not exist.
    pub fn deliver_new(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        ids: &[StreamId],
        now: u64,
        noack: bool,
    ) -> bool {
        let Some((key, mut g)) = self.groups.remove_entry(group) else {
            return false;
        };
        let cid = g.consumer_id(consumer, now);
        for &id in ids {
            if id > g.last_id {
                if g.entries_read != INVALID_ENTRIES_READ
                    && !self.range_has_tombstones(Some(id), None)
                {
                    g.entries_read = g.entries_read.wrapping_add(1);
                } else if self.entries_added != 0 {
                    g.entries_read = self.estimate_distance(id);
                }
                g.last_id = id;
            }
            if !noack {
                // A new delivery, or (after XGROUP SETID) a take-over of an existing entry.
                g.put_pending(id, cid, now, 1);
            }
        }
        if !ids.is_empty()
            && let Some(c) = g.consumers.get_mut(consumer)
        {
            c.active_time = now as i64;
        }
        self.groups.insert(key, g);
        true
    }

    /// XCLAIM one ID for `consumer` (created on the first successful claim).
    /// Returns None if the group does not exist.
    pub fn claim(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        id: StreamId,
        opts: &ClaimOptions,
        now: u64,
    ) -> Option<ClaimOutcome> {
        let exists = self.contains(id);
        let g = self.groups.get_mut(group)?;
        if !exists {
            if g.pel.contains_key(&id) {
                g.ack(id);
                return Some(ClaimOutcome::Dropped);
            }
            return Some(ClaimOutcome::Skipped);
        }
        let mut forced = false;
        if !g.pel.contains_key(&id) {
            if !opts.force {
                return Some(ClaimOutcome::Skipped);
            }
            forced = true;
        }
        if !forced && opts.min_idle > 0 {
            let n = &g.pel[&id];
            let idle = (now as i64).wrapping_sub(n.delivery_time as i64);
            if idle < opts.min_idle as i64 {
                return Some(ClaimOutcome::Skipped);
            }
        }
        let cid = g.consumer_id(consumer, now);
        // A forced claim creates the entry with one delivery, counted again below.
        let prev = g.pel.get(&id).map_or(1, |n| n.count());
        let count = match opts.retry_count {
            Some(n) => n,
            None if !opts.justid => bump(prev),
            None => prev,
        };
        g.put_pending(id, cid, opts.time, count);
        if let Some(c) = g.consumers.get_mut(consumer) {
            c.active_time = now as i64;
        }
        let out = g.pending(id).expect("just claimed");
        Some(ClaimOutcome::Claimed(out))
    }

    /// XAUTOCLAIM: scan the group PEL from `start`, at most `count * 10`
    /// entries, claiming up to `count` idle ones for `consumer`. Returns None
    /// if the group does not exist.
    #[allow(clippy::too_many_arguments)] // mirrors the XAUTOCLAIM arguments
    pub fn autoclaim(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        start: StreamId,
        count: u64,
        min_idle: u64,
        now: u64,
        justid: bool,
    ) -> Option<AutoclaimResult> {
        if !self.groups.contains_key(group) {
            return None;
        }
        let mut res = AutoclaimResult::default();
        let mut attempts = count.saturating_mul(10);
        let mut left = count;
        let mut cursor = Some(start);
        let mut cid: Option<u32> = None;
        while attempts > 0 && left > 0 {
            let Some(from) = cursor else { break };
            let g = self.groups.get(group).unwrap();
            let Some((&id, n)) = g.pel.range(from..).next() else {
                cursor = None;
                break;
            };
            attempts -= 1;
            cursor = id.incr();
            if !self.contains(id) {
                self.groups.get_mut(group).unwrap().ack(id);
                res.deleted.push(id);
                // COUNT bounds the whole reply, deleted IDs included (Redis 7.0.15).
                left -= 1;
                continue;
            }
            if min_idle > 0 {
                let idle = (now as i64).wrapping_sub(n.delivery_time as i64);
                if idle < min_idle as i64 {
                    continue;
                }
            }
            let g = self.groups.get_mut(group).unwrap();
            let c = *cid.get_or_insert_with(|| g.consumer_id(consumer, now));
            let n = g.pel[&id];
            let count = if justid { n.count() } else { bump(n.count()) };
            g.put_pending(id, c, now, count);
            res.claimed.push((id, g.pending(id).expect("just claimed")));
            left -= 1;
        }
        if cid.is_some()
            && let Some(cons) = self
                .groups
                .get_mut(group)
                .unwrap()
                .consumers
                .get_mut(consumer)
        {
            cons.active_time = now as i64;
        }
        // The cursor is the next pending ID after the scan, or 0-0.
        res.next = match cursor {
            Some(from) => self.groups[group]
                .pel
                .range(from..)
                .next()
                .map(|(id, _)| *id)
                .unwrap_or(StreamId::MIN),
            None => StreamId::MIN,
        };
        Some(res)
    }

    // -- memory and persistence ---------------------------------------------

    /// Approximate heap bytes used by this stream (MEMORY USAGE).
    pub fn mem_usage(&self) -> usize {
        // A B-tree slot costs about its key and value plus ~1/3 slack.
        const SLOT: f64 = 1.4;
        let node_slot = std::mem::size_of::<StreamId>() + std::mem::size_of::<Node>();
        let mut total = std::mem::size_of::<Stream>();
        for n in self.nodes.values() {
            total += n.buf.capacity() + (node_slot as f64 * SLOT) as usize;
        }
        let pel_slot = std::mem::size_of::<StreamId>() + std::mem::size_of::<Nack>();
        let cons_slot = std::mem::size_of::<Bytes>() + std::mem::size_of::<Consumer>();
        for (name, g) in &self.groups {
            total += name.len()
                + ((std::mem::size_of::<Bytes>() + std::mem::size_of::<Group>()) as f64 * SLOT)
                    as usize;
            total += (g.pel.len() as f64 * pel_slot as f64 * SLOT) as usize;
            for (cn, c) in &g.consumers {
                total += cn.len() + (cons_slot as f64 * SLOT) as usize;
                total += (c.pel.len() as f64 * 16.0 * SLOT) as usize;
            }
        }
        total
    }

    /// Append to `out` the commands that rebuild this stream under `key`, as
    /// Redis's AOF rewrite emits them: XADD per entry (or `XADD key MAXLEN 0
    /// 0-1 x y` for an empty stream), XSETID with ENTRIESADDED and
    /// MAXDELETEDID, then per group XGROUP CREATE ... ENTRIESREAD and per
    /// consumer either XGROUP CREATECONSUMER or one XCLAIM per pending entry.
    pub fn rewrite(&self, key: &Bytes, out: &mut Vec<Vec<Bytes>>) {
        fn int(v: i64) -> Bytes {
            Bytes::copy_from_slice(itoa::Buffer::new().format(v).as_bytes())
        }
        fn uint(v: u64) -> Bytes {
            Bytes::copy_from_slice(itoa::Buffer::new().format(v).as_bytes())
        }
        if self.length > 0 {
            for e in self.range(StreamId::MIN, StreamId::MAX) {
                let mut cmd = Vec::with_capacity(3 + e.len() * 2);
                cmd.push(Bytes::from_static(b"XADD"));
                cmd.push(key.clone());
                cmd.push(e.id.to_bytes());
                for (f, v) in e.fields() {
                    cmd.push(Bytes::copy_from_slice(f));
                    cmd.push(Bytes::copy_from_slice(v));
                }
                out.push(cmd);
            }
        } else {
            out.push(vec![
                Bytes::from_static(b"XADD"),
                key.clone(),
                Bytes::from_static(b"MAXLEN"),
                Bytes::from_static(b"0"),
                StreamId::new(0, 1).to_bytes(),
                Bytes::from_static(b"x"),
                Bytes::from_static(b"y"),
            ]);
        }
        out.push(vec![
            Bytes::from_static(b"XSETID"),
            key.clone(),
            self.last_id.to_bytes(),
            Bytes::from_static(b"ENTRIESADDED"),
            uint(self.entries_added),
            Bytes::from_static(b"MAXDELETEDID"),
            self.max_deleted_entry_id.to_bytes(),
        ]);
        for (gname, g) in &self.groups {
            out.push(vec![
                Bytes::from_static(b"XGROUP"),
                Bytes::from_static(b"CREATE"),
                key.clone(),
                gname.clone(),
                g.last_id.to_bytes(),
                Bytes::from_static(b"ENTRIESREAD"),
                int(g.entries_read),
            ]);
            for (cname, c) in &g.consumers {
                if c.pel.is_empty() {
                    out.push(vec![
                        Bytes::from_static(b"XGROUP"),
                        Bytes::from_static(b"CREATECONSUMER"),
                        key.clone(),
                        gname.clone(),
                        cname.clone(),
                    ]);
                    continue;
                }
                for id in &c.pel {
                    let Some(p) = g.pel.get(id) else { continue };
                    out.push(vec![
                        Bytes::from_static(b"XCLAIM"),
                        key.clone(),
                        gname.clone(),
                        cname.clone(),
                        Bytes::from_static(b"0"),
                        id.to_bytes(),
                        Bytes::from_static(b"TIME"),
                        uint(p.delivery_time),
                        Bytes::from_static(b"RETRYCOUNT"),
                        uint(p.count()),
                        Bytes::from_static(b"JUSTID"),
                        Bytes::from_static(b"FORCE"),
                    ]);
                }
            }
            if !g.handback.is_empty() {
                let holder = Bytes::from_static(HANDBACK_CONSUMER);
                for id in &g.handback {
                    let Some(p) = g.pel.get(id) else { continue };
                    out.push(vec![
                        Bytes::from_static(b"XCLAIM"),
                        key.clone(),
                        gname.clone(),
                        holder.clone(),
                        Bytes::from_static(b"0"),
                        id.to_bytes(),
                        Bytes::from_static(b"TIME"),
                        uint(p.delivery_time),
                        Bytes::from_static(b"RETRYCOUNT"),
                        uint(p.count()),
                        Bytes::from_static(b"JUSTID"),
                        Bytes::from_static(b"FORCE"),
                    ]);
                }
                out.push(vec![
                    Bytes::from_static(b"FMQ.LEAVE"),
                    key.clone(),
                    gname.clone(),
                    holder,
                ]);
            }
            // The XNACK zone, in release order: runs of equal delivery counts, at most 64 IDs
            // per XNACK.
            let zone: Vec<(StreamId, u64)> = g.nacked().collect();
            let mut i = 0;
            while i < zone.len() {
                let count = zone[i].1;
                let mut j = i;
                while j < zone.len() && j - i < 64 && zone[j].1 == count {
                    j += 1;
                }
                let mut cmd = vec![
                    Bytes::from_static(b"XNACK"),
                    key.clone(),
                    gname.clone(),
                    Bytes::from_static(b"FAIL"),
                    Bytes::from_static(b"IDS"),
                    uint((j - i) as u64),
                ];
                cmd.extend(zone[i..j].iter().map(|(id, _)| id.to_bytes()));
                cmd.push(Bytes::from_static(b"RETRYCOUNT"));
                cmd.push(uint(count));
                cmd.push(Bytes::from_static(b"FORCE"));
                out.push(cmd);
                i = j;
            }
            if let Some(p) = g.policy() {
                out.push(policy_command(key, gname, p));
            }
        }
        if let Some(r) = self.retention() {
            out.push(retention_command(key, r));
        }
        if let Some(m) = self.idmp() {
            out.extend(idmp_commands(key, m));
        }
    }

    /// Record that XNACK ran on this stream.
    pub fn mark_nack_used(&mut self) {
        self.nack_used = true;
    }

    /// Whether XNACK ever ran on this stream (or its zone was rebuilt from the AOF).
    pub fn nack_used(&self) -> bool {
        self.nack_used
    }

    /// The idempotent production state, once the stream has used it.
    pub fn idmp(&self) -> Option<&Idmp> {
        self.idmp.as_deref()
    }

    /// The idempotent production state, created with the defaults if the stream has none.
    pub fn idmp_mut(&mut self) -> &mut Idmp {
        self.idmp.get_or_insert_with(Box::default)
    }

    /// Start idempotent production state with these settings (`stream-idmp-duration`,
    /// `stream-idmp-maxsize`) unless the stream has some. True if it was created.
    pub fn idmp_init(&mut self, duration: u64, maxsize: u64) -> bool {
        if self.idmp.is_some() {
            return false;
        }
        self.idmp = Some(Box::new(Idmp {
            duration,
            maxsize,
            ..Idmp::default()
        }));
        true
    }

    /// XADD IDMP: the entry an earlier XADD with producer `pid` and iid `iid` added, if that
    /// iid is still remembered at `now` and the entry is still in the stream. An iid whose
    /// entry was deleted is forgotten, so the XADD adds a new entry (redis/redis#14908).
    pub fn idmp_find(&mut self, pid: &[u8], iid: &[u8], now: u64) -> Option<StreamId> {
        let m = self.idmp.as_deref_mut()?;
        let ms = m.duration_ms();
        let p = m.producers.get_mut(pid)?;
        p.expire(now, ms);
        let found = p.ids.get(iid).copied();
        if found.is_some_and(|id| !self.contains(id)) {
            let m = self.idmp.as_deref_mut().expect("checked");
            let p = m.producers.get_mut(pid).expect("checked");
            p.forget(iid);
            if p.order.is_empty() {
                m.producers.remove(pid);
            }
            return None;
        }
        let m = self.idmp.as_deref_mut().expect("checked");
        if m.producers.get(pid).is_some_and(|p| p.order.is_empty()) {
            m.producers.remove(pid);
        }
        found
    }

    /// Remember that `pid`/`iid` added entry `id` at `time` (unix ms): the producer's expired
    /// iids go first, then the oldest beyond IDMP-MAXSIZE. `count` adds one to `iids-added`
    /// (an XADD does; the AOF rewrite's reload does not).
    pub fn idmp_record(&mut self, pid: &[u8], iid: Bytes, id: StreamId, time: u64, count: bool) {
        let m = self.idmp_mut();
        let (ms, maxsize) = (m.duration_ms(), m.maxsize);
        let p = m.producers.entry(Bytes::copy_from_slice(pid)).or_default();
        p.expire(time, ms);
        p.record(iid, id, time, maxsize);
        if count {
            m.added += 1;
        }
    }

    /// Check internal consistency (tests and debug assertions).
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut live = 0u64;
        let mut prev: Option<StreamId> = None;
        for (&master, n) in &self.nodes {
            let mut p = n.hdr_len as usize;
            let (mut count, mut nlive) = (0u32, 0u32);
            let mut first = true;
            let mut last = master;
            while p < n.buf.len() {
                let e = n.decode(master, p);
                if first && e.id != master {
                    return Err(format!("node {master}: first entry {}", e.id));
                }
                first = false;
                if let Some(q) = prev
                    && e.id <= q
                {
                    return Err(format!("ids not increasing at {}", e.id));
                }
                prev = Some(e.id);
                last = e.id;
                count += 1;
                if e.flags & FLAG_DELETED == 0 {
                    nlive += 1;
                }
                p = e.next;
            }
            if count != n.count || nlive != n.live || last != n.last {
                return Err(format!("node {master}: counters"));
            }
            if nlive == 0 && count == 0 {
                return Err(format!("node {master}: empty"));
            }
            live += u64::from(nlive);
        }
        if live != self.length {
            return Err(format!("length {} != live {}", self.length, live));
        }
        let expect_first = self.first_live_id().unwrap_or(StreamId::MIN);
        if expect_first != self.first_id {
            return Err(format!("first_id {} != {}", self.first_id, expect_first));
        }
        if let Some(l) = self.last_live_id()
            && l > self.last_id
        {
            return Err("entry after last_id".into());
        }
        if self.last_live_id().unwrap_or(StreamId::MIN) != self.last_live {
            return Err(format!("cached last live id {} is stale", self.last_live));
        }
        for (gname, g) in &self.groups {
            let mut n = 0;
            for (cname, c) in &g.consumers {
                for id in &c.pel {
                    match g.pel.get(id) {
                        Some(p) if p.consumer == c.id && g.names.get(&c.id) == Some(cname) => {
                            n += 1
                        }
                        _ => return Err(format!("group {gname:?}: consumer PEL mismatch at {id}")),
                    }
                }
            }
            for id in &g.handback {
                match g.pel.get(id) {
                    Some(p) if p.consumer == HANDBACK_OWNER => n += 1,
                    _ => return Err(format!("group {gname:?}: handback mismatch at {id}")),
                }
            }
            if g.nacked.len() != g.nack_pos.len() {
                return Err(format!("group {gname:?}: XNACK zone index mismatch"));
            }
            for (pos, id) in &g.nacked {
                match g.pel.get(id) {
                    Some(p) if p.consumer == NACK_OWNER && g.nack_pos.get(id) == Some(pos) => {
                        n += 1
                    }
                    _ => return Err(format!("group {gname:?}: XNACK zone mismatch at {id}")),
                }
            }
            if n != g.pel.len() {
                return Err(format!("group {gname:?}: PEL has orphans"));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The stored layout, for RDB serialization
// ---------------------------------------------------------------------------

/// One node as Redis's listpack holds it: the master entry's fields and counters, then every
/// entry stored in it, deleted ones included. Read in place: nothing is copied or collected.
pub struct StoredNode<'a> {
    pub master: StreamId,
    pub live: u32,
    pub deleted: u32,
    node: &'a Node,
}

impl<'a> StoredNode<'a> {
    /// The master entry's field names.
    pub fn master_fields(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let buf: &'a [u8] = &self.node.buf;
        let mut p = 0;
        let nf = get_varint(buf, &mut p) as usize;
        (0..nf).map(move |_| get_bytes(buf, &mut p))
    }

    /// Each stored entry in ID order, handed to `f`. An entry's fields are read once, as `f`
    /// iterates them (what it leaves is skipped after it): an iterator over the entries would
    /// have to read them once more to find where the next entry starts, which was a sixth of
    /// the time of an RDB save of a stream.
    pub fn for_each_entry(&self, mut f: impl FnMut(&mut StoredEntry<'a>)) {
        let node: &'a Node = self.node;
        let buf: &'a [u8] = &node.buf;
        let mut master_fields = 0;
        get_varint(buf, &mut master_fields);
        let mut p = node.hdr_len as usize;
        while p < buf.len() {
            let (id, flags, nfields, data) = node.decode_head(self.master, p);
            let same_fields = flags & FLAG_SAMEFIELDS != 0;
            let mut e = StoredEntry {
                id,
                deleted: flags & FLAG_DELETED != 0,
                same_fields,
                fields: Fields {
                    buf,
                    pos: data,
                    master_pos: same_fields.then_some(master_fields),
                    left: nfields,
                },
            };
            f(&mut e);
            for _ in e.fields.by_ref() {}
            p = e.fields.pos;
        }
    }
}

/// An entry of a [`StoredNode`]. `same_fields`: its field names are the master entry's (only
/// the values are stored).
pub struct StoredEntry<'a> {
    pub id: StreamId,
    pub deleted: bool,
    pub same_fields: bool,
    /// Its fields and values (the names are the master's when `same_fields`).
    pub fields: Fields<'a>,
}

/// An entry to load with [`Stream::load_node`].
pub struct LoadEntry {
    pub id: StreamId,
    pub deleted: bool,
    pub fields: Vec<(Bytes, Bytes)>,
}

impl Stream {
    /// Every node in ID order, as stored.
    pub fn stored_nodes(&self) -> impl ExactSizeIterator<Item = StoredNode<'_>> + '_ {
        self.nodes.iter().map(|(&master, n)| StoredNode {
            master,
            live: n.live,
            deleted: n.count - n.live,
            node: n,
        })
    }

    /// Adds a node as a serialized stream holds it: the master entry's field names and the
    /// entries in ID order (the first one is the master entry), after every node loaded so
    /// far. Counters are set by [`Stream::finish_load`].
    pub fn load_node(
        &mut self,
        master_fields: &[Bytes],
        entries: &[LoadEntry],
    ) -> Result<(), &'static str> {
        let first = entries.first().ok_or("empty stream node")?;
        let master = first.id;
        if self
            .nodes
            .values()
            .next_back()
            .is_some_and(|n| n.last >= master)
        {
            return Err("stream nodes out of order");
        }
        if entries.iter().all(|e| e.deleted) {
            return Err("stream node without live entries");
        }
        let mut buf = Vec::new();
        put_varint(&mut buf, master_fields.len() as u64);
        let mut lp_fixed = LP_EMPTY + lp_int(master_fields.len() as i64) + lp_int(0);
        for f in master_fields {
            put_varint(&mut buf, f.len() as u64);
            buf.extend_from_slice(f);
            lp_fixed += lp_str(f);
        }
        let mut node = Node {
            hdr_len: buf.len() as u32,
            buf,
            count: 0,
            live: 0,
            lp_fixed,
            last: master,
        };
        let mut prev: Option<StreamId> = None;
        for e in entries {
            if prev.is_some_and(|p| e.id <= p) {
                return Err("stream entries out of order");
            }
            prev = Some(e.id);
            let same = e.fields.len() == master_fields.len()
                && e.fields.iter().zip(master_fields).all(|((f, _), m)| f == m);
            let at = node.buf.len();
            Self::push_entry(&mut node, master, e.id, &e.fields, same);
            if e.deleted {
                node.buf[at] |= FLAG_DELETED;
                node.live -= 1;
            }
        }
        self.bytes += node.buf.len() as u64;
        self.nodes.insert(master, Arc::new(node));
        Ok(())
    }

    /// Sets the counters of a loaded stream, checking them against the loaded nodes.
    pub fn finish_load(
        &mut self,
        length: u64,
        last_id: StreamId,
        max_deleted_entry_id: StreamId,
        entries_added: u64,
    ) -> Result<(), &'static str> {
        let live: u64 = self.nodes.values().map(|n| u64::from(n.live)).sum();
        if live != length {
            return Err("stream length does not match its entries");
        }
        if self
            .nodes
            .values()
            .next_back()
            .is_some_and(|n| n.last > last_id)
        {
            return Err("stream entry after the last ID");
        }
        self.length = length;
        self.last_id = last_id;
        self.max_deleted_entry_id = max_deleted_entry_id;
        self.entries_added = entries_added;
        self.first_id = self.first_live_id().unwrap_or(StreamId::MIN);
        self.last_live = self.last_live_id().unwrap_or(StreamId::MIN);
        Ok(())
    }
}

impl Group {
    /// Adds a consumer of a loaded group; false if the name is taken.
    pub fn load_consumer(&mut self, name: &[u8], seen_time: u64) -> bool {
        let (c, created) = self.get_or_create_consumer(name, seen_time);
        c.active_time = seen_time as i64;
        created
    }

    /// Adds a pending entry owned by `consumer` (already loaded); false if the consumer is
    /// unknown or the entry is already pending.
    pub fn load_pending(
        &mut self,
        id: StreamId,
        consumer: &[u8],
        delivery_time: u64,
        delivery_count: u64,
    ) -> bool {
        if self.pel.contains_key(&id) {
            return false;
        }
        let Some(c) = self.consumers.get_mut(consumer) else {
            return false;
        };
        c.pel.insert(id);
        if let Some(idx) = &mut self.by_time {
            idx.insert((delivery_time, id));
        }
        self.pel
            .insert(id, Nack::new(delivery_time, delivery_count, c.id));
        true
    }
}

/// Ascending scan (see `Stream::range`).
pub struct Range<'a> {
    nodes: Option<std::collections::btree_map::Range<'a, StreamId, Arc<Node>>>,
    cur: Option<(StreamId, &'a Node, usize)>,
    start: StreamId,
    end: StreamId,
}

impl<'a> Iterator for Range<'a> {
    type Item = EntryRef<'a>;

    fn next(&mut self) -> Option<EntryRef<'a>> {
        loop {
            if let Some((master, node, pos)) = &mut self.cur
                && *pos < node.buf.len()
            {
                let e = node.decode(*master, *pos);
                *pos = e.next;
                if e.id > self.end {
                    self.nodes = None;
                    self.cur = None;
                    return None;
                }
                if e.id < self.start || e.flags & FLAG_DELETED != 0 {
                    continue;
                }
                return Some(node.entry_ref(&e));
            }
            let (k, n) = self.nodes.as_mut()?.next()?;
            if n.last < self.start || n.live == 0 {
                self.cur = None;
                continue;
            }
            self.cur = Some((*k, n, n.hdr_len as usize));
        }
    }
}

/// Descending scan (see `Stream::rev_range`).
pub struct RevRange<'a> {
    nodes: Option<std::iter::Rev<std::collections::btree_map::Range<'a, StreamId, Arc<Node>>>>,
    cur: Option<(StreamId, &'a Node)>,
    offsets: Vec<u32>,
    start: StreamId,
    end: StreamId,
}

impl<'a> Iterator for RevRange<'a> {
    type Item = EntryRef<'a>;

    fn next(&mut self) -> Option<EntryRef<'a>> {
        loop {
            if let Some((master, node)) = self.cur
                && let Some(at) = self.offsets.pop()
            {
                let e = node.decode(master, at as usize);
                if e.id < self.start {
                    self.nodes = None;
                    self.cur = None;
                    return None;
                }
                if e.id > self.end || e.flags & FLAG_DELETED != 0 {
                    continue;
                }
                return Some(node.entry_ref(&e));
            }
            let Some((k, n)) = self.nodes.as_mut()?.next() else {
                self.nodes = None;
                return None;
            };
            if n.last < self.start {
                self.nodes = None;
                self.cur = None;
                return None;
            }
            if n.live == 0 {
                self.cur = None;
                continue;
            }
            n.offsets(*k, &mut self.offsets);
            self.cur = Some((*k, n));
        }
    }
}

#[cfg(test)]
mod tests {

    /// `Stream::bytes` always equals the nodes' encoded length, through appends, deletes,
    /// trims of every kind and retention by bytes.
    #[test]
    fn data_bytes_follow_every_change() {
        let recount = |s: &Stream| s.nodes.values().map(|n| n.buf.len() as u64).sum::<u64>();
        let limits = NodeLimits {
            max_bytes: 300,
            max_entries: 7,
        };
        let mut s = Stream::default();
        for i in 0..500u64 {
            let v = "v".repeat((i % 13) as usize);
            let f = if i % 3 == 0 { "a" } else { "b" };
            s.append(IdSpec::Auto, &[(f.as_bytes(), v.as_bytes())], i + 1, limits)
                .unwrap();
            assert_eq!(s.data_bytes(), recount(&s));
        }
        for i in (1..200u64).step_by(3) {
            s.delete(StreamId { ms: i, seq: 0 });
            assert_eq!(s.data_bytes(), recount(&s));
        }
        s.trim(Trim {
            kind: TrimKind::MaxLen(300),
            approx: true,
            limit: 0,
        });
        assert_eq!(s.data_bytes(), recount(&s));
        s.trim_with(
            Trim {
                kind: TrimKind::MinId(StreamId { ms: 350, seq: 0 }),
                approx: false,
                limit: 0,
            },
            RefPolicy::KeepRef,
        );
        assert_eq!(s.data_bytes(), recount(&s));
        s.set_retention(Retention {
            maxbytes: recount(&s) / 2,
            ..Default::default()
        });
        s.apply_retention(&Bytes::from_static(b"k"), 0);
        assert!(s.data_bytes() <= recount(&s).max(1));
        assert_eq!(s.data_bytes(), recount(&s));
        assert!(!s.is_empty());
    }
    use super::*;

    const LIM: NodeLimits = NodeLimits {
        max_bytes: 4096,
        max_entries: 100,
    };

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    fn add(s: &mut Stream, i: StreamId, fields: &[(&str, &str)]) -> StreamId {
        let f: Vec<(&[u8], &[u8])> = fields
            .iter()
            .map(|(a, b)| (a.as_bytes(), b.as_bytes()))
            .collect();
        s.append(IdSpec::Exact(i), &f, 0, LIM).unwrap()
    }

    fn ids(it: impl Iterator<Item = StreamId>) -> Vec<StreamId> {
        it.collect()
    }

    #[test]
    fn id_parse_matches_redis() {
        // Replies of redis-server 7.0.15 to `XADD p <id> f v`.
        assert_eq!(StreamId::parse_xadd(b"+5-1"), Some(IdSpec::Exact(id(5, 1))));
        assert_eq!(StreamId::parse_xadd(b" 6-1"), Some(IdSpec::Exact(id(6, 1))));
        assert_eq!(
            StreamId::parse_xadd(b"0007-1"),
            Some(IdSpec::Exact(id(7, 1)))
        );
        assert_eq!(StreamId::parse_xadd(b"-0-1"), None);
        assert_eq!(StreamId::parse_xadd(b"8-+2"), Some(IdSpec::Exact(id(8, 2))));
        assert_eq!(StreamId::parse_xadd(b"9--1"), None);
        assert_eq!(StreamId::parse_xadd(b"9"), Some(IdSpec::Exact(id(9, 0))));
        assert_eq!(StreamId::parse_xadd(b"10-*"), Some(IdSpec::Ms(10)));
        assert_eq!(StreamId::parse_xadd(b"*"), Some(IdSpec::Auto));
        assert_eq!(StreamId::parse_xadd(b"-"), None);
        assert_eq!(
            StreamId::parse_xadd(b"18446744073709551615-18446744073709551615"),
            Some(IdSpec::Exact(StreamId::MAX))
        );
        assert_eq!(StreamId::parse_xadd(b"18446744073709551616-1"), None);
        assert_eq!(StreamId::parse_xadd(b"1a-1"), None);
        let long = format!("11-{}", "0".repeat(130));
        assert_eq!(StreamId::parse_xadd(long.as_bytes()), None);
        assert_eq!(StreamId::parse(b"-1", 0), None);
        assert_eq!(StreamId::parse(b"5", u64::MAX), Some(id(5, u64::MAX)));
        assert_eq!(StreamId::parse(b"5-*", 0), None);
        assert_eq!(StreamId::parse_range(b"-", 0), Some(StreamId::MIN));
        assert_eq!(StreamId::parse_range(b"+", 0), Some(StreamId::MAX));
        assert_eq!(id(12, 34).to_bytes(), Bytes::from_static(b"12-34"));
        assert_eq!(
            StreamId::MAX.to_string(),
            "18446744073709551615-18446744073709551615"
        );
    }

    #[test]
    fn id_incr_decr() {
        assert_eq!(id(1, u64::MAX).incr(), Some(id(2, 0)));
        assert_eq!(id(1, 5).incr(), Some(id(1, 6)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(id(2, 0).decr(), Some(id(1, u64::MAX)));
        assert_eq!(StreamId::MIN.decr(), None);
    }

    #[test]
    fn next_id_rules() {
        let mut s = Stream::new();
        assert_eq!(s.next_id(IdSpec::Auto, 100), Ok(id(100, 0)));
        assert_eq!(s.next_id(IdSpec::Ms(0), 100), Ok(id(0, 1)));
        add(&mut s, id(100, 5), &[("f", "v")]);
        // Clock behind the last ID: keep counting from it.
        assert_eq!(s.next_id(IdSpec::Auto, 50), Ok(id(100, 6)));
        assert_eq!(s.next_id(IdSpec::Auto, 101), Ok(id(101, 0)));
        assert_eq!(s.next_id(IdSpec::Ms(100), 0), Ok(id(100, 6)));
        assert_eq!(s.next_id(IdSpec::Ms(99), 0), Err(AppendError::NotGreater));
        assert_eq!(
            s.next_id(IdSpec::Exact(id(100, 5)), 0),
            Err(AppendError::NotGreater)
        );
        s.set_id(StreamId::MAX, None, None);
        assert_eq!(s.next_id(IdSpec::Auto, 0), Err(AppendError::Exhausted));
        s.set_id(id(7, u64::MAX), None, None);
        assert_eq!(s.next_id(IdSpec::Ms(7), 0), Err(AppendError::NotGreater));
    }

    #[test]
    fn append_range_and_fields() {
        let mut s = Stream::new();
        add(&mut s, id(1, 0), &[("a", "1"), ("b", "2")]);
        add(&mut s, id(1, 1), &[("a", "3"), ("b", "4")]);
        add(&mut s, id(2, 0), &[("c", "5")]);
        add(&mut s, id(3, 0), &[("a", ""), ("b", "")]);
        add(&mut s, id(4, 0), &[]);
        assert_eq!(s.len(), 5);
        let all: Vec<Entry> = s
            .range(StreamId::MIN, StreamId::MAX)
            .map(|e| e.to_entry())
            .collect();
        assert_eq!(all.len(), 5);
        assert_eq!(
            all[1].fields,
            vec![
                (Bytes::from("a"), Bytes::from("3")),
                (Bytes::from("b"), Bytes::from("4"))
            ]
        );
        assert_eq!(all[2].fields, vec![(Bytes::from("c"), Bytes::from("5"))]);
        assert!(all[4].fields.is_empty());
        assert_eq!(
            ids(s.range(id(1, 1), id(3, 0)).map(|e| e.id)),
            vec![id(1, 1), id(2, 0), id(3, 0)]
        );
        assert_eq!(
            ids(s.rev_range(id(1, 1), id(3, 0)).map(|e| e.id)),
            vec![id(3, 0), id(2, 0), id(1, 1)]
        );
        assert_eq!(s.range(id(3, 0), id(1, 0)).count(), 0);
        assert_eq!(s.rev_range(id(3, 0), id(1, 0)).count(), 0);
        assert_eq!(
            s.get(id(2, 0)).unwrap().to_entry().fields[0].1,
            Bytes::from("5")
        );
        assert!(s.get(id(2, 1)).is_none());
        assert_eq!(s.first_id(), id(1, 0));
        assert_eq!(s.last_id(), id(4, 0));
        assert_eq!(s.entries_added(), 5);
        s.check_invariants().unwrap();
    }

    #[test]
    fn delete_updates_counters() {
        let mut s = Stream::new();
        for i in 1..=5 {
            add(&mut s, id(i, 0), &[("f", "v")]);
        }
        assert!(s.delete(id(1, 0)));
        assert!(!s.delete(id(1, 0)));
        assert!(!s.delete(id(9, 0)));
        assert_eq!(s.first_id(), id(2, 0));
        assert_eq!(s.max_deleted_entry_id(), id(1, 0));
        assert!(s.delete(id(3, 0)));
        assert_eq!(s.max_deleted_entry_id(), id(3, 0));
        assert!(s.delete(id(2, 0)));
        assert_eq!(s.max_deleted_entry_id(), id(3, 0));
        assert_eq!(
            ids(s.range(StreamId::MIN, StreamId::MAX).map(|e| e.id)),
            vec![id(4, 0), id(5, 0)]
        );
        assert!(s.delete(id(4, 0)));
        assert!(s.delete(id(5, 0)));
        assert_eq!(s.len(), 0);
        assert_eq!(s.node_count(), 0);
        assert_eq!(s.first_id(), StreamId::MIN);
        assert_eq!(s.last_id(), id(5, 0));
        s.check_invariants().unwrap();
    }

    fn fill(key_vals: impl Iterator<Item = (StreamId, Vec<(String, String)>)>) -> Stream {
        let mut s = Stream::new();
        for (i, f) in key_vals {
            let f: Vec<(&[u8], &[u8])> = f
                .iter()
                .map(|(a, b)| (a.as_bytes(), b.as_bytes()))
                .collect();
            s.append(IdSpec::Exact(i), &f, 0, LIM).unwrap();
        }
        s
    }

    fn one_field(n: u64, value: &str) -> Stream {
        fill((1..=n).map(|i| (id(i, 0), vec![("f".to_string(), value.to_string())])))
    }

    // Node counts and trim results below are those of redis-server 7.0.15
    // (XINFO STREAM radix-tree-keys, XTRIM replies) for the same commands.
    #[test]
    fn node_boundaries_match_redis() {
        assert_eq!(one_field(1000, "v").node_count(), 10);
        assert_eq!(one_field(1000, &"x".repeat(100)).node_count(), 28);
        let c = fill((1..=1000u64).map(|i| {
            let f = match i % 3 {
                0 => vec![
                    ("a".into(), (i * 37).to_string()),
                    ("b".into(), format!("-{i}")),
                ],
                1 => vec![
                    ("a".into(), "x".repeat((i % 70) as usize)),
                    ("b".into(), i.to_string()),
                ],
                _ => vec![("zz".into(), "y".repeat((i % 300) as usize))],
            };
            (id(i / 7, i), f)
        }));
        assert_eq!(c.node_count(), 19);
        c.check_invariants().unwrap();
    }

    #[test]
    fn trims_match_redis() {
        let mut d = one_field(1000, &"x".repeat(100));
        let approx = |kind| Trim {
            kind,
            approx: true,
            limit: 10000,
        };
        assert_eq!(d.trim(approx(TrimKind::MaxLen(550))), 432);
        assert_eq!((d.len(), d.node_count()), (568, 16));
        assert_eq!(d.trim(approx(TrimKind::MinId(id(700, 0)))), 252);
        assert_eq!(d.len(), 316);
        let limited = Trim {
            kind: TrimKind::MaxLen(0),
            approx: true,
            limit: 100,
        };
        assert_eq!(d.trim(limited), 72);
        assert_eq!(d.len(), 244);
        let exact = Trim {
            kind: TrimKind::MinId(id(812, 0)),
            approx: false,
            limit: 0,
        };
        assert_eq!(d.trim(exact), 55);
        assert_eq!(
            (d.len(), d.first_id(), d.node_count()),
            (189, id(812, 0), 6)
        );
        d.check_invariants().unwrap();
        let mut m = one_field(10, "v");
        let exact_len = Trim {
            kind: TrimKind::MaxLen(3),
            approx: false,
            limit: 0,
        };
        assert_eq!(m.trim(exact_len), 7);
        assert_eq!(
            ids(m.range(StreamId::MIN, StreamId::MAX).map(|e| e.id)),
            vec![id(8, 0), id(9, 0), id(10, 0)]
        );
        m.check_invariants().unwrap();
    }

    #[test]
    fn exact_minid_trim_keeps_emptied_node() {
        // redis-server: XADD 1-1,2-1,3-1; XDEL 3-1; XTRIM MINID 3-1 -> 2,
        // XINFO: length 0, radix-tree-keys 1, recorded-first-entry-id 0-0;
        // then XADD 4-1 lands in that node and becomes the first entry.
        let mut s = Stream::new();
        for i in 1..=3 {
            add(&mut s, id(i, 1), &[("f", "v")]);
        }
        assert!(s.delete(id(3, 1)));
        let t = Trim {
            kind: TrimKind::MinId(id(3, 1)),
            approx: false,
            limit: 0,
        };
        assert_eq!(s.trim(t), 2);
        assert_eq!(
            (s.len(), s.node_count(), s.first_id()),
            (0, 1, StreamId::MIN)
        );
        assert_eq!(s.max_deleted_entry_id(), id(3, 1));
        add(&mut s, id(4, 1), &[("f", "v")]);
        assert_eq!((s.len(), s.node_count(), s.first_id()), (1, 1, id(4, 1)));
        s.check_invariants().unwrap();
        // MAXLEN 0 empties and resets the recorded first ID, not max-deleted.
        let mut e = one_field(1, "v");
        let z = Trim {
            kind: TrimKind::MaxLen(0),
            approx: false,
            limit: 0,
        };
        assert_eq!(e.trim(z), 1);
        assert_eq!(
            (e.first_id(), e.max_deleted_entry_id(), e.last_id()),
            (StreamId::MIN, StreamId::MIN, id(1, 0))
        );
    }

    #[test]
    fn memory_per_entry_close_to_redis() {
        // redis-server 7.0.15: MEMORY USAGE of 100k `XADD E <id> f <100 bytes>`
        // entries is 12875308 bytes (128.75 per entry).
        let s = one_field(100_000, &"x".repeat(100));
        assert_eq!(s.node_count(), 2778);
        let per = s.mem_usage() as f64 / 100_000.0;
        assert!(per < 1.2 * 128.75, "{per} bytes per entry");
    }

    #[test]
    fn lag_and_entries_read_match_redis() {
        // redis-server: XADD t 1-1..4-1; XGROUP CREATE t g 0 ENTRIESREAD 0;
        // XREADGROUP COUNT 1 >; XDEL t 2-1; XREADGROUP COUNT 1 >;
        // XINFO GROUPS: last-delivered-id 3-1, entries-read 2, lag 2.
        let mut t = Stream::new();
        for i in 1..=4 {
            add(&mut t, id(i, 1), &[("f", "v")]);
        }
        assert!(t.create_group(b"g", StreamId::MIN, 0));
        assert!(t.deliver_new(b"g", b"c", &[id(1, 1)], 10, false));
        assert!(t.delete(id(2, 1)));
        assert!(t.deliver_new(b"g", b"c", &[id(3, 1)], 10, false));
        let g = t.group(b"g").unwrap();
        assert_eq!(
            (g.last_id, g.entries_read, t.lag(g)),
            (id(3, 1), 2, Some(2))
        );
        // redis-server: XADD u 5-1,6-1,7-1; XDEL u 5-1; XGROUP CREATE u g 3:
        // entries-read nil, lag 2.
        let mut u = Stream::new();
        for i in 5..=7 {
            add(&mut u, id(i, 1), &[("f", "v")]);
        }
        u.delete(id(5, 1));
        u.create_group(b"g", id(3, 0), INVALID_ENTRIES_READ);
        let g = u.group(b"g").unwrap();
        assert_eq!((g.entries_read, u.lag(g)), (INVALID_ENTRIES_READ, Some(2)));
        // redis-server: s2 = XADD 1-1,2-1,3-1; XDEL 3-1; XTRIM MINID 3-1;
        // XADD 4-1; XGROUP CREATE s2 g 0; XREADGROUP COUNT 1 > ->
        // entries-read 4, lag 0.
        let mut s = Stream::new();
        for i in 1..=3 {
            add(&mut s, id(i, 1), &[("f", "v")]);
        }
        s.delete(id(3, 1));
        s.trim(Trim {
            kind: TrimKind::MinId(id(3, 1)),
            approx: false,
            limit: 0,
        });
        add(&mut s, id(4, 1), &[("f", "v")]);
        s.create_group(b"g", StreamId::MIN, INVALID_ENTRIES_READ);
        s.deliver_new(b"g", b"c1", &[id(4, 1)], 10, false);
        let g = s.group(b"g").unwrap();
        assert_eq!((g.entries_read, s.lag(g)), (4, Some(0)));
        assert_eq!(
            Stream::new().lag(&Group::new(StreamId::MIN, INVALID_ENTRIES_READ)),
            Some(0)
        );
    }

    #[test]
    fn nack_zone_and_claim_order() {
        let mut s = one_field(6, "v");
        s.create_group(b"g", StreamId::MIN, INVALID_ENTRIES_READ);
        let all: Vec<StreamId> = (1..=6).map(|i| id(i, 0)).collect();
        s.deliver_new(b"g", b"c1", &all, 1000, false);
        let g = s.group_mut(b"g").unwrap();
        // Delivery times 6-0 oldest ... 1-0 newest (then 5-0 and 6-0 released).
        for (i, t) in (1..=6).zip([600, 500, 400, 300, 200, 100]) {
            g.put_pending(id(i, 0), g.consumers[&b"c1"[..]].id, t, 1);
        }
        assert!(g.nack(id(6, 0), NackMode::Fatal, None, false));
        assert!(g.nack(id(5, 0), NackMode::Silent, None, false));
        assert!(!g.nack(id(9, 0), NackMode::Fail, None, false));
        assert!(
            g.nack(id(9, 0), NackMode::Fail, None, true),
            "FORCE creates it"
        );
        // Re-releasing moves to the tail.
        assert!(g.nack(id(6, 0), NackMode::Fail, Some(7), false));
        assert_eq!(
            g.nacked().collect::<Vec<_>>(),
            [(id(5, 0), 0), (id(9, 0), 0), (id(6, 0), 7)]
        );
        assert_eq!(g.consumers[&b"c1"[..]].pel.len(), 4);
        assert_eq!(
            g.claimable(250, 1000, usize::MAX),
            [
                id(5, 0),
                id(9, 0),
                id(6, 0),
                id(4, 0),
                id(3, 0),
                id(2, 0),
                id(1, 0)
            ]
        );
        assert_eq!(
            g.claimable(650, 1000, usize::MAX),
            [id(5, 0), id(9, 0), id(6, 0), id(4, 0)]
        );
        assert_eq!(
            g.claimable(0, 1000, 4),
            [id(5, 0), id(9, 0), id(6, 0), id(4, 0)]
        );
        assert_eq!(g.next_claimable(100), Some(0));
        // Taking a released entry: idle -1, its count, then owned again.
        assert_eq!(g.claim_for_read(id(6, 0), b"c2", 2000), Some((-1, 7)));
        assert_eq!(g.pending(id(6, 0)).unwrap().delivery_count, 8);
        assert!(g.ack(id(5, 0)));
        assert_eq!(g.nacked_len(), 1);
        assert!(g.nack(id(4, 0), NackMode::Fatal, None, false));
        assert_eq!(g.pending(id(4, 0)).unwrap().delivery_count, i64::MAX as u64);
        s.check_invariants().unwrap();
        // The rewrite releases the zone again in order, with the counts.
        let mut out = Vec::new();
        s.rewrite(&Bytes::from("k"), &mut out);
        let nacks: Vec<String> = out
            .iter()
            .filter(|c| c[0] == "XNACK")
            .map(|c| {
                c.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(
            nacks,
            [
                "XNACK k g FAIL IDS 1 9-0 RETRYCOUNT 0 FORCE",
                "XNACK k g FAIL IDS 1 4-0 RETRYCOUNT 9223372036854775807 FORCE"
            ]
        );
    }

    #[test]
    fn idmp_tracks_expires_and_evicts() {
        let mut s = one_field(3, "v");
        assert!(s.idmp().is_none());
        assert_eq!(s.idmp_find(b"p", b"a", 0), None);
        s.idmp_record(b"p", Bytes::from("a"), id(1, 0), 1000, true);
        s.idmp_record(b"p", Bytes::from("b"), id(2, 0), 2000, true);
        s.idmp_record(b"q", Bytes::from("a"), id(3, 0), 3000, true);
        assert_eq!(s.idmp_find(b"p", b"a", 5000), Some(id(1, 0)));
        assert_eq!(s.idmp_find(b"q", b"a", 5000), Some(id(3, 0)));
        assert_eq!(s.idmp().unwrap().tracked(5000), (2, 3));
        // IDMP-DURATION 100 s: each iid goes 100 s after it was recorded.
        assert_eq!(s.idmp().unwrap().tracked(101_000), (2, 2));
        assert_eq!(s.idmp().unwrap().tracked(102_500), (1, 1));
        assert_eq!(s.idmp_find(b"p", b"a", 102_500), None);
        // A deleted entry's iid is forgotten (redis/redis#14908).
        s.delete(id(3, 0));
        assert_eq!(s.idmp_find(b"q", b"a", 5000), None);
        assert_eq!(s.idmp().unwrap().tracked(5000), (0, 0));
        // IDMP-MAXSIZE: the oldest go first; a changed setting forgets everything.
        assert!(s.idmp_mut().configure(None, Some(2)));
        assert!(!s.idmp_mut().configure(Some(100), Some(2)));
        for (iid, i) in [("x", 1), ("y", 1), ("z", 2)] {
            s.idmp_record(b"p", Bytes::from(iid), id(i, 0), 10, true);
        }
        assert_eq!(s.idmp_find(b"p", b"x", 10), None);
        assert_eq!(s.idmp_find(b"p", b"z", 10), Some(id(2, 0)));
        let m = s.idmp().unwrap();
        assert_eq!((m.added, m.tracked(10)), (6, (1, 2)));
        let cmds = idmp_commands(&Bytes::from("k"), m);
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0][2], "CONFIG");
        assert_eq!(cmds[1].len(), 4 + 2 * 3);
    }

    #[test]
    fn groups_pel_ack_claim() {
        let mut s = one_field(10, "v");
        assert!(s.create_group(b"g", StreamId::MIN, INVALID_ENTRIES_READ));
        assert!(!s.create_group(b"g", StreamId::MIN, 0));
        let first: Vec<StreamId> = s
            .range(id(0, 1), StreamId::MAX)
            .take(4)
            .map(|e| e.id)
            .collect();
        assert!(s.deliver_new(b"g", b"alice", &first, 1000, false));
        assert!(!s.deliver_new(b"nope", b"alice", &first, 1000, false));
        let g = s.group(b"g").unwrap();
        assert_eq!(g.last_id, id(4, 0));
        assert_eq!(g.entries_read, 4);
        assert_eq!(s.lag(g), Some(6));
        let sum = g.pending_summary();
        assert_eq!(sum.count, 4);
        assert_eq!(sum.bounds, Some((id(1, 0), id(4, 0))));
        assert_eq!(sum.consumers, vec![(Bytes::from("alice"), 4)]);
        // Ack one, claim two (one idle enough).
        assert!(s.group_mut(b"g").unwrap().ack(id(1, 0)));
        assert!(!s.group_mut(b"g").unwrap().ack(id(1, 0)));
        let opts = ClaimOptions {
            min_idle: 500,
            time: 2000,
            ..Default::default()
        };
        match s.claim(b"g", b"bob", id(2, 0), &opts, 2000).unwrap() {
            ClaimOutcome::Claimed(p) => {
                assert_eq!(p.consumer, Bytes::from("bob"));
                assert_eq!((p.delivery_time, p.delivery_count), (2000, 2));
            }
            o => panic!("{o:?}"),
        }
        // Just claimed: not idle for bob.
        assert_eq!(
            s.claim(b"g", b"carol", id(2, 0), &opts, 2100),
            Some(ClaimOutcome::Skipped)
        );
        // Not pending and no FORCE.
        assert_eq!(
            s.claim(b"g", b"bob", id(9, 0), &opts, 2000),
            Some(ClaimOutcome::Skipped)
        );
        let force = ClaimOptions {
            force: true,
            justid: true,
            time: 3000,
            ..Default::default()
        };
        assert!(
            matches!(s.claim(b"g", b"bob", id(9, 0), &force, 3000), Some(ClaimOutcome::Claimed(p)) if p.delivery_count == 1)
        );
        // Deleted entry: the PEL entry is dropped.
        s.delete(id(3, 0));
        assert_eq!(
            s.claim(b"g", b"bob", id(3, 0), &opts, 5000),
            Some(ClaimOutcome::Dropped)
        );
        let g = s.group(b"g").unwrap();
        assert_eq!(
            g.pel.keys().copied().collect::<Vec<_>>(),
            vec![id(2, 0), id(4, 0), id(9, 0)]
        );
        assert_eq!(
            g.consumers[&b"alice"[..]]
                .pel
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![id(4, 0)]
        );
        s.check_invariants().unwrap();
        // History read of alice.
        let g = s.group_mut(b"g").unwrap();
        assert_eq!(
            g.consumer_pending(b"alice", StreamId::MIN, 0),
            vec![id(4, 0)]
        );
        g.redeliver(id(4, 0), 6000);
        assert_eq!(g.pel[&id(4, 0)].count(), 2);
        // Extended XPENDING.
        let rows = g.pending_range(StreamId::MIN, StreamId::MAX, 10, None, Some(3000), 6000);
        assert_eq!(
            rows.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![id(2, 0), id(9, 0)]
        );
        let rows = g.pending_range(StreamId::MIN, StreamId::MAX, 1, Some(b"bob"), None, 6000);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].id, rows[0].idle), (id(2, 0), 4000));
        // DELCONSUMER returns its pending count.
        assert_eq!(g.delete_consumer(b"bob"), Some(2));
        assert_eq!(g.delete_consumer(b"bob"), None);
        assert_eq!(g.pel.len(), 1);
        s.check_invariants().unwrap();
        assert!(s.destroy_group(b"g"));
        assert!(!s.destroy_group(b"g"));
    }

    #[test]
    fn autoclaim_scans_and_reports_deleted() {
        let mut s = one_field(30, "v");
        s.create_group(b"g", StreamId::MIN, INVALID_ENTRIES_READ);
        let all: Vec<StreamId> = s
            .range(StreamId::MIN, StreamId::MAX)
            .map(|e| e.id)
            .collect();
        s.deliver_new(b"g", b"dead", &all, 100, false);
        s.delete(id(2, 0));
        s.delete(id(5, 0));
        // COUNT 4: three claims plus one deleted ID (deleted IDs count, as in 7.0.15).
        let r = s
            .autoclaim(b"g", b"live", StreamId::MIN, 4, 50, 200, false)
            .unwrap();
        assert_eq!(
            r.claimed.iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![id(1, 0), id(3, 0), id(4, 0)]
        );
        assert!(
            r.claimed
                .iter()
                .all(|(_, p)| p.delivery_count == 2 && p.delivery_time == 200)
        );
        assert_eq!(r.deleted, vec![id(2, 0)]);
        assert_eq!(r.next, id(5, 0));
        // Not idle enough: nothing claimed, but deleted entries still reported.
        let r = s
            .autoclaim(b"g", b"live", r.next, 100, 1000, 200, true)
            .unwrap();
        assert!(r.claimed.is_empty());
        assert_eq!(r.deleted, vec![id(5, 0)]);
        assert_eq!(r.next, StreamId::MIN);
        // COUNT 1 scans at most 10 entries.
        let r = s
            .autoclaim(b"g", b"live", StreamId::MIN, 1, 1000, 200, true)
            .unwrap();
        assert_eq!(r.next, id(13, 0));
        assert!(
            s.autoclaim(b"x", b"live", StreamId::MIN, 1, 0, 0, true)
                .is_none()
        );
        s.check_invariants().unwrap();
    }

    #[test]
    fn deliver_takes_over_existing_pel_entry() {
        let mut s = one_field(3, "v");
        s.create_group(b"g", StreamId::MIN, INVALID_ENTRIES_READ);
        s.deliver_new(b"g", b"a", &[id(1, 0), id(2, 0)], 10, false);
        s.group_mut(b"g")
            .unwrap()
            .set_id(StreamId::MIN, INVALID_ENTRIES_READ);
        s.deliver_new(b"g", b"b", &[id(1, 0)], 20, false);
        let g = s.group(b"g").unwrap();
        assert_eq!(
            g.pending(id(1, 0)).unwrap(),
            PendingEntry {
                consumer: Bytes::from("b"),
                delivery_time: 20,
                delivery_count: 1
            }
        );
        assert_eq!(g.consumers[&b"a"[..]].pel.len(), 1);
        s.check_invariants().unwrap();
        // NOACK delivers without a PEL entry but still advances.
        s.deliver_new(b"g", b"c", &[id(3, 0)], 30, true);
        let g = s.group(b"g").unwrap();
        assert_eq!((g.last_id, g.pel.len()), (id(3, 0), 2));
        assert!(g.consumers.contains_key(&b"c"[..]));
    }

    #[test]
    fn rewrite_emits_redis_commands() {
        let key = Bytes::from("k");
        let mut out = Vec::new();
        Stream::new().rewrite(&key, &mut out);
        let text = |out: &Vec<Vec<Bytes>>| -> Vec<String> {
            out.iter()
                .map(|c| {
                    c.iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        };
        assert_eq!(
            text(&out),
            vec![
                "XADD k MAXLEN 0 0-1 x y",
                "XSETID k 0-0 ENTRIESADDED 0 MAXDELETEDID 0-0"
            ]
        );
        let mut s = one_field(3, "v");
        s.delete(id(2, 0));
        s.create_group(b"g", StreamId::MIN, INVALID_ENTRIES_READ);
        s.deliver_new(b"g", b"c1", &[id(1, 0)], 1234, false);
        s.group_mut(b"g").unwrap().create_consumer(b"c0", 5);
        let mut out = Vec::new();
        s.rewrite(&key, &mut out);
        assert_eq!(
            text(&out),
            vec![
                "XADD k 1-0 f v",
                "XADD k 3-0 f v",
                "XSETID k 3-0 ENTRIESADDED 3 MAXDELETEDID 2-0",
                "XGROUP CREATE k g 1-0 ENTRIESREAD -1",
                "XGROUP CREATECONSUMER k g c0",
                "XCLAIM k g c1 0 1-0 TIME 1234 RETRYCOUNT 1 JUSTID FORCE",
            ]
        );
    }

    #[test]
    fn tiny_nodes_and_reverse_scans() {
        let lim = NodeLimits {
            max_bytes: 0,
            max_entries: 3,
        };
        let mut s = Stream::new();
        for i in 1..=20u64 {
            let v = i.to_string();
            let f: [(&[u8], &[u8]); 1] = [(if i % 2 == 0 { b"a" } else { b"b" }, v.as_bytes())];
            s.append(IdSpec::Ms(i / 3), &f, 0, lim).unwrap();
        }
        assert_eq!(s.node_count(), 7);
        let fwd: Vec<StreamId> = s
            .range(StreamId::MIN, StreamId::MAX)
            .map(|e| e.id)
            .collect();
        let mut rev: Vec<StreamId> = s
            .rev_range(StreamId::MIN, StreamId::MAX)
            .map(|e| e.id)
            .collect();
        rev.reverse();
        assert_eq!(fwd, rev);
        for &d in fwd.iter().step_by(2) {
            assert!(s.delete(d));
        }
        let fwd: Vec<StreamId> = s.range(fwd[3], fwd[15]).map(|e| e.id).collect();
        let mut rev: Vec<StreamId> = s
            .rev_range(fwd[0], *fwd.last().unwrap())
            .map(|e| e.id)
            .collect();
        rev.reverse();
        assert_eq!(fwd, rev);
        assert_eq!(fwd.len(), 7);
        s.check_invariants().unwrap();
        assert!(s.append::<&[u8]>(IdSpec::Auto, &[], 0, lim).is_ok());
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        type Fields = Vec<(Vec<u8>, Vec<u8>)>;

        #[derive(Debug, Clone)]
        enum Op {
            AddAuto(Fields),
            AddMs(u64, Fields),
            AddExact(u64, u64, Fields),
            Del(usize),
            TrimMaxLen(u64, bool, u64),
            TrimMinId(usize, bool, u64),
            Range(usize, usize, bool),
            Read(u8, usize),
            Ack(usize),
            Claim(u8, usize, bool),
            Autoclaim(u8, u64),
            DelConsumer(u8),
            SetGroupId(usize),
            Tick(u64),
        }

        fn fields() -> impl Strategy<Value = Fields> {
            let field = prop_oneof![
                Just(b"a".to_vec()),
                Just(b"b".to_vec()),
                Just(b"c".to_vec())
            ];
            let value = prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..20),
                (0i64..100000).prop_map(|n| n.to_string().into_bytes()),
                Just(Vec::new()),
            ];
            proptest::collection::vec((field, value), 0..4)
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                6 => fields().prop_map(Op::AddAuto),
                2 => (0u64..40, fields()).prop_map(|(m, f)| Op::AddMs(m, f)),
                2 => (0u64..40, 0u64..4, fields()).prop_map(|(m, s, f)| Op::AddExact(m, s, f)),
                2 => any::<usize>().prop_map(Op::Del),
                1 => (0u64..30, any::<bool>(), 0u64..12).prop_map(|(n, a, l)| Op::TrimMaxLen(n, a, l)),
                1 => (any::<usize>(), any::<bool>(), 0u64..12).prop_map(|(i, a, l)| Op::TrimMinId(i, a, l)),
                2 => (any::<usize>(), any::<usize>(), any::<bool>()).prop_map(|(a, b, r)| Op::Range(a, b, r)),
                3 => (0u8..3, 0usize..5).prop_map(|(c, n)| Op::Read(c, n)),
                2 => any::<usize>().prop_map(Op::Ack),
                1 => (0u8..3, any::<usize>(), any::<bool>()).prop_map(|(c, i, f)| Op::Claim(c, i, f)),
                1 => (0u8..3, 1u64..4).prop_map(|(c, n)| Op::Autoclaim(c, n)),
                1 => (0u8..3).prop_map(Op::DelConsumer),
                1 => any::<usize>().prop_map(Op::SetGroupId),
                1 => (0u64..3).prop_map(Op::Tick),
            ]
        }

        #[derive(Default)]
        struct Model {
            entries: BTreeMap<StreamId, Fields>,
            last: StreamId,
            group_last: StreamId,
            /// id -> (consumer, delivery count)
            pel: BTreeMap<StreamId, (u8, u64)>,
        }

        /// Pick an ID: an existing entry, a pending one, or a nearby one.
        fn pick(m: &Model, i: usize) -> StreamId {
            let all: Vec<StreamId> = m.entries.keys().chain(m.pel.keys()).copied().collect();
            if all.is_empty() || i.is_multiple_of(7) {
                return StreamId::new((i % 40) as u64, (i / 40 % 3) as u64);
            }
            all[i % all.len()]
        }

        fn cname(c: u8) -> Vec<u8> {
            vec![b'c', b'0' + c]
        }

        fn run(ops: Vec<Op>, limits: NodeLimits) -> Result<(), TestCaseError> {
            let mut s = Stream::new();
            let mut m = Model::default();
            s.create_group(b"g", StreamId::MIN, INVALID_ENTRIES_READ);
            let mut now = 1u64;
            for op in ops {
                match op {
                    Op::AddAuto(ref f) | Op::AddMs(_, ref f) | Op::AddExact(_, _, ref f) => {
                        let spec = match op {
                            Op::AddAuto(_) => IdSpec::Auto,
                            Op::AddMs(ms, _) => IdSpec::Ms(ms),
                            Op::AddExact(ms, seq, _) => IdSpec::Exact(StreamId::new(ms, seq)),
                            _ => unreachable!(),
                        };
                        let expect = s.next_id(spec, now);
                        match s.append(spec, f, now, limits) {
                            Ok(id) => {
                                prop_assert_eq!(Ok(id), expect);
                                prop_assert!(id > m.last);
                                m.last = id;
                                m.entries.insert(id, f.clone());
                            }
                            Err(e) => {
                                prop_assert_eq!(Err(e), expect);
                                prop_assert!(!matches!(spec, IdSpec::Auto));
                            }
                        }
                    }
                    Op::Del(i) => {
                        let id = pick(&m, i);
                        prop_assert_eq!(s.delete(id), m.entries.remove(&id).is_some());
                    }
                    Op::TrimMaxLen(n, approx, limit) => {
                        let limit = if approx { limit } else { 0 };
                        let before = m.entries.len() as u64;
                        let got = s.trim(Trim {
                            kind: TrimKind::MaxLen(n),
                            approx,
                            limit,
                        });
                        if approx {
                            prop_assert!(before - got >= n.min(before));
                            if limit > 0 {
                                prop_assert!(got <= limit);
                            }
                        } else {
                            prop_assert_eq!(got, before.saturating_sub(n));
                        }
                        for _ in 0..got {
                            m.entries.pop_first();
                        }
                    }
                    Op::TrimMinId(i, approx, limit) => {
                        let min = pick(&m, i);
                        let limit = if approx { limit } else { 0 };
                        let below = m.entries.range(..min).count() as u64;
                        let got = s.trim(Trim {
                            kind: TrimKind::MinId(min),
                            approx,
                            limit,
                        });
                        if approx {
                            prop_assert!(got <= below);
                            if limit > 0 {
                                prop_assert!(got <= limit);
                            }
                        } else {
                            prop_assert_eq!(got, below);
                        }
                        for _ in 0..got {
                            m.entries.pop_first();
                        }
                    }
                    Op::Range(a, b, rev) => {
                        let (a, b) = (pick(&m, a), pick(&m, b));
                        let want: Vec<StreamId> = if a <= b {
                            m.entries.range(a..=b).map(|(k, _)| *k).collect()
                        } else {
                            Vec::new()
                        };
                        let mut got: Vec<StreamId> = if rev {
                            s.rev_range(a, b).map(|e| e.id).collect()
                        } else {
                            s.range(a, b).map(|e| e.id).collect()
                        };
                        if rev {
                            got.reverse();
                        }
                        prop_assert_eq!(got, want);
                    }
                    Op::Read(c, count) => {
                        let from = m.group_last.incr().unwrap_or(StreamId::MAX);
                        let ids: Vec<StreamId> = s
                            .range(from, StreamId::MAX)
                            .take(count)
                            .map(|e| e.id)
                            .collect();
                        let want: Vec<StreamId> = m
                            .entries
                            .range(from..)
                            .take(count)
                            .map(|(k, _)| *k)
                            .collect();
                        prop_assert_eq!(&ids, &want);
                        prop_assert!(s.deliver_new(b"g", &cname(c), &ids, now, false));
                        for id in ids {
                            m.pel.insert(id, (c, 1));
                            m.group_last = id;
                        }
                    }
                    Op::Ack(i) => {
                        let id = pick(&m, i);
                        prop_assert_eq!(
                            s.group_mut(b"g").unwrap().ack(id),
                            m.pel.remove(&id).is_some()
                        );
                    }
                    Op::Claim(c, i, force) => {
                        let id = pick(&m, i);
                        let opts = ClaimOptions {
                            time: now,
                            force,
                            ..Default::default()
                        };
                        let out = s.claim(b"g", &cname(c), id, &opts, now).unwrap();
                        if !m.entries.contains_key(&id) {
                            let was = m.pel.remove(&id).is_some();
                            prop_assert_eq!(
                                out,
                                if was {
                                    ClaimOutcome::Dropped
                                } else {
                                    ClaimOutcome::Skipped
                                }
                            );
                        } else if let Some(p) = m.pel.get_mut(&id) {
                            p.0 = c;
                            p.1 += 1;
                            prop_assert!(
                                matches!(out, ClaimOutcome::Claimed(ref e) if e.delivery_count == p.1)
                            );
                        } else if force {
                            m.pel.insert(id, (c, 2));
                            prop_assert!(
                                matches!(out, ClaimOutcome::Claimed(ref e) if e.delivery_count == 2)
                            );
                        } else {
                            prop_assert_eq!(out, ClaimOutcome::Skipped);
                        }
                    }
                    Op::Autoclaim(c, count) => {
                        let r = s
                            .autoclaim(b"g", &cname(c), StreamId::MIN, count, 0, now, false)
                            .unwrap();
                        let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
                        let mut attempts = count * 10;
                        let mut left = count;
                        let keys: Vec<StreamId> = m.pel.keys().copied().collect();
                        let mut next = StreamId::MIN;
                        let mut it = keys.into_iter();
                        while attempts > 0 && left > 0 {
                            let Some(id) = it.next() else { break };
                            attempts -= 1;
                            if !m.entries.contains_key(&id) {
                                m.pel.remove(&id);
                                deleted.push(id);
                                left -= 1;
                                continue;
                            }
                            let p = m.pel.get_mut(&id).unwrap();
                            p.0 = c;
                            p.1 += 1;
                            claimed.push(id);
                            left -= 1;
                        }
                        if let Some(id) = it.next() {
                            next = id;
                        }
                        prop_assert_eq!(r.claimed.iter().map(|x| x.0).collect::<Vec<_>>(), claimed);
                        prop_assert_eq!(r.deleted, deleted);
                        prop_assert_eq!(r.next, next);
                    }
                    Op::DelConsumer(c) => {
                        let had = s.group(b"g").unwrap().consumers.contains_key(&cname(c)[..]);
                        let n = m.pel.values().filter(|p| p.0 == c).count();
                        let got = s.group_mut(b"g").unwrap().delete_consumer(&cname(c));
                        prop_assert_eq!(got, if had { Some(n) } else { None });
                        m.pel.retain(|_, p| p.0 != c);
                    }
                    Op::SetGroupId(i) => {
                        let id = pick(&m, i);
                        s.group_mut(b"g").unwrap().set_id(id, INVALID_ENTRIES_READ);
                        m.group_last = id;
                    }
                    Op::Tick(d) => now += d,
                }
                // Compare everything.
                prop_assert_eq!(s.len(), m.entries.len() as u64);
                prop_assert_eq!(s.last_id(), m.last);
                prop_assert_eq!(
                    s.first_id(),
                    m.entries.keys().next().copied().unwrap_or(StreamId::MIN)
                );
                let got: Vec<(StreamId, Fields)> = s
                    .range(StreamId::MIN, StreamId::MAX)
                    .map(|e| {
                        (
                            e.id,
                            e.fields().map(|(f, v)| (f.to_vec(), v.to_vec())).collect(),
                        )
                    })
                    .collect();
                let want: Vec<(StreamId, Fields)> =
                    m.entries.iter().map(|(k, v)| (*k, v.clone())).collect();
                prop_assert_eq!(got, want);
                let g = s.group(b"g").unwrap();
                prop_assert_eq!(g.last_id, m.group_last);
                let pel: Vec<(StreamId, Vec<u8>, u64)> = g
                    .pending_entries()
                    .map(|(k, p)| (k, p.consumer.to_vec(), p.delivery_count))
                    .collect();
                let want: Vec<(StreamId, Vec<u8>, u64)> =
                    m.pel.iter().map(|(k, p)| (*k, cname(p.0), p.1)).collect();
                prop_assert_eq!(pel, want);
                if let Err(e) = s.check_invariants() {
                    return Err(TestCaseError::fail(e));
                }
            }
            // A rewrite replays into the same stream.
            let mut cmds = Vec::new();
            s.rewrite(&Bytes::from_static(b"k"), &mut cmds);
            prop_assert!(cmds.len() >= 2);
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn stream_matches_model(
                ops in proptest::collection::vec(op(), 1..120),
                max_entries in 0u64..6,
                max_bytes in prop_oneof![Just(0u64), Just(40u64), Just(4096u64)],
            ) {
                run(ops, NodeLimits { max_bytes, max_entries })?;
            }
        }
    }
}
