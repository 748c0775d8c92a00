package identity

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
)

// TOTP enrolment and two-step login.

func (e *env) enrol(t *testing.T, login string, roles []Role) (*Session, []byte, []string) {
	t.Helper()
	e.mkUser(t, login, roles)
	s, u := e.login(t, login, goodPW)
	if s.State != StatePasswordOK || !u.TOTPRequired() {
		t.Fatalf("%s before enrolment: %s", login, s.State)
	}
	en, err := e.svc.BeginTOTP(e.ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseOTPAuthURL(en.URL)
	if err != nil || k.Account != login || k.Issuer != "Resguardo" || b32.EncodeToString(k.Secret) != en.Secret {
		t.Fatalf("enrolment URL %s: %+v %v", en.URL, k, err)
	}
	if !bytes.HasPrefix(en.PNG, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatal("QR is not a PNG")
	}
	if _, _, err := e.svc.ConfirmTOTP(e.ctx, s.ID, "000000", web); !errors.Is(err, ErrInvalidCode) && TOTPCode(k.Secret, e.clk.now()) != "000000" {
		t.Fatalf("wrong enrolment code: %v", err)
	}
	full, codes, err := e.svc.ConfirmTOTP(e.ctx, s.ID, TOTPCode(k.Secret, e.clk.now()), web)
	if err != nil {
		t.Fatal(err)
	}
	if full.State != StateFull || full.ID == s.ID || len(codes) != RecoveryCodes {
		t.Fatalf("after enrolment: %+v, %d codes", full, len(codes))
	}
	return full, k.Secret, codes
}

func TestTOTPLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, secret, codes := e.enrol(t, "mlopez", []Role{RoleAuditor})
	pending := func() *Session {
		t.Helper()
		s, u := e.login(t, "mlopez", goodPW)
		if s.State != StateTOTPPending || !u.TOTPEnabled {
			t.Fatalf("state %s", s.State)
		}
		return s
	}
	// A pending session is good for nothing but the code.
	s := pending()
	if _, err := e.svc.SetJustification(e.ctx, s.ID, "Auditoría de contratos 2024", ""); !errors.Is(err, ErrSessionState) {
		t.Fatalf("justification while pending: %v", err)
	}
	if _, err := e.svc.BeginTOTP(e.ctx, s.ID); !errors.Is(err, ErrSessionState) {
		t.Fatalf("enrolment while pending: %v", err)
	}
	// The enrolment's code (same step) cannot be used again.
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, TOTPCode(secret, e.clk.now()), web); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replayed enrolment code: %v", err)
	}
	e.clk.advance(30 * time.Second)
	code := TOTPCode(secret, e.clk.now())
	full, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, code[:3]+" "+code[3:], web)
	if err != nil {
		t.Fatal(err)
	}
	if full.State != StateFull || full.ID == s.ID {
		t.Fatalf("after TOTP: %+v", full)
	}
	if _, _, err := e.svc.Session(e.ctx, s.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("pending session survived: %v", err)
	}
	// Replay: the same code in a second login, within its validity.
	s = pending()
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, code, web); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replay: %v", err)
	}
	// The previous step's code is older than the last used: refused too.
	e.clk.advance(30 * time.Second)
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, TOTPCode(secret, e.clk.now().Add(-30*time.Second)), web); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("older step: %v", err)
	}
	// Clock skew: the next step's code is accepted.
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, TOTPCode(secret, e.clk.now().Add(30*time.Second)), web); err != nil {
		t.Fatalf("next step: %v", err)
	}
	// Recovery codes: each once.
	s = pending()
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, strings.ToUpper(codes[3]), web); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if n, _ := e.svc.RecoveryCodesLeft(e.ctx, s.UserID); n != RecoveryCodes-1 {
		t.Fatalf("codes left %d", n)
	}
	s = pending()
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, codes[3], web); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("reused recovery code: %v", err)
	}
	// The pending session expires after 5 minutes.
	e.clk.advance(5 * time.Minute)
	if _, _, err := e.svc.VerifySecondFactor(e.ctx, s.ID, codes[4], web); !errors.Is(err, ErrNoSession) {
		t.Fatalf("late second factor: %v", err)
	}
	// Wrong codes count towards the lockout.
	s = pending()
	var err2 error
	for i := 0; i < 5; i++ {
		_, _, err2 = e.svc.VerifySecondFactor(e.ctx, s.ID, "12345x", web)
	}
	if !errors.Is(err2, ErrThrottled) {
		t.Fatalf("5 wrong codes: %v", err2)
	}
	evs, _ := e.svc.LoginEvents(e.ctx, catalog.LoginEventFilter{Login: "mlopez", Limit: 1000})
	results := map[string]int{}
	for _, ev := range evs {
		results[ev.Method+" "+ev.Result]++
	}
	if results["totp replayed_code"] != 3 || results["recovery bad_code"] != 1 || results["recovery ok"] != 1 || results["totp_enrol ok"] != 1 || results["totp ok"] != 2 {
		t.Fatalf("events %v", results)
	}
	// Regenerating codes and an administrator's reset.
	e.svc.Unlock(e.ctx, "mlopez")
	e.clk.advance(time.Minute)
	s = pending()
	full, _, err = e.svc.VerifySecondFactor(e.ctx, s.ID, TOTPCode(secret, e.clk.now()), web)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := e.svc.RegenerateRecoveryCodes(e.ctx, full.ID, web)
	if err != nil || len(fresh) != RecoveryCodes || fresh[0] == codes[0] {
		t.Fatalf("regenerate: %v", err)
	}
	if err := e.svc.DisableTOTP(e.ctx, full.UserID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Session(e.ctx, full.ID); !errors.Is(err, ErrNoSession) {
		t.Fatal("sessions survived a TOTP reset")
	}
	if s, _ := e.login(t, "mlopez", goodPW); s.State != StatePasswordOK {
		t.Fatalf("after reset: %s (enrolment is due again)", s.State)
	}
}

// A servidor público may enrol voluntarily; the enrolment expires.
func TestOptionalTOTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mkUser(t, "jperez", []Role{RoleServidorPublico})
	s, _ := e.login(t, "jperez", goodPW)
	if _, err := e.svc.RegenerateRecoveryCodes(e.ctx, s.ID, web); !errors.Is(err, ErrTOTPNotEnrolled) {
		t.Fatalf("codes without TOTP: %v", err)
	}
	en, err := e.svc.BeginTOTP(e.ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ParseOTPAuthURL(en.URL)
	e.clk.advance(8 * time.Minute)
	e.svc.Session(e.ctx, s.ID) // keep the session alive
	e.clk.advance(8 * time.Minute)
	if _, _, err := e.svc.ConfirmTOTP(e.ctx, s.ID, TOTPCode(k.Secret, e.clk.now()), web); !errors.Is(err, ErrTOTPNoEnrolment) {
		t.Fatalf("late confirmation: %v", err)
	}
	s, _ = e.login(t, "jperez", goodPW)
	en, _ = e.svc.BeginTOTP(e.ctx, s.ID)
	k, _ = ParseOTPAuthURL(en.URL)
	same, _, err := e.svc.ConfirmTOTP(e.ctx, s.ID, TOTPCode(k.Secret, e.clk.now()), web)
	if err != nil || same.ID != s.ID || same.State != StateFull {
		t.Fatalf("voluntary enrolment: %+v %v", same, err)
	}
	if s2, _ := e.login(t, "jperez", goodPW); s2.State != StateTOTPPending {
		t.Fatalf("next login: %s", s2.State)
	}
}
