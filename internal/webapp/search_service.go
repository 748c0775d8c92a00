package webapp

import (
	"context"
	"fmt"
	"strings"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/search"
	"github.com/resguardo/resguardo/internal/search/query"
)

// searchQuery is one search: a query in the language of docs/SEARCH.md and a
// page of results (1-based) of size results.
type searchQuery struct {
	text       string
	page, size int
}

// searchResult is what the search page and GET /api/v1/search show.
type searchResult struct {
	canonical  string // the query as written to the access entry
	total      uint64
	hits       []search.Hit
	restricted bool // limited to messages where one of the user's addresses participates
	noAddress  bool // restricted, and the account has no address: nothing was searched
	// facets: counts by year, sender domain and attachment over every result
	// (within the restriction); facetsSkipped when there are too many results.
	facets        map[string][]search.FacetCount
	facetsSkipped bool
}

// needsJustification reports whether u must give a justification before
// searching: roles that read others' mail always do, even for their own mail.
func needsJustification(u who) bool { return u.user.ReadsOthersMail() && !u.just.Valid() }

// runSearch runs a search for u and writes its access entry. Accounts whose
// roles do not read others' mail search only messages in which one of their
// addresses is a participant of the read rule — From, Sender, Reply-To, To, Cc,
// Bcc or an envelope address, as identity.AuthorizeRead counts them; indexes
// older than that field match From, To, Cc and Bcc only until reindexed (the
// restriction is part of the index query,
// so totals and pages are right, and of the logged query); an account with no
// address finds nothing. Errors: identity.ErrJustificationRequired,
// *query.SyntaxError, or an internal error (the index, or an access entry that
// could not be written: then no result is returned).
func (a *App) runSearch(ctx context.Context, u who, sq searchQuery) (*searchResult, error) {
	if needsJustification(u) {
		return nil, identity.ErrJustificationRequired
	}
	n, err := query.Parse(sq.text)
	if err != nil {
		return nil, err
	}
	sr := search.Request{Query: n, Sort: search.SortDate, Offset: (sq.page - 1) * sq.size, Limit: sq.size, Highlight: true, Facets: true}
	res := &searchResult{canonical: query.String(n), restricted: !u.user.ReadsOthersMail()}
	if res.restricted {
		if len(u.user.Addresses) == 0 {
			res.noAddress = true
			return res, nil
		}
		sr.Participants = u.user.Addresses
		res.canonical = "(" + res.canonical + ") AND participant:{" + strings.Join(u.user.Addresses, ",") + "}"
	}
	r, err := a.opt.Index.Search(ctx, sr)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	// Records: the ids of the results returned (this page), so that the
	// access log answers "who saw my mail in a result list" (docs/WEB.md).
	shown := make([]string, 0, len(r.Hits))
	for _, h := range r.Hits {
		shown = append(shown, h.ID)
	}
	if err := a.opt.LogAccess(ctx, archive.AccessDetail{Actor: u.user.Actor(), Action: "search", Query: res.canonical,
		Results: int64(r.Total), Records: shown, Justification: u.just.Text, Via: u.via}); err != nil {
		return nil, fmt.Errorf("search not logged: %w", err)
	}
	res.total, res.hits, res.facets, res.facetsSkipped = r.Total, r.Hits, r.Facets, r.FacetsSkipped
	return res, nil
}
