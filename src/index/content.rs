//! The content index (`sql/0003_content.sql`, issue 3): the case-folded searchable text of each
//! stored message (`message_text_store`) and a contentless FTS5 trigram index over it
//! (`message_text`) for candidates; both keyed by `messages.id`.
//!
//! Owns: writing content rows (in the ingest transaction, see `ingest`, and for
//! `imapvault reindex`), turning a search string into an FTS5 MATCH argument, and reading the
//! stored text back for the exact check. Knows no IMAP: the caller decides what matches.
//!
//! Safety of MATCH (DESIGN §4): a client's string never becomes FTS5 query syntax. The MATCH
//! argument is built here from the string's trigrams, each written as one FTS5 string (`"`
//! doubled inside), joined by `AND`, under a column filter whose names are our constants. So
//! `NEAR`, `OR`, `*`, `^` and `col:` in a search string are characters like any other.

use std::time::Instant;

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
}

/// The FTS5 MATCH argument that finds every row whose `columns` contain `needle` (already
/// folded), or None when the needle is shorter than a trigram (3 characters): the trigram index
/// cannot help, and the caller scans instead.
///
/// The result is a superset: the trigrams may lie in different columns or places. With a
/// needle `a"b c`, the argument is `{headers body} : ("a""b" AND ""b " AND "b c")`.
pub fn fts_query(columns: &[ContentColumn], needle: &str) -> Option<String> {
    let chars: Vec<char> = needle.chars().collect();
    if chars.len() < 3 || columns.is_empty() {
        return None;
    }
    let mut grams: Vec<String> = Vec::new();
    for w in chars.windows(3) {
        let g: String = w.iter().collect();
        if !grams.contains(&g) {
            grams.push(g);
        }
    }
    if grams.len() > MAX_TRIGRAMS {
        let n = grams.len();
        grams = (0..MAX_TRIGRAMS)
            .map(|i| grams[i * (n - 1) / (MAX_TRIGRAMS - 1)].clone())
            .collect();
    }
    let mut q = String::from("{");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            q.push(' ');
        }
        q.push_str(c.sql_name());
    }
    q.push_str("} : (");
    for (i, g) in grams.iter().enumerate() {
        if i > 0 {
            q.push_str(" AND ");
        }
        // FTS5 string (sqlite.org/fts5.html §3.1): inside "...", a " is written "".
        q.push('"');
        q.push_str(&g.replace('"', "\"\""));
        q.push('"');
    }
    q.push(')');
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
    /// candidates for the exact check, in no particular order. `Ok(None)` when the needle is
    /// too short for the trigram index. Fails with [`IndexError::Deadline`] past `deadline`.
    pub fn content_candidates(
        &self,
        columns: &[ContentColumn],
        needle: &str,
        deadline: Instant,
    ) -> Result<Option<Vec<MessageId>>, IndexError> {
        let Some(query) = fts_query(columns, needle) else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rowid FROM message_text WHERE message_text MATCH ?1")?;
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

    /// The stored (folded) text of `columns` of one message, in that order; None when the
    /// message has no content row.
    pub fn content_text(
        &self,
        id: MessageId,
        columns: &[ContentColumn],
    ) -> Result<Option<Vec<String>>, IndexError> {
        let names: Vec<&str> = columns.iter().map(|c| c.sql_name()).collect();
        // Column names are our constants; the id is bound.
        let sql = format!(
            "SELECT {} FROM message_text_store WHERE id = ?1",
            names.join(", ")
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt
            .query_row(params![id.0], |r| {
                (0..columns.len())
                    .map(|i| r.get::<_, String>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .optional()?)
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
    /// rows (folded text), the PREVIEW text, the attachment fact and the SORT/THREAD keys.
    pub fn replace_content(&mut self, rows: &[Reindexed]) -> Result<(), IndexError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for r in rows {
            super::sort::put_sort_keys(&tx, r.id, &r.sort)?;
            tx.prepare_cached("DELETE FROM message_text WHERE rowid = ?1")?
                .execute(params![r.id.0])?;
            tx.prepare_cached("DELETE FROM message_text_store WHERE id = ?1")?
                .execute(params![r.id.0])?;
            insert_content(&tx, r.id, &r.text)?;
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
            "DELETE FROM message_text WHERE rowid IN
                (SELECT id FROM message_text_store WHERE id NOT IN (SELECT id FROM messages))",
            [],
        )?;
        tx.execute(
            "DELETE FROM message_text_store WHERE id NOT IN (SELECT id FROM messages)",
            [],
        )?;
        super::sort::drop_orphans(&tx)?;
        tx.execute(
            "UPDATE content_state SET backfill_pending = 0, refold_pending = 0 WHERE id = 1",
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
    /// The searchable text, folded.
    pub text: SearchText,
    /// The PREVIEW text (RFC 8970).
    pub preview: String,
    /// Whether the message has an attachment (the `$HasAttachment` keyword).
    pub has_attachment: bool,
    /// The SORT and THREAD keys (`mime::sort`).
    pub sort: SortKeys,
}

/// Inserts the content row of message `id` (text already folded).
pub(super) fn insert_content(
    tx: &Transaction<'_>,
    id: MessageId,
    t: &SearchText,
) -> Result<(), IndexError> {
    for table in [
        "INSERT INTO message_text_store (id, from_addr, to_addr, cc_addr, bcc_addr, subject,
                                         headers, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        "INSERT INTO message_text (rowid, from_addr, to_addr, cc_addr, bcc_addr, subject,
                                   headers, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    ] {
        tx.prepare_cached(table)?.execute(params![
            id.0, t.from, t.to, t.cc, t.bcc, t.subject, t.headers, t.body
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_argument_quotes_everything() {
        assert_eq!(fts_query(&[ContentColumn::Body], "ab"), None);
        assert_eq!(
            fts_query(&[ContentColumn::Headers, ContentColumn::Body], "a\"b c").unwrap(),
            "{headers body} : (\"a\"\"b\" AND \"\"\"b \" AND \"b c\")"
        );
        assert_eq!(
            fts_query(&[ContentColumn::Subject], "aaaa").unwrap(),
            "{subject} : (\"aaa\")"
        );
        let long: String = ('a'..='z').collect();
        let q = fts_query(&[ContentColumn::Body], &long).unwrap();
        assert_eq!(q.matches(" AND ").count(), MAX_TRIGRAMS - 1);
        assert!(q.contains("\"abc\"") && q.contains("\"xyz\""));
    }
}
