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
            // Broker state (FMQ.* policies and schedules) means nothing to a Redis replica,
            // which would refuse the command: it receives only what that state produces (the
            // XADD of a due message, the XCLAIM of a redelivery, the XTRIM of a retention).
            if is_broker_effect(command) {
                continue;
            }
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

/// Whether an encoded command (`*N\r\n$L\r\nNAME...`) is one of the `FMQ.*` commands.
fn is_broker_effect(encoded: &[u8]) -> bool {
    let mut lines = encoded.splitn(3, |&b| b == b'\n');
    let (Some(_), Some(_), Some(name)) = (lines.next(), lines.next(), lines.next()) else {
        return false;
    };
    name.len() >= 4 && name[..4].eq_ignore_ascii_case(b"FMQ.")
}

#[cfg(test)]
mod tests {
    #[test]
    fn broker_effects_are_recognised_by_name() {
        let enc = |argv: &[&str]| {
            let v: Vec<bytes::Bytes> = argv
                .iter()
                .map(|a| bytes::Bytes::from(a.to_string()))
                .collect();
            let mut out = Vec::new();
            crate::protocol::encode_command(&v, &mut out);
            out
        };
        assert!(super::is_broker_effect(&enc(&["FMQ.SCHEDULE", "AT", "1"])));
        assert!(super::is_broker_effect(&enc(&["fmq.cancel", "1-1"])));
        assert!(!super::is_broker_effect(&enc(&[
            "XADD", "fmq.x", "*", "a", "b"
        ])));
        assert!(!super::is_broker_effect(&enc(&["FMQ"])));
    }
}
