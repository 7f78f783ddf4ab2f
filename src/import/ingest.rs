//! The ingest pipeline (DESIGN §3), in batches: canonicalise, hash, analyse; then per batch
//! take the blob writer lock → append new blobs → `fdatasync` → one index transaction (message
//! rows, content-index rows, UIDs) → unlock.
//!
//! The blob is the message with CRLF line ends ([`mime::canonical_line_ends`]), exactly the
//! bytes IMAP sends for `BODY[]`, so RFC822.SIZE is the blob's length and FETCH copies it
//! straight from the map. The SHA-256 of those bytes addresses the message: the same message is
//! stored once however many times or places it is imported, and the same message into the same
//! mailbox twice is a duplicate (the index's `UNIQUE (mailbox, message)`).

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::ImportError;
use crate::index::{
    Index, IngestMessage, InternalDate, JournalEntry, JournalOutcome, MailboxId, Placed, Placement,
    PlacementMessage,
};
use crate::mime::journal::Participant;
use crate::mime::{self, Analysis};
use crate::store::{BatchWriter, BlobStore, SegmentEnd, WriterLock};

/// A batch is flushed at this many messages…
const BATCH_MESSAGES: usize = 1000;
/// …or this many bytes of messages, whichever comes first.
const BATCH_BYTES: usize = 64 << 20;

/// A message waiting for its batch.
struct Pending {
    sha256: [u8; 32],
    bytes: Vec<u8>,
    analysis: Analysis,
    internal_date: InternalDate,
    destination: Destination,
}

/// Where a pending message goes.
enum Destination {
    /// Mailbox mode: into this mailbox with these flags.
    Mailbox { mailbox: MailboxId, flags: String },
    /// Journal mode: into the journal, shown to these participants.
    Journal { participants: Vec<Participant> },
}

/// What flushed batches did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Messages added to a mailbox (mailbox mode) or new to the journal (journal mode).
    pub imported: u64,
    /// Messages the mailbox (or the journal) already held.
    pub duplicates: u64,
}

/// Collects messages and writes them in batches.
pub struct Ingester<'a> {
    index: &'a mut Index,
    store: &'a BlobStore,
    pending: Vec<Pending>,
    pending_bytes: usize,
}

impl<'a> Ingester<'a> {
    /// An ingester writing to this index and store.
    pub fn new(index: &'a mut Index, store: &'a BlobStore) -> Self {
        Ingester {
            index,
            store,
            pending: Vec::new(),
            pending_bytes: 0,
        }
    }

    /// The index, to create mailboxes between messages.
    pub fn index(&mut self) -> &mut Index {
        self.index
    }

    /// Queues one message (raw bytes as the source has them). `internal_date` `None` means the
    /// source has none: the `Date:` header is used, else the time of import. Returns what the
    /// batch did if this message filled it.
    pub fn add(
        &mut self,
        raw: &[u8],
        mailbox: MailboxId,
        flags: String,
        internal_date: Option<InternalDate>,
    ) -> Result<Option<Flushed>, ImportError> {
        let bytes = mime::canonical_line_ends(raw).into_owned();
        self.queue(
            bytes,
            Destination::Mailbox { mailbox, flags },
            internal_date,
        )
    }

    /// Queues one journal message (journal mode): a journal report is unwrapped to the original
    /// it carries, which is what is stored; the participants come from the report's envelope
    /// lines or the message's header fields ([`mime::journal`]).
    pub fn add_journal(
        &mut self,
        raw: &[u8],
        internal_date: Option<InternalDate>,
    ) -> Result<Option<Flushed>, ImportError> {
        let canonical = mime::canonical_line_ends(raw);
        let journaled = mime::journal::unwrap(&canonical);
        let participants = journaled.participants;
        let bytes = journaled.message.into_owned();
        self.queue(bytes, Destination::Journal { participants }, internal_date)
    }

    fn queue(
        &mut self,
        bytes: Vec<u8>,
        destination: Destination,
        internal_date: Option<InternalDate>,
    ) -> Result<Option<Flushed>, ImportError> {
        let sha256: [u8; 32] = Sha256::digest(&bytes).into();
        let analysis = mime::analyze(&bytes);
        let internal_date = internal_date.unwrap_or_else(|| InternalDate {
            unix: analysis.sent_date.unwrap_or_else(now_unix),
            tz_minutes: 0,
        });
        self.pending_bytes += bytes.len();
        self.pending.push(Pending {
            sha256,
            bytes,
            analysis,
            internal_date,
            destination,
        });
        if self.pending.len() >= BATCH_MESSAGES || self.pending_bytes >= BATCH_BYTES {
            return self.flush().map(Some);
        }
        Ok(None)
    }

    /// Writes the pending batch: blobs appended and synced, then one index commit.
    pub fn flush(&mut self) -> Result<Flushed, ImportError> {
        if self.pending.is_empty() {
            return Ok(Flushed::default());
        }
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;

        // Held until the index commit, so the next writer sees our committed end.
        let lock = self.store.lock_writer()?;
        // Opened at the first new blob: a batch of duplicates touches no segment.
        let mut writer = None;
        let mut new: Vec<IngestMessage<'_>> = Vec::new();
        let mut placements = Vec::with_capacity(pending.len());
        let mut journal = Vec::new();
        // Within a batch, the same content is appended once.
        let mut in_batch: HashMap<[u8; 32], PlacementMessage> = HashMap::new();
        for p in &pending {
            let message = match in_batch.get(&p.sha256) {
                Some(&m) => m,
                None => {
                    let m = match self.index.find_message(&p.sha256)? {
                        Some(id) => PlacementMessage::Stored(id),
                        None => {
                            let w = match &mut writer {
                                Some(w) => w,
                                None => writer.insert(open_writer(&lock, self.index)?),
                            };
                            let blob = w.append(&p.bytes)?;
                            // Extracted only for messages new to the archive (not duplicates).
                            let (text, preview) = mime::text::extract_with_preview(&p.bytes);
                            let text = text.folded();
                            new.push(IngestMessage {
                                sha256: p.sha256,
                                blob,
                                internal_date: p.internal_date,
                                envelope: &p.analysis.envelope,
                                body_structure: &p.analysis.body_structure,
                                body: &p.analysis.body,
                                sent_date: p.analysis.sent_date,
                                sent_day: p.analysis.sent_day,
                                has_attachment: p.analysis.has_attachment,
                                preview,
                                text,
                                sort: mime::sort::keys(&p.bytes),
                            });
                            PlacementMessage::New(new.len() - 1)
                        }
                    };
                    in_batch.insert(p.sha256, m);
                    m
                }
            };
            match &p.destination {
                Destination::Mailbox { mailbox, flags } => placements.push(Placement {
                    mailbox: *mailbox,
                    message,
                    flags: flags.clone(),
                }),
                Destination::Journal { participants } => journal.push(JournalEntry {
                    message,
                    participants: participants.clone(),
                }),
            }
        }
        crash_point("appended");
        // DESIGN §3: blobs durable before the index names them.
        if let Some(mut w) = writer {
            w.sync()?;
        }
        crash_point("synced");
        let committed = self.index.commit_ingest(&new, &placements, &journal)?;
        crash_point("committed");
        drop(lock);

        let mut done = Flushed::default();
        for p in committed.placed {
            match p {
                Placed::Added { .. } => done.imported += 1,
                Placed::Duplicate { .. } => done.duplicates += 1,
            }
        }
        for j in committed.journaled {
            match j {
                JournalOutcome::New(_) => done.imported += 1,
                JournalOutcome::Known(_) => done.duplicates += 1,
            }
        }
        Ok(done)
    }
}

/// The batch's blob writer: continues the newest segment from the end the index committed.
fn open_writer<'l>(
    lock: &'l WriterLock<'_>,
    index: &Index,
) -> Result<BatchWriter<'l>, ImportError> {
    let head = match lock.head_segment()? {
        Some(segment) => Some(SegmentEnd {
            segment,
            committed_end: index.segment_end(segment)?,
        }),
        None => None,
    };
    Ok(lock.writer(head)?)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// For the crash tests (issue 6): when `IMAPVAULT_CRASH_AT` names this step of DESIGN §3's
/// order (`appended`, `synced`, `committed`), the process dies on the spot, as under kill -9:
/// no destructor runs, nothing more is written.
fn crash_point(step: &str) {
    if std::env::var_os("IMAPVAULT_CRASH_AT").is_some_and(|v| v == step) {
        std::process::abort();
    }
}
