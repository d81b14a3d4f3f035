//! Replicas attached with SYNC or PSYNC: each is one more consumer of the effects log
//! ([`super::effects`]), fed exactly what the AOF gets (a `SELECT` where the database changes,
//! then each effect as a RESP command), into the replica connection's outbox.
//!
//! What a replica receives when it attaches (`command::replication`): an RDB of the dataset,
//! then the live stream from this link, both decided under the store lock so nothing falls
//! between the snapshot and the stream.

use bytes::Bytes;
use std::sync::Arc;

use super::effects::{Batch, EffectsConsumer};
use crate::connection::ClientHandle;
use crate::protocol::encode_command;

pub struct ReplicaLink {
    handle: Arc<ClientHandle>,
    /// Database the stream is in (None: the next effect selects its database).
    selected: Option<usize>,
}

impl ReplicaLink {
    pub fn new(handle: Arc<ClientHandle>) -> ReplicaLink {
        ReplicaLink {
            handle,
            selected: None,
        }
    }

    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// False once the replica's connection is going away (the link is then dropped).
    pub fn is_connected(&self) -> bool {
        !self.handle.outbox.is_closing()
    }
}

impl EffectsConsumer for ReplicaLink {
    fn consume(&mut self, effects: Batch<'_>) {
        let mut out = Vec::new();
        for (db, command) in effects.iter() {
            if self.selected != Some(db) {
                let select = [Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())];
                encode_command(&select, &mut out);
                self.selected = Some(db);
            }
            out.extend_from_slice(command);
        }
        self.handle.outbox.push_bytes(&out);
        self.handle.outbox.wake();
    }
}
