//! The pub/sub hub: who listens to which channel, pattern and shard channel, and the fan-out of
//! published messages into the subscribers' outboxes.
//!
//! # API
//! - Command handlers (`command::pubsub`) call [`Hub::subscribe`] / [`Hub::unsubscribe`] with
//!   the client's [`ClientState`]: the hub keeps the client's own sets (`subs`, `psubs`, `ssubs`)
//!   and its own indexes in step. The confirmation frame of a subscription must be queued in the
//!   client's outbox *before* `subscribe` registers it, and the confirmation of an
//!   unsubscription *after* `unsubscribe` returned: then no message can overtake a `subscribe`
//!   confirmation, and none can follow an `unsubscribe` one. [`Hub::sync_info`] copies the counts
//!   to CLIENT LIST once the command is done.
//! - PUBLISH / SPUBLISH and keyspace notifications call [`Hub::publish`]. The pubsub output
//!   limit and the disconnection counter are handed to the hub when the server builds it
//!   ([`Hub::with_limits`]); the hub knows nothing else of the server. It never takes the store
//!   lock, so publishing from under it is safe (store -> hub order).
//! - The connection calls [`Hub::remove_client`] on disconnect and RESET; HELLO calls
//!   [`Hub::set_resp`] so later messages use the new protocol version.
//! - PUBSUB introspection: [`Hub::channels`], [`Hub::numsub`], [`Hub::numpat`], [`Hub::counts`].
//!
//! # Structure and locks
//! Channels (and shard channels) live in a `DashMap<Bytes, Arc<Channel>>`; each channel holds
//! its subscribers behind its own `RwLock`. A publisher looks the channel up (the map's shard
//! lock is held only for that), then pushes to every subscriber under the channel's *read* lock:
//! concurrent publishers to one channel run in parallel, other channels are never blocked, and an
//! unsubscribing client (which needs the write lock) waits until in-flight deliveries to it are
//! done, so nothing reaches it after its `unsubscribe` confirmation. No map or list lock is ever
//! held while waiting for a channel's lock, so a long fan-out delays only that channel's
//! subscribers.
//!
//! The last subscriber to leave marks the channel dead (under its lock) and then unlinks it from
//! the map; a subscriber that finds a dead channel unlinks it too and retries with a fresh one,
//! so nobody registers into a channel publishers can no longer find.
//!
//! Patterns are indexed by their literal prefix ([`PatternIndex`]), where Redis keeps a list
//! and matches every publish against every pattern: a publish probes only the patterns whose
//! prefix is a prefix of the channel (plus those starting with a metacharacter), so its cost
//! follows the patterns that could match, not all of them. The publisher holds the index's read
//! lock only to collect the matching entries, then delivers to each under the entry's own lock,
//! as for a channel. Pattern entries die and are unlinked the same way as channels.
//!
//! # Fan-out
//! A message is encoded once per protocol version (RESP2 array, RESP3 push) and the same bytes
//! are copied into each subscriber's outbox with [`Outbox::push_limited`] against the pubsub
//! `client-output-buffer-limit`. The publisher never waits for a subscriber: one whose pending
//! output passes its limit is marked killed by the outbox, logged, counted in
//! `client_output_buffer_limit_disconnections`, and its connection closes (dropping its pending
//! output) and unregisters it.
//!
//! [`Outbox::push_limited`]: crate::connection::Outbox::push_limited

use ahash::{AHashMap, RandomState};
use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use parking_lot::RwLock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use tracing::warn;

use crate::connection::{ClientHandle, ClientMemory, ClientState, OutputLimit};
use crate::pubsub::glob::glob_match;
use crate::pubsub::pattern_index::PatternIndex;

/// The three subscription namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE: glob patterns matched against PUBLISH channels.
    Pattern,
    /// SSUBSCRIBE / SPUBLISH (a separate namespace, as in Redis).
    Shard,
}

impl Kind {
    /// Is `client` subscribed to `name` in this namespace?
    pub fn contains(self, client: &ClientState, name: &[u8]) -> bool {
        match self {
            Kind::Channel => client.subs.contains(name),
            Kind::Pattern => client.psubs.contains(name),
            Kind::Shard => client.ssubs.contains(name),
        }
    }

    /// The client's subscriptions in this namespace.
    pub fn names(self, client: &ClientState) -> Vec<Bytes> {
        match self {
            Kind::Channel => client.subs.iter().cloned().collect(),
            Kind::Pattern => client.psubs.iter().cloned().collect(),
            Kind::Shard => client.ssubs.iter().cloned().collect(),
        }
    }

    fn set(self, client: &mut ClientState) -> &mut crate::connection::Subscriptions {
        match self {
            Kind::Channel => &mut client.subs,
            Kind::Pattern => &mut client.psubs,
            Kind::Shard => &mut client.ssubs,
        }
    }
}

/// A subscribed client as the hub sees it; one record per client, shared by all its
/// subscriptions so a protocol switch (HELLO) reaches every one of them.
struct Subscriber {
    handle: Arc<ClientHandle>,
    resp: AtomicU8,
    /// Set by the first publisher that finds the client over its limit, so the disconnection is
    /// logged and counted once.
    over_limit: AtomicBool,
}

/// Above this many subscribers a set keeps an id -> position index; below, a linear scan of
/// the vector is faster and costs no memory (most channels have a handful of subscribers).
const INDEX_FROM: usize = 32;

/// The subscribers of one channel or pattern: a dense vector (what fan-out iterates) plus, for
/// large sets, an index for O(1) removal.
#[derive(Default)]
struct Subscribers {
    list: Vec<Arc<Subscriber>>,
    index: Option<Box<AHashMap<u64, usize>>>,
    /// Set when the last subscriber left: the channel (or pattern) is being unlinked and takes
    /// no new subscribers; whoever finds it dead retries with a fresh one.
    dead: bool,
}

impl Subscribers {
    fn position(&self, id: u64) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(&id).copied(),
            None => self.list.iter().position(|s| s.handle.id == id),
        }
    }

    fn insert(&mut self, sub: Arc<Subscriber>) -> bool {
        if self.position(sub.handle.id).is_some() {
            return false;
        }
        let id = sub.handle.id;
        // Most channels have one subscriber: room for exactly one (8 bytes, where the first
        // push would reserve four).
        if self.list.capacity() == 0 {
            self.list.reserve_exact(1);
        }
        self.list.push(sub);
        match &mut self.index {
            Some(ix) => {
                ix.insert(id, self.list.len() - 1);
            }
            None if self.list.len() > INDEX_FROM => {
                let ix = self
                    .list
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.handle.id, i))
                    .collect();
                self.index = Some(Box::new(ix));
            }
            None => {}
        }
        true
    }

    fn remove(&mut self, id: u64) -> bool {
        let Some(pos) = self.position(id) else {
            return false;
        };
        self.list.swap_remove(pos);
        if let Some(ix) = &mut self.index {
            ix.remove(&id);
            if let Some(moved) = self.list.get(pos) {
                ix.insert(moved.handle.id, pos);
            }
            if self.list.len() < INDEX_FROM / 2 {
                self.index = None;
            }
        }
        if self.list.capacity() > 64 && self.list.len() < self.list.capacity() / 4 {
            self.list.shrink_to(self.list.len() * 2);
        }
        true
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[derive(Default)]
struct Channel {
    subs: RwLock<Subscribers>,
    /// Messages published to the channel since it was created (the dashboard's rates). One
    /// relaxed increment per publish, next to the read lock the publish takes anyway.
    messages: AtomicU64,
}

struct PatternEntry {
    pattern: Bytes,
    subs: RwLock<Subscribers>,
    /// Messages that matched the pattern since it was created.
    messages: AtomicU64,
}

/// One channel or pattern as the dashboard lists it.
#[derive(Debug, Clone)]
pub struct TopicStat {
    pub name: Bytes,
    pub subscribers: usize,
    pub messages: u64,
}

#[derive(Default)]
struct Patterns {
    by_name: PatternIndex<Arc<PatternEntry>>,
}

type ChannelMap = DashMap<Bytes, Arc<Channel>, RandomState>;

pub struct Hub {
    channels: ChannelMap,
    shard_channels: ChannelMap,
    patterns: RwLock<Patterns>,
    /// Distinct patterns with at least one subscriber (PUBSUB NUMPAT, and the fast path of
    /// publish when nobody uses patterns).
    pattern_count: AtomicUsize,
    /// Clients with at least one subscription.
    clients: DashMap<u64, Arc<Subscriber>, RandomState>,
    /// The `client-output-buffer-limit pubsub` in force (the server updates it on CONFIG SET).
    limit: Arc<RwLock<OutputLimit>>,
    /// Subscribers disconnected for exceeding it (INFO `client_output_limit_disconnections`).
    disconnections: Arc<AtomicU64>,
    /// Client eviction's accounting: a delivery changes the subscriber's memory.
    client_memory: Arc<ClientMemory>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

/// Append one RESP2 array / RESP3 push frame of bulk strings.
#[inline]
fn put_frame(out: &mut BytesMut, resp: u8, parts: &[&[u8]]) {
    let kind = if resp >= 3 { b'>' } else { b'*' };
    crate::protocol::reply::put_bulk_aggregate(out, kind, parts.iter().copied());
}

/// One message, encoded at most once per protocol version and only when a subscriber of that
/// version exists.
struct Frames<'a> {
    parts: [&'a [u8]; 4],
    len: usize,
    resp2: Option<Bytes>,
    resp3: Option<Bytes>,
}

impl<'a> Frames<'a> {
    fn new(parts: &[&'a [u8]]) -> Self {
        let mut p: [&[u8]; 4] = [&[]; 4];
        p[..parts.len()].copy_from_slice(parts);
        Frames {
            parts: p,
            len: parts.len(),
            resp2: None,
            resp3: None,
        }
    }

    fn get(&mut self, resp: u8) -> &[u8] {
        let slot = if resp >= 3 {
            &mut self.resp3
        } else {
            &mut self.resp2
        };
        slot.get_or_insert_with(|| {
            let size: usize = self.parts[..self.len].iter().map(|p| p.len() + 16).sum();
            let mut b = BytesMut::with_capacity(size + 8);
            put_frame(&mut b, resp, &self.parts[..self.len]);
            b.freeze()
        })
    }
}

/// Where deliveries account limits and disconnections.
struct Delivery<'s> {
    limit: OutputLimit,
    disconnections: &'s AtomicU64,
    memory: Option<&'s ClientMemory>,
}

impl Delivery<'_> {
    /// Push `frames` to every subscriber in `subs`; returns how many there were.
    fn fan_out(&self, subs: &Subscribers, frames: &mut Frames) -> usize {
        for s in &subs.list {
            let data = frames.get(s.resp.load(Ordering::Relaxed));
            if s.handle.outbox.push_limited(data, self.limit) {
                if let Some(m) = self.memory {
                    m.update(&s.handle);
                }
                s.handle.outbox.wake();
            } else {
                self.over_limit(s);
            }
        }
        subs.len()
    }

    fn over_limit(&self, s: &Subscriber) {
        // push_limited also refuses clients already killed (by a limit or CLIENT KILL): report
        // and count only the first refusal.
        if s.over_limit.swap(true, Ordering::AcqRel) {
            return;
        }
        warn!(
            client = s.handle.id,
            addr = %s.handle.addr,
            hard = self.limit.hard,
            soft = self.limit.soft,
            soft_seconds = self.limit.soft_secs,
            "client scheduled to be closed ASAP for overcoming of output buffer limits (pubsub)"
        );
        self.disconnections.fetch_add(1, Ordering::Relaxed);
        s.handle.notify_killed();
    }
}

impl Hub {
    pub fn new() -> Self {
        Hub {
            channels: DashMap::with_hasher(RandomState::new()),
            shard_channels: DashMap::with_hasher(RandomState::new()),
            patterns: RwLock::new(Patterns::default()),
            pattern_count: AtomicUsize::new(0),
            clients: DashMap::with_hasher(RandomState::new()),
            limit: Arc::default(),
            disconnections: Arc::default(),
            client_memory: Arc::default(),
        }
    }

    /// Report deliveries to client eviction's accounting `m` (shared with the registry).
    pub fn with_client_memory(self, m: Arc<ClientMemory>) -> Self {
        Hub {
            client_memory: m,
            ..self
        }
    }

    /// A hub that applies `limit` to subscribers and counts the ones it disconnects in
    /// `disconnections` (both shared with the server's configuration and statistics).
    pub fn with_limits(limit: Arc<RwLock<OutputLimit>>, disconnections: Arc<AtomicU64>) -> Self {
        Hub {
            limit,
            disconnections,
            ..Hub::new()
        }
    }

    /// (channels, patterns, shard channels) with at least one subscriber, for INFO.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.channels.len(),
            self.pattern_count.load(Ordering::Relaxed),
            self.shard_channels.len(),
        )
    }

    fn map(&self, kind: Kind) -> &ChannelMap {
        match kind {
            Kind::Shard => &self.shard_channels,
            _ => &self.channels,
        }
    }

    fn subscriber(&self, client: &ClientState) -> Arc<Subscriber> {
        self.clients
            .entry(client.id)
            .or_insert_with(|| {
                Arc::new(Subscriber {
                    handle: client.handle.clone(),
                    resp: AtomicU8::new(client.resp),
                    over_limit: AtomicBool::new(false),
                })
            })
            .clone()
    }

    /// Subscribe `client` to `name` (a channel, pattern or shard channel). Returns false when it
    /// already was. Queue the confirmation before calling this (see the module documentation).
    pub fn subscribe(&self, client: &mut ClientState, kind: Kind, name: &[u8]) -> bool {
        if kind.set(client).contains(name) {
            return false;
        }
        // Copied: `name` may be a slice of the connection's read buffer.
        let name = Bytes::copy_from_slice(name);
        kind.set(client).insert(name.clone());
        let sub = self.subscriber(client);
        match kind {
            Kind::Pattern => self.add_pattern(name, sub),
            _ => Self::add_channel(self.map(kind), name, sub),
        }
        true
    }

    fn add_channel(map: &ChannelMap, name: Bytes, sub: Arc<Subscriber>) {
        loop {
            // The map's shard lock is released before waiting for the channel's lock (which
            // publishers hold while pushing).
            let ch = match map.get(&name) {
                Some(e) => e.value().clone(),
                None => map.entry(name.clone()).or_default().value().clone(),
            };
            let mut subs = ch.subs.write();
            if !subs.dead {
                subs.insert(sub);
                return;
            }
            // Its last subscriber just left: unlink it (if its remover has not yet) and retry.
            drop(subs);
            map.remove_if(&name, |_, c| Arc::ptr_eq(c, &ch));
        }
    }

    fn add_pattern(&self, name: Bytes, sub: Arc<Subscriber>) {
        loop {
            let entry = {
                let mut p = self.patterns.write();
                match p.by_name.get(&name) {
                    Some(e) => e.clone(),
                    None => {
                        let e = Arc::new(PatternEntry {
                            pattern: name.clone(),
                            subs: RwLock::new(Subscribers::default()),
                            messages: AtomicU64::new(0),
                        });
                        p.by_name.insert(name.clone(), e.clone());
                        self.pattern_count.store(p.by_name.len(), Ordering::Relaxed);
                        e
                    }
                }
            };
            let mut subs = entry.subs.write();
            if !subs.dead {
                subs.insert(sub);
                return;
            }
            drop(subs);
            self.unlink_pattern(&entry);
        }
    }

    /// Remove a dead pattern entry from the list (once; later calls find it gone).
    fn unlink_pattern(&self, entry: &Arc<PatternEntry>) {
        let mut p = self.patterns.write();
        if p.by_name
            .get(&entry.pattern)
            .is_some_and(|e| Arc::ptr_eq(e, entry))
        {
            p.by_name.remove(&entry.pattern);
            self.pattern_count.store(p.by_name.len(), Ordering::Relaxed);
        }
    }

    /// Unsubscribe `client` from `name`. Returns false when it was not subscribed. Once this
    /// returns no publisher delivers to the client through `name` any more.
    pub fn unsubscribe(&self, client: &mut ClientState, kind: Kind, name: &[u8]) -> bool {
        // Channels: unordered removal. `shift_remove` moved every later name, so dropping all
        // of a connection's 80 000 channels one by one took 19 s (Redis: 0.14 s), and Redis's
        // own order for an UNSUBSCRIBE without names is its dict's. Patterns keep their order:
        // Redis 7.0 keeps them in a list and PUNSUBSCRIBE confirms them in subscription order
        // (its removal is a list search, O(patterns), too).
        let set = kind.set(client);
        let removed = match kind {
            Kind::Pattern => set.shift_remove(name),
            Kind::Channel | Kind::Shard => set.swap_remove(name),
        };
        if !removed {
            return false;
        }
        let id = client.id;
        match kind {
            Kind::Pattern => self.remove_pattern(name, id),
            _ => Self::remove_channel(self.map(kind), name, id),
        }
        if client.subscription_count() == 0 {
            self.clients.remove(&id);
        }
        true
    }

    fn remove_channel(map: &ChannelMap, name: &[u8], id: u64) {
        let Some(ch) = map.get(name).map(|e| e.value().clone()) else {
            return;
        };
        // The write lock waits for deliveries in progress on this channel.
        let dead = {
            let mut subs = ch.subs.write();
            subs.remove(id);
            subs.dead = subs.is_empty();
            subs.dead
        };
        if dead {
            map.remove_if(name, |_, c| Arc::ptr_eq(c, &ch));
        }
    }

    fn remove_pattern(&self, name: &[u8], id: u64) {
        let Some(entry) = self.patterns.read().by_name.get(name).cloned() else {
            return;
        };
        let dead = {
            let mut subs = entry.subs.write();
            subs.remove(id);
            subs.dead = subs.is_empty();
            subs.dead
        };
        if dead {
            self.unlink_pattern(&entry);
        }
    }

    /// Drop every subscription of a client (disconnect, RESET).
    pub fn remove_client(&self, client: &mut ClientState) {
        if client.subscription_count() == 0 {
            return;
        }
        let id = client.id;
        for name in std::mem::take(&mut client.subs) {
            Self::remove_channel(&self.channels, &name, id);
        }
        for name in std::mem::take(&mut client.ssubs) {
            Self::remove_channel(&self.shard_channels, &name, id);
        }
        for name in std::mem::take(&mut client.psubs) {
            self.remove_pattern(&name, id);
        }
        self.clients.remove(&id);
        self.sync_info(client);
    }

    /// Copy the client's subscription counts to what CLIENT LIST shows.
    pub fn sync_info(&self, client: &ClientState) {
        let mut info = client.handle.info.lock();
        info.sub = client.subs.len();
        info.psub = client.psubs.len();
        info.ssub = client.ssubs.len();
    }

    /// The client switched protocol (HELLO): later messages use the new framing.
    pub fn set_resp(&self, client_id: u64, resp: u8) {
        if let Some(s) = self.clients.get(&client_id) {
            s.resp.store(resp, Ordering::Relaxed);
        }
    }

    /// PUBLISH (`Kind::Channel`) or SPUBLISH (`Kind::Shard`), and keyspace notifications:
    /// deliver under the pubsub output limit. Returns the number of receivers, counted as
    /// PUBLISH counts them.
    pub fn publish(&self, kind: Kind, channel: &[u8], msg: &[u8]) -> usize {
        let d = Delivery {
            limit: *self.limit.read(),
            disconnections: &self.disconnections,
            memory: Some(&self.client_memory),
        };
        self.deliver(&d, kind, channel, msg)
    }

    fn deliver(&self, d: &Delivery, kind: Kind, channel: &[u8], msg: &[u8]) -> usize {
        let mut receivers = 0;
        let ch = self.map(kind).get(channel).map(|e| e.value().clone());
        if let Some(ch) = ch {
            let word: &[u8] = if kind == Kind::Shard {
                b"smessage"
            } else {
                b"message"
            };
            let mut frames = Frames::new(&[word, channel, msg]);
            ch.messages.fetch_add(1, Ordering::Relaxed);
            // Read lock held while pushing: see the module documentation (unsubscribe order).
            receivers += d.fan_out(&ch.subs.read(), &mut frames);
        }
        if kind == Kind::Channel && self.pattern_count.load(Ordering::Relaxed) > 0 {
            // Collected under the index's read lock, delivered after it is released (no list
            // lock is held while waiting for an entry's lock).
            let mut matching: Vec<Arc<PatternEntry>> = Vec::new();
            self.patterns
                .read()
                .by_name
                .for_each_match(channel, |_, e| matching.push(e.clone()));
            for entry in matching {
                let mut frames = Frames::new(&[b"pmessage", &entry.pattern, channel, msg]);
                entry.messages.fetch_add(1, Ordering::Relaxed);
                receivers += d.fan_out(&entry.subs.read(), &mut frames);
            }
        }
        receivers
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: active channels matching `pattern` (all when None).
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let candidates: Vec<(Bytes, Arc<Channel>)> = self
            .map(kind)
            .iter()
            .filter(|e| pattern.is_none_or(|p| glob_match(p, e.key(), false)))
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect();
        candidates
            .into_iter()
            .filter(|(_, c)| !c.subs.read().is_empty())
            .map(|(name, _)| name)
            .collect()
    }

    /// The `limit` channels (plain and shard) and patterns with the most subscribers, and how
    /// many of each exist, for the dashboard. The maps are copied (names and `Arc`s) before
    /// any channel lock is taken, as in [`Hub::channels`].
    pub fn top_topics(&self, limit: usize) -> (Vec<TopicStat>, usize, Vec<TopicStat>, usize) {
        let mut chans: Vec<(Bytes, Arc<Channel>)> = Vec::new();
        for kind in [Kind::Channel, Kind::Shard] {
            chans.extend(
                self.map(kind)
                    .iter()
                    .map(|e| (e.key().clone(), e.value().clone())),
            );
        }
        let mut channels: Vec<TopicStat> = chans
            .into_iter()
            .map(|(name, c)| TopicStat {
                name,
                subscribers: c.subs.read().len(),
                messages: c.messages.load(Ordering::Relaxed),
            })
            .filter(|t| t.subscribers > 0)
            .collect();
        let pats: Vec<Arc<PatternEntry>> = self
            .patterns
            .read()
            .by_name
            .values()
            .map(|(_, e)| e.clone())
            .collect();
        let mut patterns: Vec<TopicStat> = pats
            .into_iter()
            .map(|e| TopicStat {
                name: e.pattern.clone(),
                subscribers: e.subs.read().len(),
                messages: e.messages.load(Ordering::Relaxed),
            })
            .filter(|t| t.subscribers > 0)
            .collect();
        let (nc, np) = (channels.len(), patterns.len());
        for v in [&mut channels, &mut patterns] {
            v.sort_by(|a, b| {
                (b.subscribers, b.messages, &a.name).cmp(&(a.subscribers, a.messages, &b.name))
            });
            v.truncate(limit);
        }
        (channels, nc, patterns, np)
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB: subscribers of one channel (patterns not counted).
    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        let ch = self.map(kind).get(channel).map(|e| e.value().clone());
        ch.map(|c| c.subs.read().len()).unwrap_or(0)
    }

    /// PUBSUB NUMPAT: distinct patterns with subscribers.
    pub fn numpat(&self) -> usize {
        self.pattern_count.load(Ordering::Relaxed)
    }

    /// Every subscription of the clients `ids` as (client id, namespace, name), for the ACL
    /// code that disconnects subscribers whose channel permissions were revoked. One pass over
    /// all channels and patterns; no map lock is held while a channel's lock is taken.
    pub fn subscriptions_of(&self, ids: &[u64]) -> Vec<(u64, Kind, Bytes)> {
        let mut out = Vec::new();
        if ids.is_empty() {
            return out;
        }
        for kind in [Kind::Channel, Kind::Shard] {
            let chans: Vec<(Bytes, Arc<Channel>)> = self
                .map(kind)
                .iter()
                .map(|e| (e.key().clone(), e.value().clone()))
                .collect();
            for (name, ch) in chans {
                for s in &ch.subs.read().list {
                    if ids.contains(&s.handle.id) {
                        out.push((s.handle.id, kind, name.clone()));
                    }
                }
            }
        }
        let pats: Vec<Arc<PatternEntry>> = self
            .patterns
            .read()
            .by_name
            .values()
            .map(|(_, e)| e.clone())
            .collect();
        for p in pats {
            for s in &p.subs.read().list {
                if ids.contains(&s.handle.id) {
                    out.push((s.handle.id, Kind::Pattern, p.pattern.clone()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::outbox::Take;

    fn client(id: u64) -> ClientState {
        let h = Arc::new(ClientHandle::new(id, format!("c{id}"), "l".into(), false));
        ClientState::new(h, true)
    }

    fn drain(c: &ClientState) -> Vec<u8> {
        let mut spare = BytesMut::new();
        match c.handle.outbox.take(&mut spare) {
            Take::Write { .. } => {
                c.handle.outbox.written();
                spare.to_vec()
            }
            _ => vec![],
        }
    }

    #[test]
    fn channel_and_pattern_delivery_counts() {
        let hub = Hub::new();
        let mut a = client(1);
        let mut b = client(2);
        assert!(hub.subscribe(&mut a, Kind::Channel, b"news"));
        assert!(!hub.subscribe(&mut a, Kind::Channel, b"news"));
        assert!(hub.subscribe(&mut a, Kind::Pattern, b"n*"));
        b.resp = 3;
        assert!(hub.subscribe(&mut b, Kind::Channel, b"news"));
        assert_eq!(hub.publish(Kind::Channel, b"news", b"hi"), 3);
        assert_eq!(
            drain(&a),
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            drain(&b),
            b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(hub.publish(Kind::Channel, b"other", b"x"), 0);
        assert_eq!(hub.publish(Kind::Channel, b"nope", b"x"), 1);
        assert_eq!(hub.counts(), (1, 1, 0));
        assert_eq!(hub.numsub(Kind::Channel, b"news"), 2);
        assert_eq!(hub.numsub(Kind::Shard, b"news"), 0);
    }

    #[test]
    fn shard_namespace_is_separate() {
        let hub = Hub::new();
        let mut a = client(1);
        hub.subscribe(&mut a, Kind::Shard, b"s");
        assert_eq!(hub.publish(Kind::Channel, b"s", b"x"), 0);
        let d = Delivery {
            limit: OutputLimit::default(),
            disconnections: &AtomicU64::new(0),
            memory: None,
        };
        assert_eq!(hub.deliver(&d, Kind::Shard, b"s", b"x"), 1);
        assert_eq!(drain(&a), b"*3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nx\r\n");
        assert_eq!(hub.counts(), (0, 0, 1));
    }

    #[test]
    fn removal_leaves_nothing_behind() {
        let hub = Hub::new();
        let mut clients: Vec<ClientState> = (1..=40).map(client).collect();
        for c in clients.iter_mut() {
            for i in 0..50 {
                hub.subscribe(c, Kind::Channel, format!("ch{i}").as_bytes());
            }
            hub.subscribe(c, Kind::Pattern, b"ch*");
            hub.subscribe(c, Kind::Shard, b"s");
        }
        assert_eq!(hub.numsub(Kind::Channel, b"ch7"), 40);
        assert_eq!(hub.publish(Kind::Channel, b"ch7", b"m"), 80);
        // Unsubscribe half of them one by one (exercises the large-set index), drop the rest.
        for c in clients.iter_mut().step_by(2) {
            for i in 0..50 {
                assert!(hub.unsubscribe(c, Kind::Channel, format!("ch{i}").as_bytes()));
            }
        }
        assert_eq!(hub.numsub(Kind::Channel, b"ch7"), 20);
        for c in clients.iter_mut() {
            hub.remove_client(c);
            assert_eq!(c.subscription_count(), 0);
        }
        assert_eq!(hub.counts(), (0, 0, 0));
        assert!(hub.clients.is_empty());
        assert!(hub.patterns.read().by_name.is_empty());
        assert_eq!(hub.publish(Kind::Channel, b"ch7", b"m"), 0);
    }

    #[test]
    fn subscriber_set_index_stays_consistent() {
        let mut s = Subscribers::default();
        let clients: Vec<ClientState> = (0..100).map(client).collect();
        let subs: Vec<Arc<Subscriber>> = clients
            .iter()
            .map(|c| {
                Arc::new(Subscriber {
                    handle: c.handle.clone(),
                    resp: AtomicU8::new(2),
                    over_limit: AtomicBool::new(false),
                })
            })
            .collect();
        for x in &subs {
            assert!(s.insert(x.clone()));
        }
        assert!(!s.insert(subs[50].clone()));
        for id in (0..100).rev().step_by(3) {
            assert!(s.remove(id));
            assert!(!s.remove(id));
        }
        for id in 0..100u64 {
            let present = (99 - id) % 3 != 0;
            assert_eq!(s.position(id).is_some(), present, "id {id}");
            if let Some(p) = s.position(id) {
                assert_eq!(s.list[p].handle.id, id);
            }
        }
    }

    /// `publish` applies the limit the hub was built with (shared with the server, whose
    /// CONFIG SET updates it in place) and counts the disconnection in the counter it was given.
    #[test]
    fn publish_uses_the_limit_and_counter_it_was_built_with() {
        let limit = Arc::new(RwLock::new(OutputLimit::default()));
        let counter = Arc::new(AtomicU64::new(0));
        let hub = Hub::with_limits(limit.clone(), counter.clone());
        let mut a = client(1);
        hub.subscribe(&mut a, Kind::Channel, b"c");
        assert_eq!(hub.publish(Kind::Channel, b"c", &[b'x'; 300]), 1);
        assert!(!a.handle.is_killed(), "no limit yet");
        *limit.write() = OutputLimit {
            hard: 200,
            soft: 0,
            soft_secs: 0,
        };
        for _ in 0..10 {
            assert_eq!(hub.publish(Kind::Channel, b"c", &[b'x'; 50]), 1);
        }
        assert!(a.handle.is_killed());
        assert_eq!(counter.load(Ordering::Relaxed), 1);
        hub.remove_client(&mut a);
        assert_eq!(hub.publish(Kind::Channel, b"c", b"x"), 0);
    }

    /// Subscribers churning on a few channels and patterns while others publish: no deadlock,
    /// no lost registration, and nothing left once everybody is gone.
    #[test]
    fn concurrent_churn_leaves_a_consistent_hub() {
        let hub = Arc::new(Hub::new());
        let names: Vec<Vec<u8>> = (0..4).map(|i| format!("c{i}").into_bytes()).collect();
        std::thread::scope(|scope| {
            for t in 0..3u64 {
                let hub = hub.clone();
                let names = names.clone();
                scope.spawn(move || {
                    let mut c = client(100 + t);
                    for round in 0..300 {
                        let n = &names[round % names.len()];
                        hub.subscribe(&mut c, Kind::Channel, n);
                        hub.subscribe(&mut c, Kind::Pattern, b"c*");
                        if round % 3 == 0 {
                            hub.remove_client(&mut c);
                        } else {
                            hub.unsubscribe(&mut c, Kind::Channel, n);
                        }
                        drain(&c);
                    }
                    hub.remove_client(&mut c);
                });
            }
            let mut steady = client(1);
            hub.subscribe(&mut steady, Kind::Channel, b"c0");
            for _ in 0..2 {
                let hub = hub.clone();
                let names = names.clone();
                scope.spawn(move || {
                    for i in 0..2000 {
                        // The steady subscriber of c0 is always counted.
                        let n = hub.publish(Kind::Channel, &names[i % names.len()], b"m");
                        if i % names.len() == 0 {
                            assert!(n >= 1);
                        }
                    }
                });
            }
            scope.spawn(move || {
                for _ in 0..50 {
                    drain(&steady);
                    std::thread::yield_now();
                }
            });
        });
        assert_eq!(hub.counts(), (1, 0, 0));
        assert_eq!(hub.numsub(Kind::Channel, b"c0"), 1);
        assert_eq!(hub.clients.len(), 1);
    }

    /// A subscriber arriving in the window between a channel's death and its unlinking
    /// registers into a fresh channel, never into the dead one.
    #[test]
    fn subscribing_to_a_dying_channel_or_pattern_retries() {
        let hub = Hub::new();
        let mut a = client(1);
        for name in [b"x".as_slice(), b"p*"] {
            let dying = Arc::new(Channel::default());
            dying.subs.write().dead = true;
            hub.channels
                .insert(Bytes::copy_from_slice(name), dying.clone());
            let entry = Arc::new(PatternEntry {
                pattern: Bytes::copy_from_slice(name),
                messages: AtomicU64::new(0),
                subs: RwLock::new(Subscribers {
                    dead: true,
                    ..Default::default()
                }),
            });
            hub.patterns
                .write()
                .by_name
                .insert(entry.pattern.clone(), entry.clone());
            hub.subscribe(&mut a, Kind::Channel, name);
            hub.subscribe(&mut a, Kind::Pattern, name);
            assert!(dying.subs.read().is_empty());
            assert!(entry.subs.read().is_empty());
        }
        assert_eq!(hub.numsub(Kind::Channel, b"x"), 1);
        assert_eq!(hub.numpat(), 2);
        // x (channel) + p* (pattern) + x (pattern matching itself).
        assert_eq!(hub.publish(Kind::Channel, b"x", b"m"), 2);
        assert_eq!(hub.publish(Kind::Channel, b"pq", b"m"), 1);
    }

    #[test]
    fn over_limit_subscriber_is_killed_once() {
        let hub = Hub::new();
        let mut a = client(1);
        hub.subscribe(&mut a, Kind::Channel, b"c");
        let counter = std::sync::atomic::AtomicU64::new(0);
        let d = Delivery {
            limit: OutputLimit {
                hard: 100,
                soft: 0,
                soft_secs: 0,
            },
            memory: None,
            disconnections: &counter,
        };
        for _ in 0..10 {
            assert_eq!(hub.deliver(&d, Kind::Channel, b"c", &[b'x'; 40]), 1);
        }
        assert_eq!(counter.load(Ordering::Relaxed), 1);
        assert!(a.handle.is_killed());
    }
}
