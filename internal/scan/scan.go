// Package scan runs antivirus engines on messages: every enabled engine at the same
// time, each with its own timeout, and one result per engine (name, version where
// the protocol gives it, verdict, threat name, time taken) kept in the record.
//
// This is the first part of issue 6: the Engine interface, the clamd adapter
// (INSTREAM, written here: there is no maintained Go clamd client, and the protocol
// is a few lines) and the orchestrator. ICAP and command-line engines, engine health
// and the gateway's check come next and plug into the same interface.
package scan

import (
	"context"
	"errors"
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

// Scanner runs engines in parallel.
type Scanner struct {
	Engines []Engine
	// Timeout bounds each engine's scan (default 30 s).
	Timeout time.Duration
}

// ErrTimeout is an engine that did not answer in time.
var ErrTimeout = errors.New("scan: engine timed out")

// Scan runs every engine on data at the same time and returns their results in
// engine order. The total time is that of the slowest engine, not the sum.
func (s *Scanner) Scan(ctx context.Context, data []byte) []Result {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	out := make([]Result, len(s.Engines))
	var wg sync.WaitGroup
	for i, e := range s.Engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			ectx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			done := make(chan struct{})
			var r Result
			var err error
			go func() {
				defer close(done)
				r, err = e.Scan(ectx, data)
			}()
			select {
			case <-done:
			case <-ectx.Done():
				err = ErrTimeout // an engine that ignores ctx is abandoned, not waited for
			}
			if err != nil {
				r = Result{Verdict: Error, Detail: err.Error()}
			} else if r.Verdict != Clean && r.Verdict != Infected {
				r = Result{Verdict: Error, Detail: "engine gave no verdict"}
			}
			r.Engine = e.Name()
			r.TookMS = float64(time.Since(start).Microseconds()) / 1000
			out[i] = r
		}()
	}
	wg.Wait()
	return out
}
