package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The access-log index (schema 9): which records every access entry touched
// (access_records) and who participates in them (access_participants), so
// that the access-log pages find "every access to my mail" and "every access
// to this record" without reading every detail document.

// accessDetailRecords is the part of an access detail document (the archive's
// AccessDetail, docs/FORMATS.md) that the index reads.
type accessDetailRecords struct {
	Records []string `json:"records"`
}

// detailRecords returns the distinct record ids of a detail document, lower
// case; none when it is not JSON or has no "records".
func detailRecords(detail []byte) []string {
	var d accessDetailRecords
	if json.Unmarshal(detail, &d) != nil {
		return nil
	}
	var out []string
	for _, r := range d.Records {
		r = strings.ToLower(strings.TrimSpace(r))
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// recordParticipants is the participant part of the metadata document.
type recordParticipants struct {
	From    []struct{ Address string } `json:"from"`
	Sender  []struct{ Address string } `json:"sender"`
	ReplyTo []struct{ Address string } `json:"reply_to"`
	To      []struct{ Address string } `json:"to"`
	Cc      []struct{ Address string } `json:"cc"`
	Bcc     []struct{ Address string } `json:"bcc"`
}

// envelopeParticipants is the participant part of a reception's envelope
// (resguardo-envelope/1); imports have none.
type envelopeParticipants struct {
	MailFrom string   `json:"mail_from"`
	RcptTo   []string `json:"rcpt_to"`
}

// participantAddress normalises an address for the index as the identity
// package stores an account's addresses: trimmed, lower case; "" when it is
// not an address.
func participantAddress(a string) string {
	a = strings.ToLower(strings.TrimSpace(strings.Trim(strings.TrimSpace(a), "<>")))
	if i := strings.LastIndexByte(a, '@'); i <= 0 || i == len(a)-1 || strings.ContainsAny(a, " \t\r\n<>") {
		return ""
	}
	return a
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// participantsOf returns the participants of the records with these ids (the
// addresses of the read rule: From, Sender, Reply-To, To, Cc, Bcc and every
// reception's envelope sender and recipients), by record id. Ids that are not
// records are absent.
func participantsOf(ctx context.Context, q queryer, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	add := func(id, addr string) {
		if a := participantAddress(addr); a != "" && !slices.Contains(out[id], a) {
			out[id] = append(out[id], a)
		}
	}
	for len(ids) > 0 {
		n := min(500, len(ids))
		args := make([]any, n)
		for i := range args {
			args[i] = ids[i]
		}
		ids = ids[n:]
		rows, err := q.QueryContext(ctx, `SELECT r.sha256, r.meta, COALESCE(rc.envelope, '') FROM records r
			LEFT JOIN receptions rc ON rc.record_seq = r.seq WHERE r.sha256 IN (?`+strings.Repeat(",?", n-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for rows.Next() {
			var id, env string
			var meta []byte
			if err := rows.Scan(&id, &meta, &env); err != nil {
				rows.Close()
				return nil, err
			}
			if _, ok := out[id]; !ok {
				out[id] = nil
			}
			if !seen[id] {
				seen[id] = true
				var m recordParticipants
				if json.Unmarshal(meta, &m) == nil {
					for _, list := range [][]struct{ Address string }{m.From, m.Sender, m.ReplyTo, m.To, m.Cc, m.Bcc} {
						for _, ad := range list {
							add(id, ad.Address)
						}
					}
				}
			}
			var e envelopeParticipants
			if env != "" && json.Unmarshal([]byte(env), &e) == nil {
				add(id, e.MailFrom)
				for _, r := range e.RcptTo {
					add(id, r)
				}
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// accessIndexRows are the access_records and access_participants rows of one
// access entry.
type accessIndexRows struct {
	records, participants [][]any
}

// accessIndex builds the index rows of the access entry id that touched
// records, whose participants are parts (participantsOf).
func accessIndex(id int64, records []string, parts map[string][]string) accessIndexRows {
	var rows accessIndexRows
	for _, r := range records {
		rows.records = append(rows.records, []any{id, r})
		for _, a := range parts[r] {
			rows.participants = append(rows.participants, []any{a, id, r})
		}
	}
	return rows
}

// insert writes the rows in tx.
func (x accessIndexRows) insert(ctx context.Context, tx *sql.Tx) error {
	if err := insertRows(ctx, tx, "INSERT OR IGNORE", "access_records", "access_id, record_sha256", x.records); err != nil {
		return err
	}
	return insertRows(ctx, tx, "INSERT OR IGNORE", "access_participants", "address, access_id, record_sha256", x.participants)
}

// backfillAccessRecords fills the schema 9 index for access entries written
// before it, from their detail documents (run by the migration, in its
// transaction).
func backfillAccessRecords(ctx context.Context, tx *sql.Tx) error {
	after := int64(0)
	for {
		type row struct {
			id      int64
			records []string
		}
		var batch []row
		rs, err := tx.QueryContext(ctx, `SELECT id, detail FROM access_log WHERE id > ? ORDER BY id LIMIT 1000`, after)
		if err != nil {
			return err
		}
		n := 0
		for rs.Next() {
			var id int64
			var detail []byte
			if err := rs.Scan(&id, &detail); err != nil {
				rs.Close()
				return err
			}
			n++
			after = id
			if recs := detailRecords(detail); len(recs) > 0 {
				batch = append(batch, row{id, recs})
			}
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return err
		}
		for _, r := range batch {
			parts, err := participantsOf(ctx, tx, r.records)
			if err != nil {
				return fmt.Errorf("access entry %d: %w", r.id, err)
			}
			if err := accessIndex(r.id, r.records, parts).insert(ctx, tx); err != nil {
				return fmt.Errorf("access entry %d: %w", r.id, err)
			}
		}
		if n < 1000 {
			return nil
		}
	}
}

// AccessEntry is one row of the access log, for the access-log pages.
type AccessEntry struct {
	ID          int64
	LedgerIndex int64
	At          time.Time
	Actor       string
	Action      string
	Detail      []byte // the canonical detail document (archive.AccessDetail)
	// Records are, with AccessFilter.Participants, the records of the entry in
	// which one of those addresses participates; otherwise empty (the detail
	// lists every record).
	Records []string
}

// AccessFilter selects access-log rows. Zero fields select everything.
type AccessFilter struct {
	Actor  string    // exactly this actor ("user:ana")
	Action string    // exactly this action
	Since  time.Time // at or after
	Until  time.Time // before
	Record string    // entries that touched this record (full SHA-256)
	// Participants: only entries that touched a record in which one of these
	// addresses (lower case) participates.
	Participants []string
	NotActor     string // leave out this actor's entries (a person's own accesses)
	BeforeID     int64  // paging: entries older than this id
	Limit        int    // 0: 50
}

// AccessEntries returns access-log rows, newest first.
func (c *SQLite) AccessEntries(ctx context.Context, f AccessFilter) ([]AccessEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var where []string
	var args []any
	from := "access_log al"
	cols := "al.id, COALESCE(al.ledger_index, -1), al.at, al.actor, al.action, al.detail, ''"
	group := ""
	if len(f.Participants) > 0 {
		from = "access_participants ap JOIN access_log al ON al.id = ap.access_id"
		cols = "al.id, COALESCE(al.ledger_index, -1), al.at, al.actor, al.action, al.detail, group_concat(DISTINCT ap.record_sha256)"
		where = append(where, "ap.address IN (?"+strings.Repeat(",?", len(f.Participants)-1)+")")
		for _, a := range f.Participants {
			args = append(args, strings.ToLower(a))
		}
		group = " GROUP BY al.id"
	}
	if f.Actor != "" {
		where, args = append(where, "al.actor = ?"), append(args, f.Actor)
	}
	if f.NotActor != "" {
		where, args = append(where, "al.actor <> ?"), append(args, f.NotActor)
	}
	if f.Action != "" {
		where, args = append(where, "al.action = ?"), append(args, f.Action)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "al.at >= ?"), append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "al.at < ?"), append(args, f.Until.UnixNano())
	}
	if f.Record != "" {
		where, args = append(where, "al.id IN (SELECT access_id FROM access_records WHERE record_sha256 = ?)"), append(args, strings.ToLower(f.Record))
	}
	if f.BeforeID > 0 {
		where, args = append(where, "al.id < ?"), append(args, f.BeforeID)
	}
	q := "SELECT " + cols + " FROM " + from
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += group + " ORDER BY al.id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AccessEntry
	for rows.Next() {
		var e AccessEntry
		var at int64
		var recs string
		if err := rows.Scan(&e.ID, &e.LedgerIndex, &at, &e.Actor, &e.Action, &e.Detail, &recs); err != nil {
			return nil, err
		}
		e.At = time.Unix(0, at).UTC()
		if recs != "" {
			e.Records = strings.Split(recs, ",")
			slices.Sort(e.Records)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AccessActions lists the distinct actions in the access log, sorted.
func (c *SQLite) AccessActions(ctx context.Context) ([]string, error) {
	return c.queryStrings(ctx, "SELECT DISTINCT action FROM access_log ORDER BY action")
}
