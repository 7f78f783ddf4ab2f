//! Import of archived mail into an archive: mbox, Maildir/Maildir++, `.eml` files (DESIGN §1,
//! §3; `imapvault import`).
//!
//! Owns reading the sources and choosing folders; the batching and ingest order live in
//! [`ingest`]. What a path is, decided by looking at it:
//! - a directory with `cur/` or `new/`: a Maildir tree ([`maildir`]), each folder to its own
//!   mailbox;
//! - any other directory: `.eml` files in it and its subdirectories (recursively, in path
//!   order; other files are skipped), to INBOX;
//! - a file starting with `From `: an mbox ([`mbox`]), to INBOX;
//! - any other file: one message, archived as it is, even if it is not mail at all — an archive
//!   keeps what it was given.
//!
//! With [`Target::Folder`], everything goes to that folder instead. In journal mode
//! ([`run_journal`]) folders do not matter: every message goes to the journal and is shown to
//! the users who took part in it ([`crate::mime::journal`]). [`run_in_mode`] refuses a feed
//! that does not fit the archive's mode before anything is written. A message that cannot be
//! parsed is still archived; only input that cannot be read (I/O error, not a regular file) or an
//! empty message is rejected, with its location and reason, and the import goes on.

mod date;
pub mod ingest;
pub mod maildir;
pub mod mbox;
pub mod reindex;

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::archive::Archive;
use crate::config::ArchiveMode;
use crate::index::{IndexError, InternalDate, MailboxId, UserId};
use crate::store::StoreError;
use ingest::{Flushed, Ingester};

/// Where imported messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Each source decides: a Maildir maps its own folders, anything else goes to INBOX.
    Auto,
    /// Everything goes to this folder (created with its parents).
    Folder(String),
}

/// Counters reported while importing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Messages read from the sources.
    pub messages: u64,
    /// Messages added so far (committed).
    pub imported: u64,
    /// Duplicates so far (committed).
    pub duplicates: u64,
    /// Rejected inputs so far.
    pub rejected: u64,
    /// Bytes of messages read.
    pub bytes: u64,
}

/// Where a rejected input is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file or directory.
    File(PathBuf),
    /// A message of an mbox, by the byte offset of its `From ` line.
    MboxMessage {
        /// The mbox file.
        path: PathBuf,
        /// Offset of the message's separator line.
        offset: u64,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::MboxMessage { path, offset } => write!(f, "{}:{offset}", path.display()),
        }
    }
}

/// Why an input was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// Reading it failed; the OS's message.
    Unreadable(String),
    /// Neither a regular file nor a directory (device, socket, fifo).
    NotAFile,
    /// A message of no bytes (or only a blank line).
    Empty,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::Unreadable(e) => write!(f, "unreadable: {e}"),
            RejectReason::NotAFile => f.write_str("not a file or directory"),
            RejectReason::Empty => f.write_str("empty message"),
        }
    }
}

/// One rejected input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Where.
    pub location: Location,
    /// Why.
    pub reason: RejectReason,
}

/// The result of an import.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Messages added to a mailbox.
    pub imported: u64,
    /// Messages the target mailbox already held (not stored again).
    pub duplicates: u64,
    /// Inputs that could not be imported.
    pub rejected: Vec<Rejection>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} imported, {} duplicates, {} rejected",
            self.imported,
            self.duplicates,
            self.rejected.len()
        )
    }
}

/// Whose mail an import is: a user's folders (mailbox mode) or the journal (journal mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// A user's own folders.
    User {
        /// The user, who must exist.
        name: String,
        /// Where the messages go.
        target: Target,
    },
    /// Journal messages: each shown to the users who took part in it.
    Journal,
}

/// Errors that stop an import (a rejected input does not).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The feed does not fit the archive's mode (DESIGN §1: modes are never mixed); nothing was
    /// archived.
    #[error("{}", mode_mismatch_text(*.0))]
    WrongMode(ArchiveMode),
    /// The user does not exist.
    #[error("no user {0:?}")]
    NoSuchUser(String),
    /// The index failed (includes an invalid target folder name).
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The blob store failed; the batch was not committed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The system would not start a worker thread (nothing was written).
    #[error("starting an import worker thread: {0}")]
    Thread(std::io::Error),
}

/// The refusal of a feed that does not fit an archive in `mode`.
fn mode_mismatch_text(mode: ArchiveMode) -> &'static str {
    match mode {
        ArchiveMode::Journal => {
            "this archive is in journal mode (archive.mode = \"journal\"): mail is imported \
             with `import --journal`, not for one user; nothing was archived"
        }
        ArchiveMode::Mailbox => {
            "this archive is in mailbox mode (archive.mode = \"mailbox\"): journal mail cannot \
             be imported into it; nothing was archived"
        }
    }
}

/// Imports `paths` as `feed` into `archive`, whose configured mode is `mode`: refuses, before
/// touching anything, a feed of the other mode ([`ImportError::WrongMode`]), and an archive
/// whose mail was ingested in the other mode ([`IndexError::ModeMismatch`]); the first import
/// records the mode.
pub fn run_in_mode(
    archive: &mut Archive,
    mode: ArchiveMode,
    feed: &Feed,
    paths: &[PathBuf],
    progress: &mut dyn FnMut(&Progress),
) -> Result<Summary, ImportError> {
    match (mode, feed) {
        (ArchiveMode::Mailbox, Feed::User { name, target }) => {
            archive.index_mut().claim_mode(mode)?;
            run(archive, name, target.clone(), paths, progress)
        }
        (ArchiveMode::Journal, Feed::Journal) => {
            archive.index_mut().claim_mode(mode)?;
            run_journal(archive, paths, progress)
        }
        (mode, _) => Err(ImportError::WrongMode(mode)),
    }
}

/// Imports `paths` into the journal of `archive` (journal mode): each message, or the original
/// a journal report carries, is stored once and shown to its participants.
pub fn run_journal(
    archive: &mut Archive,
    paths: &[PathBuf],
    progress: &mut dyn FnMut(&Progress),
) -> Result<Summary, ImportError> {
    let (index, store) = archive.parts_mut();
    Run {
        ingester: Ingester::new(index, store),
        sink: Sink::Journal,
        summary: Summary::default(),
        progress: Progress::default(),
        report: progress,
    }
    .all(paths)
}

/// Imports `paths` for `user` (who must exist) into `archive`, calling `progress` after each
/// batch and each input.
pub fn run(
    archive: &mut Archive,
    user: &str,
    target: Target,
    paths: &[PathBuf],
    progress: &mut dyn FnMut(&Progress),
) -> Result<Summary, ImportError> {
    let (index, store) = archive.parts_mut();
    let user_id = match index.user_password_hash(user)? {
        Some((id, _)) => id,
        None => return Err(ImportError::NoSuchUser(user.to_owned())),
    };
    Run {
        ingester: Ingester::new(index, store),
        sink: Sink::Mailboxes {
            user: user_id,
            target,
            mailboxes: HashMap::new(),
        },
        summary: Summary::default(),
        progress: Progress::default(),
        report: progress,
    }
    .all(paths)
}

/// State of one import run.
struct Run<'a, 'p> {
    ingester: Ingester<'a>,
    sink: Sink,
    summary: Summary,
    progress: Progress,
    report: &'p mut dyn FnMut(&Progress),
}

/// Where a run's messages go.
enum Sink {
    /// A user's mailboxes, created as needed.
    Mailboxes {
        user: UserId,
        target: Target,
        mailboxes: HashMap<String, MailboxId>,
    },
    /// The journal; source folders do not matter.
    Journal,
}

impl Run<'_, '_> {
    /// Imports every path, then flushes the last batch.
    fn all(mut self, paths: &[PathBuf]) -> Result<Summary, ImportError> {
        for path in paths {
            self.source(path)?;
        }
        let done = self.ingester.flush()?;
        self.count(done);
        Ok(self.summary)
    }

    /// Imports one path given on the command line.
    fn source(&mut self, path: &Path) -> Result<(), ImportError> {
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.reject(Location::File(path.to_owned()), unreadable(&e));
                return Ok(());
            }
        };
        if meta.is_dir() {
            if maildir::is_maildir(path) {
                self.maildir(path)?;
            } else {
                self.eml_dir(path)?;
            }
        } else if meta.is_file() {
            match starts_with_from(path) {
                Ok(true) => self.mbox(path)?,
                Ok(false) => {
                    let folder = self.folder_for("INBOX").to_owned();
                    self.file_message(path, read_message_file(path), &folder, String::new())?;
                }
                Err(e) => self.reject(Location::File(path.to_owned()), unreadable(&e)),
            }
        } else {
            self.reject(Location::File(path.to_owned()), RejectReason::NotAFile);
        }
        (self.report)(&self.progress);
        Ok(())
    }

    fn maildir(&mut self, root: &Path) -> Result<(), ImportError> {
        let folders = match maildir::folders(root) {
            Ok(f) => f,
            Err(e) => {
                self.reject(Location::File(root.to_owned()), unreadable(&e));
                return Ok(());
            }
        };
        for folder in folders {
            let name = self.folder_for(&folder.name).to_owned();
            let files = match maildir::message_files(&folder.dir) {
                Ok(f) => f,
                Err(e) => {
                    self.reject(Location::File(folder.dir), unreadable(&e));
                    continue;
                }
            };
            self.message_files(files, &name, maildir::flags_from_name)?;
        }
        Ok(())
    }

    fn eml_dir(&mut self, dir: &Path) -> Result<(), ImportError> {
        let mut files = Vec::new();
        if let Err(e) = collect_eml(dir, &mut files) {
            self.reject(Location::File(dir.to_owned()), unreadable(&e));
        }
        files.sort();
        let folder = self.folder_for("INBOX").to_owned();
        self.message_files(files, &folder, |_| String::new())
    }

    /// One message per file of `files`, in order, for `folder` with the flags `flags` gives a
    /// file's path. The files are read on a thread of its own, a few chunks ahead, as an
    /// mbox is (see [`Run::mbox`]).
    fn message_files(
        &mut self,
        files: Vec<PathBuf>,
        folder: &str,
        flags: impl Fn(&Path) -> String,
    ) -> Result<(), ImportError> {
        let read = move |chunks: &ReadAhead<_>| {
            let items = files.into_iter().map(|path| {
                let read = read_message_file(&path);
                let len = match &read {
                    Ok(Some((bytes, _))) => bytes.len(),
                    _ => 0,
                };
                ((path, read), len)
            });
            send_in_chunks(items, chunks);
        };
        read_ahead(read, |(path, read)| {
            let flags = flags(&path);
            self.file_message(&path, read, folder, flags)?;
            Ok(true)
        })
    }

    /// One message in its own file, as [`read_message_file`] read it; INTERNALDATE is the
    /// file's modification time.
    fn file_message(
        &mut self,
        path: &Path,
        read: std::io::Result<Option<FileMessage>>,
        folder: &str,
        flags: String,
    ) -> Result<(), ImportError> {
        let loc = || Location::File(path.to_owned());
        let (bytes, mtime) = match read {
            Ok(Some(x)) => x,
            Ok(None) => {
                self.reject(loc(), RejectReason::NotAFile);
                return Ok(());
            }
            Err(e) => {
                self.reject(loc(), unreadable(&e));
                return Ok(());
            }
        };
        let date = mtime.map(|t| InternalDate {
            unix: match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => d.as_secs() as i64,
                Err(e) => -(e.duration().as_secs() as i64),
            },
            tz_minutes: 0,
        });
        self.message(bytes, folder, flags, date, loc)
    }

    fn mbox(&mut self, path: &Path) -> Result<(), ImportError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.reject(Location::File(path.to_owned()), unreadable(&e));
                return Ok(());
            }
        };
        let folder = self.folder_for("INBOX").to_owned();
        // The file is read and split on a thread of its own (see `read_ahead`): reading the
        // mbox was an eighth of the writing thread's time (perf, 10,000 messages).
        read_ahead(
            move |chunks| read_mbox(file, chunks),
            |item| {
                let m = match item {
                    Ok(m) => m,
                    Err((at, e)) => {
                        // The rest of the file cannot be trusted to split correctly: stop here.
                        let location = Location::MboxMessage {
                            path: path.to_owned(),
                            offset: at,
                        };
                        self.reject(location, unreadable(&e));
                        return Ok(false);
                    }
                };
                let date = date::parse_from_line(&m.from_line);
                let offset = m.offset;
                self.message(m.bytes, &folder, String::new(), date, || {
                    Location::MboxMessage {
                        path: path.to_owned(),
                        offset,
                    }
                })?;
                Ok(true)
            },
        )
    }

    /// Queues one message for `folder`, or rejects it if empty.
    fn message(
        &mut self,
        bytes: Vec<u8>,
        folder: &str,
        flags: String,
        date: Option<InternalDate>,
        location: impl FnOnce() -> Location,
    ) -> Result<(), ImportError> {
        self.progress.messages += 1;
        if bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            self.reject(location(), RejectReason::Empty);
            return Ok(());
        }
        self.progress.bytes += bytes.len() as u64;
        let flushed = match &self.sink {
            Sink::Mailboxes { .. } => {
                let mailbox = self.mailbox(folder)?;
                self.ingester.add(bytes, mailbox, flags, date)?
            }
            Sink::Journal => self.ingester.add_journal(bytes, date)?,
        };
        if let Some(done) = flushed {
            self.count(done);
            (self.report)(&self.progress);
        }
        Ok(())
    }

    /// The user's mailbox `name` (mailbox mode), created if absent.
    fn mailbox(&mut self, name: &str) -> Result<MailboxId, ImportError> {
        let Sink::Mailboxes {
            user, mailboxes, ..
        } = &mut self.sink
        else {
            return Err(ImportError::WrongMode(ArchiveMode::Journal));
        };
        if let Some(&id) = mailboxes.get(name) {
            return Ok(id);
        }
        let id = self.ingester.index().ensure_mailbox(*user, name)?;
        mailboxes.insert(name.to_owned(), id);
        Ok(id)
    }

    /// The folder a message from source folder `natural` goes to.
    fn folder_for<'n>(&'n self, natural: &'n str) -> &'n str {
        match &self.sink {
            Sink::Mailboxes {
                target: Target::Folder(f),
                ..
            } => f,
            _ => natural,
        }
    }

    fn count(&mut self, done: Flushed) {
        self.summary.imported += done.imported;
        self.summary.duplicates += done.duplicates;
        self.progress.imported = self.summary.imported;
        self.progress.duplicates = self.summary.duplicates;
    }

    fn reject(&mut self, location: Location, reason: RejectReason) {
        log::warn!("rejected {location}: {reason}");
        self.summary.rejected.push(Rejection { location, reason });
        self.progress.rejected += 1;
    }
}

/// A message of an mbox as its reading thread gives it: or the offset where reading failed.
type MboxItem = Result<mbox::MboxMessage, (u64, std::io::Error)>;

/// Chunks read ahead of the importer, at most: with [`READ_AHEAD_BYTES`], what bounds the
/// memory of reading ahead (a chunk may hold one larger message alone).
const READ_AHEAD_CHUNKS: usize = 2;
/// A chunk ends once it holds this many bytes of messages…
const READ_AHEAD_BYTES: usize = 4 << 20;
/// …or this many messages.
const READ_AHEAD_MESSAGES: usize = 256;

/// The sending end of [`read_ahead`]'s chunks.
type ReadAhead<T> = crossbeam_channel::Sender<Vec<T>>;

/// Runs `read` on a thread of its own, which sends its items in chunks ([`send_in_chunks`]),
/// while this thread gives each to `take`, in order, until the items end or `take` says stop
/// (`false`) or fails. The thread that imports writes the ingest's batches and sets an import's
/// pace, so the input's reading is not done there. At most [`READ_AHEAD_CHUNKS`] chunks wait.
fn read_ahead<T: Send>(
    read: impl FnOnce(&ReadAhead<T>) + Send,
    mut take: impl FnMut(T) -> Result<bool, ImportError>,
) -> Result<(), ImportError> {
    let (chunks, received) = crossbeam_channel::bounded(READ_AHEAD_CHUNKS);
    std::thread::scope(|scope| {
        scope.spawn(move || read(&chunks));
        // `received` is moved into the loop and dropped with it, on a stop or an error too:
        // that ends the reading thread at its next chunk, before the scope waits for it.
        for item in received.into_iter().flatten() {
            if !take(item)? {
                break;
            }
        }
        Ok(())
    })
}

/// Reads the messages of `file` in order and sends them in chunks, until the end of the file,
/// the first read error (sent as the last item), or the receiver's end.
fn read_mbox(file: File, chunks: &ReadAhead<MboxItem>) {
    let mut reader = mbox::MboxReader::new(BufReader::with_capacity(1 << 20, file));
    let mut failed = false;
    let items = std::iter::from_fn(|| {
        if failed {
            return None;
        }
        let at = reader.position();
        match reader.next_message() {
            Ok(Some(m)) => {
                let len = m.bytes.len();
                Some((Ok(m), len))
            }
            Ok(None) => None,
            Err(e) => {
                failed = true;
                Some((Err((at, e)), 0))
            }
        }
    });
    send_in_chunks(items, chunks);
}

/// A message file's bytes and modification time.
type FileMessage = (Vec<u8>, Option<std::time::SystemTime>);

/// Reads a file holding one message: None if it is not a regular file.
fn read_message_file(path: &Path) -> std::io::Result<Option<FileMessage>> {
    let mut f = File::open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut bytes)?;
    Ok(Some((bytes, meta.modified().ok())))
}

/// Sends `items` (each with its size in bytes) in chunks of [`READ_AHEAD_MESSAGES`] items or
/// [`READ_AHEAD_BYTES`] bytes, until the items end or the receiver does.
fn send_in_chunks<T>(items: impl Iterator<Item = (T, usize)>, chunks: &ReadAhead<T>) {
    let mut chunk = Vec::new();
    let mut bytes = 0;
    let mut items = items.peekable();
    while let Some((item, len)) = items.next() {
        chunk.push(item);
        bytes += len;
        let full = chunk.len() >= READ_AHEAD_MESSAGES || bytes >= READ_AHEAD_BYTES;
        if full || items.peek().is_none() {
            if chunks.send(std::mem::take(&mut chunk)).is_err() {
                return;
            }
            bytes = 0;
        }
    }
}

fn unreadable(e: &std::io::Error) -> RejectReason {
    RejectReason::Unreadable(e.to_string())
}

/// Whether the file starts with an mbox separator.
fn starts_with_from(path: &Path) -> std::io::Result<bool> {
    let mut head = [0u8; 5];
    let mut f = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(&head[..n] == b"From ")
}

/// `.eml` files (any case) under `dir`, recursively; hidden entries skipped.
fn collect_eml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.as_deref().is_none_or(|n| n.starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            collect_eml(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("eml"))
        {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reading thread sends every message in order, in chunks, and stops at its next chunk
    /// once the importer stops receiving (else the importer, on an error, would wait forever
    /// for it to end).
    #[test]
    fn the_mbox_reading_thread_sends_in_order_and_stops_with_the_importer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.mbox");
        let count = READ_AHEAD_MESSAGES * (READ_AHEAD_CHUNKS + 3) + 7;
        let mut mbox = Vec::new();
        for i in 0..count {
            mbox.extend_from_slice(
                format!("From x Mon Jan  1 10:00:00 2024\nSubject: {i}\n\nbody\n\n").as_bytes(),
            );
        }
        std::fs::write(&path, &mbox).unwrap();

        let (tx, rx) = crossbeam_channel::bounded(READ_AHEAD_CHUNKS);
        let file = File::open(&path).unwrap();
        let reader = std::thread::spawn(move || read_mbox(file, &tx));
        let subjects: Vec<String> = rx
            .iter()
            .flatten()
            .map(|m| String::from_utf8(m.unwrap().bytes).unwrap())
            .collect();
        reader.join().unwrap();
        assert_eq!(subjects.len(), count);
        for (i, s) in subjects.iter().enumerate() {
            assert_eq!(s, &format!("Subject: {i}\n\nbody\n"));
        }

        let (tx, rx) = crossbeam_channel::bounded(READ_AHEAD_CHUNKS);
        let file = File::open(&path).unwrap();
        let reader = std::thread::spawn(move || read_mbox(file, &tx));
        assert_eq!(rx.recv().unwrap().len(), READ_AHEAD_MESSAGES);
        drop(rx);
        reader.join().unwrap();
    }

    /// The chunks' sizes at their limits: READ_AHEAD_MESSAGES items fill one chunk and one
    /// more starts the next; items reaching READ_AHEAD_BYTES end a chunk, one byte short do not.
    #[test]
    fn chunks_end_at_their_item_and_byte_limits() {
        let sizes = |items: Vec<usize>| -> Vec<usize> {
            let (tx, rx) = crossbeam_channel::unbounded();
            send_in_chunks(items.into_iter().map(|len| ((), len)), &tx);
            drop(tx);
            rx.iter().map(|chunk| chunk.len()).collect()
        };
        let n = READ_AHEAD_MESSAGES;
        assert_eq!(sizes(vec![0; n]), [n]);
        assert_eq!(sizes(vec![0; n + 1]), [n, 1]);
        let half = READ_AHEAD_BYTES / 2;
        assert_eq!(sizes(vec![half, half, 1]), [2, 1]);
        assert_eq!(sizes(vec![half, half - 1, 1]), [3]);
        // One item larger than a chunk's bytes is a chunk of its own.
        assert_eq!(sizes(vec![1, READ_AHEAD_BYTES * 3, 1]), [2, 1]);
        assert_eq!(sizes(vec![]), Vec::<usize>::new());
    }

    /// The importer stopping early (a bad mbox line, an error) with more chunks on their way
    /// than the channel holds ends the reading thread, instead of leaving the scope waiting.
    #[test]
    fn an_early_stop_ends_the_reading_thread() {
        let total = READ_AHEAD_MESSAGES * (READ_AHEAD_CHUNKS + 4);
        let mut taken = 0;
        read_ahead(
            |chunks| send_in_chunks((0..total).map(|i| (i, 0)), chunks),
            |i| {
                assert_eq!(i, taken, "in order");
                taken += 1;
                Ok(taken < 10)
            },
        )
        .unwrap();
        assert_eq!(taken, 10);
        let failed = read_ahead(
            |chunks| send_in_chunks((0..total).map(|i| (i, 0)), chunks),
            |_| Err(ImportError::Thread(std::io::Error::other("stop"))),
        );
        assert!(failed.is_err());
    }
}
