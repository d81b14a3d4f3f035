//! Numbers as Redis reads them (its `util.c`): one copy of each rule, shared by the protocol,
//! the commands, the keyspace and the configuration. Imports nothing from the crate.
//!
//! - [`string2ll`]: strict decimal `long long` (arguments, lengths, indexes, config integers).
//! - [`string2d`]: a `double` argument (`getDoubleFromObject`: ZADD scores, config floats).
//! - [`strtod_bound`]: a score range bound (`zslParseRange`: C `strtod` as it is).
//! - [`strtod_whole`]: a SORT weight (C `strtod` over the whole string, ERANGE refused).
//! - [`strtold`]: a `long double` argument (`getLongDoubleFromObject`: blocking timeouts),
//!   telling apart the values a `long double` holds and an `f64` does not.

/// Redis's `string2ll`: optional '-', no '+', no leading zeros, no spaces, fits in i64.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Consume an optional `+` or `-` at `b[*i]`; true for `-` (an exponent's sign).
#[inline]
pub(crate) fn sign_at(b: &[u8], i: &mut usize) -> bool {
    match b.get(*i) {
        Some(b'-') => {
            *i += 1;
            true
        }
        Some(b'+') => {
            *i += 1;
            false
        }
        _ => false,
    }
}

/// C's `isspace` in the "C" locale.
#[inline]
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What C's `strtod` makes of a whole string.
struct Strtod {
    value: f64,
    /// ERANGE with an infinite result (a finite number too large).
    overflow: bool,
    /// ERANGE with a zero result (a non-zero number too small).
    underflow: bool,
}

/// C `strtod` over all of `s` (leading blanks skipped; decimal, hexadecimal `0x1.8p3`, `inf`,
/// `infinity`, `nan`); `None` when characters are left over. An empty string converts nothing
/// and so is all consumed: 0.
fn strtod(s: &[u8]) -> Option<Strtod> {
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    if i == s.len() {
        return (i == 0).then_some(Strtod {
            value: 0.0,
            overflow: false,
            underflow: false,
        });
    }
    let neg = s[i] == b'-';
    if s[i] == b'-' || s[i] == b'+' {
        i += 1;
    }
    let body = std::str::from_utf8(&s[i..]).ok()?;
    let lower = body.to_ascii_lowercase();
    let sign = |v: f64| if neg { -v } else { v };
    if lower == "inf" || lower == "infinity" {
        return Some(Strtod {
            value: sign(f64::INFINITY),
            overflow: false,
            underflow: false,
        });
    }
    if lower == "nan" {
        return Some(Strtod {
            value: f64::NAN,
            overflow: false,
            underflow: false,
        });
    }
    let (value, nonzero) = match lower.strip_prefix("0x") {
        Some(hex) if !hex.is_empty() && !hex.starts_with(['+', '-']) => {
            let v = parse_hex_float(hex)?;
            let mant = hex.split(['p']).next().unwrap_or("");
            (v, mant.bytes().any(|c| c.is_ascii_hexdigit() && c != b'0'))
        }
        _ => {
            // Rust's grammar is C's decimal one, less the spellings handled above.
            if body.starts_with(['+', '-']) || lower.contains("inf") || lower.contains("nan") {
                return None;
            }
            let v: f64 = body.parse().ok()?;
            let mant = lower.split('e').next().unwrap_or("");
            (v, mant.bytes().any(|c| (b'1'..=b'9').contains(&c)))
        }
    };
    Some(Strtod {
        value: sign(value),
        overflow: value.is_infinite(),
        underflow: value == 0.0 && nonzero,
    })
}

/// Redis's `string2d` / `getDoubleFromObject`: the whole string is a `strtod` number with no
/// leading blank (and not empty); NaN and results out of range (overflow to infinity, underflow
/// to 0) are refused. Hexadecimal and `inf` forms are accepted, as Redis accepts them.
pub fn string2d(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_space(s[0]) {
        return None;
    }
    let r = strtod(s)?;
    if r.value.is_nan() || r.overflow || r.underflow {
        return None;
    }
    Some(r.value)
}

/// A bound of a score range as Redis's `zslParseRange` reads it: plain `strtod` (leading
/// blanks allowed, out-of-range values saturate), only NaN refused.
pub fn strtod_bound(s: &[u8]) -> Option<f64> {
    let r = strtod(s)?;
    (!r.value.is_nan()).then_some(r.value)
}

/// C `strtod` over the whole string with its ERANGE check, as SORT reads a weight: leading
/// blanks allowed, an empty string is 0; NaN and results out of range refused (glibc reports
/// ERANGE for a subnormal result too: `1e-310` is refused).
pub fn strtod_whole(s: &[u8]) -> Option<f64> {
    let r = strtod(s)?;
    let subnormal = r.value != 0.0 && r.value.abs() < f64::MIN_POSITIVE;
    (!r.value.is_nan() && !r.overflow && !r.underflow && !subnormal).then_some(r.value)
}

/// How the C library's `strtold` would classify a number that `f64` cannot hold.
pub enum LongDouble {
    Value(f64),
    /// Finite for a `long double` but beyond `f64`.
    Huge,
    /// Non-zero for a `long double` but below `f64`'s smallest value.
    Tiny,
}

/// `string2ld`: a number as Redis's `getLongDoubleFromObject` reads it (`strtold`, no leading space, no
/// trailing garbage, no NaN, and ERANGE is an error), reporting the `long double` range that
/// `f64` lacks.
pub fn strtold(arg: &[u8]) -> Option<LongDouble> {
    // Redis's MAX_LONG_DOUBLE_CHARS.
    if arg.is_empty() || arg.len() > 5 * 1024 {
        return None;
    }
    let s = std::str::from_utf8(arg).ok()?;
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(LongDouble::Value(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }));
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        return parse_hex_float(hex).map(|v| LongDouble::Value(if neg { -v } else { v }));
    }
    // Decimal: digits [. digits] [e [sign] digits], with at least one mantissa digit.
    let b = body.as_bytes();
    let mut i = 0;
    let mut int_digits = 0usize;
    let mut first_nonzero: Option<i64> = None;
    let mut point: Option<usize> = None;
    let mut mantissa_digits = 0;
    while i < b.len() && (b[i].is_ascii_digit() || (b[i] == b'.' && point.is_none())) {
        if b[i] == b'.' {
            point = Some(mantissa_digits);
        } else {
            if b[i] != b'0' && first_nonzero.is_none() {
                first_nonzero = Some(mantissa_digits as i64);
            }
            mantissa_digits += 1;
            if point.is_none() {
                int_digits += 1;
            }
        }
        i += 1;
    }
    if mantissa_digits == 0 {
        return None;
    }
    let mut exp: i64 = 0;
    if i < b.len() {
        if b[i] != b'e' && b[i] != b'E' {
            return None;
        }
        i += 1;
        let eneg = sign_at(b, &mut i);
        if i >= b.len() {
            return None;
        }
        for &c in &b[i..] {
            if !c.is_ascii_digit() {
                return None;
            }
            exp = (exp * 10 + (c - b'0') as i64).min(1 << 40);
        }
        if eneg {
            exp = -exp;
        }
    }
    let v: f64 = body.parse().ok()?;
    let v = if neg { -v } else { v };
    // Decimal exponent of the leading significant digit, to place the value against the
    // `long double` range (about 1e-4951 to 1e4932).
    let magnitude = first_nonzero.map(|f| int_digits as i64 - f - 1 + exp);
    if v.is_infinite() {
        return if magnitude.is_some_and(|m| m > 4932) {
            None
        } else {
            Some(LongDouble::Huge)
        };
    }
    if v == 0.0 && first_nonzero.is_some() {
        return if magnitude.is_some_and(|m| m < -4951) {
            None
        } else {
            Some(LongDouble::Tiny)
        };
    }
    Some(LongDouble::Value(v))
}

/// `strtold`'s hexadecimal form after `0x`: hex digits [. hex digits] [p [sign] decimal exponent].
pub fn parse_hex_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut v = 0f64;
    let mut digits = 0;
    let mut scale = 0i64;
    let mut seen_point = false;
    while i < b.len() {
        let c = b[i];
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            v = v * 16.0 + d as f64;
            digits += 1;
            if seen_point {
                scale -= 4;
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() {
        if b[i] != b'p' {
            return None;
        }
        i += 1;
        let neg = sign_at(b, &mut i);
        if i >= b.len() {
            return None;
        }
        let mut e = 0i64;
        for &c in &b[i..] {
            if !c.is_ascii_digit() {
                return None;
            }
            e = (e * 10 + (c - b'0') as i64).min(1 << 20);
        }
        scale += if neg { -e } else { e };
    }
    Some(v * 2f64.powi(scale.clamp(-100_000, 100_000) as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_is_strict() {
        for (s, v) in [
            ("0", Some(0)),
            ("-1", Some(-1)),
            ("9223372036854775807", Some(i64::MAX)),
        ] {
            assert_eq!(string2ll(s.as_bytes()), v, "{s}");
        }
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "+1",
            "01",
            "-0",
            " 1",
            "1 ",
            "9223372036854775808",
            "1a",
            "-",
        ] {
            assert_eq!(string2ll(bad.as_bytes()), None, "{bad}");
        }
    }

    /// Each case checked against redis-server 7.0.15 (ZADD for string2d, ZRANGEBYSCORE for
    /// the bounds).
    #[test]
    fn doubles_as_redis_reads_them() {
        for (s, v) in [
            ("99.9", 99.9),
            ("1e2", 100.0),
            ("+5", 5.0),
            ("0x10", 16.0),
            ("0x1p-2", 0.25),
            ("0x1.8p1", 3.0),
            ("-inf", f64::NEG_INFINITY),
            ("+Infinity", f64::INFINITY),
            (".5", 0.5),
            ("1.", 1.0),
        ] {
            assert_eq!(string2d(s.as_bytes()), Some(v), "{s}");
        }
        for bad in [
            "", " 5", "5 ", "nan", "1e400", "1e-400", "0x", "1e", "--1", "inf5", "abc",
        ] {
            assert_eq!(string2d(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(strtod_bound(b" 0"), Some(0.0));
        assert_eq!(strtod_bound(b"1e400"), Some(f64::INFINITY));
        assert_eq!(strtod_bound(b"1e-400"), Some(0.0));
        assert_eq!(strtod_bound(b"0x1"), Some(1.0));
        assert_eq!(strtod_bound(b""), Some(0.0));
        assert_eq!(strtod_bound(b"nan"), None);
        assert_eq!(strtod_bound(b" "), None);
    }
}
