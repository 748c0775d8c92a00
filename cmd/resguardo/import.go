package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/mailbox"
)

// importSummary is the JSON summary `import --json` prints last (docs/CLI.md).
type importSummary struct {
	Event       string        `json:"event"` // "summary"
	Archived    int64         `json:"archived"`
	Duplicate   int64         `json:"already_present"`
	Malformed   int64         `json:"malformed"`
	Failed      int64         `json:"failed"`
	Skipped     int64         `json:"skipped"`
	Bytes       int64         `json:"bytes"`
	Seconds     float64       `json:"seconds"`
	Interrupted bool          `json:"interrupted"`
	LedgerSize  int64         `json:"ledger_size"`
	Failures    []importIssue `json:"failures"`
	Skips       []importIssue `json:"skips"`
}

type importIssue struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
}

// importEvent is one JSON line per item with `import --json`, written only once the
// item is durable (or has failed).
type importEvent struct {
	Event     string   `json:"event"` // archived, duplicate, failed, skipped
	ID        string   `json:"id,omitempty"`
	Source    string   `json:"source"`
	Size      int64    `json:"size,omitempty"`
	Malformed bool     `json:"malformed,omitempty"`
	Defects   []string `json:"defects,omitempty"`
	Ledger    *int64   `json:"ledger_index,omitempty"`
	Error     string   `json:"error,omitempty"`
}

const maxListedIssues = 1000

func runImport(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print one JSON line per message and a JSON summary")
	mboxFmt := fs.String("mbox-format", "", "mbox variant: auto, mboxrd, mboxo, mboxcl2 (default from config: auto)")
	progress := fs.String("progress", "auto", "progress bar on stderr: auto (when a terminal), always, never")
	noIndex := fs.Bool("no-index", false, "do not bring the search index up to date after the import")
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, "usage: resguardo import [--json] [--mbox-format F] [--progress auto|always|never] PATH...")
		fs.PrintDefaults()
	}
	paths, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		fs.Usage()
		return &exitError{code: 2, err: errors.New("import: name at least one file or directory")}
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("import: %w", err)}
		}
	}
	if *mboxFmt == "" {
		*mboxFmt = m.Config.Import.MboxFormat
	}
	// The writer lock, or, while serve holds it, serve's import socket.
	var (
		a   *archive.Archive
		via *serveImporter
	)
	a, err = m.openArchive(ctx, true, "import")
	if errors.Is(err, archive.ErrLocked) {
		if via = dialServeImport(m.DataDir); via == nil {
			return err // held by something that is not serve: as before
		}
		fmt.Fprintln(m.Stderr, m.P.T("import.via_serve", importSocketPath(m.DataDir)))
	} else if err != nil {
		return err
	} else {
		defer a.Close()
	}
	if m.Getenv("GOGC") == "" {
		// Imports allocate a message-sized buffer per item; collecting half as often
		// saves ≈5 % of the time for ≈15 % more peak memory (docs/PERFORMANCE.md).
		debug.SetGCPercent(200)
	}

	var (
		sum     importSummary
		mu      sync.Mutex
		done    atomic.Int64 // items finished
		inBytes atomic.Int64 // input bytes consumed
		out     = m.Stdout
	)
	sum.Event, sum.Failures, sum.Skips = "summary", []importIssue{}, []importIssue{}
	emit := func(ev importEvent) {
		if *jsonOut {
			b, _ := json.Marshal(ev)
			out.Write(append(b, '\n'))
		}
	}
	start := time.Now()
	// Long imports stamp every evidence.every_entries records, from a goroutine of
	// their own so the pipeline never waits for the timestamp authority.
	stampReq := make(chan struct{}, 1)
	stampDone := make(chan struct{})
	stamp := func() error { return m.stampLatest(ctx, a) }
	if via != nil {
		stamp = func() error { return via.stamp(true, false) }
	}
	go func() {
		defer close(stampDone)
		for range stampReq {
			if err := stamp(); err != nil {
				m.Logger.Warn("checkpoint not timestamped", "err", err)
			}
		}
	}()
	every := int64(m.Config.Evidence.EveryEntries)
	onResult := func(r archive.Result) {
		mu.Lock()
		defer mu.Unlock()
		done.Add(1)
		ev := importEvent{ID: r.SHA256, Source: r.Source, Size: r.Size}
		switch r.Status {
		case archive.Archived:
			sum.Archived++
			if every > 0 && sum.Archived%every == 0 {
				select {
				case stampReq <- struct{}{}:
				default: // one is already pending
				}
			}
			sum.Bytes += r.Size
			ev.Event = "archived"
			idx := r.LedgerIndex
			ev.Ledger = &idx
			if r.Malformed {
				sum.Malformed++
				ev.Malformed = true
				for _, d := range r.Defects {
					if !slices.Contains(ev.Defects, d.Code) {
						ev.Defects = append(ev.Defects, d.Code)
					}
				}
			}
		case archive.Duplicate:
			sum.Duplicate++
			ev.Event = "duplicate"
		default:
			sum.Failed++
			ev.Event, ev.Error = "failed", r.Err.Error()
			if len(sum.Failures) < maxListedIssues {
				sum.Failures = append(sum.Failures, importIssue{r.Source, r.Err.Error()})
			}
		}
		emit(ev)
	}
	// in takes the messages: this process's own ingester, or serve's through
	// the socket (same results, in the same order per batch).
	var in importSink
	if via != nil {
		via.start(onResult)
		in = via
	} else {
		in = a.Ingest(context.WithoutCancel(ctx), archive.IngestOptions{
			BatchSize: m.Config.Archive.BatchSize,
			MaxDelay:  m.Config.Import.BatchDelay.D(),
			OnResult:  onResult,
		})
	}

	var total atomic.Int64
	total.Store(-1)
	scanCtx, cancelScan := context.WithCancel(ctx)
	defer cancelScan()
	go func() {
		if _, n, err := mailbox.Estimate(scanCtx, paths, mailbox.Options{}); err == nil {
			total.Store(n)
		}
	}()
	showBar := *progress == "always" || (*progress == "auto" && !*jsonOut && isTerminal(m.Stderr))
	stopBar := make(chan struct{})
	barDone := make(chan struct{})
	go func() {
		defer close(barDone)
		if !showBar {
			<-stopBar
			return
		}
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopBar:
				m.drawProgress(done.Load(), inBytes.Load(), total.Load(), time.Since(start), true)
				return
			case <-t.C:
				m.drawProgress(done.Load(), inBytes.Load(), total.Load(), time.Since(start), false)
			}
		}
	}()

	scanErr := mailbox.Scan(scanCtx, paths, mailbox.Options{
		MboxFormat:     *mboxFmt,
		MaxMessageSize: int64(m.Config.Limits.MaxMessageSize),
		OnSkip: func(s mailbox.Skip) {
			if st, err := os.Stat(s.Path); err == nil && st.Mode().IsRegular() {
				inBytes.Add(st.Size()) // Estimate counted it: keep the bar and the ETA honest
			}
			mu.Lock()
			defer mu.Unlock()
			sum.Skipped++
			if len(sum.Skips) < maxListedIssues {
				sum.Skips = append(sum.Skips, importIssue{s.Path, s.Reason})
			}
			emit(importEvent{Event: "skipped", Source: s.Path, Error: s.Reason})
		},
	}, func(it mailbox.Item) error {
		inBytes.Add(it.Input)
		return in.Add(scanCtx, &archive.Item{Data: it.Data, Err: it.Err, Channel: "import", Source: it.Source})
	})
	closeErr := in.Close()
	close(stampReq)
	<-stampDone
	close(stopBar)
	<-barDone
	if closeErr == nil && sum.Archived > 0 {
		// One timestamp covers every record of the import: constancias are
		// available as soon as it returns.
		if err := stamp(); err != nil {
			m.Logger.Warn("checkpoint not timestamped; constancias stay pending until the next stamp", "err", err)
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	if via != nil {
		// serve indexes what it archived and says how long its ledger is.
		if err := via.stamp(false, closeErr == nil && !*noIndex && ctx.Err() == nil); err != nil {
			m.Logger.Warn("search index not updated by serve; it catches up at serve's next tick", "err", err)
		}
		sum.LedgerSize = via.ledgerSize.Load()
	} else {
		if closeErr == nil && !*noIndex && ctx.Err() == nil {
			if err := m.updateIndex(ctx, a, showBar); err != nil {
				m.Logger.Warn("search index not updated; it catches up at the next search or in serve", "err", err)
			}
		}
		sum.LedgerSize = a.Log.Size()
	}
	sum.Interrupted = ctx.Err() != nil
	if scanErr != nil && !errors.Is(scanErr, context.Canceled) && !errors.Is(scanErr, archive.ErrStopped) {
		sum.Failed++
		sum.Failures = append(sum.Failures, importIssue{"", scanErr.Error()})
	}
	if *jsonOut {
		b, _ := json.Marshal(sum)
		out.Write(append(b, '\n'))
	} else {
		m.printImportSummary(&sum)
	}
	switch {
	case closeErr != nil:
		return &exitError{code: 1, err: closeErr}
	case sum.Interrupted:
		return &exitError{code: 130}
	case sum.Failed > 0:
		return &exitError{code: 1}
	}
	return nil
}

func (m *Main) printImportSummary(s *importSummary) {
	p := m.P
	w := m.Stdout
	fmt.Fprintln(w, p.T("import.summary"))
	row := func(label, value string) { fmt.Fprintf(w, "  %-40s %s\n", label, value) }
	row(p.T("import.archived"), p.Int(s.Archived)+" ("+p.Bytes(s.Bytes)+")")
	row(p.T("import.malformed"), p.Int(s.Malformed))
	row(p.T("import.duplicate"), p.Int(s.Duplicate))
	row(p.T("import.failed"), p.Int(s.Failed))
	row(p.T("import.skipped"), p.Int(s.Skipped))
	row(p.T("import.elapsed"), fmt.Sprintf("%.1f s", s.Seconds))
	if s.Seconds > 0 {
		row(p.T("import.rate"), p.Float(float64(s.Archived+s.Duplicate)/s.Seconds, 0)+" msg/s")
	}
	row(p.T("import.ledger"), p.T("import.ledger.value", p.Int(s.LedgerSize)))
	list := func(title string, items []importIssue, n int64) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintln(w, p.T(title))
		for _, it := range items {
			fmt.Fprintf(w, "  %s: %s\n", it.Source, it.Reason)
		}
		if n > int64(len(items)) {
			fmt.Fprintln(w, p.T("import.more", p.Int(n-int64(len(items)))))
		}
	}
	list("import.failures", s.Failures, s.Failed)
	list("import.skips", s.Skips, s.Skipped)
	if s.Interrupted {
		fmt.Fprintln(w, p.T("import.interrupted"))
	}
}

func (m *Main) drawProgress(n, bytes, total int64, el time.Duration, final bool) {
	p := m.P
	secs := max(el.Seconds(), 0.001)
	rate := p.Float(float64(n)/secs, 0)
	brate := p.Bytes(int64(float64(bytes) / secs))
	var line string
	if total > 0 {
		eta := "–"
		if bytes > 0 && bytes < total {
			left := time.Duration(float64(total-bytes) / (float64(bytes) / secs) * float64(time.Second))
			eta = fmtDuration(left)
		} else if bytes >= total {
			eta = "0:00"
		}
		pct := min(100, float64(bytes)*100/float64(total))
		line = fmt.Sprintf("%s %s", bar(pct, 24), p.T("import.progress", p.Int(n), p.Bytes(bytes), p.Bytes(total), rate, brate, eta))
	} else {
		line = p.T("import.progress.nototal", p.Int(n), p.Bytes(bytes), rate, brate)
	}
	fmt.Fprintf(m.Stderr, "\r\x1b[K%s", line)
	if final {
		fmt.Fprintln(m.Stderr)
	}
}

func bar(pct float64, width int) string {
	full := int(pct / 100 * float64(width))
	b := make([]rune, width)
	for i := range b {
		if i < full {
			b[i] = '█'
		} else {
			b[i] = '░'
		}
	}
	return fmt.Sprintf("%s %3.0f%%", string(b), pct)
}

func fmtDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func nowUTC() time.Time { return time.Now().UTC() }
