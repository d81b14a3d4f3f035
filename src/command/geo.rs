//! Geo commands: GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS, GEORADIUSBYMEMBER (and their
//! `_RO` forms), GEOSEARCH, GEOSEARCHSTORE.
//!
//! A geo set is a sorted set whose scores are 52-bit geohashes ([`crate::store::geohash`]).
//! GEOADD is a ZADD with computed scores, and replays as that ZADD (`zadd key [opts] score
//! member ...`), as Redis propagates it. The searches scan the score ranges of the centre's
//! cell and its neighbours, keep what is inside the shape, optionally sort by distance, and
//! either reply or store a sorted set (scores: the geohashes, or the distances with
//! STOREDIST), which raises `georadiusstore` / `geosearchstore` and replays as sent.
//!
//! Formatting as Redis: distances with four decimals (`fixedpoint_d2string`), coordinates with
//! up to 17 decimals (`%.17Lf`, trailing zeros trimmed) — bulk strings in RESP2, doubles in
//! RESP3 — and distances as bulk strings in both.
//!
//! Sorting repeats Redis's: a stable merge sort for a full sort (glibc's `qsort`), Redis's
//! partial quicksort (the one SORT uses) when COUNT leaves some matches out — so points at
//! exactly the same distance come out in the same order too.

use bytes::Bytes;
use std::cmp::Ordering;

use super::flags::*;
use super::sort::partial_sort;
use super::{CommandSpec, Ctx, Write, is, parse_i64};
use crate::config::notify::{GENERIC, ZSET};
use crate::error;
use crate::protocol::Reply;
use crate::store::geohash::{self, Kind, Point, Shape};
use crate::store::zset::{Limits, ZSet};
use crate::store::{Db, Value, own};

const G: &str = "geo";

const MEMBER_NOT_FOUND: &str = "ERR could not decode requested zset member";

fn limits(ctx: &Ctx) -> Limits {
    Limits {
        entries: ctx.shared.encoding_knob("zset-max-listpack-entries"),
        value: ctx.shared.encoding_knob("zset-max-listpack-value"),
    }
}

fn get_zset<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a ZSet>, Reply> {
    match db.get(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

fn parse_double(arg: &[u8], err: &'static str) -> Result<f64, Reply> {
    crate::num::string2d(arg).ok_or(Reply::error(err))
}

/// A longitude, latitude pair within the indexable range.
fn lon_lat(args: &[Bytes]) -> Result<(f64, f64), Reply> {
    let lon = parse_double(&args[0], error::NOT_FLOAT)?;
    let lat = parse_double(&args[1], error::NOT_FLOAT)?;
    if !geohash::valid_lon_lat(lon, lat) {
        return Err(Reply::error(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// Meters per unit.
fn unit(arg: &[u8]) -> Result<f64, Reply> {
    if is(arg, "m") {
        Ok(1.0)
    } else if is(arg, "km") {
        Ok(1000.0)
    } else if is(arg, "ft") {
        Ok(0.3048)
    } else if is(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(Reply::error(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

/// `radius unit` → (radius, meters per unit).
fn radius_unit(args: &[Bytes]) -> Result<(f64, f64), Reply> {
    let r = parse_double(&args[0], "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(Reply::error("ERR radius cannot be negative"));
    }
    Ok((r, unit(&args[1])?))
}

/// `width height unit` → (width, height, meters per unit).
fn box_unit(args: &[Bytes]) -> Result<(f64, f64, f64), Reply> {
    let w = parse_double(&args[0], "ERR need numeric width")?;
    let h = parse_double(&args[1], "ERR need numeric height")?;
    if h < 0.0 || w < 0.0 {
        return Err(Reply::error("ERR height or width cannot be negative"));
    }
    Ok((w, h, unit(&args[2])?))
}

/// The position of `member` in `z`.
fn member_pos(z: &ZSet, member: &[u8]) -> Option<(f64, f64)> {
    z.score(member).and_then(geohash::decode_score)
}

/// A coordinate reply: bulk string in RESP2, double in RESP3, both in Redis's human format.
fn coord(resp: u8, v: f64) -> Reply {
    let s = geohash::format_coord(v);
    if resp >= 3 {
        Reply::Raw(Bytes::from(format!(",{s}\r\n")))
    } else {
        Reply::Bulk(Bytes::from(s))
    }
}

fn pos_reply(resp: u8, (lon, lat): (f64, f64)) -> Reply {
    Reply::Array(vec![coord(resp, lon), coord(resp, lat)])
}

// GEOADD key [NX|XX] [CH] longitude latitude member [longitude latitude member ...]
fn geoadd(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut first = 2;
    while first < args.len() {
        let a = &args[first];
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "ch") {
            ch = true;
        } else {
            break;
        }
        first += 1;
    }
    let rest = &args[first..];
    if !rest.len().is_multiple_of(3) || (xx && nx) {
        return Reply::error(error::SYNTAX);
    }
    let mut pairs = Vec::with_capacity(rest.len() / 3);
    for t in rest.chunks(3) {
        let (lon, lat) = tri!(lon_lat(&t[..2]));
        let score = geohash::score_of(lon, lat).expect("validated position");
        pairs.push((score, &t[2]));
    }
    // The ZADD this amounts to; with no element it fails as that ZADD would.
    if pairs.is_empty() {
        return Reply::error(error::SYNTAX);
    }
    let limits = limits(ctx);
    let key = &args[1];
    let db = ctx.db();
    let exists = match tri!(get_zset(db, key)) {
        Some(_) => true,
        None if xx => return Reply::Int(0),
        None => false,
    };
    if !exists {
        db.set(
            key,
            Value::ZSet(Box::new(ZSet::new(pairs[0].1.len(), limits))),
        );
    }
    let Some(Value::ZSet(z)) = db.get_mut(key) else {
        unreachable!("checked or created above");
    };
    let (mut added, mut updated) = (0, 0);
    for &(score, m) in &pairs {
        let score = score as f64;
        match z.score(m) {
            Some(_) if nx => {}
            Some(cur) => {
                if cur != score {
                    z.insert(own(m), score, limits);
                    updated += 1;
                }
            }
            None if xx => {}
            None => {
                z.insert(own(m), score, limits);
                added += 1;
            }
        }
    }
    if added + updated > 0 {
        let mut effect = Vec::with_capacity(first + pairs.len() * 2);
        effect.push(Bytes::from_static(b"zadd"));
        effect.extend(args[1..first].iter().cloned());
        for (score, m) in pairs {
            effect.push(Bytes::from(score.to_string()));
            effect.push(m.clone());
        }
        ctx.wrote(
            Write::key(key)
                .changes(added + updated)
                .event(ZSET, "zadd")
                .wakes_if(added > 0)
                .effect(effect),
        );
    }
    Reply::Int((if ch { added + updated } else { added }) as i64)
}

// GEODIST key member1 member2 [M|KM|FT|MI]
fn geodist(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let to_meter = match args.len() {
        5 => tri!(unit(&args[4])),
        4 => 1.0,
        _ => return Reply::error(error::SYNTAX),
    };
    let Some(z) = tri!(get_zset(ctx.db(), &args[1])) else {
        return Reply::Null;
    };
    match (member_pos(z, &args[2]), member_pos(z, &args[3])) {
        (Some((lon1, lat1)), Some((lon2, lat2))) => {
            let d = geohash::distance(lon1, lat1, lon2, lat2) / to_meter;
            Reply::Bulk(Bytes::from(geohash::format_distance(d)))
        }
        _ => Reply::Null,
    }
}

// GEOHASH key [member ...]
fn geohash_cmd(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let z = tri!(get_zset(ctx.db(), &args[1]));
    Reply::Array(
        args[2..]
            .iter()
            .map(
                |m| match z.and_then(|z| z.score(m)).and_then(geohash::geohash_string) {
                    Some(h) => Reply::Bulk(Bytes::copy_from_slice(&h)),
                    None => Reply::Null,
                },
            )
            .collect(),
    )
}

// GEOPOS key [member ...]
fn geopos(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let resp = ctx.resp();
    let z = tri!(get_zset(ctx.db(), &args[1]));
    Reply::Array(
        args[2..]
            .iter()
            .map(|m| match z.and_then(|z| member_pos(z, m)) {
                Some(p) => pos_reply(resp, p),
                None => Reply::NullArray,
            })
            .collect(),
    )
}

/// Which search command runs [`search_generic`] (`store_ok`: STORE/STOREDIST accepted).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS: centre from `longitude latitude`, then `radius unit`.
    Radius { store_ok: bool },
    /// GEORADIUSBYMEMBER: centre from a member, then `radius unit`.
    ByMember { store_ok: bool },
    /// GEOSEARCH: FROMMEMBER/FROMLONLAT and BYRADIUS/BYBOX options.
    Geosearch,
    /// GEOSEARCHSTORE: as GEOSEARCH, destination first, STOREDIST without argument.
    GeosearchStore,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// Redis's comparison of distances (a NaN compares as smaller).
fn cmp_dist(a: f64, b: f64) -> Ordering {
    if a > b {
        Ordering::Greater
    } else if a == b {
        Ordering::Equal
    } else {
        Ordering::Less
    }
}

/// A stable top-down merge sort taking the left element on ties: the order glibc's `qsort`
/// gives (Redis's full sort), also when the comparison is not a total order (NaN).
fn merge_sort<T: Clone>(v: &mut [T], cmp: &impl Fn(&T, &T) -> Ordering) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    merge_sort(&mut v[..n1], cmp);
    merge_sort(&mut v[n1..], cmp);
    let mut out = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) != Ordering::Greater {
            out.push(v[i].clone());
            i += 1;
        } else {
            out.push(v[j].clone());
            j += 1;
        }
    }
    out.extend_from_slice(&v[i..n1]);
    out.extend_from_slice(&v[j..]);
    v.clone_from_slice(&out);
}

/// A search request, parsed.
struct SearchOpts<'a> {
    shape: Shape,
    /// The destination (STORE/STOREDIST, or GEOSEARCHSTORE's first key).
    store: Option<&'a Bytes>,
    storedist: bool,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    any: bool,
    /// 0 = no COUNT.
    count: usize,
    sort: Sort,
}

/// Parse a search's arguments in Redis's order, with its checks and errors. `z` (the source
/// set, when it exists) gives the centre of FROMMEMBER / GEORADIUSBYMEMBER; without it the
/// arguments are still parsed so the reply to a missing key is the right one.
fn parse_search<'a>(
    args: &'a [Bytes],
    kind: Form,
    z: Option<&ZSet>,
) -> Result<SearchOpts<'a>, Reply> {
    let searchish = matches!(kind, Form::Geosearch | Form::GeosearchStore);
    let store_ok = matches!(
        kind,
        Form::Radius { store_ok: true } | Form::ByMember { store_ok: true }
    );
    let mut o = SearchOpts {
        shape: Shape {
            lon: 0.0,
            lat: 0.0,
            kind: Kind::Circle(0.0),
            conversion: 1.0,
        },
        store: None,
        storedist: false,
        withdist: false,
        withhash: false,
        withcoord: false,
        any: false,
        count: 0,
        sort: Sort::None,
    };
    let shape = &mut o.shape;
    let base = match kind {
        Form::Radius { .. } => {
            (shape.lon, shape.lat) = lon_lat(&args[2..4])?;
            let (r, conv) = radius_unit(&args[4..6])?;
            (shape.kind, shape.conversion) = (Kind::Circle(r), conv);
            6
        }
        Form::ByMember { .. } => {
            if let Some(z) = z {
                (shape.lon, shape.lat) =
                    member_pos(z, &args[2]).ok_or(Reply::error(MEMBER_NOT_FOUND))?;
                let (r, conv) = radius_unit(&args[3..5])?;
                (shape.kind, shape.conversion) = (Kind::Circle(r), conv);
            }
            5
        }
        Form::Geosearch => 2,
        Form::GeosearchStore => {
            o.store = Some(&args[1]);
            3
        }
    };
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let opts = &args[base..];
    let remaining = opts.len();
    let mut i = 0;
    while i < remaining {
        let a = &opts[i];
        if is(a, "withdist") {
            o.withdist = true;
        } else if is(a, "withhash") {
            o.withhash = true;
        } else if is(a, "withcoord") {
            o.withcoord = true;
        } else if is(a, "any") {
            o.any = true;
        } else if is(a, "asc") {
            o.sort = Sort::Asc;
        } else if is(a, "desc") {
            o.sort = Sort::Desc;
        } else if is(a, "count") && i + 1 < remaining {
            let n = parse_i64(&opts[i + 1])?;
            if n <= 0 {
                return Err(Reply::error("ERR COUNT must be > 0"));
            }
            o.count = n as usize;
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && i + 1 < remaining && store_ok {
            o.store = Some(&opts[i + 1]);
            o.storedist = is(a, "storedist");
            i += 1;
        } else if is(a, "storedist") && kind == Form::GeosearchStore {
            o.storedist = true;
        } else if is(a, "frommember") && i + 1 < remaining && searchish && !fromloc {
            if let Some(z) = z {
                (o.shape.lon, o.shape.lat) =
                    member_pos(z, &opts[i + 1]).ok_or(Reply::error(MEMBER_NOT_FOUND))?;
            }
            frommember = true;
            i += 1;
        } else if is(a, "fromlonlat") && i + 2 < remaining && searchish && !frommember {
            (o.shape.lon, o.shape.lat) = lon_lat(&opts[i + 1..i + 3])?;
            fromloc = true;
            i += 2;
        } else if is(a, "byradius") && i + 2 < remaining && searchish && !bybox {
            let (r, conv) = radius_unit(&opts[i + 1..i + 3])?;
            (o.shape.kind, o.shape.conversion) = (Kind::Circle(r), conv);
            byradius = true;
            i += 2;
        } else if is(a, "bybox") && i + 3 < remaining && searchish && !byradius {
            let (w, h, conv) = box_unit(&opts[i + 1..i + 4])?;
            (o.shape.kind, o.shape.conversion) = (Kind::Box(w, h), conv);
            bybox = true;
            i += 3;
        } else {
            return Err(Reply::error(error::SYNTAX));
        }
        i += 1;
    }

    if o.store.is_some() && (o.withdist || o.withhash || o.withcoord) {
        let what = if kind == Form::GeosearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(Reply::error(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = String::from_utf8_lossy(&args[0]);
    if searchish && !(frommember || fromloc) {
        return Err(Reply::error(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if searchish && !(byradius || bybox) {
        return Err(Reply::error(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if o.any && o.count == 0 {
        return Err(Reply::error("ERR the ANY argument requires COUNT argument"));
    }
    // COUNT keeps the nearest ones, unless ANY asks for the first found.
    if o.count != 0 && o.sort == Sort::None && !o.any {
        o.sort = Sort::Asc;
    }
    Ok(o)
}

/// The matches to answer or store: found, sorted, cut to COUNT, distances in the unit.
fn find_matches(z: &ZSet, o: &SearchOpts) -> Vec<Point> {
    let limit = if o.any { o.count } else { 0 };
    let mut points = geohash::points_in_shape(z, &o.shape, limit);
    let returned = if o.count == 0 {
        points.len()
    } else {
        points.len().min(o.count)
    };
    if o.sort != Sort::None {
        let cmp = |a: &Point, b: &Point| match o.sort {
            Sort::Desc => cmp_dist(a.dist, b.dist).reverse(),
            _ => cmp_dist(a.dist, b.dist),
        };
        if returned == points.len() {
            merge_sort(&mut points, &cmp);
        } else {
            partial_sort(&mut points, 0, returned - 1, &cmp);
        }
    }
    points.truncate(returned);
    for p in &mut points {
        p.dist /= o.shape.conversion;
    }
    points
}

/// Members, or `[member, dist?, hash?, [lon, lat]?]` with WITH* options.
fn matches_reply(resp: u8, o: &SearchOpts, points: Vec<Point>) -> Reply {
    let items = points
        .into_iter()
        .map(|p| {
            if !(o.withdist || o.withhash || o.withcoord) {
                return Reply::Bulk(p.member);
            }
            let mut item = vec![Reply::Bulk(p.member)];
            if o.withdist {
                item.push(Reply::Bulk(Bytes::from(geohash::format_distance(p.dist))));
            }
            if o.withhash {
                item.push(Reply::Int(p.score as i64));
            }
            if o.withcoord {
                item.push(pos_reply(resp, (p.lon, p.lat)));
            }
            Reply::Array(item)
        })
        .collect();
    Reply::Array(items)
}

/// Store the matches at `dest` as a sorted set (replacing it), or delete `dest` when there
/// are none; the reply is their number.
fn store_matches(
    ctx: &mut Ctx,
    dest: &Bytes,
    points: Vec<Point>,
    storedist: bool,
    event: &'static str,
) -> Reply {
    let limits = limits(ctx);
    let n = points.len();
    let db = ctx.db();
    if n > 0 {
        let mut zs = ZSet::new(
            0,
            Limits {
                entries: 0,
                value: 0,
            },
        );
        for p in points {
            let score = if storedist { p.dist } else { p.score };
            zs.insert(p.member, score, limits);
        }
        zs.shrink_encoding(limits);
        db.set(dest, Value::ZSet(Box::new(zs)));
        ctx.wrote(Write::key(dest).changes(n).event(ZSET, event).wakes());
    } else if db.delete(dest).is_some() {
        ctx.wrote(Write::key(dest).event(GENERIC, "del"));
    }
    Reply::Int(n as i64)
}

// GEORADIUS key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH]
//   [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]
// GEORADIUSBYMEMBER key member radius M|KM|FT|MI ...same options...
// GEOSEARCH key FROMMEMBER member|FROMLONLAT longitude latitude
//   BYRADIUS radius unit|BYBOX width height unit [ASC|DESC] [COUNT count [ANY]] [WITHCOORD]
//   [WITHDIST] [WITHHASH]
// GEOSEARCHSTORE destination source ...as GEOSEARCH without WITH*... [STOREDIST]
fn search_generic(ctx: &mut Ctx, args: &[Bytes], src_idx: usize, kind: Form) -> Reply {
    let resp = ctx.resp();
    let z = tri!(get_zset(ctx.db(), &args[src_idx]));
    let o = tri!(parse_search(args, kind, z));
    let points = match z {
        Some(z) => find_matches(z, &o),
        None => vec![],
    };
    let Some(dest) = o.store else {
        return matches_reply(resp, &o, points);
    };
    let event = if matches!(kind, Form::Geosearch | Form::GeosearchStore) {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    store_matches(ctx, dest, points, o.storedist, event)
}

fn georadius(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, 1, Form::Radius { store_ok: true })
}
fn georadius_ro(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, 1, Form::Radius { store_ok: false })
}
fn georadiusbymember(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, 1, Form::ByMember { store_ok: true })
}
fn georadiusbymember_ro(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, 1, Form::ByMember { store_ok: false })
}
fn geosearch(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, 1, Form::Geosearch)
}
fn geosearchstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, 2, Form::GeosearchStore)
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("geoadd", -5, WRITE | DENYOOM, geoadd)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Add one or more geospatial items in the geospatial index represented using a sorted set",
            "3.2.0",
        ),
    CommandSpec::new("geodist", -4, READONLY, geodist)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Returns the distance between two members of a geospatial index",
            "3.2.0",
        ),
    CommandSpec::new("geohash", -2, READONLY, geohash_cmd)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Returns members of a geospatial index as standard geohash strings",
            "3.2.0",
        ),
    CommandSpec::new("geopos", -2, READONLY, geopos)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Returns longitude and latitude of members of a geospatial index",
            "3.2.0",
        ),
    CommandSpec::new("georadius", -6, WRITE | DENYOOM | MOVABLEKEYS, georadius)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
            "3.2.0",
        ),
    CommandSpec::new("georadius_ro", -6, READONLY, georadius_ro)
        .keys(1, 1, 1)
        .group(G)
        .doc("A read-only variant for GEORADIUS", "3.2.10"),
    CommandSpec::new(
        "georadiusbymember",
        -5,
        WRITE | DENYOOM | MOVABLEKEYS,
        georadiusbymember,
    )
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
            "3.2.0",
        ),
    CommandSpec::new("georadiusbymember_ro", -5, READONLY, georadiusbymember_ro)
        .keys(1, 1, 1)
        .group(G)
        .doc("A read-only variant for GEORADIUSBYMEMBER", "3.2.10"),
    CommandSpec::new("geosearch", -7, READONLY, geosearch)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
            "6.2.0",
        ),
    CommandSpec::new("geosearchstore", -8, WRITE | DENYOOM, geosearchstore)
        .keys(1, 2, 1)
        .group(G)
        .doc(
            "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.",
            "6.2.0",
        ),
];
