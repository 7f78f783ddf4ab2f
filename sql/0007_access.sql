-- imapvault index, migration 0007: who may read whose archive (issue 5, DESIGN §1).
--
-- users.role: 'auditor' reads every user's archive under "Other Users/NAME/".
-- grants: OWNER lets DELEGATE read their archive under "Other Users/OWNER/"
--   (`imapvault user grant OWNER --to DELEGATE`). Both ends are users, so deleting either user
--   drops the grant with them. Sessions look grants up on every command that names a mailbox
--   and before every command while another user's mailbox is selected, so a revoke takes
--   effect at the delegate's next command; nothing here is cached by the server.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user'
    CHECK (role IN ('user', 'auditor'));

CREATE TABLE grants (
    owner_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    delegate_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created     INTEGER NOT NULL,                 -- Unix seconds
    PRIMARY KEY (owner_id, delegate_id),
    CHECK (owner_id != delegate_id)
) WITHOUT ROWID;
-- "Whose archives may this user read": LIST walks it on every call.
CREATE INDEX grants_by_delegate ON grants (delegate_id, owner_id);

-- A reader's own flags on another user's mailbox (DESIGN §1: view state is per user): a delegate
-- or auditor who reads alice's INBOX keeps their own \Seen, \Flagged and keywords there, and
-- alice's flags are neither shown to them nor changed by them. A row exists only once the reader
-- sets a flag; no row means no flags. `modseq` comes from the mailbox's HIGHESTMODSEQ counter,
-- which every change (the owner's or any reader's) raises, so MODSEQ never goes back for anyone.
CREATE TABLE reader_flags (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL CHECK (uid BETWEEN 1 AND 4294967295),
    flags      TEXT    NOT NULL DEFAULT '',
    modseq     INTEGER NOT NULL CHECK (modseq >= 1),
    PRIMARY KEY (user_id, mailbox_id, uid)
) WITHOUT ROWID;
