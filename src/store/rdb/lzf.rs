//! LZF, as Redis uses it for RDB strings (`lzf_c.c`, `lzf_d.c`, with Redis's settings: a
//! 2^16-slot hash table, `VERY_FAST`). The compressor follows the reference algorithm step by
//! step so that a string compresses to the very bytes redis-server writes: DUMP payloads are
//! compared byte for byte. Redis leaves its hash table uninitialised; an entry only counts as a
//! match after its three bytes are compared, so a zeroed table gives the same output for every
//! table content that does not happen to point at an earlier equal sequence.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

fn idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Compresses `input` into at most `out_len` bytes; `None` when it does not fit (Redis then
/// stores the string as it is).
#[cfg(test)]
pub fn compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    compress_then(input, out_len, <[u8]>::to_vec)
}

/// Compresses `input` into at most `out_len` bytes and hands the result to `f`; `None` when it
/// does not fit. The output goes to a buffer kept between calls, so a snapshot compressing one
/// 8 KiB list node after another allocates (and zeroes) nothing per node.
pub fn compress_then<R>(input: &[u8], out_len: usize, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    let in_len = input.len();
    if in_len == 0 || out_len == 0 {
        return None;
    }
    HTAB.with(|t| {
        let mut t = t.borrow_mut();
        let (table, generation, scratch) = &mut *t;
        if table.is_empty() {
            table.resize(HSIZE, 0);
        }
        *generation = generation.wrapping_add(1);
        if *generation == 0 {
            table.iter_mut().for_each(|e| *e = 0);
            *generation = 1;
        }
        if scratch.len() < out_len + 3 {
            scratch.resize(out_len + 3, 0);
        }
        let n = compress_with(
            input,
            out_len,
            &mut scratch[..out_len + 3],
            &mut Table {
                table,
                generation: *generation,
            },
        )?;
        let r = f(&scratch[..n]);
        // A one-off huge string does not pin its buffer for the thread's life.
        if scratch.len() > 1 << 20 {
            *scratch = Vec::new();
        }
        Some(r)
    })
}

thread_local! {
    /// The hash table, kept between calls: a list's DUMP compresses one node after another, and
    /// clearing 256 KiB for each would cost more than compressing an 8 KiB node. Entries carry
    /// the call's generation in their high half; older ones read as empty. The third part is
    /// the output buffer.
    #[allow(clippy::type_complexity)]
    static HTAB: std::cell::RefCell<(Vec<u64>, u32, Vec<u8>)> =
        const { std::cell::RefCell::new((Vec::new(), 0, Vec::new())) };
}

/// Offsets of the last position seen for each hash; 0 means none (position 0 can never be
/// referenced: the reference requires `ref > in_data`).
struct Table<'a> {
    table: &'a mut [u64],
    generation: u32,
}

impl Table<'_> {
    fn get(&self, slot: usize) -> u32 {
        let e = self.table[slot];
        if (e >> 32) as u32 == self.generation {
            e as u32
        } else {
            0
        }
    }
    fn set(&mut self, slot: usize, pos: usize) {
        self.table[slot] = (u64::from(self.generation) << 32) | pos as u64;
    }
}

/// The match length liblzf's loops find after a 3-byte match (the first 16 bytes unrolled
/// without the `maxlen` check, then byte by byte up to `maxlen`), found eight bytes at a time.
#[inline]
fn match_len(a: &[u8], b: &[u8], maxlen: usize) -> usize {
    if maxlen > 16 {
        let len = first_mismatch(a, b, 3, 19);
        if len == 19 && len < maxlen {
            first_mismatch(a, b, 19, maxlen)
        } else {
            len
        }
    } else if 3 < maxlen {
        first_mismatch(a, b, 3, maxlen)
    } else {
        3
    }
}

/// The first index in `from..limit` where `a` and `b` differ, or `limit`.
#[inline]
fn first_mismatch(a: &[u8], b: &[u8], mut i: usize, limit: usize) -> usize {
    while i + 8 <= limit {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("8 bytes"))
            ^ u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < limit {
        if a[i] != b[i] {
            return i;
        }
        i += 1;
    }
    limit
}

/// Compresses into `out` (`out_len + 3` bytes); the compressed length, or `None`.
fn compress_with(input: &[u8], out_len: usize, out: &mut [u8], htab: &mut Table) -> Option<usize> {
    let in_len = input.len();
    let mut ip = 0usize;
    let mut op = 1usize; // start run
    let mut lit = 0usize;
    let frst = |p: usize| ((input[p] as u32) << 8) | input[p + 1] as u32;
    let next = |v: u32, p: usize| (v << 8) | input[p + 2] as u32;
    let mut hval = if in_len >= 2 { frst(0) } else { 0 };
    while in_len >= 3 && ip < in_len - 2 {
        hval = next(hval, ip);
        let slot = idx(hval);
        let r = htab.get(slot) as usize;
        htab.set(slot, ip);
        let matched = r > 0
            && r < ip
            && ip - r - 1 < MAX_OFF
            && input[r + 2] == input[ip + 2]
            && input[r] == input[ip]
            && input[r + 1] == input[ip + 1];
        if matched {
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            if op + 3 + 1 >= out_len && op - usize::from(lit == 0) + 3 + 1 >= out_len {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1);
            op -= usize::from(lit == 0);
            len = match_len(&input[r..], &input[ip..], maxlen);
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip >= in_len - 2 {
                break;
            }
            ip -= 2;
            hval = frst(ip);
            hval = next(hval, ip);
            htab.set(idx(hval), ip);
            ip += 1;
            hval = next(hval, ip);
            htab.set(idx(hval), ip);
            ip += 1;
        } else {
            if op >= out_len {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > out_len {
        return None;
    }
    while ip < in_len {
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    Some(op)
}

/// Decompresses `input` into exactly `out_len` bytes; `None` on any malformed input.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            if out.len() + n > out_len || ip + n > input.len() {
                return None;
            }
            out.extend_from_slice(&input[ip..ip + n]);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            len += 2;
            if out.len() + len > out_len || back > out.len() {
                return None;
            }
            let start = out.len() - back;
            for i in 0..len {
                out.push(out[start + i]);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// liblzf's match-extension loops, byte by byte.
    fn match_len_reference(a: &[u8], b: &[u8], maxlen: usize) -> usize {
        let mut len = 2usize;
        let mut done = false;
        if maxlen > 16 {
            for _ in 0..16 {
                len += 1;
                if a[len] != b[len] {
                    done = true;
                    break;
                }
            }
        }
        if !done {
            loop {
                len += 1;
                if !(len < maxlen && a[len] == b[len]) {
                    break;
                }
            }
        }
        len
    }

    proptest! {
        #[test]
        fn match_len_is_liblzfs(
            common in 0usize..300,
            tail in proptest::collection::vec(any::<u8>(), 20..40),
            maxlen in 0usize..264,
        ) {
            // `a` and `b` agree on their first `common` bytes, then differ; both are long
            // enough for every index the loops may read.
            let n = maxlen.max(19) + 1;
            let a: Vec<u8> = (0..n).map(|i| if i < common { 7 } else { tail[i % tail.len()] }).collect();
            let b: Vec<u8> = (0..n).map(|i| if i < common { 7 } else { tail[i % tail.len()].wrapping_add(1) }).collect();
            prop_assert_eq!(super::match_len(&a, &b, maxlen), match_len_reference(&a, &b, maxlen));
        }

        #[test]
        fn round_trips(data in proptest::collection::vec(0u8..4, 0..2000)) {
            if let Some(c) = compress(&data, data.len().saturating_sub(4)) {
                prop_assert_eq!(decompress(&c, data.len()), Some(data));
            }
        }
    }
}
