//! Every error line ferrymq sends, byte-for-byte as Redis 7.0 writes it (without the leading `-`
//! and the trailing CRLF, which the encoder adds). Checked against redis-server 7.0.15; each has a
//! golden test in `tests/`.

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
pub const BITPOS_BIT: &str = "ERR The bit argument must be 1 or 0.";
pub const BITOP_NOT_ONE_KEY: &str = "ERR BITOP NOT must be called with a single source key.";
pub const BITFIELD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
pub const BITFIELD_OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
pub const BITFIELD_RO_GET_ONLY: &str = "ERR BITFIELD_RO only supports the GET subcommand";
pub const SORT_NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const INVALID_DB: &str = "ERR DB index is out of range";
pub const SELECT_NOT_INT: &str = "ERR value is not an integer or out of range";
pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const INVALID_EXPIRE: &str = "ERR invalid expire time in '%s' command";
pub const NESTED_MULTI: &str = "ERR MULTI calls can not be nested";
pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// `ERR wrong number of arguments for '<name>' command` (name as Redis prints it: lowercase,
/// `container|sub` for subcommands).
pub fn wrong_args(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// `ERR unknown command '<cmd>', with args beginning with: '<a1>' '<a2>' ` exactly as Redis 7.0
/// builds it: the name truncated to 128 bytes, arguments appended while the list is shorter than
/// 128 bytes, each cut so the list stays within 128, then CR/LF replaced by spaces.
pub fn unknown_command(argv: &[bytes::Bytes]) -> String {
    let mut args = String::new();
    for a in argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let s = String::from_utf8_lossy(&a[..a.len().min(room)]);
        args.push('\'');
        args.push_str(&s);
        args.push_str("' ");
    }
    let name = String::from_utf8_lossy(&argv[0][..argv[0].len().min(128)]);
    sanitize(format!(
        "ERR unknown command '{name}', with args beginning with: {args}"
    ))
}

/// `ERR unknown subcommand '<sub>'. Try <CONTAINER> HELP.`
pub fn unknown_subcommand(container: &str, sub: &[u8]) -> String {
    let s = String::from_utf8_lossy(&sub[..sub.len().min(128)]);
    sanitize(format!(
        "ERR unknown subcommand '{s}'. Try {} HELP.",
        container.to_ascii_uppercase()
    ))
}

/// Redis replaces newlines in error strings so the reply stays one line.
pub fn sanitize(mut s: String) -> String {
    if s.contains(['\r', '\n']) {
        s = s.replace(['\r', '\n'], " ");
    }
    s
}

/// A command whose handler failed unexpectedly (a caught panic); the details are in the log.
/// DEVIATION(redis): Redis has no such reply; its equivalent failures crash the server.
pub fn internal_error(name: &str) -> String {
    format!("ERR internal error while running '{name}': the command was aborted")
}

/// XREAD/XREADGROUP with BLOCK run by a script (`name` as the script spelled it).
pub fn block_from_script(name: &[u8]) -> String {
    format!(
        "ERR {} command is not allowed with BLOCK option from scripts",
        String::from_utf8_lossy(name)
    )
}
pub const BGSAVE_IN_PROGRESS: &str = "ERR Background save already in progress";
pub const BGSAVE_CHILD_ACTIVE: &str = "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";
pub const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
pub const SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";

// Why a CONFIG SET apply function failed: the text after "ERR CONFIG SET failed (possibly
// related to argument '<name>') - " (Redis's updatePort / applyTLSPort / applyBind).
pub const CONFIG_LISTEN: &str = "Unable to listen on this port. Check server logs.";
pub const CONFIG_TLS: &str = "Unable to update TLS configuration. Check server logs.";
pub const CONFIG_BIND: &str = "Failed to bind to specified addresses.";
