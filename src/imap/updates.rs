//! Untagged news for a session with a mailbox selected: `* N EXISTS` for messages archived
//! since it looked, `* n FETCH (UID u FLAGS (...))` for flags changed by the user's other
//! sessions (RFC 3501 §5.2, §7.3.1, §7.4.2), and `* n EXPUNGE` (or `* VANISHED`, RFC 7162
//! §3.2.10, once QRESYNC is enabled) for messages that left the sync window
//! ([`crate::imap::window`]): nothing is ever removed from an archive, so that is the only
//! expunge a client sees.
//!
//! RFC 9051 §7.5.1 (RFC 3501 §7.4.1): no EXPUNGE while answering FETCH, STORE or SEARCH (their
//! UID forms may carry one), because the client's sequence numbers must hold for the whole
//! answer; RFC 7162 §3.2.10 puts VANISHED under the same rule. The caller says which case it
//! is ([`Expunges`]); a departure held back is announced after the next command that allows it.

use crate::imap::flags::{AttachmentKeyword, Flags};
use crate::imap::response::Out;
use crate::imap::sequence::format_ranges;
use crate::imap::session::{Ctx, State};
use crate::imap::view::{Departure, ViewEntry};
use crate::index::IndexError;

/// Whether EXPUNGE (or VANISHED) may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expunges {
    /// Any command but FETCH, STORE and SEARCH by sequence number; IDLE.
    Allowed,
    /// Answering FETCH, STORE or SEARCH by sequence number: departures wait.
    HeldBack,
}

/// Sends what changed in the selected mailbox since the session last looked. Does nothing
/// (one cheap query, one comparison) when nothing changed, or when no mailbox is selected.
pub fn send(ctx: &mut Ctx<'_>, out: &mut Out<'_>, expunges: Expunges) -> Result<(), IndexError> {
    let edge = ctx.session.context.window_edge();
    if expunges == Expunges::Allowed {
        if let Some(edge) = edge {
            send_departures(ctx, out, edge)?;
        }
    }
    let (mailbox, known_uidnext, known_modseq, largest_uid, reader) = match &ctx.session.state {
        State::Selected(u, v) => (
            v.info.id,
            v.known_uidnext,
            v.known_modseq,
            v.largest_uid(),
            // In another user's mailbox, the reader's own flags (crate::imap::access).
            v.other_owner.map(|_| u.id),
        ),
        _ => return Ok(()),
    };
    let Some(now) = ctx.index.mailbox_version(mailbox)? else {
        // The mailbox went away (its user was deleted): nothing more will change in it.
        return Ok(());
    };
    if now.uidnext == known_uidnext && now.highestmodseq == known_modseq {
        return Ok(());
    }
    // Messages already outside the window are never shown, not even for a moment.
    let changes = match reader {
        None => ctx
            .index
            .mailbox_changes(mailbox, largest_uid, known_modseq, edge)?,
        Some(reader) => {
            ctx.index
                .reader_changes(reader, mailbox, largest_uid, known_modseq, edge)?
        }
    };
    let condstore = ctx.session.enabled.condstore;
    let State::Selected(_, view) = &mut ctx.session.state else {
        return Ok(());
    };
    let before = view.len();
    for change in changes {
        let flags = Flags::from_stored(&change.flags);
        if change.uid > view.largest_uid() {
            view.append(ViewEntry {
                uid: change.uid,
                message: change.message,
                flags,
                modseq: change.modseq,
                attachment: AttachmentKeyword::of(change.has_attachment),
                internal_date: change.internal_date,
            });
        } else if let Some(i) = view.index_of_uid(change.uid) {
            let Some(entry) = view.entry_mut(i) else {
                continue;
            };
            entry.modseq = change.modseq;
            // A change this session made itself is already in its view: say nothing.
            if entry.flags != flags {
                entry.flags = flags;
                // RFC 7162 §3.1.4: under CONDSTORE every unsolicited FETCH carries MODSEQ.
                let modseq = if condstore {
                    format!(" MODSEQ ({})", change.modseq)
                } else {
                    String::new()
                };
                out.text(&format!(
                    "* {} FETCH (UID {} FLAGS ({}){modseq})\r\n",
                    i + 1,
                    change.uid,
                    entry.flag_list()
                ));
            }
        }
    }
    if view.len() != before {
        out.text(&format!("* {} EXISTS\r\n", view.len()));
    }
    view.known_uidnext = now.uidnext;
    view.known_modseq = now.highestmodseq;
    Ok(())
}

/// Takes the messages dated before `edge` out of the view and tells the client: one
/// `* VANISHED` for a QRESYNC session (RFC 7162 §3.2.10: it replaces EXPUNGE there), else one
/// `* n EXPUNGE` each, in ascending order with the numbers each earlier EXPUNGE shifted.
///
/// The departure is first given a mod-sequence in the index ([`crate::index::Index::
/// note_departures`]), so that HIGHESTMODSEQ grows as with any expunge (RFC 7162 §3.1.2.1) and
/// a client that reconnects with an older one resynchronises; its QRESYNC SELECT then reports
/// every UID it may know that is not visible as `VANISHED (EARLIER)`.
fn send_departures(ctx: &mut Ctx<'_>, out: &mut Out<'_>, edge: i64) -> Result<(), IndexError> {
    let State::Selected(_, view) = &mut ctx.session.state else {
        return Ok(());
    };
    if view.oldest_date().is_none_or(|d| d >= edge) {
        return Ok(());
    }
    let mailbox = view.info.id;
    let gone: Vec<Departure> = view.depart_before(edge);
    // The view has changed whatever the index says next: announce it even if noting the
    // mod-sequence fails (the next session to look notes it).
    if ctx.session.enabled.qresync {
        let uids = gone.iter().map(|d| d.uid..=d.uid);
        out.text(&format!("* VANISHED {}\r\n", format_ranges(merge(uids))));
    } else {
        for d in &gone {
            out.text(&format!("* {} EXPUNGE\r\n", d.seq));
        }
    }
    ctx.index.note_departures(mailbox, edge)?;
    Ok(())
}

/// Ascending single-UID ranges merged where they touch (`1,2,3,7` → `1:3,7`).
fn merge(
    ranges: impl Iterator<Item = std::ops::RangeInclusive<u32>>,
) -> Vec<std::ops::RangeInclusive<u32>> {
    let mut out: Vec<std::ops::RangeInclusive<u32>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if u64::from(*last.end()) + 1 >= u64::from(*r.start()) => {
                *last = *last.start()..=(*last.end()).max(*r.end());
            }
            _ => out.push(r),
        }
    }
    out
}
