package blob

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/resguardo/resguardo/internal/fsutil"
)

// The write-once store design was chosen by these benchmarks (docs/PERFORMANCE.md):
// one file per blob (temp file, fsync, rename, directory fsync), one file per blob
// with a single syncfs(2) per batch, and append-only packs with one fsync per batch.
// Blobs are 4 KiB (a sealed mailing-list message), batches 500 blobs.

const benchBlob, benchBatch = 4 << 10, 500

func benchData(b *testing.B) []byte {
	d := make([]byte, benchBlob)
	rand.Read(d)
	return d
}

func BenchmarkStoreFilePerBlob(b *testing.B) {
	dir := b.TempDir()
	d := benchData(b)
	b.SetBytes(benchBlob)
	for i := 0; b.Loop(); i++ {
		if err := fsutil.WriteFile(filepath.Join(dir, fmt.Sprintf("%08d", i)), d, 0o444); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreFilePerBlobSyncfs(b *testing.B) {
	dir := b.TempDir()
	d := benchData(b)
	b.SetBytes(benchBlob)
	var pending []string
	flush := func() {
		f, err := os.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := unix.Syncfs(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		f.Close()
		for _, p := range pending {
			os.Rename(p, p[:len(p)-4])
		}
		fsutil.SyncDir(dir)
		pending = pending[:0]
	}
	for i := 0; b.Loop(); i++ {
		p := filepath.Join(dir, fmt.Sprintf("%08d.tmp", i))
		if err := os.WriteFile(p, d, 0o444); err != nil {
			b.Fatal(err)
		}
		if pending = append(pending, p); len(pending) == benchBatch {
			flush()
		}
	}
	flush()
}

func BenchmarkStorePack(b *testing.B) {
	p, err := OpenPacks(b.TempDir(), PackOptions{Writer: true})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	d := benchData(b)
	b.SetBytes(benchBlob)
	var n Name
	for i := 0; b.Loop(); i++ {
		n[0], n[1] = byte(i), byte(i>>8)
		if _, err := p.Put(n, d); err != nil {
			b.Fatal(err)
		}
		if i%benchBatch == benchBatch-1 {
			if err := p.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	p.Sync()
}

func BenchmarkSeal(b *testing.B) {
	s, _ := NewSealer(newKeys("mk1"), 0)
	msg, err := os.ReadFile("../../cmd/resguardo/testdata/es/oficio-licitacion.eml")
	if err != nil {
		b.Fatal(err)
	}
	n := name(msg)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := s.Seal(nil, n, msg); err != nil {
			b.Fatal(err)
		}
	}
}
