package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/intake"
	"github.com/resguardo/resguardo/internal/ledger"
	"github.com/resguardo/resguardo/internal/relay"
)

// queueEntry is one line of `resguardo queue list --json` (and the head of
// `queue show --json`): resguardo-queue/1, docs/CLI.md.
type queueEntry struct {
	ID            int64  `json:"id"`
	Record        string `json:"record"` // the archived message's SHA-256
	MailFrom      string `json:"mail_from"`
	Rcpt          string `json:"rcpt"`
	Route         string `json:"route"`
	Domain        string `json:"domain"`
	State         string `json:"state"`
	Attempts      int    `json:"attempts"`
	CreatedAt     string `json:"created_at"`
	NextAttemptAt string `json:"next_attempt_at,omitempty"`
	LastAttemptAt string `json:"last_attempt_at,omitempty"`
	LastError     string `json:"last_error,omitempty"`
	DeliveryIndex *int64 `json:"delivery_ledger_index,omitempty"`
	DSN           string `json:"dsn,omitempty"` // the DSN record sent for a failure
	// WarnedAt and WarningDSN: the delayed-delivery DSN sent while retrying.
	WarnedAt   string `json:"warned_at,omitempty"`
	WarningDSN string `json:"warning_dsn,omitempty"`
}

// queueShow is `resguardo queue show ID --json`.
type queueShow struct {
	queueEntry
	Prefix     string          `json:"prefix"` // header fields added to this copy
	Deliveries []queueDelivery `json:"deliveries"`
}

type queueDelivery struct {
	LedgerIndex int64                  `json:"ledger_index"`
	Detail      archive.DeliveryDetail `json:"detail"`
	Entry       json.RawMessage        `json:"entry"`
}

func toQueueEntry(o catalog.Outbound) queueEntry {
	q := queueEntry{ID: o.ID, Record: o.SHA256, MailFrom: o.MailFrom, Rcpt: o.Rcpt, Route: o.Route, Domain: o.Domain,
		State: o.State, Attempts: o.Attempts, CreatedAt: ledger.FormatTime(o.CreatedAt), LastError: o.LastError, DSN: o.DSNSHA256}
	if o.State == catalog.OutQueued || o.State == catalog.OutDeferred {
		q.NextAttemptAt = ledger.FormatTime(o.NextAttempt)
	}
	if !o.LastAttempt.IsZero() {
		q.LastAttemptAt = ledger.FormatTime(o.LastAttempt)
	}
	if !o.WarnedAt.IsZero() {
		q.WarnedAt, q.WarningDSN = ledger.FormatTime(o.WarnedAt), o.WarningDSNSHA256
	}
	if o.DeliveryIndex >= 0 {
		idx := o.DeliveryIndex
		q.DeliveryIndex = &idx
	}
	return q
}

const queueUsage = "usage: resguardo queue list [--state S,…] [--json] | queue show ID [--json] | queue retry|hold|release ID…|--all [--reason TEXT]"

// runQueue manages the gateway's outbound queue (the running serve delivers it).
func runQueue(ctx context.Context, m *Main, args []string) error {
	sub, rest := subcommand(args)
	switch sub {
	case "list":
		return runQueueList(ctx, m, rest)
	case "show":
		return runQueueShow(ctx, m, rest)
	case "retry", "hold", "release":
		return runQueueMove(ctx, m, sub, rest)
	}
	return &exitError{code: 2, err: errors.New(queueUsage)}
}

var queueStates = []string{catalog.OutQueued, catalog.OutDeferred, catalog.OutHeld, catalog.OutDelivered, catalog.OutFailed}

func runQueueList(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("queue list", flag.ContinueOnError)
	states := fs.String("state", "queued,deferred,held", "states to list (comma-separated: "+strings.Join(queueStates, ", ")+", or all)")
	limit := fs.Int("limit", 1000, "at most this many entries")
	jsonOut := fs.Bool("json", false, "JSON Lines, one entry per line")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	f := catalog.OutboundFilter{Limit: *limit}
	if *states != "all" {
		for _, s := range strings.Split(*states, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(queueStates, s) {
				return &exitError{code: 2, err: fmt.Errorf("queue list: --state %q: want %s or all", s, strings.Join(queueStates, ", "))}
			}
			f.States = append(f.States, s)
		}
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	list, err := a.Cat.ListOutbound(ctx, f)
	if err != nil {
		return err
	}
	for _, o := range list {
		q := toQueueEntry(o)
		if *jsonOut {
			if err := writeJSONLine(m, q); err != nil {
				return err
			}
			continue
		}
		when := q.NextAttemptAt
		if when == "" {
			when = q.LastAttemptAt
		}
		fmt.Fprintf(m.Stdout, "%-6d %-9s %-9s %s → %s  %s  %d  %s\n", q.ID, q.State, q.Route, orNull(q.MailFrom), q.Rcpt, q.Record[:16], q.Attempts, when)
		if q.LastError != "" {
			fmt.Fprintf(m.Stdout, "       %s\n", q.LastError)
		}
	}
	return nil
}

func orNull(s string) string {
	if s == "" {
		return "<>"
	}
	return s
}

func writeJSONLine(m *Main, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(m.Stdout, "%s\n", b)
	return err
}

func parseQueueIDs(args []string) ([]int64, error) {
	var ids []int64
	for _, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("%q is not a queue id (a number from `resguardo queue list`)", a)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func runQueueShow(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("queue show", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	ids, err := parseQueueIDs(pos)
	if err != nil || len(ids) != 1 {
		if err == nil {
			err = errors.New("usage: resguardo queue show ID [--json]")
		}
		return &exitError{code: 2, err: err}
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	list, err := a.Cat.ListOutbound(ctx, catalog.OutboundFilter{IDs: ids})
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return &exitError{code: 1, err: fmt.Errorf("queue show: no queue entry %d", ids[0])}
	}
	o := list[0]
	out := queueShow{queueEntry: toQueueEntry(o), Prefix: string(o.Prefix), Deliveries: []queueDelivery{}}
	ds, err := a.Cat.Deliveries(ctx, o.RecordSeq, 0)
	if err != nil {
		return err
	}
	for _, d := range ds {
		var det archive.DeliveryDetail
		if json.Unmarshal(d.Detail, &det) != nil || !slices.Contains(det.Recipients, o.Rcpt) {
			continue
		}
		out.Deliveries = append(out.Deliveries, queueDelivery{LedgerIndex: d.LedgerIndex, Detail: det, Entry: d.Entry})
	}
	if *jsonOut {
		return writeJSON(m, out)
	}
	q := out.queueEntry
	fmt.Fprintf(m.Stdout, "%d  %s  %s\n%s → %s (%s %s)\n%s: %s  %d\n", q.ID, q.State, q.Record, orNull(q.MailFrom), q.Rcpt, q.Route, q.Domain,
		m.P.T("queue.created"), q.CreatedAt, q.Attempts)
	if q.LastError != "" {
		fmt.Fprintf(m.Stdout, "%s: %s\n", m.P.T("queue.last_error"), q.LastError)
	}
	for _, d := range out.Deliveries {
		tlsText := m.P.T("queue.no_tls")
		if t := d.Detail.TLS; t != nil {
			tlsText = t.Version + " " + t.Cipher
			if t.Verified {
				tlsText += " ✓"
			}
		}
		fmt.Fprintf(m.Stdout, "%s %s: %s [%s]:%d, %s, %q (ledger %d)\n", m.P.T("queue.delivered"), d.Detail.Time, d.Detail.RemoteHost,
			d.Detail.RemoteIP, d.Detail.RemotePort, tlsText, d.Detail.Reply, d.LedgerIndex)
	}
	return nil
}

// runQueueMove is retry (due now: queued, deferred, or with --failed also
// failed entries), hold (queued/deferred → held) and release (held → queued).
// Each is an administrative act: an access entry in the ledger names who did it.
func runQueueMove(ctx context.Context, m *Main, verb string, args []string) error {
	fs := flag.NewFlagSet("queue "+verb, flag.ContinueOnError)
	all := fs.Bool("all", false, "every entry in a state the command applies to")
	failed := fs.Bool("failed", false, "retry: also failed entries (their sender already had a DSN)")
	reason := fs.String("reason", "", "why (kept in the access log)")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	ids, err := parseQueueIDs(pos)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if (len(ids) == 0) == !*all {
		return &exitError{code: 2, err: fmt.Errorf("queue %s: name queue ids or --all, not both", verb)}
	}
	var from []string
	to := catalog.OutQueued
	switch verb {
	case "retry":
		from = []string{catalog.OutQueued, catalog.OutDeferred}
		if *failed {
			from = append(from, catalog.OutFailed)
		}
	case "hold":
		from, to = []string{catalog.OutQueued, catalog.OutDeferred}, catalog.OutHeld
	case "release":
		from = []string{catalog.OutHeld}
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	if *all {
		list, err := a.Cat.ListOutbound(ctx, catalog.OutboundFilter{States: from, Limit: 1 << 30})
		if err != nil {
			return err
		}
		for _, o := range list {
			ids = append(ids, o.ID)
		}
	}
	entries, err := a.Cat.ListOutbound(ctx, catalog.OutboundFilter{IDs: ids, Limit: len(ids) + 1})
	if err != nil {
		return err
	}
	if !*all && len(entries) != len(ids) {
		return &exitError{code: 1, err: fmt.Errorf("queue %s: some ids are not in the queue", verb)}
	}
	var records []string
	for _, o := range entries {
		if !slices.Contains(records, o.SHA256) {
			records = append(records, o.SHA256)
		}
	}
	n, err := a.Cat.SetOutboundState(ctx, ids, from, to, nowUTC())
	if err != nil {
		return err
	}
	if n > 0 {
		if _, err := a.LogAccess(ctx, archive.AccessDetail{Actor: actor(), Action: "queue_" + verb, Results: n,
			Records: records, Justification: *reason}); err != nil {
			return err
		}
	}
	fmt.Fprintln(m.Stdout, m.P.T("queue.moved", n, to))
	if n == 0 && len(ids) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("queue %s: no entry was in state %s", verb, strings.Join(from, " or "))}
	}
	return nil
}

// runQuarantineRelease queues a quarantined record for delivery to the
// recipients of the arrival that was quarantined, as the relay would have
// (next hop, Authentication-Results), and unmarks it; --reason is required and
// kept in the access log, whose entry is in the ledger.
func runQuarantineRelease(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("quarantine release", flag.ContinueOnError)
	reason := fs.String("reason", "", "why the message is released (required; kept in the access log)")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(*reason) == "" {
		return &exitError{code: 2, err: errors.New("usage: resguardo quarantine release ID --reason TEXT")}
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.Cat.Lookup(ctx, pos[0])
	if err != nil {
		return lookupError(err)
	}
	if !r.Quarantined {
		return &exitError{code: 1, err: fmt.Errorf("quarantine release: %s is not in quarantine", r.SHA256)}
	}
	recps, err := a.Cat.Receptions(ctx, r.Seq)
	if err != nil {
		return err
	}
	var env *intake.Envelope
	for _, rc := range recps {
		var e intake.Envelope
		if json.Unmarshal([]byte(rc.Envelope), &e) == nil && e.Format == intake.EnvelopeFormat && e.Verdict.Action == intake.ActionQuarantine {
			env = &e
		}
	}
	if env == nil {
		return &exitError{code: 1, err: fmt.Errorf("quarantine release: %s has no quarantined gateway arrival", r.SHA256)}
	}
	data, err := a.Bytes(ctx, r)
	if err != nil {
		return err
	}
	rcfg, err := relayConfig(m, gatewayHost(m.Config.Gateway))
	if err != nil {
		return err
	}
	rcfg.Now = nowUTC
	planner, err := relay.New(rcfg, nil, nil)
	if err != nil {
		return err
	}
	released := *env
	released.Verdict.Action = intake.ActionAccept
	out, err := planner.Plan(&released, data)
	if err != nil {
		return err
	}
	if len(out) == 0 {
		return &exitError{code: 1, err: fmt.Errorf("quarantine release: no route for %s: configure gateway.relay.next_hop (and pass --config, the one serve runs with)", strings.Join(released.RcptTo, ", "))}
	}
	ok, err := a.Cat.ReleaseQuarantine(ctx, r.Seq, out)
	if err != nil {
		return err
	}
	if !ok {
		return &exitError{code: 1, err: fmt.Errorf("quarantine release: %s is not in quarantine", r.SHA256)}
	}
	if _, err := a.LogAccess(ctx, archive.AccessDetail{Actor: actor(), Action: "quarantine_release", Results: int64(len(out)),
		Records: []string{r.SHA256}, Justification: *reason}); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, m.P.T("quarantine.released", r.SHA256, len(out)))
	return nil
}
