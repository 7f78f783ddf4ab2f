-- imapvault index, migration 0009: user addresses and the journal (issue 5, DESIGN §1, §3).
--
-- Journal mode keeps every journaled message once (messages, content addressed) with the
-- addresses that took part in it (journal_participants). A user's INBOX and Sent hold ordinary
-- mailbox_messages rows, materialised from those participants: at ingest for the users whose
-- addresses match, and when an address is added (backfill), so every IMAP command, UID, modseq
-- and IDLE push works as in mailbox mode.

-- A user's addresses (aliases): the addr-spec, lower-cased (crate::mime::journal::addr_spec),
-- so matching is case-insensitive. An address belongs to at most one user.
CREATE TABLE user_addresses (
    address TEXT    NOT NULL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created INTEGER NOT NULL                   -- Unix seconds
) WITHOUT ROWID;
CREATE INDEX user_addresses_by_user ON user_addresses (user_id);

-- Every journaled message once, in the order it was first journaled (seq).
CREATE TABLE journal (
    seq        INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL UNIQUE REFERENCES messages (id)
);

-- Who took part in a journaled message: 'sent' (From, Sender, Resent-From/-Sender, a report's
-- Sender and On-Behalf-Of) or 'received' (To, Cc, Bcc, Delivered-To, X-Original-To, Resent-To/
-- -Cc/-Bcc, a report's recipient lines). The same message journaled again (Exchange writes one
-- report per recipient group) adds its participants to the set.
CREATE TABLE journal_participants (
    address    TEXT    NOT NULL,
    role       TEXT    NOT NULL CHECK (role IN ('sent', 'received')),
    message_id INTEGER NOT NULL REFERENCES messages (id),
    PRIMARY KEY (address, role, message_id)
) WITHOUT ROWID;
CREATE INDEX journal_participants_by_message ON journal_participants (message_id);

-- The mode the archive's mail was ingested in (DESIGN §1: never mixed). Claimed by the first
-- import or spool pass; an archive that already holds mail is in mailbox mode, the only mode
-- before this migration. No row: nothing ingested yet.
CREATE TABLE archive_mode (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    mode TEXT    NOT NULL CHECK (mode IN ('mailbox', 'journal'))
);
INSERT INTO archive_mode (id, mode)
    SELECT 1, 'mailbox' WHERE EXISTS (SELECT 1 FROM messages);
