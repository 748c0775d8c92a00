-- Schema 4: witness cosignatures (C2SP tlog-cosignature) of stamped checkpoints.
CREATE TABLE cosignatures (
    size      INTEGER NOT NULL,           -- the cosigned checkpoint's tree size
    witness   TEXT    NOT NULL,           -- witness name
    line      TEXT    NOT NULL,           -- the signature line, exact text
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (size, line)
) WITHOUT ROWID;
