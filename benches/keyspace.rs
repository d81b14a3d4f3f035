//! Micro-benchmarks of the keyspace table (`store::ScanMap`) next to the `HashMap` it replaced
//! (`store::Dict`, SwissTable): insert, hit, miss and remove over 100 000 `Bytes` keys, and one
//! SCAN step (COUNT 10) over 1 000 000 keys.
//!
//! Run: `cargo bench --bench keyspace`

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrymq::store::{Dict, ScanMap};
use std::hint::black_box;

const N: usize = 100_000;

fn keys(prefix: &str, n: usize) -> Vec<Bytes> {
    (0..n)
        .map(|i| Bytes::from(format!("{prefix}:{i}")))
        .collect()
}

/// The operations both tables offer, so one benchmark body serves both.
trait Table: Default {
    fn put(&mut self, k: Bytes, v: u64);
    fn find(&self, k: &[u8]) -> Option<u64>;
    fn del(&mut self, k: &[u8]) -> Option<u64>;
}

impl Table for ScanMap<Bytes, u64> {
    fn put(&mut self, k: Bytes, v: u64) {
        self.insert(k, v);
    }
    fn find(&self, k: &[u8]) -> Option<u64> {
        self.get(k).copied()
    }
    fn del(&mut self, k: &[u8]) -> Option<u64> {
        self.remove(k)
    }
}

impl Table for Dict<Bytes, u64> {
    fn put(&mut self, k: Bytes, v: u64) {
        self.insert(k, v);
    }
    fn find(&self, k: &[u8]) -> Option<u64> {
        self.get(k).copied()
    }
    fn del(&mut self, k: &[u8]) -> Option<u64> {
        self.remove(k)
    }
}

fn filled<T: Table>(keys: &[Bytes]) -> T {
    let mut t = T::default();
    for (i, k) in keys.iter().enumerate() {
        t.put(k.clone(), i as u64);
    }
    t
}

fn ops<T: Table>(c: &mut Criterion, name: &str) {
    let present = keys("key", N);
    let absent = keys("nokey", N);
    let mut g = c.benchmark_group(format!("keyspace_{name}"));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("insert", |b| b.iter(|| black_box(filled::<T>(&present))));
    let t: T = filled(&present);
    g.bench_function("get_hit", |b| {
        b.iter(|| present.iter().filter_map(|k| t.find(k)).sum::<u64>())
    });
    g.bench_function("get_miss", |b| {
        b.iter(|| absent.iter().filter(|k| t.find(k).is_some()).count())
    });
    g.bench_function("insert_then_remove", |b| {
        b.iter(|| {
            let mut t: T = filled(&present);
            present.iter().filter_map(|k| t.del(k)).sum::<u64>()
        })
    });
    g.finish();
}

fn tables(c: &mut Criterion) {
    ops::<ScanMap<Bytes, u64>>(c, "scanmap");
    ops::<Dict<Bytes, u64>>(c, "hashmap");
}

/// One SCAN call's walk (COUNT 10, as `scan_loop` does) along a cursor, per table size.
fn scan_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("scan_count_10");
    for n in [1_000usize, 100_000, 1_000_000] {
        let m: ScanMap<Bytes, u64> = filled(&keys("key", n));
        let mut cursor = 0u64;
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let mut got = 0usize;
                let mut budget = 100;
                loop {
                    cursor = m.scan(cursor, |_, _| got += 1);
                    budget -= 1;
                    if cursor == 0 || budget == 0 || got >= 10 {
                        break got;
                    }
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, tables, scan_step);
criterion_main!(benches);
