//! The index half of an ingest batch (DESIGN §3): one transaction, committed with
//! `synchronous=FULL`, that inserts the batch's new messages and their mailbox memberships and
//! advances UIDNEXT and HIGHESTMODSEQ, and writes each new message's content-index row. The
//! caller (`crate::import::ingest`) has already appended the new blobs and `fdatasync`'d them, under the store's writer lock, which it holds until
//! this returns. A message is visible to readers only once this commit is done; a crash before
//! it leaves unreferenced blob bytes (a torn tail) and no UID used.

use std::collections::HashMap;

use rusqlite::{params, TransactionBehavior};

use super::content::ContentRow;
use super::messages::{canonical_flags, encode_day, InternalDate};
use super::{Index, IndexError, MailboxId, MessageId};
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
    /// The content-index row (`ContentRow::new(mime::text::extract(..).folded())`): written in
    /// the same transaction (DESIGN §3: visible only once content indexed).
    pub content: ContentRow,
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

/// UID and modseq bookkeeping for one mailbox during the transaction.
struct MailboxCounters {
    uidnext: u64,
    /// The modseq every entry added by this batch gets: HIGHESTMODSEQ + 1.
    modseq: u64,
    added: u64,
}

impl Index {
    /// Commits one ingest batch (see the module docs). Returns one [`Placed`] per placement.
    pub fn commit_ingest(
        &mut self,
        messages: &[IngestMessage<'_>],
        placements: &[Placement],
    ) -> Result<Vec<Placed>, IndexError> {
        // DESIGN §3: the ingest commit is durable when it returns. The pragma cannot change
        // inside a transaction, so it brackets it.
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let result = self.commit_ingest_tx(messages, placements);
        let restore = self.conn.pragma_update(None, "synchronous", "NORMAL");
        let placed = result?;
        restore?;
        Ok(placed)
    }

    fn commit_ingest_tx(
        &mut self,
        messages: &[IngestMessage<'_>],
        placements: &[Placement],
    ) -> Result<Vec<Placed>, IndexError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ids = Vec::with_capacity(messages.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (sha256, segment, offset, len, internal_date, internal_tz,
                                       envelope, body_structure, body, sent_date, sent_day,
                                       has_attachment)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
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
                ])?;
                // Under the writer lock no one else inserts this hash, but if the caller passed
                // a known message anyway, keep the first copy (the new blob stays unreferenced).
                let id = if n == 1 {
                    let id = tx.last_insert_rowid();
                    super::content::insert_content(&tx, MessageId(id), &m.content)?;
                    id
                } else {
                    existing.query_row(params![&m.sha256[..]], |r| r.get(0))?
                };
                ids.push(MessageId(id));
            }
        }
        let mut counters: HashMap<MailboxId, MailboxCounters> = HashMap::new();
        let mut placed = Vec::with_capacity(placements.len());
        {
            let mut read_counters =
                tx.prepare_cached("SELECT uidnext, highestmodseq FROM mailboxes WHERE id = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, flags, modseq)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (mailbox_id, message_id) DO NOTHING",
            )?;
            for p in placements {
                let message = match p.message {
                    PlacementMessage::Stored(id) => id,
                    PlacementMessage::New(i) => *ids.get(i).ok_or_else(|| {
                        IndexError::Corrupt(format!("placement of new message {i} out of range"))
                    })?,
                };
                let c = match counters.entry(p.mailbox) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        let (uidnext, highest): (u64, u64) = read_counters
                            .query_row(params![p.mailbox.0], |r| Ok((r.get(0)?, r.get(1)?)))
                            .map_err(|e| match e {
                                rusqlite::Error::QueryReturnedNoRows => {
                                    IndexError::NoSuchMailbox(format!("id {}", p.mailbox.0))
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
                let uid =
                    u32::try_from(c.uidnext).map_err(|_| IndexError::UidsExhausted(p.mailbox.0))?;
                let n = insert.execute(params![
                    p.mailbox.0,
                    uid,
                    message.0,
                    canonical_flags(&p.flags),
                    c.modseq
                ])?;
                if n == 1 {
                    c.uidnext += 1;
                    c.added += 1;
                    placed.push(Placed::Added { uid, message });
                } else {
                    placed.push(Placed::Duplicate { message });
                }
            }
            let mut advance = tx.prepare_cached(
                "UPDATE mailboxes SET uidnext = ?2, highestmodseq = ?3 WHERE id = ?1",
            )?;
            for (mailbox, c) in &counters {
                if c.added > 0 {
                    advance.execute(params![mailbox.0, c.uidnext, c.modseq])?;
                }
            }
        }
        tx.commit()?;
        Ok(placed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u8) -> IngestMessage<'static> {
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
            content: ContentRow::default(),
        }
    }

    /// UIDs come from UIDNEXT, never from max(uid) + 1: removing the newest entry (which no
    /// IMAP command can do, but a repair might) must not let its UID be handed out again.
    #[test]
    fn uids_ascend_and_are_not_reused_after_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let u = ix.add_user("u", "h").unwrap();
        let mb = ix.ensure_mailbox(u, "INBOX").unwrap();
        let place = |i| Placement {
            mailbox: mb,
            message: PlacementMessage::New(i),
            flags: String::new(),
        };
        let placed = ix
            .commit_ingest(&[message(1), message(2)], &[place(0), place(1), place(0)])
            .unwrap();
        assert!(matches!(placed[0], Placed::Added { uid: 1, .. }));
        assert!(matches!(placed[1], Placed::Added { uid: 2, .. }));
        assert!(matches!(placed[2], Placed::Duplicate { .. }));
        ix.conn
            .execute("DELETE FROM mailbox_messages WHERE uid = 2", [])
            .unwrap();
        let placed = ix.commit_ingest(&[message(3)], &[place(0)]).unwrap();
        assert!(matches!(placed[0], Placed::Added { uid: 3, .. }));
        let st = ix.mailbox_state(mb).unwrap();
        assert_eq!((st.uidnext, st.messages), (4, 2));
        assert_eq!(st.highestmodseq, 3);
        let meta = ix.messages_meta(&[MessageId(1)]).unwrap();
        assert_eq!(meta[0].sent_day, Some((2024, 2, 29)));
    }
}
