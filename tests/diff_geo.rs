//! Differential tests of the geo commands: the same commands against ferrymq and redis-server,
//! replies compared byte for byte (scores, distances, coordinates, search order, stored sets,
//! errors, RESP3 shapes, keyspace events).

mod common;
use common::notify::Events;
use common::{Diff, DirServer, Server};
use proptest::prelude::*;

const SICILY: &[&str] = &[
    "GEOADD",
    "Sicily",
    "13.361389",
    "38.115556",
    "Palermo",
    "15.087269",
    "37.502669",
    "Catania",
    "12.758489",
    "38.788135",
    "edge1",
    "17.241510",
    "38.788135",
    "edge2",
    "14.015",
    "37.5",
    "Caltanissetta",
];

/// Deterministic pseudo-random places (a small LCG), as `lon lat name` triples.
fn places(n: usize, seed: u64, lon: (f64, f64), lat: (f64, f64)) -> Vec<String> {
    let mut s = seed;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = Vec::new();
    for i in 0..n {
        out.push(format!("{:.6}", lon.0 + next() * (lon.1 - lon.0)));
        out.push(format!("{:.6}", lat.0 + next() * (lat.1 - lat.0)));
        out.push(format!("p{i}"));
    }
    out
}

fn geoadd(d: &mut Diff, key: &str, triples: &[String]) {
    let mut args = vec!["GEOADD".to_string(), key.to_string()];
    args.extend(triples.iter().cloned());
    d.cmd(&args);
}

#[test]
fn geoadd_and_errors_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(SICILY);
    d.script(&[
        &["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"],
        &["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"],
        &[
            "GEOADD",
            "Sicily",
            "CH",
            "13.361389",
            "38.115556",
            "Palermo",
        ],
        &["GEOADD", "Sicily", "CH", "13.4", "38.1", "Palermo"],
        &[
            "GEOADD", "Sicily", "NX", "13.5", "38.1", "Palermo", "1", "1", "new1",
        ],
        &[
            "GEOADD", "Sicily", "XX", "CH", "13.6", "38.1", "Palermo", "1", "1", "new2",
        ],
        &["GEOADD", "Sicily", "xx", "nx", "1", "1", "a"],
        &["GEOADD", "Sicily", "ch", "ch", "ch"],
        &["GEOADD", "Sicily", "1", "1"],
        &["GEOADD", "Sicily", "1", "1", "a", "2"],
        &["GEOADD", "Sicily", "GT", "1", "1", "a"],
        &["GEOADD", "Sicily", "200", "1", "a"],
        &["GEOADD", "Sicily", "1", "86", "a"],
        &["GEOADD", "Sicily", "-180.0000001", "-85.05112879", "a"],
        &["GEOADD", "Sicily", "180", "85.05112878", "corner1"],
        &["GEOADD", "Sicily", "-180", "-85.05112878", "corner2"],
        &["GEOADD", "Sicily", "inf", "1", "a"],
        &["GEOADD", "Sicily", "abc", "1", "a"],
        &["GEOADD", "Sicily", "1", "nan", "a"],
        &["GEOADD", "Sicily", "1", "1", "ok", "1", "999", "bad"],
        &["ZSCORE", "Sicily", "ok"],
        &["GEOADD", "Sicily"],
        &["GEOADD", "Sicily", "1", "1"],
        &["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"],
        &["GEOADD", "nokey", "XX", "1", "1", "a"],
        &["EXISTS", "nokey"],
        &["SET", "str", "x"],
        &["GEOADD", "str", "1", "1", "a"],
        &["GEOADD", "str", "1", "100", "a"],
        &["GEOPOS", "str", "a"],
        &["GEOHASH", "str", "a"],
        &["GEODIST", "str", "a", "b"],
        &["GEORADIUS", "str", "1", "1", "1", "km"],
        &[
            "GEOSEARCH",
            "str",
            "FROMLONLAT",
            "1",
            "1",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCHSTORE",
            "dst",
            "str",
            "FROMLONLAT",
            "1",
            "1",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["OBJECT", "ENCODING", "Sicily"],
    ]);
}

#[test]
fn geodist_geohash_geopos_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(SICILY);
    d.script(&[
        &["GEODIST", "Sicily", "Palermo", "Catania"],
        &["GEODIST", "Sicily", "Palermo", "Catania", "m"],
        &["GEODIST", "Sicily", "Palermo", "Catania", "KM"],
        &["GEODIST", "Sicily", "Palermo", "Catania", "mi"],
        &["GEODIST", "Sicily", "Palermo", "Catania", "Ft"],
        &["GEODIST", "Sicily", "Palermo", "Palermo"],
        &["GEODIST", "Sicily", "Palermo", "nosuch"],
        &["GEODIST", "Sicily", "Palermo", "Catania", "yd"],
        &["GEODIST", "Sicily", "Palermo", "Catania", "km", "x"],
        &["GEODIST", "nokey", "a", "b"],
        &["GEODIST", "nokey", "a", "b", "parsec"],
        &["GEODIST", "Sicily", "a"],
        &[
            "GEOHASH", "Sicily", "Palermo", "Catania", "nosuch", "edge1", "edge2",
        ],
        &["GEOHASH", "Sicily"],
        &["GEOHASH", "nokey", "a", "b"],
        &[
            "GEOPOS",
            "Sicily",
            "Palermo",
            "Catania",
            "nosuch",
            "Caltanissetta",
        ],
        &["GEOPOS", "Sicily"],
        &["GEOPOS", "nokey", "a"],
        // Plain sorted-set scores outside the geohash range still decode somehow.
        &[
            "ZADD",
            "Sicily",
            "0",
            "zero",
            "-1",
            "neg",
            "1e20",
            "huge",
            "4503599627370496",
            "top",
        ],
        &["GEOPOS", "Sicily", "zero", "neg", "top"],
        &["GEOHASH", "Sicily", "zero", "neg", "top"],
        &["GEODIST", "Sicily", "zero", "top", "km"],
    ]);
    geoadd(&mut d, "w", &places(200, 7, (-180.0, 180.0), (-85.0, 85.0)));
    let mut args: Vec<String> = vec!["GEOPOS".into(), "w".into()];
    args.extend((0..200).map(|i| format!("p{i}")));
    d.cmd(&args);
    args[0] = "GEOHASH".into();
    d.cmd(&args);
    for i in 0..50 {
        for unit in ["m", "km", "mi", "ft"] {
            d.cmd(&[
                "GEODIST",
                "w",
                &format!("p{i}"),
                &format!("p{}", 199 - i),
                unit,
            ]);
        }
    }
    d.resp3();
    d.script(&[
        &["GEOPOS", "Sicily", "Palermo", "nosuch"],
        &["GEOHASH", "Sicily", "Palermo", "nosuch"],
        &["GEODIST", "Sicily", "Palermo", "Catania"],
        &["GEODIST", "Sicily", "Palermo", "nosuch"],
        &["GEODIST", "nokey", "a", "b"],
    ]);
}

#[test]
fn georadius_options_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(SICILY);
    d.script(&[
        &["GEORADIUS", "Sicily", "15", "37", "200", "km"],
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST"],
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHCOORD"],
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHHASH"],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "WITHDIST",
            "WITHCOORD",
            "WITHHASH",
        ],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "withcoord",
            "withhash",
            "withdist",
            "ASC",
        ],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "WITHDIST",
            "DESC",
        ],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "WITHDIST",
            "COUNT",
            "1",
        ],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "WITHDIST",
            "COUNT",
            "2",
            "DESC",
        ],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "COUNT",
            "1",
            "ANY",
        ],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "COUNT",
            "2",
            "ANY",
            "ASC",
        ],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "500",
            "mi",
            "COUNT",
            "10",
        ],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "100000",
            "ft",
            "WITHDIST",
        ],
        &["GEORADIUS", "Sicily", "15", "37", "1", "m"],
        &["GEORADIUS", "Sicily", "15", "37", "0", "km"],
        &[
            "GEORADIUS",
            "Sicily",
            "15.087269",
            "37.502669",
            "0",
            "km",
            "WITHDIST",
        ],
        &["GEORADIUS", "Sicily", "15", "37", "20000", "km", "WITHDIST"],
        &["GEORADIUS", "nokey", "15", "37", "200", "km"],
        &[
            "GEORADIUS_RO",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "WITHDIST",
            "ASC",
        ],
        &[
            "GEORADIUSBYMEMBER",
            "Sicily",
            "Palermo",
            "200",
            "km",
            "WITHDIST",
            "WITHCOORD",
        ],
        &[
            "GEORADIUSBYMEMBER",
            "Sicily",
            "Palermo",
            "100",
            "km",
            "DESC",
        ],
        &[
            "GEORADIUSBYMEMBER_RO",
            "Sicily",
            "Catania",
            "50",
            "mi",
            "WITHHASH",
        ],
        &["GEORADIUSBYMEMBER", "Sicily", "nosuch", "100", "km"],
        &["GEORADIUSBYMEMBER", "nokey", "nosuch", "abc", "parsec"],
        &["GEORADIUSBYMEMBER", "nokey", "m", "1", "km", "FOO"],
        // Errors.
        &["GEORADIUS", "Sicily", "15", "37", "200", "parsec"],
        &["GEORADIUS", "Sicily", "15", "37", "abc", "km"],
        &["GEORADIUS", "Sicily", "15", "37", "-1", "km"],
        &["GEORADIUS", "Sicily", "15", "100", "1", "km"],
        &["GEORADIUS", "Sicily", "x", "37", "1", "km"],
        &["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT"],
        &["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "0"],
        &["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "-3"],
        &["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "x"],
        &["GEORADIUS", "Sicily", "15", "37", "1", "km", "ANY"],
        &["GEORADIUS", "Sicily", "15", "37", "1", "km", "FOO"],
        &["GEORADIUS", "Sicily", "15", "37", "1", "km", "STORE"],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "1",
            "km",
            "STORE",
            "x",
            "WITHDIST",
        ],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "1",
            "km",
            "WITHHASH",
            "STOREDIST",
            "x",
        ],
        &[
            "GEORADIUS_RO",
            "Sicily",
            "15",
            "37",
            "1",
            "km",
            "STORE",
            "x",
        ],
        &[
            "GEORADIUSBYMEMBER_RO",
            "Sicily",
            "Palermo",
            "1",
            "km",
            "STOREDIST",
            "x",
        ],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "1",
            "km",
            "FROMLONLAT",
            "1",
            "2",
        ],
        &["GEORADIUS", "Sicily", "15", "37", "1"],
        &["GEORADIUSBYMEMBER", "Sicily", "Palermo", "1"],
        // STORE and STOREDIST.
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "dst",
        ],
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "STOREDIST",
            "dst",
            "COUNT",
            "2",
        ],
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "mi",
            "STORE",
            "a",
            "STOREDIST",
            "b",
            "DESC",
        ],
        &["EXISTS", "a"],
        &["ZRANGE", "b", "0", "-1", "WITHSCORES"],
        &["EXPIRE", "b", "100"],
        &[
            "GEORADIUSBYMEMBER",
            "Sicily",
            "Palermo",
            "10",
            "km",
            "STOREDIST",
            "b",
        ],
        &["TTL", "b"],
        &["ZRANGE", "b", "0", "-1", "WITHSCORES"],
        &["GEORADIUS", "Sicily", "0", "0", "1", "km", "STORE", "b"],
        &["EXISTS", "b"],
        &["GEORADIUS", "Sicily", "0", "0", "1", "km", "STORE", "b"],
        &["SET", "s", "x"],
        &["GEORADIUS", "nokey", "0", "0", "1", "km", "STORE", "s"],
        &["EXISTS", "s"],
        &["SET", "s", "x"],
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "s"],
        &["TYPE", "s"],
        &["GEORADIUSBYMEMBER", "nokey", "m", "1", "km", "STORE", "s"],
        &["EXISTS", "s"],
    ]);
}

#[test]
fn geosearch_options_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(SICILY);
    d.script(&[
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "ASC",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "ASC",
            "WITHCOORD",
            "WITHDIST",
            "WITHHASH",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYBOX",
            "200",
            "200",
            "km",
            "DESC",
            "WITHDIST",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "200",
            "km",
            "COUNT",
            "2",
            "WITHDIST",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "200",
            "km",
            "COUNT",
            "2",
            "ANY",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "BYRADIUS",
            "200",
            "km",
            "FROMMEMBER",
            "Palermo",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "FROMMEMBER",
            "Catania",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "0",
            "0",
            "km",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "1000",
            "10",
            "mi",
            "WITHDIST",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "10",
            "1000",
            "ft",
            "WITHDIST",
        ],
        // Errors, in Redis's order.
        &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37"],
        &["GEOSEARCH", "Sicily", "BYRADIUS", "15", "km"],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
            "BYBOX",
            "1",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYBOX",
            "1",
            "1",
            "km",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "nosuch",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYBOX",
            "-1",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYBOX",
            "1",
            "x",
            "km",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYBOX",
            "x",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYBOX",
            "1",
            "1",
            "yd",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
            "STORE",
            "x",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
            "STOREDIST",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
            "ANY",
        ],
        &[
            "geosearch",
            "Sicily",
            "WITHDIST",
            "BYRADIUS",
            "1",
            "km",
            "ASC",
        ],
        &[
            "GeoSearch",
            "Sicily",
            "FROMLONLAT",
            "1",
            "2",
            "ASC",
            "WITHDIST",
        ],
        &[
            "GEOSEARCH",
            "nokey",
            "FROMMEMBER",
            "x",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "nokey",
            "FROMMEMBER",
            "x",
            "BYRADIUS",
            "1",
            "km",
            "WITHDIST",
        ],
        &[
            "GEOSEARCH",
            "nokey",
            "FROMLONLAT",
            "1",
            "2",
            "BYRADIUS",
            "x",
            "km",
        ],
        // GEOSEARCHSTORE.
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
        ],
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "STOREDIST",
            "DESC",
            "COUNT",
            "3",
        ],
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "m",
            "STOREDIST",
        ],
        &["EXISTS", "dst"],
        &[
            "GEOSEARCHSTORE",
            "Sicily",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "100",
            "km",
        ],
        &["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"],
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
            "WITHDIST",
        ],
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
            "STORE",
            "x",
        ],
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
        ],
        &["GEOSEARCHSTORE", "dst", "Sicily", "BYRADIUS", "1", "km"],
        &[
            "GEOSEARCHSTORE",
            "dst",
            "nokey",
            "FROMMEMBER",
            "x",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCHSTORE",
            "dst",
            "nokey",
            "FROMMEMBER",
            "x",
            "BYRADIUS",
            "1",
            "km",
            "ANY",
        ],
        &["geosearchstore", "dst", "nokey", "BYRADIUS", "1", "km"],
        &["GEOSEARCHSTORE", "dst"],
    ]);
}

/// Searches of many sizes over random places: small radii (a few cells), huge ones (where
/// neighbouring cells coincide), near the poles and across the antimeridian, boxes too.
#[test]
fn searches_over_many_places_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    geoadd(
        &mut d,
        "world",
        &places(600, 1, (-180.0, 180.0), (-85.0, 85.0)),
    );
    geoadd(&mut d, "city", &places(300, 2, (2.2, 2.5), (48.8, 48.95)));
    geoadd(
        &mut d,
        "north",
        &places(200, 3, (-180.0, 180.0), (70.0, 85.05)),
    );
    geoadd(
        &mut d,
        "dateline",
        &places(200, 4, (170.0, 180.0), (-20.0, 20.0)),
    );
    geoadd(
        &mut d,
        "dateline",
        &places(200, 5, (-180.0, -170.0), (-20.0, 20.0)),
    );
    let centres = [
        ("world", "0", "0"),
        ("world", "120", "-45"),
        ("world", "-179.9", "84"),
        ("city", "2.35", "48.86"),
        ("north", "10", "80"),
        ("north", "-100", "75"),
        ("dateline", "179.9", "0"),
        ("dateline", "-179.9", "5"),
    ];
    for (key, lon, lat) in centres {
        for (r, unit) in [
            ("500", "m"),
            ("3", "km"),
            ("50", "km"),
            ("700", "km"),
            ("3000", "mi"),
            ("9000", "km"),
            ("30000", "km"),
        ] {
            d.cmd(&["GEORADIUS", key, lon, lat, r, unit, "WITHDIST", "WITHHASH"]);
            d.cmd(&["GEORADIUS", key, lon, lat, r, unit, "ASC", "WITHCOORD"]);
            d.cmd(&[
                "GEORADIUS",
                key,
                lon,
                lat,
                r,
                unit,
                "COUNT",
                "5",
                "DESC",
                "WITHDIST",
            ]);
            d.cmd(&["GEORADIUS", key, lon, lat, r, unit, "COUNT", "3", "ANY"]);
            d.cmd(&[
                "GEOSEARCH",
                key,
                "FROMLONLAT",
                lon,
                lat,
                "BYBOX",
                r,
                r,
                unit,
                "WITHDIST",
            ]);
            d.cmd(&[
                "GEOSEARCH",
                key,
                "FROMLONLAT",
                lon,
                lat,
                "BYBOX",
                r,
                "1",
                unit,
                "ASC",
            ]);
            d.cmd(&[
                "GEOSEARCHSTORE",
                "out",
                key,
                "FROMLONLAT",
                lon,
                lat,
                "BYRADIUS",
                r,
                unit,
                "STOREDIST",
            ]);
            d.cmd(&["ZRANGE", "out", "0", "-1", "WITHSCORES"]);
            d.cmd(&["OBJECT", "ENCODING", "out"]);
        }
    }
    for key in ["world", "city", "north", "dateline"] {
        d.cmd(&["OBJECT", "ENCODING", key]);
    }
    // Antipodes: the largest distances the haversine formula meets.
    geoadd(
        &mut d,
        "anti",
        &[
            "0", "0", "a", "180", "0", "b", "-180", "0", "c", "90", "45", "d", "-90", "-45", "e",
        ]
        .map(String::from),
    );
    d.script(&[
        &["GEODIST", "anti", "a", "b"],
        &["GEODIST", "anti", "d", "e", "km"],
        &[
            "GEORADIUS",
            "anti",
            "0",
            "0",
            "20037",
            "km",
            "WITHDIST",
            "ASC",
        ],
        &[
            "GEORADIUS",
            "anti",
            "90",
            "45",
            "30000",
            "km",
            "WITHDIST",
            "DESC",
        ],
        &[
            "GEOSEARCH",
            "anti",
            "FROMMEMBER",
            "d",
            "BYBOX",
            "40000",
            "40000",
            "km",
            "WITHDIST",
        ],
    ]);
    for m in ["p0", "p17", "p123"] {
        for r in ["10", "1000", "8000"] {
            d.cmd(&["GEORADIUSBYMEMBER", "world", m, r, "km", "WITHDIST", "ASC"]);
            d.cmd(&[
                "GEOSEARCH",
                "world",
                "FROMMEMBER",
                m,
                "BYBOX",
                r,
                r,
                "km",
                "DESC",
                "WITHCOORD",
            ]);
        }
    }
}

#[test]
fn resp3_shapes_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(SICILY);
    d.resp3();
    d.script(&[
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "WITHDIST",
            "WITHCOORD",
            "WITHHASH",
        ],
        &["GEORADIUS", "Sicily", "15", "37", "200", "km"],
        &["GEORADIUS", "nokey", "15", "37", "200", "km"],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYBOX",
            "300",
            "300",
            "km",
            "WITHCOORD",
        ],
        &["GEOPOS", "Sicily", "Palermo", "nosuch"],
        &["GEOADD", "Sicily", "0", "0", "origin"],
        &["GEOPOS", "Sicily", "origin"],
        &[
            "GEORADIUSBYMEMBER",
            "Sicily",
            "origin",
            "1",
            "km",
            "WITHCOORD",
        ],
    ]);
}

/// Keyspace events: `zadd` for GEOADD, `georadiusstore` / `geosearchstore` for stored results,
/// `del` when an empty result removes the destination; nothing for the plain searches.
#[test]
fn keyspace_events_match_redis() {
    let Some(mut e) = Events::new("KEAn") else {
        return;
    };
    e.script(&[
        SICILY,
        &["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"],
        &["GEOADD", "Sicily", "CH", "13.4", "38.1", "Palermo"],
        &["GEOADD", "fresh", "1", "1", "a"],
        &["GEORADIUS", "Sicily", "15", "37", "200", "km"],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "d1",
        ],
        &[
            "GEORADIUSBYMEMBER",
            "Sicily",
            "Palermo",
            "200",
            "km",
            "STOREDIST",
            "d1",
        ],
        &[
            "GEOSEARCHSTORE",
            "d2",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
        ],
        &[
            "GEOSEARCHSTORE",
            "d2",
            "Sicily",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["GEORADIUS", "nokey", "0", "0", "1", "km", "STORE", "d1"],
        &["GEORADIUS", "nokey", "0", "0", "1", "km", "STORE", "d1"],
        &["GEOADD", "Sicily", "XX", "1", "1", "nosuch"],
    ]);
}

/// GEOADD wakes a client blocked in BZPOPMIN on the key, as ZADD does.
#[test]
fn geoadd_and_store_wake_bzpopmin() {
    let fm = Server::ferrymq(&[]);
    let mut waiter = fm.raw();
    let mut c = fm.raw();
    waiter.send(&["BZPOPMIN", "g", "0"]);
    assert!(common::wait_for(std::time::Duration::from_secs(5), || {
        common::info_field(&mut c, "blocked_clients").as_deref() == Some("1")
    }));
    c.cmd(&["GEOADD", "g", "13.361389", "38.115556", "Palermo"]);
    let got = String::from_utf8_lossy(&waiter.read_reply()).into_owned();
    assert!(
        got.contains("Palermo") && got.contains("3479099956230698"),
        "{got}"
    );
    c.cmd(&["GEOADD", "src", "13.361389", "38.115556", "Palermo"]);
    waiter.send(&["BZPOPMIN", "dst", "0"]);
    assert!(common::wait_for(std::time::Duration::from_secs(5), || {
        common::info_field(&mut c, "blocked_clients").as_deref() == Some("1")
    }));
    c.cmd(&[
        "GEOSEARCHSTORE",
        "dst",
        "src",
        "FROMLONLAT",
        "13",
        "38",
        "BYRADIUS",
        "100",
        "km",
    ]);
    let got = String::from_utf8_lossy(&waiter.read_reply()).into_owned();
    assert!(got.contains("Palermo"), "{got}");
}

/// GEOADD replays as the ZADD it amounts to and stored searches as sent: the data comes back
/// the same after a restart, and redis-server loads the AOF to the same data.
#[test]
fn aof_replays_geo_writes() {
    let dir = tempfile::tempdir().unwrap();
    let f = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = f.raw();
    c.cmd(SICILY);
    c.cmd(&["GEOADD", "Sicily", "XX", "CH", "13.4", "38.1", "Palermo"]);
    c.cmd(&[
        "GEORADIUS",
        "Sicily",
        "15",
        "37",
        "200",
        "km",
        "STOREDIST",
        "d1",
    ]);
    c.cmd(&[
        "GEOSEARCHSTORE",
        "d2",
        "Sicily",
        "FROMMEMBER",
        "Palermo",
        "BYBOX",
        "300",
        "300",
        "km",
    ]);
    let dump = |c: &mut common::RawConn| -> Vec<Vec<u8>> {
        ["Sicily", "d1", "d2"]
            .iter()
            .map(|k| c.cmd(&["ZRANGE", k, "0", "-1", "WITHSCORES"]))
            .collect()
    };
    let before = dump(&mut c);
    assert!(before.iter().all(|r| r.len() > 10), "{before:?}");
    f.shutdown();
    let aof = std::fs::read_dir(dir.path().join("appendonlydir"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".incr."))
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned())
        .collect::<String>();
    assert!(
        aof.contains("$4\r\nzadd\r\n$6\r\nSicily\r\n$16\r\n3479099956230698\r\n$7\r\nPalermo"),
        "{aof}"
    );
    let f = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = f.raw();
    assert_eq!(dump(&mut c), before);
    // After a rewrite (the sets as ZADD) and more writes, the same again.
    assert!(c.cmd(&["BGREWRITEAOF"]).starts_with(b"+"));
    assert!(common::wait_for(std::time::Duration::from_secs(20), || {
        common::info_field(&mut c, "aof_rewrite_in_progress").as_deref() == Some("0")
    }));
    c.cmd(&["GEOADD", "Sicily", "2.35", "48.86", "Paris"]);
    c.cmd(&[
        "GEORADIUS",
        "Sicily",
        "15",
        "37",
        "2000",
        "km",
        "STORE",
        "d2",
    ]);
    let before = dump(&mut c);
    f.shutdown();
    let f = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = f.raw();
    assert_eq!(dump(&mut c), before);
    f.shutdown();
    let Some(r) = DirServer::redis(
        dir.path(),
        &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
    ) else {
        return;
    };
    let mut c = r.raw();
    assert_eq!(dump(&mut c), before);
}

/// Points at exactly equal distances come out in Redis's order, for full sorts and for the
/// partial sort COUNT uses, at sizes around the sort's thresholds (7, 40).
#[test]
fn equal_distances_sort_as_redis() {
    let Some(mut d) = Diff::new() else { return };
    for (n, key) in [
        (5usize, "t5"),
        (7, "t7"),
        (8, "t8"),
        (23, "t23"),
        (41, "t41"),
        (150, "t150"),
    ] {
        // Four rings of identical positions around (1, 1), interleaved in insertion order.
        let mut triples = Vec::new();
        for i in 0..n {
            let (lon, lat) = match i % 4 {
                0 => ("1", "1"),
                1 => ("1.001", "1"),
                2 => ("0.999", "1"),
                _ => ("1", "1.002"),
            };
            triples.extend([lon.to_string(), lat.to_string(), format!("m{i:03}")]);
        }
        geoadd(&mut d, key, &triples);
        d.cmd(&["GEORADIUS", key, "1", "1", "100", "km", "ASC"]);
        d.cmd(&["GEORADIUS", key, "1", "1", "100", "km", "DESC"]);
        for count in [1, 2, 3, n / 3 + 1, n / 2, n - 1, n, n + 1] {
            let c = count.max(1).to_string();
            d.cmd(&["GEORADIUS", key, "1", "1", "100", "km", "COUNT", &c]);
            d.cmd(&["GEORADIUS", key, "1", "1", "100", "km", "COUNT", &c, "DESC"]);
            d.cmd(&[
                "GEORADIUS",
                key,
                "1.0004",
                "1",
                "100",
                "km",
                "COUNT",
                &c,
                "WITHDIST",
            ]);
            d.cmd(&["GEORADIUS", key, "1", "1", "100", "km", "COUNT", &c, "ANY"]);
            d.cmd(&[
                "GEORADIUS",
                key,
                "1",
                "1",
                "100",
                "km",
                "COUNT",
                &c,
                "ANY",
                "DESC",
            ]);
            d.cmd(&[
                "GEOSEARCHSTORE",
                "out",
                key,
                "FROMLONLAT",
                "1",
                "1",
                "BYBOX",
                "300",
                "300",
                "km",
                "COUNT",
                &c,
                "STOREDIST",
            ]);
            d.cmd(&["ZRANGE", "out", "0", "-1", "WITHSCORES"]);
        }
    }
}

fn coord_strategy() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        (-180.0f64..=180.0, -85.05f64..=85.05),
        // A small region, so searches find several points and positions repeat.
        (10.0f64..10.05, 45.0f64..45.05),
        Just((10.02, 45.02)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    /// Random places and random searches (centre, shape, unit, options) give the same replies
    /// as redis-server.
    #[test]
    fn random_searches_match_redis(
        pts in proptest::collection::vec(coord_strategy(), 1..80),
        searches in proptest::collection::vec(
            (coord_strategy(), 0.0f64..3000.0, 0usize..4, any::<bool>(), 0usize..6, 0u8..4),
            1..12,
        ),
    ) {
        let Some(mut d) = Diff::new() else { return Ok(()) };
        let mut triples = Vec::new();
        for (i, (lon, lat)) in pts.iter().enumerate() {
            triples.extend([format!("{lon:.6}"), format!("{lat:.6}"), format!("m{i}")]);
        }
        geoadd(&mut d, "g", &triples);
        let units = ["m", "km", "mi", "ft"];
        for ((lon, lat), size, unit, boxed, count, order) in searches {
            let (lon, lat) = (format!("{lon:.6}"), format!("{lat:.6}"));
            let size = format!("{size:.3}");
            let mut args: Vec<String> = ["GEOSEARCH", "g", "FROMLONLAT", &lon, &lat]
                .map(String::from)
                .to_vec();
            if boxed {
                args.extend(["BYBOX", &size, &size, units[unit]].map(String::from));
            } else {
                args.extend(["BYRADIUS", &size, units[unit]].map(String::from));
            }
            if count > 0 {
                args.extend(["COUNT".to_string(), count.to_string()]);
                if order == 3 {
                    args.push("ANY".into());
                }
            }
            match order {
                1 => args.push("ASC".into()),
                2 => args.push("DESC".into()),
                _ => {}
            }
            args.extend(["WITHDIST", "WITHHASH", "WITHCOORD"].map(String::from));
            d.cmd(&args);
            let mut radius: Vec<String> = ["GEORADIUS", "g", &lon, &lat, &size, units[unit]]
                .map(String::from)
                .to_vec();
            radius.extend(args[if boxed { 9 } else { 8 }..].iter().cloned());
            d.cmd(&radius);
        }
    }
}

/// Numbers as Redis parses them (exponents, signs, spaces, hex, infinities, overflow) in
/// coordinates, radii, box sizes and COUNT, and the `%f` text of rejected coordinates.
#[test]
fn number_parsing_matches_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(SICILY);
    for v in [
        "1e1",
        "+10",
        " 10",
        "10 ",
        "0x10",
        "1e400",
        "-1e400",
        "1e-400",
        "inf",
        "-inf",
        "",
        "1e300",
        "-0",
        "0.0000001",
        "179.9999999999",
        "5,5",
    ] {
        d.cmd(&["GEOADD", "n", v, "10", "a"]);
        d.cmd(&["GEOADD", "n", "10", v, "b"]);
        d.cmd(&["GEORADIUS", "Sicily", "15", "37", v, "km", "WITHDIST"]);
        d.cmd(&[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            v,
            "500",
            "km",
        ]);
        d.cmd(&[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "500",
            v,
            "km",
        ]);
        d.cmd(&["GEORADIUS", "Sicily", "15", "37", "500", "km", "COUNT", v]);
    }
    d.script(&[
        &["ZRANGE", "n", "0", "-1", "WITHSCORES"],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "500",
            "km",
            "COUNT",
            "9223372036854775807",
        ],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "500",
            "km",
            "COUNT",
            "9223372036854775808",
        ],
        &["GEORADIUS", "Sicily", "15", "37", "500", "KM", "WITHDIST"],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "500000",
            "Mi",
            "WITHDIST",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "inf",
            "inf",
            "m",
            "WITHDIST",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "85",
            "BYRADIUS",
            "1000",
            "km",
            "WITHDIST",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "-85",
            "BYBOX",
            "100000",
            "10",
            "km",
        ],
    ]);
}

/// INFO's change counter moves as Redis's dirty: GEOADD counts members added or moved, a
/// stored search the members stored (one when an empty result deletes the destination).
#[test]
fn change_counter_moves_as_redis() {
    let Some(mut d) = Diff::new() else { return };
    let steps: &[&[&str]] = &[
        SICILY,
        &["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"],
        &[
            "GEOADD", "Sicily", "CH", "13.4", "38.1", "Palermo", "1", "1", "new",
        ],
        &["GEOADD", "Sicily", "NX", "13.5", "38.1", "Palermo"],
        &["GEORADIUS", "Sicily", "15", "37", "200", "km"],
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "d1",
        ],
        &[
            "GEOSEARCHSTORE",
            "d2",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
        ],
        &[
            "GEOSEARCHSTORE",
            "d2",
            "Sicily",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCHSTORE",
            "d2",
            "Sicily",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["GEORADIUS", "nokey", "0", "0", "1", "km", "STORE", "d1"],
    ];
    d.script_with_info(steps, "rdb_changes_since_last_save");
}

/// WATCH sees geo writes when Redis does: GEOADD that changed the set, a stored search's
/// destination (also when an empty result deletes it); not the plain searches.
#[test]
fn watch_sees_the_writes_redis_signals() {
    let Some(d) = Diff::new() else { return };
    let cases: &[(&[&str], &str, &[&str])] = &[
        (SICILY, "Sicily", &["GEOADD", "Sicily", "1", "1", "x"]),
        (
            SICILY,
            "Sicily",
            &["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"],
        ),
        (
            SICILY,
            "Sicily",
            &["GEORADIUS", "Sicily", "15", "37", "200", "km"],
        ),
        (
            SICILY,
            "d",
            &["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d"],
        ),
        (
            &["SET", "d", "x"],
            "d",
            &["GEORADIUS", "Sicily", "0", "0", "1", "km", "STORE", "d"],
        ),
        (
            &["DEL", "d"],
            "d",
            &["GEORADIUS", "Sicily", "0", "0", "1", "km", "STORE", "d"],
        ),
        (
            SICILY,
            "d",
            &[
                "GEOSEARCHSTORE",
                "d",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "9",
                "km",
            ],
        ),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (setup, key, write) in cases {
        let mut replies = Vec::new();
        for srv in [&d.rs, &d.fm] {
            let (mut a, mut b) = (srv.raw(), srv.raw());
            b.cmd(setup);
            a.cmd(&["WATCH", key]);
            b.cmd(write);
            a.cmd(&["MULTI"]);
            a.cmd(&["PING"]);
            replies.push(a.cmd_s(&["EXEC"]));
        }
        seen.insert(replies[0].clone());
        assert_eq!(replies[0], replies[1], "WATCH {key} then {write:?}");
    }
    // Both outcomes occur: aborted (`*-1`) and executed.
    assert_eq!(seen.len(), 2, "{seen:?}");
}
