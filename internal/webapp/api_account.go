package webapp

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/resguardo/resguardo/internal/identity"
)

// API endpoints about the caller: who they are, the session's justification,
// and their own API tokens.

type apiMe struct {
	Login           string            `json:"login"`
	DisplayName     string            `json:"display_name"`
	Roles           []apiRole         `json:"roles"`
	Addresses       []string          `json:"addresses"`
	Permissions     []string          `json:"permissions"`
	ReadsOthersMail bool              `json:"reads_others_mail"`
	Auth            string            `json:"auth"`   // "token" or "session"
	Scopes          []string          `json:"scopes"` // what this request may do
	Token           *apiToken         `json:"token,omitempty"`
	Justification   *apiJustification `json:"justification,omitempty"`
	CSRFToken       string            `json:"csrf_token,omitempty"` // session: for X-CSRF-Token
}

type apiRole struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type apiJustification struct {
	Text   string     `json:"text"`
	Source string     `json:"source"`       // "header" or "session"
	At     *time.Time `json:"at,omitempty"` // session: when it was typed
}

// apiMe is GET /api/v1/me.
func (a *App) apiMe(w http.ResponseWriter, r *http.Request, q *apiReq) {
	u := q.user
	out := apiMe{Login: u.Login, DisplayName: u.DisplayName, Roles: []apiRole{}, Addresses: orEmpty(u.Addresses),
		Permissions: []string{}, ReadsOthersMail: u.ReadsOthersMail(), Auth: "session", Scopes: scopeNames(q.allows)}
	seen := map[identity.Permission]bool{}
	for _, role := range u.Roles {
		out.Roles = append(out.Roles, apiRole{ID: string(role), Name: role.Name(q.lang)})
		for _, p := range identity.RolePermissions(role) {
			if !seen[p] {
				seen[p] = true
				out.Permissions = append(out.Permissions, string(p))
			}
		}
	}
	if q.token != nil {
		out.Auth, out.Token = "token", tokenOf(q.token)
	} else {
		out.CSRFToken = q.sess.CSRF
	}
	if q.just.Valid() {
		out.Justification = &apiJustification{Text: q.just.Text, Source: "session", At: optTime(q.just.At)}
		if q.fromHdr {
			out.Justification.Source = "header"
		}
	}
	a.writeJSON(w, http.StatusOK, out)
}

type apiJustifyRequest struct {
	Justification string `json:"justification"`
}

// apiJustify is POST /api/v1/justification: the browser session's
// justification, as the form of /justificacion sets it. A token has no
// session: its requests carry JustificationHeader instead.
func (a *App) apiJustify(w http.ResponseWriter, r *http.Request, q *apiReq) {
	if q.token != nil {
		a.apiError(w, r, http.StatusBadRequest, errAPIPerRequest)
		return
	}
	var in apiJustifyRequest
	if !a.readJSON(w, r, &in) {
		return
	}
	sess, err := a.opt.Identity.SetJustification(r.Context(), q.sess.ID, in.Justification, "")
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	j := sess.Justification
	a.writeJSON(w, http.StatusOK, apiJustification{Text: j.Text, Source: "session", At: optTime(j.At)})
}

type apiToken struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"` // the value's first characters, to recognise it
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"` // null: does not expire
	LastUsed  *time.Time `json:"last_used"`  // null: never used (kept to the minute)
	RevokedAt *time.Time `json:"revoked_at"` // null: not revoked
}

func tokenOf(t *identity.APIToken) *apiToken {
	return &apiToken{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scopes: scopeNames(t.Allows), CreatedAt: t.CreatedAt.UTC(),
		ExpiresAt: optTime(t.ExpiresAt), LastUsed: optTime(t.LastUsed), RevokedAt: optTime(t.RevokedAt)}
}

type apiTokenList struct {
	Tokens []*apiToken `json:"tokens"`
}

// apiTokens is GET /api/v1/tokens: the caller's own tokens, newest first.
func (a *App) apiTokens(w http.ResponseWriter, r *http.Request, q *apiReq) {
	ts, err := a.opt.Identity.Tokens(r.Context(), q.user.ID)
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	out := apiTokenList{Tokens: []*apiToken{}}
	for i := range ts {
		out.Tokens = append(out.Tokens, tokenOf(&ts[i]))
	}
	a.writeJSON(w, http.StatusOK, out)
}

type apiNewToken struct {
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at"` // null or absent: does not expire
}

type apiCreatedToken struct {
	Value string    `json:"value"` // rsg_…: shown this once, never again
	Token *apiToken `json:"token"`
}

// apiCreateToken is POST /api/v1/tokens: a token for the caller's own
// account, with scopes the account may hold.
func (a *App) apiCreateToken(w http.ResponseWriter, r *http.Request, q *apiReq) {
	var in apiNewToken
	if !a.readJSON(w, r, &in) {
		return
	}
	scopes, ok := parseScopes(in.Scopes)
	if !ok {
		a.apiError(w, r, http.StatusBadRequest, identity.ErrInvalidScope)
		return
	}
	var exp time.Time
	if in.ExpiresAt != nil {
		exp = *in.ExpiresAt
	}
	raw, t, err := a.opt.Identity.CreateToken(r.Context(), q.user.ID, in.Name, scopes, exp)
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	w.Header().Set("Location", apiPrefix+"/tokens/"+strconv.FormatInt(t.ID, 10))
	a.writeJSON(w, http.StatusCreated, apiCreatedToken{Value: raw, Token: tokenOf(t)})
}

// apiRevokeToken is DELETE /api/v1/tokens/{id}: revokes one of the caller's
// own tokens (another's is 404, as a missing one).
func (a *App) apiRevokeToken(w http.ResponseWriter, r *http.Request, q *apiReq) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.apiError(w, r, http.StatusNotFound, errAPINotFound)
		return
	}
	err = a.opt.Identity.RevokeToken(r.Context(), q.user.ID, id)
	switch {
	case errors.Is(err, identity.ErrInvalidToken):
		a.apiError(w, r, http.StatusNotFound, errAPINotFound)
	case err != nil:
		a.apiFail(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
