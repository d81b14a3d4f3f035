//! Micro-benchmarks of the packed list behind list values: the LPUSH -> BRPOP hand-off of a queue
//! at several depths, with `VecDeque<Bytes>` (one allocation per element) as the baseline.
//!
//! Run: `cargo bench --bench list`

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrymq::store::list::List;
use std::collections::VecDeque;
use std::hint::black_box;

const MSG: [u8; 100] = [b'm'; 100];

/// One LPUSH + one RPOP on a queue that holds `depth` messages.
fn handoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("handoff_100B");
    g.throughput(Throughput::Elements(1));
    for depth in [0usize, 100, 100_000] {
        g.bench_with_input(BenchmarkId::new("List", depth), &depth, |b, &depth| {
            let mut l = List::new();
            for _ in 0..depth {
                l.push_front(&MSG);
            }
            b.iter(|| {
                l.push_front(black_box(&MSG));
                black_box(l.pop_back())
            });
        });
        g.bench_with_input(
            BenchmarkId::new("VecDeque<Bytes>", depth),
            &depth,
            |b, &depth| {
                let mut l: VecDeque<Bytes> = VecDeque::new();
                for _ in 0..depth {
                    l.push_front(Bytes::copy_from_slice(&MSG));
                }
                b.iter(|| {
                    l.push_front(Bytes::copy_from_slice(black_box(&MSG)));
                    black_box(l.pop_back())
                });
            },
        );
    }
    g.finish();
}

/// Fill a queue with 10k messages, then drain it (a burst absorbed by a slow consumer).
fn burst(c: &mut Criterion) {
    let mut g = c.benchmark_group("burst_10k_100B");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("List", |b| {
        b.iter(|| {
            let mut l = List::new();
            for _ in 0..10_000 {
                l.push_back(black_box(&MSG));
            }
            while let Some(v) = l.pop_front() {
                black_box(v);
            }
        });
    });
    g.bench_function("VecDeque<Bytes>", |b| {
        b.iter(|| {
            let mut l: VecDeque<Bytes> = VecDeque::new();
            for _ in 0..10_000 {
                l.push_back(Bytes::copy_from_slice(black_box(&MSG)));
            }
            while let Some(v) = l.pop_front() {
                black_box(v);
            }
        });
    });
    g.finish();
}

/// LINDEX in the middle and LRANGE 0 99 of a 100k-element list.
fn index_and_range(c: &mut Criterion) {
    let mut l = List::new();
    for i in 0..100_000u32 {
        l.push_back(&i.to_le_bytes().repeat(25));
    }
    c.bench_function("get_middle_100k", |b| {
        b.iter(|| black_box(l.get_ref(black_box(50_000))))
    });
    c.bench_function("range_first_100_of_100k", |b| {
        b.iter(|| l.range(0, 100).map(<[u8]>::len).sum::<usize>())
    });
}

criterion_group!(benches, handoff, burst, index_and_range);
criterion_main!(benches);
