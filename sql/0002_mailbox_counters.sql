-- Per-mailbox counters kept by triggers, so STATUS, LIST (LIST-STATUS) and SELECT read one row
-- instead of aggregating every message of the mailbox on each call (benches/RESULTS.md measured
-- 8-12 ms per STATUS/LIST at 10,000 messages, growing with the mailbox). Triggers keep them right
-- whatever writes memberships: ingest, flag changes, user deletion.

ALTER TABLE mailboxes ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN unseen_count  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN total_size    INTEGER NOT NULL DEFAULT 0;

UPDATE mailboxes SET
    message_count = (SELECT count(*) FROM mailbox_messages mm WHERE mm.mailbox_id = mailboxes.id),
    unseen_count  = (SELECT count(*) FROM mailbox_messages mm
                      WHERE mm.mailbox_id = mailboxes.id
                        AND instr(' ' || mm.flags || ' ', ' \Seen ') = 0),
    total_size    = (SELECT coalesce(sum(m.len), 0) FROM mailbox_messages mm
                       JOIN messages m ON m.id = mm.message_id
                      WHERE mm.mailbox_id = mailboxes.id);

-- Flags are stored canonically (`\Seen` spelled so, space-separated), so instr finds it exactly.
CREATE TRIGGER mailbox_counters_insert AFTER INSERT ON mailbox_messages BEGIN
    UPDATE mailboxes SET
        message_count = message_count + 1,
        unseen_count  = unseen_count + (instr(' ' || NEW.flags || ' ', ' \Seen ') = 0),
        total_size    = total_size + (SELECT len FROM messages WHERE id = NEW.message_id)
     WHERE id = NEW.mailbox_id;
END;

CREATE TRIGGER mailbox_counters_delete AFTER DELETE ON mailbox_messages BEGIN
    UPDATE mailboxes SET
        message_count = message_count - 1,
        unseen_count  = unseen_count - (instr(' ' || OLD.flags || ' ', ' \Seen ') = 0),
        total_size    = total_size - (SELECT len FROM messages WHERE id = OLD.message_id)
     WHERE id = OLD.mailbox_id;
END;

CREATE TRIGGER mailbox_counters_flags AFTER UPDATE OF flags ON mailbox_messages
WHEN (instr(' ' || OLD.flags || ' ', ' \Seen ') = 0) != (instr(' ' || NEW.flags || ' ', ' \Seen ') = 0)
BEGIN
    UPDATE mailboxes SET
        unseen_count = unseen_count + (instr(' ' || NEW.flags || ' ', ' \Seen ') = 0)
                                    - (instr(' ' || OLD.flags || ' ', ' \Seen ') = 0)
     WHERE id = NEW.mailbox_id;
END;

-- What changed since a mod-sequence (CHANGEDSINCE, QRESYNC, news for open sessions) without
-- scanning the mailbox.
CREATE INDEX mailbox_messages_by_modseq ON mailbox_messages (mailbox_id, modseq);
