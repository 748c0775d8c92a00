package main

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
	"flag"
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
	"github.com/resguardo/resguardo/internal/search"
	"github.com/resguardo/resguardo/internal/search/query"
)

// exportEntry is one line of an export manifest (docs/SEARCH.md).
type exportEntry struct {
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

// exportSeal is the signed summary of an export: it fixes the manifests by digest,
// so the recipient can check that the export is complete and unaltered.
type exportSeal struct {
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

func runExport(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	q := fs.String("query", "", "the search query (docs/SEARCH.md); empty exports everything")
	out := fs.String("out", "", "output file: FILE.zip, or FILE.mbox with --format mbox")
	format := fs.String("format", "zip", "zip (messages + constancias + signed manifest) or mbox (mboxrd, manifest files beside it)")
	progress := fs.String("progress", "auto", "progress bar on stderr: auto, always, never")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	if *out == "" || (*format != "zip" && *format != "mbox") {
		return &exitError{code: 2, err: errors.New("usage: resguardo export --query Q --out FILE.zip [--format zip|mbox]")}
	}
	n, err := m.parseQuery(*q)
	if err != nil {
		return err
	}
	a, err := m.openArchiveMaybeWriter(ctx, "export")
	if err != nil {
		return err
	}
	defer a.Close()
	showBar := *progress == "always" || (*progress == "auto" && isTerminal(m.Stderr))
	idx, err := m.openIndex(ctx, a, showBar)
	if err != nil {
		return err
	}
	defer idx.Close()
	cert, err := m.certification(a)
	if err != nil {
		return err
	}
	_, tsaAnchors, err := m.notaryFor(a)
	if err != nil {
		return err
	}
	e := &exporter{m: m, a: a, format: *format, anchors: tsaAnchors, start: time.Now(), bar: showBar}
	if err := e.open(*out); err != nil {
		return err
	}
	err = e.run(ctx, func(fn func(id string) error) error {
		return idx.Scan(ctx, search.Request{Query: n}, func(h search.Hit) error { return fn(h.ID) })
	})
	if err == nil {
		err = e.finish(ctx, query.String(n), cert)
	}
	if err != nil {
		e.abort()
		return err
	}
	if showBar {
		fmt.Fprintln(m.Stderr)
	}
	fmt.Fprintln(m.Stdout, m.P.T("export.done", m.P.Int(e.count), *out, m.P.Float(float64(e.count)/max(time.Since(e.start).Seconds(), 0.001), 0)))
	return nil
}

type exporter struct {
	m       *Main
	a       *archive.Archive
	format  string
	anchors []string
	start   time.Time
	bar     bool

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
}

func (e *exporter) open(path string) error {
	e.path = path
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("export: %w (not overwriting)", err)}
	}
	e.f = f
	if e.format == "zip" {
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

// exportItem is one message made ready for the output by a worker: read,
// decrypted, its constancia built and, for a zip, both files compressed.
type exportItem struct {
	rec   *catalog.Record
	ent   exportEntry
	raw   []byte    // mbox: the message
	files []zipBlob // zip: the message and its constancia, deflated
	err   error
}

type zipBlob struct {
	hdr  zip.FileHeader
	data []byte
}

// run exports every hit of the scan. Workers (one per core) read, decrypt,
// build constancias and compress in parallel; one writer appends in scan order,
// so the output and its manifests are deterministic. At most a few dozen
// messages are in flight: memory stays constant.
func (e *exporter) run(ctx context.Context, scan func(func(id string) error) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(runtime.GOMAXPROCS(0), 1)
	type job struct {
		id  string
		out chan *exportItem
	}
	jobs := make(chan job)
	order := make(chan chan *exportItem, 4*workers)
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
			out := make(chan *exportItem, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- job{id, out}:
				return nil
			case <-ctx.Done():
				out <- &exportItem{err: ctx.Err()} // the writer waits on every channel in order
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
func (e *exporter) prepare(ctx context.Context, id string) *exportItem {
	it := &exportItem{}
	r, err := e.a.Cat.Lookup(ctx, id)
	if err != nil {
		it.err = err
		return it
	}
	raw, err := e.a.Bytes(ctx, r)
	if err != nil {
		it.err = fmt.Errorf("export %s: %w", id, err)
		return it
	}
	it.rec = r
	ent := exportEntry{ID: r.SHA256, SHA256: r.SHA256, From: r.FromAddr, Subject: r.Subject, Size: r.Size}
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
	if e.format != "zip" {
		it.raw, it.ent = raw, ent
		return it
	}
	ent.File = "mensajes/" + r.SHA256 + ".eml"
	if it.err = it.addZip(ent.File, raw, r.ArchivedAt); it.err != nil {
		return it
	}
	if doc, err := e.constancia(ctx, r); err == nil {
		ent.Constancia = "constancias/" + r.SHA256 + ".json"
		it.err = it.addZip(ent.Constancia, doc, time.Now())
	} else if !errors.Is(err, archive.ErrPending) {
		it.err = err
	}
	it.ent = ent
	return it
}

// addZip deflates data for a zip entry written later with CreateRaw.
func (it *exportItem) addZip(name string, data []byte, mod time.Time) error {
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
func (e *exporter) write(it *exportItem) error {
	r, ent := it.rec, it.ent
	if e.format == "zip" {
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
		if err := writeMboxrd(e.mbox, it.raw, r.ArchivedAt); err != nil {
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
	if e.bar && e.count%500 == 0 {
		secs := max(time.Since(e.start).Seconds(), 0.001)
		fmt.Fprintf(e.m.Stderr, "\r\x1b[K%s %s · %s · %s msg/s", e.m.P.T("export.progress"), e.m.P.Int(e.count), e.m.P.Bytes(e.bytes), e.m.P.Float(float64(e.count)/secs, 0))
	}
	return nil
}

func (e *exporter) constancia(ctx context.Context, r *catalog.Record) ([]byte, error) {
	in, err := e.a.ConstanciaInputs(ctx, r, e.m.Config.Evidence.Issuer, e.anchors)
	if err != nil {
		return nil, err
	}
	in.VerifyURL = e.m.Config.Evidence.VerifyURL
	if in.Arrivals, err = arrivalsOf(ctx, e.a, r.Seq); err != nil {
		return nil, err
	}
	return constancia.Build(in).Marshal()
}

func (e *exporter) zipFile(name string, data []byte, mod time.Time) error {
	w, err := e.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod})
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// finish closes the manifests, logs the export in the access ledger, signs the
// seal and writes the manifests, the seal and what a recipient needs to verify.
func (e *exporter) finish(ctx context.Context, q string, cert *keys.Certification) error {
	io.WriteString(io.MultiWriter(e.manJSON, e.jsonHash), "\n]\n")
	e.csvW.Flush()
	if err := e.csvW.Error(); err != nil {
		return err
	}
	manifestSum := hex.EncodeToString(e.jsonHash.Sum(nil))
	idx, err := e.a.LogAccess(ctx, archive.AccessDetail{Actor: actor(), Action: "export", Query: q, Results: e.count, Manifest: manifestSum})
	if err != nil {
		return fmt.Errorf("export not logged: %w", err)
	}
	seal := exportSeal{Format: "resguardo-export/1", Created: time.Now().UTC().Format(time.RFC3339), Issuer: e.m.Config.Evidence.Issuer,
		Query: q, Count: e.count, Bytes: e.bytes, ManifestJSON: manifestSum, ManifestCSV: hex.EncodeToString(e.csvHash.Sum(nil)),
		Messages: hex.EncodeToString(e.msgsHash.Sum(nil)), LedgerOrigin: e.a.Format.Origin, LedgerAccessAt: idx}
	sealJSON, err := json.MarshalIndent(seal, "", "  ")
	if err != nil {
		return err
	}
	sealJSON = append(sealJSON, '\n')
	p7s, err := constancia.Sign(sealJSON, cert.Cert, cert.Key, nil)
	if err != nil {
		return err
	}
	readme := []byte(exportReadme)
	extra := []struct {
		name string
		data []byte
	}{{"sello.json", sealJSON}, {"sello.p7s", p7s}, {"LEEME.txt", readme}, {"certificados/ca-institucion.pem", cert.CAPEM},
		{"certificados/ledger.pub", []byte(e.a.Keys.LedgerPublicKey() + "\n")}}
	for i, anchor := range e.anchors {
		extra = append(extra, struct {
			name string
			data []byte
		}{fmt.Sprintf("certificados/ca-sello-de-tiempo-%d.pem", i+1), []byte(anchor)})
	}
	if e.format == "zip" {
		for _, t := range []struct {
			name string
			f    *os.File
		}{{"manifest.json", e.manJSON}, {"manifest.csv", e.manCSV}} {
			if _, err := t.f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			w, err := e.zw.Create(t.name)
			if err != nil {
				return err
			}
			if _, err := io.Copy(w, t.f); err != nil {
				return err
			}
		}
		for _, x := range extra {
			if err := e.zipFile(x.name, x.data, time.Now()); err != nil {
				return err
			}
		}
		if err := e.zw.Close(); err != nil {
			return err
		}
	} else {
		if err := e.mbox.Flush(); err != nil {
			return err
		}
		for _, t := range []struct {
			suffix string
			f      *os.File
		}{{".manifest.json", e.manJSON}, {".manifest.csv", e.manCSV}} {
			if _, err := t.f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			b, err := io.ReadAll(t.f)
			if err != nil {
				return err
			}
			if err := os.WriteFile(e.path+t.suffix, b, 0o600); err != nil {
				return err
			}
		}
		for _, x := range extra {
			name := e.path + "." + strings.ReplaceAll(x.name, "/", "-")
			if err := os.WriteFile(name, x.data, 0o600); err != nil {
				return err
			}
		}
	}
	if err := e.f.Sync(); err != nil {
		return err
	}
	if err := e.f.Close(); err != nil {
		return err
	}
	e.f = nil
	for _, t := range []*os.File{e.manJSON, e.manCSV} {
		t.Close()
		os.Remove(t.Name())
	}
	return nil
}

const exportReadme = `Exportación de Resguardo (formato resguardo-export/1)

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

func (e *exporter) abort() {
	if e.f != nil {
		e.f.Close()
		os.Remove(e.path)
	}
	for _, t := range []*os.File{e.manJSON, e.manCSV} {
		if t != nil {
			t.Close()
			os.Remove(t.Name())
		}
	}
}

// writeMboxrd appends a message in mboxrd form: a From_ line, ">From " quoting of
// every line that starts with zero or more '>' and "From ", and a blank line.
func writeMboxrd(w *bufio.Writer, raw []byte, at time.Time) error {
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
