//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE,
//! PUBLISH, SPUBLISH and the PUBSUB container. The data lives in `crate::pubsub::Hub`.
//!
//! Confirmations (`subscribe`, `unsubscribe`, ... frames: kind, name, running count) are queued
//! straight into the client's outbox, one per name, each *before* the subscription is
//! registered (so no message can overtake it) and *after* an unsubscription took effect (so no
//! message can follow it); the handler then returns `Reply::NoReply`. Inside EXEC they become
//! part of EXEC's reply instead (`Reply::Raw`), as in Redis, where each confirmation is one more
//! element written into the transaction's array.
//!
//! DEVIATION(redis): inside EXEC a subscription is registered while the transaction runs but its
//! confirmation leaves with EXEC's reply, so a message published by another client in between
//! can reach the socket before that reply (Redis, single-threaded, cannot interleave there).
//!
//! Running counts follow Redis 7.0: channel and pattern confirmations count channels +
//! patterns, shard confirmations count shard channels only.

use bytes::{Bytes, BytesMut};

use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::connection::ClientState;
use crate::error;
use crate::protocol::{Reply, encode};
use crate::pubsub::hub::Kind;

/// Where a command's confirmation frames go (see the module documentation).
struct Confirmations {
    buf: BytesMut,
    resp: u8,
    /// Queue each frame in the outbox at once (false inside EXEC). Also under CLIENT REPLY
    /// OFF/SKIP: Redis 7.0 sends pub/sub confirmations regardless.
    direct: bool,
}

impl Confirmations {
    fn new(ctx: &Ctx) -> Self {
        Confirmations {
            buf: BytesMut::new(),
            resp: ctx.client.resp,
            direct: !ctx.in_tx(),
        }
    }

    fn add(&mut self, client: &ClientState, word: &'static str, name: Reply, count: usize) {
        let frame = Reply::Push(vec![
            Reply::Bulk(Bytes::from_static(word.as_bytes())),
            name,
            Reply::Int(count as i64),
        ]);
        encode(&frame, self.resp, &mut self.buf);
        if self.direct {
            client.handle.outbox.push_bytes(&self.buf);
            self.buf.clear();
        }
    }

    fn finish(self) -> Reply {
        if self.direct {
            Reply::NoReply
        } else {
            Reply::Raw(self.buf.freeze())
        }
    }
}

/// The running count a confirmation of `kind` shows.
fn count(client: &ClientState, kind: Kind) -> usize {
    match kind {
        Kind::Shard => client.ssubs.len(),
        _ => client.subs.len() + client.psubs.len(),
    }
}

/// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE: one confirmation per name, duplicates included.
fn subscribe_generic(ctx: &mut Ctx, names: &[Bytes], kind: Kind, word: &'static str) -> Reply {
    let mut out = Confirmations::new(ctx);
    let hub = &ctx.shared.pubsub;
    for name in names {
        let new = !kind.contains(ctx.client, name);
        out.add(
            ctx.client,
            word,
            Reply::Bulk(name.clone()),
            count(ctx.client, kind) + new as usize,
        );
        if new {
            hub.subscribe(ctx.client, kind, name);
        }
    }
    hub.sync_info(ctx.client);
    out.finish()
}

/// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE: the given names, or every subscription of that
/// kind; with none at all, one confirmation with a null name.
fn unsubscribe_generic(ctx: &mut Ctx, names: &[Bytes], kind: Kind, word: &'static str) -> Reply {
    let mut out = Confirmations::new(ctx);
    let hub = &ctx.shared.pubsub;
    let all;
    let names = if names.is_empty() {
        all = kind.names(ctx.client);
        &all[..]
    } else {
        names
    };
    if names.is_empty() {
        out.add(ctx.client, word, Reply::Null, count(ctx.client, kind));
    }
    for name in names {
        hub.unsubscribe(ctx.client, kind, name);
        out.add(
            ctx.client,
            word,
            Reply::Bulk(name.clone()),
            count(ctx.client, kind),
        );
    }
    hub.sync_info(ctx.client);
    out.finish()
}

// SUBSCRIBE channel [channel ...]
fn subscribe(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    // Allowed inside MULTI (Redis keeps it for backward compatibility), unlike SSUBSCRIBE.
    subscribe_generic(ctx, &args[1..], Kind::Channel, "subscribe")
}

// UNSUBSCRIBE [channel [channel ...]]
fn unsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    unsubscribe_generic(ctx, &args[1..], Kind::Channel, "unsubscribe")
}

// PSUBSCRIBE pattern [pattern ...]
fn psubscribe(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    subscribe_generic(ctx, &args[1..], Kind::Pattern, "psubscribe")
}

// PUNSUBSCRIBE [pattern [pattern ...]]
fn punsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    unsubscribe_generic(ctx, &args[1..], Kind::Pattern, "punsubscribe")
}

// SSUBSCRIBE shardchannel [shardchannel ...]
fn ssubscribe(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if !ctx.may_block() {
        return Reply::error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    }
    subscribe_generic(ctx, &args[1..], Kind::Shard, "ssubscribe")
}

// SUNSUBSCRIBE [shardchannel [shardchannel ...]]
fn sunsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    unsubscribe_generic(ctx, &args[1..], Kind::Shard, "sunsubscribe")
}

// PUBLISH channel message
fn publish(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let n = ctx.shared.pubsub.publish(Kind::Channel, &args[1], &args[2]);
    propagate(ctx, args);
    Reply::Int(n as i64)
}

/// A master's replicas receive what is published on it (Redis propagates PUBLISH and SPUBLISH
/// to replicas only, never to the AOF), so their subscribers see it too.
fn propagate(ctx: &mut Ctx, args: &[Bytes]) {
    if ctx.shared.replica.feeding() {
        let db = ctx.db_index();
        ctx.store().repl.feed_in_db(db, args);
    }
}

// SPUBLISH shardchannel message
fn spublish(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let n = ctx.shared.pubsub.publish(Kind::Shard, &args[1], &args[2]);
    propagate(ctx, args);
    Reply::Int(n as i64)
}

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try PUBSUB HELP.`
fn pubsub_syntax_error(sub: &[u8]) -> Reply {
    let s = String::from_utf8_lossy(&sub[..sub.len().min(128)]);
    Reply::Error(
        error::sanitize(format!(
            "ERR unknown subcommand or wrong number of arguments for '{s}'. Try PUBSUB HELP."
        ))
        .into(),
    )
}

fn channels_generic(ctx: &mut Ctx, args: &[Bytes], kind: Kind) -> Reply {
    if args.len() > 3 {
        return pubsub_syntax_error(&args[1]);
    }
    let pattern = args.get(2).map(|p| &p[..]);
    Reply::bulks(ctx.shared.pubsub.channels(kind, pattern))
}

fn numsub_generic(ctx: &mut Ctx, args: &[Bytes], kind: Kind) -> Reply {
    let hub = &ctx.shared.pubsub;
    let mut out = Vec::with_capacity((args.len() - 2) * 2);
    for ch in &args[2..] {
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Int(hub.numsub(kind, ch) as i64));
    }
    Reply::Array(out)
}

// PUBSUB CHANNELS [pattern]
fn pubsub_channels(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    channels_generic(ctx, args, Kind::Channel)
}

// PUBSUB SHARDCHANNELS [pattern]
fn pubsub_shardchannels(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    channels_generic(ctx, args, Kind::Shard)
}

// PUBSUB NUMSUB [channel ...]
fn pubsub_numsub(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    numsub_generic(ctx, args, Kind::Channel)
}

// PUBSUB SHARDNUMSUB [shardchannel ...]
fn pubsub_shardnumsub(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    numsub_generic(ctx, args, Kind::Shard)
}

// PUBSUB NUMPAT
fn pubsub_numpat(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Int(ctx.shared.pubsub.numpat() as i64)
}

// PUBSUB HELP
fn pubsub_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    const LINES: &[&str] = &[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(LINES.iter().copied().map(Reply::status).collect())
}

const PS: &str = "pubsub";
const SUB: u32 = PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK;

const PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("channels", -2, PUBSUB | LOADING | STALE, pubsub_channels)
        .group(PS)
        .doc("List active channels", "2.8.0"),
    CommandSpec::new("numpat", 2, PUBSUB | LOADING | STALE, pubsub_numpat)
        .group(PS)
        .doc(
            "Get the count of unique patterns pattern subscriptions",
            "2.8.0",
        ),
    CommandSpec::new("numsub", -2, PUBSUB | LOADING | STALE, pubsub_numsub)
        .group(PS)
        .doc("Get the count of subscribers for channels", "2.8.0"),
    CommandSpec::new(
        "shardchannels",
        -2,
        PUBSUB | LOADING | STALE,
        pubsub_shardchannels,
    )
    .group(PS)
    .doc("List active shard channels", "7.0.0"),
    CommandSpec::new(
        "shardnumsub",
        -2,
        PUBSUB | LOADING | STALE,
        pubsub_shardnumsub,
    )
    .group(PS)
    .doc("Get the count of subscribers for shard channels", "7.0.0"),
    CommandSpec::new("help", 2, LOADING | STALE, pubsub_help)
        .group(PS)
        .doc("Show helpful text about the different subcommands", "6.2.0"),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, SUB, subscribe)
        .group(PS)
        .doc(
            "Listen for messages published to the given channels",
            "2.0.0",
        ),
    CommandSpec::new("unsubscribe", -1, SUB, unsubscribe)
        .group(PS)
        .doc(
            "Stop listening for messages posted to the given channels",
            "2.0.0",
        ),
    CommandSpec::new("psubscribe", -2, SUB, psubscribe)
        .group(PS)
        .doc(
            "Listen for messages published to channels matching the given patterns",
            "2.0.0",
        ),
    CommandSpec::new("punsubscribe", -1, SUB, punsubscribe)
        .group(PS)
        .doc(
            "Stop listening for messages posted to channels matching the given patterns",
            "2.0.0",
        ),
    CommandSpec::new("ssubscribe", -2, SUB, ssubscribe)
        .keys(1, -1, 1)
        .group(PS)
        .doc(
            "Listen for messages published to the given shard channels",
            "7.0.0",
        ),
    CommandSpec::new("sunsubscribe", -1, SUB, sunsubscribe)
        .keys(1, -1, 1)
        .group(PS)
        .doc(
            "Stop listening for messages posted to the given shard channels",
            "7.0.0",
        ),
    CommandSpec::new(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        publish,
    )
    .group(PS)
    .doc("Post a message to a channel", "2.0.0"),
    CommandSpec::new(
        "spublish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        spublish,
    )
    .keys(1, 1, 1)
    .group(PS)
    .doc("Post a message to a shard channel", "7.0.0"),
    CommandSpec::new("pubsub", -2, 0, pubsub_help)
        .group(PS)
        .doc("A container for Pub/Sub commands", "2.8.0")
        .subs(PUBSUB_SUBCOMMANDS),
];
