//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER, SMOVE,
//! SINTER/SUNION/SDIFF (+STORE), SINTERCARD, SSCAN.
//!
//! Handlers parse and type-check, then work on [`crate::store::set::Set`]. A set whose last
//! member goes is removed from the keyspace. SPOP picks at random, so it propagates the SREM of
//! what it popped, never itself.

use bytes::Bytes;

use super::flags::*;
use super::hash::{distinct_indexes, parse_random_count, scan_loop, scan_match, scan_reply};
use super::keys::{parse_cursor, parse_scan_opts};
use super::{CommandSpec, Ctx, Write, is, parse_i64};
use crate::config::notify::{GENERIC, SET};
use crate::error;
use crate::protocol::Reply;
use crate::store::set::Set;
use crate::store::{Db, Value, own};

const G: &str = "set";

fn max_intset(ctx: &Ctx) -> usize {
    ctx.shared.encoding_knob("set-max-intset-entries")
}

fn get_set<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a Set>, Reply> {
    match db.get(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

fn get_set_mut<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a mut Set>, Reply> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

fn bulks_set(members: impl Iterator<Item = Bytes>) -> Reply {
    Reply::Set(members.map(Reply::Bulk).collect())
}

// SADD key member [member ...]
fn sadd(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let max = max_intset(ctx);
    let db = ctx.db();
    let s = match db.entry_or_insert_with(&args[1], || Value::Set(Box::new(Set::new()))) {
        Value::Set(s) => s,
        _ => return Reply::error(error::WRONGTYPE),
    };
    let mut n = 0;
    for m in &args[2..] {
        if s.insert(own(m), max) {
            n += 1;
        }
    }
    if n > 0 {
        ctx.wrote(Write::key(&args[1]).changes(n as usize).event(SET, "sadd"));
    }
    Reply::Int(n)
}

// SREM key member [member ...]
fn srem(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let Some(s) = tri!(get_set_mut(db, &args[1])) else {
        return Reply::Int(0);
    };
    let mut n = 0;
    for m in &args[2..] {
        if s.remove(m) {
            n += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if s.is_empty() {
        db.remove(&args[1]);
    }
    if n > 0 {
        ctx.wrote(
            Write::key(&args[1])
                .changes(n as usize)
                .event(SET, "srem")
                .del_if_gone(),
        );
    }
    Reply::Int(n)
}

// SMEMBERS key
fn smembers(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match tri!(get_set(ctx.db(), &args[1])) {
        Some(s) => bulks_set(s.iter()),
        None => Reply::Set(vec![]),
    }
}

// SISMEMBER key member
fn sismember(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let s = tri!(get_set(ctx.db(), &args[1]));
    Reply::Int(s.is_some_and(|s| s.contains(&args[2])) as i64)
}

// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let s = tri!(get_set(ctx.db(), &args[1]));
    Reply::Array(
        args[2..]
            .iter()
            .map(|m| Reply::Int(s.is_some_and(|s| s.contains(m)) as i64))
            .collect(),
    )
}

// SCARD key
fn scard(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    Reply::Int(tri!(get_set(ctx.db(), &args[1])).map_or(0, |s| s.len()) as i64)
}

/// The removal of `popped` from `key` as the effects to replay.
fn srem_effects(key: &Bytes, popped: &[Bytes]) -> Vec<Vec<Bytes>> {
    popped
        .chunks(1024)
        .map(|chunk| {
            let mut eff = Vec::with_capacity(chunk.len() + 2);
            eff.push(Bytes::from_static(b"SREM"));
            eff.push(key.clone());
            eff.extend(chunk.iter().cloned());
            eff
        })
        .collect()
}

// SPOP key [count]
fn spop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return Reply::error(error::SYNTAX);
    }
    let count = if args.len() == 3 {
        match crate::protocol::request::parse_i64(&args[2]) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return Reply::error("ERR value is out of range, must be positive"),
        }
    } else {
        None
    };
    let key = &args[1];
    let db = ctx.db();
    let Some(s) = tri!(get_set_mut(db, key)) else {
        return if count.is_some() {
            Reply::Set(vec![])
        } else {
            Reply::Null
        };
    };
    // SPOP with a count that takes every member replays as DEL, as Redis propagates it.
    let took_all = count.is_some_and(|n| n as usize >= s.len());
    let popped: Vec<Bytes> = match count {
        None => s.pop_random().into_iter().collect(),
        Some(n) if n as usize >= s.len() => {
            let all: Vec<Bytes> = s.iter().collect();
            *s = Set::new();
            all
        }
        Some(n) => {
            let n = n as usize;
            let idx = distinct_indexes(s.len(), n);
            let mut it = s.iter().enumerate();
            let chosen: Vec<Bytes> = idx
                .iter()
                .filter_map(|&i| it.by_ref().find(|(j, _)| *j == i).map(|(_, m)| m))
                .collect();
            drop(it);
            for m in &chosen {
                s.remove(m);
            }
            chosen
        }
    };
    if s.is_empty() {
        db.remove(key);
    }
    if !popped.is_empty() {
        ctx.wrote(
            Write::key(key)
                .changes(popped.len())
                .event(SET, "spop")
                .del_if_gone()
                .effects(if took_all {
                    vec![vec![Bytes::from_static(b"DEL"), key.clone()]]
                } else {
                    srem_effects(key, &popped)
                }),
        );
    }
    match count {
        None => popped
            .into_iter()
            .next()
            .map(Reply::Bulk)
            .unwrap_or(Reply::Null),
        Some(_) => bulks_set(popped.into_iter()),
    }
}

// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return Reply::error(error::SYNTAX);
    }
    let count = if args.len() == 3 {
        Some(tri!(parse_random_count(&args[2])))
    } else {
        None
    };
    let s = tri!(get_set(ctx.db(), &args[1]));
    let Some((count, distinct)) = count else {
        return s
            .and_then(|s| s.random())
            .map(Reply::Bulk)
            .unwrap_or(Reply::Null);
    };
    let Some(s) = s else {
        return Reply::Array(vec![]);
    };
    let picked: Vec<Bytes> = if count == 0 {
        vec![]
    } else if !distinct {
        (0..count).filter_map(|_| s.random()).collect()
    } else if count >= s.len() {
        s.iter().collect()
    } else {
        let idx = distinct_indexes(s.len(), count);
        let mut it = s.iter().enumerate();
        idx.iter()
            .filter_map(|&i| it.by_ref().find(|(j, _)| *j == i).map(|(_, m)| m))
            .collect()
    };
    Reply::bulks(picked)
}

// SMOVE source destination member
fn smove(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (src, dst, m) = (&args[1], &args[2], &args[3]);
    let max = max_intset(ctx);
    let db = ctx.db();
    let in_src = match tri!(get_set(db, src)) {
        None => return Reply::Int(0),
        Some(s) => s.contains(m),
    };
    tri!(get_set(db, dst));
    if src == dst {
        return Reply::Int(in_src as i64);
    }
    if !in_src {
        return Reply::Int(0);
    }
    let s = tri!(get_set_mut(db, src)).expect("checked above");
    s.remove(m);
    if s.is_empty() {
        db.remove(src);
    }
    // The source's events come before the destination is created (Redis's order).
    ctx.wrote(Write::key(src).event(SET, "srem").del_if_gone());
    let added = match ctx
        .db()
        .entry_or_insert_with(dst, || Value::Set(Box::new(Set::new())))
    {
        Value::Set(d) => d.insert(own(m), max),
        _ => false,
    };
    // The destination is modified (a change, WATCH, its event) only when the member was new
    // to it, as Redis 7.0 has it.
    if added {
        ctx.wrote(Write::key(dst).event(SET, "sadd"));
    }
    Reply::Int(1)
}

/// The sets named by `keys` (None for missing keys), or WRONGTYPE if any key holds another type.
fn load_sets<'a>(db: &'a mut Db, keys: &[Bytes]) -> Result<Vec<Option<&'a Set>>, Reply> {
    for k in keys {
        get_set(db, k)?;
    }
    Ok(keys
        .iter()
        .map(|k| match db.map.get(&k[..]).map(|e| &e.value) {
            Some(Value::Set(s)) => Some(&**s),
            _ => None,
        })
        .collect())
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Members of the intersection/union/difference, in the order Redis replies them: the
/// smallest set's order for intersections, the result set's own order otherwise.
fn combine(db: &mut Db, keys: &[Bytes], op: Op, max: usize, limit: usize) -> Result<Set, Reply> {
    let sets = load_sets(db, keys)?;
    let mut out = Set::new();
    match op {
        Op::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return Ok(out);
            }
            let mut sets: Vec<&Set> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|s| s.len());
            for m in sets[0].iter() {
                if sets[1..].iter().all(|s| s.contains(&m)) {
                    out.insert(m, max);
                    if limit > 0 && out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Op::Union => {
            for s in sets.into_iter().flatten() {
                for m in s.iter() {
                    out.insert(m, max);
                }
            }
        }
        Op::Diff => {
            let Some(first) = sets[0] else {
                return Ok(out);
            };
            for m in first.iter() {
                if !sets[1..].iter().flatten().any(|s| s.contains(&m)) {
                    out.insert(m, max);
                }
            }
        }
    }
    Ok(out)
}

/// Intersection replies iterate the smallest input directly (not a result set).
fn inter_members(db: &mut Db, keys: &[Bytes]) -> Result<Vec<Bytes>, Reply> {
    let sets = load_sets(db, keys)?;
    if sets.iter().any(|s| s.is_none()) {
        return Ok(vec![]);
    }
    let mut sets: Vec<&Set> = sets.into_iter().flatten().collect();
    sets.sort_by_key(|s| s.len());
    Ok(sets[0]
        .iter()
        .filter(|m| sets[1..].iter().all(|s| s.contains(m)))
        .collect())
}

fn read_generic(ctx: &mut Ctx, args: &[Bytes], op: Op) -> Reply {
    let max = max_intset(ctx);
    let db = ctx.db();
    if op == Op::Inter {
        return bulks_set(tri!(inter_members(db, &args[1..])).into_iter());
    }
    let r = tri!(combine(db, &args[1..], op, max, 0));
    bulks_set(r.iter())
}

fn store_generic(ctx: &mut Ctx, args: &[Bytes], op: Op) -> Reply {
    let max = max_intset(ctx);
    let dst = &args[1];
    let db = ctx.db();
    let r = tri!(combine(db, &args[2..], op, max, 0));
    let n = r.len() as i64;
    if r.is_empty() {
        if db.delete(dst).is_some() {
            ctx.wrote(Write::key(dst).event(GENERIC, "del"));
        }
    } else {
        db.set(dst, Value::Set(Box::new(r)));
        let event = match op {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        };
        ctx.wrote(Write::key(dst).event(SET, event));
    }
    Reply::Int(n)
}

// SINTER key [key ...]
fn sinter(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    read_generic(ctx, args, Op::Inter)
}
// SUNION key [key ...]
fn sunion(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    read_generic(ctx, args, Op::Union)
}
// SDIFF key [key ...]
fn sdiff(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    read_generic(ctx, args, Op::Diff)
}
// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    store_generic(ctx, args, Op::Inter)
}
// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    store_generic(ctx, args, Op::Union)
}
// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    store_generic(ctx, args, Op::Diff)
}

// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let numkeys = match crate::protocol::request::parse_i64(&args[1]) {
        Some(n) if n > 0 => n as u64,
        _ => return Reply::error("ERR numkeys should be greater than 0"),
    };
    if numkeys > (args.len() - 2) as u64 {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if is(&args[i], "limit") && i + 1 < args.len() {
            // Any unparsable or negative LIMIT gets this one error, as in Redis.
            let l = parse_i64(&args[i + 1]).unwrap_or(-1);
            if l < 0 {
                return Reply::error("ERR LIMIT can't be negative");
            }
            limit = l as usize;
            i += 2;
        } else {
            return Reply::error(error::SYNTAX);
        }
    }
    let max = max_intset(ctx);
    let r = tri!(combine(
        ctx.db(),
        &args[2..2 + numkeys],
        Op::Inter,
        max,
        limit
    ));
    Reply::Int(r.len() as i64)
}

// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let cursor = tri!(parse_cursor(&args[2]));
    let opts = tri!(parse_scan_opts(&args[3..], false));
    let Some(s) = tri!(get_set(ctx.db(), &args[1])) else {
        return scan_reply(0, vec![]);
    };
    let mut chosen: Vec<Bytes> = Vec::new();
    let next = scan_loop(cursor, opts.count, |c| {
        let next = s.scan(c, |m| chosen.push(m));
        (next, chosen.len())
    });
    let out = chosen
        .into_iter()
        .filter(|m| scan_match(&opts.pattern, m))
        .map(Reply::Bulk)
        .collect();
    scan_reply(next, out)
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, WRITE | DENYOOM | FAST, sadd)
        .keys(1, 1, 1)
        .group(G)
        .doc("Add one or more members to a set", "1.0.0"),
    CommandSpec::new("srem", -3, WRITE | FAST, srem)
        .keys(1, 1, 1)
        .group(G)
        .doc("Remove one or more members from a set", "1.0.0"),
    CommandSpec::new("smembers", 2, READONLY, smembers)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get all the members in a set", "1.0.0"),
    CommandSpec::new("sismember", 3, READONLY | FAST, sismember)
        .keys(1, 1, 1)
        .group(G)
        .doc("Determine if a given value is a member of a set", "1.0.0"),
    CommandSpec::new("smismember", -3, READONLY | FAST, smismember)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Returns the membership associated with the given elements for a set",
            "6.2.0",
        ),
    CommandSpec::new("scard", 2, READONLY | FAST, scard)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get the number of members in a set", "1.0.0"),
    CommandSpec::new("spop", -2, WRITE | FAST, spop)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Remove and return one or multiple random members from a set",
            "1.0.0",
        ),
    CommandSpec::new("srandmember", -2, READONLY, srandmember)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get one or multiple random members from a set", "1.0.0"),
    CommandSpec::new("smove", 4, WRITE | FAST, smove)
        .keys(1, 2, 1)
        .group(G)
        .doc("Move a member from one set to another", "1.0.0"),
    CommandSpec::new("sinter", -2, READONLY, sinter)
        .keys(1, -1, 1)
        .group(G)
        .doc("Intersect multiple sets", "1.0.0"),
    CommandSpec::new("sinterstore", -3, WRITE | DENYOOM, sinterstore)
        .keys(1, -1, 1)
        .group(G)
        .doc(
            "Intersect multiple sets and store the resulting set in a key",
            "1.0.0",
        ),
    CommandSpec::new("sunion", -2, READONLY, sunion)
        .keys(1, -1, 1)
        .group(G)
        .doc("Add multiple sets", "1.0.0"),
    CommandSpec::new("sunionstore", -3, WRITE | DENYOOM, sunionstore)
        .keys(1, -1, 1)
        .group(G)
        .doc(
            "Add multiple sets and store the resulting set in a key",
            "1.0.0",
        ),
    CommandSpec::new("sdiff", -2, READONLY, sdiff)
        .keys(1, -1, 1)
        .group(G)
        .doc("Subtract multiple sets", "1.0.0"),
    CommandSpec::new("sdiffstore", -3, WRITE | DENYOOM, sdiffstore)
        .keys(1, -1, 1)
        .group(G)
        .doc(
            "Subtract multiple sets and store the resulting set in a key",
            "1.0.0",
        ),
    CommandSpec::new("sintercard", -3, READONLY | MOVABLEKEYS, sintercard)
        .keys(0, 0, 0)
        .group(G)
        .doc(
            "Intersect multiple sets and return the cardinality of the result",
            "7.0.0",
        ),
    CommandSpec::new("sscan", -3, READONLY, sscan)
        .keys(1, 1, 1)
        .group(G)
        .doc("Incrementally iterate Set elements", "2.8.0"),
];
