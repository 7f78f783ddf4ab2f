//! SEARCH and UID SEARCH (RFC 3501 §6.4.4), with ESEARCH return options (RFC 4731).
//!
//! Evaluates the keys that need no content index: sequence sets, UID, flags, internal and sent
//! dates, sizes, NOT/OR/parentheses. Text keys (FROM, SUBJECT, BODY, TEXT, HEADER, ...) need the
//! content index and are answered `NO [CANNOT]` until it exists, never with a guess.
//! Nesting depth is capped by the parser, so the recursion here is bounded.

use crate::imap::datetime::Day;
use crate::imap::encode::ResponseCode;
use crate::imap::response::{Completion, Out};
use crate::imap::sequence::{format_ranges, runs, SequenceArg};
use crate::imap::session::Ctx;
use crate::imap::types::{AString, Addressing, Date, SearchKey, SearchReturnOption};
use crate::imap::view::ViewEntry;
use crate::index::MessageMeta;

/// Charsets whose strings we can compare; any other gets `NO [BADCHARSET]` (RFC 3501 §6.4.4).
const CHARSETS: &[&str] = &["UTF-8", "US-ASCII"];

/// Runs SEARCH / UID SEARCH.
pub fn run(
    ctx: &mut Ctx<'_>,
    out: &mut Out<'_>,
    tag: &str,
    addressing: Addressing,
    ret: Option<&[SearchReturnOption]>,
    charset: Option<&AString>,
    key: &SearchKey,
) -> Completion {
    if let Some(cs) = charset {
        let ok = cs
            .as_str()
            .is_some_and(|c| CHARSETS.iter().any(|k| k.eq_ignore_ascii_case(c)));
        if !ok {
            return Completion::no(
                ResponseCode::BadCharset(CHARSETS.iter().map(|s| s.to_string()).collect()),
                "Charset not supported",
            );
        }
    }
    if needs_content(key) {
        return Completion::no(
            ResponseCode::Cannot,
            "Text search (FROM, TO, SUBJECT, BODY, TEXT, HEADER ...) is not available on this server yet",
        );
    }
    if ret.is_some_and(|r| r.contains(&SearchReturnOption::Save)) {
        return Completion::bad(
            ResponseCode::ClientBug,
            "SEARCHRES (RETURN SAVE) is not offered",
        );
    }
    let Some(view) = ctx.view() else {
        return Completion::bad(ResponseCode::ClientBug, "No mailbox selected");
    };
    let largest_seq = view.len();
    let largest_uid = view.largest_uid();
    let metas: Vec<MessageMeta> = if needs_meta(key) {
        let ids: Vec<_> = view.entries().iter().map(|e| e.message).collect();
        let mut all = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1024) {
            match ctx.index.messages_meta(chunk) {
                Ok(m) => all.extend(m),
                Err(e) => return super::index_failure(ctx, "SEARCH", &e),
            }
        }
        all
    } else {
        Vec::new()
    };
    let Some(view) = ctx.view() else {
        return Completion::bad(ResponseCode::ClientBug, "No mailbox selected");
    };
    let limits = Bounds {
        largest_seq,
        largest_uid,
    };
    let mut hits: Vec<u32> = Vec::new();
    let mut highest_modseq = 0;
    for (i, entry) in view.entries().iter().enumerate() {
        let seq = i as u32 + 1;
        if matches(key, seq, entry, metas.get(i), &limits) {
            highest_modseq = highest_modseq.max(entry.modseq);
            hits.push(match addressing {
                Addressing::Sequence => seq,
                Addressing::Uid => entry.uid,
            });
        }
    }
    // RFC 7162 §3.1.5: a search with MODSEQ enables CONDSTORE and reports the highest
    // mod-sequence of the messages found.
    let modseq = uses_modseq(key) && !hits.is_empty();
    if uses_modseq(key) {
        ctx.session.enabled.condstore = true;
    }
    match ret {
        None => {
            let mut line = String::from("* SEARCH");
            for h in &hits {
                line.push(' ');
                line.push_str(&h.to_string());
            }
            if modseq {
                line.push_str(&format!(" (MODSEQ {highest_modseq})"));
            }
            line.push_str("\r\n");
            out.text(&line);
        }
        Some(options) => write_esearch(
            out,
            tag,
            addressing,
            options,
            &hits,
            modseq.then_some(highest_modseq),
        ),
    }
    Completion::ok("SEARCH completed")
}

/// `* ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set` (RFC 4731 §3.1); an empty RETURN
/// list means ALL.
fn write_esearch(
    out: &mut Out<'_>,
    tag: &str,
    addressing: Addressing,
    options: &[SearchReturnOption],
    hits: &[u32],
    modseq: Option<u64>,
) {
    let all_default = options.is_empty();
    let mut line = format!("* ESEARCH (TAG \"{tag}\")");
    if addressing == Addressing::Uid {
        line.push_str(" UID");
    }
    if !hits.is_empty() {
        if options.contains(&SearchReturnOption::Min) {
            line.push_str(&format!(" MIN {}", hits[0]));
        }
        if options.contains(&SearchReturnOption::Max) {
            line.push_str(&format!(" MAX {}", hits[hits.len() - 1]));
        }
    }
    if options.contains(&SearchReturnOption::Count) {
        line.push_str(&format!(" COUNT {}", hits.len()));
    }
    if (all_default || options.contains(&SearchReturnOption::All)) && !hits.is_empty() {
        line.push_str(" ALL ");
        line.push_str(&format_ranges(runs(hits)));
    }
    if let Some(m) = modseq {
        line.push_str(&format!(" MODSEQ {m}"));
    }
    line.push_str("\r\n");
    out.text(&line);
}

struct Bounds {
    largest_seq: u32,
    largest_uid: u32,
}

fn needs_content(key: &SearchKey) -> bool {
    use SearchKey as K;
    match key {
        K::Bcc(_)
        | K::Body(_)
        | K::Cc(_)
        | K::From(_)
        | K::Header(..)
        | K::Subject(_)
        | K::Text(_)
        | K::To(_)
        | K::EmailId(_)
        | K::ThreadId(_) => true,
        K::And(keys) => keys.iter().any(needs_content),
        K::Not(k) => needs_content(k),
        K::Or(a, b) => needs_content(a) || needs_content(b),
        _ => false,
    }
}

fn uses_modseq(key: &SearchKey) -> bool {
    use SearchKey as K;
    match key {
        K::ModSeq { .. } => true,
        K::And(keys) => keys.iter().any(uses_modseq),
        K::Not(k) => uses_modseq(k),
        K::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        _ => false,
    }
}

fn needs_meta(key: &SearchKey) -> bool {
    use SearchKey as K;
    match key {
        K::Before(_)
        | K::On(_)
        | K::Since(_)
        | K::SentBefore(_)
        | K::SentOn(_)
        | K::SentSince(_)
        | K::Larger(_)
        | K::Smaller(_)
        | K::Older(_)
        | K::Younger(_) => true,
        K::And(keys) => keys.iter().any(needs_meta),
        K::Not(k) => needs_meta(k),
        K::Or(a, b) => needs_meta(a) || needs_meta(b),
        _ => false,
    }
}

fn day(date: &Date) -> Day {
    Day {
        year: i32::from(date.year()),
        month: u32::from(date.month()),
        day: u32::from(date.day()),
    }
}

fn matches(
    key: &SearchKey,
    seq: u32,
    e: &ViewEntry,
    meta: Option<&MessageMeta>,
    b: &Bounds,
) -> bool {
    use SearchKey as K;
    let internal_day = || {
        meta.map(|m| Day::of_instant(m.internal_date.unix, i32::from(m.internal_date.tz_minutes)))
    };
    let sent_day = || {
        meta.and_then(|m| m.sent_day)
            .map(|(year, month, day)| Day { year, month, day })
    };
    let age = || {
        meta.map(|m| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            now - m.internal_date.unix
        })
    };
    match key {
        K::And(keys) => keys.iter().all(|k| matches(k, seq, e, meta, b)),
        K::All => true,
        K::Answered => e.flags.contains("\\Answered"),
        K::Unanswered => !e.flags.contains("\\Answered"),
        K::Flagged => e.flags.contains("\\Flagged"),
        K::Unflagged => !e.flags.contains("\\Flagged"),
        K::Seen => e.flags.contains("\\Seen"),
        K::Unseen => !e.flags.contains("\\Seen"),
        K::Draft => e.flags.contains("\\Draft"),
        K::Undraft => !e.flags.contains("\\Draft"),
        // \Deleted is never set in an archive.
        K::Deleted => false,
        K::Undeleted => true,
        // No message is ever \Recent here (see SELECT), so NEW = RECENT UNSEEN matches nothing.
        K::Recent | K::New => false,
        K::Old => true,
        K::Keyword(k) => e.flags.contains(k.as_str()),
        K::Unkeyword(k) => !e.flags.contains(k.as_str()),
        K::Larger(n) => meta.is_some_and(|m| m.size > u64::from(*n)),
        K::Smaller(n) => meta.is_some_and(|m| m.size < u64::from(*n)),
        K::Before(d) => internal_day().is_some_and(|x| x < day(d)),
        K::On(d) => internal_day().is_some_and(|x| x == day(d)),
        K::Since(d) => internal_day().is_some_and(|x| x >= day(d)),
        K::SentBefore(d) => sent_day().is_some_and(|x| x < day(d)),
        K::SentOn(d) => sent_day().is_some_and(|x| x == day(d)),
        K::SentSince(d) => sent_day().is_some_and(|x| x >= day(d)),
        K::Older(secs) => age().is_some_and(|a| a >= i64::from(secs.get())),
        K::Younger(secs) => age().is_some_and(|a| a <= i64::from(secs.get())),
        K::Not(k) => !matches(k, seq, e, meta, b),
        K::Or(x, y) => matches(x, seq, e, meta, b) || matches(y, seq, e, meta, b),
        K::Uid(SequenceArg::Set(set)) => set.contains(e.uid, b.largest_uid),
        K::SequenceSet(SequenceArg::Set(set)) => set.contains(seq, b.largest_seq),
        // `$` with no saved result names nothing (RFC 5182 §2.1).
        K::Uid(SequenceArg::SavedResult) | K::SequenceSet(SequenceArg::SavedResult) => false,
        K::ModSeq { mod_seq, .. } => e.modseq >= *mod_seq,
        // Content keys are refused before evaluation (see `needs_content`).
        K::Bcc(_)
        | K::Body(_)
        | K::Cc(_)
        | K::From(_)
        | K::Header(..)
        | K::Subject(_)
        | K::Text(_)
        | K::To(_)
        | K::EmailId(_)
        | K::ThreadId(_) => false,
    }
}
