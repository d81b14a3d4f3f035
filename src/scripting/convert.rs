//! Conversions between command replies and Lua values, by Redis's rules.
//!
//! Reply -> Lua (what `redis.call` returns): integer -> number, bulk -> string, null -> false
//! (RESP2) or nil (RESP3), array -> table, status -> `{ok=...}`, error -> `{err=...}`; with
//! `redis.setresp(3)` also map -> `{map=...}`, set -> `{set=...}`, double -> `{double=...}`,
//! boolean -> boolean.
//! Lua -> reply (what the script returns): number -> integer (truncated), string -> bulk,
//! true -> 1 / false -> null (RESP2) or booleans (RESP3), table -> array up to the first nil,
//! `{ok=}` -> status, `{err=}` -> error, `{double=}` -> double, `{map=}`, `{set=}` with RESP3.

use bytes::Bytes;
use mlua::{Lua, Table, Value as LuaValue};

use crate::protocol::Reply;
use crate::protocol::reply::format_g;

/// A Lua number as `lua_tolstring` prints it (`%.14g`).
pub fn lua_number_string(n: f64) -> String {
    if n.is_infinite() {
        return if n > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if n.is_nan() {
        return "nan".into();
    }
    format_g(n, 14)
}

fn strip_dash(s: &[u8]) -> String {
    let s = String::from_utf8_lossy(s).into_owned();
    match s.strip_prefix('-') {
        Some(r) => r.to_string(),
        None => s,
    }
}

/// Nesting allowed in a script's reply. Redis stops at its Lua stack limit (about 8000 levels)
/// with an `ERR reached lua stack limit` element; ferrymq converts and encodes replies
/// recursively on a worker thread's stack, so it stops earlier.
/// DEVIATION(redis): deeper levels become that error element after 200 levels, not ~8000.
const MAX_REPLY_DEPTH: usize = 200;
/// Elements a script's reply may hold (shared subtables make a small table a huge reply).
/// DEVIATION(redis): Redis has no such limit; past it the reply is an error.
const MAX_REPLY_ELEMENTS: usize = 8 * 1024 * 1024;

struct Budget {
    elements: usize,
    exceeded: bool,
}

/// A script's return value as a reply (see the module documentation).
pub fn lua_to_reply(v: &LuaValue, resp: u8) -> Reply {
    let mut budget = Budget {
        elements: 0,
        exceeded: false,
    };
    let r = to_reply(v, resp, 0, &mut budget);
    if budget.exceeded {
        return Reply::error("ERR reply too large: more than 8388608 elements");
    }
    r
}

fn to_reply(v: &LuaValue, resp: u8, depth: usize, b: &mut Budget) -> Reply {
    b.elements += 1;
    if b.elements > MAX_REPLY_ELEMENTS {
        b.exceeded = true;
        return Reply::Null;
    }
    match v {
        LuaValue::Nil => Reply::Null,
        LuaValue::Boolean(b) => {
            if resp == 3 {
                Reply::Bool(*b)
            } else if *b {
                Reply::Int(1)
            } else {
                Reply::Null
            }
        }
        LuaValue::Integer(i) => Reply::Int(*i),
        // As Redis's C cast: NaN and out-of-range numbers give i64::MIN.
        LuaValue::Number(n) => Reply::Int(super::cjson::c_double_to_i64(*n)),
        LuaValue::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        LuaValue::Table(t) => {
            if depth >= MAX_REPLY_DEPTH {
                return Reply::error("ERR reached lua stack limit");
            }
            table_to_reply(t, resp, depth + 1, b)
        }
        _ => Reply::Null,
    }
}

fn table_to_reply(t: &Table, resp: u8, depth: usize, b: &mut Budget) -> Reply {
    if let Ok(LuaValue::String(e)) = t.raw_get::<LuaValue>("err") {
        return Reply::Error(strip_dash(&e.as_bytes()).into());
    }
    if let Ok(LuaValue::String(s)) = t.raw_get::<LuaValue>("ok") {
        return Reply::Status(String::from_utf8_lossy(&s.as_bytes()).into_owned().into());
    }
    if let Ok(d) = t.raw_get::<LuaValue>("double") {
        match d {
            LuaValue::Integer(i) => return Reply::Double(i as f64),
            LuaValue::Number(n) => return Reply::Double(n),
            _ => {}
        }
    }
    if resp == 3 {
        if let Ok(LuaValue::Table(m)) = t.raw_get::<LuaValue>("map") {
            let mut pairs = Vec::new();
            for (k, v) in m.pairs::<LuaValue, LuaValue>().flatten() {
                if b.exceeded {
                    break;
                }
                pairs.push((to_reply(&k, resp, depth, b), to_reply(&v, resp, depth, b)));
            }
            return Reply::Map(pairs);
        }
        if let Ok(LuaValue::Table(m)) = t.raw_get::<LuaValue>("set") {
            let mut items = Vec::new();
            for (k, _) in m.pairs::<LuaValue, LuaValue>().flatten() {
                if b.exceeded {
                    break;
                }
                items.push(to_reply(&k, resp, depth, b));
            }
            return Reply::Set(items);
        }
        if let Ok(LuaValue::String(s)) = t.raw_get::<LuaValue>("big_number") {
            return Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes()));
        }
    }
    let mut items = Vec::new();
    let mut i = 1;
    while !b.exceeded {
        match t.raw_get::<LuaValue>(i) {
            Ok(LuaValue::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply(&v, resp, depth, b)),
        }
        i += 1;
    }
    Reply::Array(items)
}

pub fn reply_to_lua(lua: &Lua, r: &Reply, resp: u8) -> mlua::Result<LuaValue> {
    Ok(match r {
        Reply::Ok => status_table(lua, "OK")?,
        Reply::Status(s) => status_table(lua, s)?,
        Reply::Error(e) => {
            let t = lua.create_table()?;
            t.raw_set("err", e.as_ref())?;
            LuaValue::Table(t)
        }
        Reply::Int(i) => LuaValue::Integer(*i),
        Reply::Bulk(b) => LuaValue::String(lua.create_string(&b[..])?),
        Reply::Verbatim(b) => {
            if resp == 3 {
                let t = lua.create_table()?;
                let inner = lua.create_table()?;
                inner.raw_set("format", "txt")?;
                inner.raw_set("string", lua.create_string(&b[..])?)?;
                t.raw_set("verbatim_string", inner)?;
                LuaValue::Table(t)
            } else {
                LuaValue::String(lua.create_string(&b[..])?)
            }
        }
        Reply::Null | Reply::NullArray => {
            if resp == 3 {
                LuaValue::Nil
            } else {
                LuaValue::Boolean(false)
            }
        }
        Reply::Array(items) | Reply::Push(items) => list_table(lua, items, resp)?,
        Reply::Set(items) => {
            if resp == 3 {
                let t = lua.create_table()?;
                let inner = lua.create_table()?;
                for i in items {
                    inner.raw_set(reply_to_lua(lua, i, resp)?, true)?;
                }
                t.raw_set("set", inner)?;
                LuaValue::Table(t)
            } else {
                list_table(lua, items, resp)?
            }
        }
        Reply::Map(pairs) => {
            if resp == 3 {
                let t = lua.create_table()?;
                let inner = lua.create_table()?;
                for (k, v) in pairs {
                    inner.raw_set(reply_to_lua(lua, k, resp)?, reply_to_lua(lua, v, resp)?)?;
                }
                t.raw_set("map", inner)?;
                LuaValue::Table(t)
            } else {
                let flat: Vec<Reply> = pairs
                    .iter()
                    .flat_map(|(k, v)| [k.clone(), v.clone()])
                    .collect();
                list_table(lua, &flat, resp)?
            }
        }
        Reply::Double(d) => {
            if resp == 3 {
                let t = lua.create_table()?;
                t.raw_set("double", *d)?;
                LuaValue::Table(t)
            } else {
                let s = crate::protocol::reply::format_double(*d);
                LuaValue::String(lua.create_string(s.as_bytes())?)
            }
        }
        Reply::Bool(b) => {
            if resp == 3 {
                LuaValue::Boolean(*b)
            } else {
                LuaValue::Integer(*b as i64)
            }
        }
        // A reply encoded ahead (list ranges): converted from its decoded form, so a script sees
        // what it would had the command built a Reply.
        Reply::Raw(b) => match crate::protocol::reply::decode(b) {
            Some((r, _)) => reply_to_lua(lua, &r, resp)?,
            None => LuaValue::Boolean(false),
        },
        Reply::Blocked | Reply::NoReply => LuaValue::Boolean(false),
    })
}

fn status_table(lua: &Lua, s: &str) -> mlua::Result<LuaValue> {
    let t = lua.create_table()?;
    t.raw_set("ok", s)?;
    Ok(LuaValue::Table(t))
}

fn list_table(lua: &Lua, items: &[Reply], resp: u8) -> mlua::Result<LuaValue> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, it) in items.iter().enumerate() {
        t.raw_set(i + 1, reply_to_lua(lua, it, resp)?)?;
    }
    Ok(LuaValue::Table(t))
}
