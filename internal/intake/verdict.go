package intake

import (
	"fmt"
)

// Action is what a check suggests, or a policy applies, for a finding.
type Action string

// Actions, weakest first (see Rank).
const (
	// ActionAccept: nothing to do.
	ActionAccept Action = "accept"
	// ActionTag: accept, but mark the record (Verdict.Tagged).
	ActionTag Action = "tag"
	// ActionQuarantine: archive and mark quarantined; not delivered.
	ActionQuarantine Action = "quarantine"
	// ActionTempFail: answer 451 and do not archive; the client retries.
	ActionTempFail Action = "tempfail"
	// ActionReject: answer 550 and do not archive.
	ActionReject Action = "reject"
)

// Actions lists every action, weakest first.
var Actions = []Action{ActionAccept, ActionTag, ActionQuarantine, ActionTempFail, ActionReject}

// Rank orders actions: accept < tag < quarantine < tempfail < reject. A
// reject wins over a tempfail because it is definitive. Unknown actions
// rank -1.
func (a Action) Rank() int {
	for i, b := range Actions {
		if a == b {
			return i
		}
	}
	return -1
}

// Valid reports whether a is one of Actions.
func (a Action) Valid() bool { return a.Rank() >= 0 }

// ParseAction parses an action name.
func ParseAction(s string) (Action, error) {
	a := Action(s)
	if !a.Valid() {
		return "", fmt.Errorf("want accept, tag, quarantine, tempfail or reject, got %q", s)
	}
	return a, nil
}

// Verdict is the single decision about a message.
type Verdict struct {
	// Action is accept, quarantine, reject or tempfail (never tag).
	Action Action `json:"action"`
	// Tagged is set when some finding was applied as tag (or as something
	// stronger capped by the channel).
	Tagged bool `json:"tagged,omitempty"`
	// Reasons are the findings that were not plain accepts, in check order.
	Reasons []Reason `json:"reasons,omitempty"`
}

// Quarantined reports whether the message is archived as quarantined.
func (v Verdict) Quarantined() bool { return v.Action == ActionQuarantine }

// Reason is one finding and what the channel's policy made of it.
type Reason struct {
	Check     string `json:"check"`
	Code      string `json:"code"`
	Suggested Action `json:"suggested"`
	Applied   Action `json:"applied"`
	Text      string `json:"text,omitempty"`
}
