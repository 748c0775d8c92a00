package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Part is an attachment or inline file.
type Part struct {
	Path        string `json:"path"`
	ContentType string `json:"content_type"`
	Disposition string `json:"disposition,omitempty"`
	Filename    string `json:"filename,omitempty"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// Record is a catalog row with its addresses and parts.
type Record struct {
	Seq         int64
	SHA256      string
	Size        int64
	BlobRef     string
	ArchivedAt  time.Time
	Channel     string
	Source      string
	MessageID   string
	Date        time.Time // zero when the message has no usable Date
	DateRaw     string
	FromAddr    string
	Subject     string
	Malformed   bool
	Defects     []string // defect codes
	Meta        []byte   // canonical metadata document
	MetaSHA256  string
	LedgerIndex int64 // -1 when not (yet) in the ledger
	AccessClass string
	Quarantined bool // an arrival was quarantined by the gateway's policy
	Parts       []Part
}

// NewRecord is a record to insert with the ledger entry that describes it.
type NewRecord struct {
	Record
	EntryType string
	Entry     []byte
}

// Reception is one arrival of a record's bytes.
type Reception struct {
	SHA256   string
	Channel  string
	Source   string
	At       time.Time
	Envelope string // JSON, "{}" when none
	// Quarantine: this arrival was quarantined by the gateway's policy; the record
	// is marked (records.quarantined = 1) in the same transaction.
	Quarantine bool
	// Outbound are the copies this arrival must be relayed as (the gateway's
	// queue), inserted in the same transaction: 250 means delivered or queued.
	Outbound []Outbound
}

// Commit inserts recs (new records, each with its ledger entry; ledger indexes are
// assigned in order after the last entry) and receptions (for new or existing
// records) in one durable transaction. It returns the ledger index given to each
// record, or -1 for a record whose SHA-256 was already in the catalog (nothing of it
// is inserted then), and the indexes of the receptions it skipped because their record
// exists neither in the catalog nor in recs. Rows go in with multi-row INSERTs: with
// modernc.org/sqlite a statement costs ≈16 µs per row alone, ≈6 µs in groups of 100.
func (c *SQLite) Commit(ctx context.Context, recs []NewRecord, receptions []Reception) (idxs []int64, skipped []int, err error) {
	return c.commit(ctx, recs, receptions)
}

func (c *SQLite) commit(ctx context.Context, recs []NewRecord, receptions []Reception) ([]int64, []int, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	var nextIdx, nextSeq int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(idx)+1, 0) FROM ledger_entries").Scan(&nextIdx); err != nil {
		return nil, nil, err
	}
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq)+1, 1) FROM records").Scan(&nextSeq); err != nil {
		return nil, nil, err
	}
	shas := make([]string, 0, len(recs)+len(receptions))
	for _, r := range recs {
		shas = append(shas, r.SHA256)
	}
	for _, r := range receptions {
		shas = append(shas, r.SHA256)
	}
	seqOf, err := existing(ctx, tx, shas)
	if err != nil {
		return nil, nil, err
	}
	idxs := make([]int64, len(recs))
	var recRows, partRows, entryRows, recpRows, queueRows, outRows [][]any
	for i, r := range recs {
		if _, ok := seqOf[r.SHA256]; ok {
			idxs[i] = -1
			continue
		}
		seq := nextSeq
		nextSeq++
		seqOf[r.SHA256] = seq
		idxs[i] = nextIdx
		var date any
		if !r.Date.IsZero() {
			date = r.Date.Unix()
		}
		recRows = append(recRows, []any{seq, r.SHA256, r.Size, r.BlobRef, r.ArchivedAt.UnixNano(), r.Channel, r.Source,
			r.MessageID, date, r.DateRaw, r.FromAddr, r.Subject, r.Malformed, strings.Join(r.Defects, ","),
			r.Meta, r.MetaSHA256, nextIdx})
		for _, p := range r.Parts {
			partRows = append(partRows, []any{seq, p.Path, p.ContentType, p.Disposition, p.Filename, p.Size, p.SHA256})
		}
		entryRows = append(entryRows, []any{nextIdx, r.EntryType, r.Entry, seq})
		queueRows = append(queueRows, []any{seq})
		nextIdx++
	}
	var skipped []int
	var quarantined []int64
	for i, rc := range receptions {
		seq, ok := seqOf[rc.SHA256]
		if !ok {
			skipped = append(skipped, i)
			continue
		}
		env := rc.Envelope
		if env == "" {
			env = "{}"
		}
		recpRows = append(recpRows, []any{seq, rc.Channel, rc.Source, rc.At.UnixNano(), env})
		if rc.Quarantine {
			quarantined = append(quarantined, seq)
		}
		for _, o := range rc.Outbound {
			outRows = append(outRows, outboundRow(seq, o))
		}
	}
	steps := []struct {
		verb, table, cols string
		rows              [][]any
	}{
		{"INSERT", "records", `seq, sha256, size, blob_ref, archived_at, channel, source, message_id, msg_date, date_raw,
			from_addr, subject, malformed, defects, meta, meta_sha256, ledger_index`, recRows},
		{"INSERT OR IGNORE", "parts", "record_seq, path, content_type, disposition, filename, size, sha256", partRows},
		{"INSERT", "ledger_entries", "idx, type, data, record_seq", entryRows},
		{"INSERT OR IGNORE", "receptions", "record_seq, channel, source, received_at, envelope", recpRows},
		{"INSERT OR IGNORE", "index_queue", "record_seq", queueRows},
		{"INSERT", "outbound", outboundCols, outRows},
	}
	for _, st := range steps {
		if err := insertRows(ctx, tx, st.verb, st.table, st.cols, st.rows); err != nil {
			return nil, nil, err
		}
	}
	for _, seq := range quarantined {
		if _, err := tx.ExecContext(ctx, "UPDATE records SET quarantined = 1 WHERE seq = ?", seq); err != nil {
			return nil, nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("commit catalog batch: %w", err)
	}
	return idxs, skipped, nil
}

// existing maps the SHA-256s among shas that are already records to their seq.
func existing(ctx context.Context, tx *sql.Tx, shas []string) (map[string]int64, error) {
	out := make(map[string]int64)
	const chunk = 500
	for len(shas) > 0 {
		n := min(chunk, len(shas))
		args := make([]any, n)
		for i := range args {
			args[i] = shas[i]
		}
		q := "SELECT sha256, seq FROM records WHERE sha256 IN (?" + strings.Repeat(",?", n-1) + ")"
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var s string
			var seq int64
			if err := rows.Scan(&s, &seq); err != nil {
				rows.Close()
				return nil, err
			}
			out[s] = seq
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		shas = shas[n:]
	}
	return out, nil
}

// insertRows inserts rows with statements of up to 100 rows each.
func insertRows(ctx context.Context, tx *sql.Tx, verb, table, cols string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	tuple := "(?" + strings.Repeat(",?", width-1) + ")"
	const per = 100
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	for len(rows) > 0 {
		n := min(per, len(rows))
		args := make([]any, 0, n*width)
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		q := verb + " INTO " + table + " (" + cols + ") VALUES " + tuple + strings.Repeat(","+tuple, n-1)
		var err error
		if n == per {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, q); err != nil {
					return fmt.Errorf("insert into %s: %w", table, err)
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, q, args...)
		}
		if err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

// Has reports whether a record with this SHA-256 exists.
func (c *SQLite) Has(ctx context.Context, sha256Hex string) (bool, error) {
	var one int
	err := c.has.QueryRowContext(ctx, sha256Hex).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, err
}

// LedgerNext is the index the next ledger entry will get (the number of entries).
func (c *SQLite) LedgerNext(ctx context.Context) (int64, error) {
	var n int64
	err := c.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(idx)+1, 0) FROM ledger_entries").Scan(&n)
	return n, err
}

// LedgerEntries calls fn for each ledger entry with index ≥ from, in order.
func (c *SQLite) LedgerEntries(ctx context.Context, from int64, fn func(idx int64, typ string, data []byte) error) error {
	st, err := c.stmt(ctx, "SELECT idx, type, data FROM ledger_entries WHERE idx >= ? ORDER BY idx")
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, from)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var idx int64
		var typ string
		var data []byte
		if err := rows.Scan(&idx, &typ, &data); err != nil {
			return err
		}
		if err := fn(idx, typ, data); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Stats summarises the catalog.
type Stats struct {
	Records   int64 `json:"records"`
	Bytes     int64 `json:"bytes"`
	Malformed int64 `json:"malformed"`
	Entries   int64 `json:"ledger_entries"`
}

// Stats counts records, bytes, malformed records and ledger entries.
func (c *SQLite) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := c.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(size),0), COALESCE(SUM(malformed),0) FROM records`).
		Scan(&s.Records, &s.Bytes, &s.Malformed)
	if err != nil {
		return s, err
	}
	err = c.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM ledger_entries").Scan(&s.Entries)
	return s, err
}
