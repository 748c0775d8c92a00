package identity

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
)

// API tokens.

func TestTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	admin := e.mkUser(t, "ana", []Role{RoleAdministrador})
	jp := e.mkUser(t, "jperez", []Role{RoleServidorPublico})
	ctx := e.ctx
	raw, tok, err := e.svc.CreateToken(ctx, jp.ID, "Búsquedas nocturnas", []Scope{ScopeSearch, ScopeRead}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, "rsg_") || len(raw) != 47 || tok.Prefix != raw[:12] || !tok.Allows(ScopeRead) || tok.Allows(ScopeExport) {
		t.Fatalf("token %q %+v", raw, tok)
	}
	for _, tc := range []struct {
		user   int64
		scopes []Scope
		exp    time.Time
		want   error
	}{
		{jp.ID, []Scope{ScopeAdmin}, time.Time{}, ErrInvalidScope},
		{jp.ID, []Scope{"borrar-todo"}, time.Time{}, ErrInvalidScope},
		{jp.ID, nil, time.Time{}, ErrInvalidScope},
		{jp.ID, []Scope{ScopeSearch}, e.clk.now().Add(-time.Hour), ErrInvalidExpiry},
		{admin.ID, []Scope{ScopeAdmin}, time.Time{}, nil},
		{jp.ID, []Scope{ScopeExport}, time.Time{}, nil},
	} {
		if _, _, err := e.svc.CreateToken(ctx, tc.user, "t", tc.scopes, tc.exp); !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Errorf("scopes %v: %v, want %v", tc.scopes, err, tc.want)
		}
	}
	got, u, err := e.svc.AuthenticateToken(ctx, raw)
	if err != nil || u.ID != jp.ID || got.ID != tok.ID || !got.LastUsed.Equal(e.clk.now()) {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	e.clk.advance(10 * time.Second)
	if got, _, _ := e.svc.AuthenticateToken(ctx, raw); got.LastUsed.Equal(e.clk.now()) {
		t.Fatal("last use written more than once a minute")
	}
	for _, bad := range []string{"", raw[:46], raw + "x", "rsg_" + strings.Repeat("A", 43), strings.Replace(raw, "rsg_", "xyz_", 1)} {
		if _, _, err := e.svc.AuthenticateToken(ctx, bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	// Only the owner (or an administrator, owner 0) revokes.
	other := e.mkUser(t, "mlopez", []Role{RoleServidorPublico})
	if err := e.svc.RevokeToken(ctx, other.ID, tok.ID); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked by someone else: %v", err)
	}
	if err := e.svc.RevokeToken(ctx, jp.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.AuthenticateToken(ctx, raw); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked token: %v", err)
	}
	// Expiry.
	raw2, _, err := e.svc.CreateToken(ctx, jp.ID, "corto", []Scope{ScopeSearch}, e.clk.now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.AuthenticateToken(ctx, raw2); err != nil {
		t.Fatal(err)
	}
	e.clk.advance(time.Hour)
	if _, _, err := e.svc.AuthenticateToken(ctx, raw2); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired token: %v", err)
	}
	list, err := e.svc.Tokens(ctx, jp.ID)
	if err != nil || len(list) != 3 || list[2].RevokedAt.IsZero() {
		t.Fatalf("list %+v %v", list, err)
	}
	// Nothing of the value is stored: not even its hash is in the listing.
	all, _ := e.cat.APITokens(ctx, 0)
	for _, c := range all {
		if strings.Contains(raw, c.SHA256) || c.SHA256 == raw {
			t.Fatal("raw token stored")
		}
	}
}

// TestTokenThrottle: bad tokens from one network lock it (even a good token is
// then refused, unchecked), apart from the login form's counter, and are in
// the login log.
func TestTokenThrottle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.Throttle.IPFailures = 3 })
	jp := e.mkUser(t, "jperez", []Role{RoleServidorPublico})
	ctx := e.ctx
	raw, _, err := e.svc.CreateToken(ctx, jp.ID, "script", []Scope{ScopeSearch}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	bad := "rsg_" + strings.Repeat("B", 43)
	for i := 0; i < 3; i++ {
		_, _, err := e.svc.AuthenticateTokenFrom(ctx, bad, web)
		if i < 2 && !errors.Is(err, ErrInvalidToken) || i == 2 && !errors.Is(err, ErrThrottled) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	var te *Error
	if _, _, err := e.svc.AuthenticateTokenFrom(ctx, raw, web); !errors.As(err, &te) || te.Code != ErrThrottled.Code || te.RetryAfter <= 0 {
		t.Fatalf("good token from a locked network: %v", err)
	}
	other := Client{IP: "2001:db8::1"}
	if _, u, err := e.svc.AuthenticateTokenFrom(ctx, raw, other); err != nil || u.ID != jp.ID {
		t.Fatalf("another network: %v", err)
	}
	// The login form of the locked network still works.
	if _, _, err := e.svc.Login(ctx, LoginRequest{Login: "jperez", Password: goodPW, Client: web}); err != nil {
		t.Fatalf("login from the network with bad tokens: %v", err)
	}
	e.clk.advance(16 * time.Minute)
	if _, _, err := e.svc.AuthenticateTokenFrom(ctx, raw, web); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	evs, err := e.svc.LoginEvents(ctx, catalog.LoginEventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, ev := range evs {
		if ev.Method == MethodToken {
			n[ev.Result]++
		}
	}
	if n["invalid_token"] != 3 || n["throttled"] != 1 {
		t.Fatalf("login log: %v", n)
	}
}
