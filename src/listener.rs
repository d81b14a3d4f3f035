//! Client listening sockets (plain TCP and TLS) and the task that owns them.
//!
//! API, in the order the server uses it:
//! - [`bind_all`] binds one port on every `bind` address the way Redis's `listenToPort` does:
//!   `*` is every IPv4 address, `::*` every IPv6 one (IPv6 sockets are IPv6-only), an address
//!   with a `:` is IPv6, a name is resolved; a `-` prefix makes an address optional (skipped
//!   only when it is not available on this host); an address family the host lacks is skipped;
//!   any other failure fails the whole set. No address at all (`bind ""`) binds nothing.
//! - `server::run` binds the startup sockets with it (a failure stops the start) and hands them
//!   to [`start`], which spawns the supervisor: the one task that owns the accept tasks, one
//!   per socket (`server::accept_tcp`, `tls::accept_loop`, the same loops as before run-time
//!   changes existed: no lock and no extra wake-up on the accept path).
//! - CONFIG SET calls [`apply`] once the new `port` / `tls-port` / `bind` values are in the
//!   config, with one [`Step`] per changed parameter in the order of the command's arguments
//!   (Redis runs its apply functions `updatePort`, `applyTLSPort`, `applyBind` in that order).
//!   When a step fails the handler puts every old value back and calls [`apply`] again in
//!   [`Mode::Restore`], which runs every step with the old values (Redis's
//!   `restoreBackupConfig`): the old listeners serve again.
//!
//! Each step closes its listeners before binding the new ones, as Redis does: binding first
//! would fail with EADDRINUSE whenever an old and a new address overlap (`CONFIG SET bind` with
//! the same addresses, `*` → `127.0.0.1`). Closing a listener means ending the accept task that
//! owns it, and only an awaited abort guarantees the socket is closed before the next bind: that
//! is why the listeners live in a task. CONFIG SET is a synchronous handler, so it waits for
//! the supervisor's reply inside `block_in_place` (its runtime worker, with the tasks queued on
//! it, goes to another thread meanwhile). Established connections are tasks of their own and
//! never notice a rebind.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, OnceLock};

use nix::errno::Errno;
use rustls::ServerConfig;
use socket2::{Domain, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::warn;

use crate::config::Config;
use crate::server::Shared;
use crate::tls::TlsSettings;

/// What one CONFIG SET apply function does to the listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `port` (Redis's `updatePort`): close the TCP listeners, bind the new port unless it is 0.
    Port,
    /// `tls-port` (`applyTLSPort`): build the TLS configuration if it never was, close the TLS
    /// listeners, bind the new port unless it is 0.
    TlsPort,
    /// `bind` (`applyBind`): close both kinds, bind both ports (those not 0) on the addresses.
    Bind,
}

impl Step {
    /// The step a CONFIG SET parameter runs (its canonical name), if any.
    pub fn for_param(name: &str) -> Option<Step> {
        match name {
            "port" => Some(Step::Port),
            "tls-port" => Some(Step::TlsPort),
            "bind" => Some(Step::Bind),
            _ => None,
        }
    }

    pub fn param(self) -> &'static str {
        match self {
            Step::Port => "port",
            Step::TlsPort => "tls-port",
            Step::Bind => "bind",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Stop at the first failing step and report it.
    Apply,
    /// Run every step, logging failures (there is nothing older to go back to).
    Restore,
}

/// A failed step and the reason CONFIG SET reports (Redis's apply error strings).
pub type Failure = (Step, &'static str);

/// The parameters the listening sockets are built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `bind`, word by word (a `-` prefix marks an optional address).
    pub bind: Vec<String>,
    pub port: u16,
    pub tls_port: u16,
    pub backlog: i32,
}

impl Target {
    pub fn from_config(c: &Config) -> Target {
        Target {
            bind: c.bind_addresses(),
            port: c.get_i64("port").clamp(0, 65535) as u16,
            tls_port: c.get_i64("tls-port").clamp(0, 65535) as u16,
            backlog: c.get_i64("tcp-backlog").clamp(0, i32::MAX as i64) as i32,
        }
    }
}

/// Bind `port` on every address of `bind` (see the module comment). All or nothing: on an error
/// the sockets bound so far are closed.
pub fn bind_all(
    bind: &[String],
    port: u16,
    backlog: i32,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    let mut out = Vec::with_capacity(bind.len());
    for word in bind {
        let (addr, optional) = match word.strip_prefix('-') {
            Some(rest) => (rest, true),
            None => (word.as_str(), false),
        };
        match bind_one(addr, port, backlog) {
            Ok(l) => out.push(l),
            Err(e) => {
                warn!(%addr, port, error = %e, "Could not create server TCP listening socket");
                let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
                if optional && errno == Errno::EADDRNOTAVAIL {
                    continue;
                }
                // The host lacks the address family (no IPv6): never fatal.
                if matches!(
                    errno,
                    Errno::ENOPROTOOPT
                        | Errno::EPROTONOSUPPORT
                        | Errno::ESOCKTNOSUPPORT
                        | Errno::EPFNOSUPPORT
                        | Errno::EAFNOSUPPORT
                ) {
                    continue;
                }
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// One listening socket, as Redis's `_anetTcpServer`: the family from the text (a `:` means
/// IPv6), SO_REUSEADDR, IPV6_V6ONLY, the first resolved address.
fn bind_one(addr: &str, port: u16, backlog: i32) -> std::io::Result<std::net::TcpListener> {
    let sa = resolve(addr, port)?;
    let socket = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
    if sa.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&sa.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// The socket address of one `bind` word (without its `-`).
fn resolve(addr: &str, port: u16) -> std::io::Result<SocketAddr> {
    let v6 = addr.contains(':');
    if addr == "*" {
        return Ok(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)));
    }
    if addr == "::*" {
        return Ok(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)));
    }
    // Numeric addresses are parsed; names go through getaddrinfo (blocking, as in Redis).
    (addr, port)
        .to_socket_addrs()?
        .find(|a| a.is_ipv6() == v6)
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address of the family")
        })
}

/// The sockets of [`bind_all`] (non-blocking) registered with tokio's reactor. Must run inside
/// the runtime.
pub fn to_tokio(ls: Vec<std::net::TcpListener>) -> std::io::Result<Vec<TcpListener>> {
    ls.into_iter().map(TcpListener::from_std).collect()
}

/// How CONFIG SET reaches the supervisor (unset until [`start`]: a server without listeners,
/// as in the in-process tests, has nothing to rebind).
///
/// Unbounded: every request comes from a CONFIG SET that waits for its reply before sending
/// another, so the queue never holds more than one request per connection.
#[derive(Default)]
pub struct Control {
    tx: OnceLock<mpsc::UnboundedSender<Request>>,
}

struct Request {
    steps: Vec<Step>,
    mode: Mode,
    target: Target,
    reply: std::sync::mpsc::SyncSender<Result<(), Failure>>,
}

/// Spawn the supervisor with the startup listeners; it lives until the returned task is
/// aborted (shutdown), which aborts the accept tasks with it.
pub fn start(
    shared: &Arc<Shared>,
    tcp: Vec<TcpListener>,
    tls: Vec<TcpListener>,
    tls_config: Option<(TlsSettings, Arc<ServerConfig>)>,
) -> JoinHandle<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = shared.listeners.tx.set(tx);
    let mut sup = Supervisor {
        shared: shared.clone(),
        tcp: JoinSet::new(),
        tls: JoinSet::new(),
        tls_config,
    };
    sup.serve_tcp(tcp);
    sup.serve_tls(tls);
    tokio::spawn(sup.run(rx))
}

/// Run `steps` against the listeners with the config's current `bind` / `port` / `tls-port`.
/// In [`Mode::Apply`] the first failure stops the run and is returned.
///
/// Blocks the calling thread until the supervisor replies (see the module comment); the caller
/// must not hold the config lock.
pub fn apply(shared: &Shared, steps: &[Step], mode: Mode) -> Result<(), Failure> {
    let Some(first) = steps.first() else {
        return Ok(());
    };
    let Some(tx) = shared.listeners.tx.get() else {
        return Ok(());
    };
    let gone = Err((*first, crate::error::CONFIG_LISTEN));
    let target = Target::from_config(&shared.config.read());
    // One reply, sent by an async task to a blocked thread: a std channel with room for it.
    let (reply, rx) = std::sync::mpsc::sync_channel(1);
    let req = Request {
        steps: steps.to_vec(),
        mode,
        target,
        reply,
    };
    if tx.send(req).is_err() {
        return gone;
    }
    // A dropped sender (the supervisor ended at shutdown) reads as a failure.
    let wait = || rx.recv().unwrap_or(gone);
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
        // The only thread of the runtime cannot wait for a task of that runtime.
        Ok(_) => Err((*first, crate::error::CONFIG_LISTEN)),
        Err(_) => wait(),
    }
}

struct Supervisor {
    shared: Arc<Shared>,
    tcp: JoinSet<()>,
    tls: JoinSet<()>,
    /// Built once TLS is first needed (Redis's `isTlsConfigured`); the accept loops rebuild it
    /// themselves when the `tls-*` files change.
    tls_config: Option<(TlsSettings, Arc<ServerConfig>)>,
}

impl Supervisor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        while let Some(req) = rx.recv().await {
            let res = self.run_steps(&req.steps, req.mode, &req.target).await;
            let _ = req.reply.send(res);
        }
    }

    async fn run_steps(&mut self, steps: &[Step], mode: Mode, t: &Target) -> Result<(), Failure> {
        for &step in steps {
            if let Err(reason) = self.step(step, t).await {
                match mode {
                    Mode::Apply => return Err((step, reason)),
                    Mode::Restore => {
                        warn!("Failed applying restored failed CONFIG SET command: {reason}")
                    }
                }
            }
        }
        Ok(())
    }

    async fn step(&mut self, step: Step, t: &Target) -> Result<(), &'static str> {
        use crate::error::{CONFIG_BIND, CONFIG_LISTEN, CONFIG_TLS};
        match step {
            Step::Port => {
                self.tcp.shutdown().await;
                if t.port != 0 {
                    let ls = self.bind(&t.bind, t.port, t.backlog).ok_or(CONFIG_LISTEN)?;
                    self.serve_tcp(ls);
                }
            }
            Step::TlsPort => {
                if self.tls_config.is_none() {
                    self.tls_config = Some(configure_tls(&self.shared).ok_or(CONFIG_TLS)?);
                }
                self.tls.shutdown().await;
                if t.tls_port != 0 {
                    let ls = self
                        .bind(&t.bind, t.tls_port, t.backlog)
                        .ok_or(CONFIG_LISTEN)?;
                    self.serve_tls(ls);
                }
            }
            Step::Bind => {
                self.tcp.shutdown().await;
                self.tls.shutdown().await;
                // Both sockets sets or neither (a failed set closes what it bound).
                let sets = self
                    .bind_unless_0(t, t.port)
                    .and_then(|tcp| self.bind_unless_0(t, t.tls_port).map(|tls| (tcp, tls)));
                let Some((tcp, tls)) = sets else {
                    warn!("Failed to bind");
                    return Err(CONFIG_BIND);
                };
                self.serve_tcp(tcp);
                if !tls.is_empty() && self.tls_config.is_none() {
                    // `bind` and `tls-port` in one CONFIG SET, `bind` first: Redis binds the
                    // TLS port here and configures TLS in the tls-port step, which reports a
                    // configuration failure.
                    self.tls_config = configure_tls(&self.shared);
                }
                if self.tls_config.is_some() {
                    self.serve_tls(tls);
                }
            }
        }
        Ok(())
    }

    /// [`Self::bind`] of `port` on the target's addresses, nothing for port 0.
    fn bind_unless_0(&self, t: &Target, port: u16) -> Option<Vec<TcpListener>> {
        if port == 0 {
            return Some(Vec::new());
        }
        self.bind(&t.bind, port, t.backlog)
    }

    /// [`bind_all`] registered with tokio; None when it failed (`bind_all` logs each address
    /// that failed).
    fn bind(&self, bind: &[String], port: u16, backlog: i32) -> Option<Vec<TcpListener>> {
        let ls = bind_all(bind, port, backlog).ok()?;
        to_tokio(ls)
            .inspect_err(|e| warn!(port, error = %e, "Could not register the listening sockets"))
            .ok()
    }

    fn serve_tcp(&mut self, ls: Vec<TcpListener>) {
        for l in ls {
            self.tcp
                .spawn(crate::server::accept_tcp(self.shared.clone(), l));
        }
    }

    fn serve_tls(&mut self, ls: Vec<TcpListener>) {
        let Some((settings, config)) = &self.tls_config else {
            return;
        };
        for l in ls {
            self.tls.spawn(crate::tls::accept_loop(
                self.shared.clone(),
                l,
                settings.clone(),
                config.clone(),
            ));
        }
    }
}

/// The TLS configuration from the `tls-*` directives, or None (logged, as Redis's
/// `tlsConfigure`).
fn configure_tls(shared: &Shared) -> Option<(TlsSettings, Arc<ServerConfig>)> {
    match crate::tls::configure(shared) {
        Ok(c) => Some(c),
        Err(msg) => {
            warn!(%msg, "Failed to configure TLS");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn addresses_resolve_as_in_redis() {
        assert_eq!(resolve("*", 7).unwrap(), "0.0.0.0:7".parse().unwrap());
        assert_eq!(resolve("::*", 7).unwrap(), "[::]:7".parse().unwrap());
        assert_eq!(resolve("::1", 7).unwrap(), "[::1]:7".parse().unwrap());
        // No ':' means IPv4: a name gives its IPv4 address.
        assert_eq!(
            resolve("localhost", 7).unwrap(),
            "127.0.0.1:7".parse().unwrap()
        );
        assert!(resolve("", 7).is_err());
    }

    #[test]
    fn optional_addresses_and_failures() {
        // 192.0.2.1 (TEST-NET-1) is on no host: EADDRNOTAVAIL.
        assert!(bind_all(&words("127.0.0.1 192.0.2.1"), 0, 16).is_err());
        let ls = bind_all(&words("127.0.0.1 -192.0.2.1"), 0, 16).unwrap();
        assert_eq!(ls.len(), 1);
        let port = ls[0].local_addr().unwrap().port();
        // Only unavailability is forgiven: an address in use fails even when optional.
        assert!(bind_all(&words("-127.0.0.1"), port, 16).is_err());
        drop(ls);
        assert_eq!(bind_all(&words("-127.0.0.1"), port, 16).unwrap().len(), 1);
        assert!(bind_all(&[], port, 16).unwrap().is_empty());
    }
}
