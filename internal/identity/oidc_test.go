package identity

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/identity/oidctest"
)

const testRedirect = "https://resguardo.ejemplo.gob.mx/entrar/oidc/callback"

type oidcEnv struct {
	*env
	idp *oidctest.Provider
}

// newOIDCEnv is a service with an OpenID Connect provider (oidctest, a real
// HTTP provider on loopback) sharing the service's clock.
func newOIDCEnv(t *testing.T, mod func(*OIDCConfig)) *oidcEnv {
	t.Helper()
	var idp *oidctest.Provider
	e := newEnv(t, func(o *Options) {
		var err error
		idp, err = oidctest.Start("resguardo", "secreto-del-cliente", testRedirect, o.Now)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(idp.Close)
		cfg := OIDCConfig{Name: "Llave Institucional", Issuer: idp.URL, ClientID: "resguardo", ClientSecret: "secreto-del-cliente",
			RedirectURL: testRedirect, Scopes: []string{"openid", "profile", "email", "groups"}, AutoCreate: true,
			RoleGroups: map[Role][]string{RoleServidorPublico: {"personal"}, RoleAuditor: {"OIC-Auditoria"}, RoleResponsableArchivo: {"archivo"}}}
		if mod != nil {
			mod(&cfg)
		}
		if o.OIDC, err = NewOIDC(cfg); err != nil {
			t.Fatal(err)
		}
	})
	return &oidcEnv{env: e, idp: idp}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize plays the browser: BeginOIDC, then the provider's authorization
// endpoint, which sends it back to the redirect URL with a code (or an error).
func (e *oidcEnv) authorize(t *testing.T) (flow *Session, back url.Values) {
	t.Helper()
	flow, u, err := e.svc.BeginOIDC(e.ctx, web)
	if err != nil {
		t.Fatal(err)
	}
	au, _ := url.Parse(u)
	q := au.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" || q.Get("redirect_uri") != testRedirect {
		t.Fatalf("authorization URL %s", u)
	}
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !stringsHasPrefix(loc.String(), testRedirect) {
		t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return flow, loc.Query()
}

func stringsHasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func (e *oidcEnv) finish(flow *Session, back url.Values) (*Session, *User, error) {
	return e.svc.FinishOIDC(e.ctx, OIDCCallback{Flow: flow.ID, State: back.Get("state"), Code: back.Get("code"),
		Error: back.Get("error"), ErrorDesc: back.Get("error_description"), Client: web})
}

func (e *oidcEnv) loginOIDC(t *testing.T) (*Session, *User) {
	t.Helper()
	s, u, err := e.finish(e.authorize(t))
	if err != nil {
		t.Fatalf("oidc login: %v", err)
	}
	return s, u
}

func (e *oidcEnv) lastEvent(t *testing.T) catalog.LoginEvent {
	t.Helper()
	evs, err := e.svc.LoginEvents(e.ctx, catalog.LoginEventFilter{})
	if err != nil || len(evs) == 0 {
		t.Fatalf("login events: %v", err)
	}
	return evs[0]
}

func person2(login string, groups []string, amr ...string) map[string]any {
	g := make([]any, len(groups))
	for i, x := range groups {
		g[i] = x
	}
	a := make([]any, len(amr))
	for i, x := range amr {
		a[i] = x
	}
	return map[string]any{"sub": "sub-" + login, "preferred_username": login, "name": "Persona " + login,
		"email": login + "@ejemplo.gob.mx", "email_verified": true, "groups": g, "amr": a}
}

func TestOIDCLoginProvisionsAndUpdatesRoles(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, nil)
	if e.svc.OIDCName() != "Llave Institucional" {
		t.Fatal(e.svc.OIDCName())
	}
	e.idp.SetClaims(person2("mgarcia", []string{"personal"}, "pwd"))
	s, u := e.loginOIDC(t)
	if s.State != StateFull || s.Method != MethodOIDC || u.Login != "mgarcia" || u.Source != SourceOIDC ||
		u.ExternalID != "oidc:"+e.idp.URL+"#sub-mgarcia" || !slices.Equal(u.Roles, []Role{RoleServidorPublico}) ||
		!slices.Equal(u.Addresses, []string{"mgarcia@ejemplo.gob.mx"}) || u.DisplayName != "Persona mgarcia" {
		t.Fatalf("first login: %+v %+v", s, u)
	}
	if ev := e.lastEvent(t); ev.Method != MethodOIDC || ev.Result != "ok" || ev.UserID != u.ID || ev.Login != "mgarcia" {
		t.Fatalf("event %+v", ev)
	}
	if _, _, err := e.svc.Session(e.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	// Roles follow the groups at every login; they cannot be edited here.
	e.idp.SetClaims(person2("mgarcia", []string{"archivo", "otro"}, "mfa"))
	s2, u2 := e.loginOIDC(t)
	if u2.ID != u.ID || !slices.Equal(u2.Roles, []Role{RoleResponsableArchivo}) || s2.State != StateFull {
		t.Fatalf("second login: %+v %+v", s2, u2)
	}
	if _, err := e.svc.UpdateUser(e.ctx, u.ID, UserUpdate{Roles: []Role{RoleAdministrador}}); !errors.Is(err, ErrDirectoryUser) {
		t.Fatalf("edit roles of an oidc account: %v", err)
	}
	// No password login for an OIDC account.
	if _, _, err := e.svc.Login(e.ctx, LoginRequest{Login: "mgarcia", Password: goodPW, Client: web}); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("password login: %v", err)
	}
	// Groups mapped to nothing, and no default role: refused.
	e.idp.SetClaims(person2("mgarcia", []string{"otro"}))
	if _, _, err := e.finish(e.authorize(t)); !errors.Is(err, ErrOIDCRefused) || e.lastEvent(t).Result != "no_role" {
		t.Fatalf("no role: %v %+v", err, e.lastEvent(t))
	}
}

func TestOIDCRefusals(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, nil)
	e.idp.SetClaims(person2("jlopez", []string{"personal"}))

	t.Run("bad state", func(t *testing.T) {
		flow, back := e.authorize(t)
		good := back.Get("state")
		back.Set("state", "x"+good[1:])
		if _, _, err := e.finish(flow, back); !errors.Is(err, ErrOIDCState) {
			t.Fatalf("bad state: %v", err)
		}
		back.Set("state", good) // the flow is spent
		if _, _, err := e.finish(flow, back); !errors.Is(err, ErrOIDCState) {
			t.Fatalf("after bad state: %v", err)
		}
		if _, _, err := e.svc.FinishOIDC(e.ctx, OIDCCallback{State: good, Code: back.Get("code"), Client: web}); !errors.Is(err, ErrOIDCState) {
			t.Fatalf("no flow cookie: %v", err)
		}
	})
	t.Run("flow used twice", func(t *testing.T) {
		flow, back := e.authorize(t)
		if _, _, err := e.finish(flow, back); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.finish(flow, back); !errors.Is(err, ErrOIDCState) {
			t.Fatalf("second callback: %v", err)
		}
	})
	t.Run("replayed code", func(t *testing.T) {
		flow, back := e.authorize(t)
		if _, _, err := e.finish(flow, back); err != nil {
			t.Fatal(err)
		}
		flow2, back2 := e.authorize(t)
		back2.Set("code", back.Get("code"))
		if _, _, err := e.finish(flow2, back2); !errors.Is(err, ErrOIDCFailed) || e.lastEvent(t).Result != "token_error" {
			t.Fatalf("replayed code: %v", err)
		}
	})
	t.Run("PKCE verifier mismatch", func(t *testing.T) {
		// Code of flow A (challenge of A) at the callback of flow B: B's verifier.
		_, backA := e.authorize(t)
		flowB, backB := e.authorize(t)
		backB.Set("code", backA.Get("code"))
		if _, _, err := e.finish(flowB, backB); !errors.Is(err, ErrOIDCFailed) || e.lastEvent(t).Result != "token_error" {
			t.Fatalf("pkce mismatch: %v", err)
		}
	})
	t.Run("denied consent", func(t *testing.T) {
		e.idp.Deny(true)
		defer e.idp.Deny(false)
		flow, back := e.authorize(t)
		if _, _, err := e.finish(flow, back); !errors.Is(err, ErrOIDCDenied) || e.lastEvent(t).Result != "denied" {
			t.Fatalf("denied: %v", err)
		}
	})
	t.Run("expired flow", func(t *testing.T) {
		flow, back := e.authorize(t)
		e.clk.advance(11 * time.Minute)
		if _, _, err := e.finish(flow, back); !errors.Is(err, ErrOIDCExpired) {
			t.Fatalf("expired flow: %v", err)
		}
	})
	for _, tc := range []struct {
		name   string
		tamper func(map[string]any)
	}{
		{"wrong nonce", func(c map[string]any) { c["nonce"] = "otro-nonce" }},
		{"no nonce", func(c map[string]any) { delete(c, "nonce") }},
		{"wrong audience", func(c map[string]any) { c["aud"] = "otra-aplicacion" }},
		{"wrong issuer", func(c map[string]any) { c["iss"] = "https://otro.ejemplo" }},
		{"expired token", func(c map[string]any) { c["exp"] = c["iat"].(int64) - 60 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.idp.Tamper(tc.tamper)
			defer e.idp.Tamper(nil)
			flow, back := e.authorize(t)
			if _, _, err := e.finish(flow, back); !errors.Is(err, ErrOIDCFailed) || e.lastEvent(t).Result != "bad_token" {
				t.Fatalf("%s: %v %+v", tc.name, err, e.lastEvent(t))
			}
		})
	}
	t.Run("disabled account", func(t *testing.T) {
		_, u := e.loginOIDC(t)
		if _, err := e.svc.UpdateUser(e.ctx, u.ID, UserUpdate{Disabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.finish(e.authorize(t)); !errors.Is(err, ErrOIDCRefused) || e.lastEvent(t).Result != "disabled" {
			t.Fatalf("disabled: %v", err)
		}
	})
	t.Run("local account of the same login", func(t *testing.T) {
		e.mkUser(t, "ana", []Role{RoleAdministrador})
		e.idp.SetClaims(person2("ana", []string{"personal"}, "mfa"))
		defer e.idp.SetClaims(person2("jlopez", []string{"personal"}))
		if _, _, err := e.finish(e.authorize(t)); !errors.Is(err, ErrOIDCRefused) || e.lastEvent(t).Result != "login_conflict" {
			t.Fatalf("local account: %v", err)
		}
	})
	t.Run("login given to another subject", func(t *testing.T) {
		c := person2("jlopez", []string{"personal"})
		c["sub"] = "otra-persona"
		e.idp.SetClaims(c)
		defer e.idp.SetClaims(person2("jlopez", []string{"personal"}))
		if _, _, err := e.finish(e.authorize(t)); !errors.Is(err, ErrOIDCRefused) || e.lastEvent(t).Result != "subject_mismatch" {
			t.Fatalf("other subject: %v", err)
		}
	})
}

func TestOIDCClientAndPolicy(t *testing.T) {
	t.Parallel()
	t.Run("wrong client secret", func(t *testing.T) {
		e := newOIDCEnv(t, func(c *OIDCConfig) { c.ClientSecret = "otro" })
		e.idp.SetClaims(person2("pepe", []string{"personal"}))
		if _, _, err := e.finish(e.authorize(t)); !errors.Is(err, ErrOIDCFailed) {
			t.Fatalf("client secret: %v", err)
		}
	})
	t.Run("domains and auto_create", func(t *testing.T) {
		e := newOIDCEnv(t, func(c *OIDCConfig) { c.Domains = []string{"ejemplo.gob.mx"}; c.AutoCreate = false })
		c := person2("pepe", []string{"personal"})
		c["email"] = "pepe@gmail.com"
		e.idp.SetClaims(c)
		if _, _, err := e.finish(e.authorize(t)); !errors.Is(err, ErrOIDCRefused) || e.lastEvent(t).Result != "domain_not_allowed" {
			t.Fatalf("domain: %v", err)
		}
		c = person2("pepe", []string{"personal"})
		c["email_verified"] = false
		e.idp.SetClaims(c)
		if _, _, err := e.finish(e.authorize(t)); !errors.Is(err, ErrOIDCRefused) || e.lastEvent(t).Result != "domain_not_allowed" {
			t.Fatalf("unverified email: %v", err)
		}
		e.idp.SetClaims(person2("pepe", []string{"personal"}))
		if _, _, err := e.finish(e.authorize(t)); !errors.Is(err, ErrOIDCRefused) || e.lastEvent(t).Result != "no_account" {
			t.Fatalf("auto_create off: %v", err)
		}
	})
	t.Run("default role", func(t *testing.T) {
		e := newOIDCEnv(t, func(c *OIDCConfig) { c.DefaultRole = RoleServidorPublico })
		e.idp.SetClaims(person2("pepe", nil))
		if _, u := e.loginOIDC(t); !slices.Equal(u.Roles, []Role{RoleServidorPublico}) {
			t.Fatalf("default role: %v", u.Roles)
		}
	})
}

// TestOIDCSecondFactor: a role that needs TOTP gets the local TOTP steps unless
// the ID token's amr shows a second factor or the provider is trusted for it.
func TestOIDCSecondFactor(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, nil)
	e.idp.SetClaims(person2("auditora", []string{"OIC-Auditoria"}, "pwd"))
	s, u := e.loginOIDC(t)
	if s.State != StatePasswordOK || !u.TOTPRequired() {
		t.Fatalf("amr pwd, no TOTP yet: %s (enrolment due)", s.State)
	}
	en, err := e.svc.BeginTOTP(e.ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ParseOTPAuthURL(en.URL)
	full, _, err := e.svc.ConfirmTOTP(e.ctx, s.ID, TOTPCode(k.Secret, e.clk.now()), web)
	if err != nil || full.State != StateFull {
		t.Fatalf("enrol: %v", err)
	}
	e.clk.advance(time.Minute)
	s, _ = e.loginOIDC(t)
	if s.State != StateTOTPPending {
		t.Fatalf("amr pwd with TOTP: %s", s.State)
	}
	s, _, err = e.svc.VerifySecondFactor(e.ctx, s.ID, TOTPCode(k.Secret, e.clk.now()), web)
	if err != nil || s.State != StateFull || s.Method != MethodOIDC {
		t.Fatalf("totp after oidc: %+v %v", s, err)
	}
	for _, amr := range [][]string{{"pwd", "mfa"}, {"otp"}, {"hwk", "pwd"}} {
		e.idp.SetClaims(person2("auditora", []string{"OIC-Auditoria"}, amr...))
		if s, _ := e.loginOIDC(t); s.State != StateFull {
			t.Fatalf("amr %v: %s", amr, s.State)
		}
	}
	trusted := newOIDCEnv(t, func(c *OIDCConfig) { c.TrustIdPMFA = true })
	trusted.idp.SetClaims(person2("auditora", []string{"OIC-Auditoria"}))
	if s, _ := trusted.loginOIDC(t); s.State != StateFull {
		t.Fatalf("trust_idp_mfa: %s", s.State)
	}
}

func TestOIDCConfigErrors(t *testing.T) {
	t.Parallel()
	ok := OIDCConfig{Issuer: "https://idp.ejemplo.gob.mx/realms/gob", ClientID: "resguardo", RedirectURL: testRedirect}
	if o, err := NewOIDC(ok); err != nil || o.Name() != "idp.ejemplo.gob.mx" || o.cfg.Scopes[0] != "openid" {
		t.Fatalf("%v", err)
	}
	for _, mod := range []func(*OIDCConfig){
		func(c *OIDCConfig) { c.Issuer = "http://idp.ejemplo.gob.mx" },
		func(c *OIDCConfig) { c.Issuer = "idp" },
		func(c *OIDCConfig) { c.ClientID = "" },
		func(c *OIDCConfig) { c.RedirectURL = "/entrar/oidc/callback" },
		func(c *OIDCConfig) { c.DefaultRole = "jefe" },
		func(c *OIDCConfig) { c.RoleGroups = map[Role][]string{"jefe": {"x"}} },
	} {
		c := ok
		mod(&c)
		if _, err := NewOIDC(c); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}
