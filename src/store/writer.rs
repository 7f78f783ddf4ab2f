//! Writing to the blob store: the cross-process writer lock and the per-batch writer.
//!
//! One ingest batch (DESIGN §3) runs as:
//!
//! ```text
//! lock = store.lock_writer()          exclusive flock on blobs/lock (other importers wait)
//! head = lock.head_segment()          newest segment on disk
//! w    = lock.writer(head + index's committed end)
//! w.append(..) …                      records go to the end of a segment (O_APPEND)
//! w.sync()                            fdatasync each segment written, fsync the directory
//! index commit                        (the caller) — only now are the blobs visible
//! drop(lock)
//! ```
//!
//! The lock is held from before the writer looks at the segment's end until the index commit,
//! so two processes (`imapvault import` and the server's spool ingester) never both append, and
//! a writer always sees the committed end of its predecessor. Any I/O error latches the store
//! into a failed state ([`StoreError::WriterFailed`]): a failed fsync is never retried.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use super::{mmap, record, BlobRef, BlobStore, StoreError};

/// Buffer of the per-batch writer: records are written in large chunks, synced once per batch.
const WRITE_BUFFER: usize = 1 << 20;

/// The exclusive writer lock of a store, held for one ingest batch (append … sync … index
/// commit). Released on drop.
pub struct WriterLock<'s> {
    store: &'s BlobStore,
    _file: File,
}

/// The newest segment and where its committed data ends, according to the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentEnd {
    /// Segment number.
    pub segment: u32,
    /// End of the last committed record's data (0 if the index knows no record there).
    pub committed_end: u64,
}

impl BlobStore {
    /// Takes the writer lock, waiting for another writer (this or another process) to finish.
    pub fn lock_writer(&self) -> Result<WriterLock<'_>, StoreError> {
        if self.has_failed() {
            return Err(StoreError::WriterFailed);
        }
        let path = self.dir.join("lock");
        let io_err = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io_err)?;
        mmap::lock_exclusive(&file).map_err(io_err)?;
        Ok(WriterLock {
            store: self,
            _file: file,
        })
    }
}

impl WriterLock<'_> {
    /// The newest segment on disk, if any. Ask the index for its committed end, then call
    /// [`WriterLock::writer`].
    pub fn head_segment(&self) -> Result<Option<u32>, StoreError> {
        Ok(self.store.segments()?.last().copied())
    }

    /// A writer for this batch. It continues `head`'s segment only if that is the newest on
    /// disk, its file ends exactly at the committed end and it is under the cap; otherwise it
    /// starts a new segment (never truncating a torn or uncommitted tail: see `mmap`).
    pub fn writer(&self, head: Option<SegmentEnd>) -> Result<BatchWriter<'_>, StoreError> {
        let store = self.store;
        if store.has_failed() {
            return Err(StoreError::WriterFailed);
        }
        let newest = self.head_segment()?;
        if let (Some(h), Some(n)) = (head, newest) {
            if h.segment == n && h.committed_end < store.segment_cap {
                let path = store.segment_path(n);
                let file = OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .map_err(|source| StoreError::Io {
                        path: path.clone(),
                        source,
                    })?;
                let len = file
                    .metadata()
                    .map_err(|source| StoreError::Io { path, source })?
                    .len();
                if len == h.committed_end {
                    return Ok(BatchWriter::new(
                        store,
                        n,
                        file,
                        len,
                        SegmentOrigin::Continued,
                    ));
                }
                log::warn!(
                    "segment {n}: {len} bytes on disk, {} committed; leaving the tail, starting \
                     a new segment",
                    h.committed_end
                );
            }
        }
        let next = match newest {
            None => 1,
            Some(n) => n.checked_add(1).ok_or(StoreError::SegmentsExhausted)?,
        };
        let file = create_segment(store, next)?;
        Ok(BatchWriter::new(
            store,
            next,
            file,
            0,
            SegmentOrigin::Created,
        ))
    }
}

/// Whether the writer's current segment file was created by this batch (then the directory
/// must be synced too, or the new file's name may not survive a crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SegmentOrigin {
    Continued,
    Created,
}

/// Appends records for one batch. Borrowing the [`WriterLock`] ties it to the lock.
pub struct BatchWriter<'l> {
    store: &'l BlobStore,
    segment: u32,
    file: File,
    /// Records not yet written to `file`. Our own buffer rather than a `BufWriter`, so that a
    /// writer dropped without `sync` (an aborted batch) writes nothing more on drop.
    buf: Vec<u8>,
    /// Where the next record starts: the segment's length once `buf` is written.
    pos: u64,
    /// Where the records not yet synced start in the segment.
    unsynced_from: u64,
    created_segment: bool,
    failed: bool,
}

impl<'l> BatchWriter<'l> {
    fn new(
        store: &'l BlobStore,
        segment: u32,
        file: File,
        pos: u64,
        origin: SegmentOrigin,
    ) -> Self {
        BatchWriter {
            store,
            segment,
            file,
            buf: Vec::with_capacity(WRITE_BUFFER),
            pos,
            unsynced_from: pos,
            created_segment: origin == SegmentOrigin::Created,
            failed: false,
        }
    }

    /// Appends one record holding `data`; it is durable only after [`BatchWriter::sync`] and
    /// visible only after the index commits its [`BlobRef`].
    pub fn append(&mut self, data: &[u8]) -> Result<BlobRef, StoreError> {
        self.check_live()?;
        let need = record::HEADER_LEN + data.len() as u64;
        if self.pos > 0 && self.pos.saturating_add(need) > self.store.segment_cap {
            self.roll()?;
        }
        self.buf.extend_from_slice(&record::header(data));
        self.buf.extend_from_slice(data);
        if self.buf.len() >= WRITE_BUFFER {
            self.write_out()?;
        }
        let r = BlobRef {
            segment: self.segment,
            offset: self.pos + record::HEADER_LEN,
            len: data.len() as u64,
        };
        self.pos += need;
        Ok(r)
    }

    /// Makes every record appended so far durable: flush, `fdatasync`, and `fsync` of the
    /// directory if this batch created a segment file.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.check_live()?;
        self.write_out()?;
        let res = self.file.sync_data();
        self.latch(res, self.store.segment_path(self.segment))?;
        drop_from_page_cache(&self.file, self.unsynced_from, self.pos);
        self.unsynced_from = self.pos;
        if self.created_segment {
            let dir = self.store.dir.clone();
            let res = File::open(&dir).and_then(|d| d.sync_all());
            self.latch(res, dir)?;
            self.created_segment = false;
        }
        Ok(())
    }

    /// Seals the current segment (synced now, never written again) and starts the next.
    fn roll(&mut self) -> Result<(), StoreError> {
        self.sync()?;
        let next = self
            .segment
            .checked_add(1)
            .ok_or(StoreError::SegmentsExhausted)?;
        let file = match create_segment(self.store, next) {
            Ok(f) => f,
            Err(e) => {
                self.failed = true;
                self.store.latch_failed();
                return Err(e);
            }
        };
        self.file = file;
        self.segment = next;
        self.pos = 0;
        self.unsynced_from = 0;
        self.created_segment = true;
        Ok(())
    }

    /// Writes the buffered records to the end of the segment file.
    fn write_out(&mut self) -> Result<(), StoreError> {
        let res = self.file.write_all(&self.buf);
        self.buf.clear();
        self.latch(res, self.store.segment_path(self.segment))
    }

    fn check_live(&self) -> Result<(), StoreError> {
        if self.failed || self.store.has_failed() {
            return Err(StoreError::WriterFailed);
        }
        Ok(())
    }

    /// Turns an I/O error into a latched failure (DESIGN §3; see the module docs).
    fn latch(&mut self, res: io::Result<()>, path: PathBuf) -> Result<(), StoreError> {
        res.map_err(|source| {
            self.failed = true;
            self.store.latch_failed();
            StoreError::Io { path, source }
        })
    }
}

/// Tells the kernel that the records in `from..to` of `file`, synced, need not stay in the page
/// cache. An import writes gigabytes nobody reads back soon; kept, they push the index out of
/// memory, and on a large archive every new page of the page cache was allocated by reclaiming
/// another, which made the blobs' `write` the import's largest cost. Advice only: a failure
/// changes nothing but the cache, and pages a reader has mapped stay.
fn drop_from_page_cache(file: &File, from: u64, to: u64) {
    let Some(len) = to.checked_sub(from).and_then(std::num::NonZeroU64::new) else {
        return;
    };
    if let Err(e) = rustix::fs::fadvise(file, from, Some(len), rustix::fs::Advice::DontNeed) {
        log::debug!("store: fadvise(DONTNEED) failed: {e}");
    }
}

/// Creates segment `n` (it must not exist: `create_new`), append-only, mode 0600.
fn create_segment(store: &BlobStore, n: u32) -> Result<File, StoreError> {
    let path = store.segment_path(n);
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| StoreError::Io { path, source })?;
    Ok(file)
}
