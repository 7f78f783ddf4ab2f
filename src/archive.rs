//! An archive's data directory and the handles on it (DESIGN §3).
//!
//! Owns the layout, created (mode 0700) on first open:
//!
//! ```text
//! dir/index.sqlite     the SQLite index (+ -wal, -shm)      crate::index
//! dir/blobs/           segment files and the writer lock   crate::store
//! ```
//!
//! An [`Archive`] holds one [`Index`] connection and the [`BlobStore`] behind an `Arc`; worker
//! threads share the store and open their own index connection ([`Archive::open_index`]), since
//! a connection is not shared between threads.

#![deny(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::index::{Index, IndexError};
use crate::store::{BlobStore, StoreError, VerifyReport, DEFAULT_SEGMENT_CAP};

/// Errors opening or checking an archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Creating the data directory failed.
    #[error("archive directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The blob store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An open archive: its index connection and its blob store.
pub struct Archive {
    dir: PathBuf,
    index: Index,
    store: Arc<BlobStore>,
}

impl Archive {
    /// Opens the archive in `dir`, creating the layout if absent.
    pub fn open(dir: &Path) -> Result<Archive, ArchiveError> {
        Archive::with_segment_cap(dir, DEFAULT_SEGMENT_CAP)
    }

    /// As [`Archive::open`], with a blob segment size cap (tests use small ones).
    pub fn with_segment_cap(dir: &Path, segment_cap: u64) -> Result<Archive, ArchiveError> {
        crate::store::create_private_dir(dir).map_err(|source| ArchiveError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let store = Arc::new(BlobStore::with_segment_cap(
            &dir.join("blobs"),
            segment_cap,
        )?);
        let index = Index::open(&dir.join("index.sqlite"))?;
        Ok(Archive {
            dir: dir.to_owned(),
            index,
            store,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This handle's index connection.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// This handle's index connection, for writes.
    pub fn index_mut(&mut self) -> &mut Index {
        &mut self.index
    }

    /// The blob store (clone the `Arc` to share it with worker threads).
    pub fn store(&self) -> &Arc<BlobStore> {
        &self.store
    }

    /// The index and the store at once, for the ingest pipeline (writes the one, reads the
    /// other).
    pub fn parts_mut(&mut self) -> (&mut Index, &BlobStore) {
        (&mut self.index, &self.store)
    }

    /// A new index connection for another thread.
    pub fn open_index(&self) -> Result<Index, ArchiveError> {
        Ok(Index::open(&self.dir.join("index.sqlite"))?)
    }

    /// Checks every blob record against the index (`imapvault verify`).
    pub fn verify(&self) -> Result<VerifyReport, ArchiveError> {
        let committed = self.index.committed_blobs()?;
        Ok(self.store.verify(&committed)?)
    }
}
