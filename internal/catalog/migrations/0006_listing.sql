-- Schema 6: an index in the exact order of `resguardo list` (newest Date first,
-- undated last, then newest archived), so the first page of a large archive is
-- read from the index instead of sorting every record.
CREATE INDEX records_listing ON records(msg_date IS NULL, msg_date DESC, seq DESC);

-- `resguardo status` totals (count, bytes, malformed) from a small covering index
-- instead of a scan of every record with its metadata.
CREATE INDEX records_stats ON records(malformed, size);
