//! The blob store: append-only, checksummed, content-addressed segment files (DESIGN §3).
//!
//! Owns the directory `blobs/` of an archive: segment files `seg-000001.blob`, `seg-000002.blob`,
//! … (record format in [`record`]) and the writer lock file `blobs/lock`. It knows nothing of
//! IMAP or SQL: content addressing (SHA-256 of the canonical bytes → [`BlobRef`]) and the
//! committed end of each segment live in the index, which is the only record of what is
//! committed. The store's rules:
//!
//! - A record is written once, at the end of a segment, and never changed; nothing is truncated
//!   (the mmap contract in [`mmap`] depends on it).
//! - A writer continues the newest segment only if its length equals the committed end the index
//!   gives; otherwise (torn tail after a crash, bytes of a batch that never committed) it starts
//!   a new segment. A segment also rolls over at a size cap.
//! - Every read checks the record's magic, length and CRC-32; damage is an error, never served.
//! - Readers in other processes see records appended after they opened the store: a read past
//!   the end of the current map maps the segment again.
//!
//! Not here: deciding whether a message is a duplicate (index), the ingest order (import).

#![deny(unsafe_code)]

mod mmap;
pub mod record;
mod verify;
mod writer;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::ops::{Deref, Range};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use memmap2::Mmap;

pub use record::Damage;
pub use verify::{DamagedRecord, TornTail, VerifyReport};
pub use writer::{BatchWriter, SegmentEnd, WriterLock};

/// Default segment size cap: a segment rolls over once it would grow past 1 GiB.
pub const DEFAULT_SEGMENT_CAP: u64 = 1 << 30;

/// Where a blob's bytes are: the data of one record (not its header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobRef {
    /// Segment number (`seg-{segment:06}.blob`), from 1.
    pub segment: u32,
    /// Offset of the first data byte in the segment (the header is the 16 bytes before it).
    pub offset: u64,
    /// Number of data bytes; for a message, its RFC822.SIZE.
    pub len: u64,
}

/// Errors of the blob store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error on a store file.
    #[error("blob store {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A record that the index points at is damaged; its bytes are not served.
    #[error("damaged blob record in segment {segment} at data offset {offset}: {damage}")]
    Damaged {
        /// Segment number.
        segment: u32,
        /// Data offset of the record.
        offset: u64,
        /// What is wrong.
        damage: Damage,
    },
    /// A write or sync failed earlier in this process; the store refuses further writes, since a
    /// failed fsync cannot be retried safely (the kernel may have dropped the dirty pages).
    #[error("blob store writer failed earlier in this process; restart to write again")]
    WriterFailed,
    /// A blob too large for this platform's address space.
    #[error("blob of {0} bytes does not fit in memory on this platform")]
    TooLarge(u64),
    /// Segment numbers exhausted (u32), which needs 4 billion segments.
    #[error("no segment numbers left")]
    SegmentsExhausted,
}

/// A blob's bytes: a slice of a read-only map of its segment, checked against the record's
/// checksum when it was read. Keeps that map alive while it lives.
#[derive(Clone)]
pub struct Blob {
    map: Arc<Mmap>,
    range: Range<usize>,
}

impl Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map[self.range.clone()]
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("len", &self.range.len())
            .finish()
    }
}

/// The blob store of one archive. Shared by reference (`Arc`) among the server's workers:
/// reading takes `&self`; writing goes through [`BlobStore::lock_writer`].
pub struct BlobStore {
    dir: PathBuf,
    segment_cap: u64,
    /// One map per segment, replaced by a longer one when a read runs past its end.
    maps: RwLock<HashMap<u32, Arc<Mmap>>>,
    /// Latched by a failed write or sync (see [`StoreError::WriterFailed`]).
    failed: AtomicBool,
}

impl BlobStore {
    /// Opens (creating if absent, mode 0700) the store in `dir`, with the default segment cap.
    pub fn open(dir: &Path) -> Result<BlobStore, StoreError> {
        BlobStore::with_segment_cap(dir, DEFAULT_SEGMENT_CAP)
    }

    /// As [`BlobStore::open`], with a segment size cap (small caps make roll-over testable).
    /// A record larger than the cap gets a segment of its own.
    pub fn with_segment_cap(dir: &Path, segment_cap: u64) -> Result<BlobStore, StoreError> {
        create_private_dir(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok(BlobStore {
            dir: dir.to_owned(),
            segment_cap,
            maps: RwLock::new(HashMap::new()),
            failed: AtomicBool::new(false),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the blob at `r`, checking magic, length and checksum first.
    pub fn read(&self, r: BlobRef) -> Result<Blob, StoreError> {
        let damaged = |damage| StoreError::Damaged {
            segment: r.segment,
            offset: r.offset,
            damage,
        };
        let start = r
            .offset
            .checked_sub(record::HEADER_LEN)
            .ok_or(damaged(Damage::BadMagic))?;
        let end = r
            .offset
            .checked_add(r.len)
            .ok_or(StoreError::TooLarge(r.len))?;
        if usize::try_from(end).is_err() {
            return Err(StoreError::TooLarge(r.len));
        }
        let map = self.map_covering(r.segment, end)?;
        let range = record::check(&map, start, Some(r.len)).map_err(damaged)?;
        Ok(Blob { map, range })
    }

    /// A map of `segment` that covers `[0, end)` if the file is that long: the cached one, or a
    /// new map of the file's current length (another process may have appended since).
    fn map_covering(&self, segment: u32, end: u64) -> Result<Arc<Mmap>, StoreError> {
        {
            // A poisoned lock only means another reader panicked; the map table is still valid.
            let maps = self.maps.read().unwrap_or_else(|e| e.into_inner());
            if let Some(m) = maps.get(&segment) {
                if m.len() as u64 >= end {
                    return Ok(Arc::clone(m));
                }
            }
        }
        let path = self.segment_path(segment);
        let io_err = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        if len < end {
            // The index points past the end of the file: the segment lost bytes.
            return Err(StoreError::Damaged {
                segment,
                offset: end.saturating_sub(1),
                damage: Damage::Truncated,
            });
        }
        let map = Arc::new(mmap::map_segment(&file).map_err(io_err)?);
        let mut maps = self.maps.write().unwrap_or_else(|e| e.into_inner());
        let slot = maps.entry(segment).or_insert_with(|| Arc::clone(&map));
        if slot.len() < map.len() {
            *slot = Arc::clone(&map);
        }
        Ok(map)
    }

    /// The path of segment `n`.
    pub fn segment_path(&self, n: u32) -> PathBuf {
        self.dir.join(format!("seg-{n:06}.blob"))
    }

    /// The segment numbers present on disk, ascending.
    pub fn segments(&self) -> Result<Vec<u32>, StoreError> {
        let io_err = |source| StoreError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err)? {
            let name = entry.map_err(io_err)?.file_name();
            if let Some(n) = parse_segment_name(&name.to_string_lossy()) {
                out.push(n);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    fn latch_failed(&self) {
        self.failed.store(true, Ordering::SeqCst);
    }

    fn has_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
}

/// `seg-000042.blob` → 42.
fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".blob")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&n| n > 0)
}

/// `mkdir -p` with mode 0700 for what it creates: the archive holds users' mail.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
