//! The replica side of replication: `REPLICAOF host port` (or `replicaof` in the config)
//! starts a link task that connects to the master, does Redis's handshake, synchronises, then
//! applies the master's stream.
//!
//! # The link, as Redis's `syncWithMaster` runs it
//! 1. `PING`; `AUTH [masteruser] masterauth` when set; `REPLCONF listening-port`, and
//!    `ip-address` when `replica-announce-ip` is set; `REPLCONF capa eof capa psync2`.
//! 2. `PSYNC replid offset+1` with the history this server has (its own after it was a master,
//!    or its former master's), `PSYNC ? -1` without one.
//! 3. `+FULLRESYNC replid offset`: the RDB follows, as `$<len>` (disk-based) or `$EOF:<mark>`
//!    (diskless), after any newlines the master sends while it prepares it. The dataset is
//!    replaced by it, the history reset to the master's at `offset`, and this server's own
//!    replicas disconnected (they resynchronise from the new data).
//!    `+CONTINUE [replid]`: the stream continues where this server's history stops; a new
//!    replid (the master was promoted) becomes ours, the old one `replid2`.
//! 4. The stream: each command is run as the master client (replies discarded), its bytes
//!    appended to this server's own stream (backlog and sub-replicas, byte for byte) and to
//!    the offset. `REPLCONF GETACK` is answered with `REPLCONF ACK <offset>`; an ACK also goes
//!    every second and right after loading.
//!
//! A link that fails (connect, handshake, a closed or silent master for `repl-timeout`
//! seconds) is retried every second. `REPLICAOF NO ONE` ends it: the history continues under a
//! new replication ID, the old one kept as `replid2` so siblings can continue from this server.
//!
//! With `tls-replication yes` the link is a TLS session ([`crate::tls::client_config`]).
//!
//! DEVIATION(redis): the RDB is received into memory (no temporary file), and reads are served
//! while a full resync loads
//! (`replica-serve-stale-data no` refuses the commands not flagged `stale` while the link is
//! down).

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::connection::ClientHandle;
use crate::engine::StoreInner;
use crate::protocol::{Reply, encode_command};
use crate::server::Shared;

/// Where the link to the master is (Redis's `repl_state`, as ROLE names it).
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub enum LinkState {
    #[default]
    Connect,
    Connecting,
    Handshake,
    Transfer,
    Connected,
}

impl LinkState {
    fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }
}

#[derive(Default)]
struct Link {
    master: Option<(String, u16)>,
    state: LinkState,
    /// Bumped by every REPLICAOF: a link task whose generation is old stops.
    generation: u64,
    last_io: Option<Instant>,
    down_since: Option<Instant>,
    /// The connection to the master, registered as a client (`CLIENT LIST` flag `M`).
    client: Option<Arc<ClientHandle>>,
    /// RDB transfer progress: total (0 = unknown, diskless) and read bytes.
    transfer: (u64, u64),
}

/// This server's role: master, or replica of `master`. Lock order: the store lock first.
#[derive(Default)]
pub struct ReplicaState {
    link: Mutex<Link>,
    is_replica: AtomicBool,
    /// Replicas that acknowledged within `min-replicas-max-lag` seconds, as the replication
    /// cron last counted them (Redis's `repl_good_slaves_count`).
    pub good_replicas: AtomicI64,
    /// `min-replicas-to-write`, 0 when it or `min-replicas-max-lag` is off.
    min_replicas: AtomicI64,
    /// This server feeds a replication stream of its own (a master with a backlog): PUBLISH
    /// goes into it. Read without the store lock.
    feeding: AtomicBool,
    /// The FAILOVER this server runs, if any.
    pub failover: crate::failover::Failover,
    /// The database the master's stream has selected, kept across links: after a partial
    /// resynchronisation the master continues without a new SELECT (Redis keeps it in its
    /// cached master client).
    stream_db: std::sync::atomic::AtomicUsize,
}

impl ReplicaState {
    /// Whether PUBLISH must be fed to the replication stream (see `feeding`).
    #[inline]
    pub fn feeding(&self) -> bool {
        self.feeding.load(Ordering::Relaxed)
    }

    /// Refresh `feeding` after the stream or the role changed (under the store lock).
    pub fn update_feeding(&self, repl: &crate::engine::replicas::Replication) {
        self.feeding
            .store(repl.active() && !repl.proxy, Ordering::Relaxed);
    }

    /// Mirror the settings the write path reads (`Shared::apply_config`).
    pub fn apply_config(&self, c: &crate::config::Config) {
        let min = c.get_i64("min-replicas-to-write");
        let lag = c.get_i64("min-replicas-max-lag");
        self.min_replicas
            .store(if lag > 0 { min } else { 0 }, Ordering::Relaxed);
    }

    /// Count the replicas that acknowledged within `min-replicas-max-lag` seconds.
    pub fn refresh_good(&self, shared: &Shared, repl: &crate::engine::replicas::Replication) {
        let lag = shared.config_i64("min-replicas-max-lag");
        let good = repl
            .links
            .iter()
            .filter(|l| l.ack_time.elapsed().as_secs() as i64 <= lag)
            .count();
        self.good_replicas.store(good as i64, Ordering::Relaxed);
    }
}

/// Why a write is refused by replication, if it is: a read-only replica, or a master with
/// fewer good replicas than `min-replicas-to-write`.
pub fn refuse_writes(shared: &Shared) -> Option<&'static str> {
    if shared.replica.is_replica() {
        if shared.config.read().get_bool("replica-read-only") {
            return Some("READONLY You can't write against a read only replica.");
        }
        return None;
    }
    let min = shared.replica.min_replicas.load(Ordering::Relaxed);
    if min > 0 && shared.replica.good_replicas.load(Ordering::Relaxed) < min {
        return Some("NOREPLICAS Not enough good replicas to write.");
    }
    None
}

/// A replica whose link to its master is down refuses the commands not flagged `stale` when
/// `replica-serve-stale-data` is no.
pub fn refuse_stale(shared: &Shared) -> Option<&'static str> {
    if shared.replica.link_up() || shared.config.read().get_bool("replica-serve-stale-data") {
        return None;
    }
    Some("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
}

impl ReplicaState {
    /// The database the master's stream has selected (see `stream_db`).
    pub fn stream_db(&self) -> usize {
        self.stream_db.load(Ordering::Relaxed)
    }

    pub fn set_stream_db(&self, db: usize) {
        self.stream_db.store(db, Ordering::Relaxed);
    }

    /// One atomic load: whether this server follows a master.
    #[inline]
    pub fn is_replica(&self) -> bool {
        self.is_replica.load(Ordering::Relaxed)
    }

    pub fn master(&self) -> Option<(String, u16)> {
        self.link.lock().master.clone()
    }

    /// Whether the link to the master is up (a master's replicas may then sync from us).
    pub fn link_up(&self) -> bool {
        self.link.lock().state == LinkState::Connected
    }

    fn current(&self, generation: u64) -> bool {
        self.link.lock().generation == generation
    }

    fn set_state(&self, generation: u64, state: LinkState) {
        let mut l = self.link.lock();
        if l.generation != generation {
            return;
        }
        if state != LinkState::Connected && l.state == LinkState::Connected {
            l.down_since = Some(Instant::now());
        }
        if state == LinkState::Connected {
            l.down_since = None;
        }
        l.state = state;
    }

    fn touch(&self) {
        self.link.lock().last_io = Some(Instant::now());
    }
}

/// REPLICAOF host port, under the store lock: follow a new master. Returns false when this
/// server already follows it (nothing changes).
pub fn set_master(shared: &Arc<Shared>, store: &mut StoreInner, host: String, port: u16) -> bool {
    let generation = {
        let mut l = shared.replica.link.lock();
        if l.master.as_ref() == Some(&(host.clone(), port)) {
            return false;
        }
        l.master = Some((host.clone(), port));
        l.generation += 1;
        l.state = LinkState::Connect;
        if l.down_since.is_none() {
            l.down_since = Some(Instant::now());
        }
        if let Some(c) = l.client.take() {
            c.kill();
        }
        l.generation
    };
    shared.replica.is_replica.store(true, Ordering::SeqCst);
    // Our own history (as a master, or with the previous master) is what PSYNC offers the new
    // one; our replicas reconnect and continue from us once we have synchronised.
    store.repl.ensure_backlog();
    store.repl.proxy = true;
    store.repl.disconnect_all();
    store.repl.reselect();
    shared.replica.update_feeding(&store.repl);
    shared
        .config
        .write()
        .set_replicaof(Some((host, i64::from(port))));
    tokio::spawn(run(shared.clone(), generation));
    true
}

/// REPLICAOF NO ONE, under the store lock: become a master, continuing the history under a
/// new replication ID.
pub fn unset_master(shared: &Arc<Shared>, store: &mut StoreInner) {
    {
        let mut l = shared.replica.link.lock();
        if l.master.is_none() {
            return;
        }
        l.master = None;
        l.generation += 1;
        l.state = LinkState::Connect;
        l.down_since = None;
        if let Some(c) = l.client.take() {
            c.kill();
        }
    }
    shared.replica.is_replica.store(false, Ordering::SeqCst);
    store.repl.proxy = false;
    if store.repl.active() {
        store.repl.shift_replid();
    }
    store.repl.disconnect_all();
    store.repl.reselect();
    shared.replica.update_feeding(&store.repl);
    shared.config.write().set_replicaof(None);
}

/// Start following the `replicaof` of the configuration (at startup, after loading).
pub fn start_from_config(shared: &Arc<Shared>) {
    let master = shared.config.read().replicaof();
    if let Some((host, port)) = master {
        let mut store = shared.store.lock();
        shared.config.write().set_replicaof(None);
        set_master(shared, &mut store, host, port);
    }
}

/// INFO replication's lines from `role` to `replica_announced` for a replica (empty for a
/// master).
pub fn info_fields(shared: &Shared, offset: u64) -> String {
    let l = shared.replica.link.lock();
    let Some((host, port)) = &l.master else {
        return String::new();
    };
    let mut out = String::new();
    let up = l.state == LinkState::Connected;
    let last_io = match (&l.client, l.last_io) {
        (Some(_), Some(t)) if up => t.elapsed().as_secs() as i64,
        _ => -1,
    };
    let _ = write!(
        out,
        "master_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{last_io}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{offset}\r\nslave_repl_offset:{offset}\r\n",
        if up { "up" } else { "down" },
        u8::from(l.state == LinkState::Transfer),
    );
    if l.state == LinkState::Transfer {
        let (total, read) = l.transfer;
        let perc = if total > 0 {
            read as f64 / total as f64 * 100.0
        } else {
            0.0
        };
        let _ = write!(
            out,
            "master_sync_total_bytes:{total}\r\nmaster_sync_read_bytes:{read}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
            total as i64 - read as i64,
            l.last_io.map_or(0, |t| t.elapsed().as_secs()),
        );
    }
    if !up {
        let _ = write!(
            out,
            "master_link_down_since_seconds:{}\r\n",
            l.down_since.map_or(-1, |t| t.elapsed().as_secs() as i64)
        );
    }
    let _ = write!(
        out,
        "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
        shared.config_i64("replica-priority"),
        i64::from(shared.config.read().get_bool("replica-read-only")),
        i64::from(shared.config.read().get_bool("replica-announced")),
    );
    out
}

/// ROLE for a replica: `slave`, host, port, link state, offset (None for a master).
pub fn role_reply(shared: &Shared, offset: u64) -> Option<Reply> {
    let l = shared.replica.link.lock();
    let (host, port) = l.master.as_ref()?;
    let offset = if l.state == LinkState::Connected {
        offset as i64
    } else {
        -1
    };
    Some(Reply::Array(vec![
        Reply::bulk_str("slave"),
        Reply::bulk_str(host),
        Reply::Int(i64::from(*port)),
        Reply::bulk_str(l.state.role_name()),
        Reply::Int(offset),
    ]))
}

/// The link task of generation `generation`: synchronise and follow, reconnecting every second
/// while this generation is current.
async fn run(shared: Arc<Shared>, generation: u64) {
    while shared.replica.current(generation) {
        shared.replica.set_state(generation, LinkState::Connecting);
        if let Err(e) = follow(&shared, generation).await
            && shared.replica.current(generation)
        {
            tracing::warn!(error = %e, "replication link with the master ended");
        }
        {
            let mut l = shared.replica.link.lock();
            if l.generation == generation
                && let Some(c) = l.client.take()
            {
                shared.clients.remove(c.id);
            }
        }
        shared.replica.set_state(generation, LinkState::Connect);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The byte stream to the master: a TCP socket, or a TLS session over one.
trait MasterIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> MasterIo for T {}

/// Reads whole lines and exact byte counts from the master connection.
struct Conn {
    stream: Box<dyn MasterIo>,
    buf: BytesMut,
    timeout: Duration,
}

impl Conn {
    async fn fill(&mut self) -> Result<(), String> {
        match tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => Err("timeout talking to the master".into()),
            Ok(Err(e)) => Err(format!("reading from the master: {e}")),
            Ok(Ok(0)) => Err("the master closed the connection".into()),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// One reply line without its CRLF.
    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(nl + 1);
                let text = String::from_utf8_lossy(&line[..nl]);
                return Ok(text.trim_end_matches('\r').to_string());
            }
            if self.buf.len() > 64 * 1024 {
                return Err("protocol error: line too long from the master".into());
            }
            self.fill().await?;
        }
    }

    async fn command(&mut self, argv: &[&str]) -> Result<String, String> {
        let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::from(a.to_string())).collect();
        self.send(&argv).await?;
        self.line().await
    }

    async fn send(&mut self, argv: &[Bytes]) -> Result<(), String> {
        let mut out = Vec::new();
        encode_command(argv, &mut out);
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| format!("writing to the master: {e}"))
    }
}

/// One connection to the master: handshake, synchronisation, then the stream until it ends.
async fn follow(shared: &Arc<Shared>, generation: u64) -> Result<(), String> {
    let Some((host, port)) = shared.replica.master() else {
        return Ok(());
    };
    let timeout = Duration::from_secs(shared.config_i64("repl-timeout").max(1) as u64);
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| "timeout connecting to the master".to_string())?
        .map_err(|e| format!("connecting to the master: {e}"))?;
    let _ = stream.set_nodelay(true);
    let addr = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // `tls-replication yes`: the link is a TLS session, verified as Redis verifies it.
    let stream: Box<dyn MasterIo> = if shared.config.read().get_bool("tls-replication") {
        let config = crate::tls::client_config(shared)
            .map_err(|e| format!("Failed to configure TLS for the master link: {e}"))?;
        let tls = tokio::time::timeout(timeout, crate::tls::connect(config, &host, stream))
            .await
            .map_err(|_| "timeout in the TLS handshake with the master".to_string())??;
        Box::new(tls)
    } else {
        Box::new(stream)
    };
    let mut conn = Conn {
        stream,
        buf: BytesMut::with_capacity(16 * 1024),
        timeout,
    };
    shared.replica.set_state(generation, LinkState::Handshake);
    handshake(shared, &mut conn).await?;
    let (replid, offset) = {
        shared.script_status.wait_idle().await;
        let s = shared.store.lock();
        if s.repl.active() {
            (s.repl.replid.clone(), (s.repl.offset + 1).to_string())
        } else {
            ("?".to_string(), "-1".to_string())
        }
    };
    // A master preparing a diskless transfer sends newlines until it answers.
    // A master handing over to this target (FAILOVER) asks it to take over.
    let mut reply = if shared.replica.failover.in_progress() {
        conn.command(&["PSYNC", &replid, &offset, "FAILOVER"])
            .await?
    } else {
        conn.command(&["PSYNC", &replid, &offset]).await?
    };
    while reply.is_empty() {
        reply = conn.line().await?;
        shared.replica.touch();
    }
    if shared.replica.failover.in_progress() {
        shared.script_status.wait_idle().await;
        crate::failover::psync_answered(
            shared,
            reply.starts_with("+FULLRESYNC ") || reply.starts_with("+CONTINUE"),
        );
    }
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut parts = rest.split(' ');
        let (Some(id), Some(off)) = (parts.next(), parts.next().and_then(|o| o.parse().ok()))
        else {
            return Err(format!("bad FULLRESYNC reply from the master: {reply}"));
        };
        shared.replica.set_state(generation, LinkState::Transfer);
        // The stream after a full resynchronisation starts with a SELECT.
        shared.replica.stream_db.store(0, Ordering::Relaxed);
        let rdb = receive_rdb(shared, &mut conn).await?;
        if !shared.replica.current(generation) {
            return Ok(());
        }
        shared.script_status.wait_idle().await;
        crate::aof::loader::load_rdb(shared, &rdb, false)
            .map_err(|e| format!("loading the RDB from the master: {e}"))?;
        {
            let mut s = shared.store.lock();
            s.repl.reset_to(id.to_string(), off);
            s.repl.disconnect_all();
        }
        tracing::info!(
            bytes = rdb.len(),
            "MASTER <-> REPLICA sync: finished with success"
        );
        if shared.aof.is_enabled() {
            // The AOF must hold the new dataset, not the old one: start it again from here.
            if let Err(e) = crate::aof::bgrewrite(shared) {
                tracing::warn!(error = %e, "could not rewrite the AOF after a full resync");
            }
        }
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        shared.script_status.wait_idle().await;
        let mut s = shared.store.lock();
        if !new_id.is_empty() && new_id != s.repl.replid {
            // The master's history has a new ID (it was promoted): ours follows it.
            s.repl.replid2 = std::mem::replace(&mut s.repl.replid, new_id.to_string());
            s.repl.second_offset = s.repl.offset as i64 + 1;
            s.repl.disconnect_all();
        }
        tracing::info!("MASTER <-> REPLICA sync: master accepted a partial resynchronization");
    } else {
        return Err(format!("unexpected reply to PSYNC: {reply}"));
    }
    stream_from_master(shared, generation, conn, addr, laddr).await
}

async fn handshake(shared: &Arc<Shared>, conn: &mut Conn) -> Result<(), String> {
    let pong = conn.command(&["PING"]).await?;
    let auth_errors = ["-NOAUTH", "-NOPERM", "-ERR operation not permitted"];
    if pong.starts_with('-') && !auth_errors.iter().any(|p| pong.starts_with(p)) {
        return Err(format!("error reply to PING from master: '{pong}'"));
    }
    let pass = shared.config_str("masterauth");
    if !pass.is_empty() {
        let user = shared.config_str("masteruser");
        let r = if user.is_empty() {
            conn.command(&["AUTH", &pass]).await?
        } else {
            conn.command(&["AUTH", &user, &pass]).await?
        };
        if r.starts_with('-') {
            return Err(format!("unable to AUTH to MASTER: {r}"));
        }
    }
    let announce_port = shared.config_i64("replica-announce-port");
    let port = if announce_port > 0 {
        announce_port
    } else {
        i64::from(shared.port())
    };
    let r = conn
        .command(&["REPLCONF", "listening-port", &port.to_string()])
        .await?;
    if r.starts_with('-') {
        tracing::warn!(reply = %r, "master did not accept REPLCONF listening-port");
    }
    let ip = shared.config_str("replica-announce-ip");
    if !ip.is_empty() {
        let r = conn.command(&["REPLCONF", "ip-address", &ip]).await?;
        if r.starts_with('-') {
            tracing::warn!(reply = %r, "master did not accept REPLCONF ip-address");
        }
    }
    let r = conn
        .command(&["REPLCONF", "capa", "eof", "capa", "psync2"])
        .await?;
    if r.starts_with('-') {
        tracing::warn!(reply = %r, "master did not understand REPLCONF capa");
    }
    Ok(())
}

/// The RDB payload after `+FULLRESYNC`: `$<len>\r\n<len bytes>` or `$EOF:<40-byte mark>\r\n`
/// then the data, which ends with the mark. Newlines before it are the master's keep-alives.
async fn receive_rdb(shared: &Arc<Shared>, conn: &mut Conn) -> Result<Vec<u8>, String> {
    let header = loop {
        let l = conn.line().await?;
        shared.replica.touch();
        if !l.is_empty() {
            break l;
        }
    };
    if header.starts_with('-') {
        return Err(format!("master aborted replication: {header}"));
    }
    let Some(spec) = header.strip_prefix('$') else {
        return Err(format!(
            "bad protocol from master, the first byte is not '$': {header}"
        ));
    };
    if let Some(mark) = spec.strip_prefix("EOF:") {
        let mark = mark.as_bytes().to_vec();
        if mark.len() != 40 {
            return Err("bad EOF mark from the master".into());
        }
        let mut data = Vec::new();
        loop {
            data.extend_from_slice(&conn.buf);
            conn.buf.clear();
            shared.replica.link.lock().transfer = (0, data.len() as u64);
            if data.len() >= 40 && data[data.len() - 40..] == mark[..] {
                data.truncate(data.len() - 40);
                return Ok(data);
            }
            conn.fill().await?;
            shared.replica.touch();
        }
    }
    let len: usize = spec
        .parse()
        .map_err(|_| format!("bad RDB length from the master: {header}"))?;
    // Read what arrives; never reserve what the header claims before it is here.
    let mut data = Vec::with_capacity(len.min(64 << 20));
    while data.len() < len {
        if conn.buf.is_empty() {
            conn.fill().await?;
            shared.replica.touch();
        }
        let take = conn.buf.len().min(len - data.len());
        data.extend_from_slice(&conn.buf.split_to(take));
        shared.replica.link.lock().transfer = (len as u64, data.len() as u64);
    }
    Ok(data)
}

async fn send_ack(conn: &mut Conn, offset: u64) -> Result<(), String> {
    conn.send(&[
        Bytes::from_static(b"REPLCONF"),
        Bytes::from_static(b"ACK"),
        Bytes::from(offset.to_string()),
    ])
    .await
}

/// Apply the master's stream until the link ends.
async fn stream_from_master(
    shared: &Arc<Shared>,
    generation: u64,
    mut conn: Conn,
    addr: String,
    laddr: String,
) -> Result<(), String> {
    let handle = Arc::new(ClientHandle::new(
        shared.clients.next_id(),
        addr,
        laddr,
        false,
    ));
    handle.info.lock().master = true;
    {
        let mut l = shared.replica.link.lock();
        if l.generation != generation {
            return Ok(());
        }
        l.client = Some(handle.clone());
        l.last_io = Some(Instant::now());
    }
    shared.clients.add(handle.clone());
    shared.replica.set_state(generation, LinkState::Connected);
    let mut applier = crate::aof::loader::Replayer::as_client(shared, handle.clone());
    applier.set_db(shared.replica.stream_db.load(Ordering::Relaxed));
    let mut parser = crate::protocol::request::RequestParser::new();
    let mut offset = shared.store.lock().repl.offset;
    send_ack(&mut conn, offset).await?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let timeout = conn.timeout;
    let mut last_io = Instant::now();
    // Bytes of the command being decoded, across reads.
    let mut partial = 0usize;
    loop {
        tokio::select! {
            r = conn.stream.read_buf(&mut conn.buf) => {
                match r {
                    Ok(0) => return Err("the master closed the connection".into()),
                    Err(e) => return Err(format!("reading from the master: {e}")),
                    Ok(_) => {}
                }
                last_io = Instant::now();
                shared.replica.touch();
            }
            _ = tick.tick() => {
                if !shared.replica.current(generation) || handle.is_killed() {
                    return Ok(());
                }
                if last_io.elapsed() > timeout {
                    return Err("timeout: no data from the master".into());
                }
                send_ack(&mut conn, offset).await?;
                continue;
            }
            _ = handle.killed() => return Ok(()),
        }
        loop {
            let before = conn.buf.len();
            let parsed = parser
                .parse(&mut conn.buf, Default::default())
                .map_err(|e| format!("protocol error from the master: {}", e.message()))?;
            partial += before - conn.buf.len();
            let Some(argv) = parsed else { break };
            let len = std::mem::take(&mut partial);
            if argv.is_empty() {
                continue;
            }
            let mut raw = Vec::with_capacity(len);
            encode_command(&argv, &mut raw);
            if argv.len() >= 2
                && crate::command::is(&argv[0], "replconf")
                && crate::command::is(&argv[1], "getack")
            {
                send_ack(&mut conn, offset).await?;
            } else {
                shared.script_status.wait_idle().await;
                if let Err(e) = applier.run(argv) {
                    tracing::warn!(error = %e, "command from the master failed");
                }
                shared
                    .replica
                    .stream_db
                    .store(applier.db(), Ordering::Relaxed);
            }
            shared.script_status.wait_idle().await;
            let mut s = shared.store.lock();
            if !shared.replica.current(generation) {
                return Ok(());
            }
            s.repl.feed(&raw);
            // The offset counts the bytes the master sent (the same as `raw` for Redis's
            // canonical encoding).
            s.repl.offset = s.repl.offset - raw.len() as u64 + len as u64;
            offset = s.repl.offset;
        }
    }
}

/// INFO's `# Replication` section, as Redis lays it out.
pub fn info_section(shared: &Shared, store: &mut StoreInner) -> String {
    store.repl.prune();
    let repl = &store.repl;
    let mut out = String::from("# Replication\r\n");
    let replica = shared.replica.is_replica();
    let _ = write!(out, "role:{}\r\n", if replica { "slave" } else { "master" });
    out.push_str(&info_fields(shared, repl.offset));
    let _ = write!(out, "connected_slaves:{}\r\n", repl.links.len());
    let min_write = shared.config_i64("min-replicas-to-write");
    let max_lag = shared.config_i64("min-replicas-max-lag");
    if min_write > 0 && max_lag > 0 {
        let good = repl
            .links
            .iter()
            .filter(|l| l.ack_time.elapsed().as_secs() as i64 <= max_lag)
            .count();
        let _ = write!(out, "min_slaves_good_slaves:{good}\r\n");
    }
    for (i, l) in repl.links.iter().enumerate() {
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state=online,offset={},lag={}\r\n",
            l.host(),
            l.port,
            l.ack,
            l.ack_time.elapsed().as_secs()
        );
    }
    let (first, histlen) = repl.backlog_range();
    let _ = write!(
        out,
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{first}\r\nrepl_backlog_histlen:{histlen}\r\n\r\n",
        shared.replica.failover.state_name(),
        repl.replid,
        repl.replid2,
        repl.offset,
        repl.second_offset,
        u8::from(repl.active()),
        shared.config_i64("repl-backlog-size"),
    );
    out
}
