package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TOTP parameters (RFC 6238 defaults, which every authenticator app supports).
const (
	TOTPDigits     = 6
	TOTPPeriod     = 30 // seconds
	TOTPSkew       = 1  // steps accepted either side of the current one
	totpSecretSize = 20 // bytes: 160 bits, RFC 4226's recommendation for SHA-1
)

// hotp is RFC 4226's HOTP with HMAC-SHA-1: dynamic truncation of the HMAC of
// the big-endian counter, modulo 10^digits, zero-padded.
func hotp(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for i := 0; i < digits; i++ {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// totpStep is the RFC 6238 time step of t: whole periods since the Unix epoch.
func totpStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// TOTPCode is the code for key at time t (for tests and tools; the service
// verifies with matchTOTP).
func TOTPCode(key []byte, t time.Time) string { return hotp(key, uint64(totpStep(t)), TOTPDigits) }

// matchTOTP looks for code among the steps now-TOTPSkew … now+TOTPSkew and
// returns the step it matched. Every candidate is computed and compared in
// constant time, so the time taken does not tell which one matched.
func matchTOTP(key []byte, code string, now time.Time) (int64, bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	cur := totpStep(now)
	var found int64
	ok := 0
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		step := cur + d
		eq := subtle.ConstantTimeCompare([]byte(hotp(key, uint64(step), TOTPDigits)), []byte(code))
		found = int64(subtle.ConstantTimeSelect(eq, int(step), int(found)))
		ok |= eq
	}
	return found, ok == 1
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// OTPKey is what an otpauth:// URL carries (Google Authenticator's Key Uri
// Format): only TOTP with SHA-1 is accepted, which is what this package uses.
type OTPKey struct {
	Issuer  string
	Account string
	Secret  []byte
	Digits  int // 6 or 8
	Period  int // seconds
}

// labelPart replaces the colon, which may not appear in an issuer or account.
func labelPart(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, ":", "-")) }

// queryEscape escapes for a query value with %20 for spaces (not '+', which some
// authenticator apps show literally).
func queryEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// URL returns the otpauth:// URL an authenticator app scans:
// otpauth://totp/Issuer:account?secret=…&issuer=Issuer&algorithm=SHA1&digits=6&period=30.
func (k OTPKey) URL() string {
	iss, acc := labelPart(k.Issuer), labelPart(k.Account)
	label := url.PathEscape(acc)
	if iss != "" {
		label = url.PathEscape(iss) + ":" + label
	}
	digits, period := k.Digits, k.Period
	if digits == 0 {
		digits = TOTPDigits
	}
	if period == 0 {
		period = TOTPPeriod
	}
	q := "secret=" + b32.EncodeToString(k.Secret)
	if iss != "" {
		q += "&issuer=" + queryEscape(iss)
	}
	q += "&algorithm=SHA1&digits=" + strconv.Itoa(digits) + "&period=" + strconv.Itoa(period)
	return "otpauth://totp/" + label + "?" + q
}

var errOTPURL = errors.New("not an otpauth://totp/ URL with a SHA-1 secret")

func labelOK(s string) bool {
	if s == "" || strings.Contains(s, ":") || !utf8.ValidString(s) || len(s) > 256 {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// ParseOTPAuthURL parses an otpauth://totp/ URL strictly: a label "issuer:account"
// or "account" (neither may contain a colon), a base32 secret of 10 to 64 bytes,
// algorithm SHA1 (or none), 6 or 8 digits, a period of 15 to 120 s, and an
// issuer parameter equal to the label's issuer when both are given.
func ParseOTPAuthURL(s string) (OTPKey, error) {
	var k OTPKey
	u, err := url.Parse(s)
	if err != nil || !strings.EqualFold(u.Scheme, "otpauth") || !strings.EqualFold(u.Host, "totp") || u.Opaque != "" ||
		u.User != nil || u.Fragment != "" || !strings.HasPrefix(u.Path, "/") {
		return k, errOTPURL
	}
	label := u.Path[1:]
	if i := strings.IndexByte(label, ':'); i >= 0 {
		k.Issuer, k.Account = strings.TrimSpace(label[:i]), strings.TrimSpace(label[i+1:])
		if !labelOK(k.Issuer) {
			return k, fmt.Errorf("otpauth URL: bad issuer in the label")
		}
	} else {
		k.Account = strings.TrimSpace(label)
	}
	if !labelOK(k.Account) {
		return k, fmt.Errorf("otpauth URL: bad account name")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return k, errOTPURL
	}
	if iss, ok := q["issuer"]; ok {
		v := strings.TrimSpace(iss[0])
		if !labelOK(v) || (k.Issuer != "" && v != k.Issuer) {
			return k, fmt.Errorf("otpauth URL: issuer parameter does not match the label")
		}
		k.Issuer = v
	}
	sec := strings.ToUpper(strings.TrimRight(strings.ReplaceAll(q.Get("secret"), " ", ""), "="))
	if k.Secret, err = b32.DecodeString(sec); err != nil || len(k.Secret) < 10 || len(k.Secret) > 64 {
		return k, fmt.Errorf("otpauth URL: the secret must be base32, 10 to 64 bytes")
	}
	if a := q.Get("algorithm"); a != "" && !strings.EqualFold(a, "SHA1") {
		return k, fmt.Errorf("otpauth URL: algorithm %q not supported (SHA1 only)", a)
	}
	k.Digits, k.Period = TOTPDigits, TOTPPeriod
	if d := q.Get("digits"); d != "" {
		if k.Digits, err = strconv.Atoi(d); err != nil || (k.Digits != 6 && k.Digits != 8) {
			return k, fmt.Errorf("otpauth URL: digits must be 6 or 8")
		}
	}
	if p := q.Get("period"); p != "" {
		if k.Period, err = strconv.Atoi(p); err != nil || k.Period < 15 || k.Period > 120 {
			return k, fmt.Errorf("otpauth URL: period must be 15 to 120 seconds")
		}
	}
	return k, nil
}

// sealer encrypts TOTP secrets at rest: AES-256-GCM, version byte, random nonce,
// and the user id as associated data (a sealed secret moved to another row does
// not open).
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("identity: the secret key must be 32 bytes, got %d", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &sealer{g}, nil
}

func sealAAD(userID int64) []byte {
	return []byte("resguardo-totp/1 user " + strconv.FormatInt(userID, 10))
}

func (s *sealer) seal(plain []byte, userID int64) ([]byte, error) {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = 1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return s.aead.Seal(out, out[1:], plain, sealAAD(userID)), nil
}

func (s *sealer) open(b []byte, userID int64) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(b) < 1+n || b[0] != 1 {
		return nil, errors.New("identity: sealed secret has an unknown format")
	}
	p, err := s.aead.Open(nil, b[1:1+n], b[1+n:], sealAAD(userID))
	if err != nil {
		return nil, errors.New("identity: sealed secret does not open (wrong secret key?)")
	}
	return p, nil
}

// DeriveSecretKey derives Options.SecretKey from a long-lived key (HMAC-SHA-256
// with a label, so the derived key is useless for anything else).
func DeriveSecretKey(root []byte) []byte {
	m := hmac.New(sha256.New, root)
	m.Write([]byte("resguardo identity: TOTP secret sealing key v1"))
	return m.Sum(nil)
}

// Recovery codes: RecoveryCodes codes of 4 groups of 4 symbols (about 79 bits
// each), stored as SHA-256 (their entropy makes a slow hash unnecessary), each
// usable once in place of a TOTP code.
const RecoveryCodes = 10

func newRecoveryCodes() (codes, hashes []string, err error) {
	for i := 0; i < RecoveryCodes; i++ {
		c, err := randomCode(4, 4)
		if err != nil {
			return nil, nil, err
		}
		codes = append(codes, c)
		hashes = append(hashes, recoveryHash(c))
	}
	return codes, hashes, nil
}

// normalizeCode removes spaces and dashes and lower-cases a typed code.
func normalizeCode(c string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return r
	}, c)
}

func recoveryHash(code string) string {
	sum := sha256.Sum256([]byte("resguardo-recovery/1 " + normalizeCode(code)))
	return hex.EncodeToString(sum[:])
}

// isTOTPCode reports whether a normalized code looks like a TOTP code (digits only).
func isTOTPCode(c string) bool {
	if len(c) != TOTPDigits {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' {
			return false
		}
	}
	return true
}
