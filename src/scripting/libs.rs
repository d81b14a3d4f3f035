//! The Lua environment Redis gives scripts: the `redis` table, `bit`, `cjson`, `cmsgpack`, `struct`,
//! protected globals.

use bytes::Bytes;
use mlua::{Lua, Table, Value as LuaValue};

use crate::protocol::Reply;
use std::cell::RefCell;

use super::lstruct::{arg_error, type_name};

/// Lua code run once per state. `impl` holds the helpers Rust reaches (`handler`, the message
/// handler every run is called under); `redis.call` and `redis.pcall` are installed from Rust.
const PRELUDE: &str = r#"
local impl = {}
local type, error, rawget, pcall, tostring = type, error, rawget, pcall, tostring
redis = redis or {}
-- As Redis's luaPushErrorBuff: "-CODE msg" keeps its code, anything else gets ERR; trailing
-- CR/LF trimmed.
redis.error_reply = function(msg)
  if type(msg) ~= 'string' then error('wrong number or type of arguments', 0) end
  if msg:sub(1, 1) ~= '-' then msg = '-' .. msg end
  local code, text = msg:match('^%-(%S*) (.*)$')
  if not code then code, text = 'ERR', msg:sub(2) end
  text = text:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
  return {err = code .. ' ' .. text}
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
redis.REDIS_VERSION = '7.0.15'
redis.REDIS_VERSION_NUM = 458767
dofile = nil
loadfile = nil
return impl
"#;

/// Lua code that freezes the environment, last: as in Redis 7.0 the globals, the library tables
/// and the string metatable are read-only, so no script can change what later scripts see.
/// Stock Lua 5.1 has no read-only tables, so each library is replaced by an empty proxy whose
/// reads go to the real table and whose writes fail; `rawset` and `setmetatable` (wrapped in
/// Rust) refuse every protected table.
/// DEVIATION(redis): `pairs(string)` and the like iterate the (empty) proxy.
const PROTECT: &str = r#"
local impl = ...
local G = _G
local error, tostring, ipairs, rawget, rawset, setmetatable, getmetatable =
  error, tostring, ipairs, rawget, rawset, setmetatable, getmetatable
local protected = impl.protected
-- Redis 7.0 replaces pcall: an error object that is a table with an `err` field (what
-- redis.call raises) is returned as that field, so scripts see the error string.
do
  local raw_pcall, type = pcall, type
  local function finish(ok, ...)
    if ok then return true, ... end
    local e = ...
    if type(e) == 'table' then
      local m = e.err
      if type(m) == 'string' or type(m) == 'number' then return false, m end
    end
    return false, e
  end
  rawset(G, 'pcall', function(...) return finish(raw_pcall(...)) end)
end
local function readonly() error('Attempt to modify a readonly table', 2) end
-- Redis's Lua parses every chunk as text, so precompiled bytecode (which could break the
-- sandbox) fails to load like a syntax error: loadstring and load return nil and a message.
do
  local raw_loadstring, type, concat = loadstring, type, table.concat
  local function text_only(s, name)
    if type(s) == 'string' and s:byte(1) == 27 then
      return nil, '[string "' .. (name or '?') .. '"]:1: unexpected symbol near \'<\\27>\''
    end
    return raw_loadstring(s, name)
  end
  rawset(G, 'loadstring', text_only)
  rawset(G, 'load', function(f, name)
    if type(f) == 'string' then return text_only(f, name) end
    local parts = {}
    while true do
      local piece = f()
      if piece == nil or piece == '' then break end
      parts[#parts + 1] = piece
    end
    return text_only(concat(parts), name or '=(load)')
  end)
end
local function freeze(real)
  local p = setmetatable({}, {__index = real, __newindex = readonly, __metatable = false})
  protected[p] = true
  return p
end
for _, name in ipairs({'string', 'math', 'table', 'coroutine', 'cjson', 'bit', 'struct',
                       'cmsgpack', 'redis'}) do
  local real = rawget(G, name)
  if real ~= nil then rawset(G, name, freeze(real)) end
end
-- Not in Redis's sandbox: they reach or change function environments, print to stdout.
for _, name in ipairs({'getfenv', 'setfenv', 'newproxy', 'print'}) do rawset(G, name, nil) end
local smt = getmetatable('')
smt.__index = rawget(G, 'string')
smt.__metatable = freeze(smt)
-- The globals move to a hidden table and _G stays empty, so that every assignment to a
-- global, existing or new, reaches __newindex (Redis 7.0's read-only globals); reads go on to
-- the hidden table, then fail for a name that does not exist.
local real = {}
for k, v in next, G do real[k] = v end
for k in next, real do rawset(G, k, nil) end
real._G = G
setmetatable(real, {
  __index = function(t, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __newindex = readonly,
  __metatable = false,
})
protected[real] = true
impl.globals = real
local gmt = {__newindex = readonly, __index = real}
gmt.__metatable = freeze(gmt)
setmetatable(G, gmt)
protected[G] = true
if impl.env ~= nil then protected[impl.env] = true end
"#;

const READONLY_ERROR: &str = "ERR Attempt to modify a readonly table";

/// `rawset` and `setmetatable` that refuse the protected tables (Rust functions, so their
/// error names the user's line like Redis's C check does).
fn guard_builtins(lua: &Lua, protected: &Table, g: &Table) -> mlua::Result<()> {
    let orig_rawset: mlua::Function = g.raw_get("rawset")?;
    let p = protected.clone();
    g.raw_set(
        "rawset",
        lua.create_function(move |_, args: mlua::MultiValue| {
            if let Some(LuaValue::Table(t)) = args.front()
                && p.raw_get::<bool>(t.clone()).unwrap_or(false)
            {
                return Err(mlua::Error::RuntimeError(READONLY_ERROR.into()));
            }
            orig_rawset.call::<mlua::MultiValue>(args)
        })?,
    )?;
    let orig_setmt: mlua::Function = g.raw_get("setmetatable")?;
    let p = protected.clone();
    g.raw_set(
        "setmetatable",
        lua.create_function(move |_, args: mlua::MultiValue| {
            if let Some(LuaValue::Table(t)) = args.front()
                && p.raw_get::<bool>(t.clone()).unwrap_or(false)
            {
                return Err(mlua::Error::RuntimeError(READONLY_ERROR.into()));
            }
            orig_setmt.call::<mlua::MultiValue>(args)
        })?,
    )?;
    Ok(())
}

/// Install the libraries and the `redis` API; `extra` (Lua code receiving the helper table as
/// `...`) runs before the global table is frozen.
pub fn install(lua: &Lua, extra: Option<&str>) -> mlua::Result<Table> {
    let g = lua.globals();
    let redis = lua.create_table()?;
    // As Redis: exactly one argument, a number hashed as its string form, anything else as
    // the empty string.
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, args: mlua::MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::RuntimeError(
                    "ERR wrong number of arguments".into(),
                ));
            }
            let s = match &args[0] {
                LuaValue::String(s) => s.as_bytes().to_vec(),
                LuaValue::Integer(i) => i.to_string().into_bytes(),
                LuaValue::Number(n) => super::convert::lua_number_string(*n).into_bytes(),
                _ => Vec::new(),
            };
            Ok(super::sha1_hex(&s))
        })?,
    )?;
    redis.raw_set("acl_check_cmd", lua.create_function(super::acl_check_cmd)?)?;
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
    g.raw_set("cjson", super::cjson::module(lua)?)?;
    g.raw_set("cmsgpack", super::msgpack::cmsgpack_lib(lua)?)?;
    g.raw_set("struct", super::lstruct::struct_lib(lua)?)?;
    let hooks: Table = lua.load(PRELUDE).set_name("=prelude").eval()?;
    // The command runner (`super::redis_call`): `redis.pcall` returns its `{err=...}` tables,
    // `redis.call` (through the registry) raises them.
    // It is the one upvalue of both C functions (an upvalue read per call, where a registry
    // key would be a string lookup).
    let redis: Table = g.raw_get("redis")?;
    // SAFETY: `redis_call` and `redis_pcall` follow the Lua C API protocol (see there).
    redis.raw_set("pcall", unsafe { lua.create_c_function(redis_pcall)? })?;
    redis.raw_set("call", unsafe { lua.create_c_function(redis_call)? })?;
    // A Rust function (not Lua) for the same reason as `redis_call`: its errors must name the
    // user's line even after `return redis.setresp(...)`.
    redis.raw_set(
        "setresp",
        lua.create_function(move |_, args: mlua::MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::RuntimeError(
                    "ERR redis.setresp() requires one argument.".into(),
                ));
            }
            let v = match &args[0] {
                LuaValue::Integer(i) => *i as f64,
                LuaValue::Number(n) => *n,
                LuaValue::String(s) => s.to_string_lossy().trim().parse().unwrap_or(0.0),
                _ => 0.0,
            };
            if v != 2.0 && v != 3.0 {
                return Err(mlua::Error::RuntimeError(
                    "ERR RESP version must be 2 or 3.".into(),
                ));
            }
            super::set_resp(v as u8);
            Ok(())
        })?,
    )?;
    hooks.raw_set("handler", lua.create_function(error_handler)?)?;
    // `impl.c_entry(f)`: a C function that calls the Lua function `f` (kept in the registry),
    // for API functions written in Lua whose errors must name the user's line even after
    // `return api(...)` (a tail call to a Lua function would drop the user's frame).
    hooks.raw_set(
        "c_entry",
        lua.create_function(|lua, f: mlua::Function| {
            lua.set_named_registry_value(ENTRY_KEY, f)?;
            // SAFETY: `lua_entry` follows the Lua C API protocol (see there).
            unsafe { lua.create_c_function(lua_entry) }
        })?,
    )?;
    if let Some(code) = extra {
        lua.load(code)
            .set_name("=extra")
            .call::<()>(hooks.clone())?;
    }
    let protected = lua.create_table()?;
    hooks.raw_set("protected", protected.clone())?;
    lua.load(PROTECT)
        .set_name("=protect")
        .call::<()>(hooks.clone())?;
    // The globals' real table (`_G` itself is an empty read-only proxy).
    let real: Table = hooks.raw_get("globals")?;
    guard_builtins(lua, &protected, &real)?;
    Ok(hooks)
}

thread_local! {
    /// The arguments of the `redis.call` / `redis.pcall` in progress: read off the Lua stack by
    /// the C functions, taken by the command runner (an error names what was wrong with them).
    static CALL_ARGV: RefCell<Result<Vec<Bytes>, &'static str>> = const { RefCell::new(Ok(Vec::new())) };
    /// The reply of the command a script just ran, and the protocol it is read in, while the C
    /// function converts it: held here rather than in the C function's frame, because a Lua
    /// memory error during the conversion leaves that frame by `longjmp`, which must not skip
    /// a destructor.
    static CALL_REPLY: RefCell<Option<(Reply, u8, bool)>> = const { RefCell::new(None) };
    /// A panic of the command runner, caught before it could unwind through Lua's C frames,
    /// resumed once the script's Lua call has returned ([`resume_command_panic`]).
    static CALL_PANIC: RefCell<Option<Box<dyn std::any::Any + Send>>> = const { RefCell::new(None) };
}

/// The command runner's side of [`CALL_ARGV`].
fn take_call_argv() -> Result<Vec<Bytes>, &'static str> {
    CALL_ARGV.with(|c| std::mem::replace(&mut *c.borrow_mut(), Ok(Vec::new())))
}

/// Go on with the panic of a command a script ran, if one happened (see [`CALL_PANIC`]).
pub(super) fn resume_command_panic() {
    if let Some(p) = CALL_PANIC.with(|c| c.borrow_mut().take()) {
        std::panic::resume_unwind(p);
    }
}

/// Run the command whose arguments [`read_call_args`] left, leaving its reply in
/// [`CALL_REPLY`]. False when it panicked (the panic waits in [`CALL_PANIC`]).
fn run_into_slot() -> bool {
    match std::panic::catch_unwind(|| super::run_script_command(take_call_argv())) {
        Ok(r) => {
            CALL_REPLY.with(|c| *c.borrow_mut() = Some(r));
            true
        }
        Err(p) => {
            CALL_PANIC.with(|c| *c.borrow_mut() = Some(p));
            false
        }
    }
}

/// Read the arguments of a `redis.call` off the stack into [`CALL_ARGV`], converted as
/// Redis's luaArgsToRedisArgv does: strings as they are, numbers as Lua prints them (integers
/// without a fraction). Reading them here, rather than through mlua's value conversion,
/// spares a registry reference and a protected call per argument.
///
/// # Safety
/// `state` is a valid Lua state. Only API functions that neither allocate nor raise are used
/// (`lua_tolstring` is called on strings only), so nothing unwinds through this frame.
unsafe fn read_call_args(state: *mut mlua::ffi::lua_State) {
    use mlua::ffi;
    let n = unsafe { ffi::lua_gettop(state) };
    let argv = if n == 0 {
        Err("ERR Please specify at least one argument for this redis lib call")
    } else {
        let mut argv = Vec::with_capacity(n as usize);
        for i in 1..=n {
            match unsafe { ffi::lua_type(state, i) } {
                ffi::LUA_TSTRING => {
                    let mut len = 0;
                    // SAFETY: a string at `i`: no conversion, the pointer is valid while the
                    // value is on the stack.
                    let bytes = unsafe {
                        let p = ffi::lua_tolstring(state, i, &mut len);
                        std::slice::from_raw_parts(p.cast::<u8>(), len)
                    };
                    argv.push(Bytes::copy_from_slice(bytes));
                }
                ffi::LUA_TNUMBER => {
                    argv.push(number_arg(unsafe { ffi::lua_tonumber(state, i) }));
                }
                _ => {
                    let e = "ERR Lua redis lib command arguments must be strings or integers";
                    CALL_ARGV.with(|c| *c.borrow_mut() = Err(e));
                    return;
                }
            }
        }
        Ok(argv)
    };
    CALL_ARGV.with(|c| *c.borrow_mut() = argv);
}

/// A number given to `redis.call`: an integer when the double holds one exactly, otherwise as
/// Lua prints it.
fn number_arg(n: f64) -> Bytes {
    // The i64 range, as a cast that cannot saturate.
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        let i = n as i64;
        if (i as f64).to_bits() == n.to_bits() {
            return Bytes::from(i.to_string());
        }
    }
    Bytes::from(super::convert::lua_number_string(n))
}

/// `redis.pcall` and `redis.call`: read the arguments, run the command, and leave its reply
/// (or its `{err=...}` table) on the stack, converted with the raw API as Redis's
/// luaRedisGenericCommand does (through mlua each string and table slot would be a protected
/// call and a registry reference of its own).
///
/// # Safety
/// As for a `lua_CFunction`: a valid state with at least LUA_MINSTACK free slots. No Rust
/// value with a destructor is alive when a Lua error unwinds through this frame: the command
/// runs (and its panic is caught) before any Lua call that can raise, and its reply is
/// reached through a pointer into [`CALL_REPLY`].
unsafe fn run_call(state: *mut mlua::ffi::lua_State) {
    use mlua::ffi;
    unsafe {
        read_call_args(state);
        ffi::lua_settop(state, 0);
        if !run_into_slot() {
            ffi::lua_pushstring(state, c"ERR the command panicked".as_ptr());
            ffi::lua_error(state);
        }
        let slot = CALL_REPLY.with(|c| {
            c.borrow()
                .as_ref()
                .map(|(r, resp, ran)| (r as *const Reply, *resp, *ran))
        });
        if let Some((reply, resp, ran)) = slot {
            // SAFETY: the slot keeps the reply alive and unchanged until it is cleared below.
            super::convert::push_reply(state, &*reply, resp, ran);
        } else {
            ffi::lua_pushnil(state);
        }
        drop(CALL_REPLY.with(|c| c.borrow_mut().take()));
    }
}

/// `redis.pcall`: returns the `{err=...}` table of a failed command.
unsafe extern "C-unwind" fn redis_pcall(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    // SAFETY: called by Lua (see `run_call`).
    unsafe { run_call(state) };
    1
}

/// `redis.call`: raises the `{err=...}` table of a failed command. It is a C function on
/// purpose: Lua 5.1 runs a tail call to a C function inside the caller's frame, so for
/// `return redis.call(...)` the error still names the user's line, as in Redis (whose
/// `redis.call` is C too).
unsafe extern "C-unwind" fn redis_call(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    use mlua::ffi;
    // SAFETY: called by Lua with a valid state and at least LUA_MINSTACK free slots; no Rust
    // value with a destructor is alive when lua_call or lua_error unwind through this frame.
    unsafe {
        run_call(state);
        if ffi::lua_type(state, -1) == ffi::LUA_TTABLE {
            ffi::lua_pushstring(state, c"err".as_ptr());
            ffi::lua_rawget(state, -2);
            let is_err = ffi::lua_type(state, -1) != ffi::LUA_TNIL;
            ffi::lua_settop(state, -2);
            if is_err {
                ffi::lua_error(state);
            }
        }
        1
    }
}

/// Registry key of the one Lua function [`lua_entry`] calls.
const ENTRY_KEY: &str = "ferrymq.entry";

/// Calls the registry's `ferrymq.entry` function with all its arguments and returns all its
/// results; a C function for the same reason as [`redis_call`].
unsafe extern "C-unwind" fn lua_entry(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    use mlua::ffi;
    // SAFETY: as in `redis_call`: a valid state, no Rust value with a destructor alive when
    // lua_call unwinds.
    unsafe {
        let n = ffi::lua_gettop(state);
        ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, c"ferrymq.entry".as_ptr());
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, n, ffi::LUA_MULTRET);
        ffi::lua_gettop(state)
    }
}

/// The message handler of every script run, as Redis's: the error becomes a table
/// `{err=..., source=..., line=...}` naming the innermost line of user code that was running.
fn error_handler(lua: &Lua, err: LuaValue) -> mlua::Result<Table> {
    // Redis's handler looks one level up, or two when that is a C function: the Lua function
    // that raised. Our own Lua helpers (chunks named `=...`) count as C functions here.
    let mut place: Option<(String, String, usize)> = None;
    for level in 1..64 {
        let Some(found) = lua.inspect_stack(level, |d| {
            let s = d.source();
            let src = s.source.map(|s| s.into_owned()).unwrap_or_default();
            let short = s.short_src.map(|s| s.into_owned()).unwrap_or_default();
            (s.what, src, short, d.current_line())
        }) else {
            break;
        };
        let (what, src, short, line) = found;
        if what == "C" || src.starts_with('=') {
            continue;
        }
        if let Some(line) = line {
            place = Some((src, short, line));
        }
        break;
    }
    let t = match err {
        LuaValue::Table(t) => t,
        LuaValue::Error(e) => {
            let msg = super::error_text(&e);
            let t = lua.create_table()?;
            if msg.starts_with("ERR ") {
                t.raw_set("err", msg)?;
            } else {
                // Errors of the C libraries in Redis carry the position of the calling line.
                let at = match &place {
                    Some((_, short, line)) => format!("{short}:{line}: "),
                    None => String::new(),
                };
                t.raw_set("err", format!("ERR {at}{msg}"))?;
            }
            t
        }
        other => {
            let msg = match &other {
                LuaValue::String(s) => s.to_string_lossy(),
                other => other.to_string().unwrap_or_default(),
            };
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {msg}"))?;
            t
        }
    };
    if let Some((src, _, line)) = place {
        t.raw_set("source", src)?;
        t.raw_set("line", line)?;
    }
    Ok(t)
}

/// LuaBitOp's `bit` library (32-bit operations), as bundled by Redis. Arguments convert as
/// LuaBitOp's `barg` does: numbers (and numeric strings) are rounded to the nearest integer
/// (ties to even) and taken modulo 2^32 by adding 2^52+2^51 and keeping the low word, so
/// `bit.tobit(1.5)` is 2 and huge numbers keep whatever low bits the double has.
fn bit_lib(lua: &Lua) -> mlua::Result<Table> {
    type Args = mlua::Variadic<LuaValue>;
    type Unary = fn(u32) -> u32;
    type Binary = fn(u32, u32) -> u32;
    fn barg(lua: &Lua, name: &str, args: &Args, i: usize) -> mlua::Result<u32> {
        let n = match args.get(i) {
            Some(v) => lua.coerce_number(v.clone())?,
            None => None,
        };
        let Some(n) = n else {
            let msg = format!("number expected, got {}", type_name(args.get(i)));
            return Err(arg_error(name, i + 1, &msg));
        };
        Ok((n + 6755399441055744.0).to_bits() as u32)
    }
    fn ret(b: u32) -> f64 {
        b as i32 as f64
    }
    let t = lua.create_table()?;
    let unary: [(&'static str, Unary); 3] = [
        ("tobit", |b| b),
        ("bnot", |b| !b),
        ("bswap", u32::swap_bytes),
    ];
    for (name, op) in unary {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: Args| Ok(ret(op(barg(lua, name, &args, 0)?))))?,
        )?;
    }
    let folds: [(&'static str, Binary); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in folds {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: Args| {
                let mut b = barg(lua, name, &args, 0)?;
                // LuaBitOp reads the arguments from the last one down.
                for i in (1..args.len()).rev() {
                    b = op(b, barg(lua, name, &args, i)?);
                }
                Ok(ret(b))
            })?,
        )?;
    }
    let shifts: [(&'static str, Binary); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", u32::rotate_left),
        ("ror", u32::rotate_right),
    ];
    for (name, op) in shifts {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: Args| {
                let b = barg(lua, name, &args, 0)?;
                let n = barg(lua, name, &args, 1)? & 31;
                Ok(ret(op(b, n)))
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|lua, args: Args| {
            let mut b = barg(lua, "tohex", &args, 0)?;
            let mut n = if args.len() < 2 {
                8
            } else {
                barg(lua, "tohex", &args, 1)? as i32
            };
            let digits: &[u8; 16] = if n < 0 {
                n = n.wrapping_neg();
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            // A width of -2^31 stays negative once negated; Redis's build prints 8 digits
            // for it (the compiler takes the negated width as positive).
            let n = if n < 0 { 8 } else { n.min(8) as usize };
            let mut buf = [0u8; 8];
            for slot in buf[..n].iter_mut().rev() {
                *slot = digits[(b & 15) as usize];
                b >>= 4;
            }
            lua.create_string(&buf[..n])
        })?,
    )?;
    Ok(t)
}
