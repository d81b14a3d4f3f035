//! The compact containers RDB payloads embed as strings: listpack (written and read),
//! ziplist (read: RDB files and DUMP payloads of Redis before 7.0) and intset (written and
//! read). Readers validate the whole blob before trusting any length in it.

/// An element of a listpack or ziplist: Redis stores integer-looking strings as integers.
#[derive(Clone, Debug, PartialEq)]
pub enum Item<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Item<'_> {
    pub fn to_bytes(&self) -> bytes::Bytes {
        match self {
            Item::Str(s) => bytes::Bytes::copy_from_slice(s),
            Item::Int(i) => {
                bytes::Bytes::copy_from_slice(itoa::Buffer::new().format(*i).as_bytes())
            }
        }
    }
}

const HEADER: usize = 6;
const EOF: u8 = 0xff;

/// A listpack under construction, appending at the tail as `lpAppend` does.
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ListpackWriter {
    pub fn new() -> Self {
        ListpackWriter {
            buf: vec![0; HEADER],
            count: 0,
        }
    }

    /// A writer whose buffer holds `n` bytes before it grows.
    pub fn with_capacity(n: usize) -> Self {
        let mut buf = Vec::with_capacity(n.max(HEADER));
        buf.resize(HEADER, 0);
        ListpackWriter { buf, count: 0 }
    }

    /// The finished listpack, borrowed; call [`Self::reset`] before the next push.
    pub fn finish_ref(&mut self) -> &[u8] {
        self.seal();
        &self.buf
    }

    /// Empty again, keeping the buffer.
    pub fn reset(&mut self) {
        self.buf.truncate(HEADER);
        self.count = 0;
    }

    /// Bytes of the finished listpack so far (`lpBytes`), terminator included.
    pub fn bytes_len(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Appends a string, stored as an integer when it is the canonical form of one.
    pub fn push(&mut self, s: &[u8]) {
        match crate::store::set::as_int(s) {
            Some(i) => self.push_int(i),
            None => self.push_str(s),
        }
    }

    pub fn push_int(&mut self, v: i64) {
        if (0..=127).contains(&v) {
            // The common case (a stream entry's flags, deltas and counts): the value byte and
            // its one-byte back length.
            self.buf.extend_from_slice(&[v as u8, 1]);
            self.count += 1;
            return;
        }
        let start = self.buf.len();
        let b = &mut self.buf;
        if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            b.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
        } else if (-32768..=32767).contains(&v) {
            b.push(0xf1);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            b.push(0xf2);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            b.push(0xf3);
            b.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            b.push(0xf4);
            b.extend_from_slice(&v.to_le_bytes());
        }
        self.finish_entry(start);
    }

    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let b = &mut self.buf;
        let n = s.len();
        if n < 64 {
            // Header, bytes, and a back length of one byte (at most 64 < 128).
            b.reserve(n + 2);
            b.push(0x80 | n as u8);
            b.extend_from_slice(s);
            b.push(n as u8 + 1);
            self.count += 1;
            return;
        } else if n < 4096 {
            b.extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]);
        } else {
            b.push(0xf0);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let l = (self.buf.len() - start) as u64;
        let b = &mut self.buf;
        if l <= 127 {
            b.push(l as u8);
        } else if l < 16383 {
            b.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
        } else if l < 2_097_151 {
            b.extend_from_slice(&[
                (l >> 14) as u8,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else if l < 268_435_455 {
            b.extend_from_slice(&[
                (l >> 21) as u8,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else {
            b.extend_from_slice(&[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        }
        self.count += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.seal();
        self.buf
    }

    /// The terminator and the header's total length and count.
    fn seal(&mut self) {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
    }
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |a, &x| (a << 8) | x as u64)
}

/// Sign-extends the low `bits` bits of `u`.
fn sext(u: u64, bits: u32) -> i64 {
    ((u << (64 - bits)) as i64) >> (64 - bits)
}

/// Every element of a listpack, or `None` if the blob is not a well-formed listpack.
pub fn listpack_items(lp: &[u8]) -> Option<Vec<Item<'_>>> {
    if lp.len() < HEADER + 1 || le(&lp[0..4]) as usize != lp.len() || lp[lp.len() - 1] != EOF {
        return None;
    }
    let declared = le(&lp[4..6]) as usize;
    let end = lp.len() - 1;
    let mut p = HEADER;
    let mut items = Vec::new();
    while p < end {
        let e = lp[p];
        let (item, len) = match e {
            0x00..=0x7f => (Item::Int(e as i64), 1),
            0x80..=0xbf => {
                let n = (e & 0x3f) as usize;
                (Item::Str(lp.get(p + 1..p + 1 + n)?), 1 + n)
            }
            0xc0..=0xdf => {
                let u = (((e & 0x1f) as u64) << 8) | *lp.get(p + 1)? as u64;
                (Item::Int(sext(u, 13)), 2)
            }
            0xe0..=0xef => {
                let n = (((e & 0x0f) as usize) << 8) | *lp.get(p + 1)? as usize;
                (Item::Str(lp.get(p + 2..p + 2 + n)?), 2 + n)
            }
            0xf0 => {
                let n = le(lp.get(p + 1..p + 5)?) as usize;
                (Item::Str(lp.get(p + 5..(p + 5).checked_add(n)?)?), 5 + n)
            }
            0xf1 => (Item::Int(sext(le(lp.get(p + 1..p + 3)?), 16)), 3),
            0xf2 => (Item::Int(sext(le(lp.get(p + 1..p + 4)?), 24)), 4),
            0xf3 => (Item::Int(sext(le(lp.get(p + 1..p + 5)?), 32)), 5),
            0xf4 => (Item::Int(le(lp.get(p + 1..p + 9)?) as i64), 9),
            _ => return None,
        };
        // The backlen must encode `len` exactly as the writer does.
        let mut w = ListpackWriter {
            buf: Vec::new(),
            count: 0,
        };
        w.buf.resize(len, 0);
        w.finish_entry(0);
        let back = &w.buf[len..];
        if lp.get(p + len..p + len + back.len())? != back {
            return None;
        }
        p += len + back.len();
        if p > end {
            return None;
        }
        items.push(item);
    }
    if declared != 65535 && declared != items.len() {
        return None;
    }
    Some(items)
}

/// Every element of a ziplist, or `None` if the blob is not a well-formed ziplist.
pub fn ziplist_items(zl: &[u8]) -> Option<Vec<Item<'_>>> {
    const ZL_HEADER: usize = 10;
    if zl.len() < ZL_HEADER + 1 || le(&zl[0..4]) as usize != zl.len() || zl[zl.len() - 1] != EOF {
        return None;
    }
    let declared = le(&zl[8..10]) as usize;
    let end = zl.len() - 1;
    let mut p = ZL_HEADER;
    let mut items = Vec::new();
    let mut prev_len = 0usize;
    while p < end {
        let start = p;
        // prevlen
        let pl = if zl[p] < 254 {
            p += 1;
            zl[p - 1] as usize
        } else if zl[p] == 254 {
            p += 5;
            le(zl.get(p - 4..p)?) as usize
        } else {
            return None;
        };
        if pl != prev_len {
            return None;
        }
        let e = *zl.get(p)?;
        let item = match e >> 6 {
            0 => {
                let n = (e & 0x3f) as usize;
                p += 1;
                Item::Str(zl.get(p..p + n)?)
            }
            1 => {
                let n = (((e & 0x3f) as usize) << 8) | *zl.get(p + 1)? as usize;
                p += 2;
                Item::Str(zl.get(p..p + n)?)
            }
            2 => {
                if e != 0x80 {
                    return None;
                }
                let b = zl.get(p + 1..p + 5)?;
                let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                p += 5;
                Item::Str(zl.get(p..p.checked_add(n)?)?)
            }
            _ => {
                p += 1;
                match e {
                    0xc0 => Item::Int(sext(le(zl.get(p..p + 2)?), 16)),
                    0xd0 => Item::Int(sext(le(zl.get(p..p + 4)?), 32)),
                    0xe0 => Item::Int(le(zl.get(p..p + 8)?) as i64),
                    0xf0 => Item::Int(sext(le(zl.get(p..p + 3)?), 24)),
                    0xfe => Item::Int(sext(le(zl.get(p..p + 1)?), 8)),
                    0xf1..=0xfd => Item::Int((e & 0x0f) as i64 - 1),
                    _ => return None,
                }
            }
        };
        p += match (&item, e) {
            (Item::Str(s), _) => s.len(),
            (Item::Int(_), 0xc0) => 2,
            (Item::Int(_), 0xd0) => 4,
            (Item::Int(_), 0xe0) => 8,
            (Item::Int(_), 0xf0) => 3,
            (Item::Int(_), 0xfe) => 1,
            _ => 0,
        };
        if p > end {
            return None;
        }
        prev_len = p - start;
        items.push(item);
    }
    if declared != 65535 && declared != items.len() {
        return None;
    }
    Some(items)
}

/// An intset blob (`intset.c`) of sorted distinct integers, in the narrowest encoding that
/// holds them all.
pub fn intset_bytes(values: &[i64]) -> Vec<u8> {
    let width: usize = if values
        .iter()
        .all(|&v| (i16::MIN as i64..=i16::MAX as i64).contains(&v))
    {
        2
    } else if values
        .iter()
        .all(|&v| (i32::MIN as i64..=i32::MAX as i64).contains(&v))
    {
        4
    } else {
        8
    };
    let mut b = Vec::with_capacity(8 + width * values.len());
    b.extend_from_slice(&(width as u32).to_le_bytes());
    b.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values {
        b.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    b
}

/// The integers of an intset blob, or `None` when it is malformed or not strictly sorted.
pub fn intset_values(b: &[u8]) -> Option<Vec<i64>> {
    if b.len() < 8 {
        return None;
    }
    let width = le(&b[0..4]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return None;
    }
    let n = le(&b[4..8]) as usize;
    if n.checked_mul(width)? != b.len() - 8 {
        return None;
    }
    let vals: Vec<i64> = b[8..]
        .chunks_exact(width)
        .map(|c| sext(le(c), width as u32 * 8))
        .collect();
    vals.windows(2).all(|w| w[0] < w[1]).then_some(vals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trip() {
        let vals: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"-1".to_vec(),
            b"-4096".to_vec(),
            b"4095".to_vec(),
            b"30000".to_vec(),
            b"-8000000".to_vec(),
            b"2000000000".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"abc".to_vec(),
            vec![b'x'; 100],
            vec![b'y'; 5000],
            b"007".to_vec(),
        ];
        let mut w = ListpackWriter::new();
        for v in &vals {
            w.push(v);
        }
        let lp = w.finish();
        let items = listpack_items(&lp).unwrap();
        let back: Vec<Vec<u8>> = items.iter().map(|i| i.to_bytes().to_vec()).collect();
        assert_eq!(back, vals);
    }

    #[test]
    fn intset_round_trip() {
        for vals in [vec![1, 2, 3], vec![-70000, 5], vec![i64::MIN, 0, i64::MAX]] {
            assert_eq!(intset_values(&intset_bytes(&vals)).unwrap(), vals);
        }
    }
}
