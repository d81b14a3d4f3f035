//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! A HyperLogLog is a string value in Redis's exact byte layout ([`crate::store::hll`]), so a
//! handler takes the string out of the keyspace as a `Vec`, updates it, and puts it back (the
//! TTL stays). A string that fails the HyperLogLog check answers
//! `WRONGTYPE Key is not a valid HyperLogLog string value.`; a sparse one whose runs do not
//! cover the registers answers `INVALIDOBJ`.
//!
//! Writes: PFADD and PFMERGE raise `pfadd` (class `$`) and replay as sent. A single-key PFCOUNT
//! that refreshes the cached cardinality stores it in the value, counts as a change and is
//! replayed as sent, although it is a read-only command (as Redis 7.0 does: it raises no
//! event). PFDEBUG GETREG/TODENSE count a change when they convert a sparse value.
//!
//! DEVIATION(redis): OBJECT ENCODING of a short HyperLogLog says `embstr` (string values keep
//! no encoding here; Redis says `raw` for one PFADD created).

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, Write, is};
use crate::config::notify::STRING;
use crate::error;
use crate::protocol::Reply;
use crate::store::hll::{self, Corrupt};
use crate::store::{CompactBytes, Db, Value, string_form};

const G: &str = "hyperloglog";

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";

fn sparse_max(ctx: &Ctx) -> usize {
    ctx.shared.encoding_knob("hll-sparse-max-bytes")
}

/// The HyperLogLog at `key` for reading: Ok(None) when missing, Err for another type or a
/// string that is not a HyperLogLog.
fn get_hll(db: &mut Db, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    match db.get(key) {
        None => Ok(None),
        Some(Value::Str(b)) if hll::is_hll(b) => Ok(Some(b.to_bytes())),
        Some(Value::Str(_)) => Err(Reply::error(NOT_HLL)),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

/// Take the HyperLogLog at `key` out for updating (put it back with [`put_hll`]); Ok(None)
/// when missing.
fn take_hll(db: &mut Db, key: &[u8]) -> Result<Option<Vec<u8>>, Reply> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(Value::Str(b)) if hll::is_hll(b) => Ok(Some(Vec::from(std::mem::take(b)))),
        Some(Value::Str(_)) => Err(Reply::error(NOT_HLL)),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

/// Store `hll` at `key`: in place when the key exists (its TTL stays), else as a new key. Like
/// every string the HyperLogLog commands update, it is raw afterwards (Redis unshares it).
fn put_hll(db: &mut Db, key: &Bytes, hll: Vec<u8>) {
    match db.get_mut(key) {
        Some(Value::Str(b)) => *b = CompactBytes::from(hll),
        _ => db.set(key, Value::Str(CompactBytes::from(hll))),
    }
    db.set_string_form(key, string_form::RAW);
}

// PFADD key [element [element ...]]
fn pfadd(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let max = sparse_max(ctx);
    let key = &args[1];
    let db = ctx.db();
    let (mut h, mut updated) = match tri!(take_hll(db, key)) {
        Some(h) => (h, 0),
        None => {
            db.set(key, Value::Str(CompactBytes::default()));
            (hll::new_sparse(), 1)
        }
    };
    let mut corrupt = false;
    for ele in &args[2..] {
        match hll::add(&mut h, ele, max) {
            Ok(true) => updated += 1,
            Ok(false) => {}
            Err(Corrupt) => {
                corrupt = true;
                break;
            }
        }
    }
    if updated > 0 && !corrupt {
        hll::invalidate(&mut h);
    }
    put_hll(db, key, h);
    if corrupt {
        // Registers updated before the bad run stay, unannounced, as in Redis.
        return Reply::error(INVALID);
    }
    if updated > 0 {
        ctx.wrote(Write::key(key).changes(updated).event(STRING, "pfadd"));
    }
    Reply::Int((updated > 0) as i64)
}

// PFCOUNT key [key ...]
fn pfcount(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 2 {
        // The cardinality of the union; nothing is cached.
        let mut max = vec![0u8; hll::REGISTERS];
        let db = ctx.db();
        for key in &args[1..] {
            if let Some(h) = tri!(get_hll(db, key))
                && hll::merge_max(&mut max, &h).is_err()
            {
                return Reply::error(INVALID);
            }
        }
        return Reply::Int(hll::count_raw(&max) as i64);
    }
    let key = &args[1];
    let db = ctx.db();
    let Some(cur) = tri!(get_hll(db, key)) else {
        return Reply::Int(0);
    };
    // Redis unshares the string before reading its cache: raw from now on.
    db.set_string_form(key, string_form::RAW);
    if let Some(card) = hll::cached(&cur) {
        return Reply::Int(card as i64);
    }
    let Ok(card) = hll::count(&cur) else {
        return Reply::error(INVALID);
    };
    drop(cur);
    let Some(mut h) = tri!(take_hll(db, key)) else {
        unreachable!("read above");
    };
    hll::store_cached(&mut h, card);
    put_hll(db, key, h);
    // A read-only command that changed the value: replayed as sent, no event.
    ctx.wrote(Write::key(key).effect(args.to_vec()));
    Reply::Int(card as i64)
}

// PFMERGE destkey [sourcekey [sourcekey ...]]
fn pfmerge(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let sparse_max = sparse_max(ctx);
    let dest = &args[1];
    let db = ctx.db();
    // The destination's own registers take part (it is the first key read).
    let mut max = vec![0u8; hll::REGISTERS];
    let mut use_dense = false;
    for key in &args[1..] {
        if let Some(h) = tri!(get_hll(db, key)) {
            use_dense |= hll::is_dense(&h);
            if hll::merge_max(&mut max, &h).is_err() {
                return Reply::error(INVALID);
            }
        }
    }
    let mut h = match tri!(take_hll(db, dest)) {
        Some(h) => h,
        None => {
            db.set(dest, Value::Str(CompactBytes::default()));
            hll::new_sparse()
        }
    };
    if use_dense && hll::to_dense(&mut h).is_err() {
        put_hll(db, dest, h);
        return Reply::error(INVALID);
    }
    for (i, &v) in max.iter().enumerate() {
        if v != 0 {
            // The destination was checked while merging, so this cannot fail.
            let _ = hll::set_register(&mut h, i, v, sparse_max);
        }
    }
    hll::invalidate(&mut h);
    put_hll(db, dest, h);
    ctx.wrote(Write::key(dest).event(STRING, "pfadd"));
    Reply::Ok
}

// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
fn pfdebug(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (sub, key) = (&args[1], &args[2]);
    let db = ctx.db();
    let Some(mut h) = tri!(take_hll(db, key)) else {
        return Reply::error("ERR The specified key does not exist");
    };
    let converts = is(sub, "getreg") || is(sub, "todense");
    let converted = if converts {
        match hll::to_dense(&mut h) {
            Ok(c) => c,
            Err(Corrupt) => {
                put_hll(db, key, h);
                return Reply::error(INVALID);
            }
        }
    } else {
        false
    };
    let reply = if is(sub, "getreg") {
        Reply::Array(
            hll::registers(&h)
                .into_iter()
                .map(|v| Reply::Int(v as i64))
                .collect(),
        )
    } else if is(sub, "todense") {
        Reply::Int(converted as i64)
    } else if is(sub, "encoding") {
        Reply::status(if hll::is_dense(&h) { "dense" } else { "sparse" })
    } else if is(sub, "decode") {
        if hll::is_dense(&h) {
            Reply::error("ERR HLL encoding is not sparse")
        } else {
            Reply::Bulk(Bytes::from(hll::decode_sparse(&h)))
        }
    } else {
        Reply::error(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        ))
    };
    put_hll(db, key, h);
    if converted {
        // A change of encoding only: no event.
        // DEVIATION(redis): WATCH sees the key modified; Redis counts the change without
        // signalling the key.
        ctx.wrote(Write::key(key));
    }
    reply
}

// PFSELFTEST
fn pfselftest(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    // Redis's sizes: a few seconds of work, without the store lock (no data is involved).
    match hll::selftest(1000, 10_000_000, sparse_max(ctx)) {
        Ok(()) => Reply::Ok,
        Err(e) => Reply::error(e),
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, WRITE | DENYOOM | FAST, pfadd)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Adds the specified elements to the specified HyperLogLog.",
            "2.8.9",
        ),
    CommandSpec::new("pfcount", -2, READONLY | MAY_REPLICATE, pfcount)
        .keys(1, -1, 1)
        .group(G)
        .doc(
            "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
            "2.8.9",
        ),
    CommandSpec::new("pfmerge", -2, WRITE | DENYOOM, pfmerge)
        .keys(1, -1, 1)
        .group(G)
        .doc("Merge N different HyperLogLogs into a single one.", "2.8.9"),
    CommandSpec::new("pfdebug", 3, WRITE | DENYOOM | ADMIN, pfdebug)
        .keys(2, 2, 1)
        .group(G)
        .doc("Internal commands for debugging HyperLogLog values", "2.8.9"),
    CommandSpec::new("pfselftest", 1, ADMIN, pfselftest)
        .group(G)
        .doc("An internal command for testing HyperLogLog values", "2.8.9"),
];
