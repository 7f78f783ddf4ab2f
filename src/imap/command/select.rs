//! SELECT and EXAMINE (RFC 3501 §6.3.1–2), CLOSE (§6.4.2) and UNSELECT (RFC 3691).
//!
//! SELECT opens the mailbox read-write only for per-user flags; the archive itself is never
//! writable. PERMANENTFLAGS never lists `\Deleted` (DESIGN §4). CLOSE expunges nothing: no
//! message of an archive carries `\Deleted`.

use crate::config::FlagPolicy;
use crate::imap::encode::ResponseCode;
use crate::imap::flags::{AttachmentKeyword, Flags, ARCHIVE_KEYWORDS};
use crate::imap::response::{Completion, Out};
use crate::imap::sequence::{format_ranges, SequenceSet};
use crate::imap::session::{Ctx, State};
use crate::imap::types::{Mailbox, QResync, SelectAccess, SelectParam};
use crate::imap::view::{Access, MailboxView, ViewEntry};

/// Runs SELECT or EXAMINE, with the CONDSTORE and QRESYNC parameters of RFC 7162.
pub fn run(
    ctx: &mut Ctx<'_>,
    out: &mut Out<'_>,
    mailbox: &Mailbox,
    access: SelectAccess,
    params: &[SelectParam],
) -> Completion {
    let user = match super::user(ctx) {
        Ok(u) => u,
        Err(c) => return c,
    };
    let mut qresync: Option<&QResync> = None;
    for p in params {
        match p {
            // RFC 7162 §3.1.8: a CONDSTORE-enabling parameter.
            SelectParam::CondStore => ctx.session.enabled.condstore = true,
            // RFC 7162 §3.2.5: only after ENABLE QRESYNC.
            SelectParam::QResync(_) if !ctx.session.enabled.qresync => {
                return Completion::bad(
                    ResponseCode::ClientBug,
                    "QRESYNC parameter without ENABLE QRESYNC first",
                )
            }
            SelectParam::QResync(q) => qresync = Some(q),
        }
    }
    // RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected, so deselect first;
    // RFC 7162 §3.2.11 / RFC 9051 §7.1: say [CLOSED] when one was selected.
    if matches!(ctx.session.state, State::Selected(..)) {
        out.text("* OK [CLOSED] Previous mailbox closed\r\n");
    }
    ctx.session.state = State::Authenticated(user.clone());

    let target = match super::lookup_mailbox(ctx, mailbox, "SELECT") {
        Ok((_, _, Some(target))) => target,
        Ok((_, _, None)) => return super::no_such_mailbox(),
        Err(c) => return c,
    };
    let command = match access {
        SelectAccess::ReadWrite => "SELECT",
        SelectAccess::ReadOnly => "EXAMINE",
    };
    crate::imap::access::log_audit(ctx.index, &ctx.session.peer, &user, command, &target);
    let other_owner = target.other_owner();
    let mut info = target.info;
    // Under a sync window only the messages of the window are in the view; departures not yet
    // given a mod-sequence get one first, so HIGHESTMODSEQ tells a returning client that
    // something left (see `updates`).
    let edge = ctx.session.context.window_edge();
    if let Some(edge) = edge {
        match ctx.index.note_departures(info.id, edge) {
            Ok(highest) => info.highestmodseq = highest,
            Err(e) => return super::index_failure(ctx, "SELECT", &e),
        }
    }
    // In another user's mailbox, the reader's own flags (crate::imap::access).
    let entries = match other_owner {
        None => ctx.index.mailbox_entries_since(info.id, edge),
        Some(_) => ctx.index.reader_entries_since(user.id, info.id, edge),
    };
    let entries = match entries {
        Ok(e) => e,
        Err(e) => return super::index_failure(ctx, "SELECT", &e),
    };
    let access = match (access, ctx.context_flags()) {
        (SelectAccess::ReadWrite, FlagPolicy::PerUser) => Access::ReadWrite,
        _ => Access::ReadOnly,
    };
    let entries: Vec<ViewEntry> = entries
        .into_iter()
        .map(|e| ViewEntry {
            uid: e.uid,
            message: e.message,
            flags: Flags::from_stored(&e.flags),
            modseq: e.modseq,
            attachment: AttachmentKeyword::of(e.has_attachment),
            internal_date: e.internal_date,
        })
        .collect();

    // Keywords in use, for the FLAGS list (RFC 3501 §7.2.6).
    let mut keywords: Vec<&str> = Vec::new();
    for e in &entries {
        for k in e.flags.keywords() {
            if !keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) && keywords.len() < 1000 {
                keywords.push(k);
            }
        }
    }
    let mut flag_list = String::from("\\Answered \\Flagged \\Seen \\Draft");
    for k in &keywords {
        flag_list.push(' ');
        flag_list.push_str(k);
    }
    let first_unseen = entries.iter().position(|e| !e.flags.is_seen());

    // RFC 3501 §7.2.6: FLAGS lists the flags that apply in the mailbox, so the archive
    // keywords are there for clients to filter on. PERMANENTFLAGS does not list them: it names
    // what a client may change (§7.1), and no client may change an archive fact.
    out.text(&format!(
        "* FLAGS ({flag_list} {})\r\n",
        ARCHIVE_KEYWORDS.join(" ")
    ));
    out.text(&format!("* {} EXISTS\r\n", entries.len()));
    out.text("* 0 RECENT\r\n");
    if let Some(i) = first_unseen {
        out.text(&format!("* OK [UNSEEN {}] First unseen message\r\n", i + 1));
    }
    match access {
        Access::ReadWrite => out.text(&format!(
            "* OK [PERMANENTFLAGS ({flag_list} \\*)] Flags are kept per user; messages cannot be deleted\r\n"
        )),
        Access::ReadOnly => out.text("* OK [PERMANENTFLAGS ()] No changes allowed\r\n"),
    }
    out.text(&format!(
        "* OK [UIDVALIDITY {}] UIDs valid\r\n",
        info.uidvalidity
    ));
    out.text(&format!(
        "* OK [UIDNEXT {}] Predicted next UID\r\n",
        info.uidnext
    ));
    // RFC 7162 §3.1.2.1: a server with persistent mod-sequences sends this on every SELECT.
    out.text(&format!(
        "* OK [HIGHESTMODSEQ {}] Highest\r\n",
        info.highestmodseq
    ));

    let view = MailboxView::new(info, access, entries).owned_by_other(other_owner);
    if let Some(q) = qresync {
        write_resync(out, &view, q);
    }
    ctx.session.state = State::Selected(user, view);
    match access {
        Access::ReadWrite => Completion::ok_with(ResponseCode::ReadWrite, "SELECT completed"),
        Access::ReadOnly => Completion::ok_with(
            ResponseCode::ReadOnly,
            "EXAMINE completed: this archive folder is read-only",
        ),
    }
}

/// RFC 7162 §3.2.5.1: for a client that knew this mailbox (same UIDVALIDITY), the UIDs it knew
/// that are gone (`VANISHED (EARLIER)`) and the messages changed since its mod-sequence.
///
/// Gone means not in the view: with a sync window, every UID the client may know (its list,
/// else every UID ever assigned) that is outside the window is reported, whatever its
/// mod-sequence: no expunge history is kept, and §3.2.5.1 allows reporting UIDs the client
/// never saw.
fn write_resync(out: &mut Out<'_>, view: &MailboxView, q: &QResync) {
    if q.uid_validity.get() != view.info.uidvalidity {
        return;
    }
    // UIDs the client may know: those it listed, else every UID ever assigned here.
    let assigned = 1..=u32::try_from(view.info.uidnext.saturating_sub(1)).unwrap_or(u32::MAX);
    let known: Vec<std::ops::RangeInclusive<u32>> = match &q.known_uids {
        Some(set) => clip(set, *assigned.end()),
        None if assigned.is_empty() => Vec::new(),
        None => vec![assigned],
    };
    let gone = view.missing_uids(known);
    if !gone.is_empty() {
        out.text(&format!("* VANISHED (EARLIER) {}\r\n", format_ranges(gone)));
    }
    for (i, e) in view.entries().iter().enumerate() {
        if e.modseq > q.mod_seq.get() {
            out.text(&format!(
                "* {} FETCH (UID {} FLAGS ({}) MODSEQ ({}))\r\n",
                i + 1,
                e.uid,
                e.flag_list(),
                e.modseq
            ));
        }
    }
}

/// The ranges of `set` within `1..=largest` (`*` is `largest`).
fn clip(set: &SequenceSet, largest: u32) -> Vec<std::ops::RangeInclusive<u32>> {
    if largest == 0 {
        return Vec::new();
    }
    set.ranges(largest)
        .filter(|r| *r.start() <= largest)
        .map(|r| *r.start()..=(*r.end()).min(largest))
        .collect()
}

/// Runs CLOSE or UNSELECT: back to the authenticated state. Nothing is expunged, since no
/// archived message ever carries `\Deleted`.
pub fn close(ctx: &mut Ctx<'_>, command: &str) -> Completion {
    match std::mem::replace(&mut ctx.session.state, State::Logout) {
        State::Selected(user, _) => {
            ctx.session.state = State::Authenticated(user);
            Completion::ok(format!("{command} completed"))
        }
        other => {
            ctx.session.state = other;
            Completion::bad(ResponseCode::ClientBug, "No mailbox selected")
        }
    }
}

impl Ctx<'_> {
    /// The flag policy of this server.
    pub fn context_flags(&self) -> FlagPolicy {
        self.session.context.flags
    }
}
