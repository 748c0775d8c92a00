package identity

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
)

// Login, forced password change, lockout and session timeouts.

func TestLoginAndRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mkUser(t, "jperez", []Role{RoleServidorPublico}, "juan.perez@ejemplo.gob.mx")
	anon, err := e.svc.StartAnonymous(e.ctx, web)
	if err != nil || anon.State != StateAnonymous || len(anon.ID) != 43 || anon.CSRF == "" {
		t.Fatalf("anonymous: %+v %v", anon, err)
	}
	if s, u, err := e.svc.Session(e.ctx, anon.ID); err != nil || u != nil || s.State != StateAnonymous {
		t.Fatalf("anonymous lookup: %+v %v %v", s, u, err)
	}
	sess, u, err := e.svc.Login(e.ctx, LoginRequest{Login: " JPerez ", Password: goodPW, Client: web, Session: anon.ID})
	if err != nil {
		t.Fatal(err)
	}
	// Servidor público without TOTP: fully logged in at once, and a new session id.
	if sess.State != StateFull || sess.ID == anon.ID || sess.CSRF == anon.CSRF || u.Login != "jperez" {
		t.Fatalf("login: %+v", sess)
	}
	if _, _, err := e.svc.Session(e.ctx, anon.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("the pre-login session survived the login: %v", err)
	}
	got, gu, err := e.svc.Session(e.ctx, sess.ID)
	if err != nil || gu.ID != u.ID || got.CSRF != sess.CSRF || got.ClientIP != web.IP {
		t.Fatalf("lookup: %+v %+v %v", got, gu, err)
	}
	// Generic errors: an unknown login and a wrong password look the same.
	_, _, e1 := e.svc.Login(e.ctx, LoginRequest{Login: "nadie", Password: goodPW, Client: web})
	_, _, e2 := e.svc.Login(e.ctx, LoginRequest{Login: "jperez", Password: "otra-cosa-larga", Client: web})
	if !errors.Is(e1, ErrInvalidCredentials) || !errors.Is(e2, ErrInvalidCredentials) || e1.Error() != e2.Error() {
		t.Fatalf("errors differ: %v / %v", e1, e2)
	}
	// Garbage ids are just "no session".
	for _, id := range []string{"", "x", strings.Repeat("A", 43), sess.ID + "A", "../../../../etc/passwd"} {
		if _, _, err := e.svc.Session(e.ctx, id); !errors.Is(err, ErrNoSession) {
			t.Errorf("session %q: %v", id, err)
		}
	}
	if err := e.svc.Logout(e.ctx, sess.ID, web); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Session(e.ctx, sess.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after logout: %v", err)
	}
	evs, err := e.svc.LoginEvents(e.ctx, catalog.LoginEventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got2 []string
	for _, ev := range evs {
		got2 = append(got2, ev.Login+" "+ev.Method+" "+ev.Result)
	}
	want := []string{"jperez logout ok", "jperez password bad_password", "nadie password no_user", "jperez password ok"}
	if !slices.Equal(got2, want) || evs[0].ClientIP != web.IP || evs[0].UserAgent != web.UserAgent {
		t.Fatalf("events %q, want %q", got2, want)
	}
}

func TestForcedPasswordChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u, pw, err := e.svc.CreateUser(e.ctx, NewUser{Login: "jperez", Roles: []Role{RoleServidorPublico}})
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := e.login(t, "jperez", pw)
	other, _ := e.login(t, "jperez", pw)
	if s1.State != StatePasswordOK {
		t.Fatalf("state %s", s1.State)
	}
	// Setting a justification, or anything else, needs a full session.
	if _, err := e.svc.SetJustification(e.ctx, s1.ID, "Revisión de correspondencia oficial", ""); !errors.Is(err, ErrSessionState) {
		t.Fatalf("justification before the change: %v", err)
	}
	for _, tc := range []struct {
		cur, next string
		want      error
	}{
		{"incorrecta-123456", "Nueva-contraseña-2025", ErrInvalidCredentials},
		{pw, pw, ErrSamePassword},
		{pw, "corta", ErrWeakPassword},
		{pw, "jperez-es-mi-clave", ErrWeakPassword},
	} {
		if _, err := e.svc.ChangePassword(e.ctx, s1.ID, tc.cur, tc.next, web); !errors.Is(err, tc.want) {
			t.Errorf("change %q → %q: %v, want %v", tc.cur, tc.next, err, tc.want)
		}
	}
	s2, err := e.svc.ChangePassword(e.ctx, s1.ID, pw, "Nueva-contraseña-2025", web)
	if err != nil {
		t.Fatal(err)
	}
	if s2.State != StateFull || s2.ID == s1.ID {
		t.Fatalf("after change: %+v", s2)
	}
	if _, _, err := e.svc.Session(e.ctx, other.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("the other session survived a password change: %v", err)
	}
	if _, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "jperez", Password: pw, Client: web}); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password: %v", err)
	}
	if _, nu := e.login(t, "jperez", "Nueva-contraseña-2025"); nu.MustChangePassword || nu.ID != u.ID {
		t.Fatalf("user %+v", nu)
	}
}

// Lockout timing, with the injectable clock.
func TestLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mkUser(t, "jperez", []Role{RoleServidorPublico})
	try := func(pw string) error {
		_, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "jperez", Password: pw, Client: web})
		return err
	}
	wantErr := func(step string, err, want error, retry time.Duration) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", step, err, want)
		}
		var ie *Error
		if retry > 0 && (!errors.As(err, &ie) || ie.RetryAfter != retry) {
			t.Fatalf("%s: retry after %v, want %v", step, ie.RetryAfter, retry)
		}
	}
	for i := 1; i <= 4; i++ {
		wantErr("failure", try("incorrecta-1234"), ErrInvalidCredentials, 0)
	}
	wantErr("5th failure", try("incorrecta-1234"), ErrThrottled, 15*time.Minute)
	wantErr("right password while locked", try(goodPW), ErrThrottled, 15*time.Minute)
	e.clk.advance(10 * time.Minute)
	wantErr("still locked", try(goodPW), ErrThrottled, 5*time.Minute)
	e.clk.advance(5 * time.Minute)
	// The lock ended; one more failure locks again, for twice as long.
	wantErr("failure after the lock", try("incorrecta-1234"), ErrThrottled, 30*time.Minute)
	e.clk.advance(30 * time.Minute)
	wantErr("and again", try("incorrecta-1234"), ErrThrottled, time.Hour)
	if d, _ := e.svc.Locked(e.ctx, "jperez"); d != time.Hour {
		t.Fatalf("Locked = %v", d)
	}
	// An administrator lifts it; a success forgets everything.
	if err := e.svc.Unlock(e.ctx, "jperez"); err != nil {
		t.Fatal(err)
	}
	if err := try(goodPW); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	for i := 1; i <= 4; i++ {
		wantErr("fresh failures", try("incorrecta-1234"), ErrInvalidCredentials, 0)
	}
	// Failures are forgotten after a quiet day.
	e.clk.advance(25 * time.Hour)
	wantErr("after a quiet day", try("incorrecta-1234"), ErrInvalidCredentials, 0)
	for i := 1; i <= 3; i++ {
		try("incorrecta-1234")
	}
	wantErr("5th again", try("incorrecta-1234"), ErrThrottled, 15*time.Minute)
	// The lock's length is capped.
	p := ThrottlePolicy{}.withDefaults()
	if p.lockFor(1) != 15*time.Minute || p.lockFor(3) != time.Hour || p.lockFor(8) != 24*time.Hour || p.lockFor(1000) != 24*time.Hour {
		t.Fatalf("lockFor: %v %v %v", p.lockFor(1), p.lockFor(3), p.lockFor(8))
	}
}

// One client network guessing many accounts is locked by the per-IP counter,
// IPv6 by /64; other clients are not affected.
func TestLockoutPerIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.Throttle.IPFailures = 6 })
	e.mkUser(t, "jperez", []Role{RoleServidorPublico})
	attacker := Client{IP: "2001:db8:1:2::10"}
	for i := 0; i < 6; i++ {
		c := attacker
		if i%2 == 1 {
			c.IP = "2001:db8:1:2:ffff::1" // same /64
		}
		_, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "usuario" + string(rune('a'+i)), Password: "incorrecta-1234", Client: c})
		if i < 5 && !errors.Is(err, ErrInvalidCredentials) || i == 5 && !errors.Is(err, ErrThrottled) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "jperez", Password: goodPW, Client: Client{IP: "2001:db8:1:2::99"}}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("same /64: %v", err)
	}
	if _, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "jperez", Password: goodPW, Client: Client{IP: "2001:db8:1:3::1"}}); err != nil {
		t.Fatalf("another network: %v", err)
	}
	for ip, want := range map[string]string{"192.0.2.1": "ip:192.0.2.1", "::ffff:192.0.2.1": "ip:192.0.2.1", "192.0.2.1:5555": "ip:192.0.2.1",
		"2001:db8::1": "ip:2001:db8::/64", "fe80::1%eth0": "ip:fe80::/64", "basura": ""} {
		if got := ipKey(ip); got != want {
			t.Errorf("ipKey(%q) = %q, want %q", ip, got, want)
		}
	}
}

func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mkUser(t, "jperez", []Role{RoleServidorPublico})
	// Idle: 30 minutes without a request.
	s, _ := e.login(t, "jperez", goodPW)
	e.clk.advance(29 * time.Minute)
	if _, _, err := e.svc.Session(e.ctx, s.ID); err != nil {
		t.Fatalf("29 min idle: %v", err)
	}
	e.clk.advance(29 * time.Minute) // 29 min since the last request
	if _, _, err := e.svc.Session(e.ctx, s.ID); err != nil {
		t.Fatalf("active session: %v", err)
	}
	e.clk.advance(30 * time.Minute)
	if _, _, err := e.svc.Session(e.ctx, s.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("30 min idle: %v", err)
	}
	// Absolute: 12 hours however active.
	s, _ = e.login(t, "jperez", goodPW)
	for i := 0; i < 12*60/20-1; i++ {
		e.clk.advance(20 * time.Minute)
		if _, _, err := e.svc.Session(e.ctx, s.ID); err != nil {
			t.Fatalf("after %d min: %v", (i+1)*20, err)
		}
	}
	e.clk.advance(20 * time.Minute)
	if _, _, err := e.svc.Session(e.ctx, s.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("12 h: %v", err)
	}
	// Purge removes what has ended.
	live, _ := e.login(t, "jperez", goodPW)
	dead, _ := e.login(t, "jperez", goodPW)
	e.clk.advance(20 * time.Minute)
	e.svc.Session(e.ctx, live.ID)
	e.clk.advance(20 * time.Minute)
	n, _, err := e.svc.PurgeExpired(e.ctx)
	if err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if _, _, err := e.svc.Session(e.ctx, dead.ID); !errors.Is(err, ErrNoSession) {
		t.Fatal(err)
	}
	if ss, err := e.svc.Sessions(e.ctx, live.UserID); err != nil || len(ss) != 1 || ss[0].ID != "" || ss[0].CSRF != "" {
		t.Fatalf("sessions list: %+v %v", ss, err)
	}
}
