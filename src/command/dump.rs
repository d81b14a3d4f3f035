//! DUMP and RESTORE: a value in RDB format, to move keys between servers (the format lives in
//! `store::rdb`; this file parses arguments, checks, replies and records the write).

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, Write, is, parse_i64};
use crate::config::notify::GENERIC;
use crate::protocol::Reply;
use crate::store::rdb::{self, Encodings};
use crate::{error, store};

pub const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
pub const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const BAD_DATA: &str = "ERR Bad data format";

/// The encoding limits in force, for writing values as this server would and loading values
/// into the encodings this server would pick.
pub(crate) fn encodings(ctx: &Ctx) -> Encodings {
    encodings_of(ctx.shared)
}

/// [`encodings`] of a server (RDB files are written and loaded outside any command too).
pub(crate) fn encodings_of(shared: &crate::server::Shared) -> Encodings {
    Encodings {
        list_fill: shared.config_i64("list-max-listpack-size"),
        max_intset: shared.encoding_knob("set-max-intset-entries"),
        hash: store::hash::Limits {
            entries: shared.encoding_knob("hash-max-listpack-entries"),
            value: shared.encoding_knob("hash-max-listpack-value"),
        },
        zset: store::zset::Limits {
            entries: shared.encoding_knob("zset-max-listpack-entries"),
            value: shared.encoding_knob("zset-max-listpack-value"),
        },
        compress: shared.config_str("rdbcompression") == "yes",
        checksum: shared.config_str("rdbchecksum") == "yes",
        access: {
            let c = shared.config.read();
            let policy = c.get("maxmemory-policy").unwrap_or_default();
            if policy.ends_with("-lru") {
                rdb::AccessSave::Lru
            } else if policy.ends_with("-lfu") {
                rdb::AccessSave::Lfu(store::access::Policy {
                    lfu: true,
                    log_factor: c.get_i64("lfu-log-factor").clamp(0, i32::MAX as i64) as u32,
                    decay_time: c.get_i64("lfu-decay-time").clamp(0, i32::MAX as i64) as u32,
                    no_shared_integers: false,
                })
            } else {
                rdb::AccessSave::None
            }
        },
    }
}

// DUMP key
fn dump(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let enc = encodings(ctx);
    let Some(v) = ctx.db().get(&args[1]) else {
        return Reply::Null;
    };
    Reply::Bulk(Bytes::from(rdb::dump(v, &enc)))
}

// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
//
// FREQ applies under an LFU policy and IDLETIME under any other, as in Redis; otherwise they are
// checked and ignored.
pub(crate) fn restore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None::<i64>, None::<i64>);
    let mut j = 4;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(&args[j], "replace") {
            replace = true;
        } else if is(&args[j], "absttl") {
            absttl = true;
        } else if is(&args[j], "idletime") && more && freq.is_none() {
            let v = tri!(parse_i64(&args[j + 1]));
            if v < 0 {
                return Reply::error("ERR Invalid IDLETIME value, must be >= 0");
            }
            idle = Some(v);
            j += 1;
        } else if is(&args[j], "freq") && more && idle.is_none() {
            let v = tri!(parse_i64(&args[j + 1]));
            if !(0..=255).contains(&v) {
                return Reply::error("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq = Some(v);
            j += 1;
        } else {
            return Reply::error(error::SYNTAX);
        }
        j += 1;
    }
    let key = &args[1];
    if !replace && ctx.db().contains(key) {
        return Reply::error(BUSYKEY);
    }
    let ttl = tri!(parse_i64(&args[2]));
    if ttl < 0 {
        return Reply::error("ERR Invalid TTL value, must be >= 0");
    }
    let payload = &args[3];
    if !rdb::verify(payload) {
        return Reply::error(BAD_PAYLOAD);
    }
    let enc = encodings(ctx);
    let Ok(value) = rdb::restore(payload, &enc) else {
        return Reply::error(BAD_DATA);
    };
    let db = ctx.db();
    let deleted = replace && db.remove(key).is_some();
    let now = db.now();
    // Redis adds the clock to a relative TTL without an overflow check; a wrapped sum is in
    // the past, so the key is not created, as there.
    let at = if absttl { ttl } else { ttl.wrapping_add(now) };
    if ttl != 0 && at <= now {
        if deleted {
            ctx.wrote(
                Write::key(key)
                    .event(GENERIC, "del")
                    .effect(vec![Bytes::from_static(b"DEL"), key.clone()]),
            );
        }
        return Reply::Ok;
    }
    db.set(key, value);
    let mut write = Write::key(key).wakes().event(GENERIC, "restore");
    if ttl != 0 {
        db.set_expire(key, at);
        if !absttl {
            // Replayed with the absolute expiry, so a replica or a reload expires it at the
            // same instant.
            let mut argv = args.to_vec();
            argv[2] = Bytes::from(at.to_string());
            argv.push(Bytes::from_static(b"ABSTTL"));
            write = write.effect(argv);
        }
    }
    let policy = db.access();
    let word = policy.restored(freq.map(|f| f as u32), idle.map(|i| i as u64));
    db.set_lru(key, word);
    ctx.wrote(write);
    Reply::Ok
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dump", 2, READONLY, dump)
        .keys(1, 1, 1)
        .doc(
            "Return a serialized version of the value stored at the specified key.",
            "2.6.0",
        ),
    CommandSpec::new("restore", -4, WRITE | DENYOOM, restore)
        .keys(1, 1, 1)
        .doc(
            "Create a key using the provided serialized value, previously obtained using DUMP.",
            "2.6.0",
        ),
];
