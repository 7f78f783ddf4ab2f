//! Users: names and password hashes (the hash is opaque here; `crate::auth` checks it).

use rusqlite::{params, OptionalExtension};

use super::{now_unix, Index, IndexError, Role, UserId};

/// A line of `imapvault user list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// Login name.
    pub name: String,
    /// Number of mailboxes.
    pub mailboxes: u64,
    /// Number of distinct messages in all their mailboxes.
    pub messages: u64,
    /// User or auditor.
    pub role: Role,
}

impl Index {
    /// Adds a user; fails with [`IndexError::UserExists`] if the name is taken.
    pub fn add_user(&mut self, name: &str, password_hash: &str) -> Result<UserId, IndexError> {
        self.add_user_as(name, password_hash, Role::User)
    }

    /// Adds a user with a role; fails with [`IndexError::UserExists`] if the name is taken.
    pub fn add_user_as(
        &mut self,
        name: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<UserId, IndexError> {
        let inserted = self.conn.execute(
            "INSERT INTO users (name, password_hash, created, role) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO NOTHING",
            params![name, password_hash, now_unix(), role.as_stored()],
        )?;
        if inserted == 0 {
            return Err(IndexError::UserExists(name.to_owned()));
        }
        Ok(UserId(self.conn.last_insert_rowid()))
    }

    /// Replaces a user's password hash.
    pub fn set_password_hash(&mut self, name: &str, password_hash: &str) -> Result<(), IndexError> {
        let n = self.conn.execute(
            "UPDATE users SET password_hash = ?2 WHERE name = ?1",
            params![name, password_hash],
        )?;
        if n == 0 {
            return Err(IndexError::NoSuchUser(name.to_owned()));
        }
        Ok(())
    }

    /// Deletes a user with their mailboxes, memberships (flags) and subscriptions (foreign keys
    /// `ON DELETE CASCADE`). The messages and their blobs stay: the store is append-only and a
    /// message may be shared with other users (journal mode); a later garbage collection may drop
    /// message rows no mailbox holds. Re-adding the user and re-importing gives mailboxes with
    /// new, larger UIDVALIDITY values, so clients resynchronise.
    pub fn delete_user(&mut self, name: &str) -> Result<(), IndexError> {
        let n = self
            .conn
            .execute("DELETE FROM users WHERE name = ?1", params![name])?;
        if n == 0 {
            return Err(IndexError::NoSuchUser(name.to_owned()));
        }
        Ok(())
    }

    /// The user's id and password hash, for login.
    pub fn user_password_hash(&self, name: &str) -> Result<Option<(UserId, String)>, IndexError> {
        Ok(self
            .conn
            .prepare_cached("SELECT id, password_hash FROM users WHERE name = ?1")?
            .query_row(params![name], |r| Ok((UserId(r.get(0)?), r.get(1)?)))
            .optional()?)
    }

    /// The user's id.
    pub fn user_id(&self, name: &str) -> Result<UserId, IndexError> {
        self.find_user(name)?
            .ok_or_else(|| IndexError::NoSuchUser(name.to_owned()))
    }

    /// Every user, by name, with counts (one query).
    pub fn list_users(&self) -> Result<Vec<UserSummary>, IndexError> {
        let mut stmt = self.conn.prepare(
            "SELECT u.name,
                    (SELECT count(*) FROM mailboxes m WHERE m.user_id = u.id),
                    (SELECT count(DISTINCT mm.message_id)
                       FROM mailboxes m JOIN mailbox_messages mm ON mm.mailbox_id = m.id
                      WHERE m.user_id = u.id),
                    u.role
               FROM users u ORDER BY u.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(UserSummary {
                name: r.get(0)?,
                mailboxes: r.get::<_, i64>(1)?.max(0) as u64,
                messages: r.get::<_, i64>(2)?.max(0) as u64,
                role: Role::from_stored(&r.get::<_, String>(3)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
