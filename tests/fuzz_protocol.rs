//! Bounded random-input tests (proptest), the stable-toolchain companions of the libFuzzer
//! targets in `fuzz/` (which run the same properties for as long as one likes):
//!
//! - the request parser never panics, and cutting the input into arbitrary reads gives exactly
//!   the commands (and the error) that one read of the whole input gives;
//! - the glob matcher never panics and stays fast on hostile patterns;
//! - every reply the encoder writes, in RESP2 and RESP3, is one complete, well-formed frame;
//! - random command streams give byte-identical replies from ferrymq and redis-server.
//!
//! Case counts are small so the file runs in seconds; raise them with `PROPTEST_CASES`.

mod common;

use bytes::{Bytes, BytesMut};
use ferrymq::protocol::Reply;
use ferrymq::protocol::request::{Limits, RequestParser};
use ferrymq::pubsub::glob::glob_match;
use proptest::prelude::*;
use std::time::{Duration, Instant};

type Parsed = (Vec<Vec<Bytes>>, Option<String>);

/// Feed `input` to a fresh parser in pieces of the given sizes (cycled); collect commands until
/// the input is exhausted or an error stops the connection.
fn parse_in_chunks(input: &[u8], chunks: &[usize], limits: Limits) -> Parsed {
    let mut p = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    loop {
        loop {
            match p.parse(&mut buf, limits) {
                Ok(Some(cmd)) => {
                    assert!(!cmd.is_empty(), "empty command returned");
                    out.push(cmd)
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

/// Inputs biased towards the protocol: fragments of valid frames, headers with odd numbers,
/// inline lines with quotes, and raw noise.
fn protocol_input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\x4".to_vec()),
        Just(b" ".to_vec()),
        Just(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n".to_vec()),
        Just(b"PING\r\n".to_vec()),
        (-3i64..20).prop_map(|n| n.to_string().into_bytes()),
        prop_oneof![
            Just(i64::MAX),
            Just(i64::MIN),
            Just(2147483648),
            Just(536870913)
        ]
        .prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn parser_is_independent_of_read_boundaries(
        input in protocol_input(),
        chunks in proptest::collection::vec(1usize..16, 1..8),
        authenticated in any::<bool>(),
        max_bulk in prop_oneof![Just(512 * 1024 * 1024i64), 0i64..8],
    ) {
        let limits = Limits { max_bulk_len: max_bulk, authenticated };
        let whole = parse_in_chunks(&input, &[input.len().max(1)], limits);
        let pieces = parse_in_chunks(&input, &chunks, limits);
        prop_assert_eq!(whole, pieces);
    }

    #[test]
    fn parser_survives_arbitrary_bytes(
        input in proptest::collection::vec(any::<u8>(), 0..2048),
        chunks in proptest::collection::vec(1usize..64, 1..4),
    ) {
        let (cmds, _) = parse_in_chunks(&input, &chunks, Limits::default());
        // Nothing is invented: every argument byte came from the input.
        let total: usize = cmds.iter().flatten().map(|a| a.len()).sum();
        prop_assert!(total <= input.len());
    }

    #[test]
    fn glob_never_panics_and_is_fast(
        pattern in proptest::collection::vec(
            prop_oneof![Just(b'*'), Just(b'?'), Just(b'['), Just(b']'), Just(b'^'),
                        Just(b'-'), Just(b'\\'), Just(b'a'), Just(b'b'), any::<u8>()],
            0..64),
        string in proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..128),
        nocase in any::<bool>(),
    ) {
        let t = Instant::now();
        let _ = glob_match(&pattern, &string, nocase);
        prop_assert!(t.elapsed() < Duration::from_millis(200), "slow pattern {:?}", pattern);
    }

    #[test]
    fn encoded_replies_are_single_complete_frames(reply in reply_strategy()) {
        for resp in [2u8, 3] {
            let mut out = BytesMut::new();
            ferrymq::protocol::encode(&reply, resp, &mut out);
            prop_assert_eq!(resp_frame_len(&out), Some(out.len()), "RESP{} {:?}", resp, reply);
        }
    }
}

/// Strict RESP2/RESP3 walker: the length of the one complete frame at the start of `b`, or
/// None when it is incomplete or malformed (lines with a stray CR/LF, bad numbers, a bulk
/// whose CRLF is missing).
fn resp_frame_len(b: &[u8]) -> Option<usize> {
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

/// Replies as handlers build them: statuses and errors are single lines.
fn reply_strategy() -> impl Strategy<Value = Reply> {
    let line = "[ -~]{0,20}";
    let leaf = prop_oneof![
        Just(Reply::Ok),
        line.prop_map(|s| Reply::Status(s.into())),
        line.prop_map(|s| Reply::Error(format!("ERR {s}").into())),
        any::<i64>().prop_map(Reply::Int),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Reply::Bulk(b.into())),
        Just(Reply::Null),
        Just(Reply::NullArray),
        any::<f64>().prop_map(Reply::Double),
        any::<bool>().prop_map(Reply::Bool),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Reply::Verbatim(b.into())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Reply::Array),
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Reply::Set),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Reply::Map),
        ]
    })
}

/// Commands over a handful of keys, with wrong types, wrong arities and odd numbers mixed in.
fn command_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let key = prop_oneof![Just("k1"), Just("k2"), Just("n"), Just("missing")]
        .prop_map(|k| k.as_bytes().to_vec());
    let val = prop_oneof![
        Just(b"1".to_vec()),
        Just(b"-5".to_vec()),
        Just(b"9223372036854775807".to_vec()),
        Just(b"abc".to_vec()),
        Just(b"".to_vec()),
        Just(b" 1".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    let c = |s: &str| s.as_bytes().to_vec();
    prop_oneof![
        (key.clone(), val.clone()).prop_map(move |(k, v)| vec![c("SET"), k, v]),
        key.clone().prop_map(move |k| vec![c("GET"), k]),
        key.clone().prop_map(move |k| vec![c("INCR"), k]),
        key.clone().prop_map(move |k| vec![c("DECR"), k]),
        (key.clone(), val.clone()).prop_map(move |(k, v)| vec![c("INCRBY"), k, v]),
        (key.clone(), val.clone()).prop_map(move |(k, v)| vec![c("APPEND"), k, v]),
        key.clone().prop_map(move |k| vec![c("STRLEN"), k]),
        key.clone().prop_map(move |k| vec![c("DEL"), k]),
        (key.clone(), key.clone()).prop_map(move |(a, b)| vec![c("EXISTS"), a, b]),
        key.clone().prop_map(move |k| vec![c("TYPE"), k]),
        (key.clone(), key.clone()).prop_map(move |(a, b)| vec![c("RENAME"), a, b]),
        (key.clone(), val).prop_map(move |(k, v)| vec![c("MSET"), k, v]),
        (key.clone(), key.clone()).prop_map(move |(a, b)| vec![c("MGET"), a, b]),
        Just(vec![c("GET")]),
        Just(vec![c("SET"), c("k1")]),
        // Error lines quote the arguments; they must stay one line (the harness's decoder
        // wants UTF-8 there, hence printable arguments, plus CR/LF to check the sanitising).
        (
            "[ -~]{0,6}",
            prop_oneof![
                Just("a\r\nb".to_string()),
                Just("x\ny".to_string()),
                "[ -~]{0,6}"
            ]
        )
            .prop_map(move |(a, b)| vec![c("nosuchcmd"), c(&a), c(&b)]),
        Just(vec![c("PING")]),
        Just(vec![c("DBSIZE")]),
    ]
}

/// Random command streams against ferrymq and redis-server: identical reply bytes.
#[test]
fn random_command_streams_match_redis() {
    let Some(d) = common::Diff::new() else {
        return;
    };
    let d = std::cell::RefCell::new(d);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 60,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &proptest::collection::vec(command_strategy(), 1..30),
            |cmds| {
                let mut d = d.borrow_mut();
                d.cmd(&["FLUSHALL"]);
                for cmd in &cmds {
                    d.cmd(cmd);
                }
                Ok(())
            },
        )
        .unwrap();
}
