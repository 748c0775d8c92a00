package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// benchWebQueries are the search page's questions for the corpus's real mail
// (mailing lists, spam, phishing): common and rare words, senders, dates,
// phrases, attachments — as the form sends them (q and the form's fields).
var benchWebQueries = []url.Values{
	{"q": {"kernel"}},
	{"q": {"iscsi"}},
	{"q": {"sched"}},
	{"q": {"octeon"}},
	{"q": {"password"}},
	{"q": {"from:@gmail.com"}},
	{"de": {"ralf@linux-mips.org"}},
	{"q": {`"memory leak"`}},
	{"q": {"subject:patch"}},
	{"q": {"irq OR interrupt"}},
	{"q": {"mips -octeon"}},
	{"desde": {"2010-01-01"}, "hasta": {"2011-12-31"}},
	{"q": {"year:2019"}},
	{"q": {"has:attachment"}},
	{"q": {"patch"}, "adjuntos": {"1"}},
	{"q": {"linux (mips OR arm)"}},
	{"q": {"cache*"}},
	{"q": {"timeout"}, "desde": {"2008-01-01"}},
	{"q": {"bank"}},
	{"q": {"subject:regression"}},
}

// benchWebLogin is the bench's account: an auditor, who reads all mail after
// typing a justification (so every read takes the whole path, access entry
// included).
const benchWebLogin = "banco-web"

// benchWebReport is `resguardo bench web --json`.
type benchWebReport struct {
	Date          string          `json:"date"`
	Load          string          `json:"load"` // /proc/loadavg when the measurement started
	CPUs          int             `json:"cpus"`
	Records       int             `json:"records"`
	Imported      bool            `json:"imported"` // false with --data
	ImportSeconds float64         `json:"import_and_index_seconds,omitempty"`
	TargetP95MS   float64         `json:"target_p95_ms"`
	Pages         []benchWebPage  `json:"pages"`
	Queries       []benchWebQuery `json:"queries"`
	Wrk           []benchWrk      `json:"wrk,omitempty"`
	WrkSkipped    string          `json:"wrk_skipped,omitempty"`
	Note          string          `json:"note"`
}

// benchWebPage is one page measured sequentially (one client: server time plus loopback).
type benchWebPage struct {
	Name      string  `json:"name"`
	Requests  int     `json:"requests"`
	P50       float64 `json:"p50_ms"`
	P95       float64 `json:"p95_ms"`
	P99       float64 `json:"p99_ms"`
	Max       float64 `json:"max_ms"`
	CPUPerReq float64 `json:"server_cpu_ms_per_request"` // user + system of serve over the phase
	Bytes     int     `json:"mean_bytes"`
	Target    bool    `json:"target_applies"`
	// OtherCores: CPU used meanwhile by every process but serve and the bench
	// (other work on the machine), in cores.
	OtherCores float64 `json:"other_cores"`
}

type benchWebQuery struct {
	Query string  `json:"query"`
	Total string  `json:"results"`
	P50   float64 `json:"p50_ms"`
	Max   float64 `json:"max_ms"`
}

// benchWrk is one `wrk` run.
type benchWrk struct {
	Name        string  `json:"name"`
	Path        string  `json:"path"`
	Threads     int     `json:"threads"`
	Connections int     `json:"connections"`
	Seconds     float64 `json:"seconds"`
	Requests    int64   `json:"requests"`
	Rate        float64 `json:"requests_per_second"`
	P50         float64 `json:"p50_ms"`
	P75         float64 `json:"p75_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	Bad         int64   `json:"non_2xx_or_errors"`
	ServerCores float64 `json:"server_cores"` // serve's CPU during the run
	WrkCores    float64 `json:"wrk_cores"`
	OtherCores  float64 `json:"other_cores"` // everything else
}

// runBenchWeb measures the web application as people use it: `serve` over an
// archive of real mail, an auditor logged in over HTTP (password, TOTP,
// justification), the search page and the message page one request at a time
// (p50/p95/p99/max), and, with wrk, requests/s of the message page under a
// bounded loopback load.
func runBenchWeb(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("bench web", flag.ContinueOnError)
	n := fs.Int("messages", 20000, "real messages from the corpus to import into a scratch data directory")
	corpus := fs.String("corpus", "", "the shared corpus (default: found upwards)")
	work := fs.String("work", "", "keep the maildir and data directory here (default: a temporary directory, removed)")
	requests := fs.Int("requests", 300, "sequential requests of each page (search: round robin over the queries)")
	wrkDur := fs.Duration("wrk-duration", 10*time.Second, "duration of each wrk run (0: no wrk)")
	wrkConns := fs.Int("wrk-connections", 8, "wrk's connections")
	requireWrk := fs.Bool("require-wrk", false, "fail when wrk is not installed (instead of skipping its part)")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	dataGiven := m.DataDir != ""
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) { dataGiven = dataGiven || f.Name == "data" })
	if *requests < 1 {
		return &exitError{code: 2, err: errors.New("bench web: --requests must be at least 1")}
	}
	say := func(format string, a ...any) { fmt.Fprintf(m.Stderr, "bench web: "+format+"\n", a...) }
	rep := benchWebReport{Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), TargetP95MS: 100,
		Note: "every search and every message, body and constancia view writes an access entry (catalog row and ledger append) before answering, by design"}
	wrkPath := ""
	if *wrkDur > 0 {
		p, err := exec.LookPath("wrk")
		switch {
		case err == nil:
			wrkPath = p
		case *requireWrk:
			return &exitError{code: 2, err: errors.New("bench web: wrk is not installed (apt-get install wrk)")}
		default:
			rep.WrkSkipped = "wrk is not installed (apt-get install wrk)"
			say("%s: skipping the load part", rep.WrkSkipped)
		}
	} else {
		rep.WrkSkipped = "--wrk-duration 0"
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	// 1. The data directory: given, or real mail imported (and indexed) by the import command.
	data, cleanup, err := benchWebData(m, &rep, say, self, dataGiven, *corpus, *work, *n)
	defer cleanup()
	if err != nil {
		return err
	}

	// 2. The bench account, serve and the browser's login.
	srv, ids, err := benchWebStart(ctx, m, &rep, say, self, data)
	if err != nil {
		return err
	}
	defer srv.stop()

	// 3. One request at a time.
	viewed, err := srv.measure(&rep, say, ids, *requests)
	if err != nil {
		return srv.fail(err)
	}

	// 4. wrk: a bounded load on one message page, and two pages without a session as baselines.
	if wrkPath != "" {
		if err := srv.runWrks(ctx, &rep, say, wrkPath, "/mensaje/"+viewed[0], *wrkConns, *wrkDur); err != nil {
			return srv.fail(err)
		}
	}
	srv.stop()
	if dataGiven {
		if err := benchWebDropAccount(ctx, m); err != nil {
			say("the account %q was not removed: %v", benchWebLogin, err)
		}
	}

	// 5. The report.
	if *jsonOut {
		return writeJSON(m, rep)
	}
	benchWebPrint(m.Stdout, rep, data)
	return nil
}
