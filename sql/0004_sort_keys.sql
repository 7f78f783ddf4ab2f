-- imapvault index, migration 0004: the per-message keys of SORT and THREAD (RFC 5256, RFC 5957;
-- issue 3), one row per stored message (id = messages.id), computed at ingest by
-- crate::mime::sort::keys. The sent date, INTERNALDATE and size they also need are already
-- columns of `messages`.
--
-- String keys are stored in i;unicode-casemap canonical form (RFC 5051), so comparing their
-- bytes is comparing them under the collation. Message ids are stored without angle brackets;
-- `refs` holds the ids of References (or the first of In-Reply-To), space-separated, in order
-- (an id holds no whitespace).
--
-- Nothing is lost or rewritten: the table is new. Messages stored before this migration have no
-- row; SORT and THREAD compute their keys from the blob when they need them, and
-- `imapvault reindex` writes the rows.
CREATE TABLE message_sort_keys (
    id               INTEGER PRIMARY KEY,
    subject          TEXT    NOT NULL,   -- base subject (RFC 5256 §2.1), canonical
    subject_is_reply INTEGER NOT NULL CHECK (subject_is_reply IN (0, 1)),
    from_mailbox     TEXT    NOT NULL,   -- addr-mailbox of the first From address, canonical
    to_mailbox       TEXT    NOT NULL,
    cc_mailbox       TEXT    NOT NULL,
    display_from     TEXT    NOT NULL,   -- RFC 5957 display name (or addr-spec), canonical
    display_to       TEXT    NOT NULL,
    message_id       TEXT,               -- NULL: missing or invalid
    refs             TEXT    NOT NULL
);
