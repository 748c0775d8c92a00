package webapp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/identity"
)

// TestAPISessionCSRF: the browser session authenticates same-origin API
// calls; GETs need nothing more, every POST and DELETE needs the session's
// CSRF token in X-CSRF-Token (403 csrf otherwise, and nothing changes).
func TestAPISessionCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	if r := e.apiCall(t, b, "GET", "/api/v1/me", ""); r.code != 401 || apiErrCode(t, r) != "unauthorized" {
		t.Fatalf("before login: %d %s", r.code, r.body)
	}
	b.login("ana", goodPW)
	r := e.apiCall(t, b, "GET", "/api/v1/me", "")
	me := apiDecode[apiMe](t, r)
	if r.code != 200 || me.Login != "ana" || me.Auth != "session" || me.CSRFToken == "" || strings.Join(me.Scopes, ",") != "search,read,export" {
		t.Fatalf("me: %d %s", r.code, r.body)
	}
	if !strings.Contains(r.h.Get("Content-Security-Policy"), "connect-src 'self'") {
		t.Fatalf("the pages' scripts may not fetch the API: %q", r.h.Get("Content-Security-Policy"))
	}
	if r := e.apiCall(t, b, "GET", "/api/v1/search?q=contrato", ""); r.code != 200 {
		t.Fatalf("search with the session: %d %s", r.code, r.body)
	}
	create := `{"name":"script nocturno","scopes":["search"]}`
	for _, tok := range []string{"", "x" + me.CSRFToken, me.CSRFToken[1:]} {
		var hdr []string
		if tok != "" {
			hdr = []string{CSRFHeader, tok}
		}
		if r := e.apiCall(t, b, "POST", "/api/v1/tokens", create, hdr...); r.code != 403 || apiErrCode(t, r) != "csrf" {
			t.Fatalf("POST /api/v1/tokens with CSRF %q: %d %s", tok, r.code, r.body)
		}
		if r := e.apiCall(t, b, "POST", "/api/v1/justification", `{"justification":"una justificación larga"}`, hdr...); r.code != 403 || apiErrCode(t, r) != "csrf" {
			t.Fatalf("POST /api/v1/justification with CSRF %q: %d", tok, r.code)
		}
	}
	if list := apiDecode[apiTokenList](t, e.apiCall(t, b, "GET", "/api/v1/tokens", "")); len(list.Tokens) != 0 {
		t.Fatalf("a refused POST created a token: %+v", list)
	}
	r = e.apiCall(t, b, "POST", "/api/v1/tokens", create, CSRFHeader, me.CSRFToken)
	made := apiDecode[apiCreatedToken](t, r)
	if r.code != 201 || !strings.HasPrefix(made.Value, "rsg_") || made.Token.Prefix != made.Value[:12] || r.h.Get("Location") == "" {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	if r := e.apiGet(t, made.Value, "/api/v1/search?q=contrato"); r.code != 200 {
		t.Fatalf("new token: %d", r.code)
	}
	del := "/api/v1/tokens/" + strconv.FormatInt(made.Token.ID, 10)
	if r := e.apiCall(t, b, "DELETE", del, ""); r.code != 403 || apiErrCode(t, r) != "csrf" {
		t.Fatalf("DELETE without CSRF: %d", r.code)
	}
	if r := e.apiCall(t, b, "DELETE", del, "", CSRFHeader, me.CSRFToken); r.code != 204 {
		t.Fatalf("DELETE: %d %s", r.code, r.body)
	}
	if r := e.apiGet(t, made.Value, "/api/v1/search?q=contrato"); r.code != 401 {
		t.Fatalf("revoked token: %d", r.code)
	}
	// A servidor público has no justification to set (403), but the CSRF check passed.
	if r := e.apiCall(t, b, "POST", "/api/v1/justification", `{"justification":"una justificación larga"}`, CSRFHeader, me.CSRFToken); r.code != 403 || apiErrCode(t, r) != "forbidden" {
		t.Fatalf("servidor público's justification: %d %s", r.code, r.body)
	}
	// A JSON body is required.
	if r := e.apiCall(t, b, "POST", "/api/v1/tokens", "", CSRFHeader, me.CSRFToken, "Content-Type", "text/plain"); r.code != 415 {
		t.Fatalf("not JSON: %d", r.code)
	}
	if r := e.apiCall(t, b, "POST", "/api/v1/tokens", `{"name":"x","scopes":["search"],"extra":1}`, CSRFHeader, me.CSRFToken); r.code != 400 || apiErrCode(t, r) != "bad_request" {
		t.Fatalf("unknown field: %d", r.code)
	}
}

// TestAPITokenManagement: tokens are managed with a session or a token of
// scope admin; only the account's own; scopes it may hold.
func TestAPITokenManagement(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, err := e.ids.CreateUser(ctx, identity.NewUser{Login: "root", DisplayName: "Raíz", Password: goodPW,
		Roles: []identity.Role{identity.RoleAdministrador}}); err != nil {
		t.Fatal(err)
	}
	ana := e.newToken(t, "ana", identity.ScopeSearch, identity.ScopeRead, identity.ScopeExport)
	admin := e.newToken(t, "root", identity.ScopeAdmin)
	if r := e.apiGet(t, ana, "/api/v1/tokens"); r.code != 403 || apiErrCode(t, r) != "session_or_admin_token" {
		t.Fatalf("non-admin token lists tokens: %d %s", r.code, r.body)
	}
	post := func(tok, body string) resp {
		return e.apiCall(t, nil, "POST", "/api/v1/tokens", body, "Authorization", "Bearer "+tok)
	}
	if r := post(ana, `{"name":"más","scopes":["read"]}`); r.code != 403 {
		t.Fatalf("a read token minted a token: %d", r.code)
	}
	for body, code := range map[string]string{
		`{"name":"x","scopes":["borrar"]}`:                                     "invalid_scope",
		`{"name":"x","scopes":["search","search"]}`:                            "invalid_scope",
		`{"name":"x","scopes":[]}`:                                             "invalid_scope",
		`{"name":"x","scopes":["export"]}`:                                     "invalid_scope", // an administrator does not export
		`{"name":"","scopes":["search"]}`:                                      "invalid_name",
		`{"name":"x","scopes":["search"],"expires_at":"2001-01-01T00:00:00Z"}`: "invalid_expiry",
		`{"name":"x","scopes":"search"}`:                                       "bad_request",
	} {
		if r := post(admin, body); r.code != 400 || apiErrCode(t, r) != code {
			t.Errorf("%s: %d %s, want %s", body, r.code, r.body, code)
		}
	}
	r := post(admin, `{"name":"respaldo","scopes":["search","admin"],"expires_at":"2099-01-01T00:00:00Z"}`)
	made := apiDecode[apiCreatedToken](t, r)
	if r.code != 201 || made.Token.ExpiresAt == nil || strings.Join(made.Token.Scopes, ",") != "search,admin" {
		t.Fatalf("admin create: %d %s", r.code, r.body)
	}
	list := apiDecode[apiTokenList](t, e.apiGet(t, admin, "/api/v1/tokens"))
	if len(list.Tokens) != 2 || list.Tokens[0].ID != made.Token.ID || strings.Contains(e.apiGet(t, admin, "/api/v1/tokens").body, made.Value) {
		t.Fatalf("list: %+v", list)
	}
	// Another account's token is 404, as a missing one.
	anaU, _ := e.ids.UserByLogin(ctx, "ana")
	ts, _ := e.ids.Tokens(ctx, anaU.ID)
	for _, id := range []string{strconv.FormatInt(ts[0].ID, 10), "99999", "abc"} {
		r := e.apiCall(t, nil, "DELETE", "/api/v1/tokens/"+id, "", "Authorization", "Bearer "+admin)
		if r.code != 404 || apiErrCode(t, r) != "not_found" {
			t.Fatalf("DELETE %s: %d %s", id, r.code, r.body)
		}
	}
	if r := e.apiGet(t, ana, "/api/v1/me"); r.code != 200 {
		t.Fatalf("ana's token was revoked by someone else: %d", r.code)
	}
}

// TestAPIThrottle: invalid tokens from one client network are throttled
// (429 with Retry-After, even for a good token then); the login page of the
// same network is not locked by them.
func TestAPIThrottle(t *testing.T) {
	e := newEnv(t)
	good := e.newToken(t, "ana", identity.ScopeSearch)
	bad := "Bearer rsg_" + strings.Repeat("Z", 43)
	var r resp
	for i := 0; i < 20; i++ {
		r = e.apiCall(t, nil, "GET", "/api/v1/me", "", "Authorization", bad)
		if i < 19 && r.code != 401 {
			t.Fatalf("attempt %d: %d", i, r.code)
		}
	}
	if r.code != 429 || apiErrCode(t, r) != "throttled" || r.h.Get("Retry-After") == "" || !strings.Contains(r.body, `"retry_after":`) {
		t.Fatalf("20th bad token: %d %v %s", r.code, r.h, r.body)
	}
	if r := e.apiGet(t, good, "/api/v1/me", "Accept-Language", "en"); r.code != 429 || !strings.Contains(r.body, "Too many failed attempts") {
		t.Fatalf("good token from a locked network: %d %s", r.code, r.body)
	}
	if r := e.browser(t).login("ana", goodPW); r.code != http.StatusSeeOther {
		t.Fatalf("login page locked by bad tokens: %d", r.code)
	}
}

// TestAPIErrorsDoNotLeak: internal failures are "internal" with a generic
// message; the cause stays in the log.
func TestAPIErrorsDoNotLeak(t *testing.T) {
	e := newEnv(t)
	tok := e.newToken(t, "ana", identity.ScopeSearch, identity.ScopeRead)
	secret := "open /srv/resguardo/catalog.db: input/output error"
	app := e.theApp()
	app.opt.LogAccess = func(context.Context, archive.AccessDetail) error { return errors.New(secret) }
	for _, p := range []string{"/api/v1/search?q=contrato", "/api/v1/messages/" + e.xssID, "/api/v1/messages/" + e.xssID + "/raw"} {
		r := e.apiGet(t, tok, p)
		if r.code != 500 || apiErrCode(t, r) != "internal" || strings.Contains(r.body, "catalog") || strings.Contains(r.body, "contrato de obra") {
			t.Fatalf("%s: %d %s", p, r.code, r.body)
		}
	}
	app.opt.LogAccess = func(context.Context, archive.AccessDetail) error { return nil }
	app.opt.Bytes = func(context.Context, *catalog.Record) ([]byte, error) { return nil, errors.New(secret) }
	if r := e.apiGet(t, tok, "/api/v1/messages/"+e.xssID+"/raw"); r.code != 500 || strings.Contains(r.body, "srv") {
		t.Fatalf("bytes: %d %s", r.code, r.body)
	}
	app.opt.Constancia = func(context.Context, *catalog.Record) (*Constancia, error) { return nil, archive.ErrPending }
	if r := e.apiGet(t, tok, "/api/v1/messages/"+e.xssID+"/constancia.pdf"); r.code != 409 || apiErrCode(t, r) != "constancia_pending" {
		t.Fatalf("pending constancia: %d %s", r.code, r.body)
	}
	// Unknown paths and methods are JSON too.
	if r := e.apiGet(t, tok, "/api/v1/nada"); r.code != 404 || apiErrCode(t, r) != "not_found" {
		t.Fatalf("unknown path: %d %s", r.code, r.body)
	}
	r := e.apiCall(t, nil, "DELETE", "/api/v1/search", "", "Authorization", "Bearer "+tok)
	if r.code != 405 || r.h.Get("Allow") != "GET" || apiErrCode(t, r) != "method_not_allowed" {
		t.Fatalf("wrong method: %d %v %s", r.code, r.h, r.body)
	}
}

// TestAPIMessage: what the API shows of a message, and the downloads.
func TestAPIMessage(t *testing.T) {
	e := newEnv(t)
	tok := e.newToken(t, "ana", identity.ScopeRead)
	base := "/api/v1/messages/" + e.xssID
	r := e.apiGet(t, tok, base)
	m := apiDecode[apiMessage](t, r)
	if r.code != 200 || m.ID != e.xssID || m.Subject != "Informe <script>alert(1)</script>" || len(m.From) != 1 || m.To[0].Address != "carlos@ejemplo.gob.mx" ||
		!m.HasText || !m.HasHTML || len(m.Attachments) != 1 || m.Attachments[0].Path != "2" || m.Attachments[0].Href != base+"/attachments/2" ||
		len(m.Arrivals) != 1 || m.Arrivals[0].SPF != "pass (ejemplo.gob.mx)" || m.Links.ConstanciaPDF != base+"/constancia.pdf" || m.Links.Raw != base+"/raw" {
		t.Fatalf("message: %d %s", r.code, r.body)
	}
	if strings.Contains(r.body, "contrato de obra") || strings.Contains(r.body, `"bcc":null`) {
		t.Fatalf("the metadata carries no body, and lists are never null: %s", r.body)
	}
	raw := e.apiGet(t, tok, base+"/raw")
	if raw.code != 200 || raw.body != msgXSS || raw.h.Get("Content-Type") != "message/rfc822" || !strings.HasPrefix(raw.h.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("raw: %d %v", raw.code, raw.h)
	}
	att := e.apiGet(t, tok, base+"/attachments/2")
	if att.code != 200 || att.h.Get("Content-Type") != "application/octet-stream" || !strings.Contains(att.body, "alert(8)") {
		t.Fatalf("attachment: %d %v", att.code, att.h)
	}
	if r := e.apiGet(t, tok, base+"/attachments/1"); r.code != 404 {
		t.Fatalf("a body part is not an attachment: %d", r.code)
	}
	c := e.apiGet(t, tok, base+"/constancia.json")
	if c.code != 200 || c.h.Get("Content-Type") != "application/json" || !strings.Contains(c.body, e.xssID) {
		t.Fatalf("constancia: %d %s", c.code, c.body)
	}
	var got []string
	for _, d := range e.arc.access {
		got = append(got, d.Action+" "+d.Query)
	}
	if strings.Join(got, "|") != "read message|download raw message|download attachment 2|download constancia json" {
		t.Fatalf("access entries %q", got)
	}
	// A role that does not certify gets 403 for a constancia of its own mail.
	ctx := context.Background()
	if _, _, err := e.ids.CreateUser(ctx, identity.NewUser{Login: "tita", Password: goodPW, Addresses: []string{"carlos@ejemplo.gob.mx"},
		Roles: []identity.Role{identity.RoleTitularUnidad}}); err != nil {
		t.Fatal(err)
	}
	tita := e.newToken(t, "tita", identity.ScopeRead)
	if r := e.apiGet(t, tita, base+"/constancia.p7s"); r.code != 403 || apiErrCode(t, r) != "forbidden" {
		t.Fatalf("titular's constancia: %d %s", r.code, r.body)
	}
	if m := apiDecode[apiMessage](t, e.apiGet(t, tita, base)); m.Links.ConstanciaJSON != "" {
		t.Fatal("constancia links for a role that does not certify")
	}
}
