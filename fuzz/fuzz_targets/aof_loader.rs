//! AOF loading on arbitrary bytes: the first byte picks what the rest is.
//! - Even: the content of an AOF file, replayed through the loader into a fresh server state.
//!   Whatever the bytes, the loader must return (no panic, no hang, no allocation sized by a
//!   length prefix the data does not back), and when it reports truncation, replaying just the
//!   part it would keep must load cleanly.
//! - Odd: a manifest. Whatever parses must render back to text that parses to the same list.
#![no_main]

use ferrymq::aof::loader::replay_bytes;
use ferrymq::aof::manifest::Manifest;
use ferrymq::config::Config;
use ferrymq::server::Shared;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

/// A fresh server state per input, so each run is reproducible on its own. Values are capped
/// at 1 MB (SETRANGE & co.) so a few bytes of input cannot legitimately ask for 512 MB; any
/// file the replayed commands write lands in a private directory.
fn server() -> Arc<Shared> {
    static DIR: OnceLock<String> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("ferrymq-fuzz-aof-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("fuzz directory");
        d.display().to_string()
    });
    let args: Vec<String> = ["--dir", dir, "--proto-max-bulk-len", "1mb"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    Shared::new(Config::from_args(&args).expect("config"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Ok(Some(keep)) = replay_bytes(&server(), rest, "fuzz.aof") {
            assert!(keep as usize <= rest.len());
            let again = replay_bytes(&server(), &rest[..keep as usize], "fuzz.aof");
            assert_eq!(again, Ok(None), "the kept prefix of a truncated file loads");
        }
    } else {
        let text = String::from_utf8_lossy(rest);
        if let Ok(m) = Manifest::parse(&text) {
            let rendered = m.render();
            assert_eq!(
                Manifest::parse(&rendered).as_ref(),
                Ok(&m),
                "rendered: {rendered:?}"
            );
        }
    }
});
