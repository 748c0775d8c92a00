package identity

import (
	"context"
	"errors"
	"strings"

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
