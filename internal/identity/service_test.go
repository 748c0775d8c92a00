package identity

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
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
