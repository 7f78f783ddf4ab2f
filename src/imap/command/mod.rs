//! One file per IMAP command (STYLE: same stem across layers), and what they share: resolving
//! sequence sets against the selected mailbox and turning storage failures into responses.

pub mod authenticate;
pub mod capability;
pub mod enable;
pub mod fetch;
pub mod getacl;
pub mod id;
pub mod list;
pub mod listrights;
pub mod login;
pub mod myrights;
pub mod namespace;
pub mod refused;
pub mod search;
pub mod select;
pub mod sort;
pub mod status;
pub mod store;
pub mod subscribe;
pub mod thread;

use crate::imap::encode::ResponseCode;
use crate::imap::response::Completion;
use crate::imap::sequence::SequenceArg;
use crate::imap::session::{Ctx, State};
use crate::imap::types::Addressing;
use crate::imap::view::{Access, MailboxView, SetError};

impl Ctx<'_> {
    /// The selected mailbox, if any.
    pub fn view(&self) -> Option<&MailboxView> {
        match &self.session.state {
            State::Selected(_, v) => Some(v),
            _ => None,
        }
    }

    /// The selected mailbox, mutable.
    pub fn view_mut(&mut self) -> Option<&mut MailboxView> {
        match &mut self.session.state {
            State::Selected(_, v) => Some(v),
            _ => None,
        }
    }

    /// How the selected mailbox is open.
    pub fn selected_access(&self) -> Option<Access> {
        self.view().map(|v| v.access)
    }
}

/// The 0-based indices of the selected mailbox's messages that `set` names.
pub fn resolve_set(
    ctx: &Ctx<'_>,
    set: &SequenceArg,
    addressing: Addressing,
) -> Result<Vec<usize>, Completion> {
    let Some(view) = ctx.view() else {
        return Err(Completion::bad(
            ResponseCode::ClientBug,
            "No mailbox selected",
        ));
    };
    let set = match set {
        SequenceArg::Set(s) => s,
        // `$` (RFC 5182 §2.1): the messages of the last SEARCH RETURN (SAVE), in either
        // addressing; empty (never an error) before any SAVE.
        SequenceArg::SavedResult => return Ok(view.resolve_saved()),
    };
    view.resolve(set, addressing).map_err(|e| match e {
        SetError::SequenceOutOfRange { largest } => Completion::bad(
            ResponseCode::ClientBug,
            if largest == 0 {
                "Invalid message sequence number: the mailbox is empty".to_owned()
            } else {
                format!("Invalid message sequence number: the mailbox has {largest} message(s)")
            },
        ),
    })
}

/// A failure of the index: logged with detail, answered without it.
pub fn index_failure(ctx: &Ctx<'_>, what: &str, e: &crate::index::IndexError) -> Completion {
    log::error!("{}: {what}: index error: {e}", ctx.session.peer);
    Completion::no(
        ResponseCode::ServerBug,
        format!("{what} failed: the archive index is unavailable; try again later"),
    )
}

/// The Unicode name a client means by `mailbox` (modified UTF-7 or UTF-8 per the session, and
/// INBOX in any case is INBOX, RFC 3501 §5.1).
pub fn mailbox_name(
    ctx: &Ctx<'_>,
    mailbox: &crate::imap::types::Mailbox,
) -> Result<String, Completion> {
    let name = mailbox
        .decode(ctx.session.enabled.mailbox_encoding())
        .map_err(|e| Completion::bad(ResponseCode::ClientBug, e.to_string()))?;
    Ok(crate::imap::listmatch::canonical_inbox(&name))
}

/// A name as it travels to this client: modified UTF-7 or UTF-8, quoted (or a literal).
pub fn wire_name(ctx: &Ctx<'_>, name: &str) -> String {
    let mut wire = Vec::with_capacity(name.len() + 2);
    crate::imap::encode::write_mailbox(&mut wire, name, ctx.session.enabled.mailbox_encoding());
    // Modified UTF-7 is ASCII, and UTF-8 names stay UTF-8: nothing is lost here.
    String::from_utf8_lossy(&wire).into_owned()
}

/// The logged-in user, or the completion that says there is none.
pub fn user(ctx: &Ctx<'_>) -> Result<crate::imap::session::User, Completion> {
    match &ctx.session.state {
        State::Authenticated(u) | State::Selected(u, _) => Ok(u.clone()),
        _ => Err(Completion::bad(ResponseCode::ClientBug, "Log in first")),
    }
}

/// The logged-in user, the name `mailbox` decodes to, and the mailbox it names if the user may
/// see it (their own, or another user's they may read: [`crate::imap::access::resolve`]);
/// otherwise the completion to answer (`what` names the command in an index failure).
pub fn lookup_mailbox(
    ctx: &Ctx<'_>,
    mailbox: &crate::imap::types::Mailbox,
    what: &str,
) -> Result<
    (
        crate::imap::session::User,
        String,
        Option<crate::imap::access::Target>,
    ),
    Completion,
> {
    let user = user(ctx)?;
    let name = mailbox_name(ctx, mailbox)?;
    match crate::imap::access::resolve(ctx.index, &user, &name) {
        Ok(target) => Ok((user, name, target)),
        Err(e) => Err(index_failure(ctx, what, &e)),
    }
}

/// The logged-in user and the mailbox `mailbox` names, which they can see; otherwise the
/// completion to answer (the same for a missing mailbox as for one they may not see).
pub fn visible_mailbox(
    ctx: &Ctx<'_>,
    mailbox: &crate::imap::types::Mailbox,
    what: &str,
) -> Result<(crate::imap::session::User, crate::imap::access::Target), Completion> {
    match lookup_mailbox(ctx, mailbox, what)? {
        (user, _, Some(target)) => Ok((user, target)),
        (_, _, None) => Err(no_such_mailbox()),
    }
}

/// The answer for a mailbox this user cannot see, whether it is missing or forbidden, so the
/// two cannot be told apart.
pub fn no_such_mailbox() -> Completion {
    Completion::no(ResponseCode::NonExistent, "No such mailbox")
}
