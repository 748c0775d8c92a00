package catalog

import (
	"context"
	"fmt"
	"time"
)

// CountArchived returns, for each i < len(bounds)-1, the number of records
// archived in [bounds[i], bounds[i+1]) — the dashboard's volumes per hour and
// per day. bounds must be increasing; each count is a range over the
// records_archived index (schema 9).
func (c *SQLite) CountArchived(ctx context.Context, bounds []time.Time) ([]int64, error) {
	if len(bounds) < 2 {
		return nil, nil
	}
	for i := 1; i < len(bounds); i++ {
		if !bounds[i].After(bounds[i-1]) {
			return nil, fmt.Errorf("count archived: bounds not increasing at %d", i)
		}
	}
	// No transaction: the catalog's transactions take the write lock when
	// they begin (_txlock=immediate), and these counts need no snapshot.
	st, err := c.stmt(ctx, "SELECT COUNT(*) FROM records WHERE archived_at >= ? AND archived_at < ?")
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(bounds)-1)
	for i := range out {
		if err := st.QueryRowContext(ctx, bounds[i].UnixNano(), bounds[i+1].UnixNano()).Scan(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CountQuarantined is the number of records a gateway policy quarantined and
// nobody released yet.
func (c *SQLite) CountQuarantined(ctx context.Context) (int64, error) {
	var n int64
	err := c.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM records WHERE quarantined = 1").Scan(&n)
	return n, err
}
