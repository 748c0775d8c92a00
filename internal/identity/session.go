package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/resguardo/resguardo/internal/catalog"
)

// State is how far a session has come through login.
type State string

// Session states.
const (
	// StateAnonymous: no one logged in; the session only carries the CSRF token
	// of the login form.
	StateAnonymous State = "anonymous"
	// StateTOTPPending: the password was right; the second factor is missing.
	StateTOTPPending State = "totp_pending"
	// StatePasswordOK: every enrolled factor was checked, but the account must
	// first change its password or enrol TOTP (mandatory for its role). The web
	// application allows only those pages in this state.
	StatePasswordOK State = "password_ok"
	// StateFull: logged in.
	StateFull State = "full"
)

// SessionPolicy sets session lifetimes.
type SessionPolicy struct {
	Idle     time.Duration // without activity; 30 min
	Absolute time.Duration // from login, whatever the activity; 12 h
	// Pending bounds the time between password and second factor; 5 min.
	Pending time.Duration
	// Anonymous is the lifetime of a login form's session; 1 h.
	Anonymous time.Duration
	// TouchEvery limits writes of the last-activity time to one per this
	// interval (the idle timeout is exact to within it); 1 min.
	TouchEvery time.Duration
}

func (p SessionPolicy) withDefaults() SessionPolicy {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&p.Idle, 30*time.Minute)
	def(&p.Absolute, 12*time.Hour)
	def(&p.Pending, 5*time.Minute)
	def(&p.Anonymous, time.Hour)
	def(&p.TouchEvery, time.Minute)
	if p.TouchEvery > p.Idle/2 {
		p.TouchEvery = p.Idle / 2
	}
	return p
}

// Session is a server-side session. ID is the cookie value: 256 random bits,
// never stored (the catalog keeps its SHA-256).
type Session struct {
	ID            string
	UserID        int64 // 0 for StateAnonymous
	State         State
	Method        string // password, ldap, oidc (an anonymous session with oidc: a flow of BeginOIDC)
	CreatedAt     time.Time
	LastSeen      time.Time
	ExpiresAt     time.Time // absolute timeout
	ClientIP      string
	UserAgent     string
	Justification Justification // typed by a role that reads others' mail; zero until then
	// CSRF is the token every form and state-changing request of this session
	// must carry (see CheckCSRF). It is derived from ID, so it changes when the
	// session is rotated and is not stored.
	CSRF string
}

// LoggedIn reports whether the session is fully authenticated.
func (s *Session) LoggedIn() bool { return s != nil && s.State == StateFull }

// Client is who is at the other end of a request.
type Client struct {
	IP        string // the client's address as the web server sees it (after trusted proxies)
	UserAgent string
}

func newSessionID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func sessionHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// CSRFToken is the CSRF token of the session whose cookie value is id:
// HMAC-SHA-256 keyed with the session id, so only someone holding the cookie
// can know it, and it needs no storage.
func CSRFToken(id string) string {
	m := hmac.New(sha256.New, []byte(id))
	m.Write([]byte("resguardo-csrf/1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF compares a form's token with the session's in constant time: nil
// when they match, ErrCSRF otherwise (also for a nil session or empty token).
func CheckCSRF(s *Session, token string) error {
	if s == nil || s.ID == "" || token == "" {
		return ErrCSRF
	}
	if subtle.ConstantTimeCompare([]byte(CSRFToken(s.ID)), []byte(token)) != 1 {
		return ErrCSRF
	}
	return nil
}

// validSessionID is the shape newSessionID makes: 43 base64url characters.
func validSessionID(id string) bool {
	if len(id) != 43 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func fromCatalogSession(c catalog.Session, id string) *Session {
	return &Session{ID: id, UserID: c.UserID, State: State(c.State), Method: c.Method, CreatedAt: c.CreatedAt,
		LastSeen: c.LastSeen, ExpiresAt: c.ExpiresAt, ClientIP: c.ClientIP, UserAgent: c.UserAgent,
		Justification: Justification{Text: c.Justification, Case: c.CaseRef, At: c.JustifiedAt}, CSRF: CSRFToken(id)}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// issue creates a session (rotating out the one named replace, if any) and returns it.
func (s *Service) issue(ctx context.Context, userID int64, st State, method string, c Client, replace string) (*Session, error) {
	id, err := newSessionID()
	if err != nil {
		return nil, err
	}
	now := s.now()
	exp := now.Add(s.opt.Sessions.Absolute)
	switch st {
	case StateAnonymous:
		exp = now.Add(s.opt.Sessions.Anonymous)
		if method == MethodOIDC && s.opt.OIDC != nil {
			exp = now.Add(s.opt.OIDC.cfg.FlowTTL) // an OpenID Connect flow (BeginOIDC)
		}
	case StateTOTPPending:
		exp = now.Add(s.opt.Sessions.Pending)
	}
	cs := catalog.Session{IDSHA256: sessionHash(id), UserID: userID, State: string(st), Method: method, CreatedAt: now,
		LastSeen: now, ExpiresAt: exp, ClientIP: clip(c.IP, 64), UserAgent: clip(c.UserAgent, 256)}
	rep := ""
	if replace != "" && validSessionID(replace) {
		rep = sessionHash(replace)
	}
	if err := s.st.CreateSession(ctx, cs, rep); err != nil {
		return nil, err
	}
	return fromCatalogSession(cs, id), nil
}

// StartAnonymous creates a session for a visitor who is not logged in, to carry
// the login form's CSRF token. Login rotates it away.
func (s *Service) StartAnonymous(ctx context.Context, c Client) (*Session, error) {
	return s.issue(ctx, 0, StateAnonymous, "", c, "")
}

// Session looks up the session whose cookie value is id and checks it: it must
// exist, be within its absolute and idle timeouts, and belong to an enabled
// account (anonymous sessions have none: the *User is then nil). Expired
// sessions are deleted. Activity is recorded. Every failure is ErrNoSession.
func (s *Service) Session(ctx context.Context, id string) (*Session, *User, error) {
	if !validSessionID(id) {
		return nil, nil, ErrNoSession
	}
	h := sessionHash(id)
	cs, err := s.st.SessionByHash(ctx, h)
	if errors.Is(err, catalog.ErrNoSession) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if !now.Before(cs.ExpiresAt) || now.Sub(cs.LastSeen) >= s.opt.Sessions.Idle {
		if _, err := s.st.DeleteSession(ctx, h); err != nil {
			return nil, nil, err
		}
		return nil, nil, ErrNoSession
	}
	var u *User
	if cs.UserID != 0 {
		c, err := s.st.UserByID(ctx, cs.UserID)
		if errors.Is(err, catalog.ErrNoUser) {
			return nil, nil, ErrNoSession
		}
		if err != nil {
			return nil, nil, err
		}
		if c.Disabled {
			if _, err := s.st.DeleteSession(ctx, h); err != nil {
				return nil, nil, err
			}
			return nil, nil, ErrNoSession
		}
		u = toUser(c)
	}
	if now.Sub(cs.LastSeen) >= s.opt.Sessions.TouchEvery {
		if err := s.st.TouchSession(ctx, h, now); err != nil && !errors.Is(err, catalog.ErrNoSession) {
			return nil, nil, err
		}
		cs.LastSeen = now
	}
	return fromCatalogSession(cs, id), u, nil
}

// sessionIn is Session restricted to the given states (ErrSessionState otherwise).
func (s *Service) sessionIn(ctx context.Context, id string, states ...State) (*Session, *User, error) {
	sess, u, err := s.Session(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	for _, st := range states {
		if sess.State == st {
			return sess, u, nil
		}
	}
	return nil, nil, ErrSessionState
}

// Logout ends one session (no error when it had already ended).
func (s *Service) Logout(ctx context.Context, id string, c Client) error {
	if !validSessionID(id) {
		return nil
	}
	h := sessionHash(id)
	cs, err := s.st.SessionByHash(ctx, h)
	if errors.Is(err, catalog.ErrNoSession) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := s.st.DeleteSession(ctx, h); err != nil {
		return err
	}
	if cs.UserID != 0 {
		if u, err := s.st.UserByID(ctx, cs.UserID); err == nil {
			return s.event(ctx, u.Login, u.ID, c, "logout", "ok", "")
		}
	}
	return nil
}

// LogoutEverywhere ends every session of an account ("cerrar sesión en todos los
// dispositivos"), and returns how many it ended.
func (s *Service) LogoutEverywhere(ctx context.Context, userID int64, c Client) (int64, error) {
	n, err := s.st.DeleteUserSessions(ctx, userID, "")
	if err != nil {
		return 0, err
	}
	if u, err := s.st.UserByID(ctx, userID); err == nil {
		if err := s.event(ctx, u.Login, u.ID, c, "logout_all", "ok", ""); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Sessions lists an account's live sessions (their IDs and CSRF tokens are not
// known: only hashes are stored), most recent first.
func (s *Service) Sessions(ctx context.Context, userID int64) ([]Session, error) {
	cs, err := s.st.UserSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []Session
	for _, c := range cs {
		if now.Before(c.ExpiresAt) && now.Sub(c.LastSeen) < s.opt.Sessions.Idle {
			ss := fromCatalogSession(c, "")
			ss.CSRF = ""
			out = append(out, *ss)
		}
	}
	return out, nil
}

// SetJustification records, for the rest of the session, why its user reads
// others' mail: the text (see CheckJustification) and, optionally, a case
// reference. Only a fully logged-in user whose role reads others' mail may set
// one (ErrForbidden otherwise). The caller copies it into every access entry.
func (s *Service) SetJustification(ctx context.Context, id, text, caseRef string) (*Session, error) {
	sess, u, err := s.sessionIn(ctx, id, StateFull)
	if err != nil {
		return nil, err
	}
	if !u.ReadsOthersMail() {
		return nil, ErrForbidden
	}
	text = strings.TrimSpace(text)
	if err := CheckJustification(text); err != nil {
		return nil, err
	}
	caseRef = strings.TrimSpace(caseRef)
	if utf8.RuneCountInString(caseRef) > 200 || !utf8.ValidString(caseRef) {
		return nil, ErrJustificationInvalid
	}
	now := s.now()
	if err := s.st.SetSessionJustification(ctx, sessionHash(id), text, caseRef, now); err != nil {
		return nil, err
	}
	sess.Justification = Justification{Text: text, Case: caseRef, At: now}
	return sess, nil
}

// PurgeExpired deletes ended sessions and forgotten throttling counters; run it
// now and then (serve: every few minutes).
func (s *Service) PurgeExpired(ctx context.Context) (sessions, counters int64, err error) {
	now := s.now()
	if sessions, err = s.st.PurgeSessions(ctx, now.Add(-s.opt.Sessions.Idle), now); err != nil {
		return 0, 0, err
	}
	counters, err = s.st.PurgeThrottle(ctx, now.Add(-s.opt.Throttle.Window), now)
	return sessions, counters, err
}

// CookieName is the session cookie's name: with TLS it has the __Host- prefix,
// which makes browsers insist on Secure, Path=/ and no Domain.
func CookieName(tls bool) string {
	if tls {
		return "__Host-resguardo"
	}
	return "resguardo"
}

// SessionCookie is the cookie that carries a session: HttpOnly, SameSite=Strict,
// Path=/, no Domain, Secure (and __Host-) when served over TLS. It has no
// Expires: the browser forgets it when it closes, and the server enforces the
// timeouts.
func SessionCookie(sess *Session, tls bool) *http.Cookie {
	return &http.Cookie{Name: CookieName(tls), Value: sess.ID, Path: "/", HttpOnly: true, Secure: tls, SameSite: http.SameSiteStrictMode}
}

// ClearSessionCookie deletes the session cookie in the browser.
func ClearSessionCookie(tls bool) *http.Cookie {
	return &http.Cookie{Name: CookieName(tls), Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(1, 0),
		HttpOnly: true, Secure: tls, SameSite: http.SameSiteStrictMode}
}

// SessionIDFromRequest returns the session cookie's value ("" when absent).
func SessionIDFromRequest(r *http.Request, tls bool) string {
	c, err := r.Cookie(CookieName(tls))
	if err != nil {
		return ""
	}
	return c.Value
}
