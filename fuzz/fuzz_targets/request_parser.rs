//! The request parser on arbitrary bytes: never panics, never returns an empty command, and
//! gives the same commands and error whatever the read boundaries are (the whole input at
//! once versus the chunk sizes chosen by the first input bytes).
#![no_main]

use bytes::{Bytes, BytesMut};
use ferrymq::protocol::request::{Limits, RequestParser};
use libfuzzer_sys::fuzz_target;

type Parsed = (Vec<Vec<Bytes>>, Option<String>);

fn parse_in_chunks(input: &[u8], chunks: &[usize], limits: Limits) -> Parsed {
    let mut p = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let (mut pos, mut i) = (0, 0);
    loop {
        loop {
            match p.parse(&mut buf, limits) {
                Ok(Some(cmd)) => {
                    assert!(!cmd.is_empty(), "empty command returned");
                    out.push(cmd);
                }
                Ok(None) => break,
                Err(e) => return (out, Some(e.message())),
            }
        }
        if pos >= input.len() {
            return (out, None);
        }
        let n = chunks[i % chunks.len()].max(1).min(input.len() - pos);
        i += 1;
        buf.extend_from_slice(&input[pos..pos + n]);
        pos += n;
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (head, input) = data.split_at(4);
    let limits = Limits {
        max_bulk_len: if head[0] & 1 == 0 {
            512 * 1024 * 1024
        } else {
            (head[0] >> 1) as i64
        },
        authenticated: head[1] & 1 == 0,
    };
    let chunks = [
        1 + (head[2] & 15) as usize,
        1 + (head[3] & 15) as usize,
        1 + (head[2] >> 4) as usize,
    ];
    let whole = parse_in_chunks(input, &[input.len().max(1)], limits);
    let pieces = parse_in_chunks(input, &chunks, limits);
    assert_eq!(whole, pieces);
    let total: usize = whole.0.iter().flatten().map(|a| a.len()).sum();
    assert!(total <= input.len());
});
