//! Configuration: redis.conf syntax and command-line directives → a typed [`Config`]; the
//! CONFIG GET / SET / REWRITE back end.
//!
//! API, in the order the server uses it:
//! - [`Config::from_args`] at startup: `ferrymq [file.conf] [--directive value ...]`, exactly
//!   like redis-server (the options are appended to the file's text as extra lines, so an error
//!   in `--port x` is reported at "line N" past the end of the file). Its `Err` is the complete
//!   fatal message; print it and exit 1.
//! - [`Config::ignored`] once after startup: directives set explicitly that ferrymq accepts and
//!   keeps but does not act on (RDB, replication, cluster, TLS, encodings, ...).
//! - Typed reads for the core: [`Config::get_i64`], [`Config::get_bool`], [`Config::get`],
//!   [`Config::output_buffer_limit`], [`Config::renamed_commands`],
//!   [`Config::notify_keyspace_events`].
//! - CONFIG GET → [`Config::get_matching`], CONFIG SET → [`Config::set_many`] (all or nothing:
//!   every value is parsed into a copy that replaces `self` only when all succeeded; when the
//!   server then fails to apply them, [`Config::restore_from`] puts the old ones back), CONFIG
//!   REWRITE → [`Config::rewrite`].
//!
//! `dir`: Redis chdir()s when it reads `dir` (and on CONFIG SET dir), so relative paths
//! (appenddirname, logfile, unixsocket) end up relative to it.
//! Parsing never changes the process's working directory (a test binary shares one between
//! all its tests): `get("dir")` is the absolute directory, and the server chdir()s to it at
//! startup (main) and after CONFIG SET dir.
//!
//! Every directive of Redis 7.0 is in [`table::SPECS`] with the type, bounds and default
//! redis-server 7.0.15 reports, so a user's redis.conf works unchanged and every error text is
//! the one Redis prints or replies.

mod acl;
mod parse;
mod rewrite;
mod table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use table::{Kind, NumFmt, SPECS, Special, StrCheck};

use crate::REDIS_VERSION;

/// Keyspace notification classes, as bits of [`Config::notify_keyspace_events`].
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m
    pub const MODULE: u32 = 1 << 12; // d
    pub const NEW: u32 = 1 << 13; // n
    /// What `A` stands for: every type class, but neither `m` nor `n`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// One output buffer class limit: (hard bytes, soft bytes, soft seconds).
type Limit = (u64, u64, u64);

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Bool(bool),
    Str(String),
    Enum(u8),
    Num(i64),
    Save(Vec<(i64, i32)>),
    /// normal, replica, pubsub.
    Obuf([Limit; 3]),
    Oom([i32; 3]),
    Notify(u32),
    Bind(Vec<String>),
    ReplicaOf(Option<(String, i64)>),
    Percentiles(Vec<f64>),
    Dir(String),
}

// DEVIATION(redis): Redis without a config file binds "* -::*"; ferrymq defaults to what the
// shipped redis.conf sets, loopback only (it listens on 127.0.0.1 when ::1 is unavailable).
const DEFAULT_BIND: [&str; 2] = ["127.0.0.1", "-::1"];
const DEFAULT_SAVE: [(i64, i32); 3] = [(3600, 1), (300, 100), (60, 10000)];
const DEFAULT_OBUF: [Limit; 3] = [
    (0, 0, 0),
    (256 << 20, 64 << 20, 60),
    (32 << 20, 8 << 20, 60),
];
const DEFAULT_OOM: [i32; 3] = [0, 200, 800];
const DEFAULT_PERCENTILES: [f64; 3] = [50.0, 99.0, 99.9];
/// Redis's CONFIG_BINDADDR_MAX.
const BINDADDR_MAX: usize = 16;
const HZ_MIN: i64 = 1;
const REPL_BACKLOG_MIN_SIZE: i64 = 16 * 1024;
const HZ_MAX: i64 = 500;

/// The server configuration: one value per directive of [`table::SPECS`].
#[derive(Clone, Debug)]
pub struct Config {
    values: Vec<Value>,
    /// Set by the file or the command line (drives [`Config::ignored`]).
    explicit: Vec<bool>,
    file: Option<PathBuf>,
    renames: Vec<(String, String)>,
    /// Accepted directives outside the table: deprecated ones, `user`, `loadmodule`, ...
    other_ignored: Vec<String>,
    /// `user` lines (without the `user` word), in order, applied by the ACL at startup.
    user_lines: Vec<Vec<String>>,
}

/// Name → (index in SPECS, is the alias), case-insensitive.
fn lookup(name: &str) -> Option<(usize, bool)> {
    static MAP: OnceLock<HashMap<&'static str, (usize, bool)>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        let mut m = HashMap::new();
        for (i, s) in SPECS.iter().enumerate() {
            m.insert(s.name, (i, false));
            if let Some(a) = s.alias {
                m.insert(a, (i, true));
            }
        }
        m
    });
    match map.get(name) {
        Some(v) => Some(*v),
        None => map.get(name.to_ascii_lowercase().as_str()).copied(),
    }
}

fn entry_name(idx: usize, alias: bool) -> &'static str {
    let s = &SPECS[idx];
    if alias {
        s.alias.unwrap_or(s.name)
    } else {
        s.name
    }
}

fn has_flag(idx: usize, flag: u8) -> bool {
    SPECS[idx].flags & flag != 0
}

fn default_value(idx: usize) -> Value {
    match SPECS[idx].kind {
        Kind::Bool { default } => Value::Bool(default),
        Kind::Str { default, .. } => Value::Str(default.to_string()),
        Kind::Enum { default, .. } => Value::Enum(default),
        Kind::Num { default, .. } => Value::Num(default),
        Kind::Special(sp) => match sp {
            Special::Dir => Value::Dir(current_dir()),
            Special::Save => Value::Save(DEFAULT_SAVE.to_vec()),
            Special::ClientOutputBufferLimit => Value::Obuf(DEFAULT_OBUF),
            Special::OomScoreAdjValues => Value::Oom(DEFAULT_OOM),
            Special::NotifyKeyspaceEvents => Value::Notify(0),
            Special::Bind => Value::Bind(DEFAULT_BIND.iter().map(|s| s.to_string()).collect()),
            Special::ReplicaOf => Value::ReplicaOf(None),
            Special::LatencyTrackingInfoPercentiles => {
                Value::Percentiles(DEFAULT_PERCENTILES.to_vec())
            }
        },
    }
}

fn current_dir() -> String {
    std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".to_string())
}

/// `strerror` text of an I/O error, without Rust's " (os error N)" suffix.
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Where a configuration line came from, for the fatal error message.
#[derive(Clone, Copy)]
enum Origin<'a> {
    File(&'a Path),
    CommandLine,
}

/// State kept across one startup load (file, includes and options).
struct Loader {
    save: SaveState,
    /// Command names currently known, for rename-command's checks.
    commands: Vec<String>,
    /// Users declared so far (a user may be declared once).
    users: Vec<String>,
    include_depth: usize,
}

/// Includes nested deeper than this are a loop.
const MAX_INCLUDE_DEPTH: usize = 64;

fn fatal(line: Option<(usize, &str)>, err: &str, origin: Origin) -> String {
    let mut msg = format!("\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n");
    if let Some((n, text)) = line {
        msg.push_str(&format!(
            "Reading the configuration file, at line {n}\n>>> '{text}'\n"
        ));
    }
    msg.push_str(err);
    // DEVIATION(redis): Redis does not say which file; ferrymq names it (or the command line).
    match origin {
        Origin::File(p) => msg.push_str(&format!("\nin file {}", p.display())),
        Origin::CommandLine => msg.push_str("\nin the command line arguments"),
    }
    msg
}

impl Default for Config {
    fn default() -> Config {
        Config {
            values: (0..SPECS.len()).map(default_value).collect(),
            explicit: vec![false; SPECS.len()],
            file: None,
            renames: Vec::new(),
            other_ignored: Vec::new(),
            user_lines: Vec::new(),
        }
    }
}

/// How `save` lines combine, reproducing Redis: while a file is read, the first `save` line
/// replaces the defaults and the next ones add to it; CONFIG SET replaces. Redis clears its
/// "reading a file" flag when an included file ends, so after an `include` every `save` line
/// replaces again.
#[derive(Default)]
struct SaveState {
    reading_file: bool,
    loaded: bool,
}

impl Config {
    /// argv without the program name; Err is the whole message to print before exiting 1.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut cfg = Config::default();
        if args.is_empty() {
            return Ok(cfg);
        }
        let mut j = 0;
        if !args[0].starts_with('-') {
            let path = std::path::absolute(&args[0]).unwrap_or_else(|_| PathBuf::from(&args[0]));
            cfg.file = Some(path);
            j = 1;
        }
        let (options, from_stdin) = build_options(&args[j..], j == 0);

        let mut content = String::new();
        if let Some(path) = cfg.file.clone() {
            content = read_config_file(&path)?;
        }
        if from_stdin {
            use std::io::Read;
            let mut s = String::new();
            let _ = std::io::stdin().read_to_string(&mut s);
            content.push_str(&s);
        }
        // Redis appends the options after a newline, so their lines are numbered past the file's.
        let first_option_line = content.matches('\n').count() + 1;
        let joined = format!("{content}\n{options}");

        let mut loader = Loader {
            save: SaveState {
                reading_file: true,
                loaded: false,
            },
            commands: table_commands(),
            users: Vec::new(),
            include_depth: 0,
        };
        let file = cfg.file.clone();
        cfg.load_string(&joined, &mut loader, |idx| {
            match (idx < first_option_line, &file) {
                (true, Some(p)) => Origin::File(p),
                _ => Origin::CommandLine,
            }
        })?;
        cfg.check_after_load(file.as_deref())?;
        Ok(cfg)
    }

    /// Parse one file's text. `origin_of(line_index)` says where each line came from.
    fn load_string<'a>(
        &mut self,
        text: &str,
        loader: &mut Loader,
        origin_of: impl Fn(usize) -> Origin<'a>,
    ) -> Result<(), String> {
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |err: &str| fatal(Some((i + 1, line)), err, origin_of(i));
            let Some(argv) = parse::split_args(line) else {
                return Err(fail("Unbalanced quotes in configuration line"));
            };
            if argv.is_empty() {
                continue;
            }
            self.load_line(&argv, loader).map_err(|e| match e {
                LineError::Msg(m) => fail(&m),
                LineError::Whole(m) => m,
            })?;
        }
        Ok(())
    }

    fn load_line(&mut self, argv: &[String], loader: &mut Loader) -> Result<(), LineError> {
        let name = argv[0].to_ascii_lowercase();
        let argc = argv.len();
        if let Some((idx, _)) = lookup(&name) {
            if !has_flag(idx, table::MULTI_ARG) && argc != 2 {
                return Err(LineError::Msg("wrong number of arguments".into()));
            }
            // A multi-argument directive given as one argument (`--save "900 1"`) is split the
            // way Redis splits it (sdssplitargs), unless it is empty (`--save ""`).
            let split: Option<Vec<String>> =
                (has_flag(idx, table::MULTI_ARG) && argc == 2 && !argv[1].is_empty())
                    .then(|| crate::protocol::request::split_args(argv[1].as_bytes()))
                    .flatten()
                    .map(|v| {
                        v.iter()
                            .map(|a| String::from_utf8_lossy(a).into_owned())
                            .collect()
                    });
            let args: Vec<&str> = match &split {
                Some(v) => v.iter().map(String::as_str).collect(),
                None => argv[1..].iter().map(String::as_str).collect(),
            };
            let mut values = std::mem::take(&mut self.values);
            let r = set_value(&mut values, idx, &args, &mut loader.save);
            self.values = values;
            r.map_err(LineError::Msg)?;
            self.explicit[idx] = true;
            return Ok(());
        }
        if table::DEPRECATED.contains(&name.as_str()) && argc == 2 {
            self.note_ignored(&name);
            return Ok(());
        }
        match name.as_str() {
            "include" if argc == 2 => self.include(&argv[1], loader).map_err(LineError::Whole),
            "rename-command" if argc == 3 => self
                .rename_command(&argv[1], &argv[2], loader)
                .map_err(LineError::Msg),
            "user" if argc >= 2 => {
                let all_channels = self.get("acl-pubsub-default").as_deref() == Some("allchannels");
                acl::check_user_line(argv, &mut loader.users, all_channels)
                    .map_err(LineError::Msg)?;
                self.user_lines.push(argv[1..].to_vec());
                Ok(())
            }
            "loadmodule" if argc >= 2 => {
                self.note_ignored(&name);
                Ok(())
            }
            _ if name.contains('.') => {
                if argc < 2 {
                    return Err(LineError::Msg(
                        "Module config specified without value".into(),
                    ));
                }
                self.note_ignored(&name);
                Ok(())
            }
            "sentinel" => {
                if argc != 1 {
                    return Err(LineError::Msg(
                        "sentinel directive while not in sentinel mode".into(),
                    ));
                }
                self.note_ignored(&name);
                Ok(())
            }
            _ => Err(LineError::Msg(
                "Bad directive or wrong number of arguments".into(),
            )),
        }
    }

    fn note_ignored(&mut self, name: &str) {
        if !self.other_ignored.iter().any(|n| n == name) {
            self.other_ignored.push(name.to_string());
        }
    }

    /// `include path`: a path with `*`, `?` or `[` is a glob over the last component (no match
    /// is fine, so an empty conf.d works); any other path must open.
    fn include(&mut self, pattern: &str, loader: &mut Loader) -> Result<(), String> {
        if loader.include_depth >= MAX_INCLUDE_DEPTH {
            return Err(format!(
                "Fatal error, can't open config file '{pattern}': too many levels of include"
            ));
        }
        let files: Vec<PathBuf> = if pattern.contains(['*', '?', '[']) {
            glob_files(pattern)
        } else {
            vec![PathBuf::from(pattern)]
        };
        for f in files {
            let text = read_config_file(&f)?;
            loader.include_depth += 1;
            let r = self.load_string(&text, loader, |_| Origin::File(&f));
            loader.include_depth -= 1;
            loader.save.reading_file = false;
            r?;
        }
        Ok(())
    }

    fn rename_command(&mut self, from: &str, to: &str, loader: &mut Loader) -> Result<(), String> {
        let from_l = from.to_ascii_lowercase();
        let Some(pos) = loader.commands.iter().position(|c| *c == from_l) else {
            return Err("No such command in rename-command".into());
        };
        loader.commands.swap_remove(pos);
        if !to.is_empty() {
            let to_l = to.to_ascii_lowercase();
            if loader.commands.contains(&to_l) {
                return Err("Target command name already exists".into());
            }
            loader.commands.push(to_l);
        }
        self.renames.push((from.to_string(), to.to_string()));
        Ok(())
    }

    /// The checks Redis runs once the whole configuration is read.
    fn check_after_load(&self, file: Option<&Path>) -> Result<(), String> {
        let origin = file.map_or(Origin::CommandLine, Origin::File);
        let logfile = self.get("logfile").unwrap_or_default();
        if !logfile.is_empty() {
            let path = Path::new(&self.dir()).join(&logfile);
            if let Err(e) = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
            {
                let err = format!("Can't open the log file: {}", strerror(&e));
                return Err(fatal(None, &err, origin));
            }
        }
        if self.get_bool("cluster-enabled") && self.get("replicaof").is_some_and(|v| !v.is_empty())
        {
            return Err(fatal(
                None,
                "replicaof directive not allowed in cluster mode",
                origin,
            ));
        }
        Ok(())
    }

    fn dir(&self) -> String {
        self.get("dir").unwrap_or_else(current_dir)
    }

    /// Canonical name or alias, value formatted exactly as CONFIG GET prints it.
    pub fn get(&self, name: &str) -> Option<String> {
        let (idx, _) = lookup(name)?;
        Some(format_value(idx, &self.values[idx]))
    }

    /// Ints and memory values (bytes); 0 if unknown. Memory values above `i64::MAX` saturate.
    pub fn get_i64(&self, name: &str) -> i64 {
        let Some((idx, _)) = lookup(name) else {
            return 0;
        };
        match (&self.values[idx], SPECS[idx].kind) {
            (Value::Num(v), Kind::Num { fmt, unsigned, .. }) => {
                if *v < 0 && unsigned && fmt == NumFmt::Memory {
                    i64::MAX
                } else {
                    *v
                }
            }
            (Value::Bool(b), _) => i64::from(*b),
            (v, _) => format_value(idx, v).parse().unwrap_or(0),
        }
    }

    /// REPLICAOF: the master this server follows (None: it is a master), as CONFIG GET and
    /// CONFIG REWRITE show `replicaof`.
    pub fn set_replicaof(&mut self, master: Option<(String, i64)>) {
        if let Some((idx, _)) = lookup("replicaof") {
            self.values[idx] = Value::ReplicaOf(master);
        }
    }

    /// The `replicaof` directive: the master's host and port.
    pub fn replicaof(&self) -> Option<(String, u16)> {
        let (idx, _) = lookup("replicaof")?;
        match &self.values[idx] {
            Value::ReplicaOf(Some((h, p))) => Some((h.clone(), *p as u16)),
            _ => None,
        }
    }

    pub fn get_bool(&self, name: &str) -> bool {
        match lookup(name) {
            Some((idx, _)) => matches!(self.values[idx], Value::Bool(true)),
            None => false,
        }
    }

    /// CONFIG GET with one or more glob patterns. A name without glob characters is looked up
    /// directly and reported as the client spelled it (Redis does the same: `CONFIG GET Port`
    /// answers `Port`); patterns match every visible name, aliases included, in table order.
    /// Each directive is reported once.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let seen = |out: &Vec<(String, String)>, n: &str| {
            out.iter().any(|(k, _)| k.eq_ignore_ascii_case(n))
        };
        for pat in patterns {
            let p = String::from_utf8_lossy(pat);
            if !p.contains(['[', '*', '?']) {
                if seen(&out, &p) {
                    continue;
                }
                if let Some((idx, _)) = lookup(&p) {
                    out.push((p.into_owned(), format_value(idx, &self.values[idx])));
                }
                continue;
            }
            for (idx, spec) in SPECS.iter().enumerate() {
                if spec.flags & table::HIDDEN != 0 {
                    continue;
                }
                for name in std::iter::once(spec.name).chain(spec.alias) {
                    if !seen(&out, name)
                        && crate::pubsub::glob::glob_match(pat, name.as_bytes(), true)
                    {
                        out.push((name.to_string(), format_value(idx, &self.values[idx])));
                    }
                }
            }
        }
        out
    }

    /// CONFIG SET name value [name value ...]: all-or-nothing; Err is the whole error line as
    /// Redis sends it, Ok lists the canonical names whose value changed.
    pub fn set_many(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<Vec<String>, String> {
        let mut chosen: Vec<(usize, bool, String)> = Vec::with_capacity(pairs.len());
        let mut unknown: Option<String> = None;
        let mut failed: Option<(String, &str)> = None;
        let protected_ok = self.get("enable-protected-configs").as_deref() != Some("no");
        // The checks run in Redis's order: the first unknown name wins over everything; after
        // any failure later names are only looked up.
        for (name, value) in pairs {
            let name = String::from_utf8_lossy(name).into_owned();
            let Some((idx, alias)) = lookup(&name) else {
                if unknown.is_none() && failed.is_none() {
                    unknown = Some(name);
                }
                continue;
            };
            if unknown.is_some() || failed.is_some() {
                continue;
            }
            // DEVIATION(redis): `enable-protected-configs local` allows every client here; the
            // caller does not tell whether the client is local.
            // One of ferrymq's own start-time settings "set" to the value it has is a no-op,
            // so tools that read `CONFIG GET *` and write each value back work; Redis's own
            // immutable settings fail as in Redis.
            let unchanged = has_flag(idx, table::OWN)
                && self.get(&name).as_deref() == Some(&*String::from_utf8_lossy(value));
            if has_flag(idx, table::IMMUTABLE) && !unchanged {
                failed = Some((name, "can't set immutable config"));
                continue;
            }
            if has_flag(idx, table::PROTECTED) && !protected_ok {
                failed = Some((name, "can't set protected config"));
                continue;
            }
            // Redis compares table entries, so a name and its alias are not duplicates.
            if chosen.iter().any(|(i, a, _)| *i == idx && *a == alias) {
                failed = Some((name, "duplicate parameter"));
                continue;
            }
            chosen.push((idx, alias, name));
        }
        if let Some(name) = unknown {
            return Err(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        }
        if let Some((name, err)) = failed {
            return Err(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {err}"
            ));
        }
        let mut values = self.values.clone();
        let mut save = SaveState::default();
        for ((idx, alias, _), (_, value)) in chosen.iter().zip(pairs) {
            let value = String::from_utf8_lossy(value);
            let args: Vec<&str> = if has_flag(*idx, table::MULTI_ARG) {
                // Redis splits on every single space ("" gives no argument at all).
                if value.is_empty() {
                    Vec::new()
                } else {
                    value.split(' ').collect()
                }
            } else {
                vec![&value]
            };
            if let Err(e) = set_value(&mut values, *idx, &args, &mut save) {
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{}') - {e}",
                    entry_name(*idx, *alias)
                ));
            }
        }
        // What Redis's apply functions do to the stored value after a CONFIG SET.
        if let Some((idx, _)) = lookup("repl-backlog-size")
            && chosen.iter().any(|(i, _, _)| *i == idx)
            && let Value::Num(v) = &mut values[idx]
        {
            // resizeReplicationBacklog raises it to CONFIG_REPL_BACKLOG_MIN_SIZE.
            *v = (*v).max(REPL_BACKLOG_MIN_SIZE);
        }
        let mut changed: Vec<String> = Vec::new();
        for (idx, _, _) in &chosen {
            let name = SPECS[*idx].name.to_string();
            if values[*idx] != self.values[*idx] && !changed.contains(&name) {
                changed.push(name);
            }
        }
        self.values = values;
        Ok(changed)
    }

    /// The directive a CONFIG SET name stands for (an alias gives its directive's name).
    pub fn canonical_name(name: &[u8]) -> Option<&'static str> {
        lookup(&String::from_utf8_lossy(name)).map(|(idx, _)| SPECS[idx].name)
    }

    /// Put back the values `old` had for `names`: CONFIG SET's rollback when applying what
    /// [`Config::set_many`] set failed (Redis's restoreBackupConfig). Other directives keep
    /// whatever they have now.
    pub fn restore_from(&mut self, old: &Config, names: &[&[u8]]) {
        for name in names {
            if let Some((idx, _)) = lookup(&String::from_utf8_lossy(name)) {
                self.values[idx] = old.values[idx].clone();
            }
        }
    }

    /// CONFIG REWRITE: rewrite the file this config was loaded from, Redis-style (keep
    /// comments and order, update changed lines, append new ones under the Redis marker line).
    pub fn rewrite(&self) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Err("ERR The server is running without a config file".into());
        };
        rewrite::rewrite_file(self, path)
            .map_err(|e| format!("ERR Rewriting config file: {}", strerror(&e)))
    }

    /// Directives explicitly set (file or CLI) that ferrymq does not act on.
    pub fn ignored(&self) -> Vec<String> {
        let mut out: Vec<String> = SPECS
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                self.explicit[*i]
                    && s.flags & table::OWN == 0
                    && !table::IMPLEMENTED.contains(&s.name)
                    && !table::IMPLEMENTED_HIDDEN.contains(&s.name)
            })
            .map(|(_, s)| s.name.to_string())
            .collect();
        out.extend(self.other_ignored.iter().cloned());
        out
    }

    /// The `user` directives, each as `[name, rule...]`.
    pub fn user_lines(&self) -> &[Vec<String>] {
        &self.user_lines
    }

    pub fn file(&self) -> Option<std::path::PathBuf> {
        self.file.clone()
    }

    /// (hard, soft, soft_seconds) for "normal" | "replica" | "pubsub".
    pub fn output_buffer_limit(&self, class: &str) -> (u64, u64, u64) {
        let Some((idx, _)) = lookup("client-output-buffer-limit") else {
            return (0, 0, 0);
        };
        match (&self.values[idx], client_class(class)) {
            (Value::Obuf(l), Some(c)) => l[c],
            _ => (0, 0, 0),
        }
    }

    /// rename-command pairs (from, to) as configured; "" means disabled.
    pub fn renamed_commands(&self) -> Vec<(String, String)> {
        self.renames.clone()
    }

    /// `bind`, address by address (a `-` prefix marks an optional one).
    pub fn bind_addresses(&self) -> Vec<String> {
        match lookup("bind").map(|(i, _)| &self.values[i]) {
            Some(Value::Bind(a)) => a.clone(),
            _ => Vec::new(),
        }
    }

    /// `notify-keyspace-events` as [`notify`] bits.
    pub fn notify_keyspace_events(&self) -> u32 {
        match lookup("notify-keyspace-events").map(|(i, _)| &self.values[i]) {
            Some(Value::Notify(f)) => *f,
            _ => 0,
        }
    }
}

enum LineError {
    /// A message for the "at line N" banner.
    Msg(String),
    /// A complete message (from an included file) to pass up unchanged.
    Whole(String),
}

/// Build the option lines exactly as redis-server's main() does: `--name` starts a line, every
/// other argument is appended quoted; `--save` with no value becomes `save ""`. `-` as the first
/// or last argument reads the configuration from stdin.
fn build_options(args: &[String], first_is_argv1: bool) -> (String, bool) {
    let mut options = String::new();
    let mut from_stdin = false;
    let mut handled_last = true;
    for (k, a) in args.iter().enumerate() {
        let is_last = k + 1 == args.len();
        if a == "-" && ((k == 0 && first_is_argv1) || is_last) {
            from_stdin = true;
        } else if handled_last && a.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&a[2..]);
            options.push(' ');
            if parse::split_args(a).is_some_and(|v| v.len() == 1) {
                handled_last = false;
                let next_is_option = !is_last && args[k + 1].starts_with("--");
                if a.eq_ignore_ascii_case("--save") && (next_is_option || is_last) {
                    options.push_str("\"\"");
                    handled_last = true;
                } else if a.eq_ignore_ascii_case("--sentinel") && next_is_option {
                    handled_last = true;
                }
            } else {
                handled_last = true;
            }
        } else {
            options.push_str(&parse::repr(a));
            options.push(' ');
            handled_last = true;
        }
    }
    (options, from_stdin)
}

fn read_config_file(path: &Path) -> Result<String, String> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| {
            format!(
                "Fatal error, can't open config file '{}': {}",
                path.display(),
                strerror(&e)
            )
        })
}

/// Files matching a glob in the last path component, sorted like glob(3).
fn glob_files(pattern: &str) -> Vec<PathBuf> {
    let p = Path::new(pattern);
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(pat) = p.file_name().map(|f| f.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                (pat.starts_with('.') || !n.starts_with('.'))
                    && crate::pubsub::glob::glob_match(pat.as_bytes(), n.as_bytes(), false)
            })
            .map(|e| dir.join(e.file_name()))
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn table_commands() -> Vec<String> {
    table::REDIS_COMMANDS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn client_class(name: &str) -> Option<usize> {
    match name.to_ascii_lowercase().as_str() {
        "normal" => Some(0),
        "replica" | "slave" => Some(1),
        "pubsub" => Some(2),
        _ => None,
    }
}

fn enum_error(values: &[(&str, u8)]) -> String {
    let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
    format!(
        "argument(s) must be one of the following: {}",
        names.join(", ")
    )
}

fn enum_name(values: &[(&str, u8)], v: u8, multi: bool) -> String {
    if let Some((n, _)) = values.iter().find(|(_, x)| *x == v) {
        return n.to_string();
    }
    if multi {
        let names: Vec<&str> = values
            .iter()
            .filter(|(_, x)| *x != 0 && v & *x == *x)
            .map(|(n, _)| *n)
            .collect();
        if !names.is_empty() {
            return names.join(" ");
        }
    }
    "unknown".to_string()
}

/// CONFIG GET's text for a value.
fn format_value(idx: usize, v: &Value) -> String {
    match (v, SPECS[idx].kind) {
        (Value::Bool(b), _) => if *b { "yes" } else { "no" }.to_string(),
        (Value::Str(s), _) => s.clone(),
        (Value::Enum(e), Kind::Enum { values, .. }) => {
            enum_name(values, *e, has_flag(idx, table::MULTI_ARG))
        }
        (Value::Num(n), Kind::Num { fmt, .. }) => match fmt {
            NumFmt::MemoryPercent if *n < 0 => format!("{}%", -(*n as i128)),
            NumFmt::Memory | NumFmt::MemoryPercent => (*n as u64).to_string(),
            NumFmt::Octal => format!("{:o}", *n),
            NumFmt::Int => n.to_string(),
        },
        (Value::Save(p), _) => {
            let parts: Vec<String> = p.iter().map(|(s, c)| format!("{s} {c}")).collect();
            parts.join(" ")
        }
        (Value::Obuf(l), _) => {
            let names = ["normal", "slave", "pubsub"];
            let parts: Vec<String> = l
                .iter()
                .zip(names)
                .map(|((h, s, sec), n)| format!("{n} {h} {s} {sec}"))
                .collect();
            parts.join(" ")
        }
        (Value::Oom(v), _) => format!("{} {} {}", v[0], v[1], v[2]),
        (Value::Notify(f), _) => notify_to_string(*f),
        (Value::Bind(a), _) => a.join(" "),
        (Value::ReplicaOf(r), _) => r
            .as_ref()
            .map(|(h, p)| format!("{h} {p}"))
            .unwrap_or_default(),
        (Value::Percentiles(p), _) => {
            let parts: Vec<String> = p.iter().map(|v| parse::fmt_percentile(*v)).collect();
            parts.join(" ")
        }
        (Value::Dir(d), _) => d.clone(),
        _ => String::new(),
    }
}

fn notify_from_str(s: &str) -> Option<u32> {
    use notify::*;
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(f)
}

fn notify_to_string(f: u32) -> String {
    use notify::*;
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// Parse `args` for directive `idx` and store the result in `values[idx]`. Err is Redis's
/// message for the value (without the CONFIG SET / file framing).
fn set_value(
    values: &mut [Value],
    idx: usize,
    args: &[&str],
    save: &mut SaveState,
) -> Result<(), String> {
    let spec = &SPECS[idx];
    let one = || args.first().copied().unwrap_or("");
    let new = match spec.kind {
        Kind::Bool { .. } => {
            let v = match one().to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return Err("argument must be 'yes' or 'no'".into()),
            };
            if spec.name == "activedefrag" && v {
                // As the Debian build of redis-server, which has no defragmenting allocator.
                return Err("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution".into());
            }
            Value::Bool(v)
        }
        Kind::Str { check, .. } => {
            let v = one();
            check_string(check, v)?;
            Value::Str(v.to_string())
        }
        Kind::Enum { values: names, .. } => {
            let find = |a: &str| {
                names
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(a))
                    .map(|(_, v)| *v)
            };
            if spec.flags & table::MULTI_ARG != 0 {
                if args.is_empty() {
                    return Err(enum_error(names));
                }
                let mut flags = 0u8;
                for a in args {
                    flags |= find(a).ok_or_else(|| enum_error(names))?;
                }
                if flags & 1 != 0 && flags & 2 != 0 {
                    return Err(
                        "shutdown options SAVE and NOSAVE can't be used simultaneously".into(),
                    );
                }
                Value::Enum(flags)
            } else {
                Value::Enum(find(one()).ok_or_else(|| enum_error(names))?)
            }
        }
        Kind::Num {
            min,
            max,
            fmt,
            unsigned,
            ..
        } => {
            let mut v = parse_number(one(), fmt)?;
            check_bounds(v, min, max, fmt, unsigned)?;
            if spec.name == "hz" {
                // Redis takes hz as a hint and clamps it rather than refusing it.
                v = v.clamp(HZ_MIN, HZ_MAX);
            }
            Value::Num(v)
        }
        Kind::Special(sp) => match sp {
            Special::Dir => {
                if args.len() != 1 {
                    return Err("wrong number of arguments".into());
                }
                let base = match &values[idx] {
                    Value::Dir(d) => PathBuf::from(d),
                    _ => PathBuf::from(current_dir()),
                };
                // Redis chdir()s; ferrymq resolves the path against the previous dir instead, so
                // CONFIG GET dir still prints the absolute directory Redis would.
                let p = base.join(args[0]);
                let canon = std::fs::canonicalize(&p).map_err(|e| strerror(&e))?;
                if !canon.is_dir() {
                    return Err("Not a directory".into());
                }
                Value::Dir(canon.to_string_lossy().into_owned())
            }
            Special::Save => {
                let args: &[&str] = if args.len() == 1 && args[0].is_empty() {
                    &[]
                } else {
                    args
                };
                if !args.len().is_multiple_of(2) {
                    return Err("Invalid save parameters".into());
                }
                let mut parsed = Vec::new();
                for pair in args.chunks(2) {
                    let secs = parse::c_strtoll(pair[0], 10).filter(|v| *v >= 1);
                    let changes = parse::c_strtoll(pair[1], 10).filter(|v| *v >= 0);
                    match (secs, changes) {
                        (Some(s), Some(c)) => parsed.push((s, c as i32)),
                        _ => return Err("Invalid save parameters".into()),
                    }
                }
                let mut list = match &values[idx] {
                    Value::Save(old) if save.reading_file && save.loaded => old.clone(),
                    _ => Vec::new(),
                };
                save.loaded = true;
                list.extend(parsed);
                Value::Save(list)
            }
            Special::ClientOutputBufferLimit => {
                if !args.len().is_multiple_of(4) {
                    return Err("Wrong number of arguments in buffer limit configuration.".into());
                }
                let Value::Obuf(mut limits) = values[idx].clone() else {
                    return Err("internal".into());
                };
                let mut staged = limits;
                for g in args.chunks(4) {
                    let Some(class) = client_class(g[0]) else {
                        return Err(
                            "Invalid client class specified in buffer limit configuration.".into(),
                        );
                    };
                    let hard = parse::mem_to_u64(g[1]);
                    let soft = parse::mem_to_u64(g[2]);
                    let secs = parse::c_strtoll(g[3], 10).filter(|v| *v >= 0);
                    match (hard, soft, secs) {
                        (Some(h), Some(s), Some(sec)) => staged[class] = (h, s, sec as u64),
                        _ => {
                            return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into());
                        }
                    }
                }
                limits.copy_from_slice(&staged);
                Value::Obuf(limits)
            }
            Special::OomScoreAdjValues => {
                if args.len() != 3 {
                    return Err("wrong number of arguments".into());
                }
                let mut v = [0i32; 3];
                for (k, a) in args.iter().enumerate() {
                    match parse::c_strtoll(a, 10) {
                        Some(x) if (-2000..=2000).contains(&x) => v[k] = x as i32,
                        _ => {
                            return Err("Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into());
                        }
                    }
                }
                Value::Oom(v)
            }
            Special::NotifyKeyspaceEvents => {
                if args.len() != 1 {
                    return Err("wrong number of arguments".into());
                }
                let f = notify_from_str(args[0]).ok_or_else(|| {
                    "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()
                })?;
                Value::Notify(f)
            }
            Special::Bind => {
                if args.len() > BINDADDR_MAX {
                    return Err("Too many bind addresses specified.".into());
                }
                let args: &[&str] = if args.len() == 1 && args[0].is_empty() {
                    &[]
                } else {
                    args
                };
                Value::Bind(args.iter().map(|s| s.to_string()).collect())
            }
            Special::ReplicaOf => {
                if args.len() != 2 {
                    return Err("wrong number of arguments".into());
                }
                if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
                    Value::ReplicaOf(None)
                } else {
                    match parse::c_strtoll(args[1], 10) {
                        Some(p) if (0..=65535).contains(&p) => {
                            Value::ReplicaOf(Some((args[0].to_string(), p)))
                        }
                        _ => return Err("Invalid master port".into()),
                    }
                }
            }
            Special::LatencyTrackingInfoPercentiles => {
                let args: &[&str] = if args.len() == 1 && args[0].is_empty() {
                    &[]
                } else {
                    args
                };
                let mut v = Vec::with_capacity(args.len());
                for a in args {
                    let p = parse::parse_f64(a).ok_or_else(|| {
                        "Invalid latency-tracking-info-percentiles parameters".to_string()
                    })?;
                    if !(0.0..=100.0).contains(&p) {
                        return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                    }
                    v.push(p);
                }
                Value::Percentiles(v)
            }
        },
    };
    values[idx] = new;
    Ok(())
}

fn parse_number(s: &str, fmt: NumFmt) -> Result<i64, String> {
    match fmt {
        NumFmt::Int => {
            parse::parse_i64(s).ok_or_else(|| "argument couldn't be parsed into an integer".into())
        }
        NumFmt::Memory => parse::mem_to_u64(s)
            .map(|v| v as i64)
            .ok_or_else(|| "argument must be a memory value".into()),
        NumFmt::MemoryPercent => {
            if let Some(v) = parse::mem_to_u64(s) {
                return Ok(v as i64);
            }
            if let Some(v) = s
                .strip_suffix('%')
                .filter(|n| !n.is_empty())
                .and_then(parse::parse_i64)
                .filter(|v| *v >= 0)
            {
                return Ok(-v);
            }
            Err("argument must be a memory or percent value".into())
        }
        NumFmt::Octal => parse::c_strtoll(s, 8)
            .ok_or_else(|| "argument couldn't be parsed as an octal number".into()),
    }
}

fn check_bounds(v: i64, min: i64, max: i64, fmt: NumFmt, unsigned: bool) -> Result<(), String> {
    if unsigned {
        let (uv, umin, umax) = (v as u64, min as u64, max as u64);
        if uv > umax || uv < umin {
            return Err(if fmt == NumFmt::Octal {
                format!("argument must be between {umin:o} and {umax:o} inclusive")
            } else {
                format!("argument must be between {umin} and {umax} inclusive")
            });
        }
    } else if fmt == NumFmt::MemoryPercent && v < 0 {
        if v < min {
            return Err(format!(
                "percentage argument must be less or equal to {}",
                -min
            ));
        }
    } else if v > max || v < min {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(())
}

fn check_string(check: StrCheck, v: &str) -> Result<(), String> {
    let is_base = !v.contains(['/', '\\']);
    match check {
        StrCheck::None => Ok(()),
        StrCheck::DbFilename if !is_base => {
            Err("dbfilename can't be a path, just a filename".into())
        }
        StrCheck::AofFilename if v.is_empty() => Err("appendfilename can't be empty".into()),
        StrCheck::AofFilename if !is_base => {
            Err("appendfilename can't be a path, just a filename".into())
        }
        StrCheck::AofDirname if v.is_empty() => Err("appenddirname can't be empty".into()),
        StrCheck::AofDirname if !is_base => {
            Err("appenddirname can't be a path, just a dirname".into())
        }
        StrCheck::Hostname if v.len() >= 256 => {
            Err("Hostnames must be less than 256 characters".into())
        }
        StrCheck::Hostname
            if !v
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.') =>
        {
            Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into())
        }
        StrCheck::ProcTitleTemplate if !valid_proc_title(v) => {
            Err("template format is invalid or contains unknown variables".into())
        }
        _ => Ok(()),
    }
}

/// Redis's proc-title template check: `{name}` must be a known variable, `{{`/`}}` are literal
/// braces, and the expanded title must not be blank.
fn valid_proc_title(t: &str) -> bool {
    const VARS: [&str; 7] = [
        "title",
        "listen-addr",
        "server-mode",
        "port",
        "tls-port",
        "unixsocket",
        "config-file",
    ];
    let b = t.as_bytes();
    let mut i = 0;
    let mut literal = false;
    while i < b.len() {
        match b[i] {
            b'{' if b.get(i + 1) == Some(&b'{') => {
                literal = true;
                i += 2;
            }
            b'}' if b.get(i + 1) == Some(&b'}') => {
                literal = true;
                i += 2;
            }
            b'{' => {
                let Some(end) = t[i + 1..].find('}') else {
                    return false;
                };
                if !VARS.contains(&&t[i + 1..i + 1 + end]) {
                    return false;
                }
                // Some variables may expand to nothing; `title` never does.
                literal |= &t[i + 1..i + 1 + end] == "title";
                i += end + 2;
            }
            b'}' => return false,
            b' ' => i += 1,
            _ => {
                literal = true;
                i += 1;
            }
        }
    }
    literal
}

#[cfg(test)]
mod tests;
