//! Protocol-agnostic replies and their encoding.
//!
//! Handlers return a [`Reply`]; [`encode`] writes it in the connection's protocol version:
//! maps become flat arrays in RESP2, sets become arrays, doubles become bulk strings, booleans
//! integers, push frames arrays, and the two RESP2 nulls (`$-1`, `*-1`) both become `_` in RESP3.

use bytes::{BufMut, Bytes, BytesMut};
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// `+<text>`
    Status(Cow<'static, str>),
    /// `-<text>`; the text starts with the error code (`ERR`, `WRONGTYPE`, ...).
    Error(Cow<'static, str>),
    Int(i64),
    Bulk(Bytes),
    /// RESP2 `$-1`, RESP3 `_`.
    Null,
    /// RESP2 `*-1`, RESP3 `_`.
    NullArray,
    Array(Vec<Reply>),
    /// RESP3 `%`; RESP2 flat array of key, value, key, value...
    Map(Vec<(Reply, Reply)>),
    /// RESP3 `~`; RESP2 array.
    Set(Vec<Reply>),
    /// RESP3 `,`; RESP2 bulk string formatted as Redis 7.0 does (`%.17g`, `inf`, `-inf`).
    Double(f64),
    /// RESP3 `#t`/`#f`; RESP2 `:1`/`:0`.
    Bool(bool),
    /// RESP3 `=txt:...`; RESP2 bulk string.
    Verbatim(Bytes),
    /// RESP3 `>` push frame; RESP2 array.
    Push(Vec<Reply>),
    /// Already encoded bytes, written as they are (used for frames encoded once and shared).
    Raw(Bytes),
    /// Marker: the command blocked; the reply comes later (or never, if the client goes away).
    Blocked,
    /// Marker: nothing to send.
    NoReply,
}

impl Reply {
    pub fn error(s: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(s.into())
    }
    pub fn status(s: &'static str) -> Reply {
        Reply::Status(Cow::Borrowed(s))
    }
    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }
    pub fn bulk_str(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
    /// An array of bulk strings.
    pub fn bulks<I: IntoIterator<Item = Bytes>>(items: I) -> Reply {
        Reply::Array(items.into_iter().map(Reply::Bulk).collect())
    }
}

impl From<i64> for Reply {
    fn from(v: i64) -> Self {
        Reply::Int(v)
    }
}

fn put_len(out: &mut BytesMut, prefix: u8, n: usize) {
    let mut b = itoa::Buffer::new();
    out.put_u8(prefix);
    out.extend_from_slice(b.format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A simple string or error line. Redis never sends CR or LF inside one (a client reading lines
/// would lose its place in the stream): text that came from a script, a config value or any
/// other user input has them replaced by spaces, as Redis does.
fn put_line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.put_u8(prefix);
    let start = out.len();
    out.extend_from_slice(text);
    if text.iter().any(|&c| c == b'\r' || c == b'\n') {
        for c in &mut out[start..] {
            if *c == b'\r' || *c == b'\n' {
                *c = b' ';
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    put_len(out, b'$', data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Append `reply` to `out`, encoded for protocol version `resp` (2 or 3).
pub fn encode(reply: &Reply, resp: u8, out: &mut BytesMut) {
    let r3 = resp >= 3;
    match reply {
        Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
        Reply::Status(s) => put_line(out, b'+', s.as_bytes()),
        Reply::Error(s) => put_line(out, b'-', s.as_bytes()),
        Reply::Int(i) => {
            let mut b = itoa::Buffer::new();
            out.put_u8(b':');
            out.extend_from_slice(b.format(*i).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Reply::Bulk(b) => put_bulk(out, b),
        Reply::Null => out.extend_from_slice(if r3 { b"_\r\n" } else { b"$-1\r\n" }),
        Reply::NullArray => out.extend_from_slice(if r3 { b"_\r\n" } else { b"*-1\r\n" }),
        Reply::Array(items) => {
            put_len(out, b'*', items.len());
            for i in items {
                encode(i, resp, out);
            }
        }
        Reply::Map(pairs) => {
            if r3 {
                put_len(out, b'%', pairs.len());
            } else {
                put_len(out, b'*', pairs.len() * 2);
            }
            for (k, v) in pairs {
                encode(k, resp, out);
                encode(v, resp, out);
            }
        }
        Reply::Set(items) => {
            put_len(out, if r3 { b'~' } else { b'*' }, items.len());
            for i in items {
                encode(i, resp, out);
            }
        }
        Reply::Push(items) => {
            put_len(out, if r3 { b'>' } else { b'*' }, items.len());
            for i in items {
                encode(i, resp, out);
            }
        }
        Reply::Double(d) => {
            let s = format_double(*d);
            if r3 {
                out.put_u8(b',');
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(b"\r\n");
            } else {
                put_bulk(out, s.as_bytes());
            }
        }
        Reply::Bool(b) => {
            if r3 {
                out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
            } else {
                out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" });
            }
        }
        Reply::Verbatim(b) => {
            if r3 {
                put_len(out, b'=', b.len() + 4);
                out.extend_from_slice(b"txt:");
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            } else {
                put_bulk(out, b);
            }
        }
        Reply::Raw(b) => out.extend_from_slice(b),
        Reply::Blocked | Reply::NoReply => {}
    }
}

/// A double as Redis 7.0's `addReplyDouble` prints it: `inf`/`-inf`/`nan`, otherwise C's `%.17g`.
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    format_g(d, 17)
}

/// C's `%.<prec>g`: `prec` significant digits, scientific notation when the exponent is below -4
/// or at least `prec`, trailing zeros (and a trailing dot) removed.
pub fn format_g(d: f64, prec: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:.*e}", prec - 1, d);
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if exp < -4 || exp >= prec as i32 {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Append an aggregate of bulk strings: `kind` is `*` (array) or `>` (RESP3 push). The one
/// writer of such frames: commands for the AOF and the effects log, pub/sub messages,
/// pre-encoded list replies.
#[inline]
pub fn put_bulk_aggregate<'a, B: BufMut>(
    out: &mut B,
    kind: u8,
    items: impl ExactSizeIterator<Item = &'a [u8]>,
) {
    let mut n = itoa::Buffer::new();
    out.put_u8(kind);
    out.put_slice(n.format(items.len()).as_bytes());
    out.put_slice(b"\r\n");
    for a in items {
        out.put_u8(b'$');
        out.put_slice(n.format(a.len()).as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
}

/// Decode one reply of `buf` (as [`encode`] writes it) back into a [`Reply`]: what a script
/// sees of a command whose reply was pre-encoded ([`Reply::Raw`]). Returns the reply and the
/// bytes it took, or None when `buf` does not start with a whole, well-formed reply.
pub fn decode(buf: &Bytes) -> Option<(Reply, usize)> {
    fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        Some((&buf[at..end], end + 2))
    }
    fn num(s: &[u8]) -> Option<i64> {
        std::str::from_utf8(s).ok()?.parse().ok()
    }
    fn one(buf: &Bytes, at: usize, depth: usize) -> Option<(Reply, usize)> {
        if depth > 1000 {
            return None;
        }
        let kind = *buf.get(at)?;
        let (text, next) = line(buf, at + 1)?;
        let items = |n: i64, next: usize| -> Option<(Vec<Reply>, usize)> {
            let mut v = Vec::with_capacity(n.clamp(0, 1024) as usize);
            let mut at = next;
            for _ in 0..n {
                let (r, end) = one(buf, at, depth + 1)?;
                v.push(r);
                at = end;
            }
            Some((v, at))
        };
        Some(match kind {
            b'+' => (
                Reply::Status(String::from_utf8_lossy(text).into_owned().into()),
                next,
            ),
            b'-' => (
                Reply::Error(String::from_utf8_lossy(text).into_owned().into()),
                next,
            ),
            b':' => (Reply::Int(num(text)?), next),
            b'_' => (Reply::Null, next),
            b'#' => (Reply::Bool(text == b"t"), next),
            b',' => (
                Reply::Double(std::str::from_utf8(text).ok()?.parse().ok()?),
                next,
            ),
            b'$' | b'=' => {
                let n = num(text)?;
                if n < 0 {
                    return Some((Reply::Null, next));
                }
                let end = next.checked_add(n as usize)?;
                if buf.get(end..end + 2)? != b"\r\n" {
                    return None;
                }
                let data = buf.slice(next..end);
                if kind == b'=' {
                    // `=len\r\ntxt:...`: the payload after the 4-byte format.
                    (Reply::Verbatim(data.slice(4.min(data.len())..)), end + 2)
                } else {
                    (Reply::Bulk(data), end + 2)
                }
            }
            b'*' | b'>' | b'~' => {
                let n = num(text)?;
                if n < 0 {
                    return Some((Reply::NullArray, next));
                }
                let (v, end) = items(n, next)?;
                let r = match kind {
                    b'*' => Reply::Array(v),
                    b'>' => Reply::Push(v),
                    _ => Reply::Set(v),
                };
                (r, end)
            }
            b'%' => {
                let n = num(text)?;
                let (mut v, end) = items(n.checked_mul(2)?, next)?;
                let mut pairs = Vec::with_capacity(v.len() / 2);
                while v.len() >= 2 {
                    let val = v.pop()?;
                    let key = v.pop()?;
                    pairs.push((key, val));
                }
                pairs.reverse();
                (Reply::Map(pairs), end)
            }
            _ => return None,
        })
    }
    one(buf, 0, 0)
}

/// Encode `argv` as a RESP array of bulk strings.
#[inline]
pub fn encode_command(argv: &[Bytes], out: &mut Vec<u8>) {
    put_bulk_aggregate(out, b'*', argv.iter().map(|a| &a[..]));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, resp: u8) -> String {
        let mut b = BytesMut::new();
        encode(r, resp, &mut b);
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn decode_reads_back_what_encode_writes() {
        let r = Reply::Array(vec![
            Reply::bulk_str("a"),
            Reply::Null,
            Reply::Array(vec![Reply::Int(-3), Reply::NullArray, Reply::bulk_str("")]),
            Reply::Status("OK".into()),
            Reply::error("ERR x"),
        ]);
        for resp in [2, 3] {
            let mut b = BytesMut::new();
            encode(&r, resp, &mut b);
            let b = b.freeze();
            let (back, used) = decode(&b).unwrap();
            assert_eq!(used, b.len());
            let mut again = BytesMut::new();
            encode(&back, resp, &mut again);
            assert_eq!(again.freeze(), b);
        }
        let mut b = BytesMut::new();
        put_bulk_aggregate(&mut b, b'*', [&b"x"[..], b"yz"].into_iter());
        let (back, _) = decode(&b.freeze()).unwrap();
        assert!(matches!(&back, Reply::Array(v) if v.len() == 2));
        assert!(decode(&Bytes::from_static(b"*2\r\n$1\r\na\r\n")).is_none());
        assert!(decode(&Bytes::from_static(b"$3\r\nab\r\n")).is_none());
    }

    #[test]
    fn resp2_and_resp3_shapes() {
        let m = Reply::Map(vec![(Reply::bulk_str("a"), Reply::Int(1))]);
        assert_eq!(enc(&m, 2), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, 3), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Null, 2), "$-1\r\n");
        assert_eq!(enc(&Reply::NullArray, 2), "*-1\r\n");
        assert_eq!(enc(&Reply::NullArray, 3), "_\r\n");
        assert_eq!(enc(&Reply::Bool(true), 2), ":1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), 3), ",1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), 2), "$3\r\n1.5\r\n");
    }

    #[test]
    fn g17_matches_c() {
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(0.5), "0.5");
        assert_eq!(format_double(100.0), "100");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_double(-3.0), "-3");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(
            format_double(123456789012345678.0),
            "1.2345678901234568e+17"
        );
    }
}
