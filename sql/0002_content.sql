-- imapvault index, migration 0002: the content index for SEARCH's text keys (issue 3, DESIGN §4).
--
-- One row per stored message, rowid = messages.id, holding the message's searchable text per
-- field, already case-folded (crate::mime::text::extract + fold). The trigram tokenizer gives
-- candidates for needles of 3 or more characters; every candidate is then checked against the
-- stored text, so the answer is exact. detail=column keeps column filters (FROM searches only
-- the from column) at a fraction of detail=full's size; positions are never needed because
-- the recheck does what a phrase query would.
CREATE VIRTUAL TABLE message_text USING fts5 (
    from_addr, to_addr, cc_addr, bcc_addr, subject, headers, body,
    tokenize = 'trigram',
    detail = column
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
