-- Schema 7 (issue 5): the gateway's durable outbound queue and the delivery log.

-- One row per recipient of one arrival that must be relayed onwards. Rows are
-- inserted in the same transaction as the arrival's record and reception, so a
-- message acknowledged with 250 is always either delivered or still here.
CREATE TABLE outbound (
    id              INTEGER PRIMARY KEY,
    record_seq      INTEGER NOT NULL REFERENCES records(seq),
    mail_from       TEXT    NOT NULL,           -- '' for the null reverse-path (DSNs)
    rcpt            TEXT    NOT NULL,
    route           TEXT    NOT NULL,           -- next_hop, mx, smarthost
    domain          TEXT    NOT NULL,           -- the recipient's domain (mx routing)
    prefix          BLOB    NOT NULL,           -- header fields put before the archived bytes on this copy
    state           TEXT    NOT NULL,           -- queued, deferred, held, delivered, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,           -- unix nanoseconds
    next_attempt_at INTEGER NOT NULL,
    last_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    delivery_index  INTEGER,                    -- ledger index of the delivery entry
    dsn_sha256      TEXT    NOT NULL DEFAULT '' -- the DSN sent for a failure
);
CREATE INDEX outbound_due ON outbound(state, next_attempt_at);
CREATE INDEX outbound_record ON outbound(record_seq);

-- Schema 1 reserved a deliveries table that nothing ever wrote: it is replaced.
DROP TABLE deliveries;

-- One row per remote acceptance of a relayed message: the canonical detail document
-- (remote host, IP, TLS, reply, time) whose SHA-256 is in the ledger's delivery entry.
CREATE TABLE deliveries (
    ledger_index  INTEGER PRIMARY KEY,
    record_seq    INTEGER NOT NULL REFERENCES records(seq),
    at            INTEGER NOT NULL,
    detail        BLOB    NOT NULL,
    detail_sha256 TEXT    NOT NULL
);
CREATE INDEX deliveries_record ON deliveries(record_seq);
