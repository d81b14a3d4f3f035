//! The process's life as an operator sees it: logging, `daemonize`, `pidfile`, and the
//! service manager (`supervised systemd`).
//!
//! API, in the order `main` calls it, before the tokio runtime exists (a fork must happen while
//! the process has one thread):
//! 1. [`daemonize`] when `daemonize yes`: fork, the parent exits, the child leaves the
//!    terminal (setsid) and points stdin/stdout/stderr at /dev/null;
//! 2. [`init_logging`]: one `tracing` subscriber writing to `logfile` (stdout when empty) in
//!    the `log-format` (`plain` or `json`), colour only when the output is a terminal, plus a
//!    syslog layer when `syslog-enabled yes` (identity `syslog-ident`, facility
//!    `syslog-facility`), as Redis logs to both;
//! 3. [`PidFile::create`]: writes the pid (the daemon's, after the fork) and removes the file
//!    when dropped, after the server has shut down.
//!
//! `server::run` calls [`notify_ready`] once the listeners accept and [`notify_stopping`]
//! when shutdown starts: `READY=1` / `STOPPING=1` on `$NOTIFY_SOCKET` (via `sd-notify`) under
//! `supervised systemd`, or `auto` when systemd set the socket; under `supervised upstart` (or
//! `auto` with `UPSTART_JOB` set) the process stops itself with SIGSTOP once ready, which is
//! how upstart's `expect stop` learns it. A supervised server does not daemonize.

use std::io::IsTerminal;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Config;

/// Where the pid file goes when `daemonize yes` names none. DEVIATION(redis): Redis uses
/// `/var/run/redis.pid`; ferrymq names its own file so both can run on one host.
pub const DEFAULT_PIDFILE: &str = "/var/run/ferrymq.pid";

/// Fork into the background (`daemonize yes`). Returns in the child only; the parent exits
/// with status 0 once the fork succeeded. Call it before any thread is started.
pub fn daemonize() -> Result<(), String> {
    // nochdir: `dir` was entered already; noclose = false: stdio goes to /dev/null, as Redis.
    nix::unistd::daemon(true, false).map_err(|e| format!("Can't daemonize: {e}"))
}

type BoxedLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

/// Install the global subscriber for `config`. Errors are for the caller to print: the log
/// itself is not there yet.
pub fn init_logging(config: &Config) -> Result<(), String> {
    let level = match config.get("loglevel").as_deref() {
        Some("debug") => "debug",
        Some("verbose") => "debug",
        Some("warning") => "warn",
        Some("nothing") => "off",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let json = config.get("log-format").as_deref() == Some("json");
    let logfile = config.get("logfile").unwrap_or_default();
    let mut layers: Vec<BoxedLayer> = Vec::new();
    if logfile.is_empty() {
        // Colour codes only for a person at a terminal: a redirected stdout is a log file.
        let ansi = std::io::stdout().is_terminal();
        layers.push(if json {
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::stdout)
                .boxed()
        } else {
            tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .with_writer(std::io::stdout)
                .boxed()
        });
    } else {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
            .map_err(|e| format!("Can't open the log file: {e}"))?;
        let w = std::sync::Mutex::new(f);
        layers.push(if json {
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(w)
                .boxed()
        } else {
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(w)
                .boxed()
        });
    }
    if config.get_bool("syslog-enabled") {
        let ident = config.get("syslog-ident").unwrap_or_else(|| "redis".into());
        let ident = std::ffi::CString::new(ident)
            .map_err(|_| "syslog-ident must not contain a NUL byte".to_string())?;
        use syslog_tracing::{Facility, Options, Syslog};
        let facility = match config.get("syslog-facility").as_deref() {
            Some("local0") => Facility::Local0,
            Some("local1") => Facility::Local1,
            Some("local2") => Facility::Local2,
            Some("local3") => Facility::Local3,
            Some("local4") => Facility::Local4,
            Some("local5") => Facility::Local5,
            Some("local6") => Facility::Local6,
            Some("local7") => Facility::Local7,
            _ => Facility::User,
        };
        let syslog = Syslog::new(ident, Options::LOG_PID | Options::LOG_NDELAY, facility)
            .ok_or("syslog is already open")?;
        // syslog stamps time and host itself; the level becomes the priority.
        layers.push(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .without_time()
                .with_level(false)
                .with_target(false)
                .with_writer(syslog)
                .boxed(),
        );
    }
    tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init()
        .map_err(|e| format!("Can't set up logging: {e}"))
}

/// The `pidfile`, removed when dropped (after a clean shutdown, as Redis removes it).
pub struct PidFile {
    path: std::path::PathBuf,
}

impl PidFile {
    /// The pid file `config` asks for: `pidfile`, or [`DEFAULT_PIDFILE`] under `daemonize yes`.
    /// A failure to write it is logged and not fatal, as in Redis.
    pub fn create(config: &Config) -> Option<PidFile> {
        let path = config
            .get("pidfile")
            .filter(|p| !p.is_empty())
            .or_else(|| {
                config
                    .get_bool("daemonize")
                    .then(|| DEFAULT_PIDFILE.to_string())
            })?;
        match std::fs::write(&path, format!("{}\n", std::process::id())) {
            Ok(()) => Some(PidFile { path: path.into() }),
            Err(e) => {
                tracing::warn!(pidfile = %path, error = %e, "Failed to write PID file");
                None
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether systemd is to be told about start and stop (`auto`: as Redis, upstart's
/// `UPSTART_JOB` wins over systemd's `NOTIFY_SOCKET`).
fn systemd(config_supervised: &str) -> bool {
    match config_supervised {
        "systemd" => true,
        "auto" => {
            std::env::var_os("UPSTART_JOB").is_none() && std::env::var_os("NOTIFY_SOCKET").is_some()
        }
        _ => false,
    }
}

/// Whether upstart supervises the process (`expect stop`: it waits for SIGSTOP as the sign of
/// readiness): `supervised upstart`, or `auto`, with `UPSTART_JOB` set.
fn upstart(config_supervised: &str) -> bool {
    matches!(config_supervised, "upstart" | "auto") && std::env::var_os("UPSTART_JOB").is_some()
}

/// Whether a service manager supervises the process: then `daemonize yes` does not fork, as in
/// Redis (the manager tracks the process it started).
pub fn supervised(config: &Config) -> bool {
    let mode = config.get("supervised").unwrap_or_default();
    systemd(&mode) || upstart(&mode)
}

/// `READY=1`: the data is loaded and the listeners accept. Under upstart the process stops
/// itself (SIGSTOP) and upstart continues it, as Redis signals readiness to upstart.
pub fn notify_ready(supervised: &str) {
    if supervised == "upstart" && !upstart(supervised) {
        tracing::warn!("upstart supervision requested, but UPSTART_JOB not found!");
    }
    if upstart(supervised) {
        tracing::info!("supervised by upstart, will stop to signal readiness.");
        if let Err(e) = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP) {
            tracing::warn!(error = %e, "SIGSTOP for upstart failed");
        }
        return;
    }
    if systemd(supervised) {
        match sd_notify::notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status("Ready to accept connections"),
        ]) {
            Ok(()) => tracing::info!("Supervised by systemd. Notified READY=1"),
            Err(e) => tracing::warn!(error = %e, "systemd notification failed"),
        }
    }
}

/// `STOPPING=1`: shutdown has begun.
pub fn notify_stopping(supervised: &str) {
    if systemd(supervised)
        && let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Stopping])
    {
        tracing::warn!(error = %e, "systemd notification failed");
    }
}

/// How much lower than the process's own priority a background thread runs.
#[derive(Clone, Copy)]
pub enum Background {
    /// BGSAVE's encoding and writing: nice +19, about 1.5 % of a CPU it shares with a busy
    /// serving thread. Nothing waits on it but the file. At +10 a GET's p99 during
    /// back-to-back BGSAVEs was still 6x its p99 without them on one shared core; at +19 it
    /// is 1.3x (redis-server: 4.8-9x). A shorter time slice at nice 0 (sched_setattr's
    /// runtime) did not bring it down.
    Snapshot,
    /// The encoding of a replica's full synchronisation: nice +10, about a tenth of such a
    /// CPU. The replica waits for it, and the stream held back for it grows meanwhile towards
    /// the replica's output-buffer limit.
    Replica,
}

/// Run `work` (a snapshot's encoding and file writing, which hold no lock) on a thread of its
/// own at a lower scheduling priority, and wait for it. Where that thread shares a CPU with
/// the threads serving clients, the scheduler gives the CPU to a client's request as soon as
/// it arrives, and the snapshot takes the time left over; with a CPU to spare it runs as fast
/// as before. Redis's forked child competes on equal terms instead, and a request arriving
/// during its time slice waits for the slice to end.
///
/// Only lock-free work goes here: the snapshot's critical sections under the store lock stay on
/// the caller's thread at normal priority. At nice +19 a thread holding the lock would, on a
/// machine where other processes keep every CPU busy, wait hundreds of milliseconds for each
/// time slice while every client waited for the lock; and an unprivileged thread cannot raise
/// its priority again, hence the separate thread. If it cannot be started, `work` runs here.
pub fn at_lower_priority<T: Send>(
    kind: Background,
    name: &str,
    work: impl FnOnce() -> T + Send,
) -> T {
    let mut work = Some(work);
    let spawned = std::thread::scope(|scope| {
        let job = &mut work;
        std::thread::Builder::new()
            .name(name.into())
            .spawn_scoped(scope, move || {
                lower_thread_priority(kind);
                (job.take().expect("the work, once"))()
            })
            .ok()
            .map(|h| h.join())
    });
    match spawned {
        Some(Ok(v)) => v,
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => (work.take().expect("the work was not started"))(),
    }
}

/// Lower the calling thread's scheduling priority by `kind`'s amount.
#[allow(unsafe_code)]
fn lower_thread_priority(kind: Background) {
    let by = match kind {
        Background::Snapshot => 19,
        Background::Replica => 10,
    };
    #[cfg(not(target_os = "linux"))]
    let _ = by;
    #[cfg(target_os = "linux")]
    {
        use nix::libc;
        // SAFETY: getpriority and setpriority only read their integer arguments. On Linux,
        // PRIO_PROCESS with 0 names the calling thread alone (a thread's nice value is its
        // own), so the serving threads keep theirs. A nice value above the current one needs
        // no privilege; a failure leaves the priority as it was, which is harmless.
        unsafe {
            let now = libc::getpriority(libc::PRIO_PROCESS, 0);
            libc::setpriority(libc::PRIO_PROCESS, 0, (now + by).min(19));
        }
    }
}
