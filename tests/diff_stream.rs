//! Differential tests of the stream family: the same commands against ferrymq and
//! redis-server, replies compared byte for byte (time-based parts normalised).

mod common;
use common::Diff;

/// Replace every run of 10+ digits (millisecond times, IDs generated from them) by `T`,
/// and `idle`-like small numbers are left alone.
fn norm_time(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let j = b[i..]
                .iter()
                .position(|c| !c.is_ascii_digit())
                .map_or(b.len(), |p| i + p);
            if j - i >= 10 {
                out.push(b'T');
                // The sequence after a generated ms part depends on timing too.
                if b.get(j) == Some(&b'-') {
                    let k = b[j + 1..]
                        .iter()
                        .position(|c| !c.is_ascii_digit())
                        .map_or(b.len(), |p| j + 1 + p);
                    out.extend_from_slice(b"-S");
                    i = k;
                    continue;
                }
            } else {
                out.extend_from_slice(&b[i..j]);
            }
            i = j;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn xadd_xrange_errors_and_edges() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["XADD", "s", "0-0", "f", "v"],
        &["XADD", "s", "0", "f", "v"],
        &["XADD", "s", "1-1", "f"],
        &["XADD", "s", "1-1"],
        &["XADD", "s", "1-1", "f", "v", "g"],
        &["XADD", "s", "abc", "f", "v"],
        &["XADD", "s", "-", "f", "v"],
        &["XADD", "s", "+5-1", "f", "v"],
        &["XADD", "s", "5-1", "f", "v"],
        &["XADD", "s", "5", "f", "v"],
        &["XADD", "s", "5-*", "a", "1", "b", "2"],
        &["XADD", "s", "4-*", "a", "1"],
        &["XADD", "s", "0-*", "a", "1"],
        &["XADD", "s", "6-0", "a", "1", "b", "2"],
        &["XADD", "s", "7-0", "b", "1", "a", "2"],
        &["XADD", "s", "8-0", "a", "", "b", "12345"],
        &["XADD", "s", "MAXLEN", "-1", "9-0", "f", "v"],
        &["XADD", "s", "MAXLEN", "abc", "9-0", "f", "v"],
        &["XADD", "s", "MAXLEN", "1", "MINID", "1", "9-0", "f", "v"],
        &["XADD", "s", "LIMIT", "10", "9-0", "f", "v"],
        &["XADD", "s", "MAXLEN", "5", "LIMIT", "10", "9-0", "f", "v"],
        &[
            "XADD", "s", "MAXLEN", "~", "5", "LIMIT", "-1", "9-0", "f", "v",
        ],
        &["XADD", "s", "MAXLEN"],
        &["XADD", "s", "NOMKSTREAM"],
        &["XADD", "nos", "NOMKSTREAM", "1-1", "f", "v"],
        &["EXISTS", "nos"],
        &[
            "XADD",
            "s",
            "NOMKSTREAM",
            "MAXLEN",
            "=",
            "4",
            "9-0",
            "f",
            "v",
        ],
        &["XLEN", "s"],
        &["XLEN", "nokey"],
        &["XRANGE", "s", "-", "+"],
        &["XRANGE", "s", "-", "+", "COUNT", "2"],
        &["XRANGE", "s", "-", "+", "COUNT", "0"],
        &["XRANGE", "s", "-", "+", "COUNT", "-5"],
        &["XRANGE", "s", "-", "+", "COUNT"],
        &["XRANGE", "s", "-", "+", "FOO", "1"],
        &["XRANGE", "s", "(6-0", "+"],
        &["XRANGE", "s", "6", "(8-0"],
        &["XRANGE", "s", "(-", "+"],
        &["XRANGE", "s", "-", "(+"],
        &[
            "XRANGE",
            "s",
            "(18446744073709551615-18446744073709551615",
            "+",
        ],
        &["XRANGE", "s", "-", "(0-0"],
        &["XRANGE", "s", "x", "+"],
        &["XRANGE", "s", "9", "5"],
        &["XRANGE", "nokey", "-", "+"],
        &["XREVRANGE", "s", "+", "-"],
        &["XREVRANGE", "s", "+", "-", "COUNT", "1"],
        &["XREVRANGE", "s", "(9", "6"],
        &["SET", "str", "x"],
        &["XADD", "str", "*", "f", "v"],
        &["XLEN", "str"],
        &["XRANGE", "str", "-", "+"],
        &["TYPE", "s"],
        &["XDEL", "s", "6-0", "6-0", "100-0"],
        &["XDEL", "s", "bad"],
        &["XDEL", "nokey", "bad"],
        &["XRANGE", "s", "-", "+"],
        &["XSETID", "s", "1-0"],
        &["XSETID", "s", "100-0", "ENTRIESADDED", "1"],
        &["XSETID", "s", "100-0", "ENTRIESADDED", "-1"],
        &["XSETID", "s", "100-0", "MAXDELETEDID", "200-0"],
        &["XSETID", "s", "100-0", "FOO"],
        &["XSETID", "nokey", "100-0"],
        &[
            "XSETID",
            "s",
            "100-0",
            "ENTRIESADDED",
            "50",
            "MAXDELETEDID",
            "50-0",
        ],
        &["XSETID", "s", "40-0"],
        &["XADD", "s", "100-0", "f", "v"],
        &["XADD", "s", "100-1", "f", "v"],
        &["XSETID", "s", "18446744073709551615-18446744073709551615"],
        &["XADD", "s", "*", "f", "v"],
        &["XADD", "s", "18446744073709551615-*", "f", "v"],
        &["XTRIM", "s"],
        &["XTRIM", "s", "FOO", "1"],
        &["XTRIM", "s", "MAXLEN"],
        &["XTRIM", "s", "MAXLEN", "2", "LIMIT", "1"],
        &["XTRIM", "s", "MAXLEN", "2"],
        &["XTRIM", "nokey", "FOO"],
        &["XRANGE", "s", "-", "+"],
        &["XTRIM", "s", "MINID", "100-1"],
        &["XLEN", "s"],
        &["XTRIM", "s", "MINID", "~", "200"],
        &["XTRIM", "s", "MAXLEN", "=", "0"],
        &["XLEN", "s"],
        &["EXISTS", "s"],
        &["XADD", "big", "1-1", "12", "34"],
        &["XRANGE", "big", "-", "+"],
    ]);
}

#[test]
fn approximate_trimming_matches_node_layout() {
    let Some(mut d) = Diff::new() else { return };
    let value = "x".repeat(100);
    for i in 1..=1000 {
        let id = format!("{i}-0");
        d.cmd(&["XADD", "t", &id, "f", &value]);
    }
    d.script(&[
        &["XTRIM", "t", "MAXLEN", "~", "550"],
        &["XLEN", "t"],
        &["XTRIM", "t", "MINID", "~", "700"],
        &["XTRIM", "t", "MAXLEN", "~", "0", "LIMIT", "100"],
        &["XTRIM", "t", "MINID", "812-0"],
        &["XLEN", "t"],
        &["XADD", "t", "MAXLEN", "~", "100", "2000-0", "f", "v"],
        &["XLEN", "t"],
        &["XADD", "t", "MINID", "~", "900", "2001-0", "f", "v"],
        &["XLEN", "t"],
        &["XRANGE", "t", "-", "+", "COUNT", "3"],
    ]);
    let info = |d: &mut Diff| {
        d.cmd_norm(&["XINFO", "STREAM", "t"], |r| {
            // radix-tree-nodes is Redis-internal: drop its value.
            let s = String::from_utf8_lossy(r).into_owned();
            let mut lines: Vec<&str> = s.split("\r\n").collect();
            if let Some(p) = lines.iter().position(|l| *l == "radix-tree-nodes") {
                lines[p + 1] = ":?";
            }
            lines.join("\r\n").into_bytes()
        });
    };
    info(&mut d);
}

#[test]
fn auto_ids_and_xinfo() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd_norm(&["XADD", "a", "*", "f", "v"], norm_time);
    d.cmd_norm(
        &["XADD", "a", "MAXLEN", "~", "1", "*", "f", "v2"],
        norm_time,
    );
    d.cmd_norm(&["XRANGE", "a", "-", "+"], norm_time);
    d.script(&[
        &["XINFO", "STREAM", "nokey"],
        &["XINFO", "HELP"],
        &["XGROUP", "HELP"],
        &["XINFO", "FOO"],
        &["XGROUP", "FOO"],
        &["XINFO", "STREAM"],
        &["XGROUP", "CREATE", "a"],
    ]);
}

/// XPENDING's extended rows are `[id, consumer, idle, count]`: the idle time depends on
/// timing, so it is replaced by `I`.
fn norm_idle(r: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(r).into_owned();
    let mut lines: Vec<String> = s.split("\r\n").map(|l| l.to_string()).collect();
    for i in 0..lines.len() {
        if lines[i] == "*4" && i + 6 < lines.len() && lines[i + 5].starts_with(':') {
            lines[i + 5] = ":I".into();
        }
    }
    lines.join("\r\n").into_bytes()
}

fn drop_radix_nodes(r: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(r).into_owned();
    let mut lines: Vec<String> = s.split("\r\n").map(|l| l.to_string()).collect();
    for p in 0..lines.len() {
        // radix-tree-nodes is Redis-internal; XINFO CONSUMERS idle times depend on timing.
        if (lines[p] == "radix-tree-nodes" || lines[p] == "idle") && p + 1 < lines.len() {
            lines[p + 1] = ":?".into();
        }
    }
    norm_time(lines.join("\r\n").as_bytes())
}

#[test]
fn consumer_groups_session() {
    let Some(mut d) = Diff::new() else { return };
    for i in 1..=6 {
        let id = format!("{i}-0");
        d.cmd(&["XADD", "s", &id, "f", &i.to_string()]);
    }
    d.script(&[
        &["XGROUP", "CREATE", "nokey", "g", "0"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XGROUP", "CREATE", "s", "g2", "$"],
        &["XGROUP", "CREATE", "s", "g3", "bad"],
        &["XGROUP", "CREATE", "s", "g3", "0", "FOO"],
        &["XGROUP", "CREATE", "s", "g3", "0", "ENTRIESREAD", "-5"],
        &["XGROUP", "CREATE", "s", "g3", "3", "ENTRIESREAD", "3"],
        &["XGROUP", "CREATE", "m", "g", "$", "MKSTREAM"],
        &["XINFO", "GROUPS", "m"],
        &["XGROUP", "SETID", "s", "nog", "0"],
        &["XGROUP", "SETID", "s", "g2", "0"],
        &["XGROUP", "SETID", "s", "g2", "$", "ENTRIESREAD", "6"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "alice"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "alice"],
        &["XGROUP", "CREATECONSUMER", "s", "nog", "alice"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "$"],
        &["XREADGROUP", "GROUP", "nog", "alice", "STREAMS", "s", ">"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "nokey", ">"],
        &["XREADGROUP", "STREAMS", "s", ">"],
        &["XREAD", "GROUP", "g", "a", "STREAMS", "s", ">"],
        &["XREAD", "NOACK", "STREAMS", "s", "0"],
        &["XREAD", "STREAMS", "s", ">"],
        &["XREAD", "COUNT", "2", "STREAMS", "s", "nokey", "0", "0"],
        &["XREAD", "STREAMS", "s", "$"],
        &["XREAD", "BLOCK", "-1", "STREAMS", "s", "$"],
        &["XREAD", "BLOCK", "x", "STREAMS", "s", "$"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
        &["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "s", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "carol",
            "NOACK",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        &["XPENDING", "s", "g"],
        &["XPENDING", "s", "g2"],
        &["XPENDING", "s", "nog"],
        &["XPENDING", "s", "g", "-", "+"],
        &["XPENDING", "s", "g", "IDLE", "0", "-", "+"],
        &["XPENDING", "s", "g", "-", "+", "x"],
        &["XPENDING", "s", "g", "x", "+", "10"],
    ]);
    d.cmd_norm(&["XPENDING", "s", "g", "-", "+", "10"], norm_idle);
    d.cmd_norm(
        &["XPENDING", "s", "g", "IDLE", "0", "-", "+", "10", "alice"],
        norm_idle,
    );
    d.script(&[
        &["XPENDING", "s", "g", "-", "+", "10", "nobody"],
        &["XDEL", "s", "2-0"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
        &["XACK", "s", "g", "1-0", "1-0", "9-0"],
        &["XACK", "s", "g", "bad"],
        &["XACK", "s", "nog", "1-0"],
        &["XACK", "nokey", "g", "1-0"],
        &["XCLAIM", "s", "nog", "bob", "0", "1-0"],
        &["XCLAIM", "s", "g", "bob", "x", "1-0"],
        &["XCLAIM", "s", "g", "bob", "0", "3-0", "FOO"],
        &["XCLAIM", "s", "g", "bob", "0", "3-0", "IDLE", "x"],
        &["XCLAIM", "s", "g", "bob", "0", "3-0", "RETRYCOUNT", "x"],
        &["XCLAIM", "s", "g", "bob", "3600000", "3-0"],
        &["XCLAIM", "s", "g", "dave", "0", "3-0", "5-0", "JUSTID"],
        &["XCLAIM", "s", "g", "dave", "0", "2-0", "6-0"],
        &[
            "XCLAIM",
            "s",
            "g",
            "dave",
            "0",
            "6-0",
            "FORCE",
            "RETRYCOUNT",
            "7",
            "JUSTID",
        ],
        &["XAUTOCLAIM", "s", "nog", "x", "0", "0"],
        &["XAUTOCLAIM", "s", "g", "erin", "x", "0"],
        &["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "0"],
        &["XAUTOCLAIM", "s", "g", "erin", "0", "0", "FOO"],
        &["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "1"],
        &["XAUTOCLAIM", "s", "g", "erin", "0", "0", "JUSTID"],
        &["XAUTOCLAIM", "s", "g", "erin", "3600000", "0"],
        &["XINFO", "GROUPS", "s"],
        &["XINFO", "CONSUMERS", "s", "nog"],
        &["XINFO", "GROUPS", "nokey"],
        &["XGROUP", "DELCONSUMER", "s", "g", "erin"],
        &["XGROUP", "DELCONSUMER", "s", "g", "erin"],
        &["XPENDING", "s", "g"],
        &["XGROUP", "DESTROY", "s", "g2"],
        &["XGROUP", "DESTROY", "s", "g2"],
        &["XGROUP", "DESTROY", "nokey", "g2"],
        &["XINFO", "GROUPS", "s"],
    ]);
    d.cmd_norm(&["XINFO", "STREAM", "s", "FULL"], drop_radix_nodes);
    d.cmd_norm(&["XINFO", "STREAM", "s"], drop_radix_nodes);
    d.cmd_norm(
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "1"],
        drop_radix_nodes,
    );
    d.script(&[
        &["XINFO", "STREAM", "s", "FULL", "COUNT"],
        &["XINFO", "STREAM", "s", "FOO"],
    ]);
    d.resp3();
    d.cmd_norm(&["XINFO", "STREAM", "s", "FULL"], drop_radix_nodes);
    d.script(&[
        &["XINFO", "GROUPS", "s"],
        &["XREAD", "STREAMS", "s", "0"],
        &["XREAD", "STREAMS", "s", "$"],
        &["XREADGROUP", "GROUP", "g3", "z", "STREAMS", "s", ">"],
        &["XPENDING", "s", "g3"],
        &["XPENDING", "m", "g"],
        &["XRANGE", "s", "-", "+", "COUNT", "0"],
    ]);
}

#[test]
fn lag_and_entries_read() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["XADD", "t", "1-1", "f", "v"],
        &["XADD", "t", "2-1", "f", "v"],
        &["XADD", "t", "3-1", "f", "v"],
        &["XADD", "t", "4-1", "f", "v"],
        &["XGROUP", "CREATE", "t", "g", "0", "ENTRIESREAD", "0"],
        &["XGROUP", "CREATE", "t", "h", "0"],
        &["XINFO", "GROUPS", "t"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "t",
            ">",
        ],
        &["XDEL", "t", "2-1"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "t",
            ">",
        ],
        &["XINFO", "GROUPS", "t"],
        &[
            "XREADGROUP",
            "GROUP",
            "h",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "t",
            ">",
        ],
        &["XINFO", "GROUPS", "t"],
        &["XREADGROUP", "GROUP", "h", "c", "STREAMS", "t", ">"],
        &["XINFO", "GROUPS", "t"],
        &["XTRIM", "t", "MAXLEN", "0"],
        &["XINFO", "GROUPS", "t"],
        &["XADD", "u", "5-1", "f", "v"],
        &["XADD", "u", "6-1", "f", "v"],
        &["XADD", "u", "7-1", "f", "v"],
        &["XDEL", "u", "5-1"],
        &["XGROUP", "CREATE", "u", "g", "3"],
        &["XINFO", "GROUPS", "u"],
        &["XGROUP", "SETID", "u", "g", "7-1"],
        &["XINFO", "GROUPS", "u"],
        &["XGROUP", "SETID", "u", "g", "6-1", "ENTRIESREAD", "2"],
        &["XINFO", "GROUPS", "u"],
    ]);
}

mod model {
    //! Random command sequences run against both servers, every reply compared: the node
    //! layout (approximate trims), lag bookkeeping and PEL handling must agree with Redis.
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    fn id_arg() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u64..60, 0u64..3).prop_map(|(m, s)| format!("{m}-{s}")),
            (0u64..60).prop_map(|m| m.to_string()),
            Just("-".to_string()),
            Just("+".to_string()),
            (0u64..60).prop_map(|m| format!("({m}")),
        ]
    }

    fn trim() -> impl Strategy<Value = Vec<String>> {
        (
            any::<bool>(),
            prop_oneof![Just(""), Just("~"), Just("=")],
            0u64..40,
            0u64..60,
            proptest::option::of(0u64..30),
        )
            .prop_map(|(maxlen, how, n, m, limit)| {
                let mut v = vec![if maxlen {
                    "MAXLEN".into()
                } else {
                    "MINID".into()
                }];
                if !how.is_empty() {
                    v.push(how.to_string());
                }
                v.push(if maxlen {
                    n.to_string()
                } else {
                    format!("{m}-0")
                });
                if let Some(l) = limit
                    && how == "~"
                {
                    v.push("LIMIT".into());
                    v.push(l.to_string());
                }
                v
            })
    }

    fn cmd() -> impl Strategy<Value = Vec<String>> {
        let value = (0usize..300, 0u8..3).prop_map(|(n, kind)| match kind {
            0 => "v".repeat(n),
            1 => (n * 7919).to_string(),
            _ => String::new(),
        });
        let fields = prop_oneof![Just(vec!["f"]), Just(vec!["f", "g"]), Just(vec!["g"])];
        let consumer = prop_oneof![Just("c1"), Just("c2"), Just("c3")];
        let group = prop_oneof![Just("g1"), Just("g2")];
        prop_oneof![
            8 => (0u64..60, proptest::option::of(0u64..3), fields, value, proptest::option::of(trim()))
                .prop_map(|(ms, seq, fields, value, trim)| {
                    let mut v = vec!["XADD".to_string(), "k".into()];
                    if let Some(t) = trim {
                        v.extend(t);
                    }
                    v.push(match seq {
                        Some(s) => format!("{ms}-{s}"),
                        None => format!("{ms}-*"),
                    });
                    for f in fields {
                        v.push(f.into());
                        v.push(value.clone());
                    }
                    v
                }),
            2 => id_arg().prop_map(|i| vec!["XDEL".into(), "k".into(), i]),
            2 => trim().prop_map(|t| {
                let mut v = vec!["XTRIM".to_string(), "k".into()];
                v.extend(t);
                v
            }),
            2 => (id_arg(), id_arg(), proptest::option::of(0u64..5), any::<bool>()).prop_map(|(a, b, c, rev)| {
                let mut v = vec![if rev { "XREVRANGE" } else { "XRANGE" }.to_string(), "k".into(), a, b];
                if let Some(c) = c {
                    v.push("COUNT".into());
                    v.push(c.to_string());
                }
                v
            }),
            1 => Just(vec!["XLEN".into(), "k".into()]),
            2 => (group.clone(), prop_oneof![Just("0".to_string()), Just("$".to_string()), (0u64..60).prop_map(|m| format!("{m}-0"))], any::<bool>())
                .prop_map(|(g, id, mk)| {
                    let mut v = vec!["XGROUP".into(), "CREATE".into(), "k".into(), g.into(), id];
                    if mk {
                        v.push("MKSTREAM".into());
                    }
                    v
                }),
            1 => (group.clone(), (0u64..60)).prop_map(|(g, m)| vec!["XGROUP".into(), "SETID".into(), "k".into(), g.into(), format!("{m}-0")]),
            4 => (group.clone(), consumer.clone(), 1u64..4, any::<bool>(), any::<bool>()).prop_map(|(g, c, n, noack, hist)| {
                let mut v = vec!["XREADGROUP".into(), "GROUP".into(), g.into(), c.into(), "COUNT".into(), n.to_string()];
                if noack {
                    v.push("NOACK".into());
                }
                v.extend(["STREAMS".into(), "k".into(), if hist { "0".into() } else { ">".into() }]);
                v
            }),
            2 => (group.clone(), id_arg()).prop_map(|(g, i)| vec!["XACK".into(), "k".into(), g.into(), i]),
            2 => group.clone().prop_map(|g| vec!["XPENDING".into(), "k".into(), g.into()]),
            1 => group.clone().prop_map(|g| vec!["XPENDING".into(), "k".into(), g.into(), "-".into(), "+".into(), "10".into()]),
            2 => (group.clone(), consumer.clone(), (0u64..60), any::<bool>(), any::<bool>()).prop_map(|(g, c, m, justid, force)| {
                let mut v = vec!["XCLAIM".into(), "k".into(), g.into(), c.into(), "0".into(), format!("{m}-0")];
                if justid {
                    v.push("JUSTID".into());
                }
                if force {
                    v.push("FORCE".into());
                }
                v
            }),
            1 => (group.clone(), consumer.clone(), 1u64..4, any::<bool>()).prop_map(|(g, c, n, justid)| {
                let mut v = vec!["XAUTOCLAIM".into(), "k".into(), g.into(), c.into(), "0".into(), "0".into(), "COUNT".into(), n.to_string()];
                if justid {
                    v.push("JUSTID".into());
                }
                v
            }),
            1 => (group.clone(), consumer.clone()).prop_map(|(g, c)| vec!["XGROUP".into(), "DELCONSUMER".into(), "k".into(), g.into(), c.into()]),
            1 => group.clone().prop_map(|g| vec!["XGROUP".into(), "DESTROY".into(), "k".into(), g.into()]),
            2 => Just(vec!["XINFO".into(), "GROUPS".into(), "k".into()]),
            1 => Just(vec!["XINFO".into(), "STREAM".into(), "k".into()]),
            1 => Just(vec!["XINFO".into(), "STREAM".into(), "k".into(), "FULL".into()]),
            1 => (0u64..60, 0u64..3).prop_map(|(m, s)| vec!["XSETID".into(), "k".into(), format!("{m}-{s}")]),
            2 => (0u64..4, prop_oneof![Just("$".to_string()), (0u64..60).prop_map(|m| format!("{m}-0"))])
                .prop_map(|(n, id)| vec!["XREAD".into(), "COUNT".into(), n.to_string(), "STREAMS".into(), "k".into(), "nokey".into(), id, "0".into()]),
        ]
    }

    #[test]
    fn random_sequences_match_redis() {
        run_model(false);
    }

    #[test]
    fn random_sequences_match_redis_resp3() {
        run_model(true);
    }

    /// Tiny nodes: many node boundaries, approximate trims and tail-node edge cases.
    #[test]
    fn random_sequences_match_redis_small_nodes() {
        run_model_with(
            false,
            &[
                "--stream-node-max-entries",
                "3",
                "--stream-node-max-bytes",
                "200",
            ],
        );
    }

    fn run_model(resp3: bool) {
        run_model_with(resp3, &[]);
    }

    fn run_model_with(resp3: bool, args: &[&str]) {
        let Some(mut d) = Diff::with_args(args) else {
            return;
        };
        if resp3 {
            d.resp3();
        }
        let d = std::cell::RefCell::new(d);
        let mut runner = TestRunner::new(Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&proptest::collection::vec(cmd(), 1..80), |cmds| {
            let mut d = d.borrow_mut();
            d.cmd(&["FLUSHALL"]);
            for c in &cmds {
                // Delivery and seen times differ by a millisecond or two: normalise them.
                if c[0] == "XPENDING" {
                    d.cmd_norm(c, norm_idle);
                } else {
                    d.cmd_norm(c, drop_radix_nodes);
                }
            }
            d.cmd_norm(
                &["XINFO", "STREAM", "k", "FULL", "COUNT", "0"],
                drop_radix_nodes,
            );
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}

/// The AOF rewrite of a stream (`Stream::rewrite`) replayed into both servers rebuilds the
/// same stream: entries, counters, groups, consumers and pending entries.
#[test]
fn rewrite_commands_rebuild_the_stream_in_both_servers() {
    use bytes::Bytes;
    use ferrymq::store::stream::{INVALID_ENTRIES_READ, IdSpec, NodeLimits, Stream, StreamId};
    let Some(mut d) = Diff::new() else { return };
    let mut s = Stream::new();
    for i in 1..=40u64 {
        let v = i.to_string();
        let f: [(&[u8], &[u8]); 2] = [(b"f", v.as_bytes()), (b"g", b"x")];
        s.append(
            IdSpec::Exact(StreamId::new(i, 0)),
            &f,
            0,
            NodeLimits::default(),
        )
        .unwrap();
    }
    s.delete(StreamId::new(3, 0));
    s.delete(StreamId::new(40, 0));
    s.create_group(b"g1", StreamId::MIN, INVALID_ENTRIES_READ);
    s.create_group(b"g2", StreamId::new(20, 0), 19);
    let first: Vec<StreamId> = s
        .range(StreamId::MIN, StreamId::MAX)
        .take(5)
        .map(|e| e.id)
        .collect();
    s.deliver_new(b"g1", b"alice", &first, 1_700_000_000_123, false);
    s.group_mut(b"g1").unwrap().create_consumer(b"idle", 1);
    s.group_mut(b"g1")
        .unwrap()
        .redeliver(first[1], 1_700_000_000_999);
    let mut cmds = Vec::new();
    s.rewrite(&Bytes::from_static(b"k"), &mut cmds);
    for c in &cmds {
        d.cmd(c);
    }
    // An empty stream with counters.
    let mut e = Stream::new();
    e.set_id(StreamId::new(5, 5), Some(7), Some(StreamId::new(4, 0)));
    let mut cmds = Vec::new();
    e.rewrite(&Bytes::from_static(b"e"), &mut cmds);
    for c in &cmds {
        d.cmd(c);
    }
    d.cmd_norm(&["XINFO", "STREAM", "k", "FULL", "COUNT", "0"], |r| {
        // seen-time is set by the replay itself.
        let s = String::from_utf8_lossy(&drop_radix_nodes(r)).into_owned();
        s.into_bytes()
    });
    d.cmd_norm(&["XINFO", "STREAM", "e", "FULL"], drop_radix_nodes);
    d.cmd(&["XINFO", "GROUPS", "k"]);
    d.cmd_norm(&["XPENDING", "k", "g1", "-", "+", "10"], norm_idle);
}

#[test]
fn option_edge_cases() {
    let Some(mut d) = Diff::new() else { return };
    for i in 1..=12 {
        let id = format!("{i}-0");
        d.cmd(&["XADD", "s", &id, "f", &i.to_string()]);
    }
    d.script(&[
        &["XGROUP", "CREATE", "s", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "COUNT",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "COUNT",
            "-3",
            "STREAMS",
            "s",
            "0",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            "3",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "STREAMS",
            "s",
            "s",
            ">",
            ">",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "NOACK",
            "NOACK",
            "STREAMS",
            "s",
            "0",
        ],
        &["XREADGROUP", "GROUP", "g", "STREAMS", "s", ">"],
        &["XREAD", "COUNT", "x", "STREAMS", "s", "0"],
        &["XREAD", "STREAMS", "s", "0-0", "extra"],
        &["XREAD", "COUNT", "1", "STREAMS", "s", "s", "0", "5"],
        &[
            "XREAD",
            "STREAMS",
            "s",
            "18446744073709551615-18446744073709551615",
        ],
        &["XCLAIM", "s", "g", "b", "-5", "1-0", "2-0", "JUSTID"],
        &[
            "XCLAIM",
            "s",
            "g",
            "b",
            "0",
            "1-0",
            "TIME",
            "99999999999999",
            "RETRYCOUNT",
            "-1",
            "JUSTID",
        ],
        &[
            "XCLAIM", "s", "g", "b", "0", "1-0", "IDLE", "-100", "JUSTID",
        ],
        &[
            "XCLAIM",
            "s",
            "g",
            "b",
            "0",
            "1-0",
            "IDLE",
            "-9223372036854775808",
            "JUSTID",
        ],
        &[
            "XCLAIM",
            "s",
            "g",
            "b",
            "0",
            "1-0",
            "TIME",
            "-9223372036854775808",
            "JUSTID",
        ],
        &["XCLAIM", "s", "g", "b", "0", "1-0", "LASTID", "bad"],
        &[
            "XCLAIM", "s", "g", "b", "0", "1-0", "LASTID", "100-0", "JUSTID",
        ],
        &["XINFO", "GROUPS", "s"],
        &["XCLAIM", "s", "g", "b", "0", "bad", "1-0"],
        &["XCLAIM", "s", "g", "b", "0", "1-0", "bad"],
        &[
            "XAUTOCLAIM",
            "s",
            "g",
            "c",
            "-1",
            "(1-0",
            "COUNT",
            "1",
            "JUSTID",
        ],
        &[
            "XAUTOCLAIM",
            "s",
            "g",
            "c",
            "0",
            "(18446744073709551615-18446744073709551615",
        ],
        &[
            "XAUTOCLAIM",
            "s",
            "g",
            "c",
            "0",
            "-",
            "COUNT",
            "576460752303423488",
        ],
        &["XAUTOCLAIM", "s", "g", "c", "0", "+"],
        &["XPENDING", "s", "g", "IDLE", "x", "-", "+", "10"],
        &["XPENDING", "s", "g", "IDLE", "10", "-", "+"],
        &["XPENDING", "s", "g", "-", "+", "-1"],
        &["XPENDING", "s", "g", "(-", "+", "1"],
    ]);
    d.cmd_norm(
        &["XPENDING", "s", "g", "-", "+", "10", "b", "extra"],
        norm_idle,
    );
    d.script(&[
        &["XPENDING", "s", "g", "IDLE", "99999999", "-", "+", "10"],
        &["XPENDING", "s", "g", "+", "-", "10"],
        &["XGROUP", "SETID", "s", "g", "+"],
        &["XGROUP", "SETID", "s", "g", "-"],
        &["XGROUP", "SETID", "s", "g", "5", "ENTRIESREAD"],
        &["XGROUP", "SETID", "s", "g", "5", "ENTRIESREAD", "-2"],
        &["XGROUP", "SETID", "s", "g", "5", "FOO", "1"],
        &[
            "XGROUP",
            "CREATE",
            "s",
            "h",
            "0",
            "MKSTREAM",
            "ENTRIESREAD",
            "3",
            "MKSTREAM",
        ],
        &["XGROUP", "CREATE", "s", "i", "0", "ENTRIESREAD"],
        &["XGROUP", "CREATE", "s", "j", "+"],
        &["XGROUP", "CREATECONSUMER", "s", "g"],
        &["XGROUP", "DESTROY", "s"],
        &["XINFO", "GROUPS", "s"],
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "x"],
    ]);
    // Delivery and seen times are normalised.
    d.cmd_norm(
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "-1"],
        drop_radix_nodes,
    );
    d.script(&[
        &["XINFO", "CONSUMERS", "s"],
        &["XINFO", "CONSUMERS", "nokey", "g"],
        &["XTRIM", "s", "MAXLEN", "~", "5", "LIMIT", "0"],
        &["XTRIM", "s", "MINID", "~"],
        &["XTRIM", "s", "MINID", "bad"],
        &["XTRIM", "s", "MAXLEN", "1", "MAXLEN", "2"],
        &["XTRIM", "s", "LIMIT", "5", "MAXLEN", "~", "1"],
        &["XADD", "s", "NOMKSTREAM", "NOMKSTREAM", "20-0", "f", "v"],
        &["XADD", "s", "MINID", "~", "bad", "21-0", "f", "v"],
        &[
            "XADD",
            "s",
            "maxlen",
            "=",
            "3",
            "nomkstream",
            "22-*",
            "f",
            "v",
        ],
        &["XRANGE", "s", "-", "+"],
        &["XRANGE", "s", "-", "+", "COUNT", "1", "COUNT", "2"],
        &["XREVRANGE", "s", "(22-0", "-"],
        &["XREVRANGE", "s", "+", "(22-0"],
    ]);
}

/// Random argument lists (mostly invalid) get the same replies, errors included, from both.
#[test]
fn random_arguments_match_redis() {
    fuzz_arguments(false);
}

#[test]
fn random_arguments_match_redis_resp3() {
    fuzz_arguments(true);
}

fn fuzz_arguments(resp3: bool) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let Some(mut d) = Diff::new() else { return };
    if resp3 {
        d.resp3();
    }
    let d = std::cell::RefCell::new(d);
    let seed = |d: &mut Diff| {
        for i in 1..=8 {
            let id = format!("{i}-0");
            d.cmd(&["XADD", "s", &id, "f", "v"]);
        }
        d.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
        d.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "4",
            "STREAMS",
            "s",
            ">",
        ]);
    };
    seed(&mut d.borrow_mut());
    let words = prop_oneof![
        Just("s".to_string()),
        Just("g".to_string()),
        Just("c".to_string()),
        Just("$".to_string()),
        Just(">".to_string()),
        Just("-".to_string()),
        Just("+".to_string()),
        Just("(1".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("5".to_string()),
        Just("~".to_string()),
        Just("=".to_string()),
        prop_oneof![
            Just("MAXLEN"),
            Just("MINID"),
            Just("LIMIT"),
            Just("NOMKSTREAM"),
            Just("COUNT"),
            Just("STREAMS"),
            Just("GROUP"),
            Just("NOACK"),
            Just("RETRYCOUNT"),
            Just("FORCE"),
            Just("JUSTID"),
            Just("LASTID"),
            Just("MKSTREAM"),
            Just("ENTRIESREAD"),
            Just("ENTRIESADDED"),
            Just("MAXDELETEDID"),
            Just("FULL"),
            Just("CREATE"),
            Just("SETID"),
            Just("DESTROY"),
            Just("CREATECONSUMER"),
            Just("DELCONSUMER"),
            Just("STREAM"),
            Just("GROUPS"),
            Just("CONSUMERS"),
        ]
        .prop_map(|s| s.to_string()),
        (1u64..20, 0u64..3).prop_map(|(a, b)| format!("{a}-{b}")),
        "[a-z]{1,3}",
    ];
    let cmd = prop_oneof![
        Just("XADD"),
        Just("XLEN"),
        Just("XRANGE"),
        Just("XREVRANGE"),
        Just("XDEL"),
        Just("XTRIM"),
        Just("XSETID"),
        Just("XREAD"),
        Just("XREADGROUP"),
        Just("XACK"),
        Just("XPENDING"),
        Just("XCLAIM"),
        Just("XAUTOCLAIM"),
        Just("XGROUP"),
        Just("XINFO"),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (cmd, proptest::collection::vec(words, 0..9));
    let result = runner.run(&strategy, |(name, args)| {
        let mut argv = vec![name.to_string()];
        argv.extend(args);
        let mut d = d.borrow_mut();
        // Keep a populated stream with a group around most of the time.
        if !d.ferry.cmd_s(&["EXISTS", "s"]).contains(":1") {
            d.cmd(&["DEL", "s"]);
            seed(&mut d);
        }
        if name == "XPENDING" {
            d.cmd_norm(&argv, norm_idle);
        } else {
            d.cmd_norm(&argv, drop_radix_nodes);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn extreme_counters() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["XADD", "s", "1-0", "f", "v"],
        &["XADD", "s", "2-0", "f", "v"],
        &[
            "XGROUP",
            "CREATE",
            "s",
            "g",
            "0",
            "ENTRIESREAD",
            "9223372036854775807",
        ],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
        &["XINFO", "GROUPS", "s"],
        &["XSETID", "s", "5-0", "ENTRIESADDED", "9223372036854775807"],
        &["XADD", "s", "6-0", "f", "v"],
        &["XINFO", "GROUPS", "s"],
    ]);
    d.cmd_norm(&["XINFO", "STREAM", "s"], drop_radix_nodes);
}
