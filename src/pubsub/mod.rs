//! Publish/subscribe: lives outside the store (it is not persisted and needs no ordering with
//! data), see `hub`. The glob matcher is shared with KEYS, SCAN and CONFIG GET.

pub mod glob;
pub mod hub;
pub mod pattern_index;

pub use hub::Hub;
