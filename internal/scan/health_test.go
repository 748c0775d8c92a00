package scan_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/scan"
)

// stubEngine is an engine in the test's hands: fn decides each answer; calls,
// running and peak count what reached it.
type stubEngine struct {
	name                 string
	fn                   atomic.Pointer[func(ctx context.Context, data []byte) (scan.Result, error)]
	calls, running, peak atomic.Int64
}

func newStub(name string, fn func(ctx context.Context, data []byte) (scan.Result, error)) *stubEngine {
	e := &stubEngine{name: name}
	e.set(fn)
	return e
}

func (e *stubEngine) set(fn func(ctx context.Context, data []byte) (scan.Result, error)) {
	e.fn.Store(&fn)
}

func (e *stubEngine) Name() string { return e.name }

func (e *stubEngine) Scan(ctx context.Context, data []byte) (scan.Result, error) {
	e.calls.Add(1)
	n := e.running.Add(1)
	defer e.running.Add(-1)
	for {
		p := e.peak.Load()
		if n <= p || e.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return (*e.fn.Load())(ctx, data)
}

func clean(context.Context, []byte) (scan.Result, error) {
	time.Sleep(time.Millisecond)
	return scan.Result{Verdict: scan.Clean}, nil
}

func failing(context.Context, []byte) (scan.Result, error) {
	time.Sleep(time.Millisecond)
	return scan.Result{}, errors.New("connection refused")
}

// fakeClock is the injectable clock of engine health.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestEngineHealth: the state machine of an engine that fails. Three
// consecutive errors mark it down for 30 s, during which it is not contacted;
// then one probe goes through; each failed probe doubles the backoff up to
// 5 min; a success marks it up and resets the count and the backoff.
func TestEngineHealth(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
	e := newStub("motor", failing)
	other := newStub("otro", clean)
	s := &scan.Scanner{Engines: []scan.Engine{e, other}, Timeout: time.Second, Now: clock.Now}
	ctx := context.Background()
	scanOnce := func() scan.Result { return s.Scan(ctx, []byte("hola"))[0] }

	st := s.States()
	if len(st) != 2 || !st[0].Up || st[0].Engine != "motor" || !st[0].Since.Equal(clock.Now()) {
		t.Fatalf("initial state %+v", st)
	}
	for i := 1; i <= 3; i++ {
		if r := scanOnce(); r.Verdict != scan.Error || r.Detail != "connection refused" {
			t.Fatalf("scan %d: %+v", i, r)
		}
		clock.Add(time.Second)
		if up := s.States()[0].Up; up != (i < 3) {
			t.Fatalf("after %d failures: up=%v", i, up)
		}
	}
	downAt := clock.Now().Add(-time.Second)
	st = s.States()
	if st[0].ConsecutiveFailures != 3 || st[0].LastError != "connection refused" || !st[0].Since.Equal(downAt) ||
		!st[0].RetryAt.Equal(downAt.Add(30*time.Second)) || st[0].Scans != 3 || st[0].Errors != 3 || st[0].LastLatencyMS <= 0 {
		t.Fatalf("down state %+v", st[0])
	}
	if !st[1].Up || st[1].Scans != 3 || st[1].Errors != 0 {
		t.Fatalf("the other engine: %+v", st[1])
	}

	// Down: answered at once without contacting the engine.
	// It would work now, but nobody asks it yet: 29 s after going down.
	e.set(clean)
	clock.Add(28 * time.Second)
	start := time.Now()
	r := scanOnce()
	if r.Verdict != scan.Error || !strings.HasPrefix(r.Detail, "engine down since 2026-11-29T09:00:02Z") || e.calls.Load() != 3 || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("while down: %+v, %d calls", r, e.calls.Load())
	}
	if st := s.States()[0]; st.Refused != 1 || st.Scans != 3 {
		t.Fatalf("refused not counted: %+v", st)
	}

	// Backoffs: 30 s, then doubling after each failed probe, at most 5 min.
	e.set(failing)
	clock.Add(time.Second) // 30 s: the probe goes through, and fails
	wantBackoffs := []time.Duration{60 * time.Second, 120 * time.Second, 240 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, b := range wantBackoffs {
		calls := e.calls.Load()
		if r := scanOnce(); r.Verdict != scan.Error || r.Detail != "connection refused" || e.calls.Load() != calls+1 {
			t.Fatalf("probe %d: %+v", i, r)
		}
		st := s.States()[0]
		if st.Up || !st.RetryAt.Equal(clock.Now().Add(b)) || !st.Since.Equal(downAt) {
			t.Fatalf("after failed probe %d: retry in %v, want %v (%+v)", i, st.RetryAt.Sub(clock.Now()), b, st)
		}
		if r := scanOnce(); !strings.HasPrefix(r.Detail, "engine down since") || e.calls.Load() != calls+1 {
			t.Fatalf("after failed probe %d: %+v", i, r)
		}
		clock.Add(b)
	}

	// A successful probe: up again, counters reset.
	e.set(clean)
	if r := scanOnce(); r.Verdict != scan.Clean {
		t.Fatalf("probe: %+v", r)
	}
	st = s.States()
	if !st[0].Up || st[0].ConsecutiveFailures != 0 || !st[0].Since.Equal(clock.Now()) || !st[0].RetryAt.IsZero() {
		t.Fatalf("after a good probe: %+v", st[0])
	}
	// Failures that are not consecutive do not mark it down; the backoff
	// starts again at 30 s.
	for _, fn := range []func(context.Context, []byte) (scan.Result, error){failing, failing, clean, failing, failing} {
		e.set(fn)
		scanOnce()
	}
	if st := s.States()[0]; !st.Up || st.ConsecutiveFailures != 2 {
		t.Fatalf("two, a success, two: %+v", st)
	}
	e.set(failing)
	scanOnce()
	if st := s.States()[0]; st.Up || !st.RetryAt.Equal(clock.Now().Add(30*time.Second)) {
		t.Fatalf("down again: retry in %v", st.RetryAt.Sub(clock.Now()))
	}
}

// TestEngineHealthProbe: while the probe runs, other scans are refused; a scan
// the caller cancels says nothing about the engine; an engine that gives no
// verdict or panics counts as failing; DownAfter < 0 never marks down.
func TestEngineHealthProbe(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
	e := newStub("motor", failing)
	s := &scan.Scanner{Engines: []scan.Engine{e}, Timeout: 5 * time.Second, Now: clock.Now, DownAfter: 2, Backoff: time.Minute}
	ctx := context.Background()
	s.Scan(ctx, nil)
	s.Scan(ctx, nil)
	if s.States()[0].Up {
		t.Fatal("not down after DownAfter=2 failures")
	}
	clock.Add(time.Minute)
	release := make(chan struct{})
	e.set(func(context.Context, []byte) (scan.Result, error) {
		<-release
		return scan.Result{Verdict: scan.Clean}, nil
	})
	probe := make(chan scan.Result)
	go func() { probe <- s.Scan(ctx, nil)[0] }()
	for e.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if r := s.Scan(ctx, nil)[0]; !strings.HasPrefix(r.Detail, "engine down since") {
		t.Fatalf("a second scan during the probe: %+v", r)
	}
	close(release)
	if r := <-probe; r.Verdict != scan.Clean || !s.States()[0].Up {
		t.Fatalf("probe %+v, state %+v", r, s.States()[0])
	}

	// The caller gives up: not the engine's fault.
	e.set(func(ctx context.Context, _ []byte) (scan.Result, error) {
		<-ctx.Done()
		return scan.Result{}, ctx.Err()
	})
	for i := 0; i < 5; i++ {
		cctx, cancel := context.WithCancel(ctx)
		go func() { time.Sleep(5 * time.Millisecond); cancel() }()
		if r := s.Scan(cctx, nil)[0]; r.Verdict != scan.Error {
			t.Fatalf("cancelled scan: %+v", r)
		}
	}
	if st := s.States()[0]; !st.Up || st.ConsecutiveFailures != 0 || st.InFlight != 0 {
		t.Fatalf("after cancelled scans: %+v", st)
	}

	// No verdict, or a panic: errors.
	e.set(func(context.Context, []byte) (scan.Result, error) { return scan.Result{Verdict: "maybe"}, nil })
	if r := s.Scan(ctx, nil)[0]; r.Verdict != scan.Error || r.Detail != "engine gave no verdict" {
		t.Fatalf("no verdict: %+v", r)
	}
	e.set(func(context.Context, []byte) (scan.Result, error) { panic("boom") })
	if r := s.Scan(ctx, nil)[0]; r.Verdict != scan.Error || !strings.Contains(r.Detail, "panicked: boom") {
		t.Fatalf("panic: %+v", r)
	}
	if s.States()[0].Up {
		t.Fatal("two failures (no verdict, panic) did not mark it down")
	}

	never := &scan.Scanner{Engines: []scan.Engine{newStub("x", failing)}, DownAfter: -1}
	for i := 0; i < 10; i++ {
		never.Scan(ctx, nil)
	}
	if st := never.States()[0]; !st.Up || st.ConsecutiveFailures != 10 {
		t.Fatalf("DownAfter -1: %+v", st)
	}
}

// TestEngineConcurrency: MaxConcurrent bounds the scans an engine runs at
// once, EngineMaxConcurrent overrides it by name, and the wait for a slot
// counts against the timeout.
func TestEngineConcurrency(t *testing.T) {
	t.Parallel()
	slow := func(ctx context.Context, _ []byte) (scan.Result, error) {
		select {
		case <-time.After(30 * time.Millisecond):
			return scan.Result{Verdict: scan.Clean}, nil
		case <-ctx.Done():
			return scan.Result{}, ctx.Err()
		}
	}
	a, b, c := newStub("a", slow), newStub("b", slow), newStub("c", slow)
	s := &scan.Scanner{Engines: []scan.Engine{a, b, c}, Timeout: 5 * time.Second, MaxConcurrent: 2, EngineMaxConcurrent: map[string]int{"b": 1, "c": 0}}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Go(func() {
			for _, r := range s.Scan(context.Background(), nil) {
				if r.Verdict != scan.Clean {
					t.Errorf("%+v", r)
				}
			}
		})
	}
	wg.Wait()
	if a.peak.Load() != 2 || b.peak.Load() != 1 || c.peak.Load() < 3 {
		t.Fatalf("peaks a=%d (max 2) b=%d (max 1) c=%d (unlimited)", a.peak.Load(), b.peak.Load(), c.peak.Load())
	}
	if st := s.States(); st[0].MaxConcurrent != 2 || st[1].MaxConcurrent != 1 || st[2].MaxConcurrent != 0 {
		t.Fatalf("%+v", st)
	}

	// One slot, held: the next scan times out waiting for it.
	release := make(chan struct{})
	hold := newStub("hold", func(context.Context, []byte) (scan.Result, error) {
		<-release
		return scan.Result{Verdict: scan.Clean}, nil
	})
	s = &scan.Scanner{Engines: []scan.Engine{hold}, Timeout: 200 * time.Millisecond, MaxConcurrent: 1}
	first := make(chan scan.Result)
	go func() { first <- s.Scan(context.Background(), nil)[0] }()
	for hold.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	r := s.Scan(context.Background(), nil)[0]
	if r.Verdict != scan.Error || !strings.Contains(r.Detail, "waiting for a free slot") || time.Since(start) > time.Second {
		t.Fatalf("waiting for a slot: %+v after %v", r, time.Since(start))
	}
	close(release)
	<-first // the holder itself timed out; its slot is freed when the engine returns
	for hold.running.Load() != 0 {
		time.Sleep(time.Millisecond)
	}
	if r := s.Scan(context.Background(), nil)[0]; r.Verdict != scan.Clean || hold.calls.Load() != 2 {
		t.Fatalf("after release: %+v, %d calls", r, hold.calls.Load())
	}
}
