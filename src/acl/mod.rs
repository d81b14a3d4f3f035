//! Access control: users, passwords, and the permission check dispatch runs, reproducing
//! Redis 7.0's ACL (without selectors).
//!
//! # API
//! - [`Acl::new`] at startup: the `default` user, `requirepass`, then the `user` directives or
//!   the `aclfile`.
//! - [`Acl::authenticate`] for AUTH/HELLO: constant-time password check; failures are logged.
//! - [`check`]: called by dispatch right after the NOAUTH check, only while
//!   [`Acl::restricted`] is true (some user has limits), so a server with only the
//!   unrestricted default user pays one atomic load per command. Returns the NOPERM error and
//!   records the denial in the ACL LOG.
//! - The ACL command (`command::acl`) edits users through [`Acl::users`] and calls
//!   [`Acl::refresh`] afterwards.
//!
//! Clients hold an `Arc` of their user's cell ([`UserRef`]), so ACL SETUSER changes apply to
//! connected clients at their next command, as in Redis; ACL DELUSER kills them.
//!
//! The command universe is every Redis 7.0 command and subcommand (`commands.tsv` and
//! `categories.tsv`, taken from redis-server 7.0.15's COMMAND output): rules naming commands
//! ferrymq does not implement are accepted and described exactly as Redis does.

pub mod user;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::command::CommandEntry;
use crate::config::Config;
use crate::connection::ClientState;
use crate::protocol::Reply;
use crate::server::Shared;
pub use user::{RuleError, User};

/// Redis 7.0's categories, in the order ACL CAT lists them (and descriptions try them).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

const CATEGORIES_TSV: &str = include_str!("categories.tsv");
const COMMANDS_TSV: &str = include_str!("commands.tsv");
const KEYSPEC_NOTES_TSV: &str = include_str!("keyspec_notes.tsv");
const COMMAND_TIPS_TSV: &str = include_str!("command_tips.tsv");

#[derive(Debug, Clone, Copy)]
enum BeginSearch {
    Index(i32),
    Keyword(&'static str, i32),
    Unknown,
}

#[derive(Debug, Clone, Copy)]
enum FindKeys {
    Range { last: i32, step: i32, limit: i32 },
    KeyNum { idx: i32, first: i32, step: i32 },
    Unknown,
}

/// A Redis key specification: where the keys are and what the command does with them.
#[derive(Debug, Clone, Copy)]
struct KeySpec {
    /// `user::READ` / `user::WRITE` needed on each key.
    perm: u8,
    /// The spec's flags as `commands.tsv` spells them (`rw,access,update`).
    flags: &'static str,
    begin: BeginSearch,
    find: FindKeys,
}

pub struct Cmd {
    /// `name` or `container|sub`.
    pub name: &'static str,
    pub arity: i32,
    pub no_auth: bool,
    pub categories: u32,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    keyspecs: Vec<KeySpec>,
    /// The key specs as `commands.tsv` spells them (`flags:begin_search:find_keys;...`), for
    /// COMMAND INFO.
    raw_specs: &'static str,
}

/// Every Redis 7.0 command and subcommand, by id.
pub struct Universe {
    pub cmds: Vec<Cmd>,
    by_name: HashMap<&'static str, usize>,
}

impl Universe {
    pub fn len(&self) -> usize {
        self.cmds.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }
    /// Lookup of a name already in lowercase (a table entry's `full_name`): no allocation.
    pub fn lookup_lower(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// `name` or `container|sub`, case-insensitive.
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let lower = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        self.by_name.get(lower.as_str()).copied()
    }
}

fn parse_keyspec(s: &'static str) -> Option<KeySpec> {
    let mut parts = s.splitn(3, ':');
    let flags = parts.next()?;
    let begin = parts.next()?;
    let find = parts.next()?;
    let mut perm = 0;
    for f in flags.split(',') {
        match f {
            "not_key" => return None,
            "access" => perm |= user::READ,
            "insert" | "delete" | "update" => perm |= user::WRITE,
            _ => {}
        }
    }
    let nums = |t: &str| -> Vec<i32> { t.split(',').filter_map(|n| n.parse().ok()).collect() };
    let begin = match begin.as_bytes().first() {
        Some(b'i') => BeginSearch::Index(begin[1..].parse().ok()?),
        Some(b'k') => {
            let (kw, from) = begin[1..].rsplit_once(',')?;
            BeginSearch::Keyword(kw, from.parse().ok()?)
        }
        _ => BeginSearch::Unknown,
    };
    let find = match (find.as_bytes().first(), nums(&find[1..]).as_slice()) {
        (Some(b'r'), [last, step, limit]) => FindKeys::Range {
            last: *last,
            step: *step,
            limit: *limit,
        },
        (Some(b'n'), [idx, first, step]) => FindKeys::KeyNum {
            idx: *idx,
            first: *first,
            step: *step,
        },
        _ => FindKeys::Unknown,
    };
    Some(KeySpec {
        perm,
        flags,
        begin,
        find,
    })
}

pub fn universe() -> &'static Universe {
    static U: OnceLock<Universe> = OnceLock::new();
    U.get_or_init(|| {
        let mut cats: HashMap<&str, u32> = HashMap::new();
        for line in CATEGORIES_TSV.lines() {
            let Some((name, list)) = line.split_once('\t') else {
                continue;
            };
            let mut bits = 0;
            for c in list.split(' ') {
                if let Some(i) = CATEGORIES.iter().position(|x| *x == c) {
                    bits |= 1 << i;
                }
            }
            cats.insert(name, bits);
        }
        let mut cmds = Vec::new();
        let mut by_name = HashMap::new();
        for line in COMMANDS_TSV.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&'static str> = line.split('\t').collect();
            if f.len() < 4 {
                continue;
            }
            let id = cmds.len();
            let parent = f[0]
                .split_once('|')
                .and_then(|(p, _)| by_name.get(p).copied());
            cmds.push(Cmd {
                name: f[0],
                arity: f[1].parse().unwrap_or(0),
                no_auth: f[2] == "no_auth",
                categories: cats.get(f[0]).copied().unwrap_or(0),
                parent,
                children: Vec::new(),
                keyspecs: f[3].split(';').filter_map(parse_keyspec).collect(),
                raw_specs: f[3],
            });
            if let Some(p) = parent {
                cmds[p].children.push(id);
            }
            by_name.insert(f[0], id);
        }
        Universe { cmds, by_name }
    })
}

/// COMMAND INFO's key specifications of `full_name` (lowercase), as Redis 7.0 replies them:
/// per spec an optional `notes`, then `flags`, `begin_search` and `find_keys`.
pub fn key_specs_reply(full_name: &str) -> Vec<Reply> {
    let uni = universe();
    let Some(cmd) = uni.lookup_lower(full_name).map(|i| &uni.cmds[i]) else {
        return Vec::new();
    };
    if cmd.raw_specs == "-" || cmd.raw_specs.is_empty() {
        return Vec::new();
    }
    let field = |k: &str, v: Reply| (Reply::bulk_str(k), v);
    let int = |s: &str| Reply::Int(s.trim().parse().unwrap_or(0));
    let typed = |t: &str, spec: Vec<(Reply, Reply)>| {
        Reply::Map(vec![
            field("type", Reply::bulk_str(t)),
            field("spec", Reply::Map(spec)),
        ])
    };
    cmd.raw_specs
        .split(';')
        .enumerate()
        .map(|(i, raw)| {
            let mut parts = raw.splitn(3, ':');
            let (flags, begin, find) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or("u"),
                parts.next().unwrap_or("u"),
            );
            let mut out = Vec::with_capacity(4);
            if let Some(note) = keyspec_note(full_name, i) {
                out.push(field("notes", Reply::bulk_str(note)));
            }
            let flags = flags
                .split(',')
                .filter(|f| !f.is_empty())
                .map(|f| match f {
                    "ro" | "rw" | "ow" | "rm" => Reply::Status(f.to_ascii_uppercase().into()),
                    other => Reply::Status(other.into()),
                })
                .collect();
            out.push(field("flags", Reply::Set(flags)));
            let begin = if let Some(i) = begin.strip_prefix('i') {
                typed("index", vec![field("index", int(i))])
            } else if let Some(k) = begin.strip_prefix('k') {
                let (kw, from) = k.rsplit_once(',').unwrap_or((k, "0"));
                typed(
                    "keyword",
                    vec![
                        field("keyword", Reply::bulk_str(kw)),
                        field("startfrom", int(from)),
                    ],
                )
            } else {
                typed("unknown", vec![])
            };
            out.push(field("begin_search", begin));
            let nums = |s: &'static str| -> Vec<&'static str> { s.split(',').collect() };
            let find = if let Some(r) = find.strip_prefix('r') {
                let n = nums(r);
                typed(
                    "range",
                    vec![
                        field("lastkey", int(n.first().copied().unwrap_or("0"))),
                        field("keystep", int(n.get(1).copied().unwrap_or("0"))),
                        field("limit", int(n.get(2).copied().unwrap_or("0"))),
                    ],
                )
            } else if let Some(k) = find.strip_prefix('n') {
                let n = nums(k);
                typed(
                    "keynum",
                    vec![
                        field("keynumidx", int(n.first().copied().unwrap_or("0"))),
                        field("firstkey", int(n.get(1).copied().unwrap_or("0"))),
                        field("keystep", int(n.get(2).copied().unwrap_or("0"))),
                    ],
                )
            } else {
                typed("unknown", vec![])
            };
            out.push(field("find_keys", find));
            Reply::Map(out)
        })
        .collect()
}

fn keyspec_note(full_name: &str, index: usize) -> Option<&'static str> {
    KEYSPEC_NOTES_TSV
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            Some((f.next()?, f.next()?, f.next()?))
        })
        .find(|(n, i, _)| *n == full_name && i.parse() == Ok(index))
        .map(|(_, _, note)| note)
}

/// COMMAND INFO's tips of `full_name` (lowercase), as Redis 7.0 lists them.
pub fn command_tips(full_name: &str) -> Vec<&'static str> {
    COMMAND_TIPS_TSV
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (n, tips) = l.split_once('\t')?;
            (n == full_name).then(|| tips.split(' ').collect())
        })
        .unwrap_or_default()
}

/// COMMAND GETKEYS: the key positions of `argv` for the command `full_name` (lowercase, as in
/// the command table) by its key specs; None when the command has no key specs.
pub fn key_positions(full_name: &str, argv: &[Bytes]) -> Option<Vec<usize>> {
    let uni = universe();
    let cmd = &uni.cmds[uni.lookup_lower(full_name)?];
    if cmd.keyspecs.is_empty() {
        return None;
    }
    Some(
        keys_of(cmd, argv)
            .into_iter()
            .map(|(pos, _, _)| pos)
            .collect(),
    )
}

/// COMMAND GETKEYSANDFLAGS: each key position with its spec's flags as Redis replies them
/// (`RW`, `access`, ...); None when the command has no key specs.
pub fn keys_and_flags(full_name: &str, argv: &[Bytes]) -> Option<Vec<(usize, Vec<String>)>> {
    let uni = universe();
    let cmd = &uni.cmds[uni.lookup_lower(full_name)?];
    if cmd.keyspecs.is_empty() {
        return None;
    }
    let shown = |flags: &str| -> Vec<String> {
        flags
            .split(',')
            .filter(|f| !f.is_empty())
            .map(|f| match f {
                "ro" | "rw" | "ow" | "rm" => f.to_ascii_uppercase(),
                other => other.to_string(),
            })
            .collect()
    };
    Some(
        keys_of(cmd, argv)
            .into_iter()
            .map(|(pos, _, flags)| (pos, shown(variable_flags(cmd.name, argv, flags))))
            .collect(),
    )
}

/// The flags of SET and BITFIELD depend on their arguments (`variable_flags`), decided as
/// Redis's `setGetKeys` / `bitfieldGetKeys` do.
fn variable_flags(name: &str, argv: &[Bytes], flags: &'static str) -> &'static str {
    if !flags.contains("variable_flags") {
        return flags;
    }
    match name {
        "set" => {
            if argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
                "rw,access,update"
            } else {
                "ow,update"
            }
        }
        "bitfield" => {
            let mut i = 2;
            let mut readonly = true;
            while i < argv.len() {
                let rem = argv.len() - i - 1;
                let a = &argv[i];
                if a.eq_ignore_ascii_case(b"get") && rem >= 2 {
                    i += 2;
                } else if a.eq_ignore_ascii_case(b"overflow") && rem >= 1 {
                    i += 1;
                } else {
                    // SET/INCRBY, or a syntax error: assume it writes.
                    readonly = false;
                    break;
                }
                i += 1;
            }
            if readonly {
                "ro,access"
            } else {
                "rw,access,update"
            }
        }
        _ => flags,
    }
}

/// Key positions and the permission each needs (Redis's `getKeysUsingKeySpecs`): an invalid
/// spec (missing key count, out of range) means no keys at all, as Redis returns.
fn keys_of(cmd: &Cmd, argv: &[Bytes]) -> Vec<(usize, u8, &'static str)> {
    if cmd.name == "sort" {
        return sort_keys(argv);
    }
    if cmd.name == "migrate" {
        return migrate_keys(argv);
    }
    let argc = argv.len() as i64;
    let mut out = Vec::new();
    for spec in &cmd.keyspecs {
        let first: i64 = match spec.begin {
            BeginSearch::Index(i) => i as i64,
            BeginSearch::Keyword(kw, from) => {
                let from = from as i64;
                let (start, end) = if from > 0 {
                    (from, argc - 1)
                } else {
                    (argc + from, 1)
                };
                let mut found = 0;
                let mut i = start;
                loop {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if argv[i as usize].eq_ignore_ascii_case(kw.as_bytes()) {
                        found = i + 1;
                        break;
                    }
                    if i == end {
                        break;
                    }
                    i += if start <= end { 1 } else { -1 };
                }
                if found == 0 {
                    continue;
                }
                found
            }
            BeginSearch::Unknown => continue,
        };
        let (mut first, last, step) = match spec.find {
            FindKeys::Range { last, step, limit } => {
                let last = last as i64;
                let l = if last >= 0 {
                    first + last
                } else if limit == 0 {
                    argc + last
                } else {
                    first + ((argc - first) / limit as i64 + last)
                };
                (first, l, step as i64)
            }
            FindKeys::KeyNum {
                idx,
                first: f,
                step,
            } => {
                let at = first + idx as i64;
                if at >= argc {
                    return vec![];
                }
                let Some(n) = crate::protocol::request::parse_i64(&argv[at as usize])
                    .filter(|n| *n >= 0 && *n <= argc)
                else {
                    return vec![];
                };
                let f0 = first + f as i64;
                (f0, f0 + n - 1, step as i64)
            }
            FindKeys::Unknown => continue,
        };
        if last >= argc || last < first || first >= argc || step <= 0 {
            return vec![];
        }
        while first <= last {
            out.push((first as usize, spec.perm, spec.flags));
            first += step;
        }
    }
    out
}

/// SORT's keys as Redis's `sortGetKeys` finds them (its key specs cannot): the sorted key, read,
/// and the destination of the last STORE, written. Unknown words are taken for options without
/// arguments, LIMIT skips two, GET and BY one; a STORE's destination is scanned as a word too.
/// MIGRATE's keys, found as Redis's `migrateGetKeys` finds them: the key argument, or with
/// `KEYS` (and an empty key argument) everything after it, skipping AUTH/AUTH2's values.
fn migrate_keys(argv: &[Bytes]) -> Vec<(usize, u8, &'static str)> {
    let (mut first, mut num) = (3, 1);
    let mut i = 6;
    while i < argv.len() {
        let a = &argv[i];
        if a.eq_ignore_ascii_case(b"keys") {
            if argv[3].is_empty() {
                first = i + 1;
                num = argv.len() - first;
            } else {
                num = 0;
            }
            break;
        }
        if a.eq_ignore_ascii_case(b"auth") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"auth2") {
            i += 2;
        }
        i += 1;
    }
    (first..first + num)
        .filter(|&p| p < argv.len())
        .map(|p| (p, user::READ | user::WRITE, "rw,access,delete"))
        .collect()
}

fn sort_keys(argv: &[Bytes]) -> Vec<(usize, u8, &'static str)> {
    let mut keys = vec![(1, user::READ, "ro,access")];
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < argv.len() {
            store = Some(i + 1);
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        }
        i += 1;
    }
    keys.extend(store.map(|at| (at, user::WRITE, "ow,update")));
    keys
}

/// Channel arguments of the pub/sub commands: (position, is a pattern). Unsubscribing is not
/// checked, as in Redis.
fn channels_of(name: &str, argc: usize) -> Option<(std::ops::Range<usize>, bool)> {
    match name {
        "publish" | "spublish" => Some((1..2.min(argc), false)),
        "subscribe" | "ssubscribe" => Some((1..argc, false)),
        "psubscribe" => Some((1..argc, true)),
        _ => None,
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    /// Index of the refused key in argv.
    Key(usize),
    /// Index of the refused channel in argv.
    Channel(usize),
}

/// Redis's `ACLSelectorCheckCmd` for the command `id` (None: a command outside Redis's table,
/// allowed only with `allcommands`).
pub fn check_user(
    u: &User,
    id: Option<usize>,
    no_auth: bool,
    argv: &[Bytes],
) -> Result<(), Denied> {
    let uni = universe();
    if !u.allcommands && !no_auth {
        let id = id.ok_or(Denied::Command)?;
        if !u.bit(id) {
            let allowed = match (argv.len() >= 2, u.firstargs(id)) {
                (true, Some(args)) => {
                    let idx = if uni.cmds[id].parent.is_some() { 2 } else { 1 };
                    argv.get(idx)
                        .is_some_and(|a| args.iter().any(|x| x.eq_ignore_ascii_case(a)))
                }
                _ => false,
            };
            if !allowed {
                return Err(Denied::Command);
            }
        }
    }
    let Some(id) = id else { return Ok(()) };
    let cmd = &uni.cmds[id];
    if !u.allkeys && !cmd.keyspecs.is_empty() {
        for (pos, perm, _) in keys_of(cmd, argv) {
            let key = &argv[pos];
            let ok = u.keys.iter().any(|p| {
                p.flags & perm == perm && crate::pubsub::glob::glob_match(&p.pattern, key, false)
            });
            if !ok {
                return Err(Denied::Key(pos));
            }
        }
    }
    if !u.allchannels
        && let Some((range, pattern)) = channels_of(cmd.name, argv.len())
    {
        for pos in range {
            if !channel_allowed(u, &argv[pos], pattern) {
                return Err(Denied::Channel(pos));
            }
        }
    }
    Ok(())
}

/// May `u` use the channel `name` (publish, subscribe), or with `pattern`, subscribe to the
/// pattern `name`? A pattern subscription must equal one of the user's patterns literally.
pub fn channel_allowed(u: &User, name: &[u8], pattern: bool) -> bool {
    u.allchannels
        || u.channels.iter().any(|p| {
            if pattern {
                p == name
            } else {
                crate::pubsub::glob::glob_match(p, name, false)
            }
        })
}

/// Did a user whose channel rules were (`all_before`, `before`) lose any channel permission
/// with the rules of `after`? Redis's shortcut before scanning subscribers
/// (`ACLKillPubsubClientsIfNeeded`): none lost when `after` allows all channels or keeps every
/// pattern of `before`.
pub fn channels_revoked(all_before: bool, before: &[Bytes], after: &User) -> bool {
    if after.allchannels {
        return false;
    }
    all_before || before.iter().any(|p| !after.channels.contains(p))
}

pub type UserRef = Arc<RwLock<User>>;

/// One ACL LOG entry.
pub struct LogEntry {
    pub count: u64,
    pub reason: &'static str,
    pub context: &'static str,
    pub object: Bytes,
    pub username: Bytes,
    pub ctime_ms: i64,
    pub client_info: String,
}

/// Entries equal in these fields and younger than this are merged (Redis's ACL_LOG_GROUPING_MAX_TIME_DELTA).
const LOG_GROUPING_MS: i64 = 60_000;

pub struct Acl {
    users: RwLock<BTreeMap<Bytes, UserRef>>,
    default: UserRef,
    /// Some user has limits: dispatch must check permissions.
    restricted: AtomicBool,
    /// The default user needs a password (requirepass or ACL): new connections start
    /// unauthenticated.
    default_needs_auth: AtomicBool,
    pub log: Mutex<VecDeque<LogEntry>>,
    /// The requirepass last applied to the default user (re-applied only when it changes).
    requirepass: Mutex<Option<String>>,
    /// `acl-pubsub-default` is `allchannels` (read at startup).
    pub all_channels_default: bool,
}

impl Acl {
    /// The users of a starting server: `default`, `requirepass`, then the `user` directives or
    /// the `aclfile`. Errors are fatal at startup.
    pub fn new(config: &Config) -> Result<Acl, String> {
        let default: UserRef = Arc::new(RwLock::new(User::default_user()));
        let mut users = BTreeMap::new();
        users.insert(Bytes::from_static(b"default"), default.clone());
        let acl = Acl {
            users: RwLock::new(users),
            default,
            restricted: AtomicBool::new(false),
            default_needs_auth: AtomicBool::new(false),
            log: Mutex::new(VecDeque::new()),
            requirepass: Mutex::new(None),
            all_channels_default: config.get("acl-pubsub-default").as_deref()
                == Some("allchannels"),
        };
        acl.apply_requirepass(&config.get("requirepass").unwrap_or_default());
        for line in config.user_lines() {
            let (name, rules) = line.split_first().ok_or("empty user line")?;
            // A user that already exists (`default`) is reset first, as Redis does.
            let existed = acl.get(name.as_bytes()).is_some();
            let u = acl.get_or_create(name.as_bytes());
            let mut g = u.write();
            if existed {
                let _ = g.apply(b"reset", acl.all_channels_default);
            }
            for r in rules {
                // The configuration loader already refused what Redis refuses; unknown
                // commands are ignored at load time, as Redis does.
                let _ = g.apply(r.as_bytes(), acl.all_channels_default);
            }
        }
        let aclfile = config.get("aclfile").unwrap_or_default();
        if !aclfile.is_empty() {
            acl.load_file(&aclfile)
                .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        }
        acl.refresh();
        Ok(acl)
    }

    /// Cheap check for dispatch: false while every user is unrestricted.
    #[inline]
    pub fn restricted(&self) -> bool {
        self.restricted.load(Ordering::Relaxed)
    }

    pub fn default_needs_auth(&self) -> bool {
        self.default_needs_auth.load(Ordering::Relaxed)
    }

    /// Recompute the cached flags after users changed.
    pub fn refresh(&self) {
        let users = self.users.read();
        let restricted = users.values().any(|u| !u.read().unrestricted());
        self.restricted.store(restricted, Ordering::Relaxed);
        let d = self.default.read();
        self.default_needs_auth
            .store(!d.nopass || !d.enabled, Ordering::Relaxed);
    }

    pub fn default_user(&self) -> UserRef {
        self.default.clone()
    }

    pub fn get(&self, name: &[u8]) -> Option<UserRef> {
        self.users.read().get(name).cloned()
    }

    pub fn get_or_create(&self, name: &[u8]) -> UserRef {
        let mut users = self.users.write();
        users
            .entry(Bytes::copy_from_slice(name))
            .or_insert_with(|| {
                Arc::new(RwLock::new(User::new(
                    Bytes::copy_from_slice(name),
                    self.all_channels_default,
                )))
            })
            .clone()
    }

    /// All users, sorted by name.
    pub fn users(&self) -> Vec<UserRef> {
        self.users.read().values().cloned().collect()
    }

    pub fn remove(&self, name: &[u8]) -> Option<UserRef> {
        self.users.write().remove(name)
    }

    /// Replace every user but `default` (kept as the same cell, with the new rules) by `new`.
    pub fn replace_all(&self, new: Vec<User>) {
        let mut users = self.users.write();
        users.retain(|k, _| &k[..] == b"default");
        let mut default_seen = false;
        for u in new {
            if &u.name[..] == b"default" {
                *self.default.write() = u;
                default_seen = true;
            } else {
                users.insert(u.name.clone(), Arc::new(RwLock::new(u)));
            }
        }
        if !default_seen {
            *self.default.write() = User::default_user();
        }
    }

    /// `requirepass` (startup and CONFIG SET): the default user's password, or nopass when
    /// empty. Applied only when the value changes, so ACL SETUSER default survives other
    /// CONFIG SETs.
    pub fn apply_requirepass(&self, pass: &str) {
        let mut last = self.requirepass.lock();
        if last.as_deref() == Some(pass) {
            return;
        }
        *last = Some(pass.to_string());
        {
            let mut d = self.default.write();
            let _ = d.apply(b"resetpass", false);
            if pass.is_empty() {
                let _ = d.apply(b"nopass", false);
            } else {
                let _ = d.apply(format!(">{pass}").as_bytes(), false);
            }
        }
        self.refresh();
    }

    /// AUTH/HELLO credentials: the user when it exists, is on and the password opens it.
    /// Every existing user's check costs one SHA-256 whatever the outcome.
    pub fn authenticate(&self, name: &[u8], pass: &[u8]) -> Option<UserRef> {
        let u = self.get(name)?;
        let ok = {
            let g = u.read();
            let pw = g.password_ok(pass);
            g.enabled && pw
        };
        ok.then_some(u)
    }

    /// Parse an ACL file (Redis's `ACLLoadFromFile`): every non-blank line is
    /// `user <name> <rule>...`. All or nothing: the errors of every line are collected into
    /// Redis's message and nothing is applied.
    pub fn parse_file(&self, path: &str) -> Result<Vec<User>, String> {
        let text = std::fs::read(path).map_err(|e| {
            format!(
                "Error loading ACLs, opening file '{path}': {}",
                strerror(&e)
            )
        })?;
        let mut out: Vec<User> = Vec::new();
        let mut errors = String::new();
        for (n, raw) in text.split(|&c| c == b'\n').enumerate() {
            let n = n + 1;
            let line = String::from_utf8_lossy(raw);
            let line = line.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() {
                continue;
            }
            // Redis splits ACL file lines on single spaces (no quoting).
            let words: Vec<String> = line.split(' ').map(String::from).collect();
            if words.first().map(String::as_str) != Some("user") || words.len() < 2 {
                errors.push_str(&format!(
                    "{path}:{n} should start with user keyword followed by the username. "
                ));
                continue;
            }
            let name = words[1].as_bytes();
            if has_space(name) {
                errors.push_str(&format!(
                    "{path}:{n}: username '{}' contains invalid characters. ",
                    words[1]
                ));
                continue;
            }
            if out.iter().any(|u| &u.name[..] == name) {
                errors.push_str(&format!(
                    "WARNING: Duplicate user '{}' found on line {n}. ",
                    words[1]
                ));
                continue;
            }
            let mut u = User::new(Bytes::copy_from_slice(name), self.all_channels_default);
            let mut reported = false;
            for r in &words[2..] {
                let r = r.trim_matches(['\t', '\r', '\n']);
                match u.apply(r.as_bytes(), self.all_channels_default) {
                    Ok(()) => {}
                    // Unknown names are all reported; other errors only the first, since it
                    // may explain the ones after it.
                    Err(RuleError::Unknown) => errors.push_str(&format!(
                        "{path}:{n}: Error in applying operation '{r}': {}. ",
                        RuleError::Unknown.message()
                    )),
                    Err(e) if !reported => {
                        errors.push_str(&format!("{path}:{n}: {}. ", e.message()));
                        reported = true;
                    }
                    Err(_) => {}
                }
            }
            out.push(u);
        }
        if !errors.is_empty() {
            errors.push_str(
                "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
            );
            return Err(errors);
        }
        Ok(out)
    }

    pub fn load_file(&self, path: &str) -> Result<(), String> {
        let users = self.parse_file(path)?;
        self.replace_all(users);
        self.refresh();
        Ok(())
    }

    /// Write every user, ACL LIST format, to `path` (through a temporary file and a rename).
    pub fn save_file(&self, path: &str) -> std::io::Result<()> {
        let mut text = String::new();
        for u in self.users() {
            text.push_str(&u.read().describe());
            text.push('\n');
        }
        let tmp = format!("{path}.tmp-{}", std::process::id());
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }

    /// Record a denial (Redis's `addACLLogEntry`): merged with an equal recent entry.
    #[allow(clippy::too_many_arguments)]
    pub fn log_denial(
        &self,
        max_len: usize,
        reason: &'static str,
        context: &'static str,
        object: Bytes,
        username: Bytes,
        client_info: String,
    ) {
        let now = crate::store::unix_ms();
        let mut log = self.log.lock();
        if let Some(i) = log.iter().position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now - e.ctime_ms < LOG_GROUPING_MS
        }) {
            let mut e = log.remove(i).expect("found");
            e.count += 1;
            e.ctime_ms = now;
            e.client_info = client_info;
            log.push_front(e);
            return;
        }
        log.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object,
            username,
            ctime_ms: now,
            client_info,
        });
        while log.len() > max_len {
            log.pop_back();
        }
    }
}

fn has_space(s: &[u8]) -> bool {
    s.iter()
        .any(|c| c.is_ascii_whitespace() || *c == 0x0b || *c == 0)
}

/// An I/O error as C's strerror words it (without Rust's " (os error N)").
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The user a client runs as.
pub fn client_user(shared: &Shared, client: &ClientState) -> UserRef {
    match &client.user {
        Some(u) => u.clone(),
        None => shared.acl.default_user(),
    }
}

/// The NOPERM error for a denial, as dispatch sends it.
pub fn noperm_message(d: Denied, entry: &CommandEntry) -> String {
    match d {
        Denied::Command => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            entry.full_name
        ),
        Denied::Key(_) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denied::Channel(_) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .into()
        }
    }
}

/// The CLIENT LIST line of a client, for the ACL LOG. Denials are also logged while the store
/// lock is held (AUTH inside EXEC), so the lock-free variant is used; a client running a command
/// is not blocked.
fn client_info_line(h: &crate::connection::ClientHandle) -> String {
    crate::command::connection::client_line_with(h, false, 0)
}

/// Where a denial happened, as ACL LOG's `context` field names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A command sent by the client (or queued by it inside MULTI).
    Toplevel,
    /// A queued command re-checked when EXEC runs it.
    Multi,
    /// A command run by a script (`redis.call`/`redis.pcall`).
    Lua,
}

/// Record a denial in the ACL LOG with the client's details.
pub fn log(
    shared: &Shared,
    client: &ClientState,
    reason: &'static str,
    object: Bytes,
    username: Bytes,
) {
    let context = if client.multi.is_some() {
        Context::Multi
    } else {
        Context::Toplevel
    };
    log_in(shared, client, context, reason, object, username);
}

fn log_in(
    shared: &Shared,
    client: &ClientState,
    context: Context,
    reason: &'static str,
    object: Bytes,
    username: Bytes,
) {
    let max = shared.config_i64("acllog-max-len").max(0) as usize;
    let context = match context {
        Context::Toplevel => "toplevel",
        Context::Multi => "multi",
        Context::Lua => "lua",
    };
    let info = client_info_line(&client.handle);
    shared
        .acl
        .log_denial(max, reason, context, object, username, info);
}

/// Check `argv` against the client's user; on a denial, log it in `context` and return it.
fn deny(
    shared: &Shared,
    client: &ClientState,
    entry: &CommandEntry,
    argv: &[Bytes],
    context: Option<Context>,
) -> Option<Denied> {
    let (denied, username) = denial(shared, client, entry, argv)?;
    let (reason, object) = match denied {
        Denied::Command => ("command", Bytes::from(entry.full_name.clone())),
        Denied::Key(i) => ("key", Bytes::copy_from_slice(&argv[i])),
        Denied::Channel(i) => ("channel", Bytes::copy_from_slice(&argv[i])),
    };
    match context {
        Some(c) => log_in(shared, client, c, reason, object, username),
        None => log(shared, client, reason, object, username),
    }
    Some(denied)
}

/// Dispatch's permission check: None when `client` may run `argv`, else the error to send
/// (the denial is logged). Called only while [`Acl::restricted`].
pub fn check(
    shared: &Shared,
    client: &ClientState,
    entry: &CommandEntry,
    argv: &[Bytes],
) -> Option<String> {
    let denied = deny(shared, client, entry, argv, None)?;
    // A refused EXEC is worded EXECABORT by dispatch's reject.
    Some(noperm_message(denied, entry))
}

/// EXEC's re-check of each queued command (Redis 7's `execCommand`): the user's rules may have
/// changed since the command was queued. None when it may run, else its reply in the EXEC
/// array (the denial is logged with context `multi`).
pub fn check_at_exec(
    shared: &Shared,
    client: &ClientState,
    entry: &CommandEntry,
    argv: &[Bytes],
) -> Option<String> {
    let reason = match deny(shared, client, entry, argv, Some(Context::Multi))? {
        Denied::Command => "no permission to execute the command or subcommand",
        Denied::Key(_) => "no permission to touch the specified keys",
        Denied::Channel(_) => "no permission to access one of the channels used as arguments",
    };
    Some(format!(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"
    ))
}

/// Whether the client's user may run `argv` (Redis's `ACLCheckAllUserCommandPerm`, for
/// `redis.acl_check_cmd`): nothing is logged.
pub fn allowed(
    shared: &Shared,
    client: &ClientState,
    entry: &CommandEntry,
    argv: &[Bytes],
) -> bool {
    check_quiet(shared, client, entry, argv).is_none()
}

/// The NOPERM error if the client's user may not run `argv`, without logging: for the
/// commands a command makes the server run later or elsewhere (FMQ.SCHEDULE's command, the
/// XADD to a dead-letter stream, FMQ.REDRIVE's XADD back to the source).
pub fn check_quiet(
    shared: &Shared,
    client: &ClientState,
    entry: &CommandEntry,
    argv: &[Bytes],
) -> Option<String> {
    let (denied, _) = denial(shared, client, entry, argv)?;
    Some(noperm_message(denied, entry))
}

/// Why the client's user may not run `argv`, with the user's name; None when it may.
fn denial(
    shared: &Shared,
    client: &ClientState,
    entry: &CommandEntry,
    argv: &[Bytes],
) -> Option<(Denied, Bytes)> {
    let user = client_user(shared, client);
    let g = user.read();
    if g.unrestricted() {
        return None;
    }
    let id = universe().lookup_lower(&entry.full_name);
    let no_auth = entry.has_flag(crate::command::flags::NO_AUTH);
    let denied = check_user(&g, id, no_auth, argv).err()?;
    Some((denied, g.name.clone()))
}

/// [`check_quiet`] of an XADD to `key` (what a dead-letter or redrive target receives).
pub fn check_xadd(shared: &Shared, client: &ClientState, key: &Bytes) -> Option<String> {
    if !shared.acl.restricted() {
        return None;
    }
    let argv = [
        Bytes::from_static(b"XADD"),
        key.clone(),
        Bytes::from_static(b"*"),
        Bytes::from_static(b"f"),
        Bytes::from_static(b"v"),
    ];
    let entry = crate::command::resolve(&argv).ok()?;
    check_quiet(shared, client, entry, &argv)
}

/// The check of a command a script runs (Redis's `scriptVerifyACL`), as the user running the
/// script. None when it may run, else the error `redis.call` raises (the denial is logged with
/// context `lua`).
pub fn check_in_script(
    shared: &Shared,
    client: &ClientState,
    entry: &CommandEntry,
    argv: &[Bytes],
) -> Option<&'static str> {
    Some(
        match deny(shared, client, entry, argv, Some(Context::Lua))? {
            Denied::Command => {
                "ERR The user executing the script can't run this command or subcommand"
            }
            Denied::Key(_) => {
                "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
            }
            Denied::Channel(_) => {
                "ERR The user executing the script can't publish to the channel mentioned in the command"
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &str) -> User {
        let mut u = User::new(Bytes::from_static(b"u"), false);
        for r in rules.split(' ') {
            u.apply(r.as_bytes(), false).unwrap();
        }
        u
    }

    fn run(u: &User, args: &[&str]) -> Result<(), Denied> {
        let argv: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let mut id = universe().lookup(args[0].as_bytes());
        if let Some(i) = id
            && args.len() >= 2
            && !universe().cmds[i].children.is_empty()
        {
            id = universe().lookup(format!("{}|{}", args[0], args[1]).as_bytes());
        }
        let no_auth = id.is_some_and(|i| universe().cmds[i].no_auth);
        check_user(u, id, no_auth, &argv)
    }

    /// Dispatch skips the permission check while every user is unrestricted.
    #[test]
    fn restricted_flag_tracks_users() {
        let acl = Acl::new(&Config::default()).unwrap();
        assert!(!acl.restricted());
        assert!(!acl.default_needs_auth());
        let u = acl.get_or_create(b"app");
        acl.refresh();
        assert!(acl.restricted(), "a new user has no permissions");
        for r in ["+@all", "allkeys", "allchannels"] {
            u.write().apply(r.as_bytes(), false).unwrap();
        }
        acl.refresh();
        assert!(!acl.restricted());
        acl.remove(b"app");
        acl.default_user()
            .write()
            .apply(b"-flushall", false)
            .unwrap();
        acl.refresh();
        assert!(acl.restricted());
        acl.apply_requirepass("pw");
        assert!(acl.default_needs_auth());
        assert!(acl.authenticate(b"default", b"pw").is_some());
        assert!(acl.authenticate(b"default", b"px").is_none());
        assert!(acl.authenticate(b"nouser", b"pw").is_none());
        acl.apply_requirepass("");
        assert!(!acl.default_needs_auth());
    }

    proptest::proptest! {
        /// Key and channel extraction never panics nor reads out of bounds, whatever the
        /// command and arguments.
        #[test]
        fn checks_never_panic(
            cmd in 0usize..366,
            args in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("STREAMS".to_string()),
                    proptest::strategy::Just("KEYS".to_string()),
                    "-?[0-9]{1,3}",
                    "[a-z:*]{0,4}",
                ],
                0..8,
            ),
        ) {
            let uni = universe();
            let id = cmd % uni.len();
            let mut argv: Vec<Bytes> = uni.cmds[id].name.split('|').map(|p| Bytes::from(p.to_string())).collect();
            argv.extend(args.into_iter().map(Bytes::from));
            let u = user("-@all +@read %R~a* &a*");
            let _ = check_user(&u, Some(id), false, &argv);
            let _ = keys_of(&uni.cmds[id], &argv);
        }
    }

    #[test]
    fn universe_matches_redis() {
        let u = universe();
        // Redis 7.0's 366 commands and subcommands, plus Redis 8.2's XDELEX and XACKDEL,
        // Redis 8.6's XCFGSET, Redis 8.8's XNACK and the ten FMQ.* broker commands.
        assert_eq!(u.len(), 366 + 2 + 2 + 10);
        let get = u.lookup(b"GET").unwrap();
        assert_eq!(u.cmds[get].categories, 1 << 1 | 1 << 7 | 1 << 14);
        let cfg = u.lookup(b"config").unwrap();
        assert!(
            u.cmds[cfg]
                .children
                .contains(&u.lookup(b"config|get").unwrap())
        );
    }

    #[test]
    fn keys_by_spec() {
        let u = user("+@all %R~r:* %W~w:* ~rw:*");
        assert_eq!(run(&u, &["get", "r:1"]), Ok(()));
        assert_eq!(run(&u, &["get", "w:1"]), Err(Denied::Key(1)));
        assert_eq!(run(&u, &["set", "r:1", "v"]), Err(Denied::Key(1)));
        assert_eq!(run(&u, &["lpush", "w:1", "v"]), Ok(()));
        assert_eq!(run(&u, &["lpop", "w:1"]), Err(Denied::Key(1)));
        assert_eq!(run(&u, &["lmove", "rw:a", "w:b", "left", "right"]), Ok(()));
        assert_eq!(
            run(&u, &["lmove", "w:b", "rw:a", "left", "right"]),
            Err(Denied::Key(1))
        );
        assert_eq!(run(&u, &["mget", "r:1", "rw:2", "x"]), Err(Denied::Key(3)));
        assert_eq!(
            run(
                &u,
                &["xread", "count", "1", "streams", "r:1", "x", "0", "0"]
            ),
            Err(Denied::Key(5))
        );
        assert_eq!(run(&u, &["xread", "streams", "r:1", "0"]), Ok(()));
        // EXISTS neither reads nor writes the value: any matching pattern will do.
        assert_eq!(run(&u, &["exists", "w:1"]), Ok(()));
        assert_eq!(run(&u, &["exists", "zz"]), Err(Denied::Key(1)));
        // A missing numkeys gives no keys; the command itself reports the error.
        assert_eq!(run(&u, &["zunionstore", "rw:d", "x", "a"]), Ok(()));
    }

    #[test]
    fn commands_and_first_args() {
        let u = user("-@all +@list +config|get +select|0 allkeys");
        assert_eq!(run(&u, &["lpush", "k", "v"]), Ok(()));
        assert_eq!(run(&u, &["get", "k"]), Err(Denied::Command));
        assert_eq!(run(&u, &["config", "get", "x"]), Ok(()));
        assert_eq!(run(&u, &["config", "set", "x", "y"]), Err(Denied::Command));
        assert_eq!(run(&u, &["select", "0"]), Ok(()));
        assert_eq!(run(&u, &["select", "1"]), Err(Denied::Command));
        assert_eq!(run(&u, &["auth", "a", "b"]), Ok(()));
    }

    #[test]
    fn channels() {
        let u = user("+@all allkeys &news.* &exact");
        assert_eq!(run(&u, &["publish", "news.a", "m"]), Ok(()));
        assert_eq!(run(&u, &["publish", "other", "m"]), Err(Denied::Channel(1)));
        assert_eq!(
            run(&u, &["subscribe", "news.x", "exact", "no"]),
            Err(Denied::Channel(3))
        );
        // A pattern subscription must equal one of the user's patterns literally.
        assert_eq!(run(&u, &["psubscribe", "news.*"]), Ok(()));
        assert_eq!(run(&u, &["psubscribe", "news.a"]), Err(Denied::Channel(1)));
        assert_eq!(
            run(&u, &["psubscribe", "news.*", "n*"]),
            Err(Denied::Channel(2))
        );
        assert_eq!(run(&u, &["unsubscribe", "zz"]), Ok(()));
    }
}
