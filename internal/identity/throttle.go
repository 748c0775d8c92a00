package identity

import (
	"context"
	"net/netip"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
)

// ThrottlePolicy limits password and second-factor guessing, per account and per
// client network. After Failures failed attempts on an account (IPFailures from
// one client address; IPv6 counted per /64) it is locked for Lockout; every
// further failure after a lock ends locks again for twice as long, up to
// MaxLockout. Counters are forgotten after Window without failures (counted
// from the end of the last lock) and, for an account, at its next successful
// login. A client network's counter is not reset by a success (an attacker
// with one valid account could otherwise keep guessing others). While locked,
// attempts are refused without checking the password, so a lock also stops
// the right password: an administrator can lift it (Unlock).
type ThrottlePolicy struct {
	Failures   int           // per account; 5
	IPFailures int           // per client network; 20 (offices share addresses behind NAT)
	Lockout    time.Duration // 15 min
	MaxLockout time.Duration // 24 h
	Window     time.Duration // 24 h
}

func (p ThrottlePolicy) withDefaults() ThrottlePolicy {
	if p.Failures <= 0 {
		p.Failures = 5
	}
	if p.IPFailures <= 0 {
		p.IPFailures = 20
	}
	if p.Lockout <= 0 {
		p.Lockout = 15 * time.Minute
	}
	if p.MaxLockout < p.Lockout {
		p.MaxLockout = max(24*time.Hour, p.Lockout)
	}
	if p.Window <= 0 {
		p.Window = 24 * time.Hour
	}
	return p
}

// lockFor is the length of the n-th lock (n ≥ 1): Lockout·2^(n-1), at most MaxLockout.
func (p ThrottlePolicy) lockFor(n int) time.Duration {
	d := p.Lockout
	for i := 1; i < n && d < p.MaxLockout; i++ {
		d *= 2
	}
	return min(d, p.MaxLockout)
}

// fail counts one failure on t at now with the given limit.
func (p ThrottlePolicy) fail(t *catalog.Throttle, limit int, now time.Time) {
	quietSince := t.LastFailure
	if t.LockedUntil.After(quietSince) {
		quietSince = t.LockedUntil
	}
	if !quietSince.IsZero() && now.Sub(quietSince) > p.Window {
		t.Failures, t.Lockouts, t.LockedUntil = 0, 0, time.Time{}
	}
	t.Failures++
	t.LastFailure = now
	if t.Failures >= limit && !now.Before(t.LockedUntil) {
		t.Lockouts++
		t.LockedUntil = now.Add(p.lockFor(t.Lockouts))
	}
}

func accountKey(login string) string { return "user:" + login }

// ipKey is the throttling key of a client address: the address for IPv4, its
// /64 for IPv6; "" when ip does not parse.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if ap, err2 := netip.ParseAddrPort(ip); err2 == nil {
			a = ap.Addr()
		} else {
			return ""
		}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

type throttleKey struct {
	key   string
	limit int
}

func (s *Service) keys(login, ip string) []throttleKey {
	var ks []throttleKey
	if login != "" {
		ks = append(ks, throttleKey{accountKey(login), s.opt.Throttle.Failures})
	}
	if k := ipKey(ip); k != "" {
		ks = append(ks, throttleKey{k, s.opt.Throttle.IPFailures})
	}
	return ks
}

// lockedFor returns how long the longest lock among keys still lasts (0: none).
func (s *Service) lockedFor(ctx context.Context, keys []throttleKey) (time.Duration, error) {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.key
	}
	ts, err := s.st.Throttles(ctx, names...)
	if err != nil {
		return 0, err
	}
	now := s.now()
	var wait time.Duration
	for _, t := range ts {
		if d := t.LockedUntil.Sub(now); d > wait {
			wait = d
		}
	}
	return wait, nil
}

// failed counts a failure on every key and returns how long the longest lock
// it caused (or that was in force) lasts.
func (s *Service) failed(ctx context.Context, keys []throttleKey) (time.Duration, error) {
	now := s.now()
	var wait time.Duration
	for _, k := range keys {
		t, err := s.st.UpdateThrottle(ctx, k.key, func(t *catalog.Throttle) { s.opt.Throttle.fail(t, k.limit, now) })
		if err != nil {
			return 0, err
		}
		if d := t.LockedUntil.Sub(now); d > wait {
			wait = d
		}
	}
	return wait, nil
}

func throttledErr(wait time.Duration) error {
	e := *ErrThrottled
	e.RetryAfter = wait
	return &e
}

// Unlock lifts the lock and forgets the failures of an account (an administrator's action).
func (s *Service) Unlock(ctx context.Context, login string) error {
	l, err := NormalizeLogin(login)
	if err != nil {
		return err
	}
	return s.st.DeleteThrottle(ctx, accountKey(l))
}

// Locked reports how long an account stays locked (0: it is not).
func (s *Service) Locked(ctx context.Context, login string) (time.Duration, error) {
	l, err := NormalizeLogin(login)
	if err != nil {
		return 0, err
	}
	return s.lockedFor(ctx, []throttleKey{{accountKey(l), 0}})
}
