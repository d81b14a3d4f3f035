//! The execution engine: what runs behind the store lock besides the keyspace.
//!
//! - [`effects`]: the effects log every unit records into and the one drain to its consumers.

pub mod effects;
