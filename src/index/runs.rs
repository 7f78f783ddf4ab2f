//! Frequent tokens' runs (`sql/0013_token_runs.sql`, issue 3): which tokens (a word in one
//! field) are frequent, writing a large transaction's messages of each frequent token as one
//! run of ids per token, and reading a word's runs back for a search.
//!
//! Why: a common word's rows in `message_words` come out of FTS5 one step of SQLite's virtual
//! machine at a time, ~100 ns a row; a word in 40 % of 1,000,000 messages cost ~40 ms that way,
//! most of its search. A run holds a batch's ids as varint gaps (about a byte each), read with
//! one B-tree lookup per batch and decoded at memory speed.
//!
//! The rule that keeps a search exact: each message's token is written once, either as a token
//! in `message_words` or into a run, and a search reads both for every token in
//! `frequent_tokens`. A token goes into a run only if it is in `frequent_tokens` in the same
//! transaction or before it, so every run is read. Which tokens a message's writer sends to
//! runs may lag (a thread that prepared the row before the token became frequent sends it to
//! `message_words`): that only costs the search a few FTS5 rows.
//!
//! Knows no IMAP; the token numbering is the content module's ([`token`]).

use std::collections::HashMap;
use std::time::Instant;

use rusqlite::{params, Connection, Transaction};

use super::IndexError;

/// Transactions of fewer messages write no runs (every token to `message_words`): a run per
/// frequent token of a transaction of a few messages (the spool importer's) would cost a
/// lookup per transaction in every search of the token.
#[cfg(not(test))]
const RUNS_MIN_MESSAGES: usize = 256;
/// Small in unit tests, so that their few messages write runs.
#[cfg(test)]
const RUNS_MIN_MESSAGES: usize = 2;

/// Messages whose id is a multiple of this are counted for promotion: their tokens in
/// `message_words`, each once. A sample is enough to tell a token in 1 of 16 messages from a
/// rare one, and costs the writer (which sets an import's pace) 1/16 of counting them all.
#[cfg(not(test))]
const SAMPLE_EVERY: i64 = 16;
#[cfg(test)]
const SAMPLE_EVERY: i64 = 2;

/// A token in at least 1 of this many sampled messages of a transaction becomes frequent (and
/// in at least [`PROMOTE_MIN_SAMPLED`] of them). A word in fewer messages than that has at
/// most ~60,000 rows per million messages to read from FTS5 (~5 ms).
const PROMOTE_SHARE: usize = 16;

/// Sampled messages a token must be in, at least, to become frequent.
#[cfg(not(test))]
const PROMOTE_MIN_SAMPLED: usize = 4;
#[cfg(test)]
const PROMOTE_MIN_SAMPLED: usize = 2;

/// Rows read between two looks at the deadline.
const DEADLINE_EVERY: usize = 64;

/// The token of word `word` in the field numbered `field` (0..8): as `frequent_tokens` and
/// `token_runs` store it, so that a word's fields are neighbours.
pub(super) fn token(field: u8, word: i64) -> i64 {
    word * 8 + i64::from(field)
}

/// The word and field number of `token`.
pub(super) fn token_parts(token: i64) -> (i64, u8) {
    (token >> 3, (token & 7) as u8)
}

/// The ingest writer's state for runs: which tokens are frequent (committed, and added by its
/// open transaction), and what the open transaction has gathered.
#[derive(Default)]
pub(super) struct RunWriter {
    /// Committed frequent tokens, by word: a bit per field number. Read from the database at
    /// the first transaction.
    frequent: Option<HashMap<i64, u8, foldhash::fast::RandomState>>,
    /// Whether the open transaction writes runs ([`RUNS_MIN_MESSAGES`]).
    on: bool,
    /// The open transaction's runs: token → ids.
    ids: HashMap<i64, Vec<i64>, foldhash::fast::RandomState>,
    /// Messages sampled, and how many of them had each token in `message_words`.
    sampled: usize,
    counts: HashMap<i64, u32, foldhash::fast::RandomState>,
    /// Tokens the open transaction made frequent.
    promoted: Vec<i64>,
}

impl RunWriter {
    /// A transaction of `messages` content rows begins.
    pub(super) fn begin(
        &mut self,
        tx: &Transaction<'_>,
        messages: usize,
    ) -> Result<(), IndexError> {
        self.discard();
        if self.frequent.is_none() {
            let mut frequent: HashMap<i64, u8, _> = HashMap::default();
            let mut stmt = tx.prepare("SELECT token FROM frequent_tokens")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                mark(&mut frequent, r.get(0)?);
            }
            self.frequent = Some(frequent);
        }
        self.on = messages >= RUNS_MIN_MESSAGES;
        Ok(())
    }

    /// Whether the open transaction writes runs.
    pub(super) fn on(&self) -> bool {
        self.on
    }

    /// The fields (a bit per field number) in which `word` is a frequent token.
    pub(super) fn frequent_fields(&self, word: i64) -> u8 {
        self.frequent
            .as_ref()
            .and_then(|f| f.get(&word))
            .copied()
            .unwrap_or(0)
    }

    /// Whether `token` is a committed frequent token.
    fn is_frequent(&self, token: i64) -> bool {
        let (word, field) = token_parts(token);
        self.frequent_fields(word) & (1 << field) != 0
    }

    /// Message `id` holds frequent `token` (the transaction writes runs).
    pub(super) fn push(&mut self, token: i64, id: i64) {
        self.ids.entry(token).or_default().push(id);
    }

    /// Whether message `id`'s tokens in `message_words` are to be [`RunWriter::count`]ed.
    pub(super) fn samples(&self, id: i64) -> bool {
        self.on && id % SAMPLE_EVERY == 0
    }

    /// Counts a sampled message's tokens in `message_words` (each once: a field's words are
    /// distinct).
    pub(super) fn count(&mut self, tokens: impl Iterator<Item = i64>) {
        self.sampled += 1;
        for t in tokens {
            *self.counts.entry(t).or_default() += 1;
        }
    }

    /// Before the commit: writes the transaction's runs, and makes frequent the tokens in
    /// enough of its sampled messages.
    pub(super) fn write(&mut self, tx: &Transaction<'_>) -> Result<(), IndexError> {
        if !self.on {
            return Ok(());
        }
        let mut tokens: Vec<i64> = self.ids.keys().copied().collect();
        tokens.sort_unstable();
        for ids in self.ids.values_mut() {
            ids.sort_unstable();
            ids.dedup();
        }
        if let Some(first) = self.ids.values().filter_map(|ids| ids.first()).min() {
            let first = *first;
            tx.prepare_cached("INSERT INTO run_batches (first) VALUES (?1)")?
                .execute(params![first])?;
            let mut insert = tx
                .prepare_cached("INSERT INTO token_runs (first, token, ids) VALUES (?1, ?2, ?3)")?;
            let mut blob = Vec::new();
            for t in tokens {
                blob.clear();
                encode_run(first, &self.ids[&t], &mut blob);
                insert.execute(params![first, t, blob])?;
            }
        }
        if self.sampled >= PROMOTE_MIN_SAMPLED {
            let need = self
                .sampled
                .div_ceil(PROMOTE_SHARE)
                .max(PROMOTE_MIN_SAMPLED);
            // A token already frequent can be counted here too, from a row prepared before it
            // became so: it is not made frequent again.
            let mut promoted: Vec<i64> = self
                .counts
                .iter()
                .filter(|&(&t, &n)| n as usize >= need && !self.is_frequent(t))
                .map(|(&t, _)| t)
                .collect();
            promoted.sort_unstable();
            let mut insert = tx.prepare_cached(
                "INSERT INTO frequent_tokens (token) VALUES (?1) ON CONFLICT DO NOTHING",
            )?;
            for &t in &promoted {
                insert.execute(params![t])?;
            }
            self.promoted = promoted;
        }
        Ok(())
    }

    /// The tokens the open transaction made frequent (after [`RunWriter::write`]).
    pub(super) fn promoted(&self) -> &[i64] {
        &self.promoted
    }

    /// The open transaction committed (`true`: the tokens it made frequent are so from now
    /// on) or did not.
    pub(super) fn settle(&mut self, committed: bool) {
        let promoted = std::mem::take(&mut self.promoted);
        self.discard();
        if let (true, Some(frequent)) = (committed, &mut self.frequent) {
            for t in promoted {
                mark(frequent, t);
            }
        }
    }

    /// Forgets what the open transaction gathered.
    fn discard(&mut self) {
        self.on = false;
        self.ids.clear();
        self.sampled = 0;
        self.counts.clear();
        self.promoted.clear();
    }
}

/// Records frequent `token` in a map of words to their frequent fields.
fn mark(frequent: &mut HashMap<i64, u8, foldhash::fast::RandomState>, token: i64) {
    let (word, field) = token_parts(token);
    *frequent.entry(word).or_default() |= 1 << field;
}

/// Appends `ids` (ascending, distinct, none below `first`) to `out` as varint gaps: the first
/// id minus `first`, then each id minus the one before it (LEB128: 7 bits a byte, low first).
fn encode_run(first: i64, ids: &[i64], out: &mut Vec<u8>) {
    let mut before = first;
    for &id in ids {
        let mut gap = (id - before) as u64;
        before = id;
        while gap >= 0x80 {
            out.push((gap as u8) | 0x80);
            gap >>= 7;
        }
        out.push(gap as u8);
    }
}

/// Appends the ids of a run written by [`encode_run`] to `out`; false if the blob is cut short
/// or a gap does not fit (a damaged row).
fn decode_run(first: i64, blob: &[u8], out: &mut Vec<i64>) -> bool {
    let mut id = first;
    let mut gap = 0u64;
    let mut shift = 0u32;
    for &b in blob {
        if shift > 56 {
            return false;
        }
        gap |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            let Some(next) = i64::try_from(gap).ok().and_then(|g| id.checked_add(g)) else {
                return false;
            };
            id = next;
            out.push(id);
            gap = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    shift == 0
}

/// The messages whose runs hold `word` in one of `fields` (a bit per field number), ascending
/// and distinct: empty if none of those tokens is frequent. Fails with
/// [`IndexError::Deadline`] past `deadline`, and with a database error on a damaged run.
pub(super) fn messages_in_runs(
    conn: &Connection,
    word: i64,
    fields: u8,
    deadline: Instant,
) -> Result<Vec<i64>, IndexError> {
    let (low, high) = (token(0, word), token(7, word));
    let mut frequent = 0u8;
    {
        let mut stmt =
            conn.prepare_cached("SELECT token FROM frequent_tokens WHERE token BETWEEN ?1 AND ?2")?;
        let mut rows = stmt.query(params![low, high])?;
        while let Some(r) = rows.next()? {
            frequent |= 1 << token_parts(r.get(0)?).1;
        }
    }
    let mut out = Vec::new();
    if frequent & fields == 0 {
        return Ok(out);
    }
    // Batch by batch (CROSS JOIN keeps run_batches outside): one B-tree lookup each finds the
    // word's rows, its fields being neighbours.
    let mut stmt = conn.prepare_cached(
        "SELECT r.first, r.token, r.ids FROM run_batches b CROSS JOIN token_runs r
          WHERE r.first = b.first AND r.token BETWEEN ?1 AND ?2",
    )?;
    let mut rows = stmt.query(params![low, high])?;
    let mut read = 0usize;
    let mut sorted = true;
    let mut bits = Vec::new();
    // Where the current batch's ids start in `out`, its first, and how many of its rows.
    let (mut batch_at, mut batch_first, mut batch_rows) = (0usize, None, 0usize);
    while let Some(r) = rows.next()? {
        read += 1;
        if read % DEADLINE_EVERY == 0 && Instant::now() >= deadline {
            return Err(IndexError::Deadline);
        }
        let first: i64 = r.get(0)?;
        let field = token_parts(r.get(1)?).1;
        if fields & (1 << field) == 0 {
            continue;
        }
        if batch_first != Some(first) {
            tidy_batch(&mut out, batch_at, batch_rows, &mut bits);
            batch_at = out.len();
            batch_first = Some(first);
            batch_rows = 0;
        }
        let blob = match r.get_ref(2)? {
            rusqlite::types::ValueRef::Blob(b) => b,
            _ => &[],
        };
        let before = out.len();
        if !decode_run(first, blob, &mut out) {
            return Err(damaged(first, word));
        }
        batch_rows += 1;
        // Batches of one import come in id order; a reindex's rows of damaged messages (see
        // `restore_words`) may not.
        if before == batch_at && before > 0 && out.len() > before && out[before - 1] >= out[before]
        {
            sorted = false;
        }
    }
    tidy_batch(&mut out, batch_at, batch_rows, &mut bits);
    if !sorted {
        out.sort_unstable();
        out.dedup();
    }
    Ok(out)
}

/// A batch's ids from more than one field's run are sorted and made distinct: through a bitmap
/// of the batch's span (an import's batch spans ~1,000 ids), which a common word's search does
/// for every batch, else by sorting. `bits` is scratch space kept between batches.
fn tidy_batch(out: &mut Vec<i64>, at: usize, rows: usize, bits: &mut Vec<u64>) {
    if rows <= 1 {
        return;
    }
    let batch = &out[at..];
    let (Some(&low), Some(&high)) = (batch.iter().min(), batch.iter().max()) else {
        return;
    };
    let span = (high - low) as u64 + 1;
    if span > BITMAP_SPAN_MAX {
        out[at..].sort_unstable();
        let mut batch = out.split_off(at);
        batch.dedup();
        out.extend(batch);
        return;
    }
    bits.clear();
    bits.resize(span.div_ceil(64) as usize, 0);
    for &id in batch {
        let bit = (id - low) as u64;
        bits[(bit / 64) as usize] |= 1 << (bit % 64);
    }
    out.truncate(at);
    for (w, &word) in bits.iter().enumerate() {
        let mut rest = word;
        while rest != 0 {
            out.push(low + (w as i64) * 64 + i64::from(rest.trailing_zeros()));
            rest &= rest - 1;
        }
    }
}

/// The widest batch (largest id − smallest + 1) that [`tidy_batch`] merges through a bitmap
/// (8 KiB of it).
const BITMAP_SPAN_MAX: u64 = 1 << 16;

fn damaged(first: i64, word: i64) -> IndexError {
    IndexError::Corrupt(format!("token_runs row of batch {first}, word {word}"))
}

/// The union of two ascending lists of distinct ids, ascending and distinct.
pub(super) fn union(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_decodes_to_the_ids_it_was_made_of() {
        let mut rng = crate::test_rng::Rng::new(5);
        for round in 0..300 {
            let first = rng.below(1 << 20) as i64;
            let mut ids = vec![first + rng.below(3) as i64];
            for _ in 0..rng.below(50) {
                // Gaps of every varint length.
                let bits = 1 + rng.below(40);
                let gap = 1 + rng.below(1 << bits) as i64;
                ids.push(ids.last().unwrap() + gap);
            }
            let mut blob = Vec::new();
            encode_run(first, &ids, &mut blob);
            let mut back = vec![-1];
            assert!(decode_run(first, &blob, &mut back), "round {round}");
            assert_eq!(back[1..], ids[..], "round {round}");
            // Cut short inside the last varint: refused.
            if blob.len() > 1 && blob[blob.len() - 2] & 0x80 != 0 {
                assert!(!decode_run(first, &blob[..blob.len() - 1], &mut Vec::new()));
            }
        }
        assert!(
            !decode_run(0, &[0xff; 12], &mut Vec::new()),
            "too long a gap"
        );
        assert!(!decode_run(i64::MAX - 1, &[5], &mut Vec::new()), "past i64");
    }

    /// A batch's fields' runs merge into its ids, ascending and once each: through the bitmap
    /// (a narrow batch, across word boundaries) and by sorting (a wide one).
    #[test]
    fn a_batch_of_several_runs_is_merged_in_order() {
        assert_eq!(BITMAP_SPAN_MAX, 65_536);
        let mut bits = Vec::new();
        for (rows, want) in [
            (
                vec![vec![5, 70, 130], vec![6, 70, 200]],
                vec![5, 6, 70, 130, 200],
            ),
            (
                vec![vec![1, 1 << 20], vec![2, 1 << 20]],
                vec![1, 2, 1 << 20],
            ),
            (
                vec![vec![63, 64], vec![0, 127, 128]],
                vec![0, 63, 64, 127, 128],
            ),
            // A span of BITMAP_SPAN_MAX (the bitmap's last bit) and one more (sorted).
            (vec![vec![0, 65_535], vec![65_535]], vec![0, 65_535]),
            (vec![vec![0, 65_536], vec![65_536]], vec![0, 65_536]),
        ] {
            let mut out = vec![-7];
            for r in &rows {
                out.extend(r);
            }
            tidy_batch(&mut out, 1, rows.len(), &mut bits);
            assert_eq!(out[0], -7, "what came before the batch stays");
            assert_eq!(out[1..], want[..]);
        }
        // One row is left as it is.
        let mut out = vec![3, 9];
        tidy_batch(&mut out, 0, 1, &mut bits);
        assert_eq!(out, vec![3, 9]);
    }

    #[test]
    fn a_union_holds_each_id_of_either_list_once_in_order() {
        assert_eq!(union(&[1, 3, 5], &[2, 3, 6, 7]), vec![1, 2, 3, 5, 6, 7]);
        assert_eq!(union(&[], &[4]), vec![4]);
        assert_eq!(union(&[4, 9], &[]), vec![4, 9]);
    }

    #[test]
    fn a_token_names_its_word_and_field() {
        assert_eq!(token_parts(token(6, 1398)), (1398, 6));
        assert_eq!(token(0, 2), 16);
        assert!(token(7, 2) < token(0, 3), "a word's fields are neighbours");
    }
}
