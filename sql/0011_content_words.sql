-- imapvault index, migration 0011: the content index's candidates as words, with a trigram
-- index over the vocabulary (issue 3, DESIGN §4). Its place in the migration list, not its
-- file name, is its schema version.
--
-- message_words replaces message_grams (0006's distinct trigram tokens, ~1,400 per message,
-- which made the FTS5 writer the limit of the ingest and never answered a search by itself:
-- every candidate's stored text had to be read). Now each field's distinct *words* are indexed
-- (a word: a maximal run of letters and digits of the folded text; runs longer than 64
-- characters as overlapping pieces, and scripts written without spaces as characters and
-- pairs; see src/index/content.rs), a few hundred per message, each as a short token naming
-- the field and the word's id in `words`.
--
-- A search string is looked up in the vocabulary first: `word_grams` (FTS5's own trigram
-- tokenizer, case-sensitive since the text is folded already) gives the words that contain it,
-- exactly, and `message_words` the messages holding one of those words. A string of letters and
-- digits alone cannot straddle two words, so for such strings (up to 32 characters) that answer
-- is exact with no look at the stored text; any other string is checked against
-- message_text_store as before.
DROP TABLE message_grams;

-- Every word ever indexed, once. Never deleted: a word no message holds any more only costs a
-- lookup that finds no messages.
CREATE TABLE words (
    id   INTEGER PRIMARY KEY,
    word TEXT NOT NULL UNIQUE
);

-- The vocabulary's substring index: rowid = words.id. Contentless (the text is in `words`);
-- detail=full, because FTS5 checks a phrase of trigrams by their positions, which makes a
-- MATCH of a quoted string an exact substring test; columnsize=0, since nothing ranks by a
-- word's length (it saves a row per word in FTS5's docsize table; rows are never deleted).
CREATE VIRTUAL TABLE word_grams USING fts5 (
    word,
    tokenize = 'trigram case_sensitive 1',
    content = '',
    columnsize = 0
);

-- One row per stored message (rowid = messages.id): its words' tokens, split by FTS5's `ascii`
-- tokenizer at the spaces; detail=none, as for 0006's grams (the field is in the token);
-- contentless_delete, so that reindex can replace a row.
CREATE VIRTUAL TABLE message_words USING fts5 (
    words,
    tokenize = 'ascii',
    detail = none,
    content = '',
    contentless_delete = 1
);

-- One segment per ingest batch of 1,000 messages (see 0006).
INSERT INTO message_words (message_words, rank) VALUES ('hashsize', 8388608);

-- SQL cannot cut text into words, so an archive migrated with messages in it has none until
-- `imapvault reindex` has run and cleared the flag (0006's, which now stands for this index).
-- Meanwhile text searches stay exact by checking every message's stored text.
UPDATE content_state SET grams_pending = EXISTS (SELECT 1 FROM message_text_store) WHERE id = 1;
