-- imapvault index, migration 0010: each membership row carries its message's attachment fact,
-- as 0008 gave it the internal date.
--
-- SELECT, EXAMINE and every resync read a mailbox's entries (uid, message, flags, modseq,
-- internal date, and whether the message has an attachment, for `$HasAttachment`). The last
-- came from `messages` by a join: one B-tree descent per entry into the table of wide rows
-- (envelope, body structure, preview), which was most of the time of EXAMINE on a large
-- mailbox (100,000 messages: ~100 ms, half of it in those lookups). Now a mailbox's entries are
-- one range scan of mailbox_messages.
ALTER TABLE mailbox_messages ADD COLUMN has_attachment INTEGER;

UPDATE mailbox_messages
   SET has_attachment = (SELECT m.has_attachment FROM messages m WHERE m.id = message_id);

-- The ingest fills the column; this fills it for any other writer.
CREATE TRIGGER mailbox_messages_has_attachment AFTER INSERT ON mailbox_messages
WHEN NEW.has_attachment IS NULL
BEGIN
    UPDATE mailbox_messages
       SET has_attachment = (SELECT m.has_attachment FROM messages m WHERE m.id = NEW.message_id)
     WHERE mailbox_id = NEW.mailbox_id AND uid = NEW.uid;
END;

-- `imapvault reindex` recomputes messages.has_attachment; the copies follow (over the
-- mailbox_messages_by_message index of 0001).
CREATE TRIGGER messages_has_attachment AFTER UPDATE OF has_attachment ON messages
WHEN NEW.has_attachment IS NOT OLD.has_attachment
BEGIN
    UPDATE mailbox_messages SET has_attachment = NEW.has_attachment
     WHERE message_id = NEW.id;
END;
