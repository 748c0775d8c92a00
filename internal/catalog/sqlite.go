// Package catalog keeps the archive's metadata: records, their addresses and parts,
// receptions, and the write-ahead copy of ledger entries. The embedded backend is
// SQLite through modernc.org/sqlite (pure Go, no cgo) in WAL mode with
// synchronous=FULL, so a committed transaction is on disk; schema migrations are
// embedded and applied in order when the catalog opens.
package catalog

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Errors.
var (
	ErrNotFound  = errors.New("catalog: no such record")
	ErrAmbiguous = errors.New("catalog: prefix matches more than one record")
	ErrTooNew    = errors.New("catalog: schema is newer than this program")
)

// SQLite is the embedded catalog.
type SQLite struct {
	db    *sql.DB
	path  string
	has   *sql.Stmt
	stmts sync.Map // query text → *sql.Stmt: hot read queries are parsed once, not per call
}

// stmt returns the prepared statement for q, preparing it on first use. Reads that
// run once per record (export, constancias, the indexer) spend more time in
// SQLite's parser than in the lookup without it.
func (c *SQLite) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.stmts.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// Options configures OpenSQLite.
type Options struct {
	ReadOnly bool
}

// OpenSQLite opens (creating if needed, unless read-only) the catalog at path and
// brings its schema up to date.
func OpenSQLite(ctx context.Context, path string, opt Options) (*SQLite, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(15000)", "foreign_keys(ON)", "cache_size(-65536)", "wal_autocheckpoint(16384)", "journal_size_limit(67108864)"} {
		q.Add("_pragma", p)
	}
	if opt.ReadOnly {
		q.Set("mode", "ro")
	}
	// Write transactions take the write lock when they begin (BEGIN IMMEDIATE): a
	// deferred transaction that reads first and then writes fails with SQLITE_BUSY,
	// without waiting, when another connection wrote in between (the committer and a
	// checkpoint stamp, or two processes).
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	c := &SQLite{db: db, path: path}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	if err := c.migrate(ctx, opt.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	if c.has, err = db.PrepareContext(ctx, "SELECT 1 FROM records WHERE sha256 = ?"); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the database.
func (c *SQLite) Close() error {
	if c.has != nil {
		c.has.Close()
	}
	c.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	return c.db.Close()
}

// Path is the database file.
func (c *SQLite) Path() string { return c.path }

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	ents, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		b, err := fs.ReadFile(migrationFS, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{v, e.Name(), string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// SchemaVersion is the latest schema this program knows.
func SchemaVersion() int {
	ms, _ := migrations()
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

func (c *SQLite) migrate(ctx context.Context, readOnly bool) error {
	var cur int
	if err := c.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
		return fmt.Errorf("read catalog schema version: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	if cur > latest {
		return fmt.Errorf("%w: catalog %s has schema %d, this program knows up to %d", ErrTooNew, c.path, cur, latest)
	}
	if cur == latest {
		return nil
	}
	if readOnly {
		return fmt.Errorf("catalog %s has schema %d, needs %d: open it once read-write to migrate", c.path, cur, latest)
	}
	for _, m := range ms {
		if m.version <= cur {
			continue
		}
		tx, err := c.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("catalog migration %s: %w", m.name, err)
		}
		if step := migrationStep(m.version); step != nil {
			if err := step(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("catalog migration %s: %w", m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("catalog migration %s: %w", m.name, err)
		}
	}
	return nil
}

// migrationStep is the Go part of a migration, run after its SQL in the same
// transaction, for what SQL cannot do well (nil: none).
func migrationStep(version int) func(context.Context, *sql.Tx) error {
	switch version {
	case 9:
		return backfillAccessRecords // parse every access entry's detail document
	case 10:
		return bumpSchemaVersion // users.source's CHECK was edited in place
	}
	return nil
}

// bumpSchemaVersion increments SQLite's schema cookie after a migration edited
// sqlite_schema directly, so every connection reloads the definitions.
func bumpSchemaVersion(ctx context.Context, tx *sql.Tx) error {
	var v int64
	if err := tx.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&v); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA schema_version = %d", v+1))
	return err
}

// IntegrityCheck runs SQLite's integrity_check (quick_check when quick) and returns
// the problems it reports.
func (c *SQLite) IntegrityCheck(ctx context.Context, quick bool) ([]string, error) {
	pragma := "PRAGMA integrity_check"
	if quick {
		pragma = "PRAGMA quick_check"
	}
	lines, err := c.queryStrings(ctx, pragma)
	var out []string
	for _, s := range lines {
		if s != "ok" {
			out = append(out, s)
		}
	}
	return out, err
}

// queryStrings runs a query of one text column and returns its values.
func (c *SQLite) queryStrings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
