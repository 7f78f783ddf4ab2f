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
    // Numbered 0006 by the plan of issue 3 (0004, 0005 belong to parallel branches); its place
    // in this list, not its file name, is its schema version.
    include_str!("../../sql/0006_content_grams.sql"),
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
