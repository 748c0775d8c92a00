package search

import (
	"context"
	"math"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/numeric"
	bquery "github.com/blevesearch/bleve/v2/search/query"
)

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
