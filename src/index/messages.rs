//! Messages and membership: the SELECT snapshot, cached FETCH data, flags, blob references.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use super::{Index, IndexError, MailboxId, MessageId};
use crate::store::BlobRef;

/// A message's INTERNALDATE (RFC 3501 §2.3.3): the instant, and the zone offset to print it with
/// (as the source gave it: an mbox `From ` line has none, so 0; a file's mtime is UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InternalDate {
    /// Seconds since the Unix epoch.
    pub unix: i64,
    /// Minutes east of UTC.
    pub tz_minutes: i16,
}

/// One message of a mailbox, as a SELECT snapshot lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The message's UID in the mailbox.
    pub uid: u32,
    /// The stored message.
    pub message: MessageId,
    /// Canonical flags, space-separated.
    pub flags: String,
    /// The entry's MODSEQ (RFC 7162).
    pub modseq: u64,
    /// Whether the message has an attachment (`messages.has_attachment`, an archive fact).
    pub has_attachment: bool,
    /// The message's INTERNALDATE, Unix seconds: what the sync window compares.
    pub internal_date: i64,
}

/// The counts STATUS gives for the visible part of a mailbox (the sync window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisibleCounts {
    /// MESSAGES.
    pub messages: u64,
    /// UNSEEN.
    pub unseen: u64,
    /// SIZE (RFC 8438).
    pub size: u64,
}

/// What FETCH needs about a stored message without reading its blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// The message's id.
    pub id: MessageId,
    /// Where its canonical bytes are.
    pub blob: BlobRef,
    /// RFC822.SIZE (the blob's length).
    pub size: u64,
    /// INTERNALDATE.
    pub internal_date: InternalDate,
    /// Cached ENVELOPE.
    pub envelope: Vec<u8>,
    /// Cached BODYSTRUCTURE.
    pub body_structure: Vec<u8>,
    /// Cached BODY.
    pub body: Vec<u8>,
    /// The `Date:` header, Unix seconds.
    pub sent_date: Option<i64>,
    /// The `Date:` header's day (year, month, day) in its own zone.
    pub sent_day: Option<(i32, u32, u32)>,
    /// Whether the message has an attachment.
    pub has_attachment: bool,
    /// The PREVIEW text (RFC 8970) computed at ingest; None for a message stored before the
    /// 0005 migration and not yet reindexed.
    pub preview: Option<String>,
}

/// What SEARCH's date and size keys need of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageFacts {
    pub id: MessageId,
    /// RFC822.SIZE.
    pub size: u64,
    /// INTERNALDATE.
    pub internal_date: InternalDate,
    /// The `Date:` header's day in its own zone.
    pub sent_day: Option<(i32, u32, u32)>,
}

/// The counters a session compares to notice changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxState {
    /// UIDNEXT.
    pub uidnext: u64,
    /// HIGHESTMODSEQ.
    pub highestmodseq: u64,
    /// Number of messages.
    pub messages: u64,
}

const META_SELECT: &str = "
    SELECT id, segment, offset, len, internal_date, internal_tz, envelope, body_structure, body,
           sent_date, sent_day, has_attachment, preview
      FROM messages";

fn meta_from_row(r: &Row<'_>) -> rusqlite::Result<MessageMeta> {
    let len: u64 = r.get(3)?;
    let sent_day: Option<i64> = r.get(10)?;
    Ok(MessageMeta {
        id: MessageId(r.get(0)?),
        blob: BlobRef {
            segment: r.get(1)?,
            offset: r.get(2)?,
            len,
        },
        size: len,
        internal_date: InternalDate {
            unix: r.get(4)?,
            tz_minutes: r.get(5)?,
        },
        envelope: r.get(6)?,
        body_structure: r.get(7)?,
        body: r.get(8)?,
        sent_date: r.get(9)?,
        sent_day: sent_day.map(decode_day),
        has_attachment: r.get(11)?,
        preview: r.get(12)?,
    })
}

/// `sent_day` column: `year * 10000 + month * 100 + day` (sorts like the date, for any year).
pub(super) fn encode_day((y, m, d): (i32, u32, u32)) -> i64 {
    i64::from(y) * 10_000 + i64::from(m.min(99)) * 100 + i64::from(d.min(99))
}

fn decode_day(v: i64) -> (i32, u32, u32) {
    let rest = v.rem_euclid(10_000);
    // `rest` is in 0..10000, so month and day fit in u32.
    (
        v.div_euclid(10_000) as i32,
        (rest / 100) as u32,
        (rest % 100) as u32,
    )
}

/// The columns [`entry_from_row`] reads, from `mailbox_messages mm` alone (sql/0010 keeps the
/// attachment fact there too).
pub(super) const ENTRY_COLUMNS: &str =
    "mm.uid, mm.message_id, mm.flags, mm.modseq, mm.has_attachment, mm.internal_date
      FROM mailbox_messages mm";

/// An [`Entry`] from the columns [`ENTRY_COLUMNS`], in that order.
pub(super) fn entry_from_row(r: &Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        uid: r.get(0)?,
        message: MessageId(r.get(1)?),
        flags: r.get(2)?,
        modseq: r.get(3)?,
        // Filled by the ingest or by the triggers of sql/0010 for every row.
        has_attachment: r.get::<_, Option<bool>>(4)?.unwrap_or(false),
        // Filled by the ingest or by the trigger of sql/0008 for every row.
        internal_date: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
    })
}

/// `ids` as a JSON array, bound as one parameter and read with `json_each` (one statement for a
/// whole batch, whatever its size).
pub(super) fn ids_json(ids: &[MessageId]) -> String {
    let mut json = String::with_capacity(ids.len() * 8 + 2);
    json.push('[');
    for (n, id) in ids.iter().enumerate() {
        if n > 0 {
            json.push(',');
        }
        json.push_str(&id.0.to_string());
    }
    json.push(']');
    json
}

/// The rows of `found` (by message id) in the order of `ids`, each moved out once (a mailbox
/// holds a message once, so no id is asked for twice); an id without a row is an error.
pub(super) fn in_order_of<T>(
    ids: &[MessageId],
    mut found: HashMap<i64, T>,
) -> Result<Vec<T>, IndexError> {
    ids.iter()
        .map(|id| found.remove(&id.0).ok_or(IndexError::UnknownMessage(id.0)))
        .collect()
}

impl Index {
    /// The mailbox's messages by ascending UID: the SELECT snapshot (one query).
    pub fn mailbox_entries(&self, mailbox: MailboxId) -> Result<Vec<Entry>, IndexError> {
        self.mailbox_entries_since(mailbox, None)
    }

    /// The mailbox's messages with an internal date at or after `edge` (all of them for
    /// `None`), by ascending UID: the SELECT snapshot under a sync window. With a window the
    /// date index is walked over the window alone, then the few rows are sorted by UID.
    pub fn mailbox_entries_since(
        &self,
        mailbox: MailboxId,
        edge: Option<i64>,
    ) -> Result<Vec<Entry>, IndexError> {
        let sql = match edge {
            None => format!("SELECT {ENTRY_COLUMNS} WHERE mm.mailbox_id = ?1 ORDER BY mm.uid"),
            Some(_) => format!(
                "SELECT {} WHERE mm.mailbox_id = ?1 AND mm.internal_date >= ?2 ORDER BY mm.uid",
                ENTRY_COLUMNS.replace(
                    "FROM mailbox_messages mm",
                    "FROM mailbox_messages mm INDEXED BY mailbox_messages_by_date"
                )
            ),
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = match edge {
            None => stmt.query_map(params![mailbox.0], entry_from_row)?,
            Some(edge) => stmt.query_map(params![mailbox.0, edge], entry_from_row)?,
        };
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// MESSAGES, UNSEEN and SIZE of the messages of `mailbox` with an internal date at or
    /// after `edge`: STATUS under a sync window. The trigger-kept counters of sql/0002 cover the
    /// whole mailbox; so this counts, over the date index, whichever side of the edge is
    /// smaller: the window itself (a phone's week of a decade), or, for a window wider than half
    /// the mailbox, the messages before it, taken from the counters. Its cost grows with the
    /// smaller side, never with the whole mailbox (benches/micro.rs `window.*`). One read
    /// transaction, so the counters and the rows are of the same commit.
    pub fn visible_counts(
        &self,
        mailbox: MailboxId,
        edge: i64,
    ) -> Result<VisibleCounts, IndexError> {
        let tx = self.conn.unchecked_transaction()?;
        let (total, visible): (VisibleCounts, u64) = tx
            .prepare_cached(
                "SELECT message_count, unseen_count, total_size,
                        (SELECT count(*) FROM mailbox_messages INDEXED BY mailbox_messages_by_date
                          WHERE mailbox_id = ?1 AND internal_date >= ?2)
                   FROM mailboxes WHERE id = ?1",
            )?
            .query_row(params![mailbox.0, edge], |r| {
                Ok((
                    VisibleCounts {
                        messages: r.get(0)?,
                        unseen: r.get(1)?,
                        size: r.get(2)?,
                    },
                    r.get(3)?,
                ))
            })
            .optional()?
            .ok_or_else(|| IndexError::NoSuchMailbox(format!("id {}", mailbox.0)))?;
        let side = |condition: &str| -> Result<VisibleCounts, IndexError> {
            Ok(tx
                .prepare_cached(&format!(
                    "SELECT count(*),
                            coalesce(sum(instr(' ' || mm.flags || ' ', ' \\Seen ') = 0), 0),
                            coalesce(sum(m.len), 0)
                       FROM mailbox_messages mm INDEXED BY mailbox_messages_by_date
                       JOIN messages m ON m.id = mm.message_id
                      WHERE mm.mailbox_id = ?1 AND {condition}"
                ))?
                .query_row(params![mailbox.0, edge], |r| {
                    Ok(VisibleCounts {
                        messages: r.get(0)?,
                        unseen: r.get(1)?,
                        size: r.get(2)?,
                    })
                })?)
        };
        let counts = if visible <= total.messages / 2 {
            side("mm.internal_date >= ?2")?
        } else {
            let hidden = side("mm.internal_date < ?2")?;
            VisibleCounts {
                messages: total.messages.saturating_sub(hidden.messages),
                unseen: total.unseen.saturating_sub(hidden.unseen),
                size: total.size.saturating_sub(hidden.size),
            }
        };
        tx.finish()?;
        Ok(counts)
    }

    /// Gives the departure of messages from the sync window a mod-sequence: when messages of
    /// `mailbox` with an internal date at or above the last noted edge fall below `edge`, the
    /// mailbox's HIGHESTMODSEQ goes up by one and the noted edge becomes `edge` (sql/0008).
    /// So a client that cached HIGHESTMODSEQ learns that something changed, and its QRESYNC
    /// SELECT then reports the departed UIDs as vanished (RFC 7162 §3.2.5.1, §3.1.2.1: every
    /// expunge raises HIGHESTMODSEQ).
    ///
    /// Returns the mailbox's HIGHESTMODSEQ, raised or not. The check is a read on the date
    /// index; only a real departure takes the write lock, once per mailbox and edge move, and
    /// the UPDATE repeats the check, so sessions racing on one departure bump it once.
    pub fn note_departures(&self, mailbox: MailboxId, edge: i64) -> Result<u64, IndexError> {
        const DEPARTED: &str = "EXISTS (SELECT 1 FROM mailbox_messages mm
                                  INDEXED BY mailbox_messages_by_date
                                 WHERE mm.mailbox_id = mailboxes.id
                                   AND mm.internal_date >= coalesce(mailboxes.window_edge, ?3)
                                   AND mm.internal_date < ?2)";
        let (departed, highest): (bool, u64) = self
            .conn
            .prepare_cached(&format!(
                "SELECT coalesce(window_edge, ?3) < ?2 AND {DEPARTED}, highestmodseq
                   FROM mailboxes WHERE id = ?1"
            ))?
            .query_row(params![mailbox.0, edge, i64::MIN], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?
            .ok_or_else(|| IndexError::NoSuchMailbox(format!("id {}", mailbox.0)))?;
        if !departed {
            return Ok(highest);
        }
        let raised: Option<u64> = self
            .conn
            .prepare_cached(&format!(
                "UPDATE mailboxes SET highestmodseq = highestmodseq + 1, window_edge = ?2
                  WHERE id = ?1 AND coalesce(window_edge, ?3) < ?2 AND {DEPARTED}
                 RETURNING highestmodseq"
            ))?
            .query_row(params![mailbox.0, edge, i64::MIN], |r| r.get(0))
            .optional()?;
        match raised {
            Some(h) => Ok(h),
            // Another session noted it first: read what it made.
            None => Ok(self
                .conn
                .prepare_cached("SELECT highestmodseq FROM mailboxes WHERE id = ?1")?
                .query_row(params![mailbox.0], |r| r.get(0))?),
        }
    }

    /// The cached data of one message.
    pub fn message_meta(&self, id: MessageId) -> Result<MessageMeta, IndexError> {
        self.conn
            .prepare_cached(&format!("{META_SELECT} WHERE id = ?1"))?
            .query_row(params![id.0], meta_from_row)
            .optional()?
            .ok_or(IndexError::UnknownMessage(id.0))
    }

    /// The cached data of many messages, in the order of `ids`, with one statement (the ids
    /// travel as one bound JSON array).
    pub fn messages_meta(&self, ids: &[MessageId]) -> Result<Vec<MessageMeta>, IndexError> {
        let json = ids_json(ids);
        let mut stmt = self.conn.prepare_cached(&format!(
            "{META_SELECT} WHERE id IN (SELECT value FROM json_each(?1))"
        ))?;
        let found: HashMap<i64, MessageMeta> = stmt
            .query_map(params![json], meta_from_row)?
            .map(|m| m.map(|m| (m.id.0, m)))
            .collect::<Result<_, _>>()?;
        // Moved out, not cloned: ENVELOPE and BODYSTRUCTURE are most of a row.
        in_order_of(ids, found)
    }

    /// What SEARCH's date and size keys need of each message, without the cached ENVELOPE and
    /// BODYSTRUCTURE (which made a date search over 10,000 messages take over a second).
    pub fn message_facts(&self, ids: &[MessageId]) -> Result<Vec<MessageFacts>, IndexError> {
        let json = ids_json(ids);
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, len, internal_date, internal_tz, sent_day FROM messages
              WHERE id IN (SELECT value FROM json_each(?1))",
        )?;
        let found: HashMap<i64, MessageFacts> = stmt
            .query_map(params![json], |r| {
                let tz: i64 = r.get(3)?;
                let day: Option<i64> = r.get(4)?;
                Ok(MessageFacts {
                    id: MessageId(r.get(0)?),
                    size: r.get(1)?,
                    internal_date: InternalDate {
                        unix: r.get(2)?,
                        tz_minutes: i16::try_from(tz).unwrap_or(0),
                    },
                    sent_day: day.map(decode_day),
                })
            })?
            .map(|f| f.map(|f| (f.id.0, f)))
            .collect::<Result<_, _>>()?;
        in_order_of(ids, found)
    }

    /// Replaces the flags of one entry with `flags` (canonicalised: see [`canonical_flags`]) and
    /// returns its MODSEQ: a new one from the mailbox's HIGHESTMODSEQ if the flags changed, the
    /// old one if not (RFC 7162 §3.1.3: no change, no new modseq).
    pub fn set_flags(
        &mut self,
        mailbox: MailboxId,
        uid: u32,
        flags: &str,
    ) -> Result<u64, IndexError> {
        let flags = canonical_flags(flags);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<(String, u64)> = tx
            .prepare_cached(
                "SELECT flags, modseq FROM mailbox_messages WHERE mailbox_id = ?1 AND uid = ?2",
            )?
            .query_row(params![mailbox.0, uid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((old, old_modseq)) = current else {
            return Err(IndexError::NoSuchMessage {
                mailbox: mailbox.0,
                uid,
            });
        };
        if old == flags {
            return Ok(old_modseq);
        }
        let modseq: u64 = tx.query_row(
            "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?1
             RETURNING highestmodseq",
            params![mailbox.0],
            |r| r.get(0),
        )?;
        tx.execute(
            "UPDATE mailbox_messages SET flags = ?3, modseq = ?4 WHERE mailbox_id = ?1 AND uid = ?2",
            params![mailbox.0, uid, flags, modseq],
        )?;
        tx.commit()?;
        Ok(modseq)
    }

    /// Replaces the flags of many entries of one mailbox in ONE transaction (STORE on a large
    /// set, or the `\Seen` of a FETCH), returning each entry's MODSEQ in the order given. As
    /// with [`Index::set_flags`], an entry whose flags do not change keeps its MODSEQ.
    pub fn set_flags_many(
        &mut self,
        mailbox: MailboxId,
        changes: &[(u32, String)],
    ) -> Result<Vec<u64>, IndexError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let modseqs = {
            let mut read = tx.prepare_cached(
                "SELECT flags, modseq FROM mailbox_messages WHERE mailbox_id = ?1 AND uid = ?2",
            )?;
            let mut write = tx.prepare_cached(
                "UPDATE mailbox_messages SET flags = ?3, modseq = ?4
                  WHERE mailbox_id = ?1 AND uid = ?2",
            )?;
            write_flags_each(
                &tx,
                mailbox,
                changes,
                |uid| {
                    read.query_row(params![mailbox.0, uid], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                },
                |uid, flags, modseq| write.execute(params![mailbox.0, uid, flags, modseq]),
            )?
        };
        tx.commit()?;
        Ok(modseqs)
    }

    /// UIDNEXT, HIGHESTMODSEQ and the message count of a mailbox.
    pub fn mailbox_state(&self, mailbox: MailboxId) -> Result<MailboxState, IndexError> {
        self.conn
            .prepare_cached(
                "SELECT uidnext, highestmodseq,
                        (SELECT count(*) FROM mailbox_messages WHERE mailbox_id = m.id)
                   FROM mailboxes m WHERE id = ?1",
            )?
            .query_row(params![mailbox.0], |r| {
                Ok(MailboxState {
                    uidnext: r.get(0)?,
                    highestmodseq: r.get(1)?,
                    messages: r.get(2)?,
                })
            })
            .optional()?
            .ok_or_else(|| IndexError::NoSuchMailbox(format!("id {}", mailbox.0)))
    }

    /// The stored message with this SHA-256 of its canonical bytes, if any.
    pub fn find_message(&self, sha256: &[u8; 32]) -> Result<Option<MessageId>, IndexError> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM messages WHERE sha256 = ?1")?
            .query_row(params![&sha256[..]], |r| r.get(0))
            .optional()?
            .map(MessageId))
    }

    /// Where the committed data of `segment` ends: the end of its last committed record, or 0.
    /// A blob writer may continue a segment only from exactly there (see `store::writer`).
    pub fn segment_end(&self, segment: u32) -> Result<u64, IndexError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT offset + len FROM messages WHERE segment = ?1
                  ORDER BY offset DESC LIMIT 1",
            )?
            .query_row(params![segment], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    /// Every committed blob reference, for `BlobStore::verify`.
    pub fn committed_blobs(&self) -> Result<Vec<BlobRef>, IndexError> {
        let mut stmt = self
            .conn
            .prepare("SELECT segment, offset, len FROM messages ORDER BY segment, offset")?;
        let rows = stmt.query_map([], |r| {
            Ok(BlobRef {
                segment: r.get(0)?,
                offset: r.get(1)?,
                len: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The loop of a batch flag write (owner's flags or a reader's, `crate::index::reader_flags`):
/// for each `(uid, flags)`, `read` gives the current flags and MODSEQ; unchanged flags keep their
/// MODSEQ, changed ones take the next value of the mailbox's HIGHESTMODSEQ and are written with
/// `write`. Returns each entry's MODSEQ in the order given. Runs inside the caller's transaction.
pub(super) fn write_flags_each(
    tx: &rusqlite::Transaction<'_>,
    mailbox: MailboxId,
    changes: &[(u32, String)],
    mut read: impl FnMut(u32) -> rusqlite::Result<Option<(String, u64)>>,
    mut write: impl FnMut(u32, &str, u64) -> rusqlite::Result<usize>,
) -> Result<Vec<u64>, IndexError> {
    let mut bump = tx.prepare_cached(
        "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?1
         RETURNING highestmodseq",
    )?;
    let mut modseqs = Vec::with_capacity(changes.len());
    for (uid, flags) in changes {
        let flags = canonical_flags(flags);
        let Some((old, old_modseq)) = read(*uid)? else {
            return Err(IndexError::NoSuchMessage {
                mailbox: mailbox.0,
                uid: *uid,
            });
        };
        if old == flags {
            modseqs.push(old_modseq);
            continue;
        }
        let modseq: u64 = bump.query_row(params![mailbox.0], |r| r.get(0))?;
        write(*uid, &flags, modseq)?;
        modseqs.push(modseq);
    }
    Ok(modseqs)
}

/// The stored form of a flag list: system flags spelled canonically (`\Seen`, `\Answered`,
/// `\Flagged`, `\Draft`) in that order, then keywords in the order given, each once
/// (compared case-insensitively, RFC 3501 §2.3.2). `\Deleted` is dropped (the archive is
/// read-only), as are `\Recent` (a session property) and unknown system flags.
pub fn canonical_flags(flags: &str) -> String {
    const SYSTEM: [&str; 4] = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft"];
    let mut system = [false; 4];
    let mut keywords: Vec<&str> = Vec::new();
    for f in flags.split_ascii_whitespace() {
        if f.starts_with('\\') {
            if let Some(i) = SYSTEM.iter().position(|s| s.eq_ignore_ascii_case(f)) {
                system[i] = true;
            }
        } else if !keywords.iter().any(|k| k.eq_ignore_ascii_case(f)) {
            keywords.push(f);
        }
    }
    let mut out: Vec<&str> = SYSTEM
        .iter()
        .zip(system)
        .filter(|&(_, on)| on)
        .map(|(s, _)| *s)
        .collect();
    out.extend(keywords);
    out.join(" ")
}
