//! `ferrymq [config-file] [--directive value ...]`, like redis-server.

use clap::Parser;

/// jemalloc returns freed memory to the OS (glibc malloc kept ~120 MB after a pub/sub burst had
/// drained) and is the allocator Redis itself uses, so memory comparisons are like for like.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use ferrymq::config::Config;

/// Shown by `--help` after the usage: what redis-server's help does not list.
const AFTER_HELP: &str = "\
Subcommands:
  ferrymq check-aof [--fix] <dir|manifest|file>  Check an AOF (--fix: cut a damaged tail)
  ferrymq check-rdb <file>                       Check an RDB snapshot

Directives (in the config file as `name value`, on the command line as `--name value`):
  --port <n>                     TCP port for clients (6379; 0 = no TCP)
  --bind <addr...>               Addresses to listen on (127.0.0.1)
  --unixsocket <path>            Also listen on a unix socket
  --requirepass <password>       Password of the default user
  --dir <path>                   Working directory: AOF, RDB and relative paths
  --appendonly yes|no            Persist every write to the append-only file
  --appendfsync always|everysec|no  When the AOF is fsynced
  --maxmemory <bytes>            Memory limit (with --maxmemory-policy)
  --maxclients <n>               Connection limit (10000)
  --metrics-port <n>             HTTP port for /metrics, /healthz, /readyz and the dashboard
  --metrics-bind <addr...>       Addresses of the HTTP port (127.0.0.1)
  --metrics-key-patterns <globs> Keys with per-key metrics (queue:* jobs ...)
  --metrics-password <password>  HTTP Basic password for /metrics and the dashboard
  --loglevel debug|verbose|notice|warning  Log verbosity
  --logfile <path>               Log to a file (standard output when empty)
  --log-format plain|json        Log line format
  --syslog-enabled yes|no        Also log to syslog (--syslog-ident, --syslog-facility)
  --daemonize yes|no             Fork into the background
  --pidfile <path>               Write the pid there, removed on shutdown
  --supervised systemd|auto|no   Tell systemd READY=1 / STOPPING=1 ($NOTIFY_SOCKET)
  --replicaof <host> <port>      Replicate another server

Every redis.conf directive is accepted; see redis.conf.example for the whole list.";

#[derive(Parser)]
#[command(
    name = "ferrymq",
    version,
    about = "A message broker that speaks the Redis protocol",
    override_usage = "ferrymq [/path/to/redis.conf] [--directive value ...]\n       ferrymq check-aof [--fix] <dir|manifest|file>\n       ferrymq check-rdb <file>",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Optional config file (redis.conf syntax), then directives as `--name value`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("check-aof") {
        std::process::exit(ferrymq::aof::check::main(&argv[2..]));
    }
    if argv.get(1).map(String::as_str) == Some("check-rdb") {
        std::process::exit(ferrymq::snapshot::check::main(&argv[2..]));
    }
    let cli = Cli::parse();
    let config = match Config::from_args(&cli.args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    // Like redis-server, work inside `dir`: relative paths (logfile, appenddirname) live there.
    if let Some(dir) = config.get("dir")
        && let Err(e) = std::env::set_current_dir(&dir)
    {
        eprintln!("Can't chdir to '{dir}': {e}");
        std::process::exit(1);
    }
    // Before the runtime: a fork keeps only the calling thread.
    if config.get_bool("daemonize")
        && !ferrymq::process::supervised(&config)
        && let Err(e) = ferrymq::process::daemonize()
    {
        eprintln!("{e}");
        std::process::exit(1);
    }
    if let Err(e) = ferrymq::process::init_logging(&config) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let pidfile = ferrymq::process::PidFile::create(&config);
    let ignored = config.ignored();
    if !ignored.is_empty() {
        tracing::warn!(
            directives = %ignored.join(", "),
            "directives accepted but ignored (they do not apply to ferrymq)"
        );
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    // Tasks woken by one poll of the sockets run in the order they were woken, which is the
    // order their requests arrived. With tokio's LIFO slot the last one woken ran first: of two
    // requests sent one just after the other on two connections, the second was served first,
    // nearly every time (199 of 200 in a test of XREADGROUP BLOCK, then SET on another
    // connection). Redis serves them in arrival order, and clients and Redis's own tests rely
    // on it. What is left is the chance of the two landing on different threads.
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    let rt = builder.build().expect("tokio runtime");
    if let Err(e) = rt.block_on(ferrymq::server::run(config)) {
        tracing::error!(error = %e, "server failed");
        drop(pidfile);
        std::process::exit(1);
    }
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    drop(pidfile);
}
