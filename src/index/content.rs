//! The content index (`sql/0003_content.sql`, `sql/0006_content_grams.sql`, issue 3): the
//! case-folded searchable text of each stored message (`message_text_store`) and an FTS5 index
//! of its trigrams (`message_grams`) for candidates; both keyed by `messages.id`.
//!
//! Owns: turning a message's text into its content row ([`ContentRow`]: the text and its
//! distinct trigram tokens), writing content rows (in the ingest transaction, see `ingest`, and
//! for `imapvault reindex`), turning a search string into an FTS5 MATCH argument, and reading
//! the stored text back for the exact check. Knows no IMAP: the caller decides what matches.
//!
//! The trigram tokens (DESIGN §4). Each field's text is cut into every run of 3 characters,
//! as FTS5's `trigram` tokenizer would, but here, once per *distinct* trigram per field: the
//! index only ever answers "which rows hold this trigram in this field", so repeats add nothing
//! but work (FTS5's trigram tokenizer spent half of the ingest time writing them, 12 trigrams
//! per distinct one in the generated corpus, ~2.5 in natural text). A token is the field's
//! letter followed by a 30-bit hash of the trigram in base 32 (`x` + 6 characters for body
//! text), so one FTS5 column with `detail=none` serves every field, and FTS5's `ascii`
//! tokenizer splits the list without looking at the text. Two trigrams may share a hash; that
//! only adds candidates, which the exact check against `message_text_store` removes, so answers
//! stay exact.
//!
//! Safety of MATCH (DESIGN §4): a client's string never becomes FTS5 query syntax. The MATCH
//! argument is built here from our own tokens (letters and digits of our alphabet, each
//! written as an FTS5 string), joined by `AND`/`OR`. So `NEAR`, `OR`, `*`, `^` and `col:` in a
//! search string are characters like any other: they only change which hashes are asked for.

use std::cell::RefCell;
use std::time::Instant;

use rusqlite::types::ValueRef;
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::{Index, IndexError, MessageId};
use crate::mime::sort::SortKeys;
use crate::mime::text::SearchText;
use crate::store::BlobRef;

/// Trigrams put into one MATCH at most. A longer needle contributes evenly spaced trigrams
/// (first and last included): fewer constraints only widen the candidate set, which the exact
/// check narrows again, and the query stays small whatever the client sends.
const MAX_TRIGRAMS: usize = 16;

/// Rows read between two looks at the deadline.
const DEADLINE_EVERY: usize = 256;

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

impl ContentColumn {
    /// The column's name in `message_text` (a constant: the only names put into SQL text).
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

    /// The letter that starts this field's tokens in `message_grams`.
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

/// Bits of a trigram's hash kept in its token: 6 characters of base 32. With a few million
/// distinct trigrams in an archive, a given trigram shares its hash with another one about
/// once in a few hundred; that costs only extra candidates (see the module docs).
const GRAM_BITS: u32 = 30;

/// The token alphabet: letters and digits only, so that FTS5's `ascii` tokenizer keeps a token
/// whole, and lower case, which it would fold to anyway.
const TOKEN_DIGITS: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The hash of the trigram `a b c`: the three code points (21 bits each) packed into 63 bits,
/// then multiplied by 2^64/φ (Fibonacci hashing), keeping the top [`GRAM_BITS`].
fn gram_hash(a: char, b: char, c: char) -> u32 {
    let packed = u64::from(a) | (u64::from(b) << 21) | (u64::from(c) << 42);
    (packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - GRAM_BITS)) as u32
}

/// The token of trigram hash `h` in field `column`: its letter and [`GRAM_BITS`] / 5 digits of
/// [`TOKEN_DIGITS`], all ASCII.
fn token(column: ContentColumn, h: u32) -> [u8; 7] {
    let mut t = [column.token_letter(); 7];
    for (digit, shift) in t[1..].iter_mut().zip((0..GRAM_BITS).step_by(5).rev()) {
        *digit = TOKEN_DIGITS[(h >> shift) as usize & 31];
    }
    t
}

/// Appends the token of trigram hash `h` in field `column` to `out`.
fn push_token(out: &mut String, column: ContentColumn, h: u32) {
    out.extend(token(column, h).map(char::from));
}

/// A set of trigram hashes for one text at a time, reused from text to text: open addressing,
/// each slot holding the text's generation number (high half) and hash + 1 (low half), so a
/// new text starts with an empty set without clearing the slots.
///
/// The table is sized for the distinct trigrams seen, not for the text's length: natural text
/// of 40 KB has a few thousand distinct trigrams, and a table of 2 × 40 K slots (the old
/// sizing, kept at the largest text's size) spread them over 1 MiB, where the import's prepare
/// threads and its SQLite writer, sharing two cores' caches, missed on them. It starts small
/// and doubles whenever it is a quarter full ([`GRAM_SET_FILL`]), rehashing from `out` (which
/// holds exactly this text's hashes).
#[derive(Default)]
struct GramSet {
    slots: Vec<u64>,
    generation: u64,
}

/// Slots of a new [`GramSet`]: 16 KiB, in L1 for the many short header fields.
const GRAM_SET_MIN_SLOTS: usize = 2048;

/// A [`GramSet`] grows when its distinct trigrams reach 1/GRAM_SET_FILL of its slots: linear
/// probing's chains stay short, and the table stays small. (Measured on `import` of the
/// 10,000-message bench corpus, perf samples in `distinct`: 600-620 at a quarter full, 780 for
/// a table of 4 × the text's length, 820-860 for the old 2 × length.)
const GRAM_SET_FILL: usize = 4;

impl GramSet {
    /// The distinct trigram hashes of `text`, in order of first appearance, into `out`.
    fn distinct(&mut self, text: &str, out: &mut Vec<u32>) {
        out.clear();
        if self.slots.is_empty() || self.generation >= u64::from(u32::MAX) {
            self.slots = vec![0; self.slots.len().max(GRAM_SET_MIN_SLOTS)];
            self.generation = 0;
        }
        self.generation += 1;
        let mut chars = text.chars();
        let (Some(mut a), Some(mut b)) = (chars.next(), chars.next()) else {
            return;
        };
        let mut limit = self.slots.len() / GRAM_SET_FILL;
        for c in chars {
            let h = gram_hash(a, b, c);
            if self.insert(h) {
                out.push(h);
                if out.len() >= limit {
                    self.grow(out);
                    limit = self.slots.len() / GRAM_SET_FILL;
                }
            }
            a = b;
            b = c;
        }
    }

    /// Adds `h` to this generation's set; whether it was new.
    fn insert(&mut self, h: u32) -> bool {
        let tagged = (self.generation << 32) | u64::from(h + 1);
        let mask = self.slots.len() - 1;
        // The low bits of the hash are as mixed as the rest (they are the product's middle
        // bits); linear probing from there.
        let mut i = h as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == tagged {
                return false;
            }
            if slot >> 32 != self.generation {
                self.slots[i] = tagged;
                return true;
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the table, keeping this generation's hashes (`current`, all of them).
    fn grow(&mut self, current: &[u32]) {
        self.slots = vec![0; self.slots.len() * 2];
        for &h in current {
            self.insert(h);
        }
    }
}

thread_local! {
    /// Each ingest or reindex thread's trigram set (grown to its largest text, reused).
    static GRAM_SET: RefCell<GramSet> = RefCell::default();
}

/// One message's content row: its folded text (for `message_text_store`, the exact check)
/// and the distinct trigram tokens of each field (for `message_grams`, the candidates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentRow {
    text: SearchText,
    tokens: String,
}

impl ContentRow {
    /// The row of `text`, which must already be folded (`mime::text::extract(..).folded()`).
    /// Pure CPU work, done before the ingest transaction (and off the writer thread).
    pub fn new(text: SearchText) -> ContentRow {
        let fields = [
            (ContentColumn::From, &text.from),
            (ContentColumn::To, &text.to),
            (ContentColumn::Cc, &text.cc),
            (ContentColumn::Bcc, &text.bcc),
            (ContentColumn::Subject, &text.subject),
            (ContentColumn::Headers, &text.headers),
            (ContentColumn::Body, &text.body),
        ];
        // Built as bytes (a token is 7 ASCII bytes, copied at once), made a String at the end.
        let mut tokens = Vec::new();
        let mut hashes = Vec::new();
        GRAM_SET.with(|set| {
            let mut set = set.borrow_mut();
            for (column, field) in fields {
                set.distinct(field, &mut hashes);
                tokens.reserve(hashes.len() * 8);
                for &h in &hashes {
                    if !tokens.is_empty() {
                        tokens.push(b' ');
                    }
                    tokens.extend_from_slice(&token(column, h));
                }
            }
        });
        // Only ASCII letters, digits and spaces were written: valid UTF-8, never the default.
        let tokens = String::from_utf8(tokens).unwrap_or_default();
        ContentRow { text, tokens }
    }

    /// The folded text.
    pub fn text(&self) -> &SearchText {
        &self.text
    }
}

/// The FTS5 MATCH argument that finds every row whose `columns` may contain `needle` (already
/// folded), or None when the needle is shorter than a trigram (3 characters): the trigram index
/// cannot help, and the caller scans instead.
///
/// The result is a superset: the trigrams may lie in different columns or places, and hashes
/// may collide. For each distinct trigram of the needle (at most [`MAX_TRIGRAMS`], evenly
/// spaced), one of the columns must hold its token: with two columns and two trigrams,
/// `("hAAAAAA" OR "xAAAAAA") AND ("hBBBBBB" OR "xBBBBBB")`.
pub fn fts_query(columns: &[ContentColumn], needle: &str) -> Option<String> {
    if columns.is_empty() || needle.chars().nth(2).is_none() {
        return None;
    }
    let mut grams = Vec::new();
    GRAM_SET.with(|set| set.borrow_mut().distinct(needle, &mut grams));
    if grams.len() > MAX_TRIGRAMS {
        let n = grams.len();
        grams = (0..MAX_TRIGRAMS)
            .map(|i| grams[i * (n - 1) / (MAX_TRIGRAMS - 1)])
            .collect();
    }
    let mut q = String::new();
    for (i, &g) in grams.iter().enumerate() {
        if i > 0 {
            q.push_str(" AND ");
        }
        q.push('(');
        for (j, &c) in columns.iter().enumerate() {
            if j > 0 {
                q.push_str(" OR ");
            }
            // An FTS5 string (sqlite.org/fts5.html §3.1); our tokens hold no `"`.
            q.push('"');
            push_token(&mut q, c, g);
            q.push('"');
        }
        q.push(')');
    }
    Some(q)
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

    /// The messages whose `columns` may contain `needle` (folded, at least 3 characters):
    /// candidates for the exact check, in no particular order. `Ok(None)` when the trigram
    /// index cannot answer: the needle is too short, or the index is still being rebuilt after
    /// the 0006 migration (then every message's stored text is checked, slowly but exactly).
    /// Fails with [`IndexError::Deadline`] past `deadline`.
    pub fn content_candidates(
        &self,
        columns: &[ContentColumn],
        needle: &str,
        deadline: Instant,
    ) -> Result<Option<Vec<MessageId>>, IndexError> {
        let Some(query) = fts_query(columns, needle) else {
            return Ok(None);
        };
        let pending: bool = self
            .conn
            .prepare_cached("SELECT grams_pending FROM content_state WHERE id = 1")?
            .query_row([], |r| r.get(0))
            .optional()?
            .unwrap_or(false);
        if pending {
            return Ok(None);
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rowid FROM message_grams WHERE message_grams MATCH ?1")?;
        let mut rows = stmt.query(params![query])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(MessageId(r.get(0)?));
            if out.len() % DEADLINE_EVERY == 0 && Instant::now() >= deadline {
                return Err(IndexError::Deadline);
            }
        }
        Ok(Some(out))
    }

    /// Of `ids`, the messages whose stored (folded) text of `columns` passes `test`, which gets
    /// the columns' texts in that order as UTF-8 bytes (a message without a content row never
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
        test: &mut dyn FnMut(&[&[u8]]) -> bool,
    ) -> Result<Vec<MessageId>, IndexError> {
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let names: Vec<&str> = columns.iter().map(|c| c.sql_name()).collect();
        // Column names are our constants; the id is bound.
        let sql = format!(
            "SELECT {} FROM message_text_store WHERE id = ?1",
            names.join(", ")
        );
        // A read transaction unless the caller already has one open; rolled back (it wrote
        // nothing) when dropped.
        let _snapshot = if self.conn.is_autocommit() {
            Some(self.conn.unchecked_transaction()?)
        } else {
            None
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut out = Vec::new();
        for (n, &id) in sorted.iter().enumerate() {
            if n % DEADLINE_EVERY == 0 && Instant::now() >= deadline {
                return Err(IndexError::Deadline);
            }
            let mut rows = stmt.query(params![id.0])?;
            let Some(row) = rows.next()? else {
                continue;
            };
            let mut texts: Vec<&[u8]> = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                // Stored as TEXT by `insert_content`; a NULL (never written) reads as empty.
                texts.push(match row.get_ref(i)? {
                    ValueRef::Text(t) | ValueRef::Blob(t) => t,
                    _ => &[],
                });
            }
            if test(&texts) {
                out.push(id);
            }
        }
        Ok(out)
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
    /// rows (folded text and its trigram tokens), the PREVIEW text, the attachment fact and the
    /// SORT/THREAD keys.
    pub fn replace_content(&mut self, rows: &[Reindexed]) -> Result<(), IndexError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for r in rows {
            super::sort::put_sort_keys(&tx, r.id, &r.sort)?;
            tx.prepare_cached("DELETE FROM message_grams WHERE rowid = ?1")?
                .execute(params![r.id.0])?;
            tx.prepare_cached("DELETE FROM message_text_store WHERE id = ?1")?
                .execute(params![r.id.0])?;
            insert_content(&tx, r.id, &r.content)?;
            tx.prepare_cached(
                "UPDATE messages SET preview = ?2, has_attachment = ?3 WHERE id = ?1",
            )?
            .execute(params![r.id.0, r.preview, r.has_attachment])?;
        }
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
            "DELETE FROM message_grams WHERE rowid IN
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
    /// The content row (folded text and its trigram tokens).
    pub content: ContentRow,
    /// The PREVIEW text (RFC 8970).
    pub preview: String,
    /// Whether the message has an attachment (the `$HasAttachment` keyword).
    pub has_attachment: bool,
    /// The SORT and THREAD keys (`mime::sort`).
    pub sort: SortKeys,
}

/// Inserts the content row of message `id`.
pub(super) fn insert_content(
    tx: &Transaction<'_>,
    id: MessageId,
    row: &ContentRow,
) -> Result<(), IndexError> {
    let t = &row.text;
    tx.prepare_cached(
        "INSERT INTO message_text_store (id, from_addr, to_addr, cc_addr, bcc_addr, subject,
                                         headers, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        id.0, t.from, t.to, t.cc, t.bcc, t.subject, t.headers, t.body
    ])?;
    tx.prepare_cached("INSERT INTO message_grams (rowid, grams) VALUES (?1, ?2)")?
        .execute(params![id.0, row.tokens])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of a text, split.
    fn tokens(t: &str) -> Vec<String> {
        let row = ContentRow::new(SearchText {
            body: t.to_owned(),
            ..SearchText::default()
        });
        row.tokens.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn tokens_are_distinct_trigrams_of_each_field() {
        // "abcabcabc": trigrams abc, bca, cab, abc, ... : three distinct.
        let t = tokens("abcabcabc");
        assert_eq!(t.len(), 3);
        assert!(t.iter().all(|k| k.len() == 7 && k.starts_with('x')));
        assert!(t
            .iter()
            .all(|k| k.bytes().all(|b| TOKEN_DIGITS.contains(&b) || b == b'x')));
        assert_eq!(tokens("ab"), vec![String::new()]);
        // The same trigram in two fields gives two tokens, by field letter.
        let row = ContentRow::new(SearchText {
            from: "abc".into(),
            body: "abc".into(),
            ..SearchText::default()
        });
        let t: Vec<&str> = row.tokens.split(' ').collect();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0][1..], t[1][1..]);
        assert_eq!((&t[0][..1], &t[1][..1]), ("f", "x"));
        // A long text after a short one, and again: the reused set forgets the earlier text.
        let long: String = ('a'..='z').cycle().take(5000).collect();
        assert_eq!(tokens(&long).len(), 26);
        assert_eq!(tokens("abcabc").len(), 3);
    }

    /// A token as written one character at a time before [`token`].
    fn token_reference(column: ContentColumn, h: u32) -> String {
        let mut out = String::from(char::from(column.token_letter()));
        for shift in (0..GRAM_BITS).step_by(5).rev() {
            out.push(char::from(TOKEN_DIGITS[(h >> shift) as usize & 31]));
        }
        out
    }

    #[test]
    fn token_equals_reference() {
        let mut rng = crate::test_rng::Rng::new(7);
        for i in 0..5000u32 {
            let h = if i < 64 {
                i
            } else {
                rng.next() as u32 >> (32 - GRAM_BITS)
            };
            let column = [
                ContentColumn::From,
                ContentColumn::Subject,
                ContentColumn::Body,
            ][i as usize % 3];
            assert_eq!(
                &token(column, h)[..],
                token_reference(column, h).as_bytes(),
                "{h}"
            );
        }
    }

    /// The distinct trigram hashes by the simplest means: a `HashSet` of those seen.
    fn distinct_reference(text: &str) -> Vec<u32> {
        let chars: Vec<char> = text.chars().collect();
        let mut seen = std::collections::HashSet::new();
        chars
            .windows(3)
            .map(|w| gram_hash(w[0], w[1], w[2]))
            .filter(|&h| seen.insert(h))
            .collect()
    }

    /// The reused, growing table gives the reference's hashes in the same order, for short and
    /// long texts one after another (growth mid-text, old generations left in the slots).
    #[test]
    fn gram_set_equals_reference() {
        let pieces = [
            "a",
            "b",
            "c",
            " ",
            "the ",
            "report",
            "Müller",
            "ü",
            "日本語",
            "\n",
            "x",
            "€",
            "\0",
        ];
        let mut set = GramSet::default();
        let mut out = Vec::new();
        for seed in 0..300u64 {
            let mut rng = crate::test_rng::Rng::new(seed);
            let len = match seed % 4 {
                0 => rng.below(8),
                1 => rng.below(200),
                2 => rng.below(3000),
                _ => rng.below(20_000),
            };
            let mut text = rng.text_of(&pieces, len);
            if seed % 5 == 0 {
                // Many distinct trigrams: every slot of a small table would fill.
                text.extend((0..len as u32).filter_map(|i| char::from_u32(0x4e00 + i % 9000)));
            }
            set.distinct(&text, &mut out);
            assert_eq!(out, distinct_reference(&text), "seed {seed}");
            if seed % 50 == 0 {
                // The generation number running out: the table is cleared, not misread.
                set.generation = u64::from(u32::MAX) - 1;
            }
        }
    }

    /// An archive at schema 3 (0003's `message_text`) with content rows: after the 0006
    /// migration, candidates are not asked of the new, empty index (text searches check every
    /// message's stored text) until a reindex has filled it.
    #[test]
    fn migrated_archive_checks_stored_text_until_reindexed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.sqlite");
        {
            let db = rusqlite::Connection::open(&path).unwrap();
            for sql in [
                include_str!("../../sql/0001_init.sql"),
                include_str!("../../sql/0002_mailbox_counters.sql"),
                include_str!("../../sql/0003_content.sql"),
            ] {
                db.execute_batch(sql).unwrap();
            }
            db.execute_batch(
                "INSERT INTO message_text_store VALUES (1, '', '', '', '', 'hello', '', 'world');
                 INSERT INTO message_text (rowid, subject, body) VALUES (1, 'hello', 'world');
                 PRAGMA user_version = 3;",
            )
            .unwrap();
        }
        let mut ix = Index::open(&path).unwrap();
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let cols = [ContentColumn::Subject];
        assert_eq!(ix.content_candidates(&cols, "hello", far).unwrap(), None);
        // What reindex does.
        let row = ContentRow::new(SearchText {
            subject: "hello".into(),
            body: "world".into(),
            ..SearchText::default()
        });
        ix.replace_content(&[Reindexed {
            id: MessageId(1),
            content: row,
            preview: String::new(),
            has_attachment: false,
            sort: SortKeys::default(),
        }])
        .unwrap();
        ix.finish_reindex().unwrap();
        // The index answers now (message 1 has no `messages` row, so the reindex's end dropped
        // its content row: no candidates).
        assert_eq!(
            ix.content_candidates(&cols, "hello", far).unwrap(),
            Some(vec![])
        );
    }

    #[test]
    fn match_argument_asks_each_trigram_in_any_column() {
        assert_eq!(fts_query(&[ContentColumn::Body], "ab"), None);
        assert_eq!(fts_query(&[], "abc"), None);
        let q = fts_query(&[ContentColumn::Headers, ContentColumn::Body], "a\"b c").unwrap();
        // Three distinct trigrams, each in either column; nothing of the needle itself.
        assert_eq!(q.matches(" AND ").count(), 2);
        assert_eq!(q.matches(" OR ").count(), 3);
        assert!(!q.contains("b c") && !q.contains("\"\""), "{q}");
        let body = tokens("xa\"b cy");
        for part in q.split(" AND ") {
            let x = part.split(" OR ").nth(1).unwrap().trim_matches([')', '"']);
            assert!(body.iter().any(|t| t == x), "{x} not in {body:?}");
        }
        assert_eq!(
            fts_query(&[ContentColumn::Subject], "aaaa")
                .unwrap()
                .matches('"')
                .count(),
            2
        );
        // FTS5 syntax in a needle is text: it only picks hashes.
        let q = fts_query(&[ContentColumn::Body], "NEAR(a* OR ^b)").unwrap();
        assert!(
            !q.contains("NEAR") && !q.contains('*') && !q.contains('^'),
            "{q}"
        );
        let long: String = ('a'..='z').collect();
        let q = fts_query(&[ContentColumn::Body], &long).unwrap();
        assert_eq!(q.matches(" AND ").count(), MAX_TRIGRAMS - 1);
    }
}
