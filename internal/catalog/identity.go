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
	Source             string // local, ldap
	ExternalID         string // ldap users: "attribute:value" of the entry's stable id, or its DN
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

// SetTOTPPending stores the sealed secret of an enrolment in progress (nil clears it).
func (c *SQLite) SetTOTPPending(ctx context.Context, id int64, sealed []byte, at time.Time) error {
	res, err := c.db.ExecContext(ctx, "UPDATE users SET totp_pending = ?, totp_pending_at = ?, updated_at = ? WHERE id = ?",
		sealed, ns(at), ns(at), id)
	return affected(res, err, ErrNoUser)
}

// ActivateTOTP makes sealed the user's TOTP secret, with step as the last accepted
// time step, and clears the pending enrolment.
func (c *SQLite) ActivateTOTP(ctx context.Context, id int64, sealed []byte, step int64, at time.Time) error {
	res, err := c.db.ExecContext(ctx, `UPDATE users SET totp_secret = ?, totp_last_step = ?, totp_pending = NULL,
		totp_pending_at = 0, updated_at = ? WHERE id = ?`, sealed, step, ns(at), id)
	return affected(res, err, ErrNoUser)
}

// ClearTOTP removes a user's TOTP secret, pending enrolment and recovery codes.
func (c *SQLite) ClearTOTP(ctx context.Context, id int64, at time.Time) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE users SET totp_secret = NULL, totp_last_step = 0, totp_pending = NULL,
		totp_pending_at = 0, updated_at = ? WHERE id = ?`, ns(at), id)
	if err := affected(res, err, ErrNoUser); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", id); err != nil {
		return err
	}
	return tx.Commit()
}

// UseTOTPStep records step as the user's last accepted TOTP time step if it is later
// than the one recorded; false means it is not (a replayed or older code). The
// comparison and the write are one statement, so two requests racing with the same
// code cannot both win.
func (c *SQLite) UseTOTPStep(ctx context.Context, id, step int64) (bool, error) {
	res, err := c.db.ExecContext(ctx, "UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ? AND totp_secret IS NOT NULL",
		step, id, step)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReplaceRecoveryCodes replaces a user's recovery codes with the given hashes.
func (c *SQLite) ReplaceRecoveryCodes(ctx context.Context, id int64, hashes []string, at time.Time) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", id); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, "INSERT INTO recovery_codes (user_id, code_sha256, created_at) VALUES (?, ?, ?)", id, h, ns(at)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// UseRecoveryCode marks the user's unused code with this hash as used; false when
// there is none (wrong or already used).
func (c *SQLite) UseRecoveryCode(ctx context.Context, id int64, hash string, at time.Time) (bool, error) {
	res, err := c.db.ExecContext(ctx, "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_sha256 = ? AND used_at = 0",
		ns(at), id, hash)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecoveryCodesLeft counts a user's unused recovery codes.
func (c *SQLite) RecoveryCodesLeft(ctx context.Context, id int64) (int, error) {
	var n int
	err := c.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at = 0", id).Scan(&n)
	return n, err
}

// Session is one server-side session, named by the SHA-256 of its cookie value.
type Session struct {
	IDSHA256      string
	UserID        int64 // 0: anonymous
	State         string
	Method        string
	CreatedAt     time.Time
	LastSeen      time.Time
	ExpiresAt     time.Time
	ClientIP      string
	UserAgent     string
	Justification string
	CaseRef       string
	JustifiedAt   time.Time
}

const sessionCols = `id_sha256, COALESCE(user_id, 0), state, method, created_at, last_seen_at, expires_at, client_ip, user_agent,
	justification, case_ref, justified_at`

func scanSession(sc interface{ Scan(...any) error }) (Session, error) {
	var s Session
	var created, seen, exp, just int64
	err := sc.Scan(&s.IDSHA256, &s.UserID, &s.State, &s.Method, &created, &seen, &exp, &s.ClientIP, &s.UserAgent,
		&s.Justification, &s.CaseRef, &just)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNoSession
	}
	s.CreatedAt, s.LastSeen, s.ExpiresAt, s.JustifiedAt = nsTime(created), nsTime(seen), nsTime(exp), nsTime(just)
	return s, err
}

// CreateSession stores s; when replace names another session, that one is deleted
// in the same transaction (session rotation).
func (c *SQLite) CreateSession(ctx context.Context, s Session, replace string) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if replace != "" {
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE id_sha256 = ?", replace); err != nil {
			return err
		}
	}
	var uid any
	if s.UserID != 0 {
		uid = s.UserID
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_sha256, user_id, state, method, created_at, last_seen_at,
		expires_at, client_ip, user_agent, justification, case_ref, justified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.IDSHA256, uid, s.State, s.Method, ns(s.CreatedAt), ns(s.LastSeen), ns(s.ExpiresAt), s.ClientIP, s.UserAgent,
		s.Justification, s.CaseRef, ns(s.JustifiedAt)); err != nil {
		return err
	}
	return tx.Commit()
}

// SessionByHash returns the session, or ErrNoSession.
func (c *SQLite) SessionByHash(ctx context.Context, idSHA256 string) (Session, error) {
	st, err := c.stmt(ctx, "SELECT "+sessionCols+" FROM sessions WHERE id_sha256 = ?")
	if err != nil {
		return Session{}, err
	}
	return scanSession(st.QueryRowContext(ctx, idSHA256))
}

// TouchSession records activity on a session.
func (c *SQLite) TouchSession(ctx context.Context, idSHA256 string, at time.Time) error {
	res, err := c.db.ExecContext(ctx, "UPDATE sessions SET last_seen_at = ? WHERE id_sha256 = ?", ns(at), idSHA256)
	return affected(res, err, ErrNoSession)
}

// SetSessionJustification stores the access justification typed in a session.
func (c *SQLite) SetSessionJustification(ctx context.Context, idSHA256, text, caseRef string, at time.Time) error {
	res, err := c.db.ExecContext(ctx, "UPDATE sessions SET justification = ?, case_ref = ?, justified_at = ? WHERE id_sha256 = ?",
		text, caseRef, ns(at), idSHA256)
	return affected(res, err, ErrNoSession)
}

// DeleteSession removes one session; false when there was none.
func (c *SQLite) DeleteSession(ctx context.Context, idSHA256 string) (bool, error) {
	res, err := c.db.ExecContext(ctx, "DELETE FROM sessions WHERE id_sha256 = ?", idSHA256)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteUserSessions removes every session of a user except the one named by
// except ("" for none) and returns how many it removed.
func (c *SQLite) DeleteUserSessions(ctx context.Context, userID int64, except string) (int64, error) {
	res, err := c.db.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ? AND id_sha256 != ?", userID, except)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// UserSessions lists a user's sessions, most recently used first.
func (c *SQLite) UserSessions(ctx context.Context, userID int64) ([]Session, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT "+sessionCols+" FROM sessions WHERE user_id = ? ORDER BY last_seen_at DESC", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// PurgeSessions deletes sessions idle since before idleBefore or past their
// absolute expiry at now, and returns how many.
func (c *SQLite) PurgeSessions(ctx context.Context, idleBefore, now time.Time) (int64, error) {
	res, err := c.db.ExecContext(ctx, "DELETE FROM sessions WHERE last_seen_at < ? OR expires_at <= ?", ns(idleBefore), ns(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// APIToken is one API token; only the SHA-256 of its value is stored.
type APIToken struct {
	ID        int64
	UserID    int64
	Name      string
	Prefix    string
	SHA256    string
	Scopes    []string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: no expiry
	LastUsed  time.Time
	RevokedAt time.Time
}

const tokenCols = "id, user_id, name, prefix, token_sha256, scopes, created_at, expires_at, last_used_at, revoked_at"

func scanToken(sc interface{ Scan(...any) error }) (APIToken, error) {
	var t APIToken
	var scopes string
	var created, exp, used, rev int64
	err := sc.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &t.SHA256, &scopes, &created, &exp, &used, &rev)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNoToken
	}
	t.Scopes = strings.Fields(scopes)
	t.CreatedAt, t.ExpiresAt, t.LastUsed, t.RevokedAt = nsTime(created), nsTime(exp), nsTime(used), nsTime(rev)
	return t, err
}

// CreateAPIToken stores t and returns its id.
func (c *SQLite) CreateAPIToken(ctx context.Context, t APIToken) (int64, error) {
	res, err := c.db.ExecContext(ctx, `INSERT INTO api_tokens (user_id, name, prefix, token_sha256, scopes, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.UserID, t.Name, t.Prefix, t.SHA256, strings.Join(normList(t.Scopes, false), " "),
		ns(t.CreatedAt), ns(t.ExpiresAt))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// APITokenByHash returns the token with this SHA-256, or ErrNoToken.
func (c *SQLite) APITokenByHash(ctx context.Context, sum string) (APIToken, error) {
	return scanToken(c.db.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE token_sha256 = ?", sum))
}

// APITokenByID returns one token, or ErrNoToken.
func (c *SQLite) APITokenByID(ctx context.Context, id int64) (APIToken, error) {
	return scanToken(c.db.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE id = ?", id))
}

// APITokens lists a user's tokens (every user's when userID is 0), newest first.
func (c *SQLite) APITokens(ctx context.Context, userID int64) ([]APIToken, error) {
	q, args := "SELECT "+tokenCols+" FROM api_tokens", []any{}
	if userID != 0 {
		q += " WHERE user_id = ?"
		args = append(args, userID)
	}
	rows, err := c.db.QueryContext(ctx, q+" ORDER BY id DESC", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeAPIToken marks a token revoked (once: a second revocation keeps the first time).
func (c *SQLite) RevokeAPIToken(ctx context.Context, id int64, at time.Time) error {
	res, err := c.db.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE id = ?", ns(at), id)
	return affected(res, err, ErrNoToken)
}

// RevokeUserAPITokens revokes every live token of a user and returns how many.
func (c *SQLite) RevokeUserAPITokens(ctx context.Context, userID int64, at time.Time) (int64, error) {
	res, err := c.db.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at = 0", ns(at), userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// TouchAPIToken records a token's use.
func (c *SQLite) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	res, err := c.db.ExecContext(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", ns(at), id)
	return affected(res, err, ErrNoToken)
}

// Throttle is the failure counter of one throttling key.
type Throttle struct {
	Key         string
	Failures    int
	Lockouts    int
	LockedUntil time.Time
	LastFailure time.Time
}

func throttleOf(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, key string) (Throttle, error) {
	t := Throttle{Key: key}
	var until, last int64
	err := q.QueryRowContext(ctx, "SELECT failures, lockouts, locked_until, last_failure FROM login_throttle WHERE key = ?", key).
		Scan(&t.Failures, &t.Lockouts, &until, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return t, nil
	}
	t.LockedUntil, t.LastFailure = nsTime(until), nsTime(last)
	return t, err
}

// Throttles returns the counters of keys (zero values for keys never seen).
func (c *SQLite) Throttles(ctx context.Context, keys ...string) ([]Throttle, error) {
	out := make([]Throttle, len(keys))
	for i, k := range keys {
		t, err := throttleOf(ctx, c.db, k)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// UpdateThrottle reads a key's counter, lets fn change it and writes it back, in
// one transaction (concurrent failures are all counted).
func (c *SQLite) UpdateThrottle(ctx context.Context, key string, fn func(*Throttle)) (Throttle, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return Throttle{}, err
	}
	defer tx.Rollback()
	t, err := throttleOf(ctx, tx, key)
	if err != nil {
		return t, err
	}
	fn(&t)
	t.Key = key
	if _, err := tx.ExecContext(ctx, `INSERT INTO login_throttle (key, failures, lockouts, locked_until, last_failure)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, lockouts = excluded.lockouts,
		locked_until = excluded.locked_until, last_failure = excluded.last_failure`,
		key, t.Failures, t.Lockouts, ns(t.LockedUntil), ns(t.LastFailure)); err != nil {
		return t, err
	}
	return t, tx.Commit()
}

// DeleteThrottle forgets a key's counter (a successful login, an administrator's unlock).
func (c *SQLite) DeleteThrottle(ctx context.Context, key string) error {
	_, err := c.db.ExecContext(ctx, "DELETE FROM login_throttle WHERE key = ?", key)
	return err
}

// PurgeThrottle forgets counters whose last failure was before before and whose
// lock, if any, ended by now.
func (c *SQLite) PurgeThrottle(ctx context.Context, before, now time.Time) (int64, error) {
	res, err := c.db.ExecContext(ctx, "DELETE FROM login_throttle WHERE last_failure < ? AND locked_until <= ?", ns(before), ns(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// LoginEvent is one row of the login log.
type LoginEvent struct {
	ID        int64
	At        time.Time
	Login     string
	UserID    int64 // 0: no such user
	ClientIP  string
	UserAgent string
	Method    string
	Result    string
	Detail    string
}

// LogLoginEvent appends e to the login log and returns its id.
func (c *SQLite) LogLoginEvent(ctx context.Context, e LoginEvent) (int64, error) {
	var uid any
	if e.UserID != 0 {
		uid = e.UserID
	}
	res, err := c.db.ExecContext(ctx, `INSERT INTO login_events (at, login, user_id, client_ip, user_agent, method, result, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ns(e.At), e.Login, uid, e.ClientIP, e.UserAgent, e.Method, e.Result, e.Detail)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// LoginEventFilter selects login log rows.
type LoginEventFilter struct {
	UserID   int64     // 0: any
	Login    string    // "": any
	Since    time.Time // zero: from the start
	Until    time.Time // zero: to now
	BeforeID int64     // paging: rows older than this id (0: from the newest)
	Limit    int       // 0: 100
}

// LoginEvents returns login log rows, newest first.
func (c *SQLite) LoginEvents(ctx context.Context, f LoginEventFilter) ([]LoginEvent, error) {
	var where []string
	var args []any
	if f.UserID != 0 {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	if f.Login != "" {
		where = append(where, "login = ?")
		args = append(args, strings.ToLower(f.Login))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, ns(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, ns(f.Until))
	}
	if f.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, f.BeforeID)
	}
	q := "SELECT id, at, login, COALESCE(user_id, 0), client_ip, user_agent, method, result, detail FROM login_events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := c.db.QueryContext(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LoginEvent
	for rows.Next() {
		var e LoginEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Login, &e.UserID, &e.ClientIP, &e.UserAgent, &e.Method, &e.Result, &e.Detail); err != nil {
			return nil, err
		}
		e.At = nsTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
