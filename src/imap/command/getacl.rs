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

use crate::imap::access::{rights, Holder, READER_RIGHTS};
use crate::imap::encode::{write_astring, EightBit};
use crate::imap::response::{Completion, Out};
use crate::imap::session::Ctx;
use crate::imap::types::Mailbox;
use crate::index::{Reach, UserId};

/// Runs GETACL.
pub fn run(ctx: &mut Ctx<'_>, out: &mut Out<'_>, mailbox: &Mailbox) -> Completion {
    let (user, target) = match super::visible_mailbox(ctx, mailbox, "GETACL") {
        Ok(found) => found,
        Err(c) => return c,
    };
    let policy = ctx.context_flags();
    let owner_rights = rights(&Holder::Own, policy);
    // (identifier, rights), owner first.
    let mut entries: Vec<(String, &str)> = Vec::new();
    let delegates = |ctx: &Ctx<'_>, owner: UserId| ctx.index.delegates_of(owner);
    let listed = match &target.holder {
        Holder::Own => delegates(ctx, user.id).map(|d| {
            entries.push((user.name().to_owned(), owner_rights));
            entries.extend(d.into_iter().map(|n| (n, READER_RIGHTS)));
        }),
        Holder::Other {
            owner,
            owner_name,
            reach,
        } => {
            entries.push((owner_name.clone(), owner_rights));
            let others = match reach {
                Reach::Auditor => delegates(ctx, *owner),
                Reach::Delegate => Ok(Vec::new()),
            };
            others.map(|d| {
                let me = user.name();
                entries.extend(
                    d.into_iter()
                        .filter(|n| n != me)
                        .map(|n| (n, READER_RIGHTS)),
                );
                entries.push((me.to_owned(), READER_RIGHTS));
            })
        }
    };
    if let Err(e) = listed {
        return super::index_failure(ctx, "GETACL", &e);
    }
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
