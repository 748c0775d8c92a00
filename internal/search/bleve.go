package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/es"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/regexp"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/index/scorch/mergeplan"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/numeric"
	bsearch "github.com/blevesearch/bleve/v2/search"
	bquery "github.com/blevesearch/bleve/v2/search/query"

	"github.com/resguardo/resguardo/internal/search/query"
)

// Bleve is the embedded Index.
type Bleve struct {
	idx bleve.Index
}

const (
	analyzerText  = "resguardo_es"    // Spanish: lowercase, stop words, accent folding, light stemmer
	analyzerParts = "resguardo_parts" // addresses and file names split into words, accents folded
	// maxStored bounds the text kept for snippets per field.
	maxStored = 64 << 10
)

func indexMapping() (mapping.IndexMapping, error) {
	im := bleve.NewIndexMapping()
	if err := im.AddCustomTokenizer("resguardo_words", map[string]any{
		"type": regexp.Name, "regexp": `[\p{L}\p{N}]+`, // "_" splits words: setup_irq, acta_sesion.pdf
	}); err != nil {
		return nil, err
	}
	if err := im.AddCustomAnalyzer(analyzerParts, map[string]any{
		"type": custom.Name, "tokenizer": "resguardo_words",
		"token_filters": []string{lowercase.Name, es.NormalizeName},
	}); err != nil {
		return nil, err
	}
	if err := im.AddCustomAnalyzer(analyzerText, map[string]any{
		"type": custom.Name, "tokenizer": "resguardo_words",
		"token_filters": []string{lowercase.Name, es.StopName, es.NormalizeName, es.LightStemmerName},
	}); err != nil {
		return nil, err
	}
	dm := bleve.NewDocumentStaticMapping()
	text := func(name string, store bool) {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzerText
		f.Store = store
		f.IncludeTermVectors = store
		dm.AddFieldMappingsAt(name, f)
	}
	parts := func(name string) {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzerParts
		f.Store = false
		f.IncludeInAll = false
		dm.AddFieldMappingsAt(name, f)
	}
	kw := func(name string, store bool) {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer = keyword.Name
		f.Store = store
		f.IncludeInAll = false
		dm.AddFieldMappingsAt(name, f)
	}
	text("subject", true)
	text("body", true)
	text("attachment", true)
	for _, f := range []string{"from", "to", "cc", "bcc"} {
		kw(f, f == "from")
		kw("dom_"+f, false)
		parts(f + "_text")
	}
	kw("participant", false)
	kw("reader", false) // the read rule's addresses: participant + Sender, Reply-To, envelope
	kw("domain", false)
	kw("sender_domain", false)
	kw("filename_kw", false)
	parts("filename")
	kw("message_id", false)
	kw("thread", false)
	kw("channel", false)
	kw("year", false)
	for _, b := range []string{"malformed", "has_attachment"} {
		f := bleve.NewBooleanFieldMapping()
		f.IncludeInAll = false
		dm.AddFieldMappingsAt(b, f)
	}
	d := bleve.NewDateTimeFieldMapping()
	d.Store = true
	dm.AddFieldMappingsAt("date", d)
	dm.AddFieldMappingsAt("archived", bleve.NewDateTimeFieldMapping())
	n := bleve.NewNumericFieldMapping()
	n.IncludeInAll = false
	dm.AddFieldMappingsAt("size", n)
	im.DefaultMapping = dm
	im.DefaultAnalyzer = analyzerText
	return im, nil
}

// readerQuery matches messages where one of addrs is a participant of the read
// rule ("reader"), or — for documents indexed before that field existed — From,
// To, Cc or Bcc ("participant").
func readerQuery(addrs []string) bquery.Query {
	return bleve.NewDisjunctionQuery(anyTerm("reader", addrs), anyTerm("participant", addrs))
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

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// fields renders a Doc as the mapped document.
func fields(d Doc) map[string]any {
	m := map[string]any{
		"subject": d.Subject, "body": clip(d.Body, maxStored), "attachment": clip(d.Attachments, maxStored),
		"message_id": strings.ToLower(strings.Trim(d.MessageID, "<> ")), "thread": strconv.FormatInt(d.Thread, 10),
		"channel": d.Channel, "malformed": d.Malformed, "has_attachment": d.HasAttach, "size": float64(d.Size),
		"archived": d.ArchivedAt, "filename": strings.Join(d.Filenames, " "),
	}
	if !d.Date.IsZero() {
		m["date"] = d.Date
		m["year"] = strconv.Itoa(d.Date.UTC().Year())
	}
	var fnames []string
	for _, f := range d.Filenames {
		fnames = append(fnames, strings.ToLower(f))
	}
	m["filename_kw"] = fnames
	var all, alldom []string
	for name, list := range map[string][]Address{"from": d.From, "to": d.To, "cc": d.Cc, "bcc": d.Bcc} {
		var addrs, doms, texts []string
		for _, a := range list {
			addr := strings.ToLower(a.Address)
			if addr != "" {
				addrs = append(addrs, addr)
				doms = append(doms, domains(addr)...)
			}
			texts = append(texts, a.Name+" "+addr)
		}
		m[name], m["dom_"+name], m[name+"_text"] = addrs, doms, strings.Join(texts, " ; ")
		all, alldom = append(all, addrs...), append(alldom, doms...)
	}
	m["participant"], m["domain"] = all, alldom
	readers := append([]string{}, all...)
	for _, list := range [][]Address{d.Sender, d.ReplyTo} {
		for _, a := range list {
			if a.Address != "" {
				readers = append(readers, strings.ToLower(a.Address))
			}
		}
	}
	for _, a := range d.Envelope {
		if a != "" {
			readers = append(readers, strings.ToLower(a))
		}
	}
	m["reader"] = readers
	if len(d.From) > 0 {
		if ds := domains(strings.ToLower(d.From[0].Address)); len(ds) > 0 {
			m["sender_domain"] = ds[0]
		}
	}
	return m
}

// domains returns an address's domain and its parents (sep.gob.mx, gob.mx).
func domains(addr string) []string {
	_, dom, ok := strings.Cut(addr, "@")
	if !ok || dom == "" {
		return nil
	}
	out := []string{dom}
	for {
		_, rest, ok := strings.Cut(dom, ".")
		if !ok || !strings.Contains(rest, ".") {
			break
		}
		out = append(out, rest)
		dom = rest
	}
	return out
}

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

// Search runs a request.
func (b *Bleve) Search(ctx context.Context, r Request) (*Result, error) {
	began := time.Now()
	q, err := translate(r.Query)
	if err != nil {
		return nil, err
	}
	if len(r.Participants) > 0 {
		q = bleve.NewConjunctionQuery(q, readerQuery(r.Participants))
	}
	limit := r.Limit
	if limit <= 0 {
		limit = 20
	}
	offset := max(r.Offset, 0)
	// The total first, when it decides how to search (facets or not, a date
	// window or not): counting matches without scores or sort values is cheap.
	// A relevance page without facets scores every match anyway and counts them.
	var total uint64
	if r.Facets || r.Sort != SortRelevance {
		countReq := bleve.NewSearchRequestOptions(q, 0, 0, false)
		countReq.Score = "none"
		counted, err := b.idx.SearchInContext(ctx, countReq)
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		total = counted.Total
	}
	out := &Result{Total: total, Hits: []Hit{}}
	facets := r.Facets && total <= MaxFacetResults
	out.FacetsSkipped = r.Facets && !facets

	var res *bleve.SearchResult
	if r.Sort != SortRelevance && !facets && total > windowFrom {
		res, err = b.newestWindowed(ctx, q, upperDate(r.Query), total, offset, limit)
	} else {
		req := bleve.NewSearchRequestOptions(q, limit, offset, false)
		req.Fields = hitFields
		if r.Sort == SortRelevance {
			req.SortBy([]string{"-_score", "-date"})
		} else {
			req.SortBy([]string{"-date"})
			req.Score = "none" // newest first needs no scores: skip computing them for every match
		}
		if facets {
			req.AddFacet("year", bleve.NewFacetRequest("year", 20))
			req.AddFacet("sender_domain", bleve.NewFacetRequest("sender_domain", 10))
			req.AddFacet("has_attachment", bleve.NewFacetRequest("has_attachment", 2))
		}
		res, err = b.idx.SearchInContext(ctx, req)
	}
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if r.Sort == SortRelevance && !r.Facets {
		out.Total = res.Total
	}
	// Snippets in a second pass over the page's documents only: highlighting
	// needs term positions, and reading them for every match of a broad query
	// costs more than the search itself.
	if r.Highlight && len(res.Hits) > 0 {
		if err := b.highlight(ctx, q, res.Hits); err != nil {
			return nil, err
		}
	}
	for _, h := range res.Hits {
		out.Hits = append(out.Hits, hitOf(h))
	}
	if facets {
		out.Facets = map[string][]FacetCount{}
		for name, f := range res.Facets {
			var list []FacetCount
			for _, t := range f.Terms.Terms() {
				list = append(list, FacetCount{Term: t.Term, Count: t.Count})
			}
			out.Facets[name] = list
		}
	}
	out.Took = time.Since(began)
	return out, nil
}

var hitFields = []string{"date", "from", "subject"}

// windowFrom is the number of matches above which a newest-first page is looked
// for in a recent window of dates first (below it, sorting them all is cheap).
var windowFrom uint64 = 1_000

// upperDate is the end of the date range a query is restricted to (zero: none):
// the earliest end among the date ranges it requires.
func upperDate(n query.Node) time.Time {
	switch n := n.(type) {
	case *query.DateRange:
		return n.To
	case *query.And:
		var up time.Time
		for _, t := range n.Terms {
			if u := upperDate(t); !u.IsZero() && (up.IsZero() || u.Before(up)) {
				up = u
			}
		}
		return up
	}
	return time.Time{}
}

// fullSortBelow: when a first window misses, a query with at most this many
// matches is sorted whole (≈1 µs per match) instead of widening the window.
var fullSortBelow uint64 = 5_000

// sortedPage sorts every match by date: the plain way to a newest-first page.
func (b *Bleve) sortedPage(ctx context.Context, q bquery.Query, offset, limit int) (*bleve.SearchResult, error) {
	req := bleve.NewSearchRequestOptions(q, limit, offset, false)
	req.Fields = hitFields
	req.SortBy([]string{"-date"})
	req.Score = "none"
	return b.idx.SearchInContext(ctx, req)
}

// dateBucketShift: the date field is indexed as prefix-coded terms at every 4th bit
// shift; the terms at shift 48 count documents in buckets of 2^48 ns (≈ 3.3 days).
const dateBucketShift = 48

type dateBucket struct {
	start int64 // Unix ns
	count uint64
}

// dateBuckets reads the date histogram straight from the index's term dictionary
// (always in step with the index; a few hundred terms), oldest first.
func (b *Bleve) dateBuckets() ([]dateBucket, error) {
	lo, err := numeric.NewPrefixCodedInt64(math.MinInt64, dateBucketShift)
	if err != nil {
		return nil, err
	}
	hi, err := numeric.NewPrefixCodedInt64(math.MaxInt64, dateBucketShift)
	if err != nil {
		return nil, err
	}
	dict, err := b.idx.FieldDictRange("date", lo, hi)
	if err != nil {
		return nil, err
	}
	defer dict.Close()
	var out []dateBucket
	for {
		e, err := dict.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			return out, nil
		}
		pc := numeric.PrefixCoded(e.Term)
		if sh, err := pc.Shift(); err != nil || sh != dateBucketShift {
			continue
		}
		v, err := pc.Int64()
		if err != nil {
			continue
		}
		out = append(out, dateBucket{start: v, count: e.Count})
	}
}

// newestWindowed finds the newest page of a broad query without sorting every
// match: it searches the query within the most recent dates, in a window sized
// from the date histogram so that it likely holds several pages of matches, and
// widens it until it holds offset+limit of them. The page is exact: every match
// newer than the window's start is in the window. Undated messages come last, as
// in the full sort, through the last step (no window).
func (b *Bleve) newestWindowed(ctx context.Context, q bquery.Query, upper time.Time, total uint64, offset, limit int) (*bleve.SearchResult, error) {
	need := uint64(offset + limit)
	buckets, err := b.dateBuckets()
	if err != nil {
		return nil, err
	}
	if !upper.IsZero() { // the query ends there (before:, year:…): newer mail cannot match
		for len(buckets) > 0 && buckets[len(buckets)-1].start >= upper.UnixNano() {
			buckets = buckets[:len(buckets)-1]
		}
	}
	var all uint64
	for _, bk := range buckets {
		all += bk.count
	}
	want := need * 8 // matches expected in the window, assuming they spread like all mail
	for {
		start, whole := int64(math.MinInt64), true
		if all > 0 && total > 0 {
			docs := float64(want) * float64(all) / float64(total)
			var acc uint64
			for i := len(buckets) - 1; i >= 0; i-- {
				acc += buckets[i].count
				if float64(acc) >= docs {
					start, whole = buckets[i].start, i == 0
					break
				}
			}
		}
		wq := q
		if !whole {
			incl := true
			dr := bleve.NewDateRangeInclusiveQuery(time.Unix(0, start), time.Time{}, &incl, nil)
			dr.SetField("date")
			wq = bleve.NewConjunctionQuery(q, dr)
		}
		req := bleve.NewSearchRequestOptions(wq, limit, offset, false)
		req.Fields = hitFields
		req.SortBy([]string{"-date"})
		req.Score = "none"
		res, err := b.idx.SearchInContext(ctx, req)
		if err != nil {
			return nil, err
		}
		if whole || res.Total >= need {
			return res, nil
		}
		if total <= fullSortBelow {
			// The matches are older than their share of the mail suggested (a
			// mailing list of years ago, say): sorting them all is cheaper than
			// widening the window step by step.
			return b.sortedPage(ctx, q, offset, limit)
		}
		want *= 8
	}
}

// scanPageSize is Scan's page (a variable so tests can page small indexes).
var scanPageSize = 10_000

// highlight fills the fragments of hits (one page) by running q again on them alone.
func (b *Bleve) highlight(ctx context.Context, q bquery.Query, hits bsearch.DocumentMatchCollection) error {
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	req := bleve.NewSearchRequestOptions(bleve.NewConjunctionQuery(q, bleve.NewDocIDQuery(ids)), len(ids), 0, false)
	req.Highlight = bleve.NewHighlightWithStyle("html")
	req.Highlight.Fields = []string{"subject", "body", "attachment"}
	req.Score = "none"
	res, err := b.idx.SearchInContext(ctx, req)
	if err != nil {
		return fmt.Errorf("search: snippets: %w", err)
	}
	frags := make(map[string]bsearch.FieldFragmentMap, len(res.Hits))
	for _, h := range res.Hits {
		frags[h.ID] = h.Fragments
	}
	for _, h := range hits {
		h.Fragments = frags[h.ID]
	}
	return nil
}

func hitOf(h *bsearch.DocumentMatch) Hit {
	hit := Hit{ID: h.ID, Score: h.Score}
	if s, ok := h.Fields["subject"].(string); ok {
		hit.Subject = s
	}
	switch f := h.Fields["from"].(type) {
	case string:
		hit.From = f
	case []any:
		if len(f) > 0 {
			hit.From, _ = f[0].(string)
		}
	}
	if s, ok := h.Fields["date"].(string); ok {
		hit.Date, _ = time.Parse(time.RFC3339, s)
	}
	for _, field := range []string{"subject", "body", "attachment"} {
		hit.Snippets = append(hit.Snippets, h.Fragments[field]...)
	}
	return hit
}

// Scan calls fn for every hit of r.Query, in archive order, paging with search-after so
// memory stays constant however many messages match. Hits carry the ID only (and
// the score); callers read the record from the catalog. Every page runs the query
// again, so pages are large: 10,000 IDs (a few megabytes).
func (b *Bleve) Scan(ctx context.Context, r Request, fn func(Hit) error) error {
	scanPage := scanPageSize
	q, err := translate(r.Query)
	if err != nil {
		return err
	}
	if len(r.Participants) > 0 {
		q = bleve.NewConjunctionQuery(q, readerQuery(r.Participants))
	}
	var after []string
	for {
		req := bleve.NewSearchRequestOptions(q, scanPage, 0, false)
		req.Score = "none"
		req.SortBy([]string{"archived", "_id"}) // always present, unique: stable paging
		if after != nil {
			req.SearchAfter = after
		}
		res, err := b.idx.SearchInContext(ctx, req)
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		for _, h := range res.Hits {
			if err := fn(hitOf(h)); err != nil {
				return err
			}
		}
		if len(res.Hits) < scanPage {
			return nil
		}
		after = res.Hits[len(res.Hits)-1].Sort
	}
}
