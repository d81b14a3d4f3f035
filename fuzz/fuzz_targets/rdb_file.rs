//! The RDB file reader on arbitrary input: it refuses or loads, and never panics, hangs or
//! allocates more than the input justifies (libFuzzer's -rss_limit_mb and -malloc_limit_mb
//! catch the last two). Both with the input as a whole file and behind a valid header, so
//! that mutations reach the records and not only the magic string.

#![no_main]

use ferrymq::store::access::Policy;
use ferrymq::store::rdb::Encodings;
use ferrymq::store::rdb::file::{LoadOptions, read_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = LoadOptions {
        enc: Encodings::default(),
        databases: 16,
        grow: true,
        now: 0,
        skip_expired: false,
        policy: Policy::default(),
        checksum: false,
    };
    let _ = read_file(data, &opts);
    let mut framed = b"REDIS0010".to_vec();
    framed.extend_from_slice(data);
    let _ = read_file(&framed, &opts);
});
