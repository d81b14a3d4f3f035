//! RDB serialization of single values (format version 10, as redis-server 7.0 writes it).
//!
//! # API
//! - [`dump`] / [`verify`] / [`restore`]: the DUMP payload (`type value version crc64`) and
//!   its checks, for DUMP and RESTORE;
//! - [`write_value`] / [`read_value`] with [`Reader`]: one value's type byte and body, the
//!   building block of RDB files too.
//!
//! Writing picks the RDB type Redis 7.0 picks for the same content (listpack while the
//! collection fits the `*-max-listpack-*` limits, an intset for small integer sets, quicklist
//! nodes of `list-max-listpack-size`), and encodes strings as Redis does (integers up to 32
//! bits as integers, strings over 20 bytes LZF-compressed when that shrinks them), so the
//! bytes equal redis-server's wherever Redis's own output is deterministic. Reading accepts
//! every type Redis 7.0 can produce or load (and the 7.2 set listpack), and never trusts a
//! length: every length is checked against the bytes that remain before anything is allocated.
//!
//! Pure: no protocol, no locks; the caller gives the encoding limits in [`Encodings`].
//!
//! DEVIATION(redis): a list is split into quicklist nodes as if built by pushing to the tail
//! (Redis's nodes depend on the list's history, and a restored list keeps the payload's
//! nodes there), and an intset is written in its narrowest width (Redis never narrows one
//! after removals). Payloads Redis would only refuse under `sanitize-dump-payload yes`
//! (duplicate set members or hash fields, unsorted intsets, malformed listpacks) are always
//! refused: ferrymq's values cannot hold them.

mod crc64;
pub mod file;
pub mod listpack;
mod lzf;
mod stream;

use bytes::Bytes;

use super::hash::{self, Hash};
use super::list::List;
use super::set::Set;
use super::value::Value;
use super::zset::{self, ZSet};
use listpack::{Item, ListpackWriter};

pub use crc64::crc64;

/// The RDB format version written (Redis 7.0's `RDB_VERSION`).
pub const RDB_VERSION: u16 = 10;

pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;

/// Quicklist node containers (`QUICKLIST_NODE_CONTAINER_*`).
const NODE_PLAIN: u64 = 1;
const NODE_PACKED: u64 = 2;
/// Elements of at least this size get a plain quicklist node of their own (`packed_threshold`).
const PACKED_THRESHOLD: usize = 1 << 30;

/// The encoding limits of the server the value is written for or loaded into.
#[derive(Clone, Copy, Debug)]
pub struct Encodings {
    /// `list-max-listpack-size`.
    pub list_fill: i64,
    /// `set-max-intset-entries`.
    pub max_intset: usize,
    pub hash: hash::Limits,
    pub zset: zset::Limits,
    /// `rdbcompression`: LZF for strings over 20 bytes.
    pub compress: bool,
    /// The access opcode written before each key of a file.
    pub access: AccessSave,
    /// `rdbchecksum`: files end with their CRC-64, or with zeros ("saved without one").
    pub checksum: bool,
}

/// What precedes each key of a file, as Redis's rdbSaveKeyValuePair decides from
/// `maxmemory-policy`: the idle seconds (`IDLE`) under an LRU policy, the decayed counter
/// (`FREQ`) under an LFU one, nothing otherwise. DUMP payloads never carry either.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AccessSave {
    #[default]
    None,
    Lru,
    Lfu(crate::store::access::Policy),
}

impl Default for Encodings {
    fn default() -> Self {
        Encodings {
            list_fill: -2,
            max_intset: 512,
            hash: hash::Limits::default(),
            zset: zset::Limits::default(),
            compress: true,
            access: AccessSave::None,
            checksum: true,
        }
    }
}

/// Why a payload could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error(pub &'static str);

type Result<T> = std::result::Result<T, Error>;

fn bad(what: &'static str) -> Error {
    Error(what)
}

// ---------------------------------------------------------------------------------------------
// DUMP payloads

/// The DUMP payload of `v`: type byte, value, RDB version (2 bytes LE), CRC-64 (8 bytes LE)
/// of everything before it.
pub fn dump(v: &Value, enc: &Encodings) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, v, enc);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Redis's `verifyDumpPayload`: long enough, a version this server reads, a matching checksum.
pub fn verify(payload: &[u8]) -> bool {
    if payload.len() < 10 {
        return false;
    }
    let n = payload.len();
    let version = u16::from_le_bytes([payload[n - 10], payload[n - 9]]);
    if version > RDB_VERSION {
        return false;
    }
    let crc = u64::from_le_bytes(payload[n - 8..].try_into().expect("8 bytes"));
    crc == crc64(0, &payload[..n - 8])
}

/// The value of a payload that passed [`verify`]. As in Redis, the reader runs over the whole
/// payload: a value whose lengths reach into the version and checksum bytes is read from them.
pub fn restore(payload: &[u8], enc: &Encodings) -> Result<Value> {
    let mut r = Reader::new(payload);
    let ty = r.byte()?;
    // Redis 7.0 knows no type after the stream of version 10 (the set listpack is 7.2's).
    if ty > TYPE_STREAM_LISTPACKS_2 {
        return Err(bad("type unknown to RDB version 10"));
    }
    read_value(&mut r, ty, enc)
}

// ---------------------------------------------------------------------------------------------
// Writing

fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A string as `rdbSaveRawString` writes it.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], enc: &Encodings) {
    if s.len() <= 11
        && let Some(i) = super::set::as_int(s)
    {
        if let Ok(b) = i8::try_from(i) {
            out.extend_from_slice(&[0xc0, b as u8]);
            return;
        } else if let Ok(h) = i16::try_from(i) {
            out.push(0xc1);
            out.extend_from_slice(&h.to_le_bytes());
            return;
        } else if let Ok(w) = i32::try_from(i) {
            out.push(0xc2);
            out.extend_from_slice(&w.to_le_bytes());
            return;
        }
    }
    if enc.compress
        && s.len() > 20
        && lzf::compress_then(s, s.len() - 4, |c| {
            out.push(0xc3);
            write_len(out, c.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(c);
        })
        .is_some()
    {
        return;
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// `_quicklistNodeAllowInsert`: may an element of `sz` bytes join a node of `node_bytes`
/// bytes holding `count` elements, under `list-max-listpack-size` `fill`?
fn node_allows(node_bytes: usize, count: usize, fill: i64, sz: usize) -> bool {
    const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
    let new_sz = node_bytes + sz + 8;
    let fill = fill.clamp(-5, 1 << 15);
    if fill < 0 && new_sz <= LEVELS[(-fill - 1) as usize] {
        return true;
    }
    new_sz <= 8192 && (count as i64) < fill
}

/// The list's elements split into quicklist nodes as Redis builds them by pushing to the tail,
/// each written as `container` + string into `out`; returns how many. One listpack buffer
/// serves every node.
fn write_quicklist_nodes(out: &mut Vec<u8>, l: &List, enc: &Encodings) -> u64 {
    let mut nodes = 0;
    let mut w = ListpackWriter::with_capacity(8192 + 64);
    let flush = |out: &mut Vec<u8>, w: &mut ListpackWriter| -> u64 {
        if w.count() == 0 {
            return 0;
        }
        write_len(out, NODE_PACKED);
        write_string(out, w.finish_ref(), enc);
        w.reset();
        1
    };
    for item in l.iter() {
        if item.len() >= PACKED_THRESHOLD {
            nodes += flush(out, &mut w);
            write_len(out, NODE_PLAIN);
            write_string(out, item, enc);
            nodes += 1;
            continue;
        }
        if w.count() > 0 && !node_allows(w.bytes_len(), w.count(), enc.list_fill, item.len()) {
            nodes += flush(out, &mut w);
        }
        w.push(item);
    }
    nodes + flush(out, &mut w)
}

/// A zset score as `zzlInsertAt` stores it in a listpack.
fn push_score(w: &mut ListpackWriter, score: f64) {
    let half = (i64::MAX / 2) as f64;
    if (-half..=half).contains(&score) && score == (score as i64) as f64 {
        w.push_int(score as i64);
    } else {
        w.push_str(crate::protocol::reply::format_double(score).as_bytes());
    }
}

/// Writes `v`'s type byte and body.
pub fn write_value(out: &mut Vec<u8>, v: &Value, enc: &Encodings) {
    write_keyed(out, None, v, enc);
}

/// The type byte, then `key` when there is one (a record), then the body.
fn tag(out: &mut Vec<u8>, ty: u8, key: Option<&[u8]>, enc: &Encodings) {
    out.push(ty);
    if let Some(k) = key {
        write_string(out, k, enc);
    }
}

/// `v`'s type byte, `key` (as a record has it), and `v`'s body.
fn write_keyed(out: &mut Vec<u8>, key: Option<&[u8]>, v: &Value, enc: &Encodings) {
    match v {
        Value::Str(s) => {
            tag(out, TYPE_STRING, key, enc);
            write_string(out, s, enc);
        }
        Value::List(l) => {
            tag(out, TYPE_LIST_QUICKLIST_2, key, enc);
            // The node count comes first: the nodes go to a side buffer (compressed, so
            // small next to the list) while they are counted.
            let mut body = Vec::new();
            let nodes = write_quicklist_nodes(&mut body, l, enc);
            write_len(out, nodes);
            out.extend_from_slice(&body);
        }
        Value::Set(s) if s.is_intset() => {
            let Set::Intset(ints) = &**s else {
                unreachable!()
            };
            tag(out, TYPE_SET_INTSET, key, enc);
            write_string(out, &listpack::intset_bytes(ints), enc);
        }
        Value::Set(s) => {
            tag(out, TYPE_SET, key, enc);
            write_len(out, s.len() as u64);
            for m in s.iter() {
                write_string(out, &m, enc);
            }
        }
        Value::Hash(h) if h.is_listpack() => {
            tag(out, TYPE_HASH_LISTPACK, key, enc);
            let mut w = ListpackWriter::new();
            for (f, v) in h.iter() {
                w.push(f);
                w.push(v);
            }
            write_string(out, &w.finish(), enc);
        }
        Value::Hash(h) => {
            tag(out, TYPE_HASH, key, enc);
            write_len(out, h.len() as u64);
            for (f, v) in h.iter() {
                write_string(out, f, enc);
                write_string(out, v, enc);
            }
        }
        Value::ZSet(z) if z.encoding() == "listpack" => {
            tag(out, TYPE_ZSET_LISTPACK, key, enc);
            let mut w = ListpackWriter::new();
            for e in z.iter() {
                w.push(&e.member);
                push_score(&mut w, e.score);
            }
            write_string(out, &w.finish(), enc);
        }
        Value::ZSet(z) => {
            // Redis walks its skiplist from the tail, so loading inserts at the head.
            tag(out, TYPE_ZSET_2, key, enc);
            write_len(out, z.len() as u64);
            for e in z.iter().rev() {
                write_string(out, &e.member, enc);
                out.extend_from_slice(&e.score.to_le_bytes());
            }
        }
        Value::Stream(s) => {
            tag(out, TYPE_STREAM_LISTPACKS_2, key, enc);
            stream::write(out, s, enc);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Whole files

pub const OP_FUNCTION2: u8 = 0xF5;
pub const OP_IDLE: u8 = 0xF8;
pub const OP_FREQ: u8 = 0xF9;
pub const OP_AUX: u8 = 0xFA;
pub const OP_RESIZEDB: u8 = 0xFB;
pub const OP_EXPIRETIME_MS: u8 = 0xFC;
pub const OP_SELECTDB: u8 = 0xFE;
pub const OP_EOF: u8 = 0xFF;

/// An RDB file (version 10) of `dbs` and the function libraries `functions` (their code), as
/// Redis 7.0 lays one out: the aux fields, the libraries (`FUNCTION2`), then per non-empty
/// database `SELECTDB` and `RESIZEDB`, each key (its expiry first when it has one; keys
/// already expired at `now` are left out), `EOF` and the CRC-64 of everything before it.
pub fn write_file(dbs: &[super::Db], functions: &[Bytes], enc: &Encodings, now: i64) -> Vec<u8> {
    write_file_with_aux(dbs, functions, &[], enc, now)
}

/// [`write_file`] with aux fields (`redis-ver`, `ctime`, ...) after the header.
pub fn write_file_with_aux(
    dbs: &[super::Db],
    functions: &[Bytes],
    aux: &[(&str, String)],
    enc: &Encodings,
    now: i64,
) -> Vec<u8> {
    let mut out = Vec::new();
    write_header(&mut out, aux, functions, enc);
    for (i, db) in dbs.iter().enumerate() {
        if db.map.is_empty() {
            continue;
        }
        write_db_start(&mut out, i, db.map.len(), db.expires_len());
        for (k, v) in db.map.iter() {
            let at = db.expire_at(k);
            if at.is_some_and(|at| at <= now) {
                continue;
            }
            write_record(&mut out, k, &v.value, v.lru, at, enc);
        }
    }
    if enc.checksum {
        write_end(&mut out, 0);
    } else {
        write_end_unchecked(&mut out);
    }
    out
}

/// The magic and version, the aux fields, the function libraries.
pub fn write_header(
    out: &mut Vec<u8>,
    aux: &[(&str, String)],
    functions: &[Bytes],
    enc: &Encodings,
) {
    out.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    for (k, v) in aux {
        out.push(OP_AUX);
        write_string(out, k.as_bytes(), enc);
        write_string(out, v.as_bytes(), enc);
    }
    for code in functions {
        out.push(OP_FUNCTION2);
        write_string(out, code, enc);
    }
}

/// `SELECTDB` and `RESIZEDB` before the keys of database `db`.
pub fn write_db_start(out: &mut Vec<u8>, db: usize, keys: usize, expires: usize) {
    out.push(OP_SELECTDB);
    write_len(out, db as u64);
    out.push(OP_RESIZEDB);
    write_len(out, keys as u64);
    write_len(out, expires as u64);
}

/// One key: its expiry when it has one, its access word as [`AccessSave`] says (`lru` is the
/// entry's word), the type byte, the key, the value's body.
pub fn write_record(
    out: &mut Vec<u8>,
    key: &[u8],
    v: &Value,
    lru: u32,
    expire_at: Option<i64>,
    enc: &Encodings,
) {
    if let Some(at) = expire_at {
        out.push(OP_EXPIRETIME_MS);
        out.extend_from_slice(&at.to_le_bytes());
    }
    match enc.access {
        AccessSave::None => {}
        AccessSave::Lru => {
            out.push(OP_IDLE);
            write_len(out, crate::store::access::idle_ms(lru) / 1000);
        }
        AccessSave::Lfu(p) => {
            out.push(OP_FREQ);
            out.push(p.decayed(lru) as u8);
        }
    }
    write_keyed(out, Some(key), v, enc);
}

/// `EOF` and the checksum: `crc` is the CRC-64 of what came before `out` (0 when `out` is the
/// whole file).
pub fn write_end(out: &mut Vec<u8>, crc: u64) {
    out.push(OP_EOF);
    let crc = crc64(crc, out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// `EOF` and a zero checksum, which readers take as "saved without one" (`rdbchecksum no`,
/// as Redis writes it).
pub fn write_end_unchecked(out: &mut Vec<u8>) {
    out.push(OP_EOF);
    out.extend_from_slice(&[0; 8]);
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A cursor over RDB bytes; every read is bounds-checked.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// A length field: a count, or one of the special string encodings.
enum Len {
    Plain(u64),
    Int(u8),
    Lzf,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(bad("truncated"));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn len_field(&mut self) -> Result<Len> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain((((b & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.take(4)?.try_into().expect("4")) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().expect("8"))),
                _ => return Err(bad("unknown length encoding")),
            },
            _ => match b & 0x3f {
                0..=2 => Len::Int(b & 0x3f),
                3 => Len::Lzf,
                _ => return Err(bad("unknown string encoding")),
            },
        })
    }

    /// A plain length (a count or a byte length).
    pub fn length(&mut self) -> Result<u64> {
        match self.len_field()? {
            Len::Plain(n) => Ok(n),
            _ => Err(bad("encoded length where a count was expected")),
        }
    }

    /// A count of items that take at least one byte each: bounded by the bytes left.
    fn count(&mut self) -> Result<usize> {
        let n = self.length()?;
        if n > self.remaining() as u64 {
            return Err(bad("count larger than the payload"));
        }
        Ok(n as usize)
    }

    /// A string in any of its encodings.
    pub fn string(&mut self) -> Result<Bytes> {
        match self.len_field()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| bad("string length"))?;
                Ok(Bytes::copy_from_slice(self.take(n)?))
            }
            Len::Int(w) => {
                let v = match w {
                    0 => self.byte()? as i8 as i64,
                    1 => i16::from_le_bytes(self.take(2)?.try_into().expect("2")) as i64,
                    _ => i32::from_le_bytes(self.take(4)?.try_into().expect("4")) as i64,
                };
                Ok(Bytes::copy_from_slice(
                    itoa::Buffer::new().format(v).as_bytes(),
                ))
            }
            Len::Lzf => {
                let clen = self.count()?;
                let len = self.length()?;
                // LZF expands at most 264 bytes per 3 input bytes: bound the claim before
                // allocating for it.
                if len == 0 || len > (clen as u64) * 88 + 32 {
                    return Err(bad("implausible LZF length"));
                }
                let c = self.take(clen)?;
                lzf::decompress(c, len as usize)
                    .map(Bytes::from)
                    .ok_or(bad("corrupt LZF data"))
            }
        }
    }

    fn binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    /// The old textual double of RDB_TYPE_ZSET.
    fn text_double(&mut self) -> Result<f64> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => parse_double(self.take(n as usize)?).ok_or(bad("bad double")),
        }
    }
}

fn parse_double(s: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(s).ok()?;
    if s.is_empty() || s.trim() != s {
        return None;
    }
    s.parse::<f64>().ok()
}

fn item_double(i: &Item) -> Result<f64> {
    let d = match i {
        Item::Int(v) => *v as f64,
        Item::Str(s) => parse_double(s).ok_or(bad("bad score"))?,
    };
    if d.is_nan() {
        return Err(bad("NaN score"));
    }
    Ok(d)
}

fn nonempty<T>(n: usize, v: T) -> Result<T> {
    if n == 0 { Err(bad("empty key")) } else { Ok(v) }
}

fn list_from<I: IntoIterator<Item = Bytes>>(items: I) -> Result<Value> {
    let mut l = List::new();
    for i in items {
        l.push_back(&i);
    }
    nonempty(l.len(), Value::List(Box::new(l)))
}

fn set_from<I: IntoIterator<Item = Bytes>>(items: I, enc: &Encodings) -> Result<Value> {
    let mut s = Set::new();
    for m in items {
        if !s.insert(m, enc.max_intset) {
            return Err(bad("duplicate set member"));
        }
    }
    nonempty(s.len(), Value::Set(Box::new(s)))
}

fn hash_from<I: IntoIterator<Item = (Bytes, Bytes)>>(pairs: I, enc: &Encodings) -> Result<Value> {
    let mut h = Hash::new();
    for (f, v) in pairs {
        if !h.insert(f, v, enc.hash) {
            return Err(bad("duplicate hash field"));
        }
    }
    nonempty(h.len(), Value::Hash(Box::new(h)))
}

fn zset_from<I: IntoIterator<Item = (Bytes, f64)>>(pairs: I, enc: &Encodings) -> Result<Value> {
    let mut z: Option<ZSet> = None;
    for (m, score) in pairs {
        if score.is_nan() {
            return Err(bad("NaN score"));
        }
        let z = z.get_or_insert_with(|| ZSet::new(m.len(), enc.zset));
        if z.insert(m, score, enc.zset).is_some() {
            return Err(bad("duplicate sorted set member"));
        }
    }
    let z = z.ok_or(bad("empty key"))?;
    Ok(Value::ZSet(Box::new(z)))
}

fn pairs<'a>(items: &'a [Item<'a>]) -> Result<impl Iterator<Item = (&'a Item<'a>, &'a Item<'a>)>> {
    if !items.len().is_multiple_of(2) {
        return Err(bad("odd number of items in a pairs container"));
    }
    Ok(items.chunks_exact(2).map(|c| (&c[0], &c[1])))
}

fn items_of(blob: &[u8], ziplist: bool) -> Result<Vec<Item<'_>>> {
    if ziplist {
        listpack::ziplist_items(blob).ok_or(bad("corrupt ziplist"))
    } else {
        listpack::listpack_items(blob).ok_or(bad("corrupt listpack"))
    }
}

/// Reads the body of a value of RDB type `ty`.
pub fn read_value(r: &mut Reader, ty: u8, enc: &Encodings) -> Result<Value> {
    match ty {
        TYPE_STRING => Ok(Value::Str(r.string()?.into())),
        TYPE_LIST => {
            let n = r.count()?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(r.string()?);
            }
            list_from(items)
        }
        TYPE_LIST_ZIPLIST => {
            let blob = r.string()?;
            list_from(items_of(&blob, true)?.iter().map(Item::to_bytes))
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let nodes = r.count()?;
            let mut l = List::new();
            for _ in 0..nodes {
                let container = if ty == TYPE_LIST_QUICKLIST_2 {
                    r.length()?
                } else {
                    NODE_PACKED
                };
                let blob = r.string()?;
                match container {
                    NODE_PLAIN => l.push_back(&blob),
                    NODE_PACKED => {
                        for i in items_of(&blob, ty == TYPE_LIST_QUICKLIST)? {
                            l.push_back(&i.to_bytes());
                        }
                    }
                    _ => return Err(bad("unknown quicklist container")),
                }
            }
            nonempty(l.len(), Value::List(Box::new(l)))
        }
        TYPE_SET => {
            let n = r.count()?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(r.string()?);
            }
            set_from(items, enc)
        }
        TYPE_SET_INTSET => {
            let blob = r.string()?;
            let vals = listpack::intset_values(&blob).ok_or(bad("corrupt intset"))?;
            set_from(
                vals.iter()
                    .map(|v| Bytes::copy_from_slice(itoa::Buffer::new().format(*v).as_bytes())),
                enc,
            )
        }
        TYPE_SET_LISTPACK => {
            let blob = r.string()?;
            set_from(items_of(&blob, false)?.iter().map(Item::to_bytes), enc)
        }
        TYPE_HASH => {
            let n = r.count()?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push((r.string()?, r.string()?));
            }
            hash_from(items, enc)
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            // Redis converts a loaded listpack by its entry count only.
            let enc = &Encodings {
                hash: hash::Limits {
                    value: usize::MAX,
                    ..enc.hash
                },
                ..*enc
            };
            let blob = r.string()?;
            let items = items_of(&blob, ty == TYPE_HASH_ZIPLIST)?;
            hash_from(
                pairs(&items)?.map(|(f, v)| (f.to_bytes(), v.to_bytes())),
                enc,
            )
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count()?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let m = r.string()?;
                let s = if ty == TYPE_ZSET_2 {
                    r.binary_double()?
                } else {
                    r.text_double()?
                };
                items.push((m, s));
            }
            zset_from(items, enc)
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let enc = &Encodings {
                zset: zset::Limits {
                    value: usize::MAX,
                    ..enc.zset
                },
                ..*enc
            };
            let blob = r.string()?;
            let items = items_of(&blob, ty == TYPE_ZSET_ZIPLIST)?;
            let mut ps = Vec::with_capacity(items.len() / 2);
            for (m, s) in pairs(&items)? {
                ps.push((m.to_bytes(), item_double(s)?));
            }
            zset_from(ps, enc)
        }
        TYPE_STREAM_LISTPACKS_3 => Ok(Value::Stream(Box::new(stream::read(r, true, true)?))),
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => Ok(Value::Stream(Box::new(
            stream::read(r, ty == TYPE_STREAM_LISTPACKS_2, false)?,
        ))),
        _ => Err(bad("unsupported value type")),
    }
}

#[cfg(test)]
mod tests;
