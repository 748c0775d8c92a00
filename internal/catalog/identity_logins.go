package catalog

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Login throttling counters and the login log (schema 8).

// Throttle is the failure counter of one throttling key.
type Throttle struct {
	Key         string
	Failures    int
	Lockouts    int
	LockedUntil time.Time
	LastFailure time.Time
}

func throttleOf(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, key string) (Throttle, error) {
	t := Throttle{Key: key}
	var until, last int64
	err := q.QueryRowContext(ctx, "SELECT failures, lockouts, locked_until, last_failure FROM login_throttle WHERE key = ?", key).
		Scan(&t.Failures, &t.Lockouts, &until, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return t, nil
	}
	t.LockedUntil, t.LastFailure = nsTime(until), nsTime(last)
	return t, err
}

// Throttles returns the counters of keys (zero values for keys never seen).
func (c *SQLite) Throttles(ctx context.Context, keys ...string) ([]Throttle, error) {
	out := make([]Throttle, len(keys))
	for i, k := range keys {
		t, err := throttleOf(ctx, c.db, k)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// UpdateThrottle reads a key's counter, lets fn change it and writes it back, in
// one transaction (concurrent failures are all counted).
func (c *SQLite) UpdateThrottle(ctx context.Context, key string, fn func(*Throttle)) (Throttle, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return Throttle{}, err
	}
	defer tx.Rollback()
	t, err := throttleOf(ctx, tx, key)
	if err != nil {
		return t, err
	}
	fn(&t)
	t.Key = key
	if _, err := tx.ExecContext(ctx, `INSERT INTO login_throttle (key, failures, lockouts, locked_until, last_failure)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, lockouts = excluded.lockouts,
		locked_until = excluded.locked_until, last_failure = excluded.last_failure`,
		key, t.Failures, t.Lockouts, ns(t.LockedUntil), ns(t.LastFailure)); err != nil {
		return t, err
	}
	return t, tx.Commit()
}

// DeleteThrottle forgets a key's counter (a successful login, an administrator's unlock).
func (c *SQLite) DeleteThrottle(ctx context.Context, key string) error {
	_, err := c.db.ExecContext(ctx, "DELETE FROM login_throttle WHERE key = ?", key)
	return err
}

// PurgeThrottle forgets counters whose last failure was before before and whose
// lock, if any, ended by now.
func (c *SQLite) PurgeThrottle(ctx context.Context, before, now time.Time) (int64, error) {
	res, err := c.db.ExecContext(ctx, "DELETE FROM login_throttle WHERE last_failure < ? AND locked_until <= ?", ns(before), ns(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// LoginEvent is one row of the login log.
type LoginEvent struct {
	ID        int64
	At        time.Time
	Login     string
	UserID    int64 // 0: no such user
	ClientIP  string
	UserAgent string
	Method    string
	Result    string
	Detail    string
}

// LogLoginEvent appends e to the login log and returns its id.
func (c *SQLite) LogLoginEvent(ctx context.Context, e LoginEvent) (int64, error) {
	var uid any
	if e.UserID != 0 {
		uid = e.UserID
	}
	res, err := c.db.ExecContext(ctx, `INSERT INTO login_events (at, login, user_id, client_ip, user_agent, method, result, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ns(e.At), e.Login, uid, e.ClientIP, e.UserAgent, e.Method, e.Result, e.Detail)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// LoginEventFilter selects login log rows.
type LoginEventFilter struct {
	UserID   int64     // 0: any
	Login    string    // "": any
	Since    time.Time // zero: from the start
	Until    time.Time // zero: to now
	BeforeID int64     // paging: rows older than this id (0: from the newest)
	Limit    int       // 0: 100
}

// LoginEvents returns login log rows, newest first.
func (c *SQLite) LoginEvents(ctx context.Context, f LoginEventFilter) ([]LoginEvent, error) {
	var where []string
	var args []any
	if f.UserID != 0 {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	if f.Login != "" {
		where = append(where, "login = ?")
		args = append(args, strings.ToLower(f.Login))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, ns(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, ns(f.Until))
	}
	if f.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, f.BeforeID)
	}
	q := "SELECT id, at, login, COALESCE(user_id, 0), client_ip, user_agent, method, result, detail FROM login_events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := c.db.QueryContext(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LoginEvent
	for rows.Next() {
		var e LoginEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Login, &e.UserID, &e.ClientIP, &e.UserAgent, &e.Method, &e.Result, &e.Detail); err != nil {
			return nil, err
		}
		e.At = nsTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
