package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// IndexQueue returns up to limit record seqs after the given one waiting to be
// indexed, oldest first.
func (c *SQLite) IndexQueue(ctx context.Context, after int64, limit int) ([]int64, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT record_seq FROM index_queue WHERE record_seq > ? ORDER BY record_seq LIMIT ?", after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// IndexDone removes indexed records from the queue.
func (c *SQLite) IndexDone(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for len(seqs) > 0 {
		n := min(500, len(seqs))
		args := make([]any, n)
		for i := range args {
			args[i] = seqs[i]
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM index_queue WHERE record_seq IN (?"+strings.Repeat(",?", n-1)+")", args...); err != nil {
			return err
		}
		seqs = seqs[n:]
	}
	return tx.Commit()
}

// EnqueueAll puts every record in the index queue (reindex).
func (c *SQLite) EnqueueAll(ctx context.Context) error {
	_, err := c.db.ExecContext(ctx, "INSERT OR IGNORE INTO index_queue (record_seq) SELECT seq FROM records")
	return err
}

// IndexLag is the number of records waiting to be indexed and the archive time of
// the oldest of them (zero when none).
func (c *SQLite) IndexLag(ctx context.Context) (int64, time.Time, error) {
	var n int64
	var oldest sql.NullInt64
	err := c.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(r.archived_at) FROM index_queue q JOIN records r ON r.seq = q.record_seq`).Scan(&n, &oldest)
	var t time.Time
	if oldest.Valid {
		t = time.Unix(0, oldest.Int64).UTC()
	}
	return n, t, err
}

// RecordsBySeq loads records (without parts) by seq.
func (c *SQLite) RecordsBySeq(ctx context.Context, seqs []int64) ([]*Record, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	args := make([]any, len(seqs))
	for i, s := range seqs {
		args[i] = s
	}
	rows, err := c.db.QueryContext(ctx, "SELECT "+recordCols+" FROM records WHERE seq IN (?"+strings.Repeat(",?", len(seqs)-1)+") ORDER BY seq", args...)
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

// ThreadInput is one record to place in a conversation.
type ThreadInput struct {
	Seq     int64
	IDs     []string // its Message-ID, In-Reply-To and References, normalised
	Subject string   // normalised; "" for none
	Date    time.Time
}

// AssignThreads places records (in archive order) in conversations, in one
// transaction: the thread of any Message-ID a record has or refers to (the smallest
// if they disagree), else of a recent message with the same normalised subject
// (within window), else a new thread numbered by the record's seq. It records the
// mappings, sets records.thread_id, and returns the thread of each input.
func (c *SQLite) AssignThreads(ctx context.Context, in []ThreadInput, window time.Duration) ([]int64, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	getID, err := tx.PrepareContext(ctx, "SELECT thread_id FROM thread_ids WHERE message_id = ?")
	if err != nil {
		return nil, err
	}
	getSubj, err := tx.PrepareContext(ctx, "SELECT thread_id, last_date FROM thread_subjects WHERE subject = ?")
	if err != nil {
		return nil, err
	}
	putID, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO thread_ids (message_id, thread_id) VALUES (?, ?)")
	if err != nil {
		return nil, err
	}
	putSubj, err := tx.PrepareContext(ctx, `INSERT INTO thread_subjects (subject, thread_id, last_date) VALUES (?, ?, ?)
		ON CONFLICT (subject) DO UPDATE SET thread_id = excluded.thread_id, last_date = excluded.last_date
		WHERE excluded.last_date > thread_subjects.last_date`)
	if err != nil {
		return nil, err
	}
	setRec, err := tx.PrepareContext(ctx, "UPDATE records SET thread_id = ? WHERE seq = ?")
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(in))
	for i, r := range in {
		thread := int64(0)
		for _, id := range r.IDs {
			var t int64
			err := getID.QueryRowContext(ctx, id).Scan(&t)
			if err == nil && (thread == 0 || t < thread) {
				thread = t
			} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
		}
		if thread == 0 && r.Subject != "" {
			var t, last int64
			err := getSubj.QueryRowContext(ctx, r.Subject).Scan(&t, &last)
			if err == nil && (r.Date.IsZero() || r.Date.Sub(time.Unix(last, 0)).Abs() <= window) {
				thread = t
			} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
		}
		if thread == 0 {
			thread = r.Seq
		}
		for _, id := range r.IDs {
			if _, err := putID.ExecContext(ctx, id, thread); err != nil {
				return nil, err
			}
		}
		if r.Subject != "" {
			d := r.Date.Unix()
			if r.Date.IsZero() {
				d = time.Now().Unix()
			}
			if _, err := putSubj.ExecContext(ctx, r.Subject, thread, d); err != nil {
				return nil, err
			}
		}
		if _, err := setRec.ExecContext(ctx, thread, r.Seq); err != nil {
			return nil, err
		}
		out[i] = thread
	}
	return out, tx.Commit()
}

// AccessRecord is one row of the access log.
type AccessRecord struct {
	At           time.Time
	Actor        string
	Action       string
	Detail       []byte // canonical JSON
	DetailSHA256 string
	Entry        []byte // the ledger entry
}

// LogAccess commits an access record with its ledger entry (next index). Any process
// may call it; the ledger's writer appends the entry to the Merkle log. The
// records its detail lists, with their participants, go into the access-log
// index (access_records, access_participants) in the same transaction; the
// participants are read before it begins, so a large export does not hold the
// write lock while its records' metadata is parsed.
func (c *SQLite) LogAccess(ctx context.Context, a AccessRecord) (int64, error) {
	records := detailRecords(a.Detail)
	parts, err := participantsOf(ctx, c.db, records)
	if err != nil {
		return 0, fmt.Errorf("log access: %w", err)
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var next int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(idx)+1, 0) FROM ledger_entries").Scan(&next); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO ledger_entries (idx, type, data) VALUES (?, 'access', ?)", next, a.Entry); err != nil {
		return 0, fmt.Errorf("log access: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO access_log (ledger_index, at, actor, action, detail, detail_sha256) VALUES (?,?,?,?,?,?)`,
		next, a.At.UnixNano(), a.Actor, a.Action, a.Detail, a.DetailSHA256)
	if err != nil {
		return 0, fmt.Errorf("log access: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("log access: %w", err)
	}
	if err := accessIndex(id, records, parts).insert(ctx, tx); err != nil {
		return 0, fmt.Errorf("log access: %w", err)
	}
	return next, tx.Commit()
}
