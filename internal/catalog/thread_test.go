package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"
)

// TestThreadMembers: the other records of a conversation, oldest first
// (undated last); none for a record alone, unthreaded or unknown.
func TestThreadMembers(t *testing.T) {
	c := open(t)
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	id := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	type in struct {
		name, mid string
		refs      []string
		date      time.Time
	}
	msgs := []in{
		{"a", "a@x", nil, base.Add(2 * time.Hour)},
		{"b", "b@x", []string{"a@x"}, base},        // a reply dated earlier (clocks differ)
		{"c", "c@x", []string{"a@x"}, time.Time{}}, // undated
		{"d", "d@x", nil, base.Add(time.Hour)},     // alone
		{"e", "e@x", nil, base.Add(3 * time.Hour)}, // not threaded yet
	}
	var recs []NewRecord
	for i, m := range msgs {
		recs = append(recs, NewRecord{Record: Record{SHA256: id(m.name), Size: 1, BlobRef: "x", ArchivedAt: base.Add(time.Duration(i) * time.Second),
			Channel: "mx", Date: m.date, Meta: []byte("{}"), MetaSHA256: id(m.name)}, EntryType: "record", Entry: []byte(`{"v":1,"type":"record"}`)})
	}
	if _, _, err := c.Commit(ctx, recs, nil); err != nil {
		t.Fatal(err)
	}
	var tin []ThreadInput
	for i, m := range msgs[:4] {
		tin = append(tin, ThreadInput{Seq: int64(i + 1), IDs: append([]string{m.mid}, m.refs...), Date: m.date})
	}
	if _, err := c.AssignThreads(ctx, tin, 90*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		of    string
		limit int
		want  []string
	}{
		{"a", 10, []string{id("b"), id("c")}},
		{"b", 10, []string{id("b"), id("a"), id("c")}[1:]}, // a, then the undated c
		{"c", 1, []string{id("b")}},
		{"d", 10, nil},
		{"e", 10, nil},
		{"zz", 10, nil},
	} {
		got, err := c.ThreadMembers(ctx, id(tc.of), tc.limit)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ThreadMembers(%s) = %v, %v; want %v", tc.of, got, err, tc.want)
		}
	}
}
