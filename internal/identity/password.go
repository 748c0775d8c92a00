package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are argon2id cost parameters.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 is RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes.
var DefaultArgon2 = Argon2Params{Memory: 64 << 10, Time: 3, Threads: 4}

// PasswordHash is a parsed argon2id hash, "$argon2id$v=19$m=65536,t=3,p=4$salt$hash".
type PasswordHash struct {
	Params Argon2Params
	salt   []byte
	sum    []byte
}

// Verify reports, in constant time over the hash, whether password matches. The
// zero PasswordHash matches nothing.
func (h PasswordHash) Verify(password string) bool {
	if len(h.sum) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), h.salt, h.Params.Time, h.Params.Memory, h.Params.Threads, uint32(len(h.sum)))
	return subtle.ConstantTimeCompare(got, h.sum) == 1
}

var errHashFormat = errors.New(`want an argon2id hash "$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>" (base64 without padding)`)

// ParsePasswordHash parses an argon2id hash in the PHC string format and checks
// its parameters are sane (m 8 KiB to 4 GiB, t 1 to 100, p 1 to 255, salt at
// least 8 bytes, hash 16 to 64 bytes).
func ParsePasswordHash(s string) (PasswordHash, error) {
	var h PasswordHash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return h, errHashFormat
	}
	var m, t, p uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return h, errHashFormat
	}
	if m < 8 || m > 4<<20 || t < 1 || t > 100 || p < 1 || p > 255 {
		return h, fmt.Errorf("argon2id parameters out of range (m=%d, t=%d, p=%d)", m, t, p)
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	sum, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(sum) < 16 || len(sum) > 64 {
		return h, errHashFormat
	}
	return PasswordHash{Params: Argon2Params{Memory: m, Time: t, Threads: uint8(p)}, salt: salt, sum: sum}, nil
}

// HashPassword returns an argon2id hash of password with DefaultArgon2, a 16-byte
// random salt and a 32-byte hash, in the PHC string format.
func HashPassword(password string) (string, error) {
	return HashPasswordWith(password, DefaultArgon2)
}

// HashPasswordWith is HashPassword with other cost parameters.
func HashPasswordWith(password string, p Argon2Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// Password policy (NIST SP 800-63B: length over composition rules).
const (
	MinPasswordLength = 12
	MaxPasswordLength = 256
)

// CheckPassword applies the password policy: MinPasswordLength to
// MaxPasswordLength characters, and not containing the login.
func CheckPassword(login, password string) error {
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLength || n > MaxPasswordLength || !utf8.ValidString(password) {
		return ErrWeakPassword
	}
	if l := strings.ToLower(strings.TrimSpace(login)); len(l) >= 3 && strings.Contains(strings.ToLower(password), l) {
		return ErrWeakPassword
	}
	return nil
}

// codeAlphabet has no look-alikes (no 0/o, 1/l/i): 31 symbols, about 4.95 bits each.
const codeAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// randomCode returns groups of n random symbols of codeAlphabet joined by "-".
func randomCode(groups, n int) (string, error) {
	var b strings.Builder
	max := big.NewInt(int64(len(codeAlphabet)))
	for g := 0; g < groups; g++ {
		if g > 0 {
			b.WriteByte('-')
		}
		for i := 0; i < n; i++ {
			k, err := rand.Int(rand.Reader, max)
			if err != nil {
				return "", err
			}
			b.WriteByte(codeAlphabet[k.Int64()])
		}
	}
	return b.String(), nil
}

// GeneratePassword returns a random password of 20 symbols in 4 groups (about 99
// bits), easy to read aloud and type: "k7dq2-…".
func GeneratePassword() (string, error) { return randomCode(4, 5) }
