package webapp

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/identity"
)

func TestLoginAndSessionFixation(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	r := b.get("/entrar")
	if r.code != 200 || !strings.Contains(r.body, `name="usuario"`) {
		t.Fatalf("login form: %d", r.code)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} {
		if r.h.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	if r.h.Get("Content-Security-Policy") != CSP || strings.Contains(CSP, "unsafe") {
		t.Errorf("CSP %q", r.h.Get("Content-Security-Policy"))
	}
	before := b.cookie()
	if before == "" {
		t.Fatal("no anonymous session cookie")
	}
	bad := b.post("/entrar", url.Values{"csrf": {csrfOf(t, r.body)}, "usuario": {"ana"}, "contrasena": {"equivocada-123456"}})
	if bad.code != http.StatusUnauthorized || !strings.Contains(bad.body, "Usuario o contraseña incorrectos.") {
		t.Fatalf("wrong password: %d %s", bad.code, bad.body)
	}
	planted := b.cookie()
	ok := b.post("/entrar", url.Values{"csrf": {csrfOf(t, bad.body)}, "usuario": {"ana"}, "contrasena": {goodPW}})
	if ok.code != http.StatusSeeOther || ok.h.Get("Location") != "/inicio" {
		t.Fatalf("login: %d %q", ok.code, ok.h.Get("Location"))
	}
	after := b.cookie()
	if after == "" || after == planted || after == before {
		t.Fatal("the session id did not change at login (fixation)")
	}
	// The planted (pre-login) id is worthless.
	old := e.browser(t)
	u, _ := url.Parse(e.srv.URL)
	old.jar.SetCookies(u, []*http.Cookie{{Name: identity.CookieName(false), Value: planted, Path: "/"}})
	if r := old.get("/buscar"); r.code != http.StatusSeeOther || r.h.Get("Location") != "/entrar" {
		t.Fatalf("planted session id still works: %d", r.code)
	}
	if r := b.get("/buscar"); r.code != 200 || !strings.Contains(r.body, `id="usuario">ana<`) {
		t.Fatalf("search page after login: %d", r.code)
	}
	// Logout ends the session.
	s := b.get("/buscar")
	if r := b.post("/salir", url.Values{"csrf": {csrfOf(t, s.body)}}); r.code != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.code)
	}
	old.jar.SetCookies(u, []*http.Cookie{{Name: identity.CookieName(false), Value: after, Path: "/"}})
	if r := old.get("/buscar"); r.code != http.StatusSeeOther {
		t.Fatalf("session alive after logout: %d", r.code)
	}
}

func TestLogoutEverywhere(t *testing.T) {
	e := newEnv(t)
	one, two := e.browser(t), e.browser(t)
	one.login("ana", goodPW)
	two.login("ana", goodPW)
	s := one.get("/buscar")
	if r := one.post("/salir/todos", url.Values{"csrf": {csrfOf(t, s.body)}}); r.code != http.StatusSeeOther {
		t.Fatalf("logout everywhere: %d", r.code)
	}
	if r := two.get("/buscar"); r.code != http.StatusSeeOther {
		t.Fatalf("other device still logged in: %d", r.code)
	}
}

func TestThrottle(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	for i := 0; i < 5; i++ {
		if r := b.login("beto", "equivocada-123456"); r.code != http.StatusUnauthorized && !(i == 4 && r.code == http.StatusTooManyRequests) {
			t.Fatalf("attempt %d: %d", i, r.code)
		}
	}
	r := b.login("beto", goodPW)
	if r.code != http.StatusTooManyRequests || !strings.Contains(r.body, "Demasiados intentos") {
		t.Fatalf("locked account accepted the right password: %d", r.code)
	}
}

func TestCSRFRequired(t *testing.T) {
	e := newEnv(t)
	anon := e.browser(t)
	form := anon.get("/entrar")
	for _, tok := range []string{"", "AAAA" + csrfOf(t, form.body)[4:]} {
		r := anon.post("/entrar", url.Values{"csrf": {tok}, "usuario": {"ana"}, "contrasena": {goodPW}})
		if r.code != http.StatusForbidden {
			t.Fatalf("login without a valid CSRF token: %d", r.code)
		}
	}
	b := e.browser(t)
	b.login("ana", goodPW)
	good := csrfOf(t, b.get("/buscar").body)
	for _, path := range []string{"/salir", "/salir/todos", "/justificacion", "/cuenta/contrasena", "/cuenta/segundo-factor"} {
		for _, tok := range []string{"", "x" + good} {
			if r := b.post(path, url.Values{"csrf": {tok}, "actual": {goodPW}, "nueva": {"otra-contraseña-larga"}, "confirmacion": {"otra-contraseña-larga"}}); r.code != http.StatusForbidden {
				t.Errorf("POST %s with CSRF %q: %d", path, tok, r.code)
			}
		}
	}
	if r := b.get("/buscar"); r.code != 200 {
		t.Fatalf("the session must survive refused posts: %d", r.code)
	}
}

func TestIDOR(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login("ana", goodPW)
	missing := strings.Repeat("ab", 32)
	notFound := b.get("/mensaje/" + missing)
	for _, p := range []string{"", "/cuerpo.html", "/adjunto/2", "/constancia/json", "/constancia/pdf", "/constancia/p7s"} {
		r := b.get("/mensaje/" + e.betoID + p)
		if r.code != http.StatusNotFound {
			t.Errorf("ana opened Beto's %q: %d", p, r.code)
		}
		if p == "" && r.body != notFound.body {
			t.Error("another's message must look exactly like a missing one")
		}
		if strings.Contains(r.body, "Secreto") {
			t.Errorf("%q reveals Beto's subject", p)
		}
	}
	if r := b.get("/mensaje/" + e.betoID[:16]); r.code != http.StatusNotFound {
		t.Errorf("id prefix: %d", r.code)
	}
	// Searches see only Ana's mail.
	r := b.get("/buscar?q=contrato")
	if !strings.Contains(r.body, `id="total">1<`) || strings.Contains(r.body, "Secreto") || !strings.Contains(r.body, e.xssID) {
		t.Fatalf("ana's search must find only her message:\n%s", r.body)
	}
	last := e.arc.access[len(e.arc.access)-1]
	if last.Actor != "user:ana" || last.Action != "search" || last.Results != 1 || !strings.Contains(last.Query, "participant:{ana@ejemplo.gob.mx}") {
		t.Fatalf("search access entry: %+v", last)
	}
	// Her own message opens, and the view is an access entry.
	if r := b.get("/mensaje/" + e.xssID); r.code != 200 {
		t.Fatalf("own message: %d", r.code)
	}
	last = e.arc.access[len(e.arc.access)-1]
	if last.Action != "read" || len(last.Records) != 1 || last.Records[0] != e.xssID {
		t.Fatalf("read access entry: %+v", last)
	}
}
