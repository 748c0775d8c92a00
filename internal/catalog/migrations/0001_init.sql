-- Resguardo catalog, schema 1. Applied in one transaction; see docs/FORMATS.md.
-- Times are Unix nanoseconds (UTC) unless named *_date (Unix seconds).

CREATE TABLE records (
    seq             INTEGER PRIMARY KEY,
    sha256          TEXT    NOT NULL UNIQUE CHECK (length(sha256) = 64),
    size            INTEGER NOT NULL CHECK (size >= 0),
    blob_ref        TEXT    NOT NULL,
    archived_at     INTEGER NOT NULL,
    channel         TEXT    NOT NULL,
    source          TEXT    NOT NULL DEFAULT '',
    message_id      TEXT    NOT NULL DEFAULT '',
    msg_date        INTEGER,
    date_raw        TEXT    NOT NULL DEFAULT '',
    from_addr       TEXT    NOT NULL DEFAULT '',
    subject         TEXT    NOT NULL DEFAULT '',
    malformed       INTEGER NOT NULL DEFAULT 0,
    defects         TEXT    NOT NULL DEFAULT '',
    meta            BLOB    NOT NULL,
    meta_sha256     TEXT    NOT NULL,
    ledger_index    INTEGER UNIQUE,
    -- Reserved for later issues (threads, access classes, records management, gateway).
    thread_id       INTEGER,
    access_class    TEXT    NOT NULL DEFAULT 'publica'
                    CHECK (access_class IN ('publica', 'reservada', 'confidencial')),
    personal        INTEGER NOT NULL DEFAULT 0,
    quarantined     INTEGER NOT NULL DEFAULT 0,
    verdict         TEXT    NOT NULL DEFAULT '',
    series_id       INTEGER REFERENCES series(id),
    expediente_id   INTEGER REFERENCES expedientes(id),
    retention_until INTEGER,
    disposed_at     INTEGER
);
CREATE INDEX records_msg_date ON records(msg_date);

-- Attachments and inline files.
CREATE TABLE parts (
    record_seq   INTEGER NOT NULL REFERENCES records(seq),
    path         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    disposition  TEXT    NOT NULL DEFAULT '',
    filename     TEXT    NOT NULL DEFAULT '',
    size         INTEGER NOT NULL,
    sha256       TEXT    NOT NULL,
    PRIMARY KEY (record_seq, path)
) WITHOUT ROWID;
CREATE INDEX parts_sha256 ON parts(sha256);

-- Each time a record arrived (a second copy of the same bytes adds a reception, not a record).
CREATE TABLE receptions (
    id          INTEGER PRIMARY KEY,
    record_seq  INTEGER NOT NULL REFERENCES records(seq),
    channel     TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    envelope    TEXT    NOT NULL DEFAULT '{}',
    UNIQUE (record_seq, channel, source)
);

-- The ledger's write-ahead copy: entries are committed here with the records they
-- describe, then appended to the Merkle log (which catches up from here after a crash).
CREATE TABLE ledger_entries (
    idx        INTEGER PRIMARY KEY,
    type       TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    record_seq INTEGER REFERENCES records(seq)
);
CREATE INDEX ledger_entries_record ON ledger_entries(record_seq);

-- Reserved for later issues: check results, classification, holds, deliveries.
CREATE TABLE checks (
    record_seq INTEGER NOT NULL REFERENCES records(seq),
    name       TEXT    NOT NULL,
    result     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (record_seq, name)
) WITHOUT ROWID;

CREATE TABLE series (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    parent_id   INTEGER REFERENCES series(id),
    level       TEXT NOT NULL CHECK (level IN ('fondo', 'seccion', 'serie', 'subserie')),
    tramite_years      INTEGER,
    concentracion_years INTEGER,
    destino     TEXT CHECK (destino IN ('baja', 'historico'))
);

CREATE TABLE expedientes (
    id        INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL REFERENCES series(id),
    code      TEXT NOT NULL UNIQUE,
    title     TEXT NOT NULL,
    opened_at INTEGER,
    closed_at INTEGER
);

CREATE TABLE holds (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    basis       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    released_at INTEGER
);

CREATE TABLE hold_records (
    hold_id    INTEGER NOT NULL REFERENCES holds(id),
    record_seq INTEGER NOT NULL REFERENCES records(seq),
    PRIMARY KEY (hold_id, record_seq)
) WITHOUT ROWID;

CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    record_seq   INTEGER NOT NULL REFERENCES records(seq),
    recipient    TEXT    NOT NULL,
    remote_host  TEXT    NOT NULL,
    remote_ip    TEXT    NOT NULL,
    tls          TEXT    NOT NULL DEFAULT '',
    reply        TEXT    NOT NULL,
    delivered_at INTEGER NOT NULL,
    ledger_index INTEGER UNIQUE
);
