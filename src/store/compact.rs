//! [`CompactBytes`]: how the keyspace stores a key's name and a string value. Up to [`INLINE`]
//! bytes (most names: `user:1000`, `queue:jobs`; counters, flags, short tokens) live inside the
//! 24-byte handle itself; longer content in one exact-size heap allocation. A `Bytes` handle is
//! 32 bytes plus its own allocation (16 bytes for 10 bytes of content), so short content costs
//! 24 bytes instead of 48. As the handle's tag byte leaves spare values, `Value` (whose other
//! variants are boxes) is 24 bytes too.
//!
//! Lookups borrow it as `&[u8]` (it hashes and compares as the slice does); callers that keep
//! the content beyond the store lock (replies, SCAN, AOF) take a `Bytes` copy
//! ([`CompactBytes::to_bytes`]), as Redis copies a value into a client's reply buffer.

use bytes::Bytes;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest key stored inline.
pub const INLINE: usize = 22;

#[derive(Clone)]
pub enum CompactBytes {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl CompactBytes {
    pub fn new(b: &[u8]) -> CompactBytes {
        if b.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..b.len()].copy_from_slice(b);
            CompactBytes::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            CompactBytes::Heap(b.into())
        }
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            CompactBytes::Inline { len, buf } => &buf[..*len as usize],
            CompactBytes::Heap(b) => b,
        }
    }

    /// A `Bytes` copy, to keep the name beyond the store lock.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_slice())
    }

    /// Bytes allocated on the heap for this name (0 when inline).
    pub fn heap_size(&self) -> usize {
        match self {
            CompactBytes::Inline { .. } => 0,
            CompactBytes::Heap(b) => b.len(),
        }
    }
}

impl Deref for CompactBytes {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for CompactBytes {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for CompactBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Hashes as the slice does, so lookups by `&[u8]` find it.
impl Hash for CompactBytes {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl PartialEq for CompactBytes {
    #[inline]
    fn eq(&self, other: &CompactBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for CompactBytes {}

impl PartialOrd for CompactBytes {
    fn partial_cmp(&self, other: &CompactBytes) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CompactBytes {
    fn cmp(&self, other: &CompactBytes) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl std::fmt::Debug for CompactBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self.as_slice()))
    }
}

impl Default for CompactBytes {
    fn default() -> CompactBytes {
        CompactBytes::Inline {
            len: 0,
            buf: [0; INLINE],
        }
    }
}

impl From<&[u8]> for CompactBytes {
    fn from(b: &[u8]) -> CompactBytes {
        CompactBytes::new(b)
    }
}

impl From<&str> for CompactBytes {
    fn from(s: &str) -> CompactBytes {
        CompactBytes::new(s.as_bytes())
    }
}

impl From<&Bytes> for CompactBytes {
    fn from(b: &Bytes) -> CompactBytes {
        CompactBytes::new(b)
    }
}

impl From<Bytes> for CompactBytes {
    fn from(b: Bytes) -> CompactBytes {
        CompactBytes::new(&b)
    }
}

/// Takes the vector's buffer when the content does not fit inline (trimmed to its length).
impl From<Vec<u8>> for CompactBytes {
    fn from(v: Vec<u8>) -> CompactBytes {
        if v.len() <= INLINE {
            CompactBytes::new(&v)
        } else {
            CompactBytes::Heap(v.into_boxed_slice())
        }
    }
}

impl From<String> for CompactBytes {
    fn from(s: String) -> CompactBytes {
        CompactBytes::from(s.into_bytes())
    }
}

impl From<CompactBytes> for Vec<u8> {
    fn from(c: CompactBytes) -> Vec<u8> {
        match c {
            CompactBytes::Inline { len, buf } => buf[..len as usize].to_vec(),
            CompactBytes::Heap(b) => b.into_vec(),
        }
    }
}

impl PartialEq<[u8]> for CompactBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of<T: Hash + ?Sized>(t: &T) -> u64 {
        let mut h = DefaultHasher::new();
        t.hash(&mut h);
        h.finish()
    }

    #[test]
    fn short_keys_are_inline_and_every_key_behaves_as_its_bytes() {
        assert_eq!(std::mem::size_of::<CompactBytes>(), 24);
        for n in [0, 1, 10, INLINE, INLINE + 1, 100] {
            let b: Vec<u8> = (0..n as u8).collect();
            let k = CompactBytes::new(&b);
            assert_eq!(matches!(k, CompactBytes::Inline { .. }), n <= INLINE);
            assert_eq!(&k[..], &b[..]);
            assert_eq!(hash_of(&k), hash_of(&b[..]));
            assert_eq!(k.to_bytes(), Bytes::from(b.clone()));
            assert_eq!(k.clone(), k);
            assert_eq!(k.heap_size(), if n <= INLINE { 0 } else { n });
        }
        assert!(CompactBytes::new(b"a") < CompactBytes::new(b"b"));
        assert!(CompactBytes::new(b"a") != CompactBytes::new(b"a\0"));
    }
}
