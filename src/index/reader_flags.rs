//! A reader's own flags on another user's mailbox (issue 5): delegates and auditors keep their
//! own `\Seen`, `\Flagged` and keywords in `reader_flags` (sql/0007_access.sql), overlaid on the
//! owner's messages; the owner's flags are never shown to them nor changed by them.
//!
//! MODSEQ: a reader's change takes its value from the mailbox's HIGHESTMODSEQ counter, as an
//! owner's change does, so a message's MODSEQ as a reader sees it (the larger of the owner's
//! entry and the reader's row) only grows, and CONDSTORE/QRESYNC work unchanged. The owner's
//! HIGHESTMODSEQ then also grows on a reader's change, with no message of theirs changed, which
//! RFC 7162 allows (it only asks that it never goes back).

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::messages::{entry_from_row, write_flags_each};
use super::{Entry, Index, IndexError, MailboxId, UserId};

/// The entry columns (as `messages::ENTRY_COLUMNS`), with the reader's flags in place of the
/// owner's (bound: ?1 reader); `WHERE` follows.
const READER_ENTRY: &str = "
    SELECT mm.uid, mm.message_id, coalesce(rf.flags, ''), max(mm.modseq, coalesce(rf.modseq, 0)),
           mm.has_attachment, mm.internal_date
      FROM mailbox_messages mm
      LEFT JOIN reader_flags rf
        ON rf.user_id = ?1 AND rf.mailbox_id = mm.mailbox_id AND rf.uid = mm.uid";

impl Index {
    /// As [`Index::mailbox_entries_since`], with `reader`'s own flags.
    pub fn reader_entries_since(
        &self,
        reader: UserId,
        mailbox: MailboxId,
        edge: Option<i64>,
    ) -> Result<Vec<Entry>, IndexError> {
        let sql = format!(
            "{READER_ENTRY} WHERE mm.mailbox_id = ?2 AND (?3 IS NULL OR mm.internal_date >= ?3)
              ORDER BY mm.uid"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![reader.0, mailbox.0, edge], entry_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// As [`Index::mailbox_changes`], with `reader`'s own flags: new messages, and those whose
    /// MODSEQ (the owner's or the reader's) passed `since_modseq`, none before the sync
    /// window's `edge`.
    pub fn reader_changes(
        &self,
        reader: UserId,
        mailbox: MailboxId,
        after_uid: u32,
        since_modseq: u64,
        edge: Option<i64>,
    ) -> Result<Vec<Entry>, IndexError> {
        let sql = format!(
            "{READER_ENTRY} WHERE mm.mailbox_id = ?2
                AND (mm.uid > ?3 OR mm.modseq > ?4 OR rf.modseq > ?4)
                AND (?5 IS NULL OR mm.internal_date >= ?5)
              ORDER BY mm.uid"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![reader.0, mailbox.0, after_uid, since_modseq, edge],
            entry_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// As [`Index::set_flags_many`], for `reader`'s own flags: one transaction, each entry's
    /// MODSEQ as the reader sees it returned in order, unchanged where the flags are.
    pub fn set_reader_flags_many(
        &mut self,
        reader: UserId,
        mailbox: MailboxId,
        changes: &[(u32, String)],
    ) -> Result<Vec<u64>, IndexError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let modseqs = {
            let sql = format!("{READER_ENTRY} WHERE mm.mailbox_id = ?2 AND mm.uid = ?3");
            let mut read = tx.prepare_cached(&sql)?;
            let mut write = tx.prepare_cached(
                "INSERT INTO reader_flags (user_id, mailbox_id, uid, flags, modseq)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO UPDATE SET flags = excluded.flags, modseq = excluded.modseq",
            )?;
            write_flags_each(
                &tx,
                mailbox,
                changes,
                |uid| {
                    read.query_row(params![reader.0, mailbox.0, uid], entry_from_row)
                        .optional()
                        .map(|e| e.map(|e| (e.flags, e.modseq)))
                },
                |uid, flags, modseq| {
                    write.execute(params![reader.0, mailbox.0, uid, flags, modseq])
                },
            )?
        };
        tx.commit()?;
        Ok(modseqs)
    }

    /// How many messages of each of `owner`'s mailboxes `reader` has marked `\Seen` (mailboxes
    /// with none are absent): STATUS UNSEEN for a reader is the message count less this.
    pub fn reader_seen_counts(
        &self,
        reader: UserId,
        owner: UserId,
    ) -> Result<HashMap<MailboxId, u64>, IndexError> {
        // Flags are stored canonically, so instr finds `\Seen` exactly (as sql/0002 does).
        let mut stmt = self.conn.prepare_cached(
            "SELECT rf.mailbox_id, count(*)
               FROM reader_flags rf
               JOIN mailboxes m ON m.id = rf.mailbox_id
               JOIN mailbox_messages mm ON mm.mailbox_id = rf.mailbox_id AND mm.uid = rf.uid
              WHERE rf.user_id = ?1 AND m.user_id = ?2
                AND instr(' ' || rf.flags || ' ', ' \\Seen ') > 0
              GROUP BY rf.mailbox_id",
        )?;
        let rows = stmt.query_map(params![reader.0, owner.0], |r| {
            Ok((MailboxId(r.get(0)?), r.get::<_, i64>(1)?.max(0) as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many messages of `mailbox` with an internal date at or after `edge` (the sync
    /// window) `reader` has marked `\Seen`: a reader's STATUS UNSEEN under a window.
    pub fn reader_seen_since(
        &self,
        reader: UserId,
        mailbox: MailboxId,
        edge: i64,
    ) -> Result<u64, IndexError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*)
               FROM reader_flags rf
               JOIN mailbox_messages mm ON mm.mailbox_id = rf.mailbox_id AND mm.uid = rf.uid
              WHERE rf.user_id = ?1 AND rf.mailbox_id = ?2 AND mm.internal_date >= ?3
                AND instr(' ' || rf.flags || ' ', ' \\Seen ') > 0",
            )?
            .query_row(params![reader.0, mailbox.0, edge], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }
}
