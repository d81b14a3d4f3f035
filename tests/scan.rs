//! SCAN over TCP: the guarantee (every key present for the whole iteration is returned) while
//! other keys come and go and the table grows and shrinks between calls, and COUNT bounding the
//! work of one call.

mod common;

use common::Server;
use std::collections::HashSet;

fn scan_step(con: &mut redis::Connection, cursor: u64, count: usize) -> (u64, Vec<String>) {
    redis::cmd("SCAN")
        .arg(cursor)
        .arg("COUNT")
        .arg(count)
        .query(con)
        .expect("scan")
}

fn mset(con: &mut redis::Connection, keys: impl Iterator<Item = String>) {
    let mut c = redis::cmd("MSET");
    for k in keys {
        c.arg(&k).arg("v");
    }
    let _: () = c.query(con).expect("mset");
}

fn del(con: &mut redis::Connection, keys: impl Iterator<Item = String>) {
    let mut c = redis::cmd("DEL");
    for k in keys {
        c.arg(&k);
    }
    let _: i64 = c.query(con).expect("del");
}

#[test]
fn keys_present_throughout_survive_growth_and_shrink() {
    let s = Server::ferrymq(&[]);
    let mut con = s.conn();
    mset(&mut con, (0..2000).map(|i| format!("stable:{i}")));
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut steps = 0;
    loop {
        let (next, keys) = scan_step(&mut con, cursor, 10);
        seen.extend(keys);
        cursor = next;
        steps += 1;
        // Phases of churn between calls: grow the table 32x, then empty it back (shrinks),
        // then keep adding and removing a few keys each call.
        match steps {
            20 => mset(&mut con, (0..60_000).map(|i| format!("burst:{i}"))),
            60 => del(&mut con, (0..60_000).map(|i| format!("burst:{i}"))),
            n if n > 60 => {
                mset(&mut con, (0..5).map(|i| format!("t:{n}:{i}")));
                del(&mut con, (0..5).map(|i| format!("t:{}:{i}", n - 1)));
            }
            _ => {}
        }
        if cursor == 0 {
            break;
        }
        assert!(steps < 1_000_000, "the walk ends");
    }
    let missed: Vec<String> = (0..2000)
        .map(|i| format!("stable:{i}"))
        .filter(|k| !seen.contains(k))
        .collect();
    assert!(
        missed.is_empty(),
        "missed {} keys: {:?}",
        missed.len(),
        &missed[..missed.len().min(5)]
    );
}

#[test]
fn one_call_returns_about_count_keys() {
    let s = Server::ferrymq(&[]);
    let mut con = s.conn();
    mset(&mut con, (0..50_000).map(|i| format!("k:{i}")));
    let (mut cursor, mut total, mut calls, mut largest) = (0u64, 0usize, 0usize, 0usize);
    let mut all = HashSet::new();
    loop {
        let (next, keys) = scan_step(&mut con, cursor, 10);
        largest = largest.max(keys.len());
        total += keys.len();
        all.extend(keys);
        calls += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    // Nothing changed during the walk: every key exactly once, in batches of about COUNT
    // (a call stops after the bucket that reached COUNT, so a few more may come back).
    assert_eq!(all.len(), 50_000);
    assert_eq!(total, 50_000);
    assert!(largest < 30, "a call returned {largest} keys for COUNT 10");
    assert!(calls > 50_000 / 30, "{calls} calls");
    // MATCH and TYPE filter after the walk, as in Redis.
    let _: () = redis::cmd("LPUSH")
        .arg("k:list")
        .arg("x")
        .query(&mut con)
        .unwrap();
    let mut lists = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("k:l*")
            .arg("TYPE")
            .arg("list")
            .arg("COUNT")
            .arg(1000)
            .query(&mut con)
            .unwrap();
        lists.extend(keys);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(lists, ["k:list"]);
}
