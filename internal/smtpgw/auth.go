package smtpgw

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// AuthLimiter counts AUTH failures per client address and per user name
// and locks a key out after too many. It is safe for concurrent use.
type AuthLimiter struct {
	max     int
	window  time.Duration
	lockout time.Duration
	now     func() time.Time

	mu sync.Mutex
	m  map[string]*failures
}

type failures struct {
	count       int
	first       time.Time
	lockedUntil time.Time
}

// maxLimiterKeys bounds the limiter's memory; beyond it expired entries are
// pruned.
const maxLimiterKeys = 100000

// NewAuthLimiter locks a key for lockout after max failures within window.
// now is the clock (time.Now when nil).
func NewAuthLimiter(max int, window, lockout time.Duration, now func() time.Time) *AuthLimiter {
	if now == nil {
		now = time.Now
	}
	return &AuthLimiter{max: max, window: window, lockout: lockout, now: now, m: map[string]*failures{}}
}

// Locked reports whether key is locked out now.
func (l *AuthLimiter) Locked(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[key]
	return f != nil && l.now().Before(f.lockedUntil)
}

// Fail records a failure for key and reports whether key is now locked.
func (l *AuthLimiter) Fail(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.m[key]
	if f == nil {
		if len(l.m) >= maxLimiterKeys {
			l.pruneLocked(now)
		}
		f = &failures{}
		l.m[key] = f
	}
	if now.Before(f.lockedUntil) {
		return true
	}
	if f.count == 0 || now.Sub(f.first) > l.window {
		f.count, f.first = 0, now
	}
	f.count++
	if f.count >= l.max {
		f.lockedUntil = now.Add(l.lockout)
		f.count = 0
		return true
	}
	return false
}

// Reset forgets key's failures (after a successful login).
func (l *AuthLimiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

func (l *AuthLimiter) pruneLocked(now time.Time) {
	for k, f := range l.m {
		if !now.Before(f.lockedUntil) && now.Sub(f.first) > l.window {
			delete(l.m, k)
		}
	}
}

func userKey(u string) string { return "user:" + strings.ToLower(u) }
func ipLimitKey(c *conn) string {
	return "ip:" + ipKey(c.remote.Addr())
}

// AuthMechanisms implements smtp.AuthSession: PLAIN and LOGIN, only on the
// submission channel and only over TLS (so EHLO advertises AUTH only then).
func (s *session) AuthMechanisms() []string {
	if s.c.s.cfg.Channel != ChannelSubmission || s.tls == nil {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if err := s.gate(); err != nil {
		return nil, err
	}
	if s.c.s.cfg.Channel != ChannelSubmission {
		return nil, errAuthUnsupported
	}
	if s.tls == nil {
		s.c.log.Info("AUTH before TLS refused")
		return nil, errTLSRequired
	}
	if s.c.s.limiter.Locked(ipLimitKey(s.c)) {
		s.c.log.Warn("AUTH refused: client address locked out")
		return nil, errAuthLocked
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return &plainServer{check: s.authenticate}, nil
	case sasl.Login:
		return &loginServer{check: s.authenticate}, nil
	default:
		return nil, errAuthMechanism
	}
}

// authenticate checks one set of credentials against the Authenticator,
// with lockout per client address and per user.
func (s *session) authenticate(username, password string) error {
	lim := s.c.s.limiter
	ipk, uk := ipLimitKey(s.c), userKey(username)
	log := s.c.log.With("user", username)
	if lim.Locked(ipk) || lim.Locked(uk) {
		log.Warn("AUTH refused: locked out")
		return errAuthLocked
	}
	id, err := s.c.s.auth.Authenticate(s.c.ctx, username, password)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		ipLocked := lim.Fail(ipk)
		userLocked := lim.Fail(uk)
		log.Warn("AUTH failed", "ip_locked", ipLocked, "user_locked", userLocked)
		return errAuthFailed
	case err != nil:
		log.Error("authenticator", "err", err)
		return errAuthTemp
	}
	lim.Reset(uk)
	if id.User == "" {
		id.User = username
	}
	s.mu.Lock()
	s.identity = &id
	s.mu.Unlock()
	log.Info("AUTH succeeded")
	return nil
}

// plainServer is SASL PLAIN (RFC 4616) returning only *smtp.SMTPError.
type plainServer struct {
	check func(user, pass string) error
	done  bool
}

func (p *plainServer) Next(resp []byte) ([]byte, bool, error) {
	if p.done {
		return nil, false, errAuthSyntax
	}
	if resp == nil {
		return []byte{}, false, nil
	}
	p.done = true
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 {
		return nil, false, errAuthSyntax
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		return nil, false, errAuthFailed
	}
	if err := p.check(user, pass); err != nil {
		return nil, false, err
	}
	return nil, true, nil
}

// loginServer is the obsolete but common LOGIN mechanism
// (draft-murchison-sasl-login): "Username:", "Password:" challenges.
type loginServer struct {
	check func(user, pass string) error
	state int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.state {
	case 0:
		l.state = 1
		if resp == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough // initial response is the user name
	case 1:
		l.user = string(resp)
		l.state = 2
		return []byte("Password:"), false, nil
	case 2:
		l.state = 3
		if err := l.check(l.user, string(resp)); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	default:
		return nil, false, errAuthSyntax
	}
}

var _ smtp.AuthSession = (*session)(nil)
