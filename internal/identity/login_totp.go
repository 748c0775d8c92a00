package identity

import (
	"context"
	"crypto/rand"
	"strconv"
	"time"

	"github.com/skip2/go-qrcode"
)

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
