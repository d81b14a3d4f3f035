//! One ACL user: flags, password hashes, command permissions, key and channel patterns; the
//! rules that change it (`ACL SETUSER`, `user` lines, ACL files) and its descriptions (ACL
//! LIST / GETUSER), reproducing Redis 7.0's `ACLSetUser` / `ACLDescribeUser`.
//!
//! Command permissions are a bitmap over [`super::universe`] (every Redis 7.0 command and
//! subcommand, so rules written for Redis are accepted unchanged), plus the "future commands"
//! bit that only `+@all`/`allcommands` sets: the description starts with `+@all` when it is
//! set and with `-@all` otherwise, then the categories that describe more than they miss,
//! then the single commands that still differ (Redis's best-fit algorithm).

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{CATEGORIES, universe};

/// Why a rule was refused (Redis's errno values), with Redis's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// ENOENT
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

impl RuleError {
    pub fn message(self) -> &'static str {
        match self {
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterStar => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterStar => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

pub const READ: u8 = 1;
pub const WRITE: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pub flags: u8,
    pub pattern: Bytes,
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: Bytes,
    pub enabled: bool,
    pub nopass: bool,
    /// `sanitize-payload` / `skip-sanitize-payload` as last set (None: neither).
    pub sanitize: Option<bool>,
    /// SHA-256 digests, in the order they were added.
    pub passwords: Vec<[u8; 32]>,
    /// One bit per command id of the universe.
    bits: Vec<u64>,
    /// Set by `+@all`/`allcommands` only (Redis's reserved "future commands" bit).
    future: bool,
    /// `+@all` not weakened by a later `-` rule: every command passes without a bit lookup.
    pub allcommands: bool,
    /// Allowed first arguments of otherwise denied commands (`+select|0`), by command id.
    firstargs: Vec<(usize, Vec<Bytes>)>,
    pub allkeys: bool,
    pub keys: Vec<KeyPattern>,
    pub allchannels: bool,
    pub channels: Vec<Bytes>,
}

pub fn sha256(pass: &[u8]) -> [u8; 32] {
    let d = Sha256::digest(pass);
    let mut out = [0u8; 32];
    out.copy_from_slice(&d);
    out
}

pub fn hex(d: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(d.len() * 2);
    for b in d {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

fn parse_hash(h: &[u8]) -> Result<[u8; 32], RuleError> {
    if h.len() != 64 {
        return Err(RuleError::BadHash);
    }
    let mut out = [0u8; 32];
    for (i, pair) in h.chunks(2).enumerate() {
        let v = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(RuleError::BadHash),
        };
        out[i] = (v(pair[0])? << 4) | v(pair[1])?;
    }
    Ok(out)
}

/// Constant-time comparison of two digests: the time taken does not depend on where they differ.
pub fn digest_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for i in 0..32 {
        diff |= a[i] ^ b[i];
    }
    std::hint::black_box(diff) == 0
}

fn has_space(s: &[u8]) -> bool {
    s.iter()
        .any(|c| c.is_ascii_whitespace() || *c == 0x0b || *c == 0)
}

impl User {
    /// A new user as `ACL SETUSER name` creates it: off, no passwords, no commands, no keys,
    /// channels per `acl-pubsub-default`.
    pub fn new(name: Bytes, all_channels: bool) -> User {
        User {
            name,
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            bits: vec![0; universe().len().div_ceil(64)],
            future: false,
            allcommands: false,
            firstargs: Vec::new(),
            allkeys: false,
            keys: Vec::new(),
            allchannels: all_channels,
            channels: Vec::new(),
        }
    }

    /// The built-in `default` user: on, nopass, every key, channel and command.
    pub fn default_user() -> User {
        let mut u = User::new(Bytes::from_static(b"default"), false);
        for r in ["+@all", "~*", "&*", "on", "nopass"] {
            u.apply(r.as_bytes(), false).expect("built-in rule");
        }
        u
    }

    /// True when nothing this user runs needs a permission check.
    pub fn unrestricted(&self) -> bool {
        self.allcommands && self.allkeys && self.allchannels
    }

    pub fn bit(&self, id: usize) -> bool {
        self.bits[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.bits[id / 64] |= 1 << (id % 64);
        } else {
            self.bits[id / 64] &= !(1 << (id % 64));
        }
    }

    /// Redis's `ACLChangeSelectorPerm`: the command and all its subcommands; forgets first args.
    fn change_perm(&mut self, id: usize, on: bool) {
        self.set_bit(id, on);
        self.firstargs.retain(|(c, _)| *c != id);
        for &sub in &universe().cmds[id].children {
            self.set_bit(sub, on);
        }
    }

    pub fn firstargs(&self, id: usize) -> Option<&[Bytes]> {
        self.firstargs
            .iter()
            .find(|(c, _)| *c == id)
            .map(|(_, v)| v.as_slice())
    }

    /// Whether `pass` opens this user (not checking on/off).
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let d = sha256(pass);
        // Check every stored hash so the time does not tell which one matched.
        let mut ok = false;
        for p in &self.passwords {
            ok |= digest_eq(p, &d);
        }
        ok
    }

    /// Apply one rule. `all_channels_default` is `acl-pubsub-default allchannels`.
    pub fn apply(&mut self, op: &[u8], all_channels_default: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let lower = op.to_ascii_lowercase();
        match &lower[..] {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => self.sanitize = Some(false),
            b"sanitize-payload" => self.sanitize = Some(true),
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"clearselectors" => {}
            b"reset" => {
                for r in ["resetpass", "resetkeys", "resetchannels"] {
                    self.apply(r.as_bytes(), all_channels_default)?;
                }
                if all_channels_default {
                    self.apply(b"allchannels", all_channels_default)?;
                }
                for r in ["off", "sanitize-payload", "-@all"] {
                    self.apply(r.as_bytes(), all_channels_default)?;
                }
            }
            _ => return self.apply_other(op),
        }
        Ok(())
    }

    fn apply_other(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let rest = &op[1..];
        match op[0] {
            b'>' => {
                let d = sha256(rest);
                if !self.passwords.contains(&d) {
                    self.passwords.push(d);
                }
                self.nopass = false;
                Ok(())
            }
            b'#' => {
                let d = parse_hash(rest)?;
                if !self.passwords.contains(&d) {
                    self.passwords.push(d);
                }
                self.nopass = false;
                Ok(())
            }
            b'<' | b'!' => {
                let d = if op[0] == b'<' {
                    sha256(rest)
                } else {
                    parse_hash(rest)?
                };
                match self.passwords.iter().position(|p| *p == d) {
                    Some(i) => {
                        self.passwords.remove(i);
                        Ok(())
                    }
                    None => Err(RuleError::NoSuchPassword),
                }
            }
            // DEVIATION(redis): selectors (`(...)`, Redis 7.0) are not supported.
            _ => self.apply_selector(op),
        }
    }

    fn apply_selector(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match &lower[..] {
            b"allkeys" | b"~*" => {
                self.allkeys = true;
                self.keys.clear();
                return Ok(());
            }
            b"resetkeys" => {
                self.allkeys = false;
                self.keys.clear();
                return Ok(());
            }
            b"allchannels" | b"&*" => {
                self.allchannels = true;
                self.channels.clear();
                return Ok(());
            }
            b"resetchannels" => {
                self.allchannels = false;
                self.channels.clear();
                return Ok(());
            }
            b"allcommands" | b"+@all" => {
                self.bits.iter_mut().for_each(|w| *w = u64::MAX);
                self.future = true;
                self.allcommands = true;
                self.firstargs.clear();
                return Ok(());
            }
            b"nocommands" | b"-@all" => {
                self.bits.iter_mut().for_each(|w| *w = 0);
                self.future = false;
                self.allcommands = false;
                self.firstargs.clear();
                return Ok(());
            }
            _ => {}
        }
        match op[0] {
            b'~' | b'%' => self.add_key_pattern(op),
            b'&' => {
                if self.allchannels {
                    return Err(RuleError::ChannelAfterStar);
                }
                let pat = &op[1..];
                if has_space(pat) {
                    return Err(RuleError::Syntax);
                }
                if !self.channels.iter().any(|c| &c[..] == pat) {
                    self.channels.push(Bytes::copy_from_slice(pat));
                }
                Ok(())
            }
            b'+' | b'-' if op.get(1) == Some(&b'@') => {
                let on = op[0] == b'+';
                let name = String::from_utf8_lossy(&op[2..]).to_ascii_lowercase();
                let Some(cat) = CATEGORIES.iter().position(|c| *c == name) else {
                    return Err(RuleError::Unknown);
                };
                let u = universe();
                for id in 0..u.len() {
                    if u.cmds[id].categories & (1 << cat) != 0 {
                        self.change_perm(id, on);
                    }
                }
                if !on {
                    self.allcommands = false;
                }
                Ok(())
            }
            b'+' => self.allow_command(&op[1..]),
            b'-' => {
                let id = universe().lookup(&op[1..]).ok_or(RuleError::Unknown)?;
                self.change_perm(id, false);
                self.allcommands = false;
                Ok(())
            }
            _ => Err(RuleError::Syntax),
        }
    }

    fn allow_command(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let u = universe();
        let Some(bar) = name.iter().rposition(|&c| c == b'|') else {
            let id = u.lookup(name).ok_or(RuleError::Unknown)?;
            self.change_perm(id, true);
            return Ok(());
        };
        let (cmd, sub) = (&name[..bar], &name[bar + 1..]);
        let id = u.lookup(cmd).ok_or(RuleError::Unknown)?;
        if u.cmds[id].parent.is_some() {
            return Err(RuleError::SubcommandFirstArg);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !u.cmds[id].children.is_empty() {
            let sid = u.lookup(name).ok_or(RuleError::Unknown)?;
            self.change_perm(sid, true);
            return Ok(());
        }
        // A first argument of a command without subcommands (`+select|0`).
        let sub = Bytes::from(sub.to_ascii_lowercase());
        match self.firstargs.iter_mut().find(|(c, _)| *c == id) {
            Some((_, v)) => {
                if !v.iter().any(|a| a.eq_ignore_ascii_case(&sub)) {
                    v.push(sub);
                }
            }
            None => self.firstargs.push((id, vec![sub])),
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.allkeys {
            return Err(RuleError::KeyAfterStar);
        }
        let mut flags = 0u8;
        let mut offset = 1;
        if op[0] == b'%' {
            while offset < op.len() {
                match op[offset].to_ascii_uppercase() {
                    b'R' if flags & READ == 0 => flags |= READ,
                    b'W' if flags & WRITE == 0 => flags |= WRITE,
                    b'~' => {
                        offset += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
            if flags == 0 {
                return Err(RuleError::Syntax);
            }
        } else {
            flags = READ | WRITE;
        }
        let pat = &op[offset..];
        if has_space(pat) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| &k.pattern[..] == pat) {
            Some(k) => k.flags |= flags,
            None => self.keys.push(KeyPattern {
                flags,
                pattern: Bytes::copy_from_slice(pat),
            }),
        }
        Ok(())
    }

    /// The flags GETUSER lists, in Redis's order.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        match self.sanitize {
            Some(false) => v.push("skip-sanitize-payload"),
            Some(true) => v.push("sanitize-payload"),
            None => {}
        }
        v
    }

    pub fn describe_keys(&self) -> String {
        if self.allkeys {
            return "~*".into();
        }
        let parts: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                let prefix = match k.flags {
                    READ => "%R~",
                    WRITE => "%W~",
                    _ => "~",
                };
                format!("{prefix}{}", String::from_utf8_lossy(&k.pattern))
            })
            .collect();
        parts.join(" ")
    }

    pub fn describe_channels(&self) -> String {
        if self.allchannels {
            return "&*".into();
        }
        let parts: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        parts.join(" ")
    }

    /// Redis's `ACLDescribeSelectorCommandRules`: `+@all`/`-@all`, best-fit categories, then
    /// single commands and first arguments.
    pub fn describe_commands(&self) -> String {
        let u = universe();
        let additive = !self.future;
        let mut fake = User::new(Bytes::new(), false);
        let mut rules: Vec<String> = Vec::new();
        if additive {
            rules.push("-@all".into());
            fake.apply_selector(b"-@all").expect("built-in rule");
        } else {
            rules.push("+@all".into());
            fake.apply_selector(b"+@all").expect("built-in rule");
        }
        // Greedy best fit (Redis's algorithm): repeatedly take the category that would add
        // the fewest wrong bits while adding more right ones than wrong, counting on a
        // working copy from which the categories already taken are removed.
        let mut temp = self.clone();
        let mut applied = [false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (cat, done) in applied.iter().enumerate() {
                if *done {
                    continue;
                }
                let (mut on, mut off) = (0, 0);
                for id in 0..u.len() {
                    if u.cmds[id].categories & (1 << cat) != 0 {
                        if temp.bit(id) {
                            on += 1;
                        } else {
                            off += 1;
                        }
                    }
                }
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(cat);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(cat) = best else { break };
            let name = CATEGORIES[cat];
            let (op, inv) = if additive { ('+', '-') } else { ('-', '+') };
            let op = format!("{op}@{name}");
            fake.apply_selector(op.as_bytes()).expect("known category");
            temp.apply_selector(format!("{inv}@{name}").as_bytes())
                .expect("known category");
            rules.push(op);
            applied[cat] = true;
        }
        // DEVIATION(redis): redis-server lists the single commands in its command table's
        // hash order, which changes from one process to the next; ferrymq in name order.
        // Top-level commands in table order, each followed by its subcommands.
        for id in 0..u.len() {
            if u.cmds[id].parent.is_some() {
                continue;
            }
            for cid in std::iter::once(id).chain(u.cmds[id].children.iter().copied()) {
                let userbit = self.bit(cid);
                if userbit != fake.bit(cid) {
                    rules.push(format!(
                        "{}{}",
                        if userbit { '+' } else { '-' },
                        u.cmds[cid].name
                    ));
                    fake.change_perm(cid, userbit);
                }
            }
            if !self.bit(id)
                && let Some(args) = self.firstargs(id)
            {
                for a in args {
                    rules.push(format!(
                        "+{}|{}",
                        u.cmds[id].name,
                        String::from_utf8_lossy(a)
                    ));
                }
            }
        }
        rules.join(" ")
    }

    /// One ACL LIST / ACL file line.
    pub fn describe(&self) -> String {
        let mut out = format!("user {}", String::from_utf8_lossy(&self.name));
        for f in self.flag_names() {
            out.push(' ');
            out.push_str(f);
        }
        for p in &self.passwords {
            out.push_str(" #");
            out.push_str(&hex(p));
        }
        let keys = self.describe_keys();
        if !keys.is_empty() {
            out.push(' ');
            out.push_str(&keys);
        }
        if self.allchannels {
            out.push_str(" &*");
        } else {
            out.push_str(" resetchannels");
            let ch = self.describe_channels();
            if !ch.is_empty() {
                out.push(' ');
                out.push_str(&ch);
            }
        }
        out.push(' ');
        out.push_str(&self.describe_commands());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &str) -> User {
        let mut u = User::new(Bytes::from_static(b"u"), false);
        for r in rules.split(' ') {
            u.apply(r.as_bytes(), false).unwrap();
        }
        u
    }

    /// Expected lines taken from redis-server 7.0.15's ACL LIST.
    #[test]
    fn describes_like_redis() {
        assert_eq!(
            user("on >p1 ~queue:* &news.* -@all +@pubsub +@list -blpop").describe(),
            "user u on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a ~queue:* resetchannels &news.* -@all +@pubsub +@list -blpop"
        );
        assert_eq!(
            user("+get +GET -get +@list +@list -@list +set").describe_commands(),
            "-@all +set"
        );
        assert_eq!(
            user("%R~r:* %W~w:* %RW~rw:* ~x allchannels >a >b >a nopass").describe(),
            "user u off nopass %R~r:* %W~w:* ~rw:* ~x &* -@all"
        );
        assert_eq!(
            User::default_user().describe(),
            "user default on nopass ~* &* +@all"
        );
        assert_eq!(
            user("+config|get +select|0 -config +select|1").describe_commands(),
            "-@all +select|0 +select|1"
        );
    }

    #[test]
    fn rule_errors() {
        let mut u = User::new(Bytes::from_static(b"u"), false);
        assert_eq!(u.apply(b"foo", false), Err(RuleError::Syntax));
        assert_eq!(u.apply(b"+nosuch", false), Err(RuleError::Unknown));
        assert_eq!(u.apply(b"+@nosuch", false), Err(RuleError::Unknown));
        assert_eq!(u.apply(b"#abc", false), Err(RuleError::BadHash));
        assert_eq!(u.apply(b"<nope", false), Err(RuleError::NoSuchPassword));
        assert_eq!(
            u.apply(b"+config|get|x", false),
            Err(RuleError::SubcommandFirstArg)
        );
        assert_eq!(u.apply(b"+get|", false), Err(RuleError::Syntax));
        assert_eq!(u.apply(b"%X~a", false), Err(RuleError::Syntax));
        u.apply(b"~*", false).unwrap();
        assert_eq!(u.apply(b"~x", false), Err(RuleError::KeyAfterStar));
        u.apply(b"&*", false).unwrap();
        assert_eq!(u.apply(b"&x", false), Err(RuleError::ChannelAfterStar));
    }

    #[test]
    fn passwords_hashed_and_checked() {
        let mut u = user(">secret");
        assert!(u.password_ok(b"secret"));
        assert!(!u.password_ok(b"secreT"));
        assert!(!u.password_ok(b""));
        u.apply(b"<secret", false).unwrap();
        assert!(!u.password_ok(b"secret"));
        let h = hex(&sha256(b"x"));
        u.apply(format!("#{h}").as_bytes(), false).unwrap();
        assert!(u.password_ok(b"x"));
        u.apply(format!("!{h}").as_bytes(), false).unwrap();
        assert!(u.passwords.is_empty());
    }
}
