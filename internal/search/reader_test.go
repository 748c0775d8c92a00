package search

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/search/query"
)

// TestParticipantsReadRule: Request.Participants matches every address of the
// read rule — From, To, Cc, Bcc, Sender, Reply-To and the envelope — while
// participant: keeps meaning From, To, Cc and Bcc.
func TestParticipantsReadRule(t *testing.T) {
	idx, err := OpenBleve(filepath.Join(t.TempDir(), "index"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if idx.NeedsReindex() {
		t.Error("a new index needs reindexing")
	}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ana := []Address{{Address: "Ana@Ejemplo.gob.mx"}}
	other := []Address{{Address: "otro@ejemplo.gob.mx"}}
	docs := []Doc{
		{ID: "to", Date: at, Subject: "acta", From: other, To: ana},
		{ID: "sender", Date: at, Subject: "acta", From: other, Sender: ana},
		{ID: "replyto", Date: at, Subject: "acta", From: other, ReplyTo: ana},
		{ID: "envelope", Date: at, Subject: "acta", From: other, Envelope: []string{"ana@ejemplo.gob.mx"}},
		{ID: "none", Date: at, Subject: "acta", From: other, To: other},
	}
	if err := idx.Index(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	ids := func(q string, participants ...string) []string {
		n, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		res, err := idx.Search(context.Background(), Request{Query: n, Participants: participants, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range res.Hits {
			out = append(out, h.ID)
		}
		var scanned []string
		if err := idx.Scan(context.Background(), Request{Query: n, Participants: participants}, func(h Hit) error {
			scanned = append(scanned, h.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		slices.Sort(scanned)
		if !slices.Equal(out, scanned) {
			t.Errorf("%q: search %v, scan %v", q, out, scanned)
		}
		return out
	}
	if got := ids("acta", "ana@ejemplo.gob.mx"); !slices.Equal(got, []string{"envelope", "replyto", "sender", "to"}) {
		t.Errorf("restricted to ana: %v", got)
	}
	if got := ids("participant:ana@ejemplo.gob.mx"); !slices.Equal(got, []string{"to"}) {
		t.Errorf("participant: %v", got)
	}
}
