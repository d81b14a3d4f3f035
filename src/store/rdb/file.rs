//! Whole RDB files: reading one into a fresh [`Keyspace`] (startup, DEBUG RELOAD,
//! `ferrymq check-rdb`).
//!
//! # API
//! - [`read_file`]: the bytes of a file and [`LoadOptions`] → [`Loaded`] (a keyspace, the
//!   function libraries' code, the aux fields, counters) or a [`LoadError`] naming the byte
//!   offset and the reason. Nothing is applied to a live server here: the caller swaps the
//!   keyspace in (and installs the libraries) only when the whole file was read, so a bad file
//!   never leaves a half-loaded dataset.
//!
//! What is read, as Redis 7.0's `rdbLoadRioWithLoadingCtx`: the `REDIS` magic and a version up
//! to 10 (and 11 and 12, Redis 7.2 and 7.4, for what maps onto 7.0's types: the set listpack,
//! the stream with consumer active times, the cluster-only slot info), `AUX`, `SELECTDB`,
//! `RESIZEDB`, `EXPIRETIME` / `EXPIRETIME_MS`, `IDLE` / `FREQ` (the key's access word),
//! `FUNCTION2`, every value type ([`super::read_value`]), `EOF` and the CRC-64 (a zero
//! checksum means "saved without one", as in Redis). Module data, the functions of the 7.0
//! release candidates and Redis 7.4's hash field expiries are refused with a clear reason.
//!
//! As a master does, keys whose expiry has passed are counted and skipped
//! ([`LoadOptions::skip_expired`]; off for an AOF preamble, whose incremental files delete them
//! themselves), and collections stored empty are skipped as Redis skips them.

use bytes::Bytes;

use super::{
    Encodings, OP_AUX, OP_EOF, OP_EXPIRETIME_MS, OP_FREQ, OP_FUNCTION2, OP_IDLE, OP_RESIZEDB,
    OP_SELECTDB, Reader, crc64, read_value,
};
use crate::store::access;
use crate::store::{Keyspace, Value};

/// The highest RDB version read (Redis 7.4's).
pub const MAX_VERSION: u16 = 12;

const OP_SLOT_INFO: u8 = 0xF4;
const OP_FUNCTION_PRE_GA: u8 = 0xF6;
const OP_MODULE_AUX: u8 = 0xF7;
const OP_EXPIRETIME: u8 = 0xFD;

/// How a file is loaded.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    pub enc: Encodings,
    /// `databases`: a `SELECTDB` at or past it is refused (as Redis exits on it)...
    pub databases: usize,
    /// ...unless the keyspace may grow to fit the file (`check-rdb`, which serves nothing).
    pub grow: bool,
    /// Unix ms compared with the expiries.
    pub now: i64,
    /// Skip keys already expired at `now` (a master loading its snapshot).
    pub skip_expired: bool,
    /// The access policy of the keyspace (words set from `IDLE` / `FREQ`).
    pub policy: access::Policy,
    /// Check the CRC-64 (`rdbchecksum yes`).
    pub checksum: bool,
}

/// A file read completely.
pub struct Loaded {
    pub keyspace: Keyspace,
    /// The code of each function library, in file order.
    pub functions: Vec<Bytes>,
    /// The aux fields, in file order.
    pub aux: Vec<(Bytes, Bytes)>,
    pub version: u16,
    /// Keys added to the keyspace, keys skipped as already expired, keys with an expiry,
    /// collections skipped because they were stored empty.
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub expires: u64,
    pub empty_skipped: u64,
    /// Whether the file carried a checksum (false: saved with `rdbchecksum no`).
    pub checksummed: bool,
    /// Where each aux field, database selection and library starts, described (check-rdb).
    pub trace: Vec<(usize, String)>,
    /// Offset of the checksum (or of the end, without one).
    pub end: usize,
}

/// Why a file was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Byte offset in the file where reading failed.
    pub offset: usize,
    pub reason: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at offset {}", self.reason, self.offset)
    }
}

impl std::error::Error for LoadError {}

/// The RDB version of a file's header, or why it is not an RDB file this server reads.
pub fn version_of(data: &[u8]) -> Result<u16, LoadError> {
    let err = |offset, reason: &str| LoadError {
        offset,
        reason: reason.to_string(),
    };
    if data.len() < 9 {
        return Err(err(data.len(), "Unexpected EOF reading the RDB header"));
    }
    if &data[..5] != b"REDIS" {
        return Err(err(0, "Wrong signature trying to load DB from file"));
    }
    let v = std::str::from_utf8(&data[5..9])
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| err(5, "Bad RDB version field"))?;
    if !(1..=MAX_VERSION).contains(&v) {
        return Err(err(5, &format!("Can't handle RDB format version {v}")));
    }
    Ok(v)
}

/// Read a whole RDB file (see the module documentation).
pub fn read_file(data: &[u8], opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let version = version_of(data)?;
    let mut r = Reader::new(data);
    r.pos = 9;
    let mut out = Loaded {
        keyspace: Keyspace::new(opts.databases.max(1)),
        functions: Vec::new(),
        aux: Vec::new(),
        version,
        keys_loaded: 0,
        keys_expired: 0,
        expires: 0,
        empty_skipped: 0,
        checksummed: false,
        trace: Vec::new(),
        end: 0,
    };
    out.keyspace.set_access(opts.policy);
    let at = |r: &Reader, reason: String| LoadError {
        offset: r.pos,
        reason,
    };
    // A length that runs past the end of the file is the file ending early.
    let eof = |e: super::Error| e.0 == "truncated" || e.0 == "count larger than the payload";
    let fail = |r: &Reader, e: super::Error, doing: &str| LoadError {
        offset: r.pos,
        reason: if eof(e) {
            format!("Unexpected EOF reading RDB file ({doing})")
        } else {
            format!("{} ({doing})", e.0)
        },
    };
    let mut db = 0usize;
    let (mut expire_at, mut idle, mut freq) = (None::<i64>, None::<u64>, None::<u32>);
    loop {
        let op_at = r.pos;
        let ty = r.byte().map_err(|e| fail(&r, e, "reading the type"))?;
        match ty {
            OP_EXPIRETIME => {
                let b = r
                    .take(4)
                    .map_err(|e| fail(&r, e, "reading an expire time"))?;
                expire_at = Some(i32::from_le_bytes(b.try_into().expect("4")) as i64 * 1000);
            }
            OP_EXPIRETIME_MS => {
                let b = r
                    .take(8)
                    .map_err(|e| fail(&r, e, "reading an expire time"))?;
                expire_at = Some(i64::from_le_bytes(b.try_into().expect("8")));
            }
            OP_FREQ => {
                freq = Some(r.byte().map_err(|e| fail(&r, e, "reading FREQ"))? as u32);
            }
            OP_IDLE => {
                idle = Some(r.length().map_err(|e| fail(&r, e, "reading IDLE"))?);
            }
            OP_EOF => break,
            OP_SELECTDB => {
                let start = r.pos;
                let id = r.length().map_err(|e| fail(&r, e, "reading SELECTDB"))?;
                if id >= out.keyspace.dbs.len() as u64 {
                    if !opts.grow || id >= 1 << 16 {
                        return Err(LoadError {
                            offset: start,
                            reason: format!(
                                "Data file was created with a server configured to handle more than {} databases",
                                out.keyspace.dbs.len()
                            ),
                        });
                    }
                    let mut ks = Keyspace::new(id as usize + 1);
                    for (i, d) in std::mem::take(&mut out.keyspace.dbs)
                        .into_iter()
                        .enumerate()
                    {
                        ks.dbs[i] = d;
                    }
                    ks.set_access(opts.policy);
                    out.keyspace = ks;
                }
                db = id as usize;
                out.trace.push((op_at, format!("Selecting DB ID {db}")));
            }
            OP_RESIZEDB => {
                r.length().map_err(|e| fail(&r, e, "reading RESIZEDB"))?;
                r.length().map_err(|e| fail(&r, e, "reading RESIZEDB"))?;
            }
            OP_SLOT_INFO => {
                for _ in 0..3 {
                    r.length().map_err(|e| fail(&r, e, "reading SLOT_INFO"))?;
                }
            }
            OP_AUX => {
                let k = r.string().map_err(|e| fail(&r, e, "reading an AUX key"))?;
                let v = r
                    .string()
                    .map_err(|e| fail(&r, e, "reading an AUX value"))?;
                out.trace.push((
                    op_at,
                    format!(
                        "AUX FIELD {} = '{}'",
                        String::from_utf8_lossy(&k),
                        String::from_utf8_lossy(&v)
                    ),
                ));
                out.aux.push((k, v));
            }
            OP_FUNCTION2 => {
                let code = r
                    .string()
                    .map_err(|e| fail(&r, e, "reading a function library"))?;
                out.trace.push((op_at, "Function library".to_string()));
                out.functions.push(code);
            }
            OP_FUNCTION_PRE_GA => {
                return Err(at(
                    &r,
                    "Pre-release function format (Redis 7.0 release candidates) not supported"
                        .into(),
                ));
            }
            OP_MODULE_AUX => {
                return Err(at(
                    &r,
                    "The RDB file contains AUX module data this server can't load (it has no modules)".into(),
                ));
            }
            6 | 7 => {
                return Err(at(
                    &r,
                    "The RDB file contains module data this server can't load (it has no modules)"
                        .into(),
                ));
            }
            22..=25 => {
                return Err(at(
                    &r,
                    format!("Hash with field expiries (Redis 7.4, RDB type {ty}) is not supported"),
                ));
            }
            _ => {
                let key_at = r.pos - 1;
                let key = r.string().map_err(|e| fail(&r, e, "reading a key"))?;
                let value_at = r.pos;
                let value = match read_value(&mut r, ty, &opts.enc) {
                    Ok(v) => Some(v),
                    Err(e) if e.0 == "empty key" => None,
                    Err(e) if e.0 == "unsupported value type" => {
                        return Err(LoadError {
                            offset: key_at,
                            reason: format!("Unknown RDB encoding type {ty}"),
                        });
                    }
                    Err(e) => {
                        let key = String::from_utf8_lossy(&key[..key.len().min(128)]);
                        return Err(if eof(e) {
                            LoadError {
                                offset: r.pos,
                                reason: format!(
                                    "Unexpected EOF reading RDB file (the value of key '{key}', type {ty}, starting at offset {value_at})"
                                ),
                            }
                        } else {
                            LoadError {
                                offset: value_at,
                                reason: format!("{} (the value of key '{key}', type {ty})", e.0),
                            }
                        });
                    }
                };
                let (exp, i, f) = (expire_at.take(), idle.take(), freq.take());
                let Some(value) = value else {
                    out.empty_skipped += 1;
                    continue;
                };
                if opts.skip_expired && exp.is_some_and(|t| t < opts.now) {
                    out.keys_expired += 1;
                    continue;
                }
                let d = &mut out.keyspace.dbs[db];
                if d.map.contains_key(&key[..]) {
                    return Err(LoadError {
                        offset: key_at,
                        reason: format!(
                            "Duplicated key '{}' in DB {db}",
                            String::from_utf8_lossy(&key[..key.len().min(128)])
                        ),
                    });
                }
                insert(d, key, value, exp, i, f, opts.policy);
                out.keys_loaded += 1;
                if exp.is_some() {
                    out.expires += 1;
                }
            }
        }
    }
    out.end = r.pos;
    if version >= 5 {
        let end = r.pos;
        let b = r.take(8).map_err(|e| fail(&r, e, "reading the checksum"))?;
        let stored = u64::from_le_bytes(b.try_into().expect("8"));
        out.checksummed = stored != 0;
        if opts.checksum && stored != 0 {
            let expected = crc64(0, &data[..end]);
            if stored != expected {
                return Err(LoadError {
                    offset: end,
                    reason: format!(
                        "RDB CRC error (expected {expected:x}, the file has {stored:x})"
                    ),
                });
            }
        }
    }
    Ok(out)
}

fn insert(
    d: &mut crate::store::Db,
    key: Bytes,
    value: Value,
    exp: Option<i64>,
    idle: Option<u64>,
    freq: Option<u32>,
    policy: access::Policy,
) {
    d.set(&key, value);
    if let Some(t) = exp {
        d.set_expire(&key, t);
    }
    if idle.is_some() || freq.is_some() {
        d.set_lru(&key, policy.restored(freq, idle));
    }
}

#[cfg(test)]
mod tests;
