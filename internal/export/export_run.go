package export

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/ledger"
)

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
