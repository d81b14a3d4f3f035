//! The Redis 7 multi-part AOF layout: `<dir>/<appenddirname>/` holds a base file, incremental
//! files and the manifest `<appendfilename>.manifest` that lists them, one per line:
//! `file <name> seq <n> type b|h|i` (base, history, incremental). The manifest is only ever
//! replaced atomically (write a temp file, fsync, rename, fsync the directory), so a crash at
//! any moment leaves either the old or the new list of files, each of them complete.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub seq: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileEntry>,
    pub incrs: Vec<FileEntry>,
    /// Files no longer part of the dataset, to delete.
    pub history: Vec<FileEntry>,
}

impl Manifest {
    /// Parse the manifest text as Redis does: `key value` pairs per line, `#` comments.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (i, line) in text.split('\n').enumerate() {
            let line = line.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = split_words(line)
                .ok_or_else(|| format!("Invalid AOF manifest file format (line {})", i + 1))?;
            if words.len() % 2 != 0 {
                return Err(format!("Invalid AOF manifest file format (line {})", i + 1));
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for kv in words.chunks(2) {
                match kv[0].as_str() {
                    "file" => name = Some(kv[1].clone()),
                    "seq" => seq = kv[1].parse::<u64>().ok(),
                    "type" => kind = Some(kv[1].clone()),
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(format!("Invalid AOF manifest file format (line {})", i + 1));
            };
            let e = FileEntry { name, seq };
            match kind.as_str() {
                "b" => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base = Some(e)
                }
                "i" => {
                    if m.incrs.last().is_some_and(|l| l.seq >= e.seq) {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incrs.push(e)
                }
                "h" => m.history.push(e),
                _ => return Err(format!("Unknown AOF file type '{kind}'")),
            }
        }
        Ok(m)
    }

    /// The manifest text, in Redis's order: base, history, incremental files.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let line = |s: &mut String, e: &FileEntry, t: char| {
            s.push_str(&format!(
                "file {} seq {} type {}\n",
                quote(&e.name),
                e.seq,
                t
            ));
        };
        if let Some(b) = &self.base {
            line(&mut s, b, 'b');
        }
        for h in &self.history {
            line(&mut s, h, 'h');
        }
        for i in &self.incrs {
            line(&mut s, i, 'i');
        }
        s
    }

    /// Files making up the dataset, in replay order.
    pub fn data_files(&self) -> impl Iterator<Item = (&FileEntry, bool)> {
        self.base
            .iter()
            .map(|b| (b, true))
            .chain(self.incrs.iter().map(|i| (i, false)))
    }

    pub fn next_base_seq(&self) -> u64 {
        self.base.as_ref().map(|b| b.seq + 1).unwrap_or(1)
    }

    pub fn next_incr_seq(&self) -> u64 {
        self.incrs.last().map(|i| i.seq + 1).unwrap_or(1)
    }
}

/// A file name as Redis writes it in a manifest: bare when it needs no quoting, otherwise
/// double-quoted with `sdscatrepr`'s escapes (`\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`, and
/// `\xHH` for any other byte that is not printable ASCII), so [`split_words`] reads back the
/// same bytes. An empty name is written `""` (Redis would write nothing, which no parser can
/// read back).
fn quote(name: &str) -> String {
    if !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\')
    {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.bytes() {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            b' '..=b'~' => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// Redis's `isspace` (the C locale): what separates words in a manifest line.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Split a manifest line into words as Redis's `sdssplitargs` does: bare words, double quotes
/// with escapes (`\xHH`, `\n`, `\r`, `\t`, `\b`, `\a`, any other escaped byte as itself),
/// single quotes (only `\'` escaped). None for an unbalanced quote, a closing quote not
/// followed by a space, or a word that is not UTF-8.
fn split_words(line: &str) -> Option<Vec<String>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            return Some(out);
        }
        let mut w: Vec<u8> = Vec::new();
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    let c = *b.get(i)?;
                    i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            let e = *b.get(i)?;
                            i += 1;
                            let hex = |c: u8| (c as char).to_digit(16);
                            match e {
                                b'x' if b.len() > i + 1 => match (hex(b[i]), hex(b[i + 1])) {
                                    (Some(h), Some(l)) => {
                                        w.push((h * 16 + l) as u8);
                                        i += 2;
                                    }
                                    _ => w.push(b'x'),
                                },
                                b'n' => w.push(b'\n'),
                                b'r' => w.push(b'\r'),
                                b't' => w.push(b'\t'),
                                b'b' => w.push(0x08),
                                b'a' => w.push(0x07),
                                other => w.push(other),
                            }
                        }
                        other => w.push(other),
                    }
                }
                if b.get(i).is_some_and(|&c| !is_space(c)) {
                    return None;
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    let c = *b.get(i)?;
                    i += 1;
                    match c {
                        b'\'' => break,
                        b'\\' if b.get(i) == Some(&b'\'') => {
                            w.push(b'\'');
                            i += 1;
                        }
                        other => w.push(other),
                    }
                }
                if b.get(i).is_some_and(|&c| !is_space(c)) {
                    return None;
                }
            }
            _ => {
                while i < b.len() && !is_space(b[i]) {
                    w.push(b[i]);
                    i += 1;
                }
            }
        }
        out.push(String::from_utf8(w).ok()?);
    }
}

/// Where the AOF lives and how its files are named.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `<dir>/<appenddirname>`
    pub dir: PathBuf,
    /// `appendfilename`
    pub filename: String,
}

impl Layout {
    pub fn new(dir: &str, dirname: &str, filename: &str) -> Layout {
        Layout {
            dir: Path::new(dir).join(dirname),
            filename: filename.to_string(),
        }
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.filename))
    }

    pub fn base_name(&self, seq: u64) -> String {
        format!("{}.{seq}.base.aof", self.filename)
    }

    /// A base written as RDB (`aof-use-rdb-preamble yes`), named as Redis 7 names it.
    pub fn rdb_base_name(&self, seq: u64) -> String {
        format!("{}.{seq}.base.rdb", self.filename)
    }

    pub fn incr_name(&self, seq: u64) -> String {
        format!("{}.{seq}.incr.aof", self.filename)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The manifest on disk, or None when there is none.
    pub fn load(&self) -> Result<Option<Manifest>, String> {
        match fs::read_to_string(self.manifest_path()) {
            Ok(text) => Manifest::parse(&text).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!(
                "Can't open the AOF manifest {}: {}",
                self.manifest_path().display(),
                super::strerror(&e)
            )),
        }
    }

    /// Replace the manifest atomically: temp file, fsync, rename, fsync the directory.
    pub fn persist(&self, m: &Manifest) -> io::Result<()> {
        let tmp = self.dir.join(format!("temp-{}.manifest", self.filename));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(m.render().as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.manifest_path())?;
        sync_dir(&self.dir)
    }

    /// Create (truncate) a data file and make its directory entry durable.
    pub fn create(&self, name: &str) -> io::Result<File> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(self.path(name))?;
        sync_dir(&self.dir)?;
        Ok(f)
    }

    /// Open an incremental file for appending.
    pub fn open_append(&self, name: &str) -> io::Result<File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))
    }

    pub fn size_of(&self, name: &str) -> u64 {
        fs::metadata(self.path(name)).map(|m| m.len()).unwrap_or(0)
    }
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_redis_manifest() {
        let text = "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().seq, 2);
        assert_eq!(m.incrs.len(), 1);
        assert_eq!(m.render(), text);
        assert_eq!(m.next_base_seq(), 3);
        assert_eq!(m.next_incr_seq(), 2);
    }

    /// Any file name survives render -> parse: quoting and escapes as Redis's sdscatrepr /
    /// sdssplitargs write and read them.
    #[test]
    fn odd_file_names_round_trip() {
        for name in [
            "a b",
            "tab\there",
            "nl\nx",
            "q\"uote",
            "s'q",
            "back\\slash",
            "caf\u{e9}",
            "\u{85}x",
            "",
            "'x'",
            "\x07\x08\r",
            "#hash",
        ] {
            let m = Manifest {
                base: Some(FileEntry {
                    name: name.to_string(),
                    seq: 3,
                }),
                incrs: vec![],
                history: vec![],
            };
            let text = m.render();
            assert_eq!(
                Manifest::parse(&text),
                Ok(m),
                "{name:?} rendered as {text:?}"
            );
        }
        // As Redis writes and reads them.
        let m = Manifest::parse("file \"a\\x41\\tb\" seq 1 type b\n").unwrap();
        assert_eq!(m.base.unwrap().name, "aA\tb");
        assert!(Manifest::parse("file \"ab\"c seq 1 type b\n").is_err());
        assert!(Manifest::parse("file \"ab seq 1 type b\n").is_err());
    }

    #[test]
    fn rejects_malformed_manifest() {
        assert!(Manifest::parse("file a seq 1\n").is_err());
        assert!(Manifest::parse("file a seq 1 type x\n").is_err());
        assert!(Manifest::parse("file a seq 1 type b\nfile b seq 2 type b\n").is_err());
        assert!(Manifest::parse("file \"a b\" seq 1 type b\n").is_ok());
        assert!(Manifest::parse("# comment\n\n").unwrap().base.is_none());
    }
}
