package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// partRec is a record whose metadata names these participants, with one
// reception whose envelope adds mailFrom and rcpts.
func partRec(n int, from, to string, at time.Time) NewRecord {
	r := rec(sha(n), time.Time{})
	r.ArchivedAt = at
	r.Meta = []byte(fmt.Sprintf(`{"v":1,"from":[{"name":"X","address":%q}],"sender":[],"reply_to":[],"to":[{"address":%q}],"cc":[],"bcc":[]}`, from, to))
	return r
}

func envelope(from string, rcpts ...string) string {
	b, _ := json.Marshal(map[string]any{"format": "resguardo-envelope/1", "mail_from": from, "rcpt_to": rcpts})
	return string(b)
}

func logAccess(t *testing.T, c *SQLite, at time.Time, actor, action string, records ...string) {
	t.Helper()
	d, _ := json.Marshal(map[string]any{"v": 1, "actor": actor, "action": action, "results": len(records), "records": records,
		"justification": "Auditoría 12/2026 sobre contratos"})
	if _, err := c.LogAccess(context.Background(), AccessRecord{At: at, Actor: actor, Action: action, Detail: d,
		DetailSHA256: "00", Entry: []byte(`{"v":1,"type":"access"}`)}); err != nil {
		t.Fatal(err)
	}
}

func TestAccessIndex(t *testing.T) {
	t.Parallel()
	c := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	_, _, err := c.Commit(ctx, []NewRecord{
		partRec(1, "Ana@Ejemplo.gob.mx", "carlos@ejemplo.gob.mx", t0),
		partRec(2, "beto@ejemplo.gob.mx", "diana@ejemplo.gob.mx", t0),
	}, []Reception{{SHA256: sha(2), Channel: "mx", Source: "203.0.113.1", At: t0, Envelope: envelope("rebotes@ejemplo.gob.mx", "ana@ejemplo.gob.mx")}})
	if err != nil {
		t.Fatal(err)
	}
	logAccess(t, c, t0.Add(1*time.Minute), "user:olga", "read", sha(1))
	logAccess(t, c, t0.Add(2*time.Minute), "user:olga", "search", sha(1), sha(2))
	logAccess(t, c, t0.Add(3*time.Minute), "user:ana", "read", sha(1))
	logAccess(t, c, t0.Add(4*time.Minute), "user:olga", "read", sha(2), sha(999)) // 999 is no record
	logAccess(t, c, t0.Add(5*time.Minute), "user:olga", "search")

	ids := func(es []AccessEntry) (out []int64) {
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    AccessFilter
		want []int64
		recs [][]string
	}{
		{"all", AccessFilter{}, []int64{5, 4, 3, 2, 1}, nil},
		{"actor", AccessFilter{Actor: "user:ana"}, []int64{3}, nil},
		{"action", AccessFilter{Action: "search"}, []int64{5, 2}, nil},
		{"since until", AccessFilter{Since: t0.Add(2 * time.Minute), Until: t0.Add(4 * time.Minute)}, []int64{3, 2}, nil},
		{"record", AccessFilter{Record: sha(2)}, []int64{4, 2}, nil},
		{"record not in catalog", AccessFilter{Record: sha(999)}, []int64{4}, nil},
		{"page", AccessFilter{BeforeID: 4, Limit: 2}, []int64{3, 2}, nil},
		// Ana: From of record 1 (any case), envelope recipient of record 2; her own read is left out.
		{"ana's mail by others", AccessFilter{Participants: []string{"ana@ejemplo.gob.mx"}, NotActor: "user:ana"}, []int64{4, 2, 1},
			[][]string{{sha(2)}, {sha(1), sha(2)}, {sha(1)}}},
		{"carlos", AccessFilter{Participants: []string{"carlos@ejemplo.gob.mx"}}, []int64{3, 2, 1}, [][]string{{sha(1)}, {sha(1)}, {sha(1)}}},
		{"diana", AccessFilter{Participants: []string{"diana@ejemplo.gob.mx", "nadie@ejemplo.gob.mx"}}, []int64{4, 2}, [][]string{{sha(2)}, {sha(2)}}},
		{"envelope sender", AccessFilter{Participants: []string{"rebotes@ejemplo.gob.mx"}, Since: t0.Add(3 * time.Minute)}, []int64{4}, nil},
		{"nobody", AccessFilter{Participants: []string{"zoe@ejemplo.gob.mx"}}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.AccessEntries(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Fatalf("ids %v, want %v", ids(got), tc.want)
			}
			for i, want := range tc.recs {
				if !slices.Equal(got[i].Records, want) {
					t.Errorf("entry %d records %v, want %v", got[i].ID, got[i].Records, want)
				}
			}
		})
	}
	es, _ := c.AccessEntries(ctx, AccessFilter{Limit: 1})
	if es[0].LedgerIndex != 6 || es[0].Actor != "user:olga" || !es[0].At.Equal(t0.Add(5*time.Minute)) || len(es[0].Detail) == 0 {
		t.Fatalf("entry: %+v", es[0])
	}
	acts, err := c.AccessActions(ctx)
	if err != nil || !slices.Equal(acts, []string{"read", "search"}) {
		t.Fatalf("actions %v %v", acts, err)
	}
}

// TestMigration9Backfill builds a schema-8 catalog with access entries, opens
// it (migrating to 9) and checks that the index was filled from the details.
func TestMigration9Backfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, db := catalogAtSchema(t, 8)
	meta := `{"v":1,"from":[{"address":"ana@ejemplo.gob.mx"}],"sender":[],"reply_to":[],"to":[{"address":"Carlos@Ejemplo.gob.mx"}],"cc":[],"bcc":[{"address":"oculto@ejemplo.gob.mx"}]}`
	if _, err := db.ExecContext(ctx, `INSERT INTO records (seq, sha256, size, blob_ref, archived_at, channel, meta, meta_sha256)
		VALUES (1, ?, 1, 'x', 1, 'import', ?, '0')`, sha(1), meta); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO receptions (record_seq, channel, source, received_at, envelope) VALUES (1, 'mx', 'a', 1, ?)`,
		envelope("", "sobre@ejemplo.gob.mx")); err != nil {
		t.Fatal(err)
	}
	for i, d := range []string{
		`{"v":1,"actor":"user:olga","action":"read","results":1,"records":["` + sha(1) + `"]}`,
		`{"v":1,"actor":"user:olga","action":"search","results":3}`,
		`not json`,
	} {
		if _, err := db.ExecContext(ctx, `INSERT INTO access_log (ledger_index, at, actor, action, detail, detail_sha256) VALUES (?, ?, 'user:olga', 'x', ?, '0')`,
			i, int64(i), []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	// More than one backfill batch.
	for i := 0; i < 1200; i++ {
		d := `{"v":1,"records":["` + sha(1) + `"]}`
		if _, err := db.ExecContext(ctx, `INSERT INTO access_log (at, actor, action, detail, detail_sha256) VALUES (0, 'os:x', 'export', ?, '0')`, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	c, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var v int
	c.db.QueryRow("PRAGMA user_version").Scan(&v)
	if v != SchemaVersion() || v < 9 {
		t.Fatalf("schema %d", v)
	}
	for addr, want := range map[string]int{"ana@ejemplo.gob.mx": 1201, "carlos@ejemplo.gob.mx": 1201, "oculto@ejemplo.gob.mx": 1201,
		"sobre@ejemplo.gob.mx": 1201, "otro@ejemplo.gob.mx": 0} {
		es, err := c.AccessEntries(ctx, AccessFilter{Participants: []string{addr}, Limit: 5000})
		if err != nil || len(es) != want {
			t.Errorf("%s: %d entries, want %d (%v)", addr, len(es), want, err)
		}
	}
	es, _ := c.AccessEntries(ctx, AccessFilter{Record: sha(1), Actor: "user:olga"})
	if len(es) != 1 || es[0].ID != 1 {
		t.Fatalf("record filter after backfill: %+v", es)
	}
}
