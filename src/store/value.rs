//! The value types a key can hold, and what the generic keyspace commands need from each
//! (TYPE, OBJECT ENCODING, MEMORY USAGE, AOF rewrite).

use bytes::Bytes;

use super::list::List;
use super::stream::Stream;

#[derive(Clone)]
pub enum Value {
    Str(Bytes),
    List(List),
    Stream(Box<Stream>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Str(b) => write!(f, "Str({b:?})"),
            Value::List(l) => write!(f, "List(len {})", l.len()),
            Value::Stream(_) => write!(f, "Stream"),
        }
    }
}

/// Redis's AOF_REWRITE_ITEMS_PER_CMD: elements per rewritten command.
const REWRITE_BATCH: usize = 64;

/// Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT.
const EMBSTR_MAX: usize = 44;

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Stream(_) => "stream",
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
        }
    }

    /// Bytes this value really occupies (allocations included), for MEMORY USAGE and maxmemory.
    pub fn mem_usage(&self) -> usize {
        std::mem::size_of::<Value>()
            + match self {
                Value::Str(b) => b.len(),
                Value::List(l) => l.mem_usage(),
                Value::Stream(s) => s.mem_usage(),
            }
    }

    /// Commands that recreate this value under `key` (AOF rewrite), appended to `out`.
    pub fn rewrite(&self, key: &Bytes, out: &mut Vec<Vec<Bytes>>) {
        match self {
            Value::Str(b) => out.push(vec![Bytes::from_static(b"SET"), key.clone(), b.clone()]),
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
        }
    }
}
