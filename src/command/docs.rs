//! COMMAND DOCS data: what redis-server 7.0.15 answers for each command and subcommand
//! (`docs.tsv`, captured with `tools/capture_command_docs.py`), kept as the reply's own
//! structure so RESP2 and RESP3 clients get Redis's exact replies (maps, and the sets RESP3
//! shows for `history` and argument `flags`).
//!
//! A line is `full_name<TAB>tokens`, tokens separated by one space: `%N` map of N pairs, `*N`
//! array, `~N` set, `:N` integer, `+text` simple string, `$N:bytes` bulk string of N bytes
//! (which may contain spaces). The `subcommands` field is not stored: COMMAND DOCS builds it
//! from the subcommands the table has.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::protocol::Reply;

const DOCS_TSV: &str = include_str!("docs.tsv");

fn by_name() -> &'static HashMap<&'static str, &'static str> {
    static MAP: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        DOCS_TSV
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .collect()
    })
}

/// The docs map fields of `full_name` (without `subcommands`), or None for a command Redis
/// does not document.
pub fn fields(full_name: &str) -> Option<Vec<(Reply, Reply)>> {
    let tokens = by_name().get(full_name)?;
    let mut rest = tokens.as_bytes();
    match parse(&mut rest) {
        Reply::Map(fields) if rest.is_empty() => Some(fields),
        _ => panic!("docs.tsv: malformed entry for {full_name}"),
    }
}

/// One value from the front of `s` (and the space after it).
fn parse(s: &mut &[u8]) -> Reply {
    let kind = s[0];
    let end = s
        .iter()
        .position(|&c| c == b' ' || c == b':' && kind == b'$');
    let head = std::str::from_utf8(&s[1..end.unwrap_or(s.len())]).expect("utf-8");
    if kind == b'$' {
        let len: usize = head.parse().expect("bulk length");
        let start = end.expect("bulk") + 1;
        let v = Reply::bulk_str(std::str::from_utf8(&s[start..start + len]).expect("utf-8"));
        *s = s.get(start + len + 1..).unwrap_or(&[]);
        return v;
    }
    *s = s.get(end.map_or(s.len(), |e| e + 1)..).unwrap_or(&[]);
    match kind {
        b'+' => Reply::Status(head.to_string().into()),
        b':' => Reply::Int(head.parse().expect("integer")),
        b'%' => {
            let n: usize = head.parse().expect("map length");
            Reply::Map((0..n).map(|_| (parse(s), parse(s))).collect())
        }
        b'*' | b'~' => {
            let n: usize = head.parse().expect("length");
            let items = (0..n).map(|_| parse(s)).collect();
            if kind == b'*' {
                Reply::Array(items)
            } else {
                Reply::Set(items)
            }
        }
        _ => panic!("docs.tsv: unknown token {}", kind as char),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_entry_parses() {
        for name in super::by_name().keys() {
            assert!(super::fields(name).is_some(), "{name}");
        }
    }
}
