package search

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/search/query"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

var fixtureDocs = []Doc{
	{ID: "a1", Date: day("2022-03-05"), Subject: "Licitación pública LPN-014/2022: aclaración de dudas",
		Body: "Se adjunta el acta de la sesión de aclaración. Los contratos se firmarán en abril.",
		From: []Address{{"Juan Pérez López", "juan.perez@sep.gob.mx"}}, To: []Address{{"", "ventas@proveedor.com.mx"}},
		Filenames: []string{"Acta de sesión.pdf"}, Attachments: "ACTA DE LA SESIÓN DE ACLARACIÓN DE DUDAS contrato marco",
		HasAttach: true, Size: 250_000, Channel: "import", MessageID: "<lpn014@sep.gob.mx>", Thread: 1},
	{ID: "a2", Date: day("2023-07-10"), Subject: "RE: Licitación pública LPN-014/2022: aclaración de dudas",
		Body: "Recibido. El borrador del contrato queda pendiente.", From: []Address{{"Ventas", "ventas@proveedor.com.mx"}},
		To: []Address{{"Juan Pérez López", "juan.perez@sep.gob.mx"}}, Size: 4_000, Channel: "import", Thread: 1},
	{ID: "a3", Date: day("2024-11-20"), Subject: "Solicitud de información 330024324000123",
		Body: "Se requiere la informacion de los contratos del ejercicio 2023.", From: []Address{{"Lucía Sánchez", "lsanchez@transparencia.ejemplo.gob.mx"}},
		To: []Address{{"", "ut@ejemplo.gob.mx"}}, Cc: []Address{{"", "juan.perez@sep.gob.mx"}}, Size: 2_000_000, Channel: "mx", Thread: 3},
	{ID: "a4", Date: day("2019-01-15"), Subject: "Weekly report", Body: "The contracts were signed yesterday.",
		From: []Address{{"Bob", "bob@example.com"}}, To: []Address{{"", "ut@ejemplo.gob.mx"}}, Size: 900, Channel: "import", Malformed: true, Thread: 4},
}

func TestQueries(t *testing.T) {
	t.Parallel()
	idx, err := OpenBleve(filepath.Join(t.TempDir(), "index"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	ctx := context.Background()
	if err := idx.Index(ctx, fixtureDocs); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		q    string
		want []string
	}{
		{"licitación", []string{"a1", "a2"}},
		{"licitacion", []string{"a1", "a2"}},     // accent folding
		{"contrato", []string{"a1", "a2", "a3"}}, // "contratos" stems to "contrato"
		{"informacion", []string{"a3"}},          // and the other way
		{"contracts", []string{"a4"}},            // English words still found
		{"licit*", []string{"a1", "a2"}},         // prefix
		{"pendiente*", []string{"a2"}},           // prefix of a word indexed stemmed ("pendiente" as "pendient")
		{"contract*", []string{"a4"}},
		{"lucia", []string{"a3"}},        // a bare word finds names ...
		{"ventas", []string{"a1", "a2"}}, // ... and address parts, as in Gmail and notmuch
		{`subject:"aclaración de dudas"`, []string{"a1", "a2"}},
		{"from:juan.perez@sep.gob.mx", []string{"a1"}},
		{"to:@proveedor.com.mx", []string{"a1"}},
		{"from:perez", []string{"a1"}},
		{"participant:juan.perez@sep.gob.mx", []string{"a1", "a2", "a3"}},
		{"domain:gob.mx", []string{"a1", "a2", "a3", "a4"}},
		{"cc:juan.perez@sep.gob.mx", []string{"a3"}},
		{"has:attachment", []string{"a1"}},
		{"filename:pdf", []string{"a1"}},
		{"attachment:marco", []string{"a1"}},
		{"contrato -borrador", []string{"a1", "a3"}},
		{"after:2022-01-01 before:2024-01-01", []string{"a1", "a2"}},
		{"year:2024", []string{"a3"}},
		{"size>1MB", []string{"a3"}},
		{"size<1KB", []string{"a4"}},
		{"is:malformed", []string{"a4"}},
		{"channel:mx", []string{"a3"}},
		{"id:lpn014@sep.gob.mx", []string{"a1"}},
		{"thread:1", []string{"a1", "a2"}},
		{"(from:bob@example.com OR from:ventas@proveedor.com.mx) NOT report", []string{"a2"}},
		{"de:@sep.gob.mx tiene:adjunto", []string{"a1"}},
		{"*", []string{"a1", "a2", "a3", "a4"}},
	}
	for _, tc := range cases {
		n, err := query.Parse(tc.q)
		if err != nil {
			t.Fatalf("%q: %v", tc.q, err)
		}
		res, err := idx.Search(ctx, Request{Query: n, Limit: 50, Facets: true, Highlight: true})
		if err != nil {
			t.Fatalf("%q: %v", tc.q, err)
		}
		var got []string
		for _, h := range res.Hits {
			got = append(got, h.ID)
		}
		sort.Strings(got)
		if int(res.Total) != len(tc.want) || !equal(got, tc.want) {
			t.Errorf("%q: got %v (total %d), want %v", tc.q, got, res.Total, tc.want)
		}
		// By relevance without facets the total comes from the scored search itself.
		if rel, err := idx.Search(ctx, Request{Query: n, Sort: SortRelevance, Limit: 50}); err != nil || int(rel.Total) != len(tc.want) || len(rel.Hits) != len(tc.want) {
			t.Errorf("%q by relevance: %+v %v", tc.q, rel, err)
		}
	}
	// Newest first, snippets, facets.
	n, _ := query.Parse("contrato")
	res, _ := idx.Search(ctx, Request{Query: n, Facets: true, Highlight: true})
	if res.Hits[0].ID != "a3" || res.Hits[2].ID != "a1" || len(res.Hits[0].Snippets) == 0 {
		t.Fatalf("order/snippets: %+v", res.Hits)
	}
	if len(res.Facets["year"]) != 3 {
		t.Fatalf("facets %+v", res.Facets)
	}
	// A servidor público sees only mail they take part in.
	res, _ = idx.Search(ctx, Request{Query: n, Participants: []string{"lsanchez@transparencia.ejemplo.gob.mx"}})
	if res.Total != 1 || res.Hits[0].ID != "a3" {
		t.Fatalf("participants filter: %+v", res.Hits)
	}
	// Scan visits every match once.
	all, _ := query.Parse("*")
	seen := map[string]int{}
	if err := idx.Scan(ctx, Request{Query: all}, func(h Hit) error { seen[h.ID]++; return nil }); err != nil || len(seen) != 4 {
		t.Fatalf("scan: %v %v", seen, err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNormalizeSubject(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"RE: RV: Fwd: Oficio 12":            "oficio 12",
		"Re[2]: [finanzas] Acta  de sesión": "acta de sesión",
		"Respuesta a la solicitud":          "respuesta a la solicitud",
	} {
		if got := NormalizeSubject(in); got != want {
			t.Errorf("NormalizeSubject(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNewestWindowed: a broad newest-first query searched in a recent window of
// dates gives exactly the pages the full sort gives, whatever the spread of dates
// (clustered, future-dated spam, undated messages) and the page asked for.
func TestNewestWindowed(t *testing.T) {
	// Not parallel: it changes windowFrom.
	idx, err := OpenBleve(filepath.Join(t.TempDir(), "index"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	ctx := context.Background()
	var docs []Doc
	base := day("2015-01-01")
	for i := 0; i < 3000; i++ {
		d := Doc{ID: fmt.Sprintf("m%04d", i), Subject: "oficio", Body: "texto"}
		switch {
		case i%97 == 0: // undated
		case i%251 == 0:
			d.Date = day("2036-02-05").Add(time.Duration(i) * time.Minute) // forged future date
		case i < 2000:
			d.Date = base.Add(time.Duration(i*7) * time.Hour) // a dense past
		default:
			d.Date = base.Add(time.Duration(i*i) * time.Hour) // a sparse recent tail
		}
		if i%3 == 0 && i < 1500 { // only in old mail: the first window holds too few
			d.Body += " contrato"
		}
		docs = append(docs, d)
	}
	if err := idx.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}
	// Scan pages with search-after: every match once, however many pages.
	scanPageSize = 7
	all, _ := query.Parse("*")
	seen := map[string]int{}
	err = idx.Scan(ctx, Request{Query: all}, func(h Hit) error { seen[h.ID]++; return nil })
	scanPageSize = 10_000
	if err != nil || len(seen) != len(docs) {
		t.Fatalf("scan: %d of %d documents, %v", len(seen), len(docs), err)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("scan: %s seen %d times", id, n)
		}
	}
	if b, err := idx.dateBuckets(); err != nil || len(b) < 10 {
		t.Fatalf("date histogram: %d buckets, %v", len(b), err)
	}
	for _, qs := range []string{"contrato", "oficio", "oficio -contrato", "oficio before:2015-03-01", "oficio year:2015", "contrato after:2015-02-01 before:2015-06-01"} {
		n, _ := query.Parse(qs)
		for _, page := range [][2]int{{0, 20}, {0, 5}, {1, 5}, {40, 20}, {41, 20}, {990, 20}, {1995, 20}, {2990, 20}} {
			windowFrom = 1 << 62
			plain, err := idx.Search(ctx, Request{Query: n, Offset: page[0], Limit: page[1]})
			if err != nil {
				t.Fatal(err)
			}
			windowFrom, fullSortBelow = 10, uint64(page[0]%2)*1_000_000 // widen windows, or fall back to the full sort
			win, err := idx.Search(ctx, Request{Query: n, Offset: page[0], Limit: page[1]})
			windowFrom, fullSortBelow = 1_000, 5_000
			if err != nil {
				t.Fatal(err)
			}
			if plain.Total != win.Total || len(plain.Hits) != len(win.Hits) {
				t.Fatalf("%q %v: totals %d/%d, hits %d/%d", qs, page, plain.Total, win.Total, len(plain.Hits), len(win.Hits))
			}
			for i := range plain.Hits {
				if !plain.Hits[i].Date.Equal(win.Hits[i].Date) {
					t.Fatalf("%q %v: hit %d: %s %v (full sort) vs %s %v (window)", qs, page, i,
						plain.Hits[i].ID, plain.Hits[i].Date, win.Hits[i].ID, win.Hits[i].Date)
				}
			}
		}
	}
}
