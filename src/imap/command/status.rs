//! STATUS (RFC 3501 §6.3.10, RFC 9051 §6.3.11, STATUS=SIZE RFC 8438), and the status items that
//! LIST-STATUS (RFC 5819) shares.

use crate::imap::response::{Completion, Out};
use crate::imap::session::Ctx;
use crate::imap::types::{Mailbox, StatusItem};
use crate::index::MailboxInfo;

/// Runs STATUS.
pub fn run(
    ctx: &mut Ctx<'_>,
    out: &mut Out<'_>,
    mailbox: &Mailbox,
    items: &[StatusItem],
) -> Completion {
    let target = match super::lookup_mailbox(ctx, mailbox, "STATUS") {
        Ok((user, _, Some(target))) => {
            crate::imap::access::log_audit(ctx.index, &ctx.session.peer, &user, "STATUS", &target);
            target
        }
        Ok((_, _, None)) => return super::no_such_mailbox(),
        Err(c) => return c,
    };
    write(ctx, out, &target.info, items);
    Completion::ok("STATUS completed")
}

/// Writes `* STATUS name (item value ...)`.
pub fn write(ctx: &Ctx<'_>, out: &mut Out<'_>, info: &MailboxInfo, items: &[StatusItem]) {
    let values: Vec<String> = items
        .iter()
        .map(|item| {
            let value = match item {
                StatusItem::Messages => info.messages.to_string(),
                // No message is ever \Recent here: nothing arrives by delivery into a session's
                // view before it is selected, and RFC 9051 drops \Recent altogether.
                StatusItem::Recent => "0".into(),
                StatusItem::UidNext => info.uidnext.to_string(),
                StatusItem::UidValidity => info.uidvalidity.to_string(),
                StatusItem::Unseen => info.unseen.to_string(),
                // \Deleted is never stored (DESIGN §4).
                StatusItem::Deleted => "0".into(),
                StatusItem::Size => info.size.to_string(),
                StatusItem::HighestModSeq => info.highestmodseq.to_string(),
                // RFC 7889: nothing can be appended to an archive.
                StatusItem::AppendLimit => "0".into(),
                StatusItem::MailboxId => format!("(F{})", info.id.0),
            };
            format!("{} {value}", item.name())
        })
        .collect();
    out.text(&format!(
        "* STATUS {} ({})\r\n",
        super::wire_name(ctx, &info.name),
        values.join(" ")
    ));
}
