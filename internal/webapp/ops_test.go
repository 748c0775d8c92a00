package webapp

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/identity"
)

// The fixture archive of the dashboard and access-log tests lives in the
// env's catalog: Ana's and Beto's messages (as in the fake archive), with the
// reception envelope of Ana's, archived on 2 March 2026, and every access entry
// the application writes (catalogAccess, as archive.LogAccess does).

var fixtureArchived = time.Date(2026, 3, 2, 16, 0, 0, 0, time.UTC)

func commitRecord(t *testing.T, cat *catalog.SQLite, id string, meta []byte, at time.Time, rcpt []catalog.Reception) {
	t.Helper()
	r := catalog.NewRecord{Record: catalog.Record{SHA256: id, Size: 1, BlobRef: "x", ArchivedAt: at, Channel: "mx",
		Meta: meta, MetaSHA256: id}, EntryType: "record", Entry: []byte(`{"v":1,"type":"record"}`)}
	if _, _, err := cat.Commit(context.Background(), []catalog.NewRecord{r}, rcpt); err != nil {
		t.Fatal(err)
	}
}

// catalogue commits the fake archive's records into the catalog.
func (e *env) catalogue(t *testing.T) {
	envelope, _ := json.Marshal(map[string]any{"format": "resguardo-envelope/1", "mail_from": "ana@ejemplo.gob.mx", "rcpt_to": []string{"carlos@ejemplo.gob.mx"}})
	commitRecord(t, e.cat, e.xssID, e.arc.recs[e.xssID].Meta, fixtureArchived,
		[]catalog.Reception{{SHA256: e.xssID, Channel: "mx", Source: "203.0.113.5", At: fixtureArchived, Envelope: string(envelope)}})
	commitRecord(t, e.cat, e.betoID, e.arc.recs[e.betoID].Meta, fixtureArchived, nil)
}

// catalogAccess writes an access entry as archive.LogAccess does (without the Merkle log).
func catalogAccess(cat *catalog.SQLite, d archive.AccessDetail) error {
	now := time.Now().UTC()
	d.V, d.Time = 1, now.Format(time.RFC3339Nano)
	doc, err := json.Marshal(d)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(doc)
	_, err = cat.LogAccess(context.Background(), catalog.AccessRecord{At: now, Actor: d.Actor, Action: d.Action, Detail: doc,
		DetailSHA256: hex.EncodeToString(sum[:]), Entry: []byte(`{"v":1,"type":"access"}`)})
	return err
}

func (e *env) ops() Operations {
	return Operations{
		Archived: e.cat.CountArchived,
		Status: func(ctx context.Context) (*SystemStatus, error) {
			n, err := e.cat.CountQuarantined(ctx)
			if err != nil {
				return nil, err
			}
			return &SystemStatus{Quarantined: n, Outbound: map[string]int64{"queued": 3, "failed": 1}, IndexLag: 2,
				IndexOldest: fixtureArchived, LedgerSize: 10, CheckpointAt: fixtureArchived, StampedSize: 8,
				StampedAt: fixtureArchived, StampAuthority: "CN=TSA de prueba"}, nil
		},
		Engines: func(context.Context) ([]Engine, error) {
			return []Engine{{Name: "clamav", Type: "clamd", Address: "127.0.0.1:3310", Up: true, Version: "ClamAV 1.4.2", LatencyMS: 1.25},
				{Name: "icap", Type: "icap", Address: "127.0.0.1:1344", Error: "connection refused"}}, nil
		},
		AccessLog:     e.cat.AccessEntries,
		AccessActions: e.cat.AccessActions,
		Keys: func(context.Context) ([]Key, error) {
			return []Key{{Role: "ledger", Public: "resguardo.test+1234+AAAA"},
				{Role: "dkim", ID: "s1._domainkey.ejemplo.gob.mx", Fingerprint: strings.Repeat("ab", 32)},
				{Role: "gateway_tls", Subject: "CN=mx.ejemplo.gob.mx", NotAfter: time.Date(2031, 3, 1, 23, 0, 0, 0, time.UTC)},
				{Role: "otra llave"}}, nil
		},
		ConfigCheck: func(context.Context) (*ConfigCheck, error) {
			return &ConfigCheck{File: "/etc/resguardo.toml", Problems: []string{"/etc/resguardo.toml:3: gateway.domains: \"x\" is not a domain name"}}, nil
		},
		Domains: []string{"ejemplo.gob.mx"},
		Now:     e.dash.now,
	}
}

// full logs a user in to a full session, enrolling the second factor first
// when the role requires it.
func (b *browser) full(login string) {
	b.t.Helper()
	r := b.login(login, goodPW)
	if r.h.Get("Location") == "/cuenta/segundo-factor" {
		page := b.get("/cuenta/segundo-factor")
		m := regexp.MustCompile(`id="secreto">([A-Z2-7]+)<`).FindStringSubmatch(page.body)
		if m == nil {
			b.t.Fatalf("no TOTP secret for %s", login)
		}
		key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(m[1])
		r = b.post("/cuenta/segundo-factor", url.Values{"csrf": {csrfOf(b.t, page.body)}, "codigo": {identity.TOTPCode(key, b.e.clk.now())}})
		if r.code != 200 {
			b.t.Fatalf("enrolment of %s: %d", login, r.code)
		}
	} else if r.h.Get("Location") != "/inicio" {
		b.t.Fatalf("login %s: %d %q", login, r.code, r.h.Get("Location"))
	}
}

func (e *env) addAdmin(t *testing.T) *browser {
	t.Helper()
	if _, _, err := e.ids.CreateUser(context.Background(), identity.NewUser{Login: "root", DisplayName: "Administración",
		Roles: []identity.Role{identity.RoleAdministrador}, Password: goodPW}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.full("root")
	return b
}

func (e *env) userID(t *testing.T, login string) string {
	u, err := e.ids.UserByLogin(context.Background(), login)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(u.ID)
}

func (e *env) lastAccess() archive.AccessDetail {
	e.arc.mu.Lock()
	defer e.arc.mu.Unlock()
	return e.arc.access[len(e.arc.access)-1]
}

func contains(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func lacks(t *testing.T, what, body string, bad ...string) {
	t.Helper()
	for _, w := range bad {
		if strings.Contains(body, w) {
			t.Errorf("%s must not contain %q", what, w)
		}
	}
}

// TestPermissions: pages a role may not use answer 403, and the header links
// only to the pages the user may use.
func TestPermissions(t *testing.T) {
	e := newEnv(t)
	root := e.addAdmin(t)
	ana, olga := e.browser(t), e.browser(t)
	ana.full("ana")
	olga.full("olga")
	anaID := e.userID(t, "ana")
	for _, tc := range []struct {
		b     *browser
		path  string
		code  int
		label string
	}{
		{ana, "/inicio", 200, "ana"}, {ana, "/cuenta/accesos", 200, "ana"},
		{ana, "/auditoria/accesos", 403, "ana"}, {ana, "/admin/usuarios", 403, "ana"}, {ana, "/admin/usuarios/nuevo", 403, "ana"},
		{ana, "/admin/usuarios/" + anaID, 403, "ana"}, {ana, "/admin/tokens", 403, "ana"}, {ana, "/admin/sistema", 403, "ana"},
		{olga, "/auditoria/accesos", 200, "olga"}, {olga, "/admin/usuarios", 403, "olga"}, {olga, "/admin/sistema", 403, "olga"},
		{root, "/auditoria/accesos", 200, "root"}, {root, "/admin/usuarios", 200, "root"}, {root, "/admin/sistema", 200, "root"},
		{root, "/admin/usuarios/99999", 404, "root"}, {root, "/admin/usuarios/x", 404, "root"},
	} {
		if r := tc.b.get(tc.path); r.code != tc.code {
			t.Errorf("%s GET %s: %d, want %d", tc.label, tc.path, r.code, tc.code)
		}
	}
	// A POST with a valid CSRF token is still refused without the permission.
	tok := csrfOf(t, ana.get("/inicio").body)
	for _, path := range []string{"/admin/usuarios", "/admin/usuarios/" + anaID, "/admin/usuarios/" + anaID + "/contrasena",
		"/admin/usuarios/" + anaID + "/segundo-factor", "/admin/usuarios/" + anaID + "/desbloquear", "/admin/tokens/1/revocar"} {
		if r := ana.post(path, url.Values{"csrf": {tok}, "usuario": {"intruso"}, "roles": {"administrador"}}); r.code != http.StatusForbidden {
			t.Errorf("ana POST %s: %d", path, r.code)
		}
	}
	if _, err := e.ids.UserByLogin(context.Background(), "intruso"); err == nil {
		t.Fatal("a servidor público created an account")
	}
	// Navigation: only the links the user may use.
	page := ana.get("/inicio").body
	contains(t, "ana's header", page, `href="/inicio"`, `href="/buscar"`, `href="/cuenta/accesos"`)
	lacks(t, "ana's header", page, `href="/auditoria/accesos"`, `href="/admin/usuarios"`, `href="/admin/sistema"`)
	page = olga.get("/inicio").body
	contains(t, "olga's header", page, `href="/auditoria/accesos"`)
	lacks(t, "olga's header", page, `href="/admin/usuarios"`)
	page = root.get("/inicio").body
	contains(t, "root's header", page, `href="/auditoria/accesos"`, `href="/admin/usuarios"`, `href="/admin/sistema"`)
	// A refused page keeps the logged-in header and sends the person home,
	// not to the login page.
	denied := ana.get("/admin/usuarios")
	contains(t, "ana's 403 page", denied.body, `href="/inicio"`, `action="/salir"`, "Volver al inicio")
	lacks(t, "ana's 403 page", denied.body, "Ir a la página de inicio de sesión")
}

// TestCSRFOnOpsForms: every POST of the administration pages needs the
// session's CSRF token, and changes nothing without it.
func TestCSRFOnOpsForms(t *testing.T) {
	e := newEnv(t)
	root := e.addAdmin(t)
	ctx := context.Background()
	ana, _ := e.ids.UserByLogin(ctx, "ana")
	_, tk, err := e.ids.CreateToken(ctx, ana.ID, "script", []identity.Scope{identity.ScopeSearch}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	good := csrfOf(t, root.get("/admin/usuarios").body)
	id := fmt.Sprint(ana.ID)
	for _, path := range []string{"/admin/usuarios", "/admin/usuarios/" + id, "/admin/usuarios/" + id + "/contrasena",
		"/admin/usuarios/" + id + "/segundo-factor", "/admin/usuarios/" + id + "/desbloquear", fmt.Sprintf("/admin/tokens/%d/revocar", tk.ID)} {
		for _, bad := range []string{"", "x" + good} {
			r := root.post(path, url.Values{"csrf": {bad}, "usuario": {"nuevo"}, "roles": {"servidor_publico"}, "desactivada": {"1"}})
			if r.code != http.StatusForbidden {
				t.Errorf("POST %s with CSRF %q: %d", path, bad, r.code)
			}
		}
	}
	if _, err := e.ids.UserByLogin(ctx, "nuevo"); err == nil {
		t.Error("an account was created without a CSRF token")
	}
	if u, _ := e.ids.User(ctx, ana.ID); u.Disabled {
		t.Error("ana was disabled without a CSRF token")
	}
	if ts, _ := e.ids.Tokens(ctx, ana.ID); !ts[0].RevokedAt.IsZero() {
		t.Error("the token was revoked without a CSRF token")
	}
	if b := e.browser(t); b.login("ana", goodPW).h.Get("Location") != "/inicio" {
		t.Error("ana's password changed without a CSRF token")
	}
}

// TestOpsCatalog: every text key of the pages exists, in both languages, in
// exactly one catalog; the keys built at run time too.
func TestOpsCatalog(t *testing.T) {
	seen := map[string]int{}
	for _, cat := range []map[string][2]string{messages, opsMessages, adminMessages} {
		for k, v := range cat {
			seen[k]++
			if v[0] == "" || v[1] == "" {
				t.Errorf("%q lacks a language", k)
			}
		}
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%q is in %d catalogs", k, n)
		}
	}
	keyRE := regexp.MustCompile(`\.T "([^"]+)"`)
	ents, _ := templateFS.ReadDir("templates")
	for _, ent := range ents {
		b, _ := templateFS.ReadFile("templates/" + ent.Name())
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			if _, ok := lookupText(m[1]); !ok {
				t.Errorf("%s: no text for %q", ent.Name(), m[1])
			}
		}
	}
	var dynamic []string
	for _, s := range outboundStates {
		dynamic = append(dynamic, "dash.queue."+s)
	}
	for _, a := range []string{"search", "read", "download", "export", "access_log", "user_create", "user_update",
		"user_password_reset", "user_totp_reset", "user_unlock", "token_revoke"} {
		dynamic = append(dynamic, "action."+a)
	}
	for _, k := range append(dynamic, "done.saved", "done.totp", "done.unlocked", "done.revoked", "key.dkim", "key.gateway_tls") {
		if _, ok := lookupText(k); !ok {
			t.Errorf("no text for %q", k)
		}
	}
}
