package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/blob"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/message"
)

// Status is what happened to an ingested item.
type Status int

// Statuses.
const (
	Archived  Status = iota // a new record, durable
	Duplicate               // the same bytes were already archived (a reception was added)
	Failed                  // not archived; Err says why
)

func (s Status) String() string {
	switch s {
	case Archived:
		return "archived"
	case Duplicate:
		return "duplicate"
	default:
		return "failed"
	}
}

// Item is one message handed to the archive.
type Item struct {
	Data       []byte
	Channel    string             // import, mx, submission, journal
	Source     string             // where it came from (file path, "path:offset", peer)
	Envelope   string             // JSON envelope facts, "" for none
	Quarantine bool               // the gateway's policy quarantined this arrival: the record is marked
	Outbound   []catalog.Outbound // copies to relay, queued in the same transaction (gateway)
	ReceivedAt time.Time          // zero = now
	Err        error              // the item could not be read: it is reported Failed, in order
	Tag        any                // returned untouched in the Result
	Done       chan<- Result
}

// Result reports the fate of an Item once it is durable (or failed).
type Result struct {
	Status      Status
	SHA256      string
	Size        int64
	Source      string
	Malformed   bool
	Defects     []message.Defect
	LedgerIndex int64
	Err         error
	Tag         any
}

// IngestOptions tunes the group-commit pipeline.
type IngestOptions struct {
	Workers    int           // parse/seal workers; default GOMAXPROCS
	BatchSize  int           // records per commit; default 2000
	BatchBytes int64         // raw bytes per commit; default 64 MiB
	MaxDelay   time.Duration // longest a first item waits for its batch to fill; default 25 ms
	OnResult   func(Result)  // called in commit order from one goroutine
}

// Ingester archives items concurrently and commits them in groups.
type Ingester struct {
	a    *Archive
	opt  IngestOptions
	ctx  context.Context
	jobs chan *Item
	prep chan *prepared
	wg   sync.WaitGroup
	done chan struct{}

	seen *presence // nil when it could not be built: every item is then looked up
	// inflight maps the SHA-256 of each new record between its preparation and its
	// catalog commit to a channel closed once it is queued for commit, so that a
	// second copy arriving meanwhile waits and is queued after it (as a duplicate)
	// instead of being sealed and stored twice.
	inflight sync.Map

	mu    sync.Mutex
	fatal error
}

type prepared struct {
	item   *Item
	res    Result
	rec    *catalog.NewRecord
	rawLen int64
	queued chan struct{} // for a new record: closed once queued (see Ingester.inflight)
}

// ErrStopped is returned by Add after the ingester hit a storage error.
var ErrStopped = errors.New("archive: ingestion stopped after a storage error")

// Ingest starts a pipeline. The archive must be open as a writer. ctx bounds storage
// operations; cancel it only to abandon work (Close flushes without it).
func (a *Archive) Ingest(ctx context.Context, o IngestOptions) *Ingester {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 2000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 64 << 20
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 25 * time.Millisecond
	}
	in := &Ingester{a: a, opt: o, ctx: ctx, jobs: make(chan *Item, o.Workers*2),
		prep: make(chan *prepared, o.BatchSize), done: make(chan struct{})}
	if p, err := a.loadPresence(ctx); err == nil {
		in.seen = p
	} else {
		a.logger.Warn("presence filter unavailable; checking every message in the catalog", "err", err)
	}
	for i := 0; i < o.Workers; i++ {
		in.wg.Add(1)
		go in.worker()
	}
	go func() {
		in.wg.Wait()
		close(in.prep)
	}()
	go in.committer()
	return in
}

// Add queues an item; it blocks while the pipeline is full.
func (in *Ingester) Add(ctx context.Context, it *Item) error {
	if err := in.err(); err != nil {
		return err
	}
	select {
	case in.jobs <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close waits until every added item is committed or failed.
func (in *Ingester) Close() error {
	close(in.jobs)
	<-in.done
	return in.err()
}

func (in *Ingester) err() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.fatal
}

func (in *Ingester) setFatal(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fatal == nil {
		in.fatal = fmt.Errorf("%w: %v", ErrStopped, err)
	}
}

func (in *Ingester) worker() {
	defer in.wg.Done()
	for it := range in.jobs {
		p, queued := in.prepare(it)
		it.Data = nil // the blob holds it now; do not keep it in the queue
		in.prep <- p
		if queued != nil {
			close(queued)
		}
	}
}

// prepare does a worker's share: hash, duplicate check, parse, seal, append to the
// pack. For a new record it also returns the channel to close once p is queued.
func (in *Ingester) prepare(it *Item) (*prepared, chan struct{}) {
	p := &prepared{item: it, res: Result{Source: it.Source, Tag: it.Tag, LedgerIndex: -1}, rawLen: int64(len(it.Data))}
	if it.Err != nil {
		p.res.Status, p.res.Err = Failed, it.Err
		return p, nil
	}
	if in.err() != nil {
		p.res.Status, p.res.Err = Failed, in.err()
		return p, nil
	}
	if _, err := in.prepareData(it, p); err != nil {
		p.res.Status, p.res.Err = Failed, err
		if p.queued != nil { // release copies waiting for this one; they will fail too
			in.inflight.Delete(p.res.SHA256)
			close(p.queued)
			p.queued = nil
		}
		return p, nil
	}
	return p, p.queued
}

func (in *Ingester) prepareData(it *Item, p *prepared) (*prepared, error) {
	a := in.a
	sum := sha256.Sum256(it.Data)
	p.res.SHA256 = hex.EncodeToString(sum[:])
	p.res.Size = int64(len(it.Data))
	queued := make(chan struct{})
	if owner, busy := in.inflight.LoadOrStore(p.res.SHA256, queued); busy {
		<-owner.(chan struct{}) // the first copy is queued for commit before this one
		p.res.Status = Duplicate
		return p, nil
	}
	p.queued = queued
	if in.seen == nil || in.seen.mayHave(&sum) {
		if ok, err := a.Cat.Has(in.ctx, p.res.SHA256); err != nil {
			return nil, fmt.Errorf("catalog lookup: %w", err)
		} else if ok {
			p.res.Status = Duplicate
			return p, nil
		}
	}
	m := message.Parse(it.Data, a.opt.Limits)
	at := a.now().UTC()
	rec, err := buildRecord(sum, it.Data, m, it.Channel, it.Source, at)
	if err != nil {
		return nil, err
	}
	name := blob.NameFor(a.Keys.NameKey(), sum)
	sealed, err := a.Sealer.Seal(nil, name, it.Data)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	ref, err := a.Blobs.Put(name, sealed)
	if err != nil {
		in.setFatal(err)
		return nil, fmt.Errorf("store blob: %w", err)
	}
	rec.BlobRef = string(ref)
	p.rec = &rec
	p.res.Status = Archived
	p.res.Malformed = m.Malformed()
	p.res.Defects = m.Defects
	return p, nil
}

// committer groups prepared items into batches and runs stage one of the commit
// (blob sync and catalog transaction); stage two (ledger append, then reporting)
// runs in its own goroutine, so a batch's catalog work overlaps the previous batch's
// ledger fsyncs. Both stages keep batch order.
func (in *Ingester) committer() {
	defer close(in.done)
	stage2 := make(chan *batchState, 1)
	stage2Done := make(chan struct{})
	go func() {
		defer close(stage2Done)
		for b := range stage2 {
			in.appendAndReport(b)
		}
	}()
	var batch []*prepared
	var bytes int64
	var timer *time.Timer
	var timeout <-chan time.Time
	flush := func() {
		if len(batch) > 0 {
			stage2 <- in.commitCatalog(batch)
		}
		batch, bytes = nil, 0
		if timer != nil {
			timer.Stop()
		}
		timer, timeout = nil, nil
	}
	defer func() {
		close(stage2)
		<-stage2Done
	}()
	for {
		select {
		case p, ok := <-in.prep:
			if !ok {
				flush()
				return
			}
			batch = append(batch, p)
			bytes += p.rawLen
			if len(batch) == 1 {
				timer = time.NewTimer(in.opt.MaxDelay)
				timeout = timer.C
			}
			if len(batch) >= in.opt.BatchSize || bytes >= in.opt.BatchBytes {
				flush()
			}
		case <-timeout:
			flush()
		}
	}
}

// batchState carries a batch from the catalog stage to the ledger stage.
type batchState struct {
	items   []*prepared
	entries [][]byte
	first   int64
	t0      time.Time
	tSync   time.Duration
	tCat    time.Duration
}

func (b *batchState) fail(in *Ingester, err error) {
	in.setFatal(err)
	for _, p := range b.items {
		if p.res.Status != Failed {
			p.res.Status, p.res.Err = Failed, fmt.Errorf("not archived: %w", err)
		}
	}
	b.entries = nil
}

// commitCatalog is stage one: blobs synced, then catalog rows and their ledger
// entries in one transaction.
func (in *Ingester) commitCatalog(batch []*prepared) *batchState {
	a := in.a
	b := &batchState{items: batch, first: -1, t0: time.Now()}
	var recs []catalog.NewRecord
	var recps []catalog.Reception
	var owners, recpOwners []*prepared
	defer func() { // after the presence filter knows them (or the batch failed)
		for _, r := range recs {
			in.inflight.Delete(r.SHA256)
		}
	}()
	for _, p := range batch {
		if p.res.Status == Failed {
			continue
		}
		it := p.item
		at := it.ReceivedAt
		if at.IsZero() {
			at = a.now()
		}
		recps = append(recps, catalog.Reception{SHA256: p.res.SHA256, Channel: it.Channel, Source: it.Source, At: at, Envelope: it.Envelope, Quarantine: it.Quarantine, Outbound: it.Outbound})
		recpOwners = append(recpOwners, p)
		if p.rec != nil {
			recs = append(recs, *p.rec)
			owners = append(owners, p)
		}
	}
	if err := in.err(); err != nil {
		b.fail(in, err)
		return b
	}
	if err := a.Blobs.Sync(); err != nil {
		b.fail(in, fmt.Errorf("sync blobs: %w", err))
		return b
	}
	b.tSync = time.Since(b.t0)
	if len(recps) == 0 {
		return b
	}
	idxs, skipped, err := a.Cat.Commit(in.ctx, recs, recps)
	b.tCat = time.Since(b.t0) - b.tSync
	if err != nil {
		b.fail(in, err)
		return b
	}
	for _, i := range skipped { // a second copy whose first copy failed before its commit
		recpOwners[i].res.Status = Failed
		recpOwners[i].res.Err = errors.New("not archived: the first copy of these bytes failed; import it again")
	}
	for i, idx := range idxs {
		if idx < 0 { // committed meanwhile by an earlier batch: a duplicate
			owners[i].res.Status = Duplicate
			continue
		}
		if b.first < 0 {
			b.first = idx
		}
		owners[i].res.LedgerIndex = idx
		b.entries = append(b.entries, recs[i].Entry)
		if in.seen != nil {
			var sum [32]byte
			hex.Decode(sum[:], []byte(recs[i].SHA256))
			in.seen.add(&sum)
		}
	}
	return b
}

// appendAndReport is stage two: the Merkle log is appended and its checkpoint
// signed; only then are the batch's results reported.
func (in *Ingester) appendAndReport(b *batchState) {
	a := in.a
	if len(b.entries) > 0 {
		if err := in.err(); err != nil {
			b.fail(in, err)
		} else if err := in.appendBatch(b); err != nil {
			b.fail(in, err)
		}
	}
	a.logger.Debug("batch committed", "items", len(b.items), "entries", len(b.entries),
		"sync", b.tSync, "catalog", b.tCat, "total", time.Since(b.t0))
	for _, p := range b.items {
		if in.opt.OnResult != nil {
			in.opt.OnResult(p.res)
		}
		if p.item.Done != nil {
			p.item.Done <- p.res
		}
	}
}

// appendBatch appends a committed batch's entries to the Merkle log. Entries other
// processes committed before it (access entries) are appended first. A catch-up
// (serve's tick, an access entry of this process) may already have appended some or
// all of the batch from the catalog, where stage one committed it: those are the
// same bytes, and only the rest is appended.
func (in *Ingester) appendBatch(b *batchState) error {
	a := in.a
	a.appendMu.Lock()
	defer a.appendMu.Unlock()
	end := b.first + int64(len(b.entries))
	size := a.Log.Size()
	if size >= end {
		return nil
	}
	entries := b.entries
	if size < b.first {
		// Entries committed before this batch (delivery and access entries)
		// go first, in the same append.
		pending, err := a.catalogEntries(in.ctx, size, b.first)
		if err != nil {
			return fmt.Errorf("catch up ledger from catalog: %w", err)
		}
		entries = append(pending, entries...)
	} else {
		entries = entries[size-b.first:]
	}
	if _, err := a.Log.Append(entries); err != nil {
		return fmt.Errorf("append to ledger: %w", err)
	}
	return nil
}

// ArchiveOne archives a single item through a short-lived pipeline and waits until it
// is durable. Gateways keep one Ingester open instead and pass Item.Done.
func (a *Archive) ArchiveOne(ctx context.Context, it *Item) (Result, error) {
	var res Result
	in := a.Ingest(ctx, IngestOptions{Workers: 1, MaxDelay: time.Millisecond, OnResult: func(r Result) { res = r }})
	if err := in.Add(ctx, it); err != nil {
		in.Close()
		return res, err
	}
	err := in.Close()
	return res, err
}
