-- imapvault index, migration 0001: users, mailboxes, subscriptions, messages, membership.
-- Applied by src/index/migrate.rs inside one transaction that also sets PRAGMA user_version = 1.
-- DESIGN §3. Room is left for the FTS5 content index (a later migration adds a virtual table
-- keyed by messages.id); nothing here depends on it.

-- Archive-wide counters that must never go backwards, even when rows are deleted.
CREATE TABLE archive_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    -- Last UIDVALIDITY handed out: a new mailbox gets max(now, last + 1), so UIDVALIDITY
    -- strictly increases within the archive, also for a mailbox deleted and created again
    -- (RFC 3501 §2.3.1.1).
    last_uidvalidity INTEGER NOT NULL CHECK (last_uidvalidity BETWEEN 0 AND 4294967295)
);
INSERT INTO archive_state (id, last_uidvalidity) VALUES (1, 0);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    -- A PHC string (argon2) or an imported scheme; the index never interprets it.
    password_hash TEXT    NOT NULL,
    created       INTEGER NOT NULL            -- Unix seconds
);

CREATE TABLE mailboxes (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- UTF-8, '/' separates hierarchy levels; INBOX is always spelled 'INBOX'.
    name          TEXT    NOT NULL,
    uidvalidity   INTEGER NOT NULL UNIQUE CHECK (uidvalidity BETWEEN 1 AND 4294967295),
    -- Only ever grows: UIDs are never reused (RFC 3501 §2.3.1.1). 4294967296 = exhausted.
    uidnext       INTEGER NOT NULL DEFAULT 1 CHECK (uidnext BETWEEN 1 AND 4294967296),
    highestmodseq INTEGER NOT NULL DEFAULT 1 CHECK (highestmodseq >= 1),
    -- RFC 6154 attribute, e.g. '\Sent'; NULL for none.
    special_use   TEXT CHECK (special_use IN
                      ('\All', '\Archive', '\Drafts', '\Flagged', '\Junk', '\Sent', '\Trash')),
    created       INTEGER NOT NULL,
    UNIQUE (user_id, name)
);

-- Subscriptions are kept by name, apart from mailboxes: RFC 3501 §6.3.6 lets a client subscribe
-- to a name that does not exist, and a subscription outlives its mailbox.
CREATE TABLE subscriptions (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    TEXT    NOT NULL,
    PRIMARY KEY (user_id, name)
) WITHOUT ROWID;

-- One row per distinct message (content-addressed); shared by every mailbox that holds it.
CREATE TABLE messages (
    id             INTEGER PRIMARY KEY,
    sha256         BLOB    NOT NULL UNIQUE CHECK (length(sha256) = 32),
    -- Blob store reference: data offset of the record in segment 'segment'.
    segment        INTEGER NOT NULL CHECK (segment BETWEEN 1 AND 4294967295),
    offset         INTEGER NOT NULL CHECK (offset >= 16),
    -- RFC822.SIZE: length of the canonical (CRLF) bytes, which is the blob.
    len            INTEGER NOT NULL CHECK (len >= 0),
    -- INTERNALDATE (RFC 3501 §2.3.3) as given by the first source that archived the message:
    -- Unix seconds and the zone offset in minutes to print it with.
    internal_date  INTEGER NOT NULL,
    internal_tz    INTEGER NOT NULL CHECK (internal_tz BETWEEN -1440 AND 1440),
    -- Cached FETCH items, computed once at ingest (crate::mime).
    envelope       BLOB    NOT NULL,
    body_structure BLOB    NOT NULL,
    body           BLOB    NOT NULL,
    -- Date: header, for SENTBEFORE/SENTON/SENTSINCE (RFC 3501 §6.4.4) and SORT DATE.
    sent_date      INTEGER,                   -- Unix seconds
    sent_day       INTEGER,                   -- year * 10000 + month * 100 + day, in the header's zone
    has_attachment INTEGER NOT NULL CHECK (has_attachment IN (0, 1))
);
-- The committed end of a segment (where the next writer may continue): max(offset + len).
CREATE INDEX messages_by_blob ON messages (segment, offset);

-- Mailbox membership and per-mailbox view state. Mailboxes belong to one user, so flags here are
-- per user (DESIGN §1).
CREATE TABLE mailbox_messages (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL CHECK (uid BETWEEN 1 AND 4294967295),
    message_id INTEGER NOT NULL REFERENCES messages (id),
    -- Space-separated canonical flags: \Seen \Answered \Flagged \Draft and keywords. Never
    -- \Deleted (the archive is read-only) and never \Recent (a session property).
    flags      TEXT    NOT NULL DEFAULT '',
    modseq     INTEGER NOT NULL CHECK (modseq >= 1),
    PRIMARY KEY (mailbox_id, uid),
    -- The same message twice in one mailbox is a duplicate, not a second copy.
    UNIQUE (mailbox_id, message_id)
) WITHOUT ROWID;
-- For "which mailboxes hold this message" (journal mode, GC of orphaned messages).
CREATE INDEX mailbox_messages_by_message ON mailbox_messages (message_id);
