//! Replaying the AOF at startup: the base, then each incremental file, command by command
//! through the command table, with a private client whose replies are discarded (the sink is
//! not installed yet, so nothing is propagated again).
//!
//! Damage, as Redis handles it: a last file that ends inside a command (a crash mid-write) is
//! trimmed back to its last complete command when `aof-load-truncated yes` (otherwise startup
//! stops); an unfinished MULTI at the end of a file counts as truncation at the MULTI. Anything
//! else that is not a command stops startup with the file name and offset.

use bytes::Bytes;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::sync::Arc;
use tracing::warn;

use super::manifest::{Layout, Manifest};
use super::reader::{CommandReader, ReadError};
use crate::command::{execute, execute_transaction, is, resolve, unblock};
use crate::connection::{ClientHandle, ClientState, ReplyMode};
use crate::server::Shared;

/// Id of the loading client (never a real connection: those start at 1).
const LOADER_CLIENT_ID: u64 = 0;

pub(crate) struct Replayer<'a> {
    shared: &'a Arc<Shared>,
    client: ClientState,
    multi: Option<Vec<Vec<Bytes>>>,
    /// Redis's hidden `key-load-delay` (tests of the loading state): microseconds to sleep
    /// per command replayed; negative N sleeps 1 µs once every |N| commands on average.
    load_delay: i64,
}

impl<'a> Replayer<'a> {
    /// Replays as the loading client, whose replies are discarded.
    fn new(shared: &'a Arc<Shared>) -> Self {
        let handle = Arc::new(ClientHandle::new(
            LOADER_CLIENT_ID,
            "aof".into(),
            String::new(),
            false,
        ));
        Self::as_client(shared, handle)
    }

    /// Replays as `handle` (a replica's link to its master), replies discarded.
    pub(crate) fn as_client(shared: &'a Arc<Shared>, handle: Arc<ClientHandle>) -> Self {
        let mut client = ClientState::new(handle, true);
        client.reply_mode = ReplyMode::Off;
        Replayer {
            shared,
            client,
            multi: None,
            load_delay: shared.config_i64("key-load-delay"),
        }
    }

    /// The database the replayed stream has selected.
    pub(crate) fn db(&self) -> usize {
        self.client.db
    }

    /// Continue a stream that had selected `db` (a replica's partial resynchronisation: the
    /// master sends no new SELECT).
    pub(crate) fn set_db(&mut self, db: usize) {
        self.client.db = db;
    }

    /// Run one command (a `MULTI` block is queued until its `EXEC`).
    pub(crate) fn run(&mut self, argv: Vec<Bytes>) -> Result<(), String> {
        let entry = resolve(&argv).map_err(|_| {
            format!(
                "Unknown command '{}'",
                String::from_utf8_lossy(&argv[0][..argv[0].len().min(128)])
            )
        })?;
        let arity = entry.spec.arity;
        let ok = if arity >= 0 {
            argv.len() == arity as usize
        } else {
            argv.len() >= (-arity) as usize
        };
        if !ok {
            return Err(format!(
                "Wrong number of arguments for '{}'",
                entry.full_name
            ));
        }
        if is(&argv[0], "multi") {
            if self.multi.is_some() {
                return Err("MULTI calls can not be nested".into());
            }
            self.multi = Some(Vec::new());
            return Ok(());
        }
        if is(&argv[0], "exec") {
            let q = self.multi.take().ok_or("EXEC without MULTI")?;
            let mut store = self.shared.store.lock();
            execute_transaction(self.shared, &mut self.client, &mut store, q);
            store.drain_effects();
            return Ok(());
        }
        if let Some(q) = self.multi.as_mut() {
            q.push(argv);
            return Ok(());
        }
        let (_, blocked) = execute(self.shared, &mut self.client, entry, &argv);
        if blocked.is_some() {
            unblock(self.shared, self.client.id, None);
        }
        Ok(())
    }

    /// Redis's debugDelay.
    fn delay(&self) {
        let us = match self.load_delay {
            0 => return,
            d if d < 0 => u64::from(rand::random_range(0..d.unsigned_abs()) == 0),
            d => d as u64,
        };
        if us > 0 {
            std::thread::sleep(std::time::Duration::from_micros(us));
        }
    }

    /// Replay every command `reader` yields (file `name`, for messages). Ok(Some(offset)) when
    /// the data ends inside a command or an unfinished MULTI: the length to truncate to.
    fn replay<R: Read>(
        &mut self,
        mut reader: CommandReader<R>,
        name: &str,
    ) -> Result<Option<u64>, String> {
        // Offset before the MULTI of an unfinished transaction.
        let mut multi_start = 0u64;
        loop {
            match reader.next_command() {
                Ok(Some((off, argv))) => {
                    if self.multi.is_none() {
                        multi_start = off;
                    }
                    self.delay();
                    self.run(argv).map_err(|e| {
                        format!("{e} reading the append only file {} at offset {off}", name)
                    })?;
                }
                Ok(None) => {
                    if self.multi.is_some() {
                        warn!(file = %name, "Revert incomplete MULTI/EXEC transaction in AOF file");
                        return Ok(Some(multi_start));
                    }
                    return Ok(None);
                }
                Err(ReadError::Truncated { offset }) => {
                    return Ok(Some(if self.multi.is_some() {
                        multi_start
                    } else {
                        offset
                    }));
                }
                Err(ReadError::Corrupt { offset, reason }) => {
                    return Err(format!(
                        "Bad file format reading the append only file {} at offset {offset} ({reason}): make a backup of your AOF file, then use `ferrymq check-aof --fix <dir>`",
                        name
                    ));
                }
                Err(ReadError::Io(e)) => {
                    return Err(format!(
                        "Unrecoverable error reading the append only file {}: {}",
                        name,
                        super::strerror(&e)
                    ));
                }
            }
        }
    }
}

/// Replay `data` as the content of one AOF file named `name` (the AOF fuzz target and the
/// loader's property tests use this; startup uses [`load`]). Ok(Some(offset)) when the data
/// ends inside a command or an unfinished MULTI, at the offset a load would truncate to.
pub fn replay_bytes(shared: &Arc<Shared>, data: &[u8], name: &str) -> Result<Option<u64>, String> {
    Replayer::new(shared).replay(CommandReader::new(data), name)
}

/// Load the RDB at the start of `data` into the (empty) store, with its function libraries;
/// returns how many bytes it took. Expired keys are kept, as Redis keeps them in a preamble:
/// the incremental files that follow delete them.
fn load_preamble(shared: &Arc<Shared>, data: &[u8], name: &str) -> Result<usize, String> {
    load_rdb(shared, data, false)
        .map_err(|e| format!("Bad RDB preamble in the append-only file {name}: {e}"))
}

/// Replace the dataset and the function libraries with the RDB at the start of `data`;
/// returns how many bytes it took. `skip_expired`: drop keys already expired (a master
/// loading a file); a replica and an AOF preamble keep them for the DELs that follow.
pub(crate) fn load_rdb(
    shared: &Arc<Shared>,
    data: &[u8],
    skip_expired: bool,
) -> Result<usize, String> {
    let mut store = shared.store.lock();
    let opts = crate::store::rdb::file::LoadOptions {
        enc: crate::command::dump::encodings_of(shared),
        databases: store.keyspace.dbs.len(),
        grow: false,
        now: crate::store::unix_ms(),
        skip_expired,
        policy: crate::store::access::Policy::unpack(
            store
                .access_policy
                .load(std::sync::atomic::Ordering::SeqCst),
        ),
        checksum: shared.config_str("rdbchecksum") == "yes",
    };
    let loaded = crate::store::rdb::file::read_file(data, &opts).map_err(|e| e.to_string())?;
    let codes: Vec<&[u8]> = loaded.functions.iter().map(|c| &c[..]).collect();
    shared
        .scripting
        .lock()
        .functions
        .restore_codes(
            &codes,
            crate::scripting::functions::Policy::Flush,
            &shared.script_status,
        )
        .map_err(|e| e.to_string())?;
    let consumed = loaded.end + if loaded.version >= 5 { 8 } else { 0 };
    drop(store.replace_keyspace(loaded.keyspace));
    Ok(consumed)
}

/// Load every data file of `m`; Err is the message to stop startup with.
pub fn load(
    shared: &Arc<Shared>,
    layout: &Layout,
    m: &Manifest,
    truncated_ok: bool,
) -> Result<(), String> {
    let mut r = Replayer::new(shared);
    let files: Vec<_> = m.data_files().collect();
    let n = files.len();
    for (i, (entry, is_base)) in files.into_iter().enumerate() {
        let last = i + 1 == n;
        let path = layout.path(&entry.name);
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !is_base && last => {
                // Redis tolerates a missing last incr file (created right after the manifest).
                continue;
            }
            Err(e) => {
                return Err(format!(
                    "Can't open the append-only file {}: {}",
                    entry.name,
                    super::strerror(&e)
                ));
            }
        };
        let mut magic = [0u8; 5];
        let got = f.read(&mut magic).unwrap_or(0);
        let truncate_at = if got == 5 && &magic == b"REDIS" {
            // An RDB preamble (`aof-use-rdb-preamble yes`, Redis 7's default): the snapshot,
            // then any commands after it (a Redis 4-6 single-file AOF has some).
            let data = std::fs::read(&path)
                .map_err(|e| format!("Can't read {}: {}", entry.name, super::strerror(&e)))?;
            let consumed = load_preamble(shared, &data, &entry.name)?;
            r.replay(CommandReader::new(&data[consumed..]), &entry.name)?
                .map(|at| at + consumed as u64)
        } else {
            let f = File::open(&path)
                .map_err(|e| format!("Can't open {}: {}", entry.name, super::strerror(&e)))?;
            r.replay(CommandReader::new(f), &entry.name)?
        };
        if let Some(at) = truncate_at {
            r.multi = None;
            if !last {
                return Err(format!(
                    "Unexpected end of file reading the append only file {} at offset {at}, which is not the last file",
                    entry.name
                ));
            }
            if !truncated_ok {
                return Err(format!(
                    "Unexpected end of file reading the append only file {} at offset {at}. You can: 1) Make a backup of your AOF file, then use `ferrymq check-aof --fix <dir>`. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                    entry.name
                ));
            }
            warn!(file = %entry.name, "!!! Warning: short read while loading the AOF file !!!");
            warn!(file = %entry.name, offset = at, "!!! Truncating the AOF at offset !!!");
            OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| {
                    f.set_len(at)?;
                    f.sync_all()
                })
                .map_err(|e| {
                    format!(
                        "Error truncating the AOF file {}: {}",
                        entry.name,
                        super::strerror(&e)
                    )
                })?;
            warn!(file = %entry.name, "AOF loaded anyway because aof-load-truncated is enabled");
        }
    }
    Ok(())
}
