//! Geohash math for geo sets, computing exactly what Redis 7.0 computes (same operations in the
//! same order, the same libm calls), so scores, distances and search results are identical.
//!
//! - A position is stored as a sorted-set score: longitude in [-180, 180] and latitude in
//!   [-85.05112878, 85.05112878] each cut into 2^26 steps, the two 26-bit numbers interleaved
//!   (latitude in the even bits) into a 52-bit integer ([`score_of`]); [`decode_score`] gives
//!   back the centre of that cell.
//! - [`distance`] is the haversine distance on a sphere of radius 6372797.560856 m.
//! - A search ([`Shape`]: circle or box around a centre) covers the cell of a size fitting the
//!   shape that holds the centre plus its eight neighbours ([`search_areas`]); each is a range
//!   of scores ([`score_range`]) and each candidate is then tested with [`Shape::contains`];
//!   [`points_in_shape`] does the whole scan over a sorted set.
//! - [`geohash_string`] is the standard 11-character geohash (latitude range [-90, 90]).
//!
//! Pure functions over store values: no protocol, no locks.

use bytes::Bytes;

use super::zset::{ScoreRange, ZSet};

pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.051_128_78;
pub const LAT_MAX: f64 = 85.051_128_78;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;

const D_R: f64 = std::f64::consts::PI / 180.0;
const EARTH_RADIUS_IN_METERS: f64 = 6_372_797.560_856;
const MERCATOR_MAX: f64 = 20_037_726.37;

/// A geohash of `step` bits per coordinate. `step == 0 && bits == 0` is "none" (a neighbour
/// excluded from a search).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HashBits {
    pub bits: u64,
    pub step: u8,
}

impl HashBits {
    pub fn is_none(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The cell a hash stands for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

const WGS84_LONG: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555_5555_5555_5555,
        0x3333_3333_3333_3333,
        0x0F0F_0F0F_0F0F_0F0F,
        0x00FF_00FF_00FF_00FF,
        0x0000_FFFF_0000_FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (xlo as u64, ylo as u64);
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555_5555_5555_5555,
        0x3333_3333_3333_3333,
        0x0F0F_0F0F_0F0F_0F0F,
        0x00FF_00FF_00FF_00FF,
        0x0000_FFFF_0000_FFFF,
        0x0000_0000_FFFF_FFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (interleaved, interleaved >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// True when the pair is inside the range geo sets can index.
pub fn valid_lon_lat(lon: f64, lat: f64) -> bool {
    (LONG_MIN..=LONG_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// Hash a position with `step` bits per coordinate over the given ranges; None outside them
/// (or outside the indexable range).
pub fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    if step > 32 || step == 0 || !valid_lon_lat(lon, lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let mut lat_offset = (lat - lat_r.min) / (lat_r.max - lat_r.min);
    let mut long_offset = (lon - lon_r.min) / (lon_r.max - lon_r.min);
    let scale = (1u64 << step) as f64;
    lat_offset *= scale;
    long_offset *= scale;
    Some(HashBits {
        bits: interleave64(lat_offset as u32, long_offset as u32),
        step,
    })
}

pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    encode(WGS84_LONG, WGS84_LAT, lon, lat, step)
}

/// The cell of `hash` over the given ranges.
pub fn decode(lon_r: Range, lat_r: Range, hash: HashBits) -> Option<Area> {
    if hash.is_none() {
        return None;
    }
    let sep = deinterleave64(hash.bits);
    let lat_scale = lat_r.max - lat_r.min;
    let long_scale = lon_r.max - lon_r.min;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    let div = (1u64 << hash.step) as f64;
    Some(Area {
        latitude: Range {
            min: lat_r.min + (ilato as f64 * 1.0 / div) * lat_scale,
            max: lat_r.min + (ilato.wrapping_add(1) as f64 * 1.0 / div) * lat_scale,
        },
        longitude: Range {
            min: lon_r.min + (ilono as f64 * 1.0 / div) * long_scale,
            max: lon_r.min + (ilono.wrapping_add(1) as f64 * 1.0 / div) * long_scale,
        },
    })
}

pub fn decode_wgs84(hash: HashBits) -> Option<Area> {
    decode(WGS84_LONG, WGS84_LAT, hash)
}

/// The centre of a cell, clamped to the indexable range.
fn area_center(a: &Area) -> (f64, f64) {
    let lon = ((a.longitude.min + a.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.latitude.min + a.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// A double score as C's `(uint64_t)` cast computes it on x86-64 (negative scores wrap).
fn score_bits(score: f64) -> u64 {
    if score < 0.0 {
        score as i64 as u64
    } else if score >= 18_446_744_073_709_551_616.0 {
        0
    } else {
        score as u64
    }
}

/// Longitude and latitude of a geo-set score (the centre of its cell).
pub fn decode_score(score: f64) -> Option<(f64, f64)> {
    let hash = HashBits {
        bits: score_bits(score),
        step: STEP_MAX,
    };
    decode_wgs84(hash).map(|a| area_center(&a))
}

/// `hash` shifted to 52 bits (a score).
pub fn align52(hash: HashBits) -> u64 {
    hash.bits << (52 - hash.step as u32 * 2)
}

/// The score of a valid position (see [`valid_lon_lat`]).
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode_wgs84(lon, lat, STEP_MAX).map(align52)
}

/// Scores `[min, max)` of every position inside the cell of `hash`.
pub fn score_range(hash: HashBits) -> (u64, u64) {
    let min = align52(hash);
    let max = align52(HashBits {
        bits: hash.bits.wrapping_add(1),
        step: hash.step,
    });
    (min, max)
}

/// The standard geohash of a geo-set score: 11 characters, the last always `0` (only 52 bits
/// are known).
pub fn geohash_string(score: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score)?;
    let std_lon = Range {
        min: -180.0,
        max: 180.0,
    };
    let std_lat = Range {
        min: -90.0,
        max: 90.0,
    };
    // Redis ignores a failed encode here: the hash stays zero.
    let bits = encode(std_lon, std_lat, lon, lat, 26).map_or(0, |h| h.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    Some(out)
}

fn move_x(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = hash.bits & 0x5555_5555_5555_5555;
    let shift = 64 - hash.step as u32 * 2;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    hash.bits = x | y;
}

fn move_y(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = hash.bits & 0x5555_5555_5555_5555;
    let shift = 64 - hash.step as u32 * 2;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> shift;
    hash.bits = x | y;
}

fn moved(hash: HashBits, dx: i8, dy: i8) -> HashBits {
    let mut h = hash;
    move_x(&mut h, dx);
    move_y(&mut h, dy);
    h
}

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}
fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// Distance in meters between two latitudes on the same meridian.
pub fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// Haversine distance in meters.
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// Bits per coordinate for a search of `range_meters` around latitude `lat`.
pub fn estimate_steps(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Radius in the unit.
    Circle(f64),
    /// Width and height in the unit.
    Box(f64, f64),
}

/// A search area: a centre, a size in some unit, and the unit's size in meters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub lon: f64,
    pub lat: f64,
    pub kind: Kind,
    pub conversion: f64,
}

/// The cells to scan for a search: the centre's cell and its neighbours (north, south, east,
/// west, north-east, north-west, south-east, south-west), the useless ones set to none.
pub struct SearchAreas {
    pub cells: [HashBits; 9],
}

impl Shape {
    /// min longitude, min latitude, max longitude, max latitude.
    pub fn bounding_box(&self) -> [f64; 4] {
        let (half_h, half_w) = match self.kind {
            Kind::Circle(r) => (r, r),
            Kind::Box(w, h) => (h / 2.0, w / 2.0),
        };
        let height = self.conversion * half_h;
        let width = self.conversion * half_w;
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat - lat_delta).cos());
        // The edge nearer the equator is the wider one.
        let delta = if self.lat < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            self.lon - delta,
            self.lat - lat_delta,
            self.lon + delta,
            self.lat + lat_delta,
        ]
    }

    /// The distance from the centre (meters) when the point is inside the shape.
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.kind {
            Kind::Circle(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                // Written as Redis tests it: a NaN distance (rounding at antipodes) is inside.
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                let inside = !(d > r * self.conversion);
                inside.then_some(d)
            }
            Kind::Box(w, h) => {
                let (width_m, height_m) = (w * self.conversion, h * self.conversion);
                if lat_distance(lat, self.lat) > height_m / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > width_m / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// The cells covering the shape.
    pub fn search_areas(&self) -> SearchAreas {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let radius_meters = match self.kind {
            Kind::Circle(r) => r,
            Kind::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
        } * self.conversion;
        let mut steps = estimate_steps(radius_meters, self.lat);
        let cells_at = |steps: u8| {
            let hash = encode_wgs84(self.lon, self.lat, steps).unwrap_or_default();
            let n = [
                moved(hash, 0, 1),
                moved(hash, 0, -1),
                moved(hash, 1, 0),
                moved(hash, -1, 0),
                moved(hash, 1, 1),
                moved(hash, -1, 1),
                moved(hash, 1, -1),
                moved(hash, -1, -1),
            ];
            (hash, n)
        };
        let (mut hash, mut n) = cells_at(steps);
        // Is the step small enough that the neighbours reach the edges of the box?
        let area_of = |h: HashBits| decode_wgs84(h).unwrap_or_default();
        let decrease = area_of(n[0]).latitude.max < max_lat
            || area_of(n[1]).latitude.min > min_lat
            || area_of(n[2]).longitude.max < max_lon
            || area_of(n[3]).longitude.min > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            (hash, n) = cells_at(steps);
        }
        let area = area_of(hash);
        if steps >= 2 {
            let none = HashBits::default();
            // Indexes: 0 N, 1 S, 2 E, 3 W, 4 NE, 5 NW, 6 SE, 7 SW.
            if area.latitude.min < min_lat {
                for i in [1, 7, 6] {
                    n[i] = none;
                }
            }
            if area.latitude.max > max_lat {
                for i in [0, 4, 5] {
                    n[i] = none;
                }
            }
            if area.longitude.min < min_lon {
                for i in [3, 7, 5] {
                    n[i] = none;
                }
            }
            if area.longitude.max > max_lon {
                for i in [2, 6, 4] {
                    n[i] = none;
                }
            }
        }
        SearchAreas {
            cells: [hash, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]],
        }
    }
}

/// A match: position, distance from the centre (meters), score, member.
#[derive(Clone)]
pub struct Point {
    pub lon: f64,
    pub lat: f64,
    pub dist: f64,
    pub score: f64,
    pub member: Bytes,
}

/// The points of `z` inside `shape`, cell by cell in Redis's order; with `limit` (ANY) it stops
/// once that many were found.
pub fn points_in_shape(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let cells = shape.search_areas().cells;
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_none() {
            continue;
        }
        // Huge radii make neighbours coincide: skip a cell equal to the one just scanned
        // (Redis never compares with the centre's cell).
        if let Some(l) = last
            && l != 0
            && cells[l] == *cell
        {
            continue;
        }
        if limit > 0 && out.len() >= limit {
            break;
        }
        let (min, max) = score_range(*cell);
        let range = ScoreRange {
            min: min as f64,
            minex: false,
            max: max as f64,
            maxex: true,
        };
        for e in z.by_score(range, false) {
            if let Some((lon, lat)) = decode_score(e.score)
                && let Some(dist) = shape.contains(lon, lat)
            {
                out.push(Point {
                    lon,
                    lat,
                    dist,
                    score: e.score,
                    member: e.member.clone(),
                });
            }
            if limit > 0 && out.len() >= limit {
                break;
            }
        }
        last = Some(i);
    }
    out
}

/// A distance with four decimals, as Redis prints distances (`fixedpoint_d2string`).
pub fn format_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".to_string();
    }
    let v = (d * 10000.0).round_ties_even();
    let neg = v < 0.0;
    let a = v.abs() as u64;
    format!(
        "{}{}.{:04}",
        if neg { "-" } else { "" },
        a / 10000,
        a % 10000
    )
}

/// A coordinate as Redis prints it: 17 decimals of the exact value, trailing zeros (and a bare
/// dot) removed, `-0` as `0`.
pub fn format_coord(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x3ff_ffff, 0x155_5555),
            (12345, 67890),
        ] {
            let sep = deinterleave64(interleave64(x, y));
            assert_eq!((sep as u32, (sep >> 32) as u32), (x, y));
        }
    }

    #[test]
    fn palermo_matches_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores this score in redis-server 7.0.
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        let (lon, lat) = decode_score(3479099956230698.0).unwrap();
        assert_eq!(format_coord(lon), "13.36138933897018433");
        assert_eq!(format_coord(lat), "38.11555639549629859");
        assert_eq!(&geohash_string(3479099956230698.0).unwrap(), b"sqc8b49rny0");
        let (lon2, lat2) = decode_score(score_of(15.087269, 37.502669).unwrap() as f64).unwrap();
        // GEODIST Sicily Palermo Catania km
        assert_eq!(
            format_distance(distance(lon, lat, lon2, lat2) / 1000.0),
            "166.2742"
        );
    }

    #[test]
    fn invalid_positions_are_rejected() {
        assert!(score_of(180.1, 0.0).is_none());
        assert!(score_of(0.0, 85.06).is_none());
        assert!(score_of(-180.0, -85.05112878).is_some());
    }

    #[test]
    fn formats() {
        assert_eq!(format_distance(0.0), "0.0000");
        assert_eq!(format_distance(0.00004), "0.0000");
        assert_eq!(format_distance(1.23456), "1.2346");
        assert_eq!(format_coord(-0.0), "0");
        assert_eq!(format_coord(2.5), "2.5");
        assert_eq!(format_coord(3.0), "3");
    }

    #[test]
    fn points_in_circles_and_boxes() {
        use crate::store::zset::Limits;
        let limits = Limits::default();
        let mut z = ZSet::new(0, limits);
        for (m, lon, lat) in [
            ("Palermo", 13.361389, 38.115556),
            ("Catania", 15.087269, 37.502669),
        ] {
            let score = score_of(lon, lat).unwrap() as f64;
            z.insert(Bytes::from_static(m.as_bytes()), score, limits);
        }
        let circle = |r: f64| Shape {
            lon: 15.0,
            lat: 37.0,
            kind: Kind::Circle(r),
            conversion: 1000.0,
        };
        let names = |v: Vec<Point>| v.into_iter().map(|p| p.member).collect::<Vec<_>>();
        assert_eq!(names(points_in_shape(&z, &circle(200.0), 0)).len(), 2);
        assert_eq!(
            names(points_in_shape(&z, &circle(100.0), 0)),
            vec!["Catania"]
        );
        assert_eq!(points_in_shape(&z, &circle(200.0), 1).len(), 1);
        let hit = &points_in_shape(&z, &circle(100.0), 0)[0];
        assert_eq!(format_distance(hit.dist / 1000.0), "56.4413");
        let boxed = Shape {
            kind: Kind::Box(400.0, 400.0),
            ..circle(0.0)
        };
        assert_eq!(points_in_shape(&z, &boxed, 0).len(), 2);
    }

    #[test]
    fn steps() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(1.0, 0.0), 24);
        assert_eq!(estimate_steps(1.0, 70.0), 23);
        assert_eq!(estimate_steps(1.0, -81.0), 22);
        assert_eq!(estimate_steps(1e9, 0.0), 1);
    }
}
