//! HyperLogLog values, byte for byte in Redis 7.0's representation.
//!
//! A HyperLogLog is an ordinary string value, so GET, SET, DUMP-free copies and the AOF carry
//! it unchanged, and a string written by redis-server reads back here. The layout:
//!
//! ```text
//! "HYLL" | encoding (0 dense, 1 sparse) | 3 zero bytes | cached cardinality (8 bytes LE)
//! | registers
//! ```
//!
//! - 16384 registers (the low 14 bits of the element's MurmurHash64A pick one); each keeps the
//!   longest run of zeroes (+1) seen in the other 50 bits.
//! - Dense: 6 bits per register, packed from the least significant bit of each byte, 12288
//!   bytes (the value is always exactly [`DENSE_SIZE`] bytes).
//! - Sparse: run-length opcodes — `00xxxxxx` ZERO (1..64 zero registers), `01xxxxxx yyyyyyyy`
//!   XZERO (1..16384 zero registers), `1vvvvvxx` VAL (1..4 registers of value 1..32). A value
//!   above 32, or an update that would make the string longer than `hll-sparse-max-bytes`,
//!   turns it dense for good.
//! - The most significant bit of the cache's last byte set means "stale": every change sets it
//!   and leaves the other seven bytes alone; a single-key PFCOUNT recomputes and stores it.
//!
//! API: [`is_hll`] validates a string as Redis's type check does; [`new_sparse`] is an empty
//! one; [`add`] / [`set_register`] update (promoting to dense as Redis would), [`to_dense`]
//! converts, [`merge_max`] folds one into a register array for PFMERGE and multi-key PFCOUNT,
//! [`count`] / [`count_raw`] estimate, [`cached`] / [`store_cached`] / [`invalidate`] handle
//! the cache, [`registers`] and [`decode_sparse`] serve PFDEBUG, [`selftest`] PFSELFTEST.
//!
//! Errors: the only failure is a sparse representation that does not cover exactly 16384
//! registers ([`Corrupt`]); the caller answers `INVALIDOBJ`.
//!
//! Pure data structure: no protocol, no locks.

/// Header bytes before the registers.
pub const HDR: usize = 16;
/// Number of registers (2^14).
pub const REGISTERS: usize = 1 << P;
/// Size of a dense HyperLogLog string.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);

const P: usize = 14;
/// Bits of the hash used for the zero run.
const Q: usize = 64 - P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;

const XZERO_BIT: u8 = 0x40;
const VAL_BIT: u8 = 0x80;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;

/// Seed of Redis's element hash.
const SEED: u64 = 0xadc8_3b19;

/// 0.5 / ln(2).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The sparse representation does not cover exactly [`REGISTERS`] registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// True when `b` passes Redis's HyperLogLog type check: long enough for the header, the
/// `HYLL` magic, a known encoding, and the exact size when dense. (The contents of a sparse
/// one are only checked when they are walked.)
pub fn is_hll(b: &[u8]) -> bool {
    b.len() >= HDR
        && &b[..4] == b"HYLL"
        && b[4] <= SPARSE
        && (b[4] != DENSE || b.len() == DENSE_SIZE)
}

pub fn is_dense(b: &[u8]) -> bool {
    b[4] == DENSE
}

/// An empty HyperLogLog: sparse, one XZERO opcode covering every register, cache zero.
pub fn new_sparse() -> Vec<u8> {
    let mut v = vec![0u8; HDR];
    v[..4].copy_from_slice(b"HYLL");
    v[4] = SPARSE;
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        push_xzero(&mut v, n);
        left -= n;
    }
    v
}

/// MurmurHash64A as Redis uses it (little-endian reads on every platform).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register `ele` maps to and the length of its `000..1` pattern (1..=51).
pub fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    // The sentinel bit bounds the run at Q+1.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---- dense registers ----

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = regs[byte] as u32;
    // Past the last byte Redis reads the string's terminating zero.
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = v as u32;
    let max = REGISTER_MAX as u32;
    regs[byte] = ((regs[byte] as u32 & !(max << fb)) | (v << fb)) as u8;
    if let Some(b1) = regs.get_mut(byte + 1) {
        let fb8 = 8 - fb;
        *b1 = ((*b1 as u32 & !(max >> fb8)) | (v >> fb8)) as u8;
    }
}

/// Raise register `i` of a dense HLL to `v`; true when it grew.
fn dense_set(hll: &mut [u8], i: usize, v: u8) -> bool {
    let regs = &mut hll[HDR..];
    if v > dense_get(regs, i) {
        dense_put(regs, i, v);
        true
    } else {
        false
    }
}

// ---- sparse opcodes ----

fn is_zero(op: u8) -> bool {
    op & 0xc0 == 0
}
fn is_xzero(op: u8) -> bool {
    op & 0xc0 == XZERO_BIT
}
fn is_val(op: u8) -> bool {
    op & VAL_BIT != 0
}
fn zero_len(op: u8) -> usize {
    (op & 0x3f) as usize + 1
}
fn xzero_len(op: u8, next: u8) -> usize {
    ((((op & 0x3f) as usize) << 8) | next as usize) + 1
}
fn val_value(op: u8) -> u8 {
    ((op >> 2) & 0x1f) + 1
}
fn val_len(op: u8) -> usize {
    (op & 0x3) as usize + 1
}
fn val_op(value: u8, len: usize) -> u8 {
    (((value - 1) << 2) | (len as u8 - 1)) | VAL_BIT
}
fn zero_op(len: usize) -> u8 {
    (len - 1) as u8
}
fn push_xzero(out: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    out.push((l >> 8) as u8 | XZERO_BIT);
    out.push((l & 0xff) as u8);
}
/// ZERO or XZERO for a run of `len` zero registers.
fn push_zeros(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        push_xzero(out, len);
    } else {
        out.push(zero_op(len));
    }
}

/// One decoded opcode: a run of `len` registers of `value`, `size` bytes long.
struct Op {
    value: u8,
    len: usize,
    size: usize,
}

/// The opcode at `s[p]` (an XZERO cut short by the end of the string reads a zero second
/// byte, as Redis reads the terminator).
///
/// DEVIATION(redis): when PFADD splits such a cut-short XZERO, Redis writes one byte past the
/// string's end and later reads it back as that second byte; here the string is rewritten
/// whole and the missing byte stays zero. Only hand-made corrupt values can end that way.
fn op_at(s: &[u8], p: usize) -> Op {
    let op = s[p];
    if is_zero(op) {
        Op {
            value: 0,
            len: zero_len(op),
            size: 1,
        }
    } else if is_xzero(op) {
        Op {
            value: 0,
            len: xzero_len(op, s.get(p + 1).copied().unwrap_or(0)),
            size: 2,
        }
    } else {
        Op {
            value: val_value(op),
            len: val_len(op),
            size: 1,
        }
    }
}

/// Walk the runs of a sparse HLL, stopping (like Redis) at a VAL run that would pass the last
/// register. Returns the number of registers covered, which is [`REGISTERS`] when valid.
fn walk_sparse(hll: &[u8], mut f: impl FnMut(usize, usize, u8)) -> usize {
    let mut p = HDR;
    let mut idx = 0;
    while p < hll.len() {
        let op = op_at(hll, p);
        if op.value > 0 {
            if idx + op.len > REGISTERS {
                break;
            }
            f(idx, op.len, op.value);
        }
        idx += op.len;
        p += op.size;
    }
    idx
}

/// Turn a sparse HLL dense in place (the header, cache included, is kept). Ok(false) when it
/// was dense already.
pub fn to_dense(hll: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if hll[4] == DENSE {
        return Ok(false);
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&hll[..HDR]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    let covered = walk_sparse(hll, |first, len, v| {
        for i in first..first + len {
            dense_put(regs, i, v);
        }
    });
    if covered != REGISTERS {
        return Err(Corrupt);
    }
    *hll = dense;
    Ok(true)
}

/// Raise register `index` of a sparse HLL to `count`, rewriting the opcode that covers it and
/// merging equal neighbours as Redis does, or promoting to dense when `count` does not fit a
/// VAL opcode or the string would outgrow `sparse_max` bytes.
fn sparse_set(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(hll, index, count);
    }
    // Find the opcode covering `index`.
    let mut p = HDR;
    let mut first = 0;
    let mut prev = None;
    let mut span = 0;
    while p < hll.len() {
        let op = op_at(hll, p);
        span = op.len;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += op.size;
        first += span;
    }
    if span == 0 || p >= hll.len() {
        return Err(Corrupt);
    }
    let cur = op_at(hll, p);
    let opcode = hll[p];
    let updated_in_place = if is_val(opcode) {
        if cur.value >= count {
            return Ok(false);
        }
        cur.len == 1
    } else {
        is_zero(opcode) && cur.len == 1
    };
    if updated_in_place {
        hll[p] = val_op(count, 1);
    } else {
        // Split the run: [before] VAL(count) [after].
        let last = first + span - 1;
        let mut seq = Vec::with_capacity(5);
        if cur.value == 0 {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        } else {
            if index != first {
                seq.push(val_op(cur.value, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(cur.value, last - index));
            }
        }
        let grows = seq.len() > cur.size;
        if grows && hll.len() + seq.len() - cur.size > sparse_max {
            return promote(hll, index, count);
        }
        // An XZERO cut short by the end of a (corrupt) string has one byte.
        let end = (p + cur.size).min(hll.len());
        hll.splice(p..end, seq);
    }
    // Merge adjacent VAL opcodes of equal value, looking at up to five opcodes from the one
    // before the change.
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < hll.len() && scan > 0 {
        scan -= 1;
        let op = hll[p];
        if is_xzero(op) {
            p += 2;
            continue;
        }
        if is_zero(op) {
            p += 1;
            continue;
        }
        if p + 1 < hll.len() && is_val(hll[p + 1]) {
            let next = hll[p + 1];
            if val_value(op) == val_value(next) {
                let len = val_len(op) + val_len(next);
                if len <= VAL_MAX_LEN {
                    hll[p + 1] = val_op(val_value(op), len);
                    hll.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate(hll);
    Ok(true)
}

fn promote(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(hll)?;
    let grew = dense_set(hll, index, count);
    debug_assert!(grew, "a promotion always raises a register");
    Ok(grew)
}

/// Raise register `index` to `count` in either encoding; true when it changed (the cache is
/// then stale for a sparse HLL; callers invalidate for dense ones, as Redis's commands do).
pub fn set_register(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    if hll[4] == DENSE {
        Ok(dense_set(hll, index, count))
    } else {
        sparse_set(hll, index, count, sparse_max)
    }
}

/// Add one element; true when a register changed.
pub fn add(hll: &mut Vec<u8>, ele: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(ele);
    set_register(hll, index, count, sparse_max)
}

/// Fold `hll` into `max` (one byte per register): `max[i] = max(max[i], register i)`.
pub fn merge_max(max: &mut [u8], hll: &[u8]) -> Result<(), Corrupt> {
    if hll[4] == DENSE {
        let regs = &hll[HDR..];
        for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
            let v = dense_get(regs, i);
            if v > *m {
                *m = v;
            }
        }
        return Ok(());
    }
    let covered = walk_sparse(hll, |first, len, v| {
        for m in &mut max[first..first + len] {
            if v > *m {
                *m = v;
            }
        }
    });
    if covered == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// The registers of a dense HLL, one byte each.
pub fn registers(hll: &[u8]) -> Vec<u8> {
    let regs = &hll[HDR..];
    (0..REGISTERS).map(|i| dense_get(regs, i)).collect()
}

/// Ertl's sigma.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let z_prev = z;
        z += x * y;
        y += y;
        if z_prev == z {
            return z;
        }
    }
}

/// Ertl's tau.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let z_prev = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if z_prev == z {
            return z / 3.0;
        }
    }
}

/// The estimate from a histogram of register values (Ertl, "New cardinality estimation
/// algorithms for HyperLogLog sketches").
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimated cardinality of a HLL string. A sparse one that does not cover exactly the
/// registers still gets an estimate, with `Err` carrying it.
pub fn count(hll: &[u8]) -> Result<u64, (Corrupt, u64)> {
    let mut histo = [0u32; 64];
    if hll[4] == DENSE {
        let regs = &hll[HDR..];
        for i in 0..REGISTERS {
            histo[dense_get(regs, i) as usize] += 1;
        }
        return Ok(estimate(&histo));
    }
    // Unlike the walks above, the histogram counts every run (no overflow stop).
    let mut p = HDR;
    let mut idx = 0;
    while p < hll.len() {
        let op = op_at(hll, p);
        histo[op.value as usize] += op.len as u32;
        idx += op.len;
        p += op.size;
    }
    let e = estimate(&histo);
    if idx == REGISTERS {
        Ok(e)
    } else {
        Err((Corrupt, e))
    }
}

/// The estimate for raw registers (one byte each), as multi-key PFCOUNT computes it.
pub fn count_raw(max: &[u8]) -> u64 {
    let mut histo = [0u32; 64];
    for &v in max {
        histo[(v & 63) as usize] += 1;
    }
    estimate(&histo)
}

/// The cached cardinality, if valid.
pub fn cached(hll: &[u8]) -> Option<u64> {
    if hll[15] & 0x80 != 0 {
        return None;
    }
    Some(u64::from_le_bytes(hll[8..16].try_into().expect("8 bytes")))
}

pub fn store_cached(hll: &mut [u8], card: u64) {
    hll[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Mark the cache stale (only its top bit changes).
pub fn invalidate(hll: &mut [u8]) {
    hll[15] |= 0x80;
}

/// PFDEBUG DECODE's text for a sparse HLL: `z:len`, `Z:len`, `v:value,len` separated by
/// spaces.
pub fn decode_sparse(hll: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut p = HDR;
    while p < hll.len() {
        let op = hll[p];
        let o = op_at(hll, p);
        let _ = if is_zero(op) {
            write!(out, "z:{} ", o.len)
        } else if is_xzero(op) {
            write!(out, "Z:{} ", o.len)
        } else {
            write!(out, "v:{},{} ", o.value, o.len)
        };
        p += o.size;
    }
    out.trim_matches(' ').to_string()
}

/// PFSELFTEST: (1) `cycles` rounds of random values written to and read back from every dense
/// register; (2) `elements` distinct elements added to a dense and a sparse HLL at once,
/// checking at 1, 10, 100, ... that small ones stay sparse, that both estimates agree and that
/// the error stays within six standard errors. The error line Redis would send on failure.
pub fn selftest(cycles: usize, elements: u64, sparse_max: usize) -> Result<(), String> {
    let mut dense = new_sparse();
    to_dense(&mut dense).expect("valid");
    let mut expected = vec![0u8; REGISTERS];
    for _ in 0..cycles {
        for (i, e) in expected.iter_mut().enumerate() {
            *e = rand::random::<u8>() & REGISTER_MAX;
            dense_put(&mut dense[HDR..], i, *e);
        }
        for (i, &e) in expected.iter().enumerate() {
            let got = dense_get(&dense[HDR..], i);
            if got != e {
                return Err(format!(
                    "TESTFAILED Register {i} should be {e} but is {got}"
                ));
            }
        }
    }
    dense[HDR..].fill(0);
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint: u64 = 1;
    let seed: u64 = rand::random();
    for j in 1..=elements {
        let ele = (j ^ seed).to_ne_bytes();
        let (index, run) = pattern(&ele);
        dense_set(&mut dense, index, run);
        let _ = set_register(&mut sparse, index, run, sparse_max);
        if j != checkpoint {
            continue;
        }
        if (j as usize) < sparse_max / 2 && is_dense(&sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = count(&dense).unwrap_or(0);
        if count(&sparse).ok() != Some(card) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - card as i64).unsigned_abs();
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn regs_of(hll: &[u8]) -> Vec<u8> {
        let mut max = vec![0u8; REGISTERS];
        merge_max(&mut max, hll).unwrap();
        max
    }

    #[test]
    fn empty_is_sparse_and_counts_zero() {
        let h = new_sparse();
        assert_eq!(h.len(), 18);
        assert!(is_hll(&h));
        assert_eq!(&h[16..], &[0x7f, 0xff]);
        assert_eq!(count(&h), Ok(0));
        assert_eq!(decode_sparse(&h), "Z:16384");
    }

    #[test]
    fn validation() {
        assert!(!is_hll(b"HYLL"));
        assert!(!is_hll(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0"));
        assert!(!is_hll(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0"));
        assert!(!is_hll(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0"));
        let mut d = new_sparse();
        to_dense(&mut d).unwrap();
        assert_eq!(d.len(), DENSE_SIZE);
        assert!(is_hll(&d));
    }

    #[test]
    fn corrupt_sparse_is_detected() {
        let mut h = new_sparse();
        h.truncate(HDR + 1);
        assert_eq!(to_dense(&mut h.clone()), Err(Corrupt));
        assert!(count(&h).is_err());
        assert!(merge_max(&mut vec![0; REGISTERS], &h).is_err());
    }

    #[test]
    fn dense_registers_do_not_disturb_neighbours() {
        let mut h = new_sparse();
        to_dense(&mut h).unwrap();
        for i in 0..REGISTERS {
            dense_put(&mut h[HDR..], i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&h[HDR..], i), (i % 64) as u8);
        }
    }

    #[test]
    fn promotion_on_large_value_and_on_size() {
        let mut h = new_sparse();
        assert_eq!(set_register(&mut h, 5, 40, 3000), Ok(true));
        assert!(is_dense(&h));
        assert_eq!(registers(&h)[5], 40);
        let mut h = new_sparse();
        let mut i = 0;
        while !is_dense(&h) {
            set_register(&mut h, i * 7 % REGISTERS, 1 + (i % 5) as u8, 100).unwrap();
            i += 1;
            assert!(h.len() <= 100 || is_dense(&h));
        }
    }

    proptest! {
        /// Any sequence of register updates leaves the value valid, agreeing with a plain
        /// array of registers, and its estimate the same in both encodings.
        #[test]
        fn sparse_matches_model(ops in proptest::collection::vec((0usize..REGISTERS, 1u8..=40), 0..300), max in 20usize..4000) {
            let mut h = new_sparse();
            let mut model = vec![0u8; REGISTERS];
            for (i, v) in ops {
                let changed = set_register(&mut h, i, v, max).unwrap();
                prop_assert_eq!(changed, v > model[i]);
                model[i] = model[i].max(v);
            }
            prop_assert_eq!(&regs_of(&h), &model);
            let mut d = h.clone();
            to_dense(&mut d).unwrap();
            prop_assert_eq!(registers(&d), model.clone());
            prop_assert_eq!(count(&h).unwrap(), count(&d).unwrap());
            prop_assert_eq!(count_raw(&model), count(&d).unwrap());
        }
    }

    #[test]
    fn selftest_passes() {
        assert_eq!(selftest(2, 100_000, 3000), Ok(()));
    }

    #[test]
    fn estimate_is_close() {
        let mut h = new_sparse();
        for i in 0..10000u32 {
            add(&mut h, &i.to_le_bytes(), 3000).unwrap();
        }
        let c = count(&h).unwrap() as f64;
        assert!((c - 10000.0).abs() < 10000.0 * 0.05, "{c}");
    }
}
