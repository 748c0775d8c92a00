package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/ledger"
)

// AccessDetail is the canonical document of one access (docs/FORMATS.md): who, what
// and how much. Its SHA-256 is in the ledger's access entry.
type AccessDetail struct {
	V             int      `json:"v"`
	Time          string   `json:"time"`
	Actor         string   `json:"actor"`  // "os:<user>@<host>" for the CLI; "user:<login>" for the web
	Action        string   `json:"action"` // search, export, read
	Query         string   `json:"query,omitempty"`
	Results       int64    `json:"results"`
	Records       []string `json:"records,omitempty"`         // ids read or exported (all of them for an export)
	Manifest      string   `json:"manifest_sha256,omitempty"` // an export's manifest: commits to every id in it
	Justification string   `json:"justification,omitempty"`
}

// LogAccess records an access: catalog access log and ledger entry in one
// transaction, then — when this process can take the writer lock, or already holds
// it — the entry goes into the Merkle log at once; otherwise the running writer
// (serve) appends it within a few seconds.
func (a *Archive) LogAccess(ctx context.Context, d AccessDetail) (int64, error) {
	now := a.now()
	d.V = 1
	d.Time = ledger.FormatTime(now)
	doc, err := ledger.Canonical(d)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(doc)
	entry, err := ledger.NewAccessEntry(now, d.Action, hex.EncodeToString(sum[:]))
	if err != nil {
		return 0, err
	}
	idx, err := a.Cat.LogAccess(ctx, catalog.AccessRecord{At: now, Actor: d.Actor, Action: d.Action, Detail: doc,
		DetailSHA256: hex.EncodeToString(sum[:]), Entry: entry})
	if err != nil {
		return 0, fmt.Errorf("access not logged: %w", err)
	}
	if err := a.flushPending(ctx); err != nil {
		a.logger.Warn("access entry committed; ledger append pending", "err", err)
	}
	return idx, nil
}

// flushPending appends committed catalog entries to the Merkle log if this process
// is, or can briefly become, the writer.
func (a *Archive) flushPending(ctx context.Context) error {
	if a.opt.Writer && a.lock != nil {
		return a.catchUpLedger(ctx)
	}
	lock, err := AcquireLock(a.opt.Dir, "access")
	if errors.Is(err, ErrLocked) {
		return nil // the writer appends it
	}
	if err != nil {
		return err
	}
	defer lock.Release()
	l, err := ledger.Open(Layout{a.opt.Dir}.Ledger(), ledger.Options{Origin: a.Format.Origin,
		Signer: a.Keys.LedgerSigner(), Verifier: a.Keys.LedgerVerifier()})
	if err != nil {
		return err
	}
	old := a.Log
	a.Log = l
	err = a.catchUpLedger(ctx)
	if err != nil {
		a.Log = old
	}
	return err
}
