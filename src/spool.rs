//! The spool: archiving while serving. A message file moved into `<spool>/<user>/<folder>/` is
//! archived, indexed and removed; IDLE clients hear of it at once through the change watcher.
//!
//! Owns: the spool layout, picking files up, and what becomes of them. Archiving itself is
//! [`crate::import`]'s, in DESIGN §3's order, so a message is visible only once committed.
//!
//! ```text
//! <spool>/tmp/                    write here first, then rename into place (as Maildir does):
//!                                 only whole files are ever seen (never scanned)
//! <spool>/alice/msg1.eml          → alice's INBOX
//! <spool>/alice/Archive/2019/x    → alice's Archive/2019
//! <spool>/failed/alice/INBOX/x    a file that could not be archived, with x.reason beside it
//! ```
//!
//! In journal mode (`archive.mode = "journal"`) there are no user directories: every file
//! anywhere below the spool (but `tmp/` and `failed/`) is a journal message, archived once and
//! shown to the users whose addresses took part (`crate::mime::journal`); a failed one moves to
//! `<spool>/failed/x`.
//!
//! A file is removed only after the transaction holding its message has committed. A crash in
//! between leaves the file, which the next pass archives again as a counted duplicate: nothing
//! lost, nothing twice. Storage errors leave files in place and are retried on the next pass.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use crate::archive::Archive;
use crate::config::ArchiveMode;
use crate::import::{self, Feed, ImportError, Location, Target};

/// How often the spool is scanned.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Directory names at the top of the spool that are not users.
const RESERVED: [&str; 2] = ["tmp", "failed"];
/// Deepest folder nesting read below a user's directory.
const MAX_DEPTH: usize = 16;
/// Files archived per pass at most, so a flood does not delay everything else for long.
const MAX_FILES_PER_PASS: usize = 10_000;

/// Errors that stop the spool (not those of a single file, which go to `failed/`).
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
}

/// Counts of one pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassSummary {
    pub archived: u64,
    pub duplicates: u64,
    pub failed: u64,
    /// Files left in place for a later pass (storage errors).
    pub deferred: u64,
}

/// A spool directory and the archive it feeds.
pub struct Spool {
    dir: PathBuf,
    archive: Archive,
    mode: ArchiveMode,
}

impl Spool {
    /// Opens the spool in `dir` (creating it, with `tmp/` and `failed/`) for `archive`, whose
    /// mode decides the layout (module docs).
    pub fn open(dir: &Path, archive: Archive, mode: ArchiveMode) -> Result<Spool, SpoolError> {
        for sub in ["", "tmp", "failed"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).map_err(|source| SpoolError::Io { path, source })?;
        }
        Ok(Spool {
            dir: dir.to_owned(),
            archive,
            mode,
        })
    }

    /// Scans and archives until `stopping` is set.
    pub fn run(mut self, stopping: &AtomicBool) {
        log::info!("spool: watching {}", self.dir.display());
        while !stopping.load(Ordering::SeqCst) {
            match self.pass() {
                Ok(s) if s != PassSummary::default() => log::info!(
                    "spool: {} archived, {} duplicates, {} failed, {} deferred",
                    s.archived,
                    s.duplicates,
                    s.failed,
                    s.deferred
                ),
                Ok(_) => {}
                Err(e) => log::error!("spool: {e}"),
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// One scan: archives every complete file found.
    pub fn pass(&mut self) -> Result<PassSummary, SpoolError> {
        match self.mode {
            ArchiveMode::Mailbox => self.pass_mailboxes(),
            ArchiveMode::Journal => self.pass_journal(),
        }
    }

    /// Journal mode: every file anywhere below the spool is a journal message.
    fn pass_journal(&mut self) -> Result<PassSummary, SpoolError> {
        let mut summary = PassSummary::default();
        let mut files = Vec::new();
        for entry in self.top_entries()? {
            let path = entry.path();
            if path.is_dir() {
                let mut below = Vec::new();
                collect(&path, &path, 0, &mut below)?;
                files.extend(below.into_iter().map(|(_, file)| file));
            } else if path.is_file() {
                files.push(path);
            }
        }
        files.truncate(MAX_FILES_PER_PASS);
        if !files.is_empty() {
            let result = import::run_in_mode(
                &mut self.archive,
                self.mode,
                &Feed::Journal,
                &files,
                &mut |_| {},
            );
            self.dispose(result, files, "", "", &mut summary)?;
        }
        Ok(summary)
    }

    /// The entries at the top of the spool, but dotfiles and [`RESERVED`] directories.
    fn top_entries(&self) -> Result<Vec<fs::DirEntry>, SpoolError> {
        let mut entries = read_dir(&self.dir)?;
        entries.retain(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && !RESERVED.contains(&name.as_ref())
        });
        Ok(entries)
    }

    /// Mailbox mode: `<spool>/<user>/<folder>/file`.
    fn pass_mailboxes(&mut self) -> Result<PassSummary, SpoolError> {
        let mut summary = PassSummary::default();
        let mut groups: BTreeMap<(String, String), Vec<PathBuf>> = BTreeMap::new();
        let mut count = 0;
        for entry in self.top_entries()? {
            let path = entry.path();
            if !path.is_dir() {
                self.fail(
                    &path,
                    "",
                    "",
                    "a file directly in the spool names no user: put it in <spool>/<user>/",
                )?;
                summary.failed += 1;
                continue;
            }
            let Some(user) = entry.file_name().to_str().map(str::to_owned) else {
                self.fail_all(
                    &path,
                    "the user directory's name is not UTF-8",
                    &mut summary,
                )?;
                continue;
            };
            let mut files = Vec::new();
            collect(&path, &path, 0, &mut files)?;
            for (folder, file) in files {
                if count >= MAX_FILES_PER_PASS {
                    break;
                }
                count += 1;
                match folder {
                    Some(folder) => groups.entry((user.clone(), folder)).or_default().push(file),
                    None => {
                        self.fail(&file, &user, "", "the folder name is not UTF-8")?;
                        summary.failed += 1;
                    }
                }
            }
        }
        for ((user, folder), files) in groups {
            self.archive_group(&user, &folder, files, &mut summary)?;
        }
        Ok(summary)
    }

    /// Archives the files of one user's folder and disposes of each as it fared.
    fn archive_group(
        &mut self,
        user: &str,
        folder: &str,
        files: Vec<PathBuf>,
        summary: &mut PassSummary,
    ) -> Result<(), SpoolError> {
        let feed = Feed::User {
            name: user.to_owned(),
            target: Target::Folder(folder.to_owned()),
        };
        let result = import::run_in_mode(&mut self.archive, self.mode, &feed, &files, &mut |_| {});
        self.dispose(result, files, user, folder, summary)
    }

    /// Disposes of each file of an import as it fared: removed once committed, moved to
    /// `failed/` when rejected, left for the next pass on storage trouble.
    fn dispose(
        &mut self,
        result: Result<import::Summary, ImportError>,
        files: Vec<PathBuf>,
        user: &str,
        folder: &str,
        summary: &mut PassSummary,
    ) -> Result<(), SpoolError> {
        match result {
            Ok(s) => {
                summary.archived += s.imported;
                summary.duplicates += s.duplicates;
                // Reasons per file; a file with any rejected part goes to failed/ whole.
                let mut reasons: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
                for r in &s.rejected {
                    let (path, text) = match &r.location {
                        Location::File(p) => (p.clone(), r.reason.to_string()),
                        Location::MboxMessage { path, offset } => (
                            path.clone(),
                            format!("message at byte {offset}: {}", r.reason),
                        ),
                    };
                    reasons.entry(path).or_default().push(text);
                }
                for file in files {
                    match reasons.get(&file) {
                        Some(why) => {
                            self.fail(&file, user, folder, &why.join("; "))?;
                            summary.failed += 1;
                        }
                        // Committed: the file has done its job.
                        None => {
                            if let Err(e) = fs::remove_file(&file) {
                                log::warn!("spool: cannot remove archived {}: {e}", file.display());
                            }
                        }
                    }
                }
            }
            Err(ImportError::NoSuchUser(_)) => {
                for file in files {
                    self.fail(
                        &file,
                        user,
                        folder,
                        &format!("no user {user:?} in the archive"),
                    )?;
                    summary.failed += 1;
                }
            }
            Err(ImportError::Index(e @ crate::index::IndexError::InvalidMailboxName { .. })) => {
                for file in files {
                    self.fail(&file, user, folder, &e.to_string())?;
                    summary.failed += 1;
                }
            }
            Err(e) => {
                // Storage trouble: nothing of this group was lost or half-done; try again later.
                log::error!("spool: archiving {user}/{folder} failed, will retry: {e}");
                summary.deferred += files.len() as u64;
            }
        }
        Ok(())
    }

    /// Moves every file under `dir` to failed/ with `why`.
    fn fail_all(&self, dir: &Path, why: &str, summary: &mut PassSummary) -> Result<(), SpoolError> {
        let mut files = Vec::new();
        collect(dir, dir, 0, &mut files)?;
        for (_, file) in files {
            self.fail(&file, "", "", why)?;
            summary.failed += 1;
        }
        Ok(())
    }

    /// Moves `file` to `failed/<user>/<folder>/` with a `.reason` file beside it.
    fn fail(&self, file: &Path, user: &str, folder: &str, why: &str) -> Result<(), SpoolError> {
        let mut target_dir = self.dir.join("failed");
        for part in [user, folder] {
            if !part.is_empty() {
                target_dir.push(part);
            }
        }
        fs::create_dir_all(&target_dir).map_err(|source| SpoolError::Io {
            path: target_dir.clone(),
            source,
        })?;
        let name = file.file_name().unwrap_or_default();
        let target = target_dir.join(name);
        fs::rename(file, &target).map_err(|source| SpoolError::Io {
            path: file.to_owned(),
            source,
        })?;
        let mut reason_name = name.to_os_string();
        reason_name.push(".reason");
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let text = format!("{why}\n(failed at Unix time {stamp})\n");
        let reason = target_dir.join(reason_name);
        fs::write(&reason, text).map_err(|source| SpoolError::Io {
            path: reason,
            source,
        })?;
        log::warn!(
            "spool: {} moved to {}: {why}",
            file.display(),
            target.display()
        );
        Ok(())
    }
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>, SpoolError> {
    let io_err = |source| SpoolError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)
        .map_err(io_err)?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(fs::DirEntry::file_name);
    Ok(entries)
}

/// Files below `user_dir`, with their folder: the path from `user_dir` (INBOX when the file is
/// in `user_dir` itself), or `None` when a directory name is not UTF-8. Dotfiles and `tmp`
/// directories are skipped.
fn collect(
    user_dir: &Path,
    dir: &Path,
    depth: usize,
    out: &mut Vec<(Option<String>, PathBuf)>,
) -> Result<(), SpoolError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for entry in read_dir(dir)? {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') || name == "tmp" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(user_dir, &path, depth + 1, out)?;
        } else if path.is_file() {
            let folder = match dir.strip_prefix(user_dir) {
                Ok(rel) if rel.as_os_str().is_empty() => Some("INBOX".to_owned()),
                Ok(rel) => rel
                    .to_str()
                    .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/")),
                Err(_) => None,
            };
            out.push((folder, path));
        }
    }
    Ok(())
}
