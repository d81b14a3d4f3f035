//! Stream structure hot paths: XADD, a `>` group read of the new entries,
//! and XACK — the producer/consumer-group cycle of a stream queue.
//!
//! Run: `cargo bench --bench stream`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ferrymq::store::stream::{
    INVALID_ENTRIES_READ, IdSpec, NodeLimits, Stream, StreamId, Trim, TrimKind,
};

const BATCH: u64 = 1000;

fn value() -> Vec<u8> {
    vec![b'x'; 100]
}

fn xadd(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Elements(BATCH));
    let v = value();
    g.bench_function("xadd_1000", |b| {
        b.iter_batched(
            Stream::new,
            |mut s| {
                for i in 0..BATCH {
                    s.append(
                        IdSpec::Auto,
                        &[(&b"f"[..], &v[..])],
                        i / 4,
                        NodeLimits::default(),
                    )
                    .unwrap();
                }
                s
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("xadd_maxlen_approx_1000", |b| {
        let mut s = Stream::new();
        let mut now = 0;
        let trim = Trim {
            kind: TrimKind::MaxLen(10_000),
            approx: true,
            limit: 10_000,
        };
        b.iter(|| {
            for _ in 0..BATCH {
                now += 1;
                s.append(
                    IdSpec::Auto,
                    &[(&b"f"[..], &v[..])],
                    now,
                    NodeLimits::default(),
                )
                .unwrap();
                black_box(s.trim(trim));
            }
        })
    });
    g.bench_function("xadd_xreadgroup_xack_1000", |b| {
        let mut s = Stream::new();
        s.create_group(b"g", StreamId::MIN, INVALID_ENTRIES_READ);
        let mut now = 0;
        let mut ids = Vec::with_capacity(10);
        let mut reply = Vec::with_capacity(4096);
        b.iter(|| {
            for _ in 0..BATCH / 10 {
                for _ in 0..10 {
                    now += 1;
                    s.append(
                        IdSpec::Auto,
                        &[(&b"f"[..], &v[..])],
                        now,
                        NodeLimits::default(),
                    )
                    .unwrap();
                }
                // XREADGROUP COUNT 10 >: scan past the group's last ID, copy
                // the entries out as a reply would, record the delivery.
                let from = s.group(b"g").unwrap().last_id.incr().unwrap();
                ids.clear();
                reply.clear();
                for e in s.range(from, StreamId::MAX).take(10) {
                    ids.push(e.id);
                    for (f, val) in e.fields() {
                        reply.extend_from_slice(f);
                        reply.extend_from_slice(val);
                    }
                }
                s.deliver_new(b"g", b"consumer-1", &ids, now, false);
                let g = s.group_mut(b"g").unwrap();
                for id in &ids {
                    assert!(g.ack(*id));
                }
                black_box(&reply);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, xadd);
criterion_main!(benches);
