package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/identity/ldaptest"
)

// equalityValue returns the attribute and value of an equality filter packet.
func equalityValue(p *ber.Packet) (string, string, bool) {
	if p == nil || p.Tag != ldap.FilterEqualityMatch || len(p.Children) != 2 {
		return "", "", false
	}
	a, _ := p.Children[0].Value.(string)
	v, _ := p.Children[1].Value.(string)
	return a, v, true
}

// checkFilter compiles BuildFilter(template, value) for the two templates used
// below and checks the login stayed one equality assertion with exactly value.
func checkFilter(t *testing.T, value string) {
	t.Helper()
	p, err := ldap.CompileFilter(BuildFilter("(uid=%s)", value))
	if err != nil {
		t.Fatalf("%q: %v", value, err)
	}
	if a, v, ok := equalityValue(p); !ok || a != "uid" || v != value {
		t.Fatalf("%q became %s", value, ldap.EscapeFilter(value))
	}
	p, err = ldap.CompileFilter(BuildFilter("(&(objectClass=inetOrgPerson)(|(uid=%s)(mail=%s)))", value))
	if err != nil {
		t.Fatalf("%q: %v", value, err)
	}
	if p.Tag != ldap.FilterAnd || len(p.Children) != 2 || p.Children[1].Tag != ldap.FilterOr || len(p.Children[1].Children) != 2 {
		t.Fatalf("%q changed the filter's structure", value)
	}
	for i, attr := range []string{"uid", "mail"} {
		if a, v, ok := equalityValue(p.Children[1].Children[i]); !ok || a != attr || v != value {
			t.Fatalf("%q: %s=%q", value, a, v)
		}
	}
}

func TestBuildFilterInjection(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"jperez", "*)(uid=*", "*", "jperez)(|(uid=*", "admin*", `\2a`, "a\x00b", "prueba(*)", "núñez", "))(((", `\`} {
		checkFilter(t, v)
	}
	if got := BuildFilter("(&(objectClass=user)(sAMAccountName=%s))", "*)(uid=*"); got != `(&(objectClass=user)(sAMAccountName=\2a\29\28uid=\2a))` {
		t.Fatalf("escaped filter %s", got)
	}
}

// FuzzBuildFilter: whatever a person types as login stays a single value.
func FuzzBuildFilter(f *testing.F) {
	for _, s := range []string{"jperez", "*)(uid=*", "*", ")(objectClass=*", `\28`, "ñ\xff", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if v == "" {
			return // Authenticate refuses an empty login
		}
		checkFilter(t, v)
	})
}

func ldapConfig(s *ldaptest.Server) LDAPConfig {
	return LDAPConfig{
		URL: s.URL, StartTLS: true, TLS: &tls.Config{RootCAs: s.CertPool()},
		BindDN: ldaptest.ServiceDN, BindPassword: ldaptest.ServicePassword, BaseDN: ldaptest.BaseDN,
		UserFilter: "(&(objectClass=inetOrgPerson)(uid=%s))", LoginAttribute: "uid",
		RoleGroups: map[Role][]string{
			RoleAdministrador:   {strings.ToUpper(ldaptest.GroupAdministradores)}, // DNs compare case-insensitively
			RoleAuditor:         {ldaptest.GroupAuditores},
			RoleTransparencia:   {ldaptest.GroupTransparencia},
			RoleServidorPublico: {ldaptest.GroupServidores},
		},
		Timeout: 5 * time.Second,
	}
}

func person(uid string) ldaptest.Person {
	for _, p := range ldaptest.People {
		if p.UID == uid {
			return p
		}
	}
	panic(uid)
}

// TestLDAP runs against a real OpenLDAP (Debian's slapd), started for the test.
func TestLDAP(t *testing.T) {
	t.Parallel()
	srv := ldaptest.Start(t)
	ctx := context.Background()

	memberOf := ldapConfig(srv)
	search := ldapConfig(srv)
	search.URL, search.StartTLS = srv.LDAPSURL, false
	search.Groups, search.GroupBaseDN = "search", ldaptest.GroupsDN
	search.GroupFilter = "(&(objectClass=groupOfNames)(member=%s))"
	plain := ldapConfig(srv)
	plain.StartTLS, plain.AllowInsecure, plain.TLS = false, true, nil

	for name, cfg := range map[string]LDAPConfig{"StartTLS+memberOf": memberOf, "LDAPS+group search": search, "plain (allowed)": plain} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l, err := NewLDAP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Check(ctx); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				uid   string
				roles []Role
			}{
				{"jperez", []Role{RoleServidorPublico}},
				{"mlopez", []Role{RoleAuditor, RoleServidorPublico}},
				{"agarcia", []Role{RoleAdministrador, RoleTransparencia}},
				{"rsanchez", nil}, // only in a group mapped to nothing
				{"prueba(*)", []Role{RoleServidorPublico}},
			} {
				p := person(tc.uid)
				du, err := l.Authenticate(ctx, p.UID, p.Password)
				if err != nil {
					t.Fatalf("%s: %v", p.UID, err)
				}
				if du.DN != p.DN() || du.Login != p.UID || du.DisplayName != p.DisplayName || !slices.Equal(du.Addresses, p.Mail) ||
					!slices.Equal(du.Roles, tc.roles) || len(du.Groups) != len(p.Groups) {
					t.Errorf("%s: %+v", p.UID, du)
				}
			}
			for _, tc := range []struct{ login, pw string }{
				{"jperez", "Maria-Lopez-2024!"}, // someone else's password
				{"jperez", ""},                  // would be an unauthenticated bind
				{"nadie", "Juan-Perez-2024!"},
				{"*", "Juan-Perez-2024!"},
				{"*)(uid=*", "Juan-Perez-2024!"},
				{"jperez)(|(uid=*", "Juan-Perez-2024!"},
				{"prueba*", "Prueba-Escape-2024!"}, // "*" is literal: no prefix match
			} {
				du, err := l.Authenticate(ctx, tc.login, tc.pw)
				if !errors.Is(err, ErrInvalidCredentials) {
					t.Errorf("%q/%q: %+v %v, want invalid credentials", tc.login, tc.pw, du, err)
				}
			}
		})
	}

	t.Run("failures", func(t *testing.T) {
		t.Parallel()
		wrongSvc := ldapConfig(srv)
		wrongSvc.BindPassword = "incorrecta"
		l, _ := NewLDAP(wrongSvc)
		p := person("jperez")
		if _, err := l.Authenticate(ctx, p.UID, p.Password); err == nil || errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("wrong service password: %v (must not look like the user's mistake)", err)
		}
		untrusted := ldapConfig(srv)
		untrusted.TLS = &tls.Config{RootCAs: x509.NewCertPool()}
		l, _ = NewLDAP(untrusted)
		if err := l.Check(ctx); err == nil || !strings.Contains(err.Error(), "StartTLS") {
			t.Errorf("untrusted certificate: %v", err)
		}
		down := ldapConfig(srv)
		down.URL = "ldap://127.0.0.1:1"
		l, _ = NewLDAP(down)
		if _, err := l.Authenticate(ctx, p.UID, p.Password); err == nil || errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("directory down: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		l, _ = NewLDAP(ldapConfig(srv))
		if _, err := l.Authenticate(cctx, p.UID, p.Password); err == nil {
			t.Error("cancelled context")
		}
	})

	t.Run("service", func(t *testing.T) {
		t.Parallel()
		cfg := ldapConfig(srv)
		dir, err := NewLDAP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, func(o *Options) { o.Directory = dir })
		// First login provisions the account from the directory.
		jp := person("jperez")
		s, u := e.login(t, "JPerez", jp.Password)
		if u.Source != "ldap" || u.ExternalID != jp.DN() || u.DisplayName != jp.DisplayName || !slices.Equal(u.Addresses, slices.Sorted(slices.Values(jp.Mail))) ||
			!slices.Equal(u.Roles, []Role{RoleServidorPublico}) || s.State != StateFull || s.Method != MethodLDAP {
			t.Fatalf("provisioned %+v, session %+v", u, s)
		}
		if !CanRead(u, []string{"Juan <juan.perez@ejemplo.gob.mx>"}) || CanRead(u, []string{"maria.lopez@ejemplo.gob.mx"}) {
			t.Error("CanRead of a directory user")
		}
		// The second login finds the account; nothing changes but the session.
		if _, u2 := e.login(t, "jperez", jp.Password); u2.ID != u.ID {
			t.Fatalf("second login made another account: %d vs %d", u2.ID, u.ID)
		}
		if _, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "jperez", Password: "Incorrecta-123", Client: web}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		// An auditor from the directory must enrol TOTP.
		ml := person("mlopez")
		s, u = e.login(t, "mlopez", ml.Password)
		if s.State != StatePasswordOK || !u.Has(RoleAuditor) {
			t.Fatalf("auditor: %s %+v", s.State, u.Roles)
		}
		if _, err := e.svc.ChangePassword(e.ctx, s.ID, ml.Password, "Otra-contraseña-2025", web); !errors.Is(err, ErrDirectoryUser) {
			t.Fatalf("password change of a directory user: %v", err)
		}
		if _, err := e.svc.UpdateUser(e.ctx, u.ID, UserUpdate{Roles: []Role{RoleAdministrador}}); !errors.Is(err, ErrDirectoryUser) {
			t.Fatalf("local role change of a directory user: %v", err)
		}
		// No mapped group, no default role: refused, generically.
		rs := person("rsanchez")
		if _, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "rsanchez", Password: rs.Password, Client: web}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("no role: %v", err)
		}
		// A local account of the same name is never checked against the directory.
		e.mkUser(t, "agarcia", []Role{RoleServidorPublico})
		if _, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "agarcia", Password: person("agarcia").Password, Client: web}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("directory password for a local account: %v", err)
		}
		// Disabled locally: refused even with the right directory password.
		if _, err := e.svc.UpdateUser(e.ctx, u.ID, UserUpdate{Disabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "mlopez", Password: ml.Password, Client: web}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("disabled directory user: %v", err)
		}
		evs, _ := e.svc.LoginEvents(e.ctx, catalog.LoginEventFilter{})
		var results []string
		for _, ev := range evs {
			if ev.Method == MethodLDAP && ev.Result != "ok" {
				results = append(results, ev.Login+" "+ev.Result)
			}
		}
		if !slices.Equal(results, []string{"mlopez disabled", "rsanchez no_role", "jperez bad_password"}) {
			t.Fatalf("ldap failures logged: %q", results)
		}
	})

	t.Run("default role", func(t *testing.T) {
		t.Parallel()
		cfg := ldapConfig(srv)
		cfg.DefaultRole = RoleServidorPublico
		cfg.RoleGroups = nil
		dir, err := NewLDAP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, func(o *Options) { o.Directory = dir })
		if _, u := e.login(t, "rsanchez", person("rsanchez").Password); !slices.Equal(u.Roles, []Role{RoleServidorPublico}) {
			t.Fatalf("default role: %v", u.Roles)
		}
	})

	t.Run("entry id", func(t *testing.T) {
		t.Parallel()
		cfg := ldapConfig(srv)
		cfg.IDAttribute = "entryUUID"
		dir, err := NewLDAP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, func(o *Options) { o.Directory = dir })
		jp := person("jperez")
		_, u := e.login(t, "jperez", jp.Password)
		if !strings.HasPrefix(u.ExternalID, "entryUUID:") || len(u.ExternalID) != len("entryUUID:")+36 {
			t.Fatalf("external id %q", u.ExternalID)
		}
		// The login now names another person's entry (it was given to someone
		// new): the old account is not theirs to inherit.
		cu, _ := e.cat.UserByID(e.ctx, u.ID)
		cu.ExternalID = "entryUUID:00000000-0000-0000-0000-000000000000"
		if err := e.cat.UpdateUser(e.ctx, cu); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "jperez", Password: jp.Password, Client: web}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("reused login: %v", err)
		}
		// An account provisioned before id_attribute was set (DN) is upgraded.
		cu.ExternalID = jp.DN()
		e.cat.UpdateUser(e.ctx, cu)
		if _, u2 := e.login(t, "jperez", jp.Password); u2.ID != u.ID || u2.ExternalID != u.ExternalID {
			t.Fatalf("upgrade: %+v", u2)
		}
	})

	t.Run("directory down", func(t *testing.T) {
		t.Parallel()
		cfg := ldapConfig(srv)
		cfg.URL = "ldap://127.0.0.1:1"
		dir, _ := NewLDAP(cfg)
		e := newEnv(t, func(o *Options) { o.Directory = dir })
		_, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "jperez", Password: "Juan-Perez-2024!", Client: web})
		if !errors.Is(err, ErrDirectoryUnavailable) {
			t.Fatalf("directory down: %v", err)
		}
		if d, _ := e.svc.Locked(e.ctx, "jperez"); d != 0 {
			t.Fatal("an unreachable directory counted as a failure")
		}
	})
}

func TestLDAPConfigErrors(t *testing.T) {
	t.Parallel()
	ok := LDAPConfig{URL: "ldaps://dc1.ejemplo.gob.mx", BaseDN: "dc=ejemplo,dc=gob,dc=mx", UserFilter: "(uid=%s)", DefaultRole: RoleServidorPublico}
	if _, err := NewLDAP(ok); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*LDAPConfig){
		"http url":          func(c *LDAPConfig) { c.URL = "http://dc1" },
		"clear text":        func(c *LDAPConfig) { c.URL = "ldap://dc1" },
		"ldaps + starttls":  func(c *LDAPConfig) { c.StartTLS = true },
		"no base":           func(c *LDAPConfig) { c.BaseDN = "" },
		"filter without %s": func(c *LDAPConfig) { c.UserFilter = "(uid=juan)" },
		"broken filter":     func(c *LDAPConfig) { c.UserFilter = "(uid=%s" },
		"groups mode":       func(c *LDAPConfig) { c.Groups = "todos" },
		"group filter":      func(c *LDAPConfig) { c.Groups = "search" },
		"unknown role":      func(c *LDAPConfig) { c.RoleGroups = map[Role][]string{"jefe": {"cn=x"}} },
		"bad group DN":      func(c *LDAPConfig) { c.RoleGroups = map[Role][]string{RoleAuditor: {"no es DN"}} },
		"bad default":       func(c *LDAPConfig) { c.DefaultRole = "jefe" },
		"no mapping":        func(c *LDAPConfig) { c.DefaultRole = "" },
	} {
		c := ok
		mod(&c)
		if _, err := NewLDAP(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
