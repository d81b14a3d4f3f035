use super::*;
use proptest::prelude::*;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn round_trip(v: &Value) -> Value {
    let enc = Encodings::default();
    let p = dump(v, &enc);
    assert!(verify(&p));
    restore(&p, &enc).expect("restores")
}

fn contents(v: &Value) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    v.rewrite(&b("k"), &mut out);
    out.into_iter()
        .flat_map(|c| c.into_iter().map(|x| x.to_vec()))
        .collect()
}

#[test]
fn strings_round_trip_in_every_encoding() {
    for s in [
        "".to_string(),
        "12".into(),
        "-300".into(),
        "70000".into(),
        "12345678901".into(),
        "007".into(),
        "a".repeat(100),
        "abcdefghijklmnopqrstuvwxyz0123456789".into(),
    ] {
        let v = Value::Str(b(&s).into());
        assert_eq!(contents(&round_trip(&v)), contents(&v), "{s}");
    }
}

#[test]
fn collections_round_trip_and_keep_their_encoding() {
    let enc = Encodings::default();
    let mut l = List::new();
    for i in 0..3000 {
        l.push_back(format!("element-{i}").as_bytes());
    }
    let mut small = Set::new();
    let mut big = Set::new();
    for i in 0..100 {
        small.insert(b(&i.to_string()), 512);
        big.insert(b(&format!("m{i}")), 512);
    }
    let mut h = Hash::new();
    let mut ht = Hash::new();
    let mut z = ZSet::new(1, enc.zset);
    let mut zs = ZSet::new(1, enc.zset);
    for i in 0..200 {
        if i < 50 {
            h.insert(b(&format!("f{i}")), b(&i.to_string()), enc.hash);
            z.insert(b(&format!("m{i}")), i as f64 / 3.0, enc.zset);
        }
        ht.insert(b(&format!("f{i}")), b(&"v".repeat(i)), enc.hash);
        zs.insert(b(&format!("m{i}")), -(i as f64), enc.zset);
    }
    for v in [
        Value::List(Box::new(l)),
        Value::Set(Box::new(small)),
        Value::Set(Box::new(big)),
        Value::Hash(Box::new(h)),
        Value::Hash(Box::new(ht)),
        Value::ZSet(Box::new(z)),
        Value::ZSet(Box::new(zs)),
    ] {
        let back = round_trip(&v);
        assert_eq!(back.encoding(), v.encoding());
        let (mut a, mut c) = (contents(&back), contents(&v));
        if matches!(&v, Value::Set(s) if matches!(**s, Set::Table(_)))
            || matches!(&v, Value::Hash(h) if matches!(**h, Hash::Table(_)))
        {
            a.sort();
            c.sort();
        }
        assert_eq!(a, c);
    }
}

#[test]
fn checksum_and_version_are_checked() {
    let mut p = dump(&Value::Str(b("hello").into()), &Encodings::default());
    let n = p.len();
    p[n - 1] ^= 1;
    assert!(!verify(&p));
    p[n - 1] ^= 1;
    p[n - 10] = 11;
    assert!(!verify(&p));
    assert!(!verify(b"short"));
}

/// Recomputes the trailer so mutated bodies reach the parser.
fn reseal(body: &[u8]) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

fn sample_payloads() -> Vec<Vec<u8>> {
    let enc = Encodings::default();
    let mut l = List::new();
    let mut h = Hash::new();
    let mut z = ZSet::new(1, enc.zset);
    for i in 0..20 {
        l.push_back(format!("{i}-{}", "x".repeat(i)).as_bytes());
        h.insert(b(&format!("f{i}")), b(&i.to_string()), enc.hash);
        z.insert(b(&format!("m{i}")), i as f64 * 1.5, enc.zset);
    }
    let mut s = Set::new();
    for i in 0..10 {
        s.insert(b(&(i * 1000).to_string()), 512);
    }
    let mut st = crate::store::stream::Stream::new();
    for i in 1..=30u64 {
        let id = crate::store::stream::StreamId { ms: i, seq: i };
        st.append(
            crate::store::stream::IdSpec::Exact(id),
            &[
                (b"f".as_slice(), b"v".as_slice()),
                (b"n", i.to_string().as_bytes()),
            ],
            0,
            crate::store::stream::NodeLimits {
                max_bytes: 4096,
                max_entries: 10,
            },
        )
        .unwrap();
    }
    st.delete(crate::store::stream::StreamId { ms: 3, seq: 3 });
    st.create_group(b"g", crate::store::stream::StreamId { ms: 5, seq: 5 }, 5);
    let g = st.group_mut(b"g").unwrap();
    g.load_consumer(b"alice", 1000);
    g.load_pending(
        crate::store::stream::StreamId { ms: 4, seq: 4 },
        b"alice",
        900,
        2,
    );
    [
        Value::Stream(Box::new(st)),
        Value::Str(b(&"abc".repeat(30)).into()),
        Value::List(Box::new(l)),
        Value::Hash(Box::new(h)),
        Value::ZSet(Box::new(z)),
        Value::Set(Box::new(s)),
    ]
    .iter()
    .map(|v| dump(v, &enc))
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_crash(ty in 0u8..22, body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut raw = vec![ty];
        raw.extend_from_slice(&body);
        let _ = restore(&reseal(&raw), &Encodings::default());
    }

    #[test]
    fn mutated_payloads_never_crash(
        which in 0usize..6,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let p = &sample_payloads()[which];
        let mut body = p[..p.len() - 10].to_vec();
        for (at, byte) in edits {
            let i = at.index(body.len());
            body[i] = byte;
        }
        if truncate {
            body.truncate(cut.index(body.len() + 1));
        }
        if let Ok(Value::Stream(s)) = restore(&reseal(&body), &Encodings::default()) {
            prop_assert_eq!(s.check_invariants(), Ok(()));
        }
    }
}

#[test]
fn streams_round_trip_with_tombstones_and_groups() {
    let p = &sample_payloads()[0];
    let v = restore(p, &Encodings::default()).unwrap();
    let Value::Stream(s) = &v else {
        panic!("not a stream")
    };
    s.check_invariants().unwrap();
    assert_eq!(s.len(), 29);
    assert_eq!(s.group(b"g").unwrap().pending_len(), 1);
    assert_eq!(&dump(&v, &Encodings::default()), p);
}
