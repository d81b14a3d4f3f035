//! The value types a key can hold, and what the generic keyspace commands need from each
//! (TYPE, OBJECT ENCODING, MEMORY USAGE, AOF rewrite).

use bytes::Bytes;

use super::stream::Stream;

#[derive(Debug, Clone)]
pub enum Value {
    Str(Bytes),
    Stream(Box<Stream>),
}

/// Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT.
const EMBSTR_MAX: usize = 44;

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
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
            Value::Stream(_) => "stream",
        }
    }

    /// Bytes this value really occupies (allocations included), for MEMORY USAGE and maxmemory.
    pub fn mem_usage(&self) -> usize {
        std::mem::size_of::<Value>()
            + match self {
                Value::Str(b) => b.len(),
                Value::Stream(s) => s.mem_usage(),
            }
    }

    /// Commands that recreate this value under `key` (AOF rewrite), appended to `out`.
    pub fn rewrite(&self, key: &Bytes, out: &mut Vec<Vec<Bytes>>) {
        match self {
            Value::Str(b) => out.push(vec![Bytes::from_static(b"SET"), key.clone(), b.clone()]),
            Value::Stream(s) => s.rewrite(key, out),
        }
    }
}
