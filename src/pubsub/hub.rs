//! The pub/sub hub (not yet implemented: no channels exist).

use crate::connection::ClientState;

#[derive(Default)]
pub struct Hub {}

impl Hub {
    pub fn new() -> Self {
        Hub {}
    }

    /// (channels, patterns, shard channels) with at least one subscriber, for INFO.
    pub fn counts(&self) -> (usize, usize, usize) {
        (0, 0, 0)
    }

    /// Drop every subscription of a client (disconnect, RESET).
    pub fn remove_client(&self, client: &mut ClientState) {
        client.subs.clear();
        client.psubs.clear();
        client.ssubs.clear();
    }
}
