//! Users' addresses and the journal (journal mode, DESIGN §1; schema in `sql/0009_journal.sql`).
//!
//! Owns: which addresses belong to which user, the journal (every journaled message once, with
//! its participants), and the materialising of journal messages into users' `INBOX` (received,
//! Bcc included) and `Sent` (sent) as ordinary mailbox memberships, so that UIDs, modseqs, flags,
//! SEARCH and IDLE push work exactly as in mailbox mode. Memberships are added in two places,
//! always through the ingest [`Placer`] (UIDs from UIDNEXT, never reused):
//! - at ingest ([`journal_in`]), for the users whose addresses take part;
//! - when an address is added ([`Index::add_address`]): every journal message it took part in
//!   that the user does not already hold is added in journal order, in one transaction, with
//!   new UIDs above every UID the user has seen (so an old message gets a new, higher UID).
//!
//! - for auditors (role `auditor`, `sql/0007_access.sql`): every journaled message is placed in
//!   their own `Journal` folder, at ingest and, for a new auditor, by a backfill of the whole
//!   journal in journal order (issue 5: "the whole journal as `Journal`").
//!
//! Removing an address stops future matching only: what the user already holds stays. The
//! archive has no expunge (DESIGN §1: nothing is ever removed from a user's view), and an
//! address removed was theirs when that mail came. Reassigning an address to another user gives
//! the new owner the address's whole history (that is what backfill means); administrators are
//! told so in imapvault(8).

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::ingest::{JournalOutcome, Placer};
use super::{now_unix, Index, IndexError, MailboxId, MessageId, UserId};
use crate::config::ArchiveMode;
use crate::mime::journal::{Participant, Role};

/// The auditors' folder holding the whole journal.
pub const JOURNAL_FOLDER: &str = "Journal";

/// The folder a role's messages are shown in.
fn folder(role: Role) -> &'static str {
    match role {
        Role::Sent => "Sent",
        Role::Received => "INBOX",
    }
}

fn role_from_stored(s: &str) -> Result<Role, IndexError> {
    match s {
        "sent" => Ok(Role::Sent),
        "received" => Ok(Role::Received),
        other => Err(IndexError::Corrupt(format!("journal role {other:?}"))),
    }
}

/// One message of the journal, in journal order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalItem {
    /// Its position in the journal: ascending, never reused (usable as a UID for a whole-journal
    /// folder).
    pub seq: u64,
    /// The stored message.
    pub message: MessageId,
}

/// What [`Index::add_address`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressAdded {
    /// Entries newly added to the user's INBOX and Sent (already held ones are not counted;
    /// a message the address both sent and received counts once in each).
    pub backfilled: u64,
}

impl Index {
    /// Records that the archive takes mail in `mode`, or fails with
    /// [`IndexError::ModeMismatch`] if it already holds mail of the other mode (DESIGN §1: a
    /// configuration changed under an existing archive must not mix the modes).
    pub fn claim_mode(&mut self, mode: ArchiveMode) -> Result<(), IndexError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        match recorded_mode_in(&tx)? {
            Some(recorded) if recorded != mode => {
                return Err(IndexError::ModeMismatch {
                    recorded,
                    configured: mode,
                })
            }
            Some(_) => {}
            None => {
                tx.execute(
                    "INSERT INTO archive_mode (id, mode) VALUES (1, ?1)",
                    params![mode_str(mode)],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The mode the archive's mail was ingested in; `None` before the first ingest.
    pub fn recorded_mode(&self) -> Result<Option<ArchiveMode>, IndexError> {
        recorded_mode_in(&self.conn)
    }

    /// Gives `user` the address `address` (already canonical: `mime::journal::addr_spec`) and,
    /// in the same transaction, shows them every journal message the address took part in.
    /// Fails if the user does not exist or the address belongs to anyone.
    pub fn add_address(&mut self, user: &str, address: &str) -> Result<AddressAdded, IndexError> {
        // Like an ingest commit, durable when it returns (DESIGN §3).
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let result = self.add_address_tx(user, address);
        let restore = self.conn.pragma_update(None, "synchronous", "NORMAL");
        let added = result?;
        restore?;
        Ok(added)
    }

    fn add_address_tx(&mut self, user: &str, address: &str) -> Result<AddressAdded, IndexError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let user_id = user_id_in(&tx, user)?;
        let owner: Option<String> = tx
            .query_row(
                "SELECT u.name FROM user_addresses a JOIN users u ON u.id = a.user_id
                  WHERE a.address = ?1",
                params![address],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(owner) = owner {
            return Err(IndexError::AddressTaken {
                address: address.to_owned(),
                owner,
            });
        }
        tx.execute(
            "INSERT INTO user_addresses (address, user_id, created) VALUES (?1, ?2, ?3)",
            params![address, user_id.0, now_unix()],
        )?;
        let matches: Vec<(i64, String)> = {
            let mut stmt = tx.prepare(
                "SELECT j.message_id, p.role
                   FROM journal_participants p JOIN journal j ON j.message_id = p.message_id
                  WHERE p.address = ?1
                  ORDER BY j.seq, p.role",
            )?;
            let rows = stmt.query_map(params![address], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut placer = Placer::default();
        let mut backfilled = 0;
        for (message, role) in matches {
            let mailbox = journal_mailbox(&tx, user_id, role_from_stored(&role)?)?;
            let placed = placer.place(&tx, mailbox, MessageId(message), "")?;
            if matches!(placed, super::Placed::Added { .. }) {
                backfilled += 1;
            }
        }
        placer.finish(&tx)?;
        tx.commit()?;
        Ok(AddressAdded { backfilled })
    }

    /// Takes `address` from `user`. Messages already shown to the user stay (module docs);
    /// later journal messages no longer match.
    pub fn delete_address(&mut self, user: &str, address: &str) -> Result<(), IndexError> {
        let user_id = self.user_id(user)?;
        let n = self.conn.execute(
            "DELETE FROM user_addresses WHERE address = ?1 AND user_id = ?2",
            params![address, user_id.0],
        )?;
        if n == 0 {
            return Err(IndexError::NoSuchAddress {
                address: address.to_owned(),
                user: user.to_owned(),
            });
        }
        Ok(())
    }

    /// The user's addresses, sorted.
    pub fn addresses(&self, user: &str) -> Result<Vec<String>, IndexError> {
        let user_id = self.user_id(user)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT address FROM user_addresses WHERE user_id = ?1 ORDER BY address",
        )?;
        let rows = stmt.query_map(params![user_id.0], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Creates the user's journal folders, `INBOX` and `Sent`, if absent, so a journal-mode
    /// user has them before any mail matches. An auditor also gets `Journal`, filled with every
    /// journaled message it does not hold yet, in journal order.
    pub fn ensure_journal_mailboxes(&mut self, user: &str) -> Result<(), IndexError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let user_id = user_id_in(&tx, user)?;
        for role in [Role::Received, Role::Sent] {
            journal_mailbox(&tx, user_id, role)?;
        }
        let role: String = tx
            .prepare_cached("SELECT role FROM users WHERE id = ?1")?
            .query_row(params![user_id.0], |r| r.get(0))?;
        if role == "auditor" {
            let mailbox = super::mailboxes::ensure_in(&tx, user_id, JOURNAL_FOLDER)?;
            let missing: Vec<i64> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT j.message_id FROM journal j
                      WHERE NOT EXISTS (SELECT 1 FROM mailbox_messages m
                                         WHERE m.mailbox_id = ?1 AND m.message_id = j.message_id)
                      ORDER BY j.seq",
                )?;
                let rows = stmt.query_map(params![mailbox.0], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            let mut placer = Placer::default();
            for message in missing {
                placer.place(&tx, mailbox, MessageId(message), "")?;
            }
            placer.finish(&tx)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The whole journal in journal order: up to `limit` messages after position `after_seq`
    /// (0 for the start). For an auditor's view of everything journaled.
    pub fn journal(&self, after_seq: u64, limit: usize) -> Result<Vec<JournalItem>, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, message_id FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![after_seq, limit], |r| {
            Ok(JournalItem {
                seq: r.get(0)?,
                message: MessageId(r.get(1)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Who took part in a journaled message, sorted.
    pub fn journal_participants(&self, message: MessageId) -> Result<Vec<Participant>, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT address, role FROM journal_participants WHERE message_id = ?1
              ORDER BY role = 'received', address",
        )?;
        let rows = stmt.query_map(params![message.0], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (address, role) = row?;
            out.push(Participant {
                address,
                role: role_from_stored(&role)?,
            });
        }
        Ok(out)
    }
}

fn mode_str(mode: ArchiveMode) -> &'static str {
    match mode {
        ArchiveMode::Mailbox => "mailbox",
        ArchiveMode::Journal => "journal",
    }
}

fn recorded_mode_in(conn: &rusqlite::Connection) -> Result<Option<ArchiveMode>, IndexError> {
    let mode: Option<String> = conn
        .query_row("SELECT mode FROM archive_mode WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    match mode.as_deref() {
        None => Ok(None),
        Some("mailbox") => Ok(Some(ArchiveMode::Mailbox)),
        Some("journal") => Ok(Some(ArchiveMode::Journal)),
        Some(other) => Err(IndexError::Corrupt(format!("archive mode {other:?}"))),
    }
}

/// Journals one message inside the ingest transaction: records it (once) and its participants
/// (added to those known), then shows it to every user whose address took part.
pub(super) fn journal_in(
    tx: &Transaction<'_>,
    placer: &mut Placer,
    message: MessageId,
    participants: &[Participant],
) -> Result<JournalOutcome, IndexError> {
    let new = tx
        .prepare_cached("INSERT INTO journal (message_id) VALUES (?1) ON CONFLICT DO NOTHING")?
        .execute(params![message.0])?
        == 1;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO journal_participants (address, role, message_id) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
        )?;
        for p in participants {
            insert.execute(params![p.address, p.role.as_str(), message.0])?;
        }
    }
    let users: Vec<(i64, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT DISTINCT a.user_id, p.role
               FROM journal_participants p JOIN user_addresses a ON a.address = p.address
              WHERE p.message_id = ?1
              ORDER BY a.user_id, p.role",
        )?;
        let rows = stmt.query_map(params![message.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (user, role) in users {
        let mailbox = journal_mailbox(tx, UserId(user), role_from_stored(&role)?)?;
        placer.place(tx, mailbox, message, "")?;
    }
    if new {
        let auditors: Vec<i64> = {
            let mut stmt = tx.prepare_cached("SELECT id FROM users WHERE role = 'auditor'")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for auditor in auditors {
            let mailbox = super::mailboxes::ensure_in(tx, UserId(auditor), JOURNAL_FOLDER)?;
            placer.place(tx, mailbox, message, "")?;
        }
    }
    Ok(if new {
        JournalOutcome::New(message)
    } else {
        JournalOutcome::Known(message)
    })
}

/// The user's folder for a role, created (subscribed, with its special use) if absent.
fn journal_mailbox(
    tx: &Transaction<'_>,
    user: UserId,
    role: Role,
) -> Result<MailboxId, IndexError> {
    super::mailboxes::ensure_in(tx, user, folder(role))
}

fn user_id_in(tx: &Transaction<'_>, name: &str) -> Result<UserId, IndexError> {
    tx.prepare_cached("SELECT id FROM users WHERE name = ?1")?
        .query_row(params![name], |r| r.get(0))
        .optional()?
        .map(UserId)
        .ok_or_else(|| IndexError::NoSuchUser(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::ingest::test_message as message;
    use crate::index::{JournalEntry, PlacementMessage};

    fn part(address: &str, role: Role) -> Participant {
        Participant {
            address: address.into(),
            role,
        }
    }

    fn journal(ix: &mut Index, n: u8, participants: Vec<Participant>) {
        ix.commit_ingest(
            &[message(n)],
            &[],
            &[JournalEntry {
                message: PlacementMessage::New(0),
                participants,
            }],
        )
        .unwrap();
    }

    fn uids(ix: &Index, user: &str, folder: &str) -> Vec<(u32, i64)> {
        let u = ix.user_id(user).unwrap();
        let Some(mb) = ix.mailbox(u, folder).unwrap() else {
            return Vec::new();
        };
        ix.conn
            .prepare(
                "SELECT uid, message_id FROM mailbox_messages WHERE mailbox_id = ?1 ORDER BY uid",
            )
            .unwrap()
            .query_map(params![mb.id.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn ingest_matches_users_and_backfill_gives_ascending_uids() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        ix.add_user("alice", "h").unwrap();
        ix.add_user("bob", "h").unwrap();
        ix.add_address("alice", "alice@example.org").unwrap();
        journal(
            &mut ix,
            1,
            vec![
                part("alice@example.org", Role::Sent),
                part("old-bob@example.org", Role::Received),
            ],
        );
        journal(&mut ix, 2, vec![part("bob@example.org", Role::Received)]);
        assert_eq!(uids(&ix, "alice", "Sent"), vec![(1, 1)]);
        assert_eq!(uids(&ix, "alice", "INBOX"), vec![]);
        ix.add_address("bob", "bob@example.org").unwrap();
        assert_eq!(uids(&ix, "bob", "INBOX"), vec![(1, 2)]);
        // An older message, matched later, gets a higher UID.
        let added = ix.add_address("bob", "old-bob@example.org").unwrap();
        assert_eq!(added.backfilled, 1);
        assert_eq!(uids(&ix, "bob", "INBOX"), vec![(1, 2), (2, 1)]);
        // The same message journaled again with another participant: once in the journal.
        journal(&mut ix, 1, vec![part("bob@example.org", Role::Received)]);
        assert_eq!(uids(&ix, "bob", "INBOX"), vec![(1, 2), (2, 1)]);
        assert_eq!(ix.journal(0, 10).unwrap().len(), 2);
        assert_eq!(ix.journal_participants(MessageId(1)).unwrap().len(), 3);
    }

    #[test]
    fn the_first_ingest_claims_the_mode_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        assert_eq!(ix.recorded_mode().unwrap(), None);
        ix.claim_mode(ArchiveMode::Journal).unwrap();
        ix.claim_mode(ArchiveMode::Journal).unwrap();
        assert!(matches!(
            ix.claim_mode(ArchiveMode::Mailbox),
            Err(IndexError::ModeMismatch {
                recorded: ArchiveMode::Journal,
                configured: ArchiveMode::Mailbox
            })
        ));
        assert_eq!(ix.recorded_mode().unwrap(), Some(ArchiveMode::Journal));
    }

    #[test]
    fn an_address_belongs_to_one_user() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        ix.add_user("alice", "h").unwrap();
        ix.add_user("bob", "h").unwrap();
        ix.add_address("alice", "a@example.org").unwrap();
        assert!(matches!(
            ix.add_address("bob", "a@example.org"),
            Err(IndexError::AddressTaken { ref owner, .. }) if owner == "alice"
        ));
        assert!(matches!(
            ix.add_address("carol", "c@example.org"),
            Err(IndexError::NoSuchUser(_))
        ));
        assert!(matches!(
            ix.delete_address("bob", "a@example.org"),
            Err(IndexError::NoSuchAddress { .. })
        ));
        ix.delete_address("alice", "a@example.org").unwrap();
        assert_eq!(ix.addresses("alice").unwrap(), Vec::<String>::new());
        ix.add_address("bob", "a@example.org").unwrap();
        assert_eq!(ix.addresses("bob").unwrap(), vec!["a@example.org"]);
        // Deleting a user frees their addresses.
        ix.delete_user("bob").unwrap();
        ix.add_address("alice", "a@example.org").unwrap();
    }
}
