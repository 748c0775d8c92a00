package catalog

import (
	"context"
	"time"
)

// TOTP state and recovery codes of a user (schema 8).

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
