package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/ledger"
)

// listItem is one JSON line of `resguardo list --json` (docs/CLI.md).
type listItem struct {
	ID         string `json:"id"`
	Date       string `json:"date,omitempty"`
	ArchivedAt string `json:"archived_at"`
	From       string `json:"from"`
	Subject    string `json:"subject"`
	Size       int64  `json:"size"`
	Channel    string `json:"channel"`
	Malformed  bool   `json:"malformed"`
	Ledger     int64  `json:"ledger_index"`
	// Quarantined: an arrival was quarantined by the gateway (omitted when false).
	Quarantined bool `json:"quarantined,omitempty"`
}

func runList(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "JSON Lines: one object per record")
	limit := fs.Int("limit", 50, "at most this many records (0 = all)")
	offset := fs.Int("offset", 0, "skip this many records")
	after := fs.String("after", "", "messages dated on or after DATE (YYYY-MM-DD or RFC 3339)")
	before := fs.String("before", "", "messages dated before DATE")
	archAfter := fs.String("archived-after", "", "archived on or after DATE")
	archBefore := fs.String("archived-before", "", "archived before DATE")
	byArchived := fs.Bool("by-archived", false, "order by archive time instead of message date")
	malformed := fs.Bool("malformed", false, "only records flagged malformed")
	quarantined := fs.Bool("quarantined", false, "only records in quarantine (resguardo quarantine list)")
	tz := fs.String("tz", "America/Mexico_City", "time zone for dates shown and for YYYY-MM-DD filters")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("list takes no arguments, got %q", pos)}
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--tz %q: %w", *tz, err)}
	}
	o := catalog.ListOptions{Limit: *limit, Offset: *offset, SortArchived: *byArchived, Malformed: *malformed, Quarantined: *quarantined}
	for _, f := range []struct {
		flag, val string
		dst       *time.Time
	}{{"after", *after, &o.After}, {"before", *before, &o.Before}, {"archived-after", *archAfter, &o.ArchivedAfter}, {"archived-before", *archBefore, &o.ArchivedBefore}} {
		if f.val == "" {
			continue
		}
		t, err := parseDateFlag(f.val, loc)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--%s: %w", f.flag, err)}
		}
		*f.dst = t
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	recs, err := a.Cat.List(ctx, o)
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(m.Stdout)
		enc.SetEscapeHTML(false)
		for _, r := range recs {
			it := listItem{ID: r.SHA256, ArchivedAt: ledger.FormatTime(r.ArchivedAt), From: r.FromAddr, Subject: r.Subject,
				Size: r.Size, Channel: r.Channel, Malformed: r.Malformed, Ledger: r.LedgerIndex, Quarantined: r.Quarantined}
			if !r.Date.IsZero() {
				it.Date = r.Date.Format(time.RFC3339)
			}
			if err := enc.Encode(it); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	if m.P.Lang == "en" {
		fmt.Fprintln(tw, "DATE\tID\tSIZE\tFROM\tSUBJECT")
	} else {
		fmt.Fprintln(tw, "FECHA\tID\tTAMAÑO\tDE\tASUNTO")
	}
	for _, r := range recs {
		date := "—"
		if !r.Date.IsZero() {
			date = r.Date.In(loc).Format("2006-01-02 15:04")
		}
		subj := r.Subject
		if r.Malformed {
			subj = "⚠ " + subj
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", date, r.SHA256[:12], m.P.Bytes(r.Size), clip(r.FromAddr, 32), clip(oneLine(subj), 60))
	}
	return tw.Flush()
}

func parseDateFlag(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want YYYY-MM-DD or RFC 3339, got %q", s)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
