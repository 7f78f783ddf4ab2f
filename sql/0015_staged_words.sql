-- imapvault index, migration 0015: new words wait in a small table and move into `words`
-- many at a time (issue 3, ingest rate on large archives).
--
-- `words`' UNIQUE index on the word's text takes each new word at a random place. At 1,000,000
-- messages it is ~25,000 pages (97 MiB), and each ingest batch of 1,000 messages brings ~3,800
-- new words (ids, numbers, names: 190,205 for 50,000 more messages), spread over most of it:
-- each page dirtied is written whole to the WAL at the commit, and again into the database
-- file by the checkpoint. Importing 50,000 new messages into that archive wrote 2.7 GB to the
-- index's files for ~380 MB of new index.
--
-- Now a word new to the vocabulary goes into staged_words, whose own index is small (a batch
-- dirties at most its ~600 pages); when it holds enough words (src/index/content.rs,
-- STAGED_WORDS_MAX), one transaction moves them all into `words` in the index's order, writing
-- each page of `words`' index about once for ~35 batches. The same import then wrote 1.7 GB,
-- and took 10.6-11.1 s instead of 12.6-13.3 s (benches/RESULTS.md).
--
-- Together the two tables are the vocabulary: a word is in one of them, never both; ids are
-- unique across both (the writer gives a staged word the next id after every id in either, and
-- a word keeps its id when it moves), and word_grams' rowid is that id wherever the word is.
CREATE TABLE staged_words (
    id   INTEGER PRIMARY KEY,
    word TEXT NOT NULL UNIQUE
);
