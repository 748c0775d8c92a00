package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/search/query"
)

// BenchmarkSearch measures a results page on an index of 20,000 Spanish
// messages: the total plus the 20 newest, bare and with facets and snippets.
// `resguardo bench search` measures the same on real mail and at 1,000,000
// messages, side by side with notmuch (docs/PERFORMANCE.md).
func BenchmarkSearch(b *testing.B) {
	idx, err := OpenBleve(filepath.Join(b.TempDir(), "index"))
	if err != nil {
		b.Fatal(err)
	}
	defer idx.Close()
	ctx := context.Background()
	words := strings.Fields("licitación contrato oficio expediente acta sesión comité proveedor factura pago " +
		"auditoría transparencia solicitud información convenio obra mantenimiento vehículos papelería viáticos")
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	var docs []Doc
	for i := 0; i < 20_000; i++ {
		var body []string
		for j := 0; j < 40; j++ {
			body = append(body, words[rng.IntN(len(words))])
		}
		docs = append(docs, Doc{ID: fmt.Sprintf("%064x", i), Date: base.Add(time.Duration(rng.IntN(6*365*24)) * time.Hour),
			Subject: words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))], Body: strings.Join(body, " "),
			From: []Address{{"María López", fmt.Sprintf("usuario%d@dependencia%d.gob.mx", rng.IntN(500), rng.IntN(20))}}})
		if len(docs) == 2000 {
			if err := idx.Index(ctx, docs); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	if err := idx.Compact(ctx); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, q string
		full    bool
	}{
		{"broad", "contrato", false},
		{"broad+facets+snippets", "contrato", true},
		{"selective", "licitación convenio viáticos from:@dependencia3.gob.mx", false},
		{"phrase", `"acta sesión"`, false},
	} {
		n, err := query.Parse(c.q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := idx.Search(ctx, Request{Query: n, Limit: 20, Facets: c.full, Highlight: c.full}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
