//! FETCH and UID FETCH (RFC 3501 §6.4.5, RFC 9051 §6.4.5, RFC 3516 BINARY).
//!
//! Owns: turning fetch attributes into FETCH responses. ENVELOPE and BODYSTRUCTURE come cached
//! from the index; body sections are cut from the message's mapped bytes by [`crate::mime`].
//! PREVIEW (RFC 8970) is the text computed once at ingest (`mime::text::preview`).
//! A non-PEEK body fetch sets `\Seen` where the user may keep flags, and the new flags are sent.

use std::fmt::Write as _;

use crate::imap::datetime::format_internal_date;
use crate::imap::encode::{write_nstring, EightBit, ResponseCode};
use crate::imap::response::{Completion, LiteralKind, Out};
use crate::imap::sequence::SequenceArg;
use crate::imap::session::Ctx;
use crate::imap::types::{
    Addressing, FetchAttribute, FetchItems, FetchModifiers, Partial, PreviewMode, SeenPolicy,
    Vanished,
};
use crate::imap::view::Access;
use crate::index::MessageMeta;
use crate::mime::{self, Section, SectionText};

/// Messages whose metadata is read from the index in one statement.
const META_BATCH: usize = 256;

/// Runs FETCH / UID FETCH, with the CHANGEDSINCE and VANISHED modifiers of RFC 7162.
pub fn run(
    ctx: &mut Ctx<'_>,
    out: &mut Out<'_>,
    addressing: Addressing,
    set: &SequenceArg,
    items: &FetchItems,
    modifiers: FetchModifiers,
) -> Completion {
    let mut attributes = items.attributes().into_owned();
    // RFC 3501 §6.4.8: UID FETCH always returns UID, even when not asked.
    if addressing == Addressing::Uid && !attributes.contains(&FetchAttribute::Uid) {
        attributes.insert(0, FetchAttribute::Uid);
    }
    // RFC 7162 §3.1: MODSEQ and CHANGEDSINCE enable CONDSTORE; CHANGEDSINCE implies MODSEQ.
    if modifiers.changed_since.is_some() && !attributes.contains(&FetchAttribute::ModSeq) {
        attributes.push(FetchAttribute::ModSeq);
    }
    if attributes.contains(&FetchAttribute::ModSeq) {
        ctx.session.enabled.condstore = true;
    }
    if modifiers.vanished == Vanished::Report
        && (addressing != Addressing::Uid
            || modifiers.changed_since.is_none()
            || !ctx.session.enabled.qresync)
    {
        // RFC 7162 §3.2.6: VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC.
        return Completion::bad(
            ResponseCode::ClientBug,
            "VANISHED needs UID FETCH with CHANGEDSINCE after ENABLE QRESYNC",
        );
    }
    let mut indices = match super::resolve_set(ctx, set, addressing) {
        Ok(i) => i,
        Err(c) => return c,
    };
    if let (Some(since), Some(view)) = (modifiers.changed_since, ctx.view()) {
        indices.retain(|&i| view.entry(i).is_some_and(|e| e.modseq > since.get()));
        if modifiers.vanished == Vanished::Report {
            if let SequenceArg::Set(requested) = set {
                let assigned =
                    u32::try_from(view.info.uidnext.saturating_sub(1)).unwrap_or(u32::MAX);
                let requested: Vec<_> = if assigned == 0 {
                    Vec::new()
                } else {
                    requested
                        .ranges(assigned)
                        .filter(|r| *r.start() <= assigned)
                        .map(|r| *r.start()..=(*r.end()).min(assigned))
                        .collect()
                };
                let gone = view.missing_uids(requested);
                if !gone.is_empty() {
                    out.text(&format!(
                        "* VANISHED (EARLIER) {}\r\n",
                        crate::imap::sequence::format_ranges(gone)
                    ));
                }
            }
        }
    }
    let marks_seen = attributes.iter().any(marks_seen);
    let needs_meta = attributes.iter().any(needs_meta);
    let may_set_seen = marks_seen && ctx.selected_access() == Some(Access::ReadWrite);

    // \Seen first (one transaction for the whole set), so the responses carry the new flags.
    let mut newly_seen = Vec::new();
    if may_set_seen {
        match super::store::mark_seen(ctx, &indices) {
            Ok(changed) => newly_seen = changed,
            Err(c) => return c,
        }
    }

    for chunk in indices.chunks(META_BATCH) {
        let metas = if needs_meta {
            let ids: Vec<_> = chunk
                .iter()
                .filter_map(|&i| ctx.view().and_then(|v| v.entry(i)).map(|e| e.message))
                .collect();
            match ctx.index.messages_meta(&ids) {
                Ok(m) => Some(m),
                Err(e) => return super::index_failure(ctx, "FETCH", &e),
            }
        } else {
            None
        };
        for (pos, &i) in chunk.iter().enumerate() {
            let Some(view) = ctx.view() else {
                return Completion::bad(ResponseCode::ClientBug, "No mailbox selected");
            };
            let Some(entry) = view.entry(i) else { continue };
            let meta = metas.as_ref().and_then(|m| m.get(pos));
            let flags_changed = newly_seen.binary_search(&i).is_ok();
            if let Err(c) = write_one(
                ctx,
                out,
                i,
                &attributes,
                meta,
                &entry.flag_list(),
                entry.uid,
                flags_changed,
            ) {
                return c;
            }
        }
    }
    Completion::ok("FETCH completed")
}

/// Whether the attribute sets `\Seen` (RFC 3501 §6.4.5).
fn marks_seen(a: &FetchAttribute) -> bool {
    matches!(
        a,
        FetchAttribute::BodySection {
            seen: SeenPolicy::MarkSeen,
            ..
        } | FetchAttribute::Binary {
            seen: SeenPolicy::MarkSeen,
            ..
        } | FetchAttribute::Rfc822
            | FetchAttribute::Rfc822Text
    )
}

fn needs_meta(a: &FetchAttribute) -> bool {
    !matches!(
        a,
        FetchAttribute::Flags | FetchAttribute::Uid | FetchAttribute::ModSeq
    )
}

/// Writes `* seq FETCH (...)` for the message at `index`.
#[allow(clippy::too_many_arguments)]
fn write_one(
    ctx: &mut Ctx<'_>,
    out: &mut Out<'_>,
    index: usize,
    attributes: &[FetchAttribute],
    meta: Option<&MessageMeta>,
    flags: &str,
    uid: u32,
    flags_changed: bool,
) -> Result<(), Completion> {
    // Read the blob once, only if some attribute needs the bytes.
    let needs_bytes = attributes.iter().any(|a| {
        matches!(
            a,
            FetchAttribute::BodySection { .. }
                | FetchAttribute::Binary { .. }
                | FetchAttribute::BinarySize { .. }
                | FetchAttribute::Rfc822
                | FetchAttribute::Rfc822Header
                | FetchAttribute::Rfc822Text
        )
    }) || (meta.is_some_and(|m| m.preview.is_none())
        && attributes.contains(&FetchAttribute::Preview(PreviewMode::Compute)));
    let blob = match (needs_bytes, meta) {
        (true, Some(m)) => match ctx.store.read(m.blob) {
            Ok(b) => Some(b),
            Err(e) => {
                log::error!("{}: UID {uid}: {e}", ctx.session.peer);
                return Err(Completion::no(
                    ResponseCode::Corruption,
                    format!("Message UID {uid} is damaged in the archive and is not served; the administrator can run `imapvault verify`"),
                ));
            }
        },
        _ => None,
    };
    let bytes: &[u8] = blob.as_deref().unwrap_or(&[]);

    out.text(&format!("* {} FETCH (", index + 1));
    let mut first = true;
    let mut sep = |out: &mut Out<'_>| {
        if !first {
            out.text(" ");
        }
        first = false;
    };
    let mut sent_flags = false;
    for attribute in attributes {
        sep(out);
        match attribute {
            FetchAttribute::Flags => {
                out.text(&format!("FLAGS ({flags})"));
                sent_flags = true;
            }
            FetchAttribute::Uid => out.text(&format!("UID {uid}")),
            FetchAttribute::ModSeq => {
                let modseq = ctx
                    .view()
                    .and_then(|v| v.entry(index))
                    .map_or(0, |e| e.modseq);
                out.text(&format!("MODSEQ ({modseq})"));
            }
            FetchAttribute::InternalDate => {
                let d = meta.map(|m| m.internal_date);
                let text = d.map_or_else(
                    || "NIL".to_owned(),
                    |d| format_internal_date(d.unix, i32::from(d.tz_minutes)),
                );
                out.text(&format!("INTERNALDATE {text}"));
            }
            FetchAttribute::Rfc822Size => {
                out.text(&format!("RFC822.SIZE {}", meta.map_or(0, |m| m.size)));
            }
            FetchAttribute::Envelope => {
                out.text("ENVELOPE ");
                out.push(meta.map_or(&b"NIL"[..], |m| &m.envelope));
            }
            FetchAttribute::Body => {
                out.text("BODY ");
                out.push(meta.map_or(&b"NIL"[..], |m| &m.body));
            }
            FetchAttribute::BodyStructure => {
                out.text("BODYSTRUCTURE ");
                out.push(meta.map_or(&b"NIL"[..], |m| &m.body_structure));
            }
            FetchAttribute::EmailId => {
                let id = meta.map_or(0, |m| m.id.0);
                out.text(&format!("EMAILID (M{id})"));
            }
            FetchAttribute::ThreadId => out.text("THREADID NIL"),
            FetchAttribute::Preview(mode) => {
                let computed;
                let text = match (meta.and_then(|m| m.preview.as_deref()), mode) {
                    (Some(p), _) => Some(p),
                    // Stored before PREVIEW was computed at ingest (sql/0005), not reindexed
                    // yet. RFC 8970 §3.1: LAZY asks for NIL rather than a costly computation;
                    // otherwise it is computed now from the bytes, as ingest would have.
                    (None, PreviewMode::Lazy) => None,
                    (None, PreviewMode::Compute) => {
                        computed = mime::text::preview(bytes);
                        Some(computed.as_str())
                    }
                };
                out.text("PREVIEW ");
                let mut buf = Vec::new();
                write_nstring(&mut buf, text.map(str::as_bytes), EightBit::Literal);
                out.push(&buf);
            }
            FetchAttribute::BodySection {
                section, partial, ..
            } => {
                let data = mime::section(bytes, section);
                out.text(&format!("BODY[{}]", section_spec(section)));
                write_data(out, data.as_deref(), *partial, LiteralKind::Text);
            }
            FetchAttribute::Rfc822 => {
                out.text("RFC822 ");
                out.literal(bytes, LiteralKind::Text);
            }
            FetchAttribute::Rfc822Header => {
                let data = mime::section(
                    bytes,
                    &Section {
                        part: vec![],
                        text: Some(SectionText::Header),
                    },
                );
                out.text("RFC822.HEADER ");
                out.literal(data.as_deref().unwrap_or(&[]), LiteralKind::Text);
            }
            FetchAttribute::Rfc822Text => {
                let data = mime::section(
                    bytes,
                    &Section {
                        part: vec![],
                        text: Some(SectionText::Text),
                    },
                );
                out.text("RFC822.TEXT ");
                out.literal(data.as_deref().unwrap_or(&[]), LiteralKind::Text);
            }
            FetchAttribute::Binary { part, partial, .. } => {
                let data = match mime::binary_section(bytes, part) {
                    Ok(d) => d,
                    Err(e) => {
                        out.text("BINARY[] NIL)\r\n");
                        return Err(Completion::no(
                            ResponseCode::UnknownCte,
                            format!("Cannot decode part {} of UID {uid}: {e}", part_spec(part)),
                        ));
                    }
                };
                out.text(&format!("BINARY[{}]", part_spec(part)));
                write_data(out, data.as_deref(), *partial, LiteralKind::Binary);
            }
            FetchAttribute::BinarySize { part } => {
                let size = match mime::binary_section(bytes, part) {
                    Ok(d) => d.map_or(0, |d| d.len()),
                    Err(e) => {
                        out.text("BINARY.SIZE[] 0)\r\n");
                        return Err(Completion::no(
                            ResponseCode::UnknownCte,
                            format!("Cannot decode part {} of UID {uid}: {e}", part_spec(part)),
                        ));
                    }
                };
                out.text(&format!("BINARY.SIZE[{}] {size}", part_spec(part)));
            }
        }
    }
    // RFC 3501 §6.4.5: when a fetch sets \Seen, the new flags are part of the response, and
    // under CONDSTORE with their new MODSEQ (RFC 7162 §3.1.4).
    if flags_changed && !sent_flags {
        sep(out);
        out.text(&format!("FLAGS ({flags})"));
    }
    if flags_changed
        && ctx.session.enabled.condstore
        && !attributes.contains(&FetchAttribute::ModSeq)
    {
        let modseq = ctx
            .view()
            .and_then(|v| v.entry(index))
            .map_or(0, |e| e.modseq);
        sep(out);
        out.text(&format!("MODSEQ ({modseq})"));
    }
    out.text(")\r\n");
    Ok(())
}

/// Writes ` <origin>` (for a partial fetch) and the data as a literal; a section that does not
/// exist is sent as the empty string, as Dovecot and Cyrus do (RFC 3501 is silent).
fn write_data(out: &mut Out<'_>, data: Option<&[u8]>, partial: Option<Partial>, kind: LiteralKind) {
    let data = data.unwrap_or(&[]);
    match partial {
        Some(p) => {
            // RFC 3501 §6.4.5: an origin past the end gives the empty string.
            let start = (p.offset as usize).min(data.len());
            let end = start
                .saturating_add(p.length.get() as usize)
                .min(data.len());
            out.text(&format!("<{}> ", p.offset));
            out.literal(&data[start..end], kind);
        }
        None => {
            out.text(" ");
            out.literal(data, kind);
        }
    }
}

/// The section as the response names it: `1.2.HEADER.FIELDS (FROM TO)`.
pub fn section_spec(section: &Section) -> String {
    let mut s = part_spec(&section.part);
    if let Some(text) = &section.text {
        if !s.is_empty() {
            s.push('.');
        }
        match text {
            SectionText::Header => s.push_str("HEADER"),
            SectionText::Text => s.push_str("TEXT"),
            SectionText::Mime => s.push_str("MIME"),
            SectionText::HeaderFields(names) | SectionText::HeaderFieldsNot(names) => {
                s.push_str(if matches!(text, SectionText::HeaderFields(_)) {
                    "HEADER.FIELDS ("
                } else {
                    "HEADER.FIELDS.NOT ("
                });
                for (i, n) in names.iter().enumerate() {
                    if i > 0 {
                        s.push(' ');
                    }
                    let _ = write!(s, "{}", n.to_ascii_uppercase());
                }
                s.push(')');
            }
        }
    }
    s
}

fn part_spec(part: &[u32]) -> String {
    part.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_names_echo_the_request() {
        let s = |part: Vec<u32>, text| section_spec(&Section { part, text });
        assert_eq!(s(vec![], None), "");
        assert_eq!(s(vec![1, 2], None), "1.2");
        assert_eq!(s(vec![], Some(SectionText::Header)), "HEADER");
        assert_eq!(s(vec![2], Some(SectionText::Mime)), "2.MIME");
        assert_eq!(
            s(
                vec![],
                Some(SectionText::HeaderFields(vec!["From".into(), "to".into()]))
            ),
            "HEADER.FIELDS (FROM TO)"
        );
        assert_eq!(
            s(
                vec![3],
                Some(SectionText::HeaderFieldsNot(vec!["Received".into()]))
            ),
            "3.HEADER.FIELDS.NOT (RECEIVED)"
        );
    }
}
