//! `ferrymq check-rdb <file>`: like `redis-check-rdb`, read a whole RDB file and report either
//! that it is valid, with its counts, or the byte offset and the reason it is not. Exit status
//! 0 when valid, 1 otherwise.
//!
//! DEVIATION(redis): an aux field or database selection is reported at the offset where it
//! starts (redis-check-rdb prints where it ends), and an error names the reader's reason
//! rather than redis-check-rdb's "While doing" lines.

use crate::store::rdb::{self, file::LoadOptions};

/// The report for `data` (the file named `name`) and whether it is valid.
pub fn report(name: &str, data: &[u8], now: i64) -> (String, bool) {
    let mut out = format!("[offset 0] Checking RDB file {name}\n");
    let opts = LoadOptions {
        enc: rdb::Encodings::default(),
        databases: 16,
        grow: true,
        now,
        skip_expired: true,
        policy: Default::default(),
        checksum: true,
    };
    match rdb::file::read_file(data, &opts) {
        Ok(l) => {
            for (at, what) in &l.trace {
                out.push_str(&format!("[offset {at}] {what}\n"));
            }
            let at = data.len();
            if l.checksummed {
                out.push_str(&format!("[offset {at}] Checksum OK\n"));
            } else if l.version >= 5 {
                out.push_str(&format!(
                    "[offset {at}] RDB file was saved with checksum disabled: no check performed.\n"
                ));
            }
            out.push_str(&format!("[offset {at}] \\o/ RDB looks OK! \\o/\n"));
            out.push_str(&format!(
                "[info] {} keys read\n[info] {} expires\n[info] {} already expired\n",
                l.keys_loaded + l.keys_expired + l.empty_skipped,
                l.expires + l.keys_expired,
                l.keys_expired
            ));
            if !l.functions.is_empty() {
                out.push_str(&format!("[info] {} functions\n", l.functions.len()));
            }
            (out, true)
        }
        Err(e) => {
            out.push_str(&format!(
                "--- RDB ERROR DETECTED ---\n[offset {}] {}\n",
                e.offset, e.reason
            ));
            (out, false)
        }
    }
}

/// The subcommand: `args` after `check-rdb`. Returns the exit status.
pub fn main(args: &[String]) -> i32 {
    let [path] = args else {
        eprintln!("Usage: ferrymq check-rdb <rdb-file-name>");
        return 1;
    };
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            println!("Fatal error: can't open the RDB file {path} for reading: {e}");
            return 1;
        }
    };
    let (text, ok) = report(path, &data, crate::store::unix_ms());
    print!("{text}");
    if ok { 0 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_counts_or_the_offset() {
        let mut ks = crate::store::Keyspace::new(16);
        ks.dbs[0].set(
            &bytes::Bytes::from_static(b"a"),
            crate::store::Value::Str("1".into()),
        );
        ks.dbs[2].set(
            &bytes::Bytes::from_static(b"b"),
            crate::store::Value::Str("2".into()),
        );
        ks.dbs[2].set_expire(b"b", 5_000_000_000_000);
        let aux = [("redis-ver", "7.0.15".to_string())];
        let data = rdb::write_file_with_aux(&ks.dbs, &[], &aux, &rdb::Encodings::default(), 0);
        let (text, ok) = report("f.rdb", &data, 0);
        assert!(ok, "{text}");
        assert!(
            text.contains("[offset 9] AUX FIELD redis-ver = '7.0.15'\n"),
            "{text}"
        );
        assert!(text.contains("Selecting DB ID 2\n"), "{text}");
        assert!(text.contains("Checksum OK\n"), "{text}");
        assert!(
            text.ends_with("[info] 2 keys read\n[info] 1 expires\n[info] 0 already expired\n"),
            "{text}"
        );
        let (text, ok) = report("f.rdb", &data[..data.len() - 12], 0);
        assert!(!ok);
        assert!(
            text.contains("--- RDB ERROR DETECTED ---\n[offset "),
            "{text}"
        );
        assert!(text.contains("Unexpected EOF"), "{text}");
    }
}
