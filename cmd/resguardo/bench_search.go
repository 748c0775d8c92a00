package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/search"
	"github.com/resguardo/resguardo/internal/search/query"
)

// benchQueries are the same 30 questions in both languages (resguardo, notmuch).
var benchQueries = [][2]string{
	{"kernel", "kernel"},
	{"subject:patch", "subject:patch"},
	{"from:@gmail.com", "from:gmail.com"},
	{"from:ralf@linux-mips.org", "from:ralf@linux-mips.org"},
	{"to:linux-mips@linux-mips.org", "to:linux-mips@linux-mips.org"},
	{`"memory leak"`, `"memory leak"`},
	{"irq OR interrupt", "irq or interrupt"},
	{"mips -octeon", "mips and not octeon"},
	{"after:2010-01-01 before:2012-01-01", "date:2010-01-01..2011-12-31"},
	{"year:2019", "date:2019-01-01..2019-12-31"},
	{"has:attachment", "tag:attachment"},
	{"filename:pdf", "attachment:pdf"},
	{"subject:dma", "subject:dma"},
	{"cache*", "cache*"},
	{"linux (mips OR arm)", "linux and (mips or arm)"},
	{"iscsi", "iscsi"},
	{"timeout", "timeout"},
	{"subject:pci", "subject:pci"},
	{"from:linus", "from:linus"},
	{"bank", "bank"},
	{"urgent", "urgent"},
	{"password", "password"},
	{"invoice", "invoice"},
	{"transferencia", "transferencia"},
	{"cuenta", "cuenta"},
	{"driver -usb", "driver and not usb"},
	{"bug", "bug"},
	{"sched", "sched"},
	{"subject:regression", "subject:regression"},
	{"netdev", "netdev"},
}

// benchQueriesGen are 30 questions for the generated institutional corpus
// (bench gen): Spanish words, addresses, dates, attachments, and words of the
// real text mixed into the bodies.
var benchQueriesGen = [][2]string{
	{"licitación", "licitación"},
	{"subject:contrato", "subject:contrato"},
	{"from:@finanzas.ejemplo.gob.mx", "from:finanzas.ejemplo.gob.mx"},
	{"to:@constructora-del-valle.com.mx", "to:constructora-del-valle.com.mx"},
	{`"acta firmada"`, `"acta firmada"`},
	{"expediente revisión", "expediente and revisión"},
	{"auditoría OR convenio", "auditoría or convenio"},
	{"oficio -requerimiento", "oficio and not requerimiento"},
	{"after:2020-01-01 before:2021-01-01", "date:2020-01-01..2020-12-31"},
	{"year:2023", "date:2023-01-01..2023-12-31"},
	{"has:attachment", "tag:attachment"},
	{"filename:pdf", "attachment:pdf"},
	{"filename:csv", "attachment:csv"},
	{"subject:licitación from:@obras.ejemplo.gob.mx", "subject:licitación and from:obras.ejemplo.gob.mx"},
	{"proveedor*", "proveedor*"},
	{"mantenimiento vehículos", "mantenimiento and vehículos"},
	{"transparencia", "transparencia"},
	{"from:mhernandez", "from:mhernandez"},
	{"kernel", "kernel"},
	{"driver", "driver"},
	{"patch -mips", "patch and not mips"},
	{"facturas", "facturas"},
	{"comité acta", "comité and acta"},
	{"informe trimestral", "informe and trimestral"},
	{"convenio -colaboración", "convenio and not colaboración"},
	{"participant:@agua.ejemplo.gob.mx", "from:agua.ejemplo.gob.mx or to:agua.ejemplo.gob.mx"},
	{"memory", "memory"},
	{"viáticos", "viáticos"},
	{"requerimiento auditoría", "requerimiento and auditoría"},
	{"(papelería OR consultoría) year:2021", "(papelería or consultoría) and date:2021-01-01..2021-12-31"},
}

type benchSearchReport struct {
	Date               string     `json:"date"`
	Mail               string     `json:"mail"`
	Messages           int        `json:"messages"`
	NotmuchIndexSecs   float64    `json:"notmuch_index_seconds,omitempty"`
	ResguardoTotalSecs float64    `json:"resguardo_import_and_index_seconds,omitempty"`
	ResguardoIndexSecs float64    `json:"resguardo_index_seconds,omitempty"`
	NotmuchRate        float64    `json:"notmuch_messages_per_second,omitempty"`
	ResguardoRate      float64    `json:"resguardo_messages_per_second,omitempty"`
	NotmuchDBBytes     int64      `json:"notmuch_db_bytes,omitempty"`
	IndexBytes         int64      `json:"resguardo_index_bytes"`
	ArchiveBytes       int64      `json:"resguardo_archive_bytes"`             // blobs, catalog and ledger, without the index
	NotmuchCLI         [2]float64 `json:"notmuch_cli_p50_p95_ms"`              // count + search, the two calls that give what one resguardo search gives
	NotmuchSearchCLI   [2]float64 `json:"notmuch_search_cli_p50_p95_ms"`       // search alone
	NotmuchInProc      [2]float64 `json:"notmuch_inprocess_p50_p95_ms"`        // libnotmuch (python3-notmuch2): count + 20 newest with headers
	ResguardoCLI       [2]float64 `json:"resguardo_cli_p50_p95_ms"`            // search --json, total + 20 newest with snippets, access entry written
	ResguardoInProc    [2]float64 `json:"resguardo_inprocess_p50_p95_ms"`      // total + 20 newest with snippets and facets
	ResguardoInProcMin [2]float64 `json:"resguardo_inprocess_bare_p50_p95_ms"` // total + 20 newest, no facets or snippets (what notmuch in process does)
	Counts             [][3]any   `json:"counts"`                              // query, resguardo, notmuch
}

func runBenchSearch(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("bench search", flag.ContinueOnError)
	corpus := fs.String("corpus", "", "the shared corpus (default: found upwards)")
	mail := fs.String("mail", "", "index this tree of messages (e.g. from bench gen) instead of the corpus")
	work := fs.String("work", "", "keep the maildir, data directory and notmuch database here (default: a temporary directory, removed)")
	reuse := fs.Bool("reuse", false, "with --work: keep what is already indexed there (data directory, notmuch database) and index only what is missing")
	querySet := fs.String("queries", "", "corpus or gen (default: corpus, or gen with --mail)")
	withNotmuch := fs.Bool("notmuch", true, "run notmuch side by side")
	runs := fs.Int("runs", 3, "runs of each query")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	queries := benchQueries
	switch {
	case *querySet == "gen" || (*querySet == "" && *mail != ""):
		queries = benchQueriesGen
	case *querySet != "" && *querySet != "corpus":
		return &exitError{code: 2, err: fmt.Errorf("--queries: want corpus or gen, got %q", *querySet)}
	}
	if *reuse && *work == "" {
		return &exitError{code: 2, err: errors.New("--reuse needs --work DIR")}
	}
	nm := ""
	if *withNotmuch {
		var err error
		if nm, err = exec.LookPath("notmuch"); err != nil {
			return &exitError{code: 2, err: errors.New("bench search: notmuch is not installed (apt-get install notmuch notmuch python3-notmuch2), or use --notmuch=false")}
		}
	}
	scratch := *work
	if scratch == "" {
		var err error
		if scratch, err = os.MkdirTemp("", "resguardo-bench-search-"); err != nil {
			return err
		}
		defer os.RemoveAll(scratch)
	} else if err := os.MkdirAll(scratch, 0o755); err != nil {
		return err
	}
	say := func(format string, a ...any) { fmt.Fprintf(m.Stderr, format+"\n", a...) }
	maildir := *mail
	if maildir == "" {
		if *corpus == "" {
			*corpus = findCorpus(m.Getenv("RESGUARDO_CORPUS"))
		}
		if *corpus == "" {
			return &exitError{code: 2, err: errors.New("bench search: the shared corpus was not found: give --corpus DIR, set RESGUARDO_CORPUS, or --mail DIR")}
		}
		maildir = filepath.Join(scratch, "mail")
		if _, err := os.Stat(maildir); err != nil || !*reuse {
			if err := corpusMaildir(*corpus, scratch, maildir); err != nil {
				return err
			}
		}
	}
	files, _, err := listInputFiles([]string{maildir})
	if err != nil {
		return err
	}
	rep := benchSearchReport{Date: time.Now().UTC().Format(time.RFC3339), Mail: maildir, Messages: len(files)}
	n := len(files)
	say("bench search: %d messages in %s", n, maildir)
	// notmuch: its database outside the mail tree (database.path vs mail_root).
	nmDB := filepath.Join(scratch, "notmuch")
	cfg := filepath.Join(scratch, "notmuch.cfg")
	nmEnv := append(os.Environ(), "NOTMUCH_CONFIG="+cfg)
	if _, err := os.Stat(filepath.Join(nmDB, "xapian")); err == nil && *reuse {
		say("bench search: reusing the notmuch database in %s", nmDB)
	} else if nm != "" {
		os.MkdirAll(nmDB, 0o755)
		os.WriteFile(cfg, []byte("[database]\npath="+nmDB+"\nmail_root="+maildir+"\n[new]\ntags=\n[search]\nexclude_tags=\n[maildir]\nsynchronize_flags=false\n"), 0o644)
		t0 := time.Now()
		c := exec.Command(nm, "new", "--quiet")
		c.Env = nmEnv
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("notmuch new: %v %s", err, out)
		}
		rep.NotmuchIndexSecs = time.Since(t0).Seconds()
		rep.NotmuchRate = float64(n) / rep.NotmuchIndexSecs
		say("bench search: notmuch new %.1fs (%.0f msg/s)", rep.NotmuchIndexSecs, rep.NotmuchRate)
	}
	self, _ := os.Executable()
	data := filepath.Join(scratch, "data")
	if _, err := os.Stat(data); err == nil && *reuse {
		say("bench search: reusing the data directory %s", data)
	} else {
		t0 := time.Now()
		c := exec.Command(self, "import", "--data", data, "--progress", "never", "--json", maildir)
		c.Env = append(os.Environ(), "RESGUARDO_LANG=en")
		c.Stderr = m.Stderr
		out, err := c.Output()
		if err != nil && len(out) == 0 {
			return fmt.Errorf("resguardo import: %w", err)
		}
		rep.ResguardoTotalSecs = time.Since(t0).Seconds()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var sum importSummary
		json.Unmarshal([]byte(lines[len(lines)-1]), &sum)
		rep.ResguardoIndexSecs = rep.ResguardoTotalSecs - sum.Seconds
		rep.ResguardoRate = float64(n) / rep.ResguardoTotalSecs
		say("bench search: resguardo import+index %.1fs (index %.1fs, %.0f msg/s)", rep.ResguardoTotalSecs, rep.ResguardoIndexSecs, rep.ResguardoRate)
	}
	rep.IndexBytes = dirSize(filepath.Join(data, "index"))
	rep.ArchiveBytes = dirSize(data) - rep.IndexBytes
	if nm != "" {
		rep.NotmuchDBBytes = dirSize(nmDB)
	}
	// Queries as processes, the way people run them.
	var nmLat, nmSearchLat, rgLat []float64
	for _, q := range queries {
		var nmCount, rgCount string
		for r := 0; r < *runs; r++ {
			if nm != "" {
				c := exec.Command(nm, "count", q[1])
				c.Env = nmEnv
				t0 := time.Now()
				b, err := c.Output()
				if err != nil {
					return fmt.Errorf("notmuch count %q: %w", q[1], err)
				}
				nmLat = append(nmLat, ms(time.Since(t0)))
				nmCount = strings.TrimSpace(string(b))
				c = exec.Command(nm, "search", "--output=messages", "--limit=20", q[1])
				c.Env = nmEnv
				t0 = time.Now()
				c.Stdout = io.Discard
				if err := c.Run(); err != nil {
					return fmt.Errorf("notmuch search %q: %w", q[1], err)
				}
				nmSearchLat = append(nmSearchLat, ms(time.Since(t0)))
				nmLat[len(nmLat)-1] += nmSearchLat[len(nmSearchLat)-1]
			}
			c := exec.Command(self, "search", "--data", data, "--json", "--limit", "20", "--facets=false", "--", q[0])
			t0 := time.Now()
			b, err := c.Output()
			if err != nil {
				return fmt.Errorf("resguardo search %q: %w", q[0], err)
			}
			rgLat = append(rgLat, ms(time.Since(t0)))
			var so searchOutput
			json.Unmarshal(b, &so)
			rgCount = fmt.Sprint(so.Total)
		}
		rep.Counts = append(rep.Counts, [3]any{q[0], rgCount, nmCount})
	}
	rep.NotmuchCLI, rep.NotmuchSearchCLI, rep.ResguardoCLI = pcts(nmLat), pcts(nmSearchLat), pcts(rgLat)
	if nm != "" {
		if lat, err := notmuchInProcess(cfg, queries, *runs*3); err != nil {
			say("bench search: notmuch in process not measured: %v", err)
		} else {
			rep.NotmuchInProc = pcts(lat)
		}
	}
	// In process: the latency the service and its API see.
	idx, err := search.OpenBleveReadOnly(filepath.Join(data, "index"), 5*time.Second)
	if err != nil {
		return err
	}
	defer idx.Close()
	var full, bare []float64
	for r := 0; r < *runs*3; r++ {
		for _, q := range queries {
			nq, err := query.Parse(q[0])
			if err != nil {
				return err
			}
			t0 := time.Now()
			if _, err := idx.Search(ctx, search.Request{Query: nq, Limit: 20, Facets: true, Highlight: true}); err != nil {
				return err
			}
			full = append(full, ms(time.Since(t0)))
			t0 = time.Now()
			if _, err := idx.Search(ctx, search.Request{Query: nq, Limit: 20}); err != nil {
				return err
			}
			bare = append(bare, ms(time.Since(t0)))
		}
	}
	rep.ResguardoInProc, rep.ResguardoInProcMin = pcts(full), pcts(bare)
	if *jsonOut {
		return writeJSON(m, rep)
	}
	w := m.Stdout
	fmt.Fprintf(w, "messages:              %d (%s)\n", n, maildir)
	if rep.ResguardoRate > 0 {
		fmt.Fprintf(w, "indexing:              notmuch %.0f msg/s · resguardo (import + index) %.0f msg/s", rep.NotmuchRate, rep.ResguardoRate)
		if rep.NotmuchRate > 0 {
			fmt.Fprintf(w, "  (ratio %.2f)", rep.ResguardoRate/rep.NotmuchRate)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "sizes:                 notmuch database %.1f MiB · resguardo index %.1f MiB, archive %.1f MiB\n", mib(rep.NotmuchDBBytes), mib(rep.IndexBytes), mib(rep.ArchiveBytes))
	fmt.Fprintf(w, "query, CLI p50/p95:    notmuch %.1f/%.1f ms (count + search), %.1f/%.1f ms (search alone) · resguardo %.1f/%.1f ms (search + access entry)\n", rep.NotmuchCLI[0], rep.NotmuchCLI[1], rep.NotmuchSearchCLI[0], rep.NotmuchSearchCLI[1], rep.ResguardoCLI[0], rep.ResguardoCLI[1])
	fmt.Fprintf(w, "query, in process:     notmuch %.2f/%.2f ms (count + 20 newest with headers) · resguardo %.2f/%.2f ms (same) · %.2f/%.2f ms (with facets and snippets)\n", rep.NotmuchInProc[0], rep.NotmuchInProc[1], rep.ResguardoInProcMin[0], rep.ResguardoInProcMin[1], rep.ResguardoInProc[0], rep.ResguardoInProc[1])
	fmt.Fprintf(w, "%-50s %10s %10s\n", "query", "resguardo", "notmuch")
	for _, c := range rep.Counts {
		fmt.Fprintf(w, "%-50s %10s %10s\n", c[0], c[1], c[2])
	}
	return nil
}

// corpusMaildir makes one maildir of the corpus's real messages (packs unpacked).
// Hard links (copies across file systems): import does not follow symbolic links
// met inside a directory walk.
func corpusMaildir(corpus, scratch, maildir string) error {
	unpacked := filepath.Join(scratch, "unpacked")
	if err := extractPacks(corpus, unpacked); err != nil {
		return err
	}
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, d), 0o755); err != nil {
			return err
		}
	}
	n := 0
	for _, root := range []string{filepath.Join(corpus, "real"), filepath.Join(unpacked, "real")} {
		files, _, _ := listInputFiles([]string{root})
		for _, f := range files {
			if !strings.HasSuffix(f, ".eml") {
				continue
			}
			n++
			if err := linkOrCopy(f, filepath.Join(maildir, "cur", fmt.Sprintf("%06d.eml:2,S", n))); err != nil {
				return err
			}
		}
	}
	return nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pcts(xs []float64) [2]float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return [2]float64{}
	}
	return [2]float64{s[len(s)/2], s[min(len(s)-1, len(s)*95/100)]}
}

// linkOrCopy makes dst a hard link to src, or a copy where links cannot be made.
func linkOrCopy(src, dst string) error {
	if os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// notmuchPy runs the 30 queries in one process through libnotmuch (python3-notmuch2),
// so notmuch's query time is seen without its process start, as resguardo's is.
const notmuchPy = `
import json, sys, time, notmuch2
cfg, runs = sys.argv[1], int(sys.argv[2])
qs = json.load(sys.stdin)
db = notmuch2.Database(config=cfg)
lat = []
for r in range(runs):
    for q in qs:
        t0 = time.perf_counter()
        n = db.count_messages(q)
        for i, m in enumerate(db.messages(q, sort=notmuch2.Database.SORT.NEWEST_FIRST)):
            if i == 20:
                break
            m.header("subject"); m.header("from"); m.date
        lat.append((time.perf_counter() - t0) * 1000)
json.dump(lat, sys.stdout)
`

func notmuchInProcess(cfg string, queries [][2]string, runs int) ([]float64, error) {
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		return nil, err
	}
	var qs []string
	for _, q := range queries {
		qs = append(qs, q[1])
	}
	in, _ := json.Marshal(qs)
	c := exec.Command(py, "-c", notmuchPy, cfg, fmt.Sprint(runs))
	c.Stdin = strings.NewReader(string(in))
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return nil, fmt.Errorf("python3-notmuch2: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var lat []float64
	if err := json.Unmarshal(out, &lat); err != nil {
		return nil, err
	}
	return lat, nil
}
