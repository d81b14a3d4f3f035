//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.
//!
//! A string is an array of bits: bit 0 is the most significant bit of the first byte. Reads
//! past the end see zeros; writes grow the string with zero bytes first (the growth alone counts
//! as a change, as in Redis). Offsets are limited to `proto-max-bulk-len` bytes.
//!
//! The handlers parse, type-check and reply; the bit arithmetic (`first_bit`, `get_bits`,
//! `set_bits`, the overflow rules of BITFIELD) is pure and unit-tested below. Every write
//! replays as the request itself: BITFIELD with its OVERFLOW modes is deterministic.
//!
//! DEVIATION(redis): OBJECT ENCODING of a string these commands wrote follows its content
//! (`int`, `embstr`, `raw`), as for every string here; Redis reports `raw` for them.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, Write, is, parse_i64};
use crate::config::notify::{GENERIC, STRING};
use crate::error;
use crate::num::string2ll;
use crate::protocol::Reply;
use crate::store::{CompactBytes, Value, string_form};

const G: &str = "bitmap";

/// The string at `key` for reading: Ok(None) when missing, WRONGTYPE for another type.
fn read_string(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    match ctx.db().get(key) {
        None => Ok(None),
        Some(Value::Str(b)) => Ok(Some(b.to_bytes())),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

/// Run `f` on the bytes of the string at `key`, first created or zero-padded to at least
/// `min_len` bytes (Redis's `lookupStringForBitCommand`); `f` also learns whether the key was
/// created or grew, which counts as a change by itself. The bytes are changed in place when
/// the value is not shared. As in Redis the string is raw afterwards, whatever it holds.
fn with_string_mut<R>(
    ctx: &mut Ctx,
    key: &Bytes,
    min_len: usize,
    f: impl FnOnce(&mut [u8], bool) -> R,
) -> Result<R, Reply> {
    let db = ctx.db();
    match db.get_mut(key) {
        Some(Value::Str(b)) => {
            let mut m = Vec::from(std::mem::take(b));
            let grew = m.len() < min_len;
            if grew {
                m.resize(min_len, 0);
            }
            let r = f(&mut m, grew);
            *b = CompactBytes::from(m);
            db.set_string_form(key, string_form::RAW);
            Ok(r)
        }
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
        None => {
            let mut v = vec![0u8; min_len];
            let r = f(&mut v, true);
            db.set_keep_ttl(key, Value::Str(CompactBytes::from(v)));
            db.set_string_form(key, string_form::RAW);
            Ok(r)
        }
    }
}

/// A bit offset argument (Redis's `getBitOffsetFromArgument`): a non-negative integer whose
/// byte is below `proto-max-bulk-len`; with `bits` (BITFIELD) the `#N` form means `N * bits`.
/// The limit does not apply while the AOF is replayed (only the loader runs commands then):
/// what was accepted once replays even after the limit was lowered.
fn bit_offset(ctx: &Ctx, arg: &[u8], bits: Option<u32>) -> Result<u64, Reply> {
    let err = || Reply::error(error::BIT_OFFSET);
    let (digits, mul) = match (arg.first(), bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    // The C code multiplies without an overflow check; a wrapped product is negative or
    // beyond the limit, and refused either way.
    let off = string2ll(digits).ok_or_else(err)?.wrapping_mul(mul);
    let shared = ctx.shared();
    if off < 0 || ((off >> 3) >= shared.max_bulk_len() && !shared.is_loading()) {
        return Err(err());
    }
    Ok(off as u64)
}

// SETBIT key offset value
fn setbit(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let off = tri!(bit_offset(ctx, &args[2], None));
    let on = match string2ll(&args[3]) {
        Some(v @ (0 | 1)) => v == 1,
        _ => return Reply::error(error::BIT_VALUE),
    };
    let key = &args[1];
    let (byte, mask) = ((off >> 3) as usize, 0x80u8 >> (off & 7));
    let (was, changed) = tri!(with_string_mut(ctx, key, byte + 1, |p, grew| {
        let was = p[byte] & mask != 0;
        if on {
            p[byte] |= mask;
        } else {
            p[byte] &= !mask;
        }
        (was, grew || was != on)
    }));
    if changed {
        ctx.wrote(Write::key(key).event(STRING, "setbit"));
    }
    Reply::Int(was as i64)
}

// GETBIT key offset
fn getbit(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let off = tri!(bit_offset(ctx, &args[2], None));
    let Some(s) = tri!(read_string(ctx, &args[1])) else {
        return Reply::Int(0);
    };
    let byte = (off >> 3) as usize;
    let bit = s.get(byte).is_some_and(|b| b & (0x80 >> (off & 7)) != 0);
    Reply::Int(bit as i64)
}

/// `BIT` or `BYTE` (case-insensitive): true for BIT.
fn unit_is_bit(arg: &[u8]) -> Result<bool, Reply> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(Reply::error(error::SYNTAX))
    }
}

/// A `start..=end` range (BYTE or BIT indexes, negative from the end) clamped to a string of
/// `len` bytes, as byte indexes plus the masks of the bits of the first and last byte that lie
/// outside a BIT range. `None` when the range is empty.
struct BitRange {
    start: i64,
    end: i64,
    /// Bits of the first byte before the range.
    first_out: u8,
    /// Bits of the last byte after the range.
    last_out: u8,
}

fn clamp_range(len: i64, mut start: i64, mut end: i64, bit: bool) -> Option<BitRange> {
    let total = if bit { len << 3 } else { len };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0).min(total - 1);
    if start > end {
        return None;
    }
    let (mut first_out, mut last_out) = (0, 0);
    if bit {
        first_out = !(0xFFu8 >> (start & 7));
        last_out = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Some(BitRange {
        start,
        end,
        first_out,
        last_out,
    })
}

// BITCOUNT key [start end [BYTE|BIT]]
fn bitcount(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let Some(s) = tri!(read_string(ctx, &args[1])) else {
        return Reply::Int(0);
    };
    let range = match args.len() {
        2 => clamp_range(s.len() as i64, 0, -1, false),
        4 | 5 => {
            let start = tri!(parse_i64(&args[2]));
            let end = tri!(parse_i64(&args[3]));
            if start < 0 && end < 0 && start > end {
                return Reply::Int(0);
            }
            let bit = match args.get(4) {
                Some(u) => tri!(unit_is_bit(u)),
                None => false,
            };
            clamp_range(s.len() as i64, start, end, bit)
        }
        _ => return Reply::error(error::SYNTAX),
    };
    let Some(r) = range else {
        return Reply::Int(0);
    };
    let (start, end) = (r.start as usize, r.end as usize);
    let mut n: i64 = s[start..=end].iter().map(|b| b.count_ones() as i64).sum();
    n -= (s[start] & r.first_out).count_ones() as i64;
    n -= (s[end] & r.last_out).count_ones() as i64;
    Reply::Int(n)
}

/// Position of the first `bit` in `p` (Redis's `redisBitpos`): for 1, -1 when there is none;
/// for 0, the bytes are followed by zeros, so `8 * len` when all are ones.
fn first_bit(p: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0 } else { 0xFF };
    match p.iter().position(|&b| b != skip) {
        Some(i) => {
            let b = if bit { p[i] } else { !p[i] };
            (i as i64) * 8 + b.leading_zeros() as i64
        }
        None if bit => -1,
        None => p.len() as i64 * 8,
    }
}

// BITPOS key bit [start [end [BYTE|BIT]]]
fn bitpos(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let bit = match tri!(parse_i64(&args[2])) {
        0 => false,
        1 => true,
        _ => return Reply::error(error::BITPOS_BIT),
    };
    let Some(p) = tri!(read_string(ctx, &args[1])) else {
        return Reply::Int(if bit { -1 } else { 0 });
    };
    let len = p.len() as i64;
    let mut end_given = false;
    let range = match args.len() {
        3 => clamp_range(len, 0, -1, false),
        4..=6 => {
            let start = tri!(parse_i64(&args[3]));
            let unit_bit = match args.get(5) {
                Some(u) => tri!(unit_is_bit(u)),
                None => false,
            };
            let end = match args.get(4) {
                Some(e) => {
                    end_given = true;
                    tri!(parse_i64(e))
                }
                None => -1,
            };
            clamp_range(len, start, end, unit_bit)
        }
        _ => return Reply::error(error::SYNTAX),
    };
    let Some(r) = range else {
        return Reply::Int(-1);
    };
    Reply::Int(bitpos_in(&p, r, bit, end_given))
}

/// BITPOS over a clamped range, the edge bytes of a BIT range masked so their outside bits
/// never match, as Redis scans it: first byte, middle bytes, last byte, stopping at the first
/// match. A 0 searched for in an explicit range that holds none is -1.
fn bitpos_in(p: &[u8], r: BitRange, bit: bool, end_given: bool) -> i64 {
    // Set the outside bits to what is not searched for.
    let masked = |b: u8, out: u8| if bit { b & !out } else { b | out };
    let (mut start, end) = (r.start as usize, r.end as usize);
    let mut bytes = end - start + 1;
    let pos = 'scan: {
        if r.first_out != 0 {
            let mut b = masked(p[start], r.first_out);
            if r.last_out != 0 && bytes == 1 {
                b = masked(b, r.last_out);
            }
            let pos = first_bit(&[b], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'scan pos;
            }
            start += 1;
            bytes -= 1;
        }
        let middle = bytes - (r.last_out != 0) as usize;
        if middle > 0 {
            let pos = first_bit(&p[start..start + middle], bit);
            if bytes == middle || (pos != -1 && pos != middle as i64 * 8) {
                break 'scan pos;
            }
            start += middle;
            bytes -= middle;
        }
        first_bit(&[masked(p[end], r.last_out)], bit)
    };
    if end_given && !bit && pos == bytes as i64 * 8 {
        return -1;
    }
    if pos == -1 {
        -1
    } else {
        pos + start as i64 * 8
    }
}

// BITOP AND|OR|XOR|NOT destkey key [key ...]
fn bitop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    #[derive(PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = match &args[1] {
        a if is(a, "and") => Op::And,
        a if is(a, "or") => Op::Or,
        a if is(a, "xor") => Op::Xor,
        a if is(a, "not") => Op::Not,
        _ => return Reply::error(error::SYNTAX),
    };
    if op == Op::Not && args.len() != 4 {
        return Reply::error(error::BITOP_NOT_ONE_KEY);
    }
    let mut srcs = Vec::with_capacity(args.len() - 3);
    for k in &args[3..] {
        srcs.push(tri!(read_string(ctx, k)).unwrap_or_default());
    }
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let dest = &args[2];
    if maxlen == 0 {
        if ctx.db().delete(dest).is_some() {
            ctx.wrote(Write::key(dest).event(GENERIC, "del").wakes());
        }
        return Reply::Int(0);
    }
    let byte = |s: &Bytes, i: usize| s.get(i).copied().unwrap_or(0);
    let mut res = vec![0u8; maxlen];
    for (i, out) in res.iter_mut().enumerate() {
        let first = byte(&srcs[0], i);
        *out = match op {
            Op::Not => !first,
            Op::And => srcs[1..].iter().fold(first, |acc, s| acc & byte(s, i)),
            Op::Or => srcs[1..].iter().fold(first, |acc, s| acc | byte(s, i)),
            Op::Xor => srcs[1..].iter().fold(first, |acc, s| acc ^ byte(s, i)),
        };
    }
    let db = ctx.db();
    db.set(dest, Value::Str(CompactBytes::from(res)));
    // Redis builds the result as a raw string object, whatever it holds.
    db.set_string_form(dest, string_form::RAW);
    ctx.wrote(Write::key(dest).event(STRING, "set").wakes());
    Reply::Int(maxlen as i64)
}

/// What BITFIELD does when a result does not fit its type.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set(i64),
    Incrby(i64),
}

/// One BITFIELD operation, parsed: its type (`signed`, `bits`), bit offset and overflow mode.
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// `iN` (N in 1..=64) or `uN` (N in 1..=63).
fn field_type(arg: &[u8]) -> Result<(bool, u32), Reply> {
    let err = || Reply::error(error::BITFIELD_TYPE);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    match string2ll(&arg[1..]) {
        Some(n) if n >= 1 && n <= if signed { 64 } else { 63 } => Ok((signed, n as u32)),
        _ => Err(err()),
    }
}

/// `bits` bits at bit `offset` of `p` as an unsigned number (zeros past the end).
fn get_bits(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let at = offset + i;
        let b = p.get((at >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((b >> (7 - (at & 7))) & 1) as u64;
    }
    v
}

/// The same bits read as a two's complement number.
fn get_signed_bits(p: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_bits(p, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Write the low `bits` bits of `v` at bit `offset` of `p` (which is long enough).
fn set_bits(p: &mut [u8], offset: u64, bits: u32, v: u64) {
    for i in 0..bits as u64 {
        let at = offset + i;
        let mask = 0x80u8 >> (at & 7);
        let byte = &mut p[(at >> 3) as usize];
        if v & (1 << (bits as u64 - 1 - i)) != 0 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// `value + incr` for an unsigned field of `bits` bits: `Ok(result)` when it fits, else
/// `Err(Some(wrapped or saturated))`, or `Err(None)` under FAIL (Redis's
/// `checkUnsignedBitfieldOverflow`; `value` itself may be out of range, as a SET value is).
fn add_unsigned(value: u64, incr: i64, bits: u32, ow: Overflow) -> Result<u64, Option<u64>> {
    let max = (1u64 << bits) - 1;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let limit = |sat: u64| match ow {
        Overflow::Wrap => Some(value.wrapping_add(incr as u64) & max),
        Overflow::Sat => Some(sat),
        Overflow::Fail => None,
    };
    if value > max || (incr > 0 && incr > max_incr) {
        Err(limit(max))
    } else if incr < 0 && incr < min_incr {
        Err(limit(0))
    } else {
        Ok(value.wrapping_add(incr as u64))
    }
}

/// The same for a signed field (Redis's `checkSignedBitfieldOverflow`).
fn add_signed(value: i64, incr: i64, bits: u32, ow: Overflow) -> Result<i64, Option<i64>> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let limit = |sat: i64| match ow {
        Overflow::Wrap => {
            let mut c = (value as u64).wrapping_add(incr as u64);
            if bits < 64 {
                let mask = u64::MAX << bits;
                if c & (1 << (bits - 1)) != 0 {
                    c |= mask;
                } else {
                    c &= !mask;
                }
            }
            Some(c as i64)
        }
        Overflow::Sat => Some(sat),
        Overflow::Fail => None,
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        Err(limit(max))
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        Err(limit(min))
    } else {
        Ok(value.wrapping_add(incr))
    }
}

/// Parse BITFIELD's operations (all of them before anything runs, as Redis does).
fn parse_fields(ctx: &Ctx, args: &[Bytes]) -> Result<Vec<Field>, Reply> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let sub = &args[j];
        let get = is(sub, "get") && left >= 2;
        if !get && !((is(sub, "set") || is(sub, "incrby")) && left >= 3) {
            if is(sub, "overflow") && left >= 1 {
                let t = &args[j + 1];
                overflow = if is(t, "wrap") {
                    Overflow::Wrap
                } else if is(t, "sat") {
                    Overflow::Sat
                } else if is(t, "fail") {
                    Overflow::Fail
                } else {
                    return Err(Reply::error(error::BITFIELD_OVERFLOW));
                };
                j += 2;
                continue;
            }
            return Err(Reply::error(error::SYNTAX));
        }
        let (signed, bits) = field_type(&args[j + 1])?;
        let offset = bit_offset(ctx, &args[j + 2], Some(bits))?;
        let op = if get {
            FieldOp::Get
        } else {
            let v = parse_i64(&args[j + 3])?;
            if is(sub, "set") {
                FieldOp::Set(v)
            } else {
                FieldOp::Incrby(v)
            }
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        j += if get { 3 } else { 4 };
    }
    Ok(fields)
}

/// Run one SET or INCRBY on `p`: the reply value (`None` when FAIL refused it) and whether
/// the field's bits changed.
fn write_field(p: &mut [u8], f: &Field) -> (Option<i64>, bool) {
    if f.signed {
        let old = get_signed_bits(p, f.offset, f.bits);
        let (checked, reply_new) = match f.op {
            FieldOp::Incrby(by) => (add_signed(old, by, f.bits, f.overflow), true),
            FieldOp::Set(v) => (add_signed(v, 0, f.bits, f.overflow), false),
            FieldOp::Get => unreachable!("GET is not a write"),
        };
        let new = match checked {
            Ok(v) | Err(Some(v)) => v,
            Err(None) => return (None, false),
        };
        set_bits(p, f.offset, f.bits, new as u64);
        (Some(if reply_new { new } else { old }), old != new)
    } else {
        let old = get_bits(p, f.offset, f.bits);
        let (checked, reply_new) = match f.op {
            FieldOp::Incrby(by) => (add_unsigned(old, by, f.bits, f.overflow), true),
            FieldOp::Set(v) => (add_unsigned(v as u64, 0, f.bits, f.overflow), false),
            FieldOp::Get => unreachable!("GET is not a write"),
        };
        let new = match checked {
            Ok(v) | Err(Some(v)) => v,
            Err(None) => return (None, false),
        };
        set_bits(p, f.offset, f.bits, new);
        (
            Some(if reply_new { new as i64 } else { old as i64 }),
            old != new,
        )
    }
}

fn read_field(p: &[u8], f: &Field) -> i64 {
    if f.signed {
        get_signed_bits(p, f.offset, f.bits)
    } else {
        get_bits(p, f.offset, f.bits) as i64
    }
}

fn bitfield_generic(ctx: &mut Ctx, args: &[Bytes], read_only: bool) -> Reply {
    let fields = tri!(parse_fields(ctx, args));
    let key = &args[1];
    let writes = fields.iter().any(|f| f.op != FieldOp::Get);
    if !writes {
        let s = tri!(read_string(ctx, key)).unwrap_or_default();
        return Reply::Array(
            fields
                .iter()
                .map(|f| Reply::Int(read_field(&s, f)))
                .collect(),
        );
    }
    if read_only {
        return Reply::error(error::BITFIELD_RO_GET_ONLY);
    }
    let highest = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max()
        .unwrap_or(0);
    let (replies, changes) = tri!(with_string_mut(
        ctx,
        key,
        (highest >> 3) as usize + 1,
        |p, grew| {
            let mut changes = 0;
            let replies: Vec<Reply> = fields
                .iter()
                .map(|f| {
                    if f.op == FieldOp::Get {
                        return Reply::Int(read_field(p, f));
                    }
                    let (reply, changed) = write_field(p, f);
                    // Every write that ran counts once the string was created or grew.
                    if reply.is_some() && (changed || grew) {
                        changes += 1;
                    }
                    reply.map_or(Reply::Null, Reply::Int)
                })
                .collect();
            (replies, changes)
        }
    ));
    if changes > 0 {
        ctx.wrote(Write::key(key).event(STRING, "setbit").changes(changes));
    }
    Reply::Array(replies)
}

// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
//   [OVERFLOW WRAP|SAT|FAIL] ...
fn bitfield(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    bitfield_generic(ctx, args, false)
}

// BITFIELD_RO key [GET type offset ...]
fn bitfield_ro(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    bitfield_generic(ctx, args, true)
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, setbit)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Sets or clears the bit at offset in the string value stored at key",
            "2.2.0",
        ),
    CommandSpec::new("getbit", 3, READONLY | FAST, getbit)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Returns the bit value at offset in the string value stored at key",
            "2.2.0",
        ),
    CommandSpec::new("bitcount", -2, READONLY, bitcount)
        .keys(1, 1, 1)
        .group(G)
        .doc("Count set bits in a string", "2.6.0"),
    CommandSpec::new("bitpos", -3, READONLY, bitpos)
        .keys(1, 1, 1)
        .group(G)
        .doc("Find first bit set or clear in a string", "2.8.7"),
    CommandSpec::new("bitop", -4, WRITE | DENYOOM, bitop)
        .keys(2, -1, 1)
        .group(G)
        .doc("Perform bitwise operations between strings", "2.6.0"),
    CommandSpec::new("bitfield", -2, WRITE | DENYOOM, bitfield)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Perform arbitrary bitfield integer operations on strings",
            "3.2.0",
        ),
    CommandSpec::new("bitfield_ro", -2, READONLY | FAST, bitfield_ro)
        .keys(1, 1, 1)
        .group(G)
        .doc(
            "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
            "6.0.0",
        ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bit_pads_with_zeros() {
        assert_eq!(first_bit(&[], true), -1);
        assert_eq!(first_bit(&[], false), 0);
        assert_eq!(first_bit(&[0, 0x10], true), 11);
        assert_eq!(first_bit(&[0xFF, 0xFF], false), 16);
        assert_eq!(first_bit(&[0xFF, 0xFE], false), 15);
        assert_eq!(first_bit(&[0, 0], true), -1);
    }

    #[test]
    fn bits_round_trip_across_bytes() {
        let mut p = vec![0u8; 3];
        set_bits(&mut p, 5, 12, 0xABC);
        assert_eq!(get_bits(&p, 5, 12), 0xABC);
        assert_eq!(p, [0b0000_0101, 0b0101_1110, 0]);
        set_bits(&mut p, 0, 4, 0xF);
        assert_eq!(get_signed_bits(&p, 0, 4), -1);
        assert_eq!(get_bits(&p, 20, 8), 0, "past the end reads zeros");
        let mut q = vec![0u8; 8];
        set_bits(&mut q, 0, 64, i64::MIN as u64);
        assert_eq!(get_signed_bits(&q, 0, 64), i64::MIN);
    }

    #[test]
    fn overflow_rules() {
        use Overflow::*;
        assert_eq!(add_unsigned(250, 10, 8, Wrap), Err(Some(4)));
        assert_eq!(add_unsigned(250, 10, 8, Sat), Err(Some(255)));
        assert_eq!(add_unsigned(250, 10, 8, Fail), Err(None));
        assert_eq!(add_unsigned(5, -10, 8, Sat), Err(Some(0)));
        assert_eq!(add_unsigned(5, -10, 8, Wrap), Err(Some(251)));
        assert_eq!(add_unsigned(5, -5, 8, Wrap), Ok(0));
        assert_eq!(add_unsigned(u64::MAX, 0, 8, Wrap), Err(Some(255)));
        assert_eq!(add_signed(127, 1, 8, Wrap), Err(Some(-128)));
        assert_eq!(add_signed(127, 1, 8, Sat), Err(Some(127)));
        assert_eq!(add_signed(-128, -1, 8, Sat), Err(Some(-128)));
        assert_eq!(add_signed(-128, -1, 8, Wrap), Err(Some(127)));
        assert_eq!(add_signed(i64::MAX, 1, 64, Wrap), Err(Some(i64::MIN)));
        assert_eq!(add_signed(i64::MIN, -1, 64, Sat), Err(Some(i64::MIN)));
        assert_eq!(add_signed(-5, 3, 64, Fail), Ok(-2));
        assert_eq!(add_signed(300, 0, 8, Wrap), Err(Some(44)));
    }

    #[test]
    fn ranges_clamp_as_redis() {
        let r = clamp_range(3, 1, 100, false).unwrap();
        assert_eq!((r.start, r.end, r.first_out, r.last_out), (1, 2, 0, 0));
        let r = clamp_range(3, 3, 20, true).unwrap();
        assert_eq!((r.start, r.end), (0, 2));
        assert_eq!((r.first_out, r.last_out), (0b1110_0000, 0b0000_0111));
        assert!(clamp_range(3, 2, 1, false).is_none());
        assert!(clamp_range(0, 0, -1, false).is_none());
    }
}
