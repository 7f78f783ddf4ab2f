//! `imapvault reindex` (issue 3): rebuilds what the index derives from the blobs' text.
//!
//! Walks every stored message in id order, in batches of [`BATCH`]: reads its blob (checksum
//! checked), extracts and folds its searchable text (`mime::text`), computes its PREVIEW text,
//! whether it has an attachment (`$HasAttachment`) and its SORT/THREAD keys (`mime::sort`), and
//! replaces them, one transaction per batch. The words' index is emptied first
//! ([`crate::index::Index::start_reindex`]): meanwhile text searches stay exact by reading every
//! message's stored text (slowly on a large archive). At the end, rows of messages that no
//! longer exist are dropped and the archive is marked as fully indexed (which lifts the
//! `NO [UNAVAILABLE]` of text searches after the 0003 and 0005 migrations, and the full reads).
//! A damaged blob is reported and skipped: it is never indexed from bytes that fail their
//! checksum. Its stored text, if any, stays, and its words are taken from that text again
//! (they went with the emptied words' index), so it stays as searchable as it was.

use crate::archive::Archive;
use crate::index::{ContentRow, MessageId, Reindexed, WordIds};
use crate::mime;
use crate::store::{BlobRef, BlobStore, StoreError};

use super::ImportError;

/// Messages per transaction.
const BATCH: usize = 1000;

/// Counters reported while reindexing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReindexProgress {
    /// Stored messages in all.
    pub total: u64,
    /// Messages indexed so far (committed).
    pub indexed: u64,
    /// Messages whose blob could not be read.
    pub damaged: u64,
}

/// A message left out because its blob could not be read.
#[derive(Debug)]
pub struct Skipped {
    /// The message.
    pub message: MessageId,
    /// Why.
    pub error: StoreError,
}

/// What reindex recomputes of message `id` from its blob, or why it cannot. The words
/// `word_ids` knows get their tokens here, on a preparing thread, as the import's do.
fn prepare(
    store: &BlobStore,
    word_ids: &WordIds,
    id: MessageId,
    blob: BlobRef,
) -> Result<Reindexed, Skipped> {
    let bytes = store
        .read(blob)
        .map_err(|error| Skipped { message: id, error })?;
    let (text, preview) = mime::text::extract_with_preview(&bytes);
    let mut content = ContentRow::new(text.folded());
    content.resolve_known(word_ids);
    Ok(Reindexed {
        id,
        content,
        preview,
        has_attachment: mime::has_attachment_of(&bytes),
        sort: mime::sort::keys(&bytes),
    })
}

/// Rebuilds the content index of `archive`; `progress` is called after each batch.
pub fn run(
    archive: &mut Archive,
    progress: &mut dyn FnMut(&ReindexProgress),
) -> Result<(ReindexProgress, Vec<Skipped>), ImportError> {
    let (index, store) = archive.parts_mut();
    index.set_up_bulk_writer()?;
    index.start_reindex()?;
    let mut p = ReindexProgress {
        total: index.message_count()?,
        ..ReindexProgress::default()
    };
    let word_ids = index.word_ids();
    let mut skipped = Vec::new();
    let mut last = MessageId(0);
    loop {
        let batch = index.messages_after(last, BATCH)?;
        let Some(&(end, _)) = batch.last() else {
            break;
        };
        // Each message's extraction is pure CPU work: the batch is cut into one run per
        // preparing thread (as import's), and the runs' results are joined in id order.
        let per_thread = batch.len().div_ceil(super::ingest::prepare_threads());
        let prepared: Vec<Vec<Result<Reindexed, Skipped>>> = std::thread::scope(|scope| {
            let runs: Vec<_> = batch
                .chunks(per_thread.max(1))
                .map(|run| {
                    let word_ids = &word_ids;
                    scope.spawn(move || {
                        run.iter()
                            .map(|&(id, blob)| prepare(store, word_ids, id, blob))
                            .collect()
                    })
                })
                .collect();
            runs.into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let mut rows = Vec::with_capacity(batch.len());
        let mut damaged = Vec::new();
        for r in prepared.into_iter().flatten() {
            match r {
                Ok(row) => rows.push(row),
                Err(s) => {
                    log::warn!("reindex: message {}: {}", s.message.0, s.error);
                    damaged.push(s.message);
                    skipped.push(s);
                }
            }
        }
        index.replace_content(&rows)?;
        if !damaged.is_empty() {
            index.restore_words(&damaged)?;
            p.damaged += damaged.len() as u64;
        }
        p.indexed += rows.len() as u64;
        last = end;
        progress(&p);
    }
    index.finish_reindex()?;
    Ok((p, skipped))
}
