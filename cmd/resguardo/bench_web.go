package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/identity"
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
	data := m.DataDir
	if dataGiven {
		if _, err := os.Stat(archive.Layout{Dir: data}.Catalog()); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("bench web: --data %s: not a data directory (%v)", data, err)}
		}
	} else {
		if *corpus == "" {
			*corpus = findCorpus(m.Getenv("RESGUARDO_CORPUS"))
		}
		if *corpus == "" {
			return &exitError{code: 2, err: errors.New("bench web: the shared corpus was not found: give --corpus DIR, set RESGUARDO_CORPUS, or --data DIR")}
		}
		scratch := *work
		if scratch == "" {
			if scratch, err = os.MkdirTemp("", "resguardo-bench-web-"); err != nil {
				return err
			}
			defer os.RemoveAll(scratch)
		} else if err := os.MkdirAll(scratch, 0o755); err != nil {
			return err
		}
		maildir := filepath.Join(scratch, "mail")
		got, err := benchWebMaildir(*corpus, scratch, maildir, *n)
		if err != nil {
			return err
		}
		data = filepath.Join(scratch, "data")
		if err := os.RemoveAll(data); err != nil {
			return err
		}
		say("importing %d messages into %s", got, data)
		t0 := time.Now()
		c := exec.Command(self, "import", "--data", data, "--progress", "never", "--json", maildir)
		c.Env = append(os.Environ(), "RESGUARDO_LANG=en")
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err := c.Output()
		var sum importSummary
		lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
		if jerr := json.Unmarshal(lines[len(lines)-1], &sum); jerr != nil || (err != nil && sum.Failed == 0) {
			return fmt.Errorf("bench web: import: %v %v\n%s", err, jerr, stderr.String())
		}
		rep.Imported, rep.ImportSeconds = true, time.Since(t0).Seconds()
		say("imported and indexed in %.1fs (%d archived, %d malformed)", rep.ImportSeconds, sum.Archived, sum.Malformed)
		m.DataDir = data
	}

	// 2. The bench account, made through the identity service before serve
	// starts: auditor, password without forced change, TOTP enrolled (so the
	// bench knows the secret).
	pw, totpKey, ids, err := benchWebAccount(ctx, m)
	if err != nil {
		return err
	}
	rep.Records = len(ids)
	if len(ids) == 0 {
		return fmt.Errorf("bench web: no records in %s", data)
	}
	say("%d records; account %q enrolled", len(ids), benchWebLogin)

	// 3. serve, the binary itself.
	addr, err := benchFreePort()
	if err != nil {
		return err
	}
	base := "http://" + addr
	serveArgs := []string{"serve", "--data", data, "--listen", addr}
	if prof := m.Getenv("RESGUARDO_BENCH_CPUPROFILE"); prof != "" {
		serveArgs = append([]string{"--cpuprofile", prof}, serveArgs...) // where serve's time goes
	}
	srv := exec.Command(self, serveArgs...)
	srv.Env = append(os.Environ(), "RESGUARDO_LANG=en")
	var srvErr bytes.Buffer
	srv.Stderr = &srvErr
	if err := srv.Start(); err != nil {
		return err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			srv.Process.Signal(syscall.SIGTERM)
			srv.Wait()
		}
	}
	defer stop()
	fail := func(err error) error {
		stop()
		return fmt.Errorf("bench web: %w\nserve said:\n%s", err, lastLines(srvErr.String(), 30))
	}
	if err := benchWaitHTTP(ctx, base+"/healthz", 10*time.Minute); err != nil {
		return fail(err)
	}

	// 4. Log in like a browser, then one request at a time.
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, Timeout: 2 * time.Minute}
	if err := benchWebLoginFlow(cl, base, pw, totpKey); err != nil {
		return fail(err)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.Load = strings.TrimSpace(string(b))
	}
	pid := srv.Process.Pid
	rng := rand.New(rand.NewPCG(7, 2026))
	get := func(path string) (int, []byte, float64, error) {
		t0 := time.Now()
		r, err := cl.Get(base + path)
		if err != nil {
			return 0, nil, 0, err
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		return r.StatusCode, b, ms(time.Since(t0)), err
	}
	// Warm-up, not counted: every query once and ten messages.
	for _, q := range benchWebQueries {
		if _, _, _, err := get("/buscar?" + q.Encode()); err != nil {
			return fail(err)
		}
	}
	for i := 0; i < 10; i++ {
		if _, _, _, err := get("/mensaje/" + ids[rng.IntN(len(ids))]); err != nil {
			return fail(err)
		}
	}
	totalRE := regexp.MustCompile(`id="total">([^<]*)<`)
	phase := func(name string, target bool, count int, next func(i int) (path string, check func([]byte) error)) (benchWebPage, []float64, error) {
		var lat []float64
		size := 0
		cpu0, self0, busy0, t0 := procCPUMS(pid), selfCPUMS(), machineBusyMS(), time.Now()
		for i := 0; i < count; i++ {
			path, check := next(i)
			code, body, d, err := get(path)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("status %d", code)
			}
			if err == nil {
				err = check(body)
			}
			if err != nil {
				return benchWebPage{}, nil, fmt.Errorf("%s %s: %w", name, path, err)
			}
			lat = append(lat, d)
			size += len(body)
		}
		p := benchWebPage{Name: name, Requests: count, Target: target, Bytes: size / max(count, 1),
			CPUPerReq: (procCPUMS(pid) - cpu0) / float64(max(count, 1))}
		p.OtherCores = max(0, machineBusyMS()-busy0-(procCPUMS(pid)-cpu0)-(selfCPUMS()-self0)) / ms(time.Since(t0))
		p.P50, p.P95, p.P99, p.Max = percentiles(lat)
		return p, lat, nil
	}
	// (a) The search page, round robin over the queries.
	totals := make([]string, len(benchWebQueries))
	sp, lat, err := phase("search page /buscar", true, *requests, func(i int) (string, func([]byte) error) {
		k := i % len(benchWebQueries)
		return "/buscar?" + benchWebQueries[k].Encode(), func(b []byte) error {
			mt := totalRE.FindSubmatch(b)
			if mt == nil {
				return errors.New("no result count in the page")
			}
			totals[k] = string(mt[1])
			return nil
		}
	})
	if err != nil {
		return fail(err)
	}
	rep.Pages = append(rep.Pages, sp)
	perQuery := make([][]float64, len(benchWebQueries))
	for i, d := range lat {
		perQuery[i%len(benchWebQueries)] = append(perQuery[i%len(benchWebQueries)], d)
	}
	for k, q := range benchWebQueries {
		bq := benchWebQuery{Query: benchWebQueryText(q), Total: totals[k]}
		if len(perQuery[k]) > 0 {
			bq.P50, _, _, bq.Max = percentiles(perQuery[k])
		}
		rep.Queries = append(rep.Queries, bq)
	}
	say("search page: p50 %.1f ms, p95 %.1f ms", sp.P50, sp.P95)
	// (b) The message page, random records; the HTML bodies and constancias of
	// some of them afterwards.
	viewed := make([]string, *requests)
	var withHTML []string
	mp, _, err := phase("message page /mensaje/{id}", true, *requests, func(i int) (string, func([]byte) error) {
		id := ids[rng.IntN(len(ids))]
		viewed[i] = id
		return "/mensaje/" + id, func(b []byte) error {
			if !bytes.Contains(b, []byte(`id="asunto"`)) || !bytes.Contains(b, []byte(id)) {
				return errors.New("not the message page")
			}
			if bytes.Contains(b, []byte("/mensaje/"+id+"/cuerpo.html")) {
				withHTML = append(withHTML, id)
			}
			return nil
		}
	})
	if err != nil {
		return fail(err)
	}
	rep.Pages = append(rep.Pages, mp)
	say("message page: p50 %.1f ms, p95 %.1f ms", mp.P50, mp.P95)
	if len(withHTML) > 0 {
		bp, _, err := phase("HTML body /mensaje/{id}/cuerpo.html", false, len(withHTML), func(i int) (string, func([]byte) error) {
			return "/mensaje/" + withHTML[i] + "/cuerpo.html", func([]byte) error { return nil }
		})
		if err != nil {
			return fail(err)
		}
		rep.Pages = append(rep.Pages, bp)
	}
	nc := max(1, *requests/5)
	cp, _, err := phase("constancia JSON /mensaje/{id}/constancia/json", false, nc, func(i int) (string, func([]byte) error) {
		id := viewed[i]
		return "/mensaje/" + id + "/constancia/json", func(b []byte) error {
			if !json.Valid(b) || !bytes.Contains(b, []byte(id)) {
				return errors.New("not a constancia of the record")
			}
			return nil
		}
	})
	if err != nil {
		return fail(err)
	}
	rep.Pages = append(rep.Pages, cp)

	// 5. wrk: a bounded load on one message page, and two pages without a session as baselines.
	if wrkPath != "" {
		var cookie string
		u, _ := url.Parse(base)
		for _, c := range jar.Cookies(u) {
			if c.Name == identity.CookieName(false) {
				cookie = c.Name + "=" + c.Value
			}
		}
		for _, t := range []struct{ name, path, cookie string }{
			{"message page (session, access entry each)", "/mensaje/" + viewed[0], cookie},
			{"/verificar (public form, no session)", "/verificar", ""},
			{"/healthz (catalog stats)", "/healthz", ""},
		} {
			say("wrk %s for %s", t.path, *wrkDur)
			cpu0, busy0, t0 := procCPUMS(pid), machineBusyMS(), time.Now()
			w, err := runWrk(ctx, wrkPath, base, t.path, t.cookie, *wrkConns, *wrkDur)
			if err != nil {
				return fail(err)
			}
			wall := ms(time.Since(t0))
			srvMS := procCPUMS(pid) - cpu0
			w.ServerCores = srvMS / wall
			w.OtherCores = max(0, (machineBusyMS()-busy0-srvMS)/wall-w.WrkCores)
			w.Name = t.name
			if w.Bad > 0 {
				return fail(fmt.Errorf("wrk %s: %d responses were not 2xx/3xx or failed", t.path, w.Bad))
			}
			rep.Wrk = append(rep.Wrk, w)
		}
	}
	stop()
	if dataGiven {
		if err := benchWebDropAccount(ctx, m); err != nil {
			say("the account %q was not removed: %v", benchWebLogin, err)
		}
	}
	if *jsonOut {
		return writeJSON(m, rep)
	}
	w := m.Stdout
	if rep.Imported {
		fmt.Fprintf(w, "archive:  %d records of real mail (import + index %.1f s)\n", rep.Records, rep.ImportSeconds)
	} else {
		fmt.Fprintf(w, "archive:  %d records (%s)\n", rep.Records, data)
	}
	fmt.Fprintf(w, "load:     %s (/proc/loadavg at the start of the measurement; %d CPUs)\n", rep.Load, rep.CPUs)
	fmt.Fprintf(w, "one client, sequential (server time + loopback), ms:\n")
	fmt.Fprintf(w, "  %-48s %5s %8s %8s %8s %8s %9s %8s %7s\n", "page", "n", "p50", "p95", "p99", "max", "CPU/req", "bytes", "others")
	for _, p := range rep.Pages {
		fmt.Fprintf(w, "  %-48s %5d %8.1f %8.1f %8.1f %8.1f %9.2f %8d %7.2f\n", p.Name, p.Requests, p.P50, p.P95, p.P99, p.Max, p.CPUPerReq, p.Bytes, p.OtherCores)
	}
	fmt.Fprintf(w, "  (CPU/req: serve's user + system CPU per request; others: cores used meanwhile by other processes)\n")
	for _, p := range rep.Pages {
		if p.Target {
			verdict := "met"
			if p.P95 >= rep.TargetP95MS {
				verdict = "MISSED"
			}
			fmt.Fprintf(w, "target p95 < %.0f ms, %s: %s (%.1f ms)\n", rep.TargetP95MS, p.Name, verdict, p.P95)
		}
	}
	fmt.Fprintf(w, "search page per query (p50 / max ms, results):\n")
	for _, q := range rep.Queries {
		fmt.Fprintf(w, "  %-40s %7.1f %7.1f  %s\n", q.Query, q.P50, q.Max, q.Total)
	}
	if rep.WrkSkipped != "" {
		fmt.Fprintf(w, "wrk: skipped (%s)\n", rep.WrkSkipped)
	}
	for _, x := range rep.Wrk {
		fmt.Fprintf(w, "wrk -t%d -c%d, %.1f s: %-42s %7.0f req/s  p50 %6.2f  p90 %6.2f  p99 %6.2f ms  cores: serve %.2f, wrk %.2f, others %.2f\n", x.Threads, x.Connections,
			x.Seconds, x.Name, x.Rate, x.P50, x.P90, x.P99, x.ServerCores, x.WrkCores, x.OtherCores)
	}
	fmt.Fprintf(w, "note: %s\n", rep.Note)
	return nil
}

// benchWebQueryText shows a query as the form's fields: q's text first, then field=value.
func benchWebQueryText(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] == "q" || (keys[j] != "q" && keys[i] < keys[j]) })
	var parts []string
	for _, k := range keys {
		if k == "q" {
			parts = append(parts, v.Get(k))
		} else {
			parts = append(parts, k+"="+v.Get(k))
		}
	}
	return strings.Join(parts, " ")
}

// benchWebMaildir links n real messages of the corpus into maildir, spread
// evenly over every set (the packed sets are unpacked only when the loose
// files are too few).
func benchWebMaildir(corpus, scratch, maildir string, n int) (int, error) {
	collect := func(root string) []string {
		files, _, _ := listInputFiles([]string{root})
		var out []string
		for _, f := range files {
			if strings.HasSuffix(f, ".eml") {
				out = append(out, f)
			}
		}
		return out
	}
	files := collect(filepath.Join(corpus, "real"))
	if len(files) < n {
		unpacked := filepath.Join(scratch, "unpacked")
		if err := extractPacks(corpus, unpacked); err != nil {
			return 0, err
		}
		files = append(files, collect(filepath.Join(unpacked, "real"))...)
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("no real messages under %s", corpus)
	}
	sort.Strings(files)
	pick := files
	if len(files) > n {
		pick = make([]string, 0, n)
		for i := 0; i < n; i++ {
			pick = append(pick, files[i*len(files)/n])
		}
	}
	if err := os.RemoveAll(maildir); err != nil {
		return 0, err
	}
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, d), 0o755); err != nil {
			return 0, err
		}
	}
	for i, f := range pick {
		if err := linkOrCopy(f, filepath.Join(maildir, "cur", fmt.Sprintf("%06d.eml:2,S", i+1))); err != nil {
			return 0, err
		}
	}
	return len(pick), nil
}
