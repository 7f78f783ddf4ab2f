//! The selected mailbox as this session sees it: which UIDs it has told the client about, in
//! sequence-number order, and their flags.
//!
//! Owns: UID ↔ sequence-number mapping, the resolution of sequence sets against the view, and
//! the search result saved by `SEARCH RETURN (SAVE)` (RFC 5182), which lives and dies with the
//! view: SELECT, EXAMINE, UNSELECT and CLOSE end it, so `$` starts out empty (RFC 5182 §2.1).
//! Sets are walked as ranges and never expanded beyond the messages that exist (DESIGN §4).

use crate::imap::flags::{AttachmentKeyword, Flags};
use std::cell::OnceCell;
use std::ops::RangeInclusive;

use crate::imap::sequence::{runs, SequenceSet};
pub use crate::imap::types::Addressing;
use crate::index::{MailboxInfo, MessageId};

/// Whether the client may change per-user state in this mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// SELECT with per-user flags: STORE is allowed.
    ReadWrite,
    /// EXAMINE, or `flags = "read-only"`: `[READ-ONLY]`, STORE is refused.
    ReadOnly,
}

/// One message of the view.
#[derive(Debug, Clone)]
pub struct ViewEntry {
    pub uid: u32,
    pub message: MessageId,
    pub flags: Flags,
    /// The entry's MODSEQ (RFC 7162), raised by every flag change.
    pub modseq: u64,
    /// The archive keyword of the message (not a per-user flag, see `flags.rs`).
    pub attachment: AttachmentKeyword,
    /// The message's INTERNALDATE, Unix seconds: when it leaves the sync window.
    pub internal_date: i64,
}

impl ViewEntry {
    /// The message's flags as clients see them (FETCH FLAGS): the per-user flags, then the
    /// archive keyword.
    pub fn flag_list(&self) -> String {
        let mut list = self.flags.to_stored();
        if !list.is_empty() {
            list.push(' ');
        }
        list.push_str(self.attachment.as_str());
        list
    }

    /// Whether the message carries `flag` as clients see it (SEARCH KEYWORD and the flag keys).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(flag) || self.attachment.as_str().eq_ignore_ascii_case(flag)
    }
}

/// A message that left the view (the sync window passed it): the sequence number it had when
/// it left, counting the departures before it, and its UID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Departure {
    pub seq: u32,
    pub uid: u32,
}

/// Why a sequence set cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetError {
    /// RFC 3501 §9 (seq-number): a sequence number past the last message is a client error.
    SequenceOutOfRange { largest: u32 },
}

/// The selected mailbox.
#[derive(Debug)]
pub struct MailboxView {
    pub info: MailboxInfo,
    pub access: Access,
    /// The owner, when this is another user's mailbox: their grant is checked again before
    /// every command ([`crate::imap::session`]), so a revoke ends access at once.
    pub other_owner: Option<crate::index::UserId>,
    entries: Vec<ViewEntry>,
    /// UIDNEXT and HIGHESTMODSEQ as of the last time this session looked: when the index says
    /// otherwise, there is news to send (see [`crate::imap::updates`]).
    pub known_uidnext: u64,
    pub known_modseq: u64,
    /// The last saved search result (RFC 5182 `$`), as ascending runs of UIDs: kept as UIDs so
    /// that it names the same messages whether it was saved by SEARCH or UID SEARCH and
    /// whichever form uses it (RFC 5182 §2.1).
    saved: Vec<RangeInclusive<u32>>,
    /// The oldest internal date among the entries (`i64::MAX` when empty), so that "did the
    /// window edge pass anything?" costs one comparison per command.
    oldest: i64,
    /// The entries' ids in id order and their UIDs, built on first use
    /// ([`MailboxView::compact`]) and dropped when the view gains or loses a message.
    /// (Boxed: a view lives in the session's state, whose other states are small.)
    compact: OnceCell<Box<CompactView>>,
}

/// What a search reads of a view, compact: its messages in id order with their positions, and
/// their UIDs. The index answers in id order, and its ids are matched to entries through this
/// (a hash set of the whole view cost a hash per entry on every search).
///
/// 12 bytes a message, where an entry is 64: a common word's search on 1,000,000 messages
/// walked the entries themselves three times, a fifth of its time. A mailbox filled by import
/// is usually in id order, and then the ids' positions are their own; else they are sorted
/// with their positions. (A message is in a mailbox once.)
#[derive(Debug)]
pub struct CompactView {
    /// Ascending.
    ids: Vec<MessageId>,
    /// The view position of each of `ids`; empty when that is its own index.
    positions: Vec<u32>,
    /// The UID of each position.
    uids: Vec<u32>,
}

impl CompactView {
    fn new(entries: &[ViewEntry]) -> CompactView {
        let uids = entries.iter().map(|e| e.uid).collect();
        let ids: Vec<MessageId> = entries.iter().map(|e| e.message).collect();
        if ids.windows(2).all(|w| w[0] < w[1]) {
            return CompactView {
                ids,
                positions: Vec::new(),
                uids,
            };
        }
        // Positions fit in u32: a view holds at most u32::MAX messages (UIDs are u32).
        let mut pairs: Vec<(MessageId, u32)> = ids.into_iter().zip(0u32..).collect();
        pairs.sort_unstable();
        let (ids, positions) = pairs.into_iter().unzip();
        CompactView {
            ids,
            positions,
            uids,
        }
    }

    /// The UID at view position `i`.
    pub fn uid(&self, i: usize) -> u32 {
        self.uids[i]
    }

    /// How many messages.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The messages, ascending.
    pub fn ids(&self) -> &[MessageId] {
        &self.ids
    }

    /// The view position of the `k`th message in id order.
    fn position(&self, k: usize) -> usize {
        self.positions.get(k).map_or(k, |&p| p as usize)
    }

    /// Calls `f` with the view position and id of each of `ids` (ascending) in the view, in id
    /// order. A few ids are each found by binary search; many (a common word: 400,000 of
    /// 1,000,000) by one walk along the view's ids, which reads memory in order instead of
    /// missing the cache on every probe.
    pub fn each_of(&self, ids: &[MessageId], mut f: impl FnMut(usize, MessageId)) {
        let n = self.ids.len();
        if ids.len() * 16 < n {
            for &m in ids {
                if let Ok(k) = self.ids.binary_search(&m) {
                    f(self.position(k), m);
                }
            }
            return;
        }
        let mut k = 0;
        for &m in ids {
            while k < n && self.ids[k] < m {
                k += 1;
            }
            if k == n {
                break;
            }
            if self.ids[k] == m {
                f(self.position(k), m);
            }
        }
    }
}

impl MailboxView {
    /// A view over `entries`, which must be in ascending UID order (the index returns them so).
    pub fn new(info: MailboxInfo, access: Access, entries: Vec<ViewEntry>) -> MailboxView {
        debug_assert!(entries.windows(2).all(|w| w[0].uid < w[1].uid));
        MailboxView {
            known_uidnext: info.uidnext,
            known_modseq: info.highestmodseq,
            oldest: oldest_of(&entries),
            info,
            access,
            other_owner: None,
            entries,
            saved: Vec::new(),
            compact: OnceCell::new(),
        }
    }

    /// The view's messages in id order and their UIDs (built on the first call after a change).
    pub fn compact(&self) -> &CompactView {
        self.compact
            .get_or_init(|| Box::new(CompactView::new(&self.entries)))
    }

    /// Marks the view as of `owner`'s mailbox (not the session user's own).
    pub fn owned_by_other(mut self, owner: Option<crate::index::UserId>) -> MailboxView {
        self.other_owner = owner;
        self
    }

    /// Replaces the saved search result (RFC 5182 §2.1) with these UIDs (ascending).
    pub fn save_result(&mut self, uids: &[u32]) {
        self.saved = runs(uids).collect();
    }

    /// Whether the message with `uid` is in the saved search result (`$`).
    pub fn in_saved_result(&self, uid: u32) -> bool {
        let i = self.saved.partition_point(|r| *r.end() < uid);
        self.saved.get(i).is_some_and(|r| r.contains(&uid))
    }

    /// The 0-based indices of the messages in the saved search result (`$`), ascending.
    pub fn resolve_saved(&self) -> Vec<usize> {
        self.uid_ranges_to_indices(self.saved.iter().cloned())
    }

    /// The 0-based indices of the messages whose UIDs lie in `ranges` (ascending, merged).
    fn uid_ranges_to_indices(
        &self,
        ranges: impl Iterator<Item = RangeInclusive<u32>>,
    ) -> Vec<usize> {
        let mut out = Vec::new();
        // `ranges` come sorted and merged, so each search starts where the last ended
        // (benches/micro.rs: a 1,000-range UID set was 10x slower than by sequence).
        let mut from = 0;
        for range in ranges {
            let rest = &self.entries[from..];
            let start = from + rest.partition_point(|e| e.uid < *range.start());
            let end = start + self.entries[start..].partition_point(|e| e.uid <= *range.end());
            out.extend(start..end);
            from = end;
        }
        out
    }

    /// The oldest internal date in the view, if it holds anything.
    pub fn oldest_date(&self) -> Option<i64> {
        (!self.entries.is_empty()).then_some(self.oldest)
    }

    /// Removes the entries with an internal date before `edge` (they left the sync window) and
    /// returns them in ascending order, each with its sequence number at the moment of its own
    /// EXPUNGE when they are announced in that order (RFC 3501 §7.4.1: each EXPUNGE renumbers
    /// the messages after it, so the k-th departure, 0-based, had `index + 1 - k`).
    pub fn depart_before(&mut self, edge: i64) -> Vec<Departure> {
        if self.oldest >= edge {
            return Vec::new();
        }
        let mut gone = Vec::new();
        let mut index = 0u32;
        self.entries.retain(|e| {
            index += 1;
            if e.internal_date < edge {
                // `gone.len()` departures came before this one, each lowering its number.
                gone.push(Departure {
                    seq: index - gone.len() as u32,
                    uid: e.uid,
                });
                false
            } else {
                true
            }
        });
        self.oldest = oldest_of(&self.entries);
        if !gone.is_empty() {
            self.compact.take();
        }
        gone
    }

    /// Adds a message that arrived after SELECT; UIDs only ascend (DESIGN §3), so it goes last.
    /// Returns false (and adds nothing) for a UID not above every known one.
    pub fn append(&mut self, entry: ViewEntry) -> bool {
        if entry.uid <= self.largest_uid() {
            return false;
        }
        self.oldest = self.oldest.min(entry.internal_date);
        self.entries.push(entry);
        self.compact.take();
        true
    }

    /// Number of messages (the EXISTS count).
    pub fn len(&self) -> u32 {
        // A mailbox cannot hold more than u32::MAX messages: UIDs are u32.
        u32::try_from(self.entries.len()).unwrap_or(u32::MAX)
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at `index` (0-based; sequence number `index + 1`).
    pub fn entry(&self, index: usize) -> Option<&ViewEntry> {
        self.entries.get(index)
    }

    /// Mutable entry, to record flags after STORE. (Its `uid` and `message` must stay as they
    /// are: [`MailboxView::compact`] is kept by them.)
    pub fn entry_mut(&mut self, index: usize) -> Option<&mut ViewEntry> {
        self.entries.get_mut(index)
    }

    /// All entries in sequence order.
    pub fn entries(&self) -> &[ViewEntry] {
        &self.entries
    }

    /// The largest UID in the view (0 when empty).
    pub fn largest_uid(&self) -> u32 {
        self.entries.last().map_or(0, |e| e.uid)
    }

    /// The 0-based index of the message with `uid`.
    pub fn index_of_uid(&self, uid: u32) -> Option<usize> {
        self.entries.binary_search_by_key(&uid, |e| e.uid).ok()
    }

    /// The UIDs within `ranges` (ascending, non-overlapping) that are not in the view, as
    /// ranges: the `VANISHED (EARLIER)` answer of RFC 7162 §3.2.5–6. Walks the present UIDs,
    /// never the (possibly huge) ranges themselves.
    pub fn missing_uids<I>(&self, ranges: I) -> Vec<std::ops::RangeInclusive<u32>>
    where
        I: IntoIterator<Item = std::ops::RangeInclusive<u32>>,
    {
        let mut gaps = Vec::new();
        for range in ranges {
            let (lo, hi) = (*range.start(), *range.end());
            // u64, so the UID after u32::MAX does not wrap or saturate onto it.
            let mut next = u64::from(lo);
            let first = self.entries.partition_point(|e| e.uid < lo);
            for e in self.entries[first..].iter().take_while(|e| e.uid <= hi) {
                if u64::from(e.uid) > next {
                    gaps.push(next as u32..=e.uid - 1);
                }
                next = u64::from(e.uid) + 1;
            }
            if next <= u64::from(hi) {
                gaps.push(next as u32..=hi);
            }
        }
        gaps
    }

    /// The 0-based indices, ascending and without repeats, of the messages `set` names.
    /// The result never holds more than the mailbox's messages, whatever the set says.
    pub fn resolve(
        &self,
        set: &SequenceSet,
        addressing: Addressing,
    ) -> Result<Vec<usize>, SetError> {
        let mut out = Vec::new();
        match addressing {
            Addressing::Sequence => {
                let largest = self.len();
                // RFC 9051 §9 (seq-number): BAD for a number past the last message, "this
                // includes `*` if the selected mailbox is empty".
                if largest == 0 {
                    return Err(SetError::SequenceOutOfRange { largest });
                }
                for range in set.ranges(largest) {
                    if *range.end() > largest || *range.start() == 0 {
                        return Err(SetError::SequenceOutOfRange { largest });
                    }
                    out.extend((*range.start() as usize - 1)..(*range.end() as usize));
                }
            }
            Addressing::Uid => {
                if self.entries.is_empty() {
                    return Ok(out);
                }
                out = self.uid_ranges_to_indices(set.ranges(self.largest_uid()));
            }
        }
        // `ranges` yields sorted, merged ranges, so `out` is ascending and has no repeats.
        debug_assert!(out.windows(2).all(|w| w[0] < w[1]));
        Ok(out)
    }
}

/// The oldest internal date of `entries`, `i64::MAX` for none.
fn oldest_of(entries: &[ViewEntry]) -> i64 {
    entries
        .iter()
        .map(|e| e.internal_date)
        .min()
        .unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{MailboxId, Subscription};

    fn view(uids: &[u32]) -> MailboxView {
        let info = MailboxInfo {
            id: MailboxId(1),
            name: "INBOX".into(),
            uidvalidity: 1,
            uidnext: 100,
            highestmodseq: 1,
            special_use: None,
            subscribed: Subscription::Subscribed,
            messages: uids.len() as u64,
            unseen: 0,
            size: 0,
        };
        let entries = uids
            .iter()
            .map(|&uid| ViewEntry {
                uid,
                message: MessageId(i64::from(uid)),
                flags: Flags::default(),
                modseq: 1,
                attachment: AttachmentKeyword::HasNoAttachment,
                // Older UIDs are older mail here, one day apart.
                internal_date: i64::from(uid) * 86_400,
            })
            .collect();
        MailboxView::new(info, Access::ReadOnly, entries)
    }

    /// The view's positions of `ids` as the compact view finds them, and their UIDs.
    fn found(v: &MailboxView, ids: &[i64]) -> Vec<(usize, u32)> {
        let ids: Vec<MessageId> = ids.iter().map(|&m| MessageId(m)).collect();
        let mut out = Vec::new();
        let compact = v.compact();
        compact.each_of(&ids, |i, _| out.push((i, compact.uid(i))));
        out
    }

    #[test]
    fn the_compact_view_finds_positions_in_and_out_of_id_order_and_follows_changes() {
        let mut v = view(&[2, 3, 7, 9]);
        // Many ids (a walk) and few (binary searches) give the same answer; 5 is not there.
        assert_eq!(found(&v, &[2, 5, 7, 9]), vec![(0, 2), (2, 7), (3, 9)]);
        assert_eq!(found(&v, &[7]), vec![(2, 7)]);
        // A message arriving after SELECT, and departures, are seen at once.
        let mut late = v.entries()[0].clone();
        late.uid = 11;
        late.message = MessageId(1);
        late.internal_date = 20 * 86_400;
        assert!(v.append(late));
        assert_eq!(found(&v, &[1, 2, 9]), vec![(4, 11), (0, 2), (3, 9)]);
        v.depart_before(4 * 86_400);
        assert_eq!(found(&v, &[1, 2, 9]), vec![(2, 11), (1, 9)]);
        let many: Vec<i64> = (0..64).collect();
        assert_eq!(found(&v, &many), vec![(2, 11), (0, 7), (1, 9)]);
    }

    #[test]
    fn departures_are_numbered_as_their_expunges_renumber() {
        let mut v = view(&[2, 3, 7, 9]);
        // Edge after UID 3's date: UIDs 2 and 3 leave, both announced as `* 1 EXPUNGE`.
        let gone = v.depart_before(4 * 86_400);
        assert_eq!(
            gone,
            vec![Departure { seq: 1, uid: 2 }, Departure { seq: 1, uid: 3 }]
        );
        assert_eq!(v.len(), 2);
        assert_eq!(v.oldest_date(), Some(7 * 86_400));
        assert!(v.depart_before(4 * 86_400).is_empty(), "nothing twice");
        assert_eq!(
            v.depart_before(i64::MAX),
            vec![Departure { seq: 1, uid: 7 }, Departure { seq: 1, uid: 9 }]
        );
        assert_eq!(v.oldest_date(), None);
    }

    #[test]
    fn departures_out_of_uid_order_keep_the_numbers_right() {
        // Mail imported late: UID 5 is older than UIDs 2 and 3.
        let mut v = view(&[2, 3, 5]);
        v.entry_mut(2).unwrap().internal_date = 0;
        v.oldest = 0;
        v.entry_mut(0).unwrap().internal_date = 1;
        let gone = v.depart_before(2);
        // Sequence 1 (UID 2) goes first; UID 5 was sequence 3, then 2.
        assert_eq!(
            gone,
            vec![Departure { seq: 1, uid: 2 }, Departure { seq: 2, uid: 5 }]
        );
        assert_eq!(v.entries()[0].uid, 3);
    }

    #[test]
    fn missing_uids_are_the_gaps_within_the_ranges() {
        let v = view(&[2, 3, 7]);
        assert_eq!(v.missing_uids([1..=10]), vec![1..=1, 4..=6, 8..=10]);
        assert_eq!(v.missing_uids([2..=3]), vec![]);
        assert_eq!(v.missing_uids([3..=5, 9..=9]), vec![4..=5, 9..=9]);
        assert_eq!(view(&[]).missing_uids([1..=u32::MAX]), vec![1..=u32::MAX]);
        assert_eq!(
            view(&[u32::MAX]).missing_uids([u32::MAX - 1..=u32::MAX]),
            vec![u32::MAX - 1..=u32::MAX - 1]
        );
    }

    #[test]
    fn uid_resolution_equals_a_naive_filter() {
        // Deterministic pseudo-random UIDs with gaps, and random multi-range sets.
        let mut seed = 0x9e37_79b9_u32;
        let mut next = |m: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed % m
        };
        let mut uids = Vec::new();
        let mut uid = 0;
        for _ in 0..500 {
            uid += 1 + next(4);
            uids.push(uid);
        }
        let v = view(&uids);
        for _ in 0..200 {
            let text: Vec<String> = (0..1 + next(12))
                .map(|_| {
                    let (a, b) = (1 + next(uid + 20), 1 + next(uid + 20));
                    if next(5) == 0 {
                        format!("{a}:*")
                    } else {
                        format!("{a}:{b}")
                    }
                })
                .collect();
            let set = SequenceSet::parse(text.join(",").as_bytes()).unwrap();
            let want: Vec<usize> = (0..uids.len())
                .filter(|&i| set.contains(uids[i], v.largest_uid()))
                .collect();
            assert_eq!(
                v.resolve(&set, Addressing::Uid),
                Ok(want),
                "{}",
                text.join(",")
            );
        }
    }

    #[test]
    fn saved_result_names_uids_that_are_still_there() {
        let mut v = view(&[2, 3, 7, 9, 10]);
        assert_eq!(
            v.resolve_saved(),
            Vec::<usize>::new(),
            "empty before any SAVE"
        );
        v.save_result(&[3, 4, 9, 10]);
        assert_eq!(v.resolve_saved(), vec![1, 3, 4]);
        assert!(v.in_saved_result(9) && v.in_saved_result(4) && !v.in_saved_result(7));
        v.save_result(&[]);
        assert!(!v.in_saved_result(3));
    }

    #[test]
    fn sequence_numbers_past_the_end_are_an_error_uids_are_not() {
        let v = view(&[2, 3, 7]);
        let set = SequenceSet::parse(b"2:4").unwrap();
        assert_eq!(
            v.resolve(&set, Addressing::Sequence),
            Err(SetError::SequenceOutOfRange { largest: 3 })
        );
        assert_eq!(v.resolve(&set, Addressing::Uid), Ok(vec![0, 1]));
        let star = SequenceSet::parse(b"5:*").unwrap();
        assert_eq!(
            v.resolve(&star, Addressing::Uid),
            Ok(vec![2]),
            "n:* always names the last"
        );
    }
}
