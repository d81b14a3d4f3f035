//! Conversions between command replies and Lua values, by Redis's rules, and the `cjson`
//! library.
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

use super::lstruct::{arg_error, type_name};

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
        LuaValue::Number(n) => Reply::Int(*n as i64),
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

// ---------------------------------------------------------------------------------------------
// cjson

/// Array length if `t` is a proper array (keys 1..n), as lua-cjson decides.
fn array_len(t: &Table) -> Option<usize> {
    let mut max = 0usize;
    let mut count = 0usize;
    for (k, _) in t.pairs::<LuaValue, LuaValue>().flatten() {
        match k {
            LuaValue::Integer(i) if i >= 1 => {
                max = max.max(i as usize);
                count += 1;
            }
            LuaValue::Number(n) if n >= 1.0 && n.fract() == 0.0 => {
                max = max.max(n as usize);
                count += 1;
            }
            _ => return None,
        }
    }
    if max > count * 2 && max > 10 {
        return None;
    }
    Some(max)
}

fn json_escape(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            8 => out.extend_from_slice(b"\\b"),
            12 => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

fn json_encode(v: &LuaValue, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    // The output lives outside the Lua state's memory limit: bound it the same way.
    // DEVIATION(redis): lua-cjson has no output limit.
    if out.len() > super::MEMORY_LIMIT {
        return Err(mlua::Error::RuntimeError(
            "Cannot serialise, output too large".into(),
        ));
    }
    if depth > 1000 {
        return Err(mlua::Error::RuntimeError(
            "Cannot serialise, excessive nesting (1001)".into(),
        ));
    }
    match v {
        LuaValue::Nil => out.extend_from_slice(b"null"),
        LuaValue::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        LuaValue::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        LuaValue::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        LuaValue::Number(n) => {
            if !n.is_finite() {
                return Err(mlua::Error::RuntimeError(
                    "Cannot serialise number: must not be NaN or Inf".into(),
                ));
            }
            out.extend_from_slice(format_g(*n, 14).as_bytes())
        }
        LuaValue::String(s) => json_escape(out, &s.as_bytes()),
        LuaValue::Table(t) => match array_len(t) {
            Some(n)
                if n > 0
                    || t.raw_len() == 0 && t.pairs::<LuaValue, LuaValue>().next().is_none() =>
            {
                if n == 0 {
                    out.extend_from_slice(b"{}");
                    return Ok(());
                }
                out.push(b'[');
                for i in 1..=n {
                    if i > 1 {
                        out.push(b',');
                    }
                    json_encode(&t.raw_get::<LuaValue>(i)?, out, depth + 1)?;
                }
                out.push(b']');
            }
            _ => {
                out.push(b'{');
                let mut first = true;
                for (k, v) in t.pairs::<LuaValue, LuaValue>().flatten() {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    match &k {
                        LuaValue::String(s) => json_escape(out, &s.as_bytes()),
                        LuaValue::Integer(i) => json_escape(out, i.to_string().as_bytes()),
                        LuaValue::Number(n) => json_escape(out, format_g(*n, 14).as_bytes()),
                        _ => {
                            return Err(mlua::Error::RuntimeError(
                                "Cannot serialise table: table key must be a number or string"
                                    .into(),
                            ));
                        }
                    }
                    out.push(b':');
                    json_encode(&v, out, depth + 1)?;
                }
                out.push(b'}');
            }
        },
        other => {
            return Err(mlua::Error::RuntimeError(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )));
        }
    }
    Ok(())
}

fn json_to_lua(lua: &Lua, v: &serde_json::Value) -> mlua::Result<LuaValue> {
    Ok(match v {
        serde_json::Value::Null => {
            LuaValue::LightUserData(mlua::LightUserData(std::ptr::null_mut()))
        }
        serde_json::Value::Bool(b) => LuaValue::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => LuaValue::Integer(i),
            None => LuaValue::Number(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => LuaValue::String(lua.create_string(s)?),
        serde_json::Value::Array(a) => {
            let t = lua.create_table_with_capacity(a.len(), 0)?;
            for (i, x) in a.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, x)?)?;
            }
            LuaValue::Table(t)
        }
        serde_json::Value::Object(o) => {
            let t = lua.create_table()?;
            for (k, x) in o {
                t.raw_set(k.as_str(), json_to_lua(lua, x)?)?;
            }
            LuaValue::Table(t)
        }
    })
}

pub fn cjson_lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, v: LuaValue| {
            let mut out = Vec::new();
            json_encode(&v, &mut out, 0)?;
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let v: serde_json::Value = serde_json::from_slice(&s.as_bytes()).map_err(|e| {
                mlua::Error::RuntimeError(format!("Expected value but found invalid token: {e}"))
            })?;
            json_to_lua(lua, &v)
        })?,
    )?;
    t.raw_set(
        "null",
        LuaValue::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
    )?;
    // Whether lua-cjson keeps its encode buffer between calls: a memory trade-off with no
    // visible effect, so only the setting itself is kept (on by default, as in Redis).
    let keep_buffer = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    t.raw_set(
        "encode_keep_buffer",
        lua.create_function(move |lua, args: mlua::MultiValue| {
            use std::sync::atomic::Ordering::Relaxed;
            let name = "encode_keep_buffer";
            if args.len() > 1 {
                return Err(arg_error(name, 2, "found too many arguments"));
            }
            match args.front() {
                None | Some(LuaValue::Nil) => {}
                Some(LuaValue::Boolean(b)) => keep_buffer.store(*b, Relaxed),
                Some(v) => {
                    let s = match v {
                        LuaValue::String(_) | LuaValue::Integer(_) | LuaValue::Number(_) => {
                            lua.coerce_string(v.clone())?
                        }
                        _ => None,
                    };
                    let Some(s) = s else {
                        let msg = format!("string expected, got {}", type_name(Some(v)));
                        return Err(arg_error(name, 1, &msg));
                    };
                    match &s.as_bytes()[..] {
                        b"off" => keep_buffer.store(false, Relaxed),
                        b"on" => keep_buffer.store(true, Relaxed),
                        other => {
                            let msg =
                                format!("invalid option '{}'", String::from_utf8_lossy(other));
                            return Err(arg_error(name, 1, &msg));
                        }
                    }
                }
            }
            Ok(keep_buffer.load(Relaxed))
        })?,
    )?;
    Ok(t)
}
