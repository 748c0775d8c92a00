// Package webapp is Resguardo's web application for people who log in: login
// with a mandatory second factor (TOTP) where the role requires it, the forced
// password change and TOTP enrolment of a first login, the search page, and the
// message page with its attachments, gateway check results and constancias.
//
// It is mounted by package web (Options.App) and uses package identity for
// accounts, sessions, CSRF tokens and the read rule, and the archive for records:
// every search, view and download it allows writes an access entry to the ledger
// (Options.LogAccess) with the user, what was seen and the justification.
//
// Pages are server-rendered html/template with embedded assets, work without
// JavaScript, and are served under a strict Content-Security-Policy (no inline
// script or style, nothing from other origins). Mail bodies in HTML are
// sanitized to an allowlist of mail markup (sanitize.go) and shown only inside
// a sandboxed iframe served from their own route under a CSP that forbids
// scripts and remote content, so mail content never runs in the app's origin.
// docs/WEB.md describes the pages and the security measures.
package webapp

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/export"
	"github.com/resguardo/resguardo/internal/i18n"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/search"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Constancia is a record's constancia in its three forms.
type Constancia struct {
	JSON, P7S, PDF []byte
}

// Options configures New. Identity, Index, Lookup, Bytes and LogAccess are
// required.
type Options struct {
	Identity *identity.Service
	Index    search.Index
	// Lookup returns the record with this full SHA-256 (catalog.ErrNotFound or
	// any error: the page answers 404).
	Lookup func(ctx context.Context, id string) (*catalog.Record, error)
	// Bytes returns a record's message bytes.
	Bytes func(ctx context.Context, r *catalog.Record) ([]byte, error)
	// LogAccess writes an access entry; an access that cannot be logged is refused.
	LogAccess func(ctx context.Context, d archive.AccessDetail) error
	// Arrivals returns a record's receptions with their check results (nil: none shown).
	Arrivals func(ctx context.Context, r *catalog.Record) ([]constancia.Arrival, error)
	// Constancia builds a record's constancia (nil: no download links).
	// archive.ErrPending when its checkpoint is not timestamped yet.
	Constancia func(ctx context.Context, r *catalog.Record) (*Constancia, error)
	// Thread returns the ids of the other records of a record's conversation,
	// oldest first, at most limit (nil: no thread view). The message page
	// applies the read rule to each (thread.go).
	Thread func(ctx context.Context, id string, limit int) ([]string, error)
	// Export writes the export package of ids, in order, to path (a new file),
	// as `resguardo export` does, and its access entry (nil: no export;
	// export.go).
	Export func(ctx context.Context, path string, ids []string, req ExportRequest) (*export.Result, error)
	// MaxExport bounds the messages of one export from the web (0: MaxExport).
	MaxExport int
	// TLS: the application is served over HTTPS (the session cookie is then
	// __Host- prefixed and Secure).
	TLS    bool
	TZ     *time.Location // America/Mexico_City when nil
	Logger *slog.Logger
	// Ops are the sources of the dashboard, access-log and administration pages (ops.go).
	Ops Operations
}

// App is the web application's handler.
type App struct {
	opt   Options
	mux   *http.ServeMux
	pages map[string]*template.Template
	san   *sanitizer // the HTML body's (sanitize.go)

	mu    sync.Mutex
	enrol map[string]pendingEnrolment // by session id: the QR code of a TOTP enrolment in progress
}

type pendingEnrolment struct {
	e  *identity.TOTPEnrolment
	at time.Time
}

// Pages are the HTML pages, each executed with the layout.
var pageNames = []string{"login", "code", "password", "totp", "recovery", "search", "justify", "message", "error", "link"}

// New returns the application.
func New(opt Options) (*App, error) {
	if opt.Identity == nil || opt.Index == nil || opt.Lookup == nil || opt.Bytes == nil || opt.LogAccess == nil {
		return nil, errors.New("webapp: Identity, Index, Lookup, Bytes and LogAccess are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.MaxExport <= 0 {
		opt.MaxExport = MaxExport
	}
	if opt.TZ == nil {
		tz, err := time.LoadLocation("America/Mexico_City")
		if err != nil {
			tz = time.UTC
		}
		opt.TZ = tz
	}
	a := &App{opt: opt, mux: http.NewServeMux(), pages: map[string]*template.Template{}, san: newSanitizer(), enrol: map[string]pendingEnrolment{}}
	for _, name := range pageNames {
		t, err := template.New("layout.html").ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		a.pages[name] = t
	}
	static, _ := fs.Sub(staticFS, "static")
	a.mux.Handle("GET /estatico/", http.StripPrefix("/estatico/", http.FileServerFS(static)))
	a.mux.HandleFunc("GET /entrar", a.loginForm)
	a.mux.HandleFunc("POST /entrar", a.login)
	a.mux.HandleFunc("GET /entrar/oidc", a.oidcStart)             // OpenID Connect (oidc.go)
	a.mux.HandleFunc("GET /entrar/oidc/callback", a.oidcCallback) //
	a.mux.HandleFunc("GET /entrar/codigo", a.withSession(a.codeForm))
	a.mux.HandleFunc("POST /entrar/codigo", a.withSession(a.code))
	a.mux.HandleFunc("GET /cuenta/contrasena", a.withSession(a.passwordForm))
	a.mux.HandleFunc("POST /cuenta/contrasena", a.withSession(a.password))
	a.mux.HandleFunc("GET /cuenta/segundo-factor", a.withSession(a.totpForm))
	a.mux.HandleFunc("GET /cuenta/segundo-factor/qr.png", a.withSession(a.totpQR))
	a.mux.HandleFunc("POST /cuenta/segundo-factor", a.withSession(a.totp))
	a.mux.HandleFunc("POST /salir", a.withSession(a.logout))
	a.mux.HandleFunc("POST /salir/todos", a.withSession(a.logoutEverywhere))
	a.mux.HandleFunc("GET /buscar", a.full(a.search))
	a.mux.HandleFunc("POST /justificacion", a.full(a.justify))
	a.mux.HandleFunc("POST /buscar/exportar", a.full(a.exportPage)) // export.go
	a.mux.HandleFunc("GET /mensaje/{id}", a.full(a.message))
	a.mux.HandleFunc("GET /mensaje/{id}/cuerpo.html", a.full(a.body))
	a.mux.HandleFunc("GET "+LinkPath, a.link)
	a.mux.HandleFunc("GET /mensaje/{id}/adjunto/{path}", a.full(a.attachment))
	a.mux.HandleFunc("GET /mensaje/{id}/constancia/{ext}", a.full(a.constancia))
	a.mountAPI() // the JSON API under /api/v1 (api.go)
	// The dashboard, access-log and administration pages (ops.go).
	if err := a.routesOps(); err != nil {
		return nil, err
	}
	return a, nil
}

// CSP is the application's Content-Security-Policy: only this origin's
// scripts, styles and images, frames only from this origin (the message
// body), forms and fetches (the JSON API) only to this origin, and never
// framed by others.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; frame-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// BodyCSP is the Content-Security-Policy of a message's HTML body: no script,
// nothing remote, images only from data: URLs (the message's own cid: images,
// which the sanitizer embeds), inline styles only, and a sandbox (also set on
// the iframe) without scripts or the app's origin.
//
// Not img-src 'self': the sandboxed frame has an opaque origin, so its image
// requests are cross-site — the SameSite=Strict session cookie is not sent and
// Cross-Origin-Resource-Policy: same-origin refuses the answer — and a route
// serving the images would have to be opened to other origins without a
// session. Embedding them keeps them under the body's own read rule and
// access entry.
const BodyCSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"

// ServeHTTP sets the security headers and dispatches.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if !strings.HasPrefix(r.URL.Path, "/estatico/") {
		h.Set("Cache-Control", "no-store")
	}
	if r.URL.Query().Get("lang") != "" {
		http.SetCookie(w, &http.Cookie{Name: "lang", Value: string(langOf(r)), Path: "/", SameSite: http.SameSiteLaxMode, Secure: a.opt.TLS, MaxAge: 365 * 24 * 3600})
	}
	a.mux.ServeHTTP(w, r)
}

// langOf is the page language: ?lang=, then the lang cookie, then
// Accept-Language; Spanish (es-MX) by default.
func langOf(r *http.Request) i18n.Lang {
	if l := r.URL.Query().Get("lang"); l != "" {
		if strings.HasPrefix(l, "en") {
			return i18n.EN
		}
		return i18n.ES
	}
	if c, err := r.Cookie("lang"); err == nil {
		if c.Value == "en" {
			return i18n.EN
		}
		return i18n.ES
	}
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Accept-Language")), "en") {
		return i18n.EN
	}
	return i18n.ES
}

func clientOf(r *http.Request) identity.Client {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	ua := r.UserAgent()
	if len(ua) > 300 {
		ua = ua[:300]
	}
	return identity.Client{IP: ip, UserAgent: ua}
}

// req is one request's session and user.
type req struct {
	sess *identity.Session
	user *identity.User
	lang i18n.Lang
}

// withSession requires a live session (any state but anonymous) and, on POST,
// its CSRF token. Without a session it sends the browser to the login page.
func (a *App) withSession(h func(http.ResponseWriter, *http.Request, *req)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, u, err := a.opt.Identity.Session(r.Context(), identity.SessionIDFromRequest(r, a.opt.TLS))
		if err != nil || u == nil {
			if r.Method == http.MethodPost {
				a.fail(w, r, http.StatusForbidden, identity.ErrNoSession)
				return
			}
			http.Redirect(w, r, "/entrar", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !a.csrfOK(w, r, sess) {
			return
		}
		h(w, r, &req{sess: sess, user: u, lang: langOf(r)})
	}
}

// full is withSession for a fully logged-in session; one that still owes a
// step (second factor, password change, enrolment) is sent to it.
func (a *App) full(h func(http.ResponseWriter, *http.Request, *req)) http.HandlerFunc {
	return a.withSession(func(w http.ResponseWriter, r *http.Request, q *req) {
		if !q.sess.LoggedIn() {
			http.Redirect(w, r, nextStep(q.sess, q.user), http.StatusSeeOther)
			return
		}
		h(w, r, q)
	})
}

// csrfOK checks a POST's CSRF token (form field "csrf"); 403 when it is wrong.
func (a *App) csrfOK(w http.ResponseWriter, r *http.Request, sess *identity.Session) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := identity.CheckCSRF(sess, r.PostFormValue("csrf")); err != nil {
		a.fail(w, r, http.StatusForbidden, err)
		return false
	}
	return true
}

// nextStep is where a session goes after a login step.
func nextStep(s *identity.Session, u *identity.User) string {
	switch s.State {
	case identity.StateTOTPPending:
		return "/entrar/codigo"
	case identity.StatePasswordOK:
		if u.MustChangePassword {
			return "/cuenta/contrasena"
		}
		return "/cuenta/segundo-factor"
	case identity.StateFull:
		return "/inicio"
	}
	return "/entrar"
}

// page is what every template receives.
type page struct {
	Lang  i18n.Lang
	Title string
	User  *identity.User
	CSRF  string
	Error string
	Info  string
	Data  any
}

// T is the catalog text for key in the page's language.
func (p *page) T(key string) string { return text(p.Lang, key) }

// EN reports whether the page is in English.
func (p *page) EN() bool { return p.Lang == i18n.EN }

func (a *App) render(w http.ResponseWriter, status int, name string, p *page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := a.pages[name].Execute(w, p); err != nil {
		a.opt.Logger.Error("render", "page", name, "err", err)
	}
}

func (q *req) page(title string) *page {
	p := &page{Lang: q.lang, Title: text(q.lang, title), User: q.user}
	if q.sess != nil {
		p.CSRF = q.sess.CSRF
	}
	if q.user != nil && q.sess != nil && !q.sess.LoggedIn() {
		p.User = nil // no navigation before the login steps are done
	}
	return p
}

// fail renders an error page with a person's message for err.
func (a *App) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	l := langOf(r)
	p := &page{Lang: l, Title: text(l, "error.title")}
	// A logged-in person keeps the header (navigation, logout) and is sent
	// back home, not to the login page.
	if sess, u, err := a.opt.Identity.Session(r.Context(), identity.SessionIDFromRequest(r, a.opt.TLS)); err == nil && u != nil && sess.LoggedIn() {
		p.User, p.CSRF = u, sess.CSRF
	}
	var ie *identity.Error
	switch {
	case errors.As(err, &ie):
		p.Error = ie.Message(l)
	case status == http.StatusNotFound:
		p.Error = text(l, "error.notfound")
	default:
		a.opt.Logger.Error("webapp", "path", r.URL.Path, "err", err)
		p.Error = text(l, "error.internal")
	}
	a.render(w, status, "error", p)
}

func (a *App) setSession(w http.ResponseWriter, s *identity.Session) {
	http.SetCookie(w, identity.SessionCookie(s, a.opt.TLS))
}
