package webapp

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/resguardo/resguardo/internal/i18n"
	"github.com/resguardo/resguardo/internal/identity"
)

// loginData is the login page's data: the OpenID Connect provider's name, when
// one is configured (the page then offers "Entrar con <name>").
type loginData struct {
	OIDCName string
}

func (a *App) loginData() loginData { return loginData{OIDCName: a.opt.Identity.OIDCName()} }

// oidcStart (GET /entrar/oidc) starts a login with the OpenID Connect provider:
// the flow's id goes in a SameSite=Lax cookie (the callback comes from the
// provider's site, where Strict cookies are not sent), and the browser goes to
// the provider with the flow's state, nonce and PKCE challenge.
func (a *App) oidcStart(w http.ResponseWriter, r *http.Request) {
	if a.opt.Identity.OIDCName() == "" {
		http.NotFound(w, r)
		return
	}
	flow, u, err := a.opt.Identity.BeginOIDC(r.Context(), clientOf(r))
	if err != nil {
		a.oidcFailed(w, r, http.StatusBadGateway, err)
		return
	}
	http.SetCookie(w, identity.OIDCFlowCookie(flow, a.opt.TLS, a.opt.Identity.OIDCFlowTTL()))
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// continuePage sends the browser on with a navigation of this origin's own
// page: after the callback (a navigation that began at the provider's site)
// a redirect would not carry the new SameSite=Strict session cookie.
var continuePage = template.Must(template.New("continue").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={{.Next}}">
<title>Resguardo</title><link rel="stylesheet" href="/estatico/app.css"></head>
<body><main class="card narrow"><p><a href="{{.Next}}" id="continuar">{{.Text}}</a></p></main></body></html>
`))

// oidcCallback (GET /entrar/oidc/callback) finishes the login: the service
// checks the flow, state, code, ID token and account; the new session goes on
// to the same next steps as after a password.
func (a *App) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if a.opt.Identity.OIDCName() == "" {
		http.NotFound(w, r)
		return
	}
	http.SetCookie(w, identity.ClearOIDCFlowCookie(a.opt.TLS))
	flow := ""
	if c, err := r.Cookie(identity.OIDCFlowCookieName(a.opt.TLS)); err == nil {
		flow = c.Value
	}
	q := r.URL.Query()
	ns, u, err := a.opt.Identity.FinishOIDC(r.Context(), identity.OIDCCallback{Flow: flow, State: q.Get("state"), Code: q.Get("code"),
		Error: q.Get("error"), ErrorDesc: q.Get("error_description"), Client: clientOf(r),
		Session: identity.SessionIDFromRequest(r, a.opt.TLS)})
	if err != nil {
		status := http.StatusUnauthorized
		switch {
		case errors.Is(err, identity.ErrThrottled):
			status = http.StatusTooManyRequests
		case errors.Is(err, identity.ErrOIDCState), errors.Is(err, identity.ErrOIDCExpired):
			status = http.StatusBadRequest
		case errors.Is(err, identity.ErrOIDCUnavailable):
			status = http.StatusBadGateway
		}
		a.oidcFailed(w, r, status, err)
		return
	}
	a.setSession(w, ns)
	l := langOf(r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	lang := "es-MX"
	if l == i18n.EN {
		lang = "en"
	}
	continuePage.Execute(w, map[string]string{"Lang": lang, "Next": nextStep(ns, u), "Text": text(l, "login.continue")})
}

// oidcFailed shows the login page with err's message, in a new anonymous session.
func (a *App) oidcFailed(w http.ResponseWriter, r *http.Request, status int, err error) {
	q := &req{lang: langOf(r)}
	if ns, serr := a.opt.Identity.StartAnonymous(r.Context(), clientOf(r)); serr == nil {
		a.setSession(w, ns)
		q.sess = ns
	}
	p := q.page("login.title")
	p.Error = a.errText(q, err)
	p.Data = a.loginData()
	a.render(w, status, "login", p)
}
