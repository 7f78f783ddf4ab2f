//! STORE and UID STORE (RFC 3501 §6.4.6) of per-user flags, and the implicit `\Seen` of FETCH.
//!
//! Flags live apart from the archive (DESIGN §1). A flag no user may keep (`\Deleted`,
//! `\Recent`, unknown system flags) is dropped, and the real flags are sent back even with
//! `.SILENT`, as RFC 4314 §4 asks, so a client does not loop trying to set them.

use crate::imap::encode::ResponseCode;
use crate::imap::flags::{is_archive_keyword, Admission, Flags};
use crate::imap::response::{Completion, Out};
use crate::imap::sequence::SequenceArg;
use crate::imap::session::{Ctx, State};
use crate::imap::types::{Addressing, StoreAction, StoreKind, StoreResponse};
use crate::imap::view::Access;

/// Runs STORE / UID STORE.
pub fn run(
    ctx: &mut Ctx<'_>,
    out: &mut Out<'_>,
    addressing: Addressing,
    set: &SequenceArg,
    action: &StoreAction,
    unchanged_since: Option<u64>,
) -> Completion {
    let indices = match super::resolve_set(ctx, set, addressing) {
        Ok(i) => i,
        Err(c) => return c,
    };
    if ctx.selected_access() != Some(Access::ReadWrite) {
        return Completion::no(
            ResponseCode::Cannot,
            "This mailbox is open read-only: flags cannot be changed",
        );
    }
    // RFC 7162 §3.1: UNCHANGEDSINCE enables CONDSTORE.
    if unchanged_since.is_some() {
        ctx.session.enabled.condstore = true;
    }
    let wanted: Vec<String> = action.flags.iter().map(ToString::to_string).collect();

    // Work out the new flags of every message first, then write them in one transaction.
    let Some(view) = ctx.view() else {
        return Completion::bad(ResponseCode::ClientBug, "No mailbox selected");
    };
    let mailbox = view.info.id;
    let mut dropped_any = false;
    let mut changes: Vec<(usize, Flags)> = Vec::new();
    let mut report: Vec<usize> = Vec::new();
    // RFC 7162 §3.1.3: messages changed since UNCHANGEDSINCE are left alone and named in
    // [MODIFIED]; the others are stored.
    let mut modified: Vec<u32> = Vec::new();
    for &i in &indices {
        let Some(entry) = view.entry(i) else { continue };
        if unchanged_since.is_some_and(|limit| entry.modseq > limit) {
            modified.push(match addressing {
                Addressing::Uid => entry.uid,
                Addressing::Sequence => i as u32 + 1,
            });
            continue;
        }
        // The archive keyword is no per-user flag: STORE cannot add the other one nor remove
        // the message's own, and then, as for \Deleted, the real flags are sent back. FLAGS
        // (replace) leaves it alone unless it names the other one.
        let own = entry.attachment.as_str();
        let foreign = |f: &String| is_archive_keyword(f) && !f.eq_ignore_ascii_case(own);
        dropped_any |= match action.kind {
            StoreKind::Replace | StoreKind::Add => wanted.iter().any(foreign),
            StoreKind::Remove => wanted.iter().any(|f| f.eq_ignore_ascii_case(own)),
        };
        let mut flags = match action.kind {
            StoreKind::Replace => Flags::default(),
            StoreKind::Add | StoreKind::Remove => entry.flags.clone(),
        };
        for f in &wanted {
            match action.kind {
                StoreKind::Replace | StoreKind::Add => {
                    // The message's own archive keyword is there already, as asked.
                    if flags.insert(f) == Admission::Dropped && !f.eq_ignore_ascii_case(own) {
                        dropped_any = true;
                    }
                }
                StoreKind::Remove => flags.remove(f),
            }
        }
        if flags != entry.flags {
            changes.push((i, flags));
        }
        report.push(i);
    }
    if let Err(c) = apply(ctx, mailbox, &changes) {
        return c;
    }

    let silent = action.response == StoreResponse::Silent && !dropped_any;
    if !silent {
        let condstore = ctx.session.enabled.condstore;
        let Some(view) = ctx.view() else {
            return Completion::bad(ResponseCode::ClientBug, "No mailbox selected");
        };
        for i in report {
            let Some(e) = view.entry(i) else { continue };
            let uid = match addressing {
                Addressing::Uid => format!("UID {} ", e.uid),
                Addressing::Sequence => String::new(),
            };
            let modseq = if condstore {
                format!(" MODSEQ ({})", e.modseq)
            } else {
                String::new()
            };
            out.text(&format!(
                "* {} FETCH ({uid}FLAGS ({}){modseq})\r\n",
                i + 1,
                e.flag_list()
            ));
        }
    }
    if !modified.is_empty() {
        let set = crate::imap::sequence::SequenceSet::from_sorted_ranges(
            crate::imap::sequence::runs(&modified),
        );
        return match set {
            Some(set) => Completion::ok_with(
                ResponseCode::Modified(set),
                "Conditional STORE failed for messages changed since",
            ),
            None => Completion::no(
                ResponseCode::Limit,
                "Conditional STORE: more messages changed since than can be listed; the others were stored",
            ),
        };
    }
    if dropped_any {
        Completion::ok(
            "STORE completed; flags that cannot be kept in this archive (such as \\Deleted) were left out",
        )
    } else {
        Completion::ok("STORE completed")
    }
}

/// Sets `\Seen` on the messages at `indices` that lack it (a non-PEEK body fetch) and returns
/// the indices whose flags changed, ascending.
pub fn mark_seen(ctx: &mut Ctx<'_>, indices: &[usize]) -> Result<Vec<usize>, Completion> {
    let Some(view) = ctx.view() else {
        return Ok(Vec::new());
    };
    let mailbox = view.info.id;
    let mut changes = Vec::new();
    for &i in indices {
        if let Some(e) = view.entry(i) {
            if !e.flags.is_seen() {
                let mut flags = e.flags.clone();
                let _ = flags.insert("\\Seen");
                changes.push((i, flags));
            }
        }
    }
    apply(ctx, mailbox, &changes)?;
    Ok(changes.into_iter().map(|(i, _)| i).collect())
}

/// Writes `changes` to the index in one transaction and records them in the view.
fn apply(
    ctx: &mut Ctx<'_>,
    mailbox: crate::index::MailboxId,
    changes: &[(usize, Flags)],
) -> Result<(), Completion> {
    if changes.is_empty() {
        return Ok(());
    }
    let rows: Vec<(u32, String)> = {
        let Some(view) = ctx.view() else {
            return Ok(());
        };
        changes
            .iter()
            .filter_map(|(i, f)| view.entry(*i).map(|e| (e.uid, f.to_stored())))
            .collect()
    };
    // In another user's mailbox the reader's own flags change, never the owner's.
    let reader = match &ctx.session.state {
        State::Selected(user, view) => view.other_owner.map(|_| user.id),
        _ => None,
    };
    let written = match reader {
        None => ctx.index.set_flags_many(mailbox, &rows),
        Some(reader) => ctx.index.set_reader_flags_many(reader, mailbox, &rows),
    };
    let modseqs = match written {
        Ok(m) => m,
        Err(e) => return Err(super::index_failure(ctx, "STORE", &e)),
    };
    if let Some(view) = ctx.view_mut() {
        for ((i, flags), modseq) in changes.iter().zip(modseqs) {
            if let Some(e) = view.entry_mut(*i) {
                e.flags = flags.clone();
                e.modseq = modseq;
            }
        }
    }
    Ok(())
}
