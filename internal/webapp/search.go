package webapp

import (
	"errors"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/i18n"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/search"
	"github.com/resguardo/resguardo/internal/search/query"
)

// perPage is the number of results on a search page.
const perPage = 20

// form is the search form: the query language box and the simple fields.
type form struct {
	Q, From, To, Since, Until, Words string
	Attach                           bool
	Page                             int
}

func formOf(v url.Values) form {
	f := form{Q: v.Get("q"), From: v.Get("de"), To: v.Get("para"), Since: v.Get("desde"), Until: v.Get("hasta"),
		Words: v.Get("palabras"), Attach: v.Get("adjuntos") != ""}
	f.Page, _ = strconv.Atoi(v.Get("pagina"))
	f.Page = max(f.Page, 1)
	return f
}

// values is the form as URL parameters (empty fields left out).
func (f form) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"q", f.Q}, {"de", f.From}, {"para", f.To}, {"desde", f.Since}, {"hasta", f.Until}, {"palabras", f.Words}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if f.Attach {
		v.Set("adjuntos", "1")
	}
	return v
}

func (f form) empty() bool {
	return strings.TrimSpace(f.Q+f.From+f.To+f.Since+f.Until+f.Words) == "" && !f.Attach
}

// value quotes a field value as a phrase when it is not one plain word.
func value(v string) string {
	v = strings.TrimSpace(v)
	if v != "" && !strings.ContainsAny(v, " \t\"()\\") {
		return v
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// errDate is a date field that is not YYYY-MM-DD.
var errDate = errors.New("bad date")

// queryText combines the form into one query of the query language: the box
// (parenthesised, so its OR cannot swallow the other fields) AND each field.
func (f form) queryText() (string, error) {
	var parts []string
	if q := strings.TrimSpace(f.Q); q != "" {
		parts = append(parts, "("+q+")")
	}
	if f.From != "" {
		parts = append(parts, "from:"+value(f.From))
	}
	if f.To != "" {
		parts = append(parts, "to:"+value(f.To))
	}
	for _, d := range []string{f.Since, f.Until} {
		if d != "" {
			if _, err := time.Parse("2006-01-02", d); err != nil {
				return "", errDate
			}
		}
	}
	if f.Since != "" || f.Until != "" {
		parts = append(parts, "date:"+f.Since+".."+f.Until)
	}
	if f.Attach {
		parts = append(parts, "has:attachment")
	}
	if w := strings.TrimSpace(f.Words); w != "" {
		for _, word := range strings.Fields(w) {
			parts = append(parts, value(strings.TrimLeft(word, "-")))
		}
	}
	return strings.Join(parts, " "), nil
}

type hit struct {
	ID, Date, From, Subject string
	Snippets                []template.HTML
}

type searchData struct {
	Form       form
	Searched   bool
	Total      uint64
	Hits       []hit
	Prev, Next string
	Syntax     string // a query syntax error with its caret
	Restricted bool   // results limited to the user's own addresses
	NoAddress  bool
	Facets     []facetGroup
	// FacetsSkipped: more than search.MaxFacetResults results, not counted.
	FacetsSkipped bool
	// Export: the user may export this result set (PermExport, at most
	// MaxExport results); TooMany: there are more than MaxExport.
	Export, TooMany bool
	MaxExport       string
	ExportForm      url.Values // the form's fields, as hidden inputs of the export form
}

// facetGroup is one facet of the results: links that refine the query.
type facetGroup struct {
	ID, Title string
	Links     []facetLink
}

type facetLink struct {
	Label, Href string
	Count       int
}

// facetOrder is the order of the facets on the page, with their title keys.
var facetOrder = []struct{ name, title string }{
	{"year", "facet.year"}, {"sender_domain", "facet.domain"}, {"has_attachment", "facet.attach"},
}

// facetGroups turns the index's facet counts into links: each adds its term
// in the query language to the query box (year:2025, from:@dominio,
// has:attachment, -has:attachment), so the refined search keeps the
// participant restriction and is logged like any other.
func facetGroups(l i18n.Lang, f form, base url.Values, facets map[string][]search.FacetCount) []facetGroup {
	var out []facetGroup
	for _, fo := range facetOrder {
		list := slices.Clone(facets[fo.name])
		if len(list) == 0 {
			continue
		}
		if fo.name == "year" {
			slices.SortFunc(list, func(a, b search.FacetCount) int { return strings.Compare(b.Term, a.Term) })
		}
		g := facetGroup{ID: "faceta-" + strings.ReplaceAll(fo.name, "_", "-"), Title: text(l, fo.title)}
		for _, c := range list {
			label, term := c.Term, ""
			switch fo.name {
			case "year":
				term = "year:" + c.Term
			case "sender_domain":
				term = "from:" + value("@"+c.Term)
			case "has_attachment":
				if c.Term == "T" {
					label, term = text(l, "facet.with"), "has:attachment"
				} else {
					label, term = text(l, "facet.without"), "-has:attachment"
				}
			}
			v := url.Values{}
			for k, vs := range base {
				v[k] = slices.Clone(vs)
			}
			v.Del("pagina")
			if box := strings.TrimSpace(f.Q); box != "" {
				term = "(" + box + ") " + term
			}
			v.Set("q", term)
			g.Links = append(g.Links, facetLink{Label: label, Href: "/buscar?" + v.Encode(), Count: c.Count})
		}
		out = append(out, g)
	}
	return out
}

// search runs the form's query (runSearch: the participant restriction, the
// justification rule and the access entry).
func (a *App) search(w http.ResponseWriter, r *http.Request, q *req) {
	f := formOf(r.URL.Query())
	p := q.page("search.title")
	d := searchData{Form: f, Restricted: !q.user.ReadsOthersMail()}
	p.Data = &d
	if needsJustification(q.who()) {
		p.Title = text(q.lang, "justify.title")
		p.Data = justifyData{Return: r.URL.RequestURI()}
		a.render(w, http.StatusOK, "justify", p)
		return
	}
	if q.sess.Justification.Valid() {
		p.Info = text(q.lang, "justify.current") + " " + q.sess.Justification.Text
	}
	if f.empty() {
		a.render(w, http.StatusOK, "search", p)
		return
	}
	qt, err := f.queryText()
	if err != nil {
		p.Error = text(q.lang, "search.baddate")
		a.render(w, http.StatusBadRequest, "search", p)
		return
	}
	res, err := a.runSearch(r.Context(), q.who(), searchQuery{text: qt, page: f.Page, size: perPage})
	var se *query.SyntaxError
	switch {
	case errors.As(err, &se):
		p.Error = se.MsgES
		if p.EN() {
			p.Error = se.Msg
		}
		d.Syntax = se.Caret(qt)
		a.render(w, http.StatusBadRequest, "search", p)
		return
	case err != nil:
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	d.Searched, d.NoAddress, d.Total = true, res.noAddress, res.total
	d.Facets = facetGroups(q.lang, f, r.URL.Query(), res.facets)
	d.FacetsSkipped = res.facetsSkipped
	if a.opt.Export != nil && q.user.Can(identity.PermExport) && res.total > 0 {
		limit := uint64(a.opt.MaxExport)
		d.Export, d.TooMany = res.total <= limit, res.total > limit
		d.MaxExport, d.ExportForm = printer(q.lang).Int(int64(limit)), f.values()
	}
	for _, h := range res.hits {
		x := hit{ID: h.ID, From: h.From, Subject: h.Subject, Date: a.when(q.lang, h.Date)}
		for i, s := range h.Snippets {
			if i == 2 {
				break
			}
			x.Snippets = append(x.Snippets, snippet(s))
		}
		d.Hits = append(d.Hits, x)
	}
	v := r.URL.Query()
	if f.Page > 1 {
		v.Set("pagina", strconv.Itoa(f.Page-1))
		d.Prev = "/buscar?" + v.Encode()
	}
	if uint64(f.Page*perPage) < res.total {
		v.Set("pagina", strconv.Itoa(f.Page+1))
		d.Next = "/buscar?" + v.Encode()
	}
	a.render(w, http.StatusOK, "search", p)
}

// snippet makes a highlighted fragment safe: whatever the index escaped or
// not, it is unescaped and escaped again, and only <mark> tags are restored.
func snippet(s string) template.HTML {
	s = html.EscapeString(html.UnescapeString(s))
	s = strings.ReplaceAll(s, "&lt;mark&gt;", "<mark>")
	s = strings.ReplaceAll(s, "&lt;/mark&gt;", "</mark>")
	return template.HTML(s)
}

type justifyData struct {
	Return string
}

// justify records the session's justification (roles that read others' mail).
func (a *App) justify(w http.ResponseWriter, r *http.Request, q *req) {
	ret := r.PostFormValue("volver")
	if !strings.HasPrefix(ret, "/") || strings.HasPrefix(ret, "//") || strings.HasPrefix(ret, "/\\") {
		ret = "/buscar"
	}
	if _, err := a.opt.Identity.SetJustification(r.Context(), q.sess.ID, r.PostFormValue("justificacion"), ""); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, identity.ErrForbidden) {
			status = http.StatusForbidden
		}
		p := q.page("justify.title")
		p.Error = a.errText(q, err)
		p.Data = justifyData{Return: ret}
		a.render(w, status, "justify", p)
		return
	}
	http.Redirect(w, r, ret, http.StatusSeeOther)
}
