//! What changed since a session last looked: new messages and flag changes in a mailbox, and
//! the cheap signals that tell the server that anything changed at all (DESIGN §2: push).

use rusqlite::params;

use super::{Entry, Index, IndexError, MailboxId};

/// A mailbox's counters, as the change watcher compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxVersion {
    pub mailbox: MailboxId,
    pub uidnext: u64,
    pub highestmodseq: u64,
}

impl Index {
    /// SQLite's `data_version`: changes whenever another connection (this process or another,
    /// such as `imapvault import`) commits to the database. Reading it costs no I/O.
    pub fn data_version(&self) -> Result<i64, IndexError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// UIDNEXT and HIGHESTMODSEQ of every mailbox (one query), to find the ones that changed.
    pub fn mailbox_versions(&self) -> Result<Vec<MailboxVersion>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, uidnext, highestmodseq FROM mailboxes")?;
        let rows = stmt.query_map([], |r| {
            Ok(MailboxVersion {
                mailbox: MailboxId(r.get(0)?),
                uidnext: r.get(1)?,
                highestmodseq: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The entries of `mailbox` that a session knowing UIDs up to `after_uid` and changes up to
    /// `since_modseq` has not seen: new messages, and older ones whose flags changed, leaving
    /// out those with an internal date before the sync window's `edge` (`None`: no window).
    /// Ascending UID order.
    pub fn mailbox_changes(
        &self,
        mailbox: MailboxId,
        after_uid: u32,
        since_modseq: u64,
        edge: Option<i64>,
    ) -> Result<Vec<Entry>, IndexError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {} WHERE mm.mailbox_id = ?1 AND (mm.uid > ?2 OR mm.modseq > ?3)
                AND (?4 IS NULL OR mm.internal_date >= ?4)
              ORDER BY mm.uid",
            super::messages::ENTRY_COLUMNS
        ))?;
        let rows = stmt.query_map(
            params![mailbox.0, after_uid, since_modseq, edge],
            super::messages::entry_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Index {
    /// UIDNEXT and HIGHESTMODSEQ of one mailbox: the cheap check, made after every command of a
    /// session with the mailbox selected, of whether anything changed.
    pub fn mailbox_version(
        &self,
        mailbox: MailboxId,
    ) -> Result<Option<MailboxVersion>, IndexError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .prepare_cached("SELECT uidnext, highestmodseq FROM mailboxes WHERE id = ?1")?
            .query_row(params![mailbox.0], |r| {
                Ok(MailboxVersion {
                    mailbox,
                    uidnext: r.get(0)?,
                    highestmodseq: r.get(1)?,
                })
            })
            .optional()?)
    }
}
