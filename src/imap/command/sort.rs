//! SORT and UID SORT (RFC 5256 §3), with DISPLAYFROM / DISPLAYTO (RFC 5957) and the ESORT
//! return options (RFC 5267 §3).
//!
//! The messages are those the search program matches (the evaluation of SEARCH, shared, see
//! `search::matching`); their keys come from the index (`index::SortFacts`, computed at ingest
//! by `mime::sort`), or from the blob for a message stored before the keys existed. String keys
//! are stored in i;unicode-casemap canonical form, so they compare as bytes. Ties after every
//! criterion go by sequence number, ascending, whatever REVERSE says (RFC 5256 §3: REVERSE
//! reverses only the criterion it precedes).
//!
//! Also owns loading the sort facts of a set of messages ([`load`]), which THREAD shares.

use std::cmp::Ordering;
use std::time::Instant;

use crate::imap::encode::ResponseCode;
use crate::imap::response::{Completion, Out};
use crate::imap::session::Ctx;
use crate::imap::types::{
    AString, Addressing, SearchKey, SearchReturnOption, SortCriterion, SortKey, SortOrder,
};
use crate::mime::sort::SortKeys;

use super::search;

/// Messages whose facts are read with one statement.
const CHUNK: usize = 1024;

/// One matched message with what sorting and threading compare.
#[derive(Debug, Clone)]
pub(super) struct Sortable {
    /// 0-based index in the view (sequence number − 1).
    pub index: usize,
    /// The number the answer names: sequence number or UID.
    pub number: u32,
    /// RFC822.SIZE.
    pub size: u64,
    /// INTERNALDATE, Unix seconds.
    pub arrival: i64,
    /// The sent date (RFC 5256 §2.2): the `Date:` header, else INTERNALDATE.
    pub sent: i64,
    /// The stored (or computed) keys.
    pub keys: SortKeys,
}

/// Runs SORT / UID SORT.
#[allow(clippy::too_many_arguments)]
pub fn run(
    ctx: &mut Ctx<'_>,
    out: &mut Out<'_>,
    tag: &str,
    addressing: Addressing,
    ret: Option<&[SearchReturnOption]>,
    criteria: &[SortCriterion],
    charset: &AString,
    key: &SearchKey,
) -> Completion {
    search::saving(ctx, ret, |ctx| {
        let deadline = search::deadline(ctx);
        let found = match search::matching(ctx, "SORT", Some(charset), key, deadline) {
            Ok(found) => found,
            Err(c) => return c,
        };
        let mut items = match load(ctx, "SORT", addressing, &found, deadline) {
            Ok(items) => items,
            Err(c) => return c,
        };
        items.sort_by(|a, b| compare(a, b, criteria));
        let hits: Vec<u32> = items.iter().map(|s| s.number).collect();
        let uids: Vec<u32> = match ctx.view() {
            Some(view) => items.iter().map(|s| view.entries()[s.index].uid).collect(),
            None => Vec::new(),
        };
        search::save_result(ctx, ret, &uids);
        let modseq = search::modseq_answer(ctx, key, &found);
        // RFC 5267 §3.2: with RETURN, the answer is ESEARCH, in sort order.
        search::write_answer(out, "SORT", tag, addressing, ret, &hits, modseq);
        Completion::ok("SORT completed")
    })
}

/// The order of two messages under `criteria`, then by sequence number.
fn compare(a: &Sortable, b: &Sortable, criteria: &[SortCriterion]) -> Ordering {
    for c in criteria {
        let (x, y) = (&a.keys, &b.keys);
        let o = match c.key {
            SortKey::Arrival => a.arrival.cmp(&b.arrival),
            SortKey::Date => a.sent.cmp(&b.sent),
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::Subject => x.subject.cmp(&y.subject),
            SortKey::From => x.from.cmp(&y.from),
            SortKey::To => x.to.cmp(&y.to),
            SortKey::Cc => x.cc.cmp(&y.cc),
            SortKey::DisplayFrom => x.display_from.cmp(&y.display_from),
            SortKey::DisplayTo => x.display_to.cmp(&y.display_to),
        };
        let o = match c.order {
            SortOrder::Ascending => o,
            SortOrder::Reverse => o.reverse(),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.index.cmp(&b.index)
}

/// The sort facts of the view's messages at `found` (0-based indices), in that order. A message
/// without stored keys (stored before migration 0004, not yet reindexed) gets them from its
/// blob; one whose blob cannot be read sorts with empty keys, and the damage is logged.
pub(super) fn load(
    ctx: &Ctx<'_>,
    what: &str,
    addressing: Addressing,
    found: &[usize],
    deadline: Instant,
) -> Result<Vec<Sortable>, Completion> {
    let Some(view) = ctx.view() else {
        return Err(Completion::bad(
            ResponseCode::ClientBug,
            "No mailbox selected",
        ));
    };
    let entries = view.entries();
    let mut out = Vec::with_capacity(found.len());
    for chunk in found.chunks(CHUNK) {
        if Instant::now() >= deadline {
            return Err(search::out_of_time(ctx, what));
        }
        let ids: Vec<_> = chunk.iter().map(|&i| entries[i].message).collect();
        let facts = match ctx.index.sort_facts(&ids) {
            Ok(f) => f,
            Err(e) => return Err(super::index_failure(ctx, what, &e)),
        };
        for (&index, f) in chunk.iter().zip(facts) {
            let keys = match f.keys {
                Some(k) => k,
                None => {
                    if Instant::now() >= deadline {
                        return Err(search::out_of_time(ctx, what));
                    }
                    match ctx.store.read(f.blob) {
                        Ok(bytes) => crate::mime::sort::keys(&bytes),
                        Err(e) => {
                            log::error!("{what}: message {}: {e}", f.id.0);
                            SortKeys::default()
                        }
                    }
                }
            };
            out.push(Sortable {
                index,
                number: search::answer_number(addressing, index, entries[index].uid),
                size: f.size,
                arrival: f.internal_date,
                sent: f.sent_date.unwrap_or(f.internal_date),
                keys,
            });
        }
    }
    Ok(out)
}
