package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/mailauth"
	"github.com/resguardo/resguardo/internal/smtpgw"
)

// Archiver takes items for the archive; *archive.Ingester is one. Add
// queues the item; its Done channel later receives the result.
type Archiver interface {
	Add(ctx context.Context, it *archive.Item) error
}

// Options configure a Pipeline.
type Options struct {
	// Archive receives accepted and quarantined messages (required).
	Archive Archiver
	// Checks run, concurrently, for every message whose channel policy
	// does not skip them; their results are kept in check order.
	Checks []Check
	// Policies per channel; a missing channel gets DefaultPolicy.
	Policies map[smtpgw.Channel]Policy
	// AuthServID is the authserv-id of the Authentication-Results field
	// (the gateway's host name).
	AuthServID string
	// Logger gets one line per message. Default: discard.
	Logger *slog.Logger
	// Router plans the relayed copies of accepted messages (nil: archive
	// only). Its queue entries are committed with the record, before 250.
	Router Router
	// Observer, when set, counts every message's final answer (metrics).
	Observer interface{ Verdict(channel, verdict string) }
}

// Router decides where an accepted message goes next (internal/relay).
type Router interface {
	// Plan returns the outbound queue entries for a message with its reception
	// envelope; none when it is not relayed (journal, quarantine). An error
	// answers 451: the message is neither archived nor queued.
	Plan(e *Envelope, data []byte) ([]catalog.Outbound, error)
	// Accepted tells the delivery loop that the message with this SHA-256
	// (hex) was archived with queue entries; data are its archived bytes.
	Accepted(sha256 string, data []byte)
}

// Stats count what the pipeline did since it started.
type Stats struct {
	Accepted, Quarantined, Rejected, TempFailed, ArchiveErrors int64
}

// Pipeline is the smtpgw.Deliverer of every channel. It is safe for
// concurrent use by all sessions.
type Pipeline struct {
	o     Options
	log   *slog.Logger
	stats struct {
		accepted, quarantined, rejected, tempfailed, archiveErrors atomic.Int64
	}
}

// New returns a Pipeline.
func New(o Options) (*Pipeline, error) {
	if o.Archive == nil {
		return nil, errors.New("intake: no archive")
	}
	names := map[string]bool{}
	for _, c := range o.Checks {
		if names[c.Name()] {
			return nil, fmt.Errorf("intake: two checks named %q", c.Name())
		}
		names[c.Name()] = true
	}
	p := &Pipeline{o: o, log: o.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// Stats returns the counters.
func (p *Pipeline) Stats() Stats {
	return Stats{Accepted: p.stats.accepted.Load(), Quarantined: p.stats.quarantined.Load(), Rejected: p.stats.rejected.Load(),
		TempFailed: p.stats.tempfailed.Load(), ArchiveErrors: p.stats.archiveErrors.Load()}
}

func (p *Pipeline) policy(ch smtpgw.Channel) Policy {
	if pol, ok := p.o.Policies[ch]; ok {
		return pol
	}
	return DefaultPolicy(ch)
}

// Evaluate runs the checks for m under its channel's policy and returns the
// verdict and the check records.
func (p *Pipeline) Evaluate(ctx context.Context, m *Message) (Verdict, []CheckRecord, *mailauth.Result) {
	pol := p.policy(m.Env.Channel)
	type ran struct {
		check Check
		out   Outcome
	}
	var runs []*ran
	for _, c := range p.o.Checks {
		if !pol.skips(c.Name()) {
			runs = append(runs, &ran{check: c})
		}
	}
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					p.log.Error("check panic", "check", r.check.Name(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
					r.out = Outcome{Err: fmt.Errorf("panic: %v", v)}
				}
			}()
			r.out = r.check.Run(ctx, m)
		})
	}
	wg.Wait()

	v := Verdict{Action: ActionAccept}
	strongest := ActionAccept
	records := make([]CheckRecord, 0, len(runs))
	var auth *mailauth.Result
	for _, r := range runs {
		rec := CheckRecord{Name: r.check.Name()}
		findings := r.out.Findings
		if r.out.Err != nil {
			rec.Error = r.out.Err.Error()
			findings = append(findings, Finding{Code: CodeCheckError, Action: ActionTempFail, Text: r.check.Name() + ": " + r.out.Err.Error()})
		}
		for _, f := range findings {
			applied := pol.apply(f)
			reason := Reason{Check: r.check.Name(), Code: f.Code, Suggested: f.Action, Applied: applied, Text: f.Text}
			rec.Findings = append(rec.Findings, reason)
			if applied != ActionAccept || f.Action != ActionAccept {
				v.Reasons = append(v.Reasons, reason)
			}
			if applied.Rank() > strongest.Rank() {
				strongest = applied
			}
			if applied == ActionTag {
				v.Tagged = true
			}
		}
		if r.out.Detail != nil {
			if b, err := json.Marshal(r.out.Detail); err == nil {
				rec.Detail = b
			}
			if ar, ok := r.out.Detail.(mailauth.Result); ok {
				auth = &ar
			}
		}
		records = append(records, rec)
	}
	if strongest != ActionTag {
		v.Action = strongest
	}
	return v, records, auth
}

// Deliver implements smtpgw.Deliverer.
func (p *Pipeline) Deliver(ctx context.Context, env smtpgw.Envelope, data []byte) smtpgw.Reply {
	m := &Message{Env: env, Data: data}
	v, records, auth := p.Evaluate(ctx, m)
	log := p.log.With("session", env.SessionID, "channel", string(env.Channel), "client", env.ClientAddr.Addr().String(),
		"mail_from", env.MailFrom, "rcpts", len(env.Recipients), "size", len(data), "verdict", string(v.Action))
	for _, r := range v.Reasons {
		log = log.With("reason."+r.Code, string(r.Applied))
	}
	switch v.Action {
	case ActionReject:
		p.observe(env, "reject")
		p.stats.rejected.Add(1)
		log.Info("message rejected; not archived")
		return smtpgw.Reject(550, [3]int{5, 7, 1}, "Message rejected by policy")
	case ActionTempFail:
		p.observe(env, "tempfail")
		p.stats.tempfailed.Add(1)
		log.Info("message deferred by a check; not archived")
		return smtpgw.TempFail()
	}

	var err error
	e := envelopeOf(env)
	e.Verdict = v
	e.Checks = records
	if auth != nil {
		e.AuthenticationResults = mailauth.AuthenticationResults(p.o.AuthServID, *auth)
	}
	var outbound []catalog.Outbound
	if p.o.Router != nil {
		if outbound, err = p.o.Router.Plan(&e, data); err != nil {
			log.Error("relay plan failed; answered 451", "err", err)
			p.stats.tempfailed.Add(1)
			return smtpgw.TempFail()
		}
	}
	envJSON, err := json.Marshal(e)
	if err != nil { // cannot happen with these types
		log.Error("envelope", "err", err)
		p.stats.tempfailed.Add(1)
		return smtpgw.TempFail()
	}
	res, err := p.archive(ctx, env, data, string(envJSON), v.Action == ActionQuarantine, outbound)
	if err != nil {
		p.stats.archiveErrors.Add(1)
		p.stats.tempfailed.Add(1)
		p.observe(env, "archive_error")
		log.Warn("not archived; answered 451", "err", err)
		return smtpgw.TempFail()
	}
	if v.Action == ActionQuarantine {
		p.stats.quarantined.Add(1)
	} else {
		p.stats.accepted.Add(1)
	}
	p.observe(env, string(v.Action))
	log.Info("message archived", "sha256", res.SHA256, "status", res.Status.String(), "ledger_index", res.LedgerIndex, "queued", len(outbound))
	if len(outbound) > 0 {
		p.o.Router.Accepted(res.SHA256, data)
	}
	return smtpgw.Accepted()
}

func (p *Pipeline) observe(env smtpgw.Envelope, verdict string) {
	if p.o.Observer != nil {
		p.o.Observer.Verdict(string(env.Channel), verdict)
	}
}

// archive hands data to the archive and waits until it is durable.
func (p *Pipeline) archive(ctx context.Context, env smtpgw.Envelope, data []byte, envJSON string, quarantine bool, outbound []catalog.Outbound) (archive.Result, error) {
	done := make(chan archive.Result, 1) // buffered: the committer never blocks on a gone session
	it := &archive.Item{Data: data, Channel: string(env.Channel), Source: sourceOf(env), Envelope: envJSON,
		ReceivedAt: env.Received, Done: done, Quarantine: quarantine, Outbound: outbound}
	if err := p.o.Archive.Add(ctx, it); err != nil {
		return archive.Result{}, fmt.Errorf("archive: %w", err)
	}
	select {
	case res := <-done:
		switch res.Status {
		case archive.Archived, archive.Duplicate:
			return res, nil
		}
		if res.Err == nil {
			res.Err = errors.New("archive failed")
		}
		return res, res.Err
	case <-ctx.Done():
		return archive.Result{}, fmt.Errorf("waiting for the archive: %w", ctx.Err())
	}
}

// sourceOf is the reception's source: listener, session and client.
func sourceOf(env smtpgw.Envelope) string {
	s := "smtp:" + env.Listener
	if env.ClientAddr.IsValid() {
		s += ":" + env.ClientAddr.String()
	}
	if env.SessionID != "" {
		s += ":" + env.SessionID
	}
	return s
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
