//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted by their own value or by
//! weights looked up through a `BY` pattern, cut by `LIMIT`, projected through `GET` patterns,
//! returned or (SORT only) stored as a list.
//!
//! Order of work, as Redis's `sortCommandGeneric`: parse every option (errors first), look the
//! key up (WRONGTYPE for other types; missing = empty), load the elements, compute the weights,
//! sort, then reply or store. Patterns are resolved by [`lookup_pattern`]: `#` is the element
//! itself, the first `*` is replaced by the element, `key->field` reads a hash field.
//!
//! A `BY` pattern without `*` means "do not sort": lists and sorted sets keep their order (DESC
//! walks it backwards), sets their iteration order, except that a set is still sorted (ALPHA)
//! when the result is stored or a script asks, so that what is replayed is deterministic.
//!
//! Comparisons: numeric weights compare as doubles with ties broken by the elements' bytes;
//! ALPHA compares bytes up to the first NUL (`strcoll`), or all bytes (`memcmp`, then length)
//! when storing. The sort is stable, as glibc's `qsort` is, except with `BY` and a `LIMIT`
//! that cuts the result, where Redis's partial quicksort is reproduced ([`partial_sort`]), so
//! elements with equal ALPHA weights come out in Redis's order either way.
//!
//! DEVIATION(redis): ALPHA collates as the C locale does; redis-server uses the collation of
//! its environment's locale (`LC_COLLATE`), which is the same under `C`/`C.UTF-8`.
//! DEVIATION(redis): Redis 7.0 tests `errno` after `strtod` without clearing it first, so once
//! a weight out of double range has been read, later non-integer weights fail too, across
//! commands; here each weight is judged alone.

use bytes::Bytes;
use std::cmp::Ordering;

use super::flags::*;
use super::{CommandSpec, Ctx, Write, is, parse_i64};
use crate::config::notify::{GENERIC, LIST};
use crate::error;
use crate::protocol::Reply;
use crate::store::list::List;
use crate::store::{Db, Value};

const G: &str = "generic";

/// The parsed options.
struct Opts {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<Bytes>,
    by: Option<Bytes>,
    /// `BY` without `*`: keep the elements' order.
    dont_sort: bool,
    gets: Vec<Bytes>,
}

/// The C string view of an argument: Redis reads patterns with `strchr`/`strstr`, which stop at
/// the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// Whether the client's user may read every key (Redis refuses BY and GET patterns otherwise,
/// since they read keys the ACL cannot check in advance).
fn full_key_read_access(ctx: &Ctx) -> bool {
    let user = crate::acl::client_user(ctx.shared(), ctx.client);
    let u = user.read();
    u.allkeys
        || u.keys
            .iter()
            .any(|k| k.flags & crate::acl::user::READ != 0 && &k.pattern[..] == b"*")
}

fn parse_opts(ctx: &Ctx, args: &[Bytes], read_only: bool) -> Result<Opts, Reply> {
    let mut o = Opts {
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
    };
    let mut access: Option<bool> = None;
    let mut may_read_all = |ctx: &Ctx| *access.get_or_insert_with(|| full_key_read_access(ctx));
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.limit = Some((parse_i64(&args[j + 1])?, parse_i64(&args[j + 2])?));
            j += 2;
        } else if !read_only && is(a, "store") && left >= 1 {
            o.store = Some(args[j + 1].clone());
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let p = &args[j + 1];
            o.by = Some(p.clone());
            if !c_str(p).contains(&b'*') {
                o.dont_sort = true;
            } else if !may_read_all(ctx) {
                return Err(Reply::error(
                    "ERR BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            j += 1;
        } else if is(a, "get") && left >= 1 {
            if !may_read_all(ctx) {
                return Err(Reply::error(
                    "ERR GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(Reply::error(error::SYNTAX));
        }
        j += 1;
    }
    Ok(o)
}

/// The value a `BY`/`GET` pattern names for element `elem` (Redis's `lookupKeyByPattern`):
/// `#` is the element; otherwise the first `*` is replaced by it and, when a non-empty
/// `->field` follows the `*`, the field of that hash is read, else the string at that key.
/// A pattern without `*`, a missing key or a value of another type give None.
fn lookup_pattern(db: &mut Db, pattern: &[u8], elem: &Bytes) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(elem.clone());
    }
    let visible = c_str(pattern);
    let star = visible.iter().position(|&c| c == b'*')?;
    let field = visible[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&arrow| arrow + 2 < visible.len())
        .map(|arrow| &pattern[arrow + 2..]);
    let key_end = pattern.len() - field.map_or(0, |f| f.len() + 2);
    let mut key = Vec::with_capacity(key_end + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    match (db.get(&key), field) {
        (Some(Value::Hash(h)), Some(f)) => h.get(f).cloned(),
        (Some(Value::Str(s)), None) => Some(s.to_bytes()),
        _ => None,
    }
}

/// One element and what it is sorted by.
struct Item {
    elem: Bytes,
    score: f64,
    /// The ALPHA weight from a `BY` pattern (None: the key or field is missing).
    by: Option<Bytes>,
}

/// Redis's `compareStringObjects`: bytes, then length.
fn cmp_binary(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

/// `strcoll` in the C locale: bytes up to the first NUL.
fn cmp_collate(a: &[u8], b: &[u8]) -> Ordering {
    c_str(a).cmp(c_str(b))
}

fn compare(x: &Item, y: &Item, o: &Opts) -> Ordering {
    let storing = o.store.is_some();
    let text = |a: &[u8], b: &[u8]| {
        if storing {
            cmp_binary(a, b)
        } else {
            cmp_collate(a, b)
        }
    };
    let c = if !o.alpha {
        x.score
            .partial_cmp(&y.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| cmp_binary(&x.elem, &y.elem))
    } else if o.by.is_some() {
        match (&x.by, &y.by) {
            (Some(a), Some(b)) => text(a, b),
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
        }
    } else {
        text(&x.elem, &y.elem)
    };
    if o.desc { c.reverse() } else { c }
}

/// True while a script runs this command (its effects must not depend on a set's order).
fn in_script(ctx: &Ctx) -> bool {
    !ctx.may_block() && ctx.shared().script_status.is_running()
}

fn sort_generic(ctx: &mut Ctx, args: &[Bytes], read_only: bool) -> Reply {
    let mut o = tri!(parse_opts(ctx, args, read_only));
    let script = in_script(ctx);
    let db = ctx.db();
    enum Kind {
        List,
        Set,
        ZSet,
    }
    let kind = match db.get(&args[1]) {
        None | Some(Value::List(_)) => Kind::List,
        Some(Value::Set(_)) => Kind::Set,
        Some(Value::ZSet(_)) => Kind::ZSet,
        Some(_) => return Reply::error(error::WRONGTYPE),
    };
    if o.dont_sort && matches!(kind, Kind::Set) && (o.store.is_some() || script) {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = match db.get(&args[1]) {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;

    // LIMIT, clamped to the collection as Redis does.
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0).min(len);
    let count = limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }

    // Load the elements; lists and sorted sets left in their order read only the range.
    let ordered = o.dont_sort && matches!(kind, Kind::List | Kind::ZSet);
    let elems: Vec<Bytes> = match db.get(&args[1]) {
        _ if ordered && end < start => Vec::new(),
        Some(Value::List(l)) if ordered => {
            let n = (end - start + 1) as usize;
            // DESC walks back from the element `start` places before the tail.
            let first = if o.desc { len - 1 - end } else { start } as usize;
            let mut v: Vec<Bytes> = l
                .range(first, first + n)
                .map(Bytes::copy_from_slice)
                .collect();
            if o.desc {
                v.reverse();
            }
            v
        }
        Some(Value::ZSet(z)) if ordered => {
            let n = (end - start + 1) as usize;
            let skip = start as usize;
            if o.desc {
                z.iter()
                    .rev()
                    .skip(skip)
                    .take(n)
                    .map(|e| e.member.clone())
                    .collect()
            } else {
                z.iter()
                    .skip(skip)
                    .take(n)
                    .map(|e| e.member.clone())
                    .collect()
            }
        }
        Some(Value::List(l)) => l.iter().map(Bytes::copy_from_slice).collect(),
        Some(Value::Set(s)) => s.iter().collect(),
        Some(Value::ZSet(z)) => z.iter().map(|e| e.member.clone()).collect(),
        _ => Vec::new(),
    };
    if ordered {
        // The range was applied while loading.
        end -= start;
        start = 0;
    }

    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            by: None,
        })
        .collect();
    let mut not_double = false;
    if !o.dont_sort {
        for it in &mut items {
            let weight = match &o.by {
                Some(p) => match lookup_pattern(db, p, &it.elem) {
                    Some(w) => w,
                    None => continue,
                },
                None => it.elem.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    it.by = Some(weight);
                }
            } else {
                match crate::num::strtod_whole(&weight) {
                    Some(s) => it.score = s,
                    None => not_double = true,
                }
            }
        }
        let cmp = |x: &Item, y: &Item| compare(x, y, &o);
        if o.by.is_some() && (start != 0 || end != len - 1) {
            // Only the requested range needs its final order; Redis finishes just the
            // partitions that overlap it, which decides the order of equal ALPHA weights.
            if end >= start {
                partial_sort(&mut items, start as usize, end as usize, &cmp);
            }
        } else {
            items.sort_by(cmp);
        }
    }

    let out_len = if o.gets.is_empty() {
        (end - start + 1).max(0) as usize
    } else {
        o.gets.len() * (end - start + 1).max(0) as usize
    };
    if not_double {
        return Reply::error(error::SORT_NOT_DOUBLE);
    }
    let chosen = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &[][..]
    };
    let Some(dest) = o.store.as_ref() else {
        let mut out = Vec::with_capacity(out_len);
        for it in chosen {
            if o.gets.is_empty() {
                out.push(Reply::Bulk(it.elem.clone()));
            }
            for p in &o.gets {
                out.push(lookup_pattern(db, p, &it.elem).map_or(Reply::Null, Reply::Bulk));
            }
        }
        return Reply::Array(out);
    };

    let mut list = List::new();
    for it in chosen {
        if o.gets.is_empty() {
            list.push_back(&it.elem);
        }
        for p in &o.gets {
            list.push_back(&lookup_pattern(db, p, &it.elem).unwrap_or_default());
        }
    }
    if out_len > 0 {
        db.set(dest, Value::List(Box::new(list)));
        ctx.wrote(
            Write::key(dest)
                .event(LIST, "sortstore")
                .changes(out_len)
                .wakes(),
        );
    } else if db.delete(dest).is_some() {
        ctx.wrote(Write::key(dest).event(GENERIC, "del").wakes());
    }
    Reply::Int(out_len as i64)
}

/// The median of `v[a]`, `v[b]`, `v[c]`, as the quicksort below picks it.
fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    use Ordering::*;
    if cmp(&v[a], &v[b]) == Less {
        if cmp(&v[b], &v[c]) == Less {
            b
        } else if cmp(&v[a], &v[c]) == Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Greater {
        b
    } else if cmp(&v[a], &v[c]) == Less {
        a
    } else {
        c
    }
}

/// Sort `v` enough that positions `lo..=hi` hold what a full sort puts there: the
/// Bentley-McIlroy three-way quicksort ("Engineering a Sort Function", 1993) that skips the
/// partitions lying outside the range. Not stable; SORT uses it where Redis does (BY with a
/// LIMIT), so equal elements end up where Redis puts them.
pub(crate) fn partial_sort<T>(
    v: &mut [T],
    lo: usize,
    hi: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    let overlaps = |from: usize, n: usize| !(hi < from || lo > from + n - 1);
    let (mut base, mut n) = (0, v.len());
    loop {
        if n < 7 {
            for m in base + 1..base + n {
                let mut l = m;
                while l > base && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
                    v.swap(l, l - 1);
                    l -= 1;
                }
            }
            return;
        }
        let mut pm = base + n / 2;
        if n > 7 {
            let (mut pl, mut pn) = (base, base + n - 1);
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(base, pm);
        // Pivot at `base`; equal elements gather at both ends, then move to the middle.
        let (mut pa, mut pb) = (base + 1, base + 1);
        let (mut pc, mut pd) = (base + n - 1, base + n - 1);
        loop {
            while pb <= pc {
                match cmp(&v[pb], &v[base]) {
                    Ordering::Greater => break,
                    Ordering::Equal => {
                        v.swap(pa, pb);
                        pa += 1;
                    }
                    Ordering::Less => {}
                }
                pb += 1;
            }
            while pb <= pc {
                match cmp(&v[pc], &v[base]) {
                    Ordering::Less => break,
                    Ordering::Equal => {
                        v.swap(pc, pd);
                        pd -= 1;
                    }
                    Ordering::Greater => {}
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let end = base + n;
        let r = (pa - base).min(pb - pa);
        for i in 0..r {
            v.swap(base + i, pb - r + i);
        }
        let r = (pd - pc).min(end - pd - 1);
        for i in 0..r {
            v.swap(pb + i, end - r + i);
        }
        let left = pb - pa;
        if left > 1 && overlaps(base, left) {
            partial_sort_from(v, base, left, lo, hi, cmp);
        }
        let right = pd - pc;
        if right > 1 && overlaps(end - right, right) {
            base = end - right;
            n = right;
            continue;
        }
        return;
    }
}

/// [`partial_sort`] of the `n` elements from `base` (its recursion on the left partition).
fn partial_sort_from<T>(
    v: &mut [T],
    base: usize,
    n: usize,
    lo: usize,
    hi: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    partial_sort(
        &mut v[base..base + n],
        lo.saturating_sub(base),
        hi - base,
        cmp,
    );
}

// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC]
//   [ALPHA] [STORE destination]
fn sort(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    sort_generic(ctx, args, false)
}

// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC]
//   [ALPHA]
fn sort_ro(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    sort_generic(ctx, args, true)
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, WRITE | DENYOOM | MOVABLEKEYS, sort)
        .keys(1, 1, 1)
        .group(G)
        .doc("Sort the elements in a list, set or sorted set", "1.0.0"),
    CommandSpec::new("sort_ro", -2, READONLY | MOVABLEKEYS, sort_ro)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
            "7.0.0",
        ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(db: &mut Db, pattern: &str, elem: &str) -> Option<String> {
        lookup_pattern(db, pattern.as_bytes(), &Bytes::from(elem.to_string()))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    #[test]
    fn patterns_resolve_as_redis() {
        let mut db = Db::default();
        db.set(
            &Bytes::from_static(b"w_a"),
            Value::Str(crate::store::CompactBytes::new(b"3")),
        );
        let mut h = crate::store::hash::Hash::new();
        h.insert(
            Bytes::from_static(b"f"),
            Bytes::from_static(b"x"),
            Default::default(),
        );
        db.set(&Bytes::from_static(b"h_a"), Value::Hash(Box::new(h)));
        assert_eq!(lookup(&mut db, "#", "a").as_deref(), Some("a"));
        assert_eq!(lookup(&mut db, "w_*", "a").as_deref(), Some("3"));
        assert_eq!(lookup(&mut db, "w_*", "b"), None);
        assert_eq!(lookup(&mut db, "nostar", "a"), None);
        assert_eq!(lookup(&mut db, "h_*->f", "a").as_deref(), Some("x"));
        assert_eq!(lookup(&mut db, "h_*->g", "a"), None);
        assert_eq!(lookup(&mut db, "w_*->f", "a"), None, "a field of a string");
        assert_eq!(lookup(&mut db, "h_*", "a"), None, "a hash as a string");
        // An arrow with nothing after it is part of the key name.
        db.set(
            &Bytes::from_static(b"k_a->"),
            Value::Str(crate::store::CompactBytes::new(b"y")),
        );
        assert_eq!(lookup(&mut db, "k_*->", "a").as_deref(), Some("y"));
    }

    #[test]
    fn partial_sort_orders_the_requested_range() {
        // A simple deterministic generator: sizes around the insertion-sort and
        // median-of-nine thresholds, many duplicates.
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        for n in [1usize, 2, 6, 7, 8, 40, 41, 100, 300] {
            for _ in 0..20 {
                let v: Vec<u32> = (0..n).map(|_| next() % 17).collect();
                let mut full = v.clone();
                full.sort();
                let lo = next() as usize % n;
                let hi = lo + next() as usize % (n - lo);
                let mut part = v.clone();
                partial_sort(&mut part, lo, hi, &|a: &u32, b: &u32| a.cmp(b));
                assert_eq!(part[lo..=hi], full[lo..=hi], "n={n} lo={lo} hi={hi}");
                let mut all = v;
                all.sort_unstable();
                assert_eq!(all, full);
            }
        }
    }

    #[test]
    fn collation_stops_at_nul_but_store_compares_all_bytes() {
        assert_eq!(cmp_collate(b"a\0b", b"a\0c"), Ordering::Equal);
        assert_eq!(cmp_binary(b"a\0b", b"a\0c"), Ordering::Less);
        assert_eq!(cmp_binary(b"ab", b"a"), Ordering::Greater);
    }
}
