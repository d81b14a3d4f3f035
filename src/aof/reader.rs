//! Reading AOF files: one RESP command (`*<argc>` then `$<len>` bulk strings) at a time, with
//! Redis's annotation lines (`#...\n`) skipped. The reader tells a file that merely ends in the
//! middle of a command (a crash while writing: [`ReadError::Truncated`]) from one that contains
//! something that is not a command ([`ReadError::Corrupt`]), and reports the offset of the
//! command where either happened. Used by the loader and by `ferrymq check-aof`.

use bytes::{Bytes, BytesMut};
use std::io::{self, Read};

/// Longest `*<n>` / `$<n>` line accepted (digits, sign, CRLF).
const MAX_NUMBER_LINE: usize = 24;
/// Redis's default `proto-max-bulk-len`: a longer bulk in a file is corruption, and we never
/// buffer towards a length a damaged file claims beyond this.
const MAX_BULK: i64 = 512 * 1024 * 1024;
const MAX_ARGC: i64 = 1024 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

#[derive(Debug)]
pub enum ReadError {
    /// The file ends inside the command starting at this offset.
    Truncated {
        offset: u64,
    },
    /// Not a command at this offset (the command that starts there).
    Corrupt {
        offset: u64,
        reason: String,
    },
    Io(io::Error),
}

enum Parse {
    Command(Vec<std::ops::Range<usize>>, usize),
    Annotation(usize),
    Incomplete,
    Invalid(String),
}

/// `<digits>\r\n` starting at `pos`: (value, position after CRLF).
fn number_line(b: &[u8], pos: usize) -> Result<Option<(i64, usize)>, String> {
    let mut i = pos;
    let mut v: i64 = 0;
    let mut neg = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\r' => {
                if i + 1 >= b.len() {
                    return Ok(None);
                }
                if b[i + 1] != b'\n' || i == pos || (neg && i == pos + 1) {
                    return Err("invalid number line".into());
                }
                return Ok(Some((if neg { -v } else { v }, i + 2)));
            }
            b'-' if i == pos => neg = true,
            b'0'..=b'9' => {
                v = v
                    .checked_mul(10)
                    .and_then(|v| v.checked_add((c - b'0') as i64))
                    .ok_or("number out of range")?;
            }
            _ => return Err(format!("unexpected byte 0x{c:02x} in a number")),
        }
        i += 1;
        if i - pos > MAX_NUMBER_LINE {
            return Err("number line too long".into());
        }
    }
    Ok(None)
}

fn parse(b: &[u8]) -> Parse {
    if b.is_empty() {
        return Parse::Incomplete;
    }
    if b[0] == b'#' {
        return match b.iter().position(|&c| c == b'\n') {
            Some(i) => Parse::Annotation(i + 1),
            None => Parse::Incomplete,
        };
    }
    if b[0] != b'*' {
        return Parse::Invalid(format!("expected '*', got 0x{:02x}", b[0]));
    }
    let (argc, mut pos) = match number_line(b, 1) {
        Ok(Some(x)) => x,
        Ok(None) => return Parse::Incomplete,
        Err(e) => return Parse::Invalid(e),
    };
    if !(1..=MAX_ARGC).contains(&argc) {
        return Parse::Invalid(format!("invalid argument count {argc}"));
    }
    let mut ranges = Vec::with_capacity((argc as usize).min(1024));
    for _ in 0..argc {
        if pos >= b.len() {
            return Parse::Incomplete;
        }
        if b[pos] != b'$' {
            return Parse::Invalid(format!("expected '$', got 0x{:02x}", b[pos]));
        }
        let (len, p) = match number_line(b, pos + 1) {
            Ok(Some(x)) => x,
            Ok(None) => return Parse::Incomplete,
            Err(e) => return Parse::Invalid(e),
        };
        if !(0..=MAX_BULK).contains(&len) {
            return Parse::Invalid(format!("invalid bulk length {len}"));
        }
        let end = p + len as usize;
        if end + 2 > b.len() {
            // A CR/LF already present where the bulk must end is checked below once complete;
            // a shorter buffer is simply not complete yet.
            if end < b.len() && b[end] != b'\r' {
                return Parse::Invalid("bulk not followed by CRLF".into());
            }
            return Parse::Incomplete;
        }
        if &b[end..end + 2] != b"\r\n" {
            return Parse::Invalid("bulk not followed by CRLF".into());
        }
        ranges.push(p..end);
        pos = end + 2;
    }
    Parse::Command(ranges, pos)
}

/// The arguments of one complete RESP command at the start of `b` (an effect this process
/// encoded), or None when `b` does not start with one.
pub fn decode_one(b: &[u8]) -> Option<Vec<Bytes>> {
    match parse(b) {
        Parse::Command(ranges, _) => Some(
            ranges
                .into_iter()
                .map(|r| Bytes::copy_from_slice(&b[r]))
                .collect(),
        ),
        _ => None,
    }
}

/// Commands of one file, in order.
pub struct CommandReader<R> {
    src: R,
    buf: BytesMut,
    /// File offset of `buf[0]`.
    offset: u64,
    eof: bool,
}

impl<R: Read> CommandReader<R> {
    pub fn new(src: R) -> Self {
        CommandReader {
            src,
            buf: BytesMut::with_capacity(CHUNK),
            offset: 0,
            eof: false,
        }
    }

    /// Offset just after the last command returned (the valid length so far).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.buf.capacity() - self.buf.len() < CHUNK / 2 {
            self.buf.reserve(CHUNK.max(self.buf.len()));
        }
        let start = self.buf.len();
        let cap = self.buf.capacity();
        self.buf.resize(cap, 0);
        let n = loop {
            match self.src.read(&mut self.buf[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(start);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(start + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// The next command with its starting offset; None at a clean end of file.
    pub fn next_command(&mut self) -> Result<Option<(u64, Vec<Bytes>)>, ReadError> {
        loop {
            match parse(&self.buf) {
                Parse::Command(ranges, used) => {
                    let start = self.offset;
                    let frame = self.buf.split_to(used).freeze();
                    self.offset += used as u64;
                    let argv = ranges.into_iter().map(|r| frame.slice(r)).collect();
                    return Ok(Some((start, argv)));
                }
                Parse::Annotation(used) => {
                    let _ = self.buf.split_to(used);
                    self.offset += used as u64;
                }
                Parse::Invalid(reason) => {
                    return Err(ReadError::Corrupt {
                        offset: self.offset,
                        reason,
                    });
                }
                Parse::Incomplete => {
                    if self.eof {
                        if self.buf.is_empty() {
                            return Ok(None);
                        }
                        return Err(ReadError::Truncated {
                            offset: self.offset,
                        });
                    }
                    self.fill().map_err(ReadError::Io)?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(data: &[u8]) -> Result<Vec<Vec<Bytes>>, ReadError> {
        let mut r = CommandReader::new(data);
        let mut out = Vec::new();
        while let Some((_, argv)) = r.next_command()? {
            out.push(argv);
        }
        Ok(out)
    }

    #[test]
    fn reads_commands_and_skips_annotations() {
        let data = b"#TS:1234\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$0\r\n\r\n";
        let c = cmds(data).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1][2], Bytes::new());
    }

    #[test]
    fn every_prefix_of_a_command_is_truncation_not_corruption() {
        let data = b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$10\r\n0123456789\r\n";
        for cut in 1..data.len() {
            match cmds(&data[..cut]) {
                Err(ReadError::Truncated { offset: 0 }) => {}
                other => panic!("cut {cut}: {:?}", other.map(|c| c.len())),
            }
        }
        assert_eq!(cmds(data).unwrap().len(), 1);
    }

    #[test]
    fn garbage_is_corruption_with_offset() {
        let ok = b"*1\r\n$4\r\nPING\r\n";
        let mut data = ok.to_vec();
        data.extend_from_slice(b"xx*1\r\n");
        match cmds(&data) {
            Err(ReadError::Corrupt { offset, .. }) => assert_eq!(offset, ok.len() as u64),
            other => panic!("{:?}", other.map(|c| c.len())),
        }
        assert!(matches!(
            cmds(b"*1\r\n$4\r\nPINGxx\r\n"),
            Err(ReadError::Corrupt { .. })
        ));
        assert!(matches!(
            cmds(b"*1\r\n$a\r\n"),
            Err(ReadError::Corrupt { .. })
        ));
        assert!(matches!(cmds(b"*0\r\n"), Err(ReadError::Corrupt { .. })));
    }
}
