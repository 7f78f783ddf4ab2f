//! SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6–7): the user's subscription list, kept per user.
//!
//! Every archived folder starts out subscribed (DESIGN §4: Thunderbird shows only subscribed
//! folders). Subscribing to a name that does not exist is refused: an archive never gains
//! folders by client action, so such a subscription could never become useful.

use crate::imap::response::Completion;
use crate::imap::session::Ctx;
use crate::imap::types::Mailbox;
use crate::index::Subscription;

/// Runs SUBSCRIBE or UNSUBSCRIBE.
pub fn run(ctx: &mut Ctx<'_>, mailbox: &Mailbox, want: Subscription) -> Completion {
    let (user, name, target) = match super::lookup_mailbox(ctx, mailbox, "SUBSCRIBE") {
        Ok(found) => found,
        Err(c) => return c,
    };
    // A mailbox is subscribed under the name the user sees (`Other Users/OWNER/INBOX` spelled
    // so, whatever case the client gave INBOX in).
    let name = match (&target, want) {
        (Some(t), _) => t.info.name.clone(),
        // Unsubscribing from a name that no longer exists is allowed, so stale entries can go;
        // it touches only this user's own list, so it tells nothing about the name.
        (None, Subscription::Unsubscribed) => name,
        (None, Subscription::Subscribed) => return super::no_such_mailbox(),
    };
    let done = Completion::ok(match want {
        Subscription::Subscribed => "SUBSCRIBE completed",
        Subscription::Unsubscribed => "UNSUBSCRIBE completed",
    });
    match ctx.index.set_subscribed(user.id, &name, want) {
        Ok(()) => done,
        // A name that could never be stored (`/x`, `a//b`) was never subscribed: unsubscribing
        // from it is done already (found by tests/e2e_isolation.rs: it was answered SERVERBUG).
        Err(crate::index::IndexError::InvalidMailboxName { .. }) => done,
        Err(e) => super::index_failure(ctx, "SUBSCRIBE", &e),
    }
}
