//! SEARCH and UID SEARCH (RFC 3501 §6.4.4, RFC 9051 §6.4.4), with ESEARCH return options
//! (RFC 4731), SEARCHRES (RFC 5182: `RETURN (SAVE)` and `$`) and WITHIN (RFC 5032: OLDER and
//! YOUNGER, in seconds before now, against INTERNALDATE).
//!
//! Text keys (BCC, BODY, CC, FROM, HEADER, SUBJECT, TEXT, TO) match when the field's decoded
//! text contains the string, case-insensitively (`mime::text::fold` on both sides). Each text
//! key is evaluated once into the set of matching messages of the selected mailbox, from the
//! content index's words (`index::content`): for a plain word (letters and digits) the index's
//! answer is exact; for any other string it gives candidates (or, when it cannot narrow the
//! search, every message of the mailbox is one), and every candidate is checked exactly
//! against its stored text. So there are no false hits and (the index being a superset) no
//! misses. The per-message
//! evaluator then combines those sets with the other keys (flags, dates, sizes, sets) under
//! AND/OR/NOT. Nesting depth is capped by the parser, so the recursion here is bounded.
//!
//! A search has a time budget (`[limits] search_secs`, [`deadline`]); past it the answer is
//! `NO [LIMIT]` and the worker is free again.

use std::time::Instant;

use crate::imap::datetime::Day;
use crate::imap::encode::{self, ResponseCode};
use crate::imap::response::{Completion, Out, Status};
use crate::imap::sequence::{format_ranges, runs, SequenceArg};
use crate::imap::session::Ctx;
use crate::imap::types::{AString, Addressing, Date, SearchKey, SearchReturnOption};
use crate::imap::view::{CompactView, MailboxView, ViewEntry};
use crate::index::{ContentColumn, Index, IndexError, MessageFacts};
use crate::mime::text;

/// How long one SEARCH may run before it answers `NO [LIMIT]` (issue 3).
/// When a SEARCH, SORT or THREAD starting now must be done: one budget for the whole command,
/// its search and its sorting or threading alike.
pub(super) fn deadline(ctx: &Ctx<'_>) -> Instant {
    Instant::now() + ctx.session.context.limits.search_budget
}

/// Charsets named in `NO [BADCHARSET (...)]` (RFC 3501 §6.4.4, RFC 5530). Any charset label
/// `mime::text::known_charset` accepts works; these are the ones clients send.
const CHARSETS: &[&str] = &[
    "UTF-8",
    "US-ASCII",
    "ISO-8859-1",
    "ISO-8859-2",
    "ISO-8859-15",
    "WINDOWS-1252",
    "KOI8-R",
    "ISO-2022-JP",
    "SHIFT_JIS",
    "EUC-JP",
    "GB2312",
    "BIG5",
];

/// One SEARCH or UID SEARCH command, as parsed.
pub struct SearchCommand<'a> {
    pub tag: &'a str,
    pub addressing: Addressing,
    /// `RETURN (...)`; None for the plain `* SEARCH` answer.
    pub ret: Option<&'a [SearchReturnOption]>,
    pub charset: Option<&'a AString>,
    pub key: &'a SearchKey,
}

/// Runs SEARCH / UID SEARCH.
pub fn run(ctx: &mut Ctx<'_>, out: &mut Out<'_>, command: &SearchCommand<'_>) -> Completion {
    saving(ctx, command.ret, |ctx| search(ctx, out, command))
}

fn search(ctx: &mut Ctx<'_>, out: &mut Out<'_>, command: &SearchCommand<'_>) -> Completion {
    let &SearchCommand {
        tag,
        addressing,
        ret,
        charset,
        key,
    } = command;
    let found = match matching(ctx, "SEARCH", charset, key, deadline(ctx)) {
        Ok(found) => found,
        Err(c) => return c,
    };
    let Some(view) = ctx.view() else {
        return Completion::bad(ResponseCode::ClientBug, "No mailbox selected");
    };
    // The UIDs from the compact copy: 4 bytes a message, not a 64-byte entry each.
    let compact = view.compact();
    let hits: Vec<u32> = found
        .iter()
        .map(|&i| answer_number(addressing, i, compact.uid(i)))
        .collect();
    if ret.is_some_and(|r| r.contains(&SearchReturnOption::Save)) {
        let uids: Vec<u32> = found.iter().map(|&i| compact.uid(i)).collect();
        save_result(ctx, ret, &uids);
    }
    let modseq = modseq_answer(ctx, key, &found);
    write_answer(out, "SEARCH", tag, addressing, ret, &hits, modseq);
    Completion::ok("SEARCH completed")
}

/// The answer of SEARCH or SORT (`name`): `* NAME n n n` with `(MODSEQ m)` (RFC 7162 §3.1.5),
/// or with RETURN options the ESEARCH form (RFC 4731, RFC 5267). `hits` in answer order.
pub(super) fn write_answer(
    out: &mut Out<'_>,
    name: &str,
    tag: &str,
    addressing: Addressing,
    ret: Option<&[SearchReturnOption]>,
    hits: &[u32],
    modseq: Option<u64>,
) {
    match ret {
        None => {
            let mut line = Vec::with_capacity(16 + hits.len() * 8);
            line.extend_from_slice(b"* ");
            line.extend_from_slice(name.as_bytes());
            if !hits.is_empty() {
                line.push(b' ');
                encode::write_number_list(&mut line, hits.iter().copied());
            }
            if let Some(m) = modseq {
                line.extend_from_slice(b" (MODSEQ ");
                encode::write_number(&mut line, m);
                line.push(b')');
            }
            line.extend_from_slice(b"\r\n");
            out.push(&line);
        }
        // RFC 5182 §2.1: SAVE alone sends no ESEARCH; with other options they are answered.
        Some([SearchReturnOption::Save]) => {}
        Some(options) => write_esearch(out, tag, addressing, options, hits, modseq),
    }
}

/// Runs `command`, a SEARCH or SORT with `ret` options, so that RFC 5182 §2.1 holds: one with
/// RETURN (SAVE) that fails leaves the saved result empty, so a pipelined `FETCH $` acts on no
/// message rather than on an older result.
pub(super) fn saving(
    ctx: &mut Ctx<'_>,
    ret: Option<&[SearchReturnOption]>,
    command: impl FnOnce(&mut Ctx<'_>) -> Completion,
) -> Completion {
    let done = command(ctx);
    if ret.is_some_and(|r| r.contains(&SearchReturnOption::Save)) && done.status != Status::Ok {
        if let Some(view) = ctx.view_mut() {
            view.save_result(&[]);
        }
    }
    done
}

/// Keeps the messages a SEARCH or SORT found as the saved result (`$`, RFC 5182) when `ret`
/// asks for it; `uids` in answer order (MIN and MAX are the first and last of it).
pub(super) fn save_result(ctx: &mut Ctx<'_>, ret: Option<&[SearchReturnOption]>, uids: &[u32]) {
    if let Some(options) = ret.filter(|r| r.contains(&SearchReturnOption::Save)) {
        let mut saved = saved_part(options, uids);
        saved.sort_unstable();
        if let Some(view) = ctx.view_mut() {
            view.save_result(&saved);
        }
    }
}

/// The number a command answers for the message at 0-based `index` of the view, of UID
/// `uid`: its sequence number or its UID.
pub(super) fn answer_number(addressing: Addressing, index: usize, uid: u32) -> u32 {
    match addressing {
        Addressing::Sequence => index as u32 + 1,
        Addressing::Uid => uid,
    }
}

/// RFC 7162 §3.1.5: a search program with MODSEQ enables CONDSTORE, and the answer (of SEARCH
/// and SORT) reports the highest mod-sequence of the messages found, when any are.
pub(super) fn modseq_answer(ctx: &mut Ctx<'_>, key: &SearchKey, found: &[usize]) -> Option<u64> {
    if !any_key(key, |k| matches!(k, SearchKey::ModSeq { .. })) {
        return None;
    }
    ctx.session.enabled.condstore = true;
    let entries = ctx.view()?.entries();
    found
        .iter()
        .filter_map(|&i| entries.get(i))
        .map(|e| e.modseq)
        .max()
}

/// The 0-based indices, ascending, of the selected mailbox's messages that the search program
/// `key` matches, with the strings in `charset` (US-ASCII when None): the evaluation SEARCH,
/// SORT and THREAD share. `what` names the command in failures. Errors are the completion to
/// answer: unknown charset, RFC 8474 keys, no mailbox, index failure, `deadline` passed.
pub(super) fn matching(
    ctx: &mut Ctx<'_>,
    what: &str,
    charset: Option<&AString>,
    key: &SearchKey,
    deadline: Instant,
) -> Result<Vec<usize>, Completion> {
    // RFC 3501 §6.4.4: without CHARSET the strings are US-ASCII; clients send UTF-8 anyway,
    // which `decode_charset` reads for "us-ascii" when the bytes are valid UTF-8.
    let charset: &[u8] = match charset {
        None => b"us-ascii",
        Some(cs) if text::known_charset(cs.as_bytes()) => cs.as_bytes(),
        Some(_) => {
            return Err(Completion::no(
                ResponseCode::BadCharset(CHARSETS.iter().map(|s| s.to_string()).collect()),
                "Charset not supported",
            ));
        }
    };
    if any_key(key, is_object_id_key) {
        return Err(Completion::no(
            ResponseCode::Cannot,
            "EMAILID and THREADID (RFC 8474) are not offered by this server",
        ));
    }
    let no_mailbox = || Completion::bad(ResponseCode::ClientBug, "No mailbox selected");
    let view = ctx.view().ok_or_else(no_mailbox)?;
    let largest_seq = view.len();
    let largest_uid = view.largest_uid();
    let metas: Vec<MessageFacts> = if any_key(key, is_meta_key) {
        let ids: Vec<_> = view.entries().iter().map(|e| e.message).collect();
        let mut all = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1024) {
            match ctx.index.message_facts(chunk) {
                Ok(m) => all.extend(m),
                Err(e) => return Err(super::index_failure(ctx, what, &e)),
            }
        }
        all
    } else {
        Vec::new()
    };
    let texts = if any_key(key, is_text_key) {
        let view = ctx.view().ok_or_else(no_mailbox)?;
        match ctx.index.content_backfill_pending() {
            Ok(false) => {}
            Ok(true) => return Err(Completion::no(
                ResponseCode::Unavailable,
                "Text search needs the content index, which is not built yet (imapvault reindex)",
            )),
            Err(e) => return Err(super::index_failure(ctx, what, &e)),
        }
        // A lone text key (what a client's search box sends) is answered by the positions of
        // its hits alone, with no evaluation nor flag per message (together a fifth of a common
        // word's search on 1,000,000 messages).
        let lone = match key {
            SearchKey::And(keys) if keys.len() == 1 => &keys[0],
            k => k,
        };
        let compact = view.compact();
        let failed = |ctx: &Ctx<'_>, e: IndexError| match e {
            IndexError::Deadline => out_of_time(ctx, what),
            e => super::index_failure(ctx, what, &e),
        };
        if is_text_key(lone) {
            let mut found = Vec::new();
            text_hits(ctx.index, compact, lone, charset, deadline, |i| {
                found.push(i)
            })
            .map_err(|e| failed(ctx, e))?;
            // Found in id order, which is the view's unless it was filled out of order.
            if !found.is_sorted() {
                found.sort_unstable();
            }
            return Ok(found);
        }
        text_sets(ctx.index, compact, key, charset, deadline).map_err(|e| failed(ctx, e))?
    } else {
        TextSets::default()
    };
    let view = ctx.view().ok_or_else(no_mailbox)?;
    let limits = Bounds {
        largest_seq,
        largest_uid,
        view,
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    };
    Ok(view
        .entries()
        .iter()
        .enumerate()
        .filter(|&(i, entry)| matches(key, i as u32 + 1, entry, metas.get(i), &limits, &texts))
        .map(|(i, _)| i)
        .collect())
}

/// The answer when a command has spent its time budget ([`deadline`]): `NO [LIMIT]`, logged.
pub(super) fn out_of_time(ctx: &Ctx<'_>, what: &str) -> Completion {
    log::info!(
        "{}: {what} stopped after {:?}",
        ctx.session.peer,
        ctx.session.context.limits.search_budget
    );
    Completion::no(
        ResponseCode::Limit,
        "Search took too long; narrow it down (longer strings find faster)",
    )
}

/// What `RETURN (SAVE ...)` keeps of the hits (RFC 5182 §2.1): everything, unless MIN and/or
/// MAX are the only other options, in which case just those messages.
fn saved_part(options: &[SearchReturnOption], uids: &[u32]) -> Vec<u32> {
    use SearchReturnOption as R;
    let only_min_max = options
        .iter()
        .all(|o| matches!(o, R::Save | R::Min | R::Max))
        && options.iter().any(|o| matches!(o, R::Min | R::Max));
    if !only_min_max || uids.is_empty() {
        return uids.to_vec();
    }
    let mut kept = Vec::with_capacity(2);
    if options.contains(&R::Min) {
        kept.push(uids[0]);
    }
    if options.contains(&R::Max) && !kept.contains(&uids[uids.len() - 1]) {
        kept.push(uids[uids.len() - 1]);
    }
    kept
}

/// `* ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set` (RFC 4731 §3.1); an empty RETURN
/// list means ALL. `hits` in the order they are answered: ascending for SEARCH, sorted for
/// ESORT, where MIN and MAX are the first and last in sort order and ALL keeps that order
/// (RFC 5267 §3.2).
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

struct Bounds<'v> {
    largest_seq: u32,
    largest_uid: u32,
    /// For `$`, the saved result (RFC 5182).
    view: &'v MailboxView,
    /// The instant OLDER and YOUNGER measure from (RFC 5032), once per search so that every
    /// message is judged against the same moment. Unix seconds.
    now: i64,
}

/// Calls `f` on every key of a search program that is not AND, OR or NOT, in order. The
/// parser caps the nesting depth, so this recursion is bounded.
fn visit<'k>(key: &'k SearchKey, f: &mut dyn FnMut(&'k SearchKey)) {
    match key {
        SearchKey::And(keys) => keys.iter().for_each(|k| visit(k, f)),
        SearchKey::Not(k) => visit(k, f),
        SearchKey::Or(a, b) => {
            visit(a, f);
            visit(b, f);
        }
        leaf => f(leaf),
    }
}

/// Whether any key of the program is one `pred` picks.
fn any_key(key: &SearchKey, pred: fn(&SearchKey) -> bool) -> bool {
    let mut found = false;
    visit(key, &mut |k| found |= pred(k));
    found
}

/// The content-index keys (RFC 3501 §6.4.4's string keys).
fn is_text_key(key: &SearchKey) -> bool {
    use SearchKey as K;
    matches!(
        key,
        K::Bcc(_)
            | K::Body(_)
            | K::Cc(_)
            | K::From(_)
            | K::Header(..)
            | K::Subject(_)
            | K::Text(_)
            | K::To(_)
    )
}

/// Keys of RFC 8474 (OBJECTID), which this server does not offer.
fn is_object_id_key(key: &SearchKey) -> bool {
    matches!(key, SearchKey::EmailId(_) | SearchKey::ThreadId(_))
}

/// Keys that need a message's size or dates.
fn is_meta_key(key: &SearchKey) -> bool {
    use SearchKey as K;
    matches!(
        key,
        K::Before(_)
            | K::On(_)
            | K::Since(_)
            | K::SentBefore(_)
            | K::SentOn(_)
            | K::SentSince(_)
            | K::Larger(_)
            | K::Smaller(_)
            | K::Older(_)
            | K::Younger(_)
    )
}

/// The text keys of a search program, in order.
fn text_keys<'k>(key: &'k SearchKey, out: &mut Vec<&'k SearchKey>) {
    visit(key, &mut |k| {
        if is_text_key(k) {
            out.push(k)
        }
    });
}

/// The view entries each text key of one search matches, by the key's address in the search
/// program (the program is borrowed, unmoved, for the whole search): one flag per entry, by
/// position (sequence number - 1), so the per-entry evaluation is an array read. A search has
/// a handful of text keys, so finding a key's flags is a short scan comparing addresses (a
/// hash map's hashing, once per key per entry, was a tenth of a rare-string search on
/// 1,000,000 messages).
#[derive(Default)]
struct TextSets {
    sets: Vec<(*const SearchKey, Vec<bool>)>,
}

impl TextSets {
    fn contains(&self, key: &SearchKey, seq: u32) -> bool {
        let key = key as *const SearchKey;
        self.sets
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, s)| s.get(seq as usize - 1))
            .is_some_and(|&hit| hit)
    }
}

/// What one text key asks: which stored columns, and how a column's text must contain the
/// needle.
enum TextTest {
    /// Any of the columns contains the needle.
    Contains(&'static [ContentColumn]),
    /// A header field of this (folded) name whose value contains the needle; an empty needle
    /// asks only that the field exists (RFC 3501 §6.4.4 HEADER).
    Header(String),
}

/// Evaluates every text key of `key` over the view's messages.
fn text_sets(
    index: &Index,
    view: &CompactView,
    key: &SearchKey,
    charset: &[u8],
    deadline: Instant,
) -> Result<TextSets, IndexError> {
    let mut keys = Vec::new();
    text_keys(key, &mut keys);
    let mut sets = TextSets::default();
    for k in keys {
        let mut hits = vec![false; view.len()];
        text_hits(index, view, k, charset, deadline, |i| hits[i] = true)?;
        sets.sets.push((k as *const SearchKey, hits));
    }
    Ok(sets)
}

/// Calls `hit` with the view position of each message that text key `k` matches, in id order.
fn text_hits(
    index: &Index,
    view: &CompactView,
    k: &SearchKey,
    charset: &[u8],
    deadline: Instant,
    mut hit: impl FnMut(usize),
) -> Result<(), IndexError> {
    let (test, needle) = text_test(k, charset);
    let columns: &[ContentColumn] = match &test {
        TextTest::Contains(c) => c,
        TextTest::Header(_) => &[ContentColumn::Headers],
    };
    // The index's answer: exact for a plain word in the asked columns, else candidates (only
    // the view's are checked); or nothing to go on (every message is a candidate).
    let candidates = match index.content_candidates(columns, &needle, view.len(), deadline)? {
        Some(c) if c.exact && matches!(test, TextTest::Contains(_)) => {
            view.each_of(&c.ids, |i, _| hit(i));
            return Ok(());
        }
        Some(c) => {
            let mut in_view = Vec::with_capacity(c.ids.len());
            view.each_of(&c.ids, |_, m| in_view.push(m));
            in_view
        }
        None => view.ids().to_vec(),
    };
    // The folded needle against folded text, as bytes: both are UTF-8, where a byte match is
    // a character match (no character's encoding starts inside another's).
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let check = |texts: &[&[u8]]| match &test {
        TextTest::Contains(_) => texts.iter().any(|t| finder.find(t).is_some()),
        TextTest::Header(name) => texts.first().is_some_and(|h| {
            // Stored text is UTF-8, so this borrows; `found` is bound before `h` drops.
            let h = String::from_utf8_lossy(h);
            let found = text::header_values(&h, name).any(|v| v.contains(needle.as_str()));
            found
        }),
    };
    let found = index.content_filter(&candidates, columns, deadline, &check)?;
    view.each_of(&found, |i, _| hit(i));
    Ok(())
}

/// The test and the folded needle of one text key.
fn text_test(key: &SearchKey, charset: &[u8]) -> (TextTest, String) {
    use ContentColumn as C;
    use SearchKey as K;
    let needle = |s: &AString| text::fold(&text::decode_charset(charset, s.as_bytes()));
    match key {
        K::From(s) => (TextTest::Contains(&[C::From]), needle(s)),
        K::To(s) => (TextTest::Contains(&[C::To]), needle(s)),
        K::Cc(s) => (TextTest::Contains(&[C::Cc]), needle(s)),
        K::Bcc(s) => (TextTest::Contains(&[C::Bcc]), needle(s)),
        K::Subject(s) => (TextTest::Contains(&[C::Subject]), needle(s)),
        K::Body(s) => (TextTest::Contains(&[C::Body]), needle(s)),
        // RFC 3501 §6.4.4: TEXT is "the header or body of the message".
        K::Text(s) => (TextTest::Contains(&[C::Headers, C::Body]), needle(s)),
        K::Header(name, s) => (TextTest::Header(needle(name)), needle(s)),
        // `text_keys` yields only the keys above.
        _ => (TextTest::Contains(&[]), String::new()),
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
    meta: Option<&MessageFacts>,
    b: &Bounds<'_>,
    t: &TextSets,
) -> bool {
    use SearchKey as K;
    let internal_day = || {
        meta.map(|m| Day::of_instant(m.internal_date.unix, i32::from(m.internal_date.tz_minutes)))
    };
    let sent_day = || {
        meta.and_then(|m| m.sent_day)
            .map(|(year, month, day)| Day { year, month, day })
    };
    let age = || meta.map(|m| b.now - m.internal_date.unix);
    match key {
        K::And(keys) => keys.iter().all(|k| matches(k, seq, e, meta, b, t)),
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
        // Per-user keywords and the archive keyword ($HasAttachment / $HasNoAttachment).
        K::Keyword(k) => e.has_flag(k.as_str()),
        K::Unkeyword(k) => !e.has_flag(k.as_str()),
        K::Larger(n) => meta.is_some_and(|m| m.size > u64::from(*n)),
        K::Smaller(n) => meta.is_some_and(|m| m.size < u64::from(*n)),
        K::Before(d) => internal_day().is_some_and(|x| x < day(d)),
        K::On(d) => internal_day().is_some_and(|x| x == day(d)),
        K::Since(d) => internal_day().is_some_and(|x| x >= day(d)),
        K::SentBefore(d) => sent_day().is_some_and(|x| x < day(d)),
        K::SentOn(d) => sent_day().is_some_and(|x| x == day(d)),
        K::SentSince(d) => sent_day().is_some_and(|x| x >= day(d)),
        // RFC 5032 §3: OLDER n is "internal date older than n seconds", YOUNGER n "within n
        // seconds": so the two split every message between them, none in both.
        K::Older(secs) => age().is_some_and(|a| a > i64::from(secs.get())),
        K::Younger(secs) => age().is_some_and(|a| a <= i64::from(secs.get())),
        K::Not(k) => !matches(k, seq, e, meta, b, t),
        K::Or(x, y) => matches(x, seq, e, meta, b, t) || matches(y, seq, e, meta, b, t),
        K::Uid(SequenceArg::Set(set)) => set.contains(e.uid, b.largest_uid),
        K::SequenceSet(SequenceArg::Set(set)) => set.contains(seq, b.largest_seq),
        // `$`: the saved result, whichever way it is written (RFC 5182 §2.1); empty before
        // any SAVE.
        K::Uid(SequenceArg::SavedResult) | K::SequenceSet(SequenceArg::SavedResult) => {
            b.view.in_saved_result(e.uid)
        }
        K::ModSeq { mod_seq, .. } => e.modseq >= *mod_seq,
        // Evaluated beforehand into sets (see `text_sets`).
        K::Bcc(_)
        | K::Body(_)
        | K::Cc(_)
        | K::From(_)
        | K::Header(..)
        | K::Subject(_)
        | K::Text(_)
        | K::To(_) => t.contains(key, seq),
        // Refused before evaluation (see `is_object_id_key`).
        K::EmailId(_) | K::ThreadId(_) => false,
    }
}
