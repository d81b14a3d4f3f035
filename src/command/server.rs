//! Server commands: INFO, COMMAND, TIME, LASTSAVE, DEBUG, MONITOR, SLOWLOG, LATENCY, MEMORY,
//! SHUTDOWN.

use bytes::Bytes;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::connection::help_reply;
use super::flags::*;
use super::{CommandEntry, CommandSpec, Ctx, is, parse_i64, table};
use crate::error;
use crate::protocol::Reply;
use crate::store::debug_object;
use crate::store::value::Value;

const G: &str = "server";

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", b / 1024.0 / 1024.0 / 1024.0)
    }
}

/// Build the INFO text for the requested sections (`default`, `all`, `everything` or names).
pub fn info_text(ctx: &mut Ctx, sections: &[Bytes]) -> String {
    let shared = ctx.shared.clone();
    let want_all = sections.iter().any(|s| is(s, "all") || is(s, "everything"));
    let default = sections.is_empty() || sections.iter().any(|s| is(s, "default"));
    let want = |name: &str, in_default: bool| {
        want_all || (default && in_default) || sections.iter().any(|s| is(s, name))
    };
    let mut out = String::new();
    let st = &shared.stats;
    let uptime = shared.started.elapsed().as_secs();
    if want("server", true) {
        let _ = write!(
            out,
            "# Server\r\nredis_version:{}\r\nferrymq_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n\r\n",
            crate::REDIS_VERSION,
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            shared.run_id,
            shared.port(),
            crate::store::unix_us(),
            uptime,
            uptime / 86400,
            shared.config_i64("hz"),
            shared.config_i64("hz"),
            (crate::store::unix_ms() / 1000) & 0xFFFFFF,
            shared.executable,
            shared.config_file(),
        );
    }
    // Clients held by CLIENT PAUSE count as blocked, as in Redis.
    let paused = ctx.shared.paused_clients.load(Ordering::Relaxed) as usize;
    let (blocked, blocking_keys, tracking) = {
        let s = ctx.store();
        (
            s.blocking.blocked_clients() + paused,
            s.blocking.blocking_keys(),
            s.tracking.stats(),
        )
    };
    if want("clients", true) {
        let _ = write!(
            out,
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\ntotal_blocking_keys:{}\r\n\r\n",
            shared.clients.len(),
            shared.config_i64("maxclients"),
            blocked,
            tracking.0,
            blocked,
            blocking_keys,
        );
    }
    if want("memory", true) {
        let used = crate::server::used_memory();
        let rss = crate::server::rss_bytes();
        let repl_bufs = ctx.store().repl.output_buffers();
        let normal_clients = shared.clients.normal_memory();
        let peak = st.peak_memory.fetch_max(used, Ordering::Relaxed).max(used);
        let maxmem = shared.config_i64("maxmemory").max(0) as u64;
        let ss = &shared.script_status;
        let vm_eval = ss.vm_eval_bytes.load(Ordering::Relaxed) as u64;
        let vm_functions = ss.vm_functions_bytes.load(Ordering::Relaxed) as u64;
        let vm_total = vm_eval + vm_functions;
        let cached = ss.cached_scripts.load(Ordering::Relaxed);
        let functions = ss.functions.load(Ordering::Relaxed);
        let libraries = ss.libraries.load(Ordering::Relaxed);
        // jemalloc's allocated / active (pages holding objects) / resident, as Redis reports
        // them; without jemalloc, the figures above.
        let (alloc, active, resident) =
            crate::server::memory::allocator_stats().unwrap_or((used, used, rss));
        let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        let _ = write!(
            out,
            "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:0\r\nused_memory_startup:0\r\nused_memory_dataset:{used}\r\nused_memory_dataset_perc:100.00%\r\nallocator_allocated:{alloc}\r\nallocator_active:{active}\r\nallocator_resident:{resident}\r\ntotal_system_memory:{}\r\ntotal_system_memory_human:{}\r\nused_memory_lua:{vm_eval}\r\nused_memory_vm_eval:{vm_eval}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:0\r\nnumber_of_cached_scripts:{cached}\r\nnumber_of_functions:{functions}\r\nnumber_of_libraries:{libraries}\r\nused_memory_vm_functions:{vm_functions}\r\nused_memory_vm_total:{vm_total}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:0\r\nused_memory_scripts:0\r\nused_memory_scripts_human:0B\r\nmaxmemory:{maxmem}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:{:.2}\r\nallocator_frag_bytes:{}\r\nallocator_rss_ratio:{:.2}\r\nallocator_rss_bytes:{}\r\nrss_overhead_ratio:{:.2}\r\nrss_overhead_bytes:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:{repl_bufs}\r\nmem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:{repl_bufs}\r\nmem_clients_normal:{normal_clients}\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:{}\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n\r\n",
            human(used),
            human(rss),
            human(peak),
            if peak > 0 {
                used as f64 * 100.0 / peak as f64
            } else {
                0.0
            },
            crate::server::total_system_memory(),
            human(crate::server::total_system_memory()),
            human(vm_eval),
            human(vm_total),
            human(maxmem),
            shared.config_str("maxmemory-policy"),
            ratio(active, alloc),
            active as i64 - alloc as i64,
            ratio(resident, active),
            resident as i64 - active as i64,
            ratio(rss, resident),
            rss as i64 - resident as i64,
            if used > 0 {
                rss as f64 / used as f64
            } else {
                0.0
            },
            rss as i64 - used as i64,
            crate::server::ALLOCATOR,
        );
    }
    if want("persistence", true) {
        let dirty = ctx.store().dirty;
        // `aof_info` takes the store lock itself.
        ctx.release_store();
        let _ = write!(
            out,
            "# Persistence\r\nloading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\n{}{}\r\n",
            shared.is_loading() as u8,
            crate::snapshot::info_fields(&shared, dirty),
            shared.aof_info(),
        );
    }
    if want("stats", true) {
        let (expired, hits, misses) = {
            let s = ctx.store();
            s.dbs.iter().fold((0, 0, 0), |a, d| {
                (a.0 + d.expired_total, a.1 + d.hits, a.2 + d.misses)
            })
        };
        let (ch, pat, shard) = shared.pubsub.counts();
        let repl_drops = ctx.store().repl.limit_disconnections;
        let (sf, spo, spe) = (
            st.sync_full.load(Ordering::Relaxed),
            st.sync_partial_ok.load(Ordering::Relaxed),
            st.sync_partial_err.load(Ordering::Relaxed),
        );
        let exceeded = shared.eviction_exceeded_ms();
        let _ = write!(
            out,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:{sf}\r\nsync_partial_ok:{spo}\r\nsync_partial_err:{spe}\r\nexpired_keys:{expired}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\nevicted_keys:{}\r\nevicted_clients:{}\r\ntotal_eviction_exceeded_time:{}\r\ncurrent_eviction_exceeded_time:{}\r\nkeyspace_hits:{hits}\r\nkeyspace_misses:{misses}\r\npubsub_channels:{ch}\r\npubsub_patterns:{pat}\r\npubsubshard_channels:{shard}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:{}\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\nclient_output_buffer_limit_disconnections:{}\r\n\r\n",
            st.connections.load(Ordering::Relaxed),
            st.commands.load(Ordering::Relaxed),
            st.net_in.load(Ordering::Relaxed),
            st.net_out.load(Ordering::Relaxed),
            st.rejected_connections.load(Ordering::Relaxed),
            st.evicted_keys.load(Ordering::Relaxed),
            shared.clients.memory.evicted.load(Ordering::Relaxed),
            exceeded.0,
            exceeded.1,
            shared.migrate.len(),
            tracking.1,
            tracking.2,
            tracking.3,
            st.failed_calls.load(Ordering::Relaxed) + st.rejected_calls.load(Ordering::Relaxed),
            st.reads.load(Ordering::Relaxed),
            st.writes.load(Ordering::Relaxed),
            st.output_limit_disconnections.load(Ordering::Relaxed) + repl_drops,
        );
    }
    if want("replication", true) {
        let store = ctx.store();
        out.push_str(&crate::replica::info_section(&shared, store));
    }
    if want("cpu", true) {
        let (user, sys) = crate::server::cpu_times();
        let _ = write!(
            out,
            "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{sys:.6}\r\nused_cpu_user_main_thread:{user:.6}\r\n\r\n"
        );
    }
    if want("modules", true) {
        out.push_str("# Modules\r\n\r\n");
    }
    if want("commandstats", false) {
        out.push_str("# Commandstats\r\n");
        let mut entries: Vec<&CommandEntry> = Vec::new();
        for e in table().by_name.values() {
            entries.push(e);
            entries.extend(e.subs.values());
        }
        entries.sort_by(|a, b| a.full_name.cmp(&b.full_name));
        for e in entries {
            let calls = e.calls.load(Ordering::Relaxed);
            let rejected = e.rejected.load(Ordering::Relaxed);
            let failed = e.failed.load(Ordering::Relaxed);
            if calls == 0 && rejected == 0 && failed == 0 {
                continue;
            }
            let usec = e.usec.load(Ordering::Relaxed);
            let _ = write!(
                out,
                "cmdstat_{}:calls={calls},usec={usec},usec_per_call={:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
                e.full_name,
                if calls > 0 {
                    usec as f64 / calls as f64
                } else {
                    0.0
                },
            );
        }
        out.push_str("\r\n");
    }
    if want("errorstats", true) {
        out.push_str("# Errorstats\r\n");
        for (code, n) in shared.stats.errors.lock().iter() {
            let _ = write!(out, "errorstat_{code}:count={n}\r\n");
        }
        out.push_str("\r\n");
    }
    if want("latencystats", false) {
        out.push_str("# Latencystats\r\n");
        if shared.latency_tracking() {
            latency_stats(
                &mut out,
                &shared.config_str("latency-tracking-info-percentiles"),
            );
        }
        out.push_str("\r\n");
    }
    if want("cluster", true) {
        // ferrymq has no cluster mode; clients probe this field to know.
        out.push_str("# Cluster\r\ncluster_enabled:0\r\n\r\n");
    }
    if want("keyspace", true) {
        out.push_str("# Keyspace\r\n");
        let s = ctx.store();
        for (i, d) in s.dbs.iter().enumerate() {
            if !d.is_empty() {
                let _ = write!(
                    out,
                    "db{i}:keys={},expires={},avg_ttl=0\r\n",
                    d.len(),
                    d.expires_len()
                );
            }
        }
        out.push_str("\r\n");
    }
    // Redis strips the final empty line.
    while out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

// INFO [section [section ...]]
fn info(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let text = info_text(ctx, &args[1..]);
    Reply::Verbatim(Bytes::from(text))
}

fn flag_names(flags: u32) -> Vec<Reply> {
    super::flags::NAMES
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, n)| Reply::Status((*n).into()))
        .collect()
}

/// The ACL categories of a command as COMMAND INFO lists them: the ones the ACL checks use
/// (`acl/categories.tsv`, Redis 7.0's), in Redis's order.
fn acl_categories(e: &CommandEntry) -> Vec<Reply> {
    let u = crate::acl::universe();
    let bits = u
        .lookup_lower(&e.full_name)
        .map_or(0, |i| u.cmds[i].categories);
    crate::acl::CATEGORIES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, c)| Reply::Status(format!("@{c}").into()))
        .collect()
}

fn command_info_reply(e: &CommandEntry) -> Reply {
    let s = e.spec;
    let mut subs: Vec<&CommandEntry> = e.subs.values().collect();
    subs.sort_by(|a, b| a.full_name.cmp(&b.full_name));
    Reply::Array(vec![
        Reply::bulk_str(&e.full_name),
        Reply::Int(s.arity as i64),
        Reply::Set(flag_names(s.flags)),
        Reply::Int(s.keys.0 as i64),
        Reply::Int(s.keys.1 as i64),
        Reply::Int(s.keys.2 as i64),
        Reply::Set(acl_categories(e)),
        Reply::Set(
            crate::acl::command_tips(&e.full_name)
                .into_iter()
                .map(Reply::bulk_str)
                .collect(),
        ),
        // A set, as Redis 7.0 writes it (RESP3 `~`; an array in RESP2).
        Reply::Set(crate::acl::key_specs_reply(&e.full_name)),
        // An empty set for a command without subcommands, an array of them for a container.
        if subs.is_empty() {
            Reply::Set(vec![])
        } else {
            Reply::Array(subs.into_iter().map(command_info_reply).collect())
        },
    ])
}

fn command_docs_reply(e: &CommandEntry) -> Reply {
    let s = e.spec;
    let mut fields = super::docs::fields(&e.full_name).unwrap_or_else(|| {
        vec![
            (Reply::bulk_str("summary"), Reply::bulk_str(s.summary)),
            (Reply::bulk_str("since"), Reply::bulk_str(s.since)),
            (Reply::bulk_str("group"), Reply::bulk_str(s.group)),
        ]
    });
    if !e.subs.is_empty() {
        let mut subs: Vec<&CommandEntry> = e.subs.values().collect();
        subs.sort_by(|a, b| a.full_name.cmp(&b.full_name));
        fields.push((
            Reply::bulk_str("subcommands"),
            Reply::Map(
                subs.into_iter()
                    .map(|c| (Reply::bulk_str(&c.full_name), command_docs_reply(c)))
                    .collect(),
            ),
        ));
    }
    Reply::Map(fields)
}

fn all_entries() -> Vec<&'static CommandEntry> {
    let mut v: Vec<&CommandEntry> = table().by_name.values().collect();
    v.sort_by(|a, b| a.full_name.cmp(&b.full_name));
    v
}

fn find_entry(name: &[u8]) -> Option<&'static CommandEntry> {
    let lower = name.to_ascii_lowercase();
    if let Some(pos) = lower.iter().position(|&c| c == b'|') {
        let parent = table().by_name.get(&lower[..pos])?;
        return parent.subs.get(&lower[pos + 1..]);
    }
    table().by_name.get(&lower)
}

// COMMAND
fn command(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Array(all_entries().into_iter().map(command_info_reply).collect())
}

// COMMAND COUNT
fn command_count(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Int(table().by_name.len() as i64)
}

// COMMAND INFO [command-name ...]
fn command_info(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() == 2 {
        return Reply::Array(all_entries().into_iter().map(command_info_reply).collect());
    }
    Reply::Array(
        args[2..]
            .iter()
            .map(|n| find_entry(n).map(command_info_reply).unwrap_or(Reply::Null))
            .collect(),
    )
}

// COMMAND DOCS [command-name ...]
fn command_docs(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let entries: Vec<&CommandEntry> = if args.len() == 2 {
        all_entries()
    } else {
        args[2..].iter().filter_map(|n| find_entry(n)).collect()
    };
    Reply::Map(
        entries
            .into_iter()
            .map(|e| (Reply::bulk_str(&e.full_name), command_docs_reply(e)))
            .collect(),
    )
}

// COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]
fn command_list(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut names: Vec<String> = vec![];
    for e in all_entries() {
        names.push(e.full_name.clone());
        for s in e.subs.values() {
            names.push(s.full_name.clone());
        }
    }
    if args.len() == 2 {
        return Reply::Array(names.iter().map(|n| Reply::bulk_str(n)).collect());
    }
    if args.len() != 5 || !is(&args[2], "filterby") {
        return Reply::error(error::SYNTAX);
    }
    let v = &args[4];
    let keep: Vec<String> = if is(&args[3], "pattern") {
        names
            .into_iter()
            .filter(|n| crate::pubsub::glob::glob_match(v, n.as_bytes(), true))
            .collect()
    } else if is(&args[3], "module") {
        vec![]
    } else if is(&args[3], "aclcat") {
        let cat = format!("@{}", String::from_utf8_lossy(v).to_ascii_lowercase());
        names
            .into_iter()
            .filter(|n| {
                find_entry(n.as_bytes()).is_some_and(|e| {
                    acl_categories(e)
                        .iter()
                        .any(|c| matches!(c, Reply::Status(s) if *s == cat))
                })
            })
            .collect()
    } else {
        return Reply::error(error::SYNTAX);
    };
    Reply::Array(keep.iter().map(|n| Reply::bulk_str(n)).collect())
}

// COMMAND GETKEYS command [arg ...]
// COMMAND GETKEYSANDFLAGS command [arg ...]
fn command_getkeysandflags(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let keys = match command_getkeys(ctx, args) {
        Reply::Array(keys) => keys,
        other => return other,
    };
    let argv = &args[2..];
    let e = super::resolve(argv).expect("resolved by GETKEYS");
    let flags = crate::acl::keys_and_flags(&e.full_name, argv).unwrap_or_default();
    Reply::Array(
        keys.into_iter()
            .zip(flags)
            .map(|(k, (_, f))| {
                Reply::Array(vec![
                    k,
                    Reply::Set(f.into_iter().map(|s| Reply::Status(s.into())).collect()),
                ])
            })
            .collect(),
    )
}

fn command_getkeys(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let argv = &args[2..];
    let Ok(e) = super::resolve(argv) else {
        return Reply::error("ERR Invalid command specified");
    };
    // Redis's order: no key specs, then arity, then the keys the specs find (key counts such
    // as EVAL's numkeys and keywords such as XREAD's STREAMS included).
    let Some(keys) = crate::acl::key_positions(&e.full_name, argv) else {
        return Reply::error("ERR The command has no key arguments");
    };
    let arity = e.spec.arity;
    let ok = if arity >= 0 {
        argv.len() == arity as usize
    } else {
        argv.len() >= (-arity) as usize
    };
    if !ok {
        return Reply::error("ERR Invalid number of arguments specified for command");
    }
    if keys.is_empty() {
        // The commands Redis 7.0 flags NO_MANDATORY_KEYS answer an empty list.
        return match e.full_name.as_str() {
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => {
                Reply::Array(vec![])
            }
            _ => Reply::error("ERR Invalid arguments specified for command"),
        };
    }
    Reply::Array(
        keys.into_iter()
            .map(|i| Reply::Bulk(argv[i].clone()))
            .collect(),
    )
}

fn command_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    )
}

// TIME
fn time(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let us = crate::store::unix_us();
    Reply::Array(vec![
        Reply::bulk_str(&(us / 1_000_000).to_string()),
        Reply::bulk_str(&(us % 1_000_000).to_string()),
    ])
}

// LASTSAVE
fn lastsave(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Int(ctx.shared.rdb.last_save.load(Ordering::SeqCst))
}

// DEBUG SLEEP seconds | DEBUG JMAP | ...
fn debug(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    // Like Redis 7, DEBUG is refused unless `enable-debug-command` allows it.
    let allowed = ctx.shared.config_str("enable-debug-command");
    let local = ctx.client.handle.unix || ctx.client.handle.addr.starts_with("127.");
    if !(allowed == "yes" || (allowed == "local" && local)) {
        return Reply::error(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        );
    }
    if is(&args[1], "sleep") && args.len() >= 3 {
        let secs = crate::num::string2d(&args[2]).unwrap_or(0.0).max(0.0);
        // DEBUG SLEEP blocks the whole server, as in Redis: hold the store lock while sleeping.
        let _g = ctx.store();
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
        return Reply::Ok;
    }
    if is(&args[1], "object") && args.len() == 3 {
        return debug_object(ctx, &args[2]);
    }
    if is(&args[1], "set-active-expire") && args.len() == 3 {
        ctx.store().active_expire_enabled = args[2][..] != *b"0";
        return Reply::Ok;
    }
    if is(&args[1], "reload") {
        // DEBUG RELOAD [NOSAVE]: save, empty, load the file back.
        // DEVIATION(redis): Redis's MERGE and NOFLUSH modes are not offered.
        let mut nosave = false;
        for a in &args[2..] {
            if is(a, "nosave") {
                nosave = true;
            } else {
                return Reply::error("ERR DEBUG RELOAD only supports the NOSAVE option.");
            }
        }
        let shared = ctx.shared.clone();
        let store = ctx.store();
        crate::snapshot::abort_bgsave(&shared, store);
        if !nosave && crate::snapshot::save(&shared, store).is_err() {
            return Reply::error("ERR");
        }
        return match crate::snapshot::load(&shared, store) {
            Ok(Some(_)) => Reply::Ok,
            Ok(None) | Err(_) => Reply::error("ERR Error trying to load the RDB dump"),
        };
    }
    if is(&args[1], "panic") && args.len() == 2 {
        // DEVIATION(redis): Redis crashes; here the panic is caught by dispatch, which aborts
        // only this command and replies an error (the way any handler bug is contained).
        panic!("DEBUG PANIC");
    }
    if is(&args[1], "help") {
        return help_reply(
            "DEBUG",
            &[
                "OBJECT <key>",
                "    Show low level info about the `key` and associated value.",
                "PANIC",
                "    Fail this command as a bug would (the server keeps running).",
                "RELOAD [NOSAVE]",
                "    Save the RDB on disk and reload it back to memory (NOSAVE: load the file as it is).",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        );
    }
    Reply::Error(
        format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&args[1])
        )
        .into(),
    )
}

/// INFO LATENCYSTATS lines: `latency_percentiles_usec_<command>:p50=<us>,...` for each
/// command called since start (or the last CONFIG RESETSTAT), at the configured percentiles.
fn latency_stats(out: &mut String, percentiles: &str) {
    let percentiles: Vec<f64> = percentiles
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let mut entries: Vec<&CommandEntry> = Vec::new();
    for e in table().by_name.values() {
        entries.push(e);
        entries.extend(e.subs.values());
    }
    entries.sort_by(|a, b| a.full_name.cmp(&b.full_name));
    for e in entries {
        if e.latency.value_at_percentile(50.0).is_none() {
            continue;
        }
        let _ = write!(out, "latency_percentiles_usec_{}:", e.full_name);
        for (i, &p) in percentiles.iter().enumerate() {
            let v = e.latency.value_at_percentile(p).unwrap_or(0);
            // The percentile as `%f` with trailing zeros trimmed (99.9, 50).
            let label = format!("{p:.6}");
            let label = label.trim_end_matches('0').trim_end_matches('.');
            let sep = if i + 1 < percentiles.len() { "," } else { "" };
            let _ = write!(out, "p{label}={:.3}{sep}", v as f64 / 1000.0);
        }
        out.push_str("\r\n");
    }
}

/// DEBUG OBJECT key: `Value at:<addr> refcount:<n> encoding:<enc> serializedlength:<n>
/// lru:<clock> lru_seconds_idle:<n>`, plus the quicklist layout for lists, as Redis 7.0 prints
/// it. DEVIATION(redis): the address is the value's own in ferrymq's memory;
/// `serializedlength` and the list layout are computed (see `store::debug_object`). `lru` is
/// the key's access word and `lru_seconds_idle` its age read as an LRU clock, as Redis prints
/// them (under an LFU policy the figure is as meaningless as Redis's).
fn debug_object(ctx: &mut Ctx, key: &Bytes) -> Reply {
    let fill = crate::num::string2ll(ctx.shared.config_str("list-max-listpack-size").as_bytes())
        .unwrap_or(-2);
    let compressed = ctx.shared.config_str("list-compress-depth") != "0";
    let db = ctx.db();
    let Some(e) = db.peek(key) else {
        return Reply::error(error::NO_SUCH_KEY);
    };
    let (v, lru) = (&e.value, e.access_word());
    let idle = crate::store::access::idle_ms(lru) / 1000;
    let mut line = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{lru} lru_seconds_idle:{idle}",
        v as *const _,
        e.refcount(),
        e.encoding(),
        debug_object::serialized_length(v, fill),
    );
    if let Value::List(l) = v {
        let nodes = debug_object::quicklist_nodes(l.iter(), fill);
        let avg = l.len() as f64 / nodes.len().max(1) as f64;
        let size: usize = nodes.iter().map(|n| n.0).sum();
        line.push_str(&format!(
            " ql_nodes:{} ql_avg_node:{avg:.2} ql_listpack_max:{fill} ql_compressed:{} ql_uncompressed_size:{size}",
            nodes.len(),
            compressed as u8,
        ));
    }
    Reply::Status(line.into())
}

// MONITOR
fn monitor(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    if !ctx.client.monitor {
        ctx.client.monitor = true;
        ctx.client.handle.info.lock().monitor = true;
        ctx.shared.add_monitor(ctx.client.handle.clone());
    }
    Reply::Ok
}

// SLOWLOG GET [count]
fn slowlog_get(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let count = match args.get(2) {
        None => 10,
        Some(a) => match crate::protocol::request::parse_i64(a) {
            Some(n) if n >= -1 => n,
            _ => {
                return Reply::error("ERR count should be greater than or equal to -1");
            }
        },
    };
    let log = ctx.shared.slowlog.lock();
    let n = if count == -1 {
        log.len()
    } else {
        (count as usize).min(log.len())
    };
    Reply::Array(log.iter().rev().take(n).map(|e| e.reply()).collect())
}

fn slowlog_len(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Int(ctx.shared.slowlog.lock().len() as i64)
}

fn slowlog_reset(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.shared.slowlog.lock().clear();
    Reply::Ok
}

fn slowlog_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    help_reply(
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    )
}

// LATENCY LATEST | HISTORY event | RESET [event ...] | DOCTOR | GRAPH event | HISTOGRAM | HELP
// Latency monitoring is not implemented: the replies are those of a server with no events.
fn latency(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    if is(sub, "latest") || is(sub, "history") && args.len() == 3 {
        Reply::Array(vec![])
    } else if is(sub, "reset") {
        Reply::Int(0)
    } else if is(sub, "histogram") {
        Reply::Map(vec![])
    } else if is(sub, "doctor") {
        Reply::Verbatim(Bytes::from_static(
            b"Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep better tonight.\n",
        ))
    } else if is(sub, "graph") && args.len() == 3 {
        Reply::Error(
            format!(
                "ERR No samples available for event '{}'",
                String::from_utf8_lossy(&args[2])
            )
            .into(),
        )
    } else if is(sub, "help") {
        help_reply(
            "LATENCY",
            &[
                "DOCTOR",
                "    Return a human readable latency analysis report.",
                "GRAPH <event>",
                "    Return an ASCII latency graph for the <event> class.",
                "HISTORY <event>",
                "    Return time-latency samples for the <event> class.",
                "LATEST",
                "    Return the latest latency samples for all events.",
                "RESET [<event> ...]",
                "    Reset latency data of one or more <event> classes.",
                "    (default: reset all data for all event classes)",
                "HISTOGRAM [COMMAND ...]",
                "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                "    If no commands are specified then all histograms are replied.",
            ],
        )
    } else {
        Reply::Error(error::unknown_subcommand("latency", sub).into())
    }
}

// MEMORY USAGE key [SAMPLES count]
fn memory_usage(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        if args.len() != 5 || !is(&args[3], "samples") {
            return Reply::error(error::SYNTAX);
        }
        if let Err(e) = parse_i64(&args[4]) {
            return e;
        }
    }
    let key = &args[2];
    match ctx.db().peek(key) {
        // Key bytes + its Bytes handle + the dict slot + the access word + the value.
        Some(e) => Reply::Int((key.len() + 32 + 16 + 8 + e.value.mem_usage()) as i64),
        None => Reply::Null,
    }
}

// MEMORY STATS
fn memory_stats(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let used = crate::server::used_memory() as i64;
    let keys: usize = ctx.store().dbs.iter().map(|d| d.len()).sum();
    let peak = ctx
        .shared
        .stats
        .peak_memory
        .load(Ordering::Relaxed)
        .max(used as u64) as i64;
    let kv = |k: &str, v: Reply| (Reply::bulk_str(k), v);
    Reply::Map(vec![
        kv("peak.allocated", Reply::Int(peak)),
        kv("total.allocated", Reply::Int(used)),
        kv("startup.allocated", Reply::Int(0)),
        kv("replication.backlog", Reply::Int(0)),
        kv("clients.slaves", Reply::Int(0)),
        kv("clients.normal", Reply::Int(0)),
        kv("cluster.links", Reply::Int(0)),
        kv("aof.buffer", Reply::Int(0)),
        kv("lua.caches", Reply::Int(0)),
        kv("functions.caches", Reply::Int(0)),
        kv("overhead.total", Reply::Int(0)),
        kv("keys.count", Reply::Int(keys as i64)),
        kv(
            "keys.bytes-per-key",
            Reply::Int(if keys > 0 { used / keys as i64 } else { 0 }),
        ),
        kv("dataset.bytes", Reply::Int(used)),
        kv("dataset.percentage", Reply::Double(100.0)),
        kv(
            "peak.percentage",
            Reply::Double(used as f64 * 100.0 / peak.max(1) as f64),
        ),
        kv("fragmentation", Reply::Double(1.0)),
        kv("fragmentation.bytes", Reply::Int(0)),
    ])
}

fn memory_doctor(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Verbatim(Bytes::from_static(
        b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n",
    ))
}

fn memory_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    help_reply(
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    )
}

// MEMORY PURGE
fn memory_purge(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    crate::server::memory::purge();
    Reply::Ok
}

fn memory_malloc_stats(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Verbatim(Bytes::from_static(
        b"Stats not supported for the current allocator\n",
    ))
}

// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
fn shutdown(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    for a in &args[1..] {
        if !(is(a, "nosave") || is(a, "save") || is(a, "now") || is(a, "force") || is(a, "abort")) {
            return Reply::error(error::SYNTAX);
        }
    }
    let has = |w: &str| args[1..].iter().any(|a| is(a, w));
    let abort = has("abort");
    if (abort && args.len() > 2 && args[1..].iter().any(|a| !is(a, "abort")))
        || (has("nosave") && has("save"))
    {
        return Reply::error(error::SYNTAX);
    }
    if abort {
        return Reply::error("ERR No shutdown in progress.");
    }
    // While a script is BUSY only SHUTDOWN NOSAVE may stop the server (Redis would have to
    // save a dataset the script is half-way through changing).
    let status = &ctx.shared.script_status;
    let busy = status.busy.load(std::sync::atomic::Ordering::SeqCst);
    if !has("nosave") && busy {
        return Reply::error(status.busy_error());
    }
    // A BUSY script holds the store: with NOSAVE there is nothing to save, so exit at once.
    if !busy {
        let shared = ctx.shared.clone();
        if crate::snapshot::shutdown_save(&shared, ctx.store(), has("nosave"), has("save")).is_err()
            && !has("force")
        {
            return Reply::error(error::SHUTDOWN_FAILED);
        }
    }
    ctx.shared.request_shutdown();
    // Redis closes the connection without a reply when the shutdown succeeds.
    ctx.client.close_after_reply = true;
    Reply::NoReply
}

const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("count", 2, LOADING | STALE, command_count).group(G),
    CommandSpec::new("info", -2, LOADING | STALE, command_info).group(G),
    CommandSpec::new("docs", -2, LOADING | STALE, command_docs).group(G),
    CommandSpec::new("list", -2, LOADING | STALE, command_list).group(G),
    CommandSpec::new("getkeys", -4, LOADING | STALE, command_getkeys).group(G),
    CommandSpec::new(
        "getkeysandflags",
        -4,
        LOADING | STALE,
        command_getkeysandflags,
    )
    .group(G),
    CommandSpec::new("help", 2, LOADING | STALE, command_help).group(G),
];

const SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -2, ADMIN | LOADING | STALE, slowlog_get).group(G),
    CommandSpec::new("len", 2, ADMIN | LOADING | STALE, slowlog_len).group(G),
    CommandSpec::new("reset", 2, ADMIN | LOADING | STALE, slowlog_reset).group(G),
    CommandSpec::new("help", 2, LOADING | STALE, slowlog_help).group(G),
];

/// One handler answers every LATENCY subcommand (it reads `args[1]`).
const LATENCY_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("doctor", 2, ADMIN | NOSCRIPT | LOADING | STALE, latency).group(G),
    CommandSpec::new("graph", 3, ADMIN | NOSCRIPT | LOADING | STALE, latency).group(G),
    CommandSpec::new("histogram", -2, ADMIN | NOSCRIPT | LOADING | STALE, latency).group(G),
    CommandSpec::new("history", 3, ADMIN | NOSCRIPT | LOADING | STALE, latency).group(G),
    CommandSpec::new("latest", 2, ADMIN | NOSCRIPT | LOADING | STALE, latency).group(G),
    CommandSpec::new("reset", -2, ADMIN | NOSCRIPT | LOADING | STALE, latency).group(G),
    CommandSpec::new("help", 2, LOADING | STALE, latency).group(G),
];

const MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("usage", -3, READONLY, memory_usage)
        .keys(2, 2, 1)
        .group(G),
    CommandSpec::new("stats", 2, 0, memory_stats).group(G),
    CommandSpec::new("doctor", 2, 0, memory_doctor).group(G),
    CommandSpec::new("purge", 2, 0, memory_purge).group(G),
    CommandSpec::new("malloc-stats", 2, 0, memory_malloc_stats).group(G),
    CommandSpec::new("help", 2, LOADING | STALE, memory_help).group(G),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("info", -1, LOADING | STALE, info)
        .group(G)
        .doc("Get information and statistics about the server", "1.0.0"),
    CommandSpec::new("command", -1, LOADING | STALE, command)
        .group(G)
        .doc("Get array of Redis command details", "2.8.13")
        .subs(COMMAND_SUBCOMMANDS),
    CommandSpec::new("time", 1, LOADING | STALE | FAST, time)
        .group(G)
        .doc("Return the current server time", "2.6.0"),
    CommandSpec::new("lastsave", 1, LOADING | STALE | FAST, lastsave)
        .group(G)
        .doc(
            "Get the UNIX time stamp of the last successful save to disk",
            "1.0.0",
        ),
    CommandSpec::new("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, debug)
        .group(G)
        .doc("A container for debugging commands", "1.0.0"),
    CommandSpec::new("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, monitor)
        .group(G)
        .doc(
            "Listen for all requests received by the server in real time",
            "1.0.0",
        ),
    CommandSpec::new("slowlog", -2, 0, slowlog_help)
        .group(G)
        .doc("A container for slow log commands", "2.2.12")
        .subs(SLOWLOG_SUBCOMMANDS),
    CommandSpec::new("latency", -2, 0, latency)
        .group(G)
        .doc("A container for latency diagnostics commands", "2.8.13")
        .subs(LATENCY_SUBCOMMANDS),
    CommandSpec::new("memory", -2, 0, memory_help)
        .group(G)
        .doc("A container for memory diagnostics commands", "4.0.0")
        .subs(MEMORY_SUBCOMMANDS),
    CommandSpec::new(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        shutdown,
    )
    .group(G)
    .doc(
        "Synchronously save the dataset to disk and then shut down the server",
        "1.0.0",
    ),
];
