package archive

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// With FlushWhenIdle a lone item is committed at once instead of waiting
// MaxDelay, and items arriving during a commit still share the next one.
func TestFlushWhenIdle(t *testing.T) {
	t.Parallel()
	dir, a := newArchive(t)
	defer a.Close()
	ctx := context.Background()
	in := a.Ingest(ctx, IngestOptions{MaxDelay: time.Hour, FlushWhenIdle: true})
	defer in.Close()
	done := make(chan Result, 1)
	start := time.Now()
	if err := in.Add(ctx, &Item{Data: oficio(1), Channel: "mx", Done: done}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.Status != Archived {
			t.Fatalf("lone item: %v %v", r.Status, r.Err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a lone item waited for MaxDelay (1 h) instead of being committed at once")
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("lone item took %s", d)
	}
	// 200 concurrent items: all archived, in fewer commits than items.
	before := a.Log.Size()
	dones := make([]chan Result, 200)
	for i := range dones {
		dones[i] = make(chan Result, 1)
		if err := in.Add(ctx, &Item{Data: oficio(100 + i), Channel: "mx", Done: dones[i]}); err != nil {
			t.Fatal(err)
		}
	}
	for i, d := range dones {
		if r := <-d; r.Status != Archived {
			t.Fatalf("item %d: %v %v", i, r.Status, r.Err)
		}
	}
	if got := a.Log.Size() - before; got != 200 {
		t.Fatalf("ledger grew by %d, want 200", got)
	}
	// Every append below 256 entries writes entry bundle 000.p/<size>: one
	// file per commit.
	appends, err := os.ReadDir(filepath.Join(Layout{dir}.Ledger(), "tile", "entries", "000.p"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(appends) - 1; n >= 200 || n < 1 {
		t.Errorf("200 concurrent items took %d commits: want grouping", n)
	} else {
		t.Logf("200 concurrent items in %d commits", n)
	}
}
