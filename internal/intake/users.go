package intake

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/resguardo/resguardo/internal/smtpgw"
)

// User is a submission user (until the web application brings real user
// management): a name, an argon2id password hash in the PHC string format
// and the addresses the user may send from.
type User struct {
	Name         string
	PasswordHash string
	AllowedFrom  []string
}

// Users authenticates submission users; it implements
// smtpgw.Authenticator. Comparison of names is case-insensitive.
type Users struct {
	byName map[string]userEntry
	dummy  argonHash // verified for unknown users, so timing does not tell them apart
}

type userEntry struct {
	u User
	h argonHash
}

// NewUsers checks every hash and returns the authenticator.
func NewUsers(us []User) (*Users, error) {
	out := &Users{byName: map[string]userEntry{}}
	for _, u := range us {
		h, err := ParseArgon2id(u.PasswordHash)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", u.Name, err)
		}
		k := strings.ToLower(u.Name)
		if _, dup := out.byName[k]; dup {
			return nil, fmt.Errorf("user %q listed twice", u.Name)
		}
		out.byName[k] = userEntry{u, h}
	}
	d, _ := HashPassword("resguardo-dummy")
	out.dummy, _ = ParseArgon2id(d)
	return out, nil
}

// Authenticate implements smtpgw.Authenticator.
func (us *Users) Authenticate(_ context.Context, username, password string) (smtpgw.Identity, error) {
	e, ok := us.byName[strings.ToLower(username)]
	if !ok {
		us.dummy.verify(password)
		return smtpgw.Identity{}, smtpgw.ErrInvalidCredentials
	}
	if !e.h.verify(password) {
		return smtpgw.Identity{}, smtpgw.ErrInvalidCredentials
	}
	return smtpgw.Identity{User: e.u.Name, AllowedFrom: append([]string(nil), e.u.AllowedFrom...)}, nil
}

// argonHash is a parsed "$argon2id$v=19$m=65536,t=3,p=4$salt$hash".
type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	hash    []byte
}

func (h argonHash) verify(password string) bool {
	if len(h.hash) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.hash)))
	return subtle.ConstantTimeCompare(got, h.hash) == 1
}

var errHashFormat = errors.New(`want an argon2id hash "$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>" (base64 without padding)`)

// ParseArgon2id parses an argon2id hash in the PHC string format and
// checks its parameters are sane (m 8 KiB to 4 GiB, t 1 to 100, p 1 to 255,
// salt at least 8 bytes, hash 16 to 64 bytes).
func ParseArgon2id(s string) (argonHash, error) {
	var h argonHash
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
	return argonHash{memory: m, time: t, threads: uint8(p), salt: salt, hash: sum}, nil
}

// HashPassword returns an argon2id hash of password (m=64 MiB, t=3, p=4,
// 16-byte salt, 32-byte hash: the RFC 9106 second recommended option),
// for the configuration's users.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	const m, t, p = 64 << 10, 3, 4
	sum := argon2.IDKey([]byte(password), salt, t, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}
