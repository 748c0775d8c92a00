package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/message"
)

// importSink takes an import's messages: an *archive.Ingester when import holds
// the writer lock, a *serveImporter while serve holds it.
type importSink interface {
	Add(ctx context.Context, it *archive.Item) error
	Close() error
}

// Batches sent to serve: up to this many messages or bytes each, this many
// awaiting their answer at once.
const (
	serveBatchItems    = 200
	serveBatchBytes    = 8 << 20
	serveBatchInFlight = 4
)

// serveImporter sends an import's messages to a running serve through its
// import socket (importsock.go) and reports serve's results, batch by batch
// in the order they were read.
type serveImporter struct {
	hc         *http.Client
	onResult   func(archive.Result)
	ledgerSize atomic.Int64

	cur      *serveBatch
	slots    chan struct{}    // one per batch awaiting its answer
	order    chan *serveBatch // batches in reading order, for reporting
	reported chan struct{}

	mu  sync.Mutex
	err error // the first batch that could not be sent; nothing more is sent
}

type serveBatch struct {
	items []*archive.Item
	bytes int64
	res   []archive.Result
	done  chan struct{}
}

// dialServeImport returns an importer when serve answers on the data
// directory's import socket, nil otherwise.
func dialServeImport(dataDir string) *serveImporter {
	path := importSocketPath(dataDir)
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil
	}
	c.Close()
	d := net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "unix", path) },
		MaxIdleConnsPerHost: serveBatchInFlight,
		DisableCompression:  true,
	}
	return &serveImporter{hc: &http.Client{Transport: tr}}
}

// start begins reporting results through onResult.
func (s *serveImporter) start(onResult func(archive.Result)) {
	s.onResult = onResult
	s.slots = make(chan struct{}, serveBatchInFlight)
	s.order = make(chan *serveBatch, serveBatchInFlight+1)
	s.reported = make(chan struct{})
	go func() {
		defer close(s.reported)
		for b := range s.order {
			<-b.done
			for _, r := range b.res {
				s.onResult(r)
			}
		}
	}()
}

// Add queues a message; a full batch is sent (it blocks while serveBatchInFlight
// batches await their answer).
func (s *serveImporter) Add(ctx context.Context, it *archive.Item) error {
	if err := s.failed(); err != nil {
		return fmt.Errorf("%w: %v", archive.ErrStopped, err)
	}
	if s.cur == nil {
		s.cur = &serveBatch{done: make(chan struct{})}
	}
	s.cur.items = append(s.cur.items, it)
	s.cur.bytes += int64(len(it.Data))
	if len(s.cur.items) >= serveBatchItems || s.cur.bytes >= serveBatchBytes {
		return s.flush(ctx)
	}
	return nil
}

// Close sends what is left and waits until every result is reported.
func (s *serveImporter) Close() error {
	if s.cur != nil {
		s.flush(context.Background())
	}
	close(s.order)
	<-s.reported
	return s.failed()
}

func (s *serveImporter) flush(ctx context.Context) error {
	b := s.cur
	s.cur = nil
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		// Interrupted while serve is busy: the batch is still sent (as a
		// lock-holding import archives what it has read), without waiting here.
		go func() { s.slots <- struct{}{}; s.run(b) }()
		s.order <- b
		return ctx.Err()
	}
	s.order <- b
	go s.run(b)
	return nil
}

// run sends one batch and waits for serve's answer: serve answers once every
// message is durable. Interrupting the import does not abandon a batch sent.
func (s *serveImporter) run(b *serveBatch) {
	defer func() {
		<-s.slots
		close(b.done)
	}()
	b.res = make([]archive.Result, len(b.items))
	var sent []int // places in b of the messages sent
	var body bytes.Buffer
	for i, it := range b.items {
		b.res[i] = archive.Result{Source: it.Source, LedgerIndex: -1, Size: int64(len(it.Data))}
		if it.Err != nil { // unreadable: reported failed in its place, as the ingester does
			b.res[i].Status, b.res[i].Err, b.res[i].Size = archive.Failed, it.Err, 0
			continue
		}
		hdr, _ := json.Marshal(importFrame{Source: it.Source, ReceivedAt: it.ReceivedAt, Size: int64(len(it.Data))})
		body.Write(hdr)
		body.WriteByte('\n')
		body.Write(it.Data)
		it.Data = nil
		sent = append(sent, i)
	}
	fail := func(from int, err error) {
		for _, i := range sent[from:] {
			b.res[i].Status, b.res[i].Err = archive.Failed, err
		}
	}
	if err := s.failed(); err != nil {
		fail(0, err)
		return
	}
	if len(sent) == 0 {
		return
	}
	var rep importReply
	err := s.post("/import/v1/messages", importMediaType, &body, &rep)
	if err != nil {
		err = fmt.Errorf("not archived by serve: %w", err)
		s.setFailed(err)
		fail(0, err)
		return
	}
	for k, r := range rep.Results {
		if k >= len(sent) {
			break
		}
		res := &b.res[sent[k]]
		res.SHA256, res.Size, res.Malformed, res.LedgerIndex = r.SHA256, r.Size, r.Malformed, r.LedgerIndex
		for _, d := range r.Defects {
			res.Defects = append(res.Defects, message.Defect{Code: d})
		}
		switch r.Status {
		case "archived":
			res.Status = archive.Archived
		case "duplicate":
			res.Status = archive.Duplicate
		default:
			res.Status, res.Err = archive.Failed, errors.New(r.Error)
		}
	}
	if len(rep.Results) < len(sent) {
		err := fmt.Errorf("not taken by serve: %s", rep.Error)
		s.setFailed(err)
		fail(len(rep.Results), err)
	}
}

// stamp asks serve to timestamp its newest checkpoint now and/or to bring its
// search index up to date; it records serve's ledger size.
func (s *serveImporter) stamp(stamp, index bool) error {
	var rep importStampReply
	b, _ := json.Marshal(importStampRequest{Stamp: stamp, Index: index})
	if err := s.post("/import/v1/stamp", "application/json", bytes.NewReader(b), &rep); err != nil {
		return err
	}
	s.ledgerSize.Store(rep.LedgerSize)
	return errors.Join(errIf(rep.StampError), errIf(rep.IndexError))
}

func errIf(msg string) error {
	if msg == "" {
		return nil
	}
	return errors.New(msg)
}

func (s *serveImporter) post(path, ctype string, body io.Reader, out any) error {
	resp, err := s.hc.Post("http://serve"+path, ctype, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("serve answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("serve's answer: %w", err)
	}
	return nil
}

func (s *serveImporter) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *serveImporter) setFailed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}
