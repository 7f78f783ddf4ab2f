-- imapvault index, migration 0005 (issue 3): PREVIEW text (RFC 8970) and the new case folding
-- of the content index.
--
-- messages.preview: the RFC 8970 preview of each message (at most 256 characters of its first
--   text part, whitespace collapsed, HTML as text), computed once at ingest (crate::mime::
--   preview). NULL for messages stored before this migration: SQL cannot compute it, so
--   `imapvault reindex` fills it; until then FETCH PREVIEW computes it from the blob on the fly
--   and PREVIEW (LAZY) answers NIL (RFC 8970 §3.1), never an empty or wrong preview.
--
-- content_state.refold_pending: the stored search text was folded with str::to_lowercase, which
--   neither folds `ß` to `ss` nor every sigma alike; search strings are now folded fully
--   (crate::mime::text::fold, FOLD_VERSION 2), so text searches over old rows could miss. Until
--   `imapvault reindex` folds every row again, text searches answer NO [UNAVAILABLE] rather than
--   missing messages silently. An archive with no messages has nothing to refold.
--
-- The $HasAttachment / $HasNoAttachment keywords need no schema: they are read from
-- messages.has_attachment (0001), an archive fact kept apart from the per-user flags of
-- mailbox_messages; reindex recomputes it too.
ALTER TABLE messages ADD COLUMN preview TEXT;

ALTER TABLE content_state ADD COLUMN refold_pending INTEGER NOT NULL DEFAULT 0
    CHECK (refold_pending IN (0, 1));
UPDATE content_state SET refold_pending = EXISTS (SELECT 1 FROM messages) WHERE id = 1;
