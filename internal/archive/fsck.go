package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/resguardo/resguardo/internal/blob"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/ledger"
)

// Problem severities.
const (
	SevError   = "error"
	SevWarning = "warning"
)

// Problem is one inconsistency fsck found.
type Problem struct {
	Severity string `json:"severity"`
	Kind     string `json:"kind"`
	Record   string `json:"record,omitempty"` // record SHA-256
	Where    string `json:"where,omitempty"`  // file, ref or ledger index
	Detail   string `json:"detail"`
}

// FsckOptions configures Fsck.
type FsckOptions struct {
	Quick    bool // presence and ledger only: no blob is read back
	Workers  int
	Progress func(done, total int64)
}

// FsckReport is the outcome of Fsck.
type FsckReport struct {
	Records      int64     `json:"records"`
	BlobsRead    int64     `json:"blobs_read"`
	BytesRead    int64     `json:"bytes_read"`
	LedgerSize   int64     `json:"ledger_size"`
	CatalogNext  int64     `json:"catalog_entries"`
	Quick        bool      `json:"quick"`
	Live         bool      `json:"live"` // a writer was active: entries past the checkpoint are pending, not missing
	OrphanBlobs  int64     `json:"orphan_blobs"`
	Recovered    int64     `json:"recovered_entries"` // pending entries appended to the ledger before checking
	Problems     []Problem `json:"problems"`
	ErrorCount   int       `json:"errors"`
	WarningCount int       `json:"warnings"`
}

func (r *FsckReport) add(sev, kind, rec, where, format string, a ...any) {
	r.Problems = append(r.Problems, Problem{Severity: sev, Kind: kind, Record: rec, Where: where, Detail: fmt.Sprintf(format, a...)})
	if sev == SevError {
		r.ErrorCount++
	} else {
		r.WarningCount++
	}
}

// Fsck checks catalog, blobs and ledger against each other. It opens dir itself:
// with the writer lock when it is free (strict), or alongside a running writer (live).
func Fsck(ctx context.Context, dir string, opt FsckOptions) (*FsckReport, error) {
	rep := &FsckReport{Quick: opt.Quick, Problems: []Problem{}}
	o := Options{Dir: dir, Check: true, Writer: true, LockName: "fsck"}
	a, err := Open(ctx, o)
	if errors.Is(err, ErrLocked) {
		o.Writer, rep.Live = false, true
		a, err = Open(ctx, o)
	}
	if err != nil {
		return nil, err
	}
	defer a.Close()

	if msgs, err := a.Cat.IntegrityCheck(ctx, opt.Quick); err != nil {
		rep.add(SevError, "catalog-integrity", "", a.Cat.Path(), "%v", err)
	} else {
		for _, m := range msgs {
			rep.add(SevError, "catalog-integrity", "", a.Cat.Path(), "%s", m)
		}
	}
	if !rep.Live && a.Log != nil {
		// Like a journal replay: entries the catalog committed before an interruption
		// and the ledger did not receive yet are appended first — only when the ledger
		// as it stands verifies against its signed checkpoint.
		if n, err := a.recoverLedger(ctx); err != nil {
			rep.add(SevError, "ledger-recovery", "", "ledger", "%v", err)
		} else if n > 0 {
			rep.Recovered = n
		}
	}
	if rep.CatalogNext, err = a.Cat.LedgerNext(ctx); err != nil {
		return nil, err
	}
	if a.Log == nil {
		rep.add(SevError, "ledger-checkpoint", "", "ledger/checkpoint", "%v", a.LogErr)
		rep.LedgerSize = -1
	} else {
		rep.LedgerSize = a.Log.Size()
		if err := a.fsckLedger(ctx, rep); err != nil {
			return nil, err
		}
	}
	refs, err := a.fsckRecords(ctx, rep, opt)
	if err != nil {
		return nil, err
	}
	if !opt.Quick {
		if err := a.fsckOrphans(rep, refs); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// recoverLedger reopens the ledger for appending (verifying it) and catches it up
// with the catalog. It returns how many entries it appended.
func (a *Archive) recoverLedger(ctx context.Context) (int64, error) {
	next, err := a.Cat.LedgerNext(ctx)
	if err != nil {
		return 0, err
	}
	size := a.Log.Size()
	if next <= size {
		return 0, nil
	}
	l, err := ledger.Open(Layout{a.opt.Dir}.Ledger(), ledger.Options{Origin: a.Format.Origin,
		Signer: a.Keys.LedgerSigner(), Verifier: a.Keys.LedgerVerifier()})
	if err != nil {
		return 0, fmt.Errorf("not appending %d pending entries: %w", next-size, err)
	}
	a.Log = l
	if err := a.catchUpLedger(ctx); err != nil {
		return 0, err
	}
	return next - size, nil
}

// fsckLedger recomputes the Merkle tree from the entry bundles and compares every
// entry with the catalog's copy.
func (a *Archive) fsckLedger(ctx context.Context, rep *FsckReport) error {
	type ce struct {
		idx  int64
		data []byte
	}
	ch := make(chan ce, 256)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ch)
		_ = a.Cat.LedgerEntries(cctx, 0, func(idx int64, _ string, data []byte) error {
			select {
			case ch <- ce{idx, bytes.Clone(data)}:
				return nil
			case <-cctx.Done():
				return cctx.Err()
			}
		})
	}()
	probs, err := a.Log.Verify(func(i int64, e []byte) error {
		c, ok := <-ch
		switch {
		case !ok || c.idx != i:
			rep.add(SevError, "ledger-ahead", "", fmt.Sprintf("ledger entry %d", i), "ledger entry has no copy in the catalog")
		case !bytes.Equal(c.data, e):
			rep.add(SevError, "ledger-entry-mismatch", "", fmt.Sprintf("ledger entry %d", i), "ledger entry differs from the catalog's copy")
		}
		return nil
	})
	for _, p := range probs {
		rep.add(SevError, "ledger-"+p.Kind, "", "ledger/"+p.Path, "%s", p.Detail)
	}
	if err != nil {
		rep.add(SevError, "ledger-unverifiable", "", "ledger", "%v", err)
	}
	for c := range ch {
		if rep.Live {
			continue // committed by the running writer after the checkpoint we read
		}
		rep.add(SevError, "catalog-no-ledger", "", fmt.Sprintf("ledger entry %d", c.idx), "catalog entry is not in the ledger (checkpoint size %d)", rep.LedgerSize)
	}
	return nil
}

type blobJob struct {
	rec *catalog.Record
}

// fsckRecords checks each record's metadata digest, ledger entry and blob.
func (a *Archive) fsckRecords(ctx context.Context, rep *FsckReport, opt FsckOptions) (map[string]bool, error) {
	st, err := a.Cat.Stats(ctx)
	if err != nil {
		return nil, err
	}
	refs := map[string]bool{}
	var mu sync.Mutex
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan blobJob, workers*4)
	var wg sync.WaitGroup
	var done int64
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				kind, detail := a.checkBlob(ctx, j.rec, opt.Quick)
				mu.Lock()
				if kind != "" {
					rep.add(SevError, kind, j.rec.SHA256, j.rec.BlobRef, "%s", detail)
				}
				if !opt.Quick {
					rep.BlobsRead++
					rep.BytesRead += j.rec.Size
				}
				done++
				if opt.Progress != nil {
					opt.Progress(done, st.Records)
				}
				mu.Unlock()
			}
		}()
	}
	err = a.Cat.EachWithEntry(ctx, func(re catalog.RecordWithEntry) error {
		r := re.Record
		mu.Lock()
		rep.Records++
		refs[r.BlobRef] = true
		a.checkRecordEntry(rep, re)
		mu.Unlock()
		select {
		case jobs <- blobJob{rec: r}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	return refs, err
}

func (a *Archive) checkRecordEntry(rep *FsckReport, re catalog.RecordWithEntry) {
	r := re.Record
	if sum := sha256.Sum256(r.Meta); hex.EncodeToString(sum[:]) != r.MetaSHA256 {
		rep.add(SevError, "meta-altered", r.SHA256, "catalog", "metadata document does not match its digest")
	}
	if re.EntryIndex < 0 || r.LedgerIndex != re.EntryIndex {
		rep.add(SevError, "catalog-no-ledger", r.SHA256, "catalog", "record has no ledger entry")
		return
	}
	if rep.LedgerSize >= 0 && re.EntryIndex >= rep.LedgerSize && !rep.Live {
		rep.add(SevError, "catalog-no-ledger", r.SHA256, fmt.Sprintf("ledger entry %d", re.EntryIndex), "record's entry is past the ledger's signed size %d", rep.LedgerSize)
	}
	e, err := ledger.ParseRecordEntry(re.Entry)
	if err != nil {
		rep.add(SevError, "ledger-entry-mismatch", r.SHA256, fmt.Sprintf("ledger entry %d", re.EntryIndex), "%v", err)
		return
	}
	if e.SHA256 != r.SHA256 || e.Size != r.Size || e.MetaSHA256 != r.MetaSHA256 || e.Channel != r.Channel ||
		e.Time != ledger.FormatTime(r.ArchivedAt) {
		rep.add(SevError, "ledger-entry-mismatch", r.SHA256, fmt.Sprintf("ledger entry %d", re.EntryIndex), "ledger entry does not describe this record")
	}
}

func (a *Archive) checkBlob(ctx context.Context, r *catalog.Record, quick bool) (kind, detail string) {
	sum, err := hex.DecodeString(r.SHA256)
	if err != nil || len(sum) != 32 {
		return "catalog-bad-row", "sha256 is not 64 hex digits"
	}
	name := blob.NameFor(a.Keys.NameKey(), [32]byte(sum))
	if quick {
		err = a.Blobs.Stat(blob.Ref(r.BlobRef), name)
	} else {
		var plain []byte
		plain, err = a.Bytes(ctx, r)
		if err == nil && int64(len(plain)) != r.Size {
			err = fmt.Errorf("%w: size %d, catalog says %d", ErrHashMismatch, len(plain), r.Size)
		}
	}
	switch {
	case err == nil:
		return "", ""
	case errors.Is(err, blob.ErrNotFound):
		return "blob-missing", err.Error()
	case errors.Is(err, blob.ErrCorrupt), errors.Is(err, ErrHashMismatch):
		return "blob-altered", err.Error()
	case errors.Is(err, blob.ErrUnknownKey):
		return "blob-key-missing", err.Error()
	default:
		return "blob-unreadable", err.Error()
	}
}

// fsckOrphans walks every pack: entries no record points to are left over from
// batches that never committed (a crash): harmless, reported as warnings.
func (a *Archive) fsckOrphans(rep *FsckReport, refs map[string]bool) error {
	return a.Blobs.Walk(func(e blob.Entry, err error) error {
		if err != nil && e.Ref == "" {
			rep.add(SevWarning, "pack-torn-tail", "", "", "%v", err)
			return nil
		}
		if !refs[string(e.Ref)] {
			rep.OrphanBlobs++
		}
		return nil
	})
}
