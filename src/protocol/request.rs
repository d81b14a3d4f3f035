//! Request decoding, as Redis's `processMultibulkBuffer` / `processInlineBuffer` do it.
//!
//! Requests are not general RESP: a client sends either an array of bulk strings or an inline
//! line (`PING\r\n` typed into telnet). Redis answers malformed input with specific error texts
//! (`expected '$', got '+'`, `invalid bulk length`, ...) and applies limits before buffering, so
//! this small state machine is written here instead of decoding arbitrary RESP frames with a
//! general-purpose decoder and translating its errors afterwards.
//!
//! Arguments are zero-copy slices of the read buffer (`BytesMut::split_to().freeze()`); code that
//! keeps an argument beyond the command copies it first (see `store::own`).
//!
//! Nothing is allocated on the strength of a length prefix alone: the argument vector is capped
//! at 1024 slots up front and a bulk only occupies what has actually arrived.

use bytes::{Buf, Bytes, BytesMut};

/// Longest inline request or `*`/`$` header line Redis accepts before a CRLF (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Redis caps the multibulk count at INT_MAX.
const MULTIBULK_MAX: i64 = i32::MAX as i64;
/// Before authentication Redis accepts at most this many arguments / bytes per argument.
const UNAUTH_MULTIBULK_MAX: i64 = 10;
const UNAUTH_BULK_MAX: i64 = 16384;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub &'static str);

impl ParseError {
    /// The error line to send before closing: `ERR Protocol error: <what>`.
    pub fn message(&self) -> String {
        format!("ERR Protocol error: {}", self.0)
    }
}

/// Limits applied while decoding; `authenticated == false` applies Redis's tighter pre-auth caps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bulk_len: i64,
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            authenticated: true,
        }
    }
}

/// Incremental decoder; keeps the partially received command between reads.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Arguments still expected in the current multibulk (0 = at a command boundary).
    remaining: usize,
    /// Length of the bulk being received, once its `$` header was read.
    bulk_len: Option<usize>,
    args: Vec<Bytes>,
    /// Memory held by the arguments of the partially decoded command: their bytes (which pin
    /// read buffers) plus a per-argument overhead.
    partial: usize,
}

/// Memory charged per decoded argument besides its bytes: the `Bytes` handle and the growth
/// slack of the argument vector.
const ARG_OVERHEAD: usize = 64;

fn find_crlf(buf: &[u8]) -> Option<usize> {
    // Redis looks for '\r' and then requires the '\n' to have arrived.
    let r = memchr_cr(buf)?;
    if r + 1 < buf.len() { Some(r) } else { None }
}

fn memchr_cr(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\r')
}

/// Redis's `string2ll` (see [`crate::num`]).
pub use crate::num::string2ll as parse_i64;

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes held by the arguments of the command being decoded, for the query buffer limit:
    /// a client announcing `*2147483647` and then streaming tiny arguments never grows the
    /// read buffer itself, but holds all of that memory.
    /// DEVIATION(redis): Redis 7.0 counts only the read buffer, so such a client grows without
    /// bound there.
    pub fn partial_len(&self) -> usize {
        self.partial
    }

    /// True when no command is partially decoded.
    pub fn at_boundary(&self) -> bool {
        self.remaining == 0 && self.args.is_empty()
    }

    /// Decode the next command from `buf`, consuming what it used. `Ok(None)`: need more bytes.
    /// Empty requests (`*0`, `*-1`, blank inline lines) are consumed and skipped, as Redis does.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: Limits,
    ) -> Result<Option<Vec<Bytes>>, ParseError> {
        loop {
            if self.remaining == 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] != b'*' {
                    match self.parse_inline(buf)? {
                        Some(args) if args.is_empty() => continue,
                        other => return Ok(other),
                    }
                }
                let Some(nl) = find_crlf(buf) else {
                    if buf.len() > INLINE_MAX {
                        return Err(ParseError("too big mbulk count string"));
                    }
                    return Ok(None);
                };
                let n = match parse_i64(&buf[1..nl]) {
                    Some(n) if n <= MULTIBULK_MAX => n,
                    _ => return Err(ParseError("invalid multibulk length")),
                };
                if n > UNAUTH_MULTIBULK_MAX && !limits.authenticated {
                    return Err(ParseError("unauthenticated multibulk length"));
                }
                buf.advance(nl + 2);
                if n <= 0 {
                    continue;
                }
                self.remaining = n as usize;
                self.args = Vec::with_capacity(self.remaining.min(1024));
                self.partial = 0;
            }
            while self.remaining > 0 {
                let len = match self.bulk_len {
                    Some(l) => l,
                    None => {
                        let Some(nl) = find_crlf(buf) else {
                            if buf.len() > INLINE_MAX {
                                return Err(ParseError("too big bulk count string"));
                            }
                            return Ok(None);
                        };
                        if buf[0] != b'$' {
                            return Err(match buf[0] {
                                b'+' => ParseError("expected '$', got '+'"),
                                b'-' => ParseError("expected '$', got '-'"),
                                b':' => ParseError("expected '$', got ':'"),
                                b'*' => ParseError("expected '$', got '*'"),
                                c => expected_dollar(c),
                            });
                        }
                        let l = match parse_i64(&buf[1..nl]) {
                            Some(l) if l >= 0 && l <= limits.max_bulk_len => l,
                            _ => return Err(ParseError("invalid bulk length")),
                        };
                        if l > UNAUTH_BULK_MAX && !limits.authenticated {
                            return Err(ParseError("unauthenticated bulk length"));
                        }
                        buf.advance(nl + 2);
                        self.bulk_len = Some(l as usize);
                        l as usize
                    }
                };
                if buf.len() < len + 2 {
                    return Ok(None);
                }
                // Like Redis, the two bytes after the payload are skipped, not checked.
                let arg = buf.split_to(len).freeze();
                buf.advance(2);
                self.args.push(arg);
                self.partial += len + ARG_OVERHEAD;
                self.bulk_len = None;
                self.remaining -= 1;
            }
            self.partial = 0;
            return Ok(Some(std::mem::take(&mut self.args)));
        }
    }

    /// Bytes still needed to finish the bulk currently being received (a read-size hint).
    pub fn pending_bulk(&self, buffered: usize) -> usize {
        self.bulk_len
            .map(|l| (l + 2).saturating_sub(buffered))
            .unwrap_or(0)
    }

    fn parse_inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ParseError> {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > INLINE_MAX {
                return Err(ParseError("too big inline request"));
            }
            return Ok(None);
        };
        let line = buf.split_to(nl + 1);
        let mut end = nl;
        if end > 0 && line[end - 1] == b'\r' {
            end -= 1;
        }
        match split_args(&line[..end]) {
            Some(args) => Ok(Some(args)),
            None => Err(ParseError("unbalanced quotes in request")),
        }
    }
}

fn expected_dollar(c: u8) -> ParseError {
    // The message embeds the offending byte; keep a static table for printable ASCII and fall
    // back to a generic text for the rest (Redis prints the raw byte).
    static MSGS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let msgs = MSGS.get_or_init(|| {
        (0u8..=255)
            .map(|b| {
                let s = format!("expected '$', got '{}'", b as char);
                &*Box::leak(s.into_boxed_str())
            })
            .collect()
    });
    if c.is_ascii() {
        ParseError(msgs[c as usize])
    } else {
        ParseError("expected '$', got '?'")
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Redis's `sdssplitargs`: whitespace-separated words, "double quotes" with `\n \r \t \b \a \xHH`
/// escapes, 'single quotes' with `\'`; a closing quote must be followed by a space or the end.
/// `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut inq = false;
        let mut insq = false;
        loop {
            if inq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    cur.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        o => o,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    c if is_space(c) => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(Bytes::from(cur));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Vec<Vec<Bytes>>, Option<ParseError>) {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = vec![];
        loop {
            match p.parse(&mut buf, Limits::default()) {
                Ok(Some(c)) => out.push(c),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let (cmds, err) =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*0\r\n*-1\r\n\r\nECHO \"a b\"\r\n");
        assert!(err.is_none());
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(cmds[1], vec![Bytes::from("PING")]);
        assert_eq!(cmds[2], vec![Bytes::from("ECHO"), Bytes::from("a b")]);
    }

    #[test]
    fn byte_by_byte_feeding() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(c) = p.parse(&mut buf, Limits::default()).unwrap() {
                got = Some(c);
            }
        }
        assert_eq!(got.unwrap()[2], Bytes::from("hello"));
        assert!(p.at_boundary());
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_all(b"*1\r\n+PING\r\n").1.unwrap().0,
            "expected '$', got '+'"
        );
        assert_eq!(
            parse_all(b"*1\r\n$-3\r\n").1.unwrap().0,
            "invalid bulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n$999999999999\r\n").1.unwrap().0,
            "invalid bulk length"
        );
        assert_eq!(
            parse_all(b"*abc\r\n").1.unwrap().0,
            "invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"*99999999999\r\n").1.unwrap().0,
            "invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"ECHO \"abc\r\n").1.unwrap().0,
            "unbalanced quotes in request"
        );
        assert!(parse_all(b"*-5\r\n").1.is_none());
        let big = vec![b'a'; INLINE_MAX + 10];
        assert_eq!(parse_all(&big).1.unwrap().0, "too big inline request");
    }

    #[test]
    fn huge_count_does_not_allocate() {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2147483647\r\n"[..]);
        assert!(p.parse(&mut buf, Limits::default()).unwrap().is_none());
        assert!(p.args.capacity() <= 1024);
    }

    #[test]
    fn partial_command_memory_is_counted() {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2147483647\r\n"[..]);
        for _ in 0..1000 {
            buf.extend_from_slice(b"$0\r\n\r\n");
        }
        assert!(p.parse(&mut buf, Limits::default()).unwrap().is_none());
        assert!(buf.is_empty());
        assert_eq!(p.partial_len(), 1000 * ARG_OVERHEAD);
        let mut buf = BytesMut::from(&b"*1\r\n$3\r\nfoo\r\n"[..]);
        let mut p = RequestParser::new();
        assert!(p.parse(&mut buf, Limits::default()).unwrap().is_some());
        assert_eq!(p.partial_len(), 0);
    }

    #[test]
    fn split_args_quoting() {
        let a = split_args(br#"set "a\x41\n" 'it\'s' plain"#).unwrap();
        assert_eq!(
            a,
            vec![
                Bytes::from("set"),
                Bytes::from("aA\n"),
                Bytes::from("it's"),
                Bytes::from("plain")
            ]
        );
        assert!(split_args(br#""a"b"#).is_none());
        assert!(split_args(b"'abc").is_none());
        assert_eq!(split_args(b"   ").unwrap().len(), 0);
    }

    #[test]
    fn string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
    }
}
