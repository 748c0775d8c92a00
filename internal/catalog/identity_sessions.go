package catalog

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Server-side sessions (schema 8).

// Session is one server-side session, named by the SHA-256 of its cookie value.
type Session struct {
	IDSHA256      string
	UserID        int64 // 0: anonymous
	State         string
	Method        string
	CreatedAt     time.Time
	LastSeen      time.Time
	ExpiresAt     time.Time
	ClientIP      string
	UserAgent     string
	Justification string
	CaseRef       string
	JustifiedAt   time.Time
}

const sessionCols = `id_sha256, COALESCE(user_id, 0), state, method, created_at, last_seen_at, expires_at, client_ip, user_agent,
	justification, case_ref, justified_at`

func scanSession(sc interface{ Scan(...any) error }) (Session, error) {
	var s Session
	var created, seen, exp, just int64
	err := sc.Scan(&s.IDSHA256, &s.UserID, &s.State, &s.Method, &created, &seen, &exp, &s.ClientIP, &s.UserAgent,
		&s.Justification, &s.CaseRef, &just)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNoSession
	}
	s.CreatedAt, s.LastSeen, s.ExpiresAt, s.JustifiedAt = nsTime(created), nsTime(seen), nsTime(exp), nsTime(just)
	return s, err
}

// CreateSession stores s; when replace names another session, that one is deleted
// in the same transaction (session rotation).
func (c *SQLite) CreateSession(ctx context.Context, s Session, replace string) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if replace != "" {
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE id_sha256 = ?", replace); err != nil {
			return err
		}
	}
	var uid any
	if s.UserID != 0 {
		uid = s.UserID
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_sha256, user_id, state, method, created_at, last_seen_at,
		expires_at, client_ip, user_agent, justification, case_ref, justified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.IDSHA256, uid, s.State, s.Method, ns(s.CreatedAt), ns(s.LastSeen), ns(s.ExpiresAt), s.ClientIP, s.UserAgent,
		s.Justification, s.CaseRef, ns(s.JustifiedAt)); err != nil {
		return err
	}
	return tx.Commit()
}

// SessionByHash returns the session, or ErrNoSession.
func (c *SQLite) SessionByHash(ctx context.Context, idSHA256 string) (Session, error) {
	st, err := c.stmt(ctx, "SELECT "+sessionCols+" FROM sessions WHERE id_sha256 = ?")
	if err != nil {
		return Session{}, err
	}
	return scanSession(st.QueryRowContext(ctx, idSHA256))
}

// TouchSession records activity on a session.
func (c *SQLite) TouchSession(ctx context.Context, idSHA256 string, at time.Time) error {
	res, err := c.db.ExecContext(ctx, "UPDATE sessions SET last_seen_at = ? WHERE id_sha256 = ?", ns(at), idSHA256)
	return affected(res, err, ErrNoSession)
}

// SetSessionJustification stores the access justification typed in a session.
func (c *SQLite) SetSessionJustification(ctx context.Context, idSHA256, text, caseRef string, at time.Time) error {
	res, err := c.db.ExecContext(ctx, "UPDATE sessions SET justification = ?, case_ref = ?, justified_at = ? WHERE id_sha256 = ?",
		text, caseRef, ns(at), idSHA256)
	return affected(res, err, ErrNoSession)
}

// DeleteSession removes one session; false when there was none.
func (c *SQLite) DeleteSession(ctx context.Context, idSHA256 string) (bool, error) {
	res, err := c.db.ExecContext(ctx, "DELETE FROM sessions WHERE id_sha256 = ?", idSHA256)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteUserSessions removes every session of a user except the one named by
// except ("" for none) and returns how many it removed.
func (c *SQLite) DeleteUserSessions(ctx context.Context, userID int64, except string) (int64, error) {
	res, err := c.db.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ? AND id_sha256 != ?", userID, except)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// UserSessions lists a user's sessions, most recently used first.
func (c *SQLite) UserSessions(ctx context.Context, userID int64) ([]Session, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT "+sessionCols+" FROM sessions WHERE user_id = ? ORDER BY last_seen_at DESC", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// PurgeSessions deletes sessions idle since before idleBefore or past their
// absolute expiry at now, and returns how many.
func (c *SQLite) PurgeSessions(ctx context.Context, idleBefore, now time.Time) (int64, error) {
	res, err := c.db.ExecContext(ctx, "DELETE FROM sessions WHERE last_seen_at < ? OR expires_at <= ?", ns(idleBefore), ns(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
