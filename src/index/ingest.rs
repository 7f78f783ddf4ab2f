//! The index half of an ingest batch (DESIGN §3): one transaction, committed with
//! `synchronous=FULL`, that inserts the batch's new messages and their mailbox memberships and
//! advances UIDNEXT and HIGHESTMODSEQ, and writes each new message's content-index row and
//! SORT/THREAD keys. The
//! caller (`crate::import::ingest`) has already appended the new blobs and `fdatasync`'d them, under the store's writer lock, which it holds until
//! this returns. A message is visible to readers only once this commit is done; a crash before
//! it leaves unreferenced blob bytes (a torn tail) and no UID used.

use std::collections::HashMap;

use rusqlite::{params, Transaction, TransactionBehavior};

use super::content::ContentRow;
use super::messages::{canonical_flags, encode_day, InternalDate};
use super::{Index, IndexError, MailboxId, MessageId};
use crate::mime::journal::Participant;
use crate::mime::sort::SortKeys;
use crate::store::BlobRef;

/// A message new to the archive, whose blob is already durable.
#[derive(Debug, Clone)]
pub struct IngestMessage<'a> {
    /// SHA-256 of the canonical bytes (the blob).
    pub sha256: [u8; 32],
    /// Where the blob is.
    pub blob: BlobRef,
    /// INTERNALDATE from the source.
    pub internal_date: InternalDate,
    /// Cached ENVELOPE.
    pub envelope: &'a [u8],
    /// Cached BODYSTRUCTURE.
    pub body_structure: &'a [u8],
    /// Cached BODY.
    pub body: &'a [u8],
    /// `Date:` header, Unix seconds.
    pub sent_date: Option<i64>,
    /// `Date:` header's day.
    pub sent_day: Option<(i32, u32, u32)>,
    /// Whether the message has an attachment.
    pub has_attachment: bool,
    /// The PREVIEW text (RFC 8970), `mime::text::preview`.
    pub preview: String,
    /// The content-index row (`ContentRow::new(mime::text::extract(..).folded())`): written in
    /// the same transaction (DESIGN §3: visible only once content indexed).
    pub content: ContentRow,
    /// The SORT and THREAD keys (`mime::sort::keys`), written in the same transaction.
    pub sort: SortKeys,
}

/// Which message a [`Placement`] puts in a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementMessage {
    /// A message already in the archive (found by its hash).
    Stored(MessageId),
    /// The message at this index of the batch's new messages.
    New(usize),
}

/// One message into one mailbox.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The target mailbox.
    pub mailbox: MailboxId,
    /// The message.
    pub message: PlacementMessage,
    /// Initial flags (canonicalised on insert).
    pub flags: String,
}

/// What became of a [`Placement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// Added with this UID.
    Added {
        /// The new UID.
        uid: u32,
        /// The stored message.
        message: MessageId,
    },
    /// The mailbox already held this message: nothing changed.
    Duplicate {
        /// The stored message.
        message: MessageId,
    },
}

/// A message of the batch for the journal (journal mode), with who took part in it.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    /// The message.
    pub message: PlacementMessage,
    /// Its participants (`crate::mime::journal`), canonical addresses.
    pub participants: Vec<Participant>,
}

/// What became of a [`JournalEntry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalOutcome {
    /// New to the journal.
    New(MessageId),
    /// The journal already held the message; its participants were added to the known ones
    /// (Exchange writes one report per group of recipients, each with the same original).
    Known(MessageId),
}

/// What one ingest commit did: one [`Placed`] per placement, one [`JournalOutcome`] per journal
/// entry, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// The placements' outcomes.
    pub placed: Vec<Placed>,
    /// The journal entries' outcomes.
    pub journaled: Vec<JournalOutcome>,
}

/// UID and modseq bookkeeping for one mailbox during the transaction.
struct MailboxCounters {
    uidnext: u64,
    /// The modseq every entry added by this batch gets: HIGHESTMODSEQ + 1.
    modseq: u64,
    added: u64,
}

/// Adds memberships inside one transaction: each mailbox's new entries take UIDs from its
/// UIDNEXT in the order placed and share one new modseq; [`Placer::finish`] advances UIDNEXT
/// and HIGHESTMODSEQ. Ingest, journal matching and address backfill all place through it.
#[derive(Default)]
pub(super) struct Placer {
    counters: HashMap<MailboxId, MailboxCounters>,
}

impl Placer {
    /// Puts `message` into `mailbox` (nothing if it is already there).
    pub(super) fn place(
        &mut self,
        tx: &Transaction<'_>,
        mailbox: MailboxId,
        message: MessageId,
        flags: &str,
    ) -> Result<Placed, IndexError> {
        let c = match self.counters.entry(mailbox) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let (uidnext, highest): (u64, u64) = tx
                    .prepare_cached("SELECT uidnext, highestmodseq FROM mailboxes WHERE id = ?1")?
                    .query_row(params![mailbox.0], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => {
                            IndexError::NoSuchMailbox(format!("id {}", mailbox.0))
                        }
                        e => e.into(),
                    })?;
                v.insert(MailboxCounters {
                    uidnext,
                    modseq: highest + 1,
                    added: 0,
                })
            }
        };
        let uid = u32::try_from(c.uidnext).map_err(|_| IndexError::UidsExhausted(mailbox.0))?;
        let n = tx
            .prepare_cached(
                "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, flags, modseq,
                                               internal_date, has_attachment)
                 VALUES (?1, ?2, ?3, ?4, ?5, (SELECT internal_date FROM messages WHERE id = ?3),
                         (SELECT has_attachment FROM messages WHERE id = ?3))
                 ON CONFLICT (mailbox_id, message_id) DO NOTHING",
            )?
            .execute(params![
                mailbox.0,
                uid,
                message.0,
                canonical_flags(flags),
                c.modseq
            ])?;
        if n == 1 {
            c.uidnext += 1;
            c.added += 1;
            Ok(Placed::Added { uid, message })
        } else {
            Ok(Placed::Duplicate { message })
        }
    }

    /// Advances UIDNEXT and HIGHESTMODSEQ of every mailbox that got an entry.
    pub(super) fn finish(self, tx: &Transaction<'_>) -> Result<(), IndexError> {
        let mut advance = tx.prepare_cached(
            "UPDATE mailboxes SET uidnext = ?2, highestmodseq = ?3 WHERE id = ?1",
        )?;
        for (mailbox, c) in &self.counters {
            if c.added > 0 {
                advance.execute(params![mailbox.0, c.uidnext, c.modseq])?;
            }
        }
        Ok(())
    }
}

/// The stored message a placement names.
fn resolve(ids: &[MessageId], message: PlacementMessage) -> Result<MessageId, IndexError> {
    match message {
        PlacementMessage::Stored(id) => Ok(id),
        PlacementMessage::New(i) => ids.get(i).copied().ok_or_else(|| {
            IndexError::Corrupt(format!("placement of new message {i} out of range"))
        }),
    }
}

impl Index {
    /// Commits one ingest batch (see the module docs). Returns one [`Placed`] per placement.
    /// For the tests: the importer asks [`Index::commit_ingest_when`], to sync blobs meanwhile.
    #[cfg(test)]
    pub(crate) fn commit_ingest(
        &mut self,
        messages: &[IngestMessage<'_>],
        placements: &[Placement],
        journal: &[JournalEntry],
    ) -> Result<Committed, IndexError> {
        let committed = self.commit_ingest_when(messages, placements, journal, || true)?;
        // `ready` said yes.
        Ok(committed.expect("committed"))
    }

    /// Commits one ingest batch (see the module docs), with `ready` asked after the rows are
    /// written and before the COMMIT: when it says no, the transaction is rolled back and the
    /// answer is None; else one [`Placed`] per placement. The importer syncs the batch's blobs
    /// meanwhile and waits for that in `ready` (DESIGN §3: blobs durable before the index
    /// names them), so the sync and the rows overlap.
    pub fn commit_ingest_when(
        &mut self,
        messages: &[IngestMessage<'_>],
        placements: &[Placement],
        journal: &[JournalEntry],
        ready: impl FnOnce() -> bool,
    ) -> Result<Option<Committed>, IndexError> {
        // DESIGN §3: the ingest commit is durable when it returns. The pragma cannot change
        // inside a transaction, so it brackets it.
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let result = self.commit_ingest_tx(messages, placements, journal, ready);
        self.vocabulary.settle(matches!(result, Ok(Some(_))));
        let restore = self.conn.pragma_update(None, "synchronous", "NORMAL");
        let placed = result?;
        restore?;
        Ok(placed)
    }

    fn commit_ingest_tx(
        &mut self,
        messages: &[IngestMessage<'_>],
        placements: &[Placement],
        journal: &[JournalEntry],
        ready: impl FnOnce() -> bool,
    ) -> Result<Option<Committed>, IndexError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        self.vocabulary.begin(&tx, messages.len())?;
        let mut ids = Vec::with_capacity(messages.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (sha256, segment, offset, len, internal_date, internal_tz,
                                       envelope, body_structure, body, sent_date, sent_day,
                                       has_attachment, preview)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (sha256) DO NOTHING",
            )?;
            let mut existing = tx.prepare_cached("SELECT id FROM messages WHERE sha256 = ?1")?;
            for m in messages {
                let n = insert.execute(params![
                    &m.sha256[..],
                    m.blob.segment,
                    m.blob.offset,
                    m.blob.len,
                    m.internal_date.unix,
                    m.internal_date.tz_minutes,
                    m.envelope,
                    m.body_structure,
                    m.body,
                    m.sent_date,
                    m.sent_day.map(encode_day),
                    m.has_attachment,
                    m.preview,
                ])?;
                // Under the writer lock no one else inserts this hash, but if the caller passed
                // a known message anyway, keep the first copy (the new blob stays unreferenced).
                let id = if n == 1 {
                    let id = tx.last_insert_rowid();
                    super::content::insert_content(
                        &tx,
                        &mut self.vocabulary,
                        MessageId(id),
                        &m.content,
                    )?;
                    super::sort::put_sort_keys(&tx, MessageId(id), &m.sort)?;
                    id
                } else {
                    existing.query_row(params![&m.sha256[..]], |r| r.get(0))?
                };
                ids.push(MessageId(id));
            }
        }
        let mut placer = Placer::default();
        let mut placed = Vec::with_capacity(placements.len());
        for p in placements {
            let message = resolve(&ids, p.message)?;
            placed.push(placer.place(&tx, p.mailbox, message, &p.flags)?);
        }
        let mut journaled = Vec::with_capacity(journal.len());
        for j in journal {
            let message = resolve(&ids, j.message)?;
            journaled.push(super::journal::journal_in(
                &tx,
                &mut placer,
                message,
                &j.participants,
            )?);
        }
        placer.finish(&tx)?;
        self.vocabulary.finish(&tx)?;
        if !ready() {
            // Rolled back when dropped.
            return Ok(None);
        }
        tx.commit()?;
        Ok(Some(Committed { placed, journaled }))
    }
}

/// A made-up message for the index's unit tests: hash `[n; 32]`, a blob of 10 bytes.
#[cfg(test)]
pub(super) fn test_message(n: u8) -> IngestMessage<'static> {
    IngestMessage {
        sha256: [n; 32],
        blob: BlobRef {
            segment: 1,
            offset: 16 + u64::from(n) * 100,
            len: 10,
        },
        internal_date: InternalDate {
            unix: 0,
            tz_minutes: 0,
        },
        envelope: b"",
        body_structure: b"",
        body: b"",
        sent_date: None,
        sent_day: Some((2024, 2, 29)),
        has_attachment: false,
        preview: String::new(),
        content: ContentRow::default(),
        sort: SortKeys::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_message as message;

    /// A fresh index with one user and its INBOX; and its directory.
    fn index_with_inbox() -> (tempfile::TempDir, Index, MailboxId) {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let u = ix.add_user("u", "h").unwrap();
        let mb = ix.ensure_mailbox(u, "INBOX").unwrap();
        (dir, ix, mb)
    }

    /// UIDs come from UIDNEXT, never from max(uid) + 1: removing the newest entry (which no
    /// IMAP command can do, but a repair might) must not let its UID be handed out again.
    #[test]
    fn uids_ascend_and_are_not_reused_after_deletion() {
        let (_dir, mut ix, mb) = index_with_inbox();
        let place = |i| Placement {
            mailbox: mb,
            message: PlacementMessage::New(i),
            flags: String::new(),
        };
        let placed = ix
            .commit_ingest(
                &[message(1), message(2)],
                &[place(0), place(1), place(0)],
                &[],
            )
            .unwrap()
            .placed;
        assert!(matches!(placed[0], Placed::Added { uid: 1, .. }));
        assert!(matches!(placed[1], Placed::Added { uid: 2, .. }));
        assert!(matches!(placed[2], Placed::Duplicate { .. }));
        ix.conn
            .execute("DELETE FROM mailbox_messages WHERE uid = 2", [])
            .unwrap();
        let placed = ix
            .commit_ingest(&[message(3)], &[place(0)], &[])
            .unwrap()
            .placed;
        assert!(matches!(placed[0], Placed::Added { uid: 3, .. }));
        let st = ix.mailbox_state(mb).unwrap();
        assert_eq!((st.uidnext, st.messages), (4, 2));
        assert_eq!(st.highestmodseq, 3);
        let meta = ix.messages_meta(&[MessageId(1)]).unwrap();
        assert_eq!(meta[0].sent_day, Some((2024, 2, 29)));
    }

    /// A batch whose `ready` says no (the importer's blob sync failed) leaves nothing: no
    /// message, no entry, UIDNEXT as it was, and none of its new words remembered as known
    /// (their ids were rolled back): the same batch committed next gets UID 1 and its words.
    #[test]
    fn a_batch_not_ready_is_rolled_back_whole() {
        let (_dir, mut ix, mb) = index_with_inbox();
        let mut m = message(1);
        m.content = ContentRow::new(crate::mime::text::SearchText {
            body: "rolledback".into(),
            ..Default::default()
        });
        let place = [Placement {
            mailbox: mb,
            message: PlacementMessage::New(0),
            flags: String::new(),
        }];
        let mut asked = false;
        let none = ix
            .commit_ingest_when(std::slice::from_ref(&m), &place, &[], || {
                asked = true;
                false
            })
            .unwrap();
        assert!(asked && none.is_none());
        assert_eq!(ix.message_count().unwrap(), 0);
        assert_eq!(ix.mailbox_state(mb).unwrap().uidnext, 1);
        assert_eq!(ix.word_ids().len(), 0, "no word of it is known");

        let placed = ix.commit_ingest(&[m], &place, &[]).unwrap().placed;
        assert!(matches!(placed[0], Placed::Added { uid: 1, .. }));
        assert_eq!(ix.word_ids().len(), 1);
        let far = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let found = ix
            .content_candidates(&[super::super::ContentColumn::Body], "rolledback", 10, far)
            .unwrap()
            .unwrap();
        assert_eq!(found.ids, [MessageId(1)]);
    }

    /// The sync window's queries (issue 5): what is at or after an edge is visible and counted;
    /// a departure raises HIGHESTMODSEQ once per edge move that passes a message, never for an
    /// edge that passes nothing, and never twice for the same departure.
    #[test]
    fn window_counts_entries_and_departures() {
        let (_dir, mut ix, mb) = index_with_inbox();
        let dated = |n: u8, unix: i64| IngestMessage {
            internal_date: InternalDate {
                unix,
                tz_minutes: 0,
            },
            ..message(n)
        };
        let place = |i, flags: &str| Placement {
            mailbox: mb,
            message: PlacementMessage::New(i),
            flags: flags.into(),
        };
        ix.commit_ingest(
            &[dated(1, 100), dated(2, 200), dated(3, 300)],
            &[place(0, ""), place(1, "\\Seen"), place(2, "")],
            &[],
        )
        .unwrap();
        // Both ways of counting: the window (the smaller side) and the whole minus the rest.
        let counts = ix.visible_counts(mb, 150).unwrap();
        assert_eq!((counts.messages, counts.unseen, counts.size), (2, 1, 20));
        let counts = ix.visible_counts(mb, 250).unwrap();
        assert_eq!((counts.messages, counts.unseen, counts.size), (1, 1, 10));
        let counts = ix.visible_counts(mb, 50).unwrap();
        assert_eq!((counts.messages, counts.unseen, counts.size), (3, 2, 30));
        let counts = ix.visible_counts(mb, 1000).unwrap();
        assert_eq!((counts.messages, counts.unseen, counts.size), (0, 0, 0));
        let entries = ix.mailbox_entries_since(mb, Some(150)).unwrap();
        let seen: Vec<(u32, i64)> = entries.iter().map(|e| (e.uid, e.internal_date)).collect();
        assert_eq!(seen, vec![(2, 200), (3, 300)]);
        assert_eq!(ix.mailbox_entries_since(mb, None).unwrap().len(), 3);
        let changes = ix.mailbox_changes(mb, 0, 0, Some(250)).unwrap();
        assert_eq!(changes.iter().map(|e| e.uid).collect::<Vec<_>>(), vec![3]);

        let start = ix.mailbox_state(mb).unwrap().highestmodseq;
        assert_eq!(
            ix.note_departures(mb, 150).unwrap(),
            start + 1,
            "UID 1 left"
        );
        assert_eq!(ix.note_departures(mb, 150).unwrap(), start + 1, "not twice");
        assert_eq!(
            ix.note_departures(mb, 180).unwrap(),
            start + 1,
            "nothing passed"
        );
        assert_eq!(
            ix.note_departures(mb, 250).unwrap(),
            start + 2,
            "UID 2 left"
        );
        assert_eq!(
            ix.note_departures(mb, 120).unwrap(),
            start + 2,
            "edge back: nothing"
        );
        assert_eq!(ix.mailbox_state(mb).unwrap().highestmodseq, start + 2);

        // A membership written without its date (by any other writer) gets it by trigger.
        ix.commit_ingest(&[dated(4, 400)], &[], &[]).unwrap();
        ix.conn
            .execute(
                "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq)
                 VALUES (?1, 9, 4, 1)",
                [mb.0],
            )
            .unwrap();
        let last = ix.mailbox_entries(mb).unwrap().pop().unwrap();
        assert_eq!((last.uid, last.internal_date), (9, 400));
    }
}
