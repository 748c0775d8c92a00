package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/identity"
)

// benchWebAccount (re)creates the bench's auditor through the identity service
// and enrols TOTP as the web pages would (log in, BeginTOTP, ConfirmTOTP with a
// code from the secret). It returns the password, the TOTP secret and every
// record's id.
func benchWebAccount(ctx context.Context, m *Main) (string, []byte, []string, error) {
	a, err := m.openArchive(ctx, true, "bench web")
	if err != nil {
		return "", nil, nil, err
	}
	defer a.Close()
	svc, err := m.identityService(a)
	if err != nil {
		return "", nil, nil, err
	}
	if u, err := svc.UserByLogin(ctx, benchWebLogin); err == nil {
		if err := svc.DeleteUser(ctx, u.ID); err != nil {
			return "", nil, nil, fmt.Errorf("remove the previous bench account: %w", err)
		}
	}
	pw, err := identity.GeneratePassword()
	if err != nil {
		return "", nil, nil, err
	}
	if _, _, err := svc.CreateUser(ctx, identity.NewUser{Login: benchWebLogin, DisplayName: "Banco de pruebas web",
		Roles: []identity.Role{identity.RoleAuditor}, Password: pw}); err != nil {
		return "", nil, nil, fmt.Errorf("create the bench account: %w", err)
	}
	c := identity.Client{IP: "127.0.0.1", UserAgent: "resguardo bench web"}
	sess, _, err := svc.Login(ctx, identity.LoginRequest{Login: benchWebLogin, Password: pw, Client: c})
	if err != nil {
		return "", nil, nil, fmt.Errorf("log in to enrol TOTP: %w", err)
	}
	enr, err := svc.BeginTOTP(ctx, sess.ID)
	if err != nil {
		return "", nil, nil, fmt.Errorf("begin TOTP: %w", err)
	}
	key, err := identity.ParseOTPAuthURL(enr.URL)
	if err != nil {
		return "", nil, nil, err
	}
	ns, _, err := svc.ConfirmTOTP(ctx, sess.ID, identity.TOTPCode(key.Secret, time.Now()), c)
	if err != nil {
		return "", nil, nil, fmt.Errorf("confirm TOTP: %w", err)
	}
	if err := svc.Logout(ctx, ns.ID, c); err != nil {
		return "", nil, nil, err
	}
	recs, err := a.Cat.List(ctx, catalog.ListOptions{})
	if err != nil {
		return "", nil, nil, err
	}
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		ids = append(ids, r.SHA256)
	}
	return pw, key.Secret, ids, nil
}

// benchWebDropAccount removes the bench account from a data directory the bench
// did not create (its access entries stay in the ledger).
func benchWebDropAccount(ctx context.Context, m *Main) error {
	a, err := m.openArchive(ctx, true, "bench web")
	if err != nil {
		return err
	}
	defer a.Close()
	svc, err := m.identityService(a)
	if err != nil {
		return err
	}
	u, err := svc.UserByLogin(ctx, benchWebLogin)
	if err != nil {
		return err
	}
	return svc.DeleteUser(ctx, u.ID)
}

var benchCSRFRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// benchWebLoginFlow logs in as a browser does: the login form (anonymous
// session and CSRF token), password, TOTP code, justification.
func benchWebLoginFlow(cl *http.Client, base, pw string, key []byte) error {
	page := func(r *http.Response, err error) (string, string, error) {
		if err != nil {
			return "", "", err
		}
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		if err == nil && r.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: status %d", r.Request.URL.Path, r.StatusCode)
		}
		return string(b), r.Request.URL.Path, err
	}
	post := func(path, from string, form url.Values) (string, string, error) {
		mt := benchCSRFRE.FindStringSubmatch(from)
		if mt == nil {
			return "", "", fmt.Errorf("no CSRF token on the page before %s", path)
		}
		form.Set("csrf", mt[1])
		return page(cl.PostForm(base+path, form))
	}
	p, _, err := page(cl.Get(base + "/entrar"))
	if err != nil {
		return fmt.Errorf("login form: %w", err)
	}
	p, at, err := post("/entrar", p, url.Values{"usuario": {benchWebLogin}, "contrasena": {pw}})
	if err != nil || at != "/entrar/codigo" {
		return fmt.Errorf("password: at %s: %v", at, err)
	}
	// The enrolment used the current 30 s step; a code of the next one is
	// accepted (one step of skew) and is newer.
	code := identity.TOTPCode(key, time.Now().Add(identity.TOTPPeriod*time.Second))
	if p, at, err = post("/entrar/codigo", p, url.Values{"codigo": {code}}); err != nil {
		return fmt.Errorf("TOTP code: at %s: %w", at, err)
	}
	if p, at, err = page(cl.Get(base + "/buscar")); err != nil || !strings.Contains(p, `id="justificacion"`) {
		return fmt.Errorf("justification form expected at %s: %v", at, err)
	}
	p, at, err = post("/justificacion", p, url.Values{"justificacion": {"Medición de rendimiento del archivo (resguardo bench web)"}, "volver": {"/buscar"}})
	if err != nil || !strings.Contains(p, `id="buscar"`) {
		return fmt.Errorf("search form expected after the justification, at %s: %v", at, err)
	}
	return nil
}

func benchWaitHTTP(ctx context.Context, u string, timeout time.Duration) error {
	cl := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		r, err := cl.Get(u)
		if err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("serve did not answer %s within %s (%v)", u, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
