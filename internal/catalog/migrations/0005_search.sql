-- Schema 5 (issue 4): the search index's durable work queue, conversation threads,
-- and the access log whose entries the ledger commits to.

-- Records waiting to be indexed; filled in the same transaction as the records, so
-- a crash never loses index work. The index can always be rebuilt from the records.
CREATE TABLE index_queue (
    record_seq INTEGER PRIMARY KEY REFERENCES records(seq)
);
INSERT INTO index_queue (record_seq) SELECT seq FROM records;

-- Message-ID → thread (the seq of the first record seen in the conversation).
CREATE TABLE thread_ids (
    message_id TEXT    PRIMARY KEY,
    thread_id  INTEGER NOT NULL
) WITHOUT ROWID;
-- Normalised subject → thread, for replies without In-Reply-To/References.
CREATE TABLE thread_subjects (
    subject    TEXT    PRIMARY KEY,
    thread_id  INTEGER NOT NULL,
    last_date  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX records_thread ON records(thread_id);

-- Who searched, read or exported what: the canonical detail document is kept here,
-- its SHA-256 goes into the ledger's "access" entry (so queries, which may name
-- people, are not published with the ledger's tiles).
CREATE TABLE access_log (
    id            INTEGER PRIMARY KEY,
    ledger_index  INTEGER UNIQUE,
    at            INTEGER NOT NULL,
    actor         TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    detail        BLOB    NOT NULL,
    detail_sha256 TEXT    NOT NULL
);
CREATE INDEX access_log_actor ON access_log(actor, at);
