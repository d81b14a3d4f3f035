//! Validation of `user` lines the way redis-server checks them while reading its configuration
//! (`ACLAppendUserForLoading`): each rule is applied to a throw-away user and the first rule
//! Redis would refuse stops the startup with its message. ferrymq has no ACL users; the lines
//! are then kept and reported as ignored.
//!
//! Like Redis at load time, an unknown command or category is not an error (modules may add
//! them later). Redis's message names `argv[j]` of the whole line, `j` being the index of the
//! failing rule (so `user alice on ~* ~x` blames 'on'); that quirk is reproduced.

use super::table::{REDIS_COMMANDS, REDIS_SUBCOMMANDS};

/// Why a rule was refused, as Redis's errno values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AclErr {
    /// ENOENT: unknown command or category; ignored while loading.
    Unknown,
    /// EINVAL
    Syntax,
    /// EEXIST
    KeyAfterStar,
    /// EISDIR
    ChannelAfterStar,
    /// ENODEV
    NoSuchPassword,
    /// EBADMSG
    BadHash,
    /// ECHILD
    SubcommandFirstArg,
}

impl AclErr {
    fn message(self) -> &'static str {
        match self {
            AclErr::Unknown => "Unknown command or category name in ACL",
            AclErr::Syntax => "Syntax error",
            AclErr::KeyAfterStar => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            AclErr::ChannelAfterStar => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
            }
            AclErr::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            AclErr::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            AclErr::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

const DUPLICATE: &str = "Duplicate user found. A user can only be defined once in config files";

#[derive(Clone, Copy)]
struct Selector {
    all_keys: bool,
    all_channels: bool,
}

/// `argv` is the whole line (`user name rule...`, at least two words); `seen` the user names
/// of the previous lines; `all_channels` whether `acl-pubsub-default` is `allchannels`.
pub(super) fn check_user_line(
    argv: &[String],
    seen: &mut Vec<String>,
    all_channels: bool,
) -> Result<(), String> {
    let fail = |idx: usize, msg: &str| {
        let blamed = argv.get(idx).map_or("", String::as_str);
        format!("Error in user declaration '{blamed}': {msg}")
    };
    if seen.contains(&argv[1]) {
        return Err(fail(1, DUPLICATE));
    }
    let rules = match merge_selectors(&argv[2..]) {
        Ok(r) => r,
        // Redis reports whatever errno was left over; it is ENOENT in practice.
        Err(idx) => return Err(fail(idx, AclErr::Unknown.message())),
    };
    let fresh = Selector {
        all_keys: false,
        all_channels,
    };
    let mut root = fresh;
    // Passwords as given: (is a hash, text). Clear-text and hashed forms of the same password
    // cannot be told apart without SHA-256, so a removal that might match the other form is
    // accepted.
    let mut passwords: Vec<(bool, String)> = Vec::new();
    for (j, op) in rules.iter().enumerate() {
        let r = set_user(op, &mut root, &mut passwords, fresh);
        match r {
            Ok(()) | Err(AclErr::Unknown) => {}
            Err(e) => return Err(fail(j, e.message())),
        }
    }
    seen.push(argv[1].clone());
    Ok(())
}

/// Join a selector written over several words (`(~x +get)`) into one rule; Err is the index of
/// an unclosed one.
fn merge_selectors(rules: &[String]) -> Result<Vec<String>, usize> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (j, op) in rules.iter().enumerate() {
        // A new unclosed selector restarts the merge, as in redis-server 7.0.
        if op.starts_with('(') && !op.ends_with(')') {
            open = Some((j, op.clone()));
            continue;
        }
        if let Some((start, mut sel)) = open.take() {
            sel.push(' ');
            sel.push_str(op);
            if op.ends_with(')') {
                out.push(sel);
            } else {
                open = Some((start, sel));
            }
            continue;
        }
        out.push(op.clone());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

fn is_hash(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

fn set_user(
    op: &str,
    root: &mut Selector,
    passwords: &mut Vec<(bool, String)>,
    fresh: Selector,
) -> Result<(), AclErr> {
    if op.is_empty() {
        return Ok(());
    }
    let lower = op.to_ascii_lowercase();
    match lower.as_str() {
        "on" | "off" | "skip-sanitize-payload" | "sanitize-payload" | "clearselectors" => {
            return Ok(());
        }
        "nopass" | "resetpass" => {
            passwords.clear();
            return Ok(());
        }
        "reset" => {
            passwords.clear();
            *root = fresh;
            return Ok(());
        }
        _ => {}
    }
    let (first, rest) = op.split_at(1);
    match first {
        ">" => {
            passwords.push((false, rest.to_string()));
            Ok(())
        }
        "#" => {
            if !is_hash(rest) {
                return Err(AclErr::BadHash);
            }
            passwords.push((true, rest.to_string()));
            Ok(())
        }
        "<" | "!" => {
            let hashed = first == "!";
            if hashed && !is_hash(rest) {
                return Err(AclErr::BadHash);
            }
            if let Some(i) = passwords
                .iter()
                .position(|(h, p)| *h == hashed && p == rest)
            {
                passwords.remove(i);
                Ok(())
            } else if passwords.iter().any(|(h, _)| *h != hashed) {
                Ok(())
            } else {
                Err(AclErr::NoSuchPassword)
            }
        }
        "(" if op.ends_with(')') && op.len() >= 2 => {
            let mut sel = fresh;
            let inner = &op[1..op.len() - 1];
            for r in super::parse::split_args(inner).unwrap_or_default() {
                set_selector(&r, &mut sel)?;
            }
            Ok(())
        }
        _ => set_selector(op, root),
    }
}

fn set_selector(op: &str, sel: &mut Selector) -> Result<(), AclErr> {
    let lower = op.to_ascii_lowercase();
    match lower.as_str() {
        "allkeys" | "~*" => {
            sel.all_keys = true;
            return Ok(());
        }
        "resetkeys" => {
            sel.all_keys = false;
            return Ok(());
        }
        "allchannels" | "&*" => {
            sel.all_channels = true;
            return Ok(());
        }
        "resetchannels" => {
            sel.all_channels = false;
            return Ok(());
        }
        "allcommands" | "+@all" | "nocommands" | "-@all" => return Ok(()),
        _ => {}
    }
    let b = op.as_bytes();
    let has_spaces = |s: &[u8]| {
        s.iter()
            .any(|c| c.is_ascii_whitespace() || *c == 0x0b || *c == 0)
    };
    match b[0] {
        b'~' | b'%' => {
            if sel.all_keys {
                return Err(AclErr::KeyAfterStar);
            }
            let mut offset = 1;
            if b[0] == b'%' {
                let (mut r, mut w) = (false, false);
                // `%~x` grants nothing: Redis refuses a pattern without R or W.
                if b.get(1) == Some(&b'~') || b.len() == 1 {
                    return Err(AclErr::Syntax);
                }
                while offset < b.len() {
                    match b[offset].to_ascii_uppercase() {
                        b'R' if !r => r = true,
                        b'W' if !w => w = true,
                        b'~' => {
                            offset += 1;
                            break;
                        }
                        _ => return Err(AclErr::Syntax),
                    }
                    offset += 1;
                }
            }
            if has_spaces(&b[offset..]) {
                return Err(AclErr::Syntax);
            }
            sel.all_keys = false;
            Ok(())
        }
        b'&' => {
            if sel.all_channels {
                return Err(AclErr::ChannelAfterStar);
            }
            if has_spaces(&b[1..]) {
                return Err(AclErr::Syntax);
            }
            sel.all_channels = false;
            Ok(())
        }
        b'+' | b'-' if b.get(1) == Some(&b'@') => {
            // An unknown category is ENOENT, ignored while loading either way.
            Ok(())
        }
        b'+' => {
            let name = &op[1..];
            let Some(bar) = name.rfind('|') else {
                return lookup(name).map(|_| ()).ok_or(AclErr::Unknown);
            };
            let (cmd, sub) = (&name[..bar], &name[bar + 1..]);
            let found = lookup(cmd).ok_or(AclErr::Unknown)?;
            if found == Found::Subcommand {
                return Err(AclErr::SubcommandFirstArg);
            }
            if sub.is_empty() {
                return Err(AclErr::Syntax);
            }
            if found == Found::Container && lookup(name).is_none() {
                return Err(AclErr::Unknown);
            }
            Ok(())
        }
        b'-' => lookup(&op[1..]).map(|_| ()).ok_or(AclErr::Unknown),
        _ => Err(AclErr::Syntax),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Command,
    /// A command with subcommands (CONFIG, CLIENT, ...).
    Container,
    Subcommand,
}

/// Redis's command lookup by name: `cmd` or `container|sub`, case-insensitive.
fn lookup(name: &str) -> Option<Found> {
    let lower = name.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('|').collect();
    match parts.as_slice() {
        [cmd] => {
            if !REDIS_COMMANDS.contains(cmd) {
                return None;
            }
            let prefix = format!("{cmd}|");
            if REDIS_SUBCOMMANDS.iter().any(|s| s.starts_with(&prefix)) {
                Some(Found::Container)
            } else {
                Some(Found::Command)
            }
        }
        [_, _] => REDIS_SUBCOMMANDS
            .contains(&lower.as_str())
            .then_some(Found::Subcommand),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str) -> Result<(), String> {
        let argv: Vec<String> = line.split(' ').map(String::from).collect();
        check_user_line(&argv, &mut Vec::new(), false)
    }

    /// Expected texts taken from redis-server 7.0.15 given each line in its config file.
    #[test]
    fn rules_checked_like_redis() {
        for ok in [
            "user alice on >pw ~* +@all",
            "user alice on +nosuch",
            "user alice on +@nosuch",
            "user alice",
            "user alice on ~* &* +get|x",
            "user alice on (~* +get)",
            "user alice %R~x",
            "user alice on %R",
            "user alice on >foo <foo",
            "user alice on +config|nosuch",
            "user default off",
            "user alice on +config|get -config|set +select|0 resetkeys ~a %RW~b",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("user alice foo", "'user': Syntax error"),
            (
                "user alice on #abc",
                "'alice': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            ),
            (
                "user alice on (~* +get",
                "'alice': Unknown command or category name in ACL",
            ),
            (
                "user alice on ~* ~foo",
                "'on': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            ),
            (
                "user alice on &* &foo",
                "'on': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            ),
            ("user alice on %X~foo", "'alice': Syntax error"),
            (
                "user alice on <foo",
                "'alice': The password you are trying to remove from the user does not exist",
            ),
            (
                "user alice on +config|get|x",
                "'alice': Allowing first-arg of a subcommand is not supported",
            ),
            ("user alice on +get|", "'alice': Syntax error"),
            (
                "user alice on (~* %X~a)",
                "'alice': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            ),
            ("user alice on bogus reset", "'alice': Syntax error"),
            (
                "user alice on allkeys %R~x",
                "'on': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            ),
        ];
        for (line, err) in cases {
            assert_eq!(
                check(line),
                Err(format!("Error in user declaration {err}")),
                "{line}"
            );
        }
        let mut seen = Vec::new();
        let line = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        check_user_line(&line("user alice on nopass"), &mut seen, false).unwrap();
        assert_eq!(
            check_user_line(&line("user alice off"), &mut seen, false),
            Err(format!("Error in user declaration 'alice': {DUPLICATE}"))
        );
        // acl-pubsub-default allchannels makes every new selector start with all channels.
        assert!(check_user_line(&line("user bob &x"), &mut seen, true).is_err());
    }
}
