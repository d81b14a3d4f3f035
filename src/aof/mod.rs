//! Append-only file (not yet implemented: the sink only counts what it is given).

use bytes::Bytes;

#[derive(Default)]
pub struct AofSink {
    pub offset: u64,
}

impl AofSink {
    /// Append one effect; returns the offset after it.
    pub fn append(&mut self, argv: &[Bytes]) -> u64 {
        self.offset += argv.iter().map(|a| a.len() as u64 + 16).sum::<u64>();
        self.offset
    }
}

/// With `appendfsync always`: the AOF offset that must be durable before replies queued now
/// may be written (`None` when replies need not wait).
pub fn reply_barrier(_store: &crate::store::StoreInner) -> Option<u64> {
    None
}

/// While the AOF cannot be written, write commands are refused with this error (Redis's
/// `MISCONF`-style protection against silent loss).
pub fn refuse_writes(_shared: &crate::server::Shared) -> Option<String> {
    None
}

/// The `aof_*` lines of INFO persistence.
pub fn info_fields(enabled: bool) -> String {
    format!(
        "aof_enabled:{}\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        enabled as u8
    )
}

/// Load the AOF (when enabled) before the first client is accepted.
pub fn startup(_shared: &std::sync::Arc<crate::server::Shared>) -> std::io::Result<()> {
    Ok(())
}

/// Flush and fsync before exit.
pub fn shutdown(_shared: &crate::server::Shared) {}
