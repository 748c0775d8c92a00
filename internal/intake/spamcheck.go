package intake

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/spam"
)

// SpamCheckName is the antispam check's name in policies and records.
const SpamCheckName = "antispam"

// Finding codes of SpamCheck.
const (
	CodeSpamTag        = "spam_tag"        // a score reached an engine's tag threshold: the relayed copy says X-Spam-Flag: YES
	CodeSpamQuarantine = "spam_quarantine" // a score reached an engine's quarantine threshold
	CodeSpamReject     = "spam_reject"     // a score reached an engine's reject threshold (none by default)
	CodeSpamError      = "spam_error"      // an engine failed: accept and flag
)

// SpamCodes are the finding codes of SpamCheck with their default actions.
var SpamCodes = map[string]Action{
	CodeSpamTag:        ActionTag,
	CodeSpamQuarantine: ActionQuarantine,
	CodeSpamReject:     ActionReject,
	CodeSpamError:      ActionTag,
}

// SpamEngine is one antispam engine with its thresholds on its own scale
// (spam.Result.Score); a zero threshold is off.
type SpamEngine struct {
	Name                    string
	Classifier              spam.Classifier
	Tag, Quarantine, Reject float64
}

// SpamResult is one engine's result as kept in the record.
type SpamResult struct {
	spam.Result
	Action Action `json:"action,omitempty"` // the threshold reached: tag, quarantine, reject
	Error  string `json:"error,omitempty"`
}

// SpamCheck scores the message with every antispam engine at once; each engine's
// score is compared with its own thresholds. The built-in classifier gives no
// finding while it is not trained enough (its result then lists BAYES_UNTRAINED).
type SpamCheck struct {
	Engines []SpamEngine
	Timeout time.Duration // per engine (default 20 s)
	// Observe, when set, sees each engine's score and verdict ("spam", "ham",
	// "error") (metrics).
	Observe func(engine string, score float64, verdict string)
}

// Name is SpamCheckName.
func (SpamCheck) Name() string { return SpamCheckName }

// Hints are what the antispam engines get besides the message: the envelope.
// (The authentication results are not among them: the checks run at the same
// time. Training uses the same hints, so the built-in model stays consistent.)
func SpamHints(e *Envelope) spam.Hints {
	return spam.Hints{Envelope: spam.Envelope{MailFrom: e.MailFrom, Rcpt: e.RcptTo, IP: e.ClientIP, Helo: e.HELO, User: e.AuthUser}}
}

// Run scores m.Data.
func (c SpamCheck) Run(ctx context.Context, m *Message) Outcome {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	e := envelopeOf(m.Env)
	hints := SpamHints(&e)
	res := make([]SpamResult, len(c.Engines))
	var wg sync.WaitGroup
	for i, eng := range c.Engines {
		wg.Go(func() {
			ectx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			r, err := eng.Classifier.Score(ectx, m.Data, hints)
			r.Engine = eng.Name
			if err != nil {
				res[i] = SpamResult{Result: spam.Result{Engine: eng.Name, TookMS: float64(time.Since(start).Microseconds()) / 1000}, Error: err.Error()}
				return
			}
			sr := SpamResult{Result: r}
			if !slices.Contains(r.Symbols, "BAYES_UNTRAINED") {
				switch {
				case eng.Reject > 0 && r.Score >= eng.Reject:
					sr.Action = ActionReject
				case eng.Quarantine > 0 && r.Score >= eng.Quarantine:
					sr.Action = ActionQuarantine
				case eng.Tag > 0 && r.Score >= eng.Tag:
					sr.Action = ActionTag
				}
			}
			res[i] = sr
		})
	}
	wg.Wait()
	var out Outcome
	out.Detail = res
	for _, r := range res {
		score := strconv.FormatFloat(r.Score, 'f', 3, 64)
		verdict := "ham"
		switch {
		case r.Error != "":
			verdict = "error"
			out.Findings = append(out.Findings, Finding{Code: CodeSpamError, Action: SpamCodes[CodeSpamError], Text: r.Engine + ": " + r.Error})
		case r.Action != "":
			verdict = "spam"
			code := map[Action]string{ActionTag: CodeSpamTag, ActionQuarantine: CodeSpamQuarantine, ActionReject: CodeSpamReject}[r.Action]
			out.Findings = append(out.Findings, Finding{Code: code, Action: SpamCodes[code], Text: fmt.Sprintf("%s: score %s", r.Engine, score)})
		}
		if c.Observe != nil {
			c.Observe(r.Engine, r.Score, verdict)
		}
	}
	return out
}
