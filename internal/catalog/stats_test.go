package catalog

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestCountArchivedAndQuarantined(t *testing.T) {
	t.Parallel()
	c := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	var recs []NewRecord
	for i, at := range []time.Time{t0.Add(-time.Nanosecond), t0, t0.Add(30 * time.Minute), t0.Add(time.Hour), t0.Add(3*time.Hour - 1)} {
		recs = append(recs, partRec(i+1, "a@x.mx", "b@x.mx", at))
	}
	_, _, err := c.Commit(ctx, recs, []Reception{{SHA256: sha(2), Channel: "mx", Source: "s", At: t0, Quarantine: true},
		{SHA256: sha(3), Channel: "mx", Source: "s", At: t0, Quarantine: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		bounds []time.Time
		want   []int64
	}{
		{"hours", []time.Time{t0, t0.Add(time.Hour), t0.Add(2 * time.Hour), t0.Add(3 * time.Hour)}, []int64{2, 1, 1}},
		{"one range", []time.Time{t0.Add(-time.Hour), t0.Add(time.Hour)}, []int64{3}},
		{"none", []time.Time{t0}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.CountArchived(ctx, tc.bounds)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := c.CountArchived(ctx, []time.Time{t0, t0}); err == nil {
		t.Fatal("bounds that do not increase must be refused")
	}
	n, err := c.CountQuarantined(ctx)
	if err != nil || n != 2 {
		t.Fatalf("quarantined %d, %v", n, err)
	}
	if ok, err := c.ReleaseQuarantine(ctx, 2, nil); !ok || err != nil {
		t.Fatalf("release: %v %v", ok, err)
	}
	if n, _ := c.CountQuarantined(ctx); n != 1 {
		t.Fatalf("after release: %d", n)
	}
}
