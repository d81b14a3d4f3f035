//! Micro-benchmarks of the wire: request decoding (one small command, a pipelined batch of 16,
//! one large bulk argument) and reply encoding in RESP2 and RESP3.
//!
//! Run: `cargo bench --bench protocol`

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrymq::protocol::request::Limits;
use ferrymq::protocol::{Reply, RequestParser, encode};
use std::hint::black_box;

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Decode every command in `input`, as the connection does after one read.
fn decode_all(parser: &mut RequestParser, input: &[u8]) -> usize {
    let mut buf = BytesMut::from(input);
    let mut n = 0;
    while let Some(argv) = parser.parse(&mut buf, Limits::default()).expect("valid") {
        n += argv.len();
        black_box(argv);
    }
    n
}

fn decode(c: &mut Criterion) {
    let payload = [b'm'; 100];
    let ping = multibulk(&[b"PING"]);
    let lpush = multibulk(&[b"LPUSH", b"queue:jobs", &payload]);
    let pipelined: Vec<u8> = (0..16).flat_map(|_| lpush.iter().copied()).collect();
    let big = vec![b'b'; 1024 * 1024];
    let large = multibulk(&[b"SET", b"blob", &big]);
    let inline = b"PING\r\n".to_vec();

    let mut g = c.benchmark_group("decode");
    for (name, input, commands) in [
        ("PING", &ping, 1u64),
        ("inline PING", &inline, 1),
        ("LPUSH 100B", &lpush, 1),
        ("16 x LPUSH 100B pipelined", &pipelined, 16),
        ("SET 1MiB bulk", &large, 1),
    ] {
        g.throughput(Throughput::Elements(commands));
        g.bench_with_input(BenchmarkId::from_parameter(name), input, |b, input| {
            let mut parser = RequestParser::new();
            b.iter(|| decode_all(&mut parser, black_box(input)));
        });
    }
    g.finish();
}

fn encode_replies(c: &mut Criterion) {
    let payload = Bytes::from_static(&[b'm'; 100]);
    let id = Bytes::from_static(b"1700000000000-0");
    let entry = |i: usize| {
        Reply::Array(vec![
            Reply::Bulk(id.clone()),
            Reply::Array(vec![
                Reply::bulk(format!("f{i}")),
                Reply::Bulk(payload.clone()),
            ]),
        ])
    };
    let cases = [
        ("+PONG", Reply::status("PONG")),
        ("integer", Reply::Int(123_456)),
        ("bulk 100B", Reply::Bulk(payload.clone())),
        ("null", Reply::Null),
        (
            "BRPOP reply",
            Reply::Array(vec![
                Reply::Bulk(Bytes::from_static(b"queue:jobs")),
                Reply::Bulk(payload.clone()),
            ]),
        ),
        (
            "XREADGROUP 100 entries",
            Reply::Array(vec![Reply::Array(vec![
                Reply::Bulk(Bytes::from_static(b"s")),
                Reply::Array((0..100).map(entry).collect()),
            ])]),
        ),
        (
            "map of 16",
            Reply::Map(
                (0..16)
                    .map(|i| (Reply::bulk(format!("field{i}")), Reply::Int(i)))
                    .collect(),
            ),
        ),
        ("double", Reply::Double(3.25)),
    ];
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    for (name, reply) in &cases {
        for resp in [2u8, 3] {
            g.bench_with_input(
                BenchmarkId::new(format!("RESP{resp}"), name),
                reply,
                |b, reply| {
                    let mut out = BytesMut::with_capacity(64 * 1024);
                    b.iter(|| {
                        out.clear();
                        encode(black_box(reply), resp, &mut out);
                        black_box(out.len())
                    });
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, decode, encode_replies);
criterion_main!(benches);
