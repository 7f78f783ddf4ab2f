-- imapvault index, migration 0002: the content index for SEARCH's text keys (issue 3, DESIGN §4).
--
-- Two tables, one row each per stored message (id = messages.id), holding the message's
-- searchable text per field, already case-folded (crate::mime::text::extract + fold):
--
-- message_text_store: the text itself, for the exact check of every candidate. A plain table, so
--   that checking FROM or SUBJECT reads only the small columns at the start of the record and
--   never the body's overflow pages (an FTS5 table with content reads whole rows: measured 4×
--   slower for FROM on 10,000 messages).
-- message_text: FTS5, trigram tokenizer, contentless: it only finds candidates. The trigram
--   tokenizer gives them for needles of 3 or more characters; detail=column keeps column
--   filters (FROM searches only the from column) at ~0.3× the text's size; positions are never
--   needed because the exact check does what a phrase query would. contentless_delete lets
--   reindex replace a row by its rowid.
CREATE TABLE message_text_store (
    id        INTEGER PRIMARY KEY,
    from_addr TEXT NOT NULL,
    to_addr   TEXT NOT NULL,
    cc_addr   TEXT NOT NULL,
    bcc_addr  TEXT NOT NULL,
    subject   TEXT NOT NULL,
    headers   TEXT NOT NULL,
    body      TEXT NOT NULL
);

CREATE VIRTUAL TABLE message_text USING fts5 (
    from_addr, to_addr, cc_addr, bcc_addr, subject, headers, body,
    tokenize = 'trigram',
    detail = column,
    content = '',
    contentless_delete = 1
);

-- Whether messages stored before this migration still lack their content rows. SQL cannot
-- extract text from the blobs, so this migration does not backfill: `imapvault reindex` does,
-- and clears the flag. Until then text searches answer NO [UNAVAILABLE] instead of missing
-- messages silently.
CREATE TABLE content_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    backfill_pending INTEGER NOT NULL CHECK (backfill_pending IN (0, 1))
);
INSERT INTO content_state (id, backfill_pending)
    VALUES (1, EXISTS (SELECT 1 FROM messages));
