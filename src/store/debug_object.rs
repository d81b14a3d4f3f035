//! What DEBUG OBJECT reports about a value beyond its encoding: the length Redis's RDB
//! serialisation would give it, and for lists the quicklist layout (nodes of listpacks).
//!
//! ferrymq keeps neither RDB nor listpacks, so both are computed from the contents with
//! Redis 7.0's size rules (listpack entry encodings, RDB length prefixes, integer-encoded
//! strings, quicklist nodes filled up to `list-max-listpack-size`). Pure functions, no
//! protocol.
//!
//! DEVIATION(redis): RDB's LZF compression of strings longer than 20 bytes is not applied, so
//! `serializedlength` is larger than Redis's for compressible values; lists are laid out as if
//! built by appends at the tail (Redis's nodes depend on the history of the list); hashes,
//! sets, sorted sets and streams use the sizes of their elements as plain RDB strings.

use super::value::Value;

/// RDB length prefix of `n` (6, 14, 32 or 64 bits).
fn rdb_len_size(n: usize) -> usize {
    if n < 1 << 6 {
        1
    } else if n < 1 << 14 {
        2
    } else if n <= u32::MAX as usize {
        5
    } else {
        9
    }
}

/// A string as RDB writes it: as an 8/16/32-bit integer when it is one (canonical form, at
/// most 11 bytes), else length and bytes.
fn rdb_string_size(s: &[u8]) -> usize {
    if s.len() <= 11
        && let Some(v) = crate::num::string2ll(s)
    {
        if i8::try_from(v).is_ok() {
            return 2;
        }
        if i16::try_from(v).is_ok() {
            return 3;
        }
        if i32::try_from(v).is_ok() {
            return 5;
        }
    }
    rdb_len_size(s.len()) + s.len()
}

/// Bytes of one listpack entry holding `s` (encoding, data, back-length).
pub fn listpack_entry_size(s: &[u8]) -> usize {
    let enc = match crate::num::string2ll(s).filter(|_| s.len() <= 20) {
        Some(v) if (0..=127).contains(&v) => 1,
        Some(v) if (-4096..=4095).contains(&v) => 2,
        Some(v) if (-32768..=32767).contains(&v) => 3,
        Some(v) if (-8388608..=8388607).contains(&v) => 4,
        Some(v) if i32::try_from(v).is_ok() => 5,
        Some(_) => 9,
        None if s.len() < 64 => 1 + s.len(),
        None if s.len() < 4096 => 2 + s.len(),
        None => 5 + s.len(),
    };
    let back = match enc {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    };
    enc + back
}

/// Listpack header (total bytes, element count) and end marker.
const LISTPACK_OVERHEAD: usize = 7;

/// A list's quicklist as Redis would build it by appending `items` with
/// `list-max-listpack-size` `fill`: the byte size of each node's listpack.
pub fn quicklist_nodes<'a>(
    items: impl Iterator<Item = &'a [u8]>,
    fill: i64,
) -> Vec<(usize, usize)> {
    const SIZES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
    let max_bytes = if fill < 0 {
        SIZES[((-fill) as usize - 1).min(4)]
    } else {
        usize::MAX
    };
    // (bytes, count) per node.
    let mut nodes: Vec<(usize, usize)> = Vec::new();
    for it in items {
        let add = listpack_entry_size(it);
        let fits = nodes.last().is_some_and(|&(sz, count)| {
            let new_sz = sz + add;
            if fill >= 0 {
                // A count limit, and the safety size limit on top.
                count < fill.max(1) as usize && new_sz <= 8192
            } else {
                new_sz <= max_bytes
            }
        });
        match nodes.last_mut() {
            Some(last) if fits => {
                last.0 += add;
                last.1 += 1;
            }
            _ => nodes.push((LISTPACK_OVERHEAD + add, 1)),
        }
    }
    nodes
}

/// A listpack saved as one RDB string, from the sizes of its entries.
fn listpack_blob(entries: impl Iterator<Item = usize>) -> usize {
    let bytes = LISTPACK_OVERHEAD + entries.sum::<usize>();
    rdb_len_size(bytes) + bytes
}

/// RDB length of `v` without compression (see the module documentation); `fill` is
/// `list-max-listpack-size`.
pub fn serialized_length(v: &Value, fill: i64) -> usize {
    match v {
        Value::Str(s) => rdb_string_size(s),
        Value::List(l) => {
            let nodes = quicklist_nodes(l.iter(), fill);
            rdb_len_size(nodes.len())
                + nodes
                    .iter()
                    .map(|&(sz, _)| 1 + rdb_len_size(sz) + sz)
                    .sum::<usize>()
        }
        Value::Hash(h) if h.encoding() == "listpack" => listpack_blob(
            h.iter()
                .flat_map(|(f, v)| [listpack_entry_size(f), listpack_entry_size(v)]),
        ),
        Value::Hash(h) => {
            rdb_len_size(h.len())
                + h.iter()
                    .map(|(f, v)| rdb_string_size(f) + rdb_string_size(v))
                    .sum::<usize>()
        }
        Value::Set(s) if s.encoding() == "intset" => {
            // Header (encoding, length) and one fixed-width integer per member.
            let width = s
                .iter()
                .filter_map(|m| crate::num::string2ll(&m))
                .map(|v| {
                    if i16::try_from(v).is_ok() {
                        2
                    } else if i32::try_from(v).is_ok() {
                        4
                    } else {
                        8
                    }
                })
                .max()
                .unwrap_or(2);
            let bytes = 8 + width * s.len();
            rdb_len_size(bytes) + bytes
        }
        Value::Set(s) => {
            rdb_len_size(s.len()) + s.iter().map(|m| rdb_string_size(&m)).sum::<usize>()
        }
        Value::ZSet(z) => {
            rdb_len_size(z.len())
                + z.iter()
                    .map(|e| rdb_string_size(&e.member) + 8)
                    .sum::<usize>()
        }
        Value::Stream(s) => rdb_len_size(s.len() as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes redis-server 7.0.15 reports (DEBUG OBJECT) for the same contents.
    #[test]
    fn sizes_match_redis_for_small_values() {
        assert_eq!(
            serialized_length(&Value::Str(crate::store::CompactBytes::new(b"hello")), -2),
            6
        );
        assert_eq!(
            serialized_length(&Value::Str(crate::store::CompactBytes::new(b"12345")), -2),
            3
        );
        let items: [&[u8]; 3] = [b"a", b"b", b"c"];
        let nodes = quicklist_nodes(items.iter().copied(), -2);
        assert_eq!(nodes, vec![(16, 3)]);
        let mut l = crate::store::list::List::new();
        for it in items {
            l.push_back(it);
        }
        assert_eq!(serialized_length(&Value::List(Box::new(l)), -2), 19);
    }

    #[test]
    fn nodes_split_at_the_fill_limit() {
        let big = vec![b'x'; 1000];
        let items = std::iter::repeat_n(&big[..], 20);
        let nodes = quicklist_nodes(items, -2);
        assert!(nodes.iter().all(|&(sz, _)| sz <= 8192));
        assert_eq!(nodes.iter().map(|n| n.1).sum::<usize>(), 20);
        let counted = quicklist_nodes(std::iter::repeat_n(&b"a"[..], 10), 4);
        assert_eq!(
            counted.iter().map(|n| n.1).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
    }
}
