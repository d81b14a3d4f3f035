//! Stream commands: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID, XREAD, XGROUP,
//! XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO; Redis 8.2's XDELEX and XACKDEL,
//! 8.6's XCFGSET (and XADD IDMP/IDMPAUTO), 8.8's XNACK (and XREADGROUP CLAIM, 8.4).
//!
//! Handlers parse in Redis's order (so the same bad input gets the same error), then call the
//! pure structure in `store::stream`. Effects, not requests, are propagated where the request
//! would replay differently (Redis's `t_stream.c` rules):
//! - XADD: the generated ID replaces `*` / `ms-*`; `~` becomes `=` with the resulting length
//!   (MAXLEN) or first ID (MINID).
//! - XTRIM `~`: the same rewrite.
//! - XREADGROUP `>`: one `XCLAIM key group consumer 0 id TIME t RETRYCOUNT 1 FORCE JUSTID LASTID
//!   id` per delivered entry; with NOACK `XGROUP CREATECONSUMER` (new consumer) and `XGROUP SETID
//!   ... ENTRIESREAD n` instead. History reads propagate nothing.
//! - XCLAIM / XAUTOCLAIM: one forced `XCLAIM ... JUSTID LASTID` per claimed or dropped entry.
//! - XREADGROUP CLAIM: the same forced XCLAIM (TIME, RETRYCOUNT) per pending entry it took, an
//!   XACK per pending entry it found deleted from the stream.
//! - XADD IDMP/IDMPAUTO: the XADD as above (without the IDMP arguments), then `FMQ.IDMP key
//!   ADD producer ms id iid` (after an `FMQ.IDMP key CONFIG ...` when the stream starts its
//!   IDMP state); a duplicate replays as `FMQ.IDMP key DUP`. XCFGSET and XNACK replay as
//!   written (their result depends only on the state they find).
//!
//! Blocking: XREAD/XREADGROUP with BLOCK register through `Ctx::block` with the argv to re-run;
//! XREAD's `$` is replaced by the ID it meant at call time so the re-run sees new entries only.
//! XADD signals the key; XGROUP DESTROY signals it too, so XREADGROUP waiters get NOGROUP.
//! A blocked CLAIM read also sets a timer for when the first pending entry becomes idle
//! enough; XNACK signals the key, as what it releases is claimable at once.

use bytes::Bytes;
use std::time::Duration;

use super::flags::*;
use super::{CommandSpec, Ctx, Write, is};
use crate::config::notify::STREAM;
use crate::error;
use crate::protocol::Reply;
use crate::store::stream::{
    AppendError, ClaimOptions, ClaimOutcome, EntryRef, IDMP_MAX_DURATION, IDMP_MAX_MAXSIZE,
    INVALID_ENTRIES_READ, IdSpec, NACKED_CONSUMER, NackMode, NodeLimits, RefPolicy, Stream,
    StreamId, Trim, TrimKind,
};
use crate::store::{Db, Value, unix_ms};

// Error texts of the stream family, as redis-server 7.0.15 writes them.
const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const ID_TOO_SMALL: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";
const ID_ZERO: &str = "ERR The ID specified in XADD must be greater than 0-0";
const EXHAUSTED: &str =
    "ERR The stream has exhausted the last possible ID, unable to add more items";
const TOO_LARGE: &str = "ERR Elements are too large to be stored";
const NUMIDS_POSITIVE: &str = "ERR Number of IDs must be a positive integer";
const NUMIDS_MISMATCH: &str = "ERR The `numids` parameter must match the number of arguments";
const MAXLEN_MINID: &str =
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
const MAXLEN_NEG: &str = "ERR The MAXLEN argument must be >= 0.";
const LIMIT_NEG: &str = "ERR The LIMIT argument must be >= 0.";
const LIMIT_NO_STRATEGY: &str =
    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy";
const LIMIT_NO_APPROX: &str = "ERR syntax error, LIMIT cannot be used without the special ~ option";
const XTRIM_NO_STRATEGY: &str = "ERR syntax error, XTRIM must be called with a trimming strategy";
const BAD_START: &str = "ERR invalid start ID for the interval";
const BAD_END: &str = "ERR invalid end ID for the interval";
const XSETID_NEG: &str = "ERR entries_added must be positive";
const XSETID_MAXDEL: &str =
    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id";
const XSETID_TOP: &str =
    "ERR The ID specified in XSETID is smaller than the target stream top item";
const XSETID_ADDED: &str =
    "ERR The entries_added specified in XSETID is smaller than the target stream length";
const XGROUP_NOKEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
const BUSYGROUP: &str = "BUSYGROUP Consumer Group name already exists";
const ENTRIESREAD_BAD: &str = "ERR value for ENTRIESREAD must be positive or -1";
const GROUP_ONLY_XREADGROUP: &str =
    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.";
const NOACK_ONLY_XREADGROUP: &str =
    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.";
const MISSING_GROUP: &str = "ERR Missing GROUP option for XREADGROUP";
const DOLLAR_IN_GROUP: &str = "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.";
const GT_IN_XREAD: &str = "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.";
const BLOCK_NOT_INT: &str = "ERR timeout is not an integer or out of range";
const BLOCK_NEG: &str = "ERR timeout is negative";
const GROUP_GONE: &str = "NOGROUP the consumer group this client was blocked on no longer exists";
const KEY_GONE: &str = "UNBLOCKED the stream key no longer exists";
const COUNT_POSITIVE: &str = "ERR COUNT must be > 0";
const UNBALANCED: &str =
    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.";

// Error texts of the Redis 8.4-8.8 additions (XREADGROUP CLAIM, XADD IDMP, XCFGSET, XNACK), as
// Redis's own tests of those versions match them. Where a test matches only a prefix (the
// rest of CFGSET_NOTHING and of the Unrecognized XNACK option line), the rest is written in
// Redis's style.
const CLAIM_ONLY_XREADGROUP: &str =
    "ERR The CLAIM option is only supported by XREADGROUP. You called XREAD instead.";
const CLAIM_NOT_INT: &str = "ERR min-idle-time is not an integer";
const CLAIM_NEG: &str = "ERR min-idle-time must be a positive integer";
const IDMP_AUTO_ONLY: &str = "ERR IDMP/IDMPAUTO can be used only with auto-generated IDs";
const IDMP_TWICE: &str = "ERR IDMP/IDMPAUTO specified multiple times";
const IDMP_EMPTY_PID: &str = "ERR IDMP requires a non-empty producer ID";
const IDMP_EMPTY_IID: &str = "ERR IDMP requires a non-empty idempotent ID";
const IDMPAUTO_EMPTY_PID: &str = "ERR IDMPAUTO requires a non-empty producer ID";
const CFGSET_NOTHING: &str =
    "ERR At least one parameter must be specified: IDMP-DURATION or IDMP-MAXSIZE";
const CFGSET_DURATION: &str = "ERR IDMP-DURATION must be between 1 and 86400 seconds";
const CFGSET_MAXSIZE: &str = "ERR IDMP-MAXSIZE must be between 1 and 10000 entries";
const NACK_MODE: &str = "ERR mode must be SILENT, FAIL, or FATAL";
const NACK_NO_IDS: &str = "ERR syntax error, expected IDS keyword";
const NACK_NUMIDS: &str = "ERR numids must be a positive integer";
const NACK_NUMIDS_MISMATCH: &str = "ERR number of IDs doesn't match numids";
const NACK_RETRY_NEG: &str = "ERR Invalid RETRYCOUNT value, must be >= 0";

/// Entries served to a woken XREAD/XREADGROUP without COUNT (Redis's
/// `XREAD_BLOCKED_DEFAULT_COUNT`).
const BLOCKED_DEFAULT_COUNT: usize = 1000;

/// `stream-node-max-bytes` / `stream-node-max-entries`.
fn node_limits(ctx: &Ctx) -> NodeLimits {
    NodeLimits {
        max_bytes: ctx.shared.encoding_knob("stream-node-max-bytes") as u64,
        max_entries: ctx.shared.encoding_knob("stream-node-max-entries") as u64,
    }
}

fn now_ms() -> u64 {
    unix_ms().max(0) as u64
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn int_bytes(v: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(v).as_bytes())
}

fn uint_bytes(v: u64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(v).as_bytes())
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

/// `[id, [field, value, ...]]`
fn entry_reply(e: &EntryRef) -> Reply {
    let mut fv = Vec::with_capacity(e.len() * 2);
    for (f, v) in e.fields() {
        fv.push(Reply::Bulk(Bytes::copy_from_slice(f)));
        fv.push(Reply::Bulk(Bytes::copy_from_slice(v)));
    }
    Reply::Array(vec![id_reply(e.id), Reply::Array(fv)])
}

/// Quote-free `%s` rendering of user bytes inside an error line.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn nogroup_key_group(key: &[u8], group: &[u8]) -> Reply {
    Reply::Error(
        error::sanitize(format!(
            "NOGROUP No such key '{}' or consumer group '{}'",
            text(key),
            text(group)
        ))
        .into(),
    )
}

fn nogroup_for_key(group: &[u8], key: &[u8]) -> Reply {
    Reply::Error(
        error::sanitize(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            text(group),
            text(key)
        ))
        .into(),
    )
}

/// The stream at `key`: `Ok(None)` when missing, WRONGTYPE for other types.
fn stream_mut<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a mut Stream>, Reply> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(Reply::error(error::WRONGTYPE)),
    }
}

fn strict_id(arg: &[u8]) -> Result<StreamId, Reply> {
    StreamId::parse(arg, 0).ok_or(Reply::error(INVALID_ID))
}

/// Redis `streamParseIDOrReply`: `-`, `+`, `ms[-seq]`.
fn range_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    StreamId::parse_range(arg, missing_seq).ok_or(Reply::error(INVALID_ID))
}

/// Redis `streamParseIntervalIDOrReply`: a `(` prefix makes the bound exclusive.
fn interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Reply> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((
            StreamId::parse(&arg[1..], missing_seq).ok_or(Reply::error(INVALID_ID))?,
            true,
        ))
    } else {
        Ok((range_id(arg, missing_seq)?, false))
    }
}

fn start_bound(arg: &[u8]) -> Result<StreamId, Reply> {
    let (id, ex) = interval_id(arg, 0)?;
    if ex {
        id.incr().ok_or(Reply::error(BAD_START))
    } else {
        Ok(id)
    }
}

fn end_bound(arg: &[u8]) -> Result<StreamId, Reply> {
    let (id, ex) = interval_id(arg, u64::MAX)?;
    if ex {
        id.decr().ok_or(Reply::error(BAD_END))
    } else {
        Ok(id)
    }
}

fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    crate::protocol::request::parse_i64(arg).ok_or(Reply::error(error::NOT_INTEGER))
}

fn int_arg_msg(arg: &[u8], msg: &'static str) -> Result<i64, Reply> {
    crate::protocol::request::parse_i64(arg).ok_or(Reply::error(msg))
}

// ---------------------------------------------------------------------------
// XADD / XTRIM argument parsing (Redis `streamParseAddOrTrimArgsOrReply`)

struct TrimArgs {
    trim: Option<Trim>,
    /// Index of the threshold argument (the `~`/`=` is just before it when given).
    threshold_idx: usize,
    approx_idx: Option<usize>,
    limit_idx: Option<usize>,
    nomkstream: bool,
    /// KEEPREF / DELREF / ACKED (Redis 8.2).
    refs: RefPolicy,
    /// XADD: index of the ID argument.
    id_idx: usize,
    id: IdSpec,
    /// XADD IDMP producer-id iid (`Some(iid)`) or IDMPAUTO producer-id (`None`) (Redis 8.6).
    idmp: Option<(Bytes, Option<Bytes>)>,
    /// Where the IDMP / IDMPAUTO arguments are (first index, count): not replayed.
    idmp_span: Option<(usize, usize)>,
}

fn parse_add_or_trim(args: &[Bytes], xadd: bool, limits: NodeLimits) -> Result<TrimArgs, Reply> {
    let mut out = TrimArgs {
        trim: None,
        threshold_idx: 0,
        approx_idx: None,
        limit_idx: None,
        nomkstream: false,
        refs: RefPolicy::KeepRef,
        id_idx: 0,
        id: IdSpec::Auto,
        idmp: None,
        idmp_span: None,
    };
    let mut kind: Option<TrimKind> = None;
    let mut approx = false;
    let mut limit: i64 = 0;
    let mut limit_given = false;
    let mut i = 2;
    let argc = args.len();
    while i < argc {
        let more = argc - 1 - i;
        let opt = &args[i][..];
        if xadd && opt == b"*" {
            out.id_idx = i;
            out.id = IdSpec::Auto;
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if kind.is_some() {
                return Err(Reply::error(MAXLEN_MINID));
            }
            approx = false;
            out.approx_idx = None;
            let next = &args[i + 1][..];
            if more >= 2 && next == b"~" {
                approx = true;
                out.approx_idx = Some(i + 1);
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            if is(opt, "maxlen") {
                let n = int_arg(&args[i + 1])?;
                if n < 0 {
                    return Err(Reply::error(MAXLEN_NEG));
                }
                kind = Some(TrimKind::MaxLen(n as u64));
            } else {
                kind = Some(TrimKind::MinId(strict_id(&args[i + 1])?));
            }
            i += 1;
            out.threshold_idx = i;
        } else if is(opt, "limit") && more > 0 {
            limit = int_arg(&args[i + 1])?;
            if limit < 0 {
                return Err(Reply::error(LIMIT_NEG));
            }
            limit_given = true;
            out.limit_idx = Some(i);
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            out.nomkstream = true;
        } else if xadd && is(opt, "idmp") && more >= 2 {
            if out.idmp.is_some() {
                return Err(Reply::error(IDMP_TWICE));
            }
            if args[i + 1].is_empty() {
                return Err(Reply::error(IDMP_EMPTY_PID));
            }
            if args[i + 2].is_empty() {
                return Err(Reply::error(IDMP_EMPTY_IID));
            }
            out.idmp = Some((args[i + 1].clone(), Some(args[i + 2].clone())));
            out.idmp_span = Some((i, 3));
            i += 2;
        } else if xadd && is(opt, "idmpauto") && more >= 1 {
            if out.idmp.is_some() {
                return Err(Reply::error(IDMP_TWICE));
            }
            if args[i + 1].is_empty() {
                return Err(Reply::error(IDMPAUTO_EMPTY_PID));
            }
            out.idmp = Some((args[i + 1].clone(), None));
            out.idmp_span = Some((i, 2));
            i += 1;
        } else if let Some(r) = ref_policy(opt) {
            out.refs = r;
        } else if xadd {
            out.id = StreamId::parse_xadd(opt)
                .filter(|s| *s != IdSpec::Auto)
                .ok_or(Reply::error(INVALID_ID))?;
            out.id_idx = i;
            break;
        } else {
            return Err(Reply::error(error::SYNTAX));
        }
        i += 1;
    }
    if xadd && i >= argc {
        out.id_idx = argc;
    }
    if limit != 0 && kind.is_none() {
        return Err(Reply::error(LIMIT_NO_STRATEGY));
    }
    if !xadd && kind.is_none() {
        return Err(Reply::error(XTRIM_NO_STRATEGY));
    }
    if limit_given {
        if !approx {
            return Err(Reply::error(LIMIT_NO_APPROX));
        }
    } else if approx {
        // Without LIMIT, `~` does at most 100 nodes' worth of work.
        limit = (limits.max_entries as i64).saturating_mul(100);
        if limit <= 0 {
            limit = 10000;
        }
    } else {
        limit = 0;
    }
    out.trim = kind.map(|kind| Trim {
        kind,
        approx,
        limit: limit as u64,
    });
    Ok(out)
}

/// KEEPREF / DELREF / ACKED.
fn ref_policy(opt: &[u8]) -> Option<RefPolicy> {
    if is(opt, "keepref") {
        Some(RefPolicy::KeepRef)
    } else if is(opt, "delref") {
        Some(RefPolicy::DelRef)
    } else if is(opt, "acked") {
        Some(RefPolicy::Acked)
    } else {
        None
    }
}

/// `[KEEPREF | DELREF | ACKED] IDS numids id [id ...]` in any order from `args[start..]`
/// (XDELEX, XACKDEL).
fn parse_ids_block(args: &[Bytes], start: usize) -> Result<(RefPolicy, Vec<StreamId>), Reply> {
    let mut refs = RefPolicy::KeepRef;
    let mut ids: Option<Vec<StreamId>> = None;
    let mut j = start;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if let Some(r) = ref_policy(&args[j]) {
            refs = r;
            j += 1;
        } else if is(&args[j], "ids") && more >= 1 && ids.is_none() {
            let n = crate::protocol::request::parse_i64(&args[j + 1])
                .filter(|&n| n > 0)
                .ok_or_else(|| Reply::error(NUMIDS_POSITIVE))?;
            if n as u64 > (more - 1) as u64 {
                return Err(Reply::error(NUMIDS_MISMATCH));
            }
            let n = n as usize;
            let mut v = Vec::with_capacity(n);
            for a in &args[j + 2..j + 2 + n] {
                v.push(strict_id(a)?);
            }
            ids = Some(v);
            j += 2 + n;
        } else {
            return Err(Reply::error(error::SYNTAX));
        }
    }
    match ids {
        Some(v) => Ok((refs, v)),
        None => Err(Reply::error(error::SYNTAX)),
    }
}

/// The argv to replay after an approximate trim: `~` becomes `=`, the threshold becomes what
/// the trim left, and LIMIT is dropped.
// DEVIATION(redis): Redis keeps `LIMIT n` in the rewritten command (its AOF loader ignores it);
// we drop it so the effect also replays through the normal argument checks.
fn rewrite_trim(args: &[Bytes], t: &TrimArgs, s: &Stream, id: Option<StreamId>) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if Some(i) == t.limit_idx {
            i += 2;
            continue;
        }
        if let Some((at, n)) = t.idmp_span.filter(|(at, _)| *at == i) {
            i = at + n;
            continue;
        }
        if Some(i) == t.approx_idx {
            out.push(b("="));
        } else if i == t.threshold_idx && t.trim.is_some_and(|t| t.approx) {
            match t.trim.unwrap().kind {
                TrimKind::MaxLen(_) => out.push(uint_bytes(s.len())),
                TrimKind::MinId(_) => {
                    let first = if s.is_empty() {
                        StreamId::MAX
                    } else {
                        s.first_id()
                    };
                    out.push(first.to_bytes());
                }
            }
        } else if let Some(id) = id.filter(|_| i == t.id_idx) {
            out.push(id.to_bytes());
        } else {
            out.push(args[i].clone());
        }
        i += 1;
    }
    out
}

/// The idempotent ID XADD IDMPAUTO derives from an entry's content: a SHA-1 of its field-value
/// pairs in sorted order, so the same pairs in any order give the same iid.
// DEVIATION(redis): not Redis's hash; the iid is never shown, only compared and persisted.
fn auto_iid(pairs: &[(&[u8], &[u8])]) -> Bytes {
    let mut sorted = pairs.to_vec();
    sorted.sort_unstable();
    let mut h = sha1_smol::Sha1::new();
    for (f, v) in sorted {
        h.update(&(f.len() as u64).to_le_bytes());
        h.update(f);
        h.update(&(v.len() as u64).to_le_bytes());
        h.update(v);
    }
    Bytes::copy_from_slice(&h.digest().bytes())
}

// XADD key [NOMKSTREAM] [KEEPREF | DELREF | ACKED] [IDMPAUTO producer-id | IDMP producer-id
//   idempotent-id] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value
//   [field value ...]
fn xadd(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let limits = node_limits(ctx);
    let loading = ctx.shared.is_loading();
    let t = tri!(parse_add_or_trim(args, true, limits));
    let field_pos = t.id_idx + 1;
    if field_pos > args.len() || args.len() - field_pos < 2 || (args.len() - field_pos) % 2 == 1 {
        return Reply::error(error::wrong_args("xadd"));
    }
    if t.idmp.is_some() && t.id != IdSpec::Auto {
        return Reply::error(IDMP_AUTO_ONLY);
    }
    let defaults = t.idmp.is_some().then(|| idmp_defaults(ctx));
    if t.id == IdSpec::Exact(StreamId::MIN) {
        return Reply::error(ID_ZERO);
    }
    let key = &args[1];
    let db = ctx.db();
    let mut created = false;
    let s = match tri!(stream_mut(db, key)) {
        Some(s) => s,
        None if t.nomkstream => return Reply::Null,
        None => {
            created = true;
            match db.entry_or_insert_with(key, || Value::Stream(Box::default())) {
                Value::Stream(s) => s,
                _ => unreachable!("just created"),
            }
        }
    };
    if s.last_id() == StreamId::MAX {
        return Reply::error(EXHAUSTED);
    }
    let pairs: Vec<(&[u8], &[u8])> = args[field_pos..]
        .chunks_exact(2)
        .map(|p| (&p[0][..], &p[1][..]))
        .collect();
    let now = now_ms();
    let idmp = t.idmp.as_ref().map(|(pid, iid)| {
        let iid = iid.clone().unwrap_or_else(|| auto_iid(&pairs));
        (pid.clone(), iid)
    });
    if let Some((pid, iid)) = &idmp
        && let Some(orig) = s.idmp_find(pid, iid, now)
    {
        // Already added: the earlier entry's ID, nothing added (a duplicate is counted).
        s.idmp_mut().duplicates += 1;
        ctx.wrote(Write::key(key).effect(vec![b("FMQ.IDMP"), key.clone(), b("DUP")]));
        return id_reply(orig);
    }
    let id = match s.append(t.id, &pairs, now, limits) {
        Ok(id) => id,
        Err(e) => {
            // A stream created just for this XADD must not stay behind empty.
            if created {
                ctx.db().remove(key);
            }
            return Reply::error(match e {
                AppendError::NotGreater => ID_TOO_SMALL,
                AppendError::Exhausted => EXHAUSTED,
                AppendError::TooLarge => TOO_LARGE,
            });
        }
    };
    // A stream's first IDMP starts its settings from the server's defaults; the replay gets
    // them as they were, whatever the replaying server's defaults.
    let idmp_started = match defaults {
        Some((d, m)) if s.idmp_init(d, m) => Some(idmp_config_effect(key, d, m)),
        _ => None,
    };
    let mut trimmed = t.trim.map_or(0, |trim| s.trim_with(trim, t.refs));
    // The XADD first: FMQ.IDMP needs the stream to exist.
    let mut effects = vec![rewrite_trim(args, &t, s, Some(id))];
    effects.extend(idmp_started);
    if let Some((pid, iid)) = idmp {
        s.idmp_record(&pid, iid.clone(), id, now, true);
        effects.push(vec![
            b("FMQ.IDMP"),
            key.clone(),
            b("ADD"),
            pid,
            uint_bytes(now),
            id.to_bytes(),
            iid,
        ]);
    }
    // A retention policy trims as the stream grows (not while the AOF replays: the trims are
    // in it, as the XTRIMs recorded here).
    let mut expiry = None;
    if s.retention().is_some() && !loading {
        let before = s.len();
        effects.extend(s.apply_retention(key, now_ms()));
        trimmed += before - s.len();
        expiry = s.next_expiry();
    }
    let mut w = Write::key(key)
        .effects(effects)
        .wakes()
        .event(STREAM, "xadd");
    if trimmed > 0 {
        w = w.event(STREAM, "xtrim");
    }
    ctx.wrote(w);
    if let Some(at) = expiry {
        let db = ctx.client.db;
        ctx.store().retention.add(at as i64, db, key);
    }
    id_reply(id)
}

/// Whether `args` is an XADD that can run later unchanged: valid options, `*` as the ID and
/// field-value pairs (FMQ.SCHEDULE).
pub(crate) fn check_deferred_xadd(args: &[Bytes]) -> Result<(), Reply> {
    let t = parse_add_or_trim(args, true, NodeLimits::default())?;
    let field_pos = t.id_idx + 1;
    if field_pos > args.len() || args.len() - field_pos < 2 || (args.len() - field_pos) % 2 == 1 {
        return Err(Reply::error(error::wrong_args("xadd")));
    }
    if t.id != IdSpec::Auto {
        return Err(Reply::error(
            "ERR a scheduled XADD must let the server choose the ID (*)",
        ));
    }
    Ok(())
}

// XCFGSET key [IDMP-DURATION idmp-duration] [IDMP-MAXSIZE idmp-maxsize]
fn xcfgset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() == 2 {
        return Reply::error(CFGSET_NOTHING);
    }
    let (mut duration, mut maxsize) = (None, None);
    let mut i = 2;
    while i < args.len() {
        let o = &args[i][..];
        let is_duration = is(o, "idmp-duration");
        if !(is_duration || is(o, "idmp-maxsize")) || i + 1 >= args.len() {
            return Reply::error(error::SYNTAX);
        }
        let v = tri!(int_arg(&args[i + 1]));
        if is_duration {
            if !(1..=IDMP_MAX_DURATION as i64).contains(&v) {
                return Reply::error(CFGSET_DURATION);
            }
            duration = Some(v as u64);
        } else {
            if !(1..=IDMP_MAX_MAXSIZE as i64).contains(&v) {
                return Reply::error(CFGSET_MAXSIZE);
            }
            maxsize = Some(v as u64);
        }
        i += 2;
    }
    let key = &args[1];
    let (d, m) = idmp_defaults(ctx);
    let Some(s) = tri!(stream_mut(ctx.db(), key)) else {
        return Reply::error(error::NO_SUCH_KEY);
    };
    let mut w = Write::key(key).event(STREAM, "xcfgset");
    if s.idmp_init(d, m) {
        // Replayed from the settings the stream started with, then this XCFGSET.
        w = w.effects(vec![idmp_config_effect(key, d, m), args.to_vec()]);
    }
    s.idmp_mut().configure(duration, maxsize);
    ctx.wrote(w);
    Reply::status("OK")
}

/// The settings a stream's idempotent production starts with (`stream-idmp-duration`,
/// `stream-idmp-maxsize`).
fn idmp_defaults(ctx: &Ctx) -> (u64, u64) {
    let c = ctx.shared.config.read();
    (
        c.get_i64("stream-idmp-duration").max(1) as u64,
        c.get_i64("stream-idmp-maxsize").max(1) as u64,
    )
}

/// `FMQ.IDMP key CONFIG duration maxsize 0 0`: the state a stream's first IDMP starts.
fn idmp_config_effect(key: &Bytes, duration: u64, maxsize: u64) -> Vec<Bytes> {
    vec![
        b("FMQ.IDMP"),
        key.clone(),
        b("CONFIG"),
        uint_bytes(duration),
        uint_bytes(maxsize),
        b("0"),
        b("0"),
    ]
}

/// A non-negative integer argument of FMQ.IDMP.
fn uint_arg(arg: &[u8]) -> Result<u64, Reply> {
    match crate::protocol::request::parse_i64(arg) {
        Some(v) if v >= 0 => Ok(v as u64),
        _ => Err(Reply::error(error::NOT_INTEGER)),
    }
}

// FMQ.IDMP key CONFIG duration maxsize iids-added iids-duplicates | ADD producer-id ms id iid |
//   LOAD producer-id [ms id iid ...] | DUP
// What XADD IDMP and the AOF rewrite replay to rebuild a stream's idempotent production state:
// CONFIG sets the settings and counters (forgetting nothing), ADD records an iid as an XADD
// does, LOAD records iids without counting them, DUP counts a duplicate.
fn fmq_idmp(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let sub = &args[2][..];
    let argc = args.len();
    let Some(s) = tri!(stream_mut(ctx.db(), key)) else {
        return Reply::error(error::NO_SUCH_KEY);
    };
    if is(sub, "config") && argc == 7 {
        let mut v = [0u64; 4];
        for (slot, a) in v.iter_mut().zip(&args[3..7]) {
            *slot = tri!(uint_arg(a));
        }
        if !(1..=IDMP_MAX_DURATION).contains(&v[0]) || !(1..=IDMP_MAX_MAXSIZE).contains(&v[1]) {
            return Reply::error(error::SYNTAX);
        }
        let m = s.idmp_mut();
        (m.duration, m.maxsize, m.added, m.duplicates) = (v[0], v[1], v[2], v[3]);
    } else if is(sub, "dup") && argc == 3 {
        s.idmp_mut().duplicates += 1;
    } else if (is(sub, "add") && argc == 7)
        || (is(sub, "load") && argc >= 4 && (argc - 4).is_multiple_of(3))
    {
        let count = is(sub, "add");
        let mut recs = Vec::with_capacity((argc - 4) / 3);
        for c in args[4..].chunks_exact(3) {
            recs.push((tri!(uint_arg(&c[0])), tri!(strict_id(&c[1])), c[2].clone()));
        }
        for (ms, id, iid) in recs {
            s.idmp_record(&args[3], iid, id, ms, count);
        }
    } else {
        return Reply::error(error::SYNTAX);
    }
    ctx.wrote(Write::key(key));
    Reply::status("OK")
}

// XTRIM key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]
fn xtrim(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let limits = node_limits(ctx);
    let t = tri!(parse_add_or_trim(args, false, limits));
    let s = match tri!(stream_mut(ctx.db(), key)) {
        Some(s) => s,
        None => return Reply::Int(0),
    };
    let trim = t.trim.expect("strategy required");
    let deleted = s.trim_with(trim, t.refs);
    if deleted > 0 {
        let mut w = Write::key(key)
            .changes(deleted as usize)
            .event(STREAM, "xtrim");
        if trim.approx {
            w = w.effect(rewrite_trim(args, &t, s, None));
        }
        ctx.wrote(w);
    }
    Reply::Int(deleted as i64)
}

// XLEN key
fn xlen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match tri!(stream_mut(ctx.db(), &args[1])) {
        Some(s) => Reply::Int(s.len() as i64),
        None => Reply::Int(0),
    }
}

fn range_generic(ctx: &mut Ctx, args: &[Bytes], rev: bool) -> Reply {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = tri!(start_bound(start_arg));
    let end = tri!(end_bound(end_arg));
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is(&args[j], "count") && j + 1 < args.len() {
            count = tri!(int_arg(&args[j + 1])).max(0);
            j += 2;
        } else {
            return Reply::error(error::SYNTAX);
        }
    }
    let s = match tri!(stream_mut(ctx.db(), &args[1])) {
        Some(s) => s,
        None => return Reply::Array(vec![]),
    };
    if count == 0 {
        return Reply::NullArray;
    }
    let take = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    let out: Vec<Reply> = if rev {
        s.rev_range(start, end)
            .take(take)
            .map(|e| entry_reply(&e))
            .collect()
    } else {
        s.range(start, end)
            .take(take)
            .map(|e| entry_reply(&e))
            .collect()
    };
    Reply::Array(out)
}

// XRANGE key start end [COUNT count]
fn xrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, false)
}

// XREVRANGE key end start [COUNT count]
fn xrevrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, true)
}

// XDEL key id [id ...]
fn xdel(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let s = match tri!(stream_mut(ctx.db(), &args[1])) {
        Some(s) => s,
        None => return Reply::Int(0),
    };
    let mut ids = Vec::with_capacity(args.len().min(1024));
    for a in &args[2..] {
        ids.push(tri!(strict_id(a)));
    }
    let n = ids.into_iter().filter(|id| s.delete(*id)).count();
    if n > 0 {
        ctx.wrote(Write::key(&args[1]).changes(n).event(STREAM, "xdel"));
    }
    Reply::Int(n as i64)
}

// XDELEX key [KEEPREF | DELREF | ACKED] IDS numids id [id ...]
fn xdelex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (refs, ids) = tri!(parse_ids_block(args, 2));
    let Some(s) = tri!(stream_mut(ctx.db(), &args[1])) else {
        return Reply::Array(ids.iter().map(|_| Reply::Int(-1)).collect());
    };
    let codes: Vec<i64> = ids.iter().map(|id| s.delete_with(*id, refs)).collect();
    let deleted = codes.iter().filter(|&&c| c == 1).count();
    if deleted > 0 || refs == RefPolicy::DelRef {
        let mut w = Write::key(&args[1]).changes(deleted);
        if deleted > 0 {
            w = w.event(STREAM, "xdel");
        }
        ctx.wrote(w.del_if_gone());
    }
    Reply::Array(codes.into_iter().map(Reply::Int).collect())
}

// XACKDEL key group [KEEPREF | DELREF | ACKED] IDS numids id [id ...]
fn xackdel(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (refs, ids) = tri!(parse_ids_block(args, 3));
    let none = || Reply::Array(ids.iter().map(|_| Reply::Int(-1)).collect());
    let Some(s) = tri!(stream_mut(ctx.db(), &args[1])) else {
        return none();
    };
    if s.group(&args[2]).is_none() {
        return none();
    }
    let (mut acked, mut deleted) = (0, 0);
    let mut codes = Vec::with_capacity(ids.len());
    for id in &ids {
        if !s.group_mut(&args[2]).is_some_and(|g| g.ack(*id)) {
            codes.push(-1);
            continue;
        }
        acked += 1;
        let code = match s.delete_with(*id, refs) {
            2 => 2,
            c => {
                deleted += (c == 1) as usize;
                1
            }
        };
        codes.push(code);
    }
    if acked > 0 {
        // As XACK: under ordered message groups an acknowledgement frees the next entry of
        // its message group, so blocked readers look again.
        let frees = s
            .groups()
            .values()
            .any(|g| g.policy().is_some_and(|p| p.order_by.is_some()));
        let mut w = Write::key(&args[1])
            .changes(acked + deleted)
            .wakes_if(frees);
        if deleted > 0 {
            w = w.event(STREAM, "xdel");
        }
        ctx.wrote(w);
    }
    Reply::Array(codes.into_iter().map(Reply::Int).collect())
}

// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
fn xsetid(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let id = tri!(strict_id(&args[2]));
    let mut entries_added: Option<u64> = None;
    let mut max_del: Option<StreamId> = None;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(&args[i], "entriesadded") && more > 0 {
            let n = tri!(int_arg(&args[i + 1]));
            if n < 0 {
                return Reply::error(XSETID_NEG);
            }
            entries_added = Some(n as u64);
        } else if is(&args[i], "maxdeletedid") && more > 0 {
            let m = tri!(strict_id(&args[i + 1]));
            if id < m {
                return Reply::error(XSETID_MAXDEL);
            }
            max_del = Some(m);
        } else {
            return Reply::error(error::SYNTAX);
        }
        i += 2;
    }
    let s = match tri!(stream_mut(ctx.db(), &args[1])) {
        Some(s) => s,
        None => return Reply::error(error::NO_SUCH_KEY),
    };
    if !s.is_empty() {
        if id < s.last_valid_id() {
            return Reply::error(XSETID_TOP);
        }
        if let Some(n) = entries_added
            && s.len() > n
        {
            return Reply::error(XSETID_ADDED);
        }
    }
    s.set_id(id, entries_added, max_del.filter(|m| !m.is_zero()));
    ctx.wrote(Write::key(&args[1]).event(STREAM, "xsetid"));
    Reply::Ok
}

// ---------------------------------------------------------------------------
// XREAD / XREADGROUP

struct ReadArgs {
    count: usize,
    block: Option<Option<Duration>>,
    block_idx: Option<usize>,
    group: Option<(Bytes, Bytes)>,
    noack: bool,
    /// CLAIM min-idle-time (Redis 8.4).
    claim: Option<u64>,
    streams_idx: usize,
    nstreams: usize,
}

/// `from_script`: BLOCK is refused as soon as it is seen (before its timeout is parsed), as
/// Redis does for scripts.
fn parse_read(args: &[Bytes], group_cmd: bool, from_script: bool) -> Result<ReadArgs, Reply> {
    let mut r = ReadArgs {
        count: 0,
        block: None,
        block_idx: None,
        group: None,
        noack: false,
        claim: None,
        streams_idx: 0,
        nstreams: 0,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let o = &args[i][..];
        if is(o, "block") && more > 0 {
            if from_script {
                return Err(Reply::error(error::block_from_script(&args[0])));
            }
            i += 1;
            let ms = int_arg_msg(&args[i], BLOCK_NOT_INT)?;
            if ms < 0 {
                return Err(Reply::error(BLOCK_NEG));
            }
            r.block_idx = Some(i);
            // A deadline past what the clocks can represent is no deadline: redis-server
            // 7.0.15 accepts `BLOCK 9223372036854775807` and waits indefinitely.
            r.block = Some(if ms == 0 || ms > i64::MAX / 4 {
                None
            } else {
                Some(Duration::from_millis(ms as u64))
            });
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = int_arg(&args[i])?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            r.streams_idx = i + 1;
            let n = args.len() - r.streams_idx;
            if !n.is_multiple_of(2) {
                // redis-server 7.0.15 names XREAD and '$' for XREADGROUP too.
                return Err(Reply::error(UNBALANCED));
            }
            r.nstreams = n / 2;
            break;
        } else if is(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(Reply::error(GROUP_ONLY_XREADGROUP));
            }
            r.group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 2;
        } else if is(o, "noack") {
            if !group_cmd {
                return Err(Reply::error(NOACK_ONLY_XREADGROUP));
            }
            r.noack = true;
        } else if is(o, "claim") && more > 0 {
            if !group_cmd {
                return Err(Reply::error(CLAIM_ONLY_XREADGROUP));
            }
            i += 1;
            let ms = int_arg_msg(&args[i], CLAIM_NOT_INT)?;
            if ms < 0 {
                return Err(Reply::error(CLAIM_NEG));
            }
            r.claim = Some(ms as u64);
        } else {
            return Err(Reply::error(error::SYNTAX));
        }
        i += 1;
    }
    if r.streams_idx == 0 {
        return Err(Reply::error(error::SYNTAX));
    }
    if group_cmd && r.group.is_none() {
        return Err(Reply::error(MISSING_GROUP));
    }
    Ok(r)
}

/// Where a read of one stream starts: after `id`, or (XREADGROUP) new entries (`>`).
#[derive(Clone, Copy, PartialEq)]
enum ReadFrom {
    After(StreamId),
    New,
}

fn read_reply(ctx: &Ctx, served: Vec<(Bytes, Reply)>) -> Reply {
    if ctx.resp() >= 3 {
        Reply::Map(
            served
                .into_iter()
                .map(|(k, v)| (Reply::Bulk(k), v))
                .collect(),
        )
    } else {
        Reply::Array(
            served
                .into_iter()
                .map(|(k, v)| Reply::Array(vec![Reply::Bulk(k), v]))
                .collect(),
        )
    }
}

// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
fn xread(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let r = tri!(parse_read(args, false, ctx.from_script()));
    let keys = &args[r.streams_idx..r.streams_idx + r.nstreams];
    let id_args = &args[r.streams_idx + r.nstreams..];
    // A woken XREAD whose key now holds another type keeps waiting, as in Redis (only group
    // readers are told the stream went away).
    let rerun = ctx.is_rerun();
    let lookup = |ctx: &mut Ctx, k: &Bytes| -> Result<Option<StreamId>, Reply> {
        match stream_mut(ctx.db(), k) {
            Ok(s) => Ok(s.map(|s| s.last_id())),
            Err(_) if rerun => Ok(None),
            Err(e) => Err(e),
        }
    };
    let mut from = Vec::with_capacity(r.nstreams);
    for (k, a) in keys.iter().zip(id_args) {
        let last = tri!(lookup(ctx, k));
        if &a[..] == b"$" {
            from.push(last.unwrap_or(StreamId::MIN));
        } else if &a[..] == b">" {
            return Reply::error(GT_IN_XREAD);
        } else {
            from.push(tri!(strict_id(a)));
        }
    }
    let count = if r.count == 0 && ctx.is_rerun() {
        BLOCKED_DEFAULT_COUNT
    } else {
        r.count
    };
    let mut served = Vec::new();
    for (k, gt) in keys.iter().zip(&from) {
        let Ok(Some(s)) = stream_mut(ctx.db(), k) else {
            continue;
        };
        if s.is_empty() || s.last_valid_id() <= *gt {
            continue;
        }
        let Some(start) = gt.incr() else { continue };
        let take = if count == 0 { usize::MAX } else { count };
        let entries: Vec<Reply> = s
            .range(start, StreamId::MAX)
            .take(take)
            .map(|e| entry_reply(&e))
            .collect();
        served.push((k.clone(), Reply::Array(entries)));
    }
    if !served.is_empty() {
        return read_reply(ctx, served);
    }
    if let Some(timeout) = r.block {
        // Re-run with `$` resolved, so only entries added after this call are served.
        let mut argv = args.to_vec();
        for (j, id) in from.iter().enumerate() {
            argv[r.streams_idx + r.nstreams + j] = id.to_bytes();
        }
        return ctx.block(&argv, keys.to_vec(), timeout, Reply::NullArray);
    }
    Reply::NullArray
}

/// A `[id, fields]` entry reply of an `XREADGROUP ... CLAIM` read, extended with the idle
/// time and the delivery count it had (0 and 0 for a new entry), as Redis 8.4 replies.
fn with_claim_meta(e: Reply, idle: i64, count: u64) -> Reply {
    match e {
        Reply::Array(mut v) if v.len() == 2 => {
            v.push(Reply::Int(idle));
            v.push(Reply::Int(count.min(i64::MAX as u64) as i64));
            Reply::Array(v)
        }
        e => e,
    }
}

/// The entries of one stream served by a `>` read: with CLAIM every entry carries the two
/// extra fields (entries not claimed from the pending list get 0 and 0).
fn new_read(out: Vec<Reply>, claim: bool) -> Reply {
    if claim {
        Reply::Array(out.into_iter().map(|e| with_claim_meta(e, 0, 0)).collect())
    } else {
        Reply::Array(out)
    }
}

/// `XREADGROUP ... CLAIM min-idle-time ... >`: before any new entry, take the claimable pending
/// entries (the XNACK zone, then the least recently delivered of those idle at least
/// `min_idle` ms), up to `take` in `out`. Each is claimed as XCLAIM claims (new owner, one more
/// delivery, replayed as an XCLAIM) and replied with its idle time and its earlier delivery
/// count. A pending entry deleted from the stream leaves the pending list (replayed as an
/// XACK) and does not count.
#[allow(clippy::too_many_arguments)]
fn claim_pending(
    s: &mut Stream,
    (key, group, consumer): (&Bytes, &Bytes, &Bytes),
    min_idle: u64,
    now: u64,
    take: usize,
    out: &mut Vec<Reply>,
    effects: &mut Vec<Vec<Bytes>>,
) {
    // Entries deleted from the stream leave the pending list and do not count: ask again for
    // what they left short (never for an entry this read already took, which min-idle-time 0
    // would offer again).
    let mut taken = std::collections::HashSet::new();
    loop {
        let want = take - out.len();
        let ids = s.group(group).expect("checked").claimable(
            min_idle,
            now,
            want.saturating_add(taken.len()),
        );
        let mut gone = false;
        for id in ids {
            if out.len() >= take {
                return;
            }
            if !taken.insert(id) {
                continue;
            }
            let Some(e) = s.get(id).map(|e| entry_reply(&e)) else {
                s.group_mut(group).expect("checked").ack(id);
                effects.push(vec![b("XACK"), key.clone(), group.clone(), id.to_bytes()]);
                gone = true;
                continue;
            };
            let g = s.group_mut(group).expect("checked");
            let Some((idle, prev)) = g.claim_for_read(id, consumer, now) else {
                continue;
            };
            let count = g.pending(id).map_or(1, |p| p.delivery_count);
            effects.push(claim_effect(
                key, group, consumer, id, now, count, g.last_id,
            ));
            out.push(with_claim_meta(e, idle, prev));
        }
        if !gone || out.len() >= take {
            return;
        }
    }
}

// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [CLAIM min-idle-time]
//   [NOACK] STREAMS key [key ...] id [id ...]
fn xreadgroup(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let r = tri!(parse_read(args, true, ctx.from_script()));
    let (group, consumer) = r.group.clone().expect("checked");
    let keys = &args[r.streams_idx..r.streams_idx + r.nstreams];
    let id_args = &args[r.streams_idx + r.nstreams..];
    let rerun = ctx.is_rerun();
    let mut from = Vec::with_capacity(r.nstreams);
    for (k, a) in keys.iter().zip(id_args) {
        let s = match stream_mut(ctx.db(), k) {
            Ok(s) => s,
            Err(_) if rerun => return Reply::error(KEY_GONE),
            Err(e) => return e,
        };
        let Some(s) = s else {
            if rerun {
                return Reply::error(KEY_GONE);
            }
            return Reply::Error(error::sanitize(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                text(k),
                text(&group)
            )).into());
        };
        if s.group(&group).is_none() {
            if rerun {
                return Reply::error(GROUP_GONE);
            }
            return Reply::Error(error::sanitize(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                text(k),
                text(&group)
            )).into());
        }
        if &a[..] == b"$" {
            return Reply::error(DOLLAR_IN_GROUP);
        } else if &a[..] == b">" {
            from.push(ReadFrom::New);
        } else {
            from.push(ReadFrom::After(tri!(strict_id(a))));
        }
    }
    let now = now_ms();
    let count = if r.count == 0 && rerun {
        BLOCKED_DEFAULT_COUNT
    } else {
        r.count
    };
    let mut served = Vec::new();
    let mut effects: Vec<Vec<Bytes>> = Vec::new();
    let mut new_consumer_in = Vec::new();
    // Broker policy: keys whose deliveries start a visibility timeout, entries to dead-letter,
    // keys with redeliveries (for their events).
    let mut visibility: Vec<(Bytes, u64)> = Vec::new();
    let mut dead: Vec<DeadLetter> = Vec::new();
    let mut redelivered_in: Vec<Bytes> = Vec::new();
    for (k, f) in keys.iter().zip(&from) {
        let s = match tri!(stream_mut(ctx.db(), k)) {
            Some(s) => s,
            None => continue,
        };
        // Redis looks the consumer up (creating it) only when it serves this stream now: a
        // `>` read with nothing new leaves the group untouched. Under a visibility timeout, an
        // entry due for redelivery counts as something to serve.
        let servable = match *f {
            ReadFrom::After(_) => true,
            ReadFrom::New => {
                let g = s.group(&group).unwrap();
                (!s.is_empty() && s.last_valid_id() > g.last_id)
                    || (!r.noack
                        && (g.handback_len() > 0 || g.next_redelivery().is_some_and(|t| t <= now)))
                    || r.claim
                        .is_some_and(|min| g.next_claimable(min).is_some_and(|t| t <= now))
            }
        };
        if !servable {
            continue;
        }
        let g = s.group_mut(&group).expect("checked above");
        let created = g.touch_consumer(&consumer, now);
        if created {
            new_consumer_in.push(k);
        }
        match *f {
            ReadFrom::After(start) => {
                // History: this consumer's pending entries from `start`.
                // Like every read, history starts after the given ID.
                let ids = match start.incr() {
                    Some(from) => g.consumer_pending(&consumer, from, r.count),
                    None => Vec::new(),
                };
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    let exists = s.get(id).map(|e| entry_reply(&e));
                    match exists {
                        Some(e) => {
                            out.push(e);
                            s.group_mut(&group).unwrap().redeliver(id, now);
                        }
                        None => out.push(Reply::Array(vec![id_reply(id), Reply::NullArray])),
                    }
                }
                served.push((k.clone(), Reply::Array(out)));
            }
            ReadFrom::New => {
                let take = if count == 0 { usize::MAX } else { count };
                let mut out = Vec::new();
                let claim = r.claim.is_some();
                if let Some(min_idle) = r.claim {
                    claim_pending(
                        s,
                        (k, &group, &consumer),
                        min_idle,
                        now,
                        take,
                        &mut out,
                        &mut effects,
                    );
                    if out.len() >= take {
                        served.push((k.clone(), new_read(out, claim)));
                        continue;
                    }
                }
                let g = s.group(&group).expect("checked above");
                let policy = g.policy().cloned().unwrap_or_default();
                if let Some(field) = policy.order_by.as_ref().filter(|_| !r.noack) {
                    ordered_read(
                        s,
                        (k, &group, &consumer),
                        &policy,
                        field,
                        now,
                        take,
                        &mut out,
                        &mut effects,
                        &mut dead,
                    );
                    if policy.visibility_ms > 0 {
                        visibility.push((k.clone(), policy.visibility_ms));
                    }
                    if !out.is_empty() {
                        served.push((k.clone(), new_read(out, claim)));
                    }
                    continue;
                }
                if !r.noack && (g.handback_len() > 0 || policy.visibility_ms > 0) {
                    redeliver(
                        s,
                        (k, &group, &consumer),
                        &policy,
                        now,
                        take,
                        &mut out,
                        &mut effects,
                        &mut dead,
                    );
                    if !out.is_empty() {
                        redelivered_in.push(k.clone());
                    }
                }
                if !r.noack && policy.visibility_ms > 0 {
                    visibility.push((k.clone(), policy.visibility_ms));
                }
                let last = s.group(&group).unwrap().last_id;
                let take = take - out.len();
                if take == 0 || s.is_empty() || s.last_valid_id() <= last {
                    if !out.is_empty() {
                        served.push((k.clone(), new_read(out, claim)));
                    }
                    continue;
                }
                let Some(start) = last.incr() else { continue };
                let mut ids = Vec::new();
                for e in s.range(start, StreamId::MAX).take(take) {
                    ids.push(e.id);
                    out.push(entry_reply(&e));
                }
                s.deliver_new(&group, &consumer, &ids, now, r.noack);
                if r.noack {
                    if created {
                        effects.push(vec![
                            b("XGROUP"),
                            b("CREATECONSUMER"),
                            k.clone(),
                            group.clone(),
                            consumer.clone(),
                        ]);
                    }
                    let g = s.group(&group).unwrap();
                    effects.push(vec![
                        b("XGROUP"),
                        b("SETID"),
                        k.clone(),
                        group.clone(),
                        g.last_id.to_bytes(),
                        b("ENTRIESREAD"),
                        int_bytes(g.entries_read),
                    ]);
                } else {
                    let ts = uint_bytes(now);
                    for id in &ids {
                        let idb = id.to_bytes();
                        effects.push(vec![
                            b("XCLAIM"),
                            k.clone(),
                            group.clone(),
                            consumer.clone(),
                            b("0"),
                            idb.clone(),
                            b("TIME"),
                            ts.clone(),
                            b("RETRYCOUNT"),
                            b("1"),
                            b("FORCE"),
                            b("JUSTID"),
                            b("LASTID"),
                            idb,
                        ]);
                    }
                }
                served.push((k.clone(), new_read(out, claim)));
            }
        }
    }
    // Entries over their delivery limit go to the dead-letter stream, in the same unit.
    for d in dead {
        dead_letter(ctx, d, &mut effects);
    }
    // The deliveries replay as the claims they made (nothing at all when nothing was served).
    ctx.wrote(
        Write::unkeyed()
            .changes(!effects.is_empty() as usize)
            .effects(effects),
    );
    for k in redelivered_in {
        ctx.wrote(Write::key(&k).event(STREAM, "fmq-redeliver"));
    }
    // A consumer created here counts as a change of its own, as in Redis.
    for k in new_consumer_in {
        ctx.wrote(Write::key(k).event(STREAM, "xgroup-createconsumer"));
    }
    // A delivery under a visibility timeout: readers blocked on the key are checked again
    // when it passes.
    let db = ctx.client.db;
    for (k, vis) in &visibility {
        ctx.store()
            .timers
            .add(now.saturating_add(*vis) as i64, db, k);
    }
    if !served.is_empty() {
        return read_reply(ctx, served);
    }
    if let Some(timeout) = r.block {
        // With CLAIM, wake up when the first pending entry becomes idle enough (XNACK, which
        // makes entries claimable at once, wakes the key itself).
        if let Some(min_idle) = r.claim {
            for (k, f) in keys.iter().zip(&from) {
                if !matches!(f, ReadFrom::New) {
                    continue;
                }
                let due = match stream_mut(ctx.db(), k) {
                    Ok(Some(s)) => s.group(&group).and_then(|g| g.next_claimable(min_idle)),
                    _ => None,
                };
                if let Some(due) = due {
                    // Never in the past (that would re-run the read at once, again and again),
                    // and within what the timers count in (CLAIM 9223372036854775807 is legal).
                    let at = due.max(now + 1).min(i64::MAX as u64);
                    ctx.store().timers.add(at as i64, db, k);
                }
            }
        }
        // Wake up when the first pending entry becomes visible again.
        if !r.noack {
            for (k, f) in keys.iter().zip(&from) {
                if !matches!(f, ReadFrom::New) {
                    continue;
                }
                let due = match stream_mut(ctx.db(), k) {
                    Ok(Some(s)) => s.group(&group).and_then(|g| g.next_redelivery()),
                    _ => None,
                };
                if let Some(due) = due {
                    ctx.store().timers.add(due as i64, db, k);
                }
            }
        }
        return ctx.block(args, keys.to_vec(), timeout, Reply::NullArray);
    }
    Reply::NullArray
}

/// An entry leaving its group for the dead-letter stream.
struct DeadLetter {
    dlq: Bytes,
    key: Bytes,
    group: Bytes,
    id: StreamId,
    fields: Vec<(Bytes, Bytes)>,
    consumer: Bytes,
    deliveries: u64,
}

/// What [`deliver_pending`] did with one pending entry.
#[derive(PartialEq, Eq)]
enum Redelivery {
    Delivered,
    DeadLettered,
    /// Deleted from the stream: removed from the pending list.
    Gone,
    NotPending,
}

/// Deliver pending entry `id` again, to `consumer`: a new owner, one more delivery (an XCLAIM
/// effect). An entry already delivered `max_deliveries` times is acknowledged and queued for
/// the dead-letter stream instead; an entry deleted from the stream leaves the pending list.
#[allow(clippy::too_many_arguments)]
fn deliver_pending(
    s: &mut Stream,
    (key, group, consumer): (&Bytes, &Bytes, &Bytes),
    p: &crate::store::stream::GroupPolicy,
    id: StreamId,
    now: u64,
    out: &mut Vec<Reply>,
    effects: &mut Vec<Vec<Bytes>>,
    dead: &mut Vec<DeadLetter>,
) -> Redelivery {
    let Some(pe) = s.group(group).unwrap().pending(id) else {
        return Redelivery::NotPending;
    };
    let entry = s.get(id).map(|e| (entry_reply(&e), e.to_entry()));
    let ack = || vec![b("XACK"), key.clone(), group.clone(), id.to_bytes()];
    let Some((reply, entry)) = entry else {
        s.group_mut(group).unwrap().ack(id);
        effects.push(ack());
        return Redelivery::Gone;
    };
    if p.max_deliveries > 0
        && pe.delivery_count >= p.max_deliveries
        && let Some(dlq) = &p.dead_letter
    {
        s.group_mut(group).unwrap().ack(id);
        effects.push(ack());
        dead.push(DeadLetter {
            dlq: dlq.clone(),
            key: key.clone(),
            group: group.clone(),
            id,
            fields: entry.fields,
            consumer: pe.consumer,
            deliveries: pe.delivery_count,
        });
        return Redelivery::DeadLettered;
    }
    let g = s.group_mut(group).unwrap();
    let n = g.redeliver_to(id, consumer, now).unwrap_or(1);
    let last = g.last_id;
    effects.push(vec![
        b("XCLAIM"),
        key.clone(),
        group.clone(),
        consumer.clone(),
        b("0"),
        id.to_bytes(),
        b("TIME"),
        uint_bytes(now),
        b("RETRYCOUNT"),
        uint_bytes(n),
        b("FORCE"),
        b("JUSTID"),
        b("LASTID"),
        last.to_bytes(),
    ]);
    out.push(reply);
    Redelivery::Delivered
}

/// Deliver again (to `consumer`, up to `take`) the entries handed back by a consumer that left,
/// then, under a visibility timeout, the pending entries whose timeout passed, oldest delivery
/// first (see [`deliver_pending`]).
#[allow(clippy::too_many_arguments)]
fn redeliver(
    s: &mut Stream,
    who: (&Bytes, &Bytes, &Bytes),
    p: &crate::store::stream::GroupPolicy,
    now: u64,
    take: usize,
    out: &mut Vec<Reply>,
    effects: &mut Vec<Vec<Bytes>>,
    dead: &mut Vec<DeadLetter>,
) {
    // Entries dead-lettered or gone do not count against COUNT: look a little further.
    let g = s.group(who.1).unwrap();
    let look = take.saturating_mul(2).max(16);
    let mut due = g.handed_back(look);
    let timed_out: Vec<StreamId> = g
        .due_for_redelivery(now, look)
        .into_iter()
        .filter(|id| !due.contains(id))
        .collect();
    due.extend(timed_out);
    for id in due {
        if out.len() >= take {
            break;
        }
        deliver_pending(s, who, p, id, now, out, effects, dead);
    }
}

/// The value of `field` in entry `id` (its message group under ORDERBY), if any.
fn group_value(s: &Stream, id: StreamId, field: &[u8]) -> Option<Bytes> {
    let e = s.get(id)?;
    e.fields()
        .find(|(f, _)| *f == field)
        .map(|(_, v)| Bytes::copy_from_slice(v))
}

/// A `>` read of a group with ordered message groups (ORDERBY field): entries with the same
/// value of `field` are delivered one at a time, in ID order; an entry whose message group has
/// one in flight is parked (pending, owned by nobody, never delivered) until that one is
/// acknowledged or dead-lettered. Timed-out in-flight entries are delivered again first; then
/// parked entries whose group is free; then new ones. Entries without the field are not
/// ordered. Returns (delivered new IDs, parked new IDs) among the new entries it consumed.
#[allow(clippy::too_many_arguments)]
fn ordered_read(
    s: &mut Stream,
    who: (&Bytes, &Bytes, &Bytes),
    p: &crate::store::stream::GroupPolicy,
    field: &[u8],
    now: u64,
    take: usize,
    out: &mut Vec<Reply>,
    effects: &mut Vec<Vec<Bytes>>,
    dead: &mut Vec<DeadLetter>,
) {
    let (key, group, consumer) = who;
    let look = take.saturating_mul(2).max(16);
    // 1. In-flight entries whose visibility timeout passed: still the head of their group.
    for id in s.group(group).unwrap().due_for_redelivery(now, look) {
        if out.len() >= take {
            break;
        }
        deliver_pending(s, who, p, id, now, out, effects, dead);
    }
    // The message groups with an entry in flight.
    let owned: Vec<StreamId> = s
        .group(group)
        .unwrap()
        .pending_entries()
        .filter(|(_, pe)| !pe.consumer.is_empty())
        .map(|(id, _)| id)
        .collect();
    let mut blocked: std::collections::HashSet<Bytes> = owned
        .into_iter()
        .filter_map(|id| group_value(s, id, field))
        .collect();
    // 2. Parked (and handed-back) entries, in ID order, one per free message group.
    let parked = s.group(group).unwrap().handed_back(usize::MAX);
    for id in parked {
        if out.len() >= take {
            break;
        }
        match group_value(s, id, field) {
            Some(v) if blocked.contains(&v) => continue,
            Some(v) => {
                blocked.insert(v);
            }
            None => {}
        }
        deliver_pending(s, who, p, id, now, out, effects, dead);
    }
    // 3. New entries: each one is consumed, delivered when its group is free, parked if not.
    if out.len() >= take {
        return;
    }
    let last = s.group(group).unwrap().last_id;
    if s.is_empty() || s.last_valid_id() <= last {
        return;
    }
    let Some(start) = last.incr() else { return };
    let mut deliver = Vec::new();
    let mut park = Vec::new();
    let mut replies = Vec::new();
    let room = take - out.len();
    for e in s.range(start, StreamId::MAX) {
        if deliver.len() >= room || deliver.len() + park.len() >= look.max(room).saturating_mul(4) {
            break;
        }
        let v = e
            .fields()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| Bytes::copy_from_slice(v));
        match v {
            Some(v) if blocked.contains(&v) => {
                park.push(e.id);
                continue;
            }
            Some(v) => {
                blocked.insert(v);
            }
            None => {}
        }
        deliver.push(e.id);
        replies.push(entry_reply(&e));
    }
    let mut all: Vec<StreamId> = deliver.iter().chain(&park).copied().collect();
    all.sort_unstable();
    if all.is_empty() {
        return;
    }
    s.deliver_new(group, consumer, &all, now, false);
    let g = s.group_mut(group).unwrap();
    for id in &park {
        g.park(*id);
    }
    let ts = uint_bytes(now);
    let holder = Bytes::from_static(crate::store::stream::HANDBACK_CONSUMER);
    for id in &all {
        let parked = park.contains(id);
        let idb = id.to_bytes();
        effects.push(vec![
            b("XCLAIM"),
            key.clone(),
            group.clone(),
            if parked {
                holder.clone()
            } else {
                consumer.clone()
            },
            b("0"),
            idb.clone(),
            b("TIME"),
            ts.clone(),
            b("RETRYCOUNT"),
            if parked { b("0") } else { b("1") },
            b("FORCE"),
            b("JUSTID"),
            b("LASTID"),
            idb,
        ]);
    }
    if !park.is_empty() {
        effects.push(vec![b("FMQ.LEAVE"), key.clone(), group.clone(), holder]);
    }
    out.extend(replies);
}

/// Metadata fields that lead a dead-lettered entry, before its own fields.
const DLQ_FIELDS: [&str; 6] = [
    "fmq-source",
    "fmq-group",
    "fmq-id",
    "fmq-consumer",
    "fmq-deliveries",
    "fmq-reason",
];

/// Append a dead-lettered entry to its dead-letter stream (created if missing). A key of
/// another type there leaves the entry where it was: pending again, delivered later.
fn dead_letter(ctx: &mut Ctx, d: DeadLetter, effects: &mut Vec<Vec<Bytes>>) {
    let limits = node_limits(ctx);
    let meta = [
        d.key.clone(),
        d.group.clone(),
        d.id.to_bytes(),
        d.consumer.clone(),
        uint_bytes(d.deliveries),
        b("max-deliveries"),
    ];
    let mut pairs: Vec<(&[u8], &[u8])> = DLQ_FIELDS
        .iter()
        .zip(&meta)
        .map(|(f, v)| (f.as_bytes(), &v[..]))
        .collect();
    pairs.extend(d.fields.iter().map(|(f, v)| (&f[..], &v[..])));
    let db = ctx.db();
    let created = !db.contains(&d.dlq);
    let appended = match db.entry_or_insert_with(&d.dlq, || Value::Stream(Box::default())) {
        Value::Stream(s) => s.append(IdSpec::Auto, &pairs, now_ms(), limits).ok(),
        _ => None,
    };
    let Some(new_id) = appended else {
        if created {
            ctx.db().remove(&d.dlq);
        }
        // Put it back: the ACK recorded above is undone by a claim to the same consumer.
        if let Ok(Some(s)) = stream_mut(ctx.db(), &d.key)
            && let Some(g) = s.group_mut(&d.group)
        {
            g.restore_pending(d.id, &d.consumer, now_ms(), d.deliveries);
            effects.push(vec![
                b("XCLAIM"),
                d.key.clone(),
                d.group.clone(),
                d.consumer.clone(),
                b("0"),
                d.id.to_bytes(),
                b("TIME"),
                uint_bytes(now_ms()),
                b("RETRYCOUNT"),
                uint_bytes(d.deliveries),
                b("FORCE"),
                b("JUSTID"),
            ]);
        }
        return;
    };
    let mut argv = vec![b("XADD"), d.dlq.clone(), new_id.to_bytes()];
    for (f, v) in &pairs {
        argv.push(Bytes::copy_from_slice(f));
        argv.push(Bytes::copy_from_slice(v));
    }
    effects.push(argv);
    ctx.wrote(Write::key(&d.dlq).wakes().event(STREAM, "xadd"));
    ctx.wrote(Write::key(&d.key).event(STREAM, "fmq-deadletter"));
}

// ---------------------------------------------------------------------------
// Broker policies (FMQ.*): opt-in per consumer group, stored with the stream.

// FMQ.GROUPSET key group [RESET] [VISIBILITY ms] [MAXDELIVERIES n] [DEADLETTER key]
//   [ORDERBY field | NOORDER]
fn fmq_groupset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (key, group) = (&args[1], &args[2]);
    let mut reset = false;
    let (mut vis, mut max, mut dlq, mut order) = (None, None, None, None);
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        let num = |name: &str| super::broker::non_negative(&args[i + 1], name).map(|n| n as u64);
        if is(&args[i], "reset") {
            reset = true;
            i += 1;
            continue;
        } else if is(&args[i], "visibility") && more {
            vis = Some(tri!(num("VISIBILITY")));
        } else if is(&args[i], "maxdeliveries") && more {
            max = Some(tri!(num("MAXDELIVERIES")));
        } else if is(&args[i], "deadletter") && more {
            dlq = Some(args[i + 1].clone());
        } else if is(&args[i], "orderby") && more {
            order = Some(Some(args[i + 1].clone()));
        } else if is(&args[i], "noorder") {
            order = Some(None);
            i += 1;
            continue;
        } else {
            return Reply::error(error::SYNTAX);
        }
        i += 2;
    }
    if let Some(d) = &dlq {
        if d == key {
            return Reply::error("ERR DEADLETTER must name another key");
        }
        // Entries will be added there in this user's name.
        if let Some(e) = crate::acl::check_xadd(ctx.shared, ctx.client, d) {
            return Reply::error(e);
        }
        if let Some(v) = ctx.db().get(d)
            && !matches!(v, Value::Stream(_))
        {
            return Reply::error(error::WRONGTYPE);
        }
    }
    let Some(s) = tri!(stream_mut(ctx.db(), key)) else {
        return nogroup_key_group(key, group);
    };
    let Some(g) = s.group_mut(group) else {
        return nogroup_key_group(key, group);
    };
    let mut p = if reset {
        Default::default()
    } else {
        g.policy().cloned().unwrap_or_default()
    };
    if let Some(v) = vis {
        p.visibility_ms = v;
    }
    if let Some(m) = max {
        p.max_deliveries = m;
    }
    if let Some(d) = dlq {
        p.dead_letter = Some(crate::store::own(&d));
    }
    if let Some(o) = order {
        p.order_by = o.map(|f| crate::store::own(&f));
    }
    if p.max_deliveries > 0 && p.dead_letter.is_none() {
        return Reply::error("ERR MAXDELIVERIES needs a DEADLETTER stream");
    }
    let effect = crate::store::stream::policy_command(key, group, &p);
    g.set_policy(p);
    ctx.wrote(Write::key(key).event(STREAM, "fmq-groupset").effect(effect));
    Reply::Ok
}

// FMQ.LEAVE key group consumer: remove the consumer and hand its pending entries back to the
// group, deliverable at once to the next `>` reader (XGROUP DELCONSUMER drops them instead).
fn fmq_leave(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (key, group) = (&args[1], &args[2]);
    let Some(s) = tri!(stream_mut(ctx.db(), key)) else {
        return nogroup_key_group(key, group);
    };
    let Some(g) = s.group_mut(group) else {
        return nogroup_key_group(key, group);
    };
    let Some(n) = g.leave(&args[3]) else {
        return Reply::Int(0);
    };
    ctx.wrote(Write::key(key).wakes().event(STREAM, "fmq-leave"));
    Reply::Int(n as i64)
}

// FMQ.RETENTION key [MAXLEN n] [MAXAGE ms] [KEEPREF | DELREF | ACKED] [RESET]: set the
// stream's retention policy (and apply it at once); with the key alone, read it.
fn fmq_retention(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let loading = ctx.shared.is_loading();
    let mut reset = false;
    let (mut maxlen, mut maxage, mut maxbytes, mut refs) = (None, None, None, None);
    let mut i = 2;
    while i < args.len() {
        let more = i + 1 < args.len();
        let num = |name: &str| super::broker::non_negative(&args[i + 1], name).map(|n| n as u64);
        if is(&args[i], "reset") {
            reset = true;
        } else if let Some(r) = ref_policy(&args[i]) {
            refs = Some(r);
        } else if is(&args[i], "maxlen") && more {
            maxlen = Some(tri!(num("MAXLEN")));
            i += 1;
        } else if is(&args[i], "maxage") && more {
            maxage = Some(tri!(num("MAXAGE")));
            i += 1;
        } else if is(&args[i], "maxbytes") && more {
            maxbytes = Some(tri!(num("MAXBYTES")));
            i += 1;
        } else {
            return Reply::error(error::SYNTAX);
        }
        i += 1;
    }
    let Some(s) = tri!(stream_mut(ctx.db(), key)) else {
        return Reply::error(error::NO_SUCH_KEY);
    };
    if args.len() == 2 {
        let r = s.retention().cloned().unwrap_or_default();
        return Reply::Map(vec![
            (Reply::bulk_str("maxlen"), Reply::Int(r.maxlen as i64)),
            (Reply::bulk_str("maxage"), Reply::Int(r.maxage_ms as i64)),
            (Reply::bulk_str("maxbytes"), Reply::Int(r.maxbytes as i64)),
            (
                Reply::bulk_str("refs"),
                Reply::Bulk(Bytes::from_static(r.refs.token())),
            ),
        ]);
    }
    let mut r = if reset {
        Default::default()
    } else {
        s.retention().cloned().unwrap_or_default()
    };
    if let Some(v) = maxlen {
        r.maxlen = v;
    }
    if let Some(v) = maxage {
        r.maxage_ms = v;
    }
    if let Some(v) = maxbytes {
        r.maxbytes = v;
    }
    if let Some(v) = refs {
        r.refs = v;
    }
    let mut effects = vec![crate::store::stream::retention_command(key, &r)];
    s.set_retention(r);
    let before = s.len();
    // While the AOF replays, the trims follow as the XTRIMs recorded when they happened.
    if !loading {
        effects.extend(s.apply_retention(key, now_ms()));
    }
    let trimmed = before - s.len();
    let expiry = s.next_expiry();
    let mut w = Write::key(key)
        .effects(effects)
        .event(STREAM, "fmq-retention");
    if trimmed > 0 {
        w = w.event(STREAM, "xtrim");
    }
    ctx.wrote(w);
    if let Some(at) = expiry {
        let db = ctx.client.db;
        ctx.store().retention.add(at as i64, db, key);
    }
    Reply::Ok
}

/// Apply the retention of the streams whose age limit is due (FMQ.RUNDUE): the trims are
/// recorded as exact XTRIMs; each stream is timed again for its next oldest entry, or, when
/// ACKED keeps an old entry a group still needs, checked again a second later.
pub(crate) fn run_due_retention(ctx: &mut Ctx, now: u64) -> usize {
    let due = ctx.store().retention.take_due(now as i64);
    let mut n = 0;
    for (db, key) in due {
        let home = ctx.client.db;
        ctx.client.db = db;
        ctx.store().begin_command(db, now as i64);
        if let Ok(Some(s)) = stream_mut(ctx.db(), &key) {
            let before = s.len();
            let effects = s.apply_retention(&key, now);
            let trimmed = before - s.len();
            let next = s
                .next_expiry()
                .map(|t| if t <= now { now + 1000 } else { t });
            if trimmed > 0 {
                ctx.wrote(
                    Write::key(&key)
                        .changes(trimmed as usize)
                        .effects(effects)
                        .event(STREAM, "xtrim"),
                );
                n += 1;
            }
            if let Some(at) = next {
                ctx.store().retention.add(at as i64, db, &key);
            }
        }
        ctx.client.db = home;
    }
    n
}

/// Time the age limits of every stream that has one (at startup: timers are not persisted).
pub fn arm_retention(store: &mut crate::engine::StoreInner) {
    let mut due = Vec::new();
    for (db, d) in store.keyspace.dbs.iter().enumerate() {
        for (k, e) in d.map.iter() {
            if let Value::Stream(s) = &e.value
                && let Some(at) = s.next_expiry()
            {
                due.push((at as i64, db, k.to_bytes()));
            }
        }
    }
    for (at, db, k) in due {
        store.retention.add(at, db, &k);
    }
}

// FMQ.GROUPGET key group
fn fmq_groupget(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (key, group) = (&args[1], &args[2]);
    let Some(s) = tri!(stream_mut(ctx.db(), key)) else {
        return nogroup_key_group(key, group);
    };
    let Some(g) = s.group(group) else {
        return nogroup_key_group(key, group);
    };
    let p = g.policy().cloned().unwrap_or_default();
    let next = g.next_redelivery();
    Reply::Map(vec![
        (
            Reply::bulk_str("visibility"),
            Reply::Int(p.visibility_ms as i64),
        ),
        (
            Reply::bulk_str("maxdeliveries"),
            Reply::Int(p.max_deliveries as i64),
        ),
        (
            Reply::bulk_str("deadletter"),
            p.dead_letter.map_or(Reply::Null, Reply::Bulk),
        ),
        (
            Reply::bulk_str("orderby"),
            p.order_by.map_or(Reply::Null, Reply::Bulk),
        ),
        (
            Reply::bulk_str("next-redelivery"),
            next.map_or(Reply::Null, |t| Reply::Int(t as i64)),
        ),
    ])
}

// FMQ.REDRIVE dlq [COUNT n]: move dead-lettered entries back to the streams they came from,
// oldest first, as new entries with their own fields. Replies with how many moved.
fn fmq_redrive(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let dlq = &args[1];
    let mut count = 100usize;
    match args.len() {
        2 => {}
        4 if is(&args[2], "count") => match crate::protocol::request::parse_i64(&args[3]) {
            Some(n) if n > 0 => count = n as usize,
            _ => return Reply::error(COUNT_POSITIVE),
        },
        _ => return Reply::error(error::SYNTAX),
    }
    let entries: Vec<crate::store::stream::Entry> = match tri!(stream_mut(ctx.db(), dlq)) {
        Some(s) => s
            .range(StreamId::MIN, StreamId::MAX)
            .take(count)
            .map(|e| e.to_entry())
            .collect(),
        None => return Reply::Int(0),
    };
    let limits = node_limits(ctx);
    let mut moved = 0;
    for e in entries {
        let meta_ok = e.fields.len() > DLQ_FIELDS.len()
            && DLQ_FIELDS
                .iter()
                .zip(&e.fields)
                .all(|(name, (f, _))| f == name.as_bytes());
        if !meta_ok {
            continue;
        }
        let source = e.fields[0].1.clone();
        if let Some(err) = crate::acl::check_xadd(ctx.shared, ctx.client, &source) {
            // Nothing moves to a stream this user may not write; what moved so far stays.
            if moved == 0 {
                return Reply::error(err);
            }
            break;
        }
        let own: Vec<(&[u8], &[u8])> = e.fields[DLQ_FIELDS.len()..]
            .iter()
            .map(|(f, v)| (&f[..], &v[..]))
            .collect();
        let db = ctx.db();
        if db
            .get(&source)
            .is_some_and(|v| !matches!(v, Value::Stream(_)))
        {
            continue;
        }
        let created = !db.contains(&source);
        let Value::Stream(s) = db.entry_or_insert_with(&source, || Value::Stream(Box::default()))
        else {
            continue;
        };
        let Ok(new_id) = s.append(IdSpec::Auto, &own, now_ms(), limits) else {
            if created {
                ctx.db().remove(&source);
            }
            continue;
        };
        let mut argv = vec![b("XADD"), source.clone(), new_id.to_bytes()];
        for (f, v) in &own {
            argv.push(Bytes::copy_from_slice(f));
            argv.push(Bytes::copy_from_slice(v));
        }
        ctx.wrote(
            Write::key(&source)
                .wakes()
                .event(STREAM, "xadd")
                .effect(argv),
        );
        if let Ok(Some(d)) = stream_mut(ctx.db(), dlq) {
            d.delete(e.id);
        }
        ctx.wrote(Write::key(dlq).event(STREAM, "xdel").effect(vec![
            b("XDEL"),
            dlq.clone(),
            e.id.to_bytes(),
        ]));
        moved += 1;
    }
    Reply::Int(moved)
}

// ---------------------------------------------------------------------------
// Consumer groups

fn xgroup_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    const LINES: &[&str] = &[
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(LINES.iter().map(|l| Reply::status(l)).collect())
}

fn subcommand_syntax(sub: &[u8], container: &str) -> Reply {
    Reply::Error(
        error::sanitize(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {container} HELP.",
            text(sub)
        ))
        .into(),
    )
}

fn parse_entries_read(arg: &[u8]) -> Result<i64, Reply> {
    let n = int_arg(arg)?;
    if n < 0 && n != INVALID_ENTRIES_READ {
        return Err(Reply::error(ENTRIESREAD_BAD));
    }
    Ok(n)
}

/// Common XGROUP prologue: key must exist (unless MKSTREAM) and be a stream.
fn xgroup_stream<'a>(
    db: &'a mut Db,
    args: &[Bytes],
    mkstream: bool,
) -> Result<Option<&'a mut Stream>, Reply> {
    let s = stream_mut(db, &args[2])?;
    if s.is_none() && !mkstream {
        return Err(Reply::error(XGROUP_NOKEY));
    }
    Ok(s)
}

// XGROUP CREATE key group <id | $> [MKSTREAM] [ENTRIESREAD entries-read]
fn xgroup_create(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let mut i = 5;
    while i < args.len() {
        if is(&args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if is(&args[i], "entriesread") && i + 1 < args.len() {
            entries_read = tri!(parse_entries_read(&args[i + 1]));
            i += 2;
        } else {
            return subcommand_syntax(&args[1], "XGROUP");
        }
    }
    let db = ctx.db();
    let exists = tri!(xgroup_stream(db, args, mkstream)).map(|s| s.last_id());
    if args.len() > 8 {
        return subcommand_syntax(&args[1], "XGROUP");
    }
    let id = if &args[4][..] == b"$" {
        exists.unwrap_or(StreamId::MIN)
    } else {
        tri!(strict_id(&args[4]))
    };
    let key = &args[2];
    let created_key = exists.is_none();
    let s = match ctx
        .db()
        .entry_or_insert_with(key, || Value::Stream(Box::default()))
    {
        Value::Stream(s) => s,
        _ => unreachable!("checked type"),
    };
    if !s.create_group(&args[3], id, entries_read) {
        if created_key {
            ctx.wrote(Write::key(key));
        }
        return Reply::error(BUSYGROUP);
    }
    ctx.wrote(Write::key(key).event(STREAM, "xgroup-create"));
    Reply::Ok
}

// XGROUP SETID key group <id | $> [ENTRIESREAD entries-read]
fn xgroup_setid(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut entries_read = INVALID_ENTRIES_READ;
    let mut i = 5;
    while i < args.len() {
        if is(&args[i], "entriesread") && i + 1 < args.len() {
            entries_read = tri!(parse_entries_read(&args[i + 1]));
            i += 2;
        } else {
            return subcommand_syntax(&args[1], "XGROUP");
        }
    }
    let s = tri!(xgroup_stream(ctx.db(), args, false)).expect("exists");
    if s.group(&args[3]).is_none() {
        return nogroup_for_key(&args[3], &args[2]);
    }
    if args.len() != 5 && args.len() != 7 {
        return subcommand_syntax(&args[1], "XGROUP");
    }
    let id = if &args[4][..] == b"$" {
        s.last_id()
    } else {
        tri!(range_id(&args[4], 0))
    };
    s.group_mut(&args[3]).unwrap().set_id(id, entries_read);
    ctx.wrote(Write::key(&args[2]).event(STREAM, "xgroup-setid"));
    Reply::Ok
}

// XGROUP DESTROY key group
fn xgroup_destroy(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let s = tri!(xgroup_stream(ctx.db(), args, false)).expect("exists");
    if s.destroy_group(&args[3]) {
        // Blocked XREADGROUP readers of this group get NOGROUP.
        ctx.wrote(Write::key(&args[2]).wakes().event(STREAM, "xgroup-destroy"));
        Reply::Int(1)
    } else {
        Reply::Int(0)
    }
}

// XGROUP CREATECONSUMER key group consumer
fn xgroup_createconsumer(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let s = tri!(xgroup_stream(ctx.db(), args, false)).expect("exists");
    let Some(g) = s.group_mut(&args[3]) else {
        return nogroup_for_key(&args[3], &args[2]);
    };
    if g.create_consumer(&args[4], now_ms()) {
        ctx.wrote(Write::key(&args[2]).event(STREAM, "xgroup-createconsumer"));
        Reply::Int(1)
    } else {
        Reply::Int(0)
    }
}

// XGROUP DELCONSUMER key group consumer
fn xgroup_delconsumer(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let s = tri!(xgroup_stream(ctx.db(), args, false)).expect("exists");
    let Some(g) = s.group_mut(&args[3]) else {
        return nogroup_for_key(&args[3], &args[2]);
    };
    match g.delete_consumer(&args[4]) {
        Some(n) => {
            ctx.wrote(Write::key(&args[2]).event(STREAM, "xgroup-delconsumer"));
            Reply::Int(n as i64)
        }
        None => Reply::Int(0),
    }
}

/// What XCLAIM/XAUTOCLAIM did: `effects` replay it (nothing is replayed when they are empty);
/// `xgroup-createconsumer` when the consumer was created.
fn record_claims(ctx: &mut Ctx, key: &Bytes, effects: Vec<Vec<Bytes>>, new_consumer: bool) {
    if effects.is_empty() && !new_consumer {
        return;
    }
    // One change per entry claimed or dropped, one for a consumer created (Redis's counts).
    let mut w = Write::key(key)
        .changes(effects.len() + new_consumer as usize)
        .effects(effects);
    if new_consumer {
        w = w.event(STREAM, "xgroup-createconsumer");
    }
    ctx.wrote(w);
}

// XACK key group id [id ...]
fn xack(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let s = match tri!(stream_mut(ctx.db(), &args[1])) {
        Some(s) => s,
        None => return Reply::Int(0),
    };
    let Some(g) = s.group_mut(&args[2]) else {
        return Reply::Int(0);
    };
    let mut ids = Vec::with_capacity(args.len().min(1024));
    for a in &args[3..] {
        ids.push(tri!(strict_id(a)));
    }
    let n = ids.into_iter().filter(|id| g.ack(*id)).count();
    // Under ordered message groups an acknowledgement frees the next entry of its group:
    // readers blocked on the key look again.
    let frees = g.policy().is_some_and(|p| p.order_by.is_some());
    if n > 0 {
        ctx.wrote(Write::key(&args[1]).changes(n).wakes_if(frees));
    }
    Reply::Int(n as i64)
}

// XNACK key group <SILENT | FAIL | FATAL> IDS numids id [id ...] [RETRYCOUNT count] [FORCE]
// (RETRYCOUNT and FORCE may also come before IDS.)
fn xnack(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (key, group) = (&args[1], &args[2]);
    let mode = match &args[3][..] {
        m if is(m, "silent") => NackMode::Silent,
        m if is(m, "fail") => NackMode::Fail,
        m if is(m, "fatal") => NackMode::Fatal,
        _ => return Reply::error(NACK_MODE),
    };
    let mut ids: Option<Vec<StreamId>> = None;
    let mut retry = None;
    let mut force = false;
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let o = &args[j][..];
        if is(o, "ids") && ids.is_none() && more >= 1 {
            let n = match crate::protocol::request::parse_i64(&args[j + 1]) {
                Some(n) if n > 0 => n as u64,
                _ => return Reply::error(NACK_NUMIDS),
            };
            if n > (more - 1) as u64 {
                return Reply::error(NACK_NUMIDS_MISMATCH);
            }
            let n = n as usize;
            let mut v = Vec::with_capacity(n);
            for a in &args[j + 2..j + 2 + n] {
                v.push(tri!(strict_id(a)));
            }
            ids = Some(v);
            j += 2 + n;
        } else if is(o, "retrycount") && more >= 1 {
            let v = tri!(int_arg(&args[j + 1]));
            if v < 0 {
                return Reply::error(NACK_RETRY_NEG);
            }
            retry = Some(v as u64);
            j += 2;
        } else if is(o, "force") {
            force = true;
            j += 1;
        } else {
            return Reply::Error(
                error::sanitize(format!("ERR Unrecognized XNACK option '{}'", text(o))).into(),
            );
        }
    }
    let Some(ids) = ids else {
        return Reply::error(NACK_NO_IDS);
    };
    let s = match tri!(stream_mut(ctx.db(), key)) {
        Some(s) if s.group(group).is_some() => s,
        _ => return nogroup_key_group(key, group),
    };
    s.mark_nack_used();
    let mut effects = Vec::new();
    for id in ids {
        let forced = force && s.contains(id);
        let g = s.group_mut(group).expect("checked");
        if g.nack(id, mode, retry, forced) {
            let count = g.pending(id).map_or(0, |p| p.delivery_count);
            effects.push(nack_effect(key, group, id, count));
        }
    }
    let n = effects.len();
    // Released entries are claimable at once: readers blocked with CLAIM look again.
    if n > 0 {
        ctx.wrote(
            Write::key(key)
                .changes(n)
                .wakes()
                .event(STREAM, "xnack")
                .effects(effects),
        );
    }
    Reply::Int(n as i64)
}

/// How one ID released by XNACK is replicated and written to the AOF: a claim by the reserved
/// consumer [`NACKED_CONSUMER`] with the new delivery count and a delivery time of 0, which
/// ferrymq replays as the release (see [`xclaim`]), as its RDB files say it. A redis-server
/// 7 replica, which has no XNACK, applies it as a claim: the entry leaves the consumer that
/// held it and keeps its count, owned by that reserved name.
fn nack_effect(key: &Bytes, group: &Bytes, id: StreamId, count: u64) -> Vec<Bytes> {
    vec![
        b("XCLAIM"),
        key.clone(),
        group.clone(),
        Bytes::from_static(NACKED_CONSUMER),
        b("0"),
        id.to_bytes(),
        b("TIME"),
        b("0"),
        b("RETRYCOUNT"),
        uint_bytes(count),
        b("FORCE"),
        b("JUSTID"),
    ]
}

// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
fn xpending(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Reply::error(error::SYNTAX);
    }
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0;
        if is(&args[3], "idle") {
            min_idle = tri!(int_arg(&args[4]));
            if argc < 8 {
                return Reply::error(error::SYNTAX);
            }
            at += 2;
        }
        let count = tri!(int_arg(&args[at + 2])).max(0) as usize;
        let start = tri!(start_bound(&args[at]));
        let end = tri!(end_bound(&args[at + 1]));
        let consumer = args.get(at + 3).cloned();
        range = Some((min_idle, start, end, count, consumer));
    }
    let s = match tri!(stream_mut(ctx.db(), &args[1])) {
        Some(s) => s,
        None => return nogroup_key_group(&args[1], &args[2]),
    };
    let Some(g) = s.group(&args[2]) else {
        return nogroup_key_group(&args[1], &args[2]);
    };
    match range {
        None => {
            let sum = g.pending_summary();
            match sum.bounds {
                None => Reply::Array(vec![
                    Reply::Int(0),
                    Reply::Null,
                    Reply::Null,
                    Reply::NullArray,
                ]),
                Some((lo, hi)) => Reply::Array(vec![
                    Reply::Int(sum.count as i64),
                    id_reply(lo),
                    id_reply(hi),
                    Reply::Array(
                        sum.consumers
                            .into_iter()
                            .map(|(n, c)| {
                                Reply::Array(vec![
                                    Reply::Bulk(n),
                                    Reply::Bulk(uint_bytes(c as u64)),
                                ])
                            })
                            .collect(),
                    ),
                ]),
            }
        }
        Some((min_idle, start, end, count, consumer)) => {
            let min = (min_idle != 0).then_some(min_idle);
            let rows = g.pending_range(start, end, count, consumer.as_deref(), min, now_ms());
            Reply::Array(
                rows.into_iter()
                    .map(|r| {
                        Reply::Array(vec![
                            id_reply(r.id),
                            Reply::Bulk(r.consumer),
                            // Released by XNACK: delivery time 0, shown as -1 (Redis 8.8).
                            Reply::Int(if r.released { -1 } else { r.idle.max(0) }),
                            Reply::Int(r.delivery_count as i64),
                        ])
                    })
                    .collect(),
            )
        }
    }
}

fn claim_effect(
    key: &Bytes,
    group: &Bytes,
    consumer: &Bytes,
    id: StreamId,
    time: u64,
    count: u64,
    last: StreamId,
) -> Vec<Bytes> {
    vec![
        b("XCLAIM"),
        key.clone(),
        group.clone(),
        consumer.clone(),
        b("0"),
        id.to_bytes(),
        b("TIME"),
        uint_bytes(time),
        b("RETRYCOUNT"),
        uint_bytes(count),
        b("FORCE"),
        b("JUSTID"),
        b("LASTID"),
        last.to_bytes(),
    ]
}

// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds]
//   [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
fn xclaim(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (key, group, consumer) = (&args[1], &args[2], &args[3]);
    let s = match tri!(stream_mut(ctx.db(), key)) {
        Some(s) if s.group(group).is_some() => s,
        _ => return nogroup_key_group(key, group),
    };
    let min_idle = tri!(int_arg_msg(
        &args[4],
        "ERR Invalid min-idle-time argument for XCLAIM"
    ))
    .max(0);
    let mut j = 5;
    while j < args.len() && StreamId::parse(&args[j], 0).is_some() {
        j += 1;
    }
    let ids_end = j;
    let now = now_ms() as i64;
    let mut delivery: Option<i64> = None;
    let mut retry: Option<i64> = None;
    let (mut force, mut justid) = (false, false);
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let o = &args[j][..];
        if is(o, "force") {
            force = true;
        } else if is(o, "justid") {
            justid = true;
        } else if is(o, "idle") && more > 0 {
            j += 1;
            let idle = tri!(int_arg_msg(
                &args[j],
                "ERR Invalid IDLE option argument for XCLAIM"
            ));
            delivery = Some(now.saturating_sub(idle));
        } else if is(o, "time") && more > 0 {
            j += 1;
            delivery = Some(tri!(int_arg_msg(
                &args[j],
                "ERR Invalid TIME option argument for XCLAIM"
            )));
        } else if is(o, "retrycount") && more > 0 {
            j += 1;
            retry = Some(tri!(int_arg_msg(
                &args[j],
                "ERR Invalid RETRYCOUNT option argument for XCLAIM"
            )));
        } else if is(o, "lastid") && more > 0 {
            j += 1;
            last_id = tri!(strict_id(&args[j]));
        } else {
            return Reply::Error(
                error::sanitize(format!("ERR Unrecognized XCLAIM option '{}'", text(o))).into(),
            );
        }
        j += 1;
    }
    if consumer[..] == *NACKED_CONSUMER {
        // XNACK's replicated form (`nack_effect`): release the entries again.
        s.mark_nack_used();
        let g = s.group_mut(group).expect("checked");
        let count = retry.filter(|r| *r >= 0).map(|r| r as u64);
        let mut out = Vec::new();
        for a in &args[5..ids_end] {
            let id = StreamId::parse(a, 0).expect("parsed above");
            if g.nack(id, NackMode::Fail, count, force) {
                out.push(Reply::Bulk(id.to_bytes()));
            }
        }
        if !out.is_empty() {
            ctx.wrote(
                Write::key(key)
                    .changes(out.len())
                    .wakes()
                    .event(STREAM, "xnack"),
            );
        }
        return Reply::Array(out);
    }
    let mut effects = Vec::new();
    let had_consumer = s
        .group(group)
        .unwrap()
        .consumers()
        .contains_key(&consumer[..]);
    {
        let g = s.group_mut(group).unwrap();
        if last_id > g.last_id {
            g.last_id = last_id;
            effects.push(vec![
                b("XGROUP"),
                b("SETID"),
                key.clone(),
                group.clone(),
                g.last_id.to_bytes(),
                b("ENTRIESREAD"),
                int_bytes(g.entries_read),
            ]);
        }
    }
    let time = match delivery {
        Some(t) if t >= 0 && t <= now => t as u64,
        _ => now as u64,
    };
    let opts = ClaimOptions {
        min_idle: min_idle as u64,
        time,
        retry_count: retry.filter(|r| *r >= 0).map(|r| r as u64),
        force,
        justid,
    };
    let mut out = Vec::new();
    for a in &args[5..ids_end] {
        let id = StreamId::parse(a, 0).expect("parsed above");
        let old = s.group(group).unwrap().pending(id);
        match s
            .claim(group, consumer, id, &opts, now as u64)
            .expect("group exists")
        {
            ClaimOutcome::Claimed(p) => {
                let last = s.group(group).unwrap().last_id;
                effects.push(claim_effect(
                    key,
                    group,
                    consumer,
                    id,
                    p.delivery_time,
                    p.delivery_count,
                    last,
                ));
                if justid {
                    out.push(id_reply(id));
                } else {
                    match s.get(id) {
                        Some(e) => out.push(entry_reply(&e)),
                        None => out.push(Reply::NullArray),
                    }
                }
            }
            ClaimOutcome::Dropped => {
                let old = old.expect("was pending");
                let last = s.group(group).unwrap().last_id;
                effects.push(claim_effect(
                    key,
                    group,
                    &old.consumer,
                    id,
                    old.delivery_time,
                    old.delivery_count,
                    last,
                ));
            }
            ClaimOutcome::Skipped => {}
        }
    }
    // The SETID for LASTID comes last in Redis (after the claims carrying LASTID).
    if let Some(first) = effects.first()
        && first[1] == b("SETID")
    {
        let e = effects.remove(0);
        effects.push(e);
    }
    let new_consumer = !had_consumer
        && s.group(group)
            .unwrap()
            .consumers()
            .contains_key(&consumer[..]);
    record_claims(ctx, key, effects, new_consumer);
    Reply::Array(out)
}

// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
fn xautoclaim(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (key, group, consumer) = (&args[1], &args[2], &args[3]);
    let has_group = match tri!(stream_mut(ctx.db(), key)) {
        Some(s) => s.group(group).is_some(),
        None => false,
    };
    let min_idle = tri!(int_arg_msg(
        &args[4],
        "ERR Invalid min-idle-time argument for XAUTOCLAIM"
    ))
    .max(0);
    let start = tri!(start_bound(&args[5]));
    let mut count: u64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "count") && more > 0 {
            const MAX_COUNT: i64 = i64::MAX / 16;
            let n = match crate::protocol::request::parse_i64(&args[j + 1]) {
                Some(n) if (1..=MAX_COUNT).contains(&n) => n,
                _ => return Reply::error(COUNT_POSITIVE),
            };
            count = n as u64;
            j += 1;
        } else if is(&args[j], "justid") {
            justid = true;
        } else {
            return Reply::error(error::SYNTAX);
        }
        j += 1;
    }
    if !has_group {
        return nogroup_key_group(key, group);
    }
    let now = now_ms();
    let s = tri!(stream_mut(ctx.db(), key)).expect("exists");
    let had_consumer = s
        .group(group)
        .unwrap()
        .consumers()
        .contains_key(&consumer[..]);
    let res = s
        .autoclaim(group, consumer, start, count, min_idle as u64, now, justid)
        .expect("group exists");
    let new_consumer = !had_consumer
        && s.group(group)
            .unwrap()
            .consumers()
            .contains_key(&consumer[..]);
    let last = s.group(group).unwrap().last_id;
    let mut effects = Vec::new();
    let mut claimed = Vec::with_capacity(res.claimed.len());
    for (id, p) in &res.claimed {
        effects.push(claim_effect(
            key,
            group,
            &p.consumer,
            *id,
            p.delivery_time,
            p.delivery_count,
            last,
        ));
        if justid {
            claimed.push(id_reply(*id));
        } else if let Some(e) = s.get(*id) {
            claimed.push(entry_reply(&e));
        }
    }
    for id in &res.deleted {
        // The PEL entry is gone; replaying a forced claim of a missing entry drops it too.
        effects.push(claim_effect(key, group, consumer, *id, now, 1, last));
    }
    record_claims(ctx, key, effects, new_consumer);
    Reply::Array(vec![
        id_reply(res.next),
        Reply::Array(claimed),
        Reply::Array(res.deleted.iter().map(|id| id_reply(*id)).collect()),
    ])
}

// ---------------------------------------------------------------------------
// XINFO

fn xinfo_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    const LINES: &[&str] = &[
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(LINES.iter().map(|l| Reply::status(l)).collect())
}

fn st(s: &'static str) -> Reply {
    Reply::Bulk(b(s))
}

fn opt_int(v: Option<i64>) -> Reply {
    v.map(Reply::Int).unwrap_or(Reply::Null)
}

fn entries_read_reply(n: i64) -> Reply {
    if n == INVALID_ENTRIES_READ {
        Reply::Null
    } else {
        Reply::Int(n)
    }
}

/// `radix-tree-nodes`: Redis counts the internal nodes of its radix tree, which this layout
/// does not have.
// DEVIATION(redis): an estimate (keys + 1), not Redis's exact internal node count.
fn radix_nodes(s: &Stream) -> i64 {
    s.node_count() as i64 + 1
}

// XINFO STREAM key [FULL [COUNT count]]
/// XINFO STREAM's fields for a retention policy (FMQ.RETENTION), only on a stream that has
/// one: a plain stream keeps Redis's exact reply.
fn retention_fields(s: &Stream) -> Vec<(Reply, Reply)> {
    let Some(r) = s.retention() else {
        return Vec::new();
    };
    vec![
        (st("retention-maxlen"), Reply::Int(r.maxlen as i64)),
        (st("retention-maxage-ms"), Reply::Int(r.maxage_ms as i64)),
        (st("retention-maxbytes"), Reply::Int(r.maxbytes as i64)),
        (
            st("retention-refs"),
            Reply::bulk_str(&String::from_utf8_lossy(r.refs.token()).to_ascii_lowercase()),
        ),
    ]
}

/// XINFO GROUPS' (and XINFO STREAM FULL's) fields for a group's broker policy
/// (FMQ.GROUPSET), only on a group that has one.
fn policy_fields(g: &crate::store::stream::Group) -> Vec<(Reply, Reply)> {
    let Some(p) = g.policy() else {
        return Vec::new();
    };
    vec![
        (st("visibility-ms"), Reply::Int(p.visibility_ms as i64)),
        (st("max-deliveries"), Reply::Int(p.max_deliveries as i64)),
        (
            st("dead-letter"),
            p.dead_letter.clone().map_or(Reply::Null, Reply::Bulk),
        ),
        (
            st("order-by"),
            p.order_by.clone().map_or(Reply::Null, Reply::Bulk),
        ),
    ]
}

fn xinfo_stream(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    // The key is looked up before the options are checked.
    if tri!(stream_mut(ctx.db(), &args[2])).is_none() {
        return Reply::error(error::NO_SUCH_KEY);
    }
    let mut full = false;
    let mut count: i64 = 10;
    if args.len() > 3 {
        if args.len() != 4 && args.len() != 6 {
            return subcommand_syntax(&args[1], "XINFO");
        }
        if !is(&args[3], "full") || (args.len() == 6 && !is(&args[4], "count")) {
            return subcommand_syntax(&args[1], "XINFO");
        }
        full = true;
        if args.len() > 4 {
            count = tri!(int_arg(&args[5]));
            if count < 0 {
                count = 10;
            }
        }
    }
    let s = match tri!(stream_mut(ctx.db(), &args[2])) {
        Some(s) => s,
        None => return Reply::error(error::NO_SUCH_KEY),
    };
    let mut m = vec![
        (st("length"), Reply::Int(s.len() as i64)),
        (st("radix-tree-keys"), Reply::Int(s.node_count() as i64)),
        (st("radix-tree-nodes"), Reply::Int(radix_nodes(s))),
        (st("last-generated-id"), id_reply(s.last_id())),
        (
            st("max-deleted-entry-id"),
            id_reply(s.max_deleted_entry_id()),
        ),
        (st("entries-added"), Reply::Int(s.entries_added() as i64)),
        (st("recorded-first-entry-id"), id_reply(s.first_id())),
    ];
    // Redis 8.6's idempotent production fields, once the stream uses it.
    // DEVIATION(redis): Redis 8.6+ shows them on every stream; here a stream that never used
    // IDMP keeps Redis 7.0's exact reply.
    if let Some(idmp) = s.idmp() {
        let (pids, iids) = idmp.tracked(now_ms());
        m.push((st("idmp-duration"), Reply::Int(idmp.duration as i64)));
        m.push((st("idmp-maxsize"), Reply::Int(idmp.maxsize as i64)));
        m.push((st("pids-tracked"), Reply::Int(pids as i64)));
        m.push((st("iids-tracked"), Reply::Int(iids as i64)));
        m.push((st("iids-added"), Reply::Int(idmp.added as i64)));
        m.push((st("iids-duplicates"), Reply::Int(idmp.duplicates as i64)));
    }
    m.extend(retention_fields(s));
    if !full {
        m.push((st("groups"), Reply::Int(s.groups().len() as i64)));
        m.push((
            st("first-entry"),
            s.first_entry()
                .map(|e| entry_reply(&e))
                .unwrap_or(Reply::Null),
        ));
        m.push((
            st("last-entry"),
            s.last_entry()
                .map(|e| entry_reply(&e))
                .unwrap_or(Reply::Null),
        ));
        return Reply::Map(m);
    }
    let take = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    let entries: Vec<Reply> = s
        .range(StreamId::MIN, StreamId::MAX)
        .take(take)
        .map(|e| entry_reply(&e))
        .collect();
    m.push((st("entries"), Reply::Array(entries)));
    let mut groups = Vec::new();
    for (name, g) in s.groups() {
        let pel: Vec<Reply> = g
            .pending_entries()
            .take(take)
            .map(|(id, p)| {
                Reply::Array(vec![
                    id_reply(id),
                    Reply::Bulk(p.consumer.clone()),
                    Reply::Int(p.delivery_time as i64),
                    Reply::Int(p.delivery_count as i64),
                ])
            })
            .collect();
        let consumers: Vec<Reply> = g
            .consumers()
            .iter()
            .map(|(cn, c)| {
                let cpel: Vec<Reply> = c
                    .pel
                    .iter()
                    .take(take)
                    .filter_map(|id| g.pending(*id).map(|p| (id, p)))
                    .map(|(id, p)| {
                        Reply::Array(vec![
                            id_reply(*id),
                            Reply::Int(p.delivery_time as i64),
                            Reply::Int(p.delivery_count as i64),
                        ])
                    })
                    .collect();
                Reply::Map(vec![
                    (st("name"), Reply::Bulk(cn.clone())),
                    (st("seen-time"), Reply::Int(c.seen_time as i64)),
                    (st("pel-count"), Reply::Int(c.pel.len() as i64)),
                    (st("pending"), Reply::Array(cpel)),
                ])
            })
            .collect();
        let mut fields = vec![
            (st("name"), Reply::Bulk(name.clone())),
            (st("last-delivered-id"), id_reply(g.last_id)),
            (st("entries-read"), entries_read_reply(g.entries_read)),
            (st("lag"), opt_int(s.lag(g))),
            (st("pel-count"), Reply::Int(g.pending_len() as i64)),
            (st("pending"), Reply::Array(pel)),
            (st("consumers"), Reply::Array(consumers)),
        ];
        // Redis 8.8's XNACK zone size, once the stream has seen an XNACK.
        // DEVIATION(redis): Redis 8.8 shows it for every group of every stream.
        if s.nack_used() {
            fields.push((st("nacked-count"), Reply::Int(g.nacked_len() as i64)));
        }
        fields.extend(policy_fields(g));
        groups.push(Reply::Map(fields));
    }
    m.push((st("groups"), Reply::Array(groups)));
    Reply::Map(m)
}

// XINFO GROUPS key
fn xinfo_groups(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let s = match tri!(stream_mut(ctx.db(), &args[2])) {
        Some(s) => s,
        None => return Reply::error(error::NO_SUCH_KEY),
    };
    Reply::Array(
        s.groups()
            .iter()
            .map(|(name, g)| {
                let mut fields = vec![
                    (st("name"), Reply::Bulk(name.clone())),
                    (st("consumers"), Reply::Int(g.consumers().len() as i64)),
                    (st("pending"), Reply::Int(g.pending_len() as i64)),
                    (st("last-delivered-id"), id_reply(g.last_id)),
                    (st("entries-read"), entries_read_reply(g.entries_read)),
                    (st("lag"), opt_int(s.lag(g))),
                ];
                fields.extend(policy_fields(g));
                Reply::Map(fields)
            })
            .collect(),
    )
}

// XINFO CONSUMERS key group
fn xinfo_consumers(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let s = match tri!(stream_mut(ctx.db(), &args[2])) {
        Some(s) => s,
        None => return Reply::error(error::NO_SUCH_KEY),
    };
    let Some(g) = s.group(&args[3]) else {
        return nogroup_for_key(&args[3], &args[2]);
    };
    let now = now_ms() as i64;
    Reply::Array(
        g.consumers()
            .iter()
            .map(|(name, c)| {
                Reply::Map(vec![
                    (st("name"), Reply::Bulk(name.clone())),
                    (st("pending"), Reply::Int(c.pel.len() as i64)),
                    (st("idle"), Reply::Int((now - c.seen_time as i64).max(0))),
                ])
            })
            .collect(),
    )
}

fn container(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::error(error::SYNTAX)
}

const XGROUP_SUBS: &[CommandSpec] = &[
    CommandSpec::new("create", -5, WRITE | DENYOOM, xgroup_create)
        .keys(2, 2, 1)
        .group("stream")
        .doc("Create a consumer group.", "5.0.0"),
    CommandSpec::new("createconsumer", 5, WRITE | DENYOOM, xgroup_createconsumer)
        .keys(2, 2, 1)
        .group("stream")
        .doc("Create a consumer in a consumer group.", "6.2.0"),
    CommandSpec::new("delconsumer", 5, WRITE, xgroup_delconsumer)
        .keys(2, 2, 1)
        .group("stream")
        .doc("Delete a consumer from a consumer group.", "5.0.0"),
    CommandSpec::new("destroy", 4, WRITE, xgroup_destroy)
        .keys(2, 2, 1)
        .group("stream")
        .doc("Destroy a consumer group.", "5.0.0"),
    CommandSpec::new("setid", -5, WRITE, xgroup_setid)
        .keys(2, 2, 1)
        .group("stream")
        .doc("Set the last-delivered ID of a consumer group.", "5.0.0"),
    CommandSpec::new("help", 2, LOADING | STALE, xgroup_help)
        .group("stream")
        .doc(
            "Show helpful text about the different subcommands.",
            "5.0.0",
        ),
];

const XINFO_SUBS: &[CommandSpec] = &[
    CommandSpec::new("consumers", 4, READONLY, xinfo_consumers)
        .keys(2, 2, 1)
        .group("stream")
        .doc(
            "Return a list of the consumers in a consumer group.",
            "5.0.0",
        ),
    CommandSpec::new("groups", 3, READONLY, xinfo_groups)
        .keys(2, 2, 1)
        .group("stream")
        .doc("Return a list of the consumer groups of a stream.", "5.0.0"),
    CommandSpec::new("stream", -3, READONLY, xinfo_stream)
        .keys(2, 2, 1)
        .group("stream")
        .doc("Return information about a stream.", "5.0.0"),
    CommandSpec::new("help", 2, LOADING | STALE, xinfo_help)
        .group("stream")
        .doc(
            "Show helpful text about the different subcommands.",
            "5.0.0",
        ),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, WRITE | DENYOOM | FAST, xadd)
        .keys(1, 1, 1)
        .group("stream")
        .doc("Append a new entry to a stream.", "5.0.0"),
    CommandSpec::new("xlen", 2, READONLY | FAST, xlen)
        .keys(1, 1, 1)
        .group("stream")
        .doc("Return the number of entries in a stream.", "5.0.0"),
    CommandSpec::new("xrange", -4, READONLY, xrange)
        .keys(1, 1, 1)
        .group("stream")
        .doc("Return a range of entries in a stream.", "5.0.0"),
    CommandSpec::new("xrevrange", -4, READONLY, xrevrange)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Return a range of entries in a stream in reverse order.",
            "5.0.0",
        ),
    CommandSpec::new("xdel", -3, WRITE | FAST, xdel)
        .keys(1, 1, 1)
        .group("stream")
        .doc("Delete entries from a stream.", "5.0.0"),
    CommandSpec::new("xdelex", -5, WRITE | FAST, xdelex)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Deletes one or multiple entries from the stream.",
            "8.2.0",
        ),
    CommandSpec::new("xackdel", -6, WRITE | FAST, xackdel)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Acknowledges and conditionally deletes one or multiple entries for a stream consumer group.",
            "8.2.0",
        ),
    CommandSpec::new("fmq.groupset", -3, WRITE | DENYOOM, fmq_groupset)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Set a consumer group's broker policy: visibility timeout, maximum deliveries, dead-letter stream.",
            "ferrymq",
        ),
    CommandSpec::new("fmq.leave", 4, WRITE, fmq_leave)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Remove a consumer, handing its pending entries back to the group.",
            "ferrymq",
        ),
    CommandSpec::new("fmq.retention", -2, WRITE, fmq_retention)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Set or read a stream's retention policy: the server trims by count and age.",
            "ferrymq",
        ),
    CommandSpec::new("fmq.groupget", 3, READONLY, fmq_groupget)
        .keys(1, 1, 1)
        .group("stream")
        .doc("Return a consumer group's broker policy.", "ferrymq"),
    CommandSpec::new("fmq.redrive", -2, WRITE | DENYOOM, fmq_redrive)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Move dead-lettered entries back to the streams they came from.",
            "ferrymq",
        ),
    CommandSpec::new("xcfgset", -2, WRITE | FAST, xcfgset)
        .keys(1, 1, 1)
        .group("stream")
        .doc("Sets the IDMP configuration parameters for a stream.", "8.6.0"),
    CommandSpec::new("xnack", -7, WRITE | FAST, xnack)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Releases pending messages back to the group's PEL without acknowledging them, making them available for re-delivery.",
            "8.8.0",
        ),
    CommandSpec::new("fmq.idmp", -3, WRITE, fmq_idmp)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Rebuild a stream's idempotent production state (replayed from the AOF).",
            "ferrymq",
        ),
    CommandSpec::new("xtrim", -4, WRITE, xtrim)
        .keys(1, 1, 1)
        .group("stream")
        .doc("Delete entries from the beginning of a stream.", "5.0.0"),
    CommandSpec::new("xsetid", -3, WRITE | DENYOOM | FAST, xsetid)
        .keys(1, 1, 1)
        .group("stream")
        .doc("Set the last ID of a stream.", "5.0.0"),
    CommandSpec::new("xread", -4, READONLY | BLOCKING | MOVABLEKEYS, xread)
        .keys(0, 0, 0)
        .group("stream")
        .doc("Return new entries from multiple streams.", "5.0.0"),
    CommandSpec::new("xreadgroup", -7, WRITE | BLOCKING | MOVABLEKEYS, xreadgroup)
        .keys(0, 0, 0)
        .group("stream")
        .doc(
            "Return new or historical entries from a stream for a consumer in a group.",
            "5.0.0",
        ),
    CommandSpec::new("xack", -4, WRITE | FAST, xack)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Acknowledge entries of a consumer group's pending list.",
            "5.0.0",
        ),
    CommandSpec::new("xpending", -3, READONLY, xpending)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Return information about the pending entries of a consumer group.",
            "5.0.0",
        ),
    CommandSpec::new("xclaim", -6, WRITE | FAST, xclaim)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Change the ownership of entries in a consumer group's pending list.",
            "5.0.0",
        ),
    CommandSpec::new("xautoclaim", -6, WRITE | FAST, xautoclaim)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Transfer idle pending entries to another consumer.",
            "6.2.0",
        ),
    CommandSpec::new("xgroup", -2, 0, container)
        .group("stream")
        .doc("A container for consumer group commands.", "5.0.0")
        .subs(XGROUP_SUBS),
    CommandSpec::new("xinfo", -2, 0, container)
        .group("stream")
        .doc("A container for stream introspection commands.", "5.0.0")
        .subs(XINFO_SUBS),
];
