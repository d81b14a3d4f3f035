//! The low-level text rules of redis.conf, each matching the Redis helper of the same purpose:
//! `split_args` (sdssplitargs), `repr` (sdscatrepr), `mem_to_u64` (memtoull), `parse_i64`
//! (string2ll) and `c_strtoll` (C strtoll with a full-string check).

/// Split one configuration line into arguments like `sdssplitargs`: blanks separate arguments,
/// `"..."` understands `\n \r \t \b \a \\ \" \xHH`, `'...'` only `\'`; a closing quote must be
/// followed by a blank or the end of the line. `None` means unbalanced quotes.
pub(crate) fn split_args(line: &str) -> Option<Vec<String>> {
    let p = line.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < p.len() && is_space(p[i]) {
            i += 1;
        }
        if i >= p.len() {
            return Some(out);
        }
        let mut cur: Vec<u8> = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            if inq {
                if i >= p.len() {
                    return None;
                }
                if p[i] == b'\\'
                    && i + 3 < p.len()
                    && p[i + 1] == b'x'
                    && p[i + 2].is_ascii_hexdigit()
                    && p[i + 3].is_ascii_hexdigit()
                {
                    cur.push(hex(p[i + 2]) * 16 + hex(p[i + 3]));
                    i += 3;
                } else if p[i] == b'\\' && i + 1 < p.len() {
                    i += 1;
                    cur.push(match p[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if p[i] == b'"' {
                    if i + 1 < p.len() && !is_space(p[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(p[i]);
                }
            } else if insq {
                if i >= p.len() {
                    return None;
                }
                if p[i] == b'\\' && i + 1 < p.len() && p[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if p[i] == b'\'' {
                    if i + 1 < p.len() && !is_space(p[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(p[i]);
                }
            } else {
                if i >= p.len() {
                    break;
                }
                match p[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(String::from_utf8_lossy(&cur).into_owned());
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Quote a value the way `sdscatrepr` does, so that `split_args` reads it back unchanged.
pub(crate) fn repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s.as_bytes() {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// `memtoull`: digits followed by an optional unit b, k, kb, m, mb, g, gb (any case); k/m/g are
/// powers of 1000, kb/mb/gb powers of 1024. Like Redis, an empty number counts as 0 and a number
/// too large for 64 bits saturates; a product that overflows is an error.
pub(crate) fn mem_to_u64(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.first() == Some(&b'-') {
        return None;
    }
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mul: u64 = match s[digits..].to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits >= 128 {
        return None;
    }
    let mut val: u64 = 0;
    for &c in &b[..digits] {
        val = val
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .unwrap_or(u64::MAX);
    }
    val.checked_mul(mul)
}

/// `string2ll` (see [`crate::num`]).
pub(crate) fn parse_i64(s: &str) -> Option<i64> {
    crate::num::string2ll(s.as_bytes())
}

/// C `strtoll(s, &end, base)` followed by Redis's `*end == '\0'` check: leading blanks and a sign
/// are allowed, overflow saturates, and an empty string reads as 0.
pub(crate) fn c_strtoll(s: &str, base: u32) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_space(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    while i < b.len() && (b[i] as char).is_digit(base) {
        v = (v * i128::from(base) + i128::from((b[i] as char).to_digit(base)?)).min(1 << 64);
        i += 1;
    }
    if i == start {
        // No conversion: strtoll leaves the end pointer at the start of the string.
        return b.is_empty().then_some(0);
    }
    if i != b.len() {
        return None;
    }
    let v = if neg { -v } else { v };
    Some(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// `%f` then Redis's `trimDoubleString`: "99.900000" -> "99.9", "50.000000" -> "50".
pub(crate) fn fmt_percentile(v: f64) -> String {
    let s = format!("{v:.6}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `string2d` (see [`crate::num`]).
pub(crate) fn parse_f64(s: &str) -> Option<f64> {
    crate::num::string2d(s.as_bytes())
}

/// Redis's `rewriteConfigFormatMemory`: the largest of gb, mb, kb that divides the value.
pub(crate) fn fmt_memory(bytes: u64) -> String {
    const KB: u64 = 1024;
    if bytes != 0 && bytes.is_multiple_of(KB * KB * KB) {
        format!("{}gb", bytes / (KB * KB * KB))
    } else if bytes != 0 && bytes.is_multiple_of(KB * KB) {
        format!("{}mb", bytes / (KB * KB))
    } else if bytes != 0 && bytes.is_multiple_of(KB) {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s)
    }

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(
            split("save 3600 1   300 100").unwrap(),
            ["save", "3600", "1", "300", "100"]
        );
        assert_eq!(split("  a\t b ").unwrap(), ["a", "b"]);
        assert_eq!(split("save \"\"").unwrap(), ["save", ""]);
        assert_eq!(
            split("x 'it\\'s' \"a\\tb\\x41\\\"\"").unwrap(),
            ["x", "it's", "a\tbA\""]
        );
        assert_eq!(split("x a\"b c\"").unwrap(), ["x", "ab c"]);
        assert_eq!(split("x 'a\\nb'").unwrap(), ["x", "a\\nb"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert!(split("port \"abc").is_none());
        assert!(split("x \"a\"b").is_none());
        assert!(split("x 'a").is_none());
        assert!(split("x 'a'b").is_none());
    }

    #[test]
    fn repr_round_trips() {
        for s in [
            "",
            "a b",
            "q\"\\",
            "tab\tnl\n",
            "\u{1}x",
            "{title} {listen-addr}",
        ] {
            let line = format!("k {}", repr(s));
            assert_eq!(split(&line).unwrap(), ["k", s], "{line}");
        }
        assert_eq!(repr("AKE"), "\"AKE\"");
        assert_eq!(repr("\u{1}"), "\"\\x01\"");
    }

    #[test]
    fn memory_units() {
        assert_eq!(mem_to_u64("1k"), Some(1000));
        assert_eq!(mem_to_u64("1kb"), Some(1024));
        assert_eq!(mem_to_u64("1KB"), Some(1024));
        assert_eq!(mem_to_u64("2m"), Some(2_000_000));
        assert_eq!(mem_to_u64("2Mb"), Some(2 * 1024 * 1024));
        assert_eq!(mem_to_u64("1g"), Some(1_000_000_000));
        assert_eq!(mem_to_u64("1gb"), Some(1 << 30));
        assert_eq!(mem_to_u64("5B"), Some(5));
        assert_eq!(mem_to_u64("05"), Some(5));
        // Taken from redis-server 7.0.15: "" and "kb" read as 0, a huge number saturates.
        assert_eq!(mem_to_u64(""), Some(0));
        assert_eq!(mem_to_u64("kb"), Some(0));
        assert_eq!(mem_to_u64("99999999999999999999999"), Some(u64::MAX));
        assert_eq!(mem_to_u64("-1"), None);
        assert_eq!(mem_to_u64("1xb"), None);
        assert_eq!(mem_to_u64(" 5"), None);
        assert_eq!(mem_to_u64("5 "), None);
        assert_eq!(mem_to_u64("1.5mb"), None);
        assert_eq!(mem_to_u64("99999999999gb"), None);
    }

    #[test]
    fn integers() {
        assert_eq!(parse_i64("0"), Some(0));
        assert_eq!(parse_i64("-2"), Some(-2));
        assert_eq!(parse_i64("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64("-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "007",
            "+7",
            "-0",
            " 1",
            "1 ",
            "9223372036854775808",
            "1e3",
            "-",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad}");
        }
        assert_eq!(c_strtoll("+3", 10), Some(3));
        assert_eq!(c_strtoll(" 3", 10), Some(3));
        assert_eq!(c_strtoll("", 10), Some(0));
        assert_eq!(c_strtoll("3 ", 10), None);
        assert_eq!(c_strtoll("+", 10), None);
        assert_eq!(c_strtoll("777", 8), Some(511));
        assert_eq!(c_strtoll("999", 8), None);
    }

    #[test]
    fn floats_like_strtod() {
        assert_eq!(parse_f64("99.9"), Some(99.9));
        assert_eq!(parse_f64("1e2"), Some(100.0));
        assert_eq!(parse_f64("0x10"), Some(16.0));
        assert_eq!(parse_f64("0x1.8p1"), Some(3.0));
        assert_eq!(parse_f64("-inf"), Some(f64::NEG_INFINITY));
        for bad in [
            "", " 1", "1 ", "nan", "abc", "1e999", "1e-999", "0x", "--1", "10%",
        ] {
            assert_eq!(parse_f64(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_percentile(99.9), "99.9");
        assert_eq!(fmt_percentile(50.0), "50");
        assert_eq!(fmt_memory(64 * 1024 * 1024), "64mb");
        assert_eq!(fmt_memory(1 << 30), "1gb");
        assert_eq!(fmt_memory(2048), "2kb");
        assert_eq!(fmt_memory(1000), "1000");
        assert_eq!(fmt_memory(0), "0");
    }
}
