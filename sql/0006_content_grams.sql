-- imapvault index, migration 0006: the content index's candidates as distinct trigram tokens
-- (issue 3, DESIGN §4). Numbered 0006 by the plan of issue 3; its place in the migration list,
-- not its file name, is its schema version.
--
-- message_grams replaces message_text (0003's FTS5 table with the `trigram` tokenizer, seven
-- columns, detail=column). Ingest spent half its time in it: the trigram tokenizer emits one
-- token per character of text, repeats included, and every one is written to FTS5's hash. Now
-- imapvault writes each *distinct* trigram of each field once, as a short token (the field's
-- letter and a 30-bit hash of the trigram, see src/index/content.rs), into one column:
--   tokenize = 'ascii': the tokens are letters and digits, split at the spaces between them;
--   detail = none: the index only says which rows hold a token (the field is in the token,
--     positions were never used: the exact check against message_text_store decides);
--   contentless_delete = 1: reindex replaces a row by its rowid (it rules out columnsize = 0,
--     which would have saved the per-row token count, a small row per message).
-- message_text_store (the text for the exact check) is unchanged.
DROP TABLE message_text;

CREATE VIRTUAL TABLE message_grams USING fts5 (
    grams,
    tokenize = 'ascii',
    detail = none,
    content = '',
    contentless_delete = 1
);

-- FTS5 keeps the tokens of the open transaction in memory and writes them out as a new segment
-- whenever they pass 'hashsize' bytes (default 1 MiB): several times per ingest batch of 1,000
-- messages, each time sorting every term. At 8 MiB a batch is one segment: 15 % less CPU for the
-- ingest's writer thread (10,000 generated messages: 3.7 s instead of 4.4 s user time).
INSERT INTO message_grams (message_grams, rank) VALUES ('hashsize', 8388608);

-- SQL cannot compute the tokens, so an archive migrated with messages in it has none until
-- `imapvault reindex` has run (it clears the flag). Meanwhile text searches stay exact: they
-- check every message's stored text instead of asking the index (slow on a big archive).
ALTER TABLE content_state ADD COLUMN grams_pending INTEGER NOT NULL DEFAULT 0
    CHECK (grams_pending IN (0, 1));
UPDATE content_state SET grams_pending = EXISTS (SELECT 1 FROM message_text_store) WHERE id = 1;
