package identity

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/resguardo/resguardo/internal/catalog"
)

// Login methods and results written to the login log.
const (
	MethodPassword = "password" // local account
	MethodLDAP     = "ldap"     // directory bind
	MethodTOTP     = "totp"
	MethodRecovery = "recovery"
)

func (s *Service) event(ctx context.Context, login string, userID int64, c Client, method, result, detail string) error {
	_, err := s.st.LogLoginEvent(ctx, catalog.LoginEvent{At: s.now(), Login: clip(login, 64), UserID: userID,
		ClientIP: clip(c.IP, 64), UserAgent: clip(c.UserAgent, 256), Method: method, Result: result, Detail: clip(detail, 500)})
	return err
}

// LoginEvents returns the login log, newest first.
func (s *Service) LoginEvents(ctx context.Context, f catalog.LoginEventFilter) ([]catalog.LoginEvent, error) {
	return s.st.LoginEvents(ctx, f)
}

// LoginRequest is one submitted login form.
type LoginRequest struct {
	Login    string
	Password string
	Client   Client
	// Session is the cookie value of the session the form came from (anonymous,
	// or an older one): it is deleted, and the login gets a new id (no fixation).
	Session string
}

// stateAfterAuth is the state once every enrolled factor has been checked.
func stateAfterAuth(u *User) State {
	if u.MustChangePassword || (u.TOTPRequired() && !u.TOTPEnabled) {
		return StatePasswordOK
	}
	return StateFull
}

// Login checks a login and password — against the local account, or the
// directory for directory accounts and for logins unknown here when a Directory
// is configured (provisioning the account on its first login) — under the
// throttling policy, and issues a new session: StateTOTPPending when the account
// has TOTP, else StatePasswordOK or StateFull (see State). Every attempt is in
// the login log. Wrong login, wrong password, disabled account and directory
// accounts without a mapped role are all ErrInvalidCredentials.
func (s *Service) Login(ctx context.Context, req LoginRequest) (*Session, *User, error) {
	c := req.Client
	login, lerr := NormalizeLogin(req.Login)
	keys := s.keys(login, c.IP)
	if wait, err := s.lockedFor(ctx, keys); err != nil {
		return nil, nil, err
	} else if wait > 0 {
		if err := s.event(ctx, login, 0, c, MethodPassword, "throttled", ""); err != nil {
			return nil, nil, err
		}
		return nil, nil, throttledErr(wait)
	}
	fail := func(userID int64, method, result string) (*Session, *User, error) {
		if err := s.event(ctx, firstNonEmpty(login, req.Login), userID, c, method, result, ""); err != nil {
			return nil, nil, err
		}
		wait, err := s.failed(ctx, keys)
		if err != nil {
			return nil, nil, err
		}
		if wait > 0 {
			return nil, nil, throttledErr(wait)
		}
		return nil, nil, ErrInvalidCredentials
	}
	if lerr != nil || req.Password == "" || len(req.Password) > 4*MaxPasswordLength {
		s.burnDummy(ctx, req.Password)
		return fail(0, MethodPassword, "invalid_input")
	}
	cu, err := s.st.UserByLogin(ctx, login)
	switch {
	case err == nil && cu.Source == "local":
		ok := false
		if h, perr := ParsePasswordHash(cu.PasswordHash); perr == nil {
			if err := s.hash(ctx, func() { ok = h.Verify(req.Password) }); err != nil {
				return nil, nil, err
			}
		} else {
			s.burnDummy(ctx, req.Password)
		}
		if !ok {
			return fail(cu.ID, MethodPassword, "bad_password")
		}
		if cu.Disabled {
			return fail(cu.ID, MethodPassword, "disabled")
		}
		return s.loggedIn(ctx, req, toUser(cu), MethodPassword)
	case err == nil && cu.Source == SourceOIDC:
		// Accounts of the OpenID Connect provider have no password here.
		s.burnDummy(ctx, req.Password)
		return fail(cu.ID, MethodPassword, "external_account")
	case err == nil && cu.Source == "ldap" || errors.Is(err, catalog.ErrNoUser) && s.opt.Directory != nil:
		if s.opt.Directory == nil {
			s.burnDummy(ctx, req.Password)
			return fail(cu.ID, MethodLDAP, "no_directory")
		}
		du, derr := s.opt.Directory.Authenticate(ctx, login, req.Password)
		switch {
		case errors.Is(derr, ErrInvalidCredentials):
			return fail(cu.ID, MethodLDAP, "bad_password")
		case derr != nil:
			s.log.Warn("directory login failed", "login", login, "err", derr)
			if err := s.event(ctx, login, cu.ID, c, MethodLDAP, "directory_error", derr.Error()); err != nil {
				return nil, nil, err
			}
			return nil, nil, ErrDirectoryUnavailable
		}
		exists, target := err == nil, login
		if canon, cerr := NormalizeLogin(du.Login); cerr == nil && canon != login {
			// The directory's login attribute names the account, whichever
			// form (uid, mail, UPN) the person typed.
			target = canon
			switch cu2, err2 := s.st.UserByLogin(ctx, canon); {
			case err2 == nil && cu2.Source != "ldap":
				return fail(cu2.ID, MethodLDAP, "login_conflict")
			case err2 == nil:
				cu, exists = cu2, true
			case errors.Is(err2, catalog.ErrNoUser):
				cu, exists = catalog.User{}, false
			default:
				return nil, nil, err2
			}
		}
		if idAttr, _, _ := strings.Cut(du.ID, ":"); exists && du.ID != "" && cu.ExternalID != du.ID && strings.HasPrefix(cu.ExternalID, idAttr+":") {
			// The account was made for another directory entry (a login given
			// to someone new): it must not inherit that person's account.
			s.log.Warn("directory login refused: the account belongs to another directory entry", "login", target,
				"account", cu.ExternalID, "entry", du.ID)
			return fail(cu.ID, MethodLDAP, "directory_id_mismatch")
		}
		if len(du.Roles) == 0 {
			return fail(cu.ID, MethodLDAP, "no_role")
		}
		if exists && cu.Disabled {
			return fail(cu.ID, MethodLDAP, "disabled")
		}
		u, perr := s.provision(ctx, target, du, cu, exists)
		if perr != nil {
			return nil, nil, perr
		}
		return s.loggedIn(ctx, req, u, MethodLDAP)
	case errors.Is(err, catalog.ErrNoUser):
		s.burnDummy(ctx, req.Password)
		return fail(0, MethodPassword, "no_user")
	default:
		return nil, nil, err
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return strings.ToLower(strings.TrimSpace(b))
}

// burnDummy spends the time of a password check, so unknown logins and broken
// hashes answer as slowly as wrong passwords.
func (s *Service) burnDummy(ctx context.Context, password string) {
	h := s.dummyHash()
	s.hash(ctx, func() { h.Verify(password) })
}

// provision creates or updates the local account of a directory user: name,
// addresses and roles come from the directory at every login.
func (s *Service) provision(ctx context.Context, login string, du *DirectoryUser, cu catalog.User, exists bool) (*User, error) {
	return s.provisionAs(ctx, "ldap", login, du, cu, exists)
}

// provisionAs is provision for accounts of source (ldap, oidc).
func (s *Service) provisionAs(ctx context.Context, source, login string, du *DirectoryUser, cu catalog.User, exists bool) (*User, error) {
	addrs, _ := normAddresses(slices.DeleteFunc(slices.Clone(du.Addresses), func(a string) bool { return NormalizeAddress(a) == "" }))
	name := clip(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(du.DisplayName)), 200)
	ext := du.ID
	if ext == "" {
		ext = du.DN
	}
	now := s.now()
	if !exists {
		id, err := s.st.CreateUser(ctx, catalog.User{Login: login, DisplayName: name, Source: source, ExternalID: ext,
			Roles: roleStrings(du.Roles), Addresses: addrs, CreatedAt: now, UpdatedAt: now})
		if errors.Is(err, catalog.ErrUserExists) {
			// A concurrent first login of the same person made it a moment ago.
			if cu, err = s.st.UserByLogin(ctx, login); err == nil && cu.Source == source && (cu.ExternalID == "" || cu.ExternalID == ext) {
				return s.provisionAs(ctx, source, login, du, cu, true)
			}
			return nil, ErrInvalidCredentials
		}
		if err != nil {
			return nil, err
		}
		s.log.Info("directory user provisioned", "source", source, "login", login, "dn", du.DN, "id", du.ID, "roles", du.Roles)
		return s.User(ctx, id)
	}
	cu.DisplayName, cu.ExternalID, cu.Roles, cu.Addresses, cu.UpdatedAt = name, ext, roleStrings(du.Roles), addrs, now
	if err := s.st.UpdateUser(ctx, cu); err != nil {
		return nil, mapStoreErr(err)
	}
	return s.User(ctx, cu.ID)
}

// loggedIn finishes a successful first factor: the account's failures are
// forgotten and a new session replaces the form's.
func (s *Service) loggedIn(ctx context.Context, req LoginRequest, u *User, method string) (*Session, *User, error) {
	return s.loggedInWith(ctx, req, u, method, false, "")
}

// loggedInWith is loggedIn where mfa says a second factor was already checked
// (by an identity provider), so the local TOTP step is skipped; detail is
// added to the login-log row.
func (s *Service) loggedInWith(ctx context.Context, req LoginRequest, u *User, method string, mfa bool, detail string) (*Session, *User, error) {
	if err := s.st.DeleteThrottle(ctx, accountKey(u.Login)); err != nil {
		return nil, nil, err
	}
	st := StateTOTPPending
	switch {
	case mfa && u.MustChangePassword:
		st = StatePasswordOK
	case mfa:
		st = StateFull
	case !u.TOTPEnabled:
		st = stateAfterAuth(u)
	}
	if st != StateTOTPPending {
		if err := s.st.TouchUserLogin(ctx, u.ID, s.now()); err != nil {
			return nil, nil, err
		}
	}
	sess, err := s.issue(ctx, u.ID, st, method, req.Client, req.Session)
	if err != nil {
		return nil, nil, err
	}
	if detail != "" {
		detail = " " + detail
	}
	if err := s.event(ctx, u.Login, u.ID, req.Client, method, "ok", string(st)+detail); err != nil {
		return nil, nil, err
	}
	return sess, u, nil
}

// VerifySecondFactor checks a TOTP code — or one of the account's recovery codes
// — for a session in StateTOTPPending, under the same throttling as passwords.
// A TOTP code is accepted for the current 30 s step or one step either side,
// and only once: a code, or any earlier one, cannot be used again. On success
// the session is rotated (a new ID) into StatePasswordOK or StateFull.
func (s *Service) VerifySecondFactor(ctx context.Context, id, code string, c Client) (*Session, *User, error) {
	sess, u, err := s.sessionIn(ctx, id, StateTOTPPending)
	if err != nil {
		return nil, nil, err
	}
	keys := s.keys(u.Login, c.IP)
	if wait, err := s.lockedFor(ctx, keys); err != nil {
		return nil, nil, err
	} else if wait > 0 {
		if err := s.event(ctx, u.Login, u.ID, c, MethodTOTP, "throttled", ""); err != nil {
			return nil, nil, err
		}
		return nil, nil, throttledErr(wait)
	}
	code = normalizeCode(code)
	method, result := MethodTOTP, "bad_code"
	ok := false
	if isTOTPCode(code) {
		var replay bool
		if ok, replay, err = s.checkTOTP(ctx, u.ID, code); err != nil {
			return nil, nil, err
		}
		if replay {
			result = "replayed_code"
		}
	} else if len(code) == 16 {
		method = MethodRecovery
		if ok, err = s.st.UseRecoveryCode(ctx, u.ID, recoveryHash(code), s.now()); err != nil {
			return nil, nil, err
		}
	}
	if !ok {
		if err := s.event(ctx, u.Login, u.ID, c, method, result, ""); err != nil {
			return nil, nil, err
		}
		wait, err := s.failed(ctx, keys)
		if err != nil {
			return nil, nil, err
		}
		if wait > 0 {
			return nil, nil, throttledErr(wait)
		}
		return nil, nil, ErrInvalidCode
	}
	if err := s.st.DeleteThrottle(ctx, accountKey(u.Login)); err != nil {
		return nil, nil, err
	}
	if err := s.st.TouchUserLogin(ctx, u.ID, s.now()); err != nil {
		return nil, nil, err
	}
	st := stateAfterAuth(u)
	ns, err := s.issue(ctx, u.ID, st, sess.Method, c, id)
	if err != nil {
		return nil, nil, err
	}
	detail := string(st)
	if method == MethodRecovery {
		left, _ := s.st.RecoveryCodesLeft(ctx, u.ID)
		detail += " recovery_codes_left=" + strconv.Itoa(left)
	}
	if err := s.event(ctx, u.Login, u.ID, c, method, "ok", detail); err != nil {
		return nil, nil, err
	}
	return ns, u, nil
}

// checkTOTP verifies code against the account's active secret and consumes its
// time step; replay is true for a right code whose step was already used.
func (s *Service) checkTOTP(ctx context.Context, userID int64, code string) (ok, replay bool, err error) {
	cu, err := s.st.UserByID(ctx, userID)
	if err != nil {
		return false, false, mapStoreErr(err)
	}
	if cu.TOTPSecret == nil {
		return false, false, nil
	}
	key, err := s.seal.open(cu.TOTPSecret, userID)
	if err != nil {
		return false, false, err
	}
	step, match := matchTOTP(key, code, s.now())
	if !match {
		return false, false, nil
	}
	used, err := s.st.UseTOTPStep(ctx, userID, step)
	if err != nil {
		return false, false, err
	}
	return used, !used, nil
}

// ChangePassword is a user's change of their own (local) password from a
// session past its factors (StatePasswordOK or StateFull): the current password
// is checked (under throttling), the policy applies to the new one, the
// must-change flag is cleared, every other session of the account ends, and this
// one moves on (to StateFull unless TOTP enrolment is still due).
func (s *Service) ChangePassword(ctx context.Context, id, current, newPassword string, c Client) (*Session, error) {
	sess, u, err := s.sessionIn(ctx, id, StatePasswordOK, StateFull)
	if err != nil {
		return nil, err
	}
	if u.Source != "local" {
		return nil, ErrDirectoryUser
	}
	keys := s.keys(u.Login, c.IP)
	if wait, err := s.lockedFor(ctx, keys); err != nil {
		return nil, err
	} else if wait > 0 {
		return nil, throttledErr(wait)
	}
	cu, err := s.st.UserByID(ctx, u.ID)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	h, err := ParsePasswordHash(cu.PasswordHash)
	if err != nil {
		return nil, err
	}
	ok, same := false, false
	if err := s.hash(ctx, func() { ok = h.Verify(current); same = ok && h.Verify(newPassword) }); err != nil {
		return nil, err
	}
	if !ok {
		if err := s.event(ctx, u.Login, u.ID, c, "password_change", "bad_password", ""); err != nil {
			return nil, err
		}
		if wait, err := s.failed(ctx, keys); err != nil {
			return nil, err
		} else if wait > 0 {
			return nil, throttledErr(wait)
		}
		return nil, ErrInvalidCredentials
	}
	if same {
		return nil, ErrSamePassword
	}
	if err := CheckPassword(u.Login, newPassword); err != nil {
		return nil, err
	}
	var hash string
	if err := s.hash(ctx, func() { hash, err = HashPasswordWith(newPassword, s.opt.Argon2) }); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if err := s.st.SetPasswordHash(ctx, u.ID, hash, false, s.now()); err != nil {
		return nil, err
	}
	if _, err := s.st.DeleteUserSessions(ctx, u.ID, sessionHash(id)); err != nil {
		return nil, err
	}
	if err := s.event(ctx, u.Login, u.ID, c, "password_change", "ok", ""); err != nil {
		return nil, err
	}
	u.MustChangePassword = false
	return s.advance(ctx, sess, u, c)
}

// advance moves a StatePasswordOK session to StateFull once nothing is due,
// rotating its id (a privilege change).
func (s *Service) advance(ctx context.Context, sess *Session, u *User, c Client) (*Session, error) {
	if sess.State != StatePasswordOK || stateAfterAuth(u) != StateFull {
		return sess, nil
	}
	return s.issue(ctx, u.ID, StateFull, sess.Method, c, sess.ID)
}

// TOTPEnrolment is what a user needs to add the account to an authenticator app.
type TOTPEnrolment struct {
	Secret string // base32, for typing by hand
	URL    string // otpauth://totp/…
	PNG    []byte // QR code of URL, 256×256
}

// BeginTOTP starts (or restarts) TOTP enrolment for the session's user, from
// StatePasswordOK or StateFull: a new 160-bit secret is kept pending until
// ConfirmTOTP proves the app has it. An account that already has TOTP must
// remove it first (DisableTOTP).
func (s *Service) BeginTOTP(ctx context.Context, id string) (*TOTPEnrolment, error) {
	_, u, err := s.sessionIn(ctx, id, StatePasswordOK, StateFull)
	if err != nil {
		return nil, err
	}
	if u.TOTPEnabled {
		return nil, ErrSessionState
	}
	secret := make([]byte, totpSecretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	sealed, err := s.seal.seal(secret, u.ID)
	if err != nil {
		return nil, err
	}
	if err := s.st.SetTOTPPending(ctx, u.ID, sealed, s.now()); err != nil {
		return nil, err
	}
	k := OTPKey{Issuer: s.opt.Issuer, Account: u.Login, Secret: secret}
	png, err := qrcode.Encode(k.URL(), qrcode.Medium, 256)
	if err != nil {
		return nil, err
	}
	return &TOTPEnrolment{Secret: b32.EncodeToString(secret), URL: k.URL(), PNG: png}, nil
}

// ConfirmTOTP finishes enrolment with a code from the app: the pending secret
// becomes the account's, the code's step is consumed, and RecoveryCodes new
// recovery codes are returned — the only time they are shown. The session moves
// on (to StateFull unless a password change is still due). Enrolment expires
// after 15 minutes (ErrTOTPNoEnrolment).
func (s *Service) ConfirmTOTP(ctx context.Context, id, code string, c Client) (*Session, []string, error) {
	sess, u, err := s.sessionIn(ctx, id, StatePasswordOK, StateFull)
	if err != nil {
		return nil, nil, err
	}
	cu, err := s.st.UserByID(ctx, u.ID)
	if err != nil {
		return nil, nil, mapStoreErr(err)
	}
	if cu.TOTPPending == nil || s.now().Sub(cu.TOTPPendingAt) > totpEnrolmentTTL {
		return nil, nil, ErrTOTPNoEnrolment
	}
	keys := s.keys(u.Login, c.IP)
	if wait, err := s.lockedFor(ctx, keys); err != nil {
		return nil, nil, err
	} else if wait > 0 {
		return nil, nil, throttledErr(wait)
	}
	secret, err := s.seal.open(cu.TOTPPending, u.ID)
	if err != nil {
		return nil, nil, err
	}
	step, ok := matchTOTP(secret, normalizeCode(code), s.now())
	if !ok {
		if err := s.event(ctx, u.Login, u.ID, c, "totp_enrol", "bad_code", ""); err != nil {
			return nil, nil, err
		}
		if wait, err := s.failed(ctx, keys); err != nil {
			return nil, nil, err
		} else if wait > 0 {
			return nil, nil, throttledErr(wait)
		}
		return nil, nil, ErrInvalidCode
	}
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if err := s.st.ActivateTOTP(ctx, u.ID, cu.TOTPPending, step, now); err != nil {
		return nil, nil, err
	}
	if err := s.st.ReplaceRecoveryCodes(ctx, u.ID, hashes, now); err != nil {
		return nil, nil, err
	}
	if err := s.event(ctx, u.Login, u.ID, c, "totp_enrol", "ok", ""); err != nil {
		return nil, nil, err
	}
	u.TOTPEnabled = true
	ns, err := s.advance(ctx, sess, u, c)
	return ns, codes, err
}

// totpEnrolmentTTL bounds the time between BeginTOTP and ConfirmTOTP.
const totpEnrolmentTTL = 15 * time.Minute

// RegenerateRecoveryCodes replaces the recovery codes of the session's user
// (who must have TOTP and be fully logged in) and returns the new ones, once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, id string, c Client) ([]string, error) {
	_, u, err := s.sessionIn(ctx, id, StateFull)
	if err != nil {
		return nil, err
	}
	if !u.TOTPEnabled {
		return nil, ErrTOTPNotEnrolled
	}
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	if err := s.st.ReplaceRecoveryCodes(ctx, u.ID, hashes, s.now()); err != nil {
		return nil, err
	}
	return codes, s.event(ctx, u.Login, u.ID, c, "recovery_codes", "ok", "regenerated")
}

// RecoveryCodesLeft counts an account's unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	return s.st.RecoveryCodesLeft(ctx, userID)
}

// DisableTOTP removes an account's second factor and recovery codes (an
// administrator's reset for a lost phone; or the user's own, for a servidor
// público, who may go without). Every session of the account ends; if its role
// requires TOTP, the next login leads to enrolment again.
func (s *Service) DisableTOTP(ctx context.Context, userID int64) error {
	if err := s.st.ClearTOTP(ctx, userID, s.now()); err != nil {
		return mapStoreErr(err)
	}
	_, err := s.st.DeleteUserSessions(ctx, userID, "")
	return err
}
