package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Identity storage (schema 8): users with their roles and addresses, TOTP state and
// recovery codes, server-side sessions, API tokens, login throttling counters and
// the login log. The catalog stores what the identity package hands it and checks
// nothing about secrets: hashing, sealing and policy live there.

// Identity errors.
var (
	ErrNoUser     = errors.New("catalog: no such user")
	ErrUserExists = errors.New("catalog: login already taken")
	ErrNoSession  = errors.New("catalog: no such session")
	ErrNoToken    = errors.New("catalog: no such API token")
)

// User is one account.
type User struct {
	ID                 int64
	Login              string // lower case, unique
	DisplayName        string
	Source             string // local, ldap, oidc
	ExternalID         string // ldap users: "attribute:value" of the entry's stable id, or its DN; oidc users: "oidc:<issuer>#<subject>"
	PasswordHash       string // argon2id PHC string; "" for directory users
	MustChangePassword bool
	Disabled           bool
	Roles              []string // sorted
	Addresses          []string // lower case, sorted
	TOTPSecret         []byte   // sealed; nil: not enrolled
	TOTPLastStep       int64
	TOTPPending        []byte // sealed secret of an enrolment not yet confirmed
	TOTPPendingAt      time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
	PasswordChangedAt  time.Time
	LastLoginAt        time.Time
}

// ns is t in Unix nanoseconds, 0 for the zero time.
func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// nsTime is the inverse of ns.
func nsTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func normList(ss []string, lower bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if lower {
			s = strings.ToLower(s)
		}
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

const userCols = `id, login, display_name, source, external_id, password_hash, must_change_password, disabled,
	totp_secret, totp_last_step, totp_pending, totp_pending_at, created_at, updated_at, password_changed_at, last_login_at`

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var must, dis int
	var pendAt, created, updated, pwAt, lastLogin int64
	err := sc.Scan(&u.ID, &u.Login, &u.DisplayName, &u.Source, &u.ExternalID, &u.PasswordHash, &must, &dis,
		&u.TOTPSecret, &u.TOTPLastStep, &u.TOTPPending, &pendAt, &created, &updated, &pwAt, &lastLogin)
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNoUser
	}
	if err != nil {
		return u, err
	}
	u.MustChangePassword, u.Disabled = must != 0, dis != 0
	u.TOTPPendingAt, u.CreatedAt, u.UpdatedAt = nsTime(pendAt), nsTime(created), nsTime(updated)
	u.PasswordChangedAt, u.LastLoginAt = nsTime(pwAt), nsTime(lastLogin)
	return u, nil
}

// userDetails fills the roles and addresses of us (one query each, whatever len(us)).
func (c *SQLite) userDetails(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, us []User) error {
	if len(us) == 0 {
		return nil
	}
	byID := make(map[int64]*User, len(us))
	ids := make([]int64, len(us))
	for i := range us {
		byID[us[i].ID] = &us[i]
		ids[i] = us[i].ID
	}
	in, args := idList(ids)
	for _, tab := range []struct {
		sql  string
		dest func(*User) *[]string
	}{
		{"SELECT user_id, role FROM user_roles WHERE user_id IN " + in + " ORDER BY role", func(u *User) *[]string { return &u.Roles }},
		{"SELECT user_id, address FROM user_addresses WHERE user_id IN " + in + " ORDER BY address", func(u *User) *[]string { return &u.Addresses }},
	} {
		rows, err := q.QueryContext(ctx, tab.sql, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return err
			}
			if u := byID[id]; u != nil {
				d := tab.dest(u)
				*d = append(*d, v)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

func replaceUserDetails(ctx context.Context, tx *sql.Tx, id int64, roles, addrs []string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM user_roles WHERE user_id = ?", id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM user_addresses WHERE user_id = ?", id); err != nil {
		return err
	}
	for _, r := range normList(roles, false) {
		if _, err := tx.ExecContext(ctx, "INSERT INTO user_roles (user_id, role) VALUES (?, ?)", id, r); err != nil {
			return err
		}
	}
	for _, a := range normList(addrs, true) {
		if _, err := tx.ExecContext(ctx, "INSERT INTO user_addresses (user_id, address) VALUES (?, ?)", id, a); err != nil {
			return err
		}
	}
	return nil
}

// CreateUser adds u (its ID is ignored) and returns the new id; ErrUserExists when
// the login is taken. CreatedAt and UpdatedAt default to now.
func (c *SQLite) CreateUser(ctx context.Context, u User) (int64, error) {
	login := strings.ToLower(strings.TrimSpace(u.Login))
	if login == "" {
		return 0, fmt.Errorf("catalog: empty login")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	if u.Source == "" {
		u.Source = "local"
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var one int
	switch err := tx.QueryRowContext(ctx, "SELECT 1 FROM users WHERE login = ?", login).Scan(&one); {
	case err == nil:
		return 0, ErrUserExists
	case !errors.Is(err, sql.ErrNoRows):
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO users (login, display_name, source, external_id, password_hash,
		must_change_password, disabled, totp_secret, totp_last_step, created_at, updated_at, password_changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		login, u.DisplayName, u.Source, u.ExternalID, u.PasswordHash, boolInt(u.MustChangePassword), boolInt(u.Disabled),
		u.TOTPSecret, u.TOTPLastStep, ns(u.CreatedAt), ns(u.UpdatedAt), ns(u.PasswordChangedAt))
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if err := replaceUserDetails(ctx, tx, id, u.Roles, u.Addresses); err != nil {
		return 0, err
	}
	return id, tx.Commit()
}

// UserByID returns one user with roles and addresses, or ErrNoUser.
func (c *SQLite) UserByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(c.db.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
	if err != nil {
		return u, err
	}
	us := []User{u}
	err = c.userDetails(ctx, c.db, us)
	return us[0], err
}

// UserByLogin returns the user with this login (case-insensitive), or ErrNoUser.
func (c *SQLite) UserByLogin(ctx context.Context, login string) (User, error) {
	u, err := scanUser(c.db.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE login = ?", strings.ToLower(strings.TrimSpace(login))))
	if err != nil {
		return u, err
	}
	us := []User{u}
	err = c.userDetails(ctx, c.db, us)
	return us[0], err
}

// UserFilter selects users for Users.
type UserFilter struct {
	Role    string // "": any role
	Address string // "": any; else users owning this address
	Enabled bool   // only users not disabled
}

// Users returns the users matching f, by login.
func (c *SQLite) Users(ctx context.Context, f UserFilter) ([]User, error) {
	var where []string
	var args []any
	if f.Role != "" {
		where = append(where, "id IN (SELECT user_id FROM user_roles WHERE role = ?)")
		args = append(args, f.Role)
	}
	if f.Address != "" {
		where = append(where, "id IN (SELECT user_id FROM user_addresses WHERE address = ?)")
		args = append(args, strings.ToLower(strings.TrimSpace(f.Address)))
	}
	if f.Enabled {
		where = append(where, "disabled = 0")
	}
	q := "SELECT " + userCols + " FROM users"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := c.db.QueryContext(ctx, q+" ORDER BY login", args...)
	if err != nil {
		return nil, err
	}
	var us []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		us = append(us, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return us, c.userDetails(ctx, c.db, us)
}

// UpdateUser writes u's profile: display name, source, external id, the
// must-change and disabled flags, roles and addresses (replaced), and UpdatedAt.
// Passwords and TOTP state have their own methods.
func (c *SQLite) UpdateUser(ctx context.Context, u User) error {
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = time.Now()
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE users SET display_name = ?, source = ?, external_id = ?, must_change_password = ?,
		disabled = ?, updated_at = ? WHERE id = ?`,
		u.DisplayName, u.Source, u.ExternalID, boolInt(u.MustChangePassword), boolInt(u.Disabled), ns(u.UpdatedAt), u.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoUser
	}
	if err := replaceUserDetails(ctx, tx, u.ID, u.Roles, u.Addresses); err != nil {
		return err
	}
	return tx.Commit()
}

func affected(res sql.Result, err error, none error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return none
	}
	return nil
}

// SetPasswordHash replaces a user's password hash and must-change flag.
func (c *SQLite) SetPasswordHash(ctx context.Context, id int64, hash string, mustChange bool, at time.Time) error {
	res, err := c.db.ExecContext(ctx, `UPDATE users SET password_hash = ?, must_change_password = ?, password_changed_at = ?,
		updated_at = ? WHERE id = ?`, hash, boolInt(mustChange), ns(at), ns(at), id)
	return affected(res, err, ErrNoUser)
}

// TouchUserLogin records a successful login time.
func (c *SQLite) TouchUserLogin(ctx context.Context, id int64, at time.Time) error {
	res, err := c.db.ExecContext(ctx, "UPDATE users SET last_login_at = ? WHERE id = ?", ns(at), id)
	return affected(res, err, ErrNoUser)
}

// DeleteUser removes a user with its roles, addresses, sessions, tokens and
// recovery codes. The login log keeps its rows.
func (c *SQLite) DeleteUser(ctx context.Context, id int64) error {
	res, err := c.db.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id)
	return affected(res, err, ErrNoUser)
}

// CountUsers counts users holding role ("" any), only enabled ones when enabledOnly.
func (c *SQLite) CountUsers(ctx context.Context, role string, enabledOnly bool) (int, error) {
	q := "SELECT COUNT(*) FROM users u WHERE 1=1"
	var args []any
	if role != "" {
		q += " AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = ?)"
		args = append(args, role)
	}
	if enabledOnly {
		q += " AND u.disabled = 0"
	}
	var n int
	err := c.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}
