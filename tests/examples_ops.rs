//! examples/ops stays true to the server: every `ferrymq_*` series the Grafana dashboard
//! queries is one a server with data in every family exposes, and the Prometheus scrape
//! configuration and the pod manifest name the port and the probe paths the server serves.

mod common;

use common::{Server, free_port, wait_for};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        body.into(),
    )
}

fn example(name: &str) -> String {
    let path = format!("{}/examples/ops/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn grafana_dashboard_queries_series_the_server_exposes() {
    let mport = free_port();
    let server = Server::ferrymq(&[
        "--appendonly",
        "yes",
        "--metrics-port",
        &mport.to_string(),
        "--metrics-key-patterns",
        "q:*",
    ]);
    assert!(wait_for(Duration::from_secs(5), || TcpStream::connect((
        "127.0.0.1",
        mport
    ))
    .is_ok()));
    let mut c = server.raw();
    for cmd in [
        &["RPUSH", "q:jobs", "a"][..],
        &["XADD", "q:events", "*", "f", "v"],
        &["XADD", "q:events", "*", "f", "v"],
        &["XGROUP", "CREATE", "q:events", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "q:events",
            ">",
        ],
        &["FMQ.GROUPSET", "q:events", "g", "DEADLETTER", "q:dead"],
        &["NOSUCHCOMMAND"],
        &["GET"],
    ] {
        c.cmd(cmd);
    }
    let (status, body) = get(mport, "/metrics");
    assert_eq!(status, 200);
    let exposed: BTreeSet<&str> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();

    let dashboard: serde_json::Value =
        serde_json::from_str(&example("grafana-dashboard.json")).expect("dashboard JSON");
    let mut queried = BTreeSet::new();
    let text = dashboard.to_string();
    for (i, _) in text.match_indices("ferrymq_") {
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        queried.insert(name);
    }
    assert!(queried.len() > 20, "{queried:?}");
    let missing: Vec<&String> = queried
        .iter()
        .filter(|n| !exposed.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries series the server does not expose: {missing:?}"
    );
}

#[test]
fn scrape_config_and_pod_manifest_use_the_served_paths() {
    let prometheus = example("prometheus.yml");
    assert!(prometheus.contains("127.0.0.1:9121"));
    let pod = example("pod-sidecar.yaml");
    for want in [
        "path: /healthz",
        "path: /readyz",
        "prometheus.io/port: \"9121\"",
        "prometheus.io/path: \"/metrics\"",
        "- --metrics-port",
        "mountPath: /data",
    ] {
        assert!(pod.contains(want), "{want} missing from pod-sidecar.yaml");
    }
    let unit = example("ferrymq.service");
    assert!(unit.contains("Type=notify") && unit.contains("--supervised systemd"));

    let mport = free_port();
    let _server = Server::ferrymq(&["--metrics-port", &mport.to_string()]);
    assert!(wait_for(Duration::from_secs(5), || TcpStream::connect((
        "127.0.0.1",
        mport
    ))
    .is_ok()));
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(get(mport, path).0, 200, "{path}");
    }
}
