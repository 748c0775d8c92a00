package webapp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/identity"
)

// API test helpers: calls with a token or a browser's cookies, and the JSON
// error of a response.

// call makes one request to the test server; hdr is key, value pairs
// ("Authorization", "Bearer …"). With a browser, its cookies go along.
func (e *env) apiCall(t *testing.T, b *browser, method, path, body string, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if b != nil {
		return b.do(req)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	out, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, string(out), r.Header}
}

// bearer is a GET with an API token.
func (e *env) apiGet(t *testing.T, tok, path string, hdr ...string) resp {
	t.Helper()
	return e.apiCall(t, nil, "GET", path, "", append([]string{"Authorization", "Bearer " + tok}, hdr...)...)
}

// token creates an API token for login with scopes.
func (e *env) newToken(t *testing.T, login string, scopes ...identity.Scope) string {
	t.Helper()
	ctx := context.Background()
	u, err := e.ids.UserByLogin(ctx, login)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := e.ids.CreateToken(ctx, u.ID, "prueba "+login, scopes, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// errCode is the code of a JSON error response (and checks its shape).
func apiErrCode(t *testing.T, r resp) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not a JSON error (%d): %q", r.code, r.body)
	}
	if !strings.HasPrefix(r.h.Get("Content-Type"), "application/json") {
		t.Fatalf("error Content-Type %q", r.h.Get("Content-Type"))
	}
	return e.Error.Code
}

func apiDecode[T any](t *testing.T, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("%d %q: %v", r.code, r.body, err)
	}
	return v
}

func (e *env) theApp() *App { return e.srv.Config.Handler.(*App) }

// TestAPITokenAuth: a good token works; a missing, malformed, unknown,
// revoked or expired one, or one of a disabled account, is 401 with
// WWW-Authenticate: Bearer; a token without the endpoint's scope is 403.
func TestAPITokenAuth(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	good := e.newToken(t, "ana", identity.ScopeSearch, identity.ScopeRead)
	searchOnly := e.newToken(t, "ana", identity.ScopeSearch)
	readOnly := e.newToken(t, "ana", identity.ScopeRead)
	revoked := e.newToken(t, "ana", identity.ScopeRead)
	ana, _ := e.ids.UserByLogin(ctx, "ana")
	ts, _ := e.ids.Tokens(ctx, ana.ID)
	for _, tk := range ts {
		if strings.HasPrefix(revoked, tk.Prefix) {
			if err := e.ids.RevokeToken(ctx, ana.ID, tk.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw, _, err := e.ids.CreateToken(ctx, ana.ID, "corto", []identity.Scope{identity.ScopeRead}, e.clk.now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired := raw
	beto := e.newToken(t, "beto", identity.ScopeRead)
	betoU, _ := e.ids.UserByLogin(ctx, "beto")
	yes := true
	if _, err := e.ids.UpdateUser(ctx, betoU.ID, identity.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	e.clk.add(2 * time.Hour)
	msg := "/api/v1/messages/" + e.xssID
	for _, tc := range []struct {
		name, path, auth string
		code             int
		errCode          string
	}{
		{"ok", msg, "Bearer " + good, 200, ""},
		{"ok search", "/api/v1/search?q=contrato", "Bearer " + good, 200, ""},
		{"me needs no scope", "/api/v1/me", "Bearer " + searchOnly, 200, ""},
		{"missing", msg, "", 401, "unauthorized"},
		{"not bearer", msg, "Basic YW5hOnh4eA==", 401, "invalid_token"},
		{"empty bearer", msg, "Bearer ", 401, "invalid_token"},
		{"unknown", msg, "Bearer rsg_" + strings.Repeat("x", 43), 401, "invalid_token"},
		{"revoked", msg, "Bearer " + revoked, 401, "invalid_token"},
		{"expired", msg, "Bearer " + expired, 401, "invalid_token"},
		{"disabled account", msg, "Bearer " + beto, 401, "invalid_token"},
		{"read needs read", msg, "Bearer " + searchOnly, 403, "insufficient_scope"},
		{"raw needs read", msg + "/raw", "Bearer " + searchOnly, 403, "insufficient_scope"},
		{"search needs search", "/api/v1/search?q=contrato", "Bearer " + readOnly, 403, "insufficient_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			r := e.apiCall(t, nil, "GET", tc.path, "", hdr...)
			if r.code != tc.code {
				t.Fatalf("%d, want %d: %s", r.code, tc.code, r.body)
			}
			if tc.errCode != "" && apiErrCode(t, r) != tc.errCode {
				t.Fatalf("code %q, want %q", apiErrCode(t, r), tc.errCode)
			}
			if wa := r.h.Get("WWW-Authenticate"); tc.code == 401 && !strings.HasPrefix(wa, "Bearer") ||
				tc.code == 403 && !strings.Contains(wa, `error="insufficient_scope"`) {
				t.Fatalf("WWW-Authenticate %q", wa)
			}
		})
	}
}

// TestAPIIDOR: Beto's token gets, for Ana's message, exactly the answer of a
// message that does not exist, on every message endpoint; so do malformed
// ids and prefixes. Nothing is logged for refused reads.
func TestAPIIDOR(t *testing.T) {
	e := newEnv(t)
	ana := e.newToken(t, "ana", identity.ScopeSearch, identity.ScopeRead)
	beto := e.newToken(t, "beto", identity.ScopeSearch, identity.ScopeRead)
	missing := strings.Repeat("ab", 32)
	for _, suffix := range []string{"", "/raw", "/attachments/2", "/constancia.json", "/constancia.p7s", "/constancia.pdf"} {
		t.Run(suffix, func(t *testing.T) {
			want := e.apiGet(t, beto, "/api/v1/messages/"+missing+suffix)
			if want.code != 404 || apiErrCode(t, want) != "not_found" {
				t.Fatalf("missing: %d %s", want.code, want.body)
			}
			for _, id := range []string{e.xssID, e.xssID[:16], strings.ToUpper(e.xssID), e.xssID + "0"} {
				r := e.apiGet(t, beto, "/api/v1/messages/"+id+suffix)
				if r.code != 404 || r.body != want.body {
					t.Fatalf("beto, %s: %d %q (want the missing message's answer)", id, r.code, r.body)
				}
			}
			before := len(e.arc.access)
			if r := e.apiGet(t, ana, "/api/v1/messages/"+e.xssID+suffix); r.code != 200 {
				t.Fatalf("ana's own: %d %s", r.code, r.body)
			}
			if len(e.arc.access) != before+1 || e.arc.access[before].Actor != "user:ana" || e.arc.access[before].Records[0] != e.xssID {
				t.Fatalf("access entries %+v", e.arc.access[before:])
			}
		})
	}
	for _, d := range e.arc.access {
		if d.Actor == "user:beto" {
			t.Fatalf("a refused read was logged as a read: %+v", d)
		}
	}
	// Search: only one's own mail.
	r := apiDecode[apiSearchResult](t, e.apiGet(t, beto, "/api/v1/search?q=contrato"))
	if r.Total != 1 || r.Hits[0].ID != e.betoID || !r.Restricted {
		t.Fatalf("beto's search: %+v", r)
	}
}

// TestAPISearch: a servidor público finds only their own mail, with the same
// access entry as the page; snippets are escaped; syntax errors and bad pages
// are 400 with a code.
func TestAPISearch(t *testing.T) {
	e := newEnv(t)
	tok := e.newToken(t, "ana", identity.ScopeSearch)
	r := e.apiGet(t, tok, "/api/v1/search?q=contrato&size=5")
	res := apiDecode[apiSearchResult](t, r)
	if r.code != 200 || res.Total != 1 || len(res.Hits) != 1 || res.Hits[0].ID != e.xssID || !res.Restricted || res.Size != 5 {
		t.Fatalf("search: %d %s", r.code, r.body)
	}
	if strings.Contains(r.body, "Secreto") || res.Hits[0].Subject != "Informe <script>alert(1)</script>" ||
		!strings.Contains(strings.Join(res.Hits[0].Snippets, " "), "&lt;script&gt;alert(5)&lt;/script&gt; <mark>contrato</mark>") {
		t.Fatalf("hits (subject as text, snippets as escaped HTML): %s", r.body)
	}
	last := e.arc.access[len(e.arc.access)-1]
	if last.Actor != "user:ana" || last.Action != "search" || last.Results != 1 || last.Query != res.Query ||
		!strings.Contains(last.Query, "participant:{ana@ejemplo.gob.mx}") || !strings.HasPrefix(last.Via, "api-token:rsg_") ||
		!strings.Contains(last.Via, "#") {
		t.Fatalf("access entry %+v (Via names the token)", last)
	}
	// The page writes the same entry for the same query, marked as the web's.
	b := e.browser(t)
	b.login("ana", goodPW)
	b.get("/buscar?q=contrato")
	if page := e.arc.access[len(e.arc.access)-1]; page.Query != last.Query || page.Results != last.Results || page.Via != "web" {
		t.Fatalf("page %+v, API %+v", page, last)
	}
	for _, tc := range []struct{ q, code string }{
		{"q=", "query_required"},
		{"q=(contrato", "query_syntax"},
		{"q=x&size=101", "bad_page"},
		{"q=x&page=0", "bad_page"},
		{"q=x&page=abc", "bad_page"},
		{"q=x&page=501", "bad_page"},
	} {
		r := e.apiGet(t, tok, "/api/v1/search?"+tc.q)
		if r.code != 400 || apiErrCode(t, r) != tc.code {
			t.Errorf("%s: %d %s", tc.q, r.code, r.body)
		}
	}
	syn := e.apiGet(t, tok, "/api/v1/search?q="+url.QueryEscape("(contrato"), "Accept-Language", "en-US")
	if !strings.Contains(syn.body, `"caret":"(contrato`) || !strings.Contains(syn.body, "expected") {
		t.Fatalf("syntax error in English with caret: %s", syn.body)
	}
}

// TestAPIJustification: an auditor's token without the header gets 403
// justification_required (search and others' mail; own mail needs none);
// with it, results, and access entries carrying it; a bad one is 400.
func TestAPIJustification(t *testing.T) {
	e := newEnv(t)
	tok := e.newToken(t, "olga", identity.ScopeSearch, identity.ScopeRead)
	for _, p := range []string{"/api/v1/search?q=contrato", "/api/v1/messages/" + e.betoID, "/api/v1/messages/" + e.betoID + "/raw"} {
		r := e.apiGet(t, tok, p)
		if r.code != 403 || apiErrCode(t, r) != "justification_required" || !strings.Contains(r.body, "justificación") {
			t.Fatalf("%s without a justification: %d %s", p, r.code, r.body)
		}
	}
	if len(e.arc.access) != 0 {
		t.Fatalf("refused accesses logged: %+v", e.arc.access)
	}
	why := "Auditoría 12/2026: contratos de obra pública"
	r := e.apiGet(t, tok, "/api/v1/search?q=contrato", JustificationHeader, why)
	if res := apiDecode[apiSearchResult](t, r); r.code != 200 || res.Total != 2 || res.Restricted {
		t.Fatalf("auditor search: %d %s", r.code, r.body)
	}
	enc := "UTF-8''" + url.PathEscape(why)
	if r := e.apiGet(t, tok, "/api/v1/messages/"+e.betoID, JustificationHeader, enc); r.code != 200 {
		t.Fatalf("auditor read (RFC 8187 header): %d %s", r.code, r.body)
	}
	if len(e.arc.access) != 2 {
		t.Fatalf("entries %+v", e.arc.access)
	}
	for _, d := range e.arc.access {
		if d.Actor != "user:olga" || d.Justification != why {
			t.Fatalf("entry without the justification: %+v", d)
		}
	}
	for _, bad := range []string{"corta", strings.Repeat("x", 2001), "UTF-8''%zz" + strings.Repeat("a", 20)} {
		r := e.apiGet(t, tok, "/api/v1/search?q=contrato", JustificationHeader, bad)
		if r.code != 400 || apiErrCode(t, r) != "justification_invalid" {
			t.Errorf("header %.20q: %d %s", bad, r.code, r.body)
		}
	}
	r = e.apiCall(t, nil, "POST", "/api/v1/justification", `{"justification":"`+why+`"}`, "Authorization", "Bearer "+tok)
	if r.code != 400 || apiErrCode(t, r) != "justification_per_request" {
		t.Fatalf("POST justification with a token: %d %s", r.code, r.body)
	}
	me := apiDecode[apiMe](t, e.apiGet(t, tok, "/api/v1/me", JustificationHeader, why))
	if me.Auth != "token" || me.Justification == nil || me.Justification.Source != "header" || !me.ReadsOthersMail || me.CSRFToken != "" {
		t.Fatalf("me: %+v", me)
	}
}
