//! LISTRIGHTS (RFC 4314 §3.7): which rights an identifier could have on a mailbox.
//!
//! The owner always has their rights (`lrsw`, or `lr` with `flags = "read-only"`) and can be
//! granted nothing more. Anyone else has none for certain and can be granted the same rights
//! together (`imapvault user grant`), so the answer is `"" lrsw` for every other identifier,
//! whether or not a user of that name exists: LISTRIGHTS tells nothing about other users. As
//! with GETACL, the `a` right RFC 4314 §4 asks for is held by nobody, so anyone who can see the
//! mailbox may ask; a mailbox the user cannot see answers as one that does not exist.

use crate::imap::access::{rights, Holder};
use crate::imap::encode::{write_astring, EightBit};
use crate::imap::response::{Completion, Out};
use crate::imap::session::Ctx;
use crate::imap::types::{AString, Mailbox};

/// Runs LISTRIGHTS.
pub fn run(
    ctx: &mut Ctx<'_>,
    out: &mut Out<'_>,
    mailbox: &Mailbox,
    identifier: &AString,
) -> Completion {
    let (user, target) = match super::visible_mailbox(ctx, mailbox, "LISTRIGHTS") {
        Ok(found) => found,
        Err(c) => return c,
    };
    let rights = rights(ctx.context_flags());
    let owner = match &target.holder {
        Holder::Own => user.name(),
        Holder::Other { owner_name, .. } => owner_name.as_str(),
    };
    let mut line =
        format!("* LISTRIGHTS {} ", super::wire_name(ctx, &target.info.name)).into_bytes();
    write_astring(&mut line, identifier.as_bytes(), EightBit::Literal);
    if identifier.as_bytes() == owner.as_bytes() {
        line.push(b' ');
        line.extend_from_slice(rights.as_bytes());
    } else {
        line.extend_from_slice(format!(" \"\" {rights}").as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    out.push(&line);
    Completion::ok("LISTRIGHTS completed")
}
