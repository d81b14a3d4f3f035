//! The `cjson` library as Redis 7.0 bundles it (lua-cjson 2.1.0): `encode`, `decode`, `null`,
//! `new`, `_NAME`, `_VERSION` and the settings `encode_sparse_array`, `encode_max_depth`,
//! `decode_max_depth`, `encode_number_precision`, `encode_keep_buffer`,
//! `encode_invalid_numbers`, `decode_invalid_numbers`, with lua-cjson's results and error texts.
//! (Redis does not register `cjson.safe`.)
//!
//! Each module table (the global `cjson` of a Lua state, and every `cjson.new()`) has its own
//! settings, shared by its functions; they last as long as the Lua state (SCRIPT FLUSH starts a
//! new one). The decoder follows lua-cjson's tokenizer rather than a JSON library: its errors
//! name the token and the character, it stops at a NUL byte as the C code does, and numbers are
//! read as C's `strtod` reads them (hexadecimal, `inf`, `nan` when invalid numbers are allowed).

use mlua::{Lua, MultiValue, Table, Value as LuaValue};
use parking_lot::Mutex;
use std::sync::Arc;

use super::lstruct::{arg_error, type_name};
use crate::protocol::reply::format_g;

/// One module table's settings (lua-cjson's defaults).
#[derive(Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 off (error), 1 on (`inf`, `nan`), 2 `null`.
    encode_invalid_numbers: u8,
    decode_invalid_numbers: bool,
    keep_buffer: bool,
    precision: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            keep_buffer: true,
            precision: 14,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

fn rt(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

/// A new module table with default settings (`cjson` itself and `cjson.new()`).
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error("encode", 1, "expected 1 argument"));
            }
            let cfg = *c.lock();
            let mut out = Vec::new();
            encode_value(&cfg, &args[0], &mut out, 0)?;
            lua.create_string(&out)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error("decode", 1, "expected 1 argument"));
            }
            let data = match &args[0] {
                LuaValue::String(s) => s.as_bytes().to_vec(),
                LuaValue::Integer(n) => super::convert::lua_number_string(*n as f64).into_bytes(),
                LuaValue::Number(n) => super::convert::lua_number_string(*n).into_bytes(),
                v => {
                    let msg = format!("string expected, got {}", type_name(Some(v)));
                    return Err(arg_error("decode", 1, &msg));
                }
            };
            let cfg = *c.lock();
            decode(lua, &cfg, &data)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: MultiValue| {
            let name = "encode_sparse_array";
            check_count(name, &args, 3)?;
            let mut cfg = c.lock();
            let convert = enum_option(lua, name, &args, 1, &["off", "on"])?;
            if let Some(v) = convert {
                cfg.sparse_convert = v == 1;
            }
            if let Some(v) = int_option(name, &args, 2, 0, i32::MAX)? {
                cfg.sparse_ratio = v;
            }
            if let Some(v) = int_option(name, &args, 3, 0, i32::MAX)? {
                cfg.sparse_safe = v;
            }
            Ok((
                cfg.sparse_convert,
                cfg.sparse_ratio as i64,
                cfg.sparse_safe as i64,
            ))
        })?,
    )?;
    for (name, max) in [
        ("encode_max_depth", i32::MAX),
        ("decode_max_depth", i32::MAX),
        ("encode_number_precision", 14),
    ] {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |_, args: MultiValue| {
                check_count(name, &args, 1)?;
                let mut cfg = c.lock();
                let setting = match name {
                    "encode_max_depth" => &mut cfg.encode_max_depth,
                    "decode_max_depth" => &mut cfg.decode_max_depth,
                    _ => {
                        if let Some(v) = int_option(name, &args, 1, 1, max)? {
                            cfg.precision = v as usize;
                        }
                        return Ok(cfg.precision as i64);
                    }
                };
                if let Some(v) = int_option(name, &args, 1, 1, max)? {
                    *setting = v;
                }
                Ok(*setting as i64)
            })?,
        )?;
    }
    let c = cfg.clone();
    t.raw_set(
        "encode_keep_buffer",
        lua.create_function(move |lua, args: MultiValue| {
            let name = "encode_keep_buffer";
            check_count(name, &args, 1)?;
            let mut cfg = c.lock();
            // Whether the encode buffer is kept between calls: a memory trade-off with no
            // visible effect, so only the setting itself is kept.
            if let Some(v) = enum_option(lua, name, &args, 1, &["off", "on"])? {
                cfg.keep_buffer = v == 1;
            }
            Ok(cfg.keep_buffer)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            let name = "encode_invalid_numbers";
            check_count(name, &args, 1)?;
            let mut cfg = c.lock();
            if let Some(v) = enum_option(lua, name, &args, 1, &["off", "on", "null"])? {
                cfg.encode_invalid_numbers = v;
            }
            Ok(match cfg.encode_invalid_numbers {
                0 => LuaValue::Boolean(false),
                1 => LuaValue::Boolean(true),
                _ => LuaValue::String(lua.create_string("null")?),
            })
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            let name = "decode_invalid_numbers";
            check_count(name, &args, 1)?;
            let mut cfg = c.lock();
            if let Some(v) = enum_option(lua, name, &args, 1, &["off", "on"])? {
                cfg.decode_invalid_numbers = v == 1;
            }
            Ok(cfg.decode_invalid_numbers)
        })?,
    )?;
    t.raw_set("new", lua.create_function(|lua, ()| module(lua))?)?;
    t.raw_set(
        "null",
        LuaValue::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
    )?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

/// At most `n` arguments (lua-cjson's `json_arg_init`).
fn check_count(name: &str, args: &MultiValue, n: usize) -> mlua::Result<()> {
    if args.len() > n {
        return Err(arg_error(name, n + 1, "found too many arguments"));
    }
    Ok(())
}

fn arg(args: &MultiValue, i: usize) -> Option<&LuaValue> {
    args.get(i - 1).filter(|v| !v.is_nil())
}

/// An on/off-style option at `i` (None when absent or nil): a boolean (true is 1), or one of
/// `options` by name (`luaL_checkoption`).
fn enum_option(
    lua: &Lua,
    name: &str,
    args: &MultiValue,
    i: usize,
    options: &[&str],
) -> mlua::Result<Option<u8>> {
    let Some(v) = arg(args, i) else {
        return Ok(None);
    };
    if let LuaValue::Boolean(b) = v {
        return Ok(Some(*b as u8));
    }
    let s = match v {
        LuaValue::String(_) | LuaValue::Integer(_) | LuaValue::Number(_) => {
            lua.coerce_string(v.clone())?
        }
        _ => None,
    };
    let Some(s) = s else {
        let msg = format!("string expected, got {}", type_name(Some(v)));
        return Err(arg_error(name, i, &msg));
    };
    let s = s.as_bytes();
    match options.iter().position(|o| o.as_bytes() == &s[..]) {
        Some(p) => Ok(Some(p as u8)),
        None => {
            let msg = format!("invalid option '{}'", String::from_utf8_lossy(&s));
            Err(arg_error(name, i, &msg))
        }
    }
}

/// An integer option at `i` (None when absent or nil), within `min..=max`. As in lua-cjson the
/// range error always names argument #1.
fn int_option(
    name: &str,
    args: &MultiValue,
    i: usize,
    min: i32,
    max: i32,
) -> mlua::Result<Option<i32>> {
    let Some(v) = arg(args, i) else {
        return Ok(None);
    };
    let n = match v {
        LuaValue::Integer(n) => Some(*n as f64),
        LuaValue::Number(n) => Some(*n),
        LuaValue::String(s) => super::lstruct::parse_lua_number(&s.to_string_lossy()),
        _ => None,
    };
    let Some(n) = n else {
        let msg = format!("number expected, got {}", type_name(Some(v)));
        return Err(arg_error(name, i, &msg));
    };
    // luaL_checkinteger truncates to a lua_Integer, stored in a C int.
    let value = c_double_to_i64(n) as i32;
    if value < min || value > max {
        let msg = format!("expected integer between {min} and {max}");
        return Err(arg_error(name, 1, &msg));
    }
    Ok(Some(value))
}

/// A C cast of a double to a 64-bit integer on x86-64: truncation, and the "integer
/// indefinite" value (i64::MIN) for NaN and out-of-range values.
pub fn c_double_to_i64(n: f64) -> i64 {
    if n.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding

fn escape_string(out: &mut Vec<u8>, s: &[u8]) {
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

/// A number as lua-cjson writes it (`%.<precision>g`, invalid numbers per the setting).
fn encode_number(cfg: &Config, n: f64, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        match cfg.encode_invalid_numbers {
            0 => {
                return Err(rt("Cannot serialise number: must not be NaN or Inf".into()));
            }
            1 if n.is_nan() => {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
            1 => {
                out.extend_from_slice(if n > 0.0 { b"inf" } else { b"-inf" });
                return Ok(());
            }
            _ => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    out.extend_from_slice(format_g(n, cfg.precision).as_bytes());
    Ok(())
}

fn number_of(v: &LuaValue) -> Option<f64> {
    match v {
        LuaValue::Integer(i) => Some(*i as f64),
        LuaValue::Number(n) => Some(*n),
        _ => None,
    }
}

/// The array length of `t` as lua-cjson decides it: Some(max key) when every key is an integer
/// of at least 1 (0 or less: encode an object, as for an empty table), None to encode an object; an
/// error for an excessively sparse array unless sparse arrays are converted. The arithmetic is
/// lua-cjson's, in C ints (a key too large for one reads as i32::MIN, as on x86-64).
fn array_length(cfg: &Config, t: &Table) -> mlua::Result<Option<i32>> {
    let mut max = 0i32;
    let mut items = 0i32;
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let (k, _) = pair?;
        match number_of(&k) {
            Some(k) if k >= 1.0 && k.floor() == k => {
                if k > max as f64 {
                    max = if k >= 2_147_483_648.0 {
                        i32::MIN
                    } else {
                        k as i32
                    };
                }
                items = items.wrapping_add(1);
            }
            _ => return Ok(None),
        }
    }
    if cfg.sparse_ratio > 0 && max > items.wrapping_mul(cfg.sparse_ratio) && max > cfg.sparse_safe {
        if !cfg.sparse_convert {
            return Err(rt("Cannot serialise table: excessively sparse array".into()));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

fn encode_value(cfg: &Config, v: &LuaValue, out: &mut Vec<u8>, depth: i32) -> mlua::Result<()> {
    // The output lives outside the Lua state's memory limit: bound it the same way.
    // DEVIATION(redis): lua-cjson has no output limit.
    if out.len() > super::MEMORY_LIMIT {
        return Err(rt("Cannot serialise, output too large".into()));
    }
    match v {
        LuaValue::String(s) => escape_string(out, &s.as_bytes()),
        LuaValue::Integer(_) | LuaValue::Number(_) => {
            encode_number(cfg, number_of(v).unwrap_or(0.0), out)?
        }
        LuaValue::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        LuaValue::Nil => out.extend_from_slice(b"null"),
        LuaValue::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        LuaValue::Table(t) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth {
                return Err(rt(format!("Cannot serialise, excessive nesting ({depth})")));
            }
            match array_length(cfg, t)? {
                Some(n) if n > 0 => {
                    out.push(b'[');
                    for i in 1..=n as i64 {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode_value(cfg, &t.raw_get::<LuaValue>(i)?, out, depth)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<LuaValue, LuaValue>() {
                        let (k, v) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            LuaValue::Integer(_) | LuaValue::Number(_) => {
                                out.push(b'"');
                                encode_number(cfg, number_of(&k).unwrap_or(0.0), out)?;
                                out.extend_from_slice(b"\":");
                            }
                            LuaValue::String(s) => {
                                escape_string(out, &s.as_bytes());
                                out.push(b':');
                            }
                            other => {
                                return Err(rt(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    type_name(Some(other))
                                )));
                            }
                        }
                        encode_value(cfg, &v, out, depth)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(rt(format!(
                "Cannot serialise {}: type not supported",
                type_name(Some(other))
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Decoding

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    /// An error, with its description.
    Error(&'static str),
}

impl Tok {
    /// As lua-cjson names tokens in its errors.
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Number => "T_NUMBER",
            Tok::Boolean => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

struct Token {
    kind: Tok,
    /// Where it starts (0-based), or where the error is.
    index: usize,
    string: Vec<u8>,
    number: f64,
    boolean: bool,
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    depth: i32,
    cfg: &'a Config,
}

impl Parser<'_> {
    /// The byte at `i`; the C parser reads a NUL-terminated string, so the end reads as 0.
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        self.data.get(self.pos..self.pos + word.len()) == Some(word)
    }

    fn error_token(&self, what: &'static str) -> Token {
        Token {
            kind: Tok::Error(what),
            index: self.pos,
            string: Vec::new(),
            number: 0.0,
            boolean: false,
        }
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let simple = |kind| Token {
            kind,
            index: start,
            string: Vec::new(),
            number: 0.0,
            boolean: false,
        };
        let ch = self.at(self.pos);
        let kind = match ch {
            b'{' => Tok::ObjBegin,
            b'}' => Tok::ObjEnd,
            b'[' => Tok::ArrBegin,
            b']' => Tok::ArrEnd,
            b',' => Tok::Comma,
            b':' => Tok::Colon,
            0 => return simple(Tok::End),
            b'"' => return self.string_token(),
            b'-' | b'0'..=b'9' => {
                if !self.cfg.decode_invalid_numbers && self.is_invalid_number() {
                    return self.error_token("invalid number");
                }
                return self.number_token();
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if self.starts_with(b"true") || self.starts_with(b"false") {
                    let t = self.at(self.pos) == b't';
                    self.pos += if t { 4 } else { 5 };
                    let mut tok = simple(Tok::Boolean);
                    tok.boolean = t;
                    return tok;
                }
                if self.starts_with(b"null") {
                    self.pos += 4;
                    return simple(Tok::Null);
                }
                if self.cfg.decode_invalid_numbers && self.is_invalid_number() {
                    return self.number_token();
                }
                return self.error_token("invalid token");
            }
            _ => return self.error_token("invalid token"),
        };
        self.pos += 1;
        simple(kind)
    }

    /// lua-cjson's `json_is_invalid_number`: what strict JSON refuses but strtod reads.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| (0..3).all(|i| self.at(p + i).to_ascii_lowercase() == w[i]);
        word(b"inf") || word(b"nan")
    }

    fn number_token(&mut self) -> Token {
        let (value, used) = strtod(&self.data[self.pos..]);
        if used == 0 {
            return self.error_token("invalid number");
        }
        let mut t = self.error_token("");
        t.kind = Tok::Number;
        t.number = value;
        self.pos += used;
        t
    }

    fn string_token(&mut self) -> Token {
        let start = self.pos;
        self.pos += 1;
        let mut s = Vec::new();
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return self.error_token("unexpected end of string");
            }
            if ch == b'\\' {
                let esc = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 12,
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape(&mut s) {
                            continue;
                        }
                        return self.error_token("invalid unicode escape code");
                    }
                    _ => return self.error_token("invalid escape code"),
                };
                s.push(esc);
                self.pos += 2;
                continue;
            }
            s.push(ch);
            self.pos += 1;
        }
        self.pos += 1;
        Token {
            kind: Tok::Str,
            index: start,
            string: s,
            number: 0.0,
            boolean: false,
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| {
            let d = (self.at(at + i) as char).to_digit(16)?;
            Some(acc << 4 | d)
        })
    }

    /// `\uXXXX` (a surrogate pair: two of them) at `pos`, appended as UTF-8.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        let n = match cp {
            0..=0x7F => {
                buf[0] = cp as u8;
                1
            }
            0x80..=0x7FF => {
                buf[0] = (cp >> 6) as u8 | 0xC0;
                buf[1] = (cp & 0x3F) as u8 | 0x80;
                2
            }
            0x800..=0xFFFF => {
                buf[0] = (cp >> 12) as u8 | 0xE0;
                buf[1] = ((cp >> 6) & 0x3F) as u8 | 0x80;
                buf[2] = (cp & 0x3F) as u8 | 0x80;
                3
            }
            _ => {
                buf[0] = (cp >> 18) as u8 | 0xF0;
                buf[1] = ((cp >> 12) & 0x3F) as u8 | 0x80;
                buf[2] = ((cp >> 6) & 0x3F) as u8 | 0x80;
                buf[3] = (cp & 0x3F) as u8 | 0x80;
                4
            }
        };
        out.extend_from_slice(&buf[..n]);
        self.pos += len;
        true
    }

    fn parse_error(&self, expected: &str, t: &Token) -> mlua::Error {
        rt(format!(
            "Expected {expected} but found {} at character {}",
            t.kind.name(),
            t.index + 1
        ))
    }

    fn descend(&mut self) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth > self.cfg.decode_max_depth {
            return Err(rt(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.pos
            )));
        }
        Ok(())
    }

    fn value(&mut self, lua: &Lua, t: Token) -> mlua::Result<LuaValue> {
        Ok(match t.kind {
            Tok::Str => LuaValue::String(lua.create_string(&t.string)?),
            Tok::Number => LuaValue::Number(t.number),
            Tok::Boolean => LuaValue::Boolean(t.boolean),
            Tok::Null => LuaValue::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
            Tok::ObjBegin => {
                self.descend()?;
                let table = lua.create_table()?;
                let mut t = self.next_token();
                if t.kind != Tok::ObjEnd {
                    loop {
                        if t.kind != Tok::Str {
                            return Err(self.parse_error("object key string", &t));
                        }
                        let key = lua.create_string(&t.string)?;
                        let c = self.next_token();
                        if c.kind != Tok::Colon {
                            return Err(self.parse_error("colon", &c));
                        }
                        let v = self.next_token();
                        let v = self.value(lua, v)?;
                        table.raw_set(key, v)?;
                        let n = self.next_token();
                        if n.kind == Tok::ObjEnd {
                            break;
                        }
                        if n.kind != Tok::Comma {
                            return Err(self.parse_error("comma or object end", &n));
                        }
                        t = self.next_token();
                    }
                }
                self.depth -= 1;
                LuaValue::Table(table)
            }
            Tok::ArrBegin => {
                self.descend()?;
                let table = lua.create_table()?;
                let mut t = self.next_token();
                if t.kind != Tok::ArrEnd {
                    for i in 1.. {
                        let v = self.value(lua, t)?;
                        table.raw_set(i, v)?;
                        let n = self.next_token();
                        if n.kind == Tok::ArrEnd {
                            break;
                        }
                        if n.kind != Tok::Comma {
                            return Err(self.parse_error("comma or array end", &n));
                        }
                        t = self.next_token();
                    }
                }
                self.depth -= 1;
                LuaValue::Table(table)
            }
            _ => return Err(self.parse_error("value", &t)),
        })
    }
}

fn decode(lua: &Lua, cfg: &Config, data: &[u8]) -> mlua::Result<LuaValue> {
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(rt("JSON parser does not support UTF-16 or UTF-32".into()));
    }
    let mut p = Parser {
        data,
        pos: 0,
        depth: 0,
        cfg,
    };
    let t = p.next_token();
    let v = p.value(lua, t)?;
    let end = p.next_token();
    if end.kind != Tok::End {
        return Err(p.parse_error("the end", &end));
    }
    Ok(v)
}

/// C's `strtod` in the C locale: the value and how many bytes it read (0: no number).
fn strtod(s: &[u8]) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let neg = match at(0) {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let word =
        |from: usize, w: &[u8]| (0..w.len()).all(|k| at(from + k).to_ascii_lowercase() == w[k]);
    if word(i, b"inf") {
        let used = if word(i, b"infinity") { i + 8 } else { i + 3 };
        return (sign(f64::INFINITY), used);
    }
    if word(i, b"nan") {
        let mut used = i + 3;
        if at(used) == b'(' {
            let mut k = used + 1;
            while at(k).is_ascii_alphanumeric() || at(k) == b'_' {
                k += 1;
            }
            if at(k) == b')' {
                used = k + 1;
            }
        }
        return (sign(f64::NAN), used);
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' {
        let h = i + 2;
        let digit = |c: u8| (c as char).to_digit(16);
        let has_digits = digit(at(h)).is_some() || at(h) == b'.' && digit(at(h + 1)).is_some();
        if has_digits {
            let mut k = h;
            let mut m = 0f64;
            let mut exp = 0i32;
            while let Some(d) = digit(at(k)) {
                m = m * 16.0 + d as f64;
                k += 1;
            }
            if at(k) == b'.' {
                k += 1;
                while let Some(d) = digit(at(k)) {
                    m = m * 16.0 + d as f64;
                    exp -= 4;
                    k += 1;
                }
            }
            if at(k) | 0x20 == b'p' {
                let mut e = k + 1;
                let eneg = at(e) == b'-';
                if matches!(at(e), b'+' | b'-') {
                    e += 1;
                }
                if at(e).is_ascii_digit() {
                    let mut v = 0i32;
                    while at(e).is_ascii_digit() {
                        v = v.saturating_mul(10).saturating_add((at(e) - b'0') as i32);
                        e += 1;
                    }
                    exp = exp.saturating_add(if eneg { -v } else { v });
                    k = e;
                }
            }
            return (sign(m * 2f64.powi(exp)), k);
        }
        // "0x" without digits: the "0" alone.
        return (sign(0.0), i + 1);
    }
    let mut k = i;
    let mut digits = 0;
    while at(k).is_ascii_digit() {
        k += 1;
        digits += 1;
    }
    if at(k) == b'.' {
        k += 1;
        while at(k).is_ascii_digit() {
            k += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0);
    }
    if at(k) | 0x20 == b'e' {
        let mut e = k + 1;
        if matches!(at(e), b'+' | b'-') {
            e += 1;
        }
        if at(e).is_ascii_digit() {
            while at(e).is_ascii_digit() {
                e += 1;
            }
            k = e;
        }
    }
    let text = std::str::from_utf8(&s[i..k]).unwrap_or("0");
    let text = if text.starts_with('.') {
        format!("0{text}")
    } else {
        text.to_string()
    };
    (sign(text.parse::<f64>().unwrap_or(0.0)), k)
}

#[cfg(test)]
mod tests {
    use super::strtod;

    #[test]
    fn strtod_reads_what_c_reads() {
        assert_eq!(strtod(b"12abc"), (12.0, 2));
        assert_eq!(strtod(b"-1.5e3,"), (-1500.0, 6));
        assert_eq!(strtod(b"1e"), (1.0, 1));
        assert_eq!(strtod(b"0x10]"), (16.0, 4));
        assert_eq!(strtod(b"0x"), (0.0, 1));
        assert_eq!(strtod(b"-.5"), (-0.5, 3));
        assert_eq!(strtod(b"5."), (5.0, 2));
        assert_eq!(strtod(b"-"), (0.0, 0));
        assert_eq!(strtod(b"Infinity"), (f64::INFINITY, 8));
        assert_eq!(strtod(b"-inf"), (f64::NEG_INFINITY, 4));
        assert!(strtod(b"nan(x1)").0.is_nan());
        assert_eq!(strtod(b"nan(x1)").1, 7);
    }
}
