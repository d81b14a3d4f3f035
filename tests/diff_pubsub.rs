//! Differential tests of pub/sub: the same commands against ferrymq and redis-server, every
//! reply, confirmation and message frame compared byte for byte, in RESP2 and RESP3.
//!
//! Where Redis's order is that of its hash tables (UNSUBSCRIBE without arguments over several
//! channels, PUBSUB CHANNELS, several patterns matching one message) the scripts either use one
//! element or compare the frames as sorted sets.

mod common;
use common::{Diff, RawConn};

/// A second pair of connections (one to each server), e.g. a publisher next to the subscribers
/// `d.ferry` / `d.redis`.
struct Pair {
    f: RawConn,
    r: RawConn,
}

impl Pair {
    fn new(d: &Diff) -> Pair {
        Pair {
            f: d.fm.raw(),
            r: d.rs.raw(),
        }
    }

    /// Compare the next `n` frames of both connections.
    fn frames(&mut self, n: usize) {
        for i in 0..n {
            let r = self.r.read_reply();
            let f = self.f.read_reply();
            assert_eq!(
                String::from_utf8_lossy(&r),
                String::from_utf8_lossy(&f),
                "frame {i} differs"
            );
        }
    }

    fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        let r = self.r.cmd(args);
        let f = self.f.cmd(args);
        assert_eq!(
            String::from_utf8_lossy(&r),
            String::from_utf8_lossy(&f),
            "reply differs for {:?}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
                .collect::<Vec<_>>()
        );
        r
    }
}

/// Read the next `n` frames from both subscriber connections and compare them in order.
fn frames(d: &mut Diff, n: usize) {
    for i in 0..n {
        let r = d.redis.read_reply();
        let f = d.ferry.read_reply();
        assert_eq!(
            String::from_utf8_lossy(&r),
            String::from_utf8_lossy(&f),
            "frame {i} differs"
        );
    }
}

/// Read the next `n` frames from both and compare them as multisets (hash-table order).
fn frames_unordered(d: &mut Diff, n: usize) {
    let mut r: Vec<Vec<u8>> = (0..n).map(|_| d.redis.read_reply()).collect();
    let mut f: Vec<Vec<u8>> = (0..n).map(|_| d.ferry.read_reply()).collect();
    r.sort();
    f.sort();
    assert_eq!(r, f);
}

/// Send `args` to both subscriber connections and compare the `n` frames it produces.
fn multi(d: &mut Diff, args: &[&str], n: usize) {
    d.redis.send(args);
    d.ferry.send(args);
    frames(d, n);
}

/// An array of bulk strings with its elements sorted (for replies in hash-table order).
fn sorted_array(b: &[u8]) -> Vec<u8> {
    let text = b.to_vec();
    let Some(rest) = text.strip_prefix(b"*") else {
        return text;
    };
    let nl = rest.windows(2).position(|w| w == b"\r\n").expect("header");
    let n: usize = String::from_utf8_lossy(&rest[..nl]).parse().expect("count");
    let mut at = nl + 2;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let h_end = at
            + rest[at..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("bulk");
        let len: usize = String::from_utf8_lossy(&rest[at + 1..h_end])
            .parse()
            .expect("len");
        let end = h_end + 2 + len + 2;
        items.push(rest[at..end].to_vec());
        at = end;
    }
    items.sort();
    let mut out = format!("*{n}\r\n").into_bytes();
    for i in items {
        out.extend(i);
    }
    out
}

#[test]
fn confirmations_and_null_forms_resp2() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[&["UNSUBSCRIBE"], &["PUNSUBSCRIBE"], &["SUNSUBSCRIBE"]]);
    multi(&mut d, &["UNSUBSCRIBE", "a", "b"], 2);
    multi(&mut d, &["PUNSUBSCRIBE", "x", "y"], 2);
    multi(&mut d, &["SUNSUBSCRIBE", "x", "y"], 2);
    d.cmd(&["PSUBSCRIBE", "p*"]);
    d.cmd(&["UNSUBSCRIBE"]);
    multi(&mut d, &["SUBSCRIBE", "a", "b", "a"], 3);
    multi(&mut d, &["PSUBSCRIBE", "p*", "q?"], 2);
    multi(&mut d, &["SSUBSCRIBE", "s1", "s2", "s1"], 3);
    d.script(&[
        &["PING"],
        &["PING", "hello"],
        &["GET", "k"],
        &["SET", "k", "v"],
        &["PUBSUB", "NUMSUB", "a"],
        &["PUBLISH", "a", "x"],
        &["HELLO"],
        &["UNSUBSCRIBE", "a"],
        &["UNSUBSCRIBE", "nope"],
        &["UNSUBSCRIBE"],
        &["UNSUBSCRIBE"],
        &["PUNSUBSCRIBE", "p*"],
        &["PUNSUBSCRIBE"],
        &["PUNSUBSCRIBE"],
        &["SUNSUBSCRIBE", "s1"],
        // Still subscribed to a shard channel: still the subscribed context.
        &["GET", "k"],
        &["SUNSUBSCRIBE"],
        &["SUNSUBSCRIBE"],
        &["GET", "k"],
        &["PING"],
    ]);
    // Arity errors and the subscribed context's error for a subcommand.
    d.script(&[
        &["SUBSCRIBE"],
        &["PSUBSCRIBE"],
        &["SSUBSCRIBE"],
        &["SUBSCRIBE", "z"],
        &["PUBSUB", "CHANNELS"],
        &["SUBSCRIBE"],
        &["RESET"],
        &["GET", "k"],
    ]);
}

#[test]
fn confirmations_and_null_forms_resp3() {
    let Some(mut d) = Diff::new() else { return };
    d.resp3();
    d.script(&[&["UNSUBSCRIBE"], &["PUNSUBSCRIBE"], &["SUNSUBSCRIBE"]]);
    multi(&mut d, &["SUBSCRIBE", "a", "b", "a"], 3);
    multi(&mut d, &["PSUBSCRIBE", "p*", "q?"], 2);
    multi(&mut d, &["SSUBSCRIBE", "s1", "s1"], 2);
    // RESP3: ordinary commands keep working while subscribed.
    d.script(&[
        &["SET", "k", "v"],
        &["GET", "k"],
        &["PING"],
        &["PUBSUB", "NUMSUB", "a", "b", "c"],
        &["PUBSUB", "NUMPAT"],
        &["PUBSUB", "SHARDNUMSUB", "s1"],
        &["UNSUBSCRIBE", "a"],
        &["UNSUBSCRIBE", "b"],
        &["UNSUBSCRIBE"],
        &["PUNSUBSCRIBE", "p*"],
        &["PUNSUBSCRIBE", "q?"],
        &["PUNSUBSCRIBE"],
        &["SUNSUBSCRIBE"],
        &["SUNSUBSCRIBE"],
    ]);
}

/// Redis 7.0 sends pub/sub confirmations even under CLIENT REPLY OFF / SKIP (SKIP is still
/// consumed by the subscribing command).
#[test]
fn client_reply_off_does_not_hide_confirmations() {
    let Some(mut d) = Diff::new() else { return };
    for c in [
        &["CLIENT", "REPLY", "OFF"][..],
        &["SUBSCRIBE", "a"],
        &["UNSUBSCRIBE"],
        &["PING"],
        &["CLIENT", "REPLY", "ON"],
        &["CLIENT", "REPLY", "SKIP"],
        &["PSUBSCRIBE", "x"],
        &["PING"],
    ] {
        d.redis.send(c);
        d.ferry.send(c);
    }
    frames(&mut d, 5);
}

#[test]
fn message_frames_resp2_and_resp3() {
    let Some(mut d) = Diff::new() else { return };
    let mut p = Pair::new(&d);
    let mut r3 = Pair::new(&d);
    r3.f.cmd(&["HELLO", "3"]);
    r3.r.cmd(&["HELLO", "3"]);
    d.cmd(&["SUBSCRIBE", "news"]);
    d.cmd(&["PSUBSCRIBE", "n*"]);
    d.cmd(&["SSUBSCRIBE", "shard"]);
    r3.cmd(&["SUBSCRIBE", "news"]);
    r3.cmd(&["PSUBSCRIBE", "*ws"]);
    r3.cmd(&["SSUBSCRIBE", "shard"]);
    // Channel + pattern subscribers on both connections: 4 receivers.
    p.cmd(&["PUBLISH", "news", "hello"]);
    frames(&mut d, 2);
    p.cmd(&["PUBLISH", "nothing", "x"]);
    frames(&mut d, 1);
    p.cmd(&["PUBLISH", "other", "x"]);
    p.cmd(&["SPUBLISH", "shard", "s"]);
    p.cmd(&["SPUBLISH", "news", "s"]);
    frames(&mut d, 1);
    p.cmd(&["PUBLISH", "shard", "not a shard message"]);
    // Payloads are binary-safe, including empty ones.
    p.cmd(&["PUBLISH", "news", ""]);
    frames(&mut d, 2);
    p.f.send(&[b"PUBLISH".as_slice(), b"news", b"\x00\r\n\xff"]);
    p.r.send(&[b"PUBLISH".as_slice(), b"news", b"\x00\r\n\xff"]);
    assert_eq!(p.f.read_reply(), p.r.read_reply());
    frames(&mut d, 2);
    // The RESP3 subscriber saw everything as push frames, in the same order.
    r3.frames(7);
    // A RESP3 client that publishes to itself gets the pushes before PUBLISH's reply.
    r3.f.send(&["PUBLISH", "news", "self"]);
    r3.r.send(&["PUBLISH", "news", "self"]);
    r3.frames(3);
    r3.cmd(&["PING"]);
    frames(&mut d, 2);
}

#[test]
fn publish_from_a_script() {
    let Some(mut d) = Diff::new() else { return };
    let mut p = Pair::new(&d);
    d.cmd(&["SUBSCRIBE", "ch"]);
    p.cmd(&[
        "EVAL",
        "return redis.call('publish', KEYS[1], ARGV[1])",
        "1",
        "ch",
        "hi",
    ]);
    frames(&mut d, 1);
    p.cmd(&["EVAL", "return redis.call('spublish', 'ch', 'x')", "0"]);
    p.cmd(&["EVAL", "return redis.pcall('subscribe', 'ch')", "0"]);
    p.cmd(&["EVAL", "return redis.pcall('pubsub', 'numsub', 'ch')", "0"]);
}

#[test]
fn several_patterns_matching_one_message() {
    let Some(mut d) = Diff::new() else { return };
    let mut p = Pair::new(&d);
    d.cmd(&["SUBSCRIBE", "a.b"]);
    multi(
        &mut d,
        &["PSUBSCRIBE", "a.*", "*.b", "a?b", "[a-c].[^x]", "a\\.b"],
        5,
    );
    p.cmd(&["PUBLISH", "a.b", "m"]);
    frames(&mut d, 1);
    frames_unordered(&mut d, 5);
    p.cmd(&["PUBSUB", "NUMPAT"]);
    p.cmd(&["PUBLISH", "axb", "m"]);
    frames_unordered(&mut d, 1);
    p.cmd(&["PUBLISH", "c.x", "m"]);
    p.cmd(&["PUBLISH", "c.y", "m"]);
    frames_unordered(&mut d, 1);
}

#[test]
fn introspection() {
    let Some(mut d) = Diff::new() else { return };
    let mut s1 = Pair::new(&d);
    let mut s2 = Pair::new(&d);
    s1.cmd(&["SUBSCRIBE", "news.1"]);
    s1.cmd(&["SUBSCRIBE", "news.2"]);
    s1.cmd(&["SUBSCRIBE", "other"]);
    s2.cmd(&["SUBSCRIBE", "news.1"]);
    s2.cmd(&["PSUBSCRIBE", "news.*"]);
    s1.cmd(&["PSUBSCRIBE", "news.*"]);
    s2.cmd(&["PSUBSCRIBE", "x"]);
    s1.cmd(&["SSUBSCRIBE", "sh.1"]);
    s2.cmd(&["SSUBSCRIBE", "sh.1"]);
    s2.cmd(&["SSUBSCRIBE", "sh.2"]);
    for _ in 0..2 {
        d.cmd_norm(&["PUBSUB", "CHANNELS"], sorted_array);
        d.cmd_norm(&["PUBSUB", "CHANNELS", "news.*"], sorted_array);
        d.cmd_norm(&["pubsub", "channels", "*"], sorted_array);
        d.cmd_norm(&["PUBSUB", "SHARDCHANNELS"], sorted_array);
        d.script(&[
            &["PUBSUB", "CHANNELS", "o*"],
            &["PUBSUB", "CHANNELS", "nomatch"],
            &["PUBSUB", "NUMSUB"],
            &["PUBSUB", "NUMSUB", "news.1", "news.2", "nope", "news.1"],
            &["PUBSUB", "NUMPAT"],
            &["PUBSUB", "SHARDCHANNELS", "sh.2"],
            &["PUBSUB", "SHARDNUMSUB"],
            &["PUBSUB", "SHARDNUMSUB", "sh.1", "sh.2", "news.1"],
            &["PUBSUB", "HELP"],
            &["pubsub", "help"],
        ]);
        d.resp3();
    }
    // Counts drop as subscribers leave.
    s2.cmd(&["UNSUBSCRIBE", "news.1"]);
    s2.cmd(&["PUNSUBSCRIBE", "news.*"]);
    s2.cmd(&["SUNSUBSCRIBE", "sh.2"]);
    d.script(&[
        &["PUBSUB", "NUMSUB", "news.1"],
        &["PUBSUB", "NUMPAT"],
        &["PUBSUB", "SHARDCHANNELS"],
        &["PUBSUB", "SHARDNUMSUB", "sh.1", "sh.2"],
    ]);
    s1.cmd(&["RESET"]);
    s2.cmd(&["RESET"]);
    d.script(&[
        &["PUBSUB", "CHANNELS"],
        &["PUBSUB", "NUMPAT"],
        &["PUBSUB", "SHARDCHANNELS"],
    ]);
}

#[test]
fn errors() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["PUBLISH"],
        &["PUBLISH", "a"],
        &["PUBLISH", "a", "b", "c"],
        &["SPUBLISH", "a"],
        &["SPUBLISH", "a", "b", "c"],
        &["SUBSCRIBE"],
        &["PSUBSCRIBE"],
        &["SSUBSCRIBE"],
        &["PUBSUB"],
        &["PUBSUB", "foo"],
        &["PUBSUB", "foo", "bar"],
        &["PUBSUB", "HELP", "x"],
        &["PUBSUB", "NUMPAT", "x"],
        &["PUBSUB", "CHANNELS", "a", "b"],
        &["pubsub", "channels", "a", "b"],
        &["PUBSUB", "SHARDCHANNELS", "a", "b"],
        &["PUBLISH", "a", "b"],
        &["SPUBLISH", "a", "b"],
    ]);
}

#[test]
fn inside_multi() {
    let Some(mut d) = Diff::new() else { return };
    // SUBSCRIBE is allowed in a transaction: its confirmations are written into EXEC's reply,
    // one element per channel, so the array announces fewer elements than follow (as Redis).
    d.script(&[
        &["MULTI"],
        &["SUBSCRIBE", "a", "b"],
        &["PSUBSCRIBE", "p"],
        &["PING"],
        &["EXEC"],
    ]);
    frames(&mut d, 1);
    d.script(&[&["GET", "x"], &["PING"], &["RESET"]]);
    d.script(&[
        &["MULTI"],
        &["UNSUBSCRIBE", "a"],
        &["PUNSUBSCRIBE"],
        &["EXEC"],
    ]);
    // SSUBSCRIBE is refused there.
    d.script(&[&["MULTI"], &["SSUBSCRIBE", "s"], &["EXEC"]]);
    d.script(&[
        &["MULTI"],
        &["PUBLISH", "a", "m"],
        &["PUBSUB", "NUMSUB", "a"],
        &["EXEC"],
    ]);
    d.resp3();
    d.script(&[
        &["MULTI"],
        &["SUBSCRIBE", "r3"],
        &["GET", "x"],
        &["UNSUBSCRIBE"],
        &["EXEC"],
    ]);
}

/// COMMAND INFO of the family's commands. Left out: SSUBSCRIBE, SUNSUBSCRIBE and SPUBLISH (key
/// specs, which COMMAND INFO does not render yet), and PUBSUB / PUBSUB HELP (ACL categories are
/// derived from the group, and Redis gives these two no @pubsub).
#[test]
fn command_info_of_the_family() {
    let Some(mut d) = Diff::new() else { return };
    for c in [
        "subscribe",
        "unsubscribe",
        "psubscribe",
        "punsubscribe",
        "publish",
        "pubsub|channels",
        "pubsub|numsub",
        "pubsub|numpat",
        "pubsub|shardchannels",
        "pubsub|shardnumsub",
    ] {
        d.cmd(&["COMMAND", "INFO", c]);
    }
}

/// PUNSUBSCRIBE without arguments confirms the patterns in the order they were subscribed
/// (Redis 7.0 keeps a client's patterns in a list), and afterwards nothing is delivered.
#[test]
fn punsubscribe_all_confirms_in_subscription_order() {
    let Some(mut d) = Diff::new() else { return };
    multi(&mut d, &["PSUBSCRIBE", "chan1.*", "chan2.*", "chan3.*"], 3);
    multi(&mut d, &["PUNSUBSCRIBE"], 3);
    multi(&mut d, &["PSUBSCRIBE", "z*", "a*", "m*", "b*"], 4);
    multi(&mut d, &["PUNSUBSCRIBE", "a*"], 1);
    multi(&mut d, &["PUNSUBSCRIBE"], 3);
    d.cmd(&["PING"]);
    d.cmd(&["PUBSUB", "NUMPAT"]);
}
