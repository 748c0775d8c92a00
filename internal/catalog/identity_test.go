package catalog

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestIdentityUsers(t *testing.T) {
	t.Parallel()
	c := open(t)
	ctx := context.Background()
	at := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	id, err := c.CreateUser(ctx, User{Login: "JPerez", DisplayName: "Juan Pérez", PasswordHash: "$argon2id$x",
		Roles: []string{"servidor_publico", "auditor", "auditor"}, Addresses: []string{"Juan.Perez@Ejemplo.gob.mx", "jperez@ejemplo.gob.mx"},
		CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateUser(ctx, User{Login: "jperez"}); !errors.Is(err, ErrUserExists) {
		t.Fatalf("duplicate: %v", err)
	}
	u, err := c.UserByLogin(ctx, "JPEREZ")
	if err != nil || u.ID != id || u.Login != "jperez" || u.Source != "local" || !slices.Equal(u.Roles, []string{"auditor", "servidor_publico"}) ||
		!slices.Equal(u.Addresses, []string{"jperez@ejemplo.gob.mx", "juan.perez@ejemplo.gob.mx"}) || !u.CreatedAt.Equal(at) || !u.UpdatedAt.Equal(at) ||
		u.TOTPSecret != nil || !u.LastLoginAt.IsZero() {
		t.Fatalf("read back %+v %v", u, err)
	}
	id2, _ := c.CreateUser(ctx, User{Login: "ana", Roles: []string{"administrador"}, Disabled: true, CreatedAt: at})
	for _, tc := range []struct {
		f    UserFilter
		want []int64
	}{
		{UserFilter{}, []int64{id2, id}},
		{UserFilter{Role: "auditor"}, []int64{id}},
		{UserFilter{Address: "JPEREZ@ejemplo.gob.mx"}, []int64{id}},
		{UserFilter{Enabled: true}, []int64{id}},
		{UserFilter{Role: "administrador", Enabled: true}, nil},
	} {
		us, err := c.Users(ctx, tc.f)
		var got []int64
		for _, u := range us {
			got = append(got, u.ID)
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Users(%+v) = %v %v, want %v", tc.f, got, err, tc.want)
		}
	}
	if n, _ := c.CountUsers(ctx, "administrador", false); n != 1 {
		t.Errorf("count admins %d", n)
	}
	if n, _ := c.CountUsers(ctx, "administrador", true); n != 0 {
		t.Errorf("count enabled admins %d", n)
	}
	u.DisplayName, u.Roles, u.Addresses, u.MustChangePassword = "Juan P.", []string{"titular_unidad"}, nil, true
	if err := c.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateUser(ctx, User{ID: 999}); !errors.Is(err, ErrNoUser) {
		t.Fatalf("update missing: %v", err)
	}
	if err := c.SetPasswordHash(ctx, id, "$argon2id$y", false, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	u, _ = c.UserByID(ctx, id)
	if u.DisplayName != "Juan P." || len(u.Addresses) != 0 || u.Roles[0] != "titular_unidad" || u.PasswordHash != "$argon2id$y" ||
		u.MustChangePassword || !u.PasswordChangedAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("after update %+v", u)
	}
	// TOTP: the step only moves forward, and only once per step, even racing.
	if ok, _ := c.UseTOTPStep(ctx, id, 5); ok {
		t.Fatal("step used without a secret")
	}
	if err := c.SetTOTPPending(ctx, id, []byte("sealed"), at); err != nil {
		t.Fatal(err)
	}
	if err := c.ActivateTOTP(ctx, id, []byte("sealed"), 100, at); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := c.UseTOTPStep(ctx, id, 101); err == nil && ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("step 101 accepted %d times", wins)
	}
	if ok, _ := c.UseTOTPStep(ctx, id, 100); ok {
		t.Fatal("older step accepted")
	}
	// Recovery codes: single use.
	if err := c.ReplaceRecoveryCodes(ctx, id, []string{"h1", "h2"}, at); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.UseRecoveryCode(ctx, id, "h1", at); !ok {
		t.Fatal("h1")
	}
	if ok, _ := c.UseRecoveryCode(ctx, id, "h1", at); ok {
		t.Fatal("h1 twice")
	}
	if ok, _ := c.UseRecoveryCode(ctx, id2, "h2", at); ok {
		t.Fatal("another user's code")
	}
	if n, _ := c.RecoveryCodesLeft(ctx, id); n != 1 {
		t.Fatalf("left %d", n)
	}
	if err := c.ClearTOTP(ctx, id, at); err != nil {
		t.Fatal(err)
	}
	if u, _ := c.UserByID(ctx, id); u.TOTPSecret != nil || u.TOTPLastStep != 0 {
		t.Fatal("cleared")
	}
	if n, _ := c.RecoveryCodesLeft(ctx, id); n != 0 {
		t.Fatal("codes survived ClearTOTP")
	}
	// Sessions and tokens go with the user; the login log stays.
	if err := c.CreateSession(ctx, Session{IDSHA256: "s1", UserID: id, State: "full", CreatedAt: at, LastSeen: at, ExpiresAt: at.Add(time.Hour)}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAPIToken(ctx, APIToken{UserID: id, Name: "t", Prefix: "rsg_x", SHA256: "t1", Scopes: []string{"read", "search"}, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LogLoginEvent(ctx, LoginEvent{At: at, Login: "jperez", UserID: id, Method: "password", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteUser(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SessionByHash(ctx, "s1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after delete: %v", err)
	}
	if _, err := c.APITokenByHash(ctx, "t1"); !errors.Is(err, ErrNoToken) {
		t.Fatalf("token after delete: %v", err)
	}
	if evs, _ := c.LoginEvents(ctx, LoginEventFilter{UserID: id}); len(evs) != 1 {
		t.Fatal("login log lost with the user")
	}
}

func TestIdentitySessionsTokensThrottle(t *testing.T) {
	t.Parallel()
	c := open(t)
	ctx := context.Background()
	at := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	id, _ := c.CreateUser(ctx, User{Login: "jperez", Roles: []string{"servidor_publico"}, CreatedAt: at})
	anon := Session{IDSHA256: "anon", State: "anonymous", CreatedAt: at, LastSeen: at, ExpiresAt: at.Add(time.Hour)}
	if err := c.CreateSession(ctx, anon, ""); err != nil {
		t.Fatal(err)
	}
	if s, err := c.SessionByHash(ctx, "anon"); err != nil || s.UserID != 0 || s.State != "anonymous" {
		t.Fatalf("anonymous %+v %v", s, err)
	}
	// Rotation: the old one goes in the same transaction.
	s := Session{IDSHA256: "full1", UserID: id, State: "full", Method: "local", CreatedAt: at, LastSeen: at, ExpiresAt: at.Add(12 * time.Hour),
		ClientIP: "192.0.2.1", UserAgent: "Prueba"}
	if err := c.CreateSession(ctx, s, "anon"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SessionByHash(ctx, "anon"); !errors.Is(err, ErrNoSession) {
		t.Fatal("rotated session survived")
	}
	if err := c.CreateSession(ctx, s, ""); err == nil {
		t.Fatal("duplicate session id accepted")
	}
	if err := c.SetSessionJustification(ctx, "full1", "Auditoría", "AI-1", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := c.TouchSession(ctx, "full1", at.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ := c.SessionByHash(ctx, "full1")
	if got.Justification != "Auditoría" || got.CaseRef != "AI-1" || !got.LastSeen.Equal(at.Add(2*time.Minute)) || got.ClientIP != "192.0.2.1" {
		t.Fatalf("session %+v", got)
	}
	c.CreateSession(ctx, Session{IDSHA256: "full2", UserID: id, State: "full", CreatedAt: at, LastSeen: at, ExpiresAt: at.Add(12 * time.Hour)}, "")
	c.CreateSession(ctx, Session{IDSHA256: "old", UserID: id, State: "full", CreatedAt: at, LastSeen: at.Add(-time.Hour), ExpiresAt: at.Add(12 * time.Hour)}, "")
	if n, _ := c.PurgeSessions(ctx, at.Add(-30*time.Minute), at); n != 1 {
		t.Fatalf("purged %d", n)
	}
	if ss, _ := c.UserSessions(ctx, id); len(ss) != 2 || ss[0].IDSHA256 != "full1" {
		t.Fatalf("user sessions %+v", ss)
	}
	if n, _ := c.DeleteUserSessions(ctx, id, "full1"); n != 1 {
		t.Fatalf("deleted %d", n)
	}
	if ok, _ := c.DeleteSession(ctx, "full1"); !ok {
		t.Fatal("delete")
	}
	if err := c.TouchSession(ctx, "full1", at); !errors.Is(err, ErrNoSession) {
		t.Fatalf("touch missing: %v", err)
	}
	// Tokens.
	tid, err := c.CreateAPIToken(ctx, APIToken{UserID: id, Name: "script", Prefix: "rsg_abcd", SHA256: "h", Scopes: []string{"search", "read"},
		CreatedAt: at, ExpiresAt: at.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAPIToken(ctx, APIToken{UserID: id, Name: "dup", SHA256: "h", CreatedAt: at}); err == nil {
		t.Fatal("duplicate token hash accepted")
	}
	c.TouchAPIToken(ctx, tid, at.Add(time.Minute))
	c.RevokeAPIToken(ctx, tid, at.Add(2*time.Minute))
	c.RevokeAPIToken(ctx, tid, at.Add(3*time.Minute))
	tok, err := c.APITokenByHash(ctx, "h")
	if err != nil || !slices.Equal(tok.Scopes, []string{"read", "search"}) || !tok.LastUsed.Equal(at.Add(time.Minute)) ||
		!tok.RevokedAt.Equal(at.Add(2*time.Minute)) || !tok.ExpiresAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("token %+v %v", tok, err)
	}
	if err := c.RevokeAPIToken(ctx, 999, at); !errors.Is(err, ErrNoToken) {
		t.Fatalf("revoke missing: %v", err)
	}
	// Throttle counters: concurrent updates all count.
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.UpdateThrottle(ctx, "user:jperez", func(t *Throttle) { t.Failures++; t.LastFailure = at }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ts, err := c.Throttles(ctx, "user:jperez", "ip:192.0.2.1")
	if err != nil || ts[0].Failures != 10 || ts[1].Failures != 0 || ts[1].Key != "ip:192.0.2.1" {
		t.Fatalf("throttles %+v %v", ts, err)
	}
	c.UpdateThrottle(ctx, "ip:192.0.2.1", func(t *Throttle) { t.Failures, t.LastFailure, t.LockedUntil = 1, at, at.Add(time.Hour) })
	if n, _ := c.PurgeThrottle(ctx, at.Add(time.Second), at.Add(time.Minute)); n != 1 {
		t.Fatalf("purged %d counters (the locked one must stay)", n)
	}
	if err := c.DeleteThrottle(ctx, "ip:192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	// The login log, newest first, filtered and paged.
	for i := 0; i < 5; i++ {
		c.LogLoginEvent(ctx, LoginEvent{At: at.Add(time.Duration(i) * time.Minute), Login: "jperez", UserID: id, Method: "password", Result: "ok"})
	}
	c.LogLoginEvent(ctx, LoginEvent{At: at, Login: "nadie", Method: "password", Result: "no_user"})
	evs, _ := c.LoginEvents(ctx, LoginEventFilter{Login: "JPEREZ", Limit: 2})
	if len(evs) != 2 || !evs[0].At.Equal(at.Add(4*time.Minute)) {
		t.Fatalf("events %+v", evs)
	}
	more, _ := c.LoginEvents(ctx, LoginEventFilter{Login: "jperez", BeforeID: evs[1].ID, Since: at.Add(time.Minute)})
	if len(more) != 2 {
		t.Fatalf("page 2: %+v", more)
	}
	if evs, _ := c.LoginEvents(ctx, LoginEventFilter{Until: at.Add(time.Second)}); len(evs) != 2 || evs[0].UserID != 0 {
		t.Fatalf("until: %+v", evs)
	}
}
