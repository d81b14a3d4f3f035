//! The value types a key can hold, and what the generic keyspace commands need from each
//! (TYPE, OBJECT ENCODING, MEMORY USAGE, AOF rewrite).

use bytes::Bytes;

use super::CompactBytes;
use super::hash::Hash;
use super::list::List;
use super::set::Set;
use super::stream::Stream;
use super::zset::ZSet;

#[derive(Clone)]
pub enum Value {
    Str(CompactBytes),
    List(Box<List>),
    Stream(Box<Stream>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Str(b) => write!(f, "Str({b:?})"),
            Value::List(l) => write!(f, "List(len {})", l.len()),
            Value::Stream(_) => write!(f, "Stream"),
            Value::Hash(h) => write!(f, "Hash(len {})", h.len()),
            Value::Set(s) => write!(f, "Set(len {})", s.len()),
            Value::ZSet(z) => write!(f, "ZSet(len {})", z.len()),
        }
    }
}

/// Redis's AOF_REWRITE_ITEMS_PER_CMD: elements per rewritten command.
const REWRITE_BATCH: usize = 64;

/// Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT.
pub const EMBSTR_MAX: usize = 44;

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Stream(_) => "stream",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// The encoding OBJECT ENCODING reports, following Redis's rules for the same content.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(b) => {
                if b.len() <= 20 && crate::protocol::request::parse_i64(b).is_some() {
                    "int"
                } else if b.len() <= EMBSTR_MAX {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::List(l) => l.encoding(),
            Value::Stream(_) => "stream",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// OBJECT REFCOUNT / DEBUG OBJECT's refcount: Redis shares the objects of the integers
    /// 0..9999 (OBJ_SHARED_INTEGERS), whose refcount is INT_MAX; every other value has 1.
    pub fn refcount(&self) -> i64 {
        match self {
            Value::Str(b) if self.encoding() == "int" => match crate::num::string2ll(b) {
                Some(0..=9999) => i32::MAX as i64,
                _ => 1,
            },
            _ => 1,
        }
    }

    /// Bytes this value really occupies (allocations included), for MEMORY USAGE and maxmemory.
    pub fn mem_usage(&self) -> usize {
        std::mem::size_of::<Value>()
            + match self {
                Value::Str(b) => b.len(),
                Value::List(l) => l.mem_usage(),
                Value::Stream(s) => s.mem_usage(),
                Value::Hash(h) => h.mem_usage(),
                Value::Set(s) => s.mem_usage(),
                Value::ZSet(z) => z.mem_usage(),
            }
    }

    /// Commands that recreate this value under `key` (AOF rewrite), appended to `out`.
    pub fn rewrite(&self, key: &Bytes, out: &mut Vec<Vec<Bytes>>) {
        match self {
            Value::Str(b) => out.push(vec![Bytes::from_static(b"SET"), key.clone(), b.to_bytes()]),
            Value::List(l) => {
                let mut cmd = Vec::new();
                for item in l.iter() {
                    if cmd.is_empty() {
                        cmd = vec![Bytes::from_static(b"RPUSH"), key.clone()];
                    }
                    cmd.push(Bytes::copy_from_slice(item));
                    if cmd.len() - 2 == REWRITE_BATCH {
                        out.push(std::mem::take(&mut cmd));
                    }
                }
                if !cmd.is_empty() {
                    out.push(cmd);
                }
            }
            Value::Stream(s) => s.rewrite(key, out),
            Value::Hash(h) => batches(
                b"HSET",
                key,
                h.iter().flat_map(|(f, v)| [f.clone(), v.clone()]),
                2,
                out,
            ),
            Value::Set(s) => batches(b"SADD", key, s.iter(), 1, out),
            Value::ZSet(z) => batches(
                b"ZADD",
                key,
                z.iter().flat_map(|e| {
                    let score = crate::protocol::reply::format_double(e.score);
                    [Bytes::from(score), e.member.clone()]
                }),
                2,
                out,
            ),
        }
    }
}

/// `cmd key item...` commands of at most [`REWRITE_BATCH`] elements (`per` items each).
fn batches(
    cmd: &'static [u8],
    key: &Bytes,
    items: impl Iterator<Item = Bytes>,
    per: usize,
    out: &mut Vec<Vec<Bytes>>,
) {
    let mut c: Vec<Bytes> = Vec::new();
    for item in items {
        if c.is_empty() {
            c = vec![Bytes::from_static(cmd), key.clone()];
        }
        c.push(item);
        if c.len() - 2 == REWRITE_BATCH * per {
            out.push(std::mem::take(&mut c));
        }
    }
    if !c.is_empty() {
        out.push(c);
    }
}
