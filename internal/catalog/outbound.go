package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Outbound queue states.
const (
	OutQueued    = "queued"    // waiting for its first attempt, or released/retried
	OutDeferred  = "deferred"  // an attempt failed temporarily; next_attempt_at says when again
	OutHeld      = "held"      // an administrator stopped it (queue hold)
	OutDelivered = "delivered" // a remote server accepted it (delivery_index names the ledger entry)
	OutFailed    = "failed"    // permanently refused or expired; a DSN went to the sender
)

// ErrNoOutbound is an unknown queue id.
var ErrNoOutbound = errors.New("catalog: no such queue entry")

// Outbound is one recipient of one arrival in the gateway's outbound queue.
type Outbound struct {
	ID            int64
	RecordSeq     int64
	SHA256        string // the record's, filled by reads
	MailFrom      string // "" for the null reverse-path
	Rcpt          string
	Route         string // next_hop, mx, smarthost
	Domain        string
	Prefix        []byte // header fields put before the archived bytes on this copy
	State         string
	Attempts      int
	CreatedAt     time.Time
	NextAttempt   time.Time
	LastAttempt   time.Time // zero before the first attempt
	LastError     string
	DeliveryIndex int64 // -1 until delivered
	DSNSHA256     string
	// WarnedAt is when the sender was sent a delayed-delivery DSN for this
	// entry (schema 11; zero: not warned), WarningDSNSHA256 that DSN's record.
	WarnedAt         time.Time
	WarningDSNSHA256 string
}

const outboundCols = "record_seq, mail_from, rcpt, route, domain, prefix, state, created_at, next_attempt_at"

func outboundRow(seq int64, o Outbound) []any {
	state := o.State
	if state == "" {
		state = OutQueued
	}
	next := o.NextAttempt
	if next.IsZero() {
		next = o.CreatedAt
	}
	prefix := o.Prefix
	if prefix == nil {
		prefix = []byte{}
	}
	return []any{seq, o.MailFrom, o.Rcpt, o.Route, strings.ToLower(o.Domain), prefix, state, o.CreatedAt.UnixNano(), next.UnixNano()}
}

const outboundSelect = `SELECT o.id, o.record_seq, r.sha256, o.mail_from, o.rcpt, o.route, o.domain, o.prefix, o.state, o.attempts,
	o.created_at, o.next_attempt_at, o.last_attempt_at, o.last_error, COALESCE(o.delivery_index, -1), o.dsn_sha256,
	COALESCE(o.warned_at, 0), COALESCE(o.warning_dsn_sha256, '')
	FROM outbound o JOIN records r ON r.seq = o.record_seq`

func scanOutbound(rows *sql.Rows) ([]Outbound, error) {
	defer rows.Close()
	var out []Outbound
	for rows.Next() {
		var o Outbound
		var created, next, last, warned int64
		if err := rows.Scan(&o.ID, &o.RecordSeq, &o.SHA256, &o.MailFrom, &o.Rcpt, &o.Route, &o.Domain, &o.Prefix, &o.State,
			&o.Attempts, &created, &next, &last, &o.LastError, &o.DeliveryIndex, &o.DSNSHA256, &warned, &o.WarningDSNSHA256); err != nil {
			return nil, err
		}
		o.CreatedAt, o.NextAttempt = time.Unix(0, created).UTC(), time.Unix(0, next).UTC()
		if last != 0 {
			o.LastAttempt = time.Unix(0, last).UTC()
		}
		if warned != 0 {
			o.WarnedAt = time.Unix(0, warned).UTC()
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// DueOutbound returns up to limit queue entries whose next attempt is due at now,
// oldest due first.
func (c *SQLite) DueOutbound(ctx context.Context, now time.Time, limit int) ([]Outbound, error) {
	st, err := c.stmt(ctx, outboundSelect+` WHERE o.state IN ('queued','deferred') AND o.next_attempt_at <= ?
		ORDER BY o.next_attempt_at, o.id LIMIT ?`) // the delivery loop's read, many times a second under load
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, now.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	return scanOutbound(rows)
}

// NextOutbound is when the earliest waiting entry is due (ok false: none waits).
func (c *SQLite) NextOutbound(ctx context.Context) (at time.Time, ok bool, err error) {
	var n sql.NullInt64
	st, err := c.stmt(ctx, "SELECT MIN(next_attempt_at) FROM outbound WHERE state IN ('queued','deferred')")
	if err != nil {
		return time.Time{}, false, err
	}
	err = st.QueryRowContext(ctx).Scan(&n)
	if err != nil || !n.Valid {
		return time.Time{}, false, err
	}
	return time.Unix(0, n.Int64).UTC(), true, nil
}

// OutboundFilter selects queue entries for ListOutbound.
type OutboundFilter struct {
	States    []string // empty: every state
	RecordSeq int64    // 0: every record
	IDs       []int64  // empty: any
	Limit     int      // 0: 1000
}

// ListOutbound returns queue entries, oldest first.
func (c *SQLite) ListOutbound(ctx context.Context, f OutboundFilter) ([]Outbound, error) {
	var where []string
	var args []any
	if len(f.States) > 0 {
		where = append(where, "o.state IN (?"+strings.Repeat(",?", len(f.States)-1)+")")
		for _, s := range f.States {
			args = append(args, s)
		}
	}
	if f.RecordSeq != 0 {
		where = append(where, "o.record_seq = ?")
		args = append(args, f.RecordSeq)
	}
	if len(f.IDs) > 0 {
		where = append(where, "o.id IN (?"+strings.Repeat(",?", len(f.IDs)-1)+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	q := outboundSelect
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	q += " ORDER BY o.id LIMIT ?"
	args = append(args, limit)
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanOutbound(rows)
}

// OutboundCounts returns the number of queue entries in each state.
func (c *SQLite) OutboundCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT state, COUNT(*) FROM outbound GROUP BY state")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// EnqueueOutbound adds queue entries for an existing record (quarantine release, a
// DSN's copy): one transaction.
func (c *SQLite) EnqueueOutbound(ctx context.Context, seq int64, os []Outbound) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows := make([][]any, 0, len(os))
	for _, o := range os {
		rows = append(rows, outboundRow(seq, o))
	}
	if err := insertRows(ctx, tx, "INSERT", "outbound", outboundCols, rows); err != nil {
		return err
	}
	return tx.Commit()
}

func idList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(?" + strings.Repeat(",?", len(ids)-1) + ")", args
}

// DeferOutbound records a temporary failure of an attempt on ids.
func (c *SQLite) DeferOutbound(ctx context.Context, ids []int64, at, next time.Time, reason string) error {
	if len(ids) == 0 {
		return nil
	}
	in, args := idList(ids)
	_, err := c.db.ExecContext(ctx, `UPDATE outbound SET state = 'deferred', attempts = attempts + 1, last_attempt_at = ?,
		next_attempt_at = ?, last_error = ? WHERE state IN ('queued','deferred') AND id IN `+in,
		append([]any{at.UnixNano(), next.UnixNano(), reason}, args...)...)
	return err
}

// FailOutbound records a permanent failure of ids and the DSN sent for it
// (dsnSHA256 "" when none was due, e.g. for a null sender).
func (c *SQLite) FailOutbound(ctx context.Context, ids []int64, at time.Time, reason, dsnSHA256 string) error {
	if len(ids) == 0 {
		return nil
	}
	in, args := idList(ids)
	_, err := c.db.ExecContext(ctx, `UPDATE outbound SET state = 'failed', attempts = attempts + 1, last_attempt_at = ?,
		last_error = ?, dsn_sha256 = ? WHERE state IN ('queued','deferred') AND id IN `+in,
		append([]any{at.UnixNano(), reason, dsnSHA256}, args...)...)
	return err
}

// WarnOutbound records the delayed-delivery DSN (dsnSHA256, its record) sent
// at at for ids, in one statement. Entries already warned keep their first
// warning; it returns how many were marked.
func (c *SQLite) WarnOutbound(ctx context.Context, ids []int64, at time.Time, dsnSHA256 string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	in, args := idList(ids)
	res, err := c.db.ExecContext(ctx, "UPDATE outbound SET warned_at = ?, warning_dsn_sha256 = ? WHERE warned_at IS NULL AND id IN "+in,
		append([]any{at.UnixNano(), dsnSHA256}, args...)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SetOutboundState moves the entries ids that are in one of the states from to
// state to, due at next; it returns how many moved. It is what queue retry, hold
// and release do.
func (c *SQLite) SetOutboundState(ctx context.Context, ids []int64, from []string, to string, next time.Time) (int64, error) {
	if len(ids) == 0 || len(from) == 0 {
		return 0, nil
	}
	in, args := idList(ids)
	fin, fargs := idList(make([]int64, len(from)))
	for i, s := range from {
		fargs[i] = s
	}
	res, err := c.db.ExecContext(ctx, "UPDATE outbound SET state = ?, next_attempt_at = ? WHERE state IN "+fin+" AND id IN "+in,
		append(append([]any{to, next.UnixNano()}, fargs...), args...)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// DeliveryRecord is one remote acceptance with its ledger entry.
type DeliveryRecord struct {
	LedgerIndex  int64
	RecordSeq    int64
	At           time.Time
	Detail       []byte // canonical JSON (archive.DeliveryDetail)
	DetailSHA256 string
	Entry        []byte // the ledger entry
}

// LogDeliveries commits deliveries, each with its ledger entry (consecutive
// indexes), its detail document, and its queue entries ids[i] marked
// delivered, in one transaction. Only entries still waiting are marked; the
// others keep their state (the detail lists what the remote server accepted
// either way).
func (c *SQLite) LogDeliveries(ctx context.Context, ds []DeliveryRecord, ids [][]int64) ([]int64, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var next int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(idx)+1, 0) FROM ledger_entries").Scan(&next); err != nil {
		return nil, err
	}
	idxs := make([]int64, len(ds))
	var entryRows, delRows [][]any
	for i, d := range ds {
		idxs[i] = next + int64(i)
		entryRows = append(entryRows, []any{idxs[i], "delivery", d.Entry})
		delRows = append(delRows, []any{idxs[i], d.RecordSeq, d.At.UnixNano(), d.Detail, d.DetailSHA256})
	}
	if err := insertRows(ctx, tx, "INSERT", "ledger_entries", "idx, type, data", entryRows); err != nil {
		return nil, fmt.Errorf("log delivery: %w", err)
	}
	if err := insertRows(ctx, tx, "INSERT", "deliveries", "ledger_index, record_seq, at, detail, detail_sha256", delRows); err != nil {
		return nil, fmt.Errorf("log delivery: %w", err)
	}
	for i, d := range ds {
		if len(ids[i]) == 0 {
			continue
		}
		in, args := idList(ids[i])
		if _, err := tx.ExecContext(ctx, `UPDATE outbound SET state = 'delivered', attempts = attempts + 1, last_attempt_at = ?,
			last_error = '', delivery_index = ? WHERE state IN ('queued','deferred') AND id IN `+in,
			append([]any{d.At.UnixNano(), idxs[i]}, args...)...); err != nil {
			return nil, fmt.Errorf("log delivery: %w", err)
		}
	}
	return idxs, tx.Commit()
}

// Deliveries returns the deliveries of a record (seq) or, with seq 0, the one at
// ledger index idx.
func (c *SQLite) Deliveries(ctx context.Context, seq, idx int64) ([]DeliveryRecord, error) {
	q := "SELECT d.ledger_index, d.record_seq, d.at, d.detail, d.detail_sha256, e.data FROM deliveries d JOIN ledger_entries e ON e.idx = d.ledger_index"
	var args []any
	if seq != 0 {
		q += " WHERE d.record_seq = ? ORDER BY d.ledger_index"
		args = append(args, seq)
	} else {
		q += " WHERE d.ledger_index = ?"
		args = append(args, idx)
	}
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeliveryRecord
	for rows.Next() {
		var d DeliveryRecord
		var at int64
		if err := rows.Scan(&d.LedgerIndex, &d.RecordSeq, &at, &d.Detail, &d.DetailSHA256, &d.Entry); err != nil {
			return nil, err
		}
		d.At = time.Unix(0, at).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// ReleaseQuarantine unmarks a quarantined record and queues its copies, in one
// transaction. It reports false when the record was not quarantined.
func (c *SQLite) ReleaseQuarantine(ctx context.Context, seq int64, os []Outbound) (bool, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE records SET quarantined = 0 WHERE seq = ? AND quarantined = 1", seq)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	rows := make([][]any, 0, len(os))
	for _, o := range os {
		rows = append(rows, outboundRow(seq, o))
	}
	if err := insertRows(ctx, tx, "INSERT", "outbound", outboundCols, rows); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
