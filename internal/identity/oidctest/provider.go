// Package oidctest is a small OpenID Connect provider for tests: discovery
// document, JWKS, an authorization endpoint that redirects with a code, and a
// token endpoint that checks the client secret, the redirect URI and the PKCE
// verifier (S256), spends each code once, and returns an RS256-signed ID token.
// It speaks the real protocol over HTTP to the real client
// (github.com/coreos/go-oidc and golang.org/x/oauth2), so the tests exercise
// them, not a mock of them.
//
// Why not a real provider such as dex: the Go module proxy serves dex only as
// v2.13.0+incompatible (2018, before Go modules); later versions have a module
// path without the /v2 suffix and are refused, so it cannot be built here.
package oidctest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Provider is a running test provider. Set the fields that shape the next
// logins before (or between) them; they are read under the lock.
type Provider struct {
	URL          string // the issuer
	ClientID     string
	ClientSecret string
	RedirectURL  string // the only redirect URI accepted

	mu  sync.Mutex
	srv *httptest.Server
	key *rsa.PrivateKey
	now func() time.Time
	// Claims go into the next ID tokens (sub, preferred_username, groups, amr, …).
	claims map[string]any
	deny   bool
	tamper func(map[string]any)
	codes  map[string]*grant
	// TokenRequests counts requests to the token endpoint.
	tokenRequests int
}

type grant struct {
	challenge, nonce, redirect string
	claims                     map[string]any
	used                       bool
}

// Start runs a provider on 127.0.0.1 until Close; now is its clock (ID token
// iat and exp), nil for time.Now.
func Start(clientID, clientSecret, redirectURL string, now func() time.Time) (*Provider, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	p := &Provider{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL, key: key, now: now,
		codes: map[string]*grant{}, claims: map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the provider.
func (p *Provider) Close() { p.srv.Close() }

// SetClaims replaces the claims of the ID tokens of the next authorizations.
func (p *Provider) SetClaims(c map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims = c
}

// Deny makes the authorization endpoint answer error=access_denied (the person
// refused consent) while on is true.
func (p *Provider) Deny(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deny = on
}

// Tamper changes every ID token's claims just before signing (nil: none), to
// issue wrong nonces, audiences, issuers or expiries.
func (p *Provider) Tamper(fn func(claims map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = fn
}

// TokenRequests is how many requests reached the token endpoint.
func (p *Provider) TokenRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenRequests
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{
		"issuer": p.URL, "authorization_endpoint": p.URL + "/authorize", "token_endpoint": p.URL + "/token",
		"jwks_uri": p.URL + "/keys", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "groups"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	pub := p.key.PublicKey
	writeJSON(w, 200, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k1", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.ClientID || q.Get("redirect_uri") != p.RedirectURL {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest) // never redirect to an unregistered URI
		return
	}
	back, _ := url.Parse(p.RedirectURL)
	v := url.Values{"state": {q.Get("state")}}
	p.mu.Lock()
	deny := p.deny
	p.mu.Unlock()
	switch {
	case deny:
		v.Set("error", "access_denied")
		v.Set("error_description", "The user refused")
	case q.Get("response_type") != "code" || !strings.Contains(" "+q.Get("scope")+" ", " openid "):
		v.Set("error", "invalid_request")
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		v.Set("error", "invalid_request")
		v.Set("error_description", "PKCE S256 required")
	default:
		code := make([]byte, 24)
		rand.Read(code)
		c := b64(code)
		p.mu.Lock()
		claims := map[string]any{}
		for k, x := range p.claims {
			claims[k] = x
		}
		p.codes[c] = &grant{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri"), claims: claims}
		p.mu.Unlock()
		v.Set("code", c)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func tokenError(w http.ResponseWriter, code, desc string) {
	status := http.StatusBadRequest
	if code == "invalid_client" {
		status = http.StatusUnauthorized
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.tokenRequests++
	p.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		tokenError(w, "invalid_request", err.Error())
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.ClientSecret)) != 1 {
		tokenError(w, "invalid_client", "bad client credentials")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, "unsupported_grant_type", "")
		return
	}
	p.mu.Lock()
	g := p.codes[r.PostForm.Get("code")]
	var replay bool
	if g != nil {
		replay = g.used
		g.used = true
	}
	tamper := p.tamper
	p.mu.Unlock()
	switch {
	case g == nil:
		tokenError(w, "invalid_grant", "unknown code")
		return
	case replay:
		tokenError(w, "invalid_grant", "code already used")
		return
	case r.PostForm.Get("redirect_uri") != g.redirect:
		tokenError(w, "invalid_grant", "redirect_uri mismatch")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if b64(sum[:]) != g.challenge {
		tokenError(w, "invalid_grant", "PKCE verifier mismatch")
		return
	}
	now := p.now()
	claims := map[string]any{"iss": p.URL, "aud": p.ClientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"auth_time": now.Unix()}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	for k, v := range g.claims {
		claims[k] = v
	}
	if tamper != nil {
		tamper(claims)
	}
	idt, err := p.sign(claims)
	if err != nil {
		tokenError(w, "server_error", err.Error())
		return
	}
	at := make([]byte, 24)
	rand.Read(at)
	writeJSON(w, 200, map[string]any{"access_token": b64(at), "token_type": "Bearer", "expires_in": 300, "id_token": idt})
}

// sign makes a compact JWS, RS256, key id k1.
func (p *Provider) sign(claims map[string]any) (string, error) {
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k1"})
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	in := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return in + "." + b64(sig), nil
}
