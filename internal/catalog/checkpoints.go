package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Checkpoint is a signed checkpoint with the timestamp that anchors it.
type Checkpoint struct {
	Size      int64
	Root      string
	Note      []byte
	StampKind string // "tsa" or "psc"
	Token     []byte
	StampTime time.Time
	Authority string
	CreatedAt time.Time
}

// ErrNoCheckpoint reports that no timestamped checkpoint covers an entry yet.
var ErrNoCheckpoint = errors.New("catalog: no timestamped checkpoint covers this entry yet")

// AddCheckpoint stores a timestamped checkpoint (idempotent per size and kind).
func (c *SQLite) AddCheckpoint(ctx context.Context, cp Checkpoint) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO checkpoints (size, root, note, stamp_kind, token, stamp_time, authority, created_at)
		VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (size) DO NOTHING`,
		cp.Size, cp.Root, cp.Note, cp.StampKind, cp.Token, cp.StampTime.UnixNano(), cp.Authority, cp.CreatedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("store checkpoint %d: %w", cp.Size, err)
	}
	return nil
}

const checkpointCols = "size, root, note, stamp_kind, token, stamp_time, authority, created_at"

func scanCheckpoint(sc interface{ Scan(...any) error }) (*Checkpoint, error) {
	var cp Checkpoint
	var st, cr int64
	if err := sc.Scan(&cp.Size, &cp.Root, &cp.Note, &cp.StampKind, &cp.Token, &st, &cp.Authority, &cr); err != nil {
		return nil, err
	}
	cp.StampTime, cp.CreatedAt = time.Unix(0, st).UTC(), time.Unix(0, cr).UTC()
	return &cp, nil
}

// CheckpointCovering returns the smallest timestamped checkpoint whose tree contains
// ledger entry idx.
func (c *SQLite) CheckpointCovering(ctx context.Context, idx int64) (*Checkpoint, error) {
	st, err := c.stmt(ctx, "SELECT "+checkpointCols+" FROM checkpoints WHERE size > ? ORDER BY size LIMIT 1")
	if err != nil {
		return nil, err
	}
	cp, err := scanCheckpoint(st.QueryRowContext(ctx, idx))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoCheckpoint
	}
	return cp, err
}

// LatestCheckpoint returns the newest timestamped checkpoint, or ErrNoCheckpoint.
func (c *SQLite) LatestCheckpoint(ctx context.Context) (*Checkpoint, error) {
	cp, err := scanCheckpoint(c.db.QueryRowContext(ctx, "SELECT "+checkpointCols+" FROM checkpoints ORDER BY size DESC LIMIT 1"))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoCheckpoint
	}
	return cp, err
}

// Checkpoints calls fn for every timestamped checkpoint in size order.
func (c *SQLite) Checkpoints(ctx context.Context, fn func(*Checkpoint) error) error {
	rows, err := c.db.QueryContext(ctx, "SELECT "+checkpointCols+" FROM checkpoints ORDER BY size")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		cp, err := scanCheckpoint(rows)
		if err != nil {
			return err
		}
		if err := fn(cp); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AddAnchor stores a checkpoint anchored by a PSC (idempotent per size).
func (c *SQLite) AddAnchor(ctx context.Context, cp Checkpoint) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO anchors (size, note, token, stamp_time, authority, created_at)
		VALUES (?,?,?,?,?,?) ON CONFLICT (size) DO NOTHING`,
		cp.Size, cp.Note, cp.Token, cp.StampTime.UnixNano(), cp.Authority, cp.CreatedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("store anchor %d: %w", cp.Size, err)
	}
	return nil
}

func scanAnchor(sc interface{ Scan(...any) error }) (*Checkpoint, error) {
	cp := Checkpoint{StampKind: "psc"}
	var st, cr int64
	if err := sc.Scan(&cp.Size, &cp.Note, &cp.Token, &st, &cp.Authority, &cr); err != nil {
		return nil, err
	}
	cp.StampTime, cp.CreatedAt = time.Unix(0, st).UTC(), time.Unix(0, cr).UTC()
	return &cp, nil
}

// AnchorCovering returns the smallest PSC-anchored checkpoint containing entry idx.
func (c *SQLite) AnchorCovering(ctx context.Context, idx int64) (*Checkpoint, error) {
	cp, err := scanAnchor(c.db.QueryRowContext(ctx, "SELECT size, note, token, stamp_time, authority, created_at FROM anchors WHERE size > ? ORDER BY size LIMIT 1", idx))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoCheckpoint
	}
	return cp, err
}

// LatestAnchor returns the newest PSC-anchored checkpoint.
func (c *SQLite) LatestAnchor(ctx context.Context) (*Checkpoint, error) {
	cp, err := scanAnchor(c.db.QueryRowContext(ctx, "SELECT size, note, token, stamp_time, authority, created_at FROM anchors ORDER BY size DESC LIMIT 1"))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoCheckpoint
	}
	return cp, err
}

// AddCosignature stores a witness's signature line for a checkpoint (idempotent).
func (c *SQLite) AddCosignature(ctx context.Context, size int64, witness, line string, at time.Time) error {
	_, err := c.db.ExecContext(ctx, `INSERT OR IGNORE INTO cosignatures (size, witness, line, added_at) VALUES (?,?,?,?)`,
		size, witness, line, at.UnixNano())
	return err
}

// Cosignatures returns the witness signature lines stored for a checkpoint.
func (c *SQLite) Cosignatures(ctx context.Context, size int64) ([]string, error) {
	st, err := c.stmt(ctx, "SELECT line FROM cosignatures WHERE size = ? ORDER BY witness, line")
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, size)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// CheckpointAt returns the timestamped checkpoint of a given size.
func (c *SQLite) CheckpointAt(ctx context.Context, size int64) (*Checkpoint, error) {
	cp, err := scanCheckpoint(c.db.QueryRowContext(ctx, "SELECT "+checkpointCols+" FROM checkpoints WHERE size = ?", size))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoCheckpoint
	}
	return cp, err
}
