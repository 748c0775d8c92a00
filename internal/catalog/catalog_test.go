package catalog

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T) *SQLite {
	t.Helper()
	c, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "catalog.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func rec(sha string, date time.Time) NewRecord {
	return NewRecord{
		Record: Record{SHA256: sha, Size: 10, BlobRef: "pack:1:8:10", ArchivedAt: time.Unix(1700000000, 5), Channel: "import",
			Source: "x.eml", Subject: "Asunto " + sha[:4], Date: date, Meta: []byte(`{}`), MetaSHA256: strings.Repeat("0", 64),
			Parts: []Part{{Path: "2", ContentType: "application/pdf", Filename: "acta.pdf", Size: 3, SHA256: "ab"}, {Path: "10", ContentType: "image/png"}, {Path: "3.1", ContentType: "text/csv"}}},
		EntryType: "record", Entry: []byte(`{"v":1}`),
	}
}

func sha(n int) string { return fmt.Sprintf("%064x", n) }

func TestCommitAndLookup(t *testing.T) {
	t.Parallel()
	c := open(t)
	ctx := context.Background()
	var recs []NewRecord
	for i := 1; i <= 250; i++ { // several multi-row statements
		recs = append(recs, rec(sha(i), time.Date(2020, 1, 1, 0, 0, i, 0, time.UTC)))
	}
	idxs, _, err := c.Commit(ctx, recs, []Reception{{SHA256: sha(1), Channel: "import", Source: "x.eml", At: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	if idxs[0] != 0 || idxs[249] != 249 {
		t.Fatalf("ledger indexes %d..%d", idxs[0], idxs[249])
	}
	// A second commit with one new and one existing record.
	idxs, _, err = c.Commit(ctx, []NewRecord{rec(sha(5), time.Time{}), rec(sha(999), time.Time{})},
		[]Reception{{SHA256: sha(5), Channel: "mx", Source: "203.0.113.9", At: time.Now()}})
	if err != nil || idxs[0] != -1 || idxs[1] != 250 {
		t.Fatalf("second commit: %v %v", idxs, err)
	}
	r, err := c.Lookup(ctx, sha(5))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Parts) != 3 || r.Parts[0].Path != "2" || r.Parts[1].Path != "3.1" || r.Parts[2].Path != "10" {
		t.Fatalf("details: %+v", r.Parts)
	}
	recp, _ := c.Receptions(ctx, r.Seq)
	if len(recp) != 1 || recp[0].Channel != "mx" {
		t.Fatalf("receptions: %+v", recp)
	}
	if _, err := c.Lookup(ctx, strings.Repeat("0", 8)); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	if _, err := c.Lookup(ctx, "ffffffffff"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	for _, bad := range []string{"abc", "zzzzzzzzzz", strings.Repeat("a", 65)} {
		if _, err := c.Lookup(ctx, bad); err == nil || errors.Is(err, ErrNotFound) {
			t.Fatalf("bad id %q: %v", bad, err)
		}
	}
	full, err := c.Lookup(ctx, strings.ToUpper(sha(999)))
	if err != nil || full.LedgerIndex != 250 {
		t.Fatalf("full upper-case id: %v", err)
	}
	list, err := c.List(ctx, ListOptions{Limit: 3})
	if err != nil || len(list) != 3 || list[0].SHA256 != sha(250) {
		t.Fatalf("list newest first: %v", err)
	}
	list, _ = c.List(ctx, ListOptions{After: time.Date(2020, 1, 1, 0, 0, 100, 0, time.UTC), Before: time.Date(2020, 1, 1, 0, 0, 110, 0, time.UTC)})
	if len(list) != 10 {
		t.Fatalf("date window: %d records", len(list))
	}
	list, _ = c.List(ctx, ListOptions{SortArchived: true, Limit: 1})
	if list[0].SHA256 != sha(999) {
		t.Fatalf("by archive order: %s", list[0].SHA256)
	}
	st, _ := c.Stats(ctx)
	if st.Records != 251 || st.Entries != 251 {
		t.Fatalf("stats %+v", st)
	}
	if n, _ := c.LedgerNext(ctx); n != 251 {
		t.Fatalf("ledger next %d", n)
	}
}

func TestReceptionOfUnknownRecordFails(t *testing.T) {
	t.Parallel()
	c := open(t)
	_, skipped, err := c.Commit(context.Background(), nil, []Reception{{SHA256: sha(2), Channel: "import"}, {SHA256: sha(1), Channel: "import"}})
	if err != nil || len(skipped) != 2 {
		t.Fatalf("receptions without record: skipped %v, %v", skipped, err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.db")
	c, err := OpenSQLite(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.db.Exec("PRAGMA user_version = 9999")
	c.Close()
	if _, err := OpenSQLite(context.Background(), path, Options{}); !errors.Is(err, ErrTooNew) {
		t.Fatalf("err = %v", err)
	}
}
