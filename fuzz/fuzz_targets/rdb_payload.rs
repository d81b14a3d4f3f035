//! RESTORE's payload reader (an RDB object, version and CRC-64) on arbitrary input: refused or
//! restored, never a panic. The checksum is skipped by reading the object directly, so that
//! mutations reach the value decoders.

#![no_main]

use ferrymq::store::rdb::{Encodings, restore, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = verify(data);
    let _ = restore(data, &Encodings::default());
});
