//! The `struct` library Redis bundles (Roberto Ierusalimschy's lua_struct 0.2): `pack`,
//! `unpack`, `size`, with the same formats, alignment rules, number conversions and error
//! texts (checked against redis-server 7.0 on x86-64: `long` and `size_t` are 8 bytes, the
//! maximum alignment is 8, integers go through 64 bits).
//!
//! Format: `>` big endian, `<` little endian, `![n]` maximum alignment (default 1, `!` alone 8),
//! `b/B` char, `h/H` short, `l/L` long, `T` size_t, `i/I[n]` int of n bytes (default 4, at most
//! 32), `f` float, `d` double, `x` one zero byte, `c[n]` n chars (`c0`: the whole string, or in
//! unpack the length given by the previous number), `s` zero-terminated string, ` ` ignored.

use mlua::{Lua, MultiValue, Table, Value as LuaValue};

const MAXINTSIZE: usize = 32;
const MAXALIGN: usize = 8;

fn err(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

pub(super) fn arg_error(func: &str, arg: usize, msg: &str) -> mlua::Error {
    err(format!("bad argument #{arg} to '{func}' ({msg})"))
}

pub(super) fn type_name(v: Option<&LuaValue>) -> &'static str {
    match v {
        None => "no value",
        Some(LuaValue::Nil) => "nil",
        Some(LuaValue::Boolean(_)) => "boolean",
        Some(LuaValue::Integer(_)) | Some(LuaValue::Number(_)) => "number",
        Some(LuaValue::String(_)) => "string",
        Some(LuaValue::Table(_)) => "table",
        Some(LuaValue::Function(_)) => "function",
        Some(LuaValue::Thread(_)) => "thread",
        Some(LuaValue::LightUserData(_)) => "userdata",
        Some(_) => "userdata",
    }
}

/// `luaL_checknumber`: numbers and numeric strings.
fn check_number(func: &str, args: &MultiValue, i: usize) -> mlua::Result<f64> {
    let v = args.get(i - 1);
    let n = match v {
        Some(LuaValue::Integer(n)) => Some(*n as f64),
        Some(LuaValue::Number(n)) => Some(*n),
        Some(LuaValue::String(s)) => parse_lua_number(&s.to_string_lossy()),
        _ => None,
    };
    n.ok_or_else(|| arg_error(func, i, &format!("number expected, got {}", type_name(v))))
}

pub(super) fn parse_lua_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok().map(|v| v as f64);
    }
    t.parse::<f64>().ok()
}

/// `luaL_checklstring`: strings and numbers (as Lua prints them).
fn check_bytes(func: &str, args: &MultiValue, i: usize) -> mlua::Result<Vec<u8>> {
    let v = args.get(i - 1);
    match v {
        Some(LuaValue::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(LuaValue::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(LuaValue::Number(n)) => Ok(super::convert::lua_number_string(*n).into_bytes()),
        _ => Err(arg_error(
            func,
            i,
            &format!("string expected, got {}", type_name(v)),
        )),
    }
}

struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }
}

/// A decimal count after an option, or `default`.
fn getnum(fmt: &[u8], i: &mut usize, default: usize) -> mlua::Result<usize> {
    if !fmt.get(*i).is_some_and(|c| c.is_ascii_digit()) {
        return Ok(default);
    }
    let mut a: usize = 0;
    while let Some(c) = fmt.get(*i).filter(|c| c.is_ascii_digit()) {
        let d = (c - b'0') as usize;
        if a > (i32::MAX as usize) / 10 || a * 10 > i32::MAX as usize - d {
            return Err(err("integral size overflow".into()));
        }
        a = a * 10 + d;
        *i += 1;
    }
    Ok(a)
}

fn optsize(opt: u8, fmt: &[u8], i: &mut usize) -> mlua::Result<usize> {
    Ok(match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => getnum(fmt, i, 1)?,
        b'i' | b'I' => {
            let sz = getnum(fmt, i, 4)?;
            if sz > MAXINTSIZE {
                return Err(err(format!(
                    "integral size {sz} is larger than limit of {MAXINTSIZE}"
                )));
            }
            sz
        }
        _ => 0,
    })
}

fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

fn controloptions(
    func: &str,
    opt: u8,
    fmt: &[u8],
    i: &mut usize,
    h: &mut Header,
) -> mlua::Result<()> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = getnum(fmt, i, MAXALIGN)?;
            if !a.is_power_of_two() {
                return Err(err(format!("alignment {a} is not a power of 2")));
            }
            h.align = a;
        }
        other => {
            return Err(arg_error(
                func,
                1,
                &format!("invalid format option '{}'", other as char),
            ));
        }
    }
    Ok(())
}

/// A Lua number as C converts it to `unsigned long` on x86-64 (`(Uinttype)(Inttype)n` for
/// negatives): out-of-range values behave as the hardware conversion does.
fn to_u64(n: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if n.is_nan() {
        return 1 << 63;
    }
    if n < 0.0 {
        return (n as i64) as u64;
    }
    if n < TWO63 {
        return n as u64;
    }
    let t = n - TWO63;
    let v = if t >= TWO63 { i64::MIN } else { t as i64 };
    (v as u64) ^ (1 << 63)
}

fn put_integer(out: &mut Vec<u8>, n: f64, little: bool, size: usize) {
    let mut value = to_u64(n);
    let mut buf = [0u8; MAXINTSIZE];
    for k in 0..size {
        let idx = if little { k } else { size - 1 - k };
        buf[idx] = (value & 0xff) as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
    out.extend_from_slice(&buf[..size]);
}

fn get_integer(data: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    for k in 0..size {
        let b = if little { data[size - 1 - k] } else { data[k] };
        l = (l << 8) | b as u64;
    }
    if !signed {
        return l as f64;
    }
    let shift = size * 8 - 1;
    if shift < 64 {
        let mask = u64::MAX << shift;
        if l & mask != 0 {
            l |= mask;
        }
    }
    (l as i64) as f64
}

fn with_order(mut bytes: Vec<u8>, little: bool) -> Vec<u8> {
    if little != cfg!(target_endian = "little") {
        bytes.reverse();
    }
    bytes
}

// struct.pack(fmt, v1, v2, ...)
fn pack(lua: &Lua, mut args: MultiValue) -> mlua::Result<mlua::LuaString> {
    const F: &str = "pack";
    let fmt = check_bytes(F, &args, 1)?;
    // lua_struct pushes a nil mark after the arguments: a missing value is reported as nil.
    args.push_back(LuaValue::Nil);
    let mut h = Header::new();
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let mut size = optsize(opt, &fmt, &mut i)?;
        let toalign = gettoalign(out.len(), &h, opt, size);
        out.resize(out.len() + toalign, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(F, &args, arg)?;
                arg += 1;
                put_integer(&mut out, n, h.little, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let n = check_number(F, &args, arg)? as f32;
                arg += 1;
                out.extend(with_order(n.to_ne_bytes().to_vec(), h.little));
            }
            b'd' => {
                let n = check_number(F, &args, arg)?;
                arg += 1;
                out.extend(with_order(n.to_ne_bytes().to_vec(), h.little));
            }
            b'c' | b's' => {
                let s = check_bytes(F, &args, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // lua_struct names the argument after the string (its own off-by-one).
                    return Err(arg_error(F, arg, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => controloptions(F, opt, &fmt, &mut i, &mut h)?,
        }
    }
    lua.create_string(&out)
}

// struct.unpack(fmt, data [, pos])
fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    const F: &str = "unpack";
    let fmt = check_bytes(F, &args, 1)?;
    let data = check_bytes(F, &args, 2)?;
    let ld = data.len();
    let pos = match args.get(2) {
        None | Some(LuaValue::Nil) => 1.0,
        Some(_) => check_number(F, &args, 3)?,
    };
    let pos = pos as i64;
    if pos <= 0 {
        return Err(arg_error(F, 3, "offset must be 1 or greater"));
    }
    let mut pos = (pos - 1) as usize;
    let mut h = Header::new();
    let mut out: Vec<LuaValue> = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let mut size = optsize(opt, &fmt, &mut i)?;
        pos += gettoalign(pos, &h, opt, size);
        if size > ld || pos > ld - size {
            return Err(arg_error(F, 2, "data string too short"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                out.push(LuaValue::Number(get_integer(
                    &data[pos..pos + size],
                    h.little,
                    signed,
                    size,
                )));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = with_order(data[pos..pos + 4].to_vec(), h.little)
                    .try_into()
                    .unwrap_or_default();
                out.push(LuaValue::Number(f32::from_ne_bytes(b) as f64));
            }
            b'd' => {
                let b: [u8; 8] = with_order(data[pos..pos + 8].to_vec(), h.little)
                    .try_into()
                    .unwrap_or_default();
                out.push(LuaValue::Number(f64::from_ne_bytes(b)));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.last() {
                        Some(LuaValue::Number(n)) => Some(*n),
                        Some(LuaValue::Integer(n)) => Some(*n as f64),
                        _ => None,
                    };
                    let Some(n) = prev else {
                        return Err(err("format 'c0' needs a previous size".into()));
                    };
                    out.pop();
                    size = to_u64(n) as usize;
                    if size > ld || pos > ld - size {
                        return Err(arg_error(F, 2, "data string too short"));
                    }
                }
                out.push(LuaValue::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(err("unfinished string in data".into()));
                };
                out.push(LuaValue::String(lua.create_string(&data[pos..pos + end])?));
                size = end + 1;
            }
            _ => controloptions(F, opt, &fmt, &mut i, &mut h)?,
        }
        pos += size;
    }
    out.push(LuaValue::Integer(pos as i64 + 1));
    Ok(MultiValue::from_iter(out))
}

// struct.size(fmt)
fn size(_: &Lua, args: MultiValue) -> mlua::Result<i64> {
    const F: &str = "size";
    let fmt = check_bytes(F, &args, 1)?;
    let mut h = Header::new();
    let mut pos = 0usize;
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let size = optsize(opt, &fmt, &mut i)?;
        pos += gettoalign(pos, &h, opt, size);
        if opt == b's' {
            return Err(arg_error(F, 1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(F, 1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            controloptions(F, opt, &fmt, &mut i, &mut h)?;
        }
        pos += size;
    }
    Ok(pos as i64)
}

pub fn struct_lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `code` and show its value (strings as hex when not printable).
    fn eval(code: &str) -> mlua::Result<String> {
        let lua = Lua::new();
        lua.globals().set("struct", struct_lib(&lua)?)?;
        let v: LuaValue = lua.load(code).eval()?;
        Ok(match v {
            LuaValue::Integer(n) => n.to_string(),
            LuaValue::Number(n) => n.to_string(),
            LuaValue::String(s) => s.as_bytes().iter().map(|b| format!("{b:02x}")).collect(),
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn round_trips_and_sizes() {
        let v = eval(
            "local a, b, c, d, e, nxt = struct.unpack('>i2 <I4 d s b c0', struct.pack('>i2 <I4 d s b c0', -5, 70000, 2.5, 'zz', 3, 'abc')) return a .. ',' .. b .. ',' .. c .. ',' .. d .. ',' .. e .. ',' .. nxt",
        )
        .unwrap();
        assert_eq!(v, "2d352c37303030302c322e352c7a7a2c6162632c3232"); // "-5,70000,2.5,zz,abc,22"
        assert_eq!(eval("return struct.size('!8 b d')").unwrap(), "16");
        assert_eq!(eval("return struct.size('>i4 h !8 d c3')").unwrap(), "19");
        assert_eq!(
            eval("return struct.pack('<i16', -1)").unwrap(),
            "ffffffffffffffff0000000000000000"
        );
    }

    #[test]
    fn out_of_range_numbers_convert_like_x86() {
        assert_eq!(to_u64(-1.0), u64::MAX);
        assert_eq!(to_u64(18446744073709551616.0), 0);
        assert_eq!(to_u64(3.9), 3);
        assert_eq!(to_u64(-3.9) as i64, -3);
    }

    #[test]
    fn bad_formats_are_errors_not_panics() {
        for code in [
            "return struct.pack('i99999999999', 1)",
            "return struct.unpack('c0', 'x')",
            "return struct.unpack('i4', 'abc')",
            "return struct.unpack('i2', 'abc', 0)",
            "return struct.unpack('s', 'abc')",
            "return struct.size('s')",
            "return struct.pack('#')",
            "return struct.unpack('b c0', '\\255')",
        ] {
            assert!(eval(code).is_err(), "{code}");
        }
    }
}
