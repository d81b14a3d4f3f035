//! String commands (the part the core and its tests need: GET, SET, MGET, MSET, INCR family,
//! APPEND, STRLEN).

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, is, parse_i64};
use crate::error;
use crate::protocol::Reply;
use crate::store::{Value, own, unix_ms};

const G: &str = "string";

/// The string at `key`: Ok(None) when missing, Err(WRONGTYPE) for another type.
fn get_string(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    match ctx.db().get(key) {
        None => Ok(None),
        Some(Value::Str(b)) => Ok(Some(b.clone())),
        #[allow(unreachable_patterns)]
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

// GET key
fn get(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match get_string(ctx, &args[1]) {
        Ok(Some(b)) => Reply::Bulk(b),
        Ok(None) => Reply::Null,
        Err(e) => e,
    }
}

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]
fn set(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (mut nx, mut xx, mut get_old, mut keepttl) = (false, false, false, false);
    let mut expire: Option<(i64, bool, bool)> = None; // (value, in_ms, absolute)
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        if is(a, "nx") && !xx {
            nx = true;
        } else if is(a, "xx") && !nx {
            xx = true;
        } else if is(a, "get") {
            get_old = true;
        } else if is(a, "keepttl") && expire.is_none() {
            keepttl = true;
        } else if let (Some(v), true) = (next, expire.is_none() && !keepttl) {
            let kind = if is(a, "ex") {
                (false, false)
            } else if is(a, "px") {
                (true, false)
            } else if is(a, "exat") {
                (false, true)
            } else if is(a, "pxat") {
                (true, true)
            } else {
                return Reply::error(error::SYNTAX);
            };
            let n = match parse_i64(v) {
                Ok(n) => n,
                Err(e) => return e,
            };
            expire = Some((n, kind.0, kind.1));
            i += 1;
        } else {
            return Reply::error(error::SYNTAX);
        }
        i += 1;
    }
    let mut at = None;
    if let Some((n, ms, abs)) = expire {
        let invalid = Reply::error("ERR invalid expire time in 'set' command");
        if n <= 0 || (!ms && n > i64::MAX / 1000) {
            return invalid;
        }
        let v = if ms { n } else { n * 1000 };
        let v = if abs {
            Some(v)
        } else {
            v.checked_add(unix_ms())
        };
        match v {
            Some(v) => at = Some(v),
            None => return invalid,
        }
    }
    let (key, val) = (&args[1], &args[2]);
    let old = match get_string(ctx, key) {
        Ok(o) => o,
        Err(e) => {
            if get_old {
                return e;
            }
            None
        }
    };
    let exists = ctx.db().contains(key);
    if (nx && exists) || (xx && !exists) {
        return match (get_old, old) {
            (true, Some(o)) => Reply::Bulk(o),
            _ => Reply::Null,
        };
    }
    let db = ctx.db();
    if keepttl {
        db.set_keep_ttl(key, Value::Str(own(val)));
    } else {
        db.set(key, Value::Str(own(val)));
    }
    if let Some(at) = at {
        db.set_expire(key, at);
    }
    ctx.changed();
    ctx.signal_ready(key);
    if let Some(at) = at {
        let mut eff = vec![Bytes::from_static(b"SET"), key.clone(), val.clone()];
        eff.push(Bytes::from_static(b"PXAT"));
        eff.push(Bytes::from(at.to_string()));
        ctx.propagate(eff);
    } else if get_old || nx || xx {
        let mut eff = vec![Bytes::from_static(b"SET"), key.clone(), val.clone()];
        if keepttl {
            eff.push(Bytes::from_static(b"KEEPTTL"));
        }
        ctx.propagate(eff);
    }
    if get_old {
        match old {
            Some(o) => Reply::Bulk(o),
            None => Reply::Null,
        }
    } else {
        Reply::Ok
    }
}

// MGET key [key ...]
fn mget(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let db = ctx.db();
    Reply::Array(
        args[1..]
            .iter()
            .map(|k| match db.get(k) {
                Some(Value::Str(b)) => Reply::Bulk(b.clone()),
                #[allow(unreachable_patterns)]
                _ => Reply::Null,
            })
            .collect(),
    )
}

// MSET key value [key value ...]
fn mset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len().is_multiple_of(2) {
        return Reply::Error(error::wrong_args("mset").into());
    }
    for kv in args[1..].chunks(2) {
        ctx.db().set(&kv[0], Value::Str(own(&kv[1])));
        ctx.changed();
        ctx.signal_ready(&kv[0]);
    }
    Reply::Ok
}

fn incr_generic(ctx: &mut Ctx, key: &Bytes, by: i64) -> Reply {
    let cur = match get_string(ctx, key) {
        Ok(Some(b)) => match crate::protocol::request::parse_i64(&b) {
            Some(v) => v,
            None => return Reply::error(error::NOT_INTEGER),
        },
        Ok(None) => 0,
        Err(e) => return e,
    };
    let Some(new) = cur.checked_add(by) else {
        return Reply::error("ERR increment or decrement would overflow");
    };
    ctx.db()
        .set_keep_ttl(key, Value::Str(Bytes::from(new.to_string())));
    ctx.changed();
    Reply::Int(new)
}

// INCR key
fn incr(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    incr_generic(ctx, &args[1], 1)
}
// DECR key
fn decr(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    incr_generic(ctx, &args[1], -1)
}
// INCRBY key increment
fn incrby(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match parse_i64(&args[2]) {
        Ok(n) => incr_generic(ctx, &args[1], n),
        Err(e) => e,
    }
}
// DECRBY key decrement
fn decrby(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match parse_i64(&args[2]) {
        Ok(n) if n == i64::MIN => Reply::error("ERR decrement would overflow"),
        Ok(n) => incr_generic(ctx, &args[1], -n),
        Err(e) => e,
    }
}

// APPEND key value
fn append(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let cur = match get_string(ctx, &args[1]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let mut v = cur.map(|b| b.to_vec()).unwrap_or_default();
    if v.len() + args[2].len() > 512 * 1024 * 1024 {
        return Reply::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    }
    v.extend_from_slice(&args[2]);
    let n = v.len();
    ctx.db().set_keep_ttl(&args[1], Value::Str(Bytes::from(v)));
    ctx.changed();
    Reply::Int(n as i64)
}

// STRLEN key
fn strlen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match get_string(ctx, &args[1]) {
        Ok(v) => Reply::Int(v.map(|b| b.len()).unwrap_or(0) as i64),
        Err(e) => e,
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, get)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get the value of a key", "1.0.0"),
    CommandSpec::new("set", -3, WRITE | DENYOOM, set)
        .keys(1, 1, 1)
        .group(G)
        .doc("Set the string value of a key", "1.0.0"),
    CommandSpec::new("mget", -2, READONLY | FAST, mget)
        .keys(1, -1, 1)
        .group(G)
        .doc("Get the values of all the given keys", "1.0.0"),
    CommandSpec::new("mset", -3, WRITE | DENYOOM, mset)
        .keys(1, -1, 2)
        .group(G)
        .doc("Set multiple keys to multiple values", "1.0.1"),
    CommandSpec::new("incr", 2, WRITE | DENYOOM | FAST, incr)
        .keys(1, 1, 1)
        .group(G)
        .doc("Increment the integer value of a key by one", "1.0.0"),
    CommandSpec::new("decr", 2, WRITE | DENYOOM | FAST, decr)
        .keys(1, 1, 1)
        .group(G)
        .doc("Decrement the integer value of a key by one", "1.0.0"),
    CommandSpec::new("incrby", 3, WRITE | DENYOOM | FAST, incrby)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Increment the integer value of a key by the given amount",
            "1.0.0",
        ),
    CommandSpec::new("decrby", 3, WRITE | DENYOOM | FAST, decrby)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Decrement the integer value of a key by the given number",
            "1.0.0",
        ),
    CommandSpec::new("append", 3, WRITE | DENYOOM, append)
        .keys(1, 1, 1)
        .group(G)
        .doc("Append a value to a key", "2.0.0"),
    CommandSpec::new("strlen", 2, READONLY | FAST, strlen)
        .keys(1, 1, 1)
        .group(G)
        .doc("Get the length of the value stored in a key", "2.2.0"),
];

/// A float argument of INCRBYFLOAT/HINCRBYFLOAT (Redis's `string2ld`: no spaces, no NaN).
pub(crate) fn parse_long_double(arg: &[u8]) -> Option<f64> {
    super::parse_f64(arg).filter(|v| !v.is_nan())
}

/// An INCRBYFLOAT/HINCRBYFLOAT result as Redis prints it (`%.17Lf`, trailing zeros removed,
/// never an exponent).
///
/// DEVIATION(redis): Redis computes in 80-bit `long double`; we compute in `f64` and round to
/// 15 significant digits, which gives the same text for the usual short decimals (`1.1 + 0.1`
/// is `1.2` in both) but not the noise digits Redis shows for large magnitudes (`10000.1 + 0.1`
/// is `10000.19999999999999929` there, `10000.2` here).
pub(crate) fn format_long_double(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    let decimals = (14 - mag).clamp(0, 17) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}
