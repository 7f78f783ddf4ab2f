//! Mailboxes: names, UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ, special use, subscriptions.
//!
//! Names are UTF-8 with `/` as hierarchy separator; the first level `INBOX` is matched
//! case-insensitively and stored as `INBOX` (RFC 3501 §5.1). Every mailbox is created subscribed
//! and with its parents (DESIGN §4: Thunderbird shows only subscribed folders, and a client
//! needs `Archive` to show `Archive/2019`).

use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::{now_unix, Index, IndexError, MailboxId, UserId};

/// The hierarchy separator of mailbox names.
pub const SEPARATOR: char = '/';

/// An RFC 6154 special-use attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialUse {
    /// `\All`
    All,
    /// `\Archive`
    Archive,
    /// `\Drafts`
    Drafts,
    /// `\Flagged`
    Flagged,
    /// `\Junk`
    Junk,
    /// `\Sent`
    Sent,
    /// `\Trash`
    Trash,
}

impl SpecialUse {
    /// The attribute as IMAP spells it, e.g. `\Sent`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }

    fn from_stored(s: &str) -> Option<SpecialUse> {
        [
            SpecialUse::All,
            SpecialUse::Archive,
            SpecialUse::Drafts,
            SpecialUse::Flagged,
            SpecialUse::Junk,
            SpecialUse::Sent,
            SpecialUse::Trash,
        ]
        .into_iter()
        .find(|u| u.as_str() == s)
    }

    /// The special use a top-level folder gets from its name, as the common clients and servers
    /// name them (Thunderbird, Outlook, Apple Mail, Dovecot defaults); case-insensitive.
    pub fn from_folder_name(name: &str) -> Option<SpecialUse> {
        const NAMES: &[(&str, SpecialUse)] = &[
            ("sent", SpecialUse::Sent),
            ("sent items", SpecialUse::Sent),
            ("sent messages", SpecialUse::Sent),
            ("drafts", SpecialUse::Drafts),
            ("trash", SpecialUse::Trash),
            ("deleted items", SpecialUse::Trash),
            ("deleted messages", SpecialUse::Trash),
            ("junk", SpecialUse::Junk),
            ("spam", SpecialUse::Junk),
            ("junk e-mail", SpecialUse::Junk),
            ("archive", SpecialUse::Archive),
            ("archives", SpecialUse::Archive),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, u)| u)
    }
}

/// Whether a user is subscribed to a mailbox name (RFC 3501 §6.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    /// In the subscription list (LSUB, LIST (SUBSCRIBED)).
    Subscribed,
    /// Not in it.
    Unsubscribed,
}

/// What LIST, STATUS and SELECT need to know about a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    /// Row id.
    pub id: MailboxId,
    /// Full name, `/`-separated.
    pub name: String,
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// UIDNEXT (up to 2^32 when every UID is used).
    pub uidnext: u64,
    /// HIGHESTMODSEQ (RFC 7162).
    pub highestmodseq: u64,
    /// RFC 6154 attribute.
    pub special_use: Option<SpecialUse>,
    /// Whether the name is in the user's subscription list.
    pub subscribed: Subscription,
    /// Number of messages.
    pub messages: u64,
    /// Number of messages without `\Seen`.
    pub unseen: u64,
    /// Sum of the messages' RFC822.SIZE (STATUS SIZE, RFC 8438).
    pub size: u64,
}

/// The columns [`MailboxInfo`] is read from, in order; `WHERE` and `GROUP BY` follow.
const INFO_SELECT: &str = "
    SELECT m.id, m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.special_use,
           EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = m.user_id AND s.name = m.name),
           m.message_count, m.unseen_count, m.total_size
      FROM mailboxes m";

fn info_from_row(r: &Row<'_>) -> rusqlite::Result<MailboxInfo> {
    let special: Option<String> = r.get(5)?;
    let subscribed: bool = r.get(6)?;
    Ok(MailboxInfo {
        id: MailboxId(r.get(0)?),
        name: r.get(1)?,
        uidvalidity: r.get(2)?,
        uidnext: r.get(3)?,
        highestmodseq: r.get(4)?,
        special_use: special.as_deref().and_then(SpecialUse::from_stored),
        subscribed: if subscribed {
            Subscription::Subscribed
        } else {
            Subscription::Unsubscribed
        },
        messages: r.get(7)?,
        unseen: r.get(8)?,
        size: r.get(9)?,
    })
}

impl Index {
    /// Every mailbox of `user`, by name, with counts (one query).
    pub fn mailboxes(&self, user: UserId) -> Result<Vec<MailboxInfo>, IndexError> {
        let sql = format!("{INFO_SELECT} WHERE m.user_id = ?1 ORDER BY m.name");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![user.0], info_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One mailbox of `user` by name (`inbox` finds `INBOX`); `None` also for a name that
    /// could never be stored.
    pub fn mailbox(&self, user: UserId, name: &str) -> Result<Option<MailboxInfo>, IndexError> {
        let Ok(name) = normalize_name(name) else {
            return Ok(None);
        };
        let sql = format!("{INFO_SELECT} WHERE m.user_id = ?1 AND m.name = ?2");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![user.0, name], info_from_row)
            .optional()?)
    }

    /// Subscribes or unsubscribes `name`. The name need not exist (RFC 3501 §6.3.6 allows it,
    /// and a client may subscribe before a folder is imported); subscriptions are kept by name,
    /// so one also outlives a deleted mailbox, as §6.3.6 asks.
    pub fn set_subscribed(
        &mut self,
        user: UserId,
        name: &str,
        sub: Subscription,
    ) -> Result<(), IndexError> {
        let name = normalize_name(name)?;
        match sub {
            Subscription::Subscribed => self.conn.execute(
                "INSERT INTO subscriptions (user_id, name) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![user.0, name],
            )?,
            Subscription::Unsubscribed => self.conn.execute(
                "DELETE FROM subscriptions WHERE user_id = ?1 AND name = ?2",
                params![user.0, name],
            )?,
        };
        Ok(())
    }

    /// Whether `user` is subscribed to exactly `name` (already normalised).
    pub fn is_subscribed(&self, user: UserId, name: &str) -> Result<bool, IndexError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE user_id = ?1 AND name = ?2)",
            )?
            .query_row(params![user.0, name], |r| r.get(0))?)
    }

    /// The user's subscribed names, including names with no mailbox (for LSUB).
    pub fn subscriptions(&self, user: UserId) -> Result<Vec<String>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM subscriptions WHERE user_id = ?1 ORDER BY name")?;
        let rows = stmt.query_map(params![user.0], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The mailbox `name` of `user`, created if absent together with any missing parents; each
    /// created mailbox is subscribed, gets a fresh UIDVALIDITY and, at the top level, a special
    /// use from its name ([`SpecialUse::from_folder_name`]).
    pub fn ensure_mailbox(&mut self, user: UserId, name: &str) -> Result<MailboxId, IndexError> {
        let name = normalize_name(name)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = ensure_in(&tx, user, &name)?;
        tx.commit()?;
        Ok(id)
    }
}

/// [`Index::ensure_mailbox`] inside a transaction (`name` already normalised).
pub(super) fn ensure_in(
    tx: &Transaction<'_>,
    user: UserId,
    name: &str,
) -> Result<MailboxId, IndexError> {
    let mut id = None;
    for (end, _) in name
        .match_indices(SEPARATOR)
        .chain(std::iter::once((name.len(), "")))
    {
        let level = &name[..end];
        let found: Option<i64> = tx
            .prepare_cached("SELECT id FROM mailboxes WHERE user_id = ?1 AND name = ?2")?
            .query_row(params![user.0, level], |r| r.get(0))
            .optional()?;
        id = Some(match found {
            Some(found) => found,
            None => create_in(tx, user, level)?,
        });
    }
    // `name` is non-empty, so the loop ran at least once.
    id.map(MailboxId)
        .ok_or_else(|| IndexError::Corrupt("empty mailbox name".into()))
}

fn create_in(tx: &Transaction<'_>, user: UserId, name: &str) -> Result<i64, IndexError> {
    let now = now_unix();
    // RFC 3501 §2.3.1.1: UIDVALIDITY must grow if a mailbox is re-created; the counter is
    // archive-wide and never goes back, the clock only makes values unlikely to collide with a
    // previous archive of the same names.
    let last: i64 = tx.query_row(
        "SELECT last_uidvalidity FROM archive_state WHERE id = 1",
        [],
        |r| r.get(0),
    )?;
    let next = if now > last && now <= i64::from(u32::MAX) {
        now
    } else {
        last + 1
    };
    if next > i64::from(u32::MAX) {
        return Err(IndexError::UidValidityExhausted);
    }
    tx.execute(
        "UPDATE archive_state SET last_uidvalidity = ?1 WHERE id = 1",
        params![next],
    )?;
    let special = if name.contains(SEPARATOR) {
        None
    } else {
        SpecialUse::from_folder_name(name)
    };
    tx.execute(
        "INSERT INTO mailboxes (user_id, name, uidvalidity, special_use, created)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user.0, name, next, special.map(SpecialUse::as_str), now],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO subscriptions (user_id, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![user.0, name],
    )?;
    Ok(id)
}

/// Checks a mailbox name and spells its first level `INBOX` if it is INBOX in any case.
pub(super) fn normalize_name(name: &str) -> Result<String, IndexError> {
    let bad = |reason| IndexError::InvalidMailboxName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    if name.split(SEPARATOR).any(str::is_empty) {
        return Err(bad(
            "empty hierarchy level (leading, trailing or double '/')",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("control character"));
    }
    let (first, rest) = match name.split_once(SEPARATOR) {
        Some((f, r)) => (f, Some(r)),
        None => (name, None),
    };
    if !first.eq_ignore_ascii_case("INBOX") {
        return Ok(name.to_owned());
    }
    Ok(match rest {
        Some(rest) => format!("INBOX{SEPARATOR}{rest}"),
        None => "INBOX".to_owned(),
    })
}
