package webapp

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/export"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/keys"
	"github.com/resguardo/resguardo/internal/search"
)

// thread is Options.Thread over env.threads.
func (e *env) thread(_ context.Context, id string, limit int) ([]string, error) {
	e.arc.mu.Lock()
	defer e.arc.mu.Unlock()
	ids := e.threads[id]
	return ids[:min(len(ids), limit)], nil
}

// export is Options.Export: the real export package over the fake archive,
// with a certification made for the test; constancias of env.pending records
// are pending.
func (e *env) export(t *testing.T) func(context.Context, string, []string, ExportRequest) (*export.Result, error) {
	dir := t.TempDir()
	if _, err := keys.InitCertification(dir, "Institución de prueba", time.Now()); err != nil {
		t.Fatal(err)
	}
	cert, err := keys.LoadCertification(dir)
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, path string, ids []string, req ExportRequest) (*export.Result, error) {
		opt := export.Options{
			Lookup: func(_ context.Context, id string) (*catalog.Record, error) {
				e.arc.mu.Lock()
				defer e.arc.mu.Unlock()
				if r, ok := e.arc.recs[id]; ok {
					return r, nil
				}
				return nil, catalog.ErrNotFound
			},
			Bytes: func(_ context.Context, r *catalog.Record) ([]byte, error) {
				e.arc.mu.Lock()
				defer e.arc.mu.Unlock()
				return e.arc.raw[r.SHA256], nil
			},
			Constancia: func(_ context.Context, r *catalog.Record) ([]byte, error) {
				e.arc.mu.Lock()
				defer e.arc.mu.Unlock()
				if e.pending[r.SHA256] {
					return nil, archive.ErrPending
				}
				return []byte(`{"record":"` + r.SHA256 + `"}`), nil
			},
			LogAccess: func(_ context.Context, d archive.AccessDetail) (int64, error) {
				e.arc.mu.Lock()
				e.arc.access = append(e.arc.access, d)
				n := len(e.arc.access)
				e.arc.mu.Unlock()
				return int64(n), catalogAccess(e.cat, d)
			},
			Cert: cert, Issuer: "Institución de prueba", Origin: "resguardo.prueba/log", LedgerKey: "clave-de-prueba",
			Actor: req.Actor, Justification: req.Justification, Records: true,
		}
		return export.Write(ctx, path, func(fn func(string) error) error {
			for _, id := range ids {
				if err := fn(id); err != nil {
					return err
				}
			}
			return nil
		}, req.Query, opt)
	}
}

const (
	// Ana's, from a supplier, of 2025, with an attachment.
	msgAnaProv = "From: Ventas <ventas@proveedor.com.mx>\r\nTo: ana@ejemplo.gob.mx\r\nSubject: Contrato anual 2025\r\n" +
		"Date: Wed, 15 Jan 2025 09:30:00 -0600\r\nMessage-ID: <prov-ana@proveedor.com.mx>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nEl contrato anual.\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"contrato.pdf\"\r\n\r\n%PDF-1.4\r\n--b--\r\n"
	// Beto's, from the same supplier: Ana must not count it.
	msgBetoProv = "From: ventas@proveedor.com.mx\r\nTo: beto@ejemplo.gob.mx\r\nSubject: Contrato de Beto\r\n" +
		"Date: Thu, 16 Jan 2025 09:30:00 -0600\r\nMessage-ID: <prov-beto@proveedor.com.mx>\r\n\r\nOtro contrato reservado.\r\n"
	// Ana only in Reply-To, only in Sender.
	msgReplyTo = "From: asistente@ejemplo.gob.mx\r\nTo: carlos@ejemplo.gob.mx\r\nReply-To: Ana <ana@ejemplo.gob.mx>\r\n" +
		"Subject: Licitación A\r\nDate: Fri, 06 Mar 2026 10:00:00 -0600\r\nMessage-ID: <rt@ejemplo.gob.mx>\r\n\r\nBases de la licitación.\r\n"
	msgSender = "From: direccion@ejemplo.gob.mx\r\nSender: ana@ejemplo.gob.mx\r\nTo: carlos@ejemplo.gob.mx\r\n" +
		"Subject: Licitación B\r\nDate: Sat, 07 Mar 2026 10:00:00 -0600\r\nMessage-ID: <snd@ejemplo.gob.mx>\r\n\r\nActa de la licitación.\r\n"
	// Ana only in the envelope (a Bcc delivered by the gateway).
	msgEnvelope = "From: externo@otro.example\r\nTo: carlos@ejemplo.gob.mx\r\n" +
		"Subject: Licitación C\r\nDate: Sun, 08 Mar 2026 10:00:00 -0600\r\nMessage-ID: <env@otro.example>\r\n\r\nPropuesta para la licitación.\r\n"
)

// more adds the messages above; the envelope-only one gets its reception.
func (e *env) more(t *testing.T) (anaProv, betoProv, replyTo, sender, envelope string) {
	t.Helper()
	anaProv, betoProv = e.arc.add(t, e.idx, msgAnaProv), e.arc.add(t, e.idx, msgBetoProv)
	replyTo, sender = e.arc.add(t, e.idx, msgReplyTo), e.arc.add(t, e.idx, msgSender)
	envelope = e.arc.add(t, e.idx, msgEnvelope)
	e.arc.arrival[envelope] = []constancia.Arrival{{Channel: "mx", ReceivedAt: "2026-03-08T16:00:00Z", MailFrom: "externo@otro.example",
		RcptTo: []string{"ana@ejemplo.gob.mx"}}}
	// The indexer takes envelope addresses from the receptions (Doc.Envelope).
	r := e.arc.recs[envelope]
	if err := e.idx.Index(context.Background(), []search.Doc{{ID: envelope, Date: r.Date, Subject: r.Subject, Body: "Propuesta para la licitación.",
		From: []search.Address{{Address: "externo@otro.example"}}, To: []search.Address{{Address: "carlos@ejemplo.gob.mx"}},
		Envelope: []string{"externo@otro.example", "ana@ejemplo.gob.mx"}}}); err != nil {
		t.Fatal(err)
	}
	return
}

var facetRE = regexp.MustCompile(`<a href="([^"]+)">([^<]+)</a> <span class="count">(\d+)</span>`)

// facets are the facet links of a search page: label → count and href.
func facets(body string) map[string][2]string {
	out := map[string][2]string{}
	for _, m := range facetRE.FindAllStringSubmatch(body, -1) {
		out[m[2]] = [2]string{m[3], html.UnescapeString(m[1])}
	}
	return out
}

// TestSearchFacets: facet links with counts over what the user may see only,
// each refining the query; the same counts in the API.
func TestSearchFacets(t *testing.T) {
	e := newEnv(t)
	anaProv, _, _, _, _ := e.more(t)
	ana := e.browser(t)
	ana.login("ana", goodPW)
	olga := e.browser(t)
	olga.full("olga")
	olga.post("/justificacion", url.Values{"csrf": {csrfOf(t, olga.get("/buscar").body)}, "justificacion": {"Auditoría 12/2026 de contratos de obra"}})

	tests := []struct {
		name string
		b    *browser
		want map[string]string // label → count
	}{
		{"servidor público: own mail only", ana, map[string]string{"2026": "1", "2025": "1", "ejemplo.gob.mx": "1", "proveedor.com.mx": "1", "Con adjuntos": "2"}},
		{"auditor: everything", olga, map[string]string{"2026": "2", "2025": "2", "ejemplo.gob.mx": "2", "proveedor.com.mx": "2", "Con adjuntos": "2", "Sin adjuntos": "2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.b.get("/buscar?q=contrato")
			got := facets(r.body)
			for label, n := range tc.want {
				if got[label][0] != n {
					t.Errorf("facet %q: %q, want %q (all: %v)", label, got[label][0], n, got)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("facets %v, want %v", got, tc.want)
			}
		})
	}
	// A link refines the query in the query language, and the refined search
	// is restricted and logged as any other.
	got := facets(ana.get("/buscar?q=contrato&pagina=1").body)
	for label, term := range map[string]string{"2025": "(contrato) year:2025", "proveedor.com.mx": "(contrato) from:@proveedor.com.mx", "Con adjuntos": "(contrato) has:attachment"} {
		u, _ := url.Parse(got[label][1])
		if u.Path != "/buscar" || u.Query().Get("q") != term || u.Query().Has("pagina") {
			t.Errorf("%s links to %q", label, got[label][1])
		}
	}
	r := ana.get(got["2025"][1])
	if !strings.Contains(r.body, `id="total">1<`) || !strings.Contains(r.body, anaProv) {
		t.Fatalf("refined search:\n%s", r.body)
	}
	if last := e.lastAccess(); last.Action != "search" || !strings.Contains(last.Query, "date:2025-01-01..2025-12-31") || !strings.Contains(last.Query, "participant:{ana@ejemplo.gob.mx}") {
		t.Errorf("refined search's entry: %+v", last)
	}
	// The box's OR stays inside its parentheses.
	got = facets(ana.get("/buscar?q=contrato+OR+licitaci%C3%B3n").body)
	if u, _ := url.Parse(got["2025"][1]); u.Query().Get("q") != "(contrato OR licitación) year:2025" {
		t.Errorf("refinement of an OR: %q", got["2025"][1])
	}

	// The API: the same counts, with the refining term.
	res := apiDecode[apiSearchResult](t, e.apiGet(t, e.newToken(t, "ana", identity.ScopeSearch), "/api/v1/search?q=contrato"))
	want := map[string][]apiFacet{
		"year":           {{"2026", 1, "year:2026"}, {"2025", 1, "year:2025"}},
		"sender_domain":  {{"ejemplo.gob.mx", 1, "from:@ejemplo.gob.mx"}, {"proveedor.com.mx", 1, "from:@proveedor.com.mx"}},
		"has_attachment": {{"true", 2, "has:attachment"}},
	}
	for name, w := range want {
		g := slices.Clone(res.Facets[name])
		slices.SortFunc(g, func(a, b apiFacet) int { return strings.Compare(a.Term, b.Term) })
		slices.SortFunc(w, func(a, b apiFacet) int { return strings.Compare(a.Term, b.Term) })
		if !slices.Equal(g, w) {
			t.Errorf("API facet %s: %v, want %v", name, g, w)
		}
	}
	if res.FacetsSkipped {
		t.Error("facets_skipped")
	}
}

// TestSearchReadRuleParticipants: a servidor público finds mail in which
// they are only Sender, Reply-To or an envelope recipient, as the read rule
// lets them open it; others do not.
func TestSearchReadRuleParticipants(t *testing.T) {
	e := newEnv(t)
	_, _, replyTo, sender, envelope := e.more(t)
	for _, tc := range []struct {
		login string
		want  []string
	}{
		{"ana", []string{replyTo, sender, envelope}},
		{"beto", nil},
	} {
		t.Run(tc.login, func(t *testing.T) {
			b := e.browser(t)
			b.login(tc.login, goodPW)
			r := b.get("/buscar?q=licitaci%C3%B3n")
			if !strings.Contains(r.body, `id="total">`+itoa(len(tc.want))+`<`) {
				t.Fatalf("%s: total, want %d:\n%s", tc.login, len(tc.want), r.body)
			}
			for _, id := range tc.want {
				if !strings.Contains(r.body, "/mensaje/"+id) {
					t.Errorf("%s does not find %s", tc.login, id[:8])
				}
				if b.get("/mensaje/"+id).code != http.StatusOK {
					t.Errorf("%s cannot open %s", tc.login, id[:8])
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestThreadView: the conversation lists only the messages the user may
// read, marks the current one, and writes no entry of its own.
func TestThreadView(t *testing.T) {
	e := newEnv(t)
	anaProv, _, _, _, _ := e.more(t)
	e.threads[e.xssID] = []string{anaProv, e.betoID}
	ana := e.browser(t)
	ana.login("ana", goodPW)
	before := len(e.arc.access)
	r := ana.get("/mensaje/" + e.xssID)
	if len(e.arc.access) != before+1 {
		t.Fatalf("the page wrote %d entries, want 1", len(e.arc.access)-before)
	}
	contains(t, "ana's thread", r.body, `id="conversacion"`, `href="/mensaje/`+anaProv+`"`, "Contrato anual 2025", "este mensaje",
		`<li class="current">`, "15/01/2025 09:30 CST")
	lacks(t, "ana's thread", r.body, e.betoID, "Secreto")
	// Oldest first: the 2025 message before this one.
	if i, j := strings.Index(r.body, "Contrato anual 2025"), strings.Index(r.body, "este mensaje"); i < 0 || j < i {
		t.Error("thread not oldest first")
	}
	// A message alone has no conversation section.
	if strings.Contains(ana.get("/mensaje/"+anaProv).body, `id="conversacion"`) {
		t.Error("a message without a thread lists one")
	}
	// Only Beto's hidden message besides this one: no section at all.
	e.threads[e.xssID] = []string{e.betoID}
	if strings.Contains(ana.get("/mensaje/"+e.xssID).body, `id="conversacion"`) {
		t.Error("a thread of unreadable messages is shown")
	}
	// An auditor with a justification reads them all.
	e.threads[e.xssID] = []string{anaProv, e.betoID}
	olga := e.browser(t)
	olga.full("olga")
	olga.post("/justificacion", url.Values{"csrf": {csrfOf(t, olga.get("/buscar").body)}, "justificacion": {"Auditoría 12/2026 de contratos de obra"}})
	contains(t, "olga's thread", olga.get("/mensaje/"+e.xssID).body, e.betoID, "Secreto de Beto", anaProv)
}

// TestDatesAndTextView: dates in Mexico City in the page's language on the
// search and message pages; the plain-text alternative beside the HTML view.
func TestDatesAndTextView(t *testing.T) {
	e := newEnv(t)
	ana := e.browser(t)
	ana.login("ana", goodPW)
	for _, tc := range []struct{ lang, want string }{{"es", "02/03/2026 10:00 CST"}, {"en", "2026-03-02 10:00 CST"}} {
		for _, path := range []string{"/buscar?q=contrato&lang=" + tc.lang, "/mensaje/" + e.xssID + "?lang=" + tc.lang} {
			if r := ana.get(path); !strings.Contains(r.body, tc.want) {
				t.Errorf("%s lacks %q", path, tc.want)
			}
		}
		// The arrival badge too (received 2026-03-02T16:00:00Z), never in RFC 3339.
		if r := ana.get("/mensaje/" + e.xssID + "?lang=" + tc.lang); !strings.Contains(r.body, "mx · "+tc.want) || strings.Contains(r.body, "2026-03-02T16:00:00Z") {
			t.Errorf("arrival badge in %s: want %q", tc.lang, "mx · "+tc.want)
		}
	}
	ana.get("/buscar?lang=es")
	page := ana.get("/mensaje/" + e.xssID).body
	contains(t, "HTML view", page, `<iframe class="html"`, `href="/mensaje/`+e.xssID+`?ver=texto"`, `aria-current="page" id="ver-html"`)
	lacks(t, "HTML view", page, `id="cuerpo"`)
	txt := ana.get("/mensaje/" + e.xssID + "?ver=texto").body
	contains(t, "text view", txt, `id="cuerpo"`, "contrato de obra", `aria-current="page" id="ver-texto"`)
	lacks(t, "text view", txt, "<iframe", "cuerpo.html")
	// A text-only message has no tabs and shows its text.
	beto := e.browser(t)
	beto.login("beto", goodPW)
	only := beto.get("/mensaje/" + e.betoID).body
	contains(t, "text-only", only, `id="cuerpo"`, "Un contrato confidencial.")
	lacks(t, "text-only", only, "<iframe", `id="ver-texto"`)
}

// unzip reads an export's files.
func unzip(t *testing.T, body string) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader([]byte(body)), int64(len(body)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return out
}

// checkExport checks an export of ids: the manifest lists exactly them, the
// messages are byte-exact, constancias are there but for pending records, the
// seal counts them, and the last access entry is the export's.
func checkExport(t *testing.T, e *env, r resp, login string, ids []string) {
	t.Helper()
	if r.code != 200 || r.h.Get("Content-Type") != "application/zip" || !strings.HasPrefix(r.h.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("export: %d %v\n%.500s", r.code, r.h, r.body)
	}
	files := unzip(t, r.body)
	var manifest []export.Entry
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	var got []string
	pending := 0
	for _, m := range manifest {
		got = append(got, m.ID)
		if string(files["mensajes/"+m.ID+".eml"]) != string(e.arc.raw[m.ID]) {
			t.Errorf("message %s not byte-exact", m.ID[:8])
		}
		if e.pending[m.ID] {
			pending++
			if m.Constancia != "" || files["constancias/"+m.ID+".json"] != nil {
				t.Errorf("pending constancia of %s exported", m.ID[:8])
			}
		} else if m.Constancia == "" || !strings.Contains(string(files["constancias/"+m.ID+".json"]), m.ID) {
			t.Errorf("constancia of %s missing", m.ID[:8])
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Fatalf("manifest ids %v, want %v", got, want)
	}
	sum := sha256.Sum256(files["manifest.json"])
	var seal export.Seal
	if err := json.Unmarshal(files["sello.json"], &seal); err != nil || seal.Count != int64(len(ids)) || seal.ManifestJSON != hex.EncodeToString(sum[:]) {
		t.Fatalf("sello.json %+v (%v)", seal, err)
	}
	for _, f := range []string{"sello.p7s", "manifest.csv", "LEEME.txt", "certificados/ca-institucion.pem"} {
		if len(files[f]) == 0 {
			t.Errorf("%s missing", f)
		}
	}
	if r.h.Get("X-Resguardo-Manifest-SHA256") != seal.ManifestJSON || r.h.Get("X-Resguardo-Constancias-Pending") != itoa(pending) {
		t.Errorf("headers %v", r.h)
	}
	last := e.lastAccess()
	recs := slices.Sorted(slices.Values(last.Records))
	if last.Action != "export" || last.Actor != "user:"+login || last.Manifest != seal.ManifestJSON || !slices.Equal(recs, want) || last.Results != int64(len(ids)) {
		t.Fatalf("export access entry: %+v", last)
	}
}

// TestExport: the search page's export and POST /api/v1/export give the zip
// of `resguardo export` for exactly the user's results, with its access entry;
// 403 without PermExport or the export scope, 403 without the CSRF token, and
// a clear refusal above the limit.
func TestExport(t *testing.T) {
	e := newEnv(t)
	anaProv, betoProv, _, _, _ := e.more(t)
	e.pending[anaProv] = true
	ana := e.browser(t)
	ana.login("ana", goodPW)
	page := ana.get("/buscar?q=contrato").body
	contains(t, "search page", page, `action="/buscar/exportar"`, `name="q" value="contrato"`, "sin constancia")
	form := url.Values{"csrf": {csrfOf(t, page)}, "q": {"contrato"}}
	checkExport(t, e, ana.post("/buscar/exportar", form), "ana", []string{e.xssID, anaProv})
	if q := e.lastAccess().Query; !strings.Contains(q, "participant:{ana@ejemplo.gob.mx}") {
		t.Errorf("export query %q", q)
	}

	t.Run("CSRF", func(t *testing.T) {
		n := len(e.arc.access)
		for _, tok := range []string{"", "mal"} {
			if r := ana.post("/buscar/exportar", url.Values{"csrf": {tok}, "q": {"contrato"}}); r.code != http.StatusForbidden {
				t.Errorf("csrf %q: %d", tok, r.code)
			}
		}
		if len(e.arc.access) != n {
			t.Error("a refused export was logged")
		}
	})
	t.Run("no permission", func(t *testing.T) {
		root := e.addAdmin(t)
		n := len(e.arc.access)
		if r := root.post("/buscar/exportar", url.Values{"csrf": {csrfOf(t, root.get("/buscar").body)}, "q": {"contrato"}}); r.code != http.StatusForbidden {
			t.Errorf("administrador exported: %d", r.code)
		}
		if strings.Contains(root.get("/buscar?q=contrato").body, "/buscar/exportar") {
			t.Error("export form shown without PermExport")
		}
		me := apiDecode[apiMe](t, e.apiCall(t, root, "GET", "/api/v1/me", ""))
		if r := e.apiCall(t, root, "POST", "/api/v1/export", `{"query":"contrato"}`, CSRFHeader, me.CSRFToken); r.code != http.StatusForbidden {
			t.Errorf("administrador exported through the API: %d", r.code)
		}
		if len(e.arc.access) != n {
			t.Error("a refused export was logged")
		}
	})
	t.Run("API", func(t *testing.T) {
		tok := e.newToken(t, "ana", identity.ScopeExport)
		checkExport(t, e, e.apiCall(t, nil, "POST", "/api/v1/export", `{"query":"contrato"}`, "Authorization", "Bearer "+tok), "ana", []string{e.xssID, anaProv})
		search := e.newToken(t, "ana", identity.ScopeSearch, identity.ScopeRead)
		if r := e.apiCall(t, nil, "POST", "/api/v1/export", `{"query":"contrato"}`, "Authorization", "Bearer "+search); r.code != http.StatusForbidden || apiErrCode(t, r) != "insufficient_scope" {
			t.Errorf("export without the scope: %d", r.code)
		}
		if r := e.apiCall(t, nil, "POST", "/api/v1/export", `{"query":"contrato ("}`, "Authorization", "Bearer "+tok); r.code != http.StatusBadRequest || apiErrCode(t, r) != "query_syntax" {
			t.Errorf("syntax error: %d %s", r.code, r.body)
		}
		olga := e.newToken(t, "olga", identity.ScopeExport)
		if r := e.apiCall(t, nil, "POST", "/api/v1/export", `{"query":"contrato"}`, "Authorization", "Bearer "+olga); r.code != http.StatusForbidden || apiErrCode(t, r) != "justification_required" {
			t.Errorf("auditor without justification: %d %s", r.code, r.body)
		}
		r := e.apiCall(t, nil, "POST", "/api/v1/export", `{"query":"contrato"}`, "Authorization", "Bearer "+olga,
			JustificationHeader, "Auditoría 12/2026 de contratos de obra")
		checkExport(t, e, r, "olga", []string{e.xssID, e.betoID, anaProv, betoProv})
		if j := e.lastAccess().Justification; j != "Auditoría 12/2026 de contratos de obra" {
			t.Errorf("justification %q", j)
		}
	})
	t.Run("limit", func(t *testing.T) {
		e.theApp().opt.MaxExport = 1
		defer func() { e.theApp().opt.MaxExport = MaxExport }()
		n := len(e.arc.access)
		page := ana.get("/buscar?q=contrato").body
		contains(t, "search page over the limit", page, `id="exportar-limite"`)
		lacks(t, "search page over the limit", page, `action="/buscar/exportar"`)
		r := ana.post("/buscar/exportar", url.Values{"csrf": {csrfOf(t, page)}, "q": {"contrato"}})
		if r.code != http.StatusBadRequest || !strings.Contains(r.body, "hasta 1 mensajes") {
			t.Errorf("over the limit: %d\n%s", r.code, r.body)
		}
		tok := e.newToken(t, "ana", identity.ScopeExport)
		if r := e.apiCall(t, nil, "POST", "/api/v1/export", `{"query":"contrato"}`, "Authorization", "Bearer "+tok); r.code != http.StatusBadRequest || apiErrCode(t, r) != "export_too_large" {
			t.Errorf("API over the limit: %d %s", r.code, r.body)
		}
		if len(e.arc.access) != n+1 { // the page's search only
			t.Errorf("%d entries for a refused export", len(e.arc.access)-n)
		}
	})
}
