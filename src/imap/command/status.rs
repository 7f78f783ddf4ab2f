//! STATUS (RFC 3501 §6.3.10, RFC 9051 §6.3.11, STATUS=SIZE RFC 8438), and the status items that
//! LIST-STATUS (RFC 5819) shares.
//!
//! Under a sync window ([`crate::imap::window`]) MESSAGES, UNSEEN and SIZE count the visible
//! messages only, and HIGHESTMODSEQ includes the departures from the window; UIDNEXT and
//! UIDVALIDITY are the mailbox's own (UIDs stay stable whatever is visible).

use std::borrow::Cow;

use crate::imap::response::{Completion, Out};
use crate::imap::session::Ctx;
use crate::imap::types::{Mailbox, StatusItem};
use crate::index::{IndexError, MailboxInfo};

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
    if let Err(e) = write(ctx, out, &target.info, items) {
        return super::index_failure(ctx, "STATUS", &e);
    }
    Completion::ok("STATUS completed")
}

/// Writes `* STATUS name (item value ...)`.
pub fn write(
    ctx: &Ctx<'_>,
    out: &mut Out<'_>,
    info: &MailboxInfo,
    items: &[StatusItem],
) -> Result<(), IndexError> {
    let info = visible(ctx, info, items)?;
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
    Ok(())
}

/// `info` as the sync window shows it, for the `items` asked: the index's counters cover the
/// whole mailbox, so the visible counts are counted over the window (only when asked for).
fn visible<'a>(
    ctx: &Ctx<'_>,
    info: &'a MailboxInfo,
    items: &[StatusItem],
) -> Result<Cow<'a, MailboxInfo>, IndexError> {
    let Some(edge) = ctx.session.context.window_edge() else {
        return Ok(Cow::Borrowed(info));
    };
    let mut shown = info.clone();
    let counted = [StatusItem::Messages, StatusItem::Unseen, StatusItem::Size];
    if items.iter().any(|i| counted.contains(i)) {
        let counts = ctx.index.visible_counts(info.id, edge)?;
        shown.messages = counts.messages;
        shown.unseen = counts.unseen;
        shown.size = counts.size;
        // In another user's mailbox UNSEEN is the reader's own (crate::imap::access).
        if let (crate::imap::access::Named::Other { .. }, Ok(user)) =
            (crate::imap::access::classify(&info.name), super::user(ctx))
        {
            let seen = ctx.index.reader_seen_since(user.id, info.id, edge)?;
            shown.unseen = counts.messages.saturating_sub(seen);
        }
    }
    if items.contains(&StatusItem::HighestModSeq) {
        shown.highestmodseq = ctx.index.note_departures(info.id, edge)?;
    }
    Ok(Cow::Owned(shown))
}
