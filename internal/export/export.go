// Package export writes a set of archived messages as a verifiable package
// (docs/SEARCH.md, "Export"): every message byte-exact, its constancia when its
// checkpoint is timestamped, manifest.json and manifest.csv, and sello.json —
// the count and the SHA-256 of both manifests and of the message list — signed
// as sello.p7s (CMS, RFC 5652) by the institution, with the certificates and
// ledger key needed to verify it. `resguardo export` and the web application's
// "Exportar" (and POST /api/v1/export) call the same Exporter, so both produce
// the same package and the same access entry.
package export

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/keys"
)

// Entry is one line of an export manifest (docs/SEARCH.md).
type Entry struct {
	ID         string `json:"id"`
	SHA256     string `json:"sha256"`
	Date       string `json:"date,omitempty"`
	From       string `json:"from"`
	To         string `json:"to"`
	Subject    string `json:"subject"`
	Size       int64  `json:"size"`
	File       string `json:"file"`
	Constancia string `json:"constancia,omitempty"` // file, or "" while pending
}

// Options are what an export reads from and signs with.
type Options struct {
	Format string // "zip" (default) or "mbox"
	// Lookup and Bytes read a record and its message bytes.
	Lookup func(ctx context.Context, id string) (*catalog.Record, error)
	Bytes  func(ctx context.Context, r *catalog.Record) ([]byte, error)
	// Constancia builds a record's constancia document (JSON);
	// archive.ErrPending when its checkpoint is not timestamped yet (the
	// message is exported without it, and Result.Pending counts it).
	Constancia func(ctx context.Context, r *catalog.Record) ([]byte, error)
	// LogAccess writes the export's access entry and returns its ledger index;
	// an export that cannot be logged fails (nothing is kept).
	LogAccess func(ctx context.Context, d archive.AccessDetail) (int64, error)
	Cert      *keys.Certification
	Issuer    string
	Origin    string   // the ledger's origin line
	LedgerKey string   // the ledger's public key (note verifier key)
	Anchors   []string // the TSA's CA certificates (PEM)
	// Actor, Justification and Via go into the access entry; Records puts
	// every exported id in it too (the web application's exports: bounded).
	Actor         string
	Justification string
	Via           string
	Records       bool
	// Progress, if set, is called every 500 messages.
	Progress func(count, bytes int64)
}

// Result is what an export wrote.
type Result struct {
	Count, Bytes int64
	Pending      int64    // messages without a constancia: their checkpoint is not timestamped yet
	Manifest     string   // SHA-256 of manifest.json, as in the access entry
	LedgerIndex  int64    // of the access entry
	IDs          []string // exported ids, in manifest order (only with Options.Records)
}

// Scan calls fn with each id to export, in order.
type Scan func(fn func(id string) error) error

// Write exports every id of scan to path (created; never overwritten) and
// removes what it wrote when it fails.
func Write(ctx context.Context, path string, scan Scan, query string, opt Options) (*Result, error) {
	e := New(opt)
	if err := e.Open(path); err != nil {
		e.Abort()
		return nil, err
	}
	err := e.Run(ctx, scan)
	var res *Result
	if err == nil {
		res, err = e.Finish(ctx, query)
	}
	if err != nil {
		e.Abort()
		return nil, err
	}
	return res, nil
}

// Exporter writes one export: Open, Run, then Finish (or Abort).
type Exporter struct {
	opt Options

	path     string
	f        *os.File
	zw       *zip.Writer
	mbox     *bufio.Writer
	manJSON  *os.File // manifests are spooled to temporary files: constant memory
	manCSV   *os.File
	csvW     *csv.Writer
	jsonHash hash.Hash
	csvHash  hash.Hash
	msgsHash hash.Hash
	count    int64
	bytes    int64
	pending  int64
	ids      []string
}

// New returns an exporter.
func New(opt Options) *Exporter {
	if opt.Format == "" {
		opt.Format = "zip"
	}
	return &Exporter{opt: opt}
}

// ErrExists wraps the error of an output file that already exists, or
// cannot be created.
var ErrExists = errors.New("export: output not created")

// Open creates the output file (never overwriting) and the manifests' spools
// beside it.
func (e *Exporter) Open(path string) error {
	e.path = path
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("export: %w (not overwriting): %w", err, ErrExists)
	}
	e.f = f
	if e.opt.Format == "zip" {
		e.zw = zip.NewWriter(f)
	} else {
		e.mbox = bufio.NewWriterSize(f, 1<<20)
	}
	if e.manJSON, err = os.CreateTemp(filepath.Dir(path), ".manifest-*.json"); err != nil {
		return err
	}
	if e.manCSV, err = os.CreateTemp(filepath.Dir(path), ".manifest-*.csv"); err != nil {
		return err
	}
	e.jsonHash, e.csvHash, e.msgsHash = sha256.New(), sha256.New(), sha256.New()
	e.csvW = csv.NewWriter(io.MultiWriter(e.manCSV, e.csvHash))
	e.csvW.Write([]string{"id", "sha256", "date", "from", "to", "subject", "size", "file", "constancia"})
	io.WriteString(io.MultiWriter(e.manJSON, e.jsonHash), "[\n")
	return nil
}

// Count is the number of messages written so far.
func (e *Exporter) Count() int64 { return e.count }

// Abort closes and removes what an unfinished export wrote.
func (e *Exporter) Abort() {
	if e.f != nil {
		e.f.Close()
		os.Remove(e.path)
		e.f = nil
	}
	for _, t := range []*os.File{e.manJSON, e.manCSV} {
		if t != nil {
			t.Close()
			os.Remove(t.Name())
		}
	}
	e.manJSON, e.manCSV = nil, nil
}
