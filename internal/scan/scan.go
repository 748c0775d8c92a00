// Package scan runs antivirus engines on messages: every enabled engine at the same
// time, each with its own timeout, and one result per engine (name, version where
// the protocol gives it, verdict, threat name, time taken) kept in the record.
//
// Engines (issue 6):
//   - Clamd: clamd's INSTREAM protocol, written here (there is no maintained Go
//     clamd client, and the protocol is a few lines).
//   - ICAP: an RFC 3507 client (OPTIONS, RESPMOD or REQMOD with preview and
//     204) for ICAP antivirus services. It is written here too: no Go ICAP
//     library is served, and the client side of the protocol is small. Tested
//     against c-icap's virus_scan over clamd and an in-test responder.
//   - Command: any command-line scanner (YARA, clamscan, a vendor's CLI).
//
// Scanner runs the engines in parallel. An engine failure (timeout, refused
// connection, garbage, an answer that is not understood) is an Error result,
// never Clean. Scanner also keeps each engine's health: after DownAfter
// consecutive errors an engine is marked down and not contacted for a backoff
// (30 s, doubling up to 5 min); then one scan is let through as a probe, and a
// success marks it up again. States reports this for `resguardo engines` and
// metrics. MaxConcurrent bounds the simultaneous scans per engine.
//
// ScanMessage scans the whole message and, separately, each decoded attachment
// (Parts): an engine that only matches file content finds a virus inside a
// base64 attachment. It gives one result per engine.
package scan

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Verdict is what an engine says about the data.
type Verdict string

// Verdicts. An engine that fails (timeout, refused connection, garbage) gives
// Error, never Clean.
const (
	Clean    Verdict = "clean"
	Infected Verdict = "infected"
	Error    Verdict = "error"
)

// Result is one engine's answer, as kept in the record.
type Result struct {
	Engine  string  `json:"engine"`
	Version string  `json:"version,omitempty"` // engine and signature version, when the protocol says
	Verdict Verdict `json:"verdict"`
	Threat  string  `json:"threat,omitempty"` // the engine's name for what it found
	Detail  string  `json:"detail,omitempty"` // why an engine failed
	TookMS  float64 `json:"took_ms"`
}

// Engine scans data.
type Engine interface {
	Name() string
	// Scan returns Clean or Infected, or an error (the orchestrator records it as
	// Error). It must honour ctx's deadline.
	Scan(ctx context.Context, data []byte) (Result, error)
}

// Defaults of the Scanner's health and timeout settings.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultDownAfter  = 3
	DefaultBackoff    = 30 * time.Second
	DefaultMaxBackoff = 5 * time.Minute
)

// Scanner runs engines in parallel and keeps their health. Use it through a
// pointer, and keep one Scanner for the life of the process: the health of its
// engines is kept in it, by position in Engines.
type Scanner struct {
	Engines []Engine
	// Timeout bounds each engine's scan (default 30 s), waiting for a free slot
	// included. For ScanMessage it bounds all the parts of one engine.
	Timeout time.Duration

	// DownAfter consecutive errors mark an engine down (default 3; negative:
	// never). While down, the engine is not contacted and its result is an Error
	// "engine down since ...".
	DownAfter int
	// Backoff is how long an engine stays down before a probe scan is let
	// through (default 30 s); each failed probe doubles it, up to MaxBackoff
	// (default 5 min). A success marks the engine up and resets it.
	Backoff    time.Duration
	MaxBackoff time.Duration

	// MaxConcurrent bounds the scans one engine runs at once (default 0:
	// unlimited); EngineMaxConcurrent overrides it by engine name. A scan waits
	// for a free slot, and the wait counts against Timeout. Each part of a
	// ScanMessage takes a slot.
	MaxConcurrent       int
	EngineMaxConcurrent map[string]int

	// Now is the clock of engine health (default time.Now); tests inject theirs.
	Now func() time.Time

	mu     sync.Mutex
	health []*engineHealth // by position in Engines
}

// ErrTimeout is an engine that did not answer in time.
var ErrTimeout = errors.New("scan: engine timed out")

// EngineState is what Scanner knows about one engine's health.
type EngineState struct {
	Engine string `json:"engine"`
	Up     bool   `json:"up"`
	// Since is when the engine was marked down, or up again (or first used).
	Since time.Time `json:"since"`
	// RetryAt, while down, is when the next scan is let through as a probe.
	RetryAt             time.Time `json:"retry_at,omitzero"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	LastError           string    `json:"last_error,omitempty"`
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
	LastScanAt          time.Time `json:"last_scan_at,omitzero"`
	LastLatencyMS       float64   `json:"last_latency_ms"` // of the last scan that reached the engine
	InFlight            int       `json:"in_flight"`       // scans running or waiting for a slot now
	MaxConcurrent       int       `json:"max_concurrent"`  // 0: unlimited
	Scans               uint64    `json:"scans"`           // scans that reached the engine (a ScanMessage counts once)
	Errors              uint64    `json:"errors"`          // of which failed
	Refused             uint64    `json:"refused"`         // scans answered "engine down" without contacting it
}

// engineHealth is the state behind EngineState; guarded by Scanner.mu.
type engineHealth struct {
	EngineState
	probing bool          // a probe scan is running
	backoff time.Duration // current backoff while down
	slots   chan struct{} // nil: unlimited
}

func (s *Scanner) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scanner) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// entry returns the health of Engines[i], created on first use; s.mu is held.
func (s *Scanner) entry(i int, e Engine) *engineHealth {
	for len(s.health) < len(s.Engines) {
		s.health = append(s.health, nil)
	}
	name := e.Name()
	h := s.health[i]
	if h == nil || h.Engine != name { // a new engine, or another one at this position
		limit := s.MaxConcurrent
		if n, ok := s.EngineMaxConcurrent[name]; ok {
			limit = n
		}
		h = &engineHealth{EngineState: EngineState{Engine: name, Up: true, Since: s.now()}}
		if limit > 0 {
			h.MaxConcurrent = limit
			h.slots = make(chan struct{}, limit)
		}
		s.health[i] = h
	}
	return h
}

// States returns the health of every engine, in engine order.
func (s *Scanner) States() []EngineState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]EngineState, len(s.Engines))
	for i, e := range s.Engines {
		out[i] = s.entry(i, e).EngineState
	}
	return out
}

// admit decides whether a scan may reach engine i: it may when the engine is
// up, or when it is down, its backoff has passed and no probe is running (the
// scan is then the probe). Otherwise refuse says why.
func (s *Scanner) admit(i int, e Engine) (h *engineHealth, probe bool, refuse string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h = s.entry(i, e)
	if !h.Up {
		if h.probing || s.now().Before(h.RetryAt) {
			h.Refused++
			return h, false, fmt.Sprintf("engine down since %s after %d consecutive failures (last: %s); next try after %s",
				h.Since.Format(time.RFC3339), h.ConsecutiveFailures, h.LastError, h.RetryAt.Format(time.RFC3339))
		}
		h.probing, probe = true, true
	}
	h.InFlight++
	return h, probe, ""
}

// record updates engine health with the outcome of an admitted scan.
// callerGone is a scan cut short by the caller's own context: it says nothing
// about the engine.
func (s *Scanner) record(h *engineHealth, probe bool, r Result, took time.Duration, callerGone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h.InFlight--
	if probe {
		h.probing = false
	}
	if callerGone && r.Verdict == Error {
		return
	}
	now := s.now()
	h.Scans++
	h.LastScanAt = now
	h.LastLatencyMS = float64(took.Microseconds()) / 1000
	if r.Verdict != Error {
		h.ConsecutiveFailures = 0
		if !h.Up {
			h.Up, h.Since, h.RetryAt, h.backoff = true, now, time.Time{}, 0
		}
		return
	}
	h.Errors++
	h.ConsecutiveFailures++
	h.LastError, h.LastErrorAt = r.Detail, now
	downAfter := s.DownAfter
	if downAfter == 0 {
		downAfter = DefaultDownAfter
	}
	switch {
	case !h.Up && probe: // the probe failed: down for longer
		maxBackoff := s.MaxBackoff
		if maxBackoff <= 0 {
			maxBackoff = DefaultMaxBackoff
		}
		h.backoff = min(2*h.backoff, maxBackoff)
		h.RetryAt = now.Add(h.backoff)
	case h.Up && downAfter > 0 && h.ConsecutiveFailures >= downAfter:
		h.backoff = s.Backoff
		if h.backoff <= 0 {
			h.backoff = DefaultBackoff
		}
		h.Up, h.Since, h.RetryAt = false, now, now.Add(h.backoff)
	}
}

// run is one engine's turn in a scan: admission, timeout, the work, and the
// outcome recorded in the engine's health. work returns the engine's answer.
func (s *Scanner) run(ctx context.Context, i int, e Engine, work func(ctx context.Context, h *engineHealth) (Result, error)) Result {
	start := time.Now()
	h, probe, refuse := s.admit(i, e)
	if refuse != "" {
		return Result{Engine: e.Name(), Verdict: Error, Detail: refuse}
	}
	ectx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	r, err := work(ectx, h)
	if err != nil {
		r = Result{Verdict: Error, Detail: err.Error()}
	} else if r.Verdict != Clean && r.Verdict != Infected {
		r = Result{Verdict: Error, Detail: "engine gave no verdict"}
	}
	took := time.Since(start)
	r.Engine = e.Name()
	r.TookMS = float64(took.Microseconds()) / 1000
	s.record(h, probe, r, took, ctx.Err() != nil)
	return r
}

// scanOnce runs e.Scan on data within ctx, in a free slot of the engine. An
// engine that ignores ctx is abandoned at the deadline, not waited for (its
// slot is freed when it does return); one that panics is an error.
func scanOnce(ctx context.Context, h *engineHealth, e Engine, data []byte) (Result, error) {
	if h.slots != nil {
		select {
		case h.slots <- struct{}{}:
		case <-ctx.Done():
			return Result{}, fmt.Errorf("%w waiting for a free slot (%d scans at once)", ErrTimeout, cap(h.slots))
		}
	}
	done := make(chan struct{})
	var r Result
	var err error
	go func() {
		defer close(done)
		if h.slots != nil {
			defer func() { <-h.slots }()
		}
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("engine panicked: %v", p)
			}
		}()
		r, err = e.Scan(ctx, data)
	}()
	select {
	case <-done:
		return r, err
	case <-ctx.Done():
		return Result{}, ErrTimeout
	}
}

// Scan runs every engine on data at the same time and returns their results in
// engine order. The total time is that of the slowest engine, not the sum.
func (s *Scanner) Scan(ctx context.Context, data []byte) []Result {
	out := make([]Result, len(s.Engines))
	var wg sync.WaitGroup
	for i, e := range s.Engines {
		wg.Go(func() {
			out[i] = s.run(ctx, i, e, func(ctx context.Context, h *engineHealth) (Result, error) {
				return scanOnce(ctx, h, e, data)
			})
		})
	}
	wg.Wait()
	return out
}
