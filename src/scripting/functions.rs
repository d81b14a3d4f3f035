//! Redis Functions: libraries loaded with `FUNCTION LOAD`, called with `FCALL`/`FCALL_RO`.
//!
//! All libraries live in one Lua state of their own (not the EVAL one). A library's code runs
//! once at load time in a restricted environment whose only global is a `redis` table with
//! `register_function`, `log`, the `LOG_*` levels and the version fields; it must register at
//! least one function. Library code shares one environment table: at load time it resolves
//! names in the load-time API, at run time in the real globals (so a helper defined at load
//! time sees `string`, `redis.call`, ... when a callback calls it), and it can never be
//! assigned to.
//!
//! Commands (in `command::scripting`) hold the store lock, then the engine lock; a change to
//! the libraries is recorded in the AOF as the command itself (`FUNCTION LOAD ...`), and the AOF
//! rewrite base starts with one `FUNCTION LOAD` per library ([`Functions::load_commands`]).
//!
//! `FUNCTION DUMP` payload (ferrymq's own format; only ferrymq reads it): for each library,
//! its code as a 4-byte big-endian length and the bytes; then a 2-byte format version and the
//! first 8 bytes of the SHA-1 of everything before them.

use bytes::Bytes;
use mlua::{Function, Table, Value as LuaValue};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Engine, LoadDeadline, MEMORY_LIMIT, ScriptStatus, error_text, prepare, script_flags};
use crate::command::Ctx;
use crate::protocol::Reply;

/// Load-time environment and `redis.register_function` (run once per state).
const FUNCTIONS_PRELUDE: &str = r#"
local impl = ...
local G = _G
local rawget, error, type, tostring, setmetatable, select, pairs, ipairs =
  rawget, error, type, tostring, setmetatable, select, pairs, ipairs
-- Lua's own pcall: the loader reads the error tables it catches.
local pcall = pcall
local find = string.find
local known = {['no-writes']=true, ['allow-oom']=true, ['allow-stale']=true,
  ['no-cluster']=true, ['allow-cross-slot-keys']=true}
local function readonly() error('Attempt to modify a readonly table', 2) end
local function fail(msg) error({err = 'ERR ' .. msg}, 0) end
local function isstring(v) return type(v) == 'string' or type(v) == 'number' end

local function add(name, callback, flags, description)
  name = tostring(name)
  if not find(name, '^[A-Za-z0-9_]+$') then
    fail('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
  end
  for _, f in ipairs(impl.pending) do
    if f.name == name then fail('Function already exists in the library') end
  end
  impl.pending[#impl.pending + 1] = {name = name, callback = callback,
    flags = flags, description = description}
end

local function read_flags(v)
  if type(v) ~= 'table' then
    fail('flags argument to redis.register_function must be a table representing function flags')
  end
  local out = {}
  for _, f in pairs(v) do
    if type(f) ~= 'string' or not known[f] then fail('unknown flag given') end
    out[#out + 1] = f
  end
  return out
end

local function register_function(...)
  -- A reference kept from load time and called later (from FCALL) is refused too.
  if not impl.loading then fail('redis.register_function can only be called on FUNCTION LOAD command') end
  local n = select('#', ...)
  if n < 1 or n > 2 then fail('wrong number of arguments to redis.register_function') end
  if n == 2 then
    local name, callback = ...
    if not isstring(name) then fail('first argument to redis.register_function must be a string') end
    if type(callback) ~= 'function' then fail('second argument to redis.register_function must be a function') end
    return add(name, callback, {}, nil)
  end
  local t = ...
  if type(t) ~= 'table' then
    fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
  end
  local name, callback, flags, description = nil, nil, {}, nil
  for k, v in pairs(t) do
    if type(k) ~= 'string' then fail('named argument key given to redis.register_function is not a string') end
    if k == 'function_name' then
      if not isstring(v) then fail('function_name argument given to redis.register_function must be a string') end
      name = v
    elseif k == 'description' then
      if not isstring(v) then fail('description argument given to redis.register_function must be a string') end
      description = tostring(v)
    elseif k == 'callback' then
      if type(v) ~= 'function' then fail('callback argument given to redis.register_function must be a function') end
      callback = v
    elseif k == 'flags' then
      flags = read_flags(v)
    else
      fail('unknown argument given to redis.register_function')
    end
  end
  if name == nil then fail('redis.register_function must get a function name argument') end
  if callback == nil then fail('redis.register_function must get a callback argument') end
  return add(name, callback, flags, description)
end

local api = {register_function = impl.c_entry(register_function), log = G.redis.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = G.redis.REDIS_VERSION, REDIS_VERSION_NUM = G.redis.REDIS_VERSION_NUM}
local load_redis = setmetatable({}, {
  __index = function(t, k)
    local v = rawget(api, k)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = readonly,
})
local load_globals = {redis = load_redis}
impl.loading = false
impl.pending = {}
impl.env = setmetatable({}, {
  __index = function(t, k)
    local v
    if impl.loading then v = rawget(load_globals, k) else v = rawget(impl.globals, k) end
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = readonly,
})
impl.run_load = function(f)
  impl.loading = true
  impl.pending = {}
  local ok, err = pcall(f)
  impl.loading = false
  return ok, err
end
"#;

/// A library's code may run this long at load time.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// DUMP payload format version.
const DUMP_VERSION: [u8; 2] = [1, 0];

pub struct FunctionDef {
    pub name: String,
    callback: Function,
    pub flags: u32,
    pub description: Option<Bytes>,
}

pub struct Library {
    pub name: String,
    pub code: Bytes,
    /// Sorted by name.
    pub functions: Vec<FunctionDef>,
}

pub struct Functions {
    engine: Engine,
    /// Library name -> library (names are case-sensitive).
    libs: BTreeMap<String, Library>,
    /// Lowercase function name -> library name: FCALL and the check between libraries ignore
    /// case (one library may still hold `f` and `F`, as in Redis).
    index: HashMap<String, String>,
}

/// Restore policy of FUNCTION RESTORE.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Flush,
    Append,
    Replace,
}

/// `#!<engine> name=<lib>` metadata of a library (`functionExtractLibMetaData`); returns the
/// library name and where the code after the first line starts.
fn parse_metadata(code: &[u8]) -> Result<(String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(nl) = code.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    // Split as Redis does (sdssplitargs): quotes group and are removed, `name="x"` is `name=x`.
    let parts = match crate::protocol::request::split_args(&code[..nl]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("ERR Invalid library metadata".into()),
    };
    let engine = parts[0].get(2..).unwrap_or_default().to_vec();
    let mut name: Option<Vec<u8>> = None;
    for p in &parts[1..] {
        if p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(p[5..].to_vec());
        } else {
            return Err(format!(
                "ERR Invalid metadata value given: {}",
                String::from_utf8_lossy(p)
            ));
        }
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(&engine)
        ));
    }
    if name.is_empty() || !name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    Ok((String::from_utf8_lossy(&name).into_owned(), nl))
}

fn lua_error_message(v: &LuaValue) -> String {
    match v {
        LuaValue::Table(t) => match t.raw_get::<LuaValue>("err") {
            Ok(LuaValue::String(s)) => s.to_string_lossy(),
            _ => "ERR unknown error".into(),
        },
        LuaValue::String(s) => format!("ERR {}", s.to_string_lossy()),
        LuaValue::Error(e) => {
            let m = error_text(e);
            if m.starts_with("ERR ") {
                m
            } else {
                format!("ERR {m}")
            }
        }
        other => format!("ERR {}", other.to_string().unwrap_or_default()),
    }
}

impl Functions {
    pub fn new() -> Functions {
        Functions {
            engine: Engine::new(Some(FUNCTIONS_PRELUDE)),
            libs: BTreeMap::new(),
            index: HashMap::new(),
        }
    }

    /// Bytes held by the functions' Lua state.
    pub fn used_memory(&self) -> usize {
        self.engine.lua.used_memory()
    }

    pub fn library_count(&self) -> usize {
        self.libs.len()
    }

    pub fn function_count(&self) -> usize {
        self.libs.values().map(|l| l.functions.len()).sum()
    }

    fn publish_counts(&self, status: &ScriptStatus) {
        status
            .vm_functions_bytes
            .store(self.used_memory(), Ordering::Relaxed);
        status.libraries.store(self.libs.len(), Ordering::Relaxed);
        status
            .functions
            .store(self.function_count(), Ordering::Relaxed);
    }

    /// Compile and run a library's code, collecting what it registers (nothing is installed).
    fn create(&self, code: &[u8], name: String, start: usize) -> Result<Library, String> {
        let lua = &self.engine.lua;
        let f = self
            .engine
            .compile(&code[start..], "@user_function")
            .map_err(|m| format!("ERR Error compiling function: {m}"))?;
        let env: Table = self
            .engine
            .hooks
            .raw_get("env")
            .map_err(|e| e.to_string())?;
        f.set_environment(env).map_err(|e| e.to_string())?;
        let run_load: Function = self
            .engine
            .hooks
            .raw_get("run_load")
            .map_err(|e| e.to_string())?;
        let _ = lua.set_memory_limit(lua.used_memory().saturating_add(MEMORY_LIMIT));
        let result: mlua::Result<(bool, LuaValue)> = {
            // The engine's instruction hook stops the code past this deadline.
            let _deadline = LoadDeadline::set(Instant::now() + LOAD_TIMEOUT);
            run_load.call(f)
        };
        let _ = lua.set_memory_limit(0);
        let pending: Table = self
            .engine
            .hooks
            .raw_get("pending")
            .map_err(|e| e.to_string())?;
        let _ = self
            .engine
            .hooks
            .raw_set("pending", lua.create_table().ok());
        let (ok, err) = result.map_err(|e| {
            format!(
                "ERR Error registering functions: {}",
                lua_error_message(&LuaValue::Error(Box::new(e)))
            )
        })?;
        if !ok {
            return Err(format!(
                "ERR Error registering functions: {}",
                lua_error_message(&err)
            ));
        }
        let mut functions = Vec::new();
        for def in pending.sequence_values::<Table>() {
            let def = def.map_err(|e| e.to_string())?;
            let name: String = def.raw_get("name").map_err(|e| e.to_string())?;
            let callback: Function = def.raw_get("callback").map_err(|e| e.to_string())?;
            let description: Option<mlua::LuaString> =
                def.raw_get("description").map_err(|e| e.to_string())?;
            let mut flags = 0;
            let list: Table = def.raw_get("flags").map_err(|e| e.to_string())?;
            for f in list.sequence_values::<mlua::LuaString>() {
                let f = f.map_err(|e| e.to_string())?;
                flags |= script_flags::by_name(&f.as_bytes()).unwrap_or(0);
            }
            functions.push(FunctionDef {
                name,
                callback,
                flags,
                description: description.map(|d| Bytes::copy_from_slice(&d.as_bytes())),
            });
        }
        if functions.is_empty() {
            return Err("ERR No functions registered".into());
        }
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Library {
            name,
            code: Bytes::copy_from_slice(code),
            functions,
        })
    }

    /// Install `lib`, replacing a library of the same name; fails (changing nothing) when one
    /// of its functions belongs to another library.
    fn install(&mut self, lib: Library) -> Result<(), String> {
        for f in &lib.functions {
            if let Some(owner) = self.index.get(&f.name.to_ascii_lowercase())
                && *owner != lib.name
            {
                return Err(format!("ERR Function {} already exists", f.name));
            }
        }
        self.remove(&lib.name.clone());
        for f in &lib.functions {
            self.index
                .insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
        Ok(())
    }

    fn remove(&mut self, name: &str) -> bool {
        let Some(old) = self.libs.remove(name) else {
            return false;
        };
        for f in &old.functions {
            self.index.remove(&f.name.to_ascii_lowercase());
        }
        true
    }

    /// FUNCTION LOAD [REPLACE] code: the library's name, or Redis's error.
    pub fn load(
        &mut self,
        code: &[u8],
        replace: bool,
        status: &ScriptStatus,
    ) -> Result<String, String> {
        let (name, start) = parse_metadata(code)?;
        if !replace && self.libs.contains_key(&name) {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let lib = self.create(code, name.clone(), start)?;
        self.install(lib)?;
        self.publish_counts(status);
        Ok(name)
    }

    /// FUNCTION DELETE name.
    pub fn delete(&mut self, name: &[u8], status: &ScriptStatus) -> bool {
        let name = String::from_utf8_lossy(name);
        let found = self.remove(&name);
        self.publish_counts(status);
        found
    }

    /// FUNCTION FLUSH.
    pub fn flush(&mut self, status: &ScriptStatus) {
        self.libs.clear();
        self.index.clear();
        self.engine.lua.gc_collect().ok();
        self.publish_counts(status);
    }

    /// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE] (libraries and functions by name).
    pub fn list(&self, pattern: Option<&[u8]>, with_code: bool) -> Reply {
        let mut out = Vec::new();
        for lib in self.libs.values() {
            if let Some(p) = pattern
                && !crate::pubsub::glob::glob_match(p, lib.name.as_bytes(), true)
            {
                continue;
            }
            let functions = lib
                .functions
                .iter()
                .map(|f| {
                    Reply::Map(vec![
                        (Reply::bulk_str("name"), Reply::bulk_str(&f.name)),
                        (
                            Reply::bulk_str("description"),
                            f.description.clone().map_or(Reply::Null, Reply::Bulk),
                        ),
                        (Reply::bulk_str("flags"), flag_set(f.flags)),
                    ])
                })
                .collect();
            let mut fields = vec![
                (Reply::bulk_str("library_name"), Reply::bulk_str(&lib.name)),
                (Reply::bulk_str("engine"), Reply::bulk_str("LUA")),
                (Reply::bulk_str("functions"), Reply::Array(functions)),
            ];
            if with_code {
                fields.push((
                    Reply::bulk_str("library_code"),
                    Reply::Bulk(lib.code.clone()),
                ));
            }
            out.push(Reply::Map(fields));
        }
        Reply::Array(out)
    }

    /// FUNCTION DUMP payload (see the module documentation).
    pub fn dump(&self) -> Bytes {
        let mut out = Vec::new();
        for lib in self.libs.values() {
            out.extend_from_slice(&(lib.code.len() as u32).to_be_bytes());
            out.extend_from_slice(&lib.code);
        }
        out.extend_from_slice(&DUMP_VERSION);
        let sum = sha1_smol::Sha1::from(&out[..]).digest().bytes();
        out.extend_from_slice(&sum[..8]);
        Bytes::from(out)
    }

    /// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: all or nothing.
    pub fn restore(
        &mut self,
        payload: &[u8],
        policy: Policy,
        status: &ScriptStatus,
    ) -> Result<(), String> {
        const BAD: &str = "ERR DUMP payload version or checksum are wrong";
        if payload.len() < 10 {
            return Err(BAD.into());
        }
        let (body, footer) = payload.split_at(payload.len() - 10);
        let sum = sha1_smol::Sha1::from(&payload[..payload.len() - 8])
            .digest()
            .bytes();
        if footer[..2] != DUMP_VERSION || footer[2..] != sum[..8] {
            return Err(BAD.into());
        }
        let mut codes = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(BAD.into());
            }
            let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if rest.len() - 4 < n {
                return Err(BAD.into());
            }
            codes.push(&rest[4..4 + n]);
            rest = &rest[4 + n..];
        }
        self.restore_codes(&codes, policy, status)
    }

    /// Install the libraries `codes` (FUNCTION RESTORE, an RDB file's `FUNCTION2` records):
    /// all or nothing.
    pub fn restore_codes(
        &mut self,
        codes: &[&[u8]],
        policy: Policy,
        status: &ScriptStatus,
    ) -> Result<(), String> {
        let mut new_libs: Vec<Library> = Vec::new();
        for &code in codes {
            let (name, start) = parse_metadata(code)?;
            if new_libs.iter().any(|l| l.name == name) {
                return Err(format!("ERR Library '{name}' already exists"));
            }
            new_libs.push(self.create(code, name, start)?);
        }
        // Check every collision first so a failure leaves the libraries as they were.
        let keep = |name: &str| match policy {
            Policy::Flush => false,
            Policy::Replace => !new_libs.iter().any(|l| l.name == name),
            Policy::Append => true,
        };
        let mut owner: HashMap<String, String> = self
            .index
            .iter()
            .filter(|(_, lib)| keep(lib))
            .map(|(f, lib)| (f.clone(), lib.clone()))
            .collect();
        for lib in &new_libs {
            if policy == Policy::Append && self.libs.contains_key(&lib.name) {
                return Err(format!("ERR Library {} already exists", lib.name));
            }
            for f in &lib.functions {
                if owner
                    .insert(f.name.to_ascii_lowercase(), lib.name.clone())
                    .is_some()
                {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
        }
        if policy == Policy::Flush {
            self.libs.clear();
            self.index.clear();
        }
        for lib in new_libs {
            self.install(lib)?;
        }
        self.publish_counts(status);
        Ok(())
    }

    /// `FUNCTION LOAD` commands that recreate every library (the AOF rewrite base).
    pub fn load_commands(&self) -> Vec<Vec<Bytes>> {
        self.libs
            .values()
            .map(|l| {
                vec![
                    Bytes::from_static(b"FUNCTION"),
                    Bytes::from_static(b"LOAD"),
                    l.code.clone(),
                ]
            })
            .collect()
    }

    /// The flags of function `name` (case-insensitive), if it exists.
    pub fn flags_of(&self, name: &[u8]) -> Option<u32> {
        let lname = String::from_utf8_lossy(name).to_ascii_lowercase();
        let lib = self.libs.get(self.index.get(&lname)?)?;
        lib.functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&lname))
            .map(|f| f.flags)
    }

    /// FCALL / FCALL_RO function numkeys [key ...] [arg ...] (`argv` is the whole command).
    pub fn call(
        &mut self,
        ctx: &mut Ctx,
        status: &Arc<ScriptStatus>,
        argv: &[Bytes],
        ro_cmd: bool,
    ) -> Reply {
        let lname = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
        let Some(f) = self
            .index
            .get(&lname)
            .and_then(|lib| self.libs.get(lib))
            .and_then(|lib| {
                lib.functions
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(&lname))
            })
        else {
            return Reply::error("ERR Function not found");
        };
        let n = match crate::protocol::request::parse_i64(&argv[2]) {
            None => return Reply::error("ERR Bad number of keys provided"),
            Some(n) if n < 0 => return Reply::error("ERR Number of keys can't be negative"),
            Some(n) if n as u64 > (argv.len() - 3) as u64 => {
                return Reply::error("ERR Number of keys can't be greater than number of args");
            }
            Some(n) => n as usize,
        };
        let (keys, args) = (&argv[3..3 + n], &argv[3 + n..]);
        let opts = match prepare(ctx, &f.name, Some(f.flags), ro_cmd, true) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let reply = self.engine.run(ctx, status, &f.callback, keys, args, &opts);
        status
            .vm_functions_bytes
            .store(self.used_memory(), Ordering::Relaxed);
        reply
    }
}

impl Default for Functions {
    fn default() -> Self {
        Functions::new()
    }
}

fn flag_set(flags: u32) -> Reply {
    Reply::Set(
        script_flags::NAMES
            .iter()
            .filter(|(f, _)| flags & f != 0)
            .map(|(_, n)| Reply::Status((*n).into()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_parsed_like_redis() {
        assert_eq!(
            parse_metadata(b"#!lua name=lib\nx"),
            Ok(("lib".to_string(), 14))
        );
        assert_eq!(
            parse_metadata(b"#!LUA  name=a_1 \nx").map(|m| m.0),
            Ok("a_1".to_string())
        );
        assert_eq!(
            parse_metadata(b"#!lua name=\"q1\"\nx").map(|m| m.0),
            Ok("q1".to_string())
        );
        assert_eq!(
            parse_metadata(b"#!lua NAME='q2'\nx").map(|m| m.0),
            Ok("q2".to_string())
        );
        for (code, err) in [
            (&b"return 1"[..], "ERR Missing library metadata"),
            (b"#!lua name=x", "ERR Invalid library metadata"),
            (b"#!lua\n", "ERR Library name was not given"),
            (b"#!js name=x\n", "ERR Engine 'js' not found"),
            (b"#!lua name=x y\n", "ERR Invalid metadata value given: y"),
            (
                b"#!lua name=x name=y\n",
                "ERR Invalid metadata value, name argument was given multiple times",
            ),
            (b"#!lua name=\"x\n", "ERR Invalid library metadata"),
            (b"#!lua name=x\"\n", "ERR Invalid library metadata"),
            (
                b"#!lua name=\"a b\"\n",
                "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
            ),
            (
                b"#!lua name=a-b\n",
                "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
            ),
        ] {
            assert_eq!(parse_metadata(code), Err(err.to_string()));
        }
    }

    #[test]
    fn dump_round_trips_and_rejects_damage() {
        let status = ScriptStatus::default();
        let mut f = Functions::new();
        f.load(
            b"#!lua name=a\nredis.register_function('fa', function() return 1 end)",
            false,
            &status,
        )
        .unwrap();
        f.load(
            b"#!lua name=b\nredis.register_function{function_name='fb', callback=function() return 2 end, flags={'no-writes'}}",
            false,
            &status,
        )
        .unwrap();
        let payload = f.dump();
        let mut g = Functions::new();
        g.restore(&payload, Policy::Append, &status).unwrap();
        assert_eq!(g.dump(), payload);
        assert_eq!(g.function_count(), 2);
        assert_eq!(g.load_commands().len(), 2);
        for i in 0..payload.len() {
            let mut bad = payload.to_vec();
            bad[i] ^= 0x40;
            let mut h = Functions::new();
            assert!(h.restore(&bad, Policy::Flush, &status).is_err(), "byte {i}");
            assert_eq!(h.library_count(), 0);
        }
        // Length prefixes larger than the payload are refused, not trusted.
        let mut huge = vec![0xff, 0xff, 0xff, 0xff];
        huge.extend_from_slice(&DUMP_VERSION);
        let sum = sha1_smol::Sha1::from(&huge[..]).digest().bytes();
        huge.extend_from_slice(&sum[..8]);
        assert!(g.restore(&huge, Policy::Flush, &status).is_err());
        assert_eq!(g.library_count(), 2, "a failed restore changes nothing");
    }

    #[test]
    fn load_time_sandbox_and_timeout() {
        let status = ScriptStatus::default();
        let mut f = Functions::new();
        let r = f.load(b"#!lua name=a\nlocal x = string.len('a')", false, &status);
        assert_eq!(
            r,
            Err("ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'string'".into())
        );
        let start = Instant::now();
        let r = f.load(b"#!lua name=a\nwhile true do end", false, &status);
        assert_eq!(
            r,
            Err("ERR Error registering functions: ERR FUNCTION LOAD timeout".into())
        );
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(f.library_count(), 0);
    }
}
