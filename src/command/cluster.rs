//! Cluster commands as a Redis 7.0 server with `cluster-enabled no` answers them: CLUSTER and
//! each of its subcommands, READONLY, READWRITE and ASKING exist (arity, flags, ACL
//! categories, COMMAND INFO/DOCS as Redis declares them) and all answer that cluster support
//! is disabled. The generic checks (unknown subcommand, arity, ACL) come first, as in Redis.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::protocol::Reply;

const G: &str = "cluster";

const DISABLED: &str = "ERR This instance has cluster support disabled";

// CLUSTER <subcommand> ..., READONLY, READWRITE, ASKING
fn cluster_disabled(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::error(DISABLED)
}

const ADM: u32 = ADMIN | STALE | NO_ASYNC_LOADING;

const CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("addslots", -3, ADM, cluster_disabled).group(G),
    CommandSpec::new("addslotsrange", -4, ADM, cluster_disabled).group(G),
    CommandSpec::new("bumpepoch", 2, ADM, cluster_disabled).group(G),
    CommandSpec::new("count-failure-reports", 3, ADMIN | STALE, cluster_disabled).group(G),
    CommandSpec::new("countkeysinslot", 3, STALE, cluster_disabled).group(G),
    CommandSpec::new("delslots", -3, ADM, cluster_disabled).group(G),
    CommandSpec::new("delslotsrange", -4, ADM, cluster_disabled).group(G),
    CommandSpec::new("failover", -2, ADM, cluster_disabled).group(G),
    CommandSpec::new("flushslots", 2, ADM, cluster_disabled).group(G),
    CommandSpec::new("forget", 3, ADM, cluster_disabled).group(G),
    CommandSpec::new("getkeysinslot", 4, STALE, cluster_disabled).group(G),
    CommandSpec::new("help", 2, LOADING | STALE, cluster_disabled).group(G),
    CommandSpec::new("info", 2, STALE, cluster_disabled).group(G),
    CommandSpec::new("keyslot", 3, STALE, cluster_disabled).group(G),
    CommandSpec::new("links", 2, STALE, cluster_disabled).group(G),
    CommandSpec::new("meet", -4, ADM, cluster_disabled).group(G),
    CommandSpec::new("myid", 2, STALE, cluster_disabled).group(G),
    CommandSpec::new("nodes", 2, STALE, cluster_disabled).group(G),
    CommandSpec::new("replicas", 3, ADMIN | STALE, cluster_disabled).group(G),
    CommandSpec::new("replicate", 3, ADM, cluster_disabled).group(G),
    CommandSpec::new("reset", -2, ADMIN | NOSCRIPT | STALE, cluster_disabled).group(G),
    CommandSpec::new("saveconfig", 2, ADM, cluster_disabled).group(G),
    CommandSpec::new("set-config-epoch", 3, ADM, cluster_disabled).group(G),
    CommandSpec::new("setslot", -4, ADM, cluster_disabled).group(G),
    CommandSpec::new("shards", 2, STALE, cluster_disabled).group(G),
    CommandSpec::new("slaves", 3, ADMIN | STALE, cluster_disabled).group(G),
    CommandSpec::new("slots", 2, STALE, cluster_disabled).group(G),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("cluster", -2, 0, cluster_disabled)
        .group(G)
        .doc("A container for cluster commands", "3.0.0")
        .subs(CLUSTER_SUBCOMMANDS),
    CommandSpec::new("readonly", 1, LOADING | STALE | FAST, cluster_disabled)
        .group(G)
        .doc(
            "Enables read queries for a connection to a cluster replica node",
            "3.0.0",
        ),
    CommandSpec::new("readwrite", 1, LOADING | STALE | FAST, cluster_disabled)
        .group(G)
        .doc(
            "Disables read queries for a connection to a cluster replica node",
            "3.0.0",
        ),
    CommandSpec::new("asking", 1, FAST, cluster_disabled)
        .group(G)
        .doc("Sent by cluster clients after an -ASK redirect", "3.0.0"),
];
