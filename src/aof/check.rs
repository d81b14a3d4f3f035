//! `ferrymq check-aof [--fix] <dir | manifest | file>`: like `redis-check-aof`, check every file
//! an AOF directory's manifest names (or one file), report where each stops being valid, and
//! with `--fix` truncate a damaged tail of the last file.
//!
//! DEVIATION(redis): `--fix` does not ask for confirmation (it is meant for scripts); only the
//! last file can be fixed, since trimming an earlier one would drop everything after it.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use super::reader::{CommandReader, ReadError};
use crate::command::is;

/// Outcome of checking one file.
#[derive(Debug, PartialEq, Eq)]
pub struct FileReport {
    pub size: u64,
    /// Offset up to which the file holds complete commands.
    pub ok_up_to: u64,
    pub problem: Option<String>,
}

/// Check one file: complete RESP commands and balanced MULTI/EXEC.
pub fn check_file(path: &Path) -> std::io::Result<FileReport> {
    let size = std::fs::metadata(path)?.len();
    let mut magic = [0u8; 5];
    let got = File::open(path)?.read(&mut magic)?;
    if got == 5 && &magic == b"REDIS" {
        // An RDB preamble: the snapshot must read completely, then commands may follow.
        let data = std::fs::read(path)?;
        let opts = crate::store::rdb::file::LoadOptions {
            enc: Default::default(),
            databases: 16,
            grow: true,
            now: 0,
            skip_expired: false,
            policy: Default::default(),
            checksum: true,
        };
        return match crate::store::rdb::file::read_file(&data, &opts) {
            Err(e) => Ok(FileReport {
                size,
                ok_up_to: 0,
                problem: Some(format!("RDB preamble: {e}")),
            }),
            Ok(l) => {
                let start = l.end + if l.version >= 5 { 8 } else { 0 };
                let mut rest = check_commands(CommandReader::new(&data[start..]), size)?;
                rest.ok_up_to = (rest.ok_up_to + start as u64).min(size);
                rest.problem = rest
                    .problem
                    .map(|p| format!("after the RDB preamble ({start} bytes), {p}"));
                Ok(rest)
            }
        };
    }
    check_commands(CommandReader::new(File::open(path)?), size)
}

/// The RESP part of a file (`size` bytes in all): complete commands, balanced MULTI/EXEC.
fn check_commands<R: Read>(mut r: CommandReader<R>, size: u64) -> std::io::Result<FileReport> {
    let mut in_multi: Option<u64> = None;
    let mut ok = 0u64;
    loop {
        match r.next_command() {
            Ok(Some((off, argv))) => {
                if is(&argv[0], "multi") {
                    if in_multi.is_some() {
                        return Ok(FileReport {
                            size,
                            ok_up_to: in_multi.unwrap_or(off),
                            problem: Some("Unexpected MULTI".into()),
                        });
                    }
                    in_multi = Some(off);
                } else if is(&argv[0], "exec") {
                    if in_multi.take().is_none() {
                        return Ok(FileReport {
                            size,
                            ok_up_to: off,
                            problem: Some("Unexpected EXEC".into()),
                        });
                    }
                    ok = r.offset();
                } else if in_multi.is_none() {
                    ok = r.offset();
                }
            }
            Ok(None) => {
                let problem = in_multi.map(|_| "Reached EOF before reading EXEC for MULTI".into());
                return Ok(FileReport {
                    size,
                    ok_up_to: if in_multi.is_some() { ok } else { size },
                    problem,
                });
            }
            Err(ReadError::Truncated { offset }) => {
                return Ok(FileReport {
                    size,
                    ok_up_to: in_multi.map(|_| ok).unwrap_or(offset),
                    problem: Some(format!(
                        "0x{offset:x}: the file ends inside a command (truncated)"
                    )),
                });
            }
            Err(ReadError::Corrupt { offset, reason }) => {
                return Ok(FileReport {
                    size,
                    ok_up_to: in_multi.map(|_| ok).unwrap_or(offset),
                    problem: Some(format!("0x{offset:x}: {reason}")),
                });
            }
            Err(ReadError::Io(e)) => return Err(e),
        }
    }
}

/// The files to check: (path, is_last) in replay order.
fn targets(arg: &Path) -> Result<Vec<PathBuf>, String> {
    let manifest = if arg.is_dir() {
        let mut found = None;
        for e in std::fs::read_dir(arg).map_err(|e| e.to_string())?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".manifest") && !n.starts_with("temp-") {
                found = Some(e.path());
            }
        }
        found.ok_or_else(|| format!("No manifest file found in {}", arg.display()))?
    } else if arg.to_string_lossy().ends_with(".manifest") {
        arg.to_path_buf()
    } else {
        return Ok(vec![arg.to_path_buf()]);
    };
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("Cannot open {}: {e}", manifest.display()))?;
    let m = Manifest::parse(&text)?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    Ok(m.data_files().map(|(f, _)| dir.join(&f.name)).collect())
}

/// Entry point of the subcommand; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    let fix = args.iter().any(|a| a == "--fix");
    let paths: Vec<&String> = args.iter().filter(|a| *a != "--fix").collect();
    if paths.len() != 1 {
        eprintln!("Usage: ferrymq check-aof [--fix] <dir|file.manifest|file.aof>");
        return 1;
    }
    let files = match targets(Path::new(paths[0])) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let n = files.len();
    for (i, path) in files.iter().enumerate() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rep = match check_file(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("Cannot check {name}: {}", super::strerror(&e));
                return 1;
            }
        };
        if let Some(p) = &rep.problem {
            println!("{p}");
        }
        println!(
            "AOF analyzed: filename={name}, size={}, ok_up_to={}, diff={}",
            rep.size,
            rep.ok_up_to,
            rep.size - rep.ok_up_to
        );
        if rep.problem.is_none() {
            println!("AOF {name} is valid");
            continue;
        }
        if !fix {
            println!("AOF {name} is not valid. Use the --fix option to try fixing it.");
            return 1;
        }
        if i + 1 != n {
            println!(
                "AOF {name} is not the last file of the AOF: it cannot be fixed by truncation."
            );
            return 1;
        }
        println!(
            "This will shrink the AOF {name} from {} bytes, with {} bytes, to {} bytes",
            rep.size,
            rep.size - rep.ok_up_to,
            rep.ok_up_to
        );
        let r = OpenOptions::new().write(true).open(path).and_then(|f| {
            f.set_len(rep.ok_up_to)?;
            f.sync_all()
        });
        match r {
            Ok(()) => println!("Successfully truncated AOF {name}"),
            Err(e) => {
                println!("Failed to truncate AOF {name}: {}", super::strerror(&e));
                return 1;
            }
        }
    }
    println!("All AOF files and manifest are valid");
    0
}
