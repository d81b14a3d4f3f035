//! The Lua environment Redis gives scripts: the `redis` table, `bit`, `cjson`, `cmsgpack`,
//! protected globals.

use mlua::{Lua, Table, Value as LuaValue};

/// Lua code run once per state. `impl` holds the per-run Rust functions (set for each script
/// run), `invoke` runs a script and catches its error value.
const PRELUDE: &str = r#"
local impl = {}
local type, error, rawget, pcall, tostring = type, error, rawget, pcall, tostring
redis = redis or {}
redis.call = function(...)
  local r = impl.call(...)
  if type(r) == 'table' and rawget(r, 'err') ~= nil then error(r, 0) end
  return r
end
redis.pcall = function(...) return impl.call(...) end
redis.setresp = function(v)
  if v ~= 2 and v ~= 3 then error('RESP version must be 2 or 3.', 0) end
  impl.setresp(v)
end
redis.error_reply = function(msg)
  if type(msg) ~= 'string' then error('wrong number or type of arguments', 0) end
  return {err = msg}
end
redis.status_reply = function(msg)
  if type(msg) ~= 'string' then error('wrong number or type of arguments', 0) end
  return {ok = msg}
end
redis.set_repl = function(v) end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.LOG_DEBUG = 0
redis.LOG_VERBOSE = 1
redis.LOG_NOTICE = 2
redis.LOG_WARNING = 3
redis.REPL_NONE = 0
redis.REPL_AOF = 1
redis.REPL_SLAVE = 2
redis.REPL_REPLICA = 2
redis.REPL_ALL = 3
impl.invoke = function(f)
  local ok, v = pcall(f)
  if ok then return true, v end
  if type(v) ~= 'table' and type(v) ~= 'string' then v = tostring(v) end
  return false, v
end
dofile = nil
loadfile = nil
return impl
"#;

/// Lua code that freezes the global table, last.
const PROTECT: &str = r#"
local error, tostring = error, tostring
setmetatable(_G, {
  __newindex = function(t, k, v) error('Attempt to modify a readonly table', 2) end,
  __index = function(t, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
})
"#;

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let g = lua.globals();
    let redis = lua.create_table()?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, s: mlua::LuaString| Ok(super::sha1_hex(&s.as_bytes())))?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|_, (level, msg): (i64, mlua::MultiValue)| {
            let text: Vec<String> = msg
                .iter()
                .map(|v| v.to_string().unwrap_or_default())
                .collect();
            let text = text.join(" ");
            match level {
                0 | 1 => tracing::debug!(target: "script", "{text}"),
                2 => tracing::info!(target: "script", "{text}"),
                _ => tracing::warn!(target: "script", "{text}"),
            }
            Ok(())
        })?,
    )?;
    g.raw_set("redis", redis)?;
    g.raw_set("bit", bit_lib(lua)?)?;
    g.raw_set("cjson", super::convert::cjson_lib(lua)?)?;
    g.raw_set("cmsgpack", super::convert::cmsgpack_lib(lua)?)?;
    let hooks: Table = lua.load(PRELUDE).set_name("=prelude").eval()?;
    lua.load(PROTECT).set_name("=protect").exec()?;
    let _ = LuaValue::Nil;
    Ok(hooks)
}

/// LuaBitOp's `bit` library (32-bit operations), as bundled by Redis.
fn bit_lib(lua: &Lua) -> mlua::Result<Table> {
    fn tobit(v: f64) -> i32 {
        (v as i64) as i32
    }
    let t = lua.create_table()?;
    t.raw_set("tobit", lua.create_function(|_, v: f64| Ok(tobit(v)))?)?;
    t.raw_set("bnot", lua.create_function(|_, v: f64| Ok(!tobit(v)))?)?;
    t.raw_set(
        "band",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(-1i32, |a, &b| a & tobit(b)))
        })?,
    )?;
    t.raw_set(
        "bor",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(0i32, |a, &b| a | tobit(b)))
        })?,
    )?;
    t.raw_set(
        "bxor",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(0i32, |a, &b| a ^ tobit(b)))
        })?,
    )?;
    t.raw_set(
        "lshift",
        lua.create_function(|_, (a, n): (f64, f64)| {
            Ok(((tobit(a) as u32) << (tobit(n) as u32 & 31)) as i32)
        })?,
    )?;
    t.raw_set(
        "rshift",
        lua.create_function(|_, (a, n): (f64, f64)| {
            Ok(((tobit(a) as u32) >> (tobit(n) as u32 & 31)) as i32)
        })?,
    )?;
    t.raw_set(
        "arshift",
        lua.create_function(|_, (a, n): (f64, f64)| Ok(tobit(a) >> (tobit(n) as u32 & 31)))?,
    )?;
    t.raw_set(
        "rol",
        lua.create_function(|_, (a, n): (f64, f64)| {
            Ok((tobit(a) as u32).rotate_left(tobit(n) as u32 & 31) as i32)
        })?,
    )?;
    t.raw_set(
        "ror",
        lua.create_function(|_, (a, n): (f64, f64)| {
            Ok((tobit(a) as u32).rotate_right(tobit(n) as u32 & 31) as i32)
        })?,
    )?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, a: f64| Ok((tobit(a) as u32).swap_bytes() as i32))?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, (a, n): (f64, Option<f64>)| {
            let n = n.map(tobit).unwrap_or(8);
            let (upper, width) = if n < 0 {
                (true, (-n) as usize)
            } else {
                (false, n as usize)
            };
            let width = width.clamp(1, 8);
            let v = tobit(a) as u32 as u64;
            let s = format!("{:08x}", v);
            let s = s[8 - width..].to_string();
            Ok(if upper { s.to_uppercase() } else { s })
        })?,
    )?;
    Ok(t)
}
