package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/resguardo/resguardo/internal/catalog"
)

// MethodOIDC is the login-log method (and session method) of OpenID Connect logins.
const MethodOIDC = "oidc"

// SourceOIDC is the users.source of accounts an OpenID Connect provider provisions.
const SourceOIDC = "oidc"

// MFAMethods are the RFC 8176 "amr" values that show the provider checked a
// second factor: "mfa" (multiple factors), "otp" (a one-time password), "hwk"
// (a hardware key: FIDO2/WebAuthn, smart card).
var MFAMethods = []string{"mfa", "otp", "hwk"}

// OIDCConfig configures login with an OpenID Connect provider (Authorization
// Code flow with PKCE S256, state and nonce; docs/IDENTITY.md).
type OIDCConfig struct {
	Name         string // the provider's name on the login button ("Entrar con <Name>"); the issuer's host when empty
	Issuer       string // https://…; http:// only on loopback (tests)
	ClientID     string
	ClientSecret string
	RedirectURL  string   // https://resguardo.ejemplo.gob.mx/entrar/oidc/callback
	Scopes       []string // "openid" is always asked for; ["openid","profile","email"] when empty
	LoginClaim   string   // the account's login; "preferred_username"
	NameClaim    string   // display name; "name"
	EmailClaim   string   // the address the account owns (when verified); "email"
	GroupsClaim  string   // groups to map to roles; "groups"
	RoleGroups   map[Role][]string
	DefaultRole  Role     // for people in none of the groups; "": they may not log in
	Domains      []string // allowed domains of a verified email; empty: any
	AutoCreate   bool     // create the account at its first login
	TrustIdPMFA  bool     // every login from this provider counts as two-factor
	HTTPClient   *http.Client
	FlowTTL      time.Duration // from /entrar/oidc to the callback; 10 min
}

// OIDC is a configured OpenID Connect provider. Its discovery document is
// fetched at the first login (and again after a failure), so serve starts
// while the provider is unreachable.
type OIDC struct {
	cfg OIDCConfig

	mu       sync.Mutex
	provider *oidc.Provider
}

// NewOIDC checks cfg and returns the provider (discovery happens later).
func NewOIDC(cfg OIDCConfig) (*OIDC, error) {
	iu, err := url.Parse(cfg.Issuer)
	if err != nil || iu.Host == "" || (iu.Scheme != "https" && !(iu.Scheme == "http" && loopbackHost(iu.Hostname()))) {
		return nil, fmt.Errorf("oidc issuer: want https://host/…, got %q", cfg.Issuer)
	}
	ru, err := url.Parse(cfg.RedirectURL)
	if err != nil || ru.Host == "" || (ru.Scheme != "https" && ru.Scheme != "http") {
		return nil, fmt.Errorf("oidc redirect_url: want an absolute http(s) URL, got %q", cfg.RedirectURL)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("oidc: client_id is required")
	}
	if cfg.LoginClaim == "" {
		cfg.LoginClaim = "preferred_username"
	}
	if cfg.NameClaim == "" {
		cfg.NameClaim = "name"
	}
	if cfg.EmailClaim == "" {
		cfg.EmailClaim = "email"
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.Name == "" {
		cfg.Name = iu.Hostname()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.FlowTTL <= 0 {
		cfg.FlowTTL = 10 * time.Minute
	}
	for r := range cfg.RoleGroups {
		if !r.Valid() {
			return nil, fmt.Errorf("oidc roles: unknown role %q", r)
		}
	}
	if cfg.DefaultRole != "" && !cfg.DefaultRole.Valid() {
		return nil, fmt.Errorf("oidc default_role: unknown role %q", cfg.DefaultRole)
	}
	for i, d := range cfg.Domains {
		cfg.Domains[i] = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
	}
	return &OIDC{cfg: cfg}, nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Name is the provider's name for the login button.
func (o *OIDC) Name() string { return o.cfg.Name }

func (o *OIDC) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.cfg.HTTPClient)
}

// discover returns the provider from its discovery document (cached once fetched).
func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: o.cfg.RedirectURL, Scopes: o.cfg.Scopes}
}

// roles maps the groups claim to roles (group names compared case-insensitively).
func (o *OIDC) roles(groups []string) []Role {
	var out []Role
	for _, r := range Roles {
		for _, g := range o.cfg.RoleGroups[r] {
			if slices.ContainsFunc(groups, func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), strings.TrimSpace(g)) }) {
				out = append(out, r)
				break
			}
		}
	}
	if len(out) == 0 && o.cfg.DefaultRole != "" {
		out = []Role{o.cfg.DefaultRole}
	}
	return out
}

// flowSecret derives one of a flow's secrets (state, nonce, PKCE verifier) from
// its session id: 256 bits, base64url (43 characters, a valid RFC 7636
// verifier). Only the holder of the flow cookie can know them, and they die
// with the flow's session.
func flowSecret(id, label string) string {
	m := hmac.New(sha256.New, []byte(id))
	m.Write([]byte("resguardo-oidc/" + label))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// OIDCName is the configured provider's name for the login page; "" when OpenID
// Connect is not configured.
func (s *Service) OIDCName() string {
	if s.opt.OIDC == nil {
		return ""
	}
	return s.opt.OIDC.Name()
}

// BeginOIDC starts a login with the OpenID Connect provider: it creates the
// flow's own anonymous session (method oidc, FlowTTL long), whose id goes in
// a cookie that must come back with the callback (see OIDCFlowCookie), and
// returns the provider's authorization URL with the flow's state, nonce and
// PKCE S256 challenge, all derived from that id.
func (s *Service) BeginOIDC(ctx context.Context, c Client) (*Session, string, error) {
	o := s.opt.OIDC
	if o == nil {
		return nil, "", ErrOIDCUnavailable
	}
	p, err := o.discover(ctx)
	if err != nil {
		s.log.Warn("oidc discovery failed", "issuer", o.cfg.Issuer, "err", err)
		return nil, "", ErrOIDCUnavailable
	}
	flow, err := s.issue(ctx, 0, StateAnonymous, MethodOIDC, c, "")
	if err != nil {
		return nil, "", err
	}
	u := o.oauth(p).AuthCodeURL(flowSecret(flow.ID, "state"), oidc.Nonce(flowSecret(flow.ID, "nonce")),
		oauth2.S256ChallengeOption(flowSecret(flow.ID, "pkce")))
	return flow, u, nil
}

// OIDCCallback is what came back to the redirect URL.
type OIDCCallback struct {
	Flow             string // the flow cookie's value (BeginOIDC's session id)
	State, Code      string
	Error, ErrorDesc string // the provider's error and error_description, if any
	Client           Client
	// Session is the login page's anonymous session, if its cookie came along:
	// it is replaced by the new session.
	Session string
}

// FinishOIDC completes a login with the OpenID Connect provider. The flow's
// session must exist, be unexpired and unused (it is deleted first, so a
// callback works once), and the state must match; the code is exchanged with
// the PKCE verifier and the client secret; the ID token is verified (signature
// by the provider's JWKS, issuer, audience, expiry) and its nonce must be the
// flow's. The login claim names the account; it is created at the first login
// (AutoCreate) with source oidc, and its name, verified address and roles
// (from the groups claim) are refreshed at every login. The new session goes
// through the same steps as a password login, except that an ID token whose
// amr shows a second factor (MFAMethods), or any token with TrustIdPMFA,
// satisfies the second factor. Every attempt is in the login log (method oidc).
func (s *Service) FinishOIDC(ctx context.Context, cb OIDCCallback) (*Session, *User, error) {
	o := s.opt.OIDC
	c := cb.Client
	refuse := func(login string, userID int64, result, detail string, err error) (*Session, *User, error) {
		if lerr := s.event(ctx, login, userID, c, MethodOIDC, result, detail); lerr != nil {
			return nil, nil, lerr
		}
		return nil, nil, err
	}
	if o == nil {
		return nil, nil, ErrOIDCUnavailable
	}
	if !validSessionID(cb.Flow) {
		return refuse("", 0, "bad_state", "no flow cookie", ErrOIDCState)
	}
	h := sessionHash(cb.Flow)
	fs, err := s.st.SessionByHash(ctx, h)
	switch {
	case errors.Is(err, catalog.ErrNoSession):
		return refuse("", 0, "bad_state", "unknown or used flow", ErrOIDCState)
	case err != nil:
		return nil, nil, err
	}
	if fs.UserID != 0 || fs.State != string(StateAnonymous) || fs.Method != MethodOIDC {
		return refuse("", 0, "bad_state", "not a flow session", ErrOIDCState)
	}
	// One use: whoever deletes the flow's session owns the callback.
	if deleted, err := s.st.DeleteSession(ctx, h); err != nil {
		return nil, nil, err
	} else if !deleted {
		return refuse("", 0, "bad_state", "flow used concurrently", ErrOIDCState)
	}
	if !s.now().Before(fs.ExpiresAt) {
		return refuse("", 0, "expired", "", ErrOIDCExpired)
	}
	if subtle.ConstantTimeCompare([]byte(cb.State), []byte(flowSecret(cb.Flow, "state"))) != 1 {
		return refuse("", 0, "bad_state", "state mismatch", ErrOIDCState)
	}
	if cb.Error != "" {
		if cb.Error == "access_denied" {
			return refuse("", 0, "denied", clip(cb.Error+": "+cb.ErrorDesc, 300), ErrOIDCDenied)
		}
		return refuse("", 0, "provider_error", clip(cb.Error+": "+cb.ErrorDesc, 300), ErrOIDCFailed)
	}
	p, err := o.discover(ctx)
	if err != nil {
		s.log.Warn("oidc discovery failed", "issuer", o.cfg.Issuer, "err", err)
		return refuse("", 0, "provider_error", clip(err.Error(), 300), ErrOIDCUnavailable)
	}
	octx := o.ctx(ctx)
	tok, err := o.oauth(p).Exchange(octx, cb.Code, oauth2.VerifierOption(flowSecret(cb.Flow, "pkce")))
	if err != nil {
		s.log.Warn("oidc code exchange failed", "err", err)
		return refuse("", 0, "token_error", clip(err.Error(), 300), ErrOIDCFailed)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return refuse("", 0, "bad_token", "no id_token", ErrOIDCFailed)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: s.opt.Now}).Verify(octx, raw)
	if err != nil {
		s.log.Warn("oidc id token refused", "err", err)
		return refuse("", 0, "bad_token", clip(err.Error(), 300), ErrOIDCFailed)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(flowSecret(cb.Flow, "nonce"))) != 1 {
		return refuse("", 0, "bad_token", "nonce mismatch", ErrOIDCFailed)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return refuse("", 0, "bad_token", clip(err.Error(), 300), ErrOIDCFailed)
	}
	return s.oidcAccount(ctx, cb, idt.Issuer, idt.Subject, claims)
}

// oidcAccount finds or provisions the account of a verified ID token and logs it in.
func (s *Service) oidcAccount(ctx context.Context, cb OIDCCallback, issuer, subject string, claims map[string]any) (*Session, *User, error) {
	o, c := s.opt.OIDC, cb.Client
	raw := claimString(claims, o.cfg.LoginClaim)
	login, lerr := NormalizeLogin(raw)
	refuse := func(userID int64, result string) (*Session, *User, error) {
		if err := s.event(ctx, firstNonEmpty(login, raw), userID, c, MethodOIDC, result, "sub="+clip(subject, 200)); err != nil {
			return nil, nil, err
		}
		return nil, nil, ErrOIDCRefused
	}
	if lerr != nil {
		return refuse(0, "bad_login_claim")
	}
	email := strings.ToLower(strings.TrimSpace(claimString(claims, o.cfg.EmailClaim)))
	if v, ok := claims["email_verified"].(bool); ok && !v {
		email = "" // an unverified address is not the person's
	}
	if len(o.cfg.Domains) > 0 {
		_, domain, _ := strings.Cut(email, "@")
		if email == "" || !slices.Contains(o.cfg.Domains, domain) {
			return refuse(0, "domain_not_allowed")
		}
	}
	groups := claimStrings(claims, o.cfg.GroupsClaim)
	du := &DirectoryUser{ID: "oidc:" + issuer + "#" + subject, Login: login, DisplayName: claimString(claims, o.cfg.NameClaim),
		Groups: groups, Roles: o.roles(groups)}
	if email != "" {
		du.Addresses = []string{email}
	}
	keys := s.keys(login, c.IP)
	if wait, err := s.lockedFor(ctx, keys); err != nil {
		return nil, nil, err
	} else if wait > 0 {
		if err := s.event(ctx, login, 0, c, MethodOIDC, "throttled", ""); err != nil {
			return nil, nil, err
		}
		return nil, nil, throttledErr(wait)
	}
	cu, err := s.st.UserByLogin(ctx, login)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, catalog.ErrNoUser):
		return nil, nil, err
	case exists && cu.Source != SourceOIDC:
		// A local or directory account of the same login is never taken over.
		return refuse(cu.ID, "login_conflict")
	case exists && cu.ExternalID != "" && cu.ExternalID != du.ID:
		// The login was given to someone else at the provider.
		s.log.Warn("oidc login refused: the account belongs to another subject", "login", login, "account", cu.ExternalID, "subject", du.ID)
		return refuse(cu.ID, "subject_mismatch")
	case exists && cu.Disabled:
		return refuse(cu.ID, "disabled")
	case !exists && !o.cfg.AutoCreate:
		return refuse(0, "no_account")
	}
	if len(du.Roles) == 0 {
		return refuse(cu.ID, "no_role")
	}
	u, err := s.provisionAs(ctx, SourceOIDC, login, du, cu, exists)
	if err != nil {
		return nil, nil, err
	}
	amr := claimStrings(claims, "amr")
	mfa := o.cfg.TrustIdPMFA || slices.ContainsFunc(amr, func(m string) bool { return slices.Contains(MFAMethods, strings.ToLower(m)) })
	return s.loggedInWith(ctx, LoginRequest{Login: login, Client: c, Session: cb.Session}, u, MethodOIDC, mfa,
		"amr="+clip(strings.Join(amr, ","), 100))
}

func claimString(claims map[string]any, name string) string {
	v, _ := claims[name].(string)
	return v
}

// claimStrings reads a claim that is a list of strings (or one string).
func claimStrings(claims map[string]any, name string) []string {
	switch v := claims[name].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// OIDCFlowCookieName is the name of the cookie that carries an OpenID Connect
// flow's id from /entrar/oidc to the callback.
func OIDCFlowCookieName(tls bool) string {
	if tls {
		return "__Host-resguardo-oidc"
	}
	return "resguardo-oidc"
}

// OIDCFlowCookie carries the flow's id to the callback. Unlike the session
// cookie it is SameSite=Lax: the callback is a top-level navigation from the
// provider's site, on which browsers do not send Strict cookies.
func OIDCFlowCookie(flow *Session, tls bool, ttl time.Duration) *http.Cookie {
	return &http.Cookie{Name: OIDCFlowCookieName(tls), Value: flow.ID, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: tls, SameSite: http.SameSiteLaxMode}
}

// ClearOIDCFlowCookie deletes the flow cookie.
func ClearOIDCFlowCookie(tls bool) *http.Cookie {
	return &http.Cookie{Name: OIDCFlowCookieName(tls), Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(1, 0),
		HttpOnly: true, Secure: tls, SameSite: http.SameSiteLaxMode}
}

// OIDCFlowTTL is how long a flow may take (0 when OpenID Connect is not configured).
func (s *Service) OIDCFlowTTL() time.Duration {
	if s.opt.OIDC == nil {
		return 0
	}
	return s.opt.OIDC.cfg.FlowTTL
}
