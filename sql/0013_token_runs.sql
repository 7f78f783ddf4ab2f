-- imapvault index, migration 0013: the messages of frequent tokens as runs of ids, beside
-- message_words (issue 3, search of common words on large archives).
--
-- A word in 40 % of 1,000,000 messages has 400,000 rows in message_words, and FTS5 hands them
-- out one per step of SQLite's virtual machine (~100 ns each, most of such a search). Tokens
-- (a word in one field) found in many messages of an ingest batch are therefore kept here
-- instead, once per batch: the batch's ids holding the token, as one blob of varint gaps,
-- read back at memory speed (see src/index/runs.rs).
--
-- frequent_tokens: the tokens kept as runs (token = word id * 8 + field number, fields in
-- src/index/content.rs's COLUMNS order). A token is added when it is in enough of one large
-- batch's messages (a sample of them); later batches keep it as runs, earlier ones and small
-- batches in message_words. A search reads both, so a message is found wherever its token went.
-- Tokens are never removed.
CREATE TABLE frequent_tokens (
    token INTEGER PRIMARY KEY
);

-- One row per transaction that wrote runs: its smallest message id, which no other such
-- transaction shares (each message's words are written once, by one transaction; a reindex
-- empties this table first).
CREATE TABLE run_batches (
    first INTEGER PRIMARY KEY
);

-- A batch's messages holding a frequent token: `ids` is the ascending ids as varints, the
-- first minus `first`, each next minus the one before it. Keyed by batch first, so that a
-- batch's rows are appended at the end of the B-tree, and a word's fields are neighbours.
CREATE TABLE token_runs (
    first INTEGER NOT NULL,
    token INTEGER NOT NULL,
    ids   BLOB NOT NULL,
    PRIMARY KEY (first, token)
) WITHOUT ROWID;
