//! The ingest pipeline (DESIGN §3), in batches: canonicalise, hash, analyse, extract the
//! searchable text; then per batch take the blob writer lock → append new blobs → `fdatasync`
//! → one index transaction (message rows, content-index rows, UIDs) → unlock.
//!
//! The first four steps are pure CPU work on one message at a time, so they run on
//! [`prepare_threads`] worker threads while the caller's thread reads the next messages and
//! writes batches (the SQLite transaction, which only one thread can do). Messages are dealt
//! to the workers in turn and their results taken back in the same turn, so a batch holds
//! them in input order and UIDs follow it. The order of DESIGN §3 is untouched: it is the
//! caller's thread that appends, syncs and commits, one batch at a time.
//!
//! The blob is the message with CRLF line ends ([`mime::canonical_line_ends`]), exactly the
//! bytes IMAP sends for `BODY[]`, so RFC822.SIZE is the blob's length and FETCH copies it
//! straight from the map. The SHA-256 of those bytes addresses the message: the same message is
//! stored once however many times or places it is imported, and the same message into the same
//! mailbox twice is a duplicate (the index's `UNIQUE (mailbox, message)`).

use std::collections::{HashMap, VecDeque};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use sha2::{Digest, Sha256};

use super::ImportError;
use crate::index::{
    ContentRow, Index, IngestMessage, InternalDate, JournalEntry, JournalOutcome, MailboxId,
    Placed, Placement, PlacementMessage, WordIds,
};
use crate::mime::journal::Participant;
use crate::mime::sort::SortKeys;
use crate::mime::{self, Analysis};
use crate::store::{BatchWriter, BlobStore, SegmentEnd, StoreError, WriterLock};

/// A batch is flushed at this many messages…
const BATCH_MESSAGES: usize = 1000;
/// …or this many bytes of messages, whichever comes first.
const BATCH_BYTES: usize = 64 << 20;

/// Messages handed to the workers and not yet taken back, at most…
const OUT_MESSAGES: usize = 3 * BATCH_MESSAGES;
/// …and bytes of them: bounded whatever the messages' sizes, and enough that the workers are
/// seldom stopped by it while the caller's thread waits on the disk (a batch's commit, the
/// blobs' sync). At one batch's worth, 50,000 messages into a 1M archive took 10.0–11.9 s;
/// at three, 0.14–0.84 s less in each of six alternating pairs (~4.5 %), for ~200 MiB more
/// peak RSS (1.39 → 1.60 GB, most of it the index's map). Into a small archive, where the
/// commits wait less, it made no clear difference (100k: 17.83 / 17.27 / 19.68 s against
/// 18.04 / 17.40 / 19.01).
const OUT_BYTES: usize = 3 * BATCH_BYTES;

/// A message as the source gave it, for a worker.
struct Job {
    raw: Vec<u8>,
    kind: JobKind,
    internal_date: Option<InternalDate>,
}

/// What a job's message is.
enum JobKind {
    /// Mailbox mode: for this mailbox, with these flags.
    Mailbox { mailbox: MailboxId, flags: String },
    /// Journal mode: a journal message, perhaps a report to unwrap.
    Journal,
}

/// A message waiting for its batch: what a worker made of a [`Job`]. What is derived from the
/// text (content row, preview, sort keys) is computed for every message, though a duplicate
/// of a stored message does not use it (only the index can tell, at the batch's commit).
struct Pending {
    sha256: [u8; 32],
    bytes: Vec<u8>,
    analysis: Analysis,
    content: ContentRow,
    preview: String,
    sort: SortKeys,
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

/// Everything done to a message before its batch (pure CPU work; runs on a worker). `word_ids`
/// are the words the index is known to have: their tokens are made here, off the writer.
fn prepare(job: Job, word_ids: &WordIds) -> Pending {
    let canonical = mime::canonical_line_ends(&job.raw);
    let (bytes, destination) = match job.kind {
        JobKind::Mailbox { mailbox, flags } => (
            canonical.into_owned(),
            Destination::Mailbox { mailbox, flags },
        ),
        JobKind::Journal => {
            let journaled = mime::journal::unwrap(&canonical);
            let participants = journaled.participants;
            (
                journaled.message.into_owned(),
                Destination::Journal { participants },
            )
        }
    };
    let sha256: [u8; 32] = Sha256::digest(&bytes).into();
    let analysis = mime::analyze(&bytes);
    let (text, preview) = mime::text::extract_with_preview(&bytes);
    let mut content = ContentRow::new(text.folded());
    content.resolve_known(word_ids);
    let sort = mime::sort::keys(&bytes);
    let internal_date = job.internal_date.unwrap_or_else(|| InternalDate {
        unix: analysis.sent_date.unwrap_or_else(now_unix),
        tz_minutes: 0,
    });
    Pending {
        sha256,
        bytes,
        analysis,
        content,
        preview,
        sort,
        internal_date,
        destination,
    }
}

/// Worker threads for [`prepare`]: one per CPU (the caller's thread mostly waits on SQLite and
/// the disk meanwhile), at most 4.
pub(super) fn prepare_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// How much less the preparing threads ask of the CPU than the caller's thread: their nice
/// value, raised on Linux (where it is per thread) by this much. The caller's thread writes the
/// batches and sets an import's pace; the workers only feed it and keep a full queue of work
/// ahead, so when it and they all want the two cores of the bench machine, it should have one.
/// At equal priority the scheduler took it off the CPU for ~0.18 s of a 2.3 s import
/// (perf sched, 10,000 messages). On a machine that is busy otherwise, an import (and the
/// server's spool importer) leaves more of the CPU to everything else.
const PREPARE_NICENESS: i32 = 10;

/// Lowers the calling thread's priority by [`PREPARE_NICENESS`] (Linux only: elsewhere the
/// nice value belongs to the whole process). A failure only costs speed.
fn lower_own_priority() {
    #[cfg(target_os = "linux")]
    {
        let current = rustix::process::getpriority_process(None).unwrap_or(0);
        if let Err(e) = rustix::process::setpriority_process(None, current + PREPARE_NICENESS) {
            log::debug!("import: preparing thread keeps its priority: {e}");
        }
    }
}

/// One worker: its job queue, its result queue, its thread.
struct Worker {
    jobs: Option<Sender<Job>>,
    results: Receiver<Pending>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn start(word_ids: WordIds) -> std::io::Result<Worker> {
        // Unbounded: `Workers` bounds what is out.
        let (jobs, job_rx) = crossbeam_channel::unbounded::<Job>();
        let (result_tx, results) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("ingest-prepare".into())
            .spawn(move || {
                lower_own_priority();
                for job in job_rx {
                    if result_tx.send(prepare(job, &word_ids)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Worker {
            jobs: Some(jobs),
            results,
            thread: Some(thread),
        })
    }

    /// The next result, waiting for it. A worker only stops early by panicking (a bug): the
    /// panic goes on in the caller's thread.
    fn take(&mut self) -> Pending {
        match self.results.recv() {
            Ok(p) => p,
            Err(_) => match self.thread.take().map(JoinHandle::join) {
                Some(Err(panic)) => std::panic::resume_unwind(panic),
                _ => unreachable!("an ingest worker stopped without panicking"),
            },
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the job queue ends the thread's loop.
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Ingester<'_> {
    fn drop(&mut self) {
        // The writer's connection checkpoints by itself again, as SQLite does by default.
        if self.checkpointer.take().is_some() {
            if let Err(e) = self.index.set_auto_checkpoint(DEFAULT_CHECKPOINT_PAGES) {
                log::warn!("import: {e}");
            }
        }
    }
}

/// SQLite's default `wal_autocheckpoint`.
const DEFAULT_CHECKPOINT_PAGES: u32 = 1000;

/// WAL pages at which the ingest's own connection checkpoints anyway (SQLite's default is
/// 1,000): 64 MiB, several batches, should the [`Checkpointer`] fall behind.
const BACKSTOP_CHECKPOINT_PAGES: u32 = 16_384;

/// A thread with its own connection that checkpoints the WAL after each commit, so that copying
/// a batch's pages into the database file (and its fsync) is not done by the writing thread
/// inside its next commit: that thread is what limits an import.
struct Checkpointer {
    /// One pending nudge at most: a checkpoint covers every commit before it.
    nudges: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread, and raises the writer's own checkpoint limit to the backstop; None
    /// (the writer checkpoints as before) when the connection or thread cannot be had.
    fn start(index: &Index) -> Option<Checkpointer> {
        let path = index.path()?;
        let own = match Index::open(&path) {
            Ok(ix) => ix,
            Err(e) => {
                log::warn!("import: no checkpoint connection, the writer checkpoints: {e}");
                return None;
            }
        };
        let (nudges, nudged) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("ingest-checkpoint".into())
            .spawn(move || {
                for () in nudged {
                    if let Err(e) = own.checkpoint() {
                        log::warn!("import: checkpoint: {e}");
                    }
                }
            })
            .ok()?;
        if let Err(e) = index.set_auto_checkpoint(BACKSTOP_CHECKPOINT_PAGES) {
            log::warn!("import: {e}");
        }
        Some(Checkpointer {
            nudges: Some(nudges),
            thread: Some(thread),
        })
    }

    /// A commit happened: checkpoint soon (a nudge already pending covers it).
    fn nudge(&self) {
        if let Some(n) = &self.nudges {
            let _ = n.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the loop after any pending checkpoint.
        self.nudges = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The workers, dealt jobs in turn.
struct Workers {
    workers: Vec<Worker>,
    /// The worker and raw size of each message handed out and not yet taken back, oldest first.
    out: VecDeque<(usize, usize)>,
    out_bytes: usize,
    next: usize,
}

impl Workers {
    fn start(n: usize, word_ids: &WordIds) -> std::io::Result<Workers> {
        Ok(Workers {
            workers: (0..n.max(1))
                .map(|_| Worker::start(word_ids.clone()))
                .collect::<Result<_, _>>()?,
            out: VecDeque::new(),
            out_bytes: 0,
            next: 0,
        })
    }

    /// Whether as much is out as may be.
    fn full(&self) -> bool {
        self.out.len() >= OUT_MESSAGES || self.out_bytes >= OUT_BYTES
    }

    /// Hands a job to the next worker.
    fn give(&mut self, job: Job) {
        let len = job.raw.len();
        let w = &mut self.workers[self.next];
        if let Some(Err(_)) = w.jobs.as_ref().map(|j| j.send(job)) {
            // The thread is gone: `take` reports why.
            let _ = w.take();
        }
        self.out.push_back((self.next, len));
        self.out_bytes += len;
        self.next = (self.next + 1) % self.workers.len();
    }

    /// The oldest message handed out, prepared: waiting for it if `wait`, else only if it is
    /// ready. None when none is out (or, not waiting, the oldest is not ready).
    fn take(&mut self, wait: bool) -> Option<Pending> {
        let &(w, len) = self.out.front()?;
        let p = if wait {
            self.workers[w].take()
        } else {
            self.workers[w].results.try_recv().ok()?
        };
        self.out.pop_front();
        self.out_bytes -= len;
        Some(p)
    }
}

/// What flushed batches did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Messages added to a mailbox (mailbox mode) or new to the journal (journal mode).
    pub imported: u64,
    /// Messages the mailbox (or the journal) already held.
    pub duplicates: u64,
}

impl Flushed {
    fn add(&mut self, other: Flushed) {
        self.imported += other.imported;
        self.duplicates += other.duplicates;
    }
}

/// Collects messages and writes them in batches.
pub struct Ingester<'a> {
    index: &'a mut Index,
    store: &'a BlobStore,
    /// Started at the first message.
    workers: Option<Workers>,
    /// Started with the workers (None if its connection could not be opened).
    checkpointer: Option<Checkpointer>,
    pending: Vec<Pending>,
    pending_bytes: usize,
}

impl<'a> Ingester<'a> {
    /// An ingester writing to this index and store.
    pub fn new(index: &'a mut Index, store: &'a BlobStore) -> Self {
        if let Err(e) = index.set_up_bulk_writer() {
            log::warn!("import: page cache and temporary store left at their defaults: {e}");
        }
        Ingester {
            index,
            store,
            workers: None,
            checkpointer: None,
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
    /// batches written meanwhile did, if any were (a batch is written once its messages are
    /// prepared, so it may end some messages before this one).
    pub fn add(
        &mut self,
        raw: Vec<u8>,
        mailbox: MailboxId,
        flags: String,
        internal_date: Option<InternalDate>,
    ) -> Result<Option<Flushed>, ImportError> {
        self.queue(Job {
            raw,
            kind: JobKind::Mailbox { mailbox, flags },
            internal_date,
        })
    }

    /// Queues one journal message (journal mode): a journal report is unwrapped to the original
    /// it carries, which is what is stored; the participants come from the report's envelope
    /// lines or the message's header fields ([`mime::journal`]).
    pub fn add_journal(
        &mut self,
        raw: Vec<u8>,
        internal_date: Option<InternalDate>,
    ) -> Result<Option<Flushed>, ImportError> {
        self.queue(Job {
            raw,
            kind: JobKind::Journal,
            internal_date,
        })
    }

    /// Hands `job` to the workers, first taking back what is ready. A batch is written only
    /// while as much is out as may be: the workers then have a full queue of messages to
    /// prepare while this thread writes. (Writing as soon as the batch filled left them idle
    /// every other batch: the batch had taken every result they had, and nothing new was
    /// handed out until it was written.)
    fn queue(&mut self, job: Job) -> Result<Option<Flushed>, ImportError> {
        if self.workers.is_none() {
            let w = Workers::start(prepare_threads(), &self.index.word_ids())
                .map_err(ImportError::Thread)?;
            self.workers = Some(w);
            self.checkpointer = Checkpointer::start(self.index);
        }
        let mut done: Option<Flushed> = None;
        loop {
            while !self.batch_full() {
                match self.workers.as_mut().and_then(|w| w.take(false)) {
                    Some(p) => self.push(p),
                    None => break,
                }
            }
            if !self.workers.as_ref().is_some_and(Workers::full) {
                break;
            }
            if self.batch_full() {
                let d = self.write_batch()?;
                done.get_or_insert_with(Flushed::default).add(d);
            } else if let Some(p) = self.workers.as_mut().and_then(|w| w.take(true)) {
                self.push(p);
            }
        }
        if let Some(w) = self.workers.as_mut() {
            w.give(job);
        }
        Ok(done)
    }

    /// Adds a prepared message to the batch.
    fn push(&mut self, p: Pending) {
        self.pending_bytes += p.bytes.len();
        self.pending.push(p);
    }

    /// Whether the batch is as large as a batch may be.
    fn batch_full(&self) -> bool {
        self.pending.len() >= BATCH_MESSAGES || self.pending_bytes >= BATCH_BYTES
    }

    /// Writes every message queued so far, in batches.
    pub fn flush(&mut self) -> Result<Flushed, ImportError> {
        let mut done = Flushed::default();
        loop {
            // A batch `queue` left full is written before anything more joins it.
            if self.batch_full() {
                done.add(self.write_batch()?);
            }
            match self.workers.as_mut().and_then(|w| w.take(true)) {
                Some(p) => self.push(p),
                None => break,
            }
        }
        done.add(self.write_batch()?);
        Ok(done)
    }

    /// Writes the pending batch: blobs appended and synced, then one index commit.
    fn write_batch(&mut self) -> Result<Flushed, ImportError> {
        if self.pending.is_empty() {
            return Ok(Flushed::default());
        }
        let mut pending = std::mem::take(&mut self.pending);
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
        for p in pending.iter_mut() {
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
                                preview: std::mem::take(&mut p.preview),
                                content: std::mem::take(&mut p.content),
                                sort: std::mem::take(&mut p.sort),
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
        // DESIGN §3: blobs durable before the index names them. The blobs' sync (tens of MB
        // for a batch) runs on a thread of its own while the index rows are written, and the
        // COMMIT waits for it; a failed sync rolls the rows back.
        let mut synced: Result<(), StoreError> = Ok(());
        let index = &mut *self.index;
        let committed = std::thread::scope(|scope| {
            let syncing = writer.map(|mut w| scope.spawn(move || w.sync()));
            index.commit_ingest_when(&new, &placements, &journal, || {
                if let Some(syncing) = syncing {
                    synced = syncing
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                }
                if synced.is_ok() {
                    crash_point("synced");
                }
                synced.is_ok()
            })
        });
        synced?;
        // Some: the sync succeeded, so `ready` said yes.
        let committed = committed?.expect("committed");
        crash_point("committed");
        if let Some(c) = &self.checkpointer {
            c.nudge();
        }
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

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn a_preparing_thread_runs_below_the_callers_priority() {
        let caller = rustix::process::getpriority_process(None).unwrap();
        let own = std::thread::spawn(|| {
            super::lower_own_priority();
            rustix::process::getpriority_process(None).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(own, (caller + super::PREPARE_NICENESS).min(19));
        // Per thread: the caller's own priority is unchanged.
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), caller);
    }
}
