//! Differential tests of the bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD, BITFIELD_RO): the same commands against ferrymq and redis-server, replies compared
//! byte for byte; their keyspace events and change counts; random sequences; AOF replay.

mod common;
use common::notify::Events;
use common::{Diff, DirServer};
use proptest::prelude::*;
use std::sync::Mutex;

/// `d.cmd` with byte arguments (binary values).
fn bin(d: &mut Diff, args: &[&[u8]]) -> Vec<u8> {
    d.cmd(args)
}

#[test]
fn errors_match_redis_exactly() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["SETBIT"],
        &["SETBIT", "b", "1"],
        &["SETBIT", "b", "1", "1", "1"],
        &["SETBIT", "b", "-1", "1"],
        &["SETBIT", "b", "abc", "1"],
        &["SETBIT", "b", "1.5", "1"],
        &["SETBIT", "b", "+1", "1"],
        &["SETBIT", "b", "01", "1"],
        &["SETBIT", "b", "", "1"],
        &["SETBIT", "b", "#1", "1"],
        &["SETBIT", "b", "4294967296", "1"],
        &["SETBIT", "b", "99999999999999999999", "1"],
        &["SETBIT", "b", "1", "2"],
        &["SETBIT", "b", "1", "-1"],
        &["SETBIT", "b", "1", "x"],
        &["SETBIT", "b", "1", ""],
        // The offset is checked before the value.
        &["SETBIT", "b", "x", "x"],
        &["GETBIT", "b"],
        &["GETBIT", "b", "-1"],
        &["GETBIT", "b", "x"],
        &["GETBIT", "b", "4294967296"],
        &["BITCOUNT"],
        &["BITPOS", "b"],
        &["BITPOS", "b", "2"],
        &["BITPOS", "b", "-1"],
        &["BITPOS", "b", "x"],
        &["BITOP", "AND", "d"],
        &["BITOP", "NAND", "d", "a"],
        &["BITOP", "NOT", "d"],
        &["BITOP", "NOT", "d", "a", "b"],
        &["BITFIELD"],
        &["BITFIELD_RO"],
        &["SET", "s", "foobar"],
        &["BITCOUNT", "s", "0"],
        &["BITCOUNT", "s", "0", "1", "2", "3"],
        &["BITCOUNT", "s", "a", "1"],
        &["BITCOUNT", "s", "1", "a"],
        &["BITCOUNT", "s", "0", "1", "foo"],
        &["BITCOUNT", "s", "0", "1", "bits"],
        // Two negative indexes out of order answer 0 before the unit is read.
        &["BITCOUNT", "s", "-1", "-2", "foo"],
        &["BITPOS", "s", "1", "a"],
        &["BITPOS", "s", "1", "0", "a"],
        &["BITPOS", "s", "1", "0", "1", "foo"],
        // The unit is read before the end.
        &["BITPOS", "s", "1", "0", "x", "foo"],
        &["BITPOS", "s", "1", "0", "1", "bit", "x"],
        &["BITFIELD", "s", "foo"],
        &["BITFIELD", "s", "get"],
        &["BITFIELD", "s", "get", "u8"],
        &["BITFIELD", "s", "set", "u8", "0"],
        &["BITFIELD", "s", "incrby", "u8", "0"],
        &["BITFIELD", "s", "overflow"],
        &["BITFIELD", "s", "overflow", "foo", "get", "u8", "0"],
        &["BITFIELD", "s", "get", "u64", "0"],
        &["BITFIELD", "s", "get", "i65", "0"],
        &["BITFIELD", "s", "get", "i0", "0"],
        &["BITFIELD", "s", "get", "u0", "0"],
        &["BITFIELD", "s", "get", "x8", "0"],
        &["BITFIELD", "s", "get", "I8", "0"],
        &["BITFIELD", "s", "get", "U8", "0"],
        &["BITFIELD", "s", "get", "u08", "0"],
        &["BITFIELD", "s", "get", "u+8", "0"],
        &["BITFIELD", "s", "get", "u", "0"],
        &["BITFIELD", "s", "get", "", "0"],
        &["BITFIELD", "s", "get", "u8", "-1"],
        &["BITFIELD", "s", "get", "u8", "#-1"],
        &["BITFIELD", "s", "get", "u8", "#"],
        &["BITFIELD", "s", "get", "u8", "##1"],
        &["BITFIELD", "s", "get", "u8", "#9223372036854775807"],
        &["BITFIELD", "s", "get", "u8", "#536870912"],
        &["BITFIELD", "s", "get", "u8", "4294967296"],
        &["BITFIELD", "s", "set", "u8", "0", "x"],
        &["BITFIELD", "s", "set", "u8", "0", "1.5"],
        &["BITFIELD", "s", "incrby", "u8", "0", "99999999999999999999"],
        // An error anywhere stops everything: nothing ran.
        &["BITFIELD", "s", "set", "u8", "0", "65", "get", "x8", "0"],
        &["GET", "s"],
        &["BITFIELD_RO", "s", "set", "u8", "0", "1"],
        &["BITFIELD_RO", "s", "incrby", "u8", "0", "1"],
        &["BITFIELD_RO", "s", "overflow", "sat", "get", "u8", "0"],
        // Parse errors come before the read-only check.
        &[
            "BITFIELD_RO",
            "s",
            "incrby",
            "u8",
            "0",
            "1",
            "get",
            "x8",
            "0",
        ],
        &[
            "BITFIELD_RO",
            "s",
            "get",
            "x8",
            "0",
            "incrby",
            "u8",
            "0",
            "1",
        ],
        &["BITFIELD_RO", "s", "foo"],
    ]);
}

#[test]
fn wrongtype_and_missing_keys() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["RPUSH", "l", "a"],
        &["SETBIT", "l", "1", "1"],
        &["GETBIT", "l", "1"],
        // Argument errors come first.
        &["GETBIT", "l", "x"],
        &["SETBIT", "l", "1", "x"],
        &["BITCOUNT", "l"],
        &["BITCOUNT", "l", "0"],
        &["BITPOS", "l", "1"],
        &["BITPOS", "l", "2"],
        &["BITOP", "AND", "d", "l"],
        &["SET", "a", "x"],
        &["BITOP", "OR", "d", "a", "l"],
        &["EXISTS", "d"],
        &["BITOP", "OR", "l", "a"],
        &["TYPE", "l"],
        &["BITFIELD", "l", "get", "u8", "0"],
        &["BITFIELD", "l", "set", "u8", "0", "1"],
        &["BITFIELD", "l"],
        &["BITFIELD_RO", "l", "get", "u8", "0"],
        &["BITFIELD_RO", "l"],
        &["BITFIELD", "l", "get", "x8", "0"],
        // Missing keys read as empty strings; syntax errors after the lookup are not seen.
        &["GETBIT", "nokey", "100"],
        &["BITCOUNT", "nokey"],
        &["BITCOUNT", "nokey", "0"],
        &["BITPOS", "nokey", "0"],
        &["BITPOS", "nokey", "1"],
        &["BITPOS", "nokey", "1", "0", "1", "bit", "x"],
        &["BITFIELD", "nokey"],
        &["BITFIELD", "nokey", "get", "u8", "0", "get", "i64", "100"],
        &["BITFIELD_RO", "nokey", "get", "i5", "3"],
        &["EXISTS", "nokey"],
        &["BITOP", "AND", "d", "nokey", "nokey2"],
        &["EXISTS", "d"],
    ]);
}

#[test]
fn setbit_getbit_bitcount() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["SETBIT", "b", "7", "1"],
        &["SETBIT", "b", "7", "1"],
        &["GET", "b"],
        &["SETBIT", "b", "7", "0"],
        &["GET", "b"],
        &["SETBIT", "b", "100", "1"],
        &["STRLEN", "b"],
        &["GETBIT", "b", "100"],
        &["GETBIT", "b", "101"],
        &["GETBIT", "b", "100000"],
        &["SETBIT", "b", "0", "1"],
        &["GET", "b"],
        &["SET", "n", "12345"],
        &["GETBIT", "n", "2"],
        &["SETBIT", "n", "6", "1"],
        &["GET", "n"],
        &["SET", "t", "v", "EX", "100"],
        &["SETBIT", "t", "3", "1"],
        &["TTL", "t"],
        &["SET", "s", "foobar"],
        &["BITCOUNT", "s"],
        &["BITCOUNT", "s", "0", "0"],
        &["BITCOUNT", "s", "1", "1"],
        &["BITCOUNT", "s", "1", "-1"],
        &["BITCOUNT", "s", "-2", "-1"],
        &["BITCOUNT", "s", "-1", "-2"],
        &["BITCOUNT", "s", "-100", "-90"],
        &["BITCOUNT", "s", "-100", "100"],
        &["BITCOUNT", "s", "3", "1"],
        &["BITCOUNT", "s", "0", "-1", "BIT"],
        &["BITCOUNT", "s", "5", "30", "bit"],
        &["BITCOUNT", "s", "5", "5", "bit"],
        &["BITCOUNT", "s", "1", "6", "BIT"],
        &["BITCOUNT", "s", "-10", "-3", "bit"],
        &["BITCOUNT", "s", "9", "8", "bit"],
        &["BITCOUNT", "s", "0", "1000", "byte"],
        &["SET", "e", ""],
        &["BITCOUNT", "e"],
        &["BITCOUNT", "e", "0", "-1"],
        &["BITCOUNT", "e", "0", "-1", "bit"],
        &["GETBIT", "e", "0"],
    ]);
}

#[test]
fn bitpos_ranges() {
    let Some(mut d) = Diff::new() else { return };
    bin(&mut d, &[b"SET", b"o", b"\xff\xf0\x00"]);
    bin(&mut d, &[b"SET", b"ones", b"\xff\xff\xff\xff"]);
    bin(&mut d, &[b"SET", b"zeros", b"\x00\x00\x00"]);
    d.script(&[
        &["SET", "e", ""],
        &["BITPOS", "e", "0"],
        &["BITPOS", "e", "1"],
        &["BITPOS", "e", "0", "0", "-1"],
        &["BITPOS", "e", "0", "0", "-1", "bit"],
    ]);
    for key in ["o", "ones", "zeros"] {
        for bit in ["0", "1"] {
            d.cmd(&["BITPOS", key, bit]);
            for start in ["0", "1", "2", "-1", "-2", "5", "-100"] {
                d.cmd(&["BITPOS", key, bit, start]);
                d.cmd(&["BITPOS", key, bit, start, "-1"]);
                d.cmd(&["BITPOS", key, bit, start, "1"]);
                d.cmd(&["BITPOS", key, bit, start, "100"]);
            }
            for (s, e) in [
                ("0", "3"),
                ("3", "7"),
                ("7", "15"),
                ("8", "11"),
                ("8", "12"),
                ("9", "9"),
                ("13", "20"),
                ("12", "23"),
                ("3", "2"),
                ("-5", "-1"),
                ("-9", "-7"),
                ("0", "-1"),
                ("20", "100"),
                ("31", "31"),
            ] {
                d.cmd(&["BITPOS", key, bit, s, e, "BIT"]);
                d.cmd(&["BITPOS", key, bit, s, e, "byte"]);
            }
        }
    }
}

#[test]
fn bitop_results_and_destination() {
    let Some(mut d) = Diff::new() else { return };
    bin(
        &mut d,
        &[
            b"SET",
            b"a",
            b"\x01\x02\xff\x00abcdefghijklmnopqrstuvwxyz012345",
        ],
    );
    bin(&mut d, &[b"SET", b"b", b"\xf0"]);
    bin(
        &mut d,
        &[b"SET", b"c", b"0123456789abcdefghijklmnopqrstuvwxyzABCDEF"],
    );
    for op in ["AND", "OR", "XOR", "and", "Or"] {
        d.cmd(&["BITOP", op, "d", "a", "b"]);
        d.cmd(&["GET", "d"]);
        d.cmd(&["BITOP", op, "d", "a", "c", "nokey"]);
        d.cmd(&["GET", "d"]);
        d.cmd(&["BITOP", op, "d", "a"]);
        d.cmd(&["GET", "d"]);
    }
    d.script(&[
        &["BITOP", "NOT", "d", "a"],
        &["GET", "d"],
        &["BITOP", "not", "d", "nokey"],
        &["EXISTS", "d"],
        &["SET", "d", "x", "EX", "100"],
        &["BITOP", "OR", "d", "b"],
        &["TTL", "d"],
        &["GET", "d"],
        // An empty result deletes the destination.
        &["BITOP", "AND", "d", "nokey"],
        &["EXISTS", "d"],
        &["BITOP", "AND", "d", "nokey"],
        &["SET", "e", ""],
        &["SET", "d", "x"],
        &["BITOP", "XOR", "d", "e", "e"],
        &["EXISTS", "d"],
        // The destination may be a source, and of another type.
        &["BITOP", "NOT", "a", "a"],
        &["GET", "a"],
        &["RPUSH", "l", "x"],
        &["BITOP", "OR", "l", "b"],
        &["TYPE", "l"],
        &["GET", "l"],
    ]);
}

#[test]
fn bitfield_operations() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["BITFIELD", "bf"],
        &["BITFIELD", "bf", "get", "u8", "0"],
        &["EXISTS", "bf"],
        &["BITFIELD", "bf", "set", "u8", "0", "255", "get", "u8", "0"],
        &["BITFIELD", "bf", "incrby", "u8", "0", "10"],
        &[
            "BITFIELD", "bf", "OVERFLOW", "SAT", "incrby", "u8", "0", "300",
        ],
        &[
            "BITFIELD", "bf", "overflow", "sat", "incrby", "i8", "0", "-1",
        ],
        &[
            "BITFIELD", "bf", "overflow", "fail", "incrby", "u8", "0", "300",
        ],
        &[
            "BITFIELD", "bf", "overflow", "fail", "set", "i4", "0", "8", "get", "i4", "0",
        ],
        &[
            "BITFIELD", "bf", "set", "i64", "0", "-1", "get", "u63", "0", "get", "i64", "0",
        ],
        &[
            "BITFIELD",
            "bf",
            "incrby",
            "i64",
            "0",
            "9223372036854775807",
        ],
        &[
            "BITFIELD",
            "bf",
            "overflow",
            "sat",
            "incrby",
            "i64",
            "0",
            "-9223372036854775808",
            "incrby",
            "i64",
            "0",
            "-1",
        ],
        &[
            "BITFIELD",
            "bf",
            "overflow",
            "wrap",
            "incrby",
            "i64",
            "0",
            "-9223372036854775808",
        ],
        &[
            "BITFIELD",
            "bf",
            "overflow",
            "sat",
            "incrby",
            "i64",
            "0",
            "9223372036854775807",
        ],
        &["BITFIELD", "bf", "set", "u63", "0", "-1"],
        &[
            "BITFIELD", "bf", "overflow", "sat", "set", "u8", "0", "-1", "set", "i8", "8", "200",
        ],
        &[
            "BITFIELD", "bf", "overflow", "fail", "set", "u8", "0", "-1", "set", "i8", "8", "127",
        ],
        &[
            "BITFIELD", "bf", "set", "u1", "3", "1", "set", "i1", "4", "1", "get", "i1", "4",
        ],
        &[
            "BITFIELD", "bf", "overflow", "sat", "incrby", "i1", "4", "-5", "incrby", "u1", "3",
            "9",
        ],
        &[
            "BITFIELD", "bf", "set", "u8", "#2", "7", "get", "u8", "16", "get", "u8", "#2",
        ],
        &[
            "BITFIELD", "bf", "set", "i5", "#3", "-3", "get", "i5", "15", "get", "u15", "#1",
        ],
        &[
            "BITFIELD", "bf", "GET", "u8", "0", "SET", "u8", "0", "1", "OVERFLOW", "SAT", "INCRBY",
            "u8", "0", "1000", "OVERFLOW", "WRAP", "INCRBY", "u8", "0", "1000",
        ],
        &["GET", "bf"],
        &[
            "BITFIELD", "bf", "incrby", "u2", "100", "1", "get", "u2", "100",
        ],
        &["STRLEN", "bf"],
        &[
            "BITFIELD_RO",
            "bf",
            "get",
            "u8",
            "0",
            "get",
            "i16",
            "3",
            "get",
            "u63",
            "1",
        ],
        &["BITFIELD_RO", "bf", "GET", "i64", "#1", "get", "u8", "1000"],
        &["BITFIELD_RO", "nokey", "get", "u8", "0", "get", "i5", "100"],
        // A FAIL on a missing key still creates it, zero-filled.
        &[
            "BITFIELD", "new", "overflow", "fail", "incrby", "u8", "0", "300",
        ],
        &["EXISTS", "new"],
        &["GET", "new"],
        &["BITFIELD", "new2", "set", "u8", "0", "0"],
        &["GET", "new2"],
        &[
            "BITFIELD", "new3", "get", "u8", "100", "set", "u4", "3", "15", "get", "u8", "0",
        ],
        &["GET", "new3"],
        &["SET", "n", "12345"],
        &[
            "BITFIELD", "n", "get", "u8", "0", "get", "i16", "4", "incrby", "u4", "2", "3",
        ],
        &["GET", "n"],
        &["SET", "t", "v", "EX", "1000"],
        &["BITFIELD", "t", "set", "u8", "8", "65"],
        &["GET", "t"],
        &["TTL", "t"],
    ]);
    bin(
        &mut d,
        &[b"SET", b"big", b"\x80\x00\x00\x00\x00\x00\x00\x00\x01"],
    );
    d.script(&[
        &[
            "BITFIELD", "big", "get", "i64", "0", "get", "u63", "1", "get", "i64", "1", "get",
            "u8", "65", "get", "i3", "70",
        ],
        &[
            "BITFIELD", "big", "set", "i3", "70", "3", "set", "u1", "71", "1", "set", "i64", "7",
            "5",
        ],
        &["GET", "big"],
    ]);
    // RESP3: the FAIL null is `_`.
    d.resp3();
    d.script(&[
        &[
            "BITFIELD", "r3", "overflow", "fail", "incrby", "u2", "0", "7", "get", "u2", "0",
        ],
        &["BITFIELD_RO", "r3", "get", "i8", "0"],
        &["BITCOUNT", "r3"],
        &["BITPOS", "r3", "0"],
    ]);
}

/// Offsets stop at `proto-max-bulk-len` bytes.
#[test]
fn offsets_limited_by_proto_max_bulk_len() {
    let Some(mut d) = Diff::with_args(&["--proto-max-bulk-len", "1mb"]) else {
        return;
    };
    d.script(&[
        &["SETBIT", "b", "8388608", "1"],
        &["SETBIT", "b", "8388607", "1"],
        &["STRLEN", "b"],
        &["GETBIT", "b", "8388608"],
        &["GETBIT", "b", "8388607"],
        &["BITFIELD", "b", "get", "u8", "8388608"],
        &["BITFIELD", "b", "get", "u8", "8388600"],
        &["BITFIELD", "b", "get", "u8", "#1048576"],
        &["BITFIELD", "b", "get", "u8", "#1048575"],
        &["BITFIELD", "b", "get", "i64", "#131071"],
        &["BITFIELD", "b", "set", "i64", "#131072", "1"],
        &["BITFIELD_RO", "b", "get", "u8", "8388608"],
        &["BITCOUNT", "b"],
        &["BITPOS", "b", "1"],
        &["BITPOS", "b", "1", "-1"],
        &["CONFIG", "SET", "proto-max-bulk-len", "2mb"],
        &["SETBIT", "b", "8388608", "1"],
        &["STRLEN", "b"],
    ]);
}

#[test]
fn events_and_change_counts() {
    let Some(mut t) = Events::new("KEAn") else {
        return;
    };
    t.script(&[
        // New key: `new` then `setbit`; a bit already set is no change at all.
        &["SETBIT", "b", "7", "1"],
        &["SETBIT", "b", "7", "1"],
        &["SETBIT", "b", "7", "0"],
        &["SETBIT", "b", "7", "0"],
        // Growing the string is a change even when the bit stays 0.
        &["SETBIT", "b", "100", "0"],
        &["GETBIT", "b", "7"],
        &["BITCOUNT", "b"],
        &["BITPOS", "b", "0"],
        &["BITFIELD", "b", "get", "u8", "0"],
        &["BITFIELD_RO", "b", "get", "u8", "0"],
        // One change per field written; unchanged fields count only when the string grew.
        &[
            "BITFIELD", "b", "set", "u8", "0", "1", "set", "u8", "8", "2", "get", "u8", "0",
        ],
        &[
            "BITFIELD", "b", "set", "u8", "0", "1", "set", "u8", "8", "3",
        ],
        &[
            "BITFIELD", "b", "set", "u8", "0", "1", "set", "u8", "8", "3",
        ],
        &[
            "BITFIELD", "b", "set", "u8", "0", "1", "set", "u8", "200", "0",
        ],
        &[
            "BITFIELD", "b", "overflow", "fail", "incrby", "u8", "0", "1000",
        ],
        &["BITFIELD", "b", "incrby", "u8", "0", "256"],
        &[
            "BITFIELD", "nb", "overflow", "fail", "incrby", "u8", "0", "1000",
        ],
        &[
            "BITFIELD", "nb2", "set", "u8", "0", "0", "set", "i8", "0", "0",
        ],
        &["SET", "a", "x"],
        &["BITOP", "NOT", "d", "a"],
        &["BITOP", "AND", "d", "a", "b"],
        &["BITOP", "AND", "d", "nokey"],
        &["BITOP", "AND", "d", "nokey"],
        &["SET", "d", "v", "EX", "100"],
        &["BITOP", "OR", "d", "a"],
        &["TTL", "d"],
    ]);
}

/// BITFIELD's and SETBIT's effects inside MULTI/EXEC and through a script.
#[test]
fn transactions_and_scripts() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["MULTI"],
        &["SETBIT", "m", "3", "1"],
        &["BITFIELD", "m", "incrby", "u4", "0", "3"],
        &["BITFIELD_RO", "m", "get", "u8", "0"],
        &["BITOP", "NOT", "m2", "m"],
        &["BITCOUNT", "m2"],
        &["EXEC"],
        &[
            "EVAL",
            "redis.call('setbit', KEYS[1], 10, 1) return redis.call('bitfield', KEYS[1], 'get', 'u16', 0)",
            "1",
            "sc",
        ],
        &[
            "EVAL",
            "return redis.call('bitfield_ro', KEYS[1], 'set', 'u8', 0, 1)",
            "1",
            "sc",
        ],
        &["EVAL", "return redis.pcall('setbit', KEYS[1], -1, 1)", "1", "sc"],
    ]);
}

/// The writes replay from the AOF: ferrymq restarted on its own file, and redis-server
/// loading the same file, hold the same strings.
#[test]
fn writes_replay_from_the_aof() {
    let dir = tempfile::tempdir().unwrap();
    let cmds: &[&[&str]] = &[
        &["SETBIT", "b", "100", "1"],
        &["SETBIT", "b", "100", "1"],
        &["SETBIT", "b", "3", "1"],
        &[
            "BITFIELD", "f", "set", "i8", "0", "-3", "overflow", "sat", "incrby", "u4", "8", "99",
        ],
        &[
            "BITFIELD", "f", "overflow", "fail", "incrby", "u4", "8", "1",
        ],
        &[
            "BITFIELD", "f", "overflow", "wrap", "incrby", "i8", "#2", "300",
        ],
        &["SET", "a", "abc"],
        &["BITOP", "XOR", "x", "a", "b", "f"],
        &["BITOP", "NOT", "y", "a"],
        &["SET", "z", "v"],
        &["BITOP", "AND", "z", "nokey"],
        &["RPUSH", "l", "3", "1", "2"],
        &["SORT", "l", "STORE", "sorted"],
        &["SORT", "l", "DESC", "LIMIT", "0", "2", "STORE", "top"],
    ];
    let keys = ["b", "f", "x", "y", "z", "sorted", "top"];
    let snapshot = |c: &mut common::RawConn| -> Vec<Vec<u8>> {
        keys.iter()
            .flat_map(|k| {
                [
                    c.cmd(&["TYPE", k]),
                    match c.cmd_s(&["TYPE", k]).as_str() {
                        "+list\r\n" => c.cmd(&["LRANGE", k, "0", "-1"]),
                        _ => c.cmd(&["GET", k]),
                    },
                ]
            })
            .collect()
    };
    let f = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = f.raw();
    for cmd in cmds {
        let r = c.cmd_s(cmd);
        assert!(!r.starts_with('-'), "{cmd:?}: {r}");
    }
    let before = snapshot(&mut c);
    assert_eq!(
        before[1],
        b"$13\r\n\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\r\n"
    );
    f.shutdown();
    let f = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    assert_eq!(snapshot(&mut f.raw()), before, "ferrymq after restart");
    f.shutdown();
    let Some(r) = DirServer::redis(
        dir.path(),
        &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
    ) else {
        return;
    };
    assert_eq!(
        snapshot(&mut r.raw()),
        before,
        "redis-server on the same AOF"
    );
}

/// An offset accepted under one `proto-max-bulk-len` replays under a lower one.
#[test]
fn offsets_replay_beyond_a_lowered_limit() {
    let dir = tempfile::tempdir().unwrap();
    let f = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = f.raw();
    assert_eq!(c.cmd_s(&["SETBIT", "b", "8388608", "1"]), ":0\r\n");
    assert_eq!(
        c.cmd_s(&["BITFIELD", "f", "SET", "u8", "#1048576", "7"]),
        "*1\r\n:0\r\n"
    );
    f.shutdown();
    let f = DirServer::ferrymq(
        dir.path(),
        &["--appendonly", "yes", "--proto-max-bulk-len", "1mb"],
    );
    let mut c = f.raw();
    assert_eq!(c.cmd_s(&["STRLEN", "b"]), ":1048577\r\n");
    assert_eq!(c.cmd_s(&["BITCOUNT", "f"]), ":3\r\n");
    assert_eq!(
        c.cmd_s(&["GETBIT", "b", "8388608"]),
        "-ERR bit offset is not an integer or out of range\r\n"
    );
    f.shutdown();
    // redis-server replays the same file under the same limit alike.
    let Some(r) = DirServer::redis(
        dir.path(),
        &[
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            "no",
            "--proto-max-bulk-len",
            "1mb",
        ],
    ) else {
        return;
    };
    let mut c = r.raw();
    assert_eq!(c.cmd_s(&["STRLEN", "b"]), ":1048577\r\n");
    assert_eq!(c.cmd_s(&["BITCOUNT", "f"]), ":3\r\n");
}

#[derive(Debug, Clone)]
enum Op {
    SetBit(u8, u32, bool),
    GetBit(u8, u32),
    BitCount(u8, Option<(i32, i32, Option<bool>)>),
    BitPos(u8, bool, Option<i32>, Option<i32>, Option<bool>),
    BitField(u8, Vec<Field>),
    Combine(&'static str, u8, Vec<u8>),
    Get(u8),
}

#[derive(Debug, Clone)]
enum Field {
    Overflow(&'static str),
    Get(bool, u8, u32, bool),
    Set(bool, u8, u32, bool, i64),
    Incr(bool, u8, u32, bool, i64),
}

fn key(k: u8) -> String {
    format!("k{}", k % 3)
}

fn unit(u: Option<bool>) -> Option<&'static str> {
    u.map(|b| if b { "BIT" } else { "BYTE" })
}

fn ty(signed: bool, bits: u8) -> String {
    if signed {
        format!("i{}", bits % 64 + 1)
    } else {
        format!("u{}", bits % 63 + 1)
    }
}

fn off(o: u32, hash: bool) -> String {
    if hash {
        format!("#{}", o % 12)
    } else {
        (o % 100).to_string()
    }
}

fn field() -> impl Strategy<Value = Field> {
    let value = prop_oneof![-300i64..300, any::<i64>(), Just(i64::MAX), Just(i64::MIN)];
    prop_oneof![
        prop_oneof![Just("WRAP"), Just("SAT"), Just("FAIL")].prop_map(Field::Overflow),
        (any::<bool>(), any::<u8>(), any::<u32>(), any::<bool>())
            .prop_map(|(s, b, o, h)| Field::Get(s, b, o, h)),
        (
            any::<bool>(),
            any::<u8>(),
            any::<u32>(),
            any::<bool>(),
            value.clone()
        )
            .prop_map(|(s, b, o, h, v)| Field::Set(s, b, o, h, v)),
        (
            any::<bool>(),
            any::<u8>(),
            any::<u32>(),
            any::<bool>(),
            value
        )
            .prop_map(|(s, b, o, h, v)| Field::Incr(s, b, o, h, v)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let idx = -40i32..40;
    prop_oneof![
        (any::<u8>(), 0u32..200, any::<bool>()).prop_map(|(k, o, v)| Op::SetBit(k, o, v)),
        (any::<u8>(), 0u32..220).prop_map(|(k, o)| Op::GetBit(k, o)),
        (
            any::<u8>(),
            proptest::option::of((
                idx.clone(),
                idx.clone(),
                proptest::option::of(any::<bool>())
            ))
        )
            .prop_map(|(k, r)| Op::BitCount(k, r)),
        (
            any::<u8>(),
            any::<bool>(),
            proptest::option::of(idx.clone()),
            proptest::option::of(idx),
            proptest::option::of(any::<bool>())
        )
            .prop_map(|(k, b, s, e, u)| Op::BitPos(k, b, s, e, u)),
        (any::<u8>(), proptest::collection::vec(field(), 0..6))
            .prop_map(|(k, f)| Op::BitField(k, f)),
        (
            prop_oneof![Just("AND"), Just("OR"), Just("XOR"), Just("NOT")],
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 1..4)
        )
            .prop_map(|(o, d, s)| Op::Combine(o, d, s)),
        any::<u8>().prop_map(Op::Get),
    ]
}

fn argv(o: &Op) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    match o {
        Op::SetBit(k, off, v) => a.extend([
            "SETBIT".into(),
            key(*k),
            off.to_string(),
            (*v as u8).to_string(),
        ]),
        Op::GetBit(k, off) => a.extend(["GETBIT".into(), key(*k), off.to_string()]),
        Op::BitCount(k, r) => {
            a.extend(["BITCOUNT".into(), key(*k)]);
            if let Some((s, e, u)) = r {
                a.extend([s.to_string(), e.to_string()]);
                a.extend(unit(*u).map(String::from));
            }
        }
        Op::BitPos(k, b, s, e, u) => {
            a.extend(["BITPOS".into(), key(*k), (*b as u8).to_string()]);
            if let Some(s) = s {
                a.push(s.to_string());
                if let Some(e) = e {
                    a.push(e.to_string());
                    a.extend(unit(*u).map(String::from));
                }
            }
        }
        Op::BitField(k, fields) => {
            a.extend(["BITFIELD".into(), key(*k)]);
            for f in fields {
                match f {
                    Field::Overflow(m) => a.extend(["OVERFLOW".into(), m.to_string()]),
                    Field::Get(s, b, o, h) => a.extend(["GET".into(), ty(*s, *b), off(*o, *h)]),
                    Field::Set(s, b, o, h, v) => {
                        a.extend(["SET".into(), ty(*s, *b), off(*o, *h), v.to_string()])
                    }
                    Field::Incr(s, b, o, h, v) => {
                        a.extend(["INCRBY".into(), ty(*s, *b), off(*o, *h), v.to_string()])
                    }
                }
            }
        }
        Op::Combine(op, dest, srcs) => {
            a.extend(["BITOP".into(), op.to_string(), key(*dest)]);
            let n = if *op == "NOT" { 1 } else { srcs.len() };
            a.extend(srcs[..n].iter().map(|s| key(*s)));
        }
        Op::Get(k) => a.extend(["GET".into(), key(*k)]),
    }
    a
}

/// One pair of servers for all the cases (each case starts with FLUSHALL).
static SERVERS: Mutex<Option<Diff>> = Mutex::new(None);

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn random_bitmap_sequences(ops in proptest::collection::vec(op(), 1..40)) {
        let mut guard = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            match Diff::new() {
                Some(d) => *guard = Some(d),
                None => return Ok(()),
            }
        }
        let d = guard.as_mut().expect("servers");
        d.cmd(&["FLUSHALL"]);
        for o in &ops {
            d.cmd(&argv(o));
        }
        d.cmd(&["DBSIZE"]);
    }
}
