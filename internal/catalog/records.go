package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Address is one address of a header field.
type Address struct {
	Field   string `json:"field"` // from, sender, reply-to, to, cc, bcc
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
}

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
	Addresses   []Address
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
}

// Commit inserts recs (new records, each with its ledger entry; ledger indexes are
// assigned in order after the last entry) and receptions (for new or existing
// records) in one durable transaction. It returns the ledger index given to each
// record, or -1 for a record whose SHA-256 was already in the catalog (nothing of it
// is inserted then).
func (c *SQLite) Commit(ctx context.Context, recs []NewRecord, receptions []Reception) ([]int64, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var next int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(idx)+1, 0) FROM ledger_entries").Scan(&next); err != nil {
		return nil, err
	}
	idxs := make([]int64, len(recs))
	insRec, err := tx.PrepareContext(ctx, `INSERT INTO records (sha256, size, blob_ref, archived_at, channel, source,
		message_id, msg_date, date_raw, from_addr, subject, malformed, defects, meta, meta_sha256, ledger_index)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (sha256) DO NOTHING`)
	if err != nil {
		return nil, err
	}
	insAddr, err := tx.PrepareContext(ctx, "INSERT INTO addresses (record_seq, field, address, name) VALUES (?,?,?,?)")
	if err != nil {
		return nil, err
	}
	insPart, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO parts (record_seq, path, content_type, disposition, filename, size, sha256)
		VALUES (?,?,?,?,?,?,?)`)
	if err != nil {
		return nil, err
	}
	insEntry, err := tx.PrepareContext(ctx, "INSERT INTO ledger_entries (idx, type, data, record_seq) VALUES (?,?,?,?)")
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		var date any
		if !r.Date.IsZero() {
			date = r.Date.Unix()
		}
		res, err := insRec.ExecContext(ctx, r.SHA256, r.Size, r.BlobRef, r.ArchivedAt.UnixNano(), r.Channel, r.Source,
			r.MessageID, date, r.DateRaw, r.FromAddr, r.Subject, r.Malformed, strings.Join(r.Defects, ","),
			r.Meta, r.MetaSHA256, next)
		if err != nil {
			return nil, fmt.Errorf("insert record %s: %w", r.SHA256, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 0 {
			idxs[i] = -1
			continue
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		for _, a := range r.Addresses {
			if _, err := insAddr.ExecContext(ctx, seq, a.Field, a.Address, a.Name); err != nil {
				return nil, fmt.Errorf("insert address of %s: %w", r.SHA256, err)
			}
		}
		for _, p := range r.Parts {
			if _, err := insPart.ExecContext(ctx, seq, p.Path, p.ContentType, p.Disposition, p.Filename, p.Size, p.SHA256); err != nil {
				return nil, fmt.Errorf("insert part of %s: %w", r.SHA256, err)
			}
		}
		if _, err := insEntry.ExecContext(ctx, next, r.EntryType, r.Entry, seq); err != nil {
			return nil, fmt.Errorf("insert ledger entry of %s: %w", r.SHA256, err)
		}
		idxs[i] = next
		next++
	}
	if len(receptions) > 0 {
		insRecp, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO receptions (record_seq, channel, source, received_at, envelope)
			SELECT seq, ?, ?, ?, ? FROM records WHERE sha256 = ?`)
		if err != nil {
			return nil, err
		}
		for _, rc := range receptions {
			env := rc.Envelope
			if env == "" {
				env = "{}"
			}
			if _, err := insRecp.ExecContext(ctx, rc.Channel, rc.Source, rc.At.UnixNano(), env, rc.SHA256); err != nil {
				return nil, fmt.Errorf("insert reception of %s: %w", rc.SHA256, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit catalog batch: %w", err)
	}
	return idxs, nil
}

// Has reports whether a record with this SHA-256 exists.
func (c *SQLite) Has(ctx context.Context, sha256Hex string) (bool, error) {
	var one int
	err := c.db.QueryRowContext(ctx, "SELECT 1 FROM records WHERE sha256 = ?", sha256Hex).Scan(&one)
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
	rows, err := c.db.QueryContext(ctx, "SELECT idx, type, data FROM ledger_entries WHERE idx >= ? ORDER BY idx", from)
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
