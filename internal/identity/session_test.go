package identity

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// CSRF tokens, cookies and logging out everywhere.

func TestCSRFAndCookies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a, _ := e.svc.StartAnonymous(e.ctx, web)
	b, _ := e.svc.StartAnonymous(e.ctx, web)
	for _, tc := range []struct {
		s     *Session
		token string
		ok    bool
	}{
		{a, a.CSRF, true},
		{a, b.CSRF, false},
		{a, "", false},
		{a, a.CSRF[:len(a.CSRF)-1], false},
		{a, a.ID, false},
		{nil, a.CSRF, false},
	} {
		if err := CheckCSRF(tc.s, tc.token); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrCSRF)) {
			t.Errorf("CheckCSRF(%q): %v", tc.token, err)
		}
	}
	if CSRFToken(a.ID) != a.CSRF {
		t.Error("CSRFToken")
	}
	c := SessionCookie(a, true)
	if c.Name != "__Host-resguardo" || !c.Secure || !c.HttpOnly || c.SameSite != 3 || c.Path != "/" || c.Domain != "" || c.Value != a.ID {
		t.Fatalf("TLS cookie %+v", c)
	}
	if h := c.String(); !strings.Contains(h, "HttpOnly") || !strings.Contains(h, "Secure") || !strings.Contains(h, "SameSite=Strict") {
		t.Fatalf("Set-Cookie: %s", h)
	}
	if c := SessionCookie(a, false); c.Name != "resguardo" || c.Secure || !c.HttpOnly {
		t.Fatalf("plain cookie %+v", c)
	}
	if c := ClearSessionCookie(true); c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("clear %+v", c)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(SessionCookie(a, true))
	r.Header.Set("Authorization", "Bearer rsg_abc")
	if SessionIDFromRequest(r, true) != a.ID || SessionIDFromRequest(r, false) != "" || TokenFromRequest(r) != "rsg_abc" {
		t.Fatal("from request")
	}
}

func TestLogoutEverywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.mkUser(t, "jperez", []Role{RoleServidorPublico})
	v := e.mkUser(t, "mlopez", []Role{RoleServidorPublico})
	var ids []string
	for i := 0; i < 3; i++ {
		s, _ := e.login(t, "jperez", goodPW)
		ids = append(ids, s.ID)
	}
	keep, _ := e.login(t, "mlopez", goodPW)
	n, err := e.svc.LogoutEverywhere(e.ctx, u.ID, web)
	if err != nil || n != 3 {
		t.Fatalf("ended %d: %v", n, err)
	}
	for _, id := range ids {
		if _, _, err := e.svc.Session(e.ctx, id); !errors.Is(err, ErrNoSession) {
			t.Fatalf("survived: %v", err)
		}
	}
	if _, gu, err := e.svc.Session(e.ctx, keep.ID); err != nil || gu.ID != v.ID {
		t.Fatalf("another user's session: %v", err)
	}
}

// enrol takes a fresh account with a role that requires TOTP through its first
// login: password, then enrolment; it returns the session and the secret.
