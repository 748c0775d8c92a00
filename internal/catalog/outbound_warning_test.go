package catalog

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestMigration11OutboundWarning: a queue entry written before schema 11 reads
// as not warned after the migration; WarnOutbound marks entries once (a second
// warning does not replace the first) and the marks read back.
func TestMigration11OutboundWarning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, db := catalogAtSchema(t, 9)
	created := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	for _, q := range []string{
		`INSERT INTO records (seq, sha256, size, blob_ref, archived_at, channel, meta, meta_sha256)
			VALUES (1, '` + strings.Repeat("a", 64) + `', 10, 'pack:1:8:10', 1, 'submission', '{}', '` + strings.Repeat("0", 64) + `')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, rcpt := range []string{"a@destino.mx", "b@destino.mx"} {
		if _, err := db.ExecContext(ctx, `INSERT INTO outbound (record_seq, mail_from, rcpt, route, domain, prefix, state, created_at, next_attempt_at)
			VALUES (1, 'ana@ejemplo.gob.mx', ?, 'mx', 'destino.mx', x'', 'deferred', ?, ?)`, rcpt, created.UnixNano(), created.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	c, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if SchemaVersion() < 11 {
		t.Fatalf("schema %d", SchemaVersion())
	}
	es, err := c.ListOutbound(ctx, OutboundFilter{})
	if err != nil || len(es) != 2 {
		t.Fatalf("%+v %v", es, err)
	}
	for _, o := range es {
		if !o.WarnedAt.IsZero() || o.WarningDSNSHA256 != "" || o.DeliveryIndex != -1 || !o.CreatedAt.Equal(created) {
			t.Fatalf("migrated entry: %+v", o)
		}
	}
	at := created.Add(4 * time.Hour)
	if n, err := c.WarnOutbound(ctx, []int64{es[0].ID}, at, strings.Repeat("d", 64)); err != nil || n != 1 {
		t.Fatalf("warn: %d %v", n, err)
	}
	// Both entries: only the one not yet warned is marked.
	if n, err := c.WarnOutbound(ctx, []int64{es[0].ID, es[1].ID}, at.Add(time.Hour), strings.Repeat("e", 64)); err != nil || n != 1 {
		t.Fatalf("second warn: %d %v", n, err)
	}
	es, _ = c.ListOutbound(ctx, OutboundFilter{})
	if !es[0].WarnedAt.Equal(at) || es[0].WarningDSNSHA256 != strings.Repeat("d", 64) ||
		!es[1].WarnedAt.Equal(at.Add(time.Hour)) || es[1].WarningDSNSHA256 != strings.Repeat("e", 64) {
		t.Fatalf("marks: %+v", es)
	}
	// The due read (the delivery loop's) carries the marks too.
	due, err := c.DueOutbound(ctx, at.Add(2*time.Hour), 10)
	if err != nil || len(due) != 2 || due[0].WarnedAt.IsZero() {
		t.Fatalf("due: %+v %v", due, err)
	}
	if probs, err := c.IntegrityCheck(ctx, false); err != nil || len(probs) != 0 {
		t.Fatalf("integrity: %v %v", probs, err)
	}
}
