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
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/keys"
	"github.com/resguardo/resguardo/internal/ledger"
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

// Seal is the signed summary of an export: it fixes the manifests by digest,
// so the recipient can check that the export is complete and unaltered.
type Seal struct {
	Format         string `json:"format"` // "resguardo-export/1"
	Created        string `json:"created"`
	Issuer         string `json:"issuer"`
	Query          string `json:"query"`
	Count          int64  `json:"count"`
	Bytes          int64  `json:"bytes"`
	ManifestJSON   string `json:"manifest_json_sha256"`
	ManifestCSV    string `json:"manifest_csv_sha256"`
	Messages       string `json:"messages_sha256"` // SHA-256 over the concatenated message SHA-256s, in manifest order
	LedgerOrigin   string `json:"ledger_origin"`
	LedgerAccessAt int64  `json:"ledger_access_index"`
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
	// Actor and Justification go into the access entry; Records puts every
	// exported id in it too (the web application's exports: bounded).
	Actor         string
	Justification string
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

// item is one message made ready for the output by a worker: read,
// decrypted, its constancia built and, for a zip, both files compressed.
type item struct {
	rec     *catalog.Record
	ent     Entry
	raw     []byte    // mbox: the message
	files   []zipBlob // zip: the message and its constancia, deflated
	pending bool
	err     error
}

type zipBlob struct {
	hdr  zip.FileHeader
	data []byte
}

// Run exports every id of the scan. Workers (one per core) read, decrypt,
// build constancias and compress in parallel; one writer appends in scan order,
// so the output and its manifests are deterministic. At most a few dozen
// messages are in flight: memory stays constant.
func (e *Exporter) Run(ctx context.Context, scan Scan) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(runtime.GOMAXPROCS(0), 1)
	type job struct {
		id  string
		out chan *item
	}
	jobs := make(chan job)
	order := make(chan chan *item, 4*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.out <- e.prepare(ctx, j.id)
			}
		}()
	}
	scanErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(jobs)
		scanErr <- scan(func(id string) error {
			out := make(chan *item, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- job{id, out}:
				return nil
			case <-ctx.Done():
				out <- &item{err: ctx.Err()} // the writer waits on every channel in order
				return ctx.Err()
			}
		})
	}()
	var err error
	for out := range order {
		it := <-out
		if err == nil {
			if err = it.err; err == nil {
				err = e.write(it)
			}
			if err != nil {
				cancel()
			}
		}
	}
	wg.Wait()
	if serr := <-scanErr; err == nil && serr != nil {
		err = serr
	}
	return err
}

// prepare does a message's work that does not depend on its place in the output.
func (e *Exporter) prepare(ctx context.Context, id string) *item {
	it := &item{}
	r, err := e.opt.Lookup(ctx, id)
	if err != nil {
		it.err = err
		return it
	}
	raw, err := e.opt.Bytes(ctx, r)
	if err != nil {
		it.err = fmt.Errorf("export %s: %w", id, err)
		return it
	}
	it.rec = r
	ent := Entry{ID: r.SHA256, SHA256: r.SHA256, From: r.FromAddr, Subject: r.Subject, Size: r.Size}
	if !r.Date.IsZero() {
		ent.Date = r.Date.Format(time.RFC3339)
	}
	var meta struct {
		To []struct{ Address string } `json:"to"`
	}
	json.Unmarshal(r.Meta, &meta)
	var to []string
	for _, t := range meta.To {
		to = append(to, t.Address)
	}
	ent.To = strings.Join(to, ", ")
	if e.opt.Format != "zip" {
		it.raw, it.ent = raw, ent
		return it
	}
	ent.File = "mensajes/" + r.SHA256 + ".eml"
	if it.err = it.addZip(ent.File, raw, r.ArchivedAt); it.err != nil {
		return it
	}
	if doc, err := e.opt.Constancia(ctx, r); err == nil {
		ent.Constancia = "constancias/" + r.SHA256 + ".json"
		it.err = it.addZip(ent.Constancia, doc, time.Now())
	} else if errors.Is(err, archive.ErrPending) {
		it.pending = true
	} else {
		it.err = err
	}
	it.ent = ent
	return it
}

// addZip deflates data for a zip entry written later with CreateRaw.
func (it *item) addZip(name string, data []byte, mod time.Time) error {
	var buf bytes.Buffer
	zw := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	it.files = append(it.files, zipBlob{hdr: zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod,
		CRC32: crc32.ChecksumIEEE(data), CompressedSize64: uint64(buf.Len()), UncompressedSize64: uint64(len(data))}, data: buf.Bytes()})
	return nil
}

// flateWriters are reused: a deflate writer's state is about a megabyte. Level 2
// compresses mail nearly as well as the default at about twice the speed.
var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, 2)
	return w
}}

// write appends a prepared message to the output and the manifests.
func (e *Exporter) write(it *item) error {
	r, ent := it.rec, it.ent
	if e.opt.Format == "zip" {
		for i := range it.files {
			// A copy: the zip writer keeps the header until its central
			// directory is written, and must not keep the compressed data too.
			hdr := it.files[i].hdr
			w, err := e.zw.CreateRaw(&hdr)
			if err != nil {
				return err
			}
			if _, err := w.Write(it.files[i].data); err != nil {
				return err
			}
		}
	} else {
		ent.File = filepath.Base(e.path) + "#" + fmt.Sprint(e.count+1)
		if err := WriteMboxrd(e.mbox, it.raw, r.ArchivedAt); err != nil {
			return err
		}
	}
	sum, _ := hex.DecodeString(r.SHA256)
	e.msgsHash.Write(sum)
	line, _ := ledger.Canonical(ent)
	sep := ",\n"
	if e.count == 0 {
		sep = ""
	}
	io.WriteString(io.MultiWriter(e.manJSON, e.jsonHash), sep+"  "+string(line))
	e.csvW.Write([]string{ent.ID, ent.SHA256, ent.Date, ent.From, ent.To, ent.Subject, fmt.Sprint(ent.Size), ent.File, ent.Constancia})
	e.count++
	e.bytes += r.Size
	if it.pending {
		e.pending++
	}
	if e.opt.Records {
		e.ids = append(e.ids, r.SHA256)
	}
	if e.opt.Progress != nil && e.count%500 == 0 {
		e.opt.Progress(e.count, e.bytes)
	}
	return nil
}

func (e *Exporter) zipFile(name string, data []byte, mod time.Time) error {
	w, err := e.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod})
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// Finish closes the manifests, logs the export in the access ledger, signs the
// seal and writes the manifests, the seal and what a recipient needs to verify.
func (e *Exporter) Finish(ctx context.Context, q string) (*Result, error) {
	io.WriteString(io.MultiWriter(e.manJSON, e.jsonHash), "\n]\n")
	e.csvW.Flush()
	if err := e.csvW.Error(); err != nil {
		return nil, err
	}
	manifestSum := hex.EncodeToString(e.jsonHash.Sum(nil))
	idx, err := e.opt.LogAccess(ctx, archive.AccessDetail{Actor: e.opt.Actor, Action: "export", Query: q, Results: e.count,
		Records: e.ids, Manifest: manifestSum, Justification: e.opt.Justification})
	if err != nil {
		return nil, fmt.Errorf("export not logged: %w", err)
	}
	seal := Seal{Format: "resguardo-export/1", Created: time.Now().UTC().Format(time.RFC3339), Issuer: e.opt.Issuer,
		Query: q, Count: e.count, Bytes: e.bytes, ManifestJSON: manifestSum, ManifestCSV: hex.EncodeToString(e.csvHash.Sum(nil)),
		Messages: hex.EncodeToString(e.msgsHash.Sum(nil)), LedgerOrigin: e.opt.Origin, LedgerAccessAt: idx}
	sealJSON, err := json.MarshalIndent(seal, "", "  ")
	if err != nil {
		return nil, err
	}
	sealJSON = append(sealJSON, '\n')
	p7s, err := constancia.Sign(sealJSON, e.opt.Cert.Cert, e.opt.Cert.Key, nil)
	if err != nil {
		return nil, err
	}
	extra := []struct {
		name string
		data []byte
	}{{"sello.json", sealJSON}, {"sello.p7s", p7s}, {"LEEME.txt", []byte(Readme)}, {"certificados/ca-institucion.pem", e.opt.Cert.CAPEM},
		{"certificados/ledger.pub", []byte(e.opt.LedgerKey + "\n")}}
	for i, anchor := range e.opt.Anchors {
		extra = append(extra, struct {
			name string
			data []byte
		}{fmt.Sprintf("certificados/ca-sello-de-tiempo-%d.pem", i+1), []byte(anchor)})
	}
	if e.opt.Format == "zip" {
		for _, t := range []struct {
			name string
			f    *os.File
		}{{"manifest.json", e.manJSON}, {"manifest.csv", e.manCSV}} {
			if _, err := t.f.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
			w, err := e.zw.Create(t.name)
			if err != nil {
				return nil, err
			}
			if _, err := io.Copy(w, t.f); err != nil {
				return nil, err
			}
		}
		for _, x := range extra {
			if err := e.zipFile(x.name, x.data, time.Now()); err != nil {
				return nil, err
			}
		}
		if err := e.zw.Close(); err != nil {
			return nil, err
		}
	} else {
		if err := e.mbox.Flush(); err != nil {
			return nil, err
		}
		for _, t := range []struct {
			suffix string
			f      *os.File
		}{{".manifest.json", e.manJSON}, {".manifest.csv", e.manCSV}} {
			if _, err := t.f.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
			b, err := io.ReadAll(t.f)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(e.path+t.suffix, b, 0o600); err != nil {
				return nil, err
			}
		}
		for _, x := range extra {
			name := e.path + "." + strings.ReplaceAll(x.name, "/", "-")
			if err := os.WriteFile(name, x.data, 0o600); err != nil {
				return nil, err
			}
		}
	}
	if err := e.f.Sync(); err != nil {
		return nil, err
	}
	if err := e.f.Close(); err != nil {
		return nil, err
	}
	e.f = nil
	for _, t := range []*os.File{e.manJSON, e.manCSV} {
		t.Close()
		os.Remove(t.Name())
	}
	return &Result{Count: e.count, Bytes: e.bytes, Pending: e.pending, Manifest: manifestSum, LedgerIndex: idx, IDs: e.ids}, nil
}

// Readme is LEEME.txt: what the package holds and how to verify it.
const Readme = `Exportación de Resguardo (formato resguardo-export/1)

mensajes/       cada mensaje exactamente como llegó (el nombre es su SHA-256)
constancias/    la constancia de cada mensaje, cuando ya tenía sello de tiempo
manifest.json   la lista completa (también manifest.csv)
sello.json      resumen firmado: número de mensajes y huellas SHA-256 de los manifiestos
sello.p7s       firma CMS de sello.json por la institución
certificados/   CA de la institución, CA del sello de tiempo, clave pública de la bitácora

Verificar que la exportación está completa y sin cambios:
  openssl cms -verify -binary -inform DER -in sello.p7s -content sello.json -CAfile certificados/ca-institucion.pem -out /dev/null
  sha256sum manifest.json manifest.csv      (deben coincidir con sello.json)
  sha256sum mensajes/*.eml                  (cada nombre es la huella de su contenido)
  resguardo verify mensajes/ID.eml constancias/ID.json --log-key certificados/ledger.pub --tsa-ca certificados/ca-sello-de-tiempo-1.pem
La exportación quedó registrada en la bitácora de accesos (sello.json: ledger_access_index).
`

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

// WriteMboxrd appends a message in mboxrd form: a From_ line, ">From " quoting of
// every line that starts with zero or more '>' and "From ", and a blank line.
func WriteMboxrd(w *bufio.Writer, raw []byte, at time.Time) error {
	fmt.Fprintf(w, "From resguardo@localhost %s\n", at.UTC().Format("Mon Jan _2 15:04:05 2006"))
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		var line []byte
		if i < 0 {
			line, raw = raw, nil
		} else {
			line, raw = raw[:i+1], raw[i+1:]
		}
		j := 0
		for j < len(line) && line[j] == '>' {
			j++
		}
		if bytes.HasPrefix(line[j:], []byte("From ")) {
			w.WriteByte('>')
		}
		w.Write(line)
	}
	_, err := w.WriteString("\n")
	return err
}
