package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// catalogAtSchema creates a catalog file holding exactly migrations 1..version
// (PRAGMA user_version set), as an older Resguardo left it, and returns its
// path and an open database handle for the test to fill before OpenSQLite
// migrates it (the caller closes the handle first).
func catalogAtSchema(t *testing.T, version int) (string, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version > version {
			break
		}
		if _, err := db.ExecContext(ctx, m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		t.Fatal(err)
	}
	return path, db
}
