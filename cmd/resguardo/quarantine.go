package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/intake"
	"github.com/resguardo/resguardo/internal/ledger"
)

// quarantineShow is `resguardo quarantine show ID --json`.
type quarantineShow struct {
	ID          string              `json:"id"`
	From        string              `json:"from"`
	Subject     string              `json:"subject"`
	Quarantined bool                `json:"quarantined"`
	Arrivals    []quarantineArrival `json:"arrivals"`
}

type quarantineArrival struct {
	Channel  string          `json:"channel"`
	At       string          `json:"at"`
	Source   string          `json:"source"`
	ClientIP string          `json:"client_ip,omitempty"`
	MailFrom string          `json:"mail_from,omitempty"`
	RcptTo   []string        `json:"rcpt_to,omitempty"`
	Verdict  *intake.Verdict `json:"verdict,omitempty"` // absent for arrivals without one (import)
}

// runQuarantine: mail a gateway policy quarantined is archived (it reached the
// institution: it is a record) and marked; these commands find it and say why.
// `quarantine release` queues it for delivery (queue.go).
func runQuarantine(ctx context.Context, m *Main, args []string) error {
	sub, rest := subcommand(args)
	switch sub {
	case "list":
		return runList(ctx, m, append([]string{"--quarantined"}, rest...))
	case "show":
		return runQuarantineShow(ctx, m, rest)
	case "release":
		return runQuarantineRelease(ctx, m, rest)
	case "spam", "ham":
		return runQuarantineFeedback(ctx, m, sub, rest)
	}
	return &exitError{code: 2, err: errors.New("usage: resguardo quarantine list [list flags] | quarantine show ID [--json] | quarantine release ID --reason TEXT | quarantine spam|ham ID")}
}

func runQuarantineShow(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("quarantine show", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: resguardo quarantine show ID [--json]")}
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
	recps, err := a.Cat.Receptions(ctx, r.Seq)
	if err != nil {
		return err
	}
	out := quarantineShow{ID: r.SHA256, From: r.FromAddr, Subject: r.Subject, Quarantined: r.Quarantined, Arrivals: []quarantineArrival{}}
	for _, rc := range recps {
		qa := quarantineArrival{Channel: rc.Channel, At: ledger.FormatTime(rc.At), Source: rc.Source}
		var e intake.Envelope
		if json.Unmarshal([]byte(rc.Envelope), &e) == nil && e.Format == intake.EnvelopeFormat {
			v := e.Verdict
			qa.Verdict, qa.ClientIP, qa.MailFrom, qa.RcptTo = &v, e.ClientIP, e.MailFrom, e.RcptTo
		}
		out.Arrivals = append(out.Arrivals, qa)
	}
	if *jsonOut {
		return writeJSON(m, out)
	}
	state := m.P.T("quarantine.in")
	if !out.Quarantined {
		state = m.P.T("quarantine.not_in")
	}
	fmt.Fprintf(m.Stdout, "%s  %s\n%s\n%s\n", out.ID, state, out.From, out.Subject)
	for _, qa := range out.Arrivals {
		at, _ := time.Parse(time.RFC3339Nano, qa.At)
		fmt.Fprintf(m.Stdout, "- %s  %s  %s  %s → %s\n", at.Format("2006-01-02 15:04:05Z07:00"), qa.Channel, qa.ClientIP, qa.MailFrom, strings.Join(qa.RcptTo, ", "))
		if qa.Verdict == nil {
			continue
		}
		fmt.Fprintf(m.Stdout, "  %s: %s\n", m.P.T("quarantine.verdict"), qa.Verdict.Action)
		for _, rs := range qa.Verdict.Reasons {
			fmt.Fprintf(m.Stdout, "    %s/%s → %s %s\n", rs.Check, rs.Code, rs.Applied, rs.Text)
		}
	}
	return nil
}
