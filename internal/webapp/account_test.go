package webapp

import (
	"context"
	"encoding/base32"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/identity"
)

// TestAuditorEnrolmentAndJustification: an auditor's first login leads to TOTP
// enrolment (mandatory for the role), then recovery codes; the first search
// asks for a justification, which every access entry then carries; the next
// login asks for the TOTP code.
func TestAuditorEnrolmentAndJustification(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	r := b.login("olga", goodPW)
	if r.h.Get("Location") != "/cuenta/segundo-factor" {
		t.Fatalf("auditor without TOTP: redirected to %q", r.h.Get("Location"))
	}
	if r := b.get("/buscar"); r.code != http.StatusSeeOther || r.h.Get("Location") != "/cuenta/segundo-factor" {
		t.Fatalf("search before enrolment: %d %q", r.code, r.h.Get("Location"))
	}
	page := b.get("/cuenta/segundo-factor")
	secret := regexp.MustCompile(`id="secreto">([A-Z2-7]+)<`).FindStringSubmatch(page.body)
	if secret == nil {
		t.Fatalf("no secret:\n%s", page.body)
	}
	if qr := b.get("/cuenta/segundo-factor/qr.png"); qr.code != 200 || !strings.HasPrefix(qr.body, "\x89PNG") {
		t.Fatalf("QR: %d", qr.code)
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret[1])
	if err != nil {
		t.Fatal(err)
	}
	rec := b.post("/cuenta/segundo-factor", url.Values{"csrf": {csrfOf(t, page.body)}, "codigo": {identity.TOTPCode(key, e.clk.now())}})
	if rec.code != 200 || strings.Count(rec.body, "<li><code>") != identity.RecoveryCodes {
		t.Fatalf("recovery codes: %d\n%s", rec.code, rec.body)
	}
	j := b.get("/buscar?q=contrato")
	if !strings.Contains(j.body, `name="justificacion"`) {
		t.Fatalf("no justification form:\n%s", j.body)
	}
	if r := b.post("/justificacion", url.Values{"csrf": {csrfOf(t, j.body)}, "justificacion": {"corta"}, "volver": {"/buscar?q=contrato"}}); r.code != http.StatusBadRequest {
		t.Fatalf("short justification: %d", r.code)
	}
	why := "Auditoría 12/2026 sobre contratos de obra"
	r = b.post("/justificacion", url.Values{"csrf": {csrfOf(t, j.body)}, "justificacion": {why}, "volver": {"//malo.example/"}})
	if r.code != http.StatusSeeOther || r.h.Get("Location") != "/buscar" {
		t.Fatalf("justification: %d %q (must not redirect off-site)", r.code, r.h.Get("Location"))
	}
	res := b.get("/buscar?q=contrato")
	if !strings.Contains(res.body, `id="total">2<`) {
		t.Fatalf("the auditor reads everyone's mail:\n%s", res.body)
	}
	if r := b.get("/mensaje/" + e.betoID); r.code != 200 {
		t.Fatalf("auditor view: %d", r.code)
	}
	for _, d := range e.arc.access {
		if d.Actor == "user:olga" && d.Justification != why {
			t.Fatalf("access without the justification: %+v", d)
		}
	}
	// Log out; the next login asks for a code (a later one: codes are single-use).
	b.post("/salir", url.Values{"csrf": {csrfOf(t, res.body)}})
	e.clk.add(time.Minute)
	if r := b.login("olga", goodPW); r.h.Get("Location") != "/entrar/codigo" {
		t.Fatalf("second login: %q", r.h.Get("Location"))
	}
	cp := b.get("/entrar/codigo")
	if r := b.post("/entrar/codigo", url.Values{"csrf": {csrfOf(t, cp.body)}, "codigo": {"000000"}}); r.code != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", r.code)
	}
	r = b.post("/entrar/codigo", url.Values{"csrf": {csrfOf(t, cp.body)}, "codigo": {identity.TOTPCode(key, e.clk.now())}})
	if r.code != http.StatusSeeOther || r.h.Get("Location") != "/inicio" {
		t.Fatalf("code: %d %q", r.code, r.h.Get("Location"))
	}
}

func TestForcedPasswordChange(t *testing.T) {
	e := newEnv(t)
	_, pw, _ := must3(e.ids.CreateUser(context.Background(), identity.NewUser{Login: "nuevo", Roles: []identity.Role{identity.RoleServidorPublico}}))
	b := e.browser(t)
	if r := b.login("nuevo", pw); r.h.Get("Location") != "/cuenta/contrasena" {
		t.Fatalf("first login: %q", r.h.Get("Location"))
	}
	form := b.get("/cuenta/contrasena")
	if !strings.Contains(form.body, "Debe cambiar su contraseña") {
		t.Fatal("no notice")
	}
	newPW := "Otra-contraseña-segura-1"
	r := b.post("/cuenta/contrasena", url.Values{"csrf": {csrfOf(t, form.body)}, "actual": {pw}, "nueva": {newPW}, "confirmacion": {newPW}})
	if r.code != http.StatusSeeOther || r.h.Get("Location") != "/inicio" {
		t.Fatalf("change: %d %q\n%s", r.code, r.h.Get("Location"), r.body)
	}
	if r := b.get("/buscar?q=x"); r.code != 200 || !strings.Contains(r.body, "no tiene direcciones") {
		t.Fatalf("search: %d", r.code)
	}
}
