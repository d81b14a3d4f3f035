//! The HTTP endpoint for monitoring: Prometheus metrics and health probes.
//!
//! API: `server::run` calls [`bind`] before the AOF is loaded (so `/readyz` can say "not
//! yet"), spawns [`serve`] on the listeners, and calls [`Probe::set_ready`] once the data is
//! loaded and the client listeners accept. Routes:
//! - `GET /metrics`: the Prometheus text format 0.0.4, or OpenMetrics 1.0 when the `Accept`
//!   header asks for `application/openmetrics-text`;
//! - `GET /healthz`: 200 `ok` while the process serves HTTP (liveness);
//! - `GET /readyz`: 200 `ready` once loaded, 503 `loading` before and while the AOF loads
//!   (clients get `-LOADING` then);
//! - `GET /` and `GET /dashboard`: the dashboard page, `GET /api/overview`: the JSON it polls
//!   (see [`crate::dashboard`]);
//! - anything else 404, a method other than GET/HEAD 405.
//!
//! Every figure is read at scrape time from what the server already keeps for INFO (the
//! [`crate::server::Stats`] atomics, the command table's counters, the keyspace, the pub/sub
//! hub, the AOF state): a scrape adds no work to the command path. A fresh registry is built
//! per scrape and encoded by `prometheus-client`.
//!
//! Per-key series (lists, streams, consumer groups) exist only for keys matching one of the
//! globs of `metrics-key-patterns`, so a large keyspace does not become a large exposition.
//! The store lock is taken in bounded slices: [`VISIT_PER_LOCK`] keys visited to collect the
//! matching names, then [`KEYS_PER_LOCK`] keys measured per hold; commands run in between.
//!
//! Protection: the listener binds `metrics-bind` (loopback by default), so other hosts reach it
//! only when the operator binds it to another address on purpose, the rule `protected-mode`
//! applies to an explicit `bind`. With `metrics-password` set, every route but the probes asks
//! for HTTP Basic authentication with that password (any user name): browsers prompt for it
//! and Prometheus sends it with `basic_auth`. The probes stay open because the kubelet sends
//! no credentials and they disclose nothing.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet, prometheus_text, text};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry, Unit};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use crate::pubsub::glob::glob_match;
use crate::server::Shared;
use crate::store::Value;

/// Keys visited per hold of the store lock while collecting the names that match.
pub const VISIT_PER_LOCK: usize = 16_384;
/// Matching keys measured per hold of the store lock.
pub const KEYS_PER_LOCK: usize = 128;
/// Concurrent HTTP connections; more are closed on accept (a monitoring port needs few).
const MAX_CONNECTIONS: usize = 64;
/// Scrapes encoded at once: each walks the matching keys, so a burst of scrapers queues here
/// instead of multiplying the lock holds.
const MAX_SCRAPES: usize = 2;
/// A client that has not sent its request headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Upper bounds of the command latency histogram, in seconds: 1 µs to 1 s (the range the
/// per-command HDR histograms of INFO LATENCYSTATS cover).
const LATENCY_BOUNDS: [f64; 19] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
    5e-2, 0.1, 0.25, 0.5, 1.0,
];

const OPENMETRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Readiness as `/readyz` reports it.
#[derive(Default)]
pub struct Probe {
    ready: AtomicBool,
}

impl Probe {
    /// The data is loaded and the client listeners accept.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    fn is_ready(&self, shared: &Shared) -> bool {
        self.ready.load(Ordering::SeqCst) && !shared.is_loading()
    }
}

/// Bind the `metrics-bind` addresses on `port` (a `-` prefix marks an optional one, as in
/// `bind`).
pub async fn bind(bind: &str, port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    for (addr, optional) in crate::server::bind_addresses(bind) {
        let ip: std::net::IpAddr = match addr.parse() {
            Ok(ip) => ip,
            Err(_) if addr == "*" => std::net::Ipv4Addr::UNSPECIFIED.into(),
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("metrics-bind: '{addr}' is not an IP address"),
                ));
            }
        };
        match TcpListener::bind((ip, port)).await {
            Ok(l) => {
                if !ip.is_loopback() {
                    warn!(%addr, port, "the metrics endpoint is reachable from other hosts (it has no password)");
                }
                out.push(l);
            }
            Err(e) if optional => debug!(%addr, error = %e, "optional metrics address unavailable"),
            Err(e) => {
                warn!(%addr, port, error = %e, "Could not create the metrics listening socket");
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// Accept HTTP/1.1 connections on `listener` until the task is aborted.
pub async fn serve(shared: Arc<Shared>, probe: Arc<Probe>, listener: TcpListener) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let scrapes = Arc::new(Semaphore::new(MAX_SCRAPES));
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            debug!(%peer, "metrics connection refused: too many open");
            continue;
        };
        let (shared, probe, scrapes) = (shared.clone(), probe.clone(), scrapes.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let svc = hyper::service::service_fn(move |req| {
                let (shared, probe, scrapes) = (shared.clone(), probe.clone(), scrapes.clone());
                async move {
                    Ok::<_, std::convert::Infallible>(respond(shared, probe, scrapes, req).await)
                }
            });
            let r = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(sock), svc)
                .await;
            if let Err(e) = r {
                debug!(%peer, error = %e, "metrics connection ended");
            }
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

const PLAIN: &str = "text/plain; charset=utf-8";

async fn respond(
    shared: Arc<Shared>,
    probe: Arc<Probe>,
    scrapes: Arc<Semaphore>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "method not allowed\n",
        );
        r.headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let path = req.uri().path();
    if !matches!(path, "/healthz" | "/readyz") && !authorized(&shared, &req) {
        let mut r = reply(StatusCode::UNAUTHORIZED, PLAIN, "authentication required\n");
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic realm=\"ferrymq\", charset=\"UTF-8\""),
        );
        return r;
    }
    match path {
        "/" | "/dashboard" => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            crate::dashboard::PAGE,
        ),
        "/api/overview" => {
            // Shares the scrape permits: an overview walks the keyspace as a scrape does.
            let Ok(_permit) = scrapes.acquire_owned().await else {
                return reply(StatusCode::SERVICE_UNAVAILABLE, PLAIN, "shutting down\n");
            };
            let body = tokio::task::spawn_blocking(move || {
                crate::dashboard::overview(&shared).to_string()
            })
            .await;
            match body {
                Ok(json) => {
                    let mut r = reply(StatusCode::OK, "application/json", json);
                    r.headers_mut().insert(
                        hyper::header::CACHE_CONTROL,
                        hyper::header::HeaderValue::from_static("no-store"),
                    );
                    r
                }
                Err(_) => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    PLAIN,
                    "overview failed\n",
                ),
            }
        }
        "/metrics" => {
            let openmetrics = req
                .headers()
                .get_all(ACCEPT)
                .iter()
                .any(|v| v.to_str().is_ok_and(wants_openmetrics));
            let Ok(_permit) = scrapes.acquire_owned().await else {
                return reply(StatusCode::SERVICE_UNAVAILABLE, PLAIN, "shutting down\n");
            };
            // Off the runtime's workers: the scrape waits for the store lock between slices.
            let body = tokio::task::spawn_blocking(move || render(&shared, openmetrics)).await;
            match body {
                Ok(Ok(text)) => reply(
                    StatusCode::OK,
                    if openmetrics {
                        OPENMETRICS_TYPE
                    } else {
                        prometheus_text::CONTENT_TYPE
                    },
                    text,
                ),
                _ => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    PLAIN,
                    "encoding failed\n",
                ),
            }
        }
        "/healthz" => reply(StatusCode::OK, PLAIN, "ok\n"),
        "/readyz" => {
            if probe.is_ready(&shared) {
                reply(StatusCode::OK, PLAIN, "ready\n")
            } else {
                reply(StatusCode::SERVICE_UNAVAILABLE, PLAIN, "loading\n")
            }
        }
        _ => reply(StatusCode::NOT_FOUND, PLAIN, "not found\n"),
    }
}

/// Whether the request may see more than the probes: no `metrics-password`, or HTTP Basic
/// credentials carrying it (the user name is not checked). The comparison takes the same time
/// wherever the first difference is.
fn authorized<B>(shared: &Shared, req: &Request<B>) -> bool {
    let password = shared.config_str("metrics-password");
    if password.is_empty() {
        return true;
    }
    use base64::Engine;
    let given = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|raw| {
            let colon = raw.iter().position(|&c| c == b':')?;
            Some(raw[colon + 1..].to_vec())
        });
    let Some(given) = given else {
        return false;
    };
    let want = password.as_bytes();
    given.len() == want.len()
        && given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Whether an `Accept` header value lists OpenMetrics (with a non-zero quality).
fn wants_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let mut it = part.split(';').map(str::trim);
        let ty = it.next().unwrap_or("");
        ty.eq_ignore_ascii_case("application/openmetrics-text")
            && !it.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            })
    })
}

type Labels = Vec<(String, String)>;

/// One histogram series whose buckets are already counted: labels, sum, count, and
/// (upper bound, calls in that bucket alone).
type HistogramRow = (Labels, f64, u64, Vec<(f64, u64)>);

/// Histograms regrouped from the per-command HDR histograms, encoded as one family.
#[derive(Debug)]
struct Histograms(Vec<HistogramRow>);

impl EncodeMetric for Histograms {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, sum, count, buckets) in &self.0 {
            encoder
                .encode_family(labels)?
                .encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// One scrape's registry: metrics are created with their value and registered at once.
/// Counts are integers (`Gauge<i64>`, `Counter<u64>`); times and ratios are `f64`.
struct Scrape {
    reg: Registry,
}

type GaugeF = Gauge<f64, AtomicU64>;
type CounterF = Counter<f64, AtomicU64>;

impl Scrape {
    fn new() -> Self {
        Scrape {
            reg: Registry::with_prefix("ferrymq"),
        }
    }

    fn add(&mut self, name: &str, help: &str, unit: Option<Unit>, metric: impl Metric) {
        match unit {
            Some(u) => self.reg.register_with_unit(name, help, u, metric),
            None => self.reg.register(name, help, metric),
        }
    }

    fn gauge(&mut self, name: &str, help: &str, unit: Option<Unit>, v: i64) {
        let g = Gauge::<i64>::default();
        g.set(v);
        self.add(name, help, unit, g);
    }

    fn gauge_f(&mut self, name: &str, help: &str, unit: Option<Unit>, v: f64) {
        let g = GaugeF::default();
        g.set(v);
        self.add(name, help, unit, g);
    }

    fn counter(&mut self, name: &str, help: &str, v: u64) {
        self.counter_unit(name, help, None, v);
    }

    fn counter_unit(&mut self, name: &str, help: &str, unit: Option<Unit>, v: u64) {
        let c = Counter::<u64>::default();
        c.inc_by(v);
        self.add(name, help, unit, c);
    }

    /// A labelled gauge; not registered at all when it has no series.
    fn gauges(&mut self, name: &str, help: &str, rows: Vec<(Labels, i64)>) {
        if rows.is_empty() {
            return;
        }
        let f = Family::<Labels, Gauge<i64>>::default();
        for (l, v) in rows {
            f.get_or_create(&l).set(v);
        }
        self.add(name, help, None, f);
    }

    fn gauges_f(&mut self, name: &str, help: &str, unit: Option<Unit>, rows: Vec<(Labels, f64)>) {
        if rows.is_empty() {
            return;
        }
        let f = Family::<Labels, GaugeF>::default();
        for (l, v) in rows {
            f.get_or_create(&l).set(v);
        }
        self.add(name, help, unit, f);
    }

    fn counters(&mut self, name: &str, help: &str, rows: Vec<(Labels, u64)>) {
        if rows.is_empty() {
            return;
        }
        let f = Family::<Labels, Counter<u64>>::default();
        for (l, v) in rows {
            f.get_or_create(&l).inc_by(v);
        }
        self.add(name, help, None, f);
    }

    fn counters_f(&mut self, name: &str, help: &str, unit: Option<Unit>, rows: Vec<(Labels, f64)>) {
        if rows.is_empty() {
            return;
        }
        let f = Family::<Labels, CounterF>::default();
        for (l, v) in rows {
            f.get_or_create(&l).inc_by(v);
        }
        self.add(name, help, unit, f);
    }

    fn encode(&self, openmetrics: bool) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        if openmetrics {
            text::encode(&mut out, &self.reg)?;
        } else {
            prometheus_text::encode(&mut out, &self.reg)?;
        }
        Ok(out)
    }
}

fn label(name: &str, v: impl Into<String>) -> (String, String) {
    (name.to_string(), v.into())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The whole exposition, in the Prometheus text format or OpenMetrics.
pub fn render(shared: &Shared, openmetrics: bool) -> Result<String, std::fmt::Error> {
    let mut m = Scrape::new();
    server_metrics(shared, &mut m);
    let patterns = shared.config_str("metrics-key-patterns");
    let patterns: Vec<&[u8]> = patterns.split_whitespace().map(str::as_bytes).collect();
    if !patterns.is_empty() {
        key_metrics(shared, &patterns, &mut m);
    }
    m.encode(openmetrics)
}

fn server_metrics(shared: &Shared, m: &mut Scrape) {
    let st = &shared.stats;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    m.gauge_f(
        "uptime",
        "Time since the server started",
        Some(Unit::Seconds),
        shared.started.elapsed().as_secs_f64(),
    );
    m.gauge(
        "loading",
        "1 while the append-only file is being loaded",
        None,
        shared.is_loading() as i64,
    );

    // Clients.
    m.gauge(
        "connected_clients",
        "Client connections open now",
        None,
        shared.clients.len() as i64,
    );
    m.counter(
        "connections_received",
        "Client connections accepted since start",
        load(&st.connections),
    );
    m.counter(
        "rejected_connections",
        "Client connections refused because of maxclients",
        load(&st.rejected_connections),
    );
    m.counter(
        "output_limit_disconnections",
        "Clients (subscribers included) closed for exceeding client-output-buffer-limit",
        load(&st.output_limit_disconnections),
    );
    m.counter_unit(
        "net_input",
        "Bytes read from clients",
        Some(Unit::Bytes),
        load(&st.net_in),
    );
    m.counter_unit(
        "net_output",
        "Bytes written to clients",
        Some(Unit::Bytes),
        load(&st.net_out),
    );
    let (blocked, dbs, expired, hits, misses) = {
        let s = shared.store.lock();
        let dbs: Vec<(usize, usize)> = s.dbs.iter().map(|d| (d.len(), d.expires_len())).collect();
        let (e, h, mi) = s.dbs.iter().fold((0, 0, 0), |a, d| {
            (a.0 + d.expired_total, a.1 + d.hits, a.2 + d.misses)
        });
        (s.blocking.blocked_clients(), dbs, e, h, mi)
    };
    m.counter(
        "expired_keys",
        "Keys removed because their expiry passed",
        expired,
    );
    m.counter(
        "evicted_keys",
        "Keys evicted to keep memory under maxmemory",
        load(&st.evicted_keys),
    );
    m.counter("keyspace_hits", "Key lookups that found the key", hits);
    m.counter(
        "keyspace_misses",
        "Key lookups that did not find the key",
        misses,
    );
    // Clients held by CLIENT PAUSE count as blocked, as in INFO.
    let paused = shared.paused_clients.load(Ordering::Relaxed) as usize;
    m.gauge(
        "blocked_clients",
        "Clients waiting in a blocking command or a client pause",
        None,
        (blocked + paused) as i64,
    );

    // Commands.
    m.counter(
        "commands_processed",
        "Commands executed since start",
        load(&st.commands),
    );
    let (mut calls, mut failed, mut rejected, mut usec) = (vec![], vec![], vec![], vec![]);
    let table = crate::command::table();
    for e in table
        .by_name
        .values()
        .flat_map(|e| std::iter::once(e).chain(e.subs.values()))
    {
        let c = load(&e.calls);
        let f = load(&e.failed);
        let r = load(&e.rejected);
        if c == 0 && f == 0 && r == 0 {
            continue;
        }
        let l = vec![label("cmd", e.full_name.clone())];
        calls.push((l.clone(), c));
        failed.push((l.clone(), f));
        rejected.push((l.clone(), r));
        usec.push((l, load(&e.usec) as f64 / 1e6));
    }
    m.counters(
        "command_calls",
        "Calls per command (INFO commandstats calls)",
        calls,
    );
    m.counters(
        "command_failed_calls",
        "Calls per command that replied with an error during execution",
        failed,
    );
    m.counters(
        "command_rejected_calls",
        "Calls per command refused before execution (arity, ACL, OOM, ...)",
        rejected,
    );
    m.counters_f(
        "command_duration",
        "Time spent executing each command",
        Some(Unit::Seconds),
        usec,
    );
    let bounds_ns: Vec<u64> = LATENCY_BOUNDS.iter().map(|s| (s * 1e9) as u64).collect();
    let mut latency = vec![];
    for e in table
        .by_name
        .values()
        .flat_map(|e| std::iter::once(e).chain(e.subs.values()))
    {
        let Some(r) = e.latency.regrouped(&bounds_ns) else {
            continue;
        };
        // r.counts has one more entry than the bounds: the calls above the last one, in the
        // +Inf bucket (explicit: the OpenMetrics encoder writes only the buckets it is given).
        let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(r.counts)
            .collect();
        latency.push((
            vec![label("cmd", e.full_name.clone())],
            r.sum_ns as f64 / 1e9,
            r.total,
            buckets,
        ));
    }
    if !latency.is_empty() {
        m.add(
            "command_latency",
            "Latency of each command (from the INFO LATENCYSTATS histograms; latency-tracking)",
            Some(Unit::Seconds),
            Histograms(latency),
        );
    }
    let errors: Vec<(Labels, u64)> = st
        .errors
        .lock()
        .iter()
        .map(|(code, n)| (vec![label("error", code.clone())], *n))
        .collect();
    m.counters(
        "errors",
        "Error replies by error code (INFO errorstats)",
        errors,
    );

    // Pub/sub.
    let (channels, patterns, shard) = shared.pubsub.counts();
    m.gauge(
        "pubsub_channels",
        "Channels with at least one subscriber",
        None,
        channels as i64,
    );
    m.gauge(
        "pubsub_patterns",
        "Pattern subscriptions",
        None,
        patterns as i64,
    );
    m.gauge(
        "pubsub_shard_channels",
        "Shard channels with at least one subscriber",
        None,
        shard as i64,
    );

    // Keyspace: one series per non-empty database, as INFO keyspace lists them.
    let mut keys = vec![];
    let mut expires = vec![];
    for (i, (n, e)) in dbs.into_iter().enumerate() {
        if n > 0 {
            keys.push((vec![label("db", i.to_string())], n as i64));
            expires.push((vec![label("db", i.to_string())], e as i64));
        }
    }
    m.gauges("db_keys", "Keys per database", keys);
    m.gauges(
        "db_expiring_keys",
        "Keys with an expiry per database",
        expires,
    );

    // Memory.
    let used = crate::server::used_memory();
    let peak = st.peak_memory.fetch_max(used, Ordering::Relaxed).max(used);
    m.gauge(
        "memory_used",
        "Bytes allocated by the server",
        Some(Unit::Bytes),
        used as i64,
    );
    m.gauge(
        "memory_rss",
        "Resident set size of the process",
        Some(Unit::Bytes),
        crate::server::rss_bytes() as i64,
    );
    m.gauge(
        "memory_peak",
        "Highest memory_used seen",
        Some(Unit::Bytes),
        peak as i64,
    );
    m.gauge(
        "maxmemory",
        "The maxmemory limit (0 = none)",
        Some(Unit::Bytes),
        shared.config_i64("maxmemory").max(0),
    );

    // Append-only file.
    let aof = crate::aof::metrics(shared);
    m.gauge(
        "aof_enabled",
        "1 when appendonly is on",
        None,
        aof.enabled as i64,
    );
    m.gauge(
        "aof_last_write_ok",
        "1 when the last write to the AOF succeeded (0: writes are refused, MISCONF)",
        None,
        aof.last_write_ok as i64,
    );
    m.gauge(
        "aof_rewrite_in_progress",
        "1 while an AOF rewrite runs",
        None,
        aof.rewrite_in_progress as i64,
    );
    m.gauge(
        "aof_last_rewrite_ok",
        "1 when the last AOF rewrite succeeded (or none ran)",
        None,
        aof.last_rewrite_ok as i64,
    );
    m.counter("aof_rewrites", "AOF rewrites since start", aof.rewrites);
    if aof.enabled {
        m.gauge(
            "aof_current_size",
            "Size of the AOF (base and increments)",
            Some(Unit::Bytes),
            aof.current_size as i64,
        );
    }
}

/// Whether `p` matches only itself (no `*`, `?`, `[` or `\\` escapes).
fn is_literal(p: &[u8]) -> bool {
    !p.iter().any(|c| matches!(c, b'*' | b'?' | b'[' | b'\\'))
}

/// The keys of every database matching one of `patterns`, sorted by database and name.
///
/// Literal patterns are looked up directly (a missing key is skipped when measured). Globs
/// need a walk of the keyspace, [`VISIT_PER_LOCK`] keys per hold of the store lock. The walk
/// resumes by position in the table, so keys deleted behind the position during the walk can
/// make it skip as many others, and a table that grows in between reorders it (the walk then
/// starts that database over, once): a key can be missing from one scrape, never reported
/// twice or invented.
///
/// Cost: std's HashMap has no resumable cursor, so each hold first steps over the keys before
/// its position (about 1 ns each in a release build) and then globs [`VISIT_PER_LOCK`] keys: a
/// hold grows with the database (about 1 ms per million keys of stepping), and a whole walk
/// costs about N²/(2·VISIT_PER_LOCK) steps. Literal patterns avoid the walk entirely.
fn matching_keys(shared: &Shared, patterns: &[&[u8]]) -> Vec<(usize, Bytes)> {
    let (literals, globs): (Vec<&[u8]>, Vec<&[u8]>) = patterns.iter().partition(|p| is_literal(p));
    let ndbs = shared.store.lock().dbs.len();
    let mut out = Vec::new();
    for db in 0..ndbs {
        out.extend(literals.iter().map(|k| (db, Bytes::copy_from_slice(k))));
        if globs.is_empty() {
            continue;
        }
        let mut pos = 0;
        let mut capacity = None;
        let mut restarted = false;
        let start = out.len();
        loop {
            let s = shared.store.lock();
            let d = &s.dbs[db];
            let cap = d.map.capacity();
            if capacity.is_some_and(|c| c != cap) && !restarted {
                restarted = true;
                out.truncate(start);
                pos = 0;
            }
            capacity = Some(cap);
            let mut visited = 0;
            for k in d.map.keys().skip(pos).take(VISIT_PER_LOCK) {
                visited += 1;
                if globs.iter().any(|p| glob_match(p, k, false)) {
                    out.push((db, k.to_bytes()));
                }
            }
            drop(s);
            pos += visited;
            if visited < VISIT_PER_LOCK {
                break;
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn key_metrics(shared: &Shared, patterns: &[&[u8]], m: &mut Scrape) {
    let keys = matching_keys(shared, patterns);
    let mut lists = vec![];
    let mut streams = vec![];
    let mut groups = vec![];
    let mut pending = vec![];
    let mut lag = vec![];
    let mut consumers = vec![];
    let mut oldest = vec![];
    let mut visibility = vec![];
    let mut max_deliveries = vec![];
    let mut dead_letter = vec![];
    for slice in keys.chunks(KEYS_PER_LOCK) {
        let s = shared.store.lock();
        let now = crate::store::unix_ms();
        for (db, key) in slice {
            let d = &s.dbs[*db];
            // Read-only: an expired key is skipped, not deleted (a scrape propagates nothing).
            if d.expire_at(key).is_some_and(|at| at <= now) {
                continue;
            }
            let Some(entry) = d.map.get(&key[..]) else {
                continue;
            };
            let kl = || vec![label("db", db.to_string()), label("key", lossy(key))];
            match &entry.value {
                Value::List(l) => lists.push((kl(), l.len() as i64)),
                Value::Stream(st) => {
                    streams.push((kl(), st.len() as i64));
                    groups.push((kl(), st.groups().len() as i64));
                    for (name, g) in st.groups() {
                        let mut gl = kl();
                        gl.push(label("group", lossy(name)));
                        pending.push((gl.clone(), g.pending_len() as i64));
                        if let Some(v) = st.lag(g) {
                            lag.push((gl.clone(), v));
                        }
                        consumers.push((gl.clone(), g.consumers().len() as i64));
                        let age = g
                            .oldest_delivery()
                            .map(|t| now.saturating_sub(t as i64).max(0) as f64 / 1000.0)
                            .unwrap_or(0.0);
                        oldest.push((gl.clone(), age));
                        if let Some(p) = g.policy() {
                            if p.visibility_ms > 0 {
                                visibility.push((gl.clone(), p.visibility_ms as f64 / 1000.0));
                            }
                            if p.max_deliveries > 0 {
                                max_deliveries.push((gl.clone(), p.max_deliveries as i64));
                            }
                            if let Some(dl) = &p.dead_letter {
                                let n = match d.map.get(&dl[..]).map(|e| &e.value) {
                                    Some(Value::Stream(x)) => x.len() as i64,
                                    _ => 0,
                                };
                                let mut l = gl.clone();
                                l.push(label("dead_letter", lossy(dl)));
                                dead_letter.push((l, n));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    m.gauges(
        "list_length",
        "Elements in a list (LLEN), for keys matching metrics-key-patterns",
        lists,
    );
    m.gauges(
        "stream_length",
        "Entries in a stream (XLEN), for keys matching metrics-key-patterns",
        streams,
    );
    m.gauges("stream_groups", "Consumer groups of a stream", groups);
    m.gauges(
        "stream_group_pending",
        "Entries delivered to a consumer group and not acknowledged (XPENDING count)",
        pending,
    );
    m.gauges(
        "stream_group_lag",
        "Entries not yet delivered to a consumer group (XINFO GROUPS lag; absent when unknown)",
        lag,
    );
    m.gauges(
        "stream_group_consumers",
        "Consumers of a consumer group",
        consumers,
    );
    m.gauges_f(
        "stream_group_oldest_pending_age",
        "Time since the least recent delivery still pending in a group (0 when none)",
        Some(Unit::Seconds),
        oldest,
    );
    m.gauges_f(
        "stream_group_visibility_timeout",
        "Visibility timeout of a group (FMQ.GROUPSET VISIBILITY), where set",
        Some(Unit::Seconds),
        visibility,
    );
    m.gauges(
        "stream_group_max_deliveries",
        "Deliveries before an entry is dead-lettered (FMQ.GROUPSET MAXDELIVERIES), where set",
        max_deliveries,
    );
    m.gauges(
        "stream_group_dead_letter_length",
        "Entries in the dead-letter stream of a group (FMQ.GROUPSET DEADLETTER), where set",
        dead_letter,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::collections::HashMap;

    fn resp(cmds: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cmds {
            out.extend(format!("*{}\r\n", c.len()).as_bytes());
            for a in *c {
                out.extend(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
            }
        }
        out
    }

    /// A server state with a list and a stream read by a group (one entry pending, one not
    /// delivered), filled through the AOF replay path (no sockets).
    fn shared_with_data(patterns: &str) -> Arc<Shared> {
        let args: Vec<String> = ["--metrics-key-patterns", patterns]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let shared = Shared::new(Config::from_args(&args).unwrap()).unwrap();
        let data = resp(&[
            &["RPUSH", "q:jobs", "a", "b\"quoted\"", "c"],
            &["XADD", "s:events", "1-0", "f", "v"],
            &["XADD", "s:events", "2-0", "f", "v"],
            &["XGROUP", "CREATE", "s:events", "workers", "0"],
            &[
                "XREADGROUP",
                "GROUP",
                "workers",
                "w1",
                "COUNT",
                "1",
                "STREAMS",
                "s:events",
                ">",
            ],
            &["RPUSH", "unwatched", "x"],
            &["RPUSH", "q:odd\nname", "x"],
        ]);
        crate::aof::loader::replay_bytes(&shared, &data, "test").unwrap();
        shared
    }

    /// A sample line: name, labels (unescaped), value.
    fn parse_sample(line: &str) -> (String, Vec<(String, String)>, f64) {
        let (series, value) = line.rsplit_once(' ').expect("value");
        let value: f64 = value.parse().expect("numeric value");
        let Some((name, rest)) = series.split_once('{') else {
            return (series.to_string(), vec![], value);
        };
        let body = rest.strip_suffix('}').expect("closing brace");
        let mut labels = Vec::new();
        let mut chars = body.chars().peekable();
        while chars.peek().is_some() {
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert_eq!(chars.next(), Some('"'), "{line}");
            let mut v = String::new();
            loop {
                match chars.next().expect("unterminated label value") {
                    '\\' => match chars.next() {
                        Some('n') => v.push('\n'),
                        Some(c) => v.push(c),
                        None => panic!("{line}"),
                    },
                    '"' => break,
                    c => v.push(c),
                }
            }
            labels.push((key, v));
            if chars.peek() == Some(&',') {
                chars.next();
            }
        }
        (name.to_string(), labels, value)
    }

    /// Parse an exposition back: every sample belongs to a family declared by `# TYPE`
    /// before it (a counter's samples end in `_total`), no series twice. Returns the
    /// samples by name and labels.
    fn parse(text: &str, openmetrics: bool) -> HashMap<(String, Vec<(String, String)>), f64> {
        let mut types: HashMap<String, String> = HashMap::new();
        let mut out = HashMap::new();
        let mut lines: Vec<&str> = text.lines().collect();
        if openmetrics {
            assert_eq!(lines.pop(), Some("# EOF"));
        }
        for line in lines {
            if let Some(t) = line.strip_prefix("# TYPE ") {
                let (name, ty) = t.split_once(' ').unwrap();
                assert!(
                    types.insert(name.to_string(), ty.to_string()).is_none(),
                    "{name} twice"
                );
                continue;
            }
            if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
                continue;
            }
            assert!(!line.starts_with('#'), "unexpected comment {line}");
            let (name, labels, v) = parse_sample(line);
            assert!(name.starts_with("ferrymq_"), "{name}");
            let family = ["", "_total", "_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|suffix| name.strip_suffix(suffix))
                .find(|f| types.contains_key(*f))
                .unwrap_or_else(|| panic!("no TYPE for {name}"))
                .to_string();
            match types[&family].as_str() {
                "counter" => assert!(name.ends_with("_total"), "{name}"),
                "histogram" => {
                    assert_ne!(name, family, "{name}");
                    if name.ends_with("_bucket") {
                        let le = labels.iter().find(|(k, _)| k == "le").expect("le");
                        assert!(le.1 == "+Inf" || le.1.parse::<f64>().is_ok(), "{line}");
                    }
                }
                _ => assert_eq!(name, family),
            }
            // The encoders differ in label order (OpenMetrics puts `le` first).
            let mut labels = labels;
            labels.sort();
            assert!(out.insert((name, labels), v).is_none(), "{line} twice");
        }
        out
    }

    fn key(name: &str, labels: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        (name.to_string(), labels)
    }

    #[test]
    fn exposition_round_trip() {
        let shared = shared_with_data("q:* s:*");
        // At least one call in the latency histograms (the table is process-wide).
        let rpush = &crate::command::table().by_name[&b"rpush"[..]];
        rpush.latency.record(1500);
        for openmetrics in [false, true] {
            let text = render(&shared, openmetrics).unwrap();
            let m = parse(&text, openmetrics);
            let g = [("db", "0"), ("key", "s:events"), ("group", "workers")];
            assert_eq!(
                m[&key("ferrymq_list_length", &[("db", "0"), ("key", "q:jobs")])],
                3.0
            );
            assert_eq!(
                m[&key(
                    "ferrymq_list_length",
                    &[("db", "0"), ("key", "q:odd\nname")]
                )],
                1.0
            );
            assert_eq!(
                m[&key("ferrymq_stream_length", &[("db", "0"), ("key", "s:events")])],
                2.0
            );
            assert_eq!(m[&key("ferrymq_stream_group_pending", &g)], 1.0);
            assert_eq!(m[&key("ferrymq_stream_group_lag", &g)], 1.0);
            assert_eq!(m[&key("ferrymq_stream_group_consumers", &g)], 1.0);
            assert_eq!(m[&key("ferrymq_db_keys", &[("db", "0")])], 4.0);
            // The command table is process-wide: other tests in this binary count too.
            assert!(m[&key("ferrymq_command_calls_total", &[("cmd", "rpush")])] >= 3.0);
            assert_eq!(m[&key("ferrymq_loading", &[])], 0.0);
            let inf = key(
                "ferrymq_command_latency_seconds_bucket",
                &[("cmd", "rpush"), ("le", "+Inf")],
            );
            assert!(m[&inf] >= 1.0);
            assert!(m[&key("ferrymq_command_latency_seconds_sum", &[("cmd", "rpush")])] > 0.0);
            assert!(
                !m.keys()
                    .any(|(_, l)| l.iter().any(|(_, v)| v == "unwatched"))
            );
        }
    }

    #[test]
    fn literal_patterns_need_no_walk() {
        assert!(is_literal(b"q:jobs"));
        assert!(!is_literal(b"q:*"));
        assert!(!is_literal(b"q?"));
        assert!(!is_literal(b"q[ab]"));
        assert!(!is_literal(b"q\\*"));
        let shared = shared_with_data("q:jobs s:events q:jobs");
        let keys = matching_keys(&shared, &[b"q:jobs", b"s:*", b"q:jobs"]);
        let db0: Vec<&[u8]> = keys
            .iter()
            .filter(|(db, _)| *db == 0)
            .map(|(_, k)| &k[..])
            .collect();
        assert_eq!(db0, [&b"q:jobs"[..], b"s:events"]);
        let m = parse(&render(&shared, false).unwrap(), false);
        let lists: Vec<_> = m
            .keys()
            .filter(|(name, _)| name == "ferrymq_list_length")
            .collect();
        assert_eq!(lists.len(), 1, "{lists:?}");
    }

    #[test]
    fn no_patterns_no_key_series() {
        let shared = shared_with_data("");
        let m = parse(&render(&shared, false).unwrap(), false);
        assert!(!m.keys().any(|(_, l)| l.iter().any(|(k, _)| k == "key")));
        assert_eq!(m[&key("ferrymq_db_keys", &[("db", "0")])], 4.0);
    }

    #[test]
    fn key_collection_spans_several_lock_slices() {
        let shared = shared_with_data("many:*");
        let n = VISIT_PER_LOCK * 2 + 10;
        {
            let mut cmds: Vec<Vec<String>> = Vec::new();
            for i in 0..n {
                let k = if i % 3 == 0 {
                    format!("many:{i}")
                } else {
                    format!("few:{i}")
                };
                cmds.push(vec!["RPUSH".into(), k, "x".into()]);
            }
            let refs: Vec<Vec<&str>> = cmds
                .iter()
                .map(|c| c.iter().map(String::as_str).collect())
                .collect();
            let slices: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
            crate::aof::loader::replay_bytes(&shared, &resp(&slices), "bulk").unwrap();
        }
        let keys = matching_keys(&shared, &[b"many:*"]);
        assert_eq!(keys.len(), n.div_ceil(3));
        let m = parse(&render(&shared, false).unwrap(), false);
        let lists = m
            .keys()
            .filter(|(name, _)| name == "ferrymq_list_length")
            .count();
        assert_eq!(lists, n.div_ceil(3));
    }

    #[test]
    fn accept_header_negotiation() {
        assert!(wants_openmetrics("application/openmetrics-text"));
        assert!(wants_openmetrics(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        ));
        assert!(!wants_openmetrics("text/plain;version=0.0.4"));
        assert!(!wants_openmetrics("application/openmetrics-text;q=0"));
        assert!(!wants_openmetrics("*/*"));
    }
}
