package webapp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/resguardo/resguardo/internal/i18n"
	"github.com/resguardo/resguardo/internal/identity"
)

// JustificationHeader carries, on each API request, the justification of a
// role that reads others' mail (15 to 2,000 characters of UTF-8 text; or, for
// clients that cannot send UTF-8 in a header, RFC 8187 form: UTF-8”
// followed by the percent-encoded text). API tokens have no session to hold
// one; with a browser session the header, when present, replaces the
// session's justification for that request.
const JustificationHeader = "X-Resguardo-Justification"

// CSRFHeader carries the session's CSRF token on API requests that change
// something (every method but GET and HEAD) when they are authenticated by
// the browser session's cookie.
const CSRFHeader = "X-CSRF-Token"

// apiReq is one authenticated API request: its account, the justification
// in force, and the credential — an API token or a browser session.
type apiReq struct {
	who
	lang    i18n.Lang
	token   *identity.APIToken // the bearer token; nil with a browser session
	sess    *identity.Session  // the browser session; nil with a token
	fromHdr bool               // the justification came from JustificationHeader
}

// allows reports whether the request may act with scope sc: a token needs it
// among its scopes, and the account must still be allowed to hold it (a
// token narrows the account's rights, never widens them); a browser session
// has every scope its account may hold.
func (q *apiReq) allows(sc identity.Scope) bool {
	if !identity.ScopeAllowed(q.user, sc) {
		return false
	}
	return q.token == nil || q.token.Allows(sc)
}

// api authenticates a request and checks its scope ("": any authenticated
// request) before h. The credential is the Authorization header when there is
// one — "Bearer rsg_…", checked and throttled per client network by
// identity.AuthenticateTokenFrom; any other value is an invalid token — and
// otherwise the browser session's cookie, which must be fully logged in and,
// on every method but GET and HEAD, send its CSRF token in X-CSRF-Token.
func (a *App) api(scope identity.Scope, h func(http.ResponseWriter, *http.Request, *apiReq)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, ok := a.authenticate(w, r)
		if !ok {
			return
		}
		if scope != "" && !q.allows(scope) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="resguardo", error="insufficient_scope", scope="`+string(scope)+`"`)
			a.apiError(w, r, http.StatusForbidden, errAPIScope)
			return
		}
		h(w, r, q)
	}
}

func (a *App) authenticate(w http.ResponseWriter, r *http.Request) (*apiReq, bool) {
	ctx := r.Context()
	q := &apiReq{lang: langOf(r)}
	if _, bearer := r.Header["Authorization"]; bearer {
		tok, u, err := a.opt.Identity.AuthenticateTokenFrom(ctx, identity.TokenFromRequest(r), clientOf(r))
		switch {
		case errors.Is(err, identity.ErrThrottled):
			a.apiError(w, r, http.StatusTooManyRequests, err)
			return nil, false
		case errors.Is(err, identity.ErrInvalidToken):
			a.apiError(w, r, http.StatusUnauthorized, err)
			return nil, false
		case err != nil:
			a.apiFail(w, r, err)
			return nil, false
		}
		q.user, q.token = u, tok
		q.via = fmt.Sprintf("api-token:%s#%d", tok.Prefix, tok.ID)
	} else {
		sess, u, err := a.opt.Identity.Session(ctx, identity.SessionIDFromRequest(r, a.opt.TLS))
		var ie *identity.Error
		switch {
		case err != nil && !errors.As(err, &ie):
			a.apiFail(w, r, err)
			return nil, false
		case err != nil || u == nil || !sess.LoggedIn():
			a.apiError(w, r, http.StatusUnauthorized, errAPIUnauthorized)
			return nil, false
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := identity.CheckCSRF(sess, r.Header.Get(CSRFHeader)); err != nil {
				a.apiError(w, r, http.StatusForbidden, err)
				return nil, false
			}
		}
		q.user, q.sess, q.just, q.via = u, sess, sess.Justification, "api"
	}
	if v, ok := r.Header[http.CanonicalHeaderKey(JustificationHeader)]; ok {
		text, err := justificationOf(v)
		if err != nil {
			a.apiError(w, r, http.StatusBadRequest, err)
			return nil, false
		}
		// Only roles that read others' mail need one; others' is ignored (as
		// the session's form is not offered to them).
		if q.user.ReadsOthersMail() {
			q.just, q.fromHdr = identity.Justification{Text: text}, true
		}
	}
	return q, true
}

// justificationOf decodes the header's values: exactly one, UTF-8 or RFC 8187
// ext-value (UTF-8”percent-encoded), meeting identity.CheckJustification.
func justificationOf(vs []string) (string, error) {
	if len(vs) != 1 {
		return "", identity.ErrJustificationInvalid
	}
	v := vs[0]
	if len(v) > 7 && strings.EqualFold(v[:7], "UTF-8''") {
		d, err := url.PathUnescape(v[7:])
		if err != nil {
			return "", identity.ErrJustificationInvalid
		}
		v = d
	}
	v = strings.TrimSpace(v)
	if err := identity.CheckJustification(v); err != nil {
		return "", err
	}
	return v, nil
}

// tokenManager lets h run with a browser session, or with a token of scope
// admin (so a leaked search or read token cannot mint itself more rights).
func (a *App) tokenManager(h func(http.ResponseWriter, *http.Request, *apiReq)) func(http.ResponseWriter, *http.Request, *apiReq) {
	return func(w http.ResponseWriter, r *http.Request, q *apiReq) {
		if q.token != nil && !q.allows(identity.ScopeAdmin) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="resguardo", error="insufficient_scope", scope="admin"`)
			a.apiError(w, r, http.StatusForbidden, errAPITokenManager)
			return
		}
		h(w, r, q)
	}
}
