-- Schema 2: timestamped checkpoints (issue 3). Every checkpoint that a notary
-- timestamped is kept here with its token; constancias are built against them.
CREATE TABLE checkpoints (
    size        INTEGER PRIMARY KEY,          -- tree size
    root        TEXT    NOT NULL,             -- base64 root hash, as in the note
    note        BLOB    NOT NULL,             -- the signed checkpoint, exact bytes
    stamp_kind  TEXT    NOT NULL,             -- 'tsa' (RFC 3161) or 'psc' (NOM-151)
    token       BLOB    NOT NULL,             -- DER TimeStampToken / PSC constancia, unmodified
    stamp_time  INTEGER NOT NULL,             -- genTime, Unix ns
    authority   TEXT    NOT NULL,             -- subject of the stamping certificate
    created_at  INTEGER NOT NULL
);
