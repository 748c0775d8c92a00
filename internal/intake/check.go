package intake

import (
	"context"

	"github.com/resguardo/resguardo/internal/smtpgw"
)

// Check is one step of the check chain: authentication (AuthCheck), and
// later antivirus and antispam engines. Checks of one message run
// concurrently; Run must be safe for concurrent use and must respect ctx.
type Check interface {
	// Name identifies the check in policies, reasons and records
	// ("auth", "clamav", ...). It must be stable: it is stored.
	Name() string
	// Run examines the message. Failures of the check itself are reported
	// as Outcome.Err (they become a "check_error" finding), never panics.
	Run(ctx context.Context, m *Message) Outcome
}

// Message is what checks see: the gateway's envelope and the bytes as
// received (read-only: checks must not modify Data).
type Message struct {
	Env  smtpgw.Envelope
	Data []byte
}

// Outcome is what one check found.
type Outcome struct {
	// Findings are what deserves an action; none means accept.
	Findings []Finding
	// Detail is kept in the record as JSON (e.g. mailauth.Result).
	Detail any
	// Err is set when the check could not run (engine down, timeout).
	Err error
}

// Finding is one fact a check reports, with the action it suggests; the
// channel's Policy may override it by Code.
type Finding struct {
	// Code names the kind of finding, unique across checks, lower case
	// with underscores ("dmarc_reject", "dnsbl", "virus").
	Code   string
	Action Action
	// Text explains it for the record and the log (not sent to clients).
	Text string
}

// CodeCheckError is the finding code of a check that could not run; its
// default action is tempfail.
const CodeCheckError = "check_error"

// Policy is what a channel does with the checks.
type Policy struct {
	// Skip names checks that do not run on this channel.
	Skip []string
	// Actions overrides the suggested action of a finding code.
	Actions map[string]Action
	// MaxAction caps every applied action (journal: ActionTag). Empty
	// means ActionReject (no cap).
	MaxAction Action
}

func (p Policy) skips(name string) bool {
	for _, s := range p.Skip {
		if s == name {
			return true
		}
	}
	return false
}

// apply returns the action the policy applies to f.
func (p Policy) apply(f Finding) Action {
	a := f.Action
	if o, ok := p.Actions[f.Code]; ok {
		a = o
	}
	if !a.Valid() {
		a = ActionTempFail
	}
	max := p.MaxAction
	if max == "" {
		max = ActionReject
	}
	if a.Rank() > max.Rank() {
		a = max
	}
	return a
}

// DefaultPolicy is a channel's policy when none is configured: MX runs
// every check with the suggested actions; submission skips the
// authentication check (the user authenticated; SPF and DMARC would judge
// the user's own network); journal marks only.
func DefaultPolicy(ch smtpgw.Channel) Policy {
	switch ch {
	case smtpgw.ChannelSubmission:
		return Policy{Skip: []string{AuthCheckName}, MaxAction: ActionReject}
	case smtpgw.ChannelJournal:
		return Policy{MaxAction: ActionTag}
	}
	return Policy{MaxAction: ActionReject}
}
