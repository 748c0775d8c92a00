package intake

import (
	"context"
	"fmt"
	"strings"

	"github.com/resguardo/resguardo/internal/identity"
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
	dummy  identity.PasswordHash // verified for unknown users, so timing does not tell them apart
}

type userEntry struct {
	u User
	h identity.PasswordHash
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
		us.dummy.Verify(password)
		return smtpgw.Identity{}, smtpgw.ErrInvalidCredentials
	}
	if !e.h.Verify(password) {
		return smtpgw.Identity{}, smtpgw.ErrInvalidCredentials
	}
	return smtpgw.Identity{User: e.u.Name, AllowedFrom: append([]string(nil), e.u.AllowedFrom...)}, nil
}

// ParseArgon2id parses an argon2id hash in the PHC string format and
// checks its parameters are sane (see identity.ParsePasswordHash, where the
// argon2id code lives).
func ParseArgon2id(s string) (identity.PasswordHash, error) { return identity.ParsePasswordHash(s) }

// HashPassword returns an argon2id hash of password (m=64 MiB, t=3, p=4,
// 16-byte salt, 32-byte hash: the RFC 9106 second recommended option),
// for the configuration's users.
func HashPassword(password string) (string, error) { return identity.HashPassword(password) }
