//! The wire: request decoding (multibulk and inline, with Redis's limits and error texts) and
//! reply encoding to RESP2 or RESP3. This module is the only place that knows the difference
//! between the two protocol versions: command handlers build a protocol-agnostic [`Reply`].

pub mod reply;
pub mod request;

pub use reply::{Reply, encode, encode_command};
pub use request::{ParseError, RequestParser};
