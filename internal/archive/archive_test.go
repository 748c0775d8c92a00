package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/ledger"
)

func oficio(n int) []byte {
	return []byte(fmt.Sprintf("From: Lic. Rosa Elena Quintero <rquintero@finanzas.ejemplo.gob.mx>\r\n"+
		"To: Dirección Jurídica <juridico@finanzas.ejemplo.gob.mx>\r\n"+
		"Subject: =?UTF-8?Q?Oficio_SF/DJ/%04d/2024:_solicitud_de_informaci=C3=B3n?=\r\n"+
		"Date: Tue, 5 Mar 2024 10:%02d:00 -0600\r\n"+
		"Message-ID: <oficio-%d@finanzas.ejemplo.gob.mx>\r\n\r\n"+
		"Se solicita la información del expediente %d.\r\n", n, n%60, n, n))
}

func newArchive(t *testing.T) (string, *Archive) { return newArchiveB(t) }

func newArchiveB(t testing.TB) (string, *Archive) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if _, created, err := Init(dir, "", time.Now()); err != nil || !created {
		t.Fatalf("init: %v %v", created, err)
	}
	a, err := Open(context.Background(), Options{Dir: dir, Writer: true, LockName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return dir, a
}

func ingestAll(t *testing.T, a *Archive, items [][]byte) []Result {
	t.Helper()
	var mu sync.Mutex
	var out []Result
	in := a.Ingest(context.Background(), IngestOptions{BatchSize: 7, OnResult: func(r Result) {
		mu.Lock()
		out = append(out, r)
		mu.Unlock()
	}})
	for i, b := range items {
		if err := in.Add(context.Background(), &Item{Data: b, Channel: "import", Source: fmt.Sprintf("test/%d.eml", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIngestDedupAndRead(t *testing.T) {
	t.Parallel()
	dir, a := newArchive(t)
	defer a.Close()
	var items [][]byte
	for i := 0; i < 50; i++ {
		items = append(items, oficio(i))
	}
	items = append(items, oficio(3), oficio(3), oficio(49)) // duplicates, some within one batch
	res := ingestAll(t, a, items)
	counts := map[Status]int{}
	for _, r := range res {
		counts[r.Status]++
	}
	if counts[Archived] != 50 || counts[Duplicate] != 3 || counts[Failed] != 0 {
		t.Fatalf("statuses %v", counts)
	}
	if a.Log.Size() != 50 {
		t.Fatalf("ledger size %d", a.Log.Size())
	}
	sum := sha256.Sum256(oficio(7))
	r, err := a.Cat.Lookup(context.Background(), hex.EncodeToString(sum[:])[:10])
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Oficio SF/DJ/0007/2024: solicitud de información" || r.FromAddr != "rquintero@finanzas.ejemplo.gob.mx" {
		t.Fatalf("metadata: %q %q", r.Subject, r.FromAddr)
	}
	b, err := a.Bytes(context.Background(), r)
	if err != nil || !bytes.Equal(b, oficio(7)) {
		t.Fatalf("bytes: %v", err)
	}
	// The ledger entry commits to the metadata document.
	idx, entry, err := a.Cat.EntryOf(context.Background(), r.Seq)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ledger.ParseRecordEntry(entry)
	if err != nil || e.SHA256 != r.SHA256 || e.MetaSHA256 != r.MetaSHA256 {
		t.Fatalf("entry %d: %+v %v", idx, e, err)
	}
	fromLog, err := a.Log.Entry(idx)
	if err != nil || !bytes.Equal(fromLog, entry) {
		t.Fatalf("log entry differs: %v", err)
	}
	// Receptions: the second copy of oficio(3) arrived from another source.
	sum3 := sha256.Sum256(oficio(3))
	r3, _ := a.Cat.Lookup(context.Background(), hex.EncodeToString(sum3[:]))
	recs, _ := a.Cat.Receptions(context.Background(), r3.Seq)
	if len(recs) != 3 {
		t.Fatalf("receptions of a message that arrived three times: %d", len(recs))
	}
	// No plaintext subject, address or body byte outside the catalog.
	for _, needle := range []string{"rquintero", "Quintero", "solicitud", "expediente"} {
		filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || strings.HasPrefix(filepath.Base(path), "catalog.db") {
				return nil
			}
			b, _ := os.ReadFile(path)
			if bytes.Contains(b, []byte(needle)) {
				t.Errorf("%q found in %s", needle, path)
			}
			return nil
		})
	}
}

func TestLockIsExclusive(t *testing.T) {
	t.Parallel()
	dir, a := newArchive(t)
	defer a.Close()
	_, err := Open(context.Background(), Options{Dir: dir, Writer: true, LockName: "second"})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "test") {
		t.Fatalf("second writer: %v", err)
	}
	r, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatalf("reader alongside writer: %v", err)
	}
	r.Close()
}

// TestLedgerCatchUp simulates a crash after the catalog commit and before the
// ledger append: the next writer appends the missing entries from the catalog.
func TestLedgerCatchUp(t *testing.T) {
	t.Parallel()
	dir, a := newArchive(t)
	ingestAll(t, a, [][]byte{oficio(1), oficio(2)})
	var recs []catalog.NewRecord
	for i := 10; i < 15; i++ {
		b := oficio(i)
		sum := sha256.Sum256(b)
		rec, err := buildRecord(sum, b, parseForTest(b), "import", "x", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		rec.BlobRef = "pack:1:8:1"
		recs = append(recs, rec)
	}
	if _, _, err := a.Cat.Commit(context.Background(), recs, nil); err != nil {
		t.Fatal(err)
	}
	a.Close()
	a, err := Open(context.Background(), Options{Dir: dir, Writer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Log.Size() != 7 {
		t.Fatalf("ledger size after catch-up %d, want 7", a.Log.Size())
	}
}

func TestInitRefusesForeignDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	if _, _, err := Init(dir, "", time.Now()); err == nil {
		t.Fatal("Init used a non-empty foreign directory")
	}
	if _, err := Open(context.Background(), Options{Dir: t.TempDir()}); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("open empty dir: %v", err)
	}
}

func TestInitKeepsKeysOfData(t *testing.T) {
	t.Parallel()
	dir, a := newArchive(t)
	ingestAll(t, a, [][]byte{oficio(1)})
	a.Close()
	os.RemoveAll(filepath.Join(dir, "keys"))
	if _, _, err := Init(dir, "", time.Now()); err == nil || !strings.Contains(err.Error(), "restore") {
		t.Fatalf("Init with data but no keys: %v", err)
	}
}

func TestFsckClean(t *testing.T) {
	t.Parallel()
	dir, a := newArchive(t)
	var items [][]byte
	for i := 0; i < 300; i++ {
		items = append(items, oficio(i))
	}
	ingestAll(t, a, items)
	a.Close()
	for _, quick := range []bool{false, true} {
		rep, err := Fsck(context.Background(), dir, FsckOptions{Quick: quick})
		if err != nil {
			t.Fatal(err)
		}
		if rep.ErrorCount != 0 || rep.Records != 300 || rep.LedgerSize != 300 {
			t.Fatalf("quick=%v: %+v", quick, rep)
		}
	}
}

// TestConcurrentCopiesStoredOnce sends many copies of the same messages at once: each
// is archived once, the others are duplicates, and no blob is stored twice.
func TestConcurrentCopiesStoredOnce(t *testing.T) {
	t.Parallel()
	dir, a := newArchive(t)
	var items [][]byte
	for r := 0; r < 20; r++ {
		for i := 0; i < 5; i++ {
			items = append(items, oficio(i))
		}
	}
	res := ingestAll(t, a, items)
	counts := map[Status]int{}
	for _, r := range res {
		counts[r.Status]++
	}
	a.Close()
	if counts[Archived] != 5 || counts[Duplicate] != 95 {
		t.Fatalf("statuses %v", counts)
	}
	rep, err := Fsck(context.Background(), dir, FsckOptions{})
	if err != nil || rep.ErrorCount != 0 || rep.OrphanBlobs != 0 {
		t.Fatalf("fsck %+v %v", rep, err)
	}
}

// TestCatchUpDuringIngest: catch-ups (serve's tick, access entries logged by the
// writer) running while an ingester appends batches must not make it fail: a batch
// that a catch-up already appended from the catalog is not appended again.
func TestCatchUpDuringIngest(t *testing.T) {
	t.Parallel()
	dir, a := newArchive(t)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	catchUps := 0
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := a.CatchUp(ctx); err != nil {
				t.Errorf("catch-up: %v", err)
				return
			}
			if catchUps%5 == 0 {
				if _, err := a.LogAccess(ctx, AccessDetail{Actor: "os:prueba@host", Action: "search", Query: "oficio", Results: 1}); err != nil {
					t.Errorf("access: %v", err)
					return
				}
			}
			catchUps++
		}
	}()
	var items [][]byte
	for i := 0; i < 600; i++ {
		items = append(items, oficio(i))
	}
	res := ingestAll(t, a, items)
	close(stop)
	wg.Wait()
	for _, r := range res {
		if r.Status != Archived {
			t.Fatalf("%s: %v %v", r.Source, r.Status, r.Err)
		}
	}
	a.Close()
	rep, err := Fsck(ctx, dir, FsckOptions{})
	if err != nil || rep.ErrorCount != 0 || rep.Records != 600 {
		t.Fatalf("fsck after %d catch-ups: %+v %v", catchUps, rep, err)
	}
}

// An init killed while writing FORMAT leaves its keys, empty blobs/ and ledger/
// and the temp file of FORMAT: the next Init completes it.
func TestInitAfterKilledInit(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	if _, _, err := Init(dir, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "keys", "ledger.pub"))
	os.Remove(filepath.Join(dir, "FORMAT"))
	if err := os.WriteFile(filepath.Join(dir, ".tmp-FORMAT-1234"), []byte(`{"form`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, created, err := Init(dir, "", time.Now())
	if err != nil || !created {
		t.Fatalf("Init after a killed init: %v %v", created, err)
	}
	if !strings.HasPrefix(string(pub), f.Origin+"+") {
		t.Errorf("origin %q does not keep the ledger key's %q", f.Origin, pub)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-FORMAT-1234")); !os.IsNotExist(err) {
		t.Errorf("the half-written temp file is still there: %v", err)
	}
	if a, err := Open(context.Background(), Options{Dir: dir, Writer: true, LockName: "test"}); err != nil {
		t.Fatalf("open: %v", err)
	} else {
		a.Close()
	}
}
