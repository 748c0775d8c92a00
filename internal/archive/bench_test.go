package archive

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/keys"
	"github.com/resguardo/resguardo/internal/notary"
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

// BenchmarkConstancia measures issuing a constancia (proof + document + CMS
// signature) and verifying it offline, for a record in a ledger of 10,000 entries.
func BenchmarkConstancia(b *testing.B) {
	dir, a := newArchiveB(b)
	defer a.Close()
	ctx := context.Background()
	if err := InitEvidence(dir, "Bench", time.Now()); err != nil {
		b.Fatal(err)
	}
	auth, err := notary.LoadAuthority(Layout{dir}.TSADir(), notary.AuthorityOptions{})
	if err != nil {
		b.Fatal(err)
	}
	in := a.Ingest(ctx, IngestOptions{})
	for i := 0; i < 10000; i++ {
		in.Add(ctx, &Item{Data: oficio(i), Channel: "import", Source: "bench"})
	}
	if err := in.Close(); err != nil {
		b.Fatal(err)
	}
	if _, err := a.Stamp(ctx, auth); err != nil {
		b.Fatal(err)
	}
	cert, err := keys.LoadCertification(Layout{dir}.Keys())
	if err != nil {
		b.Fatal(err)
	}
	msg := oficio(4321)
	sum := sha256.Sum256(msg)
	r, err := a.Cat.Lookup(ctx, hex.EncodeToString(sum[:]))
	if err != nil {
		b.Fatal(err)
	}
	anchors := []string{pemCertB(auth.CACert().Raw)}
	var doc, p7s []byte
	b.Run("issue", func(b *testing.B) {
		for b.Loop() {
			inp, err := a.ConstanciaInputs(ctx, r, "Bench", anchors)
			if err != nil {
				b.Fatal(err)
			}
			doc, _ = constancia.Build(inp).Marshal()
			if p7s, err = constancia.Sign(doc, cert.Cert, cert.Key, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	opt := constancia.Options{LogKey: a.Keys.LedgerPublicKey(), TSARoots: []*x509.Certificate{auth.CACert()}}
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if rep := constancia.Verify(msg, doc, opt); !rep.OK {
				b.Fatal(rep.Failed())
			}
		}
	})
	opt.P7S, opt.CARoots = p7s, []*x509.Certificate{cert.CA}
	b.Run("verify+p7s", func(b *testing.B) {
		for b.Loop() {
			if rep := constancia.Verify(msg, doc, opt); !rep.OK {
				b.Fatal(rep.Failed())
			}
		}
	})
}

func pemCertB(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
