//! Maildir and Maildir++ sources: folders, files and their flags.
//!
//! A Maildir is a directory with `cur/` and/or `new/` (`tmp/` holds deliveries in progress and is
//! ignored). Folders:
//! - the root is `INBOX`;
//! - Maildir++ subfolders are dot-directories of the root: `.Sent` → `Sent`,
//!   `.Archive.2019` → `Archive/2019` (`.` is Maildir++'s separator, `/` ours); names written in
//!   IMAP's modified UTF-7 (RFC 3501 §5.1.3, as Dovecot and Courier store them) are decoded;
//! - plain subdirectories that are Maildirs themselves (the "fs" layout some tools write) map by
//!   their relative path: `Archive/2019/` → `Archive/2019`.
//!
//! Flags come from the file name's info part `:2,<letters>` (maildir(5)): `S` → `\Seen`,
//! `R` → `\Answered`, `F` → `\Flagged`, `D` → `\Draft`. `T` (trashed) and `P` (passed) are
//! dropped: the archive has no `\Deleted`, and a trashed message is still archived.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One folder of a Maildir tree.
pub struct Folder {
    /// Our mailbox name.
    pub name: String,
    /// The Maildir directory (holding `cur/`, `new/`).
    pub dir: PathBuf,
}

/// Whether `dir` is a Maildir (has `cur/` or `new/`).
pub fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

/// The folders of the Maildir tree at `root`, root first.
pub fn folders(root: &Path) -> io::Result<Vec<Folder>> {
    let mut out = vec![Folder {
        name: "INBOX".to_owned(),
        dir: root.to_owned(),
    }];
    let mut subdirs = sorted_entries(root)?;
    subdirs.retain(|p| p.is_dir());
    for dir in subdirs {
        let Some(file_name) = dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if matches!(file_name, "cur" | "new" | "tmp") {
            continue;
        }
        if let Some(plus) = file_name.strip_prefix('.') {
            if plus.is_empty() || plus.starts_with('.') || !is_maildir(&dir) {
                continue;
            }
            let name = plus
                .split('.')
                .map(decode_mutf7)
                .collect::<Vec<_>>()
                .join("/");
            out.push(Folder { name, dir });
        } else {
            fs_layout(&dir, file_name.to_owned(), &mut out)?;
        }
    }
    Ok(out)
}

/// Plain subdirectories that are Maildirs (the "fs" layout), recursively.
fn fs_layout(dir: &Path, name: String, out: &mut Vec<Folder>) -> io::Result<()> {
    if is_maildir(dir) {
        out.push(Folder {
            name: name.clone(),
            dir: dir.to_owned(),
        });
    }
    for sub in sorted_entries(dir)? {
        let Some(n) = sub.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if sub.is_dir() && !n.starts_with('.') && !matches!(n, "cur" | "new" | "tmp") {
            fs_layout(&sub, format!("{name}/{n}"), out)?;
        }
    }
    Ok(())
}

/// The message files of a Maildir folder: `new/` and `cur/`, hidden files skipped, ordered by
/// name (Maildir names start with the delivery time, so this is roughly arrival order).
pub fn message_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for sub in ["cur", "new"] {
        let d = dir.join(sub);
        if !d.is_dir() {
            continue;
        }
        for p in sorted_entries(&d)? {
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if !hidden {
                files.push(p);
            }
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// IMAP flags from a Maildir file name (`...:2,FRS`).
pub fn flags_from_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let Some((_, info)) = name.rsplit_once(":2,") else {
        return String::new();
    };
    let mut flags = Vec::new();
    for (letter, flag) in [
        ('S', "\\Seen"),
        ('R', "\\Answered"),
        ('F', "\\Flagged"),
        ('D', "\\Draft"),
    ] {
        if info.contains(letter) {
            flags.push(flag);
        }
    }
    flags.join(" ")
}

fn sorted_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut v = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()?;
    v.sort();
    Ok(v)
}

/// Decodes a Maildir++ folder name written in IMAP modified UTF-7 (RFC 3501 §5.1.3, as IMAP
/// servers write them); a name that is not valid modified UTF-7 is kept as it is.
pub fn decode_mutf7(s: &str) -> String {
    crate::imap::mutf7::decode(s.as_bytes()).unwrap_or_else(|_| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf7_names() {
        assert_eq!(decode_mutf7("Entw&APw-rfe"), "Entwürfe");
        assert_eq!(decode_mutf7("A&-B"), "A&B");
        assert_eq!(decode_mutf7("plain"), "plain");
        assert_eq!(decode_mutf7("bad&***-"), "bad&***-");
    }

    #[test]
    fn flags_from_info() {
        assert_eq!(
            flags_from_name(Path::new("123.host:2,DFRST")),
            "\\Seen \\Answered \\Flagged \\Draft"
        );
        assert_eq!(flags_from_name(Path::new("123.host")), "");
    }
}
