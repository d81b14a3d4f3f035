//! Lua scripting (EVAL family): one Lua 5.1 state, as in Redis, with Redis's `redis` API and
//! conversion rules.
//!
//! API: `command::scripting` handlers take the store lock first, then `Shared::scripting`
//! (always in that order), and call [`Scripting::run`] with the command context. Inside the
//! script `redis.call`/`redis.pcall` run commands through `command::call_nested` on the same
//! locked store, so a script is atomic; their effects are collected and written to the AOF as one
//! MULTI/EXEC block (effects replication, never the EVAL itself).
//!
//! Long scripts: an instruction-count hook marks the server busy once the script has run longer
//! than `busy-reply-threshold`, so dispatch answers other clients with `BUSY` instead of queueing
//! them behind the lock, and honours `SCRIPT KILL` for scripts that have not written.

pub mod convert;
mod libs;

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value as LuaValue, VmState};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Instant;

use crate::command::{Ctx, call_nested, flags, resolve};
use crate::protocol::Reply;
use convert::{lua_to_reply, reply_to_lua};

/// State shared with the dispatch path without taking any lock.
#[derive(Default)]
pub struct ScriptStatus {
    /// A script has run longer than busy-reply-threshold: other clients get BUSY.
    pub busy: AtomicBool,
    /// SCRIPT KILL was requested for the running script.
    pub kill: AtomicBool,
    /// A script is running (unix ms start, 0 = none).
    pub running_since: AtomicI64,
    /// The running script has written: it cannot be killed.
    pub wrote: AtomicBool,
}

impl ScriptStatus {
    pub fn is_running(&self) -> bool {
        self.running_since.load(Ordering::Relaxed) != 0
    }
}

pub const BUSY_ERROR: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

pub struct Scripting {
    lua: Lua,
    /// Lua-side helpers (`invoke`, the current `call` and `setresp` implementations).
    hooks: Table,
    /// EVAL cache: sha1 hex -> compiled function.
    scripts: HashMap<String, Function>,
    bodies: HashMap<String, Bytes>,
}

pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// Per-run state the `redis` API functions reach through the Lua registry.
struct RunState {
    resp: u8,
    read_only: bool,
}

impl Scripting {
    pub fn new() -> Scripting {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )
        .expect("lua state");
        let hooks = libs::install(&lua).expect("lua libraries");
        Scripting {
            lua,
            hooks,
            scripts: HashMap::new(),
            bodies: HashMap::new(),
        }
    }

    pub fn exists(&self, sha: &str) -> bool {
        self.scripts.contains_key(sha)
    }

    pub fn flush(&mut self) {
        self.scripts.clear();
        self.bodies.clear();
        self.lua.gc_collect().ok();
    }

    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// Compile and cache `body`; returns its sha1 or Redis's compile error.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let f = self
            .lua
            .load(body)
            .set_name("@user_script")
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                format!("ERR Error compiling script (new function): {msg}")
            })?;
        self.scripts.insert(sha.clone(), f);
        self.bodies
            .insert(sha.clone(), Bytes::copy_from_slice(body));
        Ok(sha)
    }

    /// Run a cached script with KEYS and ARGV. `read_only` for EVAL_RO/EVALSHA_RO.
    pub fn run(
        &mut self,
        ctx: &mut Ctx,
        status: &Arc<ScriptStatus>,
        sha: &str,
        keys: &[Bytes],
        args: &[Bytes],
        read_only: bool,
    ) -> Reply {
        let Some(f) = self.scripts.get(sha).cloned() else {
            return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
        };
        let lua = &self.lua;
        let outer_collects = ctx.is_collecting();
        ctx.begin_collect();
        let saved_db = ctx.client.db;
        let threshold = ctx.shared.config_i64("busy-reply-threshold").max(0);
        status.kill.store(false, Ordering::SeqCst);
        status.wrote.store(false, Ordering::SeqCst);
        status
            .running_since
            .store(crate::store::unix_ms(), Ordering::SeqCst);
        let started = Instant::now();
        let hook_status = status.clone();
        let _ = lua.set_hook(
            HookTriggers::new().every_nth_instruction(100_000),
            move |_, _| {
                if threshold > 0 && started.elapsed().as_millis() as i64 >= threshold {
                    hook_status.busy.store(true, Ordering::SeqCst);
                }
                if hook_status.kill.load(Ordering::SeqCst) {
                    return Err(mlua::Error::RuntimeError(
                        "ERR Script killed by user with SCRIPT KILL...".into(),
                    ));
                }
                Ok(VmState::Continue)
            },
        );
        let state = RefCell::new(RunState { resp: 2, read_only });
        let ctx_cell = RefCell::new(&mut *ctx);
        let result = lua.scope(|scope| {
            let globals = lua.globals();
            let make_list = |items: &[Bytes]| -> mlua::Result<Table> {
                let t = lua.create_table_with_capacity(items.len(), 0)?;
                for (i, k) in items.iter().enumerate() {
                    t.raw_set(i + 1, lua.create_string(&k[..])?)?;
                }
                Ok(t)
            };
            globals.raw_set("KEYS", make_list(keys)?)?;
            globals.raw_set("ARGV", make_list(args)?)?;
            let call = scope.create_function(|lua, args: mlua::MultiValue| {
                let argv = match script_argv(&args) {
                    Ok(a) => a,
                    Err(msg) => return error_table(lua, &msg),
                };
                let mut ctx = ctx_cell.borrow_mut();
                let Ok(entry) = resolve(&argv) else {
                    return error_table(lua, "ERR Unknown Redis command called from script");
                };
                let arity = entry.spec.arity;
                let ok = if arity >= 0 {
                    argv.len() == arity as usize
                } else {
                    argv.len() >= (-arity) as usize
                };
                if !ok {
                    return error_table(
                        lua,
                        "ERR Wrong number of args calling Redis command from script",
                    );
                }
                if entry.has_flag(flags::NOSCRIPT) {
                    return error_table(lua, "ERR This Redis command is not allowed from script");
                }
                let (resp, read_only) = {
                    let st = state.borrow();
                    (st.resp, st.read_only)
                };
                if entry.has_flag(flags::WRITE) && read_only {
                    return error_table(
                        lua,
                        "ERR Write commands are not allowed from read-only scripts.",
                    );
                }
                let saved_resp = ctx.client.resp;
                ctx.client.resp = resp;
                let before = ctx.nested_changes();
                let reply = call_nested(&mut ctx, entry, &argv);
                ctx.client.resp = saved_resp;
                if ctx.nested_changes() > before {
                    status.wrote.store(true, Ordering::SeqCst);
                }
                if let Reply::Error(e) = &reply {
                    return error_table(lua, e);
                }
                reply_to_lua(lua, &reply, resp)
            })?;
            let setresp = scope.create_function(|_, n: i64| {
                state.borrow_mut().resp = n as u8;
                Ok(())
            })?;
            self.hooks.raw_set("call", call)?;
            self.hooks.raw_set("setresp", setresp)?;
            let invoke: Function = self.hooks.raw_get("invoke")?;
            let (ok, v): (bool, LuaValue) = invoke.call(f)?;
            let resp = state.borrow().resp;
            if ok {
                return Ok((lua_to_reply(&v, resp), false));
            }
            let err = match v {
                LuaValue::Table(t) => match t.raw_get::<Option<mlua::LuaString>>("err")? {
                    Some(e) => {
                        Reply::Error(String::from_utf8_lossy(&e.as_bytes()).into_owned().into())
                    }
                    None => Reply::error("ERR Error running script"),
                },
                LuaValue::String(s) => {
                    let m = String::from_utf8_lossy(&s.as_bytes()).into_owned();
                    if m.starts_with("ERR ") {
                        Reply::Error(m.into())
                    } else {
                        Reply::Error(format!("ERR {m}").into())
                    }
                }
                other => {
                    let m = other.to_string().unwrap_or_default();
                    // Errors raised from Rust (the kill hook) arrive wrapped by mlua.
                    let m = m.strip_prefix("runtime error: ").unwrap_or(&m).to_string();
                    if m.starts_with("ERR ") {
                        Reply::Error(m.into())
                    } else {
                        Reply::Error(format!("ERR {m}").into())
                    }
                }
            };
            Ok((err, true))
        });
        lua.remove_hook();
        status.busy.store(false, Ordering::SeqCst);
        status.running_since.store(0, Ordering::SeqCst);
        ctx.client.db = saved_db;
        ctx.flush_collected(outer_collects);
        let (reply, raised) = match result {
            Ok(r) => r,
            Err(e) => (error_reply(&e), true),
        };
        match reply {
            // Errors raised by the script (not error replies it returned) name the script.
            Reply::Error(msg) if raised => {
                Reply::Error(format!("{msg} script: {sha}, on @user_script:1.").into())
            }
            r => r,
        }
    }
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting::new()
    }
}

/// Arguments of redis.call: strings and numbers (numbers as Lua prints integers).
fn script_argv(args: &mlua::MultiValue) -> Result<Vec<Bytes>, String> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call".into());
    }
    let mut out = Vec::with_capacity(args.len());
    for a in args.iter() {
        match a {
            LuaValue::String(s) => out.push(Bytes::copy_from_slice(&s.as_bytes())),
            LuaValue::Integer(i) => out.push(Bytes::from(i.to_string())),
            LuaValue::Number(n) => out.push(Bytes::from(convert::lua_number_string(*n))),
            _ => {
                return Err(
                    "ERR Lua redis lib command arguments must be strings or integers".into(),
                );
            }
        }
    }
    Ok(out)
}

/// The `{err=msg}` table a failing command becomes (redis.call raises it, redis.pcall returns it).
fn error_table(lua: &Lua, msg: &str) -> mlua::Result<LuaValue> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    Ok(LuaValue::Table(t))
}

/// The EVAL error reply for a Lua error (before the ` script: <sha>...` suffix).
fn error_reply(e: &mlua::Error) -> Reply {
    match e {
        mlua::Error::CallbackError { cause, .. } => error_reply(cause),
        mlua::Error::RuntimeError(msg) => {
            if msg.starts_with("ERR ") {
                Reply::Error(msg.clone().into())
            } else {
                Reply::Error(format!("ERR {msg}").into())
            }
        }
        mlua::Error::MemoryError(msg) => Reply::Error(format!("ERR {msg}").into()),
        other => Reply::Error(format!("ERR {other}").into()),
    }
}
