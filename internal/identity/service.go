package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/resguardo/resguardo/internal/catalog"
)

// Store is the catalog storage the service needs; *catalog.SQLite implements it.
type Store interface {
	CreateUser(ctx context.Context, u catalog.User) (int64, error)
	UserByID(ctx context.Context, id int64) (catalog.User, error)
	UserByLogin(ctx context.Context, login string) (catalog.User, error)
	Users(ctx context.Context, f catalog.UserFilter) ([]catalog.User, error)
	UpdateUser(ctx context.Context, u catalog.User) error
	SetPasswordHash(ctx context.Context, id int64, hash string, mustChange bool, at time.Time) error
	TouchUserLogin(ctx context.Context, id int64, at time.Time) error
	DeleteUser(ctx context.Context, id int64) error
	CountUsers(ctx context.Context, role string, enabledOnly bool) (int, error)

	SetTOTPPending(ctx context.Context, id int64, sealed []byte, at time.Time) error
	ActivateTOTP(ctx context.Context, id int64, sealed []byte, step int64, at time.Time) error
	ClearTOTP(ctx context.Context, id int64, at time.Time) error
	UseTOTPStep(ctx context.Context, id, step int64) (bool, error)
	ReplaceRecoveryCodes(ctx context.Context, id int64, hashes []string, at time.Time) error
	UseRecoveryCode(ctx context.Context, id int64, hash string, at time.Time) (bool, error)
	RecoveryCodesLeft(ctx context.Context, id int64) (int, error)

	CreateSession(ctx context.Context, s catalog.Session, replace string) error
	SessionByHash(ctx context.Context, idSHA256 string) (catalog.Session, error)
	TouchSession(ctx context.Context, idSHA256 string, at time.Time) error
	SetSessionJustification(ctx context.Context, idSHA256, text, caseRef string, at time.Time) error
	DeleteSession(ctx context.Context, idSHA256 string) (bool, error)
	DeleteUserSessions(ctx context.Context, userID int64, except string) (int64, error)
	UserSessions(ctx context.Context, userID int64) ([]catalog.Session, error)
	PurgeSessions(ctx context.Context, idleBefore, now time.Time) (int64, error)

	CreateAPIToken(ctx context.Context, t catalog.APIToken) (int64, error)
	APITokenByHash(ctx context.Context, sum string) (catalog.APIToken, error)
	APITokenByID(ctx context.Context, id int64) (catalog.APIToken, error)
	APITokens(ctx context.Context, userID int64) ([]catalog.APIToken, error)
	RevokeAPIToken(ctx context.Context, id int64, at time.Time) error
	RevokeUserAPITokens(ctx context.Context, userID int64, at time.Time) (int64, error)
	TouchAPIToken(ctx context.Context, id int64, at time.Time) error

	Throttles(ctx context.Context, keys ...string) ([]catalog.Throttle, error)
	UpdateThrottle(ctx context.Context, key string, fn func(*catalog.Throttle)) (catalog.Throttle, error)
	DeleteThrottle(ctx context.Context, key string) error
	PurgeThrottle(ctx context.Context, before, now time.Time) (int64, error)

	LogLoginEvent(ctx context.Context, e catalog.LoginEvent) (int64, error)
	LoginEvents(ctx context.Context, f catalog.LoginEventFilter) ([]catalog.LoginEvent, error)
}

var _ Store = (*catalog.SQLite)(nil)

// Options configures a Service. Zero values take the defaults named on each field.
type Options struct {
	// SecretKey (32 bytes, required) seals TOTP secrets in the catalog with
	// AES-256-GCM. Derive it from a key that never rotates, e.g. with
	// DeriveSecretKey from the key ring's name key.
	SecretKey []byte
	Now       func() time.Time // time.Now
	Logger    *slog.Logger     // slog.Default()
	Issuer    string           // shown in authenticator apps; "Resguardo"
	Argon2    Argon2Params     // DefaultArgon2
	Throttle  ThrottlePolicy
	Sessions  SessionPolicy
	Directory Directory // LDAP / Active Directory; nil: local accounts only
	OIDC      *OIDC     // an OpenID Connect provider; nil: none
	// MaxHashing bounds concurrent argon2id computations (64 MiB each with the
	// defaults), so a burst of logins cannot exhaust memory; 4.
	MaxHashing int
}

// Service is users, roles, login, second factor, sessions and API tokens over the catalog.
type Service struct {
	st     Store
	opt    Options
	seal   *sealer
	log    *slog.Logger
	hashes chan struct{}

	dummyOnce sync.Once
	dummy     PasswordHash
}

// New returns a service over st.
func New(st Store, opt Options) (*Service, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Issuer == "" {
		opt.Issuer = "Resguardo"
	}
	if opt.Argon2 == (Argon2Params{}) {
		opt.Argon2 = DefaultArgon2
	}
	if opt.MaxHashing <= 0 {
		opt.MaxHashing = 4
	}
	opt.Throttle = opt.Throttle.withDefaults()
	opt.Sessions = opt.Sessions.withDefaults()
	s, err := newSealer(opt.SecretKey)
	if err != nil {
		return nil, err
	}
	return &Service{st: st, opt: opt, seal: s, log: opt.Logger, hashes: make(chan struct{}, opt.MaxHashing)}, nil
}

func (s *Service) now() time.Time { return s.opt.Now().UTC() }

// hash runs fn while holding one of the MaxHashing slots.
func (s *Service) hash(ctx context.Context, fn func()) error {
	select {
	case s.hashes <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashes }()
	fn()
	return nil
}

// dummyHash is verified for unknown logins so their timing matches known ones.
func (s *Service) dummyHash() PasswordHash {
	s.dummyOnce.Do(func() {
		h, err := HashPasswordWith("resguardo-dummy-password", s.opt.Argon2)
		if err == nil {
			s.dummy, _ = ParsePasswordHash(h)
		}
	})
	return s.dummy
}

var loginRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// NormalizeLogin lower-cases and trims a login and checks its characters:
// lower-case ASCII letters, digits and . _ - @, 1 to 64, starting with a letter
// or digit (which covers sAMAccountName, uid and user@domain forms).
func NormalizeLogin(login string) (string, error) {
	l := strings.ToLower(strings.TrimSpace(login))
	if !loginRe.MatchString(l) {
		return "", ErrInvalidLogin
	}
	return l, nil
}

func toUser(c catalog.User) *User {
	u := &User{ID: c.ID, Login: c.Login, DisplayName: c.DisplayName, Source: c.Source, ExternalID: c.ExternalID,
		Addresses: c.Addresses, MustChangePassword: c.MustChangePassword, Disabled: c.Disabled,
		TOTPEnabled: c.TOTPSecret != nil, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		PasswordChangedAt: c.PasswordChangedAt, LastLoginAt: c.LastLoginAt}
	for _, r := range c.Roles {
		u.Roles = append(u.Roles, Role(r))
	}
	return u
}

func roleStrings(rs []Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func checkRoles(rs []Role) error {
	if len(rs) == 0 {
		return ErrNoRole
	}
	for _, r := range rs {
		if !r.Valid() {
			return ErrInvalidRole
		}
	}
	return nil
}

func normAddresses(as []string) ([]string, error) {
	var out []string
	for _, a := range as {
		n := NormalizeAddress(a)
		if n == "" {
			return nil, ErrInvalidAddress
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func checkDisplayName(n string) error {
	if utf8.RuneCountInString(n) > 200 || !utf8.ValidString(n) || strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return ErrInvalidName
	}
	return nil
}

func mapStoreErr(err error) error {
	switch {
	case errors.Is(err, catalog.ErrNoUser):
		return ErrNoUser
	case errors.Is(err, catalog.ErrUserExists):
		return ErrUserExists
	}
	return err
}

// NewUser describes an account to create.
type NewUser struct {
	Login       string
	DisplayName string
	Roles       []Role
	Addresses   []string
	// Password is the initial password; "" generates one, which CreateUser
	// returns once and which must be changed at first login.
	Password           string
	MustChangePassword bool
}

// CreateUser adds a local account. It returns the generated password when
// nu.Password was empty ("" otherwise).
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (*User, string, error) {
	login, err := NormalizeLogin(nu.Login)
	if err != nil {
		return nil, "", err
	}
	if err := checkRoles(nu.Roles); err != nil {
		return nil, "", err
	}
	addrs, err := normAddresses(nu.Addresses)
	if err != nil {
		return nil, "", err
	}
	name := strings.TrimSpace(nu.DisplayName)
	if err := checkDisplayName(name); err != nil {
		return nil, "", err
	}
	pw, generated, must := nu.Password, "", nu.MustChangePassword
	if pw == "" {
		if pw, err = GeneratePassword(); err != nil {
			return nil, "", err
		}
		generated, must = pw, true
	} else if err := CheckPassword(login, pw); err != nil {
		return nil, "", err
	}
	var hash string
	if err := s.hash(ctx, func() { hash, err = HashPasswordWith(pw, s.opt.Argon2) }); err != nil {
		return nil, "", err
	}
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	id, err := s.st.CreateUser(ctx, catalog.User{Login: login, DisplayName: name, Source: "local", PasswordHash: hash,
		MustChangePassword: must, Roles: roleStrings(nu.Roles), Addresses: addrs, CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now})
	if err != nil {
		return nil, "", mapStoreErr(err)
	}
	u, err := s.User(ctx, id)
	return u, generated, err
}

// User returns one account, or ErrNoUser.
func (s *Service) User(ctx context.Context, id int64) (*User, error) {
	c, err := s.st.UserByID(ctx, id)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	return toUser(c), nil
}

// UserByLogin returns the account with this login, or ErrNoUser.
func (s *Service) UserByLogin(ctx context.Context, login string) (*User, error) {
	l, err := NormalizeLogin(login)
	if err != nil {
		return nil, ErrNoUser
	}
	c, err := s.st.UserByLogin(ctx, l)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	return toUser(c), nil
}

// Users lists accounts, by login; role "" lists all.
func (s *Service) Users(ctx context.Context, role Role) ([]User, error) {
	cs, err := s.st.Users(ctx, catalog.UserFilter{Role: string(role)})
	if err != nil {
		return nil, err
	}
	out := make([]User, len(cs))
	for i, c := range cs {
		out[i] = *toUser(c)
	}
	return out, nil
}

// UsersOwning lists the enabled accounts that own addr: the people whose mail a
// message to or from addr is (for "who accessed my mail" and notifications).
func (s *Service) UsersOwning(ctx context.Context, addr string) ([]User, error) {
	a := NormalizeAddress(addr)
	if a == "" {
		return nil, ErrInvalidAddress
	}
	cs, err := s.st.Users(ctx, catalog.UserFilter{Address: a, Enabled: true})
	if err != nil {
		return nil, err
	}
	out := make([]User, len(cs))
	for i, c := range cs {
		out[i] = *toUser(c)
	}
	return out, nil
}

// UserUpdate changes an account; nil fields stay as they are.
type UserUpdate struct {
	DisplayName *string
	Roles       []Role   // nil: unchanged
	Addresses   []string // nil: unchanged; empty non-nil: none
	Disabled    *bool
}

// UpdateUser applies up to account id. Directory (LDAP, OIDC) accounts take their name,
// roles and addresses from the directory at every login: only Disabled may be
// changed here (ErrDirectoryUser otherwise). Removing the administrador role
// from, or disabling, the last enabled administrator is ErrLastAdmin. Disabling
// an account ends its sessions and revokes its API tokens.
func (s *Service) UpdateUser(ctx context.Context, id int64, up UserUpdate) (*User, error) {
	c, err := s.st.UserByID(ctx, id)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	if c.Source != "local" && (up.DisplayName != nil || up.Roles != nil || up.Addresses != nil) {
		return nil, ErrDirectoryUser
	}
	if up.DisplayName != nil {
		n := strings.TrimSpace(*up.DisplayName)
		if err := checkDisplayName(n); err != nil {
			return nil, err
		}
		c.DisplayName = n
	}
	if up.Roles != nil {
		if err := checkRoles(up.Roles); err != nil {
			return nil, err
		}
		c.Roles = roleStrings(up.Roles)
	}
	if up.Addresses != nil {
		if c.Addresses, err = normAddresses(up.Addresses); err != nil {
			return nil, err
		}
	}
	wasDisabled := c.Disabled
	if up.Disabled != nil {
		c.Disabled = *up.Disabled
	}
	after := toUser(c)
	if err := s.keepAnAdmin(ctx, id, after.Has(RoleAdministrador) && !after.Disabled); err != nil {
		return nil, err
	}
	c.UpdatedAt = s.now()
	if err := s.st.UpdateUser(ctx, c); err != nil {
		return nil, mapStoreErr(err)
	}
	if c.Disabled && !wasDisabled {
		if err := s.revokeEverything(ctx, id); err != nil {
			return nil, err
		}
	}
	return s.User(ctx, id)
}

// keepAnAdmin refuses a change after which account id would not be an enabled
// administrator (stillAdmin false) if it is the last one.
func (s *Service) keepAnAdmin(ctx context.Context, id int64, stillAdmin bool) error {
	if stillAdmin {
		return nil
	}
	c, err := s.st.UserByID(ctx, id)
	if err != nil {
		return mapStoreErr(err)
	}
	if c.Disabled || !slices.Contains(c.Roles, string(RoleAdministrador)) {
		return nil // it is not an enabled administrator now
	}
	n, err := s.st.CountUsers(ctx, string(RoleAdministrador), true)
	if err != nil {
		return err
	}
	if n <= 1 {
		return ErrLastAdmin
	}
	return nil
}

func (s *Service) revokeEverything(ctx context.Context, id int64) error {
	if _, err := s.st.DeleteUserSessions(ctx, id, ""); err != nil {
		return err
	}
	_, err := s.st.RevokeUserAPITokens(ctx, id, s.now())
	return err
}

// DeleteUser removes an account with its sessions, tokens and second factor (the
// login log keeps its rows; access entries in the ledger are never removed).
// Disabling is usually the better choice: it keeps the account's history whole.
func (s *Service) DeleteUser(ctx context.Context, id int64) error {
	if err := s.keepAnAdmin(ctx, id, false); err != nil {
		return err
	}
	return mapStoreErr(s.st.DeleteUser(ctx, id))
}

// SetPassword is an administrator's reset of a local account's password: the
// policy applies (a generated one when password is ""; returned), every session
// of the account ends and its login lock is lifted. mustChange makes the user
// choose a new one at the next login (always so for a generated password).
func (s *Service) SetPassword(ctx context.Context, id int64, password string, mustChange bool) (string, error) {
	c, err := s.st.UserByID(ctx, id)
	if err != nil {
		return "", mapStoreErr(err)
	}
	if c.Source != "local" {
		return "", ErrDirectoryUser
	}
	generated := ""
	if password == "" {
		if password, err = GeneratePassword(); err != nil {
			return "", err
		}
		generated, mustChange = password, true
	} else if err := CheckPassword(c.Login, password); err != nil {
		return "", err
	}
	var hash string
	if err := s.hash(ctx, func() { hash, err = HashPasswordWith(password, s.opt.Argon2) }); err != nil {
		return "", err
	}
	if err != nil {
		return "", err
	}
	if err := s.st.SetPasswordHash(ctx, id, hash, mustChange, s.now()); err != nil {
		return "", mapStoreErr(err)
	}
	if _, err := s.st.DeleteUserSessions(ctx, id, ""); err != nil {
		return "", err
	}
	return generated, s.st.DeleteThrottle(ctx, accountKey(c.Login))
}

// FirstAdminLogin is the login EnsureFirstAdmin creates.
const FirstAdminLogin = "admin"

// EnsureFirstAdmin creates the first administrator when no account holds the
// administrador role (enabled or not): login "admin", a random password that is
// returned here once (print it, never log it) and must be changed at first
// login, and — as for every administrator — TOTP enrolment before anything else.
// created is false (and login, password empty) when an administrator exists.
func (s *Service) EnsureFirstAdmin(ctx context.Context) (login, password string, created bool, err error) {
	n, err := s.st.CountUsers(ctx, string(RoleAdministrador), false)
	if err != nil || n > 0 {
		return "", "", false, err
	}
	u, pw, err := s.CreateUser(ctx, NewUser{Login: FirstAdminLogin, DisplayName: "Administrador", Roles: []Role{RoleAdministrador}})
	if err != nil {
		if errors.Is(err, ErrUserExists) {
			return "", "", false, fmt.Errorf("no administrator exists and the login %q is taken by another account: give that account the administrador role", FirstAdminLogin)
		}
		return "", "", false, err
	}
	s.log.Info("first administrator created", "login", u.Login)
	return u.Login, pw, true, nil
}
