package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"regexp"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/search"
	"github.com/resguardo/resguardo/internal/search/query"
)

// searchOutput is `resguardo search --json` (docs/CLI.md).
type searchOutput struct {
	Format string                         `json:"format"` // "resguardo-search/1"
	Query  string                         `json:"query"`  // canonical form
	Total  uint64                         `json:"total"`
	Offset int                            `json:"offset"`
	Hits   []search.Hit                   `json:"hits"`
	Facets map[string][]search.FacetCount `json:"facets,omitempty"`
	// FacetsSkipped: more than search.MaxFacetResults results, facets not counted.
	FacetsSkipped bool    `json:"facets_skipped,omitempty"`
	TookMS        float64 `json:"took_ms"`
	Lag           int64   `json:"index_lag"` // records not yet indexed
}

// actor names who runs a command, for the access log.
func actor() string {
	u := "unknown"
	if cur, err := user.Current(); err == nil {
		u = cur.Username
	}
	h, _ := os.Hostname()
	return "os:" + u + "@" + h
}

// parseQuery parses a query and renders syntax errors with a caret, in the
// user's language.
func (m *Main) parseQuery(q string) (query.Node, error) {
	n, err := query.Parse(q)
	var se *query.SyntaxError
	if errors.As(err, &se) {
		msg := se.MsgES
		if m.P.Lang == "en" {
			msg = se.Msg
		}
		return nil, &exitError{code: 2, err: fmt.Errorf("query: %s\n%s", msg, se.Caret(q))}
	}
	return n, err
}

// openIndex opens the search index for searching. When this process holds the
// writer lock and records wait in the catalog's queue, it indexes them first and
// compacts the index. The index is then opened read-only: a search never does
// merge work, and several searches can run at once.
func (m *Main) openIndex(ctx context.Context, a *archive.Archive, progress bool) (*search.Bleve, error) {
	dir := archive.Layout{Dir: a.Dir()}.Index()
	if a.Writer() {
		if err := m.updateIndex(ctx, a, progress); err != nil {
			return nil, err
		}
	}
	return search.OpenBleveReadOnly(dir, 5*time.Second)
}

// updateIndex indexes what waits in the queue (if anything) and compacts the index.
func (m *Main) updateIndex(ctx context.Context, a *archive.Archive, progress bool) error {
	lag, _, err := a.Cat.IndexLag(ctx)
	if err != nil || lag == 0 {
		return err
	}
	idx, err := search.OpenBleve(archive.Layout{Dir: a.Dir()}.Index())
	if err != nil {
		return err
	}
	if err := m.runIndexer(ctx, a, idx, progress); err != nil {
		idx.Close()
		return err
	}
	if err := idx.Compact(ctx); err != nil {
		idx.Close()
		return fmt.Errorf("compact search index: %w", err)
	}
	if err := idx.Close(); err != nil {
		return err
	}
	// Segment files merged away are deleted by a writable open: open once more
	// rather than leave them (as large as the index) to the next writer.
	idx, err = search.OpenBleve(archive.Layout{Dir: a.Dir()}.Index())
	if err != nil {
		return err
	}
	return idx.Close()
}

func (m *Main) runIndexer(ctx context.Context, a *archive.Archive, idx search.Index, progress bool) error {
	lag, _, err := a.Cat.IndexLag(ctx)
	if err != nil || lag == 0 {
		return err
	}
	ix := &search.Indexer{Src: a.Cat, Read: a.Bytes, Index: idx, Logger: m.Logger}
	start := time.Now()
	if progress {
		ix.Progress = func(done int) {
			secs := max(time.Since(start).Seconds(), 0.001)
			fmt.Fprintf(m.Stderr, "\r\x1b[K%s %s / %s · %s msg/s", m.P.T("index.progress"), m.P.Int(int64(done)), m.P.Int(lag), m.P.Float(float64(done)/secs, 0))
		}
	}
	_, err = ix.Run(ctx)
	if progress {
		fmt.Fprintln(m.Stderr)
	}
	return err
}

// indexNow reports whether serve's tick indexes. Always when the gateway took
// no message since the previous tick (last holds that count); while it is busy,
// only once the oldest unindexed record has waited search.max_lag: a burst of
// mail is answered first and then indexed in one larger, cheaper batch.
func (m *Main) indexNow(ctx context.Context, a *archive.Archive, gw *gateway, last *int64) bool {
	if gw == nil || gw.pipe == nil {
		return true
	}
	st := gw.pipe.Stats()
	n := st.Accepted + st.Quarantined
	busy := n != *last
	*last = n
	if !busy || m.Config.Search.MaxLag.D() == 0 {
		return true
	}
	pending, oldest, err := a.Cat.IndexLag(ctx)
	if err != nil {
		return true // the indexer reports the catalog's error
	}
	return indexDue(true, m.Config.Search.MaxLag.D(), pending, oldest, time.Now())
}

// indexDue is indexNow's rule: index when the gateway is quiet or the rule is
// off (maxLag 0), and while it is busy only pending records older than maxLag.
func indexDue(busy bool, maxLag time.Duration, pending int64, oldest, now time.Time) bool {
	switch {
	case pending == 0 && busy:
		return false
	case !busy || maxLag == 0:
		return true
	}
	return now.Sub(oldest) >= maxLag
}

func runSearch(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print the results as JSON")
	sortBy := fs.String("sort", "date", "date (newest first) or relevance")
	limit := fs.Int("limit", 20, "results per page")
	offset := fs.Int("offset", 0, "skip this many results")
	facets := fs.Bool("facets", true, "count results by year, sender domain and attachment")
	// Query words may start with '-' (-borrador): only this command's own flags are
	// flags; everything else is the query.
	flags, words := splitQueryArgs(fs, args)
	pos, err := m.parse(fs, flags)
	if err != nil {
		return err
	}
	pos = append(pos, words...)
	if *sortBy != "date" && *sortBy != "relevance" {
		return &exitError{code: 2, err: fmt.Errorf("--sort: want date or relevance, got %q", *sortBy)}
	}
	qtext := strings.Join(pos, " ")
	n, err := m.parseQuery(qtext)
	if err != nil {
		return err
	}
	a, err := m.openArchiveMaybeWriter(ctx, "search")
	if err != nil {
		return err
	}
	defer a.Close()
	idx, err := m.openIndex(ctx, a, isTerminal(m.Stderr) && !*jsonOut)
	if err != nil {
		return err
	}
	defer idx.Close()
	res, err := idx.Search(ctx, search.Request{Query: n, Sort: search.Sort(*sortBy), Offset: *offset, Limit: *limit, Facets: *facets, Highlight: true})
	if err != nil {
		return err
	}
	canon := query.String(n)
	if _, err := a.LogAccess(ctx, archive.AccessDetail{Actor: actor(), Action: "search", Query: canon, Results: int64(res.Total)}); err != nil {
		return fmt.Errorf("search not performed: %w", err)
	}
	lag, _, _ := a.Cat.IndexLag(ctx)
	out := searchOutput{Format: "resguardo-search/1", Query: canon, Total: res.Total, Offset: *offset, Hits: res.Hits,
		Facets: res.Facets, FacetsSkipped: res.FacetsSkipped, TookMS: float64(res.Took.Microseconds()) / 1000, Lag: lag}
	if *jsonOut {
		return writeJSON(m, out)
	}
	m.printSearch(&out)
	return nil
}

var markTags = regexp.MustCompile(`</?mark>`)

func (m *Main) printSearch(o *searchOutput) {
	p := m.P
	tz, err := time.LoadLocation("America/Mexico_City")
	if err != nil {
		tz = time.UTC
	}
	key := "search.total"
	if o.Total == 1 {
		key = "search.total1"
	}
	fmt.Fprintln(m.Stdout, p.T(key, p.Int(int64(o.Total)), p.Float(o.TookMS, 1)))
	for _, h := range o.Hits {
		date := "—"
		if !h.Date.IsZero() {
			date = h.Date.In(tz).Format("2006-01-02 15:04")
		}
		fmt.Fprintf(m.Stdout, "%s  %s  %-28s  %s\n", date, h.ID[:12], clip(h.From, 28), clip(oneLine(h.Subject), 70))
		for i, s := range h.Snippets {
			if i == 2 {
				break
			}
			s = strings.Trim(s, "… ")
			fmt.Fprintf(m.Stdout, "      … %s …\n", clip(oneLine(markTags.ReplaceAllStringFunc(s, func(t string) string {
				if t == "<mark>" {
					return "«"
				}
				return "»"
			})), 110))
		}
	}
	for _, name := range []string{"year", "sender_domain", "has_attachment"} {
		list := o.Facets[name]
		if len(list) == 0 {
			continue
		}
		var parts []string
		for _, f := range list {
			term := f.Term
			if name == "has_attachment" {
				term = map[string]string{"T": p.T("yes"), "F": p.T("no")}[term]
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", term, p.Int(int64(f.Count))))
		}
		fmt.Fprintf(m.Stdout, "%s: %s\n", p.T("search.facet."+name), strings.Join(parts, ", "))
	}
	if o.FacetsSkipped {
		fmt.Fprintln(m.Stdout, p.T("search.facets_skipped", p.Int(search.MaxFacetResults)))
	}
	if o.Lag > 0 {
		fmt.Fprintln(m.Stdout, p.T("search.lag", p.Int(o.Lag)))
	}
}

// openArchiveMaybeWriter opens the data directory as the writer when it is free
// (to index pending records and append access entries at once), else as a reader.
func (m *Main) openArchiveMaybeWriter(ctx context.Context, what string) (*archive.Archive, error) {
	a, err := m.openArchive(ctx, true, what)
	if errors.Is(err, archive.ErrLocked) {
		return m.openArchive(ctx, false, "")
	}
	return a, err
}

// splitQueryArgs separates a command's flags (and their values) from query words,
// which may begin with '-' (negation). "--" ends the flags.
func splitQueryArgs(fs *flag.FlagSet, args []string) (flags, words []string) {
	known := map[string]bool{"data": true, "config": true, "lang": true, "cpuprofile": true}
	boolFlag := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		known[f.Name] = true
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			boolFlag[f.Name] = true
		}
	})
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(words, args[i+1:]...)
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && known[name] {
			flags = append(flags, a)
			if !hasValue && !boolFlag[name] && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		words = append(words, a)
	}
	return flags, words
}
