//! The glob matcher (PSUBSCRIBE, KEYS, SCAN MATCH, CONFIG GET) on arbitrary patterns and
//! strings: never panics, and libFuzzer's timeout catches exponential patterns. Matching is
//! reflexive for patterns without special characters.
//!
//! (Case folding does not only add matches: as in Redis, `[4-e]` with nocase folds the
//! character but not the range, so `Y` matches case-sensitively and not case-insensitively.)
#![no_main]

use ferrymq::pubsub::glob::glob_match;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&b| b == 0) else {
        return;
    };
    let (pattern, string) = (&data[..split], &data[split + 1..]);
    let _ = glob_match(pattern, string, false);
    let _ = glob_match(pattern, string, true);
    if !string
        .iter()
        .any(|c| matches!(c, b'*' | b'?' | b'[' | b'\\'))
    {
        assert!(glob_match(string, string, false));
        assert!(glob_match(string, string, true));
    }
});
