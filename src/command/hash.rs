//! Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HDEL, HGETALL, HLEN, HEXISTS, HKEYS, HVALS,
//! HINCRBY, HINCRBYFLOAT, HSTRLEN, HSCAN, HRANDFIELD.
//!
//! Handlers parse and type-check, then work on [`crate::store::hash::Hash`]. A hash whose last
//! field is deleted is removed from the keyspace, as in Redis.

use bytes::Bytes;

use super::flags::*;
use super::keys::{parse_cursor, parse_scan_opts};
use super::{CommandSpec, Ctx, Write, is, parse_i64};
use crate::config::notify::HASH;
use crate::error;
use crate::protocol::Reply;
use crate::pubsub::glob::glob_match;
use crate::store::hash::{Hash, Limits};
use crate::store::{Db, Value, own};

const G: &str = "hash";

const HASH_NOT_INT: &str = "ERR hash value is not an integer";
const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
const OVERFLOW: &str = "ERR increment or decrement would overflow";
const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";

pub(crate) fn limits(ctx: &Ctx) -> Limits {
    Limits {
        entries: ctx.shared.encoding_knob("hash-max-listpack-entries"),
        value: ctx.shared.encoding_knob("hash-max-listpack-value"),
    }
}

/// The hash at `key`: Ok(None) when missing, Err(WRONGTYPE) for another type.
fn get_hash<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a Hash>, Reply> {
    match db.get(key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

fn get_hash_mut<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a mut Hash>, Reply> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

/// The hash at `key`, created empty when missing (the caller must then add a field).
fn hash_for_write<'a>(db: &'a mut Db, key: &Bytes) -> Result<&'a mut Hash, Reply> {
    match db.entry_or_insert_with(key, || Value::Hash(Box::new(Hash::new()))) {
        Value::Hash(h) => Ok(h),
        _ => Err(Reply::error(error::WRONGTYPE)),
    }
}

/// Set field/value pairs; returns how many fields are new. The caller records the write.
fn hset_pairs(ctx: &mut Ctx, key: &Bytes, pairs: &[Bytes]) -> Result<i64, Reply> {
    let limits = limits(ctx);
    let h = hash_for_write(ctx.db(), key)?;
    let longest = pairs.iter().map(|b| b.len()).max().unwrap_or(0);
    h.prepare(longest, limits);
    let mut created = 0;
    for fv in pairs.chunks(2) {
        if h.insert(own(&fv[0]), own(&fv[1]), limits) {
            created += 1;
        }
    }
    Ok(created)
}

// HSET key field value [field value ...]
fn hset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if !args.len().is_multiple_of(2) {
        return Reply::Error(error::wrong_args("hset").into());
    }
    let created = tri!(hset_pairs(ctx, &args[1], &args[2..]));
    // One change per field set, as Redis counts.
    ctx.wrote(
        Write::key(&args[1])
            .changes((args.len() - 2) / 2)
            .event(HASH, "hset"),
    );
    Reply::Int(created)
}

// HMSET key field value [field value ...]
fn hmset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if !args.len().is_multiple_of(2) {
        return Reply::Error(error::wrong_args("hmset").into());
    }
    tri!(hset_pairs(ctx, &args[1], &args[2..]));
    ctx.wrote(
        Write::key(&args[1])
            .changes((args.len() - 2) / 2)
            .event(HASH, "hset"),
    );
    Reply::Ok
}

// HSETNX key field value
fn hsetnx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Some(h) = tri!(get_hash(ctx.db(), &args[1]))
        && h.contains(&args[2])
    {
        return Reply::Int(0);
    }
    tri!(hset_pairs(ctx, &args[1], &args[2..4]));
    ctx.wrote(Write::key(&args[1]).event(HASH, "hset"));
    Reply::Int(1)
}

// HGET key field
fn hget(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match tri!(get_hash(ctx.db(), &args[1])).and_then(|h| h.get(&args[2])) {
        Some(v) => Reply::Bulk(v.clone()),
        None => Reply::Null,
    }
}

// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let h = tri!(get_hash(ctx.db(), &args[1]));
    Reply::Array(
        args[2..]
            .iter()
            .map(|f| match h.and_then(|h| h.get(f)) {
                Some(v) => Reply::Bulk(v.clone()),
                None => Reply::Null,
            })
            .collect(),
    )
}

// HDEL key field [field ...]
fn hdel(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let Some(h) = tri!(get_hash_mut(db, &args[1])) else {
        return Reply::Int(0);
    };
    let mut n = 0;
    for f in &args[2..] {
        if h.remove(f) {
            n += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if h.is_empty() {
        db.remove(&args[1]);
    }
    if n > 0 {
        ctx.wrote(
            Write::key(&args[1])
                .changes(n as usize)
                .event(HASH, "hdel")
                .del_if_gone(),
        );
    }
    Reply::Int(n)
}

// HLEN key
fn hlen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    Reply::Int(tri!(get_hash(ctx.db(), &args[1])).map_or(0, |h| h.len()) as i64)
}

// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let h = tri!(get_hash(ctx.db(), &args[1]));
    Reply::Int(h.and_then(|h| h.get(&args[2])).map_or(0, |v| v.len()) as i64)
}

// HEXISTS key field
fn hexists(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let h = tri!(get_hash(ctx.db(), &args[1]));
    Reply::Int(h.is_some_and(|h| h.contains(&args[2])) as i64)
}

fn getall(ctx: &mut Ctx, key: &[u8], fields: bool, values: bool) -> Reply {
    let h = tri!(get_hash(ctx.db(), key));
    let Some(h) = h else {
        return if fields && values {
            Reply::Map(vec![])
        } else {
            Reply::Array(vec![])
        };
    };
    if fields && values {
        Reply::Map(
            h.iter()
                .map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone())))
                .collect(),
        )
    } else {
        Reply::Array(
            h.iter()
                .map(|(f, v)| Reply::Bulk(if fields { f.clone() } else { v.clone() }))
                .collect(),
        )
    }
}

// HGETALL key
fn hgetall(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    getall(ctx, &args[1], true, true)
}
// HKEYS key
fn hkeys(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    getall(ctx, &args[1], true, false)
}
// HVALS key
fn hvals(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    getall(ctx, &args[1], false, true)
}

// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let by = tri!(parse_i64(&args[3]));
    let cur = match tri!(get_hash(ctx.db(), &args[1])).and_then(|h| h.get(&args[2])) {
        Some(v) => match crate::protocol::request::parse_i64(v) {
            Some(n) => n,
            None => return Reply::error(HASH_NOT_INT),
        },
        None => 0,
    };
    let Some(new) = cur.checked_add(by) else {
        return Reply::error(OVERFLOW);
    };
    let v = Bytes::copy_from_slice(itoa::Buffer::new().format(new).as_bytes());
    tri!(hset_pairs(ctx, &args[1], &[args[2].clone(), v]));
    ctx.wrote(Write::key(&args[1]).event(HASH, "hincrby"));
    Reply::Int(new)
}

// HINCRBYFLOAT key field increment
fn hincrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    use super::string::long_double::{self, Ld};
    let Some(by) = long_double::parse(&args[3]) else {
        return Reply::error(error::NOT_FLOAT);
    };
    if matches!(by, Ld::Inf(_)) {
        return Reply::error("ERR value is NaN or Infinity");
    }
    let cur = match tri!(get_hash(ctx.db(), &args[1])).and_then(|h| h.get(&args[2])) {
        Some(v) => match long_double::parse(v) {
            Some(n) => n,
            None => return Reply::error(HASH_NOT_FLOAT),
        },
        None => Ld::Zero(false),
    };
    let Some(new) = long_double::add(cur, by) else {
        return Reply::error(NAN_OR_INF);
    };
    let v = Bytes::from(long_double::format(new));
    tri!(hset_pairs(ctx, &args[1], &[args[2].clone(), v.clone()]));
    // The float result, not the increment, is what replays identically.
    ctx.wrote(
        Write::key(&args[1])
            .event(HASH, "hincrbyfloat")
            .effect(vec![
                Bytes::from_static(b"HSET"),
                args[1].clone(),
                args[2].clone(),
                v.clone(),
            ]),
    );
    Reply::Bulk(v)
}

/// Cap on the number of elements a negative HRANDFIELD/SRANDMEMBER/ZRANDMEMBER count may ask
/// for, so a single request cannot make the server build a reply of unbounded size.
pub(crate) const RANDOM_COUNT_CAP: u64 = 1 << 24;

/// The count argument of HRANDFIELD/ZRANDMEMBER/SRANDMEMBER: (count, distinct).
pub(crate) fn parse_random_count(arg: &[u8]) -> Result<(usize, bool), Reply> {
    let n = parse_i64(arg)?;
    if n == i64::MIN {
        return Err(Reply::error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let distinct = n >= 0;
    let abs = n.unsigned_abs();
    // DEVIATION(redis): Redis accepts any |count|; above this cap we refuse rather than build
    // a reply of |count| elements.
    if !distinct && abs > RANDOM_COUNT_CAP {
        return Err(Reply::error("ERR value is out of range"));
    }
    Ok((abs.min(usize::MAX as u64) as usize, distinct))
}

/// `count` distinct indexes out of `0..len` (count < len), in ascending order.
pub(crate) fn distinct_indexes(len: usize, count: usize) -> Vec<usize> {
    let mut v = rand::seq::index::sample(&mut rand::rng(), len, count).into_vec();
    v.sort_unstable();
    v
}

// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 4 || (args.len() == 4 && !is(&args[3], "withvalues")) {
        return Reply::error(error::SYNTAX);
    }
    let with_values = args.len() == 4;
    let resp = ctx.resp();
    let count = if args.len() >= 3 {
        Some(tri!(parse_random_count(&args[2])))
    } else {
        None
    };
    let h = tri!(get_hash(ctx.db(), &args[1]));
    let Some((count, distinct)) = count else {
        return match h {
            Some(h) => {
                let i = rand::random_range(0..h.len());
                Reply::Bulk(h.nth(i).expect("in range").0.clone())
            }
            None => Reply::Null,
        };
    };
    let Some(h) = h else {
        return Reply::Array(vec![]);
    };
    let item = |(f, v): (&Bytes, &Bytes)| {
        if with_values {
            Reply::Array(vec![Reply::Bulk(f.clone()), Reply::Bulk(v.clone())])
        } else {
            Reply::Bulk(f.clone())
        }
    };
    let picked: Vec<(&Bytes, &Bytes)> = if count == 0 {
        vec![]
    } else if !distinct {
        let all: Vec<(&Bytes, &Bytes)> = h.iter().collect();
        (0..count)
            .map(|_| all[rand::random_range(0..all.len())])
            .collect()
    } else if count >= h.len() {
        h.iter().collect()
    } else {
        let idx = distinct_indexes(h.len(), count);
        let mut it = h.iter().enumerate();
        idx.iter()
            .filter_map(|&i| it.by_ref().find(|(j, _)| *j == i).map(|(_, p)| p))
            .collect()
    };
    flatten_pairs(resp, with_values, picked.into_iter().map(item).collect())
}

/// RESP2 replies with values are flat arrays; RESP3 keeps the pairs.
pub(crate) fn flatten_pairs(resp: u8, pairs: bool, items: Vec<Reply>) -> Reply {
    if !pairs || resp >= 3 {
        return Reply::Array(items);
    }
    let mut out = Vec::with_capacity(items.len() * 2);
    for i in items {
        match i {
            Reply::Array(v) => out.extend(v),
            other => out.push(other),
        }
    }
    Reply::Array(out)
}

/// The loop of Redis's scanGenericCommand: take steps (each visits one bucket and returns the
/// next cursor and how many reply entries are gathered so far) until `count` entries are
/// gathered, the walk ends (cursor 0), or `count * 10` buckets were visited, so that one call
/// costs O(count) however large or sparse the table. Returns the cursor to hand back. As in
/// Redis, a hash field and its value (a sorted-set member and its score) count as two entries.
pub(crate) fn scan_loop(
    mut cursor: u64,
    count: usize,
    mut step: impl FnMut(u64) -> (u64, usize),
) -> u64 {
    let mut budget = count.saturating_mul(10);
    loop {
        let (next, gathered) = step(cursor);
        cursor = next;
        budget -= 1;
        if cursor == 0 || budget == 0 || gathered >= count {
            return cursor;
        }
    }
}

pub(crate) fn scan_reply(next: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(items),
    ])
}

pub(crate) fn scan_match(pattern: &Option<Bytes>, b: &[u8]) -> bool {
    match pattern.as_deref() {
        None | Some(b"*") => true,
        Some(p) => glob_match(p, b, false),
    }
}

// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let cursor = tri!(parse_cursor(&args[2]));
    let opts = tri!(parse_scan_opts(&args[3..], false));
    let Some(h) = tri!(get_hash(ctx.db(), &args[1])) else {
        return scan_reply(0, vec![]);
    };
    let mut chosen: Vec<(Bytes, Bytes)> = Vec::new();
    let next = scan_loop(cursor, opts.count, |c| {
        let next = h.scan(c, |f, v| chosen.push((f.clone(), v.clone())));
        (next, chosen.len() * 2)
    });
    let mut out = Vec::new();
    for (f, v) in chosen {
        if scan_match(&opts.pattern, &f) {
            out.push(Reply::Bulk(f));
            out.push(Reply::Bulk(v));
        }
    }
    scan_reply(next, out)
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE | DENYOOM | FAST, hset)
        .keys(1, 1, 1)
        .group(G)
        .doc("Set the string value of a hash field", "2.0.0"),
    CommandSpec::new("hsetnx", 4, WRITE | DENYOOM | FAST, hsetnx)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Set the value of a hash field, only if the field does not exist",
            "2.0.0",
        ),
    CommandSpec::new("hmset", -4, WRITE | DENYOOM | FAST, hmset)
        .keys(1, 1, 1)
        .group(G)
        .doc("Set multiple hash fields to multiple values", "2.0.0"),
    CommandSpec::new("hget", 3, READONLY | FAST, hget)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get the value of a hash field", "2.0.0"),
    CommandSpec::new("hmget", -3, READONLY | FAST, hmget)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get the values of all the given hash fields", "2.0.0"),
    CommandSpec::new("hdel", -3, WRITE | FAST, hdel)
        .keys(1, 1, 1)
        .group(G)
        .doc("Delete one or more hash fields", "2.0.0"),
    CommandSpec::new("hgetall", 2, READONLY, hgetall)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get all the fields and values in a hash", "2.0.0"),
    CommandSpec::new("hlen", 2, READONLY | FAST, hlen)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get the number of fields in a hash", "2.0.0"),
    CommandSpec::new("hexists", 3, READONLY | FAST, hexists)
        .keys(1, 1, 1)
        .group(G)
        .doc("Determine if a hash field exists", "2.0.0"),
    CommandSpec::new("hkeys", 2, READONLY, hkeys)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get all the fields in a hash", "2.0.0"),
    CommandSpec::new("hvals", 2, READONLY, hvals)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get all the values in a hash", "2.0.0"),
    CommandSpec::new("hincrby", 4, WRITE | DENYOOM | FAST, hincrby)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Increment the integer value of a hash field by the given number",
            "2.0.0",
        ),
    CommandSpec::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, hincrbyfloat)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Increment the float value of a hash field by the given amount",
            "2.6.0",
        ),
    CommandSpec::new("hstrlen", 3, READONLY | FAST, hstrlen)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get the length of the value of a hash field", "3.2.0"),
    CommandSpec::new("hscan", -3, READONLY, hscan)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Incrementally iterate hash fields and associated values",
            "2.8.0",
        ),
    CommandSpec::new("hrandfield", -2, READONLY, hrandfield)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get one or multiple random fields from a hash", "6.2.0"),
];
