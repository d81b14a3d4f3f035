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
use mlua::{Table, Value as LuaValue};

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

/// A command's reply made ready for [`push_reply`] in a script reading protocol `resp`: what
/// needs owned work is done here, in plain Rust (pre-encoded replies decoded, the RESP2 forms
/// of maps, sets, doubles and verbatim strings), so the conversion that follows allocates
/// nothing on the Rust side.
pub fn for_script(r: Reply, resp: u8) -> Reply {
    match r {
        Reply::Raw(b) => match crate::protocol::reply::decode(&b) {
            Some((r, _)) => for_script(r, resp),
            None => Reply::NoReply,
        },
        Reply::Array(v) | Reply::Push(v) => Reply::Array(items_for_script(v, resp)),
        Reply::Set(v) if resp == 2 => Reply::Array(items_for_script(v, resp)),
        Reply::Set(v) => Reply::Set(items_for_script(v, resp)),
        Reply::Map(pairs) if resp == 2 => Reply::Array(
            pairs
                .into_iter()
                .flat_map(|(k, v)| [for_script(k, resp), for_script(v, resp)])
                .collect(),
        ),
        Reply::Map(pairs) => Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (for_script(k, resp), for_script(v, resp)))
                .collect(),
        ),
        Reply::Double(d) if resp == 2 => {
            Reply::Bulk(Bytes::from(crate::protocol::reply::format_double(d)))
        }
        Reply::Verbatim(b) if resp == 2 => Reply::Bulk(b),
        other => other,
    }
}

fn items_for_script(v: Vec<Reply>, resp: u8) -> Vec<Reply> {
    let plain = |r: &Reply| {
        matches!(
            r,
            Reply::Bulk(_) | Reply::Int(_) | Reply::Null | Reply::NullArray | Reply::Ok
        )
    };
    if v.iter().all(plain) {
        return v;
    }
    v.into_iter().map(|r| for_script(r, resp)).collect()
}

/// Push the Lua value of `r` (made ready by [`for_script`]) for a script reading protocol
/// `resp`, by the rules at the top of this module, with the raw API: Redis's
/// redisProtocolToLuaType. `ran`: `r` is what the call's checks or the command replied, so
/// its errors also carry `ignore_error_stats_update = true`, as Redis marks errors already
/// counted in the error statistics (bad arguments to redis.call give a plain `{err=...}`).
///
/// # Safety
/// `state` is a valid Lua state. A memory error (or a nil or NaN set member or map key)
/// raises a Lua error, which leaves by `longjmp`: every frame between here and the
/// protected call must be free of destructors (this function's frames are).
pub unsafe fn push_reply(state: *mut mlua::ffi::lua_State, r: &Reply, resp: u8, ran: bool) {
    use mlua::ffi;
    unsafe {
        ffi::luaL_checkstack(state, 4, c"reply nested too deeply".as_ptr());
        match r {
            Reply::Ok => push_field_table(state, c"ok", b"OK"),
            Reply::Status(s) => push_field_table(state, c"ok", s.as_bytes()),
            Reply::Error(e) => {
                push_field_table(state, c"err", e.as_bytes());
                if ran {
                    ffi::lua_pushboolean(state, 1);
                    ffi::lua_setfield(state, -2, c"ignore_error_stats_update".as_ptr());
                }
            }
            Reply::Int(i) => ffi::lua_pushnumber(state, *i as f64),
            Reply::Bulk(b) => push_bytes(state, b),
            Reply::Verbatim(b) => {
                ffi::lua_createtable(state, 0, 1);
                ffi::lua_createtable(state, 0, 2);
                push_bytes(state, b"txt");
                ffi::lua_setfield(state, -2, c"format".as_ptr());
                push_bytes(state, b);
                ffi::lua_setfield(state, -2, c"string".as_ptr());
                ffi::lua_setfield(state, -2, c"verbatim_string".as_ptr());
            }
            Reply::Null | Reply::NullArray if resp == 3 => ffi::lua_pushnil(state),
            Reply::Array(items) | Reply::Push(items) => {
                ffi::lua_createtable(state, items.len().min(i32::MAX as usize) as _, 0);
                for (i, it) in items.iter().enumerate() {
                    push_reply(state, it, resp, ran);
                    ffi::lua_rawseti(state, -2, (i + 1) as _);
                }
            }
            Reply::Set(items) => {
                ffi::lua_createtable(state, 0, 1);
                ffi::lua_createtable(state, 0, items.len().min(i32::MAX as usize) as _);
                for it in items {
                    push_reply(state, it, resp, ran);
                    ffi::lua_pushboolean(state, 1);
                    ffi::lua_rawset(state, -3);
                }
                ffi::lua_setfield(state, -2, c"set".as_ptr());
            }
            Reply::Map(pairs) => {
                ffi::lua_createtable(state, 0, 1);
                ffi::lua_createtable(state, 0, pairs.len().min(i32::MAX as usize) as _);
                for (k, v) in pairs {
                    push_reply(state, k, resp, ran);
                    push_reply(state, v, resp, ran);
                    ffi::lua_rawset(state, -3);
                }
                ffi::lua_setfield(state, -2, c"map".as_ptr());
            }
            Reply::Double(d) => {
                ffi::lua_createtable(state, 0, 1);
                ffi::lua_pushnumber(state, *d);
                ffi::lua_setfield(state, -2, c"double".as_ptr());
            }
            Reply::Bool(b) if resp == 3 => ffi::lua_pushboolean(state, *b as _),
            Reply::Bool(b) => ffi::lua_pushnumber(state, *b as i64 as f64),
            // RESP2 nulls, and what `for_script` could not decode.
            Reply::Null | Reply::NullArray | Reply::Raw(_) | Reply::Blocked | Reply::NoReply => {
                ffi::lua_pushboolean(state, 0)
            }
        }
    }
}

/// # Safety
/// As [`push_reply`].
unsafe fn push_bytes(state: *mut mlua::ffi::lua_State, b: &[u8]) {
    unsafe {
        mlua::ffi::lua_pushlstring(state, b.as_ptr().cast(), b.len());
    }
}

/// `{name = value}`. Fresh tables have no metatable, so `lua_setfield` runs no Lua code.
///
/// # Safety
/// As [`push_reply`].
unsafe fn push_field_table(state: *mut mlua::ffi::lua_State, name: &std::ffi::CStr, value: &[u8]) {
    use mlua::ffi;
    unsafe {
        ffi::lua_createtable(state, 0, 1);
        push_bytes(state, value);
        ffi::lua_setfield(state, -2, name.as_ptr());
    }
}
