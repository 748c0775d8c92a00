package search

import (
	"context"
	"fmt"
	"time"

	"github.com/blevesearch/bleve/v2"
	bsearch "github.com/blevesearch/bleve/v2/search"
	bquery "github.com/blevesearch/bleve/v2/search/query"

	"github.com/resguardo/resguardo/internal/search/query"
)

// readerQuery matches messages where one of addrs is a participant of the read
// rule ("reader"), or — for documents indexed before that field existed — From,
// To, Cc or Bcc ("participant").
func readerQuery(addrs []string) bquery.Query {
	return bleve.NewDisjunctionQuery(anyTerm("reader", addrs), anyTerm("participant", addrs))
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
