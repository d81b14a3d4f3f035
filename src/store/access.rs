//! Per-key access clock: what Redis keeps in a value's 24 `lru` bits, for OBJECT IDLETIME,
//! OBJECT FREQ, DEBUG OBJECT and RESTORE's IDLETIME/FREQ.
//!
//! - Under an LRU or non-LFU policy the word is the LRU clock (unix seconds, 24 bits) at the
//!   last access.
//! - Under an LFU policy it is Redis's LFU word: the last decrement time in minutes (16 bits)
//!   and a logarithmic access counter (8 bits).
//!
//! The clock is one process-wide word, refreshed by the cron every tick (Redis's
//! `server.lruclock`), so touching a key costs a relaxed load and a store.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Redis's LRU_CLOCK_MAX (24 bits of seconds).
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
/// Redis's LFU_INIT_VAL: the counter of a new key.
pub const LFU_INIT_VAL: u32 = 5;

/// Unix seconds as of the last [`refresh`]; 0 before the first.
static NOW_S: AtomicU64 = AtomicU64::new(0);

/// Re-read the wall clock (called by the cron every tick).
pub fn refresh() {
    NOW_S.store((super::unix_ms() / 1000).max(1) as u64, Relaxed);
}

#[inline]
fn now_s() -> u64 {
    match NOW_S.load(Relaxed) {
        0 => {
            refresh();
            NOW_S.load(Relaxed)
        }
        s => s,
    }
}

/// Redis's LRU_CLOCK(): seconds, 24 bits.
#[inline]
pub fn lru_clock() -> u32 {
    (now_s() as u32) & LRU_CLOCK_MAX
}

fn minutes() -> u32 {
    ((now_s() / 60) & 0xffff) as u32
}

/// How a value's access word is kept: `maxmemory-policy` and its LFU parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// An LFU policy: the word is an LFU counter.
    pub lfu: bool,
    pub log_factor: u32,
    pub decay_time: u32,
    /// Values written now get objects of their own instead of the shared integers 0..9999
    /// (`maxmemory` set with an LRU or LFU policy: each value needs its own access word;
    /// Redis's MAXMEMORY_FLAG_NO_SHARED_INTEGERS). Seen by OBJECT REFCOUNT.
    pub no_shared_integers: bool,
}

impl Policy {
    /// Pack into one word (an atomic the config writes and the store reads per command).
    pub fn pack(self) -> u64 {
        (self.lfu as u64) << 63
            | (self.no_shared_integers as u64) << 62
            | (self.log_factor as u64 & 0x7fff_ffff) << 31
            | (self.decay_time as u64 & 0x7fff_ffff)
    }

    pub fn unpack(w: u64) -> Policy {
        Policy {
            lfu: w >> 63 != 0,
            no_shared_integers: (w >> 62) & 1 != 0,
            log_factor: ((w >> 31) & 0x7fff_ffff) as u32,
            decay_time: (w & 0x7fff_ffff) as u32,
        }
    }

    /// The word of a value created now.
    #[inline]
    pub fn fresh(self) -> u32 {
        if self.lfu {
            minutes() << 8 | LFU_INIT_VAL
        } else {
            lru_clock()
        }
    }

    /// The word after an access (Redis's lookupKey: `updateLFU` or `LRU_CLOCK()`).
    #[inline]
    pub fn touched(self, word: u32) -> u32 {
        if self.lfu {
            let counter = log_incr(self.decayed(word), self.log_factor);
            minutes() << 8 | counter
        } else {
            lru_clock()
        }
    }

    /// Redis's LFUDecrAndReturn: the counter after the decay of the minutes since its last
    /// decrement (what OBJECT FREQ reports).
    pub fn decayed(self, word: u32) -> u32 {
        let ldt = word >> 8;
        let counter = word & 255;
        let now = minutes();
        let elapsed = if now >= ldt {
            now - ldt
        } else {
            65535 - ldt + now
        };
        let periods = elapsed.checked_div(self.decay_time).unwrap_or(0);
        counter.saturating_sub(periods)
    }

    /// The word RESTORE sets (Redis's objectSetLRUOrLFU): `freq` under LFU, `idle` seconds
    /// otherwise; `None` leaves the fresh word.
    pub fn restored(self, freq: Option<u32>, idle: Option<u64>) -> u32 {
        if self.lfu {
            if let Some(f) = freq {
                return minutes() << 8 | (f & 255);
            }
        } else if let Some(idle) = idle {
            let clock = lru_clock() as i64;
            let abs = clock - idle.min(i64::MAX as u64) as i64;
            return if abs >= 0 {
                abs as u32
            } else {
                ((clock + (LRU_CLOCK_MAX / 2) as i64) % LRU_CLOCK_MAX as i64) as u32
            };
        }
        self.fresh()
    }
}

/// Milliseconds since the access recorded in an LRU word (Redis's estimateObjectIdleTime).
pub fn idle_ms(word: u32) -> u64 {
    let clock = lru_clock();
    let secs = if clock >= word {
        clock - word
    } else {
        clock + (LRU_CLOCK_MAX - word)
    };
    secs as u64 * 1000
}

/// Redis's LFULogIncr: the counter grows with probability 1 / ((counter - 5) * factor + 1).
fn log_incr(counter: u32, factor: u32) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * factor as f64 + 1.0);
    if rand::random::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_round_trips_through_its_word() {
        let p = Policy {
            lfu: true,
            log_factor: i32::MAX as u32,
            decay_time: 7,
            no_shared_integers: true,
        };
        assert_eq!(Policy::unpack(p.pack()), p);
        let q = Policy {
            lfu: false,
            log_factor: 10,
            decay_time: i32::MAX as u32,
            no_shared_integers: false,
        };
        assert_eq!(Policy::unpack(q.pack()), q);
    }

    #[test]
    fn lru_idle_time_counts_seconds_and_wraps() {
        let now = lru_clock();
        assert_eq!(idle_ms(now), 0);
        assert_eq!(idle_ms(now.wrapping_sub(5) & LRU_CLOCK_MAX), 5000);
        assert_eq!(
            idle_ms(Policy::default().restored(None, Some(100))),
            100_000
        );
        // Under LFU, IDLETIME is ignored, as Redis ignores it.
        let lfu = Policy {
            lfu: true,
            ..Policy::default()
        };
        assert_eq!(lfu.decayed(lfu.restored(None, Some(100))), LFU_INIT_VAL);
    }

    #[test]
    fn lfu_counter_starts_at_five_grows_and_saturates() {
        let p = Policy {
            lfu: true,
            log_factor: 0,
            decay_time: 1,
            no_shared_integers: false,
        };
        let mut w = p.fresh();
        assert_eq!(p.decayed(w), LFU_INIT_VAL);
        // Factor 0: every access counts.
        for _ in 0..300 {
            w = p.touched(w);
        }
        assert_eq!(p.decayed(w), 255);
        assert_eq!(p.decayed(p.restored(Some(100), None)), 100);
        // Ten minutes ago with decay 1: ten less.
        let old = (minutes().wrapping_sub(10) & 0xffff) << 8 | 50;
        assert_eq!(p.decayed(old), 40);
    }
}
