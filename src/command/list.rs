//! The list family: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM LTRIM
//! LPOS LMOVE RPOPLPUSH LMPOP, and the blocking BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP.
//!
//! # API
//! Handlers parse, type-check and reply; the data work is done by [`List`]
//! (`crate::store::list`). Every handler runs under the store lock (see `command::Ctx`).
//! - Writers that add elements record a write that `wakes()` the key, so clients blocked on it are
//!   served right after the command, still under the lock, in arrival order.
//! - A list that loses its last element is deleted, as in Redis, so an existing list key is
//!   never empty.
//! - Blocking pops that find nothing call `ctx.block`; when a key they wait on is signalled, the
//!   same handler runs again (`ctx.is_rerun()`) and either serves the client or keeps waiting.
//!   A pop served that way is propagated as its effect (`LPOP key`, `LPOP key count`,
//!   `LMOVE ...`, `RPOPLPUSH ...`), never as the blocking request.
//!
//! Argument checks follow Redis 7.0's order for each command (for example LRANGE parses its
//! indexes before looking the key up, LINDEX looks the key up first), because that order decides
//! which error a client sees.

use bytes::{Bytes, BytesMut};
use std::time::Duration;

use super::flags::*;
use super::{CommandSpec, Ctx, Write, is, parse_i64, parse_timeout_secs};
use crate::config::notify::LIST;
use crate::error;
use crate::protocol::Reply;
use crate::store::list::List;
use crate::store::{Db, Value, own};

const G: &str = "list";

const POSITIVE_COUNT: &str = "ERR value is out of range, must be positive";
const OUT_OF_RANGE: &str = "ERR index out of range";
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
const NUMKEYS: &str = "ERR numkeys should be greater than 0";
const COUNT_POSITIVE: &str = "ERR count should be greater than 0";

/// Which end of a list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

impl End {
    /// The keyspace events of a pop and a push at this end.
    fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }
    fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }

    fn pop_cmd(self) -> Bytes {
        Bytes::from_static(match self {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        })
    }
}

fn wrongtype() -> Reply {
    Reply::error(error::WRONGTYPE)
}

/// `LEFT`/`RIGHT` as Redis's `getListPositionFromObjectOrReply` reads it.
fn parse_end(arg: &[u8]) -> Result<End, Reply> {
    if is(arg, "left") {
        Ok(End::Left)
    } else if is(arg, "right") {
        Ok(End::Right)
    } else {
        Err(Reply::error(error::SYNTAX))
    }
}

/// A `long` in `0..=LONG_MAX` (Redis's `getPositiveLongFromObjectOrReply`): any failure gives
/// `msg`.
fn parse_non_negative(arg: &[u8], msg: &'static str) -> Result<i64, Reply> {
    match crate::protocol::request::parse_i64(arg) {
        Some(v) if v >= 0 => Ok(v),
        _ => Err(Reply::error(msg)),
    }
}

/// A `long` in `1..=LONG_MAX`; any failure gives `msg`.
fn parse_positive(arg: &[u8], msg: &'static str) -> Result<i64, Reply> {
    match crate::protocol::request::parse_i64(arg) {
        Some(v) if v >= 1 => Ok(v),
        _ => Err(Reply::error(msg)),
    }
}

/// The list at `key`: `Ok(None)` if there is no key, WRONGTYPE if it holds something else.
fn list_mut<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a mut List>, Reply> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(wrongtype()),
    }
}

/// Pop up to `count` elements from one end of the list at `key` (which must be a list), deleting
/// the key when it becomes empty.
fn pop_from(db: &mut Db, key: &[u8], end: End, count: usize) -> Vec<Bytes> {
    let Ok(Some(l)) = list_mut(db, key) else {
        return Vec::new();
    };
    let n = count.min(l.len());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let v = match end {
            End::Left => l.pop_front(),
            End::Right => l.pop_back(),
        };
        out.extend(v);
    }
    if l.is_empty() {
        db.remove(key);
    }
    out
}

/// An array of bulk strings encoded once, straight from the list's storage: one allocation for
/// the whole reply instead of one per element. Arrays of bulk strings are the same bytes in RESP2
/// and RESP3, so the pre-encoded form suits both.
fn encode_bulks<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>) -> Reply {
    let mut out = BytesMut::with_capacity(16 + items.len() * 16);
    crate::protocol::reply::put_bulk_aggregate(&mut out, b'*', items);
    Reply::Raw(out.freeze())
}

/// Pop up to `count` elements from one end of the list at `key` as one pre-encoded array (see
/// [`encode_bulks`]), deleting the key when it becomes empty. Returns the reply and how many
/// elements were popped.
fn pop_many(db: &mut Db, key: &[u8], end: End, count: usize) -> (Reply, usize) {
    let Ok(Some(l)) = list_mut(db, key) else {
        return (Reply::Array(vec![]), 0);
    };
    let len = l.len();
    let n = count.min(len);
    let reply = match end {
        End::Left => encode_bulks(l.range(0, n)),
        End::Right => encode_bulks(l.range(len - n, len).rev()),
    };
    if n == len {
        db.remove(key);
    } else {
        match end {
            End::Left => l.trim(n, len - 1),
            End::Right => l.trim(0, len - n - 1),
        }
    }
    (reply, n)
}

/// Redis's LRANGE/LTRIM index normalisation: `Some((start, end))` inclusive, or `None` when the
/// range is empty.
fn normalize_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
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

/// A list index (negative counts from the tail) as a position, if in range.
fn normalize_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { len + index } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

// LPUSH key element [element ...]  /  RPUSH  /  LPUSHX  /  RPUSHX
fn push_generic(ctx: &mut Ctx, args: &[Bytes], end: End, only_existing: bool) -> Reply {
    let key = &args[1];
    let push_all = |l: &mut List| {
        for v in &args[2..] {
            match end {
                End::Left => l.push_front(v),
                End::Right => l.push_back(v),
            }
        }
        l.len()
    };
    let db = ctx.db();
    let len = match db.get_mut(key) {
        Some(Value::List(l)) => push_all(l),
        Some(_) => return wrongtype(),
        None if only_existing => return Reply::Int(0),
        None => {
            let mut l = List::new();
            let len = push_all(&mut l);
            db.set(key, Value::List(Box::new(l)));
            len
        }
    };
    ctx.wrote(
        Write::key(key)
            .changes(args.len() - 2)
            .wakes()
            .event(LIST, end.push_event()),
    );
    Reply::Int(len as i64)
}

fn lpush(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Left, false)
}

fn rpush(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Right, false)
}

fn lpushx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Left, true)
}

fn rpushx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Right, true)
}

// LPOP key [count]  /  RPOP key [count]
fn pop_generic(ctx: &mut Ctx, args: &[Bytes], end: End) -> Reply {
    if args.len() > 3 {
        return Reply::error(error::wrong_args(&ctx.entry.full_name));
    }
    let count = match args.get(2) {
        Some(a) => match parse_non_negative(a, POSITIVE_COUNT) {
            Ok(c) => Some(c as usize),
            Err(e) => return e,
        },
        None => None,
    };
    let key = &args[1];
    let db = ctx.db();
    match list_mut(db, key) {
        Err(e) => return e,
        Ok(None) => {
            return if count.is_some() {
                Reply::NullArray
            } else {
                Reply::Null
            };
        }
        Ok(Some(_)) => {}
    }
    match count {
        Some(0) => Reply::Array(vec![]),
        Some(n) => {
            let (reply, n) = pop_many(db, key, end, n);
            ctx.wrote(popped(key, end).changes(n));
            reply
        }
        None => {
            let v = pop_from(db, key, end, 1);
            ctx.wrote(popped(key, end));
            v.into_iter().next().map_or(Reply::Null, Reply::Bulk)
        }
    }
}

/// A pop from `key`: events `lpop`/`rpop`, then `del` when it emptied the list.
fn popped(key: &Bytes, end: End) -> Write<'_> {
    Write::key(key).event(LIST, end.pop_event()).del_if_gone()
}

fn lpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    pop_generic(ctx, args, End::Left)
}

fn rpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    pop_generic(ctx, args, End::Right)
}

// LLEN key
fn llen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match list_mut(ctx.db(), &args[1]) {
        Ok(l) => Reply::Int(l.map_or(0, |l| l.len()) as i64),
        Err(e) => e,
    }
}

// LRANGE key start stop
fn lrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (start, end) = match (parse_i64(&args[2]), parse_i64(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let l = match list_mut(ctx.db(), &args[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Array(vec![]),
        Err(e) => return e,
    };
    match normalize_range(start, end, l.len()) {
        None => Reply::Array(vec![]),
        Some((s, e)) => encode_bulks(l.range(s, e + 1)),
    }
}

// LINDEX key index
fn lindex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let l = match list_mut(ctx.db(), &args[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Null,
        Err(e) => return e,
    };
    let index = match parse_i64(&args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    match normalize_index(index, l.len()).and_then(|i| l.get(i)) {
        Some(v) => Reply::Bulk(v),
        None => Reply::Null,
    }
}

// LSET key index element
fn lset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let l = match list_mut(ctx.db(), &args[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::error(error::NO_SUCH_KEY),
        Err(e) => return e,
    };
    let index = match parse_i64(&args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    match normalize_index(index, l.len()) {
        Some(i) => {
            l.set(i, &args[3]);
            ctx.wrote(Write::key(&args[1]).event(LIST, "lset"));
            Reply::Ok
        }
        None => Reply::error(OUT_OF_RANGE),
    }
}

// LINSERT key BEFORE|AFTER pivot element
fn linsert(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Reply::error(error::SYNTAX);
    };
    let l = match list_mut(ctx.db(), &args[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    let Some(pos) = l.iter().position(|v| v == &args[3][..]) else {
        return Reply::Int(-1);
    };
    l.insert(pos + usize::from(after), &args[4]);
    let len = l.len();
    ctx.wrote(Write::key(&args[1]).event(LIST, "linsert"));
    Reply::Int(len as i64)
}

// LREM key count element
fn lrem(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let count = match parse_i64(&args[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let key = &args[1];
    let db = ctx.db();
    let l = match list_mut(db, key) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    let removed = match count {
        0 => l.remove_value(&args[3], usize::MAX, false),
        c if c > 0 => l.remove_value(&args[3], c as usize, false),
        c => l.remove_value(&args[3], c.unsigned_abs() as usize, true),
    };
    if l.is_empty() {
        db.remove(key);
    }
    if removed > 0 {
        ctx.wrote(
            Write::key(key)
                .changes(removed)
                .event(LIST, "lrem")
                .del_if_gone(),
        );
    }
    Reply::Int(removed as i64)
}

// LTRIM key start stop
fn ltrim(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (start, end) = match (parse_i64(&args[2]), parse_i64(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let key = &args[1];
    let db = ctx.db();
    let l = match list_mut(db, key) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Ok,
        Err(e) => return e,
    };
    let before = l.len();
    match normalize_range(start, end, before) {
        Some((s, e)) => l.trim(s, e),
        None => l.clear(),
    }
    let removed = before - l.len();
    if l.is_empty() {
        db.remove(key);
    }
    // Raised even when nothing was trimmed, as Redis does.
    ctx.wrote(
        Write::key(key)
            .changes(removed)
            .event(LIST, "ltrim")
            .del_if_gone(),
    );
    Reply::Ok
}

// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(&args[j], "rank") && more {
            j += 1;
            rank = match parse_i64(&args[j]) {
                Ok(r) => r,
                Err(e) => return e,
            };
            if rank == 0 {
                return Reply::error(RANK_ZERO);
            }
        } else if is(&args[j], "count") && more {
            j += 1;
            count = match parse_non_negative(&args[j], COUNT_NEGATIVE) {
                Ok(c) => Some(c),
                Err(e) => return e,
            };
        } else if is(&args[j], "maxlen") && more {
            j += 1;
            maxlen = match parse_non_negative(&args[j], MAXLEN_NEGATIVE) {
                Ok(m) => m,
                Err(e) => return e,
            };
        } else {
            return Reply::error(error::SYNTAX);
        }
        j += 1;
    }
    // A negative rank scans from the tail. Redis negates a `long` here, so RANK
    // -9223372036854775808 stays negative and (with Redis's signed comparisons below) matches
    // from the first hit: the same wrapping arithmetic reproduces that.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let l = match list_mut(ctx.db(), &args[1]) {
        Ok(Some(l)) => l,
        Ok(None) => {
            return if count.is_some() {
                Reply::Array(vec![])
            } else {
                Reply::Null
            };
        }
        Err(e) => return e,
    };
    let len = l.len();
    let ele = &args[2][..];
    let limit = if maxlen == 0 {
        usize::MAX
    } else {
        maxlen as usize
    };
    let mut matches: i64 = 0;
    let mut found = Vec::new();
    let mut scan = |i: usize, v: &[u8]| -> bool {
        if v != ele {
            return true;
        }
        matches += 1;
        if matches >= rank {
            let index = if from_tail { len - 1 - i } else { i };
            found.push(Reply::Int(index as i64));
            match count {
                None => return false,
                Some(c) => {
                    if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c {
                        return false;
                    }
                }
            }
        }
        true
    };
    if from_tail {
        for (i, v) in l.iter().rev().take(limit).enumerate() {
            if !scan(i, v) {
                break;
            }
        }
    } else {
        for (i, v) in l.iter().take(limit).enumerate() {
            if !scan(i, v) {
                break;
            }
        }
    }
    if count.is_some() {
        Reply::Array(found)
    } else {
        found.pop().unwrap_or(Reply::Null)
    }
}

/// The core of LMOVE/RPOPLPUSH/BLMOVE/BRPOPLPUSH: pop from `src`, push to `dst`, atomically.
/// `Ok(None)` when `src` does not exist; WRONGTYPE when either key holds something else
/// (nothing is moved then). `effect`: what to replay instead of the request (a served BLMOVE).
fn move_element(
    ctx: &mut Ctx,
    src: &Bytes,
    dst: &Bytes,
    from: End,
    to: End,
    effect: Option<Vec<Bytes>>,
) -> Result<Option<Bytes>, Reply> {
    let db = ctx.db();
    match db.get(src) {
        None => return Ok(None),
        Some(Value::List(_)) => {}
        Some(_) => return Err(wrongtype()),
    }
    if let Some(v) = db.get(dst)
        && !matches!(v, Value::List(_))
    {
        return Err(wrongtype());
    }
    let v = if src == dst {
        // A rotation of one list: it never becomes empty (nor loses its TTL).
        let Ok(Some(l)) = list_mut(db, src) else {
            return Ok(None);
        };
        let Some(v) = (match from {
            End::Left => l.pop_front(),
            End::Right => l.pop_back(),
        }) else {
            return Ok(None);
        };
        match to {
            End::Left => l.push_front(&v),
            End::Right => l.push_back(&v),
        }
        v
    } else {
        let Some(v) = pop_from(db, src, from, 1).pop() else {
            return Ok(None);
        };
        let Value::List(l) = db.entry_or_insert_with(dst, || Value::List(Box::default())) else {
            return Err(wrongtype());
        };
        match to {
            End::Left => l.push_front(&v),
            End::Right => l.push_back(&v),
        }
        v
    };
    // Redis pushes first, then pops: the destination's events come first.
    ctx.wrote(Write::key(dst).wakes().event(LIST, to.push_event()));
    let mut pop = popped(src, from).changes(0);
    if let Some(e) = effect {
        pop = pop.effect(e);
    }
    ctx.wrote(pop);
    Ok(Some(v))
}

// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
fn lmove(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (from, to) = match (parse_end(&args[3]), parse_end(&args[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match move_element(ctx, &args[1], &args[2], from, to, None) {
        Ok(Some(v)) => Reply::Bulk(v),
        Ok(None) => Reply::Null,
        Err(e) => e,
    }
}

// RPOPLPUSH source destination
fn rpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match move_element(ctx, &args[1], &args[2], End::Right, End::Left, None) {
        Ok(Some(v)) => Reply::Bulk(v),
        Ok(None) => Reply::Null,
        Err(e) => e,
    }
}

/// Keys to wait on, copied so the waiter does not pin the request's read buffer.
fn owned_keys(keys: &[Bytes]) -> Vec<Bytes> {
    keys.iter().map(own).collect()
}

/// Whether `key` holds a non-empty list; on a re-run, a key that changed type is simply not
/// ready (Redis 7.0 serves blocked clients only from list keys: they keep waiting), while the
/// first run reports WRONGTYPE.
fn ready_list(ctx: &mut Ctx, key: &[u8]) -> Result<bool, Reply> {
    let rerun = ctx.is_rerun();
    match ctx.db().get(key) {
        None => Ok(false),
        Some(Value::List(l)) => Ok(!l.is_empty()),
        Some(_) if rerun => Ok(false),
        Some(_) => Err(wrongtype()),
    }
}

/// The keys a blocking pop may serve from: all of them on the first run; on a re-run only the
/// key whose signal woke the waiter, as Redis 7.0 serves waiters key by key in the order keys
/// became ready (after `MULTI RPUSH b x RPUSH a y EXEC`, `BLPOP a b 0` gets `b x`).
fn serve_from<'k>(ctx: &Ctx, keys: &'k [Bytes]) -> &'k [Bytes] {
    if ctx.is_rerun()
        && let Some(ready) = ctx.ready_key()
        && let Some(k) = keys.iter().find(|k| *k == ready)
    {
        return std::slice::from_ref(k);
    }
    keys
}

// BLPOP key [key ...] timeout  /  BRPOP key [key ...] timeout
fn bpop_generic(ctx: &mut Ctx, args: &[Bytes], end: End) -> Reply {
    let timeout = match parse_timeout_secs(&args[args.len() - 1]) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let keys = &args[1..args.len() - 1];
    for key in serve_from(ctx, keys) {
        match ready_list(ctx, key) {
            Ok(true) => {
                let v = pop_from(ctx.db(), key, end, 1);
                ctx.wrote(popped(key, end).effect(vec![end.pop_cmd(), own(key)]));
                let mut out = vec![Reply::Bulk(key.clone())];
                out.extend(v.into_iter().map(Reply::Bulk));
                return Reply::Array(out);
            }
            Ok(false) => {}
            Err(e) => return e,
        }
    }
    ctx.block(args, owned_keys(keys), timeout, Reply::NullArray)
}

fn blpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    bpop_generic(ctx, args, End::Left)
}

fn brpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    bpop_generic(ctx, args, End::Right)
}

/// BLMOVE/BRPOPLPUSH once the arguments are parsed. A served client's effect is propagated as
/// `effect` (LMOVE or RPOPLPUSH with the same keys and directions).
fn bmove_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    from: End,
    to: End,
    timeout: Option<Duration>,
    effect: Vec<Bytes>,
) -> Reply {
    let (src, dst) = (&args[1], &args[2]);
    match ready_list(ctx, src) {
        Ok(true) => match move_element(ctx, src, dst, from, to, Some(effect)) {
            Ok(Some(v)) => Reply::Bulk(v),
            Ok(None) => Reply::Null,
            Err(e) => e,
        },
        Ok(false) if ctx.may_block() || ctx.is_rerun() => {
            ctx.block(args, owned_keys(&args[1..2]), timeout, Reply::NullArray)
        }
        // Inside MULTI: the non-blocking form's reply for a missing source.
        Ok(false) => Reply::Null,
        Err(e) => e,
    }
}

// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
fn blmove(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (from, to) = match (parse_end(&args[3]), parse_end(&args[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let timeout = match parse_timeout_secs(&args[5]) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let effect = vec![
        Bytes::from_static(b"LMOVE"),
        own(&args[1]),
        own(&args[2]),
        own(&args[3]),
        own(&args[4]),
    ];
    bmove_generic(ctx, args, from, to, timeout, effect)
}

// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let timeout = match parse_timeout_secs(&args[3]) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let effect = vec![
        Bytes::from_static(b"RPOPLPUSH"),
        own(&args[1]),
        own(&args[2]),
    ];
    bmove_generic(ctx, args, End::Right, End::Left, timeout, effect)
}

/// The `numkeys key [key ...] LEFT|RIGHT [COUNT count]` tail of LMPOP/BLMPOP starting at
/// `args[at]`: (keys, end, count).
fn parse_mpop(args: &[Bytes], at: usize) -> Result<(&[Bytes], End, usize), Reply> {
    let numkeys = parse_positive(&args[at], NUMKEYS)? as u64;
    let first = at + 1;
    let where_idx = (first as u64).saturating_add(numkeys);
    if where_idx >= args.len() as u64 {
        return Err(Reply::error(error::SYNTAX));
    }
    let where_idx = where_idx as usize;
    let end = parse_end(&args[where_idx])?;
    let mut count: Option<i64> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            j += 1;
            count = Some(parse_positive(&args[j], COUNT_POSITIVE)?);
        } else {
            return Err(Reply::error(error::SYNTAX));
        }
        j += 1;
    }
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    Ok((&args[first..where_idx], end, count))
}

/// Pop up to `count` from the first non-empty list among `keys`: `[key, [elements]]`, propagated
/// as `LPOP key n` / `RPOP key n`. `Ok(None)` when all are empty.
fn mpop_from(
    ctx: &mut Ctx,
    keys: &[Bytes],
    end: End,
    count: usize,
) -> Result<Option<Reply>, Reply> {
    for key in serve_from(ctx, keys) {
        if ready_list(ctx, key)? {
            let (elements, n) = pop_many(ctx.db(), key, end, count);
            let mut num = itoa::Buffer::new();
            let arg = Bytes::copy_from_slice(num.format(n).as_bytes());
            ctx.wrote(
                popped(key, end)
                    .changes(n)
                    .effect(vec![end.pop_cmd(), own(key), arg]),
            );
            return Ok(Some(Reply::Array(vec![Reply::Bulk(key.clone()), elements])));
        }
    }
    Ok(None)
}

// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn lmpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (keys, end, count) = match parse_mpop(args, 1) {
        Ok(p) => p,
        Err(e) => return e,
    };
    match mpop_from(ctx, keys, end, count) {
        Ok(Some(r)) => r,
        Ok(None) => Reply::NullArray,
        Err(e) => e,
    }
}

// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn blmpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (keys, end, count) = match parse_mpop(args, 2) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let timeout = match parse_timeout_secs(&args[1]) {
        Ok(t) => t,
        Err(e) => return e,
    };
    match mpop_from(ctx, keys, end, count) {
        Ok(Some(r)) => r,
        Ok(None) => ctx.block(args, owned_keys(keys), timeout, Reply::NullArray),
        Err(e) => e,
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, WRITE | DENYOOM | FAST, lpush)
        .keys(1, 1, 1)
        .group(G)
        .doc("Prepend one or multiple elements to a list", "1.0.0"),
    CommandSpec::new("rpush", -3, WRITE | DENYOOM | FAST, rpush)
        .keys(1, 1, 1)
        .group(G)
        .doc("Append one or multiple elements to a list", "1.0.0"),
    CommandSpec::new("lpushx", -3, WRITE | DENYOOM | FAST, lpushx)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Prepend an element to a list, only if the list exists",
            "2.2.0",
        ),
    CommandSpec::new("rpushx", -3, WRITE | DENYOOM | FAST, rpushx)
        .keys(1, 1, 1)
        .group(G)
        .doc("Append an element to a list, only if the list exists", "2.2.0"),
    CommandSpec::new("lpop", -2, WRITE | FAST, lpop)
        .keys(1, 1, 1)
        .group(G)
        .doc("Remove and get the first elements in a list", "1.0.0"),
    CommandSpec::new("rpop", -2, WRITE | FAST, rpop)
        .keys(1, 1, 1)
        .group(G)
        .doc("Remove and get the last elements in a list", "1.0.0"),
    CommandSpec::new("llen", 2, READONLY | FAST, llen)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get the length of a list", "1.0.0"),
    CommandSpec::new("lrange", 4, READONLY, lrange)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get a range of elements from a list", "1.0.0"),
    CommandSpec::new("lindex", 3, READONLY, lindex)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get an element from a list by its index", "1.0.0"),
    CommandSpec::new("lset", 4, WRITE | DENYOOM, lset)
        .keys(1, 1, 1)
        .group(G)
        .doc("Set the value of an element in a list by its index", "1.0.0"),
    CommandSpec::new("linsert", 5, WRITE | DENYOOM, linsert)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Insert an element before or after another element in a list",
            "2.2.0",
        ),
    CommandSpec::new("lrem", 4, WRITE, lrem)
        .keys(1, 1, 1)
        .group(G)
        .doc("Remove elements from a list", "1.0.0"),
    CommandSpec::new("ltrim", 4, WRITE, ltrim)
        .keys(1, 1, 1)
        .group(G)
        .doc("Trim a list to the specified range", "1.0.0"),
    CommandSpec::new("lpos", -3, READONLY, lpos)
        .keys(1, 1, 1)
        .group(G)
        .doc("Return the index of matching elements on a list", "6.0.6"),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, lmove)
        .keys(1, 2, 1)
        .group(G)
        .doc(
            "Pop an element from a list, push it to another list and return it",
            "6.2.0",
        ),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, rpoplpush)
        .keys(1, 2, 1)
        .group(G)
        .doc(
            "Remove the last element in a list, prepend it to another list and return it",
            "1.2.0",
        ),
    // Keys are found through numkeys (Redis reports 0 0 0 and the movablekeys flag).
    CommandSpec::new("lmpop", -4, WRITE | MOVABLEKEYS, lmpop)
        .group(G)
        .doc("Pop elements from a list", "7.0.0"),
    CommandSpec::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, blpop)
        .keys(1, -2, 1)
        .group(G)
        .doc(
            "Remove and get the first element in a list, or block until one is available",
            "2.0.0",
        ),
    CommandSpec::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, brpop)
        .keys(1, -2, 1)
        .group(G)
        .doc(
            "Remove and get the last element in a list, or block until one is available",
            "2.0.0",
        ),
    CommandSpec::new("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, blmove)
        .keys(1, 2, 1)
        .group(G)
        .doc(
            "Pop an element from a list, push it to another list and return it; or block until one is available",
            "6.2.0",
        ),
    CommandSpec::new(
        "brpoplpush",
        4,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        brpoplpush,
    )
    .keys(1, 2, 1)
    .group(G)
    .doc(
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "2.2.0",
    ),
    CommandSpec::new("blmpop", -5, WRITE | BLOCKING | MOVABLEKEYS, blmpop)
        .group(G)
        .doc(
            "Pop elements from a list, or block until one is available",
            "7.0.0",
        ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout(s: &str) -> Result<Option<u64>, String> {
        parse_timeout_secs(s.as_bytes())
            .map(|d| d.map(|d| d.as_millis() as u64))
            .map_err(|e| match e {
                Reply::Error(m) => m.into_owned(),
                other => format!("{other:?}"),
            })
    }

    /// Each case observed on redis-server 7.0.15 with BLPOP on an empty key.
    #[test]
    fn timeouts_as_redis_7_0_reads_them() {
        let nf = Err(error::TIMEOUT_NOT_FLOAT.to_string());
        let neg = Err(error::TIMEOUT_NEGATIVE.to_string());
        assert_eq!(timeout("0"), Ok(None));
        assert_eq!(timeout("-0"), Ok(None));
        assert_eq!(timeout("-0.0001"), Ok(None));
        assert_eq!(timeout("-1e-10"), Ok(None));
        assert_eq!(timeout("1e-3"), Ok(Some(1)));
        assert_eq!(timeout("1e-4"), Ok(Some(1)));
        assert_eq!(timeout("0.0009"), Ok(Some(1)));
        assert_eq!(timeout("1e-400"), Ok(Some(1)));
        assert_eq!(timeout("0x1p-20"), Ok(Some(1)));
        assert_eq!(timeout("0x10"), Ok(Some(16_000)));
        assert_eq!(timeout(".5"), Ok(Some(500)));
        assert_eq!(timeout("5."), Ok(Some(5000)));
        assert_eq!(timeout("+1"), Ok(Some(1000)));
        assert_eq!(timeout("1.5e3"), Ok(Some(1_500_000)));
        assert_eq!(timeout("9000000000000000"), Ok(None));
        assert_eq!(timeout("-1"), neg);
        assert_eq!(timeout("inf"), neg);
        assert_eq!(timeout("-inf"), neg);
        assert_eq!(timeout("+inf"), neg);
        assert_eq!(timeout("INF"), neg);
        assert_eq!(timeout("infinity"), neg);
        assert_eq!(timeout("9999999999999999"), neg);
        assert_eq!(timeout("17976931348623157e292"), neg);
        assert_eq!(timeout("1e400"), neg);
        assert_eq!(timeout("1e"), nf);
        assert_eq!(timeout(""), nf);
        assert_eq!(timeout("nan"), nf);
        assert_eq!(timeout("1 "), nf);
        assert_eq!(timeout(" 1"), nf);
        assert_eq!(timeout("0x"), nf);
        assert_eq!(timeout("abc"), nf);
        assert_eq!(timeout("1e-5000"), nf);
        assert_eq!(timeout("1e5000"), nf);
    }

    #[test]
    fn ranges_follow_lrange_rules() {
        assert_eq!(normalize_range(0, -1, 5), Some((0, 4)));
        assert_eq!(normalize_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(normalize_range(3, 1, 5), None);
        assert_eq!(normalize_range(5, 10, 5), None);
        assert_eq!(normalize_range(-2, -1, 5), Some((3, 4)));
        assert_eq!(normalize_range(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(normalize_range(0, -1, 0), None);
        assert_eq!(normalize_index(-1, 3), Some(2));
        assert_eq!(normalize_index(-4, 3), None);
        assert_eq!(normalize_index(3, 3), None);
        assert_eq!(normalize_index(i64::MIN, 3), None);
    }
}
