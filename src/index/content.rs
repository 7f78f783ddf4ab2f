//! The content index (`sql/0003_content.sql`, `sql/0011_content_words.sql`, issue 3): the
//! case-folded searchable text of each stored message (`message_text_store`), the words of
//! each field (`message_words`, FTS5), and the vocabulary (`words`, with its trigram index
//! `word_grams`); keyed by `messages.id` and `words.id`.
//!
//! Owns: cutting a message's text into words ([`ContentRow`]), writing content rows (in the
//! ingest transaction, see `ingest`, and for `imapvault reindex`) with the vocabulary they
//! grow ([`Vocabulary`]), finding the messages that may (or, for a plain word, must) contain a
//! search string, and reading the stored text back for the exact check. Knows no IMAP: the
//! caller decides what matches.
//!
//! Words (DESIGN §4). A word is a maximal run of letters and digits (`char::is_alphanumeric`)
//! of the folded text; a run longer than [`WORD_MAX_CHARS`] is kept as pieces of that length
//! every [`PIECE_STEP`] characters (the last one ending with the run). Scripts written without
//! spaces (Han, kana, Thai, ...: [`is_unspaced`]) would make every sentence a word, so their
//! runs are kept as each character and each pair of adjacent characters instead. Each field's
//! distinct words are indexed once per message, as a token of the field's letter and the word's
//! id in base 32 (`xblw` for word 1,398 in the body), so one FTS5 column with `detail=none`
//! serves every field and FTS5's `ascii` tokenizer splits the list without looking at the text.
//!
//! A search string is cut the same way. The vocabulary's trigram index gives, exactly, the
//! words that contain each of its runs (FTS5 checks a quoted string of trigrams by position),
//! and `message_words` the messages holding one of them in the asked fields. Why this is exact
//! for a string of letters and digits alone, up to [`PIECE_STEP`] characters: such a string
//! cannot straddle a non-alphanumeric character, so a text contains it exactly when one of the
//! text's runs does; a run of at most [`WORD_MAX_CHARS`] is a word itself, and in a longer run
//! the string lies wholly inside one piece (pieces overlap by [`PIECE_STEP`]). Likewise one
//! unspaced character or pair is itself a word of every text that contains it. Any other
//! string gives candidates only: each of its segments (or pairs) must lie in a word of the
//! text, and where it stands in the string says where in that word ([`Probe`]: at its end, at
//! its start, or the whole word, found through the `words` table's order or by equality); the
//! exact check against `message_text_store` completes them.
//!
//! Safety of MATCH (DESIGN §4): a client's string never becomes FTS5 query syntax. The MATCH
//! arguments are our own tokens (letters and digits of our alphabet), and, for the vocabulary,
//! one run of letters and digits written as an FTS5 string (`"..."`, which holds no `"`). So
//! `NEAR`, `OR`, `*`, `^` and `col:` in a search string are characters like any other.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::{packed_text, runs, Index, IndexError, MessageId};
use crate::mime::sort::SortKeys;
use crate::mime::text::SearchText;
use crate::store::BlobRef;

/// The longest run of letters and digits kept whole as a word, in characters. Longer runs
/// (base64 in a text part, long ids) are kept as pieces of this length.
pub const WORD_MAX_CHARS: usize = 64;

/// Characters between the starts of two pieces of a long run: half a piece, so that every
/// string of up to this many characters lies wholly inside one piece. Search strings up to this
/// length are answered by the index alone (see the module docs).
pub const PIECE_STEP: usize = WORD_MAX_CHARS / 2;

/// Vocabulary words one run of a search string may expand to. A run found in more words (a
/// very short one, like `e`) does not narrow the search enough to be worth a lookup per word;
/// it is left out of the candidates' conditions (or, alone, the search checks every message).
const MAX_EXPANSION: usize = 4096;

/// Candidates few enough that the exact check costs less than narrowing them further.
const FEW_CANDIDATES: usize = 64;

/// Vocabulary words a pass may read per message it saves checking. Measured on the bench
/// archives: a pass reads a word in ~50 ns (5.4 million in 270 ms), checking a stored subject
/// takes ~0.7 µs (100,000 in 73 ms) and a body more; and the pass's words usually narrow the
/// candidates too.
const SCAN_WORDS_PER_MESSAGE: usize = 16;

/// How many trigram matches per word kept a [`Probe::Ends`] lookup reads at most.
const ENDS_SCAN: usize = 16;

/// Rows of one word read before the rest is read in two halves at once, and candidates
/// checked on one connection before half of them go to the other ([`Index::in_two`]). A
/// thread and the partner's read transaction cost ~0.1 ms; this many rows take ~0.4 ms, and
/// this many checks ~4 ms.
#[cfg(not(test))]
const SPLIT_AFTER: usize = 4096;
/// Small in unit tests, so that their few messages take the split paths too.
#[cfg(test)]
const SPLIT_AFTER: usize = 4;

/// Rows read between two looks at the deadline.
const DEADLINE_EVERY: usize = 256;

/// Words the ingest writer remembers the ids of; past this it forgets them all and starts
/// again (each then costs one lookup in `words`), so its memory stays bounded (~100 MiB).
#[cfg(not(test))]
const VOCABULARY_CACHE_MAX: usize = 1 << 20;
/// Small in unit tests, so that one can pass it.
#[cfg(test)]
const VOCABULARY_CACHE_MAX: usize = 8;

/// Words `staged_words` holds before a transaction moves them into `words` (sql/0015): ~600
/// pages of its index, most of which a batch's ~3,800 new words dirty, where they would dirty
/// most of `words`' ~25,000 at 1,000,000 messages; a move writes each of those once for ~35
/// batches.
#[cfg(not(test))]
const STAGED_WORDS_MAX: usize = 131_072;
/// Small in unit tests, so that their few words move often and are found in both tables.
#[cfg(test)]
const STAGED_WORDS_MAX: usize = 16;

/// A column of the content index: one search field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentColumn {
    From,
    To,
    Cc,
    Bcc,
    Subject,
    /// Every header field, `name: value` per line.
    Headers,
    Body,
}

/// Every column, in the order of a [`ContentRow`]'s fields.
const COLUMNS: [ContentColumn; 7] = [
    ContentColumn::From,
    ContentColumn::To,
    ContentColumn::Cc,
    ContentColumn::Bcc,
    ContentColumn::Subject,
    ContentColumn::Headers,
    ContentColumn::Body,
];

impl ContentColumn {
    /// The column's name in `message_text_store` (a constant: the only names put into SQL
    /// text).
    fn sql_name(self) -> &'static str {
        match self {
            ContentColumn::From => "from_addr",
            ContentColumn::To => "to_addr",
            ContentColumn::Cc => "cc_addr",
            ContentColumn::Bcc => "bcc_addr",
            ContentColumn::Subject => "subject",
            ContentColumn::Headers => "headers",
            ContentColumn::Body => "body",
        }
    }

    /// The field's number: its place in [`COLUMNS`] (as `runs` numbers tokens).
    fn number(self) -> u8 {
        COLUMNS.iter().position(|&c| c == self).unwrap_or_default() as u8
    }

    /// The letter that starts this field's tokens in `message_words`.
    fn token_letter(self) -> u8 {
        match self {
            ContentColumn::From => b'f',
            ContentColumn::To => b't',
            ContentColumn::Cc => b'c',
            ContentColumn::Bcc => b'b',
            ContentColumn::Subject => b's',
            ContentColumn::Headers => b'h',
            ContentColumn::Body => b'x',
        }
    }
}

/// The ids of `rows` (id, word) that `keep` takes (`Some(true)`), until it says stop
/// (`None`); None when more than [`MAX_EXPANSION`] are taken, or more than `max_read` rows
/// are read.
fn collect_words(
    rows: &mut rusqlite::Rows<'_>,
    max_read: Option<usize>,
    deadline: Instant,
    keep: impl Fn(&[u8]) -> Option<bool>,
) -> Result<Option<Vec<i64>>, IndexError> {
    let mut out = Vec::new();
    let mut read = 0usize;
    while let Some(r) = rows.next()? {
        read += 1;
        if max_read.is_some_and(|most| read > most) {
            return Ok(None);
        }
        if read % DEADLINE_EVERY == 0 && Instant::now() >= deadline {
            return Err(IndexError::Deadline);
        }
        let word = match r.get_ref(1)? {
            ValueRef::Text(t) => t,
            _ => &[],
        };
        match keep(word) {
            None => break,
            Some(false) => {}
            Some(true) => {
                if out.len() == MAX_EXPANSION {
                    return Ok(None);
                }
                out.push(r.get(0)?);
            }
        }
    }
    Ok(Some(out))
}

/// Two lists of word ids as one, or None when either is (too many words) or both together hold
/// more than [`MAX_EXPANSION`].
fn joined(first: Option<Vec<i64>>, second: Option<Vec<i64>>) -> Option<Vec<i64>> {
    match (first, second) {
        (Some(mut first), Some(second)) if first.len() + second.len() <= MAX_EXPANSION => {
            first.extend(second);
            Some(first)
        }
        _ => None,
    }
}

/// Whether the content index is being rebuilt (see [`Index::start_reindex`]): then it answers
/// nothing, and every text search checks every stored text.
fn rebuild_pending(conn: &Connection) -> Result<bool, IndexError> {
    Ok(conn
        .prepare_cached("SELECT grams_pending FROM content_state WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// The largest message id (0 when there are none).
fn largest_message(conn: &Connection) -> Result<i64, IndexError> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM messages")?
        .query_row([], |r| r.get(0))?)
}

/// The largest word id, which is how many words the vocabulary has (0 when none): words are
/// only ever added, in `words` or `staged_words`.
fn largest_word(conn: &Connection) -> Result<i64, IndexError> {
    Ok(conn
        .prepare_cached(
            "SELECT max(coalesce((SELECT max(id) FROM words), 0),
                        coalesce((SELECT max(id) FROM staged_words), 0))",
        )?
        .query_row([], |r| r.get(0))?)
}

/// Appends to `out` the messages in `ids` that FTS5 `query` (our own tokens) finds, ascending,
/// at most `limit` of them: Some(last one) when it stopped there.
fn rows_of(
    conn: &Connection,
    query: &str,
    ids: std::ops::RangeInclusive<i64>,
    limit: Option<usize>,
    deadline: Instant,
    out: &mut Vec<i64>,
) -> Result<Option<i64>, IndexError> {
    let mut stmt = conn.prepare_cached(
        "SELECT rowid FROM message_words WHERE message_words MATCH ?1 AND rowid BETWEEN ?2 AND ?3",
    )?;
    let mut rows = stmt.query(params![query, ids.start(), ids.end()])?;
    let mut read = 0usize;
    while let Some(r) = rows.next()? {
        // A rowid is always an integer: read without a type check per row.
        let id = r.get_ref_unwrap(0).as_i64().unwrap_or_default();
        out.push(id);
        read += 1;
        if read % DEADLINE_EVERY == 0 && Instant::now() >= deadline {
            return Err(IndexError::Deadline);
        }
        if limit == Some(read) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Of `ids` (ascending), those whose stored text of `columns` passes `test`: the loop of
/// [`Index::content_filter`].
fn passing(
    conn: &Connection,
    ids: &[MessageId],
    columns: &[ContentColumn],
    deadline: Instant,
    test: &(dyn Fn(&[&[u8]]) -> bool + Sync),
) -> Result<Vec<MessageId>, IndexError> {
    let names: Vec<&str> = columns.iter().map(|c| c.sql_name()).collect();
    // Column names are our constants; the id is bound.
    let sql = format!(
        "SELECT {} FROM message_text_store WHERE id = ?1",
        names.join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut out = Vec::new();
    // Where packed fields are unpacked, one per column, kept across candidates.
    let mut scratch: [Vec<u8>; COLUMNS.len()] = Default::default();
    for (n, &id) in ids.iter().enumerate() {
        if n % DEADLINE_EVERY == 0 && Instant::now() >= deadline {
            return Err(IndexError::Deadline);
        }
        let mut rows = stmt.query(params![id.0])?;
        let Some(row) = rows.next()? else {
            continue;
        };
        // On the stack: this runs per candidate (330,000 for a phrase on 1,000,000 messages).
        let mut texts: [&[u8]; COLUMNS.len()] = [&[]; COLUMNS.len()];
        let asked = &mut texts[..columns.len().min(COLUMNS.len())];
        for ((i, text), scratch) in asked.iter_mut().enumerate().zip(&mut scratch) {
            *text = packed_text::read(row.get_ref(i)?, scratch)?;
        }
        if test(asked) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The token alphabet: letters and digits only, so that FTS5's `ascii` tokenizer keeps a token
/// whole, and lower case, which it would fold to anyway.
const TOKEN_DIGITS: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Appends the token of word `id` in field `column` to `out`: the field's letter, then the id
/// in base 32 ([`TOKEN_DIGITS`]), most significant digit first, without leading zeros.
fn push_token(out: &mut String, column: ContentColumn, id: i64) {
    out.push(char::from(column.token_letter()));
    let id = id.max(0) as u64;
    let digits = (64 - id.leading_zeros()).div_ceil(5).max(1);
    for shift in (0..digits).rev() {
        out.push(char::from(TOKEN_DIGITS[(id >> (shift * 5)) as usize & 31]));
    }
}

/// The [`runs::token`] of a token of `message_words` ([`push_token`]'s), or None if it is not
/// one.
fn parse_token(t: &str) -> Option<i64> {
    let (&letter, digits) = t.as_bytes().split_first()?;
    let column = COLUMNS.into_iter().find(|c| c.token_letter() == letter)?;
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    let mut id = 0i64;
    for d in digits {
        id = id * 32 + TOKEN_DIGITS.iter().position(|x| x == d)? as i64;
    }
    Some(runs::token(column.number(), id))
}

/// Appends a token to a list of them for `message_words`: after a space, unless it is the
/// first.
fn push_listed_token(list: &mut String, column: ContentColumn, id: i64) {
    if !list.is_empty() {
        list.push(' ');
    }
    push_token(list, column, id);
}

/// Whether `c` belongs to a word (see the module docs): `char::is_alphanumeric`, answered
/// first from ranges of the scripts mail mostly holds, where that is known without its table
/// (its lookup was 5 % of an import's samples on the six-language bench corpus). A unit test
/// checks every character against `is_alphanumeric`.
fn is_word_char(c: char) -> bool {
    match u32::from(c) {
        // Latin-1's letters, Latin Extended-A and B, IPA; Greek; Cyrillic; kana; CJK
        // ideographs; Hangul syllables: all letters.
        0x00C0..=0x00D6
        | 0x00D8..=0x00F6
        | 0x00F8..=0x02AF
        | 0x0391..=0x03A1
        | 0x03A3..=0x03C9
        | 0x0400..=0x0481
        | 0x048A..=0x052F
        | 0x3041..=0x3096
        | 0x30A1..=0x30FA
        | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7A3 => true,
        // General punctuation (typographic quotes, dashes, spaces): none.
        0x2000..=0x206F => false,
        _ => c.is_alphanumeric(),
    }
}

/// Whether `c` is of a script written without spaces between words (Han, kana, Thai, Lao,
/// Khmer, Myanmar): there a run of letters is a sentence, not a word, so it is indexed by its
/// characters and adjacent pairs (see [`for_each_word`]).
fn is_unspaced(c: char) -> bool {
    matches!(u32::from(c),
        0x0E00..=0x0EFF       // Thai, Lao
        | 0x1000..=0x109F     // Myanmar
        | 0x1780..=0x17FF     // Khmer
        | 0x2E80..=0x2FDF     // CJK radicals
        | 0x3005..=0x3007     // 々 〆 〇
        | 0x3040..=0x30FF     // Hiragana, Katakana
        | 0x31F0..=0x31FF     // Katakana extension
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0xFF66..=0xFF9F     // half-width Katakana
        | 0x20000..=0x3FFFF) // CJK extensions B and on
}

/// The character at byte `i` of `text` (a char boundary) and its length in bytes.
fn char_at(text: &str, i: usize) -> (char, usize) {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        return (char::from(b), 1);
    }
    let c = text[i..].chars().next().unwrap_or(' ');
    (c, c.len_utf8())
}

/// What the character at byte `i` of `text` (a char boundary) is: [`SEPARATOR`], [`SPACED`]
/// or [`UNSPACED`]; and its length in bytes. ASCII, most of the text, is decided by one test.
fn class_at(text: &str, i: usize) -> (u8, usize) {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        return (u8::from(b.is_ascii_alphanumeric()), 1);
    }
    let (c, n) = char_at(text, i);
    let class = if !is_word_char(c) {
        SEPARATOR
    } else if is_unspaced(c) {
        UNSPACED
    } else {
        SPACED
    };
    (class, n)
}

/// Classes of [`class_at`].
const SEPARATOR: u8 = 0;
const SPACED: u8 = 1;
const UNSPACED: u8 = 2;

/// Calls `f` with every segment of `text`: a maximal run of word characters all of one kind,
/// spaced or [`is_unspaced`], with its length in characters and its kind (`true`: unspaced).
fn for_each_segment<'t>(text: &'t str, mut f: impl FnMut(&'t str, usize, bool)) {
    let bytes = text.as_bytes();
    let len = bytes.len();
    let mut i = 0;
    while i < len {
        // ASCII, most of mail's text, a byte at a time: separators skipped, and a word of
        // letters and digits found whole, without decoding characters.
        let b = bytes[i];
        if b < 0x80 {
            if !b.is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            i += 1;
            while i < len && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            if i == len || bytes[i] < 0x80 {
                f(&text[start..i], i - start, false);
                continue;
            }
            // A letter of another script goes on the word.
            i = spaced_run_end(text, i, i - start, |end, chars| {
                f(&text[start..end], chars, false)
            });
            continue;
        }
        let (class, n) = class_at(text, i);
        if class == SEPARATOR {
            i += n;
            continue;
        }
        let start = i;
        if class == SPACED {
            i = spaced_run_end(text, i, 0, |end, chars| f(&text[start..end], chars, false));
            continue;
        }
        let mut chars = 1;
        i += n;
        while i < len {
            let (next, n) = class_at(text, i);
            if next != UNSPACED {
                break;
            }
            i += n;
            chars += 1;
        }
        f(&text[start..i], chars, true);
    }
}

/// The end of the spaced segment that goes on at byte `i` of `text` with `chars` characters
/// before it, given to `end` with the segment's length in characters; returned too.
fn spaced_run_end(
    text: &str,
    mut i: usize,
    mut chars: usize,
    end: impl FnOnce(usize, usize),
) -> usize {
    let bytes = text.as_bytes();
    while i < bytes.len() {
        if bytes[i].is_ascii_alphanumeric() {
            i += 1;
            chars += 1;
            continue;
        }
        let (class, n) = class_at(text, i);
        if class != SPACED {
            break;
        }
        i += n;
        chars += 1;
    }
    end(i, chars);
    i
}

/// Byte offset of every character of `s`, and of its end.
fn char_offsets(s: &str) -> Vec<usize> {
    s.char_indices()
        .map(|(o, _)| o)
        .chain(std::iter::once(s.len()))
        .collect()
}

/// Calls `f` with every word of `text` (repeats included): each spaced segment, or the pieces
/// of one longer than [`WORD_MAX_CHARS`]; and each character and each pair of adjacent
/// characters of an unspaced segment.
fn for_each_word<'t>(text: &'t str, mut f: impl FnMut(&'t str)) {
    for_each_segment(text, |seg, chars, unspaced| {
        if unspaced {
            let at = char_offsets(seg);
            for k in 0..chars {
                f(&seg[at[k]..at[k + 1]]);
                if k + 2 <= chars {
                    f(&seg[at[k]..at[k + 2]]);
                }
            }
            return;
        }
        if chars <= WORD_MAX_CHARS {
            return f(seg);
        }
        let at = char_offsets(seg);
        let mut k = 0;
        while k + WORD_MAX_CHARS < chars {
            f(&seg[at[k]..at[k + WORD_MAX_CHARS]]);
            k += PIECE_STEP;
        }
        f(&seg[at[chars - WORD_MAX_CHARS]..]);
    });
}

/// One message's content row: its folded text (for `message_text_store`, the exact check) and
/// the distinct words of each field (for `message_words`, through the vocabulary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentRow {
    text: SearchText,
    /// Every field's distinct words, each followed by a space (words hold none).
    words: String,
    /// Where each field's words end in `words`, in the order of [`COLUMNS`].
    ends: [usize; 7],
    /// The tokens of the words whose ids were known when the row was prepared
    /// ([`ContentRow::resolve_known`]); None if it was not asked.
    resolved: Option<KnownWords>,
    /// Each field of `text` as `message_text_store` keeps it if packed (`packed_text`), in the
    /// order of [`COLUMNS`]; None where it stays TEXT.
    packed: [Option<Vec<u8>>; 7],
}

/// A row's words as far as [`WordIds`] knew them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct KnownWords {
    /// The known words' tokens, as `message_words` takes them.
    tokens: String,
    /// The known words' tokens that were frequent ([`runs::token`]).
    frequent: Vec<i64>,
    /// Each other word: its column, and where it lies in the row's `words`.
    unknown: Vec<(ContentColumn, std::ops::Range<usize>)>,
}

impl ContentRow {
    /// The row of `text`, which must already be folded (`mime::text::extract(..).folded()`).
    /// Pure CPU work, done before the ingest transaction (and off the writer thread).
    pub fn new(text: SearchText) -> ContentRow {
        let mut words = String::new();
        let mut ends = [0; 7];
        {
            let fields = text.fields();
            let mut seen: HashSet<SeenWord<'_>, foldhash::fast::RandomState> = HashSet::default();
            for (field, end) in fields.into_iter().zip(ends.iter_mut()) {
                seen.clear();
                for_each_word(field, |w| {
                    if seen.insert(SeenWord(w)) {
                        words.push_str(w);
                        words.push(' ');
                    }
                });
                *end = words.len();
            }
        }
        let packed = text.fields().map(|f| packed_text::pack(f));
        ContentRow {
            text,
            words,
            ends,
            resolved: None,
            packed,
        }
    }

    /// Looks up the row's words in `ids` now (on a preparing thread), so that the ingest writer
    /// only looks up those it did not know.
    pub fn resolve_known(&mut self, ids: &WordIds) {
        self.resolved = Some(self.known_in(&ids.read()));
    }

    /// The row's words as `ids` knows them: the known ones' tokens (in `message_words`, or as
    /// frequent tokens for runs), where the others lie.
    fn known_in(&self, ids: &WordMap) -> KnownWords {
        let mut known = KnownWords::default();
        for (column, words) in self.field_words() {
            let field = column.number();
            for w in words {
                match ids.get(w) {
                    Some(k) if k.frequent & (1 << field) != 0 => {
                        known.frequent.push(runs::token(field, k.id));
                    }
                    Some(k) => push_listed_token(&mut known.tokens, column, k.id),
                    None => {
                        // `w` is a slice of `self.words`.
                        let at = w.as_ptr() as usize - self.words.as_ptr() as usize;
                        known.unknown.push((column, at..at + w.len()));
                    }
                }
            }
        }
        known
    }

    /// The folded text.
    pub fn text(&self) -> &SearchText {
        &self.text
    }

    /// Each column with its distinct words.
    fn field_words(&self) -> impl Iterator<Item = (ContentColumn, impl Iterator<Item = &str>)> {
        let starts = std::iter::once(0).chain(self.ends);
        COLUMNS
            .into_iter()
            .zip(starts.zip(self.ends))
            .map(|(c, (s, e))| (c, self.words[s..e].split_terminator(' ')))
    }
}

/// A word as a key of the set that keeps a field's words distinct, compared inline: most
/// words are short, and every repeated word is compared with its first copy, which through
/// `memcmp` (a library call each) was 6 % of an import's samples.
#[derive(Clone, Copy)]
struct SeenWord<'t>(&'t str);

impl PartialEq for SeenWord<'_> {
    fn eq(&self, other: &Self) -> bool {
        same_bytes(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for SeenWord<'_> {}

impl std::hash::Hash for SeenWord<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// `a == b`, with no library call up to 16 bytes: two loads of each that overlap cover them.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let u64_at =
        |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or_default());
    let u32_at =
        |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().unwrap_or_default());
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => u32_at(a, 0) == u32_at(b, 0) && u32_at(a, n - 4) == u32_at(b, n - 4),
        8..=16 => u64_at(a, 0) == u64_at(b, 0) && u64_at(a, n - 8) == u64_at(b, n - 8),
        _ => a == b,
    }
}

/// Ids of words known to be in `words`, committed: shared by the ingest writer, which adds the
/// words of each transaction once it commits, and the threads that prepare messages for it,
/// which look up a message's words ahead ([`ContentRow::resolve_known`]), so that the writer,
/// which sets an import's pace, only looks up the words they did not know. Ids never change
/// (words are never deleted), so an id once known stays right. At most
/// [`VOCABULARY_CACHE_MAX`] words: past that it forgets them all and starts again.
#[derive(Clone, Default)]
pub struct WordIds(Arc<RwLock<WordMap>>);

type WordMap = HashMap<Box<str>, KnownWord, foldhash::fast::RandomState>;

/// A word's id, and the fields (a bit per field number) in which it is a frequent token
/// (`runs`): as far as the writer had published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KnownWord {
    id: i64,
    frequent: u8,
}

impl WordIds {
    /// The map, to read. A poisoned lock (a panic while publishing) still holds only committed
    /// ids: the map is whole after every insert.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, WordMap> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `words` (emptied), committed now; forgets every word first if the map would pass
    /// [`VOCABULARY_CACHE_MAX`], and does not keep `words` at all if they alone would. Then
    /// marks the fields of `promoted` (words made frequent tokens) in the words it holds.
    fn publish(&self, words: &mut WordMap, promoted: &[(Box<str>, u8)]) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        if map.len() + words.len() > VOCABULARY_CACHE_MAX {
            map.clear();
        }
        if words.len() <= VOCABULARY_CACHE_MAX {
            map.extend(words.drain());
        } else {
            words.clear();
        }
        for (word, fields) in promoted {
            if let Some(k) = map.get_mut(word) {
                k.frequent |= fields;
            }
        }
    }

    /// Words known.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.read().len()
    }
}

/// The ingest writer's word ids: the committed ones ([`WordIds`]) and those its open
/// transaction found or added, which exist for others only once it commits (after a rollback
/// the added ones do not exist at all).
#[derive(Default)]
pub(super) struct Vocabulary {
    committed: WordIds,
    fresh: WordMap,
    /// Frequent tokens, and the open transaction's runs.
    runs: runs::RunWriter,
    /// The words (and fields) the open transaction made frequent tokens.
    promoted: Vec<(Box<str>, u8)>,
    /// The id the open transaction gives the next new word.
    next_id: i64,
    /// Words in `staged_words` in the open transaction.
    staged: usize,
}

impl Vocabulary {
    /// The committed ids, for the threads that prepare messages.
    pub(super) fn committed(&self) -> WordIds {
        self.committed.clone()
    }

    /// The id of `word`, added to `staged_words` and `word_grams` if new. `committed` is the
    /// read [`WordIds`], held by the caller across a row's words.
    fn id(
        &mut self,
        tx: &Transaction<'_>,
        committed: &WordMap,
        word: &str,
    ) -> Result<i64, IndexError> {
        if let Some(k) = committed.get(word).or_else(|| self.fresh.get(word)) {
            return Ok(k.id);
        }
        // Not known to this writer: a word its cache forgot, one another writer added, or (most
        // often: an id, a number) a new one. Looking it up only reads `words`' index.
        let stored = tx
            .prepare_cached(
                "SELECT id FROM words WHERE word = ?1
                 UNION ALL SELECT id FROM staged_words WHERE word = ?1",
            )?
            .query_row(params![word], |r| r.get(0))
            .optional()?;
        let id = match stored {
            Some(id) => id,
            None => {
                let id = self.next_id;
                tx.prepare_cached("INSERT INTO staged_words (id, word) VALUES (?1, ?2)")?
                    .execute(params![id, word])?;
                tx.prepare_cached("INSERT INTO word_grams (rowid, word) VALUES (?1, ?2)")?
                    .execute(params![id, word])?;
                self.next_id += 1;
                self.staged += 1;
                id
            }
        };
        let frequent = self.runs.frequent_fields(id);
        self.fresh.insert(word.into(), KnownWord { id, frequent });
        Ok(id)
    }

    /// A write transaction of `messages` content rows begins.
    pub(super) fn begin(
        &mut self,
        tx: &Transaction<'_>,
        messages: usize,
    ) -> Result<(), IndexError> {
        self.promoted.clear();
        // In the transaction, so no other writer adds words meanwhile. Counting reads at most
        // STAGED_WORDS_MAX rows' index (~600 pages): well under a millisecond.
        self.next_id = largest_word(tx)? + 1;
        self.staged = tx
            .prepare_cached("SELECT count(*) FROM staged_words")?
            .query_row([], |r| r.get(0))?;
        self.runs.begin(tx, messages)
    }

    /// Before the commit: writes the transaction's runs and the tokens it made frequent, and
    /// reads those tokens' words, to mark them in the shared ids once committed.
    pub(super) fn finish(&mut self, tx: &Transaction<'_>) -> Result<(), IndexError> {
        self.runs.write(tx)?;
        if self.staged >= STAGED_WORDS_MAX {
            // In the index's order, so that each page of it is read and written once. The table
            // itself then takes the ids out of order: at 1M it was 10 % larger than packed, and
            // a pass over it ~3 % slower (benches/RESULTS.md), against random inserts into the
            // index in id order.
            tx.prepare_cached(
                "INSERT INTO words (id, word) SELECT id, word FROM staged_words ORDER BY word",
            )?
            .execute([])?;
            tx.prepare_cached("DELETE FROM staged_words")?.execute([])?;
            self.staged = 0;
        }
        let mut word_of = tx.prepare_cached(
            "SELECT word FROM words WHERE id = ?1 UNION ALL SELECT word FROM staged_words WHERE id = ?1",
        )?;
        for &t in self.runs.promoted() {
            let (word, field) = runs::token_parts(t);
            let text: Option<String> = word_of.query_row(params![word], |r| r.get(0)).optional()?;
            if let Some(text) = text {
                self.promoted.push((text.into(), 1 << field));
            }
        }
        Ok(())
    }

    /// The open transaction committed (`true`: its words and frequent tokens are published)
    /// or did not.
    pub(super) fn settle(&mut self, committed: bool) {
        self.runs.settle(committed);
        if committed {
            // Words the transaction found or added got their fields when looked up; those it
            // made frequent since are marked by `publish`, after it adds them.
            let promoted = std::mem::take(&mut self.promoted);
            self.committed.publish(&mut self.fresh, &promoted);
        } else {
            self.fresh.clear();
            self.promoted.clear();
        }
    }
}

/// One lookup in the vocabulary for a search string. Where a segment stands in the string
/// says where it must stand in a word of the text: a segment with something after it in the
/// string (a separator, or a letter of the other kind) ends a word of the text there, one with
/// something before it starts one, one with both is a whole word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Probe<'a> {
    /// The words that contain this: a segment that is the whole string, or the first
    /// [`PIECE_STEP`] characters of one longer than [`WORD_MAX_CHARS`] (all of it might not
    /// lie in one piece of a long word).
    Within(&'a str),
    /// The words that end with this (a segment at the string's start, followed by more).
    Ends(&'a str),
    /// The words that start with this (a segment at the string's end, after more).
    Starts(&'a str),
    /// The word that is this: a segment in the middle of the string, or a character or pair of
    /// an unspaced segment.
    Is(&'a str),
}

impl Probe<'_> {
    /// The text looked up.
    fn text(&self) -> &str {
        match self {
            Probe::Within(t) | Probe::Ends(t) | Probe::Starts(t) | Probe::Is(t) => t,
        }
    }

    /// Lookups that cost a pass over the whole vocabulary (a part shorter than a trigram, which
    /// neither FTS5's trigram index nor the word order can find) and narrow little.
    fn is_scan(&self) -> bool {
        matches!(self, Probe::Within(t) | Probe::Ends(t) if t.chars().nth(2).is_none())
    }
}

/// A search string cut as the index cuts text (see the module docs): what the vocabulary is
/// asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedleWords<'a> {
    /// Each lookup; a message can contain the string only if it holds a word of each.
    pub probes: Vec<Probe<'a>>,
    /// Whether the words' messages are exactly the messages that contain the string.
    pub exact: bool,
}

/// Pairs of an unspaced segment asked at most: evenly spaced, first and last included. Fewer
/// conditions only widen the candidates, which the exact check narrows again.
const MAX_PAIRS: usize = 8;

/// The lookups for `needle` (folded), and whether the index's answer is exact: a needle that is
/// one spaced segment of up to [`PIECE_STEP`] characters, or one unspaced character or pair.
pub fn needle_words(needle: &str) -> NeedleWords<'_> {
    let mut probes = Vec::new();
    let mut exact = false;
    for_each_segment(needle, |seg, chars, unspaced| {
        // `seg` is a slice of `needle`.
        let offset = seg.as_ptr() as usize - needle.as_ptr() as usize;
        let (at_start, at_end) = (offset == 0, offset + seg.len() == needle.len());
        if unspaced {
            exact = at_start && at_end && chars <= 2;
            let at = char_offsets(seg);
            if chars <= 2 {
                probes.push(Probe::Is(seg));
                return;
            }
            let pairs = chars - 1;
            let picks = pairs.min(MAX_PAIRS);
            for i in 0..picks {
                let k = if picks == 1 {
                    0
                } else {
                    i * (pairs - 1) / (picks - 1)
                };
                probes.push(Probe::Is(&seg[at[k]..at[k + 2]]));
            }
            return;
        }
        exact = at_start && at_end && chars <= PIECE_STEP;
        probes.push(if chars > WORD_MAX_CHARS || (at_start && at_end) {
            let cut = seg
                .char_indices()
                .nth(PIECE_STEP)
                .map_or(seg.len(), |(o, _)| o);
            Probe::Within(&seg[..cut])
        } else if at_start {
            Probe::Ends(seg)
        } else if at_end {
            Probe::Starts(seg)
        } else {
            Probe::Is(seg)
        });
    });
    // A lookup asked twice narrows nothing more, and a client's string may hold thousands of
    // segments: each distinct one is asked once, and at most MAX_PROBES of them (evenly spaced,
    // first and last included), since any of the conditions is one a matching text meets.
    let mut seen = HashSet::with_capacity(probes.len());
    probes.retain(|p| seen.insert(*p));
    if probes.len() > MAX_PROBES {
        let n = probes.len();
        probes = (0..MAX_PROBES)
            .map(|i| probes[i * (n - 1) / (MAX_PROBES - 1)])
            .collect();
    }
    NeedleWords { probes, exact }
}

/// Lookups one search string makes at most (see [`needle_words`]).
const MAX_PROBES: usize = 16;

/// The messages the index names for a search string: exactly those that contain it, or
/// candidates for the exact check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    /// In ascending id order, no repeats.
    pub ids: Vec<MessageId>,
    /// Whether `ids` are exactly the messages whose columns contain the string.
    pub exact: bool,
}

/// An FTS5 string (sqlite.org/fts5.html §3.1) of `s`: for the trigram index, its trigrams at
/// consecutive positions, so exactly the words containing it. A segment holds no `"`; it
/// would be doubled.
fn fts_string(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The ids in both ascending lists.
fn intersect(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

impl Index {
    /// Whether text searches cannot be trusted yet, until `imapvault reindex` has run: messages
    /// stored before the content index existed lack their rows (sql/0003), or rows were folded
    /// by an older rule than `mime::text::fold` (sql/0005).
    pub fn content_backfill_pending(&self) -> Result<bool, IndexError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT backfill_pending OR refold_pending FROM content_state WHERE id = 1",
            )?
            .query_row([], |r| r.get(0))
            .optional()?
            .unwrap_or(false))
    }

    /// The messages the index names for `needle` (folded) in `columns`: exactly those that
    /// contain it, or a superset for the exact check (see [`needle_words`]). `Ok(None)` when the
    /// index cannot narrow the search: the needle has no letters or digits, its runs are all
    /// too common ([`MAX_EXPANSION`]), or the index is still being rebuilt after a migration
    /// (then every message's stored text is checked, slowly but exactly). `messages` is how many
    /// stored texts the caller would check instead (its mailbox's size): a segment that needs a
    /// pass over the vocabulary is not looked up when the vocabulary is much larger. Fails with
    /// [`IndexError::Deadline`] past `deadline`.
    pub fn content_candidates(
        &self,
        columns: &[ContentColumn],
        needle: &str,
        messages: usize,
        deadline: Instant,
    ) -> Result<Option<Candidates>, IndexError> {
        let plan = needle_words(needle);
        if columns.is_empty() || plan.probes.is_empty() {
            return Ok(None);
        }
        // One snapshot for every lookup below.
        let _snapshot = if self.conn.is_autocommit() {
            Some(self.conn.unchecked_transaction()?)
        } else {
            None
        };
        if rebuild_pending(&self.conn)? {
            return Ok(None);
        }
        let mut exact = plan.exact;
        let mut probes = plan.probes;
        // A pass over the vocabulary is not worth it when another lookup can narrow.
        if probes.iter().any(|p| !p.is_scan()) {
            let before = probes.len();
            probes.retain(|p| !p.is_scan());
            exact &= probes.len() == before;
        }
        // Only passes over the vocabulary left: worth it while the vocabulary is not much larger
        // than what the caller reads without the index (`messages` stored texts); a small
        // mailbox in a large archive reads its few texts instead.
        if probes.iter().all(Probe::is_scan) {
            let words = largest_word(&self.conn)?;
            if usize::try_from(words).unwrap_or(usize::MAX)
                > messages.saturating_mul(SCAN_WORDS_PER_MESSAGE)
            {
                return Ok(None);
            }
        }
        // Whole words first: one B-tree lookup each, and the fewest messages.
        probes.sort_by_key(|p| !matches!(p, Probe::Is(_)));
        let mut found: Option<Vec<i64>> = None;
        for probe in &probes {
            if found.as_ref().is_some_and(|f| f.len() <= FEW_CANDIDATES) {
                // Few enough for the exact check: further lookups would cost more than they save
                // (and the answer, with a condition left unasked, is no longer exact).
                exact = false;
                break;
            }
            let Some(words) = self.words_for(probe, deadline)? else {
                // Too common to narrow anything: not a condition, so no longer exact.
                exact = false;
                continue;
            };
            let messages = self.messages_with_words(columns, &words, deadline)?;
            let narrowed = match found {
                None => messages,
                Some(f) => intersect(&f, &messages),
            };
            let empty = narrowed.is_empty();
            found = Some(narrowed);
            if empty {
                // Every lookup is necessary: no message can contain the needle.
                exact = true;
                break;
            }
        }
        Ok(found.map(|ids| Candidates {
            ids: ids.into_iter().map(MessageId).collect(),
            exact,
        }))
    }

    /// The ids of the vocabulary's words that `probe` asks for, or None when there are more than
    /// [`MAX_EXPANSION`] (or, for [`Probe::Ends`], the trigram lookup it filters finds more than
    /// [`MAX_EXPANSION`] × [`ENDS_SCAN`]).
    fn words_for(
        &self,
        probe: &Probe<'_>,
        deadline: Instant,
    ) -> Result<Option<Vec<i64>>, IndexError> {
        let part = probe.text();
        match probe {
            Probe::Is(_) => Ok(Some(
                self.conn
                    .prepare_cached(
                        "SELECT id FROM words WHERE word = ?1
                         UNION ALL SELECT id FROM staged_words WHERE word = ?1",
                    )?
                    .query_row(params![part], |r| r.get(0))
                    .optional()?
                    .into_iter()
                    .collect(),
            )),
            Probe::Starts(_) => {
                // In each of the vocabulary's tables, the words from `part` on, in the UNIQUE
                // index's (binary) order, while they start with it. Both in this snapshot.
                let starting = |sql: &str| -> Result<Option<Vec<i64>>, IndexError> {
                    let mut stmt = self.conn.prepare_cached(sql)?;
                    let mut rows = stmt.query(params![part])?;
                    collect_words(&mut rows, None, deadline, |w| {
                        w.starts_with(part.as_bytes()).then_some(true)
                    })
                };
                let Some(words) =
                    starting("SELECT id, word FROM words WHERE word >= ?1 ORDER BY word")?
                else {
                    return Ok(None);
                };
                let staged =
                    starting("SELECT id, word FROM staged_words WHERE word >= ?1 ORDER BY word")?;
                Ok(joined(Some(words), staged))
            }
            Probe::Within(_) | Probe::Ends(_) => {
                let ends = matches!(probe, Probe::Ends(_));
                let keep = |w: &[u8]| Some(!ends || w.ends_with(part.as_bytes()));
                if part.chars().nth(2).is_none() {
                    // Shorter than a trigram: FTS5's trigram index answers nothing, so the
                    // vocabulary is read through (see SCAN_WORDS_PER_MESSAGE), in two halves
                    // at once when large (5.4 million words on 1,000,000 messages: ~270 ms).
                    // Words are only added, so the partner's later snapshot has at most
                    // words no message of this snapshot holds.
                    let scan = |conn: &Connection, ids: std::ops::RangeInclusive<i64>| {
                        let mut stmt = conn.prepare_cached(
                            "SELECT id, word FROM words
                             WHERE id BETWEEN ?2 AND ?3 AND instr(word, ?1) > 0
                             UNION ALL
                             SELECT id, word FROM staged_words
                             WHERE id BETWEEN ?2 AND ?3 AND instr(word, ?1) > 0",
                        )?;
                        let mut rows = stmt.query(params![part, ids.start(), ids.end()])?;
                        collect_words(&mut rows, None, deadline, keep)
                    };
                    let largest = largest_word(&self.conn)?;
                    if usize::try_from(largest).unwrap_or(0) < SPLIT_AFTER * 16 {
                        return scan(&self.conn, i64::MIN..=i64::MAX);
                    }
                    let middle = largest / 2;
                    let (low, high) = self.in_two(
                        |conn| scan(conn, i64::MIN..=middle - 1),
                        |conn| scan(conn, middle..=i64::MAX),
                        |_| Ok(true),
                    )?;
                    return Ok(joined(low, high));
                }
                // The words containing `part`; those that must end with it are filtered by
                // their text, of which at most ENDS_SCAN per word kept are read.
                let (sql, max_read) = if ends {
                    (
                        "SELECT rowid, coalesce((SELECT word FROM words WHERE id = g.rowid),
                                                (SELECT word FROM staged_words WHERE id = g.rowid))
                           FROM word_grams AS g WHERE word_grams MATCH ?1",
                        Some(MAX_EXPANSION * ENDS_SCAN),
                    )
                } else {
                    (
                        "SELECT rowid, NULL FROM word_grams WHERE word_grams MATCH ?1",
                        None,
                    )
                };
                let mut stmt = self.conn.prepare_cached(sql)?;
                let mut rows = stmt.query(params![fts_string(part)])?;
                collect_words(&mut rows, max_read, deadline, keep)
            }
        }
    }

    /// The messages holding any of `words` in any of `columns`, ascending, no repeats: from
    /// `message_words`, and for frequent tokens from their runs too.
    ///
    /// A word found in more than [`SPLIT_AFTER`] messages is read on in two halves of the
    /// remaining ids at once ([`Index::in_two`]): reading its rows out of FTS5 is most of a
    /// common word's search on a large archive.
    fn messages_with_words(
        &self,
        columns: &[ContentColumn],
        words: &[i64],
        deadline: Instant,
    ) -> Result<Vec<i64>, IndexError> {
        let mut out: Vec<i64> = Vec::new();
        let mut answers = 0;
        let mut query = String::new();
        let mut largest: Option<i64> = None;
        let fields = columns.iter().fold(0u8, |f, c| f | 1 << c.number());
        // One query per word (its tokens in every column, OR'ed): FTS5 steps an OR by looking
        // at each of its terms, so one OR of thousands of words would cost that per row.
        for &w in words {
            query.clear();
            for (j, &c) in columns.iter().enumerate() {
                if j > 0 {
                    query.push_str(" OR ");
                }
                // An FTS5 string of our own token (letters and digits).
                query.push('"');
                push_token(&mut query, c, w);
                query.push('"');
            }
            let before = out.len();
            let all = i64::MIN..=i64::MAX;
            if let Some(last) = rows_of(
                &self.conn,
                &query,
                all,
                Some(SPLIT_AFTER),
                deadline,
                &mut out,
            )? {
                let largest = match largest {
                    Some(l) => l,
                    None => *largest.insert(largest_message(&self.conn)?),
                };
                // The rest, [last + 1, largest] (uniform enough in a word's common case), in
                // two halves; anything past `largest` (the partner may see later commits) in
                // the upper one.
                let from = last.saturating_add(1);
                let middle = from.saturating_add(largest.saturating_sub(from).max(0) / 2);
                let q = query.as_str();
                let sink = &mut out;
                let (_, high) = self.in_two(
                    |conn| rows_of(conn, q, from..=middle - 1, None, deadline, sink),
                    |conn| {
                        let mut high = Vec::new();
                        rows_of(conn, q, middle..=i64::MAX, None, deadline, &mut high)?;
                        Ok(high)
                    },
                    // A reindex begun since this snapshot emptied the words' index.
                    |conn| Ok(!rebuild_pending(conn)?),
                )?;
                out.extend(high);
            }
            // The word's frequent tokens' messages, from the runs (see `runs`).
            let in_runs = runs::messages_in_runs(&self.conn, w, fields, deadline)?;
            if !in_runs.is_empty() {
                if out.len() == before {
                    out.extend(in_runs);
                } else {
                    let in_fts = out.split_off(before);
                    out.extend(runs::union(&in_fts, &in_runs));
                }
            }
            answers += usize::from(out.len() > before);
        }
        // FTS5 answers each query in rowid order; several words that found messages need a
        // merge.
        if answers > 1 {
            out.sort_unstable();
            out.dedup();
        }
        Ok(out)
    }

    /// Of `ids` (ascending, no repeats: as the index and a view give them), the messages whose
    /// stored (folded) text of `columns` (at most one of each) passes `test`, which gets the
    /// columns' texts in that order as UTF-8 bytes (a message without a content row never
    /// passes). The exact check behind every text key.
    ///
    /// Its cost is per message, so it is made cheap per message: one read transaction for the
    /// whole check (not one per row, which took a shared-memory lock and its `fcntl` calls each
    /// time), rows looked up in id order (neighbouring B-tree pages), and the texts borrowed from
    /// SQLite rather than copied into `String`s and validated again. Fails with
    /// [`IndexError::Deadline`] past `deadline`.
    pub fn content_filter(
        &self,
        ids: &[MessageId],
        columns: &[ContentColumn],
        deadline: Instant,
        test: &(dyn Fn(&[&[u8]]) -> bool + Sync),
    ) -> Result<Vec<MessageId>, IndexError> {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascending");
        debug_assert!(columns.len() <= COLUMNS.len());
        // A read transaction unless the caller already has one open; rolled back (it wrote
        // nothing) when dropped.
        let _snapshot = if self.conn.is_autocommit() {
            Some(self.conn.unchecked_transaction()?)
        } else {
            None
        };
        if ids.len() < SPLIT_AFTER {
            return passing(&self.conn, ids, columns, deadline, test);
        }
        // Many: half of them checked on the partner connection at the same time. A message's
        // stored text never changes but by reindex, which writes what it would read anyway.
        let (lower, upper) = ids.split_at(ids.len() / 2);
        let (mut low, high) = self.in_two(
            |conn| passing(conn, lower, columns, deadline, test),
            |conn| passing(conn, upper, columns, deadline, test),
            |_| Ok(true),
        )?;
        low.extend(high);
        Ok(low)
    }

    /// Stored messages with id greater than `after`, at most `limit`, in id order, with their
    /// blobs: the walk of `imapvault reindex`.
    pub fn messages_after(
        &self,
        after: MessageId,
        limit: usize,
    ) -> Result<Vec<(MessageId, BlobRef)>, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, segment, offset, len FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after.0, limit as i64], |r| {
            Ok((
                MessageId(r.get(0)?),
                BlobRef {
                    segment: r.get(1)?,
                    offset: r.get(2)?,
                    len: r.get(3)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of stored messages (for reindex progress).
    pub fn message_count(&self) -> Result<u64, IndexError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?)
    }

    /// Replaces what reindex recomputes of these messages, in one transaction: the content
    /// rows (folded text and its words), the PREVIEW text, the attachment fact and the
    /// SORT/THREAD keys.
    pub fn replace_content(&mut self, rows: &[Reindexed]) -> Result<(), IndexError> {
        self.vocabulary_transaction(rows.len(), |tx, vocabulary| {
            for r in rows {
                super::sort::put_sort_keys(tx, r.id, &r.sort)?;
                tx.prepare_cached("DELETE FROM message_words WHERE rowid = ?1")?
                    .execute(params![r.id.0])?;
                tx.prepare_cached("DELETE FROM message_text_store WHERE id = ?1")?
                    .execute(params![r.id.0])?;
                insert_content(tx, vocabulary, r.id, &r.content)?;
                tx.prepare_cached(
                    "UPDATE messages SET preview = ?2, has_attachment = ?3 WHERE id = ?1",
                )?
                .execute(params![r.id.0, r.preview, r.has_attachment])?;
            }
            Ok(())
        })
    }

    /// Runs `write` (of `messages` content rows) in one write transaction with the writer's
    /// vocabulary and its runs, and commits it if `write` succeeds; the vocabulary forgets the words of a transaction that did not commit.
    fn vocabulary_transaction(
        &mut self,
        messages: usize,
        write: impl FnOnce(&Transaction<'_>, &mut Vocabulary) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let Index {
            conn, vocabulary, ..
        } = self;
        let result = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(IndexError::from)
            .and_then(|tx| {
                vocabulary.begin(&tx, messages)?;
                write(&tx, vocabulary)?;
                vocabulary.finish(&tx)?;
                Ok(tx.commit()?)
            });
        vocabulary.settle(result.is_ok());
        result
    }

    /// Gives messages `ids` their words' rows again from their stored text: what a reindex
    /// does for a message whose blob it cannot read, since it emptied the words' index at its
    /// start ([`Index::start_reindex`]) and the stored text is all that is left of it. A
    /// message without stored text has no words to restore.
    pub fn restore_words(&mut self, ids: &[MessageId]) -> Result<(), IndexError> {
        self.vocabulary_transaction(ids.len(), |tx, vocabulary| {
            for &id in ids {
                let stored = tx
                    .prepare_cached(
                        "SELECT from_addr, to_addr, cc_addr, bcc_addr, subject, headers, body
                           FROM message_text_store WHERE id = ?1",
                    )?
                    .query_row(params![id.0], |r| {
                        let mut fields: [String; 7] = Default::default();
                        let mut scratch = Vec::new();
                        for (i, field) in fields.iter_mut().enumerate() {
                            // Packed or TEXT (`packed_text`); a damaged field restores no words
                            // (the reindex goes on with the others).
                            let bytes = packed_text::read(r.get_ref(i)?, &mut scratch)
                                .unwrap_or_else(|e| {
                                    log::warn!("reindex: message {}: {e}", id.0);
                                    &[]
                                });
                            *field = String::from_utf8_lossy(bytes).into_owned();
                        }
                        let [from, to, cc, bcc, subject, headers, body] = fields;
                        Ok(SearchText {
                            from,
                            to,
                            cc,
                            bcc,
                            subject,
                            headers,
                            body,
                        })
                    })
                    .optional()?;
                if let Some(text) = stored {
                    // Stored folded, as ContentRow::new wants it.
                    insert_words(tx, vocabulary, id, &ContentRow::new(text))?;
                }
            }
            Ok(())
        })
    }

    /// The start of a reindex: empties the words' index at once (FTS5's `delete-all`) and
    /// marks it as being rebuilt, so that text searches check every message's stored text until
    /// [`Index::finish_reindex`] (exact, and slow on a large archive).
    ///
    /// Why not replace each message's row as the batches come: FTS5 records a deleted row of a
    /// `contentless_delete` table as a tombstone, and every later merge checks its entries
    /// against them. Reindexing an archive of 100,000 indexed messages row by row took 96 s,
    /// 61 % of it in `fts5MultiIterIsDeleted`.
    pub fn start_reindex(&mut self) -> Result<(), IndexError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO message_words (message_words) VALUES ('delete-all')",
            [],
        )?;
        // The runs too; which tokens are frequent stays (every batch from here on writes them
        // as runs).
        tx.execute("DELETE FROM token_runs", [])?;
        tx.execute("DELETE FROM run_batches", [])?;
        tx.execute(
            "UPDATE content_state SET grams_pending = 1 WHERE id = 1",
            [],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The end of a reindex: drops rows of messages that no longer exist and records that every
    /// message has its row.
    pub fn finish_reindex(&mut self) -> Result<(), IndexError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM message_words WHERE rowid IN
                (SELECT id FROM message_text_store WHERE id NOT IN (SELECT id FROM messages))",
            [],
        )?;
        tx.execute(
            "DELETE FROM message_text_store WHERE id NOT IN (SELECT id FROM messages)",
            [],
        )?;
        super::sort::drop_orphans(&tx)?;
        tx.execute(
            "UPDATE content_state
                SET backfill_pending = 0, refold_pending = 0, grams_pending = 0 WHERE id = 1",
            [],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// What `imapvault reindex` recomputes of one stored message from its blob.
#[derive(Debug, Clone)]
pub struct Reindexed {
    pub id: MessageId,
    /// The content row (folded text and its words).
    pub content: ContentRow,
    /// The PREVIEW text (RFC 8970).
    pub preview: String,
    /// Whether the message has an attachment (the `$HasAttachment` keyword).
    pub has_attachment: bool,
    /// The SORT and THREAD keys (`mime::sort`).
    pub sort: SortKeys,
}

/// Inserts the content row of message `id`, adding its new words to the vocabulary.
pub(super) fn insert_content(
    tx: &Transaction<'_>,
    vocabulary: &mut Vocabulary,
    id: MessageId,
    row: &ContentRow,
) -> Result<(), IndexError> {
    // Each field packed (a BLOB) or as TEXT (`packed_text`).
    let fields = row.text.fields();
    let value = |i: usize| -> &dyn rusqlite::ToSql {
        match &row.packed[i] {
            Some(packed) => packed,
            None => fields[i],
        }
    };
    tx.prepare_cached(
        "INSERT INTO message_text_store (id, from_addr, to_addr, cc_addr, bcc_addr, subject,
                                         headers, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        id.0,
        value(0),
        value(1),
        value(2),
        value(3),
        value(4),
        value(5),
        value(6)
    ])?;
    insert_words(tx, vocabulary, id, row)
}

/// Inserts the words' row of message `id` (its tokens in `message_words`), adding its new
/// words to the vocabulary.
fn insert_words(
    tx: &Transaction<'_>,
    vocabulary: &mut Vocabulary,
    id: MessageId,
    row: &ContentRow,
) -> Result<(), IndexError> {
    let committed = vocabulary.committed.clone();
    let committed = committed.read();
    // A row not looked up ahead is looked up here, all of it.
    let looked_up;
    let known = match &row.resolved {
        Some(known) => known,
        None => {
            looked_up = row.known_in(&committed);
            &looked_up
        }
    };
    let mut tokens = String::with_capacity(
        known.tokens.len() + 8 * (known.unknown.len() + known.frequent.len()),
    );
    tokens.push_str(&known.tokens);
    // Each token goes once either to `message_words` or, frequent in a transaction that
    // writes runs, to a run (see `runs`).
    let runs_on = vocabulary.runs.on();
    for &t in &known.frequent {
        if runs_on {
            vocabulary.runs.push(t, id.0);
        } else {
            let (word, field) = runs::token_parts(t);
            push_listed_token(&mut tokens, COLUMNS[usize::from(field)], word);
        }
    }
    for (column, at) in &known.unknown {
        let word_id = vocabulary.id(tx, &committed, &row.words[at.clone()])?;
        let field = column.number();
        if runs_on && vocabulary.runs.frequent_fields(word_id) & (1 << field) != 0 {
            vocabulary.runs.push(runs::token(field, word_id), id.0);
        } else {
            push_listed_token(&mut tokens, *column, word_id);
        }
    }
    if vocabulary.runs.samples(id.0) {
        vocabulary
            .runs
            .count(tokens.split_terminator(' ').filter_map(parse_token));
    }
    tx.prepare_cached("INSERT INTO message_words (rowid, words) VALUES (?1, ?2)")?
        .execute(params![id.0, tokens])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words a row keeps for each field, by column.
    fn words_of(row: &ContentRow) -> Vec<(ContentColumn, Vec<&str>)> {
        row.field_words()
            .map(|(c, w)| (c, w.collect::<Vec<_>>()))
            .filter(|(_, w)| !w.is_empty())
            .collect()
    }

    fn body(t: &str) -> ContentRow {
        ContentRow::new(SearchText {
            body: t.to_owned(),
            ..SearchText::default()
        })
    }

    #[test]
    fn same_bytes_is_equality_at_every_length() {
        let mut rng = crate::test_rng::Rng::new(5);
        for n in 0..40 {
            let a: Vec<u8> = (0..n).map(|_| b"ab"[rng.below(2)]).collect();
            assert!(same_bytes(&a, &a.clone()), "{n}");
            // Each single changed byte, and a different length, tell them apart.
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 1;
                assert!(!same_bytes(&a, &b), "{n} at {i}");
            }
            assert!(
                !same_bytes(&a, &[a.as_slice(), b"a"].concat()),
                "{n} longer"
            );
        }
    }

    #[test]
    fn a_word_character_is_exactly_a_letter_or_digit() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(
                is_word_char(c),
                c.is_alphanumeric(),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    /// Segments as the module docs define them, one character at a time: the reference for
    /// `for_each_segment`'s byte-wise paths.
    fn reference_segments(text: &str) -> Vec<(String, usize, bool)> {
        let mut out: Vec<(String, usize, bool)> = Vec::new();
        let mut open = false;
        for c in text.chars() {
            let kind = is_word_char(c).then(|| is_unspaced(c));
            match (kind, out.last_mut()) {
                (Some(unspaced), Some(last)) if open && last.2 == unspaced => {
                    last.0.push(c);
                    last.1 += 1;
                }
                (Some(unspaced), _) => out.push((c.to_string(), 1, unspaced)),
                (None, _) => {}
            }
            open = kind.is_some();
        }
        out
    }

    #[test]
    fn segments_are_the_runs_of_one_kind_of_word_character() {
        // ASCII letters and digits, separators of both widths, letters of spaced scripts
        // (Latin, Cyrillic, Greek), unspaced ones (Han, kana, Thai), digits of other scripts.
        let pieces = [
            "a", "Z", "7", "q", " ", ".", "-", "\n", "é", "ß", "ж", "Ω", "日", "本", "か", "ก",
            "٣", "—", "\u{a0}", "x9", "ab", "€", "ǅ",
        ];
        let mut rng = crate::test_rng::Rng::new(11);
        for round in 0..3000 {
            let len = rng.below(12);
            let text = rng.text_of(&pieces, len);
            let mut got = Vec::new();
            for_each_segment(&text, |seg, chars, unspaced| {
                got.push((seg.to_owned(), chars, unspaced))
            });
            assert_eq!(got, reference_segments(&text), "round {round}: {text:?}");
        }
    }

    #[test]
    fn words_are_distinct_runs_of_letters_and_digits_per_field() {
        let row = ContentRow::new(SearchText {
            from: "jürgen müller <jm@example.org>".into(),
            subject: "re: q3 re-forecast".into(),
            body: "hello, wörld! hello\r\n42x 日本語 ok_ok".into(),
            ..SearchText::default()
        });
        assert_eq!(
            words_of(&row),
            vec![
                (
                    ContentColumn::From,
                    vec!["jürgen", "müller", "jm", "example", "org"]
                ),
                (ContentColumn::Subject, vec!["re", "q3", "forecast"]),
                (
                    ContentColumn::Body,
                    vec!["hello", "wörld", "42x", "日", "日本", "本", "本語", "語", "ok"]
                ),
            ]
        );
        assert!(words_of(&body(" ,;- \u{301}")).is_empty());
        assert!(words_of(&ContentRow::default()).is_empty());
    }

    /// A run longer than WORD_MAX_CHARS is kept as pieces of that length every PIECE_STEP
    /// characters, the last ending with the run: each string of up to PIECE_STEP characters
    /// of the run lies wholly inside one piece (what makes a plain-word search exact).
    #[test]
    fn long_runs_are_overlapping_pieces_holding_every_short_substring() {
        for len in [WORD_MAX_CHARS, WORD_MAX_CHARS + 1, 95, 96, 97, 200, 1000] {
            for alphabet in ["ab", "xÿ7"] {
                let letters: Vec<char> = alphabet.chars().collect();
                let mut rng = crate::test_rng::Rng::new(len as u64);
                let run: String = (0..len)
                    .map(|_| letters[rng.below(letters.len())])
                    .collect();
                let mut pieces = Vec::new();
                for_each_word(&run, |w| pieces.push(w.to_owned()));
                if len <= WORD_MAX_CHARS {
                    assert_eq!(pieces, vec![run.clone()]);
                    continue;
                }
                assert!(pieces.iter().all(|p| p.chars().count() == WORD_MAX_CHARS));
                assert!(run.starts_with(&pieces[0]) && run.ends_with(&pieces[pieces.len() - 1]));
                let chars: Vec<char> = run.chars().collect();
                for start in 0..len {
                    for n in 1..=PIECE_STEP.min(len - start) {
                        let sub: String = chars[start..start + n].iter().collect();
                        assert!(
                            pieces.iter().any(|p| p.contains(&sub)),
                            "{len}: {sub:?} at {start} in no piece"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_token_is_the_field_letter_and_the_word_id_in_base_32() {
        let token = |c, id| {
            let mut t = String::new();
            push_token(&mut t, c, id);
            t
        };
        assert_eq!(token(ContentColumn::Body, 0), "xa");
        assert_eq!(token(ContentColumn::Body, 1), "xb");
        assert_eq!(token(ContentColumn::From, 31), "f7");
        assert_eq!(token(ContentColumn::From, 32), "fba");
        assert_eq!(token(ContentColumn::Subject, 1398), "sblw");
        // Every id has one token and back: the digits read as base 32 give the id again.
        let mut rng = crate::test_rng::Rng::new(3);
        for _ in 0..2000 {
            let id = (rng.next() >> (1 + rng.below(63))) as i64;
            let t = token(ContentColumn::Headers, id);
            let back = t[1..].bytes().fold(0u64, |n, d| {
                n * 32 + TOKEN_DIGITS.iter().position(|&x| x == d).unwrap() as u64
            });
            assert_eq!(back, id as u64, "{t}");
            assert!(id == 0 || !t[1..].starts_with('a'), "{t}: leading zero");
        }
    }

    #[test]
    fn a_plain_word_is_answered_exactly_anything_else_gives_candidates() {
        use Probe::{Ends, Is, Starts, Within};
        let w = needle_words("report");
        assert_eq!((w.probes, w.exact), (vec![Within("report")], true));
        // Where a segment stands says where it stands in a word of the text.
        let w = needle_words("q3 report");
        assert_eq!(
            (w.probes, w.exact),
            (vec![Ends("q3"), Starts("report")], false)
        );
        let w = needle_words(" report");
        assert_eq!((w.probes, w.exact), (vec![Starts("report")], false));
        let w = needle_words("k.sato@corp");
        assert_eq!(
            (w.probes, w.exact),
            (vec![Ends("k"), Is("sato"), Starts("corp")], false)
        );
        let w = needle_words("re:");
        assert_eq!((w.probes, w.exact), (vec![Ends("re")], false));
        assert!(needle_words("müller").exact);
        assert!(needle_words("").probes.is_empty());
        assert!(needle_words("@-.").probes.is_empty());
        // Longer than a piece's step: looked up by its start, then checked.
        let long = "a".repeat(PIECE_STEP + 1);
        let w = needle_words(&long);
        assert_eq!(
            (w.probes, w.exact),
            (vec![Within(&long[..PIECE_STEP])], false)
        );
        assert!(needle_words(&long[..PIECE_STEP]).exact);
        // Unspaced scripts: a character or a pair is a word of the index; longer, its pairs.
        let w = needle_words("会");
        assert_eq!((w.probes, w.exact), (vec![Is("会")], true));
        let w = needle_words("会議");
        assert_eq!((w.probes, w.exact), (vec![Is("会議")], true));
        let w = needle_words("会議の");
        assert_eq!((w.probes, w.exact), (vec![Is("会議"), Is("議の")], false));
        let w = needle_words("windows版");
        assert_eq!(
            (w.probes, w.exact),
            (vec![Ends("windows"), Is("版")], false)
        );
        // Past a word's length, a middle segment may be pieces in the text.
        let long = "b".repeat(WORD_MAX_CHARS + 1);
        let middle = format!("a {long} c");
        let w = needle_words(&middle);
        assert_eq!(w.probes[1], Within(&long[..PIECE_STEP]));
        // MAX_PAIRS pairs are all asked; one more, and the middle loses one.
        let pairs = |n: usize| ('一'..).take(n + 1).collect::<String>();
        let (at, past) = (pairs(MAX_PAIRS), pairs(MAX_PAIRS + 1));
        assert_eq!(needle_words(&at).probes.len(), MAX_PAIRS);
        assert_eq!(needle_words(&past).probes.len(), MAX_PAIRS);
        // A long one: at most MAX_PAIRS pairs, the first and last among them.
        let long: String = ('一'..).take(30).collect();
        let w = needle_words(&long);
        assert_eq!(w.probes.len(), MAX_PAIRS);
        let last: String = long.chars().skip(28).collect();
        assert_eq!(w.probes[MAX_PAIRS - 1], Is(&last));
    }

    /// A string of many segments asks each distinct one once, and at most MAX_PROBES of them:
    /// a client's long string cannot make a search do a lookup per segment.
    #[test]
    fn a_needle_asks_few_distinct_lookups() {
        use Probe::{Ends, Is, Starts};
        let w = needle_words("a b a b a b a");
        assert_eq!(w.probes, vec![Ends("a"), Is("b"), Is("a"), Starts("a")]);
        // At MAX_PROBES distinct lookups all are kept; one more, and one is left out.
        let words = |n: usize| (0..n).map(|i| format!("w{i} ")).collect::<String>();
        let (at, past) = (words(MAX_PROBES), words(MAX_PROBES + 1));
        assert_eq!(needle_words(&at).probes.len(), MAX_PROBES);
        assert_eq!(needle_words(&past).probes.len(), MAX_PROBES);
        assert!(needle_words(&past)
            .probes
            .contains(&Is(&format!("w{MAX_PROBES}"))));
        let many: String = (0..5000).map(|i| format!("w{i} ")).collect();
        let w = needle_words(&many);
        assert_eq!(w.probes.len(), MAX_PROBES);
        assert_eq!(w.probes[0], Ends("w0"));
        assert_eq!(w.probes[MAX_PROBES - 1], Is("w4999"));
        assert!(!w.exact);
    }

    /// MAX_EXPANSION words containing a string are each looked up; one more, and the string is
    /// too common to narrow (alone, the caller then checks every message).
    #[test]
    fn a_string_in_more_than_max_expansion_words_is_not_looked_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let words = |range: std::ops::Range<usize>| SearchText {
            body: range.map(|i| format!("qqz{i} ")).collect(),
            ..SearchText::default()
        };
        put(&mut ix, &[(1, words(0..MAX_EXPANSION))]);
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let ask = |ix: &Index, needle| {
            ix.content_candidates(&[ContentColumn::Body], needle, usize::MAX, far)
                .unwrap()
                .map(|c| (c.ids, c.exact))
        };
        assert_eq!(ask(&ix, "qqz"), Some((vec![MessageId(1)], true)));
        put(&mut ix, &[(2, words(MAX_EXPANSION..MAX_EXPANSION + 1))]);
        assert_eq!(ask(&ix, "qqz"), None);
        // A narrower string of the same words still is.
        assert_eq!(ask(&ix, "qqz4096"), Some((vec![MessageId(2)], true)));
    }

    #[test]
    fn unspaced_scripts_are_indexed_by_characters_and_pairs() {
        let row = body("報告書 windows版 ไทย");
        let (_, words) = words_of(&row).remove(0);
        assert_eq!(
            words,
            vec![
                "報", "報告", "告", "告書", "書", "windows", "版", "ไ", "ไท", "ท", "ทย", "ย"
            ]
        );
    }

    /// Message `id`'s content row, written as reindex writes it.
    fn put(ix: &mut Index, rows: &[(i64, SearchText)]) {
        let rows: Vec<Reindexed> = rows
            .iter()
            .map(|(id, text)| Reindexed {
                id: MessageId(*id),
                content: ContentRow::new(text.clone()),
                preview: String::new(),
                has_attachment: false,
                sort: SortKeys::default(),
            })
            .collect();
        ix.replace_content(&rows).unwrap();
    }

    /// A text with only a subject and a body.
    fn text(subject: &str, body: &str) -> SearchText {
        SearchText {
            subject: subject.into(),
            body: body.into(),
            ..SearchText::default()
        }
    }

    /// Puts messages `ids`, each with the body `body(id)` alone.
    fn put_bodies(
        ix: &mut Index,
        ids: std::ops::RangeInclusive<i64>,
        body: impl Fn(i64) -> String,
    ) {
        let rows: Vec<(i64, SearchText)> = ids
            .map(|i| {
                let text = SearchText {
                    body: body(i),
                    ..SearchText::default()
                };
                (i, text)
            })
            .collect();
        put(ix, &rows);
    }

    /// The words' index merges 16 segments at a time (sql/0012) and keeps one segment per
    /// ingest batch (sql/0011's hashsize).
    #[test]
    fn the_words_index_merges_sixteen_segments_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let option = |k: &str| -> i64 {
            ix.conn
                .query_row(
                    "SELECT v FROM message_words_config WHERE k = ?1",
                    params![k],
                    |r| r.get(0),
                )
                .unwrap()
        };
        assert_eq!(option("automerge"), 16);
        assert_eq!(option("hashsize"), 8 << 20);
    }

    /// A row whose words were looked up ahead (as the ingest's preparing threads do) indexes
    /// what the writer would have: known words under their committed ids, the others added,
    /// each in its own field.
    #[test]
    fn words_looked_up_ahead_index_as_the_writers_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        put(&mut ix, &[(1, text("beta", "alpha beta"))]);
        let ids = ix.word_ids();
        assert_eq!(ids.len(), 2, "alpha and beta, once committed");
        let mut row = ContentRow::new(text("beta gamma", "alpha delta alpha"));
        row.resolve_known(&ids);
        let unknown: Vec<&str> = row
            .resolved
            .as_ref()
            .unwrap()
            .unknown
            .iter()
            .map(|(_, at)| &row.words[at.clone()])
            .collect();
        assert_eq!(unknown, ["gamma", "delta"]);
        ix.replace_content(&[Reindexed {
            id: MessageId(2),
            content: row,
            preview: String::new(),
            has_attachment: false,
            sort: SortKeys::default(),
        }])
        .unwrap();
        assert_eq!(ids.len(), 4, "gamma and delta published at the commit");
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let found = |column, needle: &str| {
            let c = ix
                .content_candidates(&[column], needle, usize::MAX, far)
                .unwrap()
                .unwrap();
            assert!(c.exact, "{needle}");
            c.ids.iter().map(|m| m.0).collect::<Vec<_>>()
        };
        assert_eq!(found(ContentColumn::Body, "alpha"), [1, 2]);
        assert_eq!(found(ContentColumn::Body, "delta"), [2]);
        assert_eq!(found(ContentColumn::Body, "beta"), [1]);
        assert_eq!(found(ContentColumn::Body, "gamma"), Vec::<i64>::new());
        assert_eq!(found(ContentColumn::Subject, "beta"), [1, 2]);
        assert_eq!(found(ContentColumn::Subject, "gamma"), [2]);
        assert_eq!(found(ContentColumn::Subject, "alpha"), Vec::<i64>::new());
    }

    #[test]
    fn candidates_come_from_the_words_that_contain_the_needle() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let long = "z".repeat(40) + "needle" + &"z".repeat(40);
        put(
            &mut ix,
            &[
                (
                    1,
                    text("quarterly report", "please see the attached report"),
                ),
                (2, text("re: lunch", "we were pleased, really")),
                (3, text("displeasure", &long)),
                (4, text("near(a* or ^b)", "q3 reporting")),
                (5, text("", "会議の議事録")),
            ],
        );
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let ask = |cols: &[ContentColumn], needle: &str| {
            ix.content_candidates(cols, needle, usize::MAX, far)
                .unwrap()
                .map(|c| (c.ids.iter().map(|m| m.0).collect::<Vec<_>>(), c.exact))
        };
        use ContentColumn::{Body, Headers, Subject};
        // Inside words, several words each, and pieces of a long run.
        assert_eq!(ask(&[Body], "please"), Some((vec![1, 2], true)));
        assert_eq!(ask(&[Subject, Body], "pleas"), Some((vec![1, 2, 3], true)));
        assert_eq!(ask(&[Body], "zneedlez"), Some((vec![3], true)));
        assert_eq!(ask(&[Body], "report"), Some((vec![1, 4], true)));
        assert_eq!(ask(&[Subject], "report"), Some((vec![1], true)));
        assert_eq!(ask(&[Headers], "report"), Some((vec![], true)));
        // Short needles read the vocabulary.
        assert_eq!(ask(&[Body], "q3"), Some((vec![4], true)));
        assert_eq!(ask(&[Body], "y"), Some((vec![2], true)));
        // Several segments: a superset, to be checked. A segment of 1 or 2 characters would
        // need a pass over the vocabulary, so it is not looked up when another one is.
        assert_eq!(ask(&[Body], "3 rep"), Some((vec![1, 4], false)));
        assert_eq!(ask(&[Body], "the report"), Some((vec![1], false)));
        assert_eq!(ask(&[Body], "ee the"), Some((vec![1], false)));
        assert_eq!(ask(&[Body], "ed, r"), Some((vec![1, 2, 4], false)));
        assert_eq!(ask(&[Body], "sed, we"), Some((vec![2], false)));
        assert_eq!(ask(&[Body], "sed, wx"), Some((vec![2], false)));
        assert_eq!(ask(&[Body], "xw, sed"), Some((vec![], true)));
        // Alone, it is looked up, unless the vocabulary (here 40-odd words) is much larger than
        // the mailbox, whose texts are then read instead.
        assert_eq!(ask(&[Body], "q3 "), Some((vec![4], false)));
        let small = |needle| ix.content_candidates(&[Body], needle, 1, far).unwrap();
        assert_eq!(small("q3 "), None);
        assert_eq!(small("y"), None);
        assert!(small("q3 rep").is_some());
        // A segment no word holds where it must: nothing can match, exactly.
        assert_eq!(ask(&[Body], "absent see"), Some((vec![], true)));
        assert_eq!(ask(&[Body], "port "), Some((vec![1], false)));
        assert_eq!(ask(&[Body], " port"), Some((vec![], true)));
        // No letters or digits: the index cannot narrow.
        assert_eq!(ask(&[Body], ", "), None);
        // Unspaced scripts: a character or pair exactly, longer through the check.
        assert_eq!(ask(&[Body], "議"), Some((vec![5], true)));
        assert_eq!(ask(&[Body], "議事"), Some((vec![5], true)));
        assert_eq!(ask(&[Body], "事議"), Some((vec![], true)));
        assert_eq!(ask(&[Body], "会議の"), Some((vec![5], false)));
        // FTS5 syntax in a needle is text.
        assert_eq!(ask(&[Subject], "near(a* or ^b)"), Some((vec![4], false)));
        assert_eq!(ask(&[Subject], "NEAR"), Some((vec![], true)));
    }

    /// Random texts of a few letters, separators and unspaced characters (so that words,
    /// pieces of long runs and pairs repeat) and random needles, many of them pieces of the
    /// texts: the index's messages always hold every message that contains the needle, and are
    /// exactly those when it says so. Every kind of lookup is reached, the passes over the
    /// vocabulary included (the mailbox size is not limiting here).
    #[test]
    fn candidates_hold_every_message_containing_the_needle() {
        let pieces = [
            "a", "b", "ab", "ba", "aab", " ", ".", "-", "日", "本", "x", "7", "q3",
        ];
        let mut rng = crate::test_rng::Rng::new(11);
        let texts: Vec<String> = (0..60)
            .map(|i| {
                if i % 6 == 0 {
                    // One long run: kept as pieces.
                    let len = 40 + rng.below(60);
                    rng.text_of(&pieces[..5], len)
                } else {
                    let len = rng.below(30);
                    rng.text_of(&pieces, len)
                }
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let rows: Vec<(i64, SearchText)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let text = SearchText {
                    body: t.clone(),
                    ..SearchText::default()
                };
                (i as i64 + 1, text)
            })
            .collect();
        // In batches: the first makes its common tokens frequent, the later ones keep them as
        // runs, so that candidates come from both.
        for batch in rows.chunks(12) {
            put(&mut ix, batch);
        }
        let run_rows: i64 = ix
            .conn
            .query_row("SELECT count(*) FROM token_runs", [], |r| r.get(0))
            .unwrap();
        assert!(run_rows > 10, "{run_rows} runs");
        // Words moved from staged_words into `words` (STAGED_WORDS_MAX), and some still
        // staged: every lookup reads both.
        let all = vocabulary(&ix).len();
        let staged = column::<i64>(&ix, "SELECT id FROM staged_words").len();
        assert!(staged > 0 && staged < all, "{staged} of {all} words staged");
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let (mut answered, mut exact) = (0, 0);
        for round in 0..1500 {
            let needle: String = if round % 3 == 0 {
                let len = 1 + rng.below(4);
                rng.text_of(&pieces, len)
            } else {
                let t: Vec<char> = texts[rng.below(texts.len())].chars().collect();
                if t.is_empty() {
                    continue;
                }
                let start = rng.below(t.len());
                let len = 1 + rng.below((t.len() - start).min(40));
                t[start..start + len].iter().collect()
            };
            let want: Vec<MessageId> = (1..=texts.len() as i64)
                .filter(|&id| texts[id as usize - 1].contains(&needle))
                .map(MessageId)
                .collect();
            let Some(got) = ix
                .content_candidates(&[ContentColumn::Body], &needle, usize::MAX, far)
                .unwrap()
            else {
                continue;
            };
            answered += 1;
            assert!(
                want.iter().all(|m| got.ids.contains(m)),
                "{needle:?}: {want:?} not all in {:?}",
                got.ids
            );
            if got.exact {
                exact += 1;
                assert_eq!(got.ids, want, "{needle:?} answered exactly");
            }
            // The exact check of the candidates (in two halves past SPLIT_AFTER) leaves those
            // that contain it.
            let test = |t: &[&[u8]]| t[0].windows(needle.len()).any(|w| w == needle.as_bytes());
            let checked = ix
                .content_filter(&got.ids, &[ContentColumn::Body], far, &test)
                .unwrap();
            assert_eq!(checked, want, "{needle:?} checked");
        }
        // Both kinds of answer were reached often.
        assert!(
            answered > 1000 && exact > 300,
            "{answered} answered, {exact} exact"
        );
    }

    /// A token in enough of a large transaction's messages becomes frequent: later large
    /// transactions keep it as runs (from rows prepared before or after that), small ones and
    /// the earlier one in `message_words`, and a search finds the messages of all of them,
    /// exactly, in the asked field only.
    #[test]
    fn frequent_tokens_are_kept_as_runs_and_found_with_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let runs_of = |ix: &Index| -> Vec<(i64, i64)> {
            ix.conn
                .prepare("SELECT first, token FROM token_runs ORDER BY first, token")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let row = |id: i64, subject: &str, body: &str, ids: Option<&WordIds>| {
            let mut content = ContentRow::new(text(subject, body));
            if let Some(ids) = ids {
                content.resolve_known(ids);
            }
            Reindexed {
                id: MessageId(id),
                content,
                preview: String::new(),
                has_attachment: false,
                sort: SortKeys::default(),
            }
        };
        // 1-4: "common" in every body makes x:common frequent; "rare" once is not.
        let first: Vec<Reindexed> = (1..=4)
            .map(|i| {
                row(
                    i,
                    "hello",
                    if i == 2 { "common rare" } else { "common" },
                    None,
                )
            })
            .collect();
        ix.replace_content(&first).unwrap();
        assert!(runs_of(&ix).is_empty(), "no token was frequent yet");
        let body = |word: &str| -> i64 {
            let id = vocabulary(&ix)
                .into_iter()
                .find(|(_, w)| w == word)
                .expect("a word of the vocabulary")
                .0;
            runs::token(ContentColumn::Body.number(), id)
        };
        let frequent: Vec<i64> = column(&ix, "SELECT token FROM frequent_tokens");
        // Ids 2 and 4 are sampled: "common" is in both (the 2 needed), "rare" in one.
        let body_common = body("common");
        assert!(frequent.contains(&body_common), "{frequent:?}");
        assert!(!frequent.contains(&body("rare")), "{frequent:?}");
        // 5-8: rows prepared with the published ids (5, 6) and without (7, 8).
        let ids = ix.word_ids();
        let second = vec![
            row(5, "x", "common", Some(&ids)),
            row(6, "x", "other", Some(&ids)),
            row(7, "x", "common here", None),
            row(8, "common", "y", None),
        ];
        ix.replace_content(&second).unwrap();
        let runs = runs_of(&ix);
        assert!(runs.contains(&(5, body_common)), "{runs:?}");
        // 9: a transaction of one message writes no runs; 10-11, of two (RUNS_MIN_MESSAGES in
        // tests), does.
        ix.replace_content(&[row(9, "z", "common", None)]).unwrap();
        assert!(runs_of(&ix).iter().all(|&(first, _)| first < 9));
        ix.replace_content(&[row(10, "z", "common", None), row(11, "z", "x", None)])
            .unwrap();
        assert!(runs_of(&ix).contains(&(10, body_common)));
        let found = |ix: &Index, columns: &[ContentColumn], needle: &str| {
            let c = ix
                .content_candidates(columns, needle, usize::MAX, far)
                .unwrap()
                .unwrap();
            (c.ids.iter().map(|m| m.0).collect::<Vec<_>>(), c.exact)
        };
        assert_eq!(
            found(&ix, &[ContentColumn::Body], "common"),
            (vec![1, 2, 3, 4, 5, 7, 9, 10], true)
        );
        assert_eq!(
            found(&ix, &[ContentColumn::Body], "ommo").0,
            vec![1, 2, 3, 4, 5, 7, 9, 10]
        );
        assert_eq!(found(&ix, &[ContentColumn::Subject], "common").0, vec![8]);
        assert_eq!(
            found(
                &ix,
                &[ContentColumn::Subject, ContentColumn::Body],
                "common"
            )
            .0,
            vec![1, 2, 3, 4, 5, 7, 8, 9, 10]
        );
        assert_eq!(found(&ix, &[ContentColumn::Body], "rare").0, vec![2]);
        // A reindex drops the runs with the rest, and writes them again.
        ix.start_reindex().unwrap();
        assert!(runs_of(&ix).is_empty());
        ix.replace_content(&first).unwrap();
        ix.replace_content(&second).unwrap();
        ix.finish_reindex().unwrap();
        assert_eq!(
            found(&ix, &[ContentColumn::Body], "common").0,
            vec![1, 2, 3, 4, 5, 7]
        );
        assert!(runs_of(&ix).iter().any(|&(first, _)| first == 1));
        // A damaged run (a varint cut short) is an error, not a wrong answer or a panic.
        ix.conn
            .execute("UPDATE token_runs SET ids = x'ff' WHERE first = 1", [])
            .unwrap();
        assert!(matches!(
            ix.content_candidates(&[ContentColumn::Body], "common", usize::MAX, far),
            Err(IndexError::Corrupt(_))
        ));
    }

    /// The first column of every row `sql` (our own, in a test) selects.
    /// The vocabulary's words with their ids, ascending, from both its tables; checked: no word
    /// and no id in both, and each word's trigrams under its id in `word_grams`.
    fn vocabulary(ix: &Index) -> Vec<(i64, String)> {
        let read = |table: &str| -> Vec<(i64, String)> {
            ix.conn
                .prepare(&format!("SELECT id, word FROM {table} ORDER BY id"))
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let mut all = read("words");
        let staged = read("staged_words");
        assert!(
            staged
                .first()
                .is_none_or(|s| all.last().is_none_or(|w| w.0 < s.0)),
            "staged ids come after the moved ones"
        );
        all.extend(staged);
        let distinct: HashSet<&str> = all.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(distinct.len(), all.len(), "a word in both tables, or twice");
        for (id, word) in all.iter().filter(|(_, w)| w.chars().nth(2).is_some()) {
            let grams: Vec<i64> = ix
                .conn
                .prepare("SELECT rowid FROM word_grams WHERE word_grams MATCH ?1")
                .unwrap()
                .query_map([fts_string(word)], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(grams.contains(id), "word_grams finds {word} under {id}");
        }
        all
    }

    fn column<T: rusqlite::types::FromSql>(ix: &Index, sql: &str) -> Vec<T> {
        ix.conn
            .prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A fresh index holding two stored messages (ids 1 and 2), whose content rows
    /// `finish_reindex` keeps; and its directory.
    fn index_with_two_messages() -> (tempfile::TempDir, Index) {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let made = [
            super::super::ingest::test_message(1),
            super::super::ingest::test_message(2),
        ];
        ix.commit_ingest(&made, &[], &[]).unwrap();
        (dir, ix)
    }

    /// A reindex empties the words' index at its start: until its end, candidates are not
    /// asked of it (every stored text is checked), and after it the rebuilt rows answer.
    #[test]
    fn a_reindex_searches_stored_text_until_it_is_done() {
        let (_dir, mut ix) = index_with_two_messages();
        let hello = |body: &str| SearchText {
            body: body.into(),
            ..SearchText::default()
        };
        put(&mut ix, &[(1, hello("hello")), (2, hello("world"))]);
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let ask = |ix: &Index| {
            ix.content_candidates(&[ContentColumn::Body], "hello", usize::MAX, far)
                .unwrap()
                .map(|c| c.ids)
        };
        assert_eq!(ask(&ix), Some(vec![MessageId(1)]));
        ix.start_reindex().unwrap();
        assert_eq!(ask(&ix), None);
        put(&mut ix, &[(1, hello("hello")), (2, hello("hello world"))]);
        assert_eq!(ask(&ix), None);
        ix.finish_reindex().unwrap();
        assert_eq!(ask(&ix), Some(vec![MessageId(1), MessageId(2)]));
    }

    /// Long fields are stored packed and short ones as TEXT; the exact check reads both, and a
    /// reindex's restore of words from the stored text too; a damaged packed field fails the
    /// check with `Corrupt` rather than passing or panicking.
    #[test]
    fn packed_and_plain_stored_text_are_checked_alike() {
        let (_dir, mut ix) = index_with_two_messages();
        let long = format!(
            "{} needle {}",
            "lorem ipsum ".repeat(30),
            "dolor ".repeat(30)
        );
        put(
            &mut ix,
            &[(1, text("a long one", &long)), (2, text("x", "needle"))],
        );
        let kinds: Vec<String> = column(
            &ix,
            "SELECT typeof(body) FROM message_text_store ORDER BY id",
        );
        assert_eq!(kinds, ["blob", "text"]);
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let has = |needle: &'static str| {
            move |t: &[&[u8]]| t[0].windows(needle.len()).any(|w| w == needle.as_bytes())
        };
        let both = [MessageId(1), MessageId(2)];
        let check = |ix: &Index, needle| {
            ix.content_filter(&both, &[ContentColumn::Body], far, &has(needle))
        };
        assert_eq!(check(&ix, "needle").unwrap(), both);
        assert_eq!(check(&ix, "dolor dolor").unwrap(), [MessageId(1)]);
        // Words restored from the stored text (a reindex's damaged blobs): packed too.
        ix.start_reindex().unwrap();
        ix.restore_words(&both).unwrap();
        ix.finish_reindex().unwrap();
        let found = ix
            .content_candidates(&[ContentColumn::Body], "dolor", usize::MAX, far)
            .unwrap()
            .unwrap();
        assert_eq!(found.ids, [MessageId(1)]);
        // A packed field cut short.
        ix.conn
            .execute(
                "UPDATE message_text_store SET body = substr(body, 1, length(body) - 3) WHERE id = 1",
                [],
            )
            .unwrap();
        assert!(matches!(check(&ix, "needle"), Err(IndexError::Corrupt(_))));
    }

    /// Words staged (sql/0015) and words moved into `words` are found alike by every kind of
    /// lookup (a whole word, a word's start, end or inside, and a pass for two characters), and
    /// keep their ids when they move.
    #[test]
    fn staged_and_moved_words_are_found_by_every_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let text = |i: i64| format!("one pre{i:02}mid tail{i:02}end");
        let staged = |ix: &Index| column::<String>(ix, "SELECT word FROM staged_words");
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let check = |ix: &Index, ids: &[i64]| {
            let mut exact = 0;
            for k in [1, 16, 101, 103] {
                let p = format!("{k:02}");
                let two = p[p.len() - 2..].to_string();
                for needle in [
                    format!("{p}mi"),
                    format!("{p}mid tail"),
                    format!("mid tail{p}"),
                    // Only the word's start is looked up: "d" alone would be a pass.
                    format!("d tail{p}"),
                    format!("e pre{p}mid t"),
                    two,
                ] {
                    let want: Vec<MessageId> = ids
                        .iter()
                        .filter(|&&i| text(i).contains(&needle))
                        .map(|&i| MessageId(i))
                        .collect();
                    let got = ix
                        .content_candidates(&[ContentColumn::Body], &needle, usize::MAX, far)
                        .unwrap()
                        .unwrap();
                    assert!(want.iter().all(|w| got.ids.contains(w)), "{needle}");
                    if got.exact {
                        assert_eq!(got.ids, want, "{needle}");
                    }
                    exact += usize::from(got.exact);
                }
            }
            exact
        };
        // 33 new words: moved at the batch's end.
        let n = STAGED_WORDS_MAX as i64;
        put_bodies(&mut ix, 1..=n, text);
        assert!(staged(&ix).is_empty());
        let moved = vocabulary(&ix);
        assert_eq!(moved.len(), 1 + 2 * STAGED_WORDS_MAX);
        // Six more: staged.
        put_bodies(&mut ix, 101..=103, text);
        assert_eq!(staged(&ix).len(), 6);
        let both = vocabulary(&ix);
        assert_eq!(both[..moved.len()], moved[..], "moved words keep their ids");
        let mut ids: Vec<i64> = (1..=n).chain(101..=103).collect();
        let exact = check(&ix, &ids);
        assert_eq!(exact, 8, "the one-segment needles' answers are exact");
        // A batch that moves the staged words with its own.
        put_bodies(&mut ix, 201..=200 + n, text);
        assert!(staged(&ix).is_empty());
        let all = vocabulary(&ix);
        assert_eq!(
            all[..both.len()],
            both[..],
            "staged words keep their ids when moved"
        );
        ids.extend(201..=200 + n);
        let exact = check(&ix, &ids);
        assert_eq!(exact, 8, "the one-segment needles' answers are exact");
        // At the bound: one word short of STAGED_WORDS_MAX stays staged, the one that reaches
        // it moves them all.
        put_bodies(&mut ix, 301..=300 + n - 1, |i| format!("single{i}"));
        assert_eq!(staged(&ix).len(), STAGED_WORDS_MAX - 1);
        put_bodies(&mut ix, 400..=400, |i| format!("single{i}"));
        assert!(staged(&ix).is_empty());
        assert_eq!(vocabulary(&ix).len(), all.len() + STAGED_WORDS_MAX);
    }

    /// A string of one or two characters is looked up by a pass over the whole vocabulary, in
    /// two halves of its ids once it is large: words from both halves (and the one where they
    /// meet) are found.
    #[test]
    fn a_pass_over_a_large_vocabulary_finds_words_in_both_halves() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        // Word i is the only word of message i: more than SPLIT_AFTER * 16 of them.
        let n = (SPLIT_AFTER * 16 + 36) as i64;
        put_bodies(&mut ix, 1..=n, |i| format!("q{i:03}z"));
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let got = ix
            .content_candidates(&[ContentColumn::Body], "0z", usize::MAX, far)
            .unwrap()
            .unwrap();
        let want: Vec<MessageId> = (1..=n).filter(|i| i % 10 == 0).map(MessageId).collect();
        assert!(want.contains(&MessageId(n / 2)), "the middle word matches");
        assert_eq!((got.ids, got.exact), (want, true));
    }

    /// The writer's memory of word ids at VOCABULARY_CACHE_MAX words and one more, across
    /// transactions and within one: it stays within the bound, and words it forgot keep their
    /// ids (found again in `words`, not added twice), so every message is found by each of its
    /// words.
    #[test]
    fn the_vocabulary_cache_stays_bounded_and_ids_stay_right() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let n = VOCABULARY_CACHE_MAX as i64;
        // Message 1: N distinct words; message 2: one more; message 3: all of them again.
        let word = |k: i64| format!("v{k}");
        let all = (1..=n + 1).map(word).collect::<Vec<_>>().join(" ");
        put_bodies(&mut ix, 1..=1, |_| {
            (1..=n).map(word).collect::<Vec<_>>().join(" ")
        });
        assert_eq!(ix.vocabulary.committed.len(), VOCABULARY_CACHE_MAX);
        put_bodies(&mut ix, 2..=2, |_| word(n + 1));
        assert!(ix.vocabulary.committed.len() <= VOCABULARY_CACHE_MAX);
        put_bodies(&mut ix, 3..=3, |_| all.clone());
        assert!(ix.vocabulary.committed.len() <= VOCABULARY_CACHE_MAX);
        assert_eq!(vocabulary(&ix).len() as i64, n + 1);
        let far = Instant::now() + std::time::Duration::from_secs(60);
        for k in 1..=n + 1 {
            let got = ix
                .content_candidates(&[ContentColumn::Body], &word(k), usize::MAX, far)
                .unwrap()
                .unwrap();
            let first = if k <= n { 1 } else { 2 };
            assert_eq!(got.ids, vec![MessageId(first), MessageId(3)], "{}", word(k));
        }
        // One transaction adding N + 1 new words: more than the memory may hold at once.
        let new = |k: i64| format!("n{k}");
        put_bodies(&mut ix, 4..=4, |_| {
            (1..=n + 1).map(new).collect::<Vec<_>>().join(" ")
        });
        assert!(ix.vocabulary.committed.len() <= VOCABULARY_CACHE_MAX);
        for k in [1, n + 1] {
            let got = ix
                .content_candidates(&[ContentColumn::Body], &new(k), usize::MAX, far)
                .unwrap()
                .unwrap();
            assert_eq!(got.ids, vec![MessageId(4)], "{}", new(k));
        }
    }

    /// A word's rows, and the candidates of an exact check, at SPLIT_AFTER - 1, SPLIT_AFTER
    /// and SPLIT_AFTER + 1: read on one connection, split with nothing left for the other half,
    /// and split with one; each answer whole.
    #[test]
    fn reads_at_the_split_and_on_either_side_are_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        let sizes = [SPLIT_AFTER - 1, SPLIT_AFTER, SPLIT_AFTER + 1];
        // Word `w{n}` in the first n messages; stored messages too, whose largest id is where
        // the halves of a word's rest are cut (so for SPLIT_AFTER + 1 the one message left is
        // where they meet).
        let last = SPLIT_AFTER as i64 + 1;
        let made: Vec<_> = (1..=last as u8)
            .map(super::super::ingest::test_message)
            .collect();
        ix.commit_ingest(&made, &[], &[]).unwrap();
        put_bodies(&mut ix, 1..=last, |i| {
            let words: Vec<String> = sizes
                .iter()
                .filter(|&&n| i <= n as i64)
                .map(|n| format!("w{n}"))
                .collect();
            format!("x {}", words.join(" "))
        });
        let far = Instant::now() + std::time::Duration::from_secs(60);
        for n in sizes {
            let want: Vec<MessageId> = (1..=n as i64).map(MessageId).collect();
            let got = ix
                .content_candidates(&[ContentColumn::Body], &format!("w{n}"), usize::MAX, far)
                .unwrap()
                .unwrap();
            assert_eq!((&got.ids, got.exact), (&want, true), "w{n}");
            let every = |_: &[&[u8]]| true;
            let checked = ix
                .content_filter(&want, &[ContentColumn::Body], far, &every)
                .unwrap();
            assert_eq!(checked, want, "{n} candidates");
        }
    }

    /// A word's rows read in two halves: the partner connection's snapshot is later than the
    /// searcher's, and when a reindex has begun in between (the words' index emptied), the
    /// searcher reads that half itself, in its own snapshot, instead of taking the partner's
    /// empty answer.
    #[test]
    fn a_split_read_keeps_the_searchers_snapshot_when_a_reindex_begins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.sqlite");
        let mut ix = Index::open(&path).unwrap();
        let made: Vec<_> = (1..=40).map(super::super::ingest::test_message).collect();
        ix.commit_ingest(&made, &[], &[]).unwrap();
        put_bodies(&mut ix, 1..=40, |i| format!("common w{i}"));
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let ask = |ix: &Index| {
            ix.content_candidates(&[ContentColumn::Body], "common", usize::MAX, far)
                .unwrap()
                .map(|c| c.ids)
        };
        let all: Vec<MessageId> = (1..=40).map(MessageId).collect();
        assert_eq!(ask(&ix), Some(all.clone()), "more than SPLIT_AFTER rows");
        // The searcher's snapshot begins here; then another connection starts a reindex.
        let snapshot = ix.conn.unchecked_transaction().unwrap();
        let _: i64 = ix
            .conn
            .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        Index::open(&path).unwrap().start_reindex().unwrap();
        assert_eq!(ask(&ix), Some(all));
        drop(snapshot);
        assert_eq!(ask(&ix), None, "the reindex is seen once the snapshot ends");
    }

    /// Words added by a transaction that did not commit are forgotten: their ids were rolled
    /// back with it, and a later message with the word must add it again.
    #[test]
    fn words_of_a_rolled_back_transaction_are_added_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
        {
            let tx = ix.conn.transaction().unwrap();
            let committed = ix.vocabulary.committed();
            ix.vocabulary.begin(&tx, 1).unwrap();
            ix.vocabulary.id(&tx, &committed.read(), "lost").unwrap();
            // Dropped: rolled back.
        }
        ix.vocabulary.settle(false);
        put(
            &mut ix,
            &[(
                1,
                SearchText {
                    body: "lost".into(),
                    ..SearchText::default()
                },
            )],
        );
        let lost = vocabulary(&ix).into_iter().filter(|(_, w)| w == "lost");
        assert_eq!(lost.count(), 1);
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let found = ix
            .content_candidates(&[ContentColumn::Body], "los", 10, far)
            .unwrap()
            .unwrap();
        assert_eq!(found.ids, vec![MessageId(1)]);
    }

    /// An archive at schema 10 (0006's trigram tokens) with content rows: after the 0011
    /// migration, candidates are not asked of the new, empty index (text searches check every
    /// message's stored text) until a reindex has filled it.
    #[test]
    fn migrated_archive_checks_stored_text_until_reindexed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.sqlite");
        {
            let db = rusqlite::Connection::open(&path).unwrap();
            super::super::migrate::schema_before(&db, "0011");
            db.execute_batch(
                "INSERT INTO message_text_store VALUES (1, '', '', '', '', 'hello', '', 'world');
                 INSERT INTO message_grams (rowid, grams) VALUES (1, 'sabcdef');
                 UPDATE content_state SET grams_pending = 0;",
            )
            .unwrap();
        }
        let mut ix = Index::open(&path).unwrap();
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let cols = [ContentColumn::Subject];
        assert_eq!(
            ix.content_candidates(&cols, "hello", 10, far).unwrap(),
            None
        );
        // What reindex does.
        put(
            &mut ix,
            &[(
                1,
                SearchText {
                    subject: "hello".into(),
                    body: "world".into(),
                    ..SearchText::default()
                },
            )],
        );
        ix.finish_reindex().unwrap();
        // The index answers now (message 1 has no `messages` row, so the reindex's end dropped
        // its content row: no candidates).
        assert_eq!(
            ix.content_candidates(&cols, "hello", 10, far).unwrap(),
            Some(Candidates {
                ids: vec![],
                exact: true
            })
        );
    }
}
