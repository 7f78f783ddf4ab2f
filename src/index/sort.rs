//! The SORT and THREAD keys (`sql/0004_sort_keys.sql`, issue 3): one row per stored message,
//! written in the ingest transaction (see `ingest`) and by `imapvault reindex`, read back with
//! the message's dates and size for SORT and THREAD.
//!
//! Owns the `message_sort_keys` table. Knows no IMAP: the caller compares and threads.

use std::collections::HashMap;

use rusqlite::{params, Transaction};

use super::messages::{ids_json, in_order_of};
use super::{Index, IndexError, MessageId};
use crate::mime::sort::SortKeys;
use crate::store::BlobRef;

/// What SORT and THREAD need of one stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortFacts {
    /// The message.
    pub id: MessageId,
    /// Where its bytes are (to compute `keys` when the row is missing).
    pub blob: BlobRef,
    /// RFC822.SIZE.
    pub size: u64,
    /// INTERNALDATE, Unix seconds (ARRIVAL).
    pub internal_date: i64,
    /// The `Date:` header, Unix seconds, if it parsed.
    pub sent_date: Option<i64>,
    /// The stored keys; None for a message stored before migration 0004 and not yet reindexed.
    pub keys: Option<SortKeys>,
}

impl Index {
    /// The sort facts of `ids`, in that order, with one statement.
    pub fn sort_facts(&self, ids: &[MessageId]) -> Result<Vec<SortFacts>, IndexError> {
        let json = ids_json(ids);
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.id, m.segment, m.offset, m.len, m.internal_date, m.sent_date,
                    k.id, k.subject, k.subject_is_reply, k.from_mailbox, k.to_mailbox,
                    k.cc_mailbox, k.display_from, k.display_to, k.message_id, k.refs
               FROM messages m LEFT JOIN message_sort_keys k ON k.id = m.id
              WHERE m.id IN (SELECT value FROM json_each(?1))",
        )?;
        let found: HashMap<i64, SortFacts> = stmt
            .query_map(params![json], |r| {
                let has_keys: Option<i64> = r.get(6)?;
                let keys = match has_keys {
                    None => None,
                    Some(_) => {
                        let refs: String = r.get(15)?;
                        Some(SortKeys {
                            subject: r.get(7)?,
                            subject_is_reply: r.get(8)?,
                            from: r.get(9)?,
                            to: r.get(10)?,
                            cc: r.get(11)?,
                            display_from: r.get(12)?,
                            display_to: r.get(13)?,
                            message_id: r.get(14)?,
                            references: refs.split_whitespace().map(str::to_owned).collect(),
                        })
                    }
                };
                let len: u64 = r.get(3)?;
                Ok(SortFacts {
                    id: MessageId(r.get(0)?),
                    blob: BlobRef {
                        segment: r.get(1)?,
                        offset: r.get(2)?,
                        len,
                    },
                    size: len,
                    internal_date: r.get(4)?,
                    sent_date: r.get(5)?,
                    keys,
                })
            })?
            .map(|f| f.map(|f| (f.id.0, f)))
            .collect::<Result<_, _>>()?;
        in_order_of(ids, found)
    }
}

/// Writes (or replaces) the sort keys of message `id`.
pub(super) fn put_sort_keys(
    tx: &Transaction<'_>,
    id: MessageId,
    k: &SortKeys,
) -> Result<(), IndexError> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO message_sort_keys
             (id, subject, subject_is_reply, from_mailbox, to_mailbox, cc_mailbox, display_from,
              display_to, message_id, refs)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        id.0,
        k.subject,
        k.subject_is_reply,
        k.from,
        k.to,
        k.cc,
        k.display_from,
        k.display_to,
        k.message_id,
        k.references.join(" "),
    ])?;
    Ok(())
}

/// Drops the sort keys of messages that no longer exist (the end of a reindex).
pub(super) fn drop_orphans(tx: &Transaction<'_>) -> Result<(), IndexError> {
    tx.execute(
        "DELETE FROM message_sort_keys WHERE id NOT IN (SELECT id FROM messages)",
        [],
    )?;
    Ok(())
}
