package webapp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/identity/oidctest"
	"github.com/resguardo/resguardo/internal/search"
)

// TestOIDCPages: /entrar offers the provider; /entrar/oidc → the provider →
// /entrar/oidc/callback logs in (a page of this origin leads on, so the
// Strict session cookie is sent); a tampered state ends on the login page
// with the message.
func TestOIDCPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	idp, err := oidctest.Start("resguardo", "secreto", srv.URL+"/entrar/oidc/callback", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	idp.SetClaims(map[string]any{"sub": "1", "preferred_username": "lucia", "name": "Lucía", "groups": []any{"personal"}})
	o, err := identity.NewOIDC(identity.OIDCConfig{Name: "Llave Institucional", Issuer: idp.URL, ClientID: "resguardo", ClientSecret: "secreto",
		RedirectURL: srv.URL + "/entrar/oidc/callback", AutoCreate: true,
		RoleGroups: map[identity.Role][]string{identity.RoleServidorPublico: {"personal"}}})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.OpenSQLite(ctx, filepath.Join(t.TempDir(), "catalog.db"), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	ids, err := identity.New(cat, identity.Options{SecretKey: bytes.Repeat([]byte{7}, 32), OIDC: o})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := search.OpenBleve(filepath.Join(t.TempDir(), "index"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	app, err := New(Options{Identity: ids, Index: idx,
		Lookup:    func(context.Context, string) (*catalog.Record, error) { return nil, catalog.ErrNotFound },
		Bytes:     func(context.Context, *catalog.Record) ([]byte, error) { return nil, nil },
		LogAccess: func(context.Context, archive.AccessDetail) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = app

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if _, body := get(srv.URL + "/entrar"); !strings.Contains(body, `href="/entrar/oidc"`) || !strings.Contains(body, "Entrar con Llave Institucional") {
		t.Fatalf("login page without the provider:\n%s", body)
	}
	// The whole flow, as a browser follows it.
	login := func() (*http.Response, string) {
		resp, _ := get(srv.URL + "/entrar/oidc")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), idp.URL+"/authorize?") {
			t.Fatalf("start: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, _ = get(resp.Header.Get("Location"))
		return resp, resp.Header.Get("Location")
	}
	resp, back := login()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(back, srv.URL+"/entrar/oidc/callback?") {
		t.Fatalf("provider: %d %s", resp.StatusCode, back)
	}
	resp, body := get(back)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `content="0;url=/inicio"`) {
		t.Fatalf("callback: %d\n%s", resp.StatusCode, body)
	}
	var sid string
	for _, ck := range jar.Cookies(mustURL(srv.URL)) {
		if ck.Name == identity.CookieName(false) {
			sid = ck.Value
		}
	}
	if s, u, err := ids.Session(ctx, sid); err != nil || !s.LoggedIn() || u.Login != "lucia" || s.Method != identity.MethodOIDC {
		t.Fatalf("session after callback: %v", err)
	}
	// Replaying the callback (its flow is spent) ends on the login page.
	if resp, body := get(back); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "ya se usó") {
		t.Fatalf("replayed callback: %d\n%s", resp.StatusCode, body)
	}
	// A tampered state.
	_, back = login()
	u := mustURL(back)
	q := u.Query()
	q.Set("state", "otro")
	u.RawQuery = q.Encode()
	if resp, body := get(u.String()); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "no corresponde a este navegador") ||
		!strings.Contains(body, `name="csrf"`) {
		t.Fatalf("bad state: %d\n%s", resp.StatusCode, body)
	}
	// Consent refused at the provider.
	idp.Deny(true)
	_, back = login()
	if resp, body := get(back + "&lang=en"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "authorization was not given") {
		t.Fatalf("denied: %d\n%s", resp.StatusCode, body)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
