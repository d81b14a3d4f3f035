//! The `cmsgpack` library as Redis bundles it (lua-cmsgpack): `pack(...)`, `unpack(s)`,
//! `unpack_one(s [, offset])` and `unpack_limit(s, limit [, offset])`.
//!
//! The wire format is lua-cmsgpack's, not a general MessagePack codec: Lua strings are written
//! as `str` (fixstr/str8/16/32), integral numbers as the smallest integer type, other numbers as
//! `float32` when exact and `float64` otherwise; a table whose keys are exactly 1..n is an array
//! (the empty table too), any other table a map. Tables nested deeper than
//! [`MAX_NESTING`] are written as nil, so a table that contains itself packs to a finite
//! prefix. Unpacking accepts only the types lua-cmsgpack writes (plus fixarray/fixmap and the
//! integer types); anything else is "Bad data format in input.".

use mlua::{Lua, MultiValue, Table, Value as LuaValue, Variadic};

use super::lstruct::{arg_error, type_name};

/// lua-cmsgpack's `LUACMSGPACK_MAX_NESTING`.
const MAX_NESTING: usize = 16;

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

pub fn cmsgpack_lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<LuaValue>| {
            if args.is_empty() {
                return Err(err(
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                ));
            }
            let mut out = Vec::new();
            for a in args.iter() {
                encode(a, &mut out, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let s = check_string(lua, "unpack", &args)?;
            unpack(lua, &s, 0, 0)
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let offset = opt_integer(lua, "unpack_one", &args, 1)?;
            let s = check_string(lua, "unpack_one", &args)?;
            unpack(lua, &s, 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let limit = check_integer(lua, "unpack_limit", &args, 1)?;
            let offset = opt_integer(lua, "unpack_limit", &args, 2)?;
            let s = check_string(lua, "unpack_limit", &args)?;
            unpack(lua, &s, limit, offset)
        })?,
    )?;
    Ok(t)
}

/// `luaL_checklstring(L, 1)`: strings and numbers (as Lua prints them).
fn check_string(lua: &Lua, func: &str, args: &MultiValue) -> mlua::Result<Vec<u8>> {
    let v = args.front();
    if let Some(v @ (LuaValue::String(_) | LuaValue::Integer(_) | LuaValue::Number(_))) = v
        && let Some(s) = lua.coerce_string(v.clone())?
    {
        return Ok(s.as_bytes().to_vec());
    }
    let msg = format!("string expected, got {}", type_name(v));
    Err(arg_error(func, 1, &msg))
}

/// `luaL_checkinteger` (numbers and numeric strings, truncated toward zero).
fn check_integer(lua: &Lua, func: &str, args: &MultiValue, i: usize) -> mlua::Result<i64> {
    let v = args.get(i);
    let n = match v {
        Some(v) => lua.coerce_number(v.clone())?,
        None => None,
    };
    match n {
        Some(n) => Ok(n as i64),
        None => {
            let msg = format!("number expected, got {}", type_name(v));
            Err(arg_error(func, i + 1, &msg))
        }
    }
}

/// `luaL_optinteger(L, i, 0)`.
fn opt_integer(lua: &Lua, func: &str, args: &MultiValue, i: usize) -> mlua::Result<i64> {
    match args.get(i) {
        None | Some(LuaValue::Nil) => Ok(0),
        Some(_) => check_integer(lua, func, args, i),
    }
}

// ---------------------------------------------------------------------------------------------
// pack

fn encode(v: &LuaValue, out: &mut Vec<u8>, level: usize) -> mlua::Result<()> {
    // The buffer lives outside the Lua state's memory limit (lua-cmsgpack's is inside it).
    if out.len() > super::MEMORY_LIMIT {
        return Err(err("not enough memory"));
    }
    match v {
        LuaValue::String(s) => encode_bytes(&s.as_bytes(), out),
        LuaValue::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        LuaValue::Integer(i) => encode_int(*i, out),
        LuaValue::Number(n) => {
            // lua-cmsgpack's IS_INT64_EQUIVALENT: the double converts to int64 and back
            // unchanged (2^63 does not: the conversion overflows).
            if *n >= -9_223_372_036_854_775_808.0
                && *n < 9_223_372_036_854_775_808.0
                && n.fract() == 0.0
            {
                encode_int(*n as i64, out)
            } else {
                encode_double(*n, out)
            }
        }
        LuaValue::Table(t) if level < MAX_NESTING => encode_table(t, out, level)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_table(t: &Table, out: &mut Vec<u8>, level: usize) -> mlua::Result<()> {
    // An array when every key is a positive integer (that fits a C int) and the largest equals
    // the count: keys 1..n without holes.
    let mut count = 0i64;
    let mut max = 0i64;
    let mut is_array = true;
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let (k, _) = pair?;
        let n = match k {
            LuaValue::Integer(i) => i as f64,
            LuaValue::Number(n) => n,
            _ => f64::NAN,
        };
        if !(n > 0.0 && n <= i32::MAX as f64 && n.fract() == 0.0) {
            is_array = false;
            break;
        }
        max = max.max(n as i64);
        count += 1;
    }
    if is_array && max == count {
        let len = t.raw_len();
        encode_header(len as u64, 0x90, 0xdc, 0xdd, out);
        for j in 1..=len {
            // lua_gettable: a metatable's __index is honoured, as in lua-cmsgpack.
            let v: LuaValue = t.get(j)?;
            encode(&v, out, level + 1)?;
        }
    } else {
        // Count, then encode while walking again (as lua-cmsgpack does): holding every pair
        // at once would take a Lua stack slot each and overflow on big maps.
        let mut n = 0u64;
        for pair in t.pairs::<LuaValue, LuaValue>() {
            pair?;
            n += 1;
        }
        encode_header(n, 0x80, 0xde, 0xdf, out);
        for pair in t.pairs::<LuaValue, LuaValue>() {
            let (k, v) = pair?;
            encode(&k, out, level + 1)?;
            encode(&v, out, level + 1)?;
        }
    }
    Ok(())
}

/// Array or map header: the fix form up to 15 entries, then 16 and 32 bits.
fn encode_header(n: u64, fix: u8, b16: u8, b32: u8, out: &mut Vec<u8>) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_double(d: f64, out: &mut Vec<u8>) {
    let f = d as f32;
    if f as f64 == d {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2147483648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// unpack

/// lua-cmsgpack's `mp_unpack_full`: `limit` objects from byte `offset` (both 0: all of them,
/// and no offset is returned); otherwise the next offset comes first, -1 once the input is
/// consumed.
fn unpack(lua: &Lua, s: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let len = s.len();
    if offset < 0 || limit < 0 {
        // lua-cmsgpack prints the input length where it means the limit.
        return Err(err(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(err(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all { i64::MAX } else { limit };
    let mut cur = Cursor {
        buf: s,
        pos: offset as usize,
    };
    let mut failed = None;
    // One protected call decodes everything onto the stack with the C API: through mlua each
    // string and table slot would be a protected call and a registry reference of its own
    // (BullMQ passes every job's options msgpacked).
    // SAFETY: the closure and `Cursor::push` use the Lua C API on the stack they are handed,
    // within the space they check; their frames own nothing with a destructor (the cursor
    // borrows the input), so a memory error unwinding out of them (to mlua's protected call,
    // which reports it as an `Err`) skips no drop.
    let out: MultiValue = unsafe {
        lua.exec_raw((), |state| {
            let mut count = 0i64;
            while cur.pos < len && count < limit {
                if let Err(b) = cur.push(state, 0) {
                    mlua::ffi::lua_settop(state, 0);
                    failed = Some(b);
                    return;
                }
                count += 1;
            }
            if !decode_all {
                let next = if cur.pos == len { -1 } else { cur.pos as i64 };
                mlua::ffi::lua_pushnumber(state, next as f64);
                mlua::ffi::lua_insert(state, 1);
            }
        })?
    };
    match failed {
        None => Ok(out),
        Some(Bad::Eof) => Err(err("Missing bytes in input.")),
        Some(Bad::Format) => Err(err("Bad data format in input.")),
        Some(Bad::Deep) => Err(err("stack overflow (message pack nesting too deep)")),
        Some(Bad::NilKey) => Err(err("table index is nil")),
        Some(Bad::NanKey) => Err(err("table index is NaN")),
        Some(Bad::TooMany) => Err(err("too many results to unpack")),
    }
}

enum Bad {
    Eof,
    Format,
    Deep,
    NilKey,
    NanKey,
    TooMany,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Nesting at which unpacking gives up instead of overflowing the native stack (lua-cmsgpack
/// recurses without a bound; Lua's C stack limit stops it at a similar depth).
const MAX_DECODE_DEPTH: usize = 200;

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Bad> {
        if self.buf.len() - self.pos < n {
            return Err(Bad::Eof);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, Bad> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    /// Decode one object and push it. On `Err` the stack may hold partial values (the caller
    /// clears it).
    ///
    /// # Safety
    /// `state` is a valid Lua state inside a protected call; a memory error leaves by
    /// `longjmp` (this frame owns nothing with a destructor).
    unsafe fn push(&mut self, state: *mut mlua::ffi::lua_State, depth: usize) -> Result<(), Bad> {
        use mlua::ffi;
        if depth > MAX_DECODE_DEPTH {
            return Err(Bad::Deep);
        }
        // SAFETY (for the block): as for this function.
        unsafe {
            if ffi::lua_checkstack(state, 3) == 0 {
                return Err(if depth == 0 { Bad::TooMany } else { Bad::Deep });
            }
            let tag = self.take(1)?[0];
            let num = |n: f64| ffi::lua_pushnumber(state, n);
            match tag {
                0xcc => num(self.be(1)? as f64),
                0xcd => num(self.be(2)? as f64),
                0xce => num(self.be(4)? as f64),
                0xcf => num(self.be(8)? as f64),
                0xd0 => num(self.be(1)? as u8 as i8 as f64),
                0xd1 => num(self.be(2)? as u16 as i16 as f64),
                0xd2 => num(self.be(4)? as u32 as i32 as f64),
                0xd3 => num(self.be(8)? as i64 as f64),
                0xc0 => ffi::lua_pushnil(state),
                0xc3 => ffi::lua_pushboolean(state, 1),
                0xc2 => ffi::lua_pushboolean(state, 0),
                0xca => num(f32::from_bits(self.be(4)? as u32) as f64),
                0xcb => num(f64::from_bits(self.be(8)?)),
                0xd9..=0xdb => {
                    let n = self.be(1 << (tag - 0xd9))? as usize;
                    let b = self.take(n)?;
                    ffi::lua_pushlstring(state, b.as_ptr().cast(), b.len());
                }
                0xdc | 0xdd => {
                    let n = self.be(if tag == 0xdc { 2 } else { 4 })?;
                    return self.array(state, n, depth);
                }
                0xde | 0xdf => {
                    let n = self.be(if tag == 0xde { 2 } else { 4 })?;
                    return self.map(state, n, depth);
                }
                _ if tag & 0x80 == 0 => num(tag as f64),
                _ if tag & 0xe0 == 0xe0 => num(tag as i8 as f64),
                _ if tag & 0xe0 == 0xa0 => {
                    let b = self.take((tag & 0x1f) as usize)?;
                    ffi::lua_pushlstring(state, b.as_ptr().cast(), b.len());
                }
                _ if tag & 0xf0 == 0x90 => return self.array(state, (tag & 0xf) as u64, depth),
                _ if tag & 0xf0 == 0x80 => return self.map(state, (tag & 0xf) as u64, depth),
                _ => return Err(Bad::Format),
            }
        }
        Ok(())
    }

    /// # Safety
    /// As [`Cursor::push`].
    unsafe fn array(
        &mut self,
        state: *mut mlua::ffi::lua_State,
        n: u64,
        depth: usize,
    ) -> Result<(), Bad> {
        use mlua::ffi;
        // SAFETY: as for this function.
        unsafe {
            // No presizing from the claimed count: the input may lie about it.
            ffi::lua_createtable(state, 0, 0);
            for i in 1..=n {
                self.push(state, depth + 1)?;
                ffi::lua_rawseti(state, -2, i as _);
            }
        }
        Ok(())
    }

    /// # Safety
    /// As [`Cursor::push`].
    unsafe fn map(
        &mut self,
        state: *mut mlua::ffi::lua_State,
        n: u64,
        depth: usize,
    ) -> Result<(), Bad> {
        use mlua::ffi;
        // SAFETY: as for this function.
        unsafe {
            ffi::lua_createtable(state, 0, 0);
            for _ in 0..n {
                self.push(state, depth + 1)?;
                self.push(state, depth + 1)?;
                match ffi::lua_type(state, -2) {
                    ffi::LUA_TNIL => return Err(Bad::NilKey),
                    ffi::LUA_TNUMBER if ffi::lua_tonumber(state, -2).is_nan() => {
                        return Err(Bad::NanKey);
                    }
                    _ => ffi::lua_rawset(state, -3),
                }
            }
        }
        Ok(())
    }
}
