package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/resguardo/resguardo/internal/catalog"
)

// Scope limits what an API token may do. A token never does more than its
// account may: scopes narrow the account's rights, they do not add to them.
type Scope string

// Token scopes.
const (
	ScopeSearch Scope = "search" // search mail the account may read
	ScopeRead   Scope = "read"   // read messages, attachments and constancias
	ScopeExport Scope = "export" // export result sets (needs PermExport)
	ScopeAdmin  Scope = "admin"  // administration endpoints (needs PermManageUsers)
)

// Scopes lists every scope.
var Scopes = []Scope{ScopeSearch, ScopeRead, ScopeExport, ScopeAdmin}

// ScopeAllowed reports whether u may hold a token with scope sc (a browser
// session of u acts with every scope u may hold).
func ScopeAllowed(u *User, sc Scope) bool {
	switch sc {
	case ScopeSearch, ScopeRead:
		return true
	case ScopeExport:
		return u.Can(PermExport)
	case ScopeAdmin:
		return u.Can(PermManageUsers)
	}
	return false
}

// APIToken describes an API token (its value is shown once, at creation, and
// only its SHA-256 is kept).
type APIToken struct {
	ID        int64
	UserID    int64
	Name      string
	Prefix    string // the first characters, to recognise it in a list: "rsg_AbCdEfGh"
	Scopes    []Scope
	CreatedAt time.Time
	ExpiresAt time.Time // zero: does not expire
	LastUsed  time.Time // zero: never used
	RevokedAt time.Time // zero: live
}

// Allows reports whether the token carries scope sc.
func (t *APIToken) Allows(sc Scope) bool { return t != nil && slices.Contains(t.Scopes, sc) }

// Live reports whether the token is neither revoked nor expired at now.
func (t *APIToken) Live(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

const tokenPrefix = "rsg_"

func tokenHash(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

func fromCatalogToken(c catalog.APIToken) *APIToken {
	t := &APIToken{ID: c.ID, UserID: c.UserID, Name: c.Name, Prefix: c.Prefix, CreatedAt: c.CreatedAt,
		ExpiresAt: c.ExpiresAt, LastUsed: c.LastUsed, RevokedAt: c.RevokedAt}
	for _, s := range c.Scopes {
		t.Scopes = append(t.Scopes, Scope(s))
	}
	return t
}

// CreateToken makes an API token for an account with the given scopes (each must
// be one the account may hold) and optional expiry, and returns its value — the
// only time it is available — with its description.
func (s *Service) CreateToken(ctx context.Context, userID int64, name string, scopes []Scope, expires time.Time) (string, *APIToken, error) {
	u, err := s.User(ctx, userID)
	if err != nil {
		return "", nil, err
	}
	if u.Disabled {
		return "", nil, ErrForbidden
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 || checkDisplayName(name) != nil {
		return "", nil, ErrInvalidName
	}
	if len(scopes) == 0 {
		return "", nil, ErrInvalidScope
	}
	var ss []string
	for _, sc := range scopes {
		if !ScopeAllowed(u, sc) {
			return "", nil, ErrInvalidScope
		}
		ss = append(ss, string(sc))
	}
	now := s.now()
	if !expires.IsZero() && !expires.After(now) {
		return "", nil, ErrInvalidExpiry
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	raw := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	ct := catalog.APIToken{UserID: userID, Name: name, Prefix: raw[:len(tokenPrefix)+8], SHA256: tokenHash(raw),
		Scopes: ss, CreatedAt: now, ExpiresAt: expires}
	if ct.ID, err = s.st.CreateAPIToken(ctx, ct); err != nil {
		return "", nil, err
	}
	c, err := s.st.APITokenByID(ctx, ct.ID)
	if err != nil {
		return "", nil, err
	}
	return raw, fromCatalogToken(c), nil
}

// Tokens lists an account's tokens (every account's with userID 0), newest first.
func (s *Service) Tokens(ctx context.Context, userID int64) ([]APIToken, error) {
	cs, err := s.st.APITokens(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]APIToken, len(cs))
	for i, c := range cs {
		out[i] = *fromCatalogToken(c)
	}
	return out, nil
}

// RevokeToken revokes a token. ownerID is the account acting on its own tokens;
// 0 is an administrator acting on anyone's (the caller checks PermManageUsers).
// Someone else's token is ErrInvalidToken, as if it did not exist.
func (s *Service) RevokeToken(ctx context.Context, ownerID, tokenID int64) error {
	c, err := s.st.APITokenByID(ctx, tokenID)
	if errors.Is(err, catalog.ErrNoToken) || err == nil && ownerID != 0 && c.UserID != ownerID {
		return ErrInvalidToken
	}
	if err != nil {
		return err
	}
	return s.st.RevokeAPIToken(ctx, tokenID, s.now())
}

// AuthenticateToken checks an API token's value: it must exist, be live, and
// belong to an enabled account. It records the use (to the minute) and returns
// the token and account; any failure is ErrInvalidToken.
func (s *Service) AuthenticateToken(ctx context.Context, raw string) (*APIToken, *User, error) {
	if !strings.HasPrefix(raw, tokenPrefix) || len(raw) != len(tokenPrefix)+43 {
		return nil, nil, ErrInvalidToken
	}
	c, err := s.st.APITokenByHash(ctx, tokenHash(raw))
	if errors.Is(err, catalog.ErrNoToken) {
		return nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, err
	}
	t := fromCatalogToken(c)
	now := s.now()
	if !t.Live(now) {
		return nil, nil, ErrInvalidToken
	}
	u, err := s.User(ctx, c.UserID)
	if errors.Is(err, ErrNoUser) {
		return nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, ErrInvalidToken
	}
	if now.Sub(t.LastUsed) >= time.Minute {
		if err := s.st.TouchAPIToken(ctx, t.ID, now); err != nil {
			return nil, nil, err
		}
		t.LastUsed = now
	}
	return t, u, nil
}

// MethodToken is the login log's method for API token attempts.
const MethodToken = "token"

// tokenKey is the throttling key of API token failures from a client network:
// apart from the login form's ("ip:…"), so a script with a revoked token does
// not lock the people of its office out of the login page.
func tokenKey(ip string) string {
	if k := ipKey(ip); k != "" {
		return "token-" + k
	}
	return ""
}

// AuthenticateTokenFrom is AuthenticateToken for a request from client c,
// throttled per client network with the ThrottlePolicy's IPFailures and lock
// times (IPv6 per /64, counted apart from password failures). While the
// network is locked every token, even a good one, is refused without being
// looked up (ErrThrottled with RetryAfter), so guessing gets no answer. Each
// invalid token and each refused attempt is a row of the login log (method
// "token"; successes are not logged: the token's last use is kept instead).
func (s *Service) AuthenticateTokenFrom(ctx context.Context, raw string, c Client) (*APIToken, *User, error) {
	var keys []throttleKey
	if k := tokenKey(c.IP); k != "" {
		keys = append(keys, throttleKey{k, s.opt.Throttle.IPFailures})
	}
	if wait, err := s.lockedFor(ctx, keys); err != nil {
		return nil, nil, err
	} else if wait > 0 {
		if err := s.event(ctx, "", 0, c, MethodToken, "throttled", ""); err != nil {
			return nil, nil, err
		}
		return nil, nil, throttledErr(wait)
	}
	t, u, err := s.AuthenticateToken(ctx, raw)
	if !errors.Is(err, ErrInvalidToken) {
		return t, u, err
	}
	if err := s.event(ctx, "", 0, c, MethodToken, "invalid_token", ""); err != nil {
		return nil, nil, err
	}
	wait, ferr := s.failed(ctx, keys)
	if ferr != nil {
		return nil, nil, ferr
	}
	if wait > 0 {
		return nil, nil, throttledErr(wait)
	}
	return nil, nil, err
}

// TokenFromRequest returns the token of an "Authorization: Bearer rsg_…" header
// ("" when there is none).
func TokenFromRequest(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
