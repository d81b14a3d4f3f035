//! The effects log: what an execution unit changed, recorded while it runs and handed to the
//! consumers (the AOF today, replicas next) once, in order, when the unit ends.
//!
//! # API
//! - [`EffectsLog::record`] appends one effect (the argv to replay and its database). Inside a
//!   transaction (`EXEC`, a script) effects go to the transaction's block instead
//!   ([`EffectsLog::record_tx`]); [`EffectsLog::close_tx`] appends that block to the log, wrapped
//!   in `MULTI`/`EXEC` when it holds more than one effect (Redis's `alsoPropagate` +
//!   `propagatePendingCommands`). Effects raised by the keyspace itself while a transaction runs
//!   (the `DEL` of a key that lazy expiry removed) are recorded outside the block, before it.
//! - [`EffectsLog::drain`] gives every recorded effect to one or more [`EffectsConsumer`]s and
//!   empties the log. The engine drains at the end of every outermost unit (a command, an
//!   `EXEC`, a served waiter, an active-expiry pass), still under the store lock, so consumers
//!   see effects in execution order.
//!
//! Nothing here knows what a consumer does with an effect: adding one (a replica link) touches
//! no command handler.

use bytes::Bytes;

use crate::protocol::encode_command;

/// Where one effect lies in a log's buffer, and its database.
#[derive(Debug, Clone, Copy)]
struct Op {
    db: usize,
    start: usize,
    end: usize,
}

/// Something that replays effects: the AOF sink, a replica's stream. Each consumer tracks the
/// database it last selected and emits `SELECT` itself when an effect is for another one.
pub trait EffectsConsumer {
    /// One unit's effects, in execution order: (database, command encoded as a RESP array of
    /// bulk strings — what the AOF and a replica's stream carry). Called once per drain, so a
    /// consumer can take its own lock once for the whole unit.
    fn consume(&mut self, effects: Batch<'_>);
}

/// The effects of one drained unit, in order.
#[derive(Clone, Copy)]
pub struct Batch<'a> {
    buf: &'a [u8],
    ops: &'a [Op],
}

impl<'a> Batch<'a> {
    pub fn iter(&self) -> impl Iterator<Item = (usize, &'a [u8])> + 'a {
        let buf = self.buf;
        self.ops.iter().map(move |o| (o.db, &buf[o.start..o.end]))
    }
}

/// Effects are encoded when recorded (into one reused buffer), so recording copies no
/// argument and allocates nothing once the buffers have grown.
#[derive(Default)]
pub struct EffectsLog {
    /// Effects ready for the consumers, in execution order.
    buf: Vec<u8>,
    ops: Vec<Op>,
    /// The open transaction's block (see [`EffectsLog::close_tx`]).
    tx_buf: Vec<u8>,
    tx_ops: Vec<Op>,
}

fn push(buf: &mut Vec<u8>, ops: &mut Vec<Op>, db: usize, argv: &[Bytes]) {
    let start = buf.len();
    encode_command(argv, buf);
    ops.push(Op {
        db,
        start,
        end: buf.len(),
    });
}

impl EffectsLog {
    /// Record an effect outside any transaction block.
    #[inline]
    pub fn record(&mut self, db: usize, argv: &[Bytes]) {
        push(&mut self.buf, &mut self.ops, db, argv);
    }

    /// Record an effect of the open transaction.
    #[inline]
    pub fn record_tx(&mut self, db: usize, argv: &[Bytes]) {
        push(&mut self.tx_buf, &mut self.tx_ops, db, argv);
    }

    /// End the open transaction: its block joins the log, in `MULTI`/`EXEC` when it holds more
    /// than one effect (one effect is replayed as it is, as Redis does).
    pub fn close_tx(&mut self) {
        let n = self.tx_ops.len();
        if n == 0 {
            return;
        }
        let (first, last) = (self.tx_ops[0].db, self.tx_ops[n - 1].db);
        if n > 1 {
            push(
                &mut self.buf,
                &mut self.ops,
                first,
                &[Bytes::from_static(b"MULTI")],
            );
        }
        let base = self.buf.len();
        self.buf.extend_from_slice(&self.tx_buf);
        self.ops.extend(self.tx_ops.iter().map(|o| Op {
            db: o.db,
            start: o.start + base,
            end: o.end + base,
        }));
        if n > 1 {
            push(
                &mut self.buf,
                &mut self.ops,
                last,
                &[Bytes::from_static(b"EXEC")],
            );
        }
        self.tx_buf.clear();
        self.tx_ops.clear();
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.tx_ops.is_empty()
    }

    /// Hand every recorded effect to `consumers`, in order, and empty the log. A transaction
    /// block left open (its unit was aborted by a panic) is closed first, so what it did is
    /// still replayed as one block.
    pub fn drain(&mut self, consumers: &mut [&mut dyn EffectsConsumer]) {
        self.close_tx();
        let batch = Batch {
            buf: &self.buf,
            ops: &self.ops,
        };
        for c in consumers.iter_mut() {
            c.consume(batch);
        }
        self.clear();
    }

    /// Forget what was recorded (nobody consumes it). Buffers that grew large (a big
    /// transaction) are given back rather than kept for the next unit.
    pub fn clear(&mut self) {
        const KEEP: usize = 64 * 1024;
        for b in [&mut self.buf, &mut self.tx_buf] {
            if b.capacity() > KEEP {
                *b = Vec::new();
            } else {
                b.clear();
            }
        }
        self.ops.clear();
        self.tx_ops.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder {
        seen: Vec<String>,
        batches: usize,
    }

    impl EffectsConsumer for Recorder {
        fn consume(&mut self, effects: Batch<'_>) {
            for (db, command) in effects.iter() {
                // The bulk strings of the RESP array, joined by spaces.
                let text = String::from_utf8_lossy(command);
                let words: Vec<&str> = text
                    .split("\r\n")
                    .skip(2)
                    .step_by(2)
                    .filter(|w| !w.is_empty())
                    .collect();
                self.seen.push(format!("{db}:{}", words.join(" ")));
            }
            self.batches += 1;
        }
    }

    fn argv(s: &str) -> Vec<Bytes> {
        s.split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn a_transaction_of_several_effects_is_wrapped_once() {
        let mut log = EffectsLog::default();
        log.record_tx(0, &argv("SET a 1"));
        log.record(0, &argv("DEL expired"));
        log.record_tx(1, &argv("SET b 2"));
        log.close_tx();
        log.record(1, &argv("DEL later"));
        let mut r = Recorder::default();
        log.drain(&mut [&mut r]);
        assert_eq!(
            r.seen,
            [
                "0:DEL expired",
                "0:MULTI",
                "0:SET a 1",
                "1:SET b 2",
                "1:EXEC",
                "1:DEL later"
            ]
        );
        assert_eq!(r.batches, 1);
        assert!(log.is_empty());
    }

    #[test]
    fn a_single_effect_is_not_wrapped_and_an_open_block_is_closed_by_drain() {
        let mut log = EffectsLog::default();
        log.record_tx(0, &argv("INCR n"));
        log.close_tx();
        log.record_tx(0, &argv("SET x 1"));
        log.record_tx(0, &argv("SET y 1"));
        let (mut a, mut b) = (Recorder::default(), Recorder::default());
        log.drain(&mut [&mut a, &mut b]);
        let want = ["0:INCR n", "0:MULTI", "0:SET x 1", "0:SET y 1", "0:EXEC"];
        assert_eq!(a.seen, want);
        assert_eq!(b.seen, want, "every consumer sees the same stream");
    }
}
