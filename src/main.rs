//! `ferrymq [config-file] [--directive value ...]`, like redis-server.

use clap::Parser;

/// jemalloc returns freed memory to the OS (glibc malloc kept ~120 MB after a pub/sub burst had
/// drained) and is the allocator Redis itself uses, so memory comparisons are like for like.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use ferrymq::config::Config;

#[derive(Parser)]
#[command(
    name = "ferrymq",
    version,
    about = "A message broker that speaks the Redis protocol",
    override_usage = "ferrymq [/path/to/redis.conf] [--directive value ...]"
)]
struct Cli {
    /// Optional config file (redis.conf syntax), then directives as `--name value`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn init_logging(config: &Config) {
    let level = match config.get("loglevel").as_deref() {
        Some("debug") => "debug",
        Some("verbose") => "debug",
        Some("warning") => "warn",
        Some("nothing") => "off",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let logfile = config.get("logfile").unwrap_or_default();
    if logfile.is_empty() {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
        {
            Ok(f) => tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .init(),
            Err(e) => {
                eprintln!("Can't open the log file: {e}");
                std::process::exit(1);
            }
        }
    }
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
    init_logging(&config);
    let ignored = config.ignored();
    if !ignored.is_empty() {
        tracing::warn!(
            directives = %ignored.join(", "),
            "directives accepted but ignored (they do not apply to ferrymq)"
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(ferrymq::server::run(config)) {
        tracing::error!(error = %e, "server failed");
        std::process::exit(1);
    }
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
}
