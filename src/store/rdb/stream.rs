//! Streams in RDB: the nodes as listpacks in Redis's stream layout (master entry, then
//! entries delta-encoded against it), the counters, and the consumer groups with their
//! pending entries and consumers (`RDB_TYPE_STREAM_LISTPACKS_2`; `RDB_TYPE_STREAM_LISTPACKS`
//! of Redis 5 and 6 is read too).

use bytes::Bytes;

use super::listpack::{Item, ListpackWriter, listpack_items};
use super::{Encodings, Error, Reader, Result, bad, write_len, write_string};
use crate::store::stream::{LoadEntry, NackMode, Stream, StreamId};

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

fn raw_id(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

fn id_of_raw(b: &[u8]) -> Result<StreamId> {
    if b.len() != 16 {
        return Err(bad("stream ID of the wrong size"));
    }
    Ok(StreamId {
        ms: u64::from_be_bytes(b[..8].try_into().expect("8")),
        seq: u64::from_be_bytes(b[8..].try_into().expect("8")),
    })
}

fn write_id(out: &mut Vec<u8>, id: StreamId) {
    write_len(out, id.ms);
    write_len(out, id.seq);
}

/// The body of a stream value (after its type byte).
pub fn write(out: &mut Vec<u8>, s: &Stream, enc: &Encodings) {
    let nodes = s.stored_nodes();
    write_len(out, nodes.len() as u64);
    // One listpack buffer for every node.
    let mut w = ListpackWriter::with_capacity(4096 + 256);
    for n in nodes {
        write_string(out, &raw_id(n.master), enc);
        w.reset();
        w.push_int(i64::from(n.live));
        w.push_int(i64::from(n.deleted));
        let master_fields = n.master_fields();
        w.push_int(master_fields.len() as i64);
        for f in master_fields {
            w.push(f);
        }
        w.push_int(0);
        n.for_each_entry(|e| {
            let mut flags = 0;
            if e.deleted {
                flags |= FLAG_DELETED;
            }
            if e.same_fields {
                flags |= FLAG_SAMEFIELDS;
            }
            w.push_int(flags);
            w.push_int(e.id.ms.wrapping_sub(n.master.ms) as i64);
            w.push_int(e.id.seq.wrapping_sub(n.master.seq) as i64);
            let nf = e.fields.len() as i64;
            if e.same_fields {
                for (_, v) in e.fields.by_ref() {
                    w.push(v);
                }
                w.push_int(nf + 3);
            } else {
                w.push_int(nf);
                for (f, v) in e.fields.by_ref() {
                    w.push(f);
                    w.push(v);
                }
                w.push_int(2 * nf + 4);
            }
        });
        write_string(out, w.finish_ref(), enc);
    }
    write_len(out, s.len());
    write_id(out, s.last_id());
    write_id(out, s.first_id());
    write_id(out, s.max_deleted_entry_id());
    write_len(out, s.entries_added());
    write_len(out, s.groups().len() as u64);
    for (name, g) in s.groups() {
        write_string(out, name, enc);
        write_id(out, g.last_id);
        // Redis writes the signed counter as an unsigned length: -1 (unknown) is 2^64-1.
        write_len(out, g.entries_read as u64);
        write_len(out, g.pending_len() as u64);
        for (id, p) in g.pending_entries() {
            out.extend_from_slice(&raw_id(id));
            out.extend_from_slice(&p.delivery_time.to_le_bytes());
            write_len(out, p.delivery_count);
        }
        // Entries handed back or parked (FMQ.LEAVE, ordered groups) are owned by nobody, which
        // the format cannot say: they are written as owned by a reserved consumer, which the
        // loader hands back again.
        let handback = g.handed_back(usize::MAX);
        // So are entries released by XNACK: written in release order as owned by another
        // reserved consumer, which the loader releases again in that order.
        let nacked: Vec<StreamId> = g.nacked().map(|(id, _)| id).collect();
        write_len(
            out,
            g.consumers().len() as u64
                + u64::from(!handback.is_empty())
                + u64::from(!nacked.is_empty()),
        );
        for (cname, c) in g.consumers() {
            write_string(out, cname, enc);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            write_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&raw_id(*id));
            }
        }
        if !handback.is_empty() {
            write_string(out, crate::store::stream::HANDBACK_CONSUMER, enc);
            out.extend_from_slice(&0u64.to_le_bytes());
            write_len(out, handback.len() as u64);
            for id in handback {
                out.extend_from_slice(&raw_id(id));
            }
        }
        if !nacked.is_empty() {
            write_string(out, crate::store::stream::NACKED_CONSUMER, enc);
            out.extend_from_slice(&0u64.to_le_bytes());
            write_len(out, nacked.len() as u64);
            for id in nacked {
                out.extend_from_slice(&raw_id(id));
            }
        }
    }
}

/// Walks the items of a stream listpack.
struct Items<'a> {
    items: Vec<Item<'a>>,
    pos: usize,
}

impl Items<'_> {
    fn left(&self) -> usize {
        self.items.len() - self.pos
    }
    fn int(&mut self) -> Result<i64> {
        match self.items.get(self.pos) {
            Some(Item::Int(v)) => {
                self.pos += 1;
                Ok(*v)
            }
            _ => Err(bad("stream listpack: integer expected")),
        }
    }
    fn count(&mut self) -> Result<usize> {
        let n = self.int()?;
        if n < 0 || n as usize > self.left() {
            return Err(bad("stream listpack: bad count"));
        }
        Ok(n as usize)
    }
    fn bytes(&mut self) -> Result<Bytes> {
        let i = self
            .items
            .get(self.pos)
            .ok_or(bad("stream listpack: truncated"))?;
        self.pos += 1;
        Ok(i.to_bytes())
    }
}

fn read_node(master: StreamId, lp: &[u8], s: &mut Stream) -> Result<()> {
    let items = listpack_items(lp).ok_or(bad("corrupt stream listpack"))?;
    let mut it = Items { items, pos: 0 };
    let live = it.int()?;
    let deleted = it.int()?;
    let nf = it.count()?;
    let mut master_fields = Vec::with_capacity(nf);
    for _ in 0..nf {
        master_fields.push(it.bytes()?);
    }
    if it.int()? != 0 {
        return Err(bad("stream master entry not terminated"));
    }
    let mut entries = Vec::new();
    let (mut n_live, mut n_deleted) = (0i64, 0i64);
    while it.left() > 0 {
        let flags = it.int()?;
        let id = StreamId {
            ms: master.ms.wrapping_add(it.int()? as u64),
            seq: master.seq.wrapping_add(it.int()? as u64),
        };
        let mut fields = Vec::new();
        let expect_lp_count = if flags & FLAG_SAMEFIELDS != 0 {
            for f in &master_fields {
                fields.push((f.clone(), it.bytes()?));
            }
            nf + 3
        } else {
            let n = it.count()?;
            for _ in 0..n {
                fields.push((it.bytes()?, it.bytes()?));
            }
            2 * n + 4
        };
        if it.int()? != expect_lp_count as i64 {
            return Err(bad("stream entry lp-count mismatch"));
        }
        if entries.is_empty() && id != master {
            return Err(bad("stream node does not start with its master entry"));
        }
        let is_deleted = flags & FLAG_DELETED != 0;
        if is_deleted {
            n_deleted += 1;
        } else {
            n_live += 1;
        }
        entries.push(LoadEntry {
            id,
            deleted: is_deleted,
            fields,
        });
    }
    if n_live != live || n_deleted != deleted {
        return Err(bad("stream node counters mismatch"));
    }
    s.load_node(&master_fields, &entries).map_err(Error)
}

fn read_id(r: &mut Reader) -> Result<StreamId> {
    Ok(StreamId {
        ms: r.length()?,
        seq: r.length()?,
    })
}

fn read_ms_time(r: &mut Reader) -> Result<u64> {
    Ok(u64::from_le_bytes(r.take(8)?.try_into().expect("8")))
}

/// The body of a stream value; `v2` for `RDB_TYPE_STREAM_LISTPACKS_2` and later, `v3` for
/// Redis 7.2's `RDB_TYPE_STREAM_LISTPACKS_3` (each consumer also has an active time, which
/// ferrymq's consumers do not keep: it is read and dropped).
pub fn read(r: &mut Reader, v2: bool, v3: bool) -> Result<Stream> {
    let mut s = Stream::new();
    let mut nack_used = false;
    let nodes = r.count()?;
    for _ in 0..nodes {
        let master = id_of_raw(&r.string()?)?;
        let lp = r.string()?;
        read_node(master, &lp, &mut s)?;
    }
    let length = r.length()?;
    let last_id = read_id(r)?;
    let (max_deleted, entries_added) = if v2 {
        let _first = read_id(r)?;
        (read_id(r)?, r.length()?)
    } else {
        (StreamId::MIN, length)
    };
    s.finish_load(length, last_id, max_deleted, entries_added)
        .map_err(Error)?;
    let groups = r.count()?;
    for _ in 0..groups {
        let name = r.string()?;
        let last = read_id(r)?;
        let entries_read = if v2 {
            r.length()? as i64
        } else {
            s.estimate_distance(last)
        };
        if !s.create_group(&name, last, entries_read) {
            return Err(bad("duplicate consumer group"));
        }
        let mut pel = std::collections::BTreeMap::new();
        for _ in 0..r.count()? {
            let id = id_of_raw(r.take(16)?)?;
            let time = read_ms_time(r)?;
            let count = r.length()?;
            if pel.insert(id, (time, count)).is_some() {
                return Err(bad("duplicate pending entry"));
            }
        }
        let g = s.group_mut(&name).expect("just created");
        for _ in 0..r.count()? {
            let cname = r.string()?;
            let seen = read_ms_time(r)?;
            if v3 {
                read_ms_time(r)?;
            }
            if cname[..] == *crate::store::stream::NACKED_CONSUMER {
                for _ in 0..r.count()? {
                    let id = id_of_raw(r.take(16)?)?;
                    let (_, count) = pel
                        .remove(&id)
                        .ok_or(bad("consumer entry not in the group's pending list"))?;
                    g.nack(id, NackMode::Fail, Some(count), true);
                }
                nack_used = true;
                continue;
            }
            if !g.load_consumer(&cname, seen) {
                return Err(bad("duplicate consumer"));
            }
            for _ in 0..r.count()? {
                let id = id_of_raw(r.take(16)?)?;
                let (time, count) = pel
                    .remove(&id)
                    .ok_or(bad("consumer entry not in the group's pending list"))?;
                g.load_pending(id, &cname, time, count);
            }
        }
        // DEVIATION(redis): a pending entry no consumer owns is refused (Redis keeps it
        // unless it sanitizes payloads deeply).
        if !pel.is_empty() {
            return Err(bad("pending entry without a consumer"));
        }
        g.leave(crate::store::stream::HANDBACK_CONSUMER);
    }
    if nack_used {
        s.mark_nack_used();
    }
    Ok(s)
}
