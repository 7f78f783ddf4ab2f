//! The SQLite index of an archive (DESIGN §3): users and their addresses, mailboxes,
//! subscriptions, messages, mailbox membership, the journal, the content index for SEARCH and
//! the keys of SORT and THREAD.
//!
//! Owns every SQL statement of the crate (with `sql/`, the migrations). Callers see typed ids,
//! plain structs and [`IndexError`]; `rusqlite` stays inside. User text is always bound as a
//! parameter, never put into SQL text. Knows no IMAP syntax: flags are canonical strings,
//! mailbox names are UTF-8 with `/` as the hierarchy separator.
//!
//! One [`Index`] is one connection (with, for large reads, a partner: see [`Index::in_two`]): it
//! is `Send` but not shared, so each worker thread opens its own (`Archive::open_index`). The
//! database runs in WAL mode, so readers never wait for the ingest writer and see only
//! committed batches.

#![deny(unsafe_code)]

mod access;
mod changes;
mod content;
mod ingest;
mod journal;
mod mailboxes;
mod messages;
mod migrate;
mod packed_text;
mod reader_flags;
mod runs;
mod sort;
pub use migrate::latest_version as latest_schema_version;
mod users;

use std::cell::Cell;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use rusqlite::Connection;

pub use access::{GrantError, Reach, ReadableOwner, Role, OTHER_USERS};
pub use changes::MailboxVersion;
pub use content::{
    needle_words, Candidates, ContentColumn, ContentRow, NeedleWords, Probe, Reindexed, WordIds,
    PIECE_STEP, WORD_MAX_CHARS,
};
pub use ingest::{
    Committed, IngestMessage, JournalEntry, JournalOutcome, Placed, Placement, PlacementMessage,
};
pub use journal::{AddressAdded, JournalItem, JOURNAL_FOLDER};
pub use mailboxes::{MailboxInfo, SpecialUse, Subscription};
pub use messages::{
    canonical_flags, Entry, InternalDate, MailboxState, MessageFacts, MessageMeta, VisibleCounts,
};
pub use sort::SortFacts;
pub use users::UserSummary;

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A user's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

/// A mailbox's row id (stable while the mailbox exists; not its UIDVALIDITY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxId(pub i64);

/// A stored message's row id, shared by every mailbox that holds the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub i64);

/// An error from the database engine. Opaque: callers report it, they do not match on it.
#[derive(Debug)]
pub struct DbError(rusqlite::Error);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)?;
        // SQLite's own text for an I/O failure is "disk I/O error" whatever the step; its
        // extended code says which step it was, which is what an admin needs to look at.
        if let rusqlite::Error::SqliteFailure(e, _) = &self.0 {
            if let Some(step) = io_step(e.extended_code) {
                write!(f, " ({step})")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            // Its source is the same failure as "Error code N: <text>": said above already.
            rusqlite::Error::SqliteFailure(..) => None,
            other => other.source(),
        }
    }
}

/// What failed, for SQLite's extended result codes of a file operation
/// (<https://sqlite.org/rescode.html>); None for any other code.
fn io_step(extended_code: std::os::raw::c_int) -> Option<&'static str> {
    use rusqlite::ffi;
    Some(match extended_code {
        ffi::SQLITE_IOERR_READ | ffi::SQLITE_IOERR_SHORT_READ => "reading a database file failed",
        ffi::SQLITE_IOERR_WRITE => {
            "writing a database file failed: is the disk full, or a size limit reached?"
        }
        ffi::SQLITE_IOERR_FSYNC | ffi::SQLITE_IOERR_DIR_FSYNC => "fsync of a database file failed",
        ffi::SQLITE_IOERR_TRUNCATE => "truncating a database file failed",
        ffi::SQLITE_FULL => "the disk is full",
        _ => return None,
    })
}

/// Errors of the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The database engine failed (I/O, locking, constraint, corruption).
    #[error("index database: {0}")]
    Db(#[from] DbError),
    /// The database was written by a newer imapvault.
    #[error("index schema version {found} is newer than this program knows ({known})")]
    SchemaTooNew {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// Migrations this program has.
        known: i64,
    },
    /// `add_user` of a name that exists.
    #[error("user {0:?} already exists")]
    UserExists(String),
    /// No user of that name.
    #[error("no user {0:?}")]
    NoSuchUser(String),
    /// The address belongs to a user (this one or another).
    #[error("address {address} already belongs to user {owner:?}")]
    AddressTaken {
        /// The canonical address.
        address: String,
        /// Its user.
        owner: String,
    },
    /// The archive holds mail of one mode and the configuration names the other.
    #[error(
        "this archive holds {} mail but the configuration says archive.mode = {}: an archive's \
         mode never changes (DESIGN: modes are never mixed)",
        mode_name(*.recorded), mode_name(*.configured)
    )]
    ModeMismatch {
        /// The mode its mail was ingested in.
        recorded: crate::config::ArchiveMode,
        /// The mode of the configuration.
        configured: crate::config::ArchiveMode,
    },
    /// The user has no such address.
    #[error("user {user:?} has no address {address}")]
    NoSuchAddress {
        /// The canonical address.
        address: String,
        /// The user.
        user: String,
    },
    /// No mailbox of that name (or id).
    #[error("no mailbox {0:?}")]
    NoSuchMailbox(String),
    /// No message with that UID in the mailbox.
    #[error("no message with UID {uid} in mailbox {mailbox}")]
    NoSuchMessage {
        /// Mailbox row id.
        mailbox: i64,
        /// The UID.
        uid: u32,
    },
    /// No stored message with that id.
    #[error("no stored message with id {0}")]
    UnknownMessage(i64),
    /// A mailbox name that cannot be stored.
    #[error("invalid mailbox name {name:?}: {reason}")]
    InvalidMailboxName {
        /// The name as given.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The mailbox has used every UID (2^32 − 1); it must be rebuilt with a new UIDVALIDITY.
    #[error("mailbox {0} has no UIDs left")]
    UidsExhausted(i64),
    /// Every UIDVALIDITY value has been used.
    #[error("no UIDVALIDITY values left in this archive")]
    UidValidityExhausted,
    /// A stored value outside its documented range (the file was edited or damaged).
    #[error("index holds an invalid value: {0}")]
    Corrupt(String),
    /// A search ran past its time budget (the caller answers `NO [LIMIT]`).
    #[error("the search ran out of time")]
    Deadline,
    /// Creating the database file failed.
    #[error("index file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for IndexError {
    fn from(e: rusqlite::Error) -> Self {
        IndexError::Db(DbError(e))
    }
}

/// One connection to an archive's index.
pub struct Index {
    conn: Connection,
    /// Word ids the content index's writer has seen (empty on readers).
    vocabulary: content::Vocabulary,
    /// A second connection to the same file, opened on first need, for the half of a large
    /// read that runs on a thread of its own ([`Index::in_two`]). Lent to that thread while it
    /// runs, so usually here.
    partner: Cell<Option<Connection>>,
}

/// The most of the database file SQLite maps (`PRAGMA mmap_size`): all of any archive's.
const MMAP_SIZE: i64 = 1 << 40;

impl Index {
    /// Opens (creating it with mode 0600 if absent) the index at `path`, in WAL mode with
    /// foreign keys on, and applies any missing migrations.
    pub fn open(path: &Path) -> Result<Index, IndexError> {
        create_private_file(path)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL: readers (server workers) never block the ingest writer nor see half a batch.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            log::warn!("index {}: journal_mode is {mode}, not wal", path.display());
        }
        conn.pragma_update(None, "foreign_keys", true)?;
        // NORMAL is durable enough for flag changes; the ingest commit raises it to FULL
        // (DESIGN §3, see `ingest`).
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Reads through a memory map of the database file instead of pread(2) into SQLite's
        // page cache: the exact check of a text search reads the stored text of every
        // candidate, and its time went two thirds into pread (100,000 messages, TEXT of a word
        // in 41 % of them). Pages still in the WAL are read as before. The map is of the file
        // only; nothing here or in SQLite truncates it (no VACUUM), which is what would make
        // a mapped read fault. SQLite caps the size at SQLITE_MAX_MMAP_SIZE (.cargo/config.toml).
        conn.pragma_update(None, "mmap_size", MMAP_SIZE)?;
        let mut index = Index {
            conn,
            vocabulary: content::Vocabulary::default(),
            partner: Cell::new(None),
        };
        migrate::apply(&mut index.conn)?;
        Ok(index)
    }

    /// Runs `lower` on this connection while `upper` runs on the partner connection, on a thread
    /// of its own, in a read transaction of its own (rolled back after). The halves of one large
    /// read: a word in 41 % of 1,000,000 messages is 410,000 rows out of FTS5 at ~95 ns each,
    /// and SQLite reads one statement on one core.
    ///
    /// The partner's snapshot is not this connection's: it may hold later commits. Its half
    /// stands only if `partner_may` says so in that snapshot (the words' index is not being
    /// rebuilt, say); otherwise, and when there is no partner (one core, an in-memory database,
    /// or the partner or its thread could not be had), `upper` runs here after `lower`.
    pub(crate) fn in_two<L, U: Send>(
        &self,
        lower: impl FnOnce(&Connection) -> Result<L, IndexError>,
        upper: impl Fn(&Connection) -> Result<U, IndexError> + Sync,
        partner_may: fn(&Connection) -> Result<bool, IndexError>,
    ) -> Result<(L, U), IndexError> {
        let Some(partner) = self.partner.take().or_else(|| self.open_partner()) else {
            return Ok((lower(&self.conn)?, upper(&self.conn)?));
        };
        let upper = &upper;
        let (low, high) = std::thread::scope(|scope| {
            let half = std::thread::Builder::new()
                .name("index-half".into())
                .spawn_scoped(scope, move || {
                    let high = partner
                        .unchecked_transaction()
                        .map_err(IndexError::from)
                        .and_then(|_snapshot| match partner_may(&partner)? {
                            true => upper(&partner).map(Some),
                            false => Ok(None),
                        });
                    (partner, high)
                });
            let low = lower(&self.conn);
            let high = match half.map(|h| h.join()) {
                Ok(Ok((partner, high))) => {
                    self.partner.set(Some(partner));
                    high
                }
                // The same as had it run here.
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                Err(e) => {
                    log::warn!("index: no thread for the second half of a read: {e}");
                    Ok(None)
                }
            };
            (low, high)
        });
        let low = low?;
        let high = match high? {
            Some(high) => high,
            None => upper(&self.conn)?,
        };
        Ok((low, high))
    }

    /// The partner connection of [`Index::in_two`], when a second core can run it.
    fn open_partner(&self) -> Option<Connection> {
        static CORES: OnceLock<usize> = OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let path = self.conn.path().filter(|p| !p.is_empty())?;
        if cores < 2 {
            return None;
        }
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(path)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.pragma_update(None, "mmap_size", MMAP_SIZE)?;
            // It only reads, and says so to SQLite too.
            conn.pragma_update(None, "query_only", true)?;
            Ok(conn)
        };
        match open() {
            Ok(conn) => Some(conn),
            Err(e) => {
                // Tried again at the next large read (it may be a passing shortage of file
                // descriptors), but said once: a log line per search would drown the log.
                static SAID: std::sync::atomic::AtomicBool =
                    std::sync::atomic::AtomicBool::new(false);
                if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    log::warn!(
                        "index {path}: no second connection, large reads stay on one core: {e}"
                    );
                }
                None
            }
        }
    }

    /// Sets this connection up for a bulk writer (`import`, `reindex`, the spool's importer).
    ///
    /// A 64 MiB page cache (SQLite's default is 2 MiB): FTS5 reads back the segments it merges
    /// while it writes new ones, and with the default cache those reads go to the kernel each
    /// time (import of 10,000 generated messages: 7 % less CPU on the writer thread, a quarter
    /// less system time). Not for the server's workers, which each have a connection of their
    /// own.
    ///
    /// Statement journals in memory (`temp_store = MEMORY`). An ingest's placing statement
    /// fires triggers, so SQLite journals the pages it changes in case it must undo it alone;
    /// once one such journal passed 64 KiB in a transaction, SQLite wrote every later one to a
    /// temporary file (a `pwrite` per page: 4 % of the writer thread's samples). A statement's
    /// journal holds only the pages that one statement changes.
    pub fn set_up_bulk_writer(&self) -> Result<(), IndexError> {
        self.conn.pragma_update(None, "cache_size", -65536)?;
        self.conn.pragma_update(None, "temp_store", "MEMORY")?;
        Ok(())
    }

    /// The word ids this connection's writes have committed, for threads that prepare content
    /// rows for it ([`ContentRow::resolve_known`]).
    pub fn word_ids(&self) -> WordIds {
        self.vocabulary.committed()
    }

    /// The database file, for another connection to the same index.
    pub fn path(&self) -> Option<std::path::PathBuf> {
        self.conn.path().map(std::path::PathBuf::from)
    }

    /// Has this connection copy its committed WAL pages into the database file itself only once
    /// the WAL holds `pages` pages (SQLite's default: 1,000, i.e. after nearly every ingest
    /// batch, inside its commit). For a bulk writer whose checkpoints another connection runs
    /// ([`Index::checkpoint`]); the limit stays as a backstop should that one fall behind.
    pub fn set_auto_checkpoint(&self, pages: u32) -> Result<(), IndexError> {
        self.conn.pragma_update(None, "wal_autocheckpoint", pages)?;
        Ok(())
    }

    /// Copies the WAL's committed pages into the database file as far as readers allow,
    /// without waiting for anyone (`PRAGMA wal_checkpoint(PASSIVE)`); a writer may go on
    /// meanwhile.
    pub fn checkpoint(&self) -> Result<(), IndexError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// SQLite's own consistency check of the database file: `"ok"` when sound (the crash tests
    /// and `imapvault verify` read it).
    pub fn integrity_check(&self) -> Result<String, IndexError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// The schema version (`PRAGMA user_version`): the number of migrations applied.
    pub fn schema_version(&self) -> Result<i64, IndexError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

/// Creates the database file with mode 0600 if it does not exist (SQLite would use 0644).
fn create_private_file(path: &Path) -> Result<(), IndexError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(IndexError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn mode_name(mode: crate::config::ArchiveMode) -> &'static str {
    match mode {
        crate::config::ArchiveMode::Mailbox => "mailbox-mode",
        crate::config::ArchiveMode::Journal => "journal-mode",
    }
}

/// Seconds since the Unix epoch, now.
fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file operation's failure says which step failed, once, with no source repeating it
    /// (`imapvault`'s error chain would print it again); any other failure is SQLite's text.
    #[test]
    fn a_database_error_names_the_failed_step_once() {
        use rusqlite::ffi;
        let failure = |code| DbError(rusqlite::Error::SqliteFailure(ffi::Error::new(code), None));
        for (code, step) in [
            (ffi::SQLITE_IOERR_WRITE, "(writing a database file failed"),
            (
                ffi::SQLITE_IOERR_SHORT_READ,
                "(reading a database file failed)",
            ),
            (ffi::SQLITE_IOERR_FSYNC, "(fsync of a database file failed)"),
            (
                ffi::SQLITE_IOERR_DIR_FSYNC,
                "(fsync of a database file failed)",
            ),
            (
                ffi::SQLITE_IOERR_TRUNCATE,
                "(truncating a database file failed)",
            ),
            (ffi::SQLITE_FULL, "(the disk is full)"),
        ] {
            let e = failure(code);
            let text = e.to_string();
            assert!(text.contains(step), "{code}: {text}");
            assert_eq!(text.matches('(').count(), 1, "{code}: {text}");
            assert!(std::error::Error::source(&e).is_none(), "{code}");
        }
        let e = failure(ffi::SQLITE_CONSTRAINT_UNIQUE);
        assert!(!e.to_string().contains("failed)"), "{e}");
    }

    /// The memory map is as large as asked: SQLite silently caps `mmap_size` at its compiled
    /// SQLITE_MAX_MMAP_SIZE (2 GiB unless .cargo/config.toml's flag reached the build of the
    /// bundled SQLite), and then a large index is read through pread again, slowly.
    #[test]
    fn the_index_is_read_through_a_memory_map_of_any_size() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.sqlite")).unwrap();
        let mapped: i64 = index
            .conn
            .query_row("PRAGMA mmap_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mapped, MMAP_SIZE);
    }

    /// A bulk writer's connection has the large page cache and in-memory statement journals;
    /// a plain one keeps SQLite's defaults (a server worker's must not hold 64 MiB each).
    #[test]
    fn a_bulk_writer_gets_its_cache_and_memory_journals() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.sqlite")).unwrap();
        let settings = |ix: &Index| -> (i64, i64) {
            let cache = ix.conn.query_row("PRAGMA cache_size", [], |r| r.get(0));
            let temp = ix.conn.query_row("PRAGMA temp_store", [], |r| r.get(0));
            (cache.unwrap(), temp.unwrap())
        };
        assert_eq!(settings(&index), (-2000, 0), "SQLite's defaults");
        index.set_up_bulk_writer().unwrap();
        // temp_store 2 is MEMORY.
        assert_eq!(settings(&index), (-65536, 2));
    }
}
