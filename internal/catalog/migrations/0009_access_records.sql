-- Schema 9 (issue 7): the access-log pages and the dashboard.
--
-- access_records: the records each access entry touched (its detail's
-- "records": ids read, downloaded or exported, and the ids shown on a search
-- result page), filled in the transaction that writes the access_log row.
-- access_participants: for each of those records, its participants at the time
-- of the access — From, Sender, Reply-To, To, Cc, Bcc of the metadata document
-- and every reception's envelope sender and recipients, lower case: the
-- addresses of the read rule — so "who accessed my mail" is an index lookup.
-- Rows of entries written before schema 9 are filled by the migration from
-- their detail documents (Go code: catalog.backfillAccessRecords).

CREATE TABLE access_records (
    access_id     INTEGER NOT NULL REFERENCES access_log(id),
    record_sha256 TEXT    NOT NULL,
    PRIMARY KEY (access_id, record_sha256)
) WITHOUT ROWID;
CREATE INDEX access_records_record ON access_records(record_sha256, access_id);

CREATE TABLE access_participants (
    address       TEXT    NOT NULL,
    access_id     INTEGER NOT NULL REFERENCES access_log(id),
    record_sha256 TEXT    NOT NULL,
    PRIMARY KEY (address, access_id, record_sha256)
) WITHOUT ROWID;

-- The access-log page filters by time and action, newest first.
CREATE INDEX access_log_at ON access_log(at);
CREATE INDEX access_log_action ON access_log(action, at);

-- Dashboard: records archived per hour and day, and the quarantine count,
-- without a scan of every record.
CREATE INDEX records_archived ON records(archived_at);
CREATE INDEX records_quarantined ON records(seq) WHERE quarantined = 1;
