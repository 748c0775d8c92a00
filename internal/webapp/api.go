package webapp

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/i18n"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/search/query"
)

// The JSON API under /api/v1 (docs/WEB.md, "JSON API"; its OpenAPI document is
// openapi.json, served at /api/v1/openapi.json). /api/v1 is the version: the
// responses described there change only compatibly (new fields) within it.
// Handlers call the same services as the pages (runSearch, readMessage,
// attachmentFile, constanciaFile, …) and only translate to and from JSON.

// apiPrefix is where the API lives.
const apiPrefix = "/api/v1"

// apiRoute is one endpoint of the API: a ServeMux pattern and its handler.
type apiRoute struct {
	pattern string
	handler http.HandlerFunc
}

// apiRoutes is every endpoint of the API. The OpenAPI document describes
// exactly these (TestOpenAPICoversRoutes), plus GET /api/v1/status, which
// package web serves.
func (a *App) apiRoutes() []apiRoute {
	return []apiRoute{
		{"GET /api/v1/openapi.json", a.apiOpenAPI},
		{"GET /api/v1/me", a.api("", a.apiMe)},
		{"POST /api/v1/justification", a.api("", a.apiJustify)},
		{"GET /api/v1/search", a.api(identity.ScopeSearch, a.apiSearch)},
		{"POST /api/v1/export", a.api(identity.ScopeExport, a.apiExport)},
		{"GET /api/v1/messages/{id}", a.api(identity.ScopeRead, a.apiMessage)},
		{"GET /api/v1/messages/{id}/raw", a.api(identity.ScopeRead, a.apiRaw)},
		{"GET /api/v1/messages/{id}/attachments/{part}", a.api(identity.ScopeRead, a.apiAttachment)},
		{"GET /api/v1/messages/{id}/constancia.json", a.api(identity.ScopeRead, a.apiConstancia("json"))},
		{"GET /api/v1/messages/{id}/constancia.p7s", a.api(identity.ScopeRead, a.apiConstancia("p7s"))},
		{"GET /api/v1/messages/{id}/constancia.pdf", a.api(identity.ScopeRead, a.apiConstancia("pdf"))},
		{"GET /api/v1/tokens", a.api("", a.tokenManager(a.apiTokens))},
		{"POST /api/v1/tokens", a.api("", a.tokenManager(a.apiCreateToken))},
		{"DELETE /api/v1/tokens/{id}", a.api("", a.tokenManager(a.apiRevokeToken))},
	}
}

// mountAPI registers the API's routes on the application's mux, and a JSON
// 404 (405 with Allow for a known path) for every other path under /api/v1/.
func (a *App) mountAPI() {
	methods := map[string][]string{} // path → methods
	var paths []string
	for _, rt := range a.apiRoutes() {
		a.mux.HandleFunc(rt.pattern, rt.handler)
		method, path, _ := strings.Cut(rt.pattern, " ")
		if methods[path] == nil {
			paths = append(paths, path)
		}
		methods[path] = append(methods[path], method)
	}
	known := http.NewServeMux() // the paths alone, to tell a wrong method from a wrong path
	for _, p := range paths {
		allow := strings.Join(methods[p], ", ")
		known.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			a.apiError(w, r, http.StatusMethodNotAllowed, errAPIMethod)
		})
	}
	a.mux.HandleFunc(apiPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		if h, pat := known.Handler(r); pat != "" {
			h.ServeHTTP(w, r)
			return
		}
		a.apiError(w, r, http.StatusNotFound, errAPINotFound)
	})
}

// apiErrorBody is every error's JSON: {"error":{"code","message"}}, the
// message in Spanish, or English with an English Accept-Language (or ?lang=en).
type apiErrorBody struct {
	Error apiErrorDetail `json:"error"`
}

type apiErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Caret   string `json:"caret,omitempty"`       // query_syntax: the query with a ^ under the error
	Retry   int    `json:"retry_after,omitempty"` // throttled: seconds until the next attempt
}

func newAPIErr(code, es, en string) *identity.Error {
	return &identity.Error{Code: code, ES: es, EN: en}
}

// The API's own errors (identity's carry their codes and texts too).
var (
	errAPIUnauthorized = newAPIErr("unauthorized",
		"Se requiere autenticación: un token de API (Authorization: Bearer rsg_…) o una sesión iniciada.",
		"Authentication required: an API token (Authorization: Bearer rsg_…) or a logged-in session.")
	errAPIScope = newAPIErr("insufficient_scope",
		"El token no tiene el alcance que requiere esta operación.", "The token lacks the scope this operation needs.")
	errAPINotFound = newAPIErr("not_found",
		"No existe ese recurso o ese mensaje.", "No such resource or message.")
	errAPIMethod = newAPIErr("method_not_allowed",
		"Método no permitido en esta ruta.", "Method not allowed on this path.")
	errAPIBadRequest = newAPIErr("bad_request",
		"Solicitud no válida: revise los parámetros y el cuerpo JSON.", "Invalid request: check the parameters and the JSON body.")
	errAPIMediaType = newAPIErr("unsupported_media_type",
		"El cuerpo debe ser JSON (Content-Type: application/json).", "The body must be JSON (Content-Type: application/json).")
	errAPIQueryRequired = newAPIErr("query_required",
		"Escriba una consulta en el parámetro q.", "Give a query in the q parameter.")
	errAPIPage = newAPIErr("bad_page",
		"page y size deben ser enteros positivos; size hasta 100, y no más de 10,000 resultados en total.",
		"page and size must be positive integers; size up to 100, and no further than 10,000 results.")
	errAPIPending    = newAPIErr("constancia_pending", messages["constancia.pending"][0], messages["constancia.pending"][1])
	errAPIInternal   = newAPIErr("internal", messages["error.internal"][0], messages["error.internal"][1])
	errAPIPerRequest = newAPIErr("justification_per_request",
		"Con un token de API, la justificación se envía en cada solicitud, en el encabezado X-Resguardo-Justification.",
		"With an API token, send the justification with each request, in the X-Resguardo-Justification header.")
	errAPITokenManager = newAPIErr("session_or_admin_token",
		"Los tokens se administran con una sesión iniciada en el navegador o con un token de alcance admin.",
		"Tokens are managed with a logged-in browser session or with a token of scope admin.")
)

// apiFail answers a service's error: its status and its person's message. An
// error that is not a person's (storage, index, …) is logged and answered as
// "internal", with nothing of its text.
func (a *App) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	var se *query.SyntaxError
	if errors.As(err, &se) {
		msg := se.MsgES
		if langOf(r) == i18n.EN {
			msg = se.Msg
		}
		a.writeJSON(w, http.StatusBadRequest, apiErrorBody{apiErrorDetail{Code: "query_syntax", Message: msg,
			Caret: se.Caret(r.URL.Query().Get("q"))}})
		return
	}
	switch {
	case errors.Is(err, errNotFound):
		a.apiError(w, r, http.StatusNotFound, errAPINotFound)
	case errors.Is(err, archive.ErrPending):
		a.apiError(w, r, http.StatusConflict, errAPIPending)
	case errors.Is(err, identity.ErrJustificationRequired), errors.Is(err, identity.ErrForbidden),
		errors.Is(err, identity.ErrCSRF):
		a.apiError(w, r, http.StatusForbidden, err)
	case errors.Is(err, identity.ErrThrottled):
		a.apiError(w, r, http.StatusTooManyRequests, err)
	case errors.Is(err, identity.ErrNoSession), errors.Is(err, identity.ErrSessionState):
		a.apiError(w, r, http.StatusUnauthorized, err)
	default:
		var ie *identity.Error
		if errors.As(err, &ie) { // invalid input: justification, token name, scope, expiry
			a.apiError(w, r, http.StatusBadRequest, err)
			return
		}
		a.opt.Logger.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
		a.apiError(w, r, http.StatusInternalServerError, errAPIInternal)
	}
}

// apiError writes err (an *identity.Error; anything else is "internal") with
// status. 401 carries WWW-Authenticate: Bearer (RFC 6750 §3), 429 Retry-After.
func (a *App) apiError(w http.ResponseWriter, r *http.Request, status int, err error) {
	var ie *identity.Error
	if !errors.As(err, &ie) {
		ie = errAPIInternal
	}
	d := apiErrorDetail{Code: ie.Code, Message: ie.Message(langOf(r))}
	switch status {
	case http.StatusUnauthorized:
		c := `Bearer realm="resguardo"`
		if ie.Code == identity.ErrInvalidToken.Code {
			c += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", c)
	case http.StatusTooManyRequests:
		d.Retry = max(1, int((ie.RetryAfter+time.Second-1)/time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(d.Retry))
	}
	a.writeJSON(w, status, apiErrorBody{d})
}

// writeJSON sends v as JSON with status.
func (a *App) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.opt.Logger.Error("api: encode", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"`+errAPIInternal.ES+`"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// readJSON decodes a request's JSON body (at most 64 KiB, no unknown fields)
// into v; false after answering 415 or 400.
func (a *App) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		a.apiError(w, r, http.StatusUnsupportedMediaType, errAPIMediaType)
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		a.apiError(w, r, http.StatusBadRequest, errAPIBadRequest)
		return false
	}
	return true
}

// scopeNames lists scopes as strings, in identity.Scopes order.
func scopeNames(has func(identity.Scope) bool) []string {
	out := []string{}
	for _, sc := range identity.Scopes {
		if has(sc) {
			out = append(out, string(sc))
		}
	}
	return out
}

// parseScopes turns names into scopes (false on an unknown or repeated one).
func parseScopes(names []string) ([]identity.Scope, bool) {
	var out []identity.Scope
	for _, n := range names {
		sc := identity.Scope(n)
		if !slices.Contains(identity.Scopes, sc) || slices.Contains(out, sc) {
			return nil, false
		}
		out = append(out, sc)
	}
	return out, true
}
