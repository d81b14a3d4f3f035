use super::*;
use crate::store::hash::Hash;
use crate::store::list::List;
use crate::store::set::Set;
use crate::store::zset::ZSet;
use proptest::prelude::*;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn opts() -> LoadOptions {
    LoadOptions {
        enc: Encodings::default(),
        databases: 16,
        grow: false,
        now: crate::store::unix_ms(),
        skip_expired: true,
        policy: access::Policy::default(),
        checksum: true,
    }
}

/// A keyspace with every type in db 0 and db 3, one live expiry, and one key whose expiry
/// passed a long time ago.
fn sample() -> (Keyspace, Vec<Bytes>) {
    let enc = Encodings::default();
    let mut ks = Keyspace::new(16);
    let mut l = List::new();
    for i in 0..500 {
        l.push_back(format!("item-{i}").as_bytes());
    }
    let mut s = Set::new();
    let mut ints = Set::new();
    for i in 0..300 {
        s.insert(b(&format!("m{i}")), 512);
        ints.insert(b(&i.to_string()), 512);
    }
    let mut h = Hash::new();
    let mut z = ZSet::new(1, enc.zset);
    for i in 0..40 {
        h.insert(b(&format!("f{i}")), b(&"v".repeat(i)), enc.hash);
        z.insert(b(&format!("z{i}")), i as f64 / 7.0, enc.zset);
    }
    let d = &mut ks.dbs[0];
    d.set(&b("str"), Value::Str(b("hello").into()));
    d.set(&b("int"), Value::Str(b("12345").into()));
    d.set(&b("long"), Value::Str(b(&"abc".repeat(100)).into()));
    d.set(&b("list"), Value::List(Box::new(l)));
    d.set(&b("set"), Value::Set(Box::new(s)));
    d.set(&b("ints"), Value::Set(Box::new(ints)));
    d.set(&b("hash"), Value::Hash(Box::new(h)));
    d.set(&b("zset"), Value::ZSet(Box::new(z)));
    d.set(&b("ttl"), Value::Str(b("x").into()));
    d.set_expire(b"ttl", 4_000_000_000_000);
    d.set(&b("gone"), Value::Str(b("x").into()));
    d.set_expire(b"gone", 1000);
    ks.dbs[3].set(&b("other"), Value::Str(b("db3").into()));
    let lib = b("#!lua name=mylib\nredis.register_function('f', function() return 1 end)");
    (ks, vec![lib])
}

fn contents(ks: &Keyspace) -> Vec<(usize, Vec<Vec<u8>>, Option<i64>)> {
    let mut out = Vec::new();
    for (i, d) in ks.dbs.iter().enumerate() {
        let mut keys: Vec<_> = d.map.keys().map(|k| k.to_bytes()).collect();
        keys.sort();
        for k in keys {
            let mut cmds = Vec::new();
            d.map[&k[..]].value.rewrite(&k, &mut cmds);
            let mut flat: Vec<Vec<u8>> = cmds
                .into_iter()
                .flat_map(|c| c.into_iter().map(|x| x.to_vec()))
                .collect();
            flat.sort();
            out.push((i, flat, d.expire_at(&k)));
        }
    }
    out
}

fn file() -> Vec<u8> {
    let (ks, libs) = sample();
    // Written at time 0 so the key that expired long ago is still in the file.
    super::super::write_file(&ks.dbs, &libs, &Encodings::default(), 0)
}

#[test]
fn a_written_file_reads_back_and_skips_expired_keys() {
    let data = file();
    let loaded = read_file(&data, &opts()).expect("loads");
    let (mut ks, libs) = sample();
    ks.dbs[0].remove(b"gone");
    let (got, want) = (contents(&loaded.keyspace), contents(&ks));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!(g == w, "db {} differs: {:?} vs {:?}", g.0, g.2, w.2);
    }
    assert_eq!(loaded.functions, libs);
    assert_eq!(loaded.keys_loaded, 10);
    assert_eq!(loaded.keys_expired, 1);
    assert_eq!(loaded.expires, 1);
    assert!(loaded.checksummed);
    // Without the master's rule (an AOF preamble) the expired key is kept.
    let keep = read_file(
        &data,
        &LoadOptions {
            skip_expired: false,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(keep.keys_loaded, 11);
}

#[test]
fn every_truncation_is_refused_with_an_offset_inside_the_file() {
    let data = file();
    for n in 0..data.len() {
        let e = match read_file(&data[..n], &opts()) {
            Err(e) => e,
            Ok(_) => panic!("a file cut at {n} loaded"),
        };
        assert!(e.offset <= n, "offset {} past the cut {n}", e.offset);
        assert!(!e.reason.is_empty());
    }
}

#[test]
fn checksum_is_checked_and_zero_means_none() {
    let mut data = file();
    let n = data.len();
    data[n - 1] ^= 1;
    let e = read_file(&data, &opts()).err().expect("refused");
    assert!(e.reason.starts_with("RDB CRC error"), "{e}");
    assert_eq!(e.offset, n - 8);
    // rdbchecksum no when loading: accepted.
    assert!(
        read_file(
            &data,
            &LoadOptions {
                checksum: false,
                ..opts()
            }
        )
        .is_ok()
    );
    data[n - 8..].fill(0);
    let l = read_file(&data, &opts()).expect("zero checksum accepted");
    assert!(!l.checksummed);
    // A flipped byte inside a value is caught by the checksum (or the value reader).
    let mut bad = file();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    assert!(read_file(&bad, &opts()).is_err());
}

#[test]
fn header_versions_and_unsupported_opcodes() {
    assert!(version_of(b"REDIS0010").is_ok());
    assert_eq!(version_of(b"REDIS0012").unwrap(), 12);
    let e = version_of(b"REDIS0013").unwrap_err();
    assert_eq!(e.reason, "Can't handle RDB format version 13");
    assert_eq!(version_of(b"RUDIS0010").unwrap_err().offset, 0);
    assert!(version_of(b"REDIS").is_err());
    let seal = |body: &[u8]| {
        let mut v = body.to_vec();
        v.push(0xFF);
        let c = crc64(0, &v);
        v.extend_from_slice(&c.to_le_bytes());
        v
    };
    let e = read_file(&seal(b"REDIS0010\xF7\x01"), &opts())
        .err()
        .unwrap();
    assert!(e.reason.contains("AUX module data"), "{e}");
    assert_eq!(e.offset, 10);
    let e = read_file(&seal(b"REDIS0012\x19\x01k\x00"), &opts())
        .err()
        .unwrap();
    assert!(e.reason.contains("field expiries"), "{e}");
    let e = read_file(&seal(b"REDIS0010\xFE\x20"), &opts())
        .err()
        .unwrap();
    assert!(e.reason.contains("more than 16 databases"), "{e}");
    // check-rdb lets the keyspace grow instead.
    let grown = read_file(
        &seal(b"REDIS0010\xFE\x20\x00\x01k\x01v"),
        &LoadOptions {
            grow: true,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(grown.keyspace.dbs[32].len(), 1);
    // Duplicate keys are refused, as Redis panics on them.
    let e = read_file(&seal(b"REDIS0010\x00\x01k\x01v\x00\x01k\x01w"), &opts())
        .err()
        .unwrap();
    assert!(e.reason.contains("Duplicated key 'k'"), "{e}");
    assert_eq!(e.offset, 14);
    // Aux fields, the old second expiry, a 7.2 set listpack and an empty list skipped.
    let mut body = b"REDIS0011\xFA\x09redis-ver\x067.2.99\xFD".to_vec();
    body.extend_from_slice(&2_000_000_000i32.to_le_bytes());
    body.extend_from_slice(b"\x00\x01a\x01v");
    body.push(20);
    body.extend_from_slice(b"\x01s");
    let mut w = super::super::listpack::ListpackWriter::new();
    w.push(b"x");
    w.push(b"y");
    let lp = w.finish();
    body.push(lp.len() as u8);
    body.extend_from_slice(&lp);
    body.extend_from_slice(b"\x01\x01e\x00");
    let l = read_file(&seal(&body), &opts()).unwrap();
    assert_eq!(l.aux, vec![(b("redis-ver"), b("7.2.99"))]);
    assert_eq!(l.keyspace.dbs[0].expire_at(b"a"), Some(2_000_000_000_000));
    assert_eq!(l.keyspace.dbs[0].map.len(), 2);
    assert_eq!(l.empty_skipped, 1);
}

#[test]
fn idle_and_freq_set_the_access_word() {
    let seal = |body: &[u8]| {
        let mut v = body.to_vec();
        v.push(0xFF);
        let c = crc64(0, &v);
        v.extend_from_slice(&c.to_le_bytes());
        v
    };
    let l = read_file(&seal(b"REDIS0010\xF8\x40\x64\x00\x01k\x01v"), &opts()).unwrap();
    let word = l.keyspace.dbs[0].map[&b("k")[..]].lru;
    let idle = access::idle_ms(word) / 1000;
    assert!((100..=102).contains(&idle), "idle {idle}");
    let lfu = access::Policy {
        lfu: true,
        ..access::Policy::default()
    };
    let l = read_file(
        &seal(b"REDIS0010\xF9\x07\x00\x01k\x01v"),
        &LoadOptions {
            policy: lfu,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(l.keyspace.dbs[0].map[&b("k")[..]].lru & 255, 7);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_crash(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut data = b"REDIS0010".to_vec();
        data.extend_from_slice(&body);
        let _ = read_file(&data, &LoadOptions { checksum: false, grow: true, ..opts() });
        let _ = read_file(&body, &opts());
    }

    #[test]
    fn mutated_files_never_crash(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut data = file();
        for (i, v) in edits {
            let i = i.index(data.len());
            data[i] = v;
        }
        let _ = read_file(&data, &LoadOptions { checksum: false, grow: true, ..opts() });
    }
}

#[test]
fn lru_and_lfu_words_survive_a_file_under_those_policies() {
    let mut ks = Keyspace::new(16);
    ks.dbs[0].set(&b("k"), Value::Str(b("v").into()));
    let idle_word = access::Policy::default().restored(None, Some(500));
    ks.dbs[0].set_lru(b"k", idle_word);
    let lru = Encodings {
        access: super::super::AccessSave::Lru,
        ..Encodings::default()
    };
    let data = super::super::write_file(&ks.dbs, &[], &lru, 0);
    let l = read_file(&data, &opts()).unwrap();
    let idle = access::idle_ms(l.keyspace.dbs[0].map[&b("k")[..]].lru) / 1000;
    assert!((500..=502).contains(&idle), "idle {idle}");
    let p = access::Policy {
        lfu: true,
        log_factor: 10,
        decay_time: 1,
        no_shared_integers: false,
    };
    ks.dbs[0].set_lru(b"k", p.restored(Some(42), None));
    let lfu = Encodings {
        access: super::super::AccessSave::Lfu(p),
        ..Encodings::default()
    };
    let data = super::super::write_file(&ks.dbs, &[], &lfu, 0);
    assert!(data.windows(2).any(|w| w == [0xF9, 42]), "FREQ 42 written");
    let l = read_file(
        &data,
        &LoadOptions {
            policy: p,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(p.decayed(l.keyspace.dbs[0].map[&b("k")[..]].lru), 42);
    // No policy: neither opcode.
    let plain = super::super::write_file(&ks.dbs, &[], &Encodings::default(), 0);
    assert!(plain.len() < data.len());
}
