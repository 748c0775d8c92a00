package webapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/identity"
)

var generatedRE = regexp.MustCompile(`id="contrasena-generada">([^<]+)<`)

// TestAdminUsers: the administrator creates an account (generated password,
// shown once, must be changed at the first login), edits it, resets its
// password, resets its second factor, lifts its lock and revokes its API
// token; every change is an access entry; refusals (the last administrator,
// a bad login) show the reason.
func TestAdminUsers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := e.addAdmin(t)
	form := root.get("/admin/usuarios/nuevo")
	contains(t, "the new-user form", form.body, `for="usuario-nuevo"`, `for="rol-servidor_publico"`, `for="direcciones"`, `for="nombre"`)
	tok := csrfOf(t, form.body)

	// Refused: a bad login; no role.
	for _, v := range []url.Values{{"usuario": {"Con Espacios"}, "roles": {"servidor_publico"}}, {"usuario": {"sinrol"}}} {
		v.Set("csrf", tok)
		if r := root.post("/admin/usuarios", v); r.code != http.StatusBadRequest || !strings.Contains(r.body, `id="error"`) {
			t.Fatalf("bad new user %v: %d", v, r.code)
		}
	}
	r := root.post("/admin/usuarios", url.Values{"csrf": {tok}, "usuario": {"carlos"}, "nombre": {"Carlos Pérez"},
		"direcciones": {"Carlos@Ejemplo.gob.mx\ncperez@ejemplo.gob.mx"}, "roles": {"servidor_publico"}})
	m := generatedRE.FindStringSubmatch(r.body)
	if r.code != 200 || m == nil {
		t.Fatalf("create: %d\n%s", r.code, r.body)
	}
	pw := m[1]
	carlos, err := e.ids.UserByLogin(ctx, "carlos")
	if err != nil || len(carlos.Addresses) != 2 || carlos.Addresses[0] != "carlos@ejemplo.gob.mx" || !carlos.MustChangePassword {
		t.Fatalf("created user %+v, %v", carlos, err)
	}
	if d := e.lastAccess(); d.Actor != "user:root" || d.Action != "user_create" || !strings.Contains(d.Query, "user:carlos") || strings.Contains(d.Query, pw) {
		t.Fatalf("create entry %+v", d)
	}
	if b := e.browser(t); b.login("carlos", pw).h.Get("Location") != "/cuenta/contrasena" {
		t.Fatal("the generated password must work once, and be changed")
	}
	id := fmt.Sprint(carlos.ID)
	page := root.get("/admin/usuarios")
	contains(t, "the users list", page.body, `href="/admin/usuarios/`+id+`"`, "Carlos Pérez", "carlos@ejemplo.gob.mx, cperez@ejemplo.gob.mx", "debe cambiar")

	// Edit: roles, addresses, disable.
	edit := root.get("/admin/usuarios/" + id)
	r = root.post("/admin/usuarios/"+id, url.Values{"csrf": {csrfOf(t, edit.body)}, "nombre": {"Carlos P."},
		"direcciones": {"carlos@ejemplo.gob.mx"}, "roles": {"servidor_publico", "titular_unidad"}, "desactivada": {"1"}})
	if r.code != http.StatusSeeOther || r.h.Get("Location") != "/admin/usuarios/"+id+"?hecho=saved" {
		t.Fatalf("update: %d %q\n%s", r.code, r.h.Get("Location"), r.body)
	}
	carlos, _ = e.ids.User(ctx, carlos.ID)
	if !carlos.Disabled || len(carlos.Roles) != 2 || len(carlos.Addresses) != 1 || carlos.DisplayName != "Carlos P." {
		t.Fatalf("after update: %+v", carlos)
	}
	contains(t, "the page after saving", root.get(r.h.Get("Location")).body, "Cambios guardados.", `id="desactivada" name="desactivada" value="1" checked`)
	if d := e.lastAccess(); d.Action != "user_update" || !strings.Contains(d.Query, "disabled:true") {
		t.Fatalf("update entry %+v", d)
	}
	// The last administrator may not drop the role.
	rootID := e.userID(t, "root")
	edit = root.get("/admin/usuarios/" + rootID)
	r = root.post("/admin/usuarios/"+rootID, url.Values{"csrf": {csrfOf(t, edit.body)}, "roles": {"auditor"}})
	if r.code != http.StatusBadRequest || !strings.Contains(r.body, "último administrador") {
		t.Fatalf("last admin: %d", r.code)
	}

	// Reset Ana's password: a new one, shown once; the old one no longer works.
	anaID := e.userID(t, "ana")
	edit = root.get("/admin/usuarios/" + anaID)
	r = root.post("/admin/usuarios/"+anaID+"/contrasena", url.Values{"csrf": {csrfOf(t, edit.body)}})
	m = generatedRE.FindStringSubmatch(r.body)
	if r.code != 200 || m == nil {
		t.Fatalf("reset: %d", r.code)
	}
	if b := e.browser(t); b.login("ana", goodPW).code != http.StatusUnauthorized {
		t.Fatal("the old password still works")
	}
	if b := e.browser(t); b.login("ana", m[1]).h.Get("Location") != "/cuenta/contrasena" {
		t.Fatal("the new password must work and be changed")
	}
	if d := e.lastAccess(); d.Action != "user_password_reset" || d.Query != "user:ana" {
		t.Fatalf("reset entry %+v", d)
	}

	// Lock Beto out, then lift the lock.
	for i := 0; i < 5; i++ {
		e.browser(t).login("beto", "equivocada-123456")
	}
	betoID := e.userID(t, "beto")
	edit = root.get("/admin/usuarios/" + betoID)
	contains(t, "a locked account's page", edit.body, `id="desbloquear"`)
	if r := root.post("/admin/usuarios/"+betoID+"/desbloquear", url.Values{"csrf": {csrfOf(t, edit.body)}}); r.code != http.StatusSeeOther {
		t.Fatalf("unlock: %d", r.code)
	}
	if b := e.browser(t); b.login("beto", goodPW).h.Get("Location") != "/inicio" {
		t.Fatal("beto is still locked")
	}

	// Olga's second factor: reset, then she must enrol again.
	olga := e.browser(t)
	olga.full("olga")
	olgaID := e.userID(t, "olga")
	edit = root.get("/admin/usuarios/" + olgaID)
	contains(t, "an enrolled account's page", edit.body, `id="restablecer-totp"`)
	if r := root.post("/admin/usuarios/"+olgaID+"/segundo-factor", url.Values{"csrf": {csrfOf(t, edit.body)}}); r.code != http.StatusSeeOther {
		t.Fatalf("TOTP reset: %d", r.code)
	}
	if u, _ := e.ids.User(ctx, mustID(t, olgaID)); u.TOTPEnabled {
		t.Fatal("TOTP still enabled")
	}
	if r := olga.get("/inicio"); r.code != http.StatusSeeOther {
		t.Fatalf("olga's session must end at a TOTP reset: %d", r.code)
	}
	if d := e.lastAccess(); d.Action != "user_totp_reset" || d.Query != "user:olga" {
		t.Fatalf("TOTP reset entry %+v", d)
	}
}

func mustID(t *testing.T, s string) int64 {
	var id int64
	if _, err := fmt.Sscan(s, &id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestAdminTokens: the administrator lists every account's API tokens and
// revokes one, from the list or from the account's page.
func TestAdminTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := e.addAdmin(t)
	ana, _ := e.ids.UserByLogin(ctx, "ana")
	raw1, t1, err := e.ids.CreateToken(ctx, ana.ID, "informes", []identity.Scope{identity.ScopeSearch}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	_, t2, _ := e.ids.CreateToken(ctx, ana.ID, "respaldo", []identity.Scope{identity.ScopeRead}, time.Time{})
	list := root.get("/admin/tokens")
	contains(t, "the token list", list.body, "informes", "respaldo", t1.Prefix, ">ana<", fmt.Sprintf(`id="revocar-%d"`, t1.ID))
	r := root.post(fmt.Sprintf("/admin/tokens/%d/revocar", t1.ID), url.Values{"csrf": {csrfOf(t, list.body)}, "volver": {"/admin/tokens"}})
	if r.code != http.StatusSeeOther || r.h.Get("Location") != "/admin/tokens?hecho=revoked" {
		t.Fatalf("revoke: %d %q", r.code, r.h.Get("Location"))
	}
	if _, _, err := e.ids.AuthenticateToken(ctx, raw1); !errors.Is(err, identity.ErrInvalidToken) {
		t.Fatalf("a revoked token still works: %v", err)
	}
	if d := e.lastAccess(); d.Action != "token_revoke" || !strings.Contains(d.Query, "user:ana") || !strings.Contains(d.Query, t1.Prefix) {
		t.Fatalf("revoke entry %+v", d)
	}
	contains(t, "the list after revoking", root.get("/admin/tokens?hecho=revoked").body, "Token revocado.", "revocado")
	// From the account's page, back to it; an off-site return is ignored.
	page := root.get("/admin/usuarios/" + fmt.Sprint(ana.ID))
	contains(t, "ana's page", page.body, "respaldo", `name="volver" value="/admin/usuarios/`+fmt.Sprint(ana.ID)+`"`)
	r = root.post(fmt.Sprintf("/admin/tokens/%d/revocar", t2.ID), url.Values{"csrf": {csrfOf(t, page.body)}, "volver": {"//malo.example/admin/"}})
	if r.h.Get("Location") != "/admin/tokens?hecho=revoked" {
		t.Fatalf("off-site return: %q", r.h.Get("Location"))
	}
	if r := root.post("/admin/tokens/99999/revocar", url.Values{"csrf": {csrfOf(t, page.body)}}); r.code != http.StatusNotFound {
		t.Fatalf("unknown token: %d", r.code)
	}
}

// TestAdminSystem: domains, engines, key fingerprints and the configuration check.
func TestAdminSystem(t *testing.T) {
	e := newEnv(t)
	root := e.addAdmin(t)
	r := root.get("/admin/sistema")
	if r.code != 200 {
		t.Fatalf("system page: %d", r.code)
	}
	contains(t, "the system page", r.body, "<code>ejemplo.gob.mx</code>", "ClamAV 1.4.2", "connection refused",
		strings.Repeat("ab", 32), "resguardo.test&#43;1234&#43;AAAA", "/etc/resguardo.toml:3: gateway.domains", `id="config-problemas"`,
		"Llave de firma de la bitácora", "Certificado TLS de la pasarela SMTP", "<td>01/03/2031</td>", "otra llave")
	en := root.get("/admin/sistema?lang=en").body
	contains(t, "the English system page", en, "Keys and certificates", "Configuration check", "SMTP gateway TLS certificate", "<td>2031-03-01</td>")
}
