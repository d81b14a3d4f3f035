//! Every directive Redis 7.0 knows, with its type, bounds, default and flags, as reported by
//! `CONFIG GET *` on redis-server 7.0.15 (hidden ones answer an exact `CONFIG GET name` only).
//!
//! The table order is the order `CONFIG GET` and `CONFIG REWRITE` use. Redis walks a hash table
//! seeded at random on every start, so it has no stable order to copy; grouping by type keeps the
//! output readable.

/// CONFIG SET refuses it ("can't set immutable config").
pub(crate) const IMMUTABLE: u8 = 1;
/// CONFIG SET refuses it unless `enable-protected-configs` allows it.
pub(crate) const PROTECTED: u8 = 2;
/// Only an exact CONFIG GET name reports it; glob patterns skip it.
pub(crate) const HIDDEN: u8 = 4;
/// Takes several arguments in a file (`save 3600 1 300 100`); CONFIG SET splits its value on
/// single spaces.
pub(crate) const MULTI_ARG: u8 = 8;

/// How a numeric directive is written and parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumFmt {
    /// Plain integer (`string2ll`: no sign `+`, no leading zero, no spaces).
    Int,
    /// Bytes with an optional unit (1k = 1000, 1kb = 1024, ...), printed in bytes.
    Memory,
    /// Bytes or a percentage (`10%`, stored negated, as Redis does).
    MemoryPercent,
    /// Octal (`unixsocketperm 700`).
    Octal,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Special {
    Dir,
    Save,
    ClientOutputBufferLimit,
    OomScoreAdjValues,
    NotifyKeyspaceEvents,
    Bind,
    ReplicaOf,
    LatencyTrackingInfoPercentiles,
}

/// Validation a string directive applies before it is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StrCheck {
    None,
    DbFilename,
    AofFilename,
    AofDirname,
    Hostname,
    ProcTitleTemplate,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Bool {
        default: bool,
    },
    /// `empty_is_null`: an empty value means "unset" (CONFIG REWRITE then drops the line).
    Str {
        default: &'static str,
        empty_is_null: bool,
        check: StrCheck,
    },
    /// `values`: (name, value) pairs in Redis's order; several names may share a value
    /// (`oom-score-adj yes` = `relative`), the first one is the one reported.
    Enum {
        values: &'static [(&'static str, u8)],
        default: u8,
    },
    /// Bounds as Redis declares them (C `long long`); `unsigned` compares them as unsigned.
    Num {
        min: i64,
        max: i64,
        default: i64,
        fmt: NumFmt,
        unsigned: bool,
    },
    Special(Special),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub flags: u8,
    pub kind: Kind,
}

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const UINT_MAX: i64 = u32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;
/// `ULLONG_MAX` seen through a C `long long`.
const ULLONG_MAX: i64 = -1;
const MB: i64 = 1024 * 1024;

const fn b(name: &'static str, alias: Option<&'static str>, flags: u8, default: bool) -> Spec {
    Spec {
        name,
        alias,
        flags,
        kind: Kind::Bool { default },
    }
}

const fn s(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    default: &'static str,
) -> Spec {
    Spec {
        name,
        alias,
        flags,
        kind: Kind::Str {
            default,
            empty_is_null: false,
            check: StrCheck::None,
        },
    }
}

/// A string whose empty value means unset.
const fn sn(name: &'static str, alias: Option<&'static str>, flags: u8) -> Spec {
    Spec {
        name,
        alias,
        flags,
        kind: Kind::Str {
            default: "",
            empty_is_null: true,
            check: StrCheck::None,
        },
    }
}

const fn sc(
    name: &'static str,
    flags: u8,
    default: &'static str,
    empty_is_null: bool,
    check: StrCheck,
) -> Spec {
    Spec {
        name,
        alias: None,
        flags,
        kind: Kind::Str {
            default,
            empty_is_null,
            check,
        },
    }
}

const fn e(
    name: &'static str,
    flags: u8,
    values: &'static [(&'static str, u8)],
    default: u8,
) -> Spec {
    Spec {
        name,
        alias: None,
        flags,
        kind: Kind::Enum { values, default },
    }
}

#[allow(clippy::too_many_arguments)]
const fn n(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    min: i64,
    max: i64,
    default: i64,
    fmt: NumFmt,
    unsigned: bool,
) -> Spec {
    Spec {
        name,
        alias,
        flags,
        kind: Kind::Num {
            min,
            max,
            default,
            fmt,
            unsigned,
        },
    }
}

/// Signed integer.
const fn i(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    min: i64,
    max: i64,
    default: i64,
) -> Spec {
    n(name, alias, flags, min, max, default, NumFmt::Int, false)
}

/// Unsigned integer (C `unsigned int`, `size_t`).
const fn u(
    name: &'static str,
    alias: Option<&'static str>,
    min: i64,
    max: i64,
    default: i64,
) -> Spec {
    n(name, alias, 0, min, max, default, NumFmt::Int, true)
}

/// Unsigned memory value.
const fn m(
    name: &'static str,
    alias: Option<&'static str>,
    min: i64,
    max: i64,
    default: i64,
) -> Spec {
    n(name, alias, 0, min, max, default, NumFmt::Memory, true)
}

const fn sp(name: &'static str, alias: Option<&'static str>, flags: u8, special: Special) -> Spec {
    Spec {
        name,
        alias,
        flags,
        kind: Kind::Special(special),
    }
}

const YES_NO_LOCAL: &[(&str, u8)] = &[("no", 0), ("yes", 1), ("local", 2)];

pub(crate) const MAXMEMORY_POLICIES: &[(&str, u8)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];

pub(crate) const LOGLEVELS: &[(&str, u8)] =
    &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];

pub(crate) const APPENDFSYNC: &[(&str, u8)] = &[("everysec", 0), ("always", 1), ("no", 2)];

/// A MULTI_ARG enum is a set of bit flags (`shutdown-on-sigint nosave now`).
pub(crate) const SHUTDOWN_FLAGS: &[(&str, u8)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];

const IMM: u8 = IMMUTABLE;

pub(crate) static SPECS: &[Spec] = &[
    // Network and clients.
    sp("bind", None, MULTI_ARG, Special::Bind),
    i("port", None, 0, 0, 65535, 6379),
    sn("unixsocket", None, IMM),
    n(
        "unixsocketperm",
        None,
        IMM,
        0,
        0o777,
        0,
        NumFmt::Octal,
        true,
    ),
    b("protected-mode", None, 0, true),
    i("tcp-backlog", None, IMM, 0, INT_MAX, 511),
    i("timeout", None, 0, 0, INT_MAX, 0),
    i("tcp-keepalive", None, 0, 0, INT_MAX, 300),
    n(
        "socket-mark-id",
        None,
        IMM,
        0,
        UINT_MAX,
        0,
        NumFmt::Int,
        true,
    ),
    sn("bind-source-addr", None, 0),
    n("maxclients", None, 0, 1, UINT_MAX, 10000, NumFmt::Int, true),
    sn("requirepass", None, 0),
    sp(
        "client-output-buffer-limit",
        None,
        MULTI_ARG,
        Special::ClientOutputBufferLimit,
    ),
    n(
        "client-query-buffer-limit",
        None,
        0,
        MB,
        LONG_MAX,
        1024 * MB,
        NumFmt::Memory,
        true,
    ),
    n(
        "proto-max-bulk-len",
        None,
        0,
        MB,
        LONG_MAX,
        512 * MB,
        NumFmt::Memory,
        false,
    ),
    n(
        "maxmemory-clients",
        None,
        0,
        -100,
        LONG_MAX,
        0,
        NumFmt::MemoryPercent,
        false,
    ),
    // General.
    i("databases", None, IMM, 1, INT_MAX, 16),
    e("loglevel", 0, LOGLEVELS, 2),
    s("logfile", None, IMM, ""),
    b("syslog-enabled", None, IMM, false),
    s("syslog-ident", None, IMM, "redis"),
    e(
        "syslog-facility",
        IMM,
        &[
            ("user", 0),
            ("local0", 1),
            ("local1", 2),
            ("local2", 3),
            ("local3", 4),
            ("local4", 5),
            ("local5", 6),
            ("local6", 7),
            ("local7", 8),
        ],
        1,
    ),
    b("daemonize", None, IMM, false),
    e(
        "supervised",
        IMM,
        &[("upstart", 0), ("systemd", 1), ("auto", 2), ("no", 3)],
        3,
    ),
    sn("pidfile", None, IMM),
    b("always-show-logo", None, IMM, false),
    b("set-proc-title", None, IMM, true),
    sc(
        "proc-title-template",
        0,
        "{title} {listen-addr} {server-mode}",
        false,
        StrCheck::ProcTitleTemplate,
    ),
    b("crash-log-enabled", None, 0, true),
    b("crash-memcheck-enabled", None, 0, true),
    b("use-exit-on-panic", None, HIDDEN, false),
    sp("dir", None, PROTECTED, Special::Dir),
    e("enable-protected-configs", IMM, YES_NO_LOCAL, 0),
    e("enable-debug-command", IMM, YES_NO_LOCAL, 0),
    e("enable-module-command", IMM, YES_NO_LOCAL, 0),
    s("ignore-warnings", None, 0, ""),
    i("hz", None, 0, 0, INT_MAX, 10),
    b("dynamic-hz", None, 0, true),
    i("active-expire-effort", None, 0, 1, 10, 1),
    i("shutdown-timeout", None, 0, 0, INT_MAX, 10),
    e("shutdown-on-sigint", MULTI_ARG, SHUTDOWN_FLAGS, 0),
    e("shutdown-on-sigterm", MULTI_ARG, SHUTDOWN_FLAGS, 0),
    i("watchdog-period", None, HIDDEN, 0, INT_MAX, 0),
    // Snapshotting.
    sp("save", None, MULTI_ARG, Special::Save),
    b("stop-writes-on-bgsave-error", None, 0, true),
    b("rdbcompression", None, 0, true),
    b("rdbchecksum", None, IMM, true),
    e(
        "sanitize-dump-payload",
        0,
        &[("no", 0), ("yes", 1), ("clients", 2)],
        0,
    ),
    sc(
        "dbfilename",
        PROTECTED,
        "dump.rdb",
        false,
        StrCheck::DbFilename,
    ),
    b("rdb-del-sync-files", None, 0, false),
    b("rdb-save-incremental-fsync", None, 0, true),
    i("rdb-key-save-delay", None, HIDDEN, INT_MIN, INT_MAX, 0),
    i("key-load-delay", None, HIDDEN, INT_MIN, INT_MAX, 0),
    i(
        "loading-process-events-interval-bytes",
        None,
        HIDDEN,
        1024,
        INT_MAX,
        2 * MB,
    ),
    // Replication.
    sp(
        "replicaof",
        Some("slaveof"),
        IMM | MULTI_ARG,
        Special::ReplicaOf,
    ),
    sn("masteruser", None, 0),
    sn("masterauth", None, 0),
    b(
        "replica-serve-stale-data",
        Some("slave-serve-stale-data"),
        0,
        true,
    ),
    b("replica-read-only", Some("slave-read-only"), 0, true),
    b("repl-diskless-sync", None, 0, true),
    i("repl-diskless-sync-delay", None, 0, 0, INT_MAX, 5),
    i("repl-diskless-sync-max-replicas", None, 0, 0, INT_MAX, 0),
    e(
        "repl-diskless-load",
        0,
        &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)],
        0,
    ),
    i(
        "repl-ping-replica-period",
        Some("repl-ping-slave-period"),
        0,
        1,
        INT_MAX,
        10,
    ),
    i("repl-timeout", None, 0, 1, INT_MAX, 60),
    b("repl-disable-tcp-nodelay", None, 0, false),
    n(
        "repl-backlog-size",
        None,
        0,
        1,
        LONG_MAX,
        MB,
        NumFmt::Memory,
        false,
    ),
    i("repl-backlog-ttl", None, 0, 0, LONG_MAX, 3600),
    i(
        "replica-priority",
        Some("slave-priority"),
        0,
        0,
        INT_MAX,
        100,
    ),
    b("replica-announced", None, 0, true),
    i(
        "min-replicas-to-write",
        Some("min-slaves-to-write"),
        0,
        0,
        INT_MAX,
        0,
    ),
    i(
        "min-replicas-max-lag",
        Some("min-slaves-max-lag"),
        0,
        0,
        INT_MAX,
        10,
    ),
    sn("replica-announce-ip", Some("slave-announce-ip"), 0),
    i(
        "replica-announce-port",
        Some("slave-announce-port"),
        0,
        0,
        65535,
        0,
    ),
    b(
        "replica-ignore-maxmemory",
        Some("slave-ignore-maxmemory"),
        0,
        true,
    ),
    b("replica-lazy-flush", Some("slave-lazy-flush"), 0, false),
    b("replica-ignore-disk-write-errors", None, 0, false),
    e(
        "propagation-error-behavior",
        0,
        &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)],
        0,
    ),
    // Keys tracking, security.
    u("tracking-table-max-keys", None, 0, LONG_MAX, 1_000_000),
    i("acllog-max-len", None, 0, 0, LONG_MAX, 128),
    s("aclfile", None, IMM, ""),
    e(
        "acl-pubsub-default",
        0,
        &[("allchannels", 1), ("resetchannels", 0)],
        0,
    ),
    // Memory management.
    n("maxmemory", None, 0, 0, ULLONG_MAX, 0, NumFmt::Memory, true),
    e("maxmemory-policy", 0, MAXMEMORY_POLICIES, 7),
    i("maxmemory-samples", None, 0, 1, INT_MAX, 5),
    i("maxmemory-eviction-tenacity", None, 0, 0, 100, 10),
    b("lazyfree-lazy-eviction", None, 0, false),
    b("lazyfree-lazy-expire", None, 0, false),
    b("lazyfree-lazy-server-del", None, 0, false),
    b("lazyfree-lazy-user-del", None, 0, false),
    b("lazyfree-lazy-user-flush", None, 0, false),
    // Threads and kernel.
    i("io-threads", None, IMM, 1, 128, 1),
    b("io-threads-do-reads", None, IMM, false),
    e(
        "oom-score-adj",
        0,
        &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)],
        0,
    ),
    sp(
        "oom-score-adj-values",
        None,
        MULTI_ARG,
        Special::OomScoreAdjValues,
    ),
    b("disable-thp", None, IMM, true),
    sn("server_cpulist", None, IMM),
    sn("bio_cpulist", None, IMM),
    sn("aof_rewrite_cpulist", None, IMM),
    sn("bgsave_cpulist", None, IMM),
    b("jemalloc-bg-thread", None, 0, true),
    // Append only mode.
    b("appendonly", None, 0, false),
    sc(
        "appendfilename",
        IMM,
        "appendonly.aof",
        false,
        StrCheck::AofFilename,
    ),
    sc(
        "appenddirname",
        IMM,
        "appendonlydir",
        false,
        StrCheck::AofDirname,
    ),
    e("appendfsync", 0, APPENDFSYNC, 0),
    b("no-appendfsync-on-rewrite", None, 0, false),
    i("auto-aof-rewrite-percentage", None, 0, 0, INT_MAX, 100),
    n(
        "auto-aof-rewrite-min-size",
        None,
        0,
        0,
        LONG_MAX,
        64 * MB,
        NumFmt::Memory,
        false,
    ),
    b("aof-load-truncated", None, 0, true),
    b("aof-use-rdb-preamble", None, 0, true),
    b("aof-timestamp-enabled", None, 0, false),
    b("aof-rewrite-incremental-fsync", None, 0, true),
    b("aof-disable-auto-gc", None, 0, false),
    // Scripting.
    i(
        "busy-reply-threshold",
        Some("lua-time-limit"),
        0,
        0,
        LONG_MAX,
        5000,
    ),
    // Cluster.
    b("cluster-enabled", None, IMM, false),
    s("cluster-config-file", None, IMM, "nodes.conf"),
    i("cluster-node-timeout", None, 0, 0, LONG_MAX, 15000),
    i("cluster-port", None, IMM, 0, 65535, 0),
    i(
        "cluster-replica-validity-factor",
        Some("cluster-slave-validity-factor"),
        0,
        0,
        INT_MAX,
        10,
    ),
    i("cluster-migration-barrier", None, 0, 0, INT_MAX, 1),
    b("cluster-allow-replica-migration", None, 0, true),
    b("cluster-require-full-coverage", None, 0, true),
    b(
        "cluster-replica-no-failover",
        Some("cluster-slave-no-failover"),
        0,
        false,
    ),
    b("cluster-allow-reads-when-down", None, 0, false),
    b("cluster-allow-pubsubshard-when-down", None, 0, true),
    n(
        "cluster-link-sendbuf-limit",
        None,
        0,
        0,
        ULLONG_MAX,
        0,
        NumFmt::Memory,
        true,
    ),
    sn("cluster-announce-ip", None, 0),
    sc("cluster-announce-hostname", 0, "", true, StrCheck::Hostname),
    i("cluster-announce-port", None, 0, 0, 65535, 0),
    i("cluster-announce-bus-port", None, 0, 0, 65535, 0),
    i("cluster-announce-tls-port", None, 0, 0, 65535, 0),
    e(
        "cluster-preferred-endpoint-type",
        0,
        &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)],
        0,
    ),
    // Slow log, latency, event notification.
    i("slowlog-log-slower-than", None, 0, -1, LONG_MAX, 10000),
    i("slowlog-max-len", None, 0, 0, LONG_MAX, 128),
    i("latency-monitor-threshold", None, 0, 0, LONG_MAX, 0),
    b("latency-tracking", None, 0, true),
    sp(
        "latency-tracking-info-percentiles",
        None,
        MULTI_ARG,
        Special::LatencyTrackingInfoPercentiles,
    ),
    sp(
        "notify-keyspace-events",
        None,
        0,
        Special::NotifyKeyspaceEvents,
    ),
    // Advanced config: encodings.
    u(
        "hash-max-listpack-entries",
        Some("hash-max-ziplist-entries"),
        0,
        LONG_MAX,
        512,
    ),
    m(
        "hash-max-listpack-value",
        Some("hash-max-ziplist-value"),
        0,
        LONG_MAX,
        64,
    ),
    i(
        "list-max-listpack-size",
        Some("list-max-ziplist-size"),
        0,
        INT_MIN,
        INT_MAX,
        -2,
    ),
    i("list-compress-depth", None, 0, 0, INT_MAX, 0),
    u("set-max-intset-entries", None, 0, LONG_MAX, 512),
    u(
        "zset-max-listpack-entries",
        Some("zset-max-ziplist-entries"),
        0,
        LONG_MAX,
        128,
    ),
    m(
        "zset-max-listpack-value",
        Some("zset-max-ziplist-value"),
        0,
        LONG_MAX,
        64,
    ),
    m("hll-sparse-max-bytes", None, 0, LONG_MAX, 3000),
    m("stream-node-max-bytes", None, 0, LONG_MAX, 4096),
    i("stream-node-max-entries", None, 0, 0, LONG_MAX, 100),
    b("activerehashing", None, 0, true),
    // Active defragmentation.
    b("activedefrag", None, 0, false),
    m("active-defrag-ignore-bytes", None, 1, LONG_MAX, 100 * MB),
    i("active-defrag-threshold-lower", None, 0, 0, 1000, 10),
    i("active-defrag-threshold-upper", None, 0, 0, 1000, 100),
    i("active-defrag-cycle-min", None, 0, 1, 99, 1),
    i("active-defrag-cycle-max", None, 0, 1, 99, 25),
    i("active-defrag-max-scan-fields", None, 0, 1, LONG_MAX, 1000),
    i("lfu-log-factor", None, 0, 0, INT_MAX, 10),
    i("lfu-decay-time", None, 0, 0, INT_MAX, 1),
    // TLS.
    i("tls-port", None, 0, 0, 65535, 0),
    sn("tls-cert-file", None, 0),
    sn("tls-key-file", None, 0),
    sn("tls-key-file-pass", None, 0),
    sn("tls-client-cert-file", None, 0),
    sn("tls-client-key-file", None, 0),
    sn("tls-client-key-file-pass", None, 0),
    sn("tls-dh-params-file", None, 0),
    sn("tls-ca-cert-file", None, 0),
    sn("tls-ca-cert-dir", None, 0),
    e(
        "tls-auth-clients",
        0,
        &[("no", 0), ("yes", 1), ("optional", 2)],
        1,
    ),
    b("tls-replication", None, 0, false),
    b("tls-cluster", None, 0, false),
    sn("tls-protocols", None, 0),
    sn("tls-ciphers", None, 0),
    sn("tls-ciphersuites", None, 0),
    b("tls-prefer-server-ciphers", None, 0, false),
    b("tls-session-caching", None, 0, true),
    i("tls-session-cache-size", None, 0, 0, INT_MAX, 20480),
    i("tls-session-cache-timeout", None, 0, 0, INT_MAX, 300),
];

/// The directives ferrymq acts on; every other one is accepted, kept and reported as ignored.
pub(crate) const IMPLEMENTED: &[&str] = &[
    "bind",
    "port",
    "unixsocket",
    "unixsocketperm",
    "databases",
    "requirepass",
    "maxclients",
    "timeout",
    "tcp-keepalive",
    "loglevel",
    "logfile",
    "dir",
    "appendonly",
    "appendfilename",
    "appenddirname",
    "appendfsync",
    "aof-load-truncated",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "no-appendfsync-on-rewrite",
    "client-output-buffer-limit",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "maxmemory",
    "maxmemory-policy",
    "hz",
    "notify-keyspace-events",
    "busy-reply-threshold",
    "protected-mode",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-monitor-threshold",
    "active-expire-effort",
];

/// Directives Redis 7.0 still accepts in a file but no longer has (never reported by CONFIG GET).
pub(crate) const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];
pub(crate) const REDIS_COMMANDS: &[&str] = &[
    "acl",
    "append",
    "asking",
    "auth",
    "bgrewriteaof",
    "bgsave",
    "bitcount",
    "bitfield",
    "bitfield_ro",
    "bitop",
    "bitpos",
    "blmove",
    "blmpop",
    "blpop",
    "brpop",
    "brpoplpush",
    "bzmpop",
    "bzpopmax",
    "bzpopmin",
    "client",
    "cluster",
    "command",
    "config",
    "copy",
    "dbsize",
    "debug",
    "decr",
    "decrby",
    "del",
    "discard",
    "dump",
    "echo",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "exec",
    "exists",
    "expire",
    "expireat",
    "expiretime",
    "failover",
    "fcall",
    "fcall_ro",
    "flushall",
    "flushdb",
    "function",
    "geoadd",
    "geodist",
    "geohash",
    "geopos",
    "georadius",
    "georadius_ro",
    "georadiusbymember",
    "georadiusbymember_ro",
    "geosearch",
    "geosearchstore",
    "get",
    "getbit",
    "getdel",
    "getex",
    "getrange",
    "getset",
    "hdel",
    "hello",
    "hexists",
    "hget",
    "hgetall",
    "hincrby",
    "hincrbyfloat",
    "hkeys",
    "hlen",
    "hmget",
    "hmset",
    "hrandfield",
    "hscan",
    "hset",
    "hsetnx",
    "hstrlen",
    "hvals",
    "incr",
    "incrby",
    "incrbyfloat",
    "info",
    "keys",
    "lastsave",
    "latency",
    "lcs",
    "lindex",
    "linsert",
    "llen",
    "lmove",
    "lmpop",
    "lolwut",
    "lpop",
    "lpos",
    "lpush",
    "lpushx",
    "lrange",
    "lrem",
    "lset",
    "ltrim",
    "memory",
    "mget",
    "migrate",
    "module",
    "monitor",
    "move",
    "mset",
    "msetnx",
    "multi",
    "object",
    "persist",
    "pexpire",
    "pexpireat",
    "pexpiretime",
    "pfadd",
    "pfcount",
    "pfdebug",
    "pfmerge",
    "pfselftest",
    "ping",
    "psetex",
    "psubscribe",
    "psync",
    "pttl",
    "publish",
    "pubsub",
    "punsubscribe",
    "quit",
    "randomkey",
    "readonly",
    "readwrite",
    "rename",
    "renamenx",
    "replconf",
    "replicaof",
    "reset",
    "restore",
    "restore-asking",
    "role",
    "rpop",
    "rpoplpush",
    "rpush",
    "rpushx",
    "sadd",
    "save",
    "scan",
    "scard",
    "script",
    "sdiff",
    "sdiffstore",
    "select",
    "set",
    "setbit",
    "setex",
    "setnx",
    "setrange",
    "shutdown",
    "sinter",
    "sintercard",
    "sinterstore",
    "sismember",
    "slaveof",
    "slowlog",
    "smembers",
    "smismember",
    "smove",
    "sort",
    "sort_ro",
    "spop",
    "spublish",
    "srandmember",
    "srem",
    "sscan",
    "ssubscribe",
    "strlen",
    "subscribe",
    "substr",
    "sunion",
    "sunionstore",
    "sunsubscribe",
    "swapdb",
    "sync",
    "time",
    "touch",
    "ttl",
    "type",
    "unlink",
    "unsubscribe",
    "unwatch",
    "wait",
    "watch",
    "xack",
    "xadd",
    "xautoclaim",
    "xclaim",
    "xdel",
    "xgroup",
    "xinfo",
    "xlen",
    "xpending",
    "xrange",
    "xread",
    "xreadgroup",
    "xrevrange",
    "xsetid",
    "xtrim",
    "zadd",
    "zcard",
    "zcount",
    "zdiff",
    "zdiffstore",
    "zincrby",
    "zinter",
    "zintercard",
    "zinterstore",
    "zlexcount",
    "zmpop",
    "zmscore",
    "zpopmax",
    "zpopmin",
    "zrandmember",
    "zrange",
    "zrangebylex",
    "zrangebyscore",
    "zrangestore",
    "zrank",
    "zrem",
    "zremrangebylex",
    "zremrangebyrank",
    "zremrangebyscore",
    "zrevrange",
    "zrevrangebylex",
    "zrevrangebyscore",
    "zrevrank",
    "zscan",
    "zscore",
    "zunion",
    "zunionstore",
];
