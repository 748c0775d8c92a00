package catalog

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// API tokens (schema 8).

// APIToken is one API token; only the SHA-256 of its value is stored.
type APIToken struct {
	ID        int64
	UserID    int64
	Name      string
	Prefix    string
	SHA256    string
	Scopes    []string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: no expiry
	LastUsed  time.Time
	RevokedAt time.Time
}

const tokenCols = "id, user_id, name, prefix, token_sha256, scopes, created_at, expires_at, last_used_at, revoked_at"

func scanToken(sc interface{ Scan(...any) error }) (APIToken, error) {
	var t APIToken
	var scopes string
	var created, exp, used, rev int64
	err := sc.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &t.SHA256, &scopes, &created, &exp, &used, &rev)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNoToken
	}
	t.Scopes = strings.Fields(scopes)
	t.CreatedAt, t.ExpiresAt, t.LastUsed, t.RevokedAt = nsTime(created), nsTime(exp), nsTime(used), nsTime(rev)
	return t, err
}

// CreateAPIToken stores t and returns its id.
func (c *SQLite) CreateAPIToken(ctx context.Context, t APIToken) (int64, error) {
	res, err := c.db.ExecContext(ctx, `INSERT INTO api_tokens (user_id, name, prefix, token_sha256, scopes, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.UserID, t.Name, t.Prefix, t.SHA256, strings.Join(normList(t.Scopes, false), " "),
		ns(t.CreatedAt), ns(t.ExpiresAt))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// APITokenByHash returns the token with this SHA-256, or ErrNoToken.
func (c *SQLite) APITokenByHash(ctx context.Context, sum string) (APIToken, error) {
	return scanToken(c.db.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE token_sha256 = ?", sum))
}

// APITokenByID returns one token, or ErrNoToken.
func (c *SQLite) APITokenByID(ctx context.Context, id int64) (APIToken, error) {
	return scanToken(c.db.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE id = ?", id))
}

// APITokens lists a user's tokens (every user's when userID is 0), newest first.
func (c *SQLite) APITokens(ctx context.Context, userID int64) ([]APIToken, error) {
	q, args := "SELECT "+tokenCols+" FROM api_tokens", []any{}
	if userID != 0 {
		q += " WHERE user_id = ?"
		args = append(args, userID)
	}
	rows, err := c.db.QueryContext(ctx, q+" ORDER BY id DESC", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeAPIToken marks a token revoked (once: a second revocation keeps the first time).
func (c *SQLite) RevokeAPIToken(ctx context.Context, id int64, at time.Time) error {
	res, err := c.db.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE id = ?", ns(at), id)
	return affected(res, err, ErrNoToken)
}

// RevokeUserAPITokens revokes every live token of a user and returns how many.
func (c *SQLite) RevokeUserAPITokens(ctx context.Context, userID int64, at time.Time) (int64, error) {
	res, err := c.db.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at = 0", ns(at), userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// TouchAPIToken records a token's use.
func (c *SQLite) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	res, err := c.db.ExecContext(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", ns(at), id)
	return affected(res, err, ErrNoToken)
}
