//! Untagged news for a session with a mailbox selected: `* N EXISTS` for messages archived
//! since it looked, `* n FETCH (UID u FLAGS (...))` for flags changed by the user's other
//! sessions (RFC 3501 §5.2, §7.3.1, §7.4.2).
//!
//! Nothing is ever expunged from an archive, so no EXPUNGE is sent and the RFC 3501 §7.4.1
//! rule against EXPUNGE during FETCH, STORE and SEARCH holds trivially: this may run after any
//! command.

use crate::imap::flags::{AttachmentKeyword, Flags};
use crate::imap::response::Out;
use crate::imap::session::{Ctx, State};
use crate::imap::view::ViewEntry;
use crate::index::IndexError;

/// Sends what changed in the selected mailbox since the session last looked. Does nothing
/// (one cheap query) when nothing changed, or when no mailbox is selected.
pub fn send(ctx: &mut Ctx<'_>, out: &mut Out<'_>) -> Result<(), IndexError> {
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
    let changes = match reader {
        None => ctx
            .index
            .mailbox_changes(mailbox, largest_uid, known_modseq)?,
        Some(reader) => ctx
            .index
            .reader_changes(reader, mailbox, largest_uid, known_modseq)?,
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
