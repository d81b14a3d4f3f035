//! Per-command latency histograms for INFO LATENCYSTATS, with the bucket layout of the HDR
//! histogram Redis 7.0 keeps per command (1 ns .. 1 s, two significant digits), so the
//! percentiles print the same bucket bounds Redis prints (a 1 µs call shows as `1.003`).
//!
//! Cost on the command path: one relaxed `fetch_add` on a counter chosen by a few shifts. The
//! counters (3072 × 8 bytes) are allocated the first time a command is recorded, as Redis
//! allocates its histogram, so commands never called cost one empty `OnceLock`. Readers (INFO)
//! sum the counters without stopping writers: a percentile may miss a call recorded meanwhile.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Smallest and largest values recorded, in nanoseconds (Redis's LATENCY_HISTOGRAM_MIN/MAX).
const MIN_NS: u64 = 1;
const MAX_NS: u64 = 1_000_000_000;
/// Two significant digits: 256 sub-buckets, each bucket covering a power of two.
const SUB_BUCKET_HALF_MAGNITUDE: u32 = 7;
const SUB_BUCKET_HALF: u64 = 1 << SUB_BUCKET_HALF_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (SUB_BUCKET_HALF << 1) - 1;
/// Buckets needed so that 256 << (buckets-1) exceeds MAX_NS.
const BUCKETS: usize = 23;
const COUNTS: usize = (BUCKETS + 1) * SUB_BUCKET_HALF as usize;

#[derive(Default)]
pub struct LatencyHistogram {
    counts: OnceLock<Box<[AtomicU64]>>,
}

/// Counter index of `v` (1 ..= MAX_NS).
#[inline]
fn index_of(v: u64) -> usize {
    let pow2ceiling = 64 - (v | SUB_BUCKET_MASK).leading_zeros();
    let bucket = pow2ceiling - (SUB_BUCKET_HALF_MAGNITUDE + 1);
    let sub = v >> bucket;
    (((bucket as u64 + 1) << SUB_BUCKET_HALF_MAGNITUDE) + sub - SUB_BUCKET_HALF) as usize
}

/// Lowest value counted at `index`, and the width of its range.
fn range_at(index: usize) -> (u64, u64) {
    let mut bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) as i64 - 1;
    let mut sub = (index as u64 & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    if bucket < 0 {
        sub -= SUB_BUCKET_HALF;
        bucket = 0;
    }
    (sub << bucket, 1 << bucket)
}

impl LatencyHistogram {
    /// Count one call that took `ns` nanoseconds (clamped to 1 ns .. 1 s, as Redis does).
    #[inline]
    pub fn record(&self, ns: u64) {
        let counts = self
            .counts
            .get_or_init(|| (0..COUNTS).map(|_| AtomicU64::new(0)).collect());
        counts[index_of(ns.clamp(MIN_NS, MAX_NS))].fetch_add(1, Ordering::Relaxed);
    }

    /// Forget every call (CONFIG RESETSTAT): the command leaves INFO LATENCYSTATS until it is
    /// called again. The counters stay allocated.
    pub fn clear(&self) {
        if let Some(c) = self.counts.get() {
            for x in c.iter() {
                x.store(0, Ordering::Relaxed);
            }
        }
    }

    /// The value at `percentile` (0..=100) in nanoseconds, as `hdr_value_at_percentile`
    /// reports it: the highest value of the bucket where the running count reaches
    /// `percentile`% of all calls (the lowest for percentile 0). None when no call is counted.
    pub fn value_at_percentile(&self, percentile: f64) -> Option<u64> {
        let counts = self.counts.get()?;
        let snapshot: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = snapshot.iter().sum();
        if total == 0 {
            return None;
        }
        let p = percentile.min(100.0);
        let target = ((p / 100.0 * total as f64 + 0.5) as u64).max(1);
        // `snapshot` sums to `total`, so the running count reaches `target` (<= total).
        let mut running = 0u64;
        let index = snapshot
            .iter()
            .position(|&n| {
                running += n;
                running >= target
            })
            .unwrap_or(COUNTS - 1);
        let (low, width) = range_at(index);
        Some(if percentile == 0.0 {
            low
        } else {
            low + width - 1
        })
    }

    /// The calls regrouped into coarser buckets (the metrics endpoint's histogram): `counts[i]`
    /// calls took at most `bounds_ns[i]` and more than the bound before it, the extra last
    /// entry more than every bound. A call counts in the first bound at or above the low end of
    /// its HDR range (ranges are 1% wide). Also the total and an approximate sum (each range's
    /// midpoint), consistent with each other. None when no call is counted.
    pub fn regrouped(&self, bounds_ns: &[u64]) -> Option<Regrouped> {
        let counts = self.counts.get()?;
        let mut out = Regrouped {
            counts: vec![0; bounds_ns.len() + 1],
            total: 0,
            sum_ns: 0,
        };
        for (i, c) in counts.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let (low, width) = range_at(i);
            out.counts[bounds_ns.partition_point(|&b| b < low)] += n;
            out.total += n;
            out.sum_ns = out.sum_ns.saturating_add(n.saturating_mul(low + width / 2));
        }
        (out.total > 0).then_some(out)
    }
}

/// See [`LatencyHistogram::regrouped`].
#[derive(Debug, PartialEq, Eq)]
pub struct Regrouped {
    pub counts: Vec<u64>,
    pub total: u64,
    pub sum_ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regrouped_into_coarse_buckets() {
        let h = LatencyHistogram::default();
        assert_eq!(h.regrouped(&[1000]), None);
        for ns in [500, 1000, 1500, 2_000_000, 5_000_000_000] {
            h.record(ns);
        }
        let r = h.regrouped(&[1000, 1_000_000, 1_000_000_000]).unwrap();
        // 500 and 1000 at most 1 µs; 1500 at most 1 ms; 2 ms at most 1 s; 5 s is clamped to 1 s.
        assert_eq!(r.counts, [2, 1, 2, 0]);
        assert_eq!(r.total, 5);
        let exact = 500 + 1000 + 1500 + 2_000_000 + 1_000_000_000u64;
        assert!(
            r.sum_ns.abs_diff(exact) * 100 < exact,
            "{} vs {exact}",
            r.sum_ns
        );
    }

    #[test]
    fn buckets_have_two_significant_digits() {
        // Exact below 256, then ranges of 2, 4, 8... as the HDR layout has.
        for v in [1u64, 200, 255] {
            assert_eq!(range_at(index_of(v)), (v, 1));
        }
        assert_eq!(range_at(index_of(1000)), (1000, 4));
        assert_eq!(range_at(index_of(1003)), (1000, 4));
        assert_eq!(range_at(index_of(2000)), (2000, 8));
        assert_eq!(range_at(index_of(5000)), (4992, 32));
        assert!(index_of(MAX_NS) < COUNTS);
        let mut last = 0;
        for v in (1..MAX_NS).step_by(997) {
            let i = index_of(v);
            assert!(i >= last);
            let (low, width) = range_at(i);
            assert!(low <= v && v < low + width, "{v}");
            last = i;
        }
    }

    /// Values redis-server 7.0.15 prints for calls of 1, 2 and 5 µs.
    #[test]
    fn percentiles_print_like_redis() {
        let h = LatencyHistogram::default();
        assert_eq!(h.value_at_percentile(50.0), None);
        for _ in 0..98 {
            h.record(1000);
        }
        h.record(2000);
        h.record(5000);
        assert_eq!(h.value_at_percentile(50.0), Some(1003));
        assert_eq!(h.value_at_percentile(99.0), Some(2007));
        assert_eq!(h.value_at_percentile(99.9), Some(5023));
        assert_eq!(h.value_at_percentile(100.0), Some(5023));
        assert_eq!(h.value_at_percentile(0.0), Some(1000));
        h.record(0);
        h.record(u64::MAX);
        assert_eq!(h.value_at_percentile(0.0), Some(1));
        assert!(h.value_at_percentile(100.0).unwrap() >= MAX_NS);
        h.clear();
        assert_eq!(h.value_at_percentile(50.0), None);
    }
}
