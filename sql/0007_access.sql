-- imapvault index, migration 0007: who may read whose archive (issue 5, DESIGN §1).
--
-- users.role: 'auditor' reads every user's archive, read-only, under "Other Users/NAME/".
-- grants: OWNER lets DELEGATE read their archive, read-only, under "Other Users/OWNER/"
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
