//! The ACL command: users (SETUSER/GETUSER/DELUSER/LIST/USERS/WHOAMI), categories (CAT),
//! permission checks without running (DRYRUN), GENPASS, the denial LOG, and the ACL file
//! (LOAD/SAVE). Users and checks live in `crate::acl`; handlers here parse and reply, with
//! Redis 7.0's replies and error texts.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, is};
use crate::acl::{self, CATEGORIES, Denied, User, universe};
use crate::error;
use crate::protocol::Reply;
use crate::pubsub::hub::Kind;

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try ACL HELP.`
fn syntax_error(args: &[Bytes]) -> Reply {
    let sub = &args[1][..args[1].len().min(128)];
    Reply::Error(
        error::sanitize(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
            lossy(sub)
        ))
        .into(),
    )
}

fn has_space(s: &[u8]) -> bool {
    s.iter()
        .any(|c| c.is_ascii_whitespace() || *c == 0x0b || *c == 0)
}

/// Kill the connections running as `name` (the caller's own after its reply).
fn kill_clients_of(ctx: &mut Ctx, name: &[u8]) {
    let me = ctx.client.id;
    for h in ctx.shared.clients.all() {
        if h.info.lock().user.as_bytes() != name {
            continue;
        }
        if h.id == me {
            ctx.client.close_after_reply = true;
        } else {
            h.kill();
        }
    }
}

// ACL SETUSER username [rule [rule ...]]
fn acl_setuser(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let name = &args[2];
    if has_space(name) {
        return Reply::error("ERR Usernames can't contain spaces or null characters");
    }
    let acl = &ctx.shared.acl;
    // Rules are staged on a copy: all of them apply, or none.
    let existing = acl.get(name);
    let mut staged = match &existing {
        Some(u) => u.read().clone(),
        None => User::new(crate::store::own(name), acl.all_channels_default),
    };
    for op in &args[3..] {
        if let Err(e) = staged.apply(op, acl.all_channels_default) {
            let shown = op.split(|&c| c == 0).next().unwrap_or_default();
            return Reply::Error(
                error::sanitize(format!(
                    "ERR Error in ACL SETUSER modifier '{}': {}",
                    lossy(shown),
                    e.message()
                ))
                .into(),
            );
        }
    }
    let revoked = existing.as_ref().is_some_and(|u| {
        let u = u.read();
        acl::channels_revoked(u.allchannels, &u.channels, &staged)
    });
    let cell = existing.unwrap_or_else(|| acl.get_or_create(name));
    *cell.write() = staged;
    acl.refresh();
    if revoked {
        disconnect_revoked_subscribers(ctx, name, &cell.read());
    }
    Reply::Ok
}

/// Close the connections of user `name` that are subscribed to a channel, pattern or shard
/// channel `user` no longer allows (Redis 7: "existing pub/sub clients authenticated with the
/// user may need to be disconnected"). The caller's own connection closes after its reply.
fn disconnect_revoked_subscribers(ctx: &mut Ctx, name: &[u8], user: &User) {
    let mut handles = Vec::new();
    for h in ctx.shared.clients.all() {
        let info = h.info.lock();
        if info.user.as_bytes() == name && info.sub + info.psub + info.ssub > 0 {
            drop(info);
            handles.push(h);
        }
    }
    // The caller's own counts reach its CLIENT LIST info only after the command.
    let me = ctx.client.id;
    let me_subscribed = ctx.client.subscription_count() > 0
        && acl::client_user(ctx.shared, ctx.client).read().name[..] == *name;
    let mut ids: Vec<u64> = handles.iter().map(|h| h.id).collect();
    if me_subscribed && !ids.contains(&me) {
        ids.push(me);
    }
    let mut doomed: Vec<u64> = ctx
        .shared
        .pubsub
        .subscriptions_of(&ids)
        .into_iter()
        .filter(|(_, kind, ch)| !acl::channel_allowed(user, ch, *kind == Kind::Pattern))
        .map(|(id, _, _)| id)
        .collect();
    doomed.sort_unstable();
    doomed.dedup();
    for id in doomed {
        if id == me {
            ctx.client.close_after_reply = true;
        } else if let Some(h) = handles.iter().find(|h| h.id == id) {
            tracing::info!(
                client = id,
                "closing a subscriber whose channel permissions were revoked"
            );
            h.kill();
        }
    }
}

// ACL GETUSER username
fn acl_getuser(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let Some(u) = ctx.shared.acl.get(&args[2]) else {
        return Reply::Null;
    };
    let u = u.read();
    let key = |s: &str| Reply::bulk_str(s);
    Reply::Map(vec![
        (
            key("flags"),
            Reply::Set(u.flag_names().into_iter().map(Reply::bulk_str).collect()),
        ),
        (
            key("passwords"),
            Reply::Array(
                u.passwords
                    .iter()
                    .map(|p| Reply::bulk_str(&acl::user::hex(p)))
                    .collect(),
            ),
        ),
        (key("commands"), Reply::bulk_str(&u.describe_commands())),
        (key("keys"), Reply::bulk_str(&u.describe_keys())),
        (key("channels"), Reply::bulk_str(&u.describe_channels())),
        (key("selectors"), Reply::Array(vec![])),
    ])
}

// ACL DELUSER username [username ...]
fn acl_deluser(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args[2..].iter().any(|n| &n[..] == b"default") {
        return Reply::error("ERR The 'default' user cannot be removed");
    }
    let mut deleted = 0;
    for name in &args[2..] {
        if ctx.shared.acl.remove(name).is_some() {
            deleted += 1;
            kill_clients_of(ctx, name);
        }
    }
    ctx.shared.acl.refresh();
    Reply::Int(deleted)
}

// ACL LIST
fn acl_list(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Array(
        ctx.shared
            .acl
            .users()
            .iter()
            .map(|u| Reply::bulk_str(&u.read().describe()))
            .collect(),
    )
}

// ACL USERS
fn acl_users(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Array(
        ctx.shared
            .acl
            .users()
            .iter()
            .map(|u| Reply::Bulk(u.read().name.clone()))
            .collect(),
    )
}

// ACL WHOAMI
fn acl_whoami(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Bulk(acl::client_user(ctx.shared, ctx.client).read().name.clone())
}

// ACL CAT [category]
fn acl_cat(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match args.len() {
        2 => Reply::Array(CATEGORIES.iter().map(|c| Reply::bulk_str(c)).collect()),
        3 => {
            let name = lossy(&args[2]).to_ascii_lowercase();
            let Some(cat) = CATEGORIES.iter().position(|c| *c == name) else {
                let shown = &args[2][..args[2].len().min(128)];
                return Reply::Error(
                    error::sanitize(format!("ERR Unknown category '{}'", lossy(shown))).into(),
                );
            };
            // DEVIATION(redis): Redis lists in its command table's hash order; ferrymq in name
            // order. The set is Redis 7.0's, so rules written against it carry over.
            Reply::Array(
                universe()
                    .cmds
                    .iter()
                    .filter(|c| c.categories & (1 << cat) != 0)
                    .map(|c| Reply::bulk_str(c.name))
                    .collect(),
            )
        }
        _ => syntax_error(args),
    }
}

// ACL DRYRUN username command [arg ...]
fn acl_dryrun(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let Some(u) = ctx.shared.acl.get(&args[2]) else {
        return Reply::Error(
            error::sanitize(format!("ERR User '{}' not found", lossy(&args[2]))).into(),
        );
    };
    let argv = &args[3..];
    let uni = universe();
    let not_found = || {
        Reply::Error(error::sanitize(format!("ERR Command '{}' not found", lossy(&argv[0]))).into())
    };
    let Some(mut id) = uni.lookup(&argv[0]) else {
        return not_found();
    };
    if argv.len() >= 2 && !uni.cmds[id].children.is_empty() {
        let mut full = argv[0].to_vec();
        full.push(b'|');
        full.extend_from_slice(&argv[1]);
        match uni.lookup(&full) {
            Some(s) => id = s,
            None => return not_found(),
        }
    }
    let cmd = &uni.cmds[id];
    let argc = argv.len() as i32;
    if (cmd.arity > 0 && cmd.arity != argc) || argc < -cmd.arity {
        return Reply::Error(error::wrong_args(cmd.name).into());
    }
    let r = acl::check_user(&u.read(), Some(id), cmd.no_auth, argv);
    match r {
        Ok(()) => Reply::Ok,
        Err(Denied::Command) => Reply::bulk_str(&format!(
            "This user has no permissions to run the '{}' command",
            cmd.name
        )),
        Err(Denied::Key(i)) => Reply::bulk_str(&format!(
            "This user has no permissions to access the '{}' key",
            lossy(&argv[i])
        )),
        Err(Denied::Channel(i)) => Reply::bulk_str(&format!(
            "This user has no permissions to access the '{}' channel",
            lossy(&argv[i])
        )),
    }
}

// ACL GENPASS [bits]
fn acl_genpass(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return syntax_error(args);
    }
    let bits = match args.get(2) {
        None => 256,
        Some(a) => match super::parse_i64(a) {
            Ok(b) => b,
            Err(e) => return e,
        },
    };
    if !(1..=4096).contains(&bits) {
        return Reply::error(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
        );
    }
    let chars = ((bits + 3) / 4) as usize;
    let bytes: [u8; 512] = std::array::from_fn(|_| rand::random::<u8>());
    let mut hex = acl::user::hex(&bytes[..chars.div_ceil(2)]);
    hex.truncate(chars);
    Reply::bulk_str(&hex)
}

// ACL LOG [count | RESET]
fn acl_log(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return syntax_error(args);
    }
    let mut count = 10i64;
    if let Some(a) = args.get(2) {
        if is(a, "reset") {
            ctx.shared.acl.log.lock().clear();
            return Reply::Ok;
        }
        count = match super::parse_i64(a) {
            Ok(c) => c.max(0),
            Err(e) => return e,
        };
    }
    let now = crate::store::unix_ms();
    let log = ctx.shared.acl.log.lock();
    let k = |s: &str| Reply::bulk_str(s);
    Reply::Array(
        log.iter()
            .take(count as usize)
            .map(|e| {
                Reply::Map(vec![
                    (k("count"), Reply::Int(e.count as i64)),
                    (k("reason"), k(e.reason)),
                    (k("context"), k(e.context)),
                    (k("object"), Reply::Bulk(e.object.clone())),
                    (k("username"), Reply::Bulk(e.username.clone())),
                    (
                        k("age-seconds"),
                        Reply::Double((now - e.ctime_ms) as f64 / 1000.0),
                    ),
                    (k("client-info"), k(&e.client_info)),
                ])
            })
            .collect(),
    )
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn aclfile(ctx: &Ctx) -> Option<String> {
    ctx.shared
        .config
        .read()
        .get("aclfile")
        .filter(|f| !f.is_empty())
}

// ACL LOAD
fn acl_load(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let Some(path) = aclfile(ctx) else {
        return Reply::error(NO_ACLFILE);
    };
    let acl = &ctx.shared.acl;
    let users = match acl.parse_file(&path) {
        Ok(u) => u,
        Err(e) => return Reply::Error(error::sanitize(format!("ERR {e}")).into()),
    };
    acl.replace_all(users);
    acl.refresh();
    // The previous users are gone: their connections are closed, as Redis does.
    let me = ctx.client.id;
    for h in ctx.shared.clients.all() {
        if h.info.lock().user == "default" {
            continue;
        }
        if h.id == me {
            ctx.client.close_after_reply = true;
        } else {
            h.kill();
        }
    }
    Reply::Ok
}

// ACL SAVE
fn acl_save(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let Some(path) = aclfile(ctx) else {
        return Reply::error(NO_ACLFILE);
    };
    match ctx.shared.acl.save_file(&path) {
        Ok(()) => Reply::Ok,
        Err(e) => {
            tracing::warn!(path = %path, error = %e, "saving the ACL file failed");
            Reply::error(
                "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
            )
        }
    }
}

// ACL HELP
fn acl_help(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    super::connection::help_reply(
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    )
}

const G: &str = "server";
const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const PLAIN: u32 = NOSCRIPT | LOADING | STALE;

const ACL_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("cat", -2, PLAIN, acl_cat).group(G),
    CommandSpec::new("deluser", -3, ADMIN_FLAGS, acl_deluser).group(G),
    CommandSpec::new("dryrun", -4, ADMIN_FLAGS, acl_dryrun).group(G),
    CommandSpec::new("genpass", -2, PLAIN, acl_genpass).group(G),
    CommandSpec::new("getuser", 3, ADMIN_FLAGS, acl_getuser).group(G),
    CommandSpec::new("help", 2, LOADING | STALE, acl_help).group(G),
    CommandSpec::new("list", 2, ADMIN_FLAGS, acl_list).group(G),
    CommandSpec::new("load", 2, ADMIN_FLAGS, acl_load).group(G),
    CommandSpec::new("log", -2, ADMIN_FLAGS, acl_log).group(G),
    CommandSpec::new("save", 2, ADMIN_FLAGS, acl_save).group(G),
    CommandSpec::new("setuser", -3, ADMIN_FLAGS, acl_setuser).group(G),
    CommandSpec::new("users", 2, ADMIN_FLAGS, acl_users).group(G),
    CommandSpec::new("whoami", 2, PLAIN, acl_whoami).group(G),
];

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("acl", -2, 0, acl_help)
    .group(G)
    .doc("A container for Access List Control commands", "6.0.0")
    .subs(ACL_SUBCOMMANDS)];
