//! Micro-benchmarks of the pub/sub fan-out: one PUBLISH delivered into the outboxes of 1, 100
//! and 1000 in-process subscribers (the frame is encoded once per protocol version and copied
//! into each outbox), and the cost of matching a channel against many patterns.
//!
//! Outboxes are drained (as the writer tasks would) every 64 publishes, outside the timing.
//!
//! Run: `cargo bench --bench pubsub`

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrymq::connection::outbox::Take;
use ferrymq::connection::{ClientHandle, ClientState};
use ferrymq::pubsub::Hub;
use ferrymq::pubsub::hub::Kind;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MSG: [u8; 100] = [b'm'; 100];
const DRAIN_EVERY: u64 = 64;

fn clients(n: usize, resp3_every: usize) -> Vec<ClientState> {
    (0..n)
        .map(|i| {
            let h = Arc::new(ClientHandle::new(
                i as u64 + 1,
                "127.0.0.1:1".into(),
                "127.0.0.1:6379".into(),
                false,
            ));
            let mut c = ClientState::new(h, true);
            if resp3_every > 0 && i % resp3_every == 0 {
                c.resp = 3;
            }
            c
        })
        .collect()
}

fn drain(subs: &[ClientState], spare: &mut BytesMut) {
    for s in subs {
        if let Take::Write { .. } = s.handle.outbox.take(spare) {
            s.handle.outbox.written();
            spare.clear();
        }
    }
}

/// Time `iters` publishes, draining outside the measured time.
fn run(hub: &Hub, subs: &[ClientState], iters: u64) -> Duration {
    let mut spare = BytesMut::new();
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let batch = DRAIN_EVERY.min(iters - done);
        let t = Instant::now();
        for _ in 0..batch {
            black_box(hub.publish(Kind::Channel, black_box(b"news"), black_box(&MSG)));
        }
        total += t.elapsed();
        done += batch;
        drain(subs, &mut spare);
    }
    total
}

/// PUBLISH to a channel with N subscribers (all RESP2, or one in four RESP3).
fn fan_out(c: &mut Criterion) {
    let mut g = c.benchmark_group("publish_100B");
    for n in [1usize, 100, 1000] {
        g.throughput(Throughput::Elements(n as u64));
        for (label, resp3_every) in [("resp2", 0usize), ("mixed", 4)] {
            let hub = Hub::new();
            let mut subs = clients(n, resp3_every);
            for s in subs.iter_mut() {
                hub.subscribe(s, Kind::Channel, b"news");
            }
            g.bench_with_input(BenchmarkId::new(label, n), &n, |b, _| {
                b.iter_custom(|iters| run(&hub, &subs, iters));
            });
        }
    }
    g.finish();
}

/// PUBLISH to a channel with one subscriber while P patterns (none matching) exist: the cost
/// every publish pays for patterns. With the prefix index it stays flat as P grows (the
/// patterns `events.<i>.*` share no prefix with `news`).
fn patterns(c: &mut Criterion) {
    let mut g = c.benchmark_group("publish_with_patterns");
    g.throughput(Throughput::Elements(1));
    for p in [0usize, 10, 100, 1000, 10_000] {
        let hub = Hub::new();
        let mut subs = clients(1, 0);
        hub.subscribe(&mut subs[0], Kind::Channel, b"news");
        let mut holder = clients(1, 0);
        for i in 0..p {
            hub.subscribe(
                &mut holder[0],
                Kind::Pattern,
                format!("events.{i}.*").as_bytes(),
            );
        }
        g.bench_with_input(BenchmarkId::from_parameter(p), &p, |b, _| {
            b.iter_custom(|iters| run(&hub, &subs, iters));
        });
    }
    g.finish();
}

criterion_group!(benches, fan_out, patterns);
criterion_main!(benches);
