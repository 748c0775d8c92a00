package identity

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/config"
	"github.com/resguardo/resguardo/internal/i18n"
)

// clock is an injectable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// cheap argon2id parameters keep the tests fast; verification reads the
// parameters from each hash, so production hashes are unaffected.
var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1}

type env struct {
	svc *Service
	cat *catalog.SQLite
	clk *clock
	ctx context.Context
}

func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.OpenSQLite(ctx, filepath.Join(t.TempDir(), "catalog.db"), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	clk := &clock{t: time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)}
	opt := Options{SecretKey: bytes.Repeat([]byte{0x42}, 32), Now: clk.now, Argon2: cheap,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&opt)
	}
	svc, err := New(cat, opt)
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, cat: cat, clk: clk, ctx: ctx}
}

var web = Client{IP: "192.0.2.10", UserAgent: "Prueba/1.0"}

const goodPW = "Contraseña-larga-2025"

// mkUser creates an account with a known password that need not be changed.
func (e *env) mkUser(t *testing.T, login string, roles []Role, addrs ...string) *User {
	t.Helper()
	u, _, err := e.svc.CreateUser(e.ctx, NewUser{Login: login, DisplayName: "Persona " + login, Roles: roles, Addresses: addrs, Password: goodPW})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *env) login(t *testing.T, login, pw string) (*Session, *User) {
	t.Helper()
	s, u, err := e.svc.Login(e.ctx, LoginRequest{Login: login, Password: pw, Client: web})
	if err != nil {
		t.Fatalf("login %s: %v", login, err)
	}
	return s, u
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := HashPasswordWith("s3creto", cheap)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePasswordHash(h)
	if err != nil || p.Params != cheap {
		t.Fatalf("parse %s: %+v %v", h, p, err)
	}
	if !p.Verify("s3creto") || p.Verify("s3cretO") || p.Verify("") {
		t.Error("verify")
	}
	if (PasswordHash{}).Verify("") {
		t.Error("zero hash matched")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=1,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA", "plain-password"} {
		if _, err := ParsePasswordHash(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	for _, tc := range []struct {
		login, pw string
		ok        bool
	}{
		{"ana", "corta", false},
		{"ana", "una frase bastante larga", true},
		{"jperez", "mi-clave-JPEREZ-2025", false},
		{"ana", strings.Repeat("x", MaxPasswordLength+1), false},
		{"ana", "contraseña12", true},
	} {
		if err := CheckPassword(tc.login, tc.pw); (err == nil) != tc.ok {
			t.Errorf("CheckPassword(%q, %q) = %v", tc.login, tc.pw, err)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	e := throttledErr(14*time.Minute + time.Second)
	if !errors.Is(e, ErrThrottled) || errors.Is(e, ErrInvalidCredentials) {
		t.Fatal("errors.Is")
	}
	var ie *Error
	if !errors.As(e, &ie) || ie.Message(i18n.ES) != "Demasiados intentos fallidos. Vuelva a intentarlo en 15 min." ||
		ie.Message(i18n.EN) != "Too many failed attempts. Try again in 15 min." {
		t.Fatalf("messages: %q / %q", ie.Message(i18n.ES), ie.Message(i18n.EN))
	}
	if ErrInvalidCredentials.Error() != "Usuario o contraseña incorrectos. / Wrong login or password." {
		t.Errorf("Error() = %q", ErrInvalidCredentials.Error())
	}
}

// The roles configuration validates against must be this package's.
func TestConfigRoles(t *testing.T) {
	t.Parallel()
	var want []string
	for _, r := range Roles {
		want = append(want, string(r))
	}
	if !slices.Equal(config.IdentityRoles, want) {
		t.Fatalf("config.IdentityRoles = %v, identity.Roles = %v", config.IdentityRoles, want)
	}
}

func TestEnsureFirstAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	login, pw, created, err := e.svc.EnsureFirstAdmin(e.ctx)
	if err != nil || !created || login != "admin" || len(pw) != 23 {
		t.Fatalf("first: %q %q %v %v", login, pw, created, err)
	}
	if l2, p2, c2, err := e.svc.EnsureFirstAdmin(e.ctx); err != nil || c2 || l2 != "" || p2 != "" {
		t.Fatalf("second: %q %q %v %v", l2, p2, c2, err)
	}
	sess, u := e.login(t, "Admin", pw)
	if !u.Has(RoleAdministrador) || !u.MustChangePassword || sess.State != StatePasswordOK {
		t.Fatalf("admin %+v, state %s", u, sess.State)
	}
	// A disabled administrator still counts: no second "admin" appears.
	other := e.mkUser(t, "otra.admin", []Role{RoleAdministrador})
	if _, err := e.svc.UpdateUser(e.ctx, u.ID, UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateUser(e.ctx, other.ID, UserUpdate{Disabled: ptr(true)}); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("disabling the last admin: %v", err)
	}
	if _, _, c, _ := e.svc.EnsureFirstAdmin(e.ctx); c {
		t.Fatal("created again")
	}
}

func ptr[T any](v T) *T { return &v }

func TestUserCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := e.ctx
	admin := e.mkUser(t, "ana.garcia", []Role{RoleAdministrador}, "Ana García <Ana.Garcia@Ejemplo.gob.mx>")
	if admin.Login != "ana.garcia" || !slices.Equal(admin.Addresses, []string{"ana.garcia@ejemplo.gob.mx"}) || admin.MustChangePassword {
		t.Fatalf("created %+v", admin)
	}
	u, pw, err := e.svc.CreateUser(ctx, NewUser{Login: "JPerez", Roles: []Role{RoleServidorPublico},
		Addresses: []string{"juan.perez@ejemplo.gob.mx", "jperez@ejemplo.gob.mx", "JPEREZ@ejemplo.gob.mx"}})
	if err != nil || pw == "" || !u.MustChangePassword || u.Login != "jperez" || len(u.Addresses) != 2 {
		t.Fatalf("generated password: %+v %q %v", u, pw, err)
	}
	for _, tc := range []struct {
		nu   NewUser
		want error
	}{
		{NewUser{Login: "jperez", Roles: []Role{RoleServidorPublico}, Password: goodPW}, ErrUserExists},
		{NewUser{Login: "juan pérez", Roles: []Role{RoleServidorPublico}, Password: goodPW}, ErrInvalidLogin},
		{NewUser{Login: "*)(uid=*", Roles: []Role{RoleServidorPublico}, Password: goodPW}, ErrInvalidLogin},
		{NewUser{Login: "x", Roles: []Role{"superusuario"}, Password: goodPW}, ErrInvalidRole},
		{NewUser{Login: "x", Password: goodPW}, ErrNoRole},
		{NewUser{Login: "x", Roles: []Role{RoleAuditor}, Addresses: []string{"no es correo"}, Password: goodPW}, ErrInvalidAddress},
		{NewUser{Login: "x", Roles: []Role{RoleAuditor}, Password: "corta"}, ErrWeakPassword},
		{NewUser{Login: "x", Roles: []Role{RoleAuditor}, DisplayName: "a\x00b", Password: goodPW}, ErrInvalidName},
	} {
		if _, _, err := e.svc.CreateUser(ctx, tc.nu); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.nu, err, tc.want)
		}
	}
	up, err := e.svc.UpdateUser(ctx, u.ID, UserUpdate{DisplayName: ptr("Juan Pérez"), Roles: []Role{RoleServidorPublico, RoleTitularUnidad},
		Addresses: []string{"juan.perez@ejemplo.gob.mx"}})
	if err != nil || up.DisplayName != "Juan Pérez" || len(up.Roles) != 2 || len(up.Addresses) != 1 || !up.Owns("JUAN.PEREZ@ejemplo.gob.mx") {
		t.Fatalf("update: %+v %v", up, err)
	}
	if _, err := e.svc.UpdateUser(ctx, admin.ID, UserUpdate{Roles: []Role{RoleAuditor}}); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demoting the last admin: %v", err)
	}
	if err := e.svc.DeleteUser(ctx, admin.ID); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("deleting the last admin: %v", err)
	}
	list, err := e.svc.Users(ctx, "")
	if err != nil || len(list) != 2 || list[0].Login != "ana.garcia" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if owners, err := e.svc.UsersOwning(ctx, "<juan.perez@EJEMPLO.gob.mx>"); err != nil || len(owners) != 1 || owners[0].ID != u.ID {
		t.Fatalf("owners: %+v %v", owners, err)
	}
	// Disabling ends the sessions and revokes the tokens.
	if _, err := e.svc.SetPassword(ctx, u.ID, goodPW, false); err != nil {
		t.Fatal(err)
	}
	sess, _ := e.login(t, "jperez", goodPW)
	raw, _, err := e.svc.CreateToken(ctx, u.ID, "script", []Scope{ScopeSearch}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateUser(ctx, u.ID, UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Session(ctx, sess.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session of a disabled user: %v", err)
	}
	if _, _, err := e.svc.AuthenticateToken(ctx, raw); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token of a disabled user: %v", err)
	}
	if _, _, err := e.svc.Login(ctx, LoginRequest{Login: "jperez", Password: goodPW, Client: web}); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("login of a disabled user: %v", err)
	}
	if err := e.svc.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.User(ctx, u.ID); !errors.Is(err, ErrNoUser) {
		t.Fatalf("deleted: %v", err)
	}
}

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
func (e *env) enrol(t *testing.T, login string, roles []Role) (*Session, []byte, []string) {
	t.Helper()
	e.mkUser(t, login, roles)
	s, u := e.login(t, login, goodPW)
	if s.State != StatePasswordOK || !u.TOTPRequired() {
		t.Fatalf("%s before enrolment: %s", login, s.State)
	}
	en, err := e.svc.BeginTOTP(e.ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseOTPAuthURL(en.URL)
	if err != nil || k.Account != login || k.Issuer != "Resguardo" || b32.EncodeToString(k.Secret) != en.Secret {
		t.Fatalf("enrolment URL %s: %+v %v", en.URL, k, err)
	}
	if !bytes.HasPrefix(en.PNG, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatal("QR is not a PNG")
	}
	if _, _, err := e.svc.ConfirmTOTP(e.ctx, s.ID, "000000", web); !errors.Is(err, ErrInvalidCode) && TOTPCode(k.Secret, e.clk.now()) != "000000" {
		t.Fatalf("wrong enrolment code: %v", err)
	}
	full, codes, err := e.svc.ConfirmTOTP(e.ctx, s.ID, TOTPCode(k.Secret, e.clk.now()), web)
	if err != nil {
		t.Fatal(err)
	}
	if full.State != StateFull || full.ID == s.ID || len(codes) != RecoveryCodes {
		t.Fatalf("after enrolment: %+v, %d codes", full, len(codes))
	}
	return full, k.Secret, codes
}

func TestTOTPLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, secret, codes := e.enrol(t, "mlopez", []Role{RoleAuditor})
	pending := func() *Session {
		t.Helper()
		s, u := e.login(t, "mlopez", goodPW)
		if s.State != StateTOTPPending || !u.TOTPEnabled {
			t.Fatalf("state %s", s.State)
		}
		return s
	}
	// A pending session is good for nothing but the code.
	s := pending()
	if _, err := e.svc.SetJustification(e.ctx, s.ID, "Auditoría de contratos 2024", ""); !errors.Is(err, ErrSessionState) {
		t.Fatalf("justification while pending: %v", err)
	}
	if _, err := e.svc.BeginTOTP(e.ctx, s.ID); !errors.Is(err, ErrSessionState) {
		t.Fatalf("enrolment while pending: %v", err)
	}
	// The enrolment's code (same step) cannot be used again.
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, TOTPCode(secret, e.clk.now()), web); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replayed enrolment code: %v", err)
	}
	e.clk.advance(30 * time.Second)
	code := TOTPCode(secret, e.clk.now())
	full, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, code[:3]+" "+code[3:], web)
	if err != nil {
		t.Fatal(err)
	}
	if full.State != StateFull || full.ID == s.ID {
		t.Fatalf("after TOTP: %+v", full)
	}
	if _, _, err := e.svc.Session(e.ctx, s.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("pending session survived: %v", err)
	}
	// Replay: the same code in a second login, within its validity.
	s = pending()
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, code, web); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replay: %v", err)
	}
	// The previous step's code is older than the last used: refused too.
	e.clk.advance(30 * time.Second)
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, TOTPCode(secret, e.clk.now().Add(-30*time.Second)), web); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("older step: %v", err)
	}
	// Clock skew: the next step's code is accepted.
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, TOTPCode(secret, e.clk.now().Add(30*time.Second)), web); err != nil {
		t.Fatalf("next step: %v", err)
	}
	// Recovery codes: each once.
	s = pending()
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, strings.ToUpper(codes[3]), web); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if n, _ := e.svc.RecoveryCodesLeft(e.ctx, s.UserID); n != RecoveryCodes-1 {
		t.Fatalf("codes left %d", n)
	}
	s = pending()
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, codes[3], web); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("reused recovery code: %v", err)
	}
	// The pending session expires after 5 minutes.
	e.clk.advance(5 * time.Minute)
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, codes[4], web); !errors.Is(err, ErrNoSession) {
		t.Fatalf("late second factor: %v", err)
	}
	// Wrong codes count towards the lockout.
	s = pending()
	var err2 error
	for i := 0; i < 5; i++ {
		_, _, err2 = e.svc.VerifySecondFactor(e.ctx, s.ID, "12345x", web)
	}
	if !errors.Is(err2, ErrThrottled) {
		t.Fatalf("5 wrong codes: %v", err2)
	}
	evs, _ := e.svc.LoginEvents(e.ctx, catalog.LoginEventFilter{Login: "mlopez", Limit: 1000})
	results := map[string]int{}
	for _, ev := range evs {
		results[ev.Method+" "+ev.Result]++
	}
	if results["totp replayed_code"] != 3 || results["recovery bad_code"] != 1 || results["recovery ok"] != 1 || results["totp_enrol ok"] != 1 || results["totp ok"] != 2 {
		t.Fatalf("events %v", results)
	}
	// Regenerating codes and an administrator's reset.
	e.svc.Unlock(e.ctx, "mlopez")
	e.clk.advance(time.Minute)
	s = pending()
	full, _, err = e.svc.VerifySecondFactor(e.ctx, s.ID, TOTPCode(secret, e.clk.now()), web)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := e.svc.RegenerateRecoveryCodes(e.ctx, full.ID, web)
	if err != nil || len(fresh) != RecoveryCodes || fresh[0] == codes[0] {
		t.Fatalf("regenerate: %v", err)
	}
	if err := e.svc.DisableTOTP(e.ctx, full.UserID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Session(e.ctx, full.ID); !errors.Is(err, ErrNoSession) {
		t.Fatal("sessions survived a TOTP reset")
	}
	if s, _ := e.login(t, "mlopez", goodPW); s.State != StatePasswordOK {
		t.Fatalf("after reset: %s (enrolment is due again)", s.State)
	}
}

// A servidor público may enrol voluntarily; the enrolment expires.
func TestOptionalTOTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mkUser(t, "jperez", []Role{RoleServidorPublico})
	s, _ := e.login(t, "jperez", goodPW)
	if _, err := e.svc.RegenerateRecoveryCodes(e.ctx, s.ID, web); !errors.Is(err, ErrTOTPNotEnrolled) {
		t.Fatalf("codes without TOTP: %v", err)
	}
	en, err := e.svc.BeginTOTP(e.ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ParseOTPAuthURL(en.URL)
	e.clk.advance(8 * time.Minute)
	e.svc.Session(e.ctx, s.ID) // keep the session alive
	e.clk.advance(8 * time.Minute)
	if _, _, err := e.svc.ConfirmTOTP(e.ctx, s.ID, TOTPCode(k.Secret, e.clk.now()), web); !errors.Is(err, ErrTOTPNoEnrolment) {
		t.Fatalf("late confirmation: %v", err)
	}
	s, _ = e.login(t, "jperez", goodPW)
	en, _ = e.svc.BeginTOTP(e.ctx, s.ID)
	k, _ = ParseOTPAuthURL(en.URL)
	same, _, err := e.svc.ConfirmTOTP(e.ctx, s.ID, TOTPCode(k.Secret, e.clk.now()), web)
	if err != nil || same.ID != s.ID || same.State != StateFull {
		t.Fatalf("voluntary enrolment: %+v %v", same, err)
	}
	if s2, _ := e.login(t, "jperez", goodPW); s2.State != StateTOTPPending {
		t.Fatalf("next login: %s", s2.State)
	}
}

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

func TestCanRead(t *testing.T) {
	t.Parallel()
	sp := &User{Login: "jperez", Roles: []Role{RoleServidorPublico}, Addresses: []string{"jperez@ejemplo.gob.mx", "juan.perez@ejemplo.gob.mx"}}
	aud := &User{Login: "mlopez", Roles: []Role{RoleAuditor, RoleServidorPublico}, Addresses: []string{"maria.lopez@ejemplo.gob.mx"}}
	ut := &User{Login: "ut", Roles: []Role{RoleTransparencia}}
	adm := &User{Login: "ana", Roles: []Role{RoleAdministrador}, Addresses: []string{"ana@ejemplo.gob.mx"}}
	arch := &User{Login: "archivo", Roles: []Role{RoleResponsableArchivo, RoleTitularUnidad}}
	off := &User{Login: "baja", Roles: []Role{RoleAuditor}, Addresses: []string{"baja@ejemplo.gob.mx"}, Disabled: true}
	mine := []string{"Otro <otro@externo.mx>", "Juan Pérez <JPEREZ@Ejemplo.gob.mx>"}
	theirs := []string{"otro@externo.mx", "maria.lopez@ejemplo.gob.mx"}
	nobody := []string{"otro@externo.mx", "quien@ejemplo.gob.mx"}
	for _, tc := range []struct {
		u     *User
		parts []string
		want  Access
	}{
		{sp, mine, AccessOwn},
		{sp, theirs, AccessNone},
		{sp, nobody, AccessNone},
		{sp, nil, AccessNone},
		{sp, []string{"jperez@ejemplo.gob.mx.atacante.mx", "xjperez@ejemplo.gob.mx", "jperez@ejemplo.gob.m"}, AccessNone},
		{sp, []string{"\"jperez@ejemplo.gob.mx\" <otro@externo.mx>"}, AccessNone}, // a display name is not an address
		{aud, theirs, AccessOwn},
		{aud, mine, AccessPrivileged},
		{aud, nobody, AccessPrivileged},
		{ut, nobody, AccessPrivileged},
		{adm, nobody, AccessNone},
		{adm, []string{"ana@ejemplo.gob.mx"}, AccessOwn},
		{arch, nobody, AccessNone},
		{off, []string{"baja@ejemplo.gob.mx"}, AccessNone},
		{off, nobody, AccessNone},
		{nil, mine, AccessNone},
	} {
		if got := ReadAccess(tc.u, tc.parts); got != tc.want {
			t.Errorf("ReadAccess(%v, %q) = %d, want %d", tc.u, tc.parts, got, tc.want)
		}
		if CanRead(tc.u, tc.parts) != (tc.want != AccessNone) {
			t.Errorf("CanRead(%v, %q)", tc.u, tc.parts)
		}
	}
	j := Justification{Text: "Solicitud de información folio 330001-2025"}
	for _, tc := range []struct {
		u     *User
		j     Justification
		parts []string
		want  error
	}{
		{sp, Justification{}, mine, nil},
		{sp, j, nobody, ErrForbidden},
		{aud, Justification{}, nobody, ErrJustificationRequired},
		{aud, Justification{Text: "   porque sí   "}, nobody, ErrJustificationRequired},
		{aud, j, nobody, nil},
		{aud, Justification{}, theirs, nil}, // her own mail needs no justification
		{adm, j, nobody, ErrForbidden},
	} {
		if _, err := AuthorizeRead(tc.u, tc.j, tc.parts); !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Errorf("AuthorizeRead(%s, %q): %v, want %v", tc.u.Login, tc.j.Text, err, tc.want)
		}
	}
	if !adm.Can(PermManageUsers) || sp.Can(PermManageUsers) || !aud.Can(PermAccessLogAll) || off.Can(PermCases) || !ut.Can(PermTransparency) {
		t.Error("permissions")
	}
	if !TOTPRequired(RoleAuditor) || TOTPRequired(RoleServidorPublico) || sp.TOTPRequired() || !aud.TOTPRequired() {
		t.Error("TOTP policy")
	}
	if RoleAuditor.Name(i18n.ES) != "Órgano interno de control / auditor" || RoleServidorPublico.Name(i18n.EN) != "Public servant" {
		t.Error("role names")
	}
}

func TestJustification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	aud, _, _ := e.enrol(t, "mlopez", []Role{RoleAuditor})
	if aud.Justification.Text != "" {
		t.Fatal("justified from the start")
	}
	for _, bad := range []string{"", "porque sí", strings.Repeat("x", MaxJustification+1), "Revisión de contratos\x00 ocultos"} {
		if _, err := e.svc.SetJustification(e.ctx, aud.ID, bad, ""); !errors.Is(err, ErrJustificationInvalid) {
			t.Errorf("justification %q: %v", bad, err)
		}
	}
	s, err := e.svc.SetJustification(e.ctx, aud.ID, "  Auditoría AI-07/2025: contratos de obra pública  ", "AI-07/2025")
	if err != nil || s.Justification.Text != "Auditoría AI-07/2025: contratos de obra pública" || s.Justification.Case != "AI-07/2025" {
		t.Fatalf("set: %+v %v", s, err)
	}
	got, u, err := e.svc.Session(e.ctx, aud.ID)
	if err != nil || !got.Justification.Valid() || !got.Justification.At.Equal(e.clk.now()) {
		t.Fatalf("held in the session: %+v %v", got.Justification, err)
	}
	if _, err := AuthorizeRead(u, got.Justification, []string{"alguien@ejemplo.gob.mx"}); err != nil {
		t.Fatal(err)
	}
	if u.Actor() != "user:mlopez" {
		t.Error(u.Actor())
	}
	e.mkUser(t, "jperez", []Role{RoleServidorPublico})
	sp, _ := e.login(t, "jperez", goodPW)
	if _, err := e.svc.SetJustification(e.ctx, sp.ID, "Quiero leer el correo de otros", ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("servidor público: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Juan <Juan.Perez@Ejemplo.GOB.mx>": "juan.perez@ejemplo.gob.mx",
		" ana@ejemplo.gob.mx ":             "ana@ejemplo.gob.mx",
		"<ana@ejemplo.gob.mx>":             "ana@ejemplo.gob.mx",
		"ana":                              "",
		"@ejemplo.gob.mx":                  "",
		"ana@":                             "",
		"a b@c.mx":                         "",
		"":                                 "",
	} {
		if got := NormalizeAddress(in); got != want {
			t.Errorf("NormalizeAddress(%q) = %q, want %q", in, got, want)
		}
	}
	for in, ok := range map[string]bool{"jperez": true, "J.Perez": true, "juan.perez@ejemplo.gob.mx": true, "svc-resguardo": true,
		"_x": false, "": false, "juan perez": false, "pérez": false, "a)(uid=*": false, strings.Repeat("a", 65): false} {
		if _, err := NormalizeLogin(in); (err == nil) != ok {
			t.Errorf("NormalizeLogin(%q): %v", in, err)
		}
	}
}
