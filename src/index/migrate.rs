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
    // 0004 to 0007 are taken by work on other branches; the lead orders them when merging.
    include_str!("../../sql/0008_sync_window.sql"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// sql/0008 on an archive made before it: every membership gets its message's internal
    /// date, so the sync window sees existing mail.
    #[test]
    fn sync_window_migration_fills_the_dates_of_existing_mail() {
        let mut conn = Connection::open_in_memory().unwrap();
        // The schema as it was before 0008 (the three migrations before it on this branch).
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 3;
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
}
