package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

const recordCols = `seq, sha256, size, blob_ref, archived_at, channel, source, message_id, msg_date, date_raw,
	from_addr, subject, malformed, defects, meta, meta_sha256, COALESCE(ledger_index, -1), access_class, quarantined`

func scanRecord(sc interface{ Scan(...any) error }) (*Record, error) {
	var r Record
	var archived int64
	var date sql.NullInt64
	var defects string
	if err := sc.Scan(&r.Seq, &r.SHA256, &r.Size, &r.BlobRef, &archived, &r.Channel, &r.Source, &r.MessageID, &date,
		&r.DateRaw, &r.FromAddr, &r.Subject, &r.Malformed, &defects, &r.Meta, &r.MetaSHA256, &r.LedgerIndex, &r.AccessClass, &r.Quarantined); err != nil {
		return nil, err
	}
	r.ArchivedAt = time.Unix(0, archived).UTC()
	if date.Valid {
		r.Date = time.Unix(date.Int64, 0).UTC()
	}
	if defects != "" {
		r.Defects = strings.Split(defects, ",")
	}
	return &r, nil
}

// IsHexPrefix reports whether s is 8–64 lowercase or uppercase hex digits.
func IsHexPrefix(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Lookup finds the record whose SHA-256 starts with prefix (8–64 hex digits), with
// its addresses and parts.
func (c *SQLite) Lookup(ctx context.Context, prefix string) (*Record, error) {
	if !IsHexPrefix(prefix) {
		return nil, fmt.Errorf("record id %q: want 8 to 64 hex digits of the message's SHA-256", prefix)
	}
	prefix = strings.ToLower(prefix)
	hi := prefix + "g" // "g" sorts after every hex digit
	st, err := c.stmt(ctx, "SELECT "+recordCols+" FROM records WHERE sha256 >= ? AND sha256 < ? ORDER BY sha256 LIMIT 2")
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, prefix, hi)
	if err != nil {
		return nil, err
	}
	var found []*Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		found = append(found, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, prefix)
	case 2:
		return nil, fmt.Errorf("%w: %s (use more digits)", ErrAmbiguous, prefix)
	}
	r := found[0]
	if err := c.loadDetails(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

func (c *SQLite) loadDetails(ctx context.Context, r *Record) error {
	st, err := c.stmt(ctx, "SELECT path, content_type, disposition, filename, size, sha256 FROM parts WHERE record_seq = ?")
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, r.Seq)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var p Part
		if err := rows.Scan(&p.Path, &p.ContentType, &p.Disposition, &p.Filename, &p.Size, &p.SHA256); err != nil {
			return err
		}
		r.Parts = append(r.Parts, p)
	}
	sortParts(r.Parts)
	return rows.Err()
}

// Receptions lists the arrivals of a record.
func (c *SQLite) Receptions(ctx context.Context, seq int64) ([]Reception, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT r.sha256, p.channel, p.source, p.received_at, p.envelope
		FROM receptions p JOIN records r ON r.seq = p.record_seq WHERE p.record_seq = ? ORDER BY p.id`, seq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Reception
	for rows.Next() {
		var rc Reception
		var at int64
		if err := rows.Scan(&rc.SHA256, &rc.Channel, &rc.Source, &at, &rc.Envelope); err != nil {
			return nil, err
		}
		rc.At = time.Unix(0, at).UTC()
		out = append(out, rc)
	}
	return out, rows.Err()
}

// ListOptions filters and orders List.
type ListOptions struct {
	Limit          int       // 0 = no limit
	Offset         int       //
	After, Before  time.Time // message Date: After inclusive, Before exclusive; zero = open
	ArchivedAfter  time.Time
	ArchivedBefore time.Time
	SortArchived   bool // newest archived first instead of newest Date first
	Malformed      bool // only malformed records
	Quarantined    bool // only records in quarantine
}

// List returns records, newest first (by Date, undated last, then by archive order).
func (c *SQLite) List(ctx context.Context, o ListOptions) ([]*Record, error) {
	var where []string
	var args []any
	if !o.After.IsZero() {
		where, args = append(where, "msg_date >= ?"), append(args, o.After.Unix())
	}
	if !o.Before.IsZero() {
		where, args = append(where, "msg_date < ?"), append(args, o.Before.Unix())
	}
	if !o.ArchivedAfter.IsZero() {
		where, args = append(where, "archived_at >= ?"), append(args, o.ArchivedAfter.UnixNano())
	}
	if !o.ArchivedBefore.IsZero() {
		where, args = append(where, "archived_at < ?"), append(args, o.ArchivedBefore.UnixNano())
	}
	if o.Malformed {
		where = append(where, "malformed = 1")
	}
	if o.Quarantined {
		where = append(where, "quarantined = 1")
	}
	q := "SELECT " + recordCols + " FROM records"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if o.SortArchived {
		q += " ORDER BY seq DESC"
	} else {
		q += " ORDER BY msg_date IS NULL, msg_date DESC, seq DESC"
	}
	if o.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d OFFSET %d", o.Limit, max(o.Offset, 0))
	}
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Each calls fn for every record in archive order (without addresses and parts).
func (c *SQLite) Each(ctx context.Context, fn func(*Record) error) error {
	rows, err := c.db.QueryContext(ctx, "SELECT "+recordCols+" FROM records ORDER BY seq")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EntryOf returns the ledger entry recorded for a record.
func (c *SQLite) EntryOf(ctx context.Context, seq int64) (idx int64, data []byte, err error) {
	st, err := c.stmt(ctx, "SELECT idx, data FROM ledger_entries WHERE record_seq = ? AND type = 'record'")
	if err != nil {
		return -1, nil, err
	}
	err = st.QueryRowContext(ctx, seq).Scan(&idx, &data)
	if err == sql.ErrNoRows {
		return -1, nil, nil
	}
	return idx, data, err
}

// RecordWithEntry is a record with the ledger entry the catalog holds for it.
type RecordWithEntry struct {
	*Record
	EntryIndex int64 // -1 when the catalog has no entry for the record
	Entry      []byte
}

// EachWithEntry calls fn for every record in archive order, with its ledger entry.
func (c *SQLite) EachWithEntry(ctx context.Context, fn func(RecordWithEntry) error) error {
	rows, err := c.db.QueryContext(ctx, "SELECT "+strings.ReplaceAll(recordCols, "seq,", "records.seq,")+`, COALESCE(e.idx, -1), COALESCE(e.data, x'')
		FROM records LEFT JOIN ledger_entries e ON e.record_seq = records.seq AND e.type = 'record' ORDER BY seq`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r Record
		var archived int64
		var date sql.NullInt64
		var defects string
		var re RecordWithEntry
		if err := rows.Scan(&r.Seq, &r.SHA256, &r.Size, &r.BlobRef, &archived, &r.Channel, &r.Source, &r.MessageID, &date,
			&r.DateRaw, &r.FromAddr, &r.Subject, &r.Malformed, &defects, &r.Meta, &r.MetaSHA256, &r.LedgerIndex,
			&r.AccessClass, &r.Quarantined, &re.EntryIndex, &re.Entry); err != nil {
			return err
		}
		r.ArchivedAt = time.Unix(0, archived).UTC()
		re.Record = &r
		if err := fn(re); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachSHA256 calls fn with the SHA-256 of every record.
func (c *SQLite) EachSHA256(ctx context.Context, fn func(string) error) error {
	rows, err := c.db.QueryContext(ctx, "SELECT sha256 FROM records")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return rows.Err()
}
