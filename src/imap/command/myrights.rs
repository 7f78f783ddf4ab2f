//! MYRIGHTS (RFC 4314 §3.8): the rights the user has on a mailbox, so that ACL-aware clients
//! hide what the archive refuses (delete, move, append).
//!
//! `lrsw` when flags are kept per user, `lr` when `flags = "read-only"`, on one's own mailboxes
//! and on another user's alike, since a reader keeps their own flags there
//! (crate::imap::access::rights). A mailbox the user cannot see answers as one that does not
//! exist.

use crate::imap::response::{Completion, Out};
use crate::imap::session::Ctx;
use crate::imap::types::Mailbox;

/// Runs MYRIGHTS.
pub fn run(ctx: &mut Ctx<'_>, out: &mut Out<'_>, mailbox: &Mailbox) -> Completion {
    let (_, target) = match super::visible_mailbox(ctx, mailbox, "MYRIGHTS") {
        Ok(found) => found,
        Err(c) => return c,
    };
    let rights = crate::imap::access::rights(ctx.context_flags());
    out.text(&format!(
        "* MYRIGHTS {} {rights}\r\n",
        super::wire_name(ctx, &target.info.name)
    ));
    Completion::ok("MYRIGHTS completed")
}
