package webapp

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/message"
	"github.com/resguardo/resguardo/internal/search"
)

// API search and message endpoints: the same services as /buscar and
// /mensaje/{id}, so the same read rule, participant restriction,
// justification rule and access entries.

// API page sizes.
const (
	apiDefaultSize = 20
	apiMaxSize     = 100
	apiMaxResults  = 10_000 // deepest result a page may reach
)

type apiSearchResult struct {
	Query      string   `json:"query"` // canonical, as written to the access entry
	Total      uint64   `json:"total"`
	Page       int      `json:"page"`
	Size       int      `json:"size"`
	Restricted bool     `json:"restricted"`   // only messages where one of the user's addresses participates
	NoAddress  bool     `json:"no_addresses"` // restricted, and the account has no address: nothing was searched
	Hits       []apiHit `json:"hits"`
	// Facets count every result (within the restriction) by year, sender
	// domain and attachment; each bucket's query is the term that refines the
	// search to it. Empty when facets_skipped (more than 100,000 results).
	Facets        map[string][]apiFacet `json:"facets"`
	FacetsSkipped bool                  `json:"facets_skipped"`
}

type apiFacet struct {
	Term  string `json:"term"`
	Count int    `json:"count"`
	Query string `json:"query"` // in the query language: year:2025, from:@dominio, has:attachment
}

// apiFacets renders the index's facets for the API (has_attachment's terms
// as "true" and "false").
func apiFacets(facets map[string][]search.FacetCount) map[string][]apiFacet {
	out := map[string][]apiFacet{}
	for _, fo := range facetOrder {
		list := []apiFacet{}
		for _, c := range facets[fo.name] {
			f := apiFacet{Term: c.Term, Count: c.Count}
			switch fo.name {
			case "year":
				f.Query = "year:" + c.Term
			case "sender_domain":
				f.Query = "from:" + value("@"+c.Term)
			case "has_attachment":
				f.Term, f.Query = "true", "has:attachment"
				if c.Term != "T" {
					f.Term, f.Query = "false", "-has:attachment"
				}
			}
			list = append(list, f)
		}
		out[fo.name] = list
	}
	return out
}

type apiHit struct {
	ID       string     `json:"id"`
	Date     *time.Time `json:"date"` // null: the message has no usable Date
	From     string     `json:"from"`
	Subject  string     `json:"subject"`
	Snippets []string   `json:"snippets"` // HTML fragments: text escaped, only <mark>…</mark> kept
	Href     string     `json:"href"`
}

// apiIntParam is a positive integer query parameter (def when absent).
func apiIntParam(r *http.Request, name string, def int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n > 0
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// apiSearch is GET /api/v1/search?q=&page=&size=.
func (a *App) apiSearch(w http.ResponseWriter, r *http.Request, q *apiReq) {
	page, ok1 := apiIntParam(r, "page", 1)
	size, ok2 := apiIntParam(r, "size", apiDefaultSize)
	if !ok1 || !ok2 || size > apiMaxSize || page > apiMaxResults/size {
		a.apiError(w, r, http.StatusBadRequest, errAPIPage)
		return
	}
	text := r.URL.Query().Get("q")
	if !needsJustification(q.who) && strings.TrimSpace(text) == "" {
		a.apiError(w, r, http.StatusBadRequest, errAPIQueryRequired)
		return
	}
	res, err := a.runSearch(r.Context(), q.who, searchQuery{text: text, page: page, size: size})
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	out := apiSearchResult{Query: res.canonical, Total: res.total, Page: page, Size: size,
		Restricted: res.restricted, NoAddress: res.noAddress, Hits: []apiHit{},
		Facets: apiFacets(res.facets), FacetsSkipped: res.facetsSkipped}
	for _, h := range res.hits {
		x := apiHit{ID: h.ID, Date: optTime(h.Date), From: h.From, Subject: h.Subject, Snippets: []string{},
			Href: apiPrefix + "/messages/" + h.ID}
		for _, s := range h.Snippets {
			if s != "" {
				x.Snippets = append(x.Snippets, string(snippet(s)))
			}
		}
		out.Hits = append(out.Hits, x)
	}
	a.writeJSON(w, http.StatusOK, out)
}

type apiMessage struct {
	ID          string               `json:"id"`
	Size        int64                `json:"size"`
	ArchivedAt  *time.Time           `json:"archived_at"`
	Date        *time.Time           `json:"date"` // null: no usable Date header
	Subject     string               `json:"subject"`
	MessageID   string               `json:"message_id"`
	From        []message.Address    `json:"from"`
	Sender      []message.Address    `json:"sender"`
	ReplyTo     []message.Address    `json:"reply_to"`
	To          []message.Address    `json:"to"`
	Cc          []message.Address    `json:"cc"`
	Bcc         []message.Address    `json:"bcc"`
	InReplyTo   []string             `json:"in_reply_to"`
	References  []string             `json:"references"`
	Malformed   bool                 `json:"malformed"`
	Defects     []string             `json:"defects"`
	LedgerIndex *int64               `json:"ledger_index"` // null: not in the ledger yet
	HasText     bool                 `json:"has_text"`
	HasHTML     bool                 `json:"has_html"`
	Attachments []apiAttachment      `json:"attachments"`
	Arrivals    []constancia.Arrival `json:"arrivals"` // receptions with their check results (imported mail: none)
	Links       apiMessageLinks      `json:"links"`
}

type apiAttachment struct {
	Path        string `json:"path"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Href        string `json:"href"`
}

type apiMessageLinks struct {
	Raw            string `json:"raw"`
	ConstanciaJSON string `json:"constancia_json,omitempty"` // only for roles that certify
	ConstanciaP7S  string `json:"constancia_p7s,omitempty"`
	ConstanciaPDF  string `json:"constancia_pdf,omitempty"`
}

// orEmpty keeps empty lists as [] in JSON.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// apiMessage is GET /api/v1/messages/{id}: the metadata (no body).
func (a *App) apiMessage(w http.ResponseWriter, r *http.Request, q *apiReq) {
	v, err := a.readMessage(r.Context(), q.who, r.PathValue("id"))
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	m, href := v.meta, apiPrefix+"/messages/"+v.rec.SHA256
	out := apiMessage{ID: v.rec.SHA256, Size: v.rec.Size, ArchivedAt: optTime(v.rec.ArchivedAt), Date: optTime(v.rec.Date),
		Subject: m.Subject, MessageID: m.MessageID, From: orEmpty(m.From), Sender: orEmpty(m.Sender), ReplyTo: orEmpty(m.ReplyTo),
		To: orEmpty(m.To), Cc: orEmpty(m.Cc), Bcc: orEmpty(m.Bcc), InReplyTo: orEmpty(m.InReplyTo), References: orEmpty(m.References),
		Malformed: v.rec.Malformed, Defects: orEmpty(v.rec.Defects), HasText: v.hasText, HasHTML: v.hasHTML,
		Attachments: []apiAttachment{}, Arrivals: orEmpty(v.arrivals), Links: apiMessageLinks{Raw: href + "/raw"}}
	if v.rec.LedgerIndex >= 0 {
		out.LedgerIndex = &v.rec.LedgerIndex
	}
	for _, p := range v.attachments {
		out.Attachments = append(out.Attachments, apiAttachment{Path: p.Path, Filename: p.Filename, ContentType: p.ContentType,
			Size: p.Size, SHA256: p.SHA256, Href: href + "/attachments/" + p.Path})
	}
	if v.certify {
		out.Links.ConstanciaJSON, out.Links.ConstanciaP7S, out.Links.ConstanciaPDF =
			href+"/constancia.json", href+"/constancia.p7s", href+"/constancia.pdf"
	}
	a.writeJSON(w, http.StatusOK, out)
}

// apiRaw is GET /api/v1/messages/{id}/raw: the exact bytes as archived.
func (a *App) apiRaw(w http.ResponseWriter, r *http.Request, q *apiReq) {
	rec, raw, err := a.rawMessage(r.Context(), q.who, r.PathValue("id"))
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	download(w, rec.SHA256+".eml", "message/rfc822", raw)
}

// apiAttachment is GET /api/v1/messages/{id}/attachments/{part}.
func (a *App) apiAttachment(w http.ResponseWriter, r *http.Request, q *apiReq) {
	f, err := a.attachmentFile(r.Context(), q.who, r.PathValue("id"), r.PathValue("part"))
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	download(w, f.name, f.ctype, f.data)
}

// apiConstancia is GET /api/v1/messages/{id}/constancia.{json,p7s,pdf}.
func (a *App) apiConstancia(ext string) func(http.ResponseWriter, *http.Request, *apiReq) {
	return func(w http.ResponseWriter, r *http.Request, q *apiReq) {
		f, err := a.constanciaFile(r.Context(), q.who, r.PathValue("id"), ext)
		if err != nil {
			a.apiFail(w, r, err)
			return
		}
		download(w, f.name, f.ctype, f.data)
	}
}
