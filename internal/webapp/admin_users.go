package webapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/identity"
)

// User administration (PermManageUsers): /admin/usuarios (list, create),
// /admin/usuarios/{id} (edit; password and second-factor resets; unlock; the
// account's API tokens) and /admin/tokens (every token, revocation). The
// identity service does not write to the ledger, so every change made here is
// recorded after it succeeds as an access entry (archive.LogAccess) with the
// administrator as actor, an action user_create, user_update,
// user_password_reset, user_totp_reset, user_unlock or token_revoke, and the
// account and the change in the query field. Generated passwords are shown
// once, on the page that answers the POST, and never logged.

type roleOption struct {
	ID, Name string
	Checked  bool
}

type userRow struct {
	ID, Login, Name, Roles, Addresses, Source, LastLogin string
	Disabled, Locked, TOTP, MustChange                   bool
}

type userForm struct {
	New                   bool
	ID                    string
	Login, Name           string
	Addresses             string // one per line
	Roles                 []roleOption
	Disabled, Directory   bool
	Locked, TOTP, IsLocal bool
	Tokens                []tokenRow
	Back                  string // where a token revocation returns
}

// tokensData is the token list page.
type tokensData struct {
	Tokens []tokenRow
	Back   string
}

type tokenRow struct {
	ID, Login, UserID, Name, Prefix, Scopes string
	Created, Expires, LastUsed, Revoked     string
	Live                                    bool
}

type secretData struct {
	Login, Password, UserID string
	Created                 bool // a new account (else a reset)
}

func (a *App) roleOptions(q *req, have []identity.Role) []roleOption {
	var out []roleOption
	for _, r := range identity.Roles {
		out = append(out, roleOption{ID: string(r), Name: r.Name(q.lang), Checked: slices.Contains(have, r)})
	}
	return out
}

func roleNames(q *req, rs []identity.Role) string {
	var names []string
	for _, r := range rs {
		names = append(names, r.Name(q.lang))
	}
	return strings.Join(names, ", ")
}

// addressList splits the addresses field: one per line, or separated by
// commas, semicolons or spaces.
func addressList(s string) []string {
	return strings.FieldsFunc(s, func(c rune) bool { return c == ',' || c == ';' || c == ' ' || c == '\n' || c == '\r' || c == '\t' })
}

func formRoles(r *http.Request) []identity.Role {
	var out []identity.Role
	for _, v := range r.PostForm["roles"] {
		out = append(out, identity.Role(v))
	}
	return out
}

// logAdmin records an administrative change; false (after an error page) when
// the entry could not be written — the change itself was made.
func (a *App) logAdmin(w http.ResponseWriter, r *http.Request, q *req, action, what string) bool {
	if err := a.opt.LogAccess(r.Context(), archive.AccessDetail{Actor: q.user.Actor(), Action: action, Query: what, Results: 1}); err != nil {
		a.opt.Logger.Error("administrative change made but not logged", "action", action, "what", what, "err", err)
		a.fail(w, r, http.StatusInternalServerError, err)
		return false
	}
	return true
}

func (a *App) adminUsers(w http.ResponseWriter, r *http.Request, q *req) {
	ctx := r.Context()
	us, err := a.opt.Identity.Users(ctx, "")
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	var rows []userRow
	for _, u := range us {
		locked, err := a.opt.Identity.Locked(ctx, u.Login)
		if err != nil {
			a.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		rows = append(rows, userRow{ID: strconv.FormatInt(u.ID, 10), Login: u.Login, Name: u.DisplayName, Roles: roleNames(q, u.Roles),
			Addresses: strings.Join(u.Addresses, ", "), Source: u.Source, LastLogin: a.when(q.lang, u.LastLoginAt),
			Disabled: u.Disabled, Locked: locked > 0, TOTP: u.TOTPEnabled, MustChange: u.MustChangePassword})
	}
	p := q.page("admin.users.title")
	p.Info = flash(q, r.URL.Query())
	p.Data = rows
	a.render(w, http.StatusOK, "admin_users", p)
}

func (a *App) adminNewUser(w http.ResponseWriter, r *http.Request, q *req) {
	p := q.page("admin.new.title")
	p.Data = &userForm{New: true, IsLocal: true, Roles: a.roleOptions(q, []identity.Role{identity.RoleServidorPublico})}
	a.render(w, http.StatusOK, "admin_user", p)
}

// adminCreateUser creates a local account with a generated password, shown
// once on the answer page; the user changes it at the first login.
func (a *App) adminCreateUser(w http.ResponseWriter, r *http.Request, q *req) {
	roles := formRoles(r)
	nu := identity.NewUser{Login: r.PostFormValue("usuario"), DisplayName: r.PostFormValue("nombre"),
		Addresses: addressList(r.PostFormValue("direcciones")), Roles: roles}
	u, pw, err := a.opt.Identity.CreateUser(r.Context(), nu)
	if err != nil {
		p := q.page("admin.new.title")
		p.Error = a.errText(q, err)
		p.Data = &userForm{New: true, IsLocal: true, Login: nu.Login, Name: nu.DisplayName,
			Addresses: strings.Join(nu.Addresses, "\n"), Roles: a.roleOptions(q, roles)}
		a.render(w, http.StatusBadRequest, "admin_user", p)
		return
	}
	if !a.logAdmin(w, r, q, "user_create", fmt.Sprintf("user:%s roles:%s addresses:%s", u.Login, joinRoles(u.Roles), strings.Join(u.Addresses, ","))) {
		return
	}
	p := q.page("admin.secret.title")
	p.Data = secretData{Login: u.Login, Password: pw, UserID: strconv.FormatInt(u.ID, 10), Created: true}
	a.render(w, http.StatusOK, "admin_secret", p)
}

func joinRoles(rs []identity.Role) string {
	var s []string
	for _, r := range rs {
		s = append(s, string(r))
	}
	return strings.Join(s, ",")
}

// target is the account of the path's id; nil (after a 404) when none.
func (a *App) target(w http.ResponseWriter, r *http.Request) *identity.User {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.fail(w, r, http.StatusNotFound, nil)
		return nil
	}
	u, err := a.opt.Identity.User(r.Context(), id)
	if errors.Is(err, identity.ErrNoUser) {
		a.fail(w, r, http.StatusNotFound, nil)
		return nil
	}
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return nil
	}
	return u
}

// userForm is the edit form of u with its tokens.
func (a *App) userForm(ctx context.Context, q *req, u *identity.User) (*userForm, error) {
	locked, err := a.opt.Identity.Locked(ctx, u.Login)
	if err != nil {
		return nil, err
	}
	ts, err := a.opt.Identity.Tokens(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	f := &userForm{ID: strconv.FormatInt(u.ID, 10), Login: u.Login, Name: u.DisplayName, Addresses: strings.Join(u.Addresses, "\n"),
		Roles: a.roleOptions(q, u.Roles), Disabled: u.Disabled, Directory: u.Source != "local", IsLocal: u.Source == "local",
		Locked: locked > 0, TOTP: u.TOTPEnabled}
	f.Tokens, f.Back = a.tokenRows(q, ts, map[int64]string{u.ID: u.Login}), "/admin/usuarios/"+f.ID
	return f, nil
}

func (a *App) adminUser(w http.ResponseWriter, r *http.Request, q *req) {
	u := a.target(w, r)
	if u == nil {
		return
	}
	f, err := a.userForm(r.Context(), q, u)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	p := q.page("admin.user.title")
	p.Info = flash(q, r.URL.Query())
	p.Data = f
	a.render(w, http.StatusOK, "admin_user", p)
}

// adminUpdateUser saves the edit form: name, addresses and roles (local
// accounts; directory accounts take them from the directory) and the
// disabled flag.
func (a *App) adminUpdateUser(w http.ResponseWriter, r *http.Request, q *req) {
	ctx := r.Context()
	u := a.target(w, r)
	if u == nil {
		return
	}
	disabled := r.PostFormValue("desactivada") != ""
	up := identity.UserUpdate{Disabled: &disabled}
	var change []string
	if disabled != u.Disabled {
		change = append(change, "disabled:"+strconv.FormatBool(disabled))
	}
	if u.Source == "local" {
		name := r.PostFormValue("nombre")
		roles := formRoles(r)
		addrs := addressList(r.PostFormValue("direcciones"))
		if addrs == nil {
			addrs = []string{}
		}
		up.DisplayName, up.Roles, up.Addresses = &name, roles, addrs
		if strings.TrimSpace(name) != u.DisplayName {
			change = append(change, "name")
		}
		if joinRoles(roles) != joinRoles(u.Roles) {
			change = append(change, "roles:"+joinRoles(roles))
		}
		change = append(change, "addresses:"+strings.Join(addrs, ","))
	}
	nu, err := a.opt.Identity.UpdateUser(ctx, u.ID, up)
	if err != nil {
		f, ferr := a.userForm(ctx, q, u)
		if ferr != nil {
			a.fail(w, r, http.StatusInternalServerError, ferr)
			return
		}
		p := q.page("admin.user.title")
		p.Error = a.errText(q, err)
		p.Data = f
		a.render(w, http.StatusBadRequest, "admin_user", p)
		return
	}
	if !a.logAdmin(w, r, q, "user_update", "user:"+nu.Login+" "+strings.Join(change, " ")) {
		return
	}
	http.Redirect(w, r, "/admin/usuarios/"+strconv.FormatInt(u.ID, 10)+"?hecho=saved", http.StatusSeeOther)
}

// adminResetPassword gives a local account a generated password (shown once;
// to be changed at the next login), ends its sessions and lifts its lock.
func (a *App) adminResetPassword(w http.ResponseWriter, r *http.Request, q *req) {
	u := a.target(w, r)
	if u == nil {
		return
	}
	pw, err := a.opt.Identity.SetPassword(r.Context(), u.ID, "", true)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if !a.logAdmin(w, r, q, "user_password_reset", "user:"+u.Login) {
		return
	}
	p := q.page("admin.secret.title")
	p.Data = secretData{Login: u.Login, Password: pw, UserID: strconv.FormatInt(u.ID, 10)}
	a.render(w, http.StatusOK, "admin_secret", p)
}

// adminResetTOTP removes an account's second factor (a lost phone): its
// sessions end and, if its role requires one, it enrols again at the next login.
func (a *App) adminResetTOTP(w http.ResponseWriter, r *http.Request, q *req) {
	u := a.target(w, r)
	if u == nil {
		return
	}
	if err := a.opt.Identity.DisableTOTP(r.Context(), u.ID); err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if !a.logAdmin(w, r, q, "user_totp_reset", "user:"+u.Login) {
		return
	}
	http.Redirect(w, r, "/admin/usuarios/"+strconv.FormatInt(u.ID, 10)+"?hecho=totp", http.StatusSeeOther)
}

// adminUnlock lifts an account's login lock (too many failed attempts).
func (a *App) adminUnlock(w http.ResponseWriter, r *http.Request, q *req) {
	u := a.target(w, r)
	if u == nil {
		return
	}
	if err := a.opt.Identity.Unlock(r.Context(), u.Login); err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if !a.logAdmin(w, r, q, "user_unlock", "user:"+u.Login) {
		return
	}
	http.Redirect(w, r, "/admin/usuarios/"+strconv.FormatInt(u.ID, 10)+"?hecho=unlocked", http.StatusSeeOther)
}

func (a *App) tokenRows(q *req, ts []identity.APIToken, logins map[int64]string) []tokenRow {
	now := a.opt.Ops.Now()
	var out []tokenRow
	for _, t := range ts {
		var sc []string
		for _, s := range t.Scopes {
			sc = append(sc, string(s))
		}
		row := tokenRow{ID: strconv.FormatInt(t.ID, 10), UserID: strconv.FormatInt(t.UserID, 10), Login: logins[t.UserID],
			Name: t.Name, Prefix: t.Prefix, Scopes: strings.Join(sc, ", "), Created: a.when(q.lang, t.CreatedAt),
			Expires: a.when(q.lang, t.ExpiresAt), LastUsed: a.when(q.lang, t.LastUsed), Live: t.Live(now)}
		if !t.RevokedAt.IsZero() {
			row.Revoked = a.when(q.lang, t.RevokedAt)
		}
		out = append(out, row)
	}
	return out
}

func (a *App) adminTokens(w http.ResponseWriter, r *http.Request, q *req) {
	ctx := r.Context()
	ts, err := a.opt.Identity.Tokens(ctx, 0)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	us, err := a.opt.Identity.Users(ctx, "")
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	logins := map[int64]string{}
	for _, u := range us {
		logins[u.ID] = u.Login
	}
	p := q.page("admin.tokens.title")
	p.Info = flash(q, r.URL.Query())
	p.Data = &tokensData{Tokens: a.tokenRows(q, ts, logins), Back: "/admin/tokens"}
	a.render(w, http.StatusOK, "admin_tokens", p)
}

// adminRevokeToken revokes any account's token, then returns to the page it
// came from (the token list or the account's page).
func (a *App) adminRevokeToken(w http.ResponseWriter, r *http.Request, q *req) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.fail(w, r, http.StatusNotFound, nil)
		return
	}
	ts, err := a.opt.Identity.Tokens(ctx, 0)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	i := slices.IndexFunc(ts, func(t identity.APIToken) bool { return t.ID == id })
	if i < 0 {
		a.fail(w, r, http.StatusNotFound, nil)
		return
	}
	if err := a.opt.Identity.RevokeToken(ctx, 0, id); err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	owner := ""
	if u, err := a.opt.Identity.User(ctx, ts[i].UserID); err == nil {
		owner = u.Login
	}
	if !a.logAdmin(w, r, q, "token_revoke", fmt.Sprintf("user:%s token:%s id:%d", owner, ts[i].Prefix, id)) {
		return
	}
	back := r.PostFormValue("volver")
	if !strings.HasPrefix(back, "/admin/") || strings.ContainsAny(back, "?#\\") {
		back = "/admin/tokens"
	}
	http.Redirect(w, r, back+"?hecho=revoked", http.StatusSeeOther)
}
