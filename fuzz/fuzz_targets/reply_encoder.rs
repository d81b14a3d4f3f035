//! The reply encoder: any reply tree a handler can build encodes, in RESP2 and RESP3, to
//! exactly one complete, well-formed frame (checked by a strict walker).
#![no_main]

use ferrymq::protocol::{Reply, encode};
use libfuzzer_sys::fuzz_target;

/// Build a reply tree from the input bytes (depth and width bounded).
fn build(data: &mut &[u8], depth: usize) -> Reply {
    let Some((&tag, rest)) = data.split_first() else {
        return Reply::Null;
    };
    *data = rest;
    let mut take = |n: usize| -> Vec<u8> {
        let n = n.min(data.len());
        let (a, b) = data.split_at(n);
        *data = b;
        a.to_vec()
    };
    let kind = if depth >= 6 { tag % 10 } else { tag % 13 };
    let small = (tag >> 4) as usize;
    match kind {
        0 => Reply::Ok,
        1 => Reply::Status(line(take(small)).into()),
        2 => Reply::Error(format!("ERR {}", line(take(small))).into()),
        3 => Reply::Int(i64::from_le_bytes(pad8(take(8)))),
        4 => Reply::Bulk(take(small * 3).into()),
        5 => Reply::Null,
        6 => Reply::NullArray,
        7 => Reply::Double(f64::from_le_bytes(pad8(take(8)))),
        8 => Reply::Bool(tag & 16 != 0),
        9 => Reply::Verbatim(take(small).into()),
        10 => Reply::Array((0..small).map(|_| build(data, depth + 1)).collect()),
        11 => Reply::Set((0..small).map(|_| build(data, depth + 1)).collect()),
        _ => Reply::Map(
            (0..small / 2)
                .map(|_| (build(data, depth + 1), build(data, depth + 1)))
                .collect(),
        ),
    }
}

/// Status and error texts are single lines (handlers never put CR/LF in them).
fn line(b: Vec<u8>) -> String {
    b.into_iter()
        .map(|c| if c.is_ascii_graphic() { c as char } else { ' ' })
        .collect()
}

fn pad8(mut v: Vec<u8>) -> [u8; 8] {
    v.resize(8, 0);
    v.try_into().unwrap()
}

fn frame_len(b: &[u8]) -> Option<usize> {
    fn line(b: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let rest = b.get(at..)?;
        let end = rest.iter().position(|&c| c == b'\r' || c == b'\n')?;
        if rest.get(end..end + 2)? != b"\r\n" {
            return None;
        }
        Some((&rest[..end], at + end + 2))
    }
    fn num(s: &[u8]) -> Option<i64> {
        std::str::from_utf8(s).ok()?.parse().ok()
    }
    fn frame(b: &[u8], at: usize) -> Option<usize> {
        let kind = *b.get(at)?;
        let (text, next) = line(b, at + 1)?;
        match kind {
            b'+' | b'-' => Some(next),
            b':' => num(text).map(|_| next),
            b'_' => text.is_empty().then_some(next),
            b'#' => (text == b"t" || text == b"f").then_some(next),
            b',' => {
                let t = std::str::from_utf8(text).ok()?;
                (t.parse::<f64>().is_ok() || t == "inf" || t == "-inf" || t == "nan")
                    .then_some(next)
            }
            b'$' | b'=' | b'!' => {
                let n = num(text)?;
                if n == -1 && kind == b'$' {
                    return Some(next);
                }
                let n = usize::try_from(n).ok()?;
                let data = b.get(next..next + n)?;
                if kind == b'=' && (n < 4 || data[3] != b':') {
                    return None;
                }
                (b.get(next + n..next + n + 2)? == b"\r\n").then_some(next + n + 2)
            }
            b'*' | b'~' | b'>' | b'%' => {
                let n = num(text)?;
                if n == -1 && kind == b'*' {
                    return Some(next);
                }
                let items = usize::try_from(n).ok()? * if kind == b'%' { 2 } else { 1 };
                let mut pos = next;
                for _ in 0..items {
                    pos = frame(b, pos)?;
                }
                Some(pos)
            }
            _ => None,
        }
    }
    frame(b, 0)
}

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    let reply = build(&mut input, 0);
    for resp in [2u8, 3] {
        let mut out = bytes::BytesMut::new();
        encode(&reply, resp, &mut out);
        assert_eq!(frame_len(&out), Some(out.len()), "RESP{resp} {reply:?}");
    }
});
