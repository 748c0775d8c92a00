package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/index/scorch/mergeplan"
	"github.com/blevesearch/bleve/v2/mapping"
)

// Bleve is the embedded Index.
type Bleve struct {
	idx bleve.Index
}

// NeedsReindex reports whether the index was created before the "reader"
// field (Sender, Reply-To and envelope addresses of the participant
// restriction): such an index ignores the field, so a restricted search finds
// mail by From, To, Cc and Bcc only until `resguardo reindex` rebuilds it.
func (b *Bleve) NeedsReindex() bool {
	im, ok := b.idx.Mapping().(*mapping.IndexMappingImpl)
	if !ok || im.DefaultMapping == nil {
		return false
	}
	_, has := im.DefaultMapping.Properties["reader"]
	return !has
}

// OpenBleve opens the index at dir, creating it when missing.
func OpenBleve(dir string) (*Bleve, error) {
	idx, err := bleve.Open(dir)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		m, merr := indexMapping()
		if merr != nil {
			return nil, merr
		}
		idx, err = bleve.New(dir, m)
	}
	if err != nil {
		return nil, fmt.Errorf("open search index %s: %w", dir, err)
	}
	return &Bleve{idx: idx}, nil
}

// OpenBleveReadOnly opens an existing index for searching only: no merges or
// persistence run in this process, and other read-only processes may search at
// the same time. A process that writes the index (serve, an import) holds it
// exclusively; a reader then waits up to wait and fails with a clear error.
func OpenBleveReadOnly(dir string, wait time.Duration) (*Bleve, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		b, err := OpenBleve(dir) // create it empty, then reopen read-only
		if err != nil {
			return nil, err
		}
		if err := b.Close(); err != nil {
			return nil, err
		}
	}
	idx, err := bleve.OpenUsing(dir, map[string]interface{}{"read_only": true, "bolt_timeout": wait.String()})
	if err != nil {
		if strings.Contains(err.Error(), "timeout") {
			return nil, fmt.Errorf("open search index %s: in use by another process that writes it (resguardo serve?): %w", dir, err)
		}
		return nil, fmt.Errorf("open search index %s: %w", dir, err)
	}
	return &Bleve{idx: idx}, nil
}

// Compact merges the index's segments into one, so that a search reads one
// dictionary and one postings list per term. Run it after bulk indexing
// (import, reindex); serve's background merges do the same over time. The
// merged-away segment files are deleted by the next writable open.
func (b *Bleve) Compact(ctx context.Context) error {
	adv, err := b.idx.Advanced()
	if err != nil {
		return err
	}
	s, ok := adv.(*scorch.Scorch)
	if !ok {
		return nil
	}
	opts := mergeplan.SingleSegmentMergePlanOptions
	return s.ForceMerge(ctx, &opts)
}

// RemoveBleve deletes an index directory (reindex).
func RemoveBleve(dir string) error { return os.RemoveAll(dir) }

// Close closes the index.
func (b *Bleve) Close() error { return b.idx.Close() }

// Count is the number of indexed documents.
func (b *Bleve) Count() (uint64, error) { return b.idx.DocCount() }

// Index adds or replaces documents, in one batch.
func (b *Bleve) Index(_ context.Context, docs []Doc) error {
	batch := b.idx.NewBatch()
	for _, d := range docs {
		if err := batch.Index(d.ID, fields(d)); err != nil {
			return fmt.Errorf("index %s: %w", d.ID, err)
		}
	}
	return b.idx.Batch(batch)
}

// Delete removes documents.
func (b *Bleve) Delete(_ context.Context, ids []string) error {
	batch := b.idx.NewBatch()
	for _, id := range ids {
		batch.Delete(id)
	}
	return b.idx.Batch(batch)
}
