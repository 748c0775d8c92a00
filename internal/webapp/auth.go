package webapp

import (
	"errors"
	"net/http"
	"time"

	"github.com/resguardo/resguardo/internal/identity"
)

// loginForm shows the login form, in an anonymous session that carries its
// CSRF token. A logged-in visitor goes on to the search page.
func (a *App) loginForm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess, u, err := a.opt.Identity.Session(ctx, identity.SessionIDFromRequest(r, a.opt.TLS))
	if err == nil && u != nil {
		http.Redirect(w, r, nextStep(sess, u), http.StatusSeeOther)
		return
	}
	if err != nil {
		if sess, err = a.opt.Identity.StartAnonymous(ctx, clientOf(r)); err != nil {
			a.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		a.setSession(w, sess)
	}
	q := &req{sess: sess, lang: langOf(r)}
	p := q.page("login.title")
	p.Data = a.loginData()
	a.render(w, http.StatusOK, "login", p)
}

// login checks the form's CSRF token (of the anonymous session), then the
// password; the service issues a new session id (no fixation).
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := identity.SessionIDFromRequest(r, a.opt.TLS)
	sess, _, err := a.opt.Identity.Session(ctx, id)
	if err != nil {
		a.fail(w, r, http.StatusForbidden, identity.ErrCSRF)
		return
	}
	if !a.csrfOK(w, r, sess) {
		return
	}
	ns, u, err := a.opt.Identity.Login(ctx, identity.LoginRequest{
		Login: r.PostFormValue("usuario"), Password: r.PostFormValue("contrasena"), Client: clientOf(r), Session: id})
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, identity.ErrThrottled) {
			status = http.StatusTooManyRequests
		}
		q := &req{sess: sess, lang: langOf(r)}
		p := q.page("login.title")
		p.Error = a.errText(q, err)
		p.Data = a.loginData()
		// The login attempt may have deleted the form's session: start another.
		if _, _, err := a.opt.Identity.Session(ctx, id); err != nil {
			if ns, err := a.opt.Identity.StartAnonymous(ctx, clientOf(r)); err == nil {
				a.setSession(w, ns)
				p.CSRF = ns.CSRF
			}
		}
		a.render(w, status, "login", p)
		return
	}
	a.setSession(w, ns)
	http.Redirect(w, r, nextStep(ns, u), http.StatusSeeOther)
}

// errText is the person's text for err (identity errors carry theirs).
func (a *App) errText(q *req, err error) string {
	var ie *identity.Error
	if errors.As(err, &ie) {
		return ie.Message(q.lang)
	}
	a.opt.Logger.Error("webapp", "err", err)
	return text(q.lang, "error.internal")
}

func (a *App) codeForm(w http.ResponseWriter, r *http.Request, q *req) {
	if q.sess.State != identity.StateTOTPPending {
		http.Redirect(w, r, nextStep(q.sess, q.user), http.StatusSeeOther)
		return
	}
	a.render(w, http.StatusOK, "code", q.page("code.title"))
}

func (a *App) code(w http.ResponseWriter, r *http.Request, q *req) {
	ns, u, err := a.opt.Identity.VerifySecondFactor(r.Context(), q.sess.ID, r.PostFormValue("codigo"), clientOf(r))
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, identity.ErrThrottled) {
			status = http.StatusTooManyRequests
		}
		if errors.Is(err, identity.ErrNoSession) {
			http.Redirect(w, r, "/entrar", http.StatusSeeOther)
			return
		}
		p := q.page("code.title")
		p.Error = a.errText(q, err)
		a.render(w, status, "code", p)
		return
	}
	a.setSession(w, ns)
	http.Redirect(w, r, nextStep(ns, u), http.StatusSeeOther)
}

func (a *App) passwordForm(w http.ResponseWriter, r *http.Request, q *req) {
	if q.sess.State != identity.StatePasswordOK && q.sess.State != identity.StateFull {
		http.Redirect(w, r, nextStep(q.sess, q.user), http.StatusSeeOther)
		return
	}
	p := q.page("password.title")
	if q.user.MustChangePassword {
		p.Info = text(q.lang, "password.must")
	}
	a.render(w, http.StatusOK, "password", p)
}

func (a *App) password(w http.ResponseWriter, r *http.Request, q *req) {
	ctx := r.Context()
	p := q.page("password.title")
	if r.PostFormValue("nueva") != r.PostFormValue("confirmacion") {
		p.Error = text(q.lang, "password.mismatch")
		a.render(w, http.StatusBadRequest, "password", p)
		return
	}
	ns, err := a.opt.Identity.ChangePassword(ctx, q.sess.ID, r.PostFormValue("actual"), r.PostFormValue("nueva"), clientOf(r))
	if err != nil {
		p.Error = a.errText(q, err)
		a.render(w, http.StatusBadRequest, "password", p)
		return
	}
	a.setSession(w, ns)
	u, err := a.opt.Identity.User(ctx, q.user.ID)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	http.Redirect(w, r, nextStep(ns, u), http.StatusSeeOther)
}

type totpData struct {
	Secret   string
	Enrolled bool
	Codes    []string
	Next     string
}

// totpForm starts TOTP enrolment: the QR code (served by totpQR from memory,
// for this session only), the secret as text, and the confirmation form.
func (a *App) totpForm(w http.ResponseWriter, r *http.Request, q *req) {
	if q.sess.State != identity.StatePasswordOK && q.sess.State != identity.StateFull {
		http.Redirect(w, r, nextStep(q.sess, q.user), http.StatusSeeOther)
		return
	}
	p := q.page("totp.title")
	if q.user.TOTPEnabled {
		p.Data = totpData{Enrolled: true}
		a.render(w, http.StatusOK, "totp", p)
		return
	}
	e, err := a.opt.Identity.BeginTOTP(r.Context(), q.sess.ID)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	now := time.Now()
	a.mu.Lock()
	for k, v := range a.enrol {
		if now.Sub(v.at) > 15*time.Minute {
			delete(a.enrol, k)
		}
	}
	a.enrol[q.sess.ID] = pendingEnrolment{e: e, at: now}
	a.mu.Unlock()
	p.Data = totpData{Secret: e.Secret}
	a.render(w, http.StatusOK, "totp", p)
}

func (a *App) totpQR(w http.ResponseWriter, r *http.Request, q *req) {
	a.mu.Lock()
	pe, ok := a.enrol[q.sess.ID]
	a.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(pe.e.PNG)
}

// totp confirms enrolment with a first code and shows the recovery codes, once.
func (a *App) totp(w http.ResponseWriter, r *http.Request, q *req) {
	ns, codes, err := a.opt.Identity.ConfirmTOTP(r.Context(), q.sess.ID, r.PostFormValue("codigo"), clientOf(r))
	if err != nil {
		p := q.page("totp.title")
		p.Error = a.errText(q, err)
		a.mu.Lock()
		pe, ok := a.enrol[q.sess.ID]
		a.mu.Unlock()
		if ok {
			p.Data = totpData{Secret: pe.e.Secret}
		} else {
			p.Data = totpData{}
		}
		a.render(w, http.StatusBadRequest, "totp", p)
		return
	}
	a.mu.Lock()
	delete(a.enrol, q.sess.ID)
	a.mu.Unlock()
	a.setSession(w, ns)
	u, err := a.opt.Identity.User(r.Context(), q.user.ID)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	p := q.page("recovery.title")
	p.Data = totpData{Codes: codes, Next: nextStep(ns, u)}
	a.render(w, http.StatusOK, "recovery", p)
}

func (a *App) logout(w http.ResponseWriter, r *http.Request, q *req) {
	if err := a.opt.Identity.Logout(r.Context(), q.sess.ID, clientOf(r)); err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	http.SetCookie(w, identity.ClearSessionCookie(a.opt.TLS))
	http.Redirect(w, r, "/entrar", http.StatusSeeOther)
}

func (a *App) logoutEverywhere(w http.ResponseWriter, r *http.Request, q *req) {
	if _, err := a.opt.Identity.LogoutEverywhere(r.Context(), q.user.ID, clientOf(r)); err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	http.SetCookie(w, identity.ClearSessionCookie(a.opt.TLS))
	http.Redirect(w, r, "/entrar", http.StatusSeeOther)
}
