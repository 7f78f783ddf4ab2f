//! Sequence sets (RFC 3501 §9, RFC 9051 §9), kept as ranges and never expanded.
//!
//! Owns: the `sequence-set` value, its parsing (bounded by [`MAX_SEQUENCE_RANGES`]), its
//! rendering, and its resolution against a mailbox's largest sequence number or UID. Does not
//! own the mapping between sequence numbers and UIDs (that is the session's selected view).
//!
//! ```text
//! seq-number      = nz-number / "*"
//! seq-range       = seq-number ":" seq-number
//! sequence-set    = (seq-number / seq-range) ["," sequence-set]
//! seq-last-command = "$"                        ; RFC 5182 §3 (SEARCHRES)
//! ```

use std::fmt;
use std::num::NonZeroU32;
use std::ops::RangeInclusive;

use super::limits::MAX_SEQUENCE_RANGES;

/// `seq-number = nz-number / "*"`: a message number or UID, or the largest one in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNumber {
    /// A number written out.
    Value(NonZeroU32),
    /// `*`: the largest number in use in the mailbox (RFC 3501 §9, `seq-number`).
    Largest,
}

impl SeqNumber {
    /// The number this stands for in a mailbox whose largest number is `largest`
    /// (0 when the mailbox is empty).
    pub fn resolve(self, largest: u32) -> u32 {
        match self {
            SeqNumber::Value(n) => n.get(),
            SeqNumber::Largest => largest,
        }
    }
}

/// `seq-range = seq-number ":" seq-number`; a single `seq-number` is a range of one.
///
/// RFC 3501 §9: "the range `2:4` and `4:2` are equivalent", so the order is kept as written and
/// normalised only on resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqRange {
    /// The number written first.
    pub first: SeqNumber,
    /// The number written second (equal to `first` for a single number).
    pub last: SeqNumber,
}

impl SeqRange {
    /// A range of one number.
    pub fn single(n: SeqNumber) -> Self {
        SeqRange { first: n, last: n }
    }

    /// The inclusive range of numbers in a mailbox whose largest number is `largest`, or
    /// `None` when it is empty there (only when `largest == 0`: in an empty mailbox `*`
    /// names nothing).
    ///
    /// RFC 3501 §6.4.8: a UID range `559:*` includes the last UID even when 559 is larger, which
    /// falls out of treating the range as unordered.
    pub fn resolve(&self, largest: u32) -> Option<RangeInclusive<u32>> {
        let a = self.first.resolve(largest);
        let b = self.last.resolve(largest);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        if lo == 0 {
            // Only `*` can resolve to 0, and only in an empty mailbox.
            return None;
        }
        Some(lo..=hi)
    }
}

/// A non-empty `sequence-set`, as ranges in the order the client wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet(Vec<SeqRange>);

/// Why a sequence set could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceSetError {
    /// The set was empty.
    #[error("empty sequence set")]
    Empty,
    /// More ranges than [`MAX_SEQUENCE_RANGES`].
    #[error("sequence set has more than {MAX_SEQUENCE_RANGES} ranges")]
    TooManyRanges,
    /// A number was 0 or did not fit in 32 bits.
    #[error("sequence number out of range (must be 1 to 4294967295)")]
    BadNumber,
    /// Something else than a digit or `*` where a number was expected.
    #[error("expected a number or '*' in sequence set")]
    Expected,
}

impl SequenceSet {
    /// Builds a set from ranges; refuses an empty list or one longer than the cap.
    pub fn new(ranges: Vec<SeqRange>) -> Result<Self, SequenceSetError> {
        if ranges.is_empty() {
            return Err(SequenceSetError::Empty);
        }
        if ranges.len() > MAX_SEQUENCE_RANGES {
            return Err(SequenceSetError::TooManyRanges);
        }
        Ok(SequenceSet(ranges))
    }

    /// The set of one number.
    pub fn single(n: NonZeroU32) -> Self {
        SequenceSet(vec![SeqRange::single(SeqNumber::Value(n))])
    }

    /// The set `first:last`.
    pub fn range(first: SeqNumber, last: SeqNumber) -> Self {
        SequenceSet(vec![SeqRange { first, last }])
    }

    /// Parses a sequence set at the start of `input`; returns it and how many bytes it used.
    /// Stops at the first byte that cannot continue the set.
    pub fn parse_prefix(input: &[u8]) -> Result<(Self, usize), SequenceSetError> {
        let mut pos = 0;
        let mut ranges = Vec::new();
        loop {
            let (first, used) = parse_seq_number(&input[pos..])?;
            pos += used;
            let last = if input.get(pos) == Some(&b':') {
                pos += 1;
                let (last, used) = parse_seq_number(&input[pos..])?;
                pos += used;
                last
            } else {
                first
            };
            // Checked before the push: the Vec never grows past the cap.
            if ranges.len() >= MAX_SEQUENCE_RANGES {
                return Err(SequenceSetError::TooManyRanges);
            }
            ranges.push(SeqRange { first, last });
            if input.get(pos) == Some(&b',') {
                pos += 1;
            } else {
                break;
            }
        }
        Ok((SequenceSet(ranges), pos))
    }

    /// Parses a whole sequence set; trailing bytes are an error.
    pub fn parse(input: &[u8]) -> Result<Self, SequenceSetError> {
        let (set, used) = Self::parse_prefix(input)?;
        if used != input.len() {
            return Err(SequenceSetError::Expected);
        }
        Ok(set)
    }

    /// The ranges as written.
    pub fn as_ranges(&self) -> &[SeqRange] {
        &self.0
    }

    /// Whether `*` appears anywhere in the set.
    pub fn uses_largest(&self) -> bool {
        self.0
            .iter()
            .any(|r| r.first == SeqNumber::Largest || r.last == SeqNumber::Largest)
    }

    /// The largest number written out (ignoring `*`), if any: lets the session check
    /// "sequence number out of range" (RFC 9051 §6.4.5) without resolving.
    pub fn max_value(&self) -> Option<u32> {
        self.0
            .iter()
            .flat_map(|r| [r.first, r.last])
            .filter_map(|n| match n {
                SeqNumber::Value(v) => Some(v.get()),
                SeqNumber::Largest => None,
            })
            .max()
    }

    /// Whether `n` is in the set, for a mailbox whose largest number is `largest`.
    /// Costs one pass over the ranges; nothing is expanded.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0
            .iter()
            .filter_map(|r| r.resolve(largest))
            .any(|r| r.contains(&n))
    }

    /// The set resolved against `largest`: ranges sorted, overlapping and adjacent ones merged,
    /// so each number appears once, in ascending order. Allocates one entry per written range
    /// (bounded by the parse cap), never per number.
    pub fn ranges(&self, largest: u32) -> impl Iterator<Item = RangeInclusive<u32>> {
        let mut resolved: Vec<(u32, u32)> = self
            .0
            .iter()
            .filter_map(|r| r.resolve(largest))
            .map(|r| (*r.start(), *r.end()))
            .collect();
        resolved.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(resolved.len());
        for (lo, hi) in resolved {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        merged.into_iter().map(|(lo, hi)| lo..=hi)
    }

    /// Builds the compact set of ascending, merged ranges (for ESEARCH `ALL`, VANISHED,
    /// `[MODIFIED ...]`). Returns `None` for an empty input or more ranges than the cap.
    pub fn from_sorted_ranges<I>(ranges: I) -> Option<Self>
    where
        I: IntoIterator<Item = RangeInclusive<u32>>,
    {
        let mut out: Vec<SeqRange> = Vec::new();
        for r in ranges {
            let (lo, hi) = (NonZeroU32::new(*r.start())?, NonZeroU32::new(*r.end())?);
            if out.len() >= MAX_SEQUENCE_RANGES {
                return None;
            }
            out.push(SeqRange {
                first: SeqNumber::Value(lo),
                last: SeqNumber::Value(hi),
            });
        }
        SequenceSet::new(out).ok()
    }
}

/// Writes ascending, non-overlapping ranges in the compact `sequence-set` form (`1:3,7,9:12`), for
/// answers (ESEARCH `ALL`, `VANISHED`, `[MODIFIED]`). Unlike [`SequenceSet::from_sorted_ranges`]
/// it has no cap: an answer may need as many ranges as the mailbox has gaps.
pub fn format_ranges<I>(ranges: I) -> String
where
    I: IntoIterator<Item = RangeInclusive<u32>>,
{
    let mut out = String::new();
    for r in ranges {
        if !out.is_empty() {
            out.push(',');
        }
        if r.start() == r.end() {
            out.push_str(&r.start().to_string());
        } else {
            out.push_str(&format!("{}:{}", r.start(), r.end()));
        }
    }
    out
}

/// Ascending numbers as ranges of consecutive runs (`[1,2,3,5]` → `1..=3, 5..=5`).
pub fn runs(numbers: &[u32]) -> impl Iterator<Item = RangeInclusive<u32>> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let start = *numbers.get(i)?;
        let mut end = start;
        while numbers.get(i + 1) == Some(&end.wrapping_add(1)) && end != u32::MAX {
            end += 1;
            i += 1;
        }
        i += 1;
        Some(start..=end)
    })
}

fn parse_seq_number(input: &[u8]) -> Result<(SeqNumber, usize), SequenceSetError> {
    if input.first() == Some(&b'*') {
        return Ok((SeqNumber::Largest, 1));
    }
    let digits = input.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Err(SequenceSetError::Expected);
    }
    let mut value: u32 = 0;
    for &d in &input[..digits] {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(d - b'0')))
            .ok_or(SequenceSetError::BadNumber)?;
    }
    let n = NonZeroU32::new(value).ok_or(SequenceSetError::BadNumber)?;
    Ok((SeqNumber::Value(n), digits))
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqNumber::Value(n) => write!(f, "{n}"),
            SeqNumber::Largest => f.write_str("*"),
        }
    }
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}:{}", self.first, self.last)
        }
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// A sequence-set argument as commands accept it once SEARCHRES is supported:
/// `sequence-set =/ seq-last-command` (RFC 5182 §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SequenceArg {
    /// Numbers written out.
    Set(SequenceSet),
    /// `$`: the result saved by the last `SEARCH RETURN (SAVE)`.
    SavedResult,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_forms() {
        assert_eq!(format_ranges(runs(&[])), "");
        assert_eq!(format_ranges(runs(&[4])), "4");
        assert_eq!(format_ranges(runs(&[1, 2, 3, 5, 7, 8])), "1:3,5,7:8");
        assert_eq!(
            format_ranges(runs(&[u32::MAX - 1, u32::MAX])),
            "4294967294:4294967295"
        );
    }

    fn set(s: &str) -> SequenceSet {
        SequenceSet::parse(s.as_bytes()).unwrap()
    }

    fn resolved(s: &str, largest: u32) -> Vec<(u32, u32)> {
        set(s)
            .ranges(largest)
            .map(|r| (*r.start(), *r.end()))
            .collect()
    }

    #[test]
    fn parses_and_renders_rfc_examples() {
        for s in ["1", "2:4", "4:2", "*", "1:*", "2,4:7,9,12:*", "*:4"] {
            assert_eq!(set(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "0",
            "1:",
            ":1",
            "1,",
            ",1",
            "4294967296",
            "1::2",
            "a",
            "1:0",
        ] {
            assert!(SequenceSet::parse(s.as_bytes()).is_err(), "{s}");
        }
        assert!(SequenceSet::parse(b"4294967295").is_ok());
    }

    #[test]
    fn resolves_unordered_and_star() {
        // RFC 3501 §9: with 15 messages, 2,4:7,9,12:* is 2,4,5,6,7,9,12,13,14,15.
        assert_eq!(
            resolved("2,4:7,9,12:*", 15),
            vec![(2, 2), (4, 7), (9, 9), (12, 15)]
        );
        assert_eq!(resolved("*:4", 10), vec![(4, 10)]);
        // RFC 3501 §6.4.8: 559:* includes the last UID even when it is below 559.
        assert_eq!(resolved("559:*", 100), vec![(100, 559)]);
        assert!(set("559:*").contains(100, 100));
        assert_eq!(resolved("*", 0), vec![]);
        assert_eq!(resolved("1:*", 0), vec![]);
    }

    #[test]
    fn merges_overlapping_and_adjacent() {
        assert_eq!(resolved("5:9,1:3,4,8:12,20", 100), vec![(1, 12), (20, 20)]);
        assert_eq!(
            resolved("4294967295,1:4294967295", 1),
            vec![(1, 4294967295)]
        );
    }

    #[test]
    fn contains_without_expanding() {
        let s = set("1:4294967295");
        assert!(s.contains(4_000_000_000, 5));
        assert!(!set("2:3").contains(1, 10));
    }

    #[test]
    fn million_ranges_rejected_before_allocation_grows() {
        let mut big = String::with_capacity(4_000_000);
        for i in 0..1_000_000u32 {
            if i > 0 {
                big.push(',');
            }
            big.push_str(&(i % 9 + 1).to_string());
        }
        assert_eq!(
            SequenceSet::parse(big.as_bytes()),
            Err(SequenceSetError::TooManyRanges)
        );
    }

    #[test]
    fn from_sorted_ranges_round_trip() {
        let s = SequenceSet::from_sorted_ranges([1..=3, 7..=7]).unwrap();
        assert_eq!(s.to_string(), "1:3,7");
        assert!(SequenceSet::from_sorted_ranges(std::iter::empty()).is_none());
        assert_eq!(set("3,9:5").max_value(), Some(9));
        assert!(set("3,*").uses_largest());
    }
}
