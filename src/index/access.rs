//! Who may read whose archive (issue 5): user roles (auditors) and delegation grants.
//!
//! Owns the SQL of `users.role` and `grants` (sql/0007_access.sql). Knows nothing of IMAP: the
//! IMAP layer (`crate::imap::access`) turns these answers into names and rights. Every answer is
//! read from the database when asked, never cached, so a grant or revoke takes effect at the
//! next question.

use rusqlite::{params, OptionalExtension};

use super::{now_unix, Index, IndexError, UserId};

/// The first level of the names under which another user's archive appears (RFC 2342 "other
/// users' namespace"): `Other Users/OWNER/INBOX`.
pub const OTHER_USERS: &str = "Other Users";

/// What a user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads their own archive and the archives delegated to them.
    User,
    /// Also reads every other user's archive (with their own flags); every such access is
    /// logged.
    Auditor,
}

impl Role {
    pub(super) fn as_stored(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Auditor => "auditor",
        }
    }

    pub(super) fn from_stored(s: &str) -> Role {
        if s == "auditor" {
            Role::Auditor
        } else {
            Role::User
        }
    }

    /// The role as `user list` prints it.
    pub fn as_str(self) -> &'static str {
        self.as_stored()
    }
}

/// How a user reaches another user's archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The owner granted it (`user grant OWNER --to USER`).
    Delegate,
    /// The user is an auditor (whether or not a grant exists too).
    Auditor,
}

/// Another user whose archive a user may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadableOwner {
    /// The owner's id.
    pub id: UserId,
    /// The owner's login name.
    pub name: String,
    /// Why the reader may read it.
    pub reach: Reach,
}

/// Why a grant or revoke was refused.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Either name is not a user.
    #[error("no user {0:?}")]
    NoSuchUser(String),
    /// A user cannot be their own delegate.
    #[error("{0} always reads their own archive; a grant to oneself makes no sense")]
    SelfGrant(String),
    /// The grant exists already.
    #[error("{delegate} already reads the archive of {owner}")]
    Exists {
        /// The owner.
        owner: String,
        /// The delegate.
        delegate: String,
    },
    /// Revoke of a grant that does not exist.
    #[error("{delegate} has no grant to read the archive of {owner}")]
    NoSuchGrant {
        /// The owner.
        owner: String,
        /// The delegate.
        delegate: String,
    },
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl From<rusqlite::Error> for GrantError {
    fn from(e: rusqlite::Error) -> Self {
        GrantError::Index(e.into())
    }
}

impl Index {
    /// A user's role.
    pub fn role(&self, user: UserId) -> Result<Role, IndexError> {
        let role: Option<String> = self
            .conn
            .prepare_cached("SELECT role FROM users WHERE id = ?1")?
            .query_row(params![user.0], |r| r.get(0))
            .optional()?;
        Ok(role.as_deref().map_or(Role::User, Role::from_stored))
    }

    /// Sets a user's role.
    pub fn set_role(&mut self, name: &str, role: Role) -> Result<(), IndexError> {
        let n = self.conn.execute(
            "UPDATE users SET role = ?2 WHERE name = ?1",
            params![name, role.as_stored()],
        )?;
        if n == 0 {
            return Err(IndexError::NoSuchUser(name.to_owned()));
        }
        Ok(())
    }

    /// Lets `delegate` read `owner`'s archive, and subscribes the delegate to the owner's
    /// folders as they are now (clients such as Thunderbird show only subscribed folders).
    pub fn grant(&mut self, owner: &str, delegate: &str) -> Result<(), GrantError> {
        let (owner_id, delegate_id) = self.grant_ends(owner, delegate)?;
        let tx = self.conn.transaction()?;
        let inserted = tx.execute(
            "INSERT INTO grants (owner_id, delegate_id, created) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![owner_id.0, delegate_id.0, now_unix()],
        )?;
        if inserted == 0 {
            return Err(GrantError::Exists {
                owner: owner.to_owned(),
                delegate: delegate.to_owned(),
            });
        }
        tx.execute(
            "INSERT INTO subscriptions (user_id, name)
             SELECT ?2, ?3 || '/' || ?4 || '/' || name FROM mailboxes WHERE user_id = ?1
             ON CONFLICT DO NOTHING",
            params![owner_id.0, delegate_id.0, OTHER_USERS, owner],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Takes back `delegate`'s grant to read `owner`'s archive, with the delegate's own flags on
    /// it and their subscriptions to it (they would name folders the delegate may no longer know
    /// of).
    pub fn revoke(&mut self, owner: &str, delegate: &str) -> Result<(), GrantError> {
        let (owner_id, delegate_id) = self.grant_ends(owner, delegate)?;
        let tx = self.conn.transaction()?;
        let deleted = tx.execute(
            "DELETE FROM grants WHERE owner_id = ?1 AND delegate_id = ?2",
            params![owner_id.0, delegate_id.0],
        )?;
        if deleted == 0 {
            return Err(GrantError::NoSuchGrant {
                owner: owner.to_owned(),
                delegate: delegate.to_owned(),
            });
        }
        // The delegate's own flags there go too: nothing of the owner's archive stays with them.
        tx.execute(
            "DELETE FROM reader_flags WHERE user_id = ?1
                AND mailbox_id IN (SELECT id FROM mailboxes WHERE user_id = ?2)",
            params![delegate_id.0, owner_id.0],
        )?;
        // substr, not LIKE: a user name may hold `_`, which LIKE would take as a wildcard.
        let prefix = format!("{OTHER_USERS}/{owner}/");
        tx.execute(
            "DELETE FROM subscriptions
              WHERE user_id = ?1 AND substr(name, 1, length(?2)) = ?2",
            params![delegate_id.0, prefix],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn grant_ends(&self, owner: &str, delegate: &str) -> Result<(UserId, UserId), GrantError> {
        let id = |name: &str| match self.user_id(name) {
            Err(IndexError::NoSuchUser(n)) => Err(GrantError::NoSuchUser(n)),
            other => other.map_err(GrantError::Index),
        };
        let (owner_id, delegate_id) = (id(owner)?, id(delegate)?);
        if owner_id == delegate_id {
            return Err(GrantError::SelfGrant(owner.to_owned()));
        }
        Ok((owner_id, delegate_id))
    }

    /// How `reader` may reach `owner`'s archive, if at all (never for `reader == owner`: one's
    /// own archive is not "another user's"). One indexed query.
    pub fn reach(&self, reader: UserId, owner: UserId) -> Result<Option<Reach>, IndexError> {
        if reader == owner {
            return Ok(None);
        }
        let (granted, auditor): (bool, bool) = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM grants WHERE owner_id = ?2 AND delegate_id = ?1),
                        EXISTS (SELECT 1 FROM users WHERE id = ?1 AND role = 'auditor')
                           AND EXISTS (SELECT 1 FROM users WHERE id = ?2)",
            )?
            .query_row(params![reader.0, owner.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
        // An auditor's every read of another archive is auditor access (and logged as such),
        // even where a grant exists too.
        Ok(if auditor {
            Some(Reach::Auditor)
        } else if granted {
            Some(Reach::Delegate)
        } else {
            None
        })
    }

    /// Every other user whose archive `reader` may read, by name.
    pub fn readable_owners(&self, reader: UserId) -> Result<Vec<ReadableOwner>, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT u.id, u.name,
                    EXISTS (SELECT 1 FROM users r WHERE r.id = ?1 AND r.role = 'auditor')
               FROM users u
              WHERE u.id != ?1
                AND (EXISTS (SELECT 1 FROM grants g WHERE g.owner_id = u.id AND g.delegate_id = ?1)
                     OR EXISTS (SELECT 1 FROM users r WHERE r.id = ?1 AND r.role = 'auditor'))
              ORDER BY u.name",
        )?;
        let rows = stmt.query_map(params![reader.0], |r| {
            let auditor: bool = r.get(2)?;
            Ok(ReadableOwner {
                id: UserId(r.get(0)?),
                name: r.get(1)?,
                reach: if auditor {
                    Reach::Auditor
                } else {
                    Reach::Delegate
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The names of the users `owner` has granted their archive to, by name.
    pub fn delegates_of(&self, owner: UserId) -> Result<Vec<String>, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT u.name FROM grants g JOIN users u ON u.id = g.delegate_id
              WHERE g.owner_id = ?1 ORDER BY u.name",
        )?;
        let rows = stmt.query_map(params![owner.0], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A user's id by name, exactly as stored (user names are case-sensitive).
    pub fn find_user(&self, name: &str) -> Result<Option<UserId>, IndexError> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM users WHERE name = ?1")?
            .query_row(params![name], |r| r.get(0))
            .optional()?
            .map(UserId))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> (tempfile::TempDir, Index) {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.sqlite")).unwrap();
        (dir, index)
    }

    #[test]
    fn grants_give_reach_and_revokes_take_it_back() {
        let (_d, mut ix) = index();
        let alice = ix.add_user("alice", "x").unwrap();
        let bob = ix.add_user("bob", "x").unwrap();
        ix.ensure_mailbox(alice, "Archive/2019").unwrap();
        assert_eq!(ix.reach(bob, alice).unwrap(), None);
        ix.grant("alice", "bob").unwrap();
        assert_eq!(ix.reach(bob, alice).unwrap(), Some(Reach::Delegate));
        assert_eq!(ix.reach(alice, bob).unwrap(), None, "grants are one-way");
        assert_eq!(
            ix.subscriptions(bob).unwrap(),
            [
                "Other Users/alice/Archive",
                "Other Users/alice/Archive/2019"
            ]
        );
        assert!(matches!(
            ix.grant("alice", "bob"),
            Err(GrantError::Exists { .. })
        ));
        assert!(matches!(
            ix.grant("alice", "alice"),
            Err(GrantError::SelfGrant(_))
        ));
        assert!(matches!(
            ix.grant("alice", "nobody"),
            Err(GrantError::NoSuchUser(_))
        ));
        ix.revoke("alice", "bob").unwrap();
        assert_eq!(ix.reach(bob, alice).unwrap(), None);
        assert!(ix.subscriptions(bob).unwrap().is_empty());
        assert!(matches!(
            ix.revoke("alice", "bob"),
            Err(GrantError::NoSuchGrant { .. })
        ));
    }

    #[test]
    fn auditors_reach_everyone_but_themselves() {
        let (_d, mut ix) = index();
        let alice = ix.add_user("alice", "x").unwrap();
        let audit = ix.add_user("audit", "x").unwrap();
        ix.set_role("audit", Role::Auditor).unwrap();
        assert_eq!(ix.role(audit).unwrap(), Role::Auditor);
        assert_eq!(ix.reach(audit, alice).unwrap(), Some(Reach::Auditor));
        assert_eq!(ix.reach(audit, audit).unwrap(), None);
        assert_eq!(ix.reach(alice, audit).unwrap(), None);
        let owners = ix.readable_owners(audit).unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].name, "alice");
        assert!(ix.readable_owners(alice).unwrap().is_empty());
    }
}
