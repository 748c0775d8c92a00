-- Schema 3: checkpoints anchored with a NOM-151-SCFI-2016 constancia de conservación
-- from an accredited PSC (issue 3). The PSC's object is stored unmodified.
CREATE TABLE anchors (
    size        INTEGER PRIMARY KEY,
    note        BLOB    NOT NULL,
    token       BLOB    NOT NULL,
    stamp_time  INTEGER NOT NULL,
    authority   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
