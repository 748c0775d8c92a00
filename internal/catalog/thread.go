package catalog

import (
	"context"
	"database/sql"
	"errors"
)

// ThreadMembers returns the SHA-256 of the other records of the conversation
// of the record sha256Hex (records.thread_id, set when records are indexed),
// oldest first by message date (undated last), at most limit; none when the
// record is not in a thread yet. Callers apply the read rule to each.
func (c *SQLite) ThreadMembers(ctx context.Context, sha256Hex string, limit int) ([]string, error) {
	var thread sql.NullInt64
	err := c.db.QueryRowContext(ctx, "SELECT thread_id FROM records WHERE sha256 = ?", sha256Hex).Scan(&thread)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !thread.Valid) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return c.queryStrings(ctx, `SELECT sha256 FROM records WHERE thread_id = ? AND sha256 <> ?
		ORDER BY msg_date IS NULL, msg_date, seq LIMIT ?`, thread.Int64, sha256Hex, limit)
}
