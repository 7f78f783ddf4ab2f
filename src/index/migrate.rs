//! Schema migrations: `sql/NNNN_*.sql`, applied in order, tracked by `PRAGMA user_version`.
//!
//! Each migration runs in its own `BEGIN IMMEDIATE` transaction together with the version bump,
//! so a crash leaves the schema at a whole version, and two processes opening a fresh archive at
//! once do not both migrate (the second waits, then finds the version already current).

use rusqlite::{Connection, TransactionBehavior};

use super::IndexError;

/// The migrations, in order; migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../sql/0001_init.sql"),
    include_str!("../../sql/0002_mailbox_counters.sql"),
    include_str!("../../sql/0003_content.sql"),
    include_str!("../../sql/0004_sort_keys.sql"),
    include_str!("../../sql/0005_preview.sql"),
    include_str!("../../sql/0006_content_grams.sql"),
    include_str!("../../sql/0007_access.sql"),
    include_str!("../../sql/0008_sync_window.sql"),
    include_str!("../../sql/0009_journal.sql"),
    include_str!("../../sql/0010_entry_attachment.sql"),
    include_str!("../../sql/0011_content_words.sql"),
    include_str!("../../sql/0012_words_automerge.sql"),
    include_str!("../../sql/0013_token_runs.sql"),
    include_str!("../../sql/0014_packed_text.sql"),
    include_str!("../../sql/0015_staged_words.sql"),
];

/// Applies every migration newer than the database's `user_version`.
/// The schema version a fully migrated index has.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub(super) fn apply(conn: &mut Connection) -> Result<(), IndexError> {
    let known = MIGRATIONS.len() as i64;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > known {
            return Err(IndexError::SchemaTooNew {
                found: version,
                known,
            });
        }
        if version == known {
            return Ok(());
        }
        let Some(sql) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Err(IndexError::Corrupt(format!("user_version {version}")));
        };
        tx.execute_batch(sql)?;
        // PRAGMA takes no bound parameters; `version + 1` is our own integer, not user text.
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
        tx.commit()?;
    }
}

/// Brings the empty database of `conn` to the schema as it was just before migration `number`
/// ("0008"): the migrations listed before it applied, and `user_version` saying so. For tests
/// of a migration on an archive made before it.
#[cfg(test)]
pub(super) fn schema_before(conn: &Connection, number: &str) {
    let marker = format!("migration {number}");
    let before = MIGRATIONS
        .iter()
        .position(|m| m.contains(&marker))
        .unwrap_or_else(|| panic!("{number} is listed"));
    for m in &MIGRATIONS[..before] {
        conn.execute_batch(m).unwrap();
    }
    conn.execute_batch(&format!("PRAGMA user_version = {before}"))
        .unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory index whose schema is as it was just before migration `number` ("0008"):
    /// see [`super::schema_before`].
    fn schema_before(number: &str) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        super::schema_before(&conn, number);
        conn
    }

    /// Migration 0005 on an archive that already holds messages: their preview is unknown
    /// (NULL, filled by reindex) and text search must wait for the refold; on an empty archive
    /// there is nothing to refold.
    #[test]
    fn preview_migration_marks_existing_messages_for_reindex() {
        for with_message in [true, false] {
            let mut conn = schema_before("0005");
            if with_message {
                conn.execute(
                    "INSERT INTO messages (sha256, segment, offset, len, internal_date,
                        internal_tz, envelope, body_structure, body, has_attachment)
                     VALUES (zeroblob(32), 1, 16, 10, 0, 0, x'', x'', x'', 0)",
                    [],
                )
                .unwrap();
            }
            apply(&mut conn).unwrap();
            let (refold, previews): (bool, Option<String>) = conn
                .query_row(
                    "SELECT refold_pending, (SELECT preview FROM messages) FROM content_state",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(refold, with_message);
            assert_eq!(previews, None);
        }
    }

    /// sql/0008 on an archive made before it: every membership gets its message's internal
    /// date, so the sync window sees existing mail.
    #[test]
    fn sync_window_migration_fills_the_dates_of_existing_mail() {
        let mut conn = schema_before("0008");
        conn.execute_batch(
            "
             INSERT INTO users (id, name, password_hash, created) VALUES (1, 'u', 'h', 0);
             INSERT INTO mailboxes (id, user_id, name, uidvalidity, created)
                  VALUES (1, 1, 'INBOX', 1, 0);
             INSERT INTO messages (id, sha256, segment, offset, len, internal_date, internal_tz,
                                   envelope, body_structure, body, has_attachment)
                  VALUES (7, zeroblob(32), 1, 16, 10, 1234, 0, x'', x'', x'', 0);
             INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq)
                  VALUES (1, 1, 7, 1);",
        )
        .unwrap();
        apply(&mut conn).unwrap();
        let date: i64 = conn
            .query_row("SELECT internal_date FROM mailbox_messages", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(date, 1234);
    }

    /// sql/0010 on an archive made before it: every membership gets its message's attachment
    /// fact, memberships added later by any writer get it too, and a reindex that changes the
    /// fact in `messages` changes the copies.
    #[test]
    fn entry_attachment_migration_copies_the_fact_and_keeps_it_equal() {
        let mut conn = schema_before("0010");
        conn.execute_batch(
            "
             INSERT INTO users (id, name, password_hash, created) VALUES (1, 'u', 'h', 0);
             INSERT INTO mailboxes (id, user_id, name, uidvalidity, created)
                  VALUES (1, 1, 'INBOX', 1, 0), (2, 1, 'Sent', 2, 0);
             INSERT INTO messages (id, sha256, segment, offset, len, internal_date, internal_tz,
                                   envelope, body_structure, body, has_attachment)
                  VALUES (7, zeroblob(32), 1, 16, 10, 1234, 0, x'', x'', x'', 1),
                         (8, randomblob(32), 1, 42, 10, 1235, 0, x'', x'', x'', 0);
             INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq)
                  VALUES (1, 1, 7, 1), (1, 2, 8, 1);",
        )
        .unwrap();
        apply(&mut conn).unwrap();
        let facts = |conn: &Connection| -> Vec<(i64, i64, Option<bool>)> {
            let mut stmt = conn
                .prepare(
                    "SELECT mailbox_id, message_id, has_attachment FROM mailbox_messages
                      ORDER BY mailbox_id, uid",
                )
                .unwrap();
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap();
            rows.collect::<Result<_, _>>().unwrap()
        };
        assert_eq!(facts(&conn), vec![(1, 7, Some(true)), (1, 8, Some(false))]);
        // A writer that does not name the column (the trigger fills it).
        conn.execute_batch(
            "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq)
                  VALUES (2, 1, 7, 1);
             UPDATE messages SET has_attachment = 1 WHERE id = 8;
             UPDATE messages SET has_attachment = 0 WHERE id = 7;",
        )
        .unwrap();
        assert_eq!(
            facts(&conn),
            vec![(1, 7, Some(false)), (1, 8, Some(true)), (2, 7, Some(false))]
        );
    }
}
