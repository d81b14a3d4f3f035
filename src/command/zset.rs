//! Sorted set commands: ZADD, ZREM, ZSCORE, ZMSCORE, ZINCRBY, ZCARD, ZCOUNT, ZLEXCOUNT,
//! ZRANK/ZREVRANK, ZRANGE (BYSCORE, BYLEX, REV, LIMIT, WITHSCORES) and its older forms,
//! ZRANGESTORE, ZREMRANGEBY{SCORE,RANK,LEX}, ZPOPMIN/ZPOPMAX, BZPOPMIN/BZPOPMAX, ZMPOP/BZMPOP,
//! ZRANDMEMBER, ZSCAN, ZUNION/ZINTER/ZDIFF (+STORE), ZINTERCARD.
//!
//! Handlers parse and type-check, then work on [`crate::store::zset::ZSet`]. A sorted set whose
//! last member goes is removed. Scores reach the client as [`Reply::Double`] (RESP2 bulk
//! strings in `%.17g`, RESP3 doubles). Blocking pops use `ctx.block` like the list pops; when
//! they pop, the effect replayed is the equivalent `ZPOPMIN`/`ZPOPMAX key count`.

use bytes::Bytes;

use super::flags::*;
use super::hash::{
    distinct_indexes, flatten_pairs, parse_random_count, scan_loop, scan_match, scan_reply,
};
use super::keys::{parse_cursor, parse_scan_opts};
use super::{CommandSpec, Ctx, Write, is, parse_timeout_secs};
use crate::config::notify::{GENERIC, ZSET};
use crate::error;
use crate::protocol::Reply;
use crate::store::zset::{Entry, LexBound, LexRange, Limits, ScoreRange, ZSet};
use crate::store::{Db, Value, own};

const G: &str = "sorted-set";

const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

fn limits(ctx: &Ctx) -> Limits {
    Limits {
        entries: ctx.shared.encoding_knob("zset-max-listpack-entries"),
        value: ctx.shared.encoding_knob("zset-max-listpack-value"),
    }
}

/// A score as Redis's `getDoubleFromObject` accepts it ([`crate::num::string2d`]).
pub(crate) fn parse_score(arg: &[u8]) -> Option<f64> {
    crate::num::string2d(arg)
}

fn get_zset<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a ZSet>, Reply> {
    match db.get(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

fn get_zset_mut<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a mut ZSet>, Reply> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

/// Member/score pairs as ranges reply them: RESP2 flat, RESP3 pairs; members only without
/// scores.
fn emit(resp: u8, withscores: bool, entries: Vec<(Bytes, f64)>) -> Reply {
    if !withscores {
        return Reply::bulks(entries.into_iter().map(|(m, _)| m));
    }
    let items = entries
        .into_iter()
        .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
        .collect();
    flatten_pairs(resp, true, items)
}

fn owned(entries: Vec<&Entry>) -> Vec<(Bytes, f64)> {
    entries
        .into_iter()
        .map(|e| (e.member.clone(), e.score))
        .collect()
}

// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zadd_generic(ctx, args, false)
}

// ZINCRBY key increment member
fn zincrby(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zadd_generic(ctx, args, true)
}

fn zadd_generic(ctx: &mut Ctx, args: &[Bytes], zincrby: bool) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, zincrby);
    let mut i = 2;
    if !zincrby {
        while i < args.len() {
            let a = &args[i];
            if is(a, "nx") {
                nx = true;
            } else if is(a, "xx") {
                xx = true;
            } else if is(a, "gt") {
                gt = true;
            } else if is(a, "lt") {
                lt = true;
            } else if is(a, "ch") {
                ch = true;
            } else if is(a, "incr") {
                incr = true;
            } else {
                break;
            }
            i += 1;
        }
    }
    let rest = &args[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Reply::error(error::SYNTAX);
    }
    if nx && xx {
        return Reply::error("ERR XX and NX options at the same time are not compatible");
    }
    if (gt || lt) && nx || (gt && lt) {
        return Reply::error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && rest.len() > 2 {
        return Reply::error("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks(2) {
        match parse_score(&p[0]) {
            Some(s) => pairs.push((s, &p[1])),
            None => return Reply::error(error::NOT_FLOAT),
        }
    }
    let limits = limits(ctx);
    let key = &args[1];
    let db = ctx.db();
    let exists = match tri!(get_zset(db, key)) {
        Some(_) => true,
        None if xx => {
            return if incr { Reply::Null } else { Reply::Int(0) };
        }
        None => false,
    };
    if !exists {
        let first_len = pairs[0].1.len();
        db.set(key, Value::ZSet(Box::new(ZSet::new(first_len, limits))));
    }
    let Some(Value::ZSet(z)) = db.get_mut(key) else {
        unreachable!("checked or created above");
    };
    let (mut added, mut updated, mut last) = (0, 0, None);
    for (score, m) in pairs {
        match z.score(m) {
            Some(cur) => {
                if nx {
                    last = None;
                    continue;
                }
                let mut new = score;
                if incr {
                    new += cur;
                    if new.is_nan() {
                        if z.is_empty() {
                            db.remove(key);
                        }
                        return Reply::error(NAN_SCORE);
                    }
                }
                if (gt && new <= cur) || (lt && new >= cur) {
                    last = None;
                    continue;
                }
                if new != cur {
                    z.insert(own(m), new, limits);
                    updated += 1;
                }
                last = Some(new);
            }
            None => {
                if xx {
                    last = None;
                    continue;
                }
                z.insert(own(m), score, limits);
                added += 1;
                last = Some(score);
            }
        }
    }
    if z.is_empty() {
        db.remove(key);
    }
    if added + updated > 0 {
        ctx.wrote(
            Write::key(key)
                .changes((added + updated) as usize)
                .event(ZSET, if incr { "zincr" } else { "zadd" })
                .wakes_if(added > 0),
        );
    }
    if incr {
        match last {
            Some(s) => Reply::Double(s),
            None => Reply::Null,
        }
    } else {
        Reply::Int(if ch { added + updated } else { added })
    }
}

// ZREM key member [member ...]
fn zrem(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    let Some(z) = tri!(get_zset_mut(db, &args[1])) else {
        return Reply::Int(0);
    };
    let mut n = 0;
    for m in &args[2..] {
        if z.remove(m).is_some() {
            n += 1;
        }
    }
    if z.is_empty() {
        db.remove(&args[1]);
    }
    if n > 0 {
        ctx.wrote(
            Write::key(&args[1])
                .changes(n as usize)
                .event(ZSET, "zrem")
                .del_if_gone(),
        );
    }
    Reply::Int(n)
}

// ZSCORE key member
fn zscore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match tri!(get_zset(ctx.db(), &args[1])).and_then(|z| z.score(&args[2])) {
        Some(s) => Reply::Double(s),
        None => Reply::Null,
    }
}

// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let z = tri!(get_zset(ctx.db(), &args[1]));
    Reply::Array(
        args[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(s) => Reply::Double(s),
                None => Reply::Null,
            })
            .collect(),
    )
}

// ZCARD key
fn zcard(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    Reply::Int(tri!(get_zset(ctx.db(), &args[1])).map_or(0, |z| z.len()) as i64)
}

/// `min max` of ZRANGEBYSCORE & co (`(` = exclusive).
fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
    fn one(b: &[u8]) -> Option<(f64, bool)> {
        let (ex, rest) = match b.first() {
            Some(b'(') => (true, &b[1..]),
            _ => (false, b),
        };
        Some((crate::num::strtod_bound(rest)?, ex))
    }
    match (one(min), one(max)) {
        (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
            min,
            minex,
            max,
            maxex,
        }),
        _ => Err(Reply::error(NOT_FLOAT_RANGE)),
    }
}

/// `min max` of ZRANGEBYLEX & co (`-`, `+`, `[member`, `(member`).
fn parse_lex_range(min: &Bytes, max: &Bytes) -> Result<LexRange, Reply> {
    fn one(b: &Bytes) -> Option<LexBound> {
        match b.first() {
            Some(b'+') if b.len() == 1 => Some(LexBound::PosInf),
            Some(b'-') if b.len() == 1 => Some(LexBound::NegInf),
            Some(b'[') => Some(LexBound::Incl(b.slice(1..))),
            Some(b'(') => Some(LexBound::Excl(b.slice(1..))),
            _ => None,
        }
    }
    match (one(min), one(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(Reply::error(NOT_LEX_RANGE)),
    }
}

// ZCOUNT key min max
fn zcount(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let r = tri!(parse_score_range(&args[2], &args[3]));
    let z = tri!(get_zset(ctx.db(), &args[1]));
    Reply::Int(z.map_or(0, |z| z.by_score(r, false).count()) as i64)
}

// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let r = tri!(parse_lex_range(&args[2], &args[3]));
    let z = tri!(get_zset(ctx.db(), &args[1]));
    Reply::Int(z.map_or(0, |z| z.by_lex(&r, false, 0).count()) as i64)
}

fn rank_generic(ctx: &mut Ctx, args: &[Bytes], rev: bool) -> Reply {
    match tri!(get_zset(ctx.db(), &args[1])).and_then(|z| z.rank(&args[2], rev)) {
        Some(r) => Reply::Int(r as i64),
        None => Reply::Null,
    }
}

// ZRANK key member
fn zrank(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    rank_generic(ctx, args, false)
}
// ZREVRANK key member
fn zrevrank(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    rank_generic(ctx, args, true)
}

#[derive(Clone, Copy, PartialEq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Clamp a rank interval the way Redis does; None when empty.
fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

/// Parsed range of any kind.
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

fn select(z: &ZSet, range: &Range, rev: bool, offset: i64, limit: i64) -> Vec<(Bytes, f64)> {
    let page = |it: Box<dyn Iterator<Item = &Entry> + '_>| -> Vec<(Bytes, f64)> {
        if offset < 0 {
            return vec![];
        }
        let take = if limit < 0 {
            usize::MAX
        } else {
            limit as usize
        };
        it.skip(offset as usize)
            .take(take)
            .map(|e| (e.member.clone(), e.score))
            .collect()
    };
    match range {
        Range::Rank(s, e) => match clamp_ranks(*s, *e, z.len()) {
            Some((s, e)) => owned(z.by_rank(s, e, rev)),
            None => vec![],
        },
        Range::Score(r) => page(z.by_score(*r, rev)),
        Range::Lex(r) => {
            if offset < 0 {
                return vec![];
            }
            let take = if limit < 0 {
                usize::MAX
            } else {
                limit as usize
            };
            z.by_lex(r, rev, offset as usize)
                .take(take)
                .map(|e| (e.member.clone(), e.score))
                .collect()
        }
    }
}

/// ZRANGE and its older forms, and ZRANGESTORE (`store`): `key_idx` is the source key's index,
/// the range follows it, then the options.
fn zrange_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    key_idx: usize,
    store: Option<&Bytes>,
    mut rangetype: RangeType,
    mut rev: Option<bool>,
) -> Reply {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = key_idx + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if store.is_none() && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = tri!(super::parse_i64(&args[j + 1]));
            limit = tri!(super::parse_i64(&args[j + 2]));
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if rangetype == RangeType::Auto && is(a, "bylex") {
            rangetype = RangeType::Lex;
        } else if rangetype == RangeType::Auto && is(a, "byscore") {
            rangetype = RangeType::Score;
        } else {
            return Reply::error(error::SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if rangetype == RangeType::Auto {
        rangetype = RangeType::Rank;
    }
    if limit != -1 && rangetype == RangeType::Rank {
        return Reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && rangetype == RangeType::Lex {
        return Reply::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        );
    }
    let (mut lo, mut hi) = (&args[key_idx + 1], &args[key_idx + 2]);
    if rev && rangetype != RangeType::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match rangetype {
        RangeType::Score => Range::Score(tri!(parse_score_range(lo, hi))),
        RangeType::Lex => Range::Lex(tri!(parse_lex_range(lo, hi))),
        _ => Range::Rank(tri!(super::parse_i64(lo)), tri!(super::parse_i64(hi))),
    };
    let resp = ctx.resp();
    let zl = limits(ctx);
    let db = ctx.db();
    let picked = match tri!(get_zset(db, &args[key_idx])) {
        Some(z) => select(z, &range, rev, offset, limit),
        None => vec![],
    };
    let Some(dst) = store else {
        return emit(resp, withscores, picked);
    };
    let n = picked.len();
    if picked.is_empty() {
        if db.delete(dst).is_some() {
            ctx.wrote(Write::key(dst).event(GENERIC, "del"));
        }
    } else {
        let mut z = ZSet::new(0, zl);
        for (m, s) in picked {
            z.insert(m, s, zl);
        }
        z.shrink_encoding(zl);
        db.set(dst, Value::ZSet(Box::new(z)));
        ctx.wrote(Write::key(dst).wakes().event(ZSET, "zrangestore"));
    }
    Reply::Int(n as i64)
}

// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
fn zrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Auto, None)
}
// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
fn zrangestore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zrange_generic(ctx, args, 2, Some(&args[1]), RangeType::Auto, None)
}
// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Rank, Some(true))
}
// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
fn zrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Some(false))
}
// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
fn zrevrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Some(true))
}
// ZRANGEBYLEX key min max [LIMIT offset count]
fn zrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Some(false))
}
// ZREVRANGEBYLEX key max min [LIMIT offset count]
fn zrevrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Some(true))
}

fn zremrange_generic(ctx: &mut Ctx, args: &[Bytes], rangetype: RangeType) -> Reply {
    let range = match rangetype {
        RangeType::Score => Range::Score(tri!(parse_score_range(&args[2], &args[3]))),
        RangeType::Lex => Range::Lex(tri!(parse_lex_range(&args[2], &args[3]))),
        _ => Range::Rank(
            tri!(super::parse_i64(&args[2])),
            tri!(super::parse_i64(&args[3])),
        ),
    };
    let db = ctx.db();
    let Some(z) = tri!(get_zset_mut(db, &args[1])) else {
        return Reply::Int(0);
    };
    let doomed = select(z, &range, false, 0, -1);
    for (m, _) in &doomed {
        z.remove(m);
    }
    if z.is_empty() {
        db.remove(&args[1]);
    }
    if !doomed.is_empty() {
        // The event is the command's name: zremrangebyscore, zremrangebyrank, zremrangebylex.
        ctx.wrote(
            Write::key(&args[1])
                .changes(doomed.len())
                .event(ZSET, ctx.entry.spec.name)
                .del_if_gone(),
        );
    }
    Reply::Int(doomed.len() as i64)
}

// ZREMRANGEBYSCORE key min max
fn zremrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zremrange_generic(ctx, args, RangeType::Score)
}
// ZREMRANGEBYRANK key start stop
fn zremrangebyrank(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zremrange_generic(ctx, args, RangeType::Rank)
}
// ZREMRANGEBYLEX key min max
fn zremrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zremrange_generic(ctx, args, RangeType::Lex)
}

/// Pop up to `count` entries from the zset at `key` (which must exist and be a zset).
fn pop_entries(db: &mut Db, key: &[u8], max: bool, count: usize) -> Vec<(Bytes, f64)> {
    let Some(Value::ZSet(z)) = db.get_mut(key) else {
        return vec![];
    };
    let mut out = Vec::new();
    while out.len() < count {
        match z.pop(max) {
            Some(e) => out.push((e.member, e.score)),
            None => break,
        }
    }
    if z.is_empty() {
        db.remove(key);
    }
    out
}

/// A pop from `key`: events `zpopmin`/`zpopmax`, then `del` when it emptied the set.
fn pop_write(key: &Bytes, max: bool) -> Write<'_> {
    Write::key(key)
        .event(ZSET, if max { "zpopmax" } else { "zpopmin" })
        .del_if_gone()
}

fn pop_cmd(max: bool) -> Bytes {
    Bytes::from_static(if max { b"ZPOPMAX" } else { b"ZPOPMIN" })
}

fn zpop_generic(ctx: &mut Ctx, args: &[Bytes], max: bool) -> Reply {
    if args.len() > 3 {
        return Reply::error(error::SYNTAX);
    }
    let count = if args.len() == 3 {
        match crate::protocol::request::parse_i64(&args[2]) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Reply::error(MUST_BE_POSITIVE),
        }
    } else {
        None
    };
    let resp = ctx.resp();
    let db = ctx.db();
    if tri!(get_zset(db, &args[1])).is_none() {
        return Reply::Array(vec![]);
    }
    let popped = pop_entries(db, &args[1], max, count.unwrap_or(1));
    if !popped.is_empty() {
        ctx.wrote(pop_write(&args[1], max).changes(popped.len()));
    }
    if count.is_none() || resp < 3 {
        let mut flat = Vec::with_capacity(popped.len() * 2);
        for (m, s) in popped {
            flat.push(Reply::Bulk(m));
            flat.push(Reply::Double(s));
        }
        return Reply::Array(flat);
    }
    emit(resp, true, popped)
}

// ZPOPMIN key [count]
fn zpopmin(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zpop_generic(ctx, args, false)
}
// ZPOPMAX key [count]
fn zpopmax(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zpop_generic(ctx, args, true)
}

/// The keys a blocking pop may serve from: all on the first run; on a re-run only the key
/// whose signal woke the waiter (Redis serves waiters key by key as keys become ready).
fn serve_from<'k>(ctx: &Ctx, keys: &'k [Bytes]) -> &'k [Bytes] {
    if ctx.is_rerun()
        && let Some(ready) = ctx.ready_key()
        && let Some(k) = keys.iter().find(|k| *k == ready)
    {
        return std::slice::from_ref(k);
    }
    keys
}

/// BZPOPMIN/BZPOPMAX: the first non-empty key gives one element, else block.
fn bzpop_generic(ctx: &mut Ctx, args: &[Bytes], max: bool) -> Reply {
    let timeout = tri!(parse_timeout_secs(&args[args.len() - 1]));
    let keys = &args[1..args.len() - 1];
    let rerun = ctx.is_rerun();
    let serve = serve_from(ctx, keys);
    let db = ctx.db();
    for k in serve {
        // Redis 7.0 serves a woken waiter only from keys that hold a sorted set; another type
        // under a key it waits on is skipped, not an error.
        let Some(z) = (match get_zset(db, k) {
            Err(_) if rerun => continue,
            r => tri!(r),
        }) else {
            continue;
        };
        if z.is_empty() {
            continue;
        }
        let popped = pop_entries(db, k, max, 1);
        let (m, s) = popped.into_iter().next().expect("non-empty");
        ctx.wrote(pop_write(k, max).effect(vec![pop_cmd(max), k.clone()]));
        return Reply::Array(vec![
            Reply::Bulk(k.clone()),
            Reply::Bulk(m),
            Reply::Double(s),
        ]);
    }
    ctx.block(args, keys.to_vec(), timeout, Reply::NullArray)
}

// BZPOPMIN key [key ...] timeout
fn bzpopmin(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    bzpop_generic(ctx, args, false)
}
// BZPOPMAX key [key ...] timeout
fn bzpopmax(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    bzpop_generic(ctx, args, true)
}

/// ZMPOP/BZMPOP from `numkeys` on: (keys, max, count).
fn parse_mpop(args: &[Bytes]) -> Result<(Vec<Bytes>, bool, usize), Reply> {
    let numkeys = match crate::protocol::request::parse_i64(&args[0]) {
        Some(n) if n > 0 => n as u64,
        _ => return Err(Reply::error("ERR numkeys should be greater than 0")),
    };
    // Keys, then MIN|MAX, are required after numkeys.
    if numkeys >= (args.len() - 1) as u64 {
        return Err(Reply::error(error::SYNTAX));
    }
    let n = numkeys as usize;
    let keys = args[1..=n].to_vec();
    let mut i = n + 1;
    let max = if is(&args[i], "min") {
        false
    } else if is(&args[i], "max") {
        true
    } else {
        return Err(Reply::error(error::SYNTAX));
    };
    i += 1;
    let mut count = None;
    while i < args.len() {
        if count.is_none() && is(&args[i], "count") && i + 1 < args.len() {
            match crate::protocol::request::parse_i64(&args[i + 1]) {
                Some(c) if c > 0 => count = Some(c as usize),
                _ => return Err(Reply::error("ERR count should be greater than 0")),
            }
            i += 2;
        } else {
            return Err(Reply::error(error::SYNTAX));
        }
    }
    Ok((keys, max, count.unwrap_or(1)))
}

/// Pop from the first non-empty key: Some(reply) or None when all are empty.
fn mpop_some(
    ctx: &mut Ctx,
    keys: &[Bytes],
    max: bool,
    count: usize,
) -> Result<Option<Reply>, Reply> {
    let rerun = ctx.is_rerun();
    let serve = serve_from(ctx, keys);
    let db = ctx.db();
    for k in serve {
        match get_zset(db, k) {
            Ok(Some(_)) => {}
            Err(_) if rerun => continue,
            Ok(None) => continue,
            Err(e) => return Err(e),
        }
        let popped = pop_entries(db, k, max, count);
        let n = popped.len();
        // Only the key popped from counts as modified for WATCH.
        ctx.wrote(pop_write(k, max).changes(n).effect(vec![
            pop_cmd(max),
            k.clone(),
            Bytes::from(n.to_string()),
        ]));
        let items = popped
            .into_iter()
            .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
            .collect();
        return Ok(Some(Reply::Array(vec![
            Reply::Bulk(k.clone()),
            Reply::Array(items),
        ])));
    }
    Ok(None)
}

// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
fn zmpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (keys, max, count) = tri!(parse_mpop(&args[1..]));
    match tri!(mpop_some(ctx, &keys, max, count)) {
        Some(r) => r,
        None => Reply::NullArray,
    }
}

// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
fn bzmpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let timeout = tri!(parse_timeout_secs(&args[1]));
    let (keys, max, count) = tri!(parse_mpop(&args[2..]));
    match tri!(mpop_some(ctx, &keys, max, count)) {
        Some(r) => r,
        None => ctx.block(args, keys, timeout, Reply::NullArray),
    }
}

// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 4 || (args.len() == 4 && !is(&args[3], "withscores")) {
        return Reply::error(error::SYNTAX);
    }
    let withscores = args.len() == 4;
    let resp = ctx.resp();
    let count = if args.len() >= 3 {
        Some(tri!(parse_random_count(&args[2])))
    } else {
        None
    };
    let z = tri!(get_zset(ctx.db(), &args[1]));
    let Some((count, distinct)) = count else {
        return match z {
            Some(z) => {
                let i = rand::random_range(0..z.len());
                Reply::Bulk(z.iter().nth(i).expect("in range").member.clone())
            }
            None => Reply::Null,
        };
    };
    let Some(z) = z else {
        return Reply::Array(vec![]);
    };
    let picked: Vec<(Bytes, f64)> = if count == 0 {
        vec![]
    } else if !distinct {
        let all: Vec<&Entry> = z.iter().collect();
        (0..count)
            .map(|_| {
                let e = all[rand::random_range(0..all.len())];
                (e.member.clone(), e.score)
            })
            .collect()
    } else if count >= z.len() {
        // Redis 7.0 walks the whole set from the highest score down in this case.
        owned(z.iter().rev().collect())
    } else {
        let idx = distinct_indexes(z.len(), count);
        let mut it = z.iter().enumerate();
        idx.iter()
            .filter_map(|&i| it.by_ref().find(|(j, _)| *j == i).map(|(_, e)| e))
            .map(|e| (e.member.clone(), e.score))
            .collect()
    };
    emit(resp, withscores, picked)
}

// ZSCAN key cursor [MATCH pattern] [COUNT count]
fn zscan(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let cursor = tri!(parse_cursor(&args[2]));
    let opts = tri!(parse_scan_opts(&args[3..], false));
    let Some(z) = tri!(get_zset(ctx.db(), &args[1])) else {
        return scan_reply(0, vec![]);
    };
    let mut chosen: Vec<(Bytes, f64)> = Vec::new();
    let next = scan_loop(cursor, opts.count, |c| {
        let next = z.scan(c, |m, s| chosen.push((m.clone(), s)));
        (next, chosen.len() * 2)
    });
    let mut out = Vec::new();
    for (m, s) in chosen {
        if scan_match(&opts.pattern, &m) {
            out.push(Reply::Bulk(m));
            out.push(Reply::Bulk(Bytes::from(
                crate::protocol::reply::format_double(s),
            )));
        }
    }
    scan_reply(next, out)
}

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(a: Aggregate, x: f64, y: f64) -> f64 {
    match a {
        Aggregate::Sum => {
            let s = x + y;
            if s.is_nan() { 0.0 } else { s }
        }
        Aggregate::Min => x.min(y),
        Aggregate::Max => x.max(y),
    }
}

/// Members and scores of a set or sorted set input (sets score 1).
fn input_entries(v: Option<&Value>) -> Result<Option<Vec<(Bytes, f64)>>, Reply> {
    match v {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(
            z.iter().map(|e| (e.member.clone(), e.score)).collect(),
        )),
        Some(Value::Set(s)) => Ok(Some(s.iter().map(|m| (m, 1.0)).collect())),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

/// ZUNION/ZINTER/ZDIFF and their STORE forms. `numkeys_idx` indexes numkeys in `args`.
fn zsetop_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    numkeys_idx: usize,
    store: Option<&Bytes>,
    op: SetOp,
) -> Reply {
    let numkeys = tri!(super::parse_i64(&args[numkeys_idx]));
    if numkeys < 1 {
        return Reply::error(format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.entry.full_name
        ));
    }
    if numkeys as u64 > (args.len() - numkeys_idx - 1) as u64 {
        return Reply::error(error::SYNTAX);
    }
    let n = numkeys as usize;
    let keys = &args[numkeys_idx + 1..numkeys_idx + 1 + n];
    let mut weights = vec![1.0f64; n];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut j = numkeys_idx + 1 + n;
    while j < args.len() {
        let left = args.len() - j - 1;
        if op != SetOp::Diff && is(&args[j], "weights") && left >= n {
            for (w, a) in weights.iter_mut().zip(&args[j + 1..j + 1 + n]) {
                match parse_score(a) {
                    Some(v) => *w = v,
                    None => return Reply::error("ERR weight value is not a float"),
                }
            }
            j += n;
        } else if op != SetOp::Diff && is(&args[j], "aggregate") && left >= 1 {
            let a = &args[j + 1];
            agg = if is(a, "sum") {
                Aggregate::Sum
            } else if is(a, "min") {
                Aggregate::Min
            } else if is(a, "max") {
                Aggregate::Max
            } else {
                return Reply::error(error::SYNTAX);
            };
            j += 1;
        } else if store.is_none() && is(&args[j], "withscores") {
            withscores = true;
        } else {
            return Reply::error(error::SYNTAX);
        }
        j += 1;
    }
    let zl = limits(ctx);
    let resp = ctx.resp();
    let db = ctx.db();
    let mut inputs = Vec::with_capacity(n);
    for k in keys {
        inputs.push(tri!(input_entries(db.get(k))));
    }
    let mut result: crate::store::Dict<Bytes, f64> = crate::store::Dict::default();
    match op {
        SetOp::Union => {
            for (inp, w) in inputs.iter().zip(&weights) {
                for (m, s) in inp.iter().flatten() {
                    let v = weighted(*s, *w);
                    match result.get_mut(m) {
                        Some(cur) => *cur = aggregate(agg, *cur, v),
                        None => {
                            result.insert(m.clone(), v);
                        }
                    }
                }
            }
        }
        SetOp::Inter => {
            if inputs.iter().all(|i| i.is_some()) {
                let maps: Vec<crate::store::Dict<&Bytes, f64>> = inputs
                    .iter()
                    .map(|i| i.iter().flatten().map(|(m, s)| (m, *s)).collect())
                    .collect();
                for (m, s) in inputs[0].iter().flatten() {
                    let mut v = weighted(*s, weights[0]);
                    let mut all = true;
                    for (map, w) in maps[1..].iter().zip(&weights[1..]) {
                        match map.get(m) {
                            Some(s2) => v = aggregate(agg, v, weighted(*s2, *w)),
                            None => {
                                all = false;
                                break;
                            }
                        }
                    }
                    if all {
                        result.insert(m.clone(), v);
                    }
                }
            }
        }
        SetOp::Diff => {
            if let Some(first) = &inputs[0] {
                let others: Vec<crate::store::Dict<&Bytes, ()>> = inputs[1..]
                    .iter()
                    .map(|i| i.iter().flatten().map(|(m, _)| (m, ())).collect())
                    .collect();
                for (m, s) in first {
                    if !others.iter().any(|o| o.contains_key(m)) {
                        result.insert(m.clone(), *s);
                    }
                }
            }
        }
    }
    let mut z = ZSet::new(0, zl);
    for (m, s) in result {
        z.insert(m, s, zl);
    }
    let Some(dst) = store else {
        return emit(resp, withscores, owned(z.iter().collect()));
    };
    let len = z.len();
    if len == 0 {
        if db.delete(dst).is_some() {
            ctx.wrote(Write::key(dst).event(GENERIC, "del"));
        }
    } else {
        z.shrink_encoding(zl);
        db.set(dst, Value::ZSet(Box::new(z)));
        // zunionstore, zinterstore, zdiffstore.
        ctx.wrote(Write::key(dst).wakes().event(ZSET, ctx.entry.spec.name));
    }
    Reply::Int(len as i64)
}

fn weighted(s: f64, w: f64) -> f64 {
    let v = s * w;
    if v.is_nan() { 0.0 } else { v }
}

// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
fn zunionstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zsetop_generic(ctx, args, 2, Some(&args[1]), SetOp::Union)
}
// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
fn zinterstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zsetop_generic(ctx, args, 2, Some(&args[1]), SetOp::Inter)
}
// ZDIFFSTORE destination numkeys key [key ...]
fn zdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zsetop_generic(ctx, args, 2, Some(&args[1]), SetOp::Diff)
}
// ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
fn zunion(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zsetop_generic(ctx, args, 1, None, SetOp::Union)
}
// ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
fn zinter(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zsetop_generic(ctx, args, 1, None, SetOp::Inter)
}
// ZDIFF numkeys key [key ...] [WITHSCORES]
fn zdiff(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    zsetop_generic(ctx, args, 1, None, SetOp::Diff)
}

// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let numkeys = tri!(super::parse_i64(&args[1]));
    if numkeys < 1 {
        return Reply::error("ERR at least 1 input key is needed for 'zintercard' command");
    }
    if numkeys as u64 > (args.len() - 2) as u64 {
        return Reply::error(error::SYNTAX);
    }
    let n = numkeys as usize;
    let mut limit = 0usize;
    let mut j = 2 + n;
    while j < args.len() {
        if is(&args[j], "limit") && j + 1 < args.len() {
            // Any unparsable or negative LIMIT gets this one error, as in Redis.
            let l = super::parse_i64(&args[j + 1]).unwrap_or(-1);
            if l < 0 {
                return Reply::error("ERR LIMIT can't be negative");
            }
            limit = l as usize;
            j += 2;
        } else {
            return Reply::error(error::SYNTAX);
        }
    }
    let db = ctx.db();
    let mut inputs = Vec::with_capacity(n);
    for k in &args[2..2 + n] {
        inputs.push(tri!(input_entries(db.get(k))));
    }
    let Some(mut inputs) = inputs.into_iter().collect::<Option<Vec<_>>>() else {
        return Reply::Int(0);
    };
    inputs.sort_by_key(|i| i.len());
    let others: Vec<crate::store::Dict<&Bytes, ()>> = inputs[1..]
        .iter()
        .map(|i| i.iter().map(|(m, _)| (m, ())).collect())
        .collect();
    let mut count = 0;
    for (m, _) in &inputs[0] {
        if others.iter().all(|o| o.contains_key(m)) {
            count += 1;
            if limit > 0 && count >= limit {
                break;
            }
        }
    }
    Reply::Int(count as i64)
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zintercard", -3, READONLY | MOVABLEKEYS, zintercard)
        .keys(0, 0, 0)
        .group(G)
        .doc(
            "Intersect multiple sorted sets and return the cardinality of the result",
            "7.0.0",
        ),
    CommandSpec::new("zadd", -4, WRITE | DENYOOM | FAST, zadd)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Add one or more members to a sorted set, or update its score if it already exists",
            "1.2.0",
        ),
    CommandSpec::new("zincrby", 4, WRITE | DENYOOM | FAST, zincrby)
        .keys(1, 1, 1)
        .group(G)
        .doc("Increment the score of a member in a sorted set", "1.2.0"),
    CommandSpec::new("zrem", -3, WRITE | FAST, zrem)
        .keys(1, 1, 1)
        .group(G)
        .doc("Remove one or more members from a sorted set", "1.2.0"),
    CommandSpec::new("zscore", 3, READONLY | FAST, zscore)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get the score associated with the given member in a sorted set", "1.2.0"),
    CommandSpec::new("zmscore", -3, READONLY | FAST, zmscore)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get the score associated with the given members in a sorted set", "6.2.0"),
    CommandSpec::new("zcard", 2, READONLY | FAST, zcard)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get the number of members in a sorted set", "1.2.0"),
    CommandSpec::new("zcount", 4, READONLY | FAST, zcount)
        .keys(1, 1, 1)
        .group(G)
        .doc("Count the members in a sorted set with scores within the given values", "2.0.0"),
    CommandSpec::new("zlexcount", 4, READONLY | FAST, zlexcount)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Count the number of members in a sorted set between a given lexicographical range",
            "2.8.9",
        ),
    CommandSpec::new("zrank", 3, READONLY | FAST, zrank)
        .keys(1, 1, 1)
        .group(G)
        .doc("Determine the index of a member in a sorted set", "2.0.0"),
    CommandSpec::new("zrevrank", 3, READONLY | FAST, zrevrank)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Determine the index of a member in a sorted set, with scores ordered from high to low",
            "2.0.0",
        ),
    CommandSpec::new("zrange", -4, READONLY, zrange)
        .keys(1, 1, 1)
        .group(G)
        .doc("Return a range of members in a sorted set", "1.2.0"),
    CommandSpec::new("zrangestore", -5, WRITE | DENYOOM, zrangestore)
        .keys(1, 2, 1)
        .group(G)
        .doc("Store a range of members from sorted set into another key", "6.2.0"),
    CommandSpec::new("zrevrange", -4, READONLY, zrevrange)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Return a range of members in a sorted set, by index, with scores ordered from high to low",
            "1.2.0",
        ),
    CommandSpec::new("zrangebyscore", -4, READONLY, zrangebyscore)
        .keys(1, 1, 1)
        .group(G)
        .doc("Return a range of members in a sorted set, by score", "1.0.5"),
    CommandSpec::new("zrevrangebyscore", -4, READONLY, zrevrangebyscore)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Return a range of members in a sorted set, by score, with scores ordered from high to low",
            "2.2.0",
        ),
    CommandSpec::new("zrangebylex", -4, READONLY, zrangebylex)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Return a range of members in a sorted set, by lexicographical range",
            "2.8.9",
        ),
    CommandSpec::new("zrevrangebylex", -4, READONLY, zrevrangebylex)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
            "2.8.9",
        ),
    CommandSpec::new("zremrangebyscore", 4, WRITE, zremrangebyscore)
        .keys(1, 1, 1)
        .group(G)
        .doc("Remove all members in a sorted set within the given scores", "1.2.0"),
    CommandSpec::new("zremrangebyrank", 4, WRITE, zremrangebyrank)
        .keys(1, 1, 1)
        .group(G)
        .doc("Remove all members in a sorted set within the given indexes", "2.0.0"),
    CommandSpec::new("zremrangebylex", 4, WRITE, zremrangebylex)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Remove all members in a sorted set between the given lexicographical range",
            "2.8.9",
        ),
    CommandSpec::new("zpopmin", -2, WRITE | FAST, zpopmin)
        .keys(1, 1, 1)
        .group(G)
        .doc("Remove and return members with the lowest scores in a sorted set", "5.0.0"),
    CommandSpec::new("zpopmax", -2, WRITE | FAST, zpopmax)
        .keys(1, 1, 1)
        .group(G)
        .doc("Remove and return members with the highest scores in a sorted set", "5.0.0"),
    CommandSpec::new("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, bzpopmin)
        .keys(1, -2, 1)
        .group(G)
        .doc(
            "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
            "5.0.0",
        ),
    CommandSpec::new("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, bzpopmax)
        .keys(1, -2, 1)
        .group(G)
        .doc(
            "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
            "5.0.0",
        ),
    CommandSpec::new("zmpop", -4, WRITE | MOVABLEKEYS, zmpop)
        .keys(0, 0, 0)
        .group(G)
        .doc(
            "Remove and return members with scores in a sorted set",
            "7.0.0",
        ),
    CommandSpec::new("bzmpop", -5, WRITE | BLOCKING | MOVABLEKEYS, bzmpop)
        .keys(0, 0, 0)
        .group(G)
        .doc(
            "Remove and return members with scores in a sorted set or block until one is available",
            "7.0.0",
        ),
    CommandSpec::new("zrandmember", -2, READONLY, zrandmember)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get one or multiple random elements from a sorted set", "6.2.0"),
    CommandSpec::new("zscan", -3, READONLY, zscan)
        .keys(1, 1, 1)
        .group(G)
        .doc("Incrementally iterate sorted sets elements and associated scores", "2.8.0"),
    CommandSpec::new("zunionstore", -4, WRITE | DENYOOM | MOVABLEKEYS, zunionstore)
        .keys(1, 1, 1)
        .group(G)
        .doc("Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0"),
    CommandSpec::new("zinterstore", -4, WRITE | DENYOOM | MOVABLEKEYS, zinterstore)
        .keys(1, 1, 1)
        .group(G)
        .doc("Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0"),
    CommandSpec::new("zdiffstore", -4, WRITE | DENYOOM | MOVABLEKEYS, zdiffstore)
        .keys(1, 1, 1)
        .group(G)
        .doc("Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0"),
    CommandSpec::new("zunion", -3, READONLY | MOVABLEKEYS, zunion)
        .keys(0, 0, 0)
        .group(G)
        .doc("Add multiple sorted sets", "6.2.0"),
    CommandSpec::new("zinter", -3, READONLY | MOVABLEKEYS, zinter)
        .keys(0, 0, 0)
        .group(G)
        .doc("Intersect multiple sorted sets", "6.2.0"),
    CommandSpec::new("zdiff", -3, READONLY | MOVABLEKEYS, zdiff)
        .keys(0, 0, 0)
        .group(G)
        .doc("Subtract multiple sorted sets", "6.2.0"),
];
