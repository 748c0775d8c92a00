package archive

import (
	"context"
	"testing"
)

// BenchmarkIngest measures the whole durable path (parse, seal, pack, catalog,
// ledger) for small institutional messages; `resguardo bench import` measures it
// on the shared corpus.
func BenchmarkIngest(b *testing.B) {
	_, a := newArchiveB(b)
	defer a.Close()
	in := a.Ingest(context.Background(), IngestOptions{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m := oficio(i)
		b.SetBytes(int64(len(m)))
		if err := in.Add(context.Background(), &Item{Data: m, Channel: "import", Source: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	if err := in.Close(); err != nil {
		b.Fatal(err)
	}
}
