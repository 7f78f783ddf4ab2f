//! Who sees which mailbox, under which name, with which rights (issue 5; RFC 2342 namespaces,
//! RFC 4314 rights).
//!
//! Owns: the mapping between the names a client uses and the mailboxes of the index, for the
//! user's own archive (the personal namespace, prefix `""`) and for other users' archives (the
//! other-users namespace, `Other Users/OWNER/...`), and the rights a user has on each. Every
//! command that takes a mailbox name resolves it here, against the grants as the index holds
//! them at that moment: nothing is cached in the session, so a revoke is seen at once.
//!
//! Names are matched exactly: `Other Users` and the owner's login name are case-sensitive (user
//! names are), only INBOX is case-insensitive (RFC 3501 §5.1), and nothing in a name is a path:
//! `..`, `~` or an empty level never walk anywhere. A name the user may not see resolves to
//! nothing, exactly as a name that does not exist, so no answer can tell them apart.
//!
//! Another user's mailboxes carry no special-use attribute (RFC 6154): a client would take the
//! owner's `\Sent` or `\Trash` for its own user's.
//!
//! Flags are per user (DESIGN §1) also in another user's mailbox: a delegate or auditor sees and
//! sets their own `\Seen`, `\Flagged` and keywords there (`crate::index` keeps them apart as
//! reader flags), never the owner's; the archive itself stays read-only to everyone.

use crate::config::FlagPolicy;
use crate::imap::session::{State, User};
use std::collections::HashMap;

use crate::index::{Index, IndexError, MailboxId, MailboxInfo, Reach, Subscription, UserId};

pub use crate::index::OTHER_USERS;

/// The hierarchy separator.
const SEP: char = crate::imap::listmatch::SEPARATOR;

/// What a client's (decoded) mailbox name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named<'a> {
    /// A name in the user's own archive.
    Personal(&'a str),
    /// `Other Users` itself, the root of the other-users namespace (never selectable).
    OtherUsers,
    /// `Other Users/OWNER`: the root of one owner's archive (never selectable).
    OwnerRoot(&'a str),
    /// `Other Users/OWNER/NAME`: the mailbox NAME of OWNER.
    Other {
        /// The owner's login name, as written.
        owner: &'a str,
        /// The mailbox name in the owner's archive.
        name: &'a str,
    },
}

/// Splits a name into its namespace and parts.
pub fn classify(name: &str) -> Named<'_> {
    let Some(rest) = name.strip_prefix(OTHER_USERS) else {
        return Named::Personal(name);
    };
    if rest.is_empty() {
        return Named::OtherUsers;
    }
    let Some(rest) = rest.strip_prefix(SEP) else {
        // `Other Usersfoo`: an ordinary personal name.
        return Named::Personal(name);
    };
    match rest.split_once(SEP) {
        Some((owner, name)) => Named::Other { owner, name },
        None => Named::OwnerRoot(rest),
    }
}

/// Whose archive a resolved mailbox is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// The user's own.
    Own,
    /// Another user's, reached as a delegate or an auditor.
    Other {
        /// The owner's id.
        owner: UserId,
        /// The owner's login name.
        owner_name: String,
        /// Why the user may read it.
        reach: Reach,
    },
}

/// A mailbox a user may see, as they see it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The mailbox; `name` is the name the client uses (with `Other Users/OWNER/` in front for
    /// another user's) and `subscribed` is the viewing user's subscription.
    pub info: MailboxInfo,
    /// Whose it is.
    pub holder: Holder,
}

impl Target {
    /// The owner's id, if not the user's own.
    pub fn other_owner(&self) -> Option<UserId> {
        match &self.holder {
            Holder::Own => None,
            Holder::Other { owner, .. } => Some(*owner),
        }
    }
}

/// The mailbox `name` means for `user`, if they may see it; `None` alike for a name that does
/// not exist and one they may not see.
pub fn resolve(index: &Index, user: &User, name: &str) -> Result<Option<Target>, IndexError> {
    match classify(name) {
        Named::Personal(name) => Ok(index.mailbox(user.id, name)?.map(|info| Target {
            info,
            holder: Holder::Own,
        })),
        Named::OtherUsers | Named::OwnerRoot(_) => Ok(None),
        Named::Other { owner, name } => {
            let Some(owner_id) = index.find_user(owner)? else {
                return Ok(None);
            };
            let Some(reach) = index.reach(user.id, owner_id)? else {
                return Ok(None);
            };
            let Some(mut info) = index.mailbox(owner_id, name)? else {
                return Ok(None);
            };
            info.name = shared_name(owner, &info.name);
            info.special_use = None;
            let seen = index.reader_seen_counts(user.id, owner_id)?;
            info.unseen = reader_unseen(&info, &seen);
            info.subscribed = if index.is_subscribed(user.id, &info.name)? {
                Subscription::Subscribed
            } else {
                Subscription::Unsubscribed
            };
            Ok(Some(Target {
                info,
                holder: Holder::Other {
                    owner: owner_id,
                    owner_name: owner.to_owned(),
                    reach,
                },
            }))
        }
    }
}

/// A reader's unseen count of `info`: its messages less those the reader marked `\Seen`.
fn reader_unseen(info: &MailboxInfo, seen: &HashMap<MailboxId, u64>) -> u64 {
    let seen = seen.get(&info.id).copied().unwrap_or(0);
    info.messages.saturating_sub(seen)
}

/// The name under which `owner`'s mailbox `name` appears to others.
pub fn shared_name(owner: &str, name: &str) -> String {
    format!("{OTHER_USERS}{SEP}{owner}{SEP}{name}")
}

/// One line of LIST: a mailbox the user may see, or a \Noselect level above some.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The name the client uses.
    pub name: String,
    /// The mailbox; `None` for `Other Users` and `Other Users/OWNER`, which hold no messages.
    pub info: Option<MailboxInfo>,
}

impl Listed {
    /// Whether the viewing user is subscribed to it.
    pub fn is_subscribed(&self) -> bool {
        self.info
            .as_ref()
            .is_some_and(|i| i.subscribed == Subscription::Subscribed)
    }
}

/// Every name `user` may see: their own mailboxes, then for each other archive they may read,
/// its root and its mailboxes, under `Other Users/`. An own mailbox whose name falls in the
/// other-users namespace is left out: no name could reach it.
pub fn visible(index: &Index, user: &User) -> Result<Vec<Listed>, IndexError> {
    let mut out: Vec<Listed> = index
        .mailboxes(user.id)?
        .into_iter()
        .filter(|m| matches!(classify(&m.name), Named::Personal(_)))
        .map(|info| Listed {
            name: info.name.clone(),
            info: Some(info),
        })
        .collect();
    let owners = index.readable_owners(user.id)?;
    if owners.is_empty() {
        return Ok(out);
    }
    let subscriptions = index.subscriptions(user.id)?;
    out.push(Listed {
        name: OTHER_USERS.to_owned(),
        info: None,
    });
    for owner in owners {
        out.push(Listed {
            name: format!("{OTHER_USERS}{SEP}{}", owner.name),
            info: None,
        });
        let seen = index.reader_seen_counts(user.id, owner.id)?;
        for mut info in index.mailboxes(owner.id)? {
            info.name = shared_name(&owner.name, &info.name);
            info.special_use = None;
            info.unseen = reader_unseen(&info, &seen);
            info.subscribed = if subscriptions.binary_search(&info.name).is_ok() {
                Subscription::Subscribed
            } else {
                Subscription::Unsubscribed
            };
            out.push(Listed {
                name: info.name.clone(),
                info: Some(info),
            });
        }
    }
    Ok(out)
}

/// Whether a session with another user's mailbox selected may still read it, asked before each
/// of its commands (and before IDLE news): one indexed query, and nothing when the selected
/// mailbox is the user's own or none is selected.
pub fn selection_allowed(index: &Index, state: &State) -> Result<bool, IndexError> {
    match state {
        State::Selected(user, view) => match view.other_owner {
            Some(owner) => Ok(index.reach(user.id, owner)?.is_some()),
            None => Ok(true),
        },
        _ => Ok(true),
    }
}

/// What a session whose selected mailbox became unreadable is told before it is closed. RFC
/// 9051 §7.1.5 lets the server end a session with BYE at any time; a mailbox cannot be
/// "unselected" by the server, and answering NO to every command would leave a client retrying
/// in a selected state it can no longer use (RFC 2180 §3 advises the same for a mailbox deleted
/// while selected). A new session sees the archive as it now stands.
pub const REVOKED_BYE: &[u8] = b"* BYE [NOPERM] Access to the selected mailbox was revoked\r\n";

/// Whether `user` is an auditor: reads every archive, and is logged doing so. (Journal mode's
/// `Journal` folder for auditors builds on this.)
pub fn is_auditor(index: &Index, user: UserId) -> Result<bool, IndexError> {
    Ok(index.role(user)? == crate::index::Role::Auditor)
}

/// RFC 4314 rights, as MYRIGHTS and GETACL spell them: the same on one's own mailboxes and on
/// another user's one may read, since a reader keeps their own flags there.
///
/// `l` lookup and `r` read (SELECT, EXAMINE, STATUS, FETCH, SEARCH) always; `s` and `w` when
/// flags are kept per user (\Seen and the other flags and keywords persist). Never `i`, `p`,
/// `k`, `x`, `t`, `e` or `a`: nothing can be added, created, deleted, expunged or administered
/// from IMAP.
pub fn rights(flags: FlagPolicy) -> &'static str {
    match flags {
        FlagPolicy::PerUser => "lrsw",
        FlagPolicy::ReadOnly => "lr",
    }
}

/// Writes the log line of an auditor's access to another user's mailbox, or to the whole
/// journal (an auditor's own `Journal` in journal mode), if `target` is
/// one (issue 5: auditor access is logged).
pub fn log_audit(index: &Index, peer: &str, user: &User, command: &str, target: &Target) {
    match &target.holder {
        Holder::Other {
            owner_name,
            reach: Reach::Auditor,
            ..
        } => audit_line(peer, user, command, &target.info.name, owner_name),
        // Only the name costs nothing to check; a plain user's own folder may be called so too.
        Holder::Own
            if target.info.name == crate::index::JOURNAL_FOLDER
                && is_auditor(index, user.id).unwrap_or(true) =>
        {
            audit_line(peer, user, command, &target.info.name, "the journal")
        }
        _ => {}
    }
}

/// The same for a mailbox LIST-STATUS returns to `user`, known to be an auditor, by its name.
pub fn log_audit_listed(peer: &str, user: &User, name: &str) {
    if let Named::Other { owner, .. } = classify(name) {
        audit_line(peer, user, "LIST-STATUS", name, owner);
    }
}

fn audit_line(peer: &str, user: &User, command: &str, mailbox: &str, owner: &str) {
    log::info!(
        "{peer}: audit: auditor {} {command} mailbox {mailbox:?} of {owner}",
        user.name()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_never_exceed_what_the_archive_allows() {
        assert_eq!(rights(FlagPolicy::PerUser), "lrsw");
        assert_eq!(rights(FlagPolicy::ReadOnly), "lr");
        for policy in [FlagPolicy::PerUser, FlagPolicy::ReadOnly] {
            assert!(!rights(policy).contains(['i', 'p', 'k', 'x', 't', 'e', 'a']));
        }
    }

    #[test]
    fn names_split_into_namespaces_exactly() {
        assert_eq!(classify("INBOX"), Named::Personal("INBOX"));
        assert_eq!(classify("Other Users"), Named::OtherUsers);
        assert_eq!(classify("Other Users/bob"), Named::OwnerRoot("bob"));
        assert_eq!(
            classify("Other Users/bob/INBOX/x"),
            Named::Other {
                owner: "bob",
                name: "INBOX/x"
            }
        );
        assert_eq!(
            classify("Other Users/bob/../carol"),
            Named::Other {
                owner: "bob",
                name: "../carol"
            }
        );
        assert_eq!(
            classify("Other Users//bob"),
            Named::Other {
                owner: "",
                name: "bob"
            }
        );
        assert_eq!(classify("Other UsersX"), Named::Personal("Other UsersX"));
        assert_eq!(
            classify("other users/bob"),
            Named::Personal("other users/bob")
        );
        assert_eq!(classify("../bob/INBOX"), Named::Personal("../bob/INBOX"));
        assert_eq!(classify("Other Users/"), Named::OwnerRoot(""));
    }
}
