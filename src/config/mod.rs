//! Configuration (minimal: defaults and `--directive value` pairs; the full redis.conf reader
//! replaces this module).

use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<String, String>,
    file: Option<PathBuf>,
}

const DEFAULTS: &[(&str, &str)] = &[
    ("bind", "127.0.0.1 -::1"),
    ("port", "6379"),
    ("unixsocket", ""),
    ("unixsocketperm", "0"),
    ("databases", "16"),
    ("requirepass", ""),
    ("maxclients", "10000"),
    ("timeout", "0"),
    ("tcp-keepalive", "300"),
    ("loglevel", "notice"),
    ("logfile", ""),
    ("dir", "."),
    ("hz", "10"),
    ("appendonly", "no"),
    ("appendfilename", "appendonly.aof"),
    ("appenddirname", "appendonlydir"),
    ("appendfsync", "everysec"),
    ("maxmemory", "0"),
    ("maxmemory-policy", "noeviction"),
    ("proto-max-bulk-len", "536870912"),
    ("client-query-buffer-limit", "1073741824"),
    (
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    ("slowlog-log-slower-than", "10000"),
    ("slowlog-max-len", "128"),
    ("notify-keyspace-events", ""),
    ("protected-mode", "yes"),
    ("enable-debug-command", "no"),
];

impl Default for Config {
    fn default() -> Self {
        Config {
            values: DEFAULTS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            file: None,
        }
    }
}

impl Config {
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut c = Config::default();
        let mut i = 0;
        while i < args.len() {
            let name = args[i].trim_start_matches("--").to_ascii_lowercase();
            let mut vals = vec![];
            i += 1;
            while i < args.len() && !args[i].starts_with("--") {
                vals.push(args[i].clone());
                i += 1;
            }
            c.values.insert(name, vals.join(" "));
        }
        Ok(c)
    }
    pub fn get(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }
    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v == "yes")
    }
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        self.values
            .iter()
            .filter(|(k, _)| {
                patterns
                    .iter()
                    .any(|p| crate::pubsub::glob::glob_match(p, k.as_bytes(), true))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    pub fn set_many(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<Vec<String>, String> {
        let mut changed = vec![];
        for (k, v) in pairs {
            let k = String::from_utf8_lossy(k).to_ascii_lowercase();
            if !self.values.contains_key(&k) {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{k}'"
                ));
            }
            self.values
                .insert(k.clone(), String::from_utf8_lossy(v).into_owned());
            changed.push(k);
        }
        Ok(changed)
    }
    pub fn rewrite(&self) -> Result<(), String> {
        Err("ERR The server is running without a config file".into())
    }
    pub fn ignored(&self) -> Vec<String> {
        vec![]
    }
    pub fn file(&self) -> Option<PathBuf> {
        self.file.clone()
    }
    pub fn output_buffer_limit(&self, class: &str) -> (u64, u64, u64) {
        let v = self.get("client-output-buffer-limit").unwrap_or_default();
        let parts: Vec<&str> = v.split_whitespace().collect();
        for c in parts.chunks(4) {
            if c.len() == 4 && (c[0] == class || (class == "replica" && c[0] == "slave")) {
                let n = |s: &str| s.parse().unwrap_or(0);
                return (n(c[1]), n(c[2]), n(c[3]));
            }
        }
        (0, 0, 0)
    }
    pub fn renamed_commands(&self) -> Vec<(String, String)> {
        vec![]
    }
}
