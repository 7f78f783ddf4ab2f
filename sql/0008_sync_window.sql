-- imapvault index, migration 0008: the sync window (`[archive] sync_days`, issue 5): clients
-- see only messages whose internal date is within the last N days.
--
-- 1. Each membership row carries its message's INTERNALDATE, indexed with the mailbox, so that
--    the visible part of a mailbox (SELECT), its counts (STATUS, LIST-STATUS) and the question
--    "did anything leave the window since" are range scans over the window alone, not over a
--    decade of mail. The ingest fills it; the trigger below fills it for any other writer.
ALTER TABLE mailbox_messages ADD COLUMN internal_date INTEGER;

UPDATE mailbox_messages
   SET internal_date = (SELECT m.internal_date FROM messages m WHERE m.id = message_id);

CREATE INDEX mailbox_messages_by_date ON mailbox_messages (mailbox_id, internal_date);

CREATE TRIGGER mailbox_messages_internal_date AFTER INSERT ON mailbox_messages
WHEN NEW.internal_date IS NULL
BEGIN
    UPDATE mailbox_messages
       SET internal_date = (SELECT m.internal_date FROM messages m WHERE m.id = NEW.message_id)
     WHERE mailbox_id = NEW.mailbox_id AND uid = NEW.uid;
END;

-- 2. A message leaving the window is, for a client, an expunge, and RFC 7162 §3.1.2.1 wants
--    HIGHESTMODSEQ to grow with every expunge. `window_edge` is the window edge (Unix seconds)
--    up to which departures from this mailbox have been given a mod-sequence: when the edge
--    passes messages at or above it, HIGHESTMODSEQ goes up by one and `window_edge` moves to the
--    new edge (Index::note_departures). NULL: no departure noted yet.
ALTER TABLE mailboxes ADD COLUMN window_edge INTEGER;
