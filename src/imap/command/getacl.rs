//! GETACL (RFC 4314 §3.3): who may read a mailbox, with which rights.
//!
//! Nobody holds the `a` right in an archive (rights are set with `imapvault user grant`, never
//! over IMAP), so RFC 4314 §4 would refuse GETACL to everyone; we answer it for anyone who can
//! see the mailbox instead, because ACL-aware clients (Thunderbird's sharing tab) use it to show
//! who shares a folder. What it shows is limited to what the asker may know:
//! - on one's own mailbox: the owner and the delegates the owner has granted it to;
//! - a delegate on the owner's mailbox: the owner and themselves (not the other delegates);
//! - an auditor: the owner, the owner's delegates, and themselves.
//!
//! Auditors are never listed to owners or delegates. A mailbox the user cannot see answers as
//! one that does not exist.

use crate::imap::access::{rights, Holder, Target};
use crate::imap::encode::{write_astring, EightBit};
use crate::imap::response::{Completion, Out};
use crate::imap::session::{Ctx, User};
use crate::imap::types::Mailbox;
use crate::index::{IndexError, Reach};

/// Runs GETACL.
pub fn run(ctx: &mut Ctx<'_>, out: &mut Out<'_>, mailbox: &Mailbox) -> Completion {
    let (user, target) = match super::visible_mailbox(ctx, mailbox, "GETACL") {
        Ok(found) => found,
        Err(c) => return c,
    };
    let entries = match entries(ctx, &user, &target) {
        Ok(e) => e,
        Err(e) => return super::index_failure(ctx, "GETACL", &e),
    };
    let mut line = format!("* ACL {}", super::wire_name(ctx, &target.info.name)).into_bytes();
    for (identifier, rights) in entries {
        line.push(b' ');
        write_astring(&mut line, identifier.as_bytes(), EightBit::Literal);
        line.push(b' ');
        line.extend_from_slice(rights.as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    out.push(&line);
    Completion::ok("GETACL completed")
}

/// The (identifier, rights) pairs `user` may be shown for `target`, the owner first.
fn entries(
    ctx: &Ctx<'_>,
    user: &User,
    target: &Target,
) -> Result<Vec<(String, &'static str)>, IndexError> {
    // Everyone who can read a mailbox has the same rights on it (crate::imap::access::rights).
    let rights = rights(ctx.context_flags());
    let me = user.name().to_owned();
    Ok(match &target.holder {
        Holder::Own => std::iter::once((me, rights))
            .chain(
                ctx.index
                    .delegates_of(user.id)?
                    .into_iter()
                    .map(|d| (d, rights)),
            )
            .collect(),
        Holder::Other {
            owner,
            owner_name,
            reach,
        } => {
            let delegates = match reach {
                Reach::Auditor => ctx.index.delegates_of(*owner)?,
                Reach::Delegate => Vec::new(),
            };
            std::iter::once((owner_name.clone(), rights))
                .chain(
                    delegates
                        .into_iter()
                        .filter(|d| d != user.name())
                        .map(|d| (d, rights)),
                )
                .chain(std::iter::once((me, rights)))
                .collect()
        }
    })
}
