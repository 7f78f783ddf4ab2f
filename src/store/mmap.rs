//! The only `unsafe` of the crate: mapping a blob segment read-only (DESIGN §3), and the
//! `flock(2)` call of the writer lock.
//!
//! # Safety contract
//!
//! `memmap2::Mmap::map` is `unsafe` because the mapped bytes may change or vanish under the
//! program while it holds a `&[u8]` into them: if the file is modified, readers see torn data
//! (undefined behaviour for Rust's immutable borrow); if it is truncated, touching a page past
//! the new end raises `SIGBUS`. The store keeps that from happening by construction:
//!
//! 1. **Append-only.** Segment files are only ever opened for writing with `O_APPEND`
//!    (`store::writer`), so a write can only add bytes past the current end of file. A mapping
//!    covers `[0, len at map time)`, bytes that no one writes again.
//! 2. **No truncation anywhere in the crate.** No code calls `set_len`, `ftruncate`, or opens a
//!    segment with `truncate(true)`. A writer that finds a segment longer than its committed end
//!    (a torn tail after a crash, or the bytes of a batch that never committed) leaves it as it is
//!    and starts a new segment: damage is ignored by the readers (checksums, and the index only
//!    points at committed records), never repaired in place.
//! 3. **Sealed segments are never rewritten**, not even by a future compaction: that would write a
//!    new segment and switch the index to it; an old segment would be deleted only when no
//!    process maps it (unlinking a mapped file is safe: the inode lives until the last unmap).
//! 4. Mappings are read-only (`PROT_READ`, `MAP_SHARED`) and are never remapped in place: to see
//!    appended bytes the store maps the file again and keeps the old `Arc<Mmap>` alive while a
//!    [`crate::store::Blob`] borrows it.
//!
//! What the crate cannot prevent: an administrator (or another program) truncating or editing a
//! segment file by hand while a server maps it. Then a read of the lost pages kills the process
//! with `SIGBUS`, and edited bytes are caught by the record checksum only if they change before
//! the check. The fix is operational: segments under `blobs/` are never touched by hand; run
//! `imapvault verify` to find damage instead.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;

use memmap2::Mmap;

/// Maps the whole current length of a segment file, read-only.
pub(super) fn map_segment(file: &File) -> io::Result<Mmap> {
    // SAFETY: see the module contract above: segment files are append-only, never truncated
    // and never rewritten by this crate, so the mapped range stays valid and unchanged for the
    // life of the mapping.
    unsafe { Mmap::map(file) }
}

/// Takes an exclusive `flock(2)` on `file`, blocking until it is free.
///
/// The writer lock (`store::writer`) needs `flock`, an FFI call; it lives here so that the
/// crate's `unsafe` stays in this one file. (With an MSRV of 1.89, `std::fs::File::lock` would
/// replace it.) The lock is released when the file is closed.
pub(super) fn lock_exclusive(file: &File) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    loop {
        // SAFETY: `flock` reads no memory of ours; the descriptor is valid while `file` is
        // borrowed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
