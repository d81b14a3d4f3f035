//! The built-in dashboard: one read-only HTML page and the JSON it polls.
//!
//! API: [`crate::metrics`] routes `GET /` and `GET /dashboard` to [`PAGE`] (HTML, CSS and
//! JavaScript compiled into the binary with `include_str!`: no network at run time, no
//! framework) and `GET /api/overview` to [`overview`], behind the same listener and password as
//! `/metrics`. The page asks for the overview about once a second and computes every rate
//! (ops/s, bytes/s, messages/s per topic, entries/s per stream) from the difference between two
//! answers, so the server keeps no history and the JSON holds counters and levels only.
//!
//! What one overview costs:
//! - server figures: the atomics INFO reads, one short hold of the store lock for the
//!   keyspace totals;
//! - topics: the hub's maps copied (names and `Arc`s), then each channel's read lock in turn;
//! - lists and streams: a walk of the keyspace with [`crate::store::ScanMap::scan`]'s cursor,
//!   [`VISIT_PER_LOCK`] keys per hold of the store lock, keeping only lists and streams (whose
//!   names match `metrics-key-patterns` when it is set), and at most [`WALK_LIMIT`] keys
//!   visited in all; then the [`LIMIT`] longest of each are measured in detail,
//!   [`crate::metrics::KEYS_PER_LOCK`] keys per hold. The page says when a list was cut.
//! - clients: the registry copied, each outbox's pending bytes read under its own lock.
//!
//! Nothing here writes: an expired key is skipped, not deleted.

use bytes::Bytes;
use serde_json::{Value as Json, json};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::KEYS_PER_LOCK;
use crate::pubsub::glob::glob_match;
use crate::server::Shared;
use crate::store::Value;

/// The page: markup, style and script in one file.
pub const PAGE: &str = include_str!("dashboard/index.html");

/// Rows listed per table (topics, lists, streams, clients): the largest ones.
pub const LIMIT: usize = 100;
/// Keys visited per hold of the store lock while looking for lists and streams.
pub const VISIT_PER_LOCK: usize = 16_384;
/// Keys visited per overview, all databases together: past that the tables show what was found
/// and say the walk was cut (`metrics-key-patterns` narrows it).
pub const WALK_LIMIT: usize = 200_000;
/// Consumers listed per group.
const CONSUMERS_PER_GROUP: usize = 20;

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Stream,
}

/// A list or stream found by the walk: database, name, kind, length.
type Found = (usize, Bytes, Kind, u64);

/// Lists and streams whose names match `patterns` (all when empty); the bool is true when the
/// walk stopped at [`WALK_LIMIT`] before the end of the keyspace.
fn find_queues(shared: &Shared, patterns: &[&[u8]]) -> (Vec<Found>, bool) {
    let ndbs = shared.store.lock().dbs.len();
    let mut out: Vec<Found> = Vec::new();
    let mut visited = 0usize;
    for db in 0..ndbs {
        let mut cursor = 0u64;
        loop {
            if visited >= WALK_LIMIT {
                return (out, true);
            }
            let s = shared.store.lock();
            let d = &s.dbs[db];
            if d.map.is_empty() {
                break;
            }
            let now = crate::store::unix_ms();
            let mut here = 0usize;
            loop {
                cursor = d.map.scan(cursor, |k, e| {
                    here += 1;
                    let kind = match &e.value {
                        Value::List(l) => (Kind::List, l.len() as u64),
                        Value::Stream(st) => (Kind::Stream, st.len()),
                        _ => return,
                    };
                    if !patterns.is_empty() && !patterns.iter().any(|p| glob_match(p, k, false)) {
                        return;
                    }
                    if d.expire_at(k).is_some_and(|at| at <= now) {
                        return;
                    }
                    out.push((db, k.to_bytes(), kind.0, kind.1));
                });
                if cursor == 0 || here >= VISIT_PER_LOCK {
                    break;
                }
            }
            drop(s);
            visited += here;
            if cursor == 0 {
                break;
            }
        }
    }
    (out, false)
}

/// The overview the page polls, as JSON.
pub fn overview(shared: &Shared) -> Json {
    let patterns_s = shared.config_str("metrics-key-patterns");
    let patterns: Vec<&[u8]> = patterns_s.split_whitespace().map(str::as_bytes).collect();
    json!({
        "time_ms": crate::store::unix_ms(),
        "limit": LIMIT,
        "key_patterns": patterns_s,
        "server": server(shared),
        "topics": topics(shared),
        "queues": queues(shared, &patterns),
        "clients": clients(shared),
    })
}

fn server(shared: &Shared) -> Json {
    let st = &shared.stats;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let (keys, blocked) = {
        let s = shared.store.lock();
        let keys: usize = s.dbs.iter().map(|d| d.len()).sum();
        (keys, s.blocking.blocked_clients())
    };
    let used = crate::server::used_memory();
    let peak = st.peak_memory.fetch_max(used, Ordering::Relaxed).max(used);
    let aof = crate::aof::metrics(shared);
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": shared.started.elapsed().as_secs(),
        "loading": shared.is_loading(),
        "commands_processed": load(&st.commands),
        "connections_received": load(&st.connections),
        "rejected_connections": load(&st.rejected_connections),
        "connected_clients": shared.clients.len(),
        "blocked_clients": blocked + shared.paused_clients.load(Ordering::Relaxed) as usize,
        "net_input_bytes": load(&st.net_in),
        "net_output_bytes": load(&st.net_out),
        "keys": keys,
        "memory_used_bytes": used,
        "memory_rss_bytes": crate::server::rss_bytes(),
        "memory_peak_bytes": peak,
        "maxmemory_bytes": shared.config_i64("maxmemory").max(0),
        "evicted_keys": load(&st.evicted_keys),
        "aof": {
            "enabled": aof.enabled,
            "last_write_ok": aof.last_write_ok,
            "rewrite_in_progress": aof.rewrite_in_progress,
            "last_rewrite_ok": aof.last_rewrite_ok,
            "rewrites": aof.rewrites,
            "current_size_bytes": aof.current_size,
            "fsync": shared.config_str("appendfsync"),
        },
    })
}

fn topics(shared: &Shared) -> Json {
    let (channels, nc, patterns, np) = shared.pubsub.top_topics(LIMIT);
    let rows = |v: Vec<crate::pubsub::hub::TopicStat>| -> Vec<Json> {
        v.into_iter()
            .map(|t| {
                json!({
                    "name": lossy(&t.name),
                    "subscribers": t.subscribers,
                    "messages": t.messages,
                })
            })
            .collect()
    };
    json!({
        "channels": rows(channels),
        "channels_total": nc,
        "patterns": rows(patterns),
        "patterns_total": np,
    })
}

fn queues(shared: &Shared, patterns: &[&[u8]]) -> Json {
    let (found, cut) = find_queues(shared, patterns);
    let (mut lists, mut streams): (Vec<Found>, Vec<Found>) =
        found.into_iter().partition(|f| f.2 == Kind::List);
    // The scan cursor may return a key twice when the table resizes under the walk.
    for v in [&mut lists, &mut streams] {
        v.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        v.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    }
    let (nl, ns) = (lists.len(), streams.len());
    for v in [&mut lists, &mut streams] {
        v.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| (a.0, &a.1).cmp(&(b.0, &b.1))));
        v.truncate(LIMIT);
    }
    let mut list_rows = Vec::new();
    for slice in lists.chunks(KEYS_PER_LOCK) {
        let s = shared.store.lock();
        for (db, key, _, _) in slice {
            let Some(Value::List(l)) = s.dbs[*db].map.get(key.as_ref()).map(|e| &e.value) else {
                continue;
            };
            list_rows.push(json!({
                "db": db,
                "key": lossy(key),
                "length": l.len(),
                "blocked": s.blocking.waiters_on(*db, key),
            }));
        }
    }
    // A drained queue has no key, only consumers blocked on it (BLPOP, BRPOP, BLMOVE...):
    // listed with depth 0 after the non-empty ones, while the table has room.
    let empty_waited = {
        let s = shared.store.lock();
        let mut waited = s.blocking.waited_keys();
        waited.retain(|(db, key, _, cmd)| {
            !cmd.starts_with('x')
                && s.dbs
                    .get(*db)
                    .is_some_and(|d| !d.map.contains_key(key.as_ref()))
        });
        waited.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (a.0, &a.1).cmp(&(b.0, &b.1))));
        let n_waited = waited.len();
        for (db, key, n, _) in waited
            .into_iter()
            .take(LIMIT.saturating_sub(list_rows.len()))
        {
            list_rows.push(json!({ "db": db, "key": lossy(&key), "length": 0, "blocked": n }));
        }
        n_waited
    };
    let nl = nl + empty_waited;
    let mut stream_rows = Vec::new();
    for slice in streams.chunks(KEYS_PER_LOCK) {
        let s = shared.store.lock();
        let now = crate::store::unix_ms();
        for (db, key, _, _) in slice {
            let d = &s.dbs[*db];
            let Some(Value::Stream(st)) = d.map.get(key.as_ref()).map(|e| &e.value) else {
                continue;
            };
            let groups: Vec<Json> = st
                .groups()
                .iter()
                .map(|(name, g)| {
                    let consumers: Vec<Json> = g
                        .consumers()
                        .iter()
                        .take(CONSUMERS_PER_GROUP)
                        .map(|(cname, c)| {
                            json!({
                                "name": lossy(cname),
                                "pending": c.pel.len(),
                                "idle_ms": now.saturating_sub(c.seen_time as i64).max(0),
                            })
                        })
                        .collect();
                    let policy = g.policy();
                    let dead_letter = policy.and_then(|p| p.dead_letter.as_ref()).map(|dl| {
                        let n = match d.map.get(dl.as_ref()).map(|e| &e.value) {
                            Some(Value::Stream(x)) => x.len(),
                            _ => 0,
                        };
                        json!({ "key": lossy(dl), "length": n })
                    });
                    json!({
                        "name": lossy(name),
                        "pending": g.pending_len(),
                        "lag": st.lag(g),
                        "consumers_total": g.consumers().len(),
                        "consumers": consumers,
                        "oldest_pending_ms": g
                            .oldest_delivery()
                            .map(|t| now.saturating_sub(t as i64).max(0)),
                        "max_deliveries": policy.map(|p| p.max_deliveries).filter(|n| *n > 0),
                        "dead_letter": dead_letter,
                    })
                })
                .collect();
            stream_rows.push(json!({
                "db": db,
                "key": lossy(key),
                "length": st.len(),
                "last_id": st.last_id().to_string(),
                "blocked": s.blocking.waiters_on(*db, key),
                "groups": groups,
            }));
        }
    }
    json!({
        "lists": list_rows,
        "lists_total": nl,
        "streams": stream_rows,
        "streams_total": ns,
        "walk_cut": cut,
        "walk_limit": WALK_LIMIT,
    })
}

fn clients(shared: &Shared) -> Json {
    let mut rows: Vec<(usize, Json)> = shared
        .clients
        .all()
        .into_iter()
        .map(|h| {
            let pending = h.outbox.pending();
            let info = h.info.lock();
            let idle = crate::store::unix_ms() as u64
                - h.last_interaction
                    .load(Ordering::Relaxed)
                    .min(crate::store::unix_ms() as u64);
            let row = json!({
                "id": h.id,
                "addr": h.addr,
                "name": info.name.as_deref().map(lossy).unwrap_or_default(),
                "output_bytes": pending,
                "subscriptions": info.sub + info.psub + info.ssub,
                "last_cmd": info.last_cmd,
                "age_s": h.created.elapsed().as_secs(),
                "idle_ms": idle,
            });
            (pending, row)
        })
        .collect();
    let total = rows.len();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    rows.truncate(LIMIT);
    json!({
        "top": rows.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
        "total": total,
        "output_limit_disconnections": shared
            .stats
            .output_limit_disconnections
            .load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::sync::Arc;

    fn resp(cmds: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cmds {
            out.extend(format!("*{}\r\n", c.len()).as_bytes());
            for a in *c {
                out.extend(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
            }
        }
        out
    }

    fn shared(patterns: &str) -> Arc<Shared> {
        let args: Vec<String> = ["--metrics-key-patterns", patterns]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let shared = Shared::new(Config::from_args(&args).unwrap()).unwrap();
        let data = resp(&[
            &["RPUSH", "q:jobs", "a", "b", "c"],
            &["RPUSH", "q:small", "a"],
            &["SET", "plain", "x"],
            &["XADD", "s:events", "1-0", "f", "v"],
            &["XADD", "s:events", "2-0", "f", "v"],
            &["XGROUP", "CREATE", "s:events", "workers", "0"],
            &[
                "XREADGROUP",
                "GROUP",
                "workers",
                "w1",
                "COUNT",
                "1",
                "STREAMS",
                "s:events",
                ">",
            ],
        ]);
        crate::aof::loader::replay_bytes(&shared, &data, "test").unwrap();
        shared
    }

    #[test]
    fn overview_lists_queues_and_streams() {
        let sh = shared("");
        let o = overview(&sh);
        let q = &o["queues"];
        assert_eq!(q["lists_total"], 2);
        assert_eq!(q["lists"][0]["key"], "q:jobs", "longest first: {q}");
        assert_eq!(q["lists"][0]["length"], 3);
        assert_eq!(q["streams"][0]["key"], "s:events");
        let g = &q["streams"][0]["groups"][0];
        assert_eq!(g["name"], "workers");
        assert_eq!(g["pending"], 1);
        assert_eq!(g["lag"], 1);
        assert_eq!(g["consumers"][0]["name"], "w1");
        assert_eq!(q["walk_cut"], false);
        assert_eq!(o["server"]["keys"], 4);
    }

    #[test]
    fn key_patterns_filter_the_walk() {
        let sh = shared("s:*");
        let q = &overview(&sh)["queues"];
        assert_eq!(q["lists_total"], 0);
        assert_eq!(q["streams_total"], 1);
    }

    #[test]
    fn the_walk_spans_several_lock_slices() {
        let sh = shared("");
        let n = VISIT_PER_LOCK * 2 + 10;
        let cmds: Vec<Vec<String>> = (0..n)
            .map(|i| vec!["RPUSH".into(), format!("l:{i}"), "x".into()])
            .collect();
        let refs: Vec<Vec<&str>> = cmds
            .iter()
            .map(|c| c.iter().map(String::as_str).collect())
            .collect();
        let slices: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
        crate::aof::loader::replay_bytes(&sh, &resp(&slices), "bulk").unwrap();
        let q = &overview(&sh)["queues"];
        assert_eq!(q["lists_total"], n + 2);
        assert_eq!(q["lists"].as_array().unwrap().len(), LIMIT);
    }

    #[test]
    fn the_page_is_self_contained() {
        assert!(PAGE.contains("fetch(\"api/overview\""));
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        assert!(!PAGE.contains("<script src") && !PAGE.contains("<link"));
    }
}
