package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/config"
	"github.com/resguardo/resguardo/internal/intake"
	"github.com/resguardo/resguardo/internal/message"
	"github.com/resguardo/resguardo/internal/scan"
	"github.com/resguardo/resguardo/internal/smtpgw"
)

// benchAVReport is `resguardo bench antivirus --json`.
type benchAVReport struct {
	Date      string `json:"date"`
	GoVersion string `json:"go"`
	CPUs      int    `json:"cpus"`
	ClamAV    string `json:"clamav"` // what clamd answers to VERSION
	Corpus    string `json:"corpus"`
	Clients   int    `json:"clients"`
	Messages  int    `json:"messages"`
	Bytes     int64  `json:"bytes"`
	Runs      int    `json:"runs"` // each figure is the median over the runs
	// Configs are the engine counts asked for (--engines), engines 1..E.
	Configs []benchAVSide `json:"configs"`
	// Singles are each clamd process alone, under the same load.
	Singles []benchAVSide `json:"singles,omitempty"`
	// Ratios compare each configuration with more than one engine to the
	// slowest single engine.
	Ratios        []benchAVRatio `json:"ratios,omitempty"`
	ClamdPeakRSS  float64        `json:"clamd_peak_rss_mb_max"`   // the largest clamd's peak RSS
	ClamdTotalRSS float64        `json:"clamd_peak_rss_mb_total"` // summed over every clamd started
}

// benchAVSide is one configuration's measurements.
type benchAVSide struct {
	Name    string `json:"name"`
	Engines int    `json:"engines"`
	// Counts, totals over the runs.
	Accepted    int     `json:"accepted"`     // Deliver answered 250 (a quarantine too)
	NotAccepted int     `json:"not_accepted"` // anything else
	AVErrors    int     `json:"av_errors"`    // engine results that were errors (should be 0)
	Infected    int     `json:"infected"`     // engine results that found something
	Seconds     float64 `json:"seconds"`
	Rate        float64 `json:"messages_per_second"`
	DeliverP50  float64 `json:"deliver_p50_ms"` // Pipeline.Deliver: checks, then archived and durable
	DeliverP99  float64 `json:"deliver_p99_ms"`
	AVP50       float64 `json:"av_p50_ms"` // the antivirus check alone (AVCheck.Run)
	AVP99       float64 `json:"av_p99_ms"`
	AVMax       float64 `json:"av_max_ms"`
	// AddedP50 and AddedP99: Deliver's percentile minus that of the
	// configuration without engines (when it was measured).
	AddedP50 float64 `json:"added_p50_ms,omitempty"`
	AddedP99 float64 `json:"added_p99_ms,omitempty"`
	CPUMS    float64 `json:"cpu_ms_per_message"` // this process: pipeline, archive, scan client
	// ClamdCPUMS is the CPU of the clamd processes used, per message, summed.
	ClamdCPUMS float64 `json:"clamd_cpu_ms_per_message"`
	// OtherCPU is the CPU that other processes of the machine used while this
	// configuration ran, in cores (from /proc/stat, minus this process and the
	// clamd processes): what a shared machine took away.
	OtherCPU float64   `json:"other_cpu_cores"`
	RunRates []float64 `json:"runs_messages_per_second,omitempty"`

	engines []int // indices of the clamd processes used
}

// benchAVRatio compares a configuration with the slowest single engine: for
// each percentile, the largest among the engines measured alone.
type benchAVRatio struct {
	Engines        int     `json:"engines"`
	SlowestAVP50   float64 `json:"slowest_single_av_p50_ms"`
	SlowestAVP99   float64 `json:"slowest_single_av_p99_ms"`
	SlowestP50Name string  `json:"slowest_single_p50"`
	SlowestP99Name string  `json:"slowest_single_p99"`
	AVP50          float64 `json:"av_p50_ratio"`
	AVP99          float64 `json:"av_p99_ratio"`
	DeliverP50     float64 `json:"deliver_p50_ratio"`
	DeliverP99     float64 `json:"deliver_p99_ratio"`
	AddedP50       float64 `json:"added_p50_ratio,omitempty"`
	AddedP99       float64 `json:"added_p99_ratio,omitempty"`
	Target         float64 `json:"target"`
	Met            bool    `json:"met"` // both antivirus-check ratios ≤ Target
}

// benchEICAR is the EICAR test file: not a virus, a string every antivirus detects.
const benchEICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// benchAVTarget is issue 6's target: N engines cost at most this times the
// latency of the slowest single engine.
const benchAVTarget = 1.5

// runBenchAntivirus measures what antivirus engines add to intake: corpus
// messages go through the real intake.Pipeline (checks, then archived and
// durable in a fresh data directory) from concurrent senders, in process, with
// only the antivirus check (no SPF/DKIM/DMARC, no relay) so that the engines'
// cost is what differs between configurations. Each engine is its own clamd
// process with a small database of its own.
func runBenchAntivirus(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("bench antivirus", flag.ContinueOnError)
	enginesFlag := fs.String("engines", "0,1,4,16", "engine counts to measure, comma-separated")
	n := fs.Int("messages", 2000, "messages per configuration")
	clients := fs.Int("clients", 8, "concurrent senders calling Pipeline.Deliver")
	singles := fs.Int("singles", -1, "how many clamd processes to also measure alone (-1: all)")
	runs := fs.Int("runs", 1, "runs of every configuration (medians are reported)")
	corpus := fs.String("corpus", "", "the shared corpus (default: found upwards)")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	counts, err := parseEngineCounts(*enginesFlag)
	if err != nil || *n < 1 || *clients < 1 || *runs < 1 {
		if err == nil {
			err = errors.New("--messages, --clients and --runs must be at least 1")
		}
		return &exitError{code: 2, err: fmt.Errorf("bench antivirus: %w", err)}
	}
	if *corpus == "" {
		*corpus = findCorpus(m.Getenv("RESGUARDO_CORPUS"))
	}
	if *corpus == "" {
		return &exitError{code: 2, err: errors.New("bench antivirus: the shared corpus was not found: give --corpus DIR or set RESGUARDO_CORPUS")}
	}
	msgs, err := benchMessages(*corpus, *n)
	if err != nil {
		return err
	}
	total := slices.Max(counts)
	if _, err := exec.LookPath("clamd"); err != nil && total > 0 {
		return &exitError{code: 2, err: errors.New("bench antivirus: clamd not found (apt-get install clamav-daemon)")}
	}
	say := func(format string, a ...any) { fmt.Fprintf(m.Stderr, format+"\n", a...) }
	rep := benchAVReport{Date: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Corpus: *corpus, Clients: *clients, Messages: len(msgs), Runs: *runs}
	for _, b := range msgs {
		rep.Bytes += int64(len(b))
	}
	scratch, err := os.MkdirTemp("", "resguardo-bench-av-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)

	if *singles < 0 || *singles > total {
		*singles = total
	}
	say("bench antivirus: starting %d clamd processes", total)
	engines, err := startBenchClamds(ctx, scratch, total)
	defer func() {
		for _, e := range engines {
			e.kill()
		}
	}()
	if err != nil {
		return err
	}
	stopKill := context.AfterFunc(ctx, func() { // an interrupt stops them even mid-run
		for _, e := range engines {
			e.kill()
		}
	})
	defer stopKill()
	if len(engines) > 0 {
		rep.ClamAV = engines[0].version
	}

	// The plans: each engine count (engines 1..E), then each engine alone; the
	// first engine alone is the same plan as one engine.
	var plans []benchAVSide
	seen := map[string]int{}
	add := func(name string, idx []int) int {
		key := fmt.Sprint(idx)
		if i, ok := seen[key]; ok {
			return i
		}
		seen[key] = len(plans)
		plans = append(plans, benchAVSide{Name: name, Engines: len(idx), engines: idx})
		return len(plans) - 1
	}
	var configIdx, singleIdx []int
	for _, c := range counts {
		idx := make([]int, c)
		for i := range idx {
			idx[i] = i
		}
		name := fmt.Sprintf("%d engines", c)
		if c == 1 {
			name = "1 engine"
		}
		configIdx = append(configIdx, add(name, idx))
	}
	for i := 0; i < *singles; i++ {
		singleIdx = append(singleIdx, add(engines[i].engine.Name()+" alone", []int{i}))
	}

	// One pass through every engine first, not measured: clamd starts its
	// threads, and the first configuration does not pay for it.
	if total > 0 {
		warm := msgs[:min(len(msgs), 400)]
		say("bench antivirus: warming up: %d messages through all %d engines (not measured)", len(warm), total)
		all := make([]int, total)
		for i := range all {
			all[i] = i
		}
		if _, err := benchAVOnce(ctx, scratch, engines, benchAVSide{Name: "warm-up", engines: all}, warm, *clients); err != nil {
			return fmt.Errorf("bench antivirus: warm-up: %w", err)
		}
	}
	results := make([][]benchAVSide, len(plans))
	for r := 0; r < *runs; r++ {
		for i, p := range plans {
			if err := ctx.Err(); err != nil {
				return err
			}
			side, err := benchAVOnce(ctx, scratch, engines, p, msgs, *clients)
			if err != nil {
				return fmt.Errorf("bench antivirus: %s: %w", p.Name, err)
			}
			say("bench antivirus: run %d/%d %-16s %6.0f msg/s  Deliver p50 %7.1f p99 %7.1f ms  AV p50 %7.1f p99 %7.1f ms  (CPU ms/msg %.2f + clamd %.2f; %d errors; other processes used %.2f cores)",
				r+1, *runs, p.Name, side.Rate, side.DeliverP50, side.DeliverP99, side.AVP50, side.AVP99, side.CPUMS, side.ClamdCPUMS, side.AVErrors, side.OtherCPU)
			results[i] = append(results[i], side)
		}
	}
	merged := make([]benchAVSide, len(plans))
	for i, rs := range results {
		merged[i] = medianAVSide(rs)
	}
	var zero *benchAVSide
	for _, i := range configIdx {
		if merged[i].Engines == 0 {
			zero = &merged[i]
		}
	}
	for i := range merged {
		if zero != nil && merged[i].Engines > 0 {
			merged[i].AddedP50 = merged[i].DeliverP50 - zero.DeliverP50
			merged[i].AddedP99 = merged[i].DeliverP99 - zero.DeliverP99
		}
	}
	for _, i := range configIdx {
		rep.Configs = append(rep.Configs, merged[i])
	}
	for k, i := range singleIdx {
		s := merged[i]
		s.Name = engines[k].engine.Name() + " alone" // the first is also "1 engine"
		rep.Singles = append(rep.Singles, s)
	}
	if len(rep.Singles) > 0 {
		var slow benchAVRatio
		var slowD50, slowD99, slowA50, slowA99 float64
		for _, s := range rep.Singles {
			if s.AVP50 >= slow.SlowestAVP50 {
				slow.SlowestAVP50, slow.SlowestP50Name, slowD50, slowA50 = s.AVP50, s.Name, s.DeliverP50, s.AddedP50
			}
			if s.AVP99 >= slow.SlowestAVP99 {
				slow.SlowestAVP99, slow.SlowestP99Name, slowD99, slowA99 = s.AVP99, s.Name, s.DeliverP99, s.AddedP99
			}
		}
		for _, c := range rep.Configs {
			if c.Engines < 2 {
				continue
			}
			r := slow
			r.Engines, r.Target = c.Engines, benchAVTarget
			r.AVP50, r.AVP99 = ratio(c.AVP50, slow.SlowestAVP50), ratio(c.AVP99, slow.SlowestAVP99)
			r.DeliverP50, r.DeliverP99 = ratio(c.DeliverP50, slowD50), ratio(c.DeliverP99, slowD99)
			if zero != nil {
				r.AddedP50, r.AddedP99 = ratio(c.AddedP50, slowA50), ratio(c.AddedP99, slowA99)
			}
			r.Met = r.AVP50 <= benchAVTarget && r.AVP99 <= benchAVTarget
			rep.Ratios = append(rep.Ratios, r)
		}
	}
	for _, e := range engines {
		rss := e.peakRSSMB()
		rep.ClamdPeakRSS = max(rep.ClamdPeakRSS, rss)
		rep.ClamdTotalRSS += rss
	}
	if *jsonOut {
		return writeJSON(m, rep)
	}
	w := m.Stdout
	fmt.Fprintf(w, "load: %d corpus messages (%.1f MB), %d concurrent senders → intake.Pipeline.Deliver (antivirus check only; archived, durable), in process; median of %d run(s)\n",
		rep.Messages, float64(rep.Bytes)/1e6, rep.Clients, rep.Runs)
	fmt.Fprintf(w, "clamd: %s, %d processes, peak RSS %.0f MB each at most, %.0f MB together; %d CPUs\n",
		rep.ClamAV, len(engines), rep.ClamdPeakRSS, rep.ClamdTotalRSS, rep.CPUs)
	fmt.Fprintf(w, "%-16s %7s  %-19s %-19s %-19s %-17s %-9s %s\n", "", "msg/s", "Deliver p50/p99 ms", "added p50/p99 ms", "AV p50/p99 ms", "CPU ms/msg R·clamd", "AV errors", "others' cores")
	line := func(s benchAVSide) {
		fmt.Fprintf(w, "%-16s %7.0f  %8.1f / %-8.1f %8.1f / %-8.1f %8.1f / %-8.1f %7.2f · %-7.2f %-9d %.2f\n", s.Name, s.Rate,
			s.DeliverP50, s.DeliverP99, s.AddedP50, s.AddedP99, s.AVP50, s.AVP99, s.CPUMS, s.ClamdCPUMS, s.AVErrors, s.OtherCPU)
	}
	for _, s := range rep.Configs {
		line(s)
	}
	for _, s := range rep.Singles {
		line(s)
	}
	for _, r := range rep.Ratios {
		verdict := "met"
		if !r.Met {
			verdict = "not met"
		}
		fmt.Fprintf(w, "%d engines vs the slowest single engine (AV p50 %.1f ms %s, p99 %.1f ms %s): AV p50 %.2f×, p99 %.2f×; Deliver p50 %.2f×, p99 %.2f×; added p50 %.2f×, p99 %.2f× (target ≤ %.1f× on the AV check: %s)\n",
			r.Engines, r.SlowestAVP50, r.SlowestP50Name, r.SlowestAVP99, r.SlowestP99Name, r.AVP50, r.AVP99, r.DeliverP50, r.DeliverP99,
			r.AddedP50, r.AddedP99, r.Target, verdict)
	}
	return nil
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// parseEngineCounts reads "0,1,4,16".
func parseEngineCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 0 || c > 64 {
			return nil, fmt.Errorf("--engines: want counts from 0 to 64, got %q", f)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// benchLatencies collects durations in milliseconds from concurrent goroutines.
type benchLatencies struct {
	mu sync.Mutex
	ms []float64
}

func (l *benchLatencies) add(d time.Duration) {
	l.mu.Lock()
	l.ms = append(l.ms, float64(d.Microseconds())/1000)
	l.mu.Unlock()
}

// pct is the nearest-rank q-quantile (0 < q ≤ 1) of l.
func (l *benchLatencies) pct(q float64) float64 {
	s := slices.Clone(l.ms)
	if len(s) == 0 {
		return 0
	}
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// timedCheck times another check's Run.
type timedCheck struct {
	intake.Check
	lat *benchLatencies
}

func (c timedCheck) Run(ctx context.Context, m *intake.Message) intake.Outcome {
	t0 := time.Now()
	out := c.Check.Run(ctx, m)
	c.lat.add(time.Since(t0))
	return out
}

// benchAVOnce sends msgs through a new Pipeline whose antivirus check uses the
// plan's engines, into a new data directory, and measures it.
func benchAVOnce(ctx context.Context, scratch string, engines []*benchClamd, plan benchAVSide, msgs [][]byte, clients int) (benchAVSide, error) {
	side := plan
	side.engines = nil
	dir, err := os.MkdirTemp(scratch, "data-")
	if err != nil {
		return side, err
	}
	defer os.RemoveAll(dir)
	dir = filepath.Join(dir, "data")
	def := config.Default()
	if _, _, err := archive.Init(dir, "", time.Now()); err != nil {
		return side, err
	}
	a, err := archive.Open(ctx, archive.Options{Dir: dir, Writer: true, LockName: "bench", ZstdLevel: def.Archive.ZstdLevel,
		PackSize: int64(def.Archive.PackSize), Limits: message.Limits{MaxHeaderBytes: int(def.Limits.MaxHeaderBytes),
			MaxHeaderFields: def.Limits.MaxHeaderFields, MaxDepth: def.Limits.MaxMIMEDepth, MaxParts: def.Limits.MaxParts}})
	if err != nil {
		return side, err
	}
	defer a.Close()
	// As serve: the ingester's group commit with the default batch delay.
	in := a.Ingest(context.Background(), archive.IngestOptions{BatchSize: def.Archive.BatchSize, MaxDelay: def.Archive.BatchDelay.D()})
	defer in.Close()

	var avLat benchLatencies
	var avErrors, infected atomic.Int64
	var checks []intake.Check
	if len(plan.engines) > 0 {
		sc := &scan.Scanner{} // serve's defaults: 30 s timeout, no per-engine limit
		for _, i := range plan.engines {
			sc.Engines = append(sc.Engines, engines[i].engine)
		}
		checks = append(checks, timedCheck{lat: &avLat, Check: intake.AVCheck{Scanner: sc, Observe: func(rs []scan.Result) {
			for _, r := range rs {
				switch r.Verdict {
				case scan.Error:
					avErrors.Add(1)
				case scan.Infected:
					infected.Add(1)
				}
			}
		}}})
	}
	pipe, err := intake.New(intake.Options{Archive: in, Checks: checks, AuthServID: "mx.sefin.ejemplo.gob.mx"})
	if err != nil {
		return side, err
	}

	runtime.GC()
	all := make([]int, len(engines))
	for i := range all {
		all[i] = i
	}
	cpu0, clamd0, allClamd0, machine0 := selfCPUMS(), clamdCPUMS(engines, plan.engines), clamdCPUMS(engines, all), machineBusyMS()
	var deliverLat benchLatencies
	var next, accepted, other atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + c%200)}), uint16(40000+c))
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(msgs) {
					return
				}
				env := smtpgw.Envelope{Channel: smtpgw.ChannelMX, Listener: "mx", SessionID: fmt.Sprintf("bench-%d-%d", c, i),
					ClientAddr: client, LocalAddr: netip.MustParseAddrPort("192.0.2.1:25"), HELO: "cliente.remitente.mx",
					MailFrom: "oficialia@remitente.mx", Recipients: []string{benchRcpt}, Body: "8BITMIME", Received: time.Now()}
				t0 := time.Now()
				reply := pipe.Deliver(ctx, env, msgs[i])
				deliverLat.add(time.Since(t0))
				if reply.Code == 250 {
					accepted.Add(1)
				} else {
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	side.Seconds = time.Since(start).Seconds()
	if err := ctx.Err(); err != nil {
		return side, err
	}
	done := float64(len(msgs))
	side.CPUMS = (selfCPUMS() - cpu0) / done
	side.ClamdCPUMS = (clamdCPUMS(engines, plan.engines) - clamd0) / done
	if machine0 > 0 {
		ours := selfCPUMS() - cpu0 + clamdCPUMS(engines, all) - allClamd0
		side.OtherCPU = max(0, machineBusyMS()-machine0-ours) / 1000 / side.Seconds
	}
	side.Accepted, side.NotAccepted = int(accepted.Load()), int(other.Load())
	side.AVErrors, side.Infected = int(avErrors.Load()), int(infected.Load())
	side.Rate = done / side.Seconds
	side.DeliverP50, side.DeliverP99 = deliverLat.pct(0.50), deliverLat.pct(0.99)
	side.AVP50, side.AVP99, side.AVMax = avLat.pct(0.50), avLat.pct(0.99), avLat.pct(1)
	side.RunRates = []float64{side.Rate}
	if side.Accepted == 0 {
		return side, errors.New("no message was accepted")
	}
	return side, nil
}

// medianAVSide merges the runs of one plan: each figure is its median.
func medianAVSide(rs []benchAVSide) benchAVSide {
	out := rs[0]
	out.RunRates = nil
	med := func(f func(s benchAVSide) float64) float64 {
		xs := make([]float64, len(rs))
		for i, s := range rs {
			xs[i] = f(s)
		}
		return median(xs)
	}
	out.Seconds = med(func(s benchAVSide) float64 { return s.Seconds })
	out.Rate = med(func(s benchAVSide) float64 { return s.Rate })
	out.DeliverP50 = med(func(s benchAVSide) float64 { return s.DeliverP50 })
	out.DeliverP99 = med(func(s benchAVSide) float64 { return s.DeliverP99 })
	out.AVP50 = med(func(s benchAVSide) float64 { return s.AVP50 })
	out.AVP99 = med(func(s benchAVSide) float64 { return s.AVP99 })
	out.AVMax = med(func(s benchAVSide) float64 { return s.AVMax })
	out.CPUMS = med(func(s benchAVSide) float64 { return s.CPUMS })
	out.ClamdCPUMS = med(func(s benchAVSide) float64 { return s.ClamdCPUMS })
	out.OtherCPU = med(func(s benchAVSide) float64 { return s.OtherCPU })
	out.Accepted, out.NotAccepted, out.AVErrors, out.Infected = 0, 0, 0, 0
	for _, s := range rs { // counts are totals over the runs
		out.Accepted += s.Accepted
		out.NotAccepted += s.NotAccepted
		out.AVErrors += s.AVErrors
		out.Infected += s.Infected
		out.RunRates = append(out.RunRates, s.Rate)
	}
	return out
}

// selfCPUMS is this process's CPU time (user + system) so far.
func selfCPUMS() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

// machineBusyMS is the CPU time all processes of the machine used since boot
// (the first line of /proc/stat, without idle and iowait, in 10 ms ticks); 0
// where /proc is missing.
func machineBusyMS() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy * 10
}

// clamdCPUMS sums the CPU time of the given clamd processes so far.
func clamdCPUMS(engines []*benchClamd, idx []int) float64 {
	var sum float64
	for _, i := range idx {
		sum += engines[i].cpuMS()
	}
	return sum
}

// benchClamd is a clamd process started for the benchmark.
type benchClamd struct {
	cmd     *exec.Cmd
	engine  *scan.Clamd
	dir     string
	version string
	exited  chan struct{}
	once    sync.Once
}

// benchClamdAttr, where set (Linux), makes clamd die with the benchmark even
// when the benchmark is killed without a chance to stop it.
var benchClamdAttr func() *syscall.SysProcAttr

// startBenchClamds starts n clamd processes at once, each in its own directory
// under scratch, and waits until each answers and detects its signatures. The
// returned processes are to be killed by the caller, also on error.
func startBenchClamds(ctx context.Context, scratch string, n int) ([]*benchClamd, error) {
	var out []*benchClamd
	for i := 1; i <= n; i++ {
		c, err := launchBenchClamd(filepath.Join(scratch, fmt.Sprintf("clamd-%02d", i)), benchClamdDB(i))
		if err != nil {
			return out, err
		}
		c.engine.EngineName = fmt.Sprintf("clamd-%02d", i)
		out = append(out, c)
	}
	for i, c := range out {
		if err := c.ready(ctx, i+1); err != nil {
			return out, err
		}
	}
	return out, nil
}

// benchClamdDB is engine i's database: the EICAR file by hash, the EICAR
// string anywhere, a marker of its own, and a signature with a wildcard, so
// that clamd runs both its hash and its pattern matchers on every scan.
func benchClamdDB(i int) map[string]string {
	hx := func(s string) string { return hex.EncodeToString([]byte(s)) }
	sum := md5.Sum([]byte(benchEICAR))
	return map[string]string{
		"bench.hdb": fmt.Sprintf("%x:%d:Resguardo.Bench.EICAR.HDB\n", sum, len(benchEICAR)),
		"bench.ndb": "Resguardo.Bench.EICAR.NDB:0:*:" + hx("EICAR-STANDARD-ANTIVIRUS-TEST-FILE") + "\n" +
			fmt.Sprintf("Resguardo.Bench.Engine%02d:0:*:%s\n", i, hx(fmt.Sprintf("RESGUARDO-BENCH-ENGINE-%02d", i))) +
			"Resguardo.Bench.Wildcard:0:*:" + hx("RESGUARDO-MUESTRA") + "{-64}" + hx("FIN-DE-MUESTRA") + "\n",
	}
}

// launchBenchClamd writes clamd.conf and the database db (file name →
// signatures) into dir and starts clamd on a unix socket there, offline. It
// does not wait for clamd to answer (see ready). clamd's cache of clean files
// is off: the benchmark sends the same messages in every run, and a gateway
// scans mail it has not seen; with the cache, later runs cost clamd about half
// the CPU of the first.
func launchBenchClamd(dir string, db map[string]string) (*benchClamd, error) {
	for _, d := range []string{"db", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	for name, content := range db {
		if err := os.WriteFile(filepath.Join(dir, "db", name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	sock := filepath.Join(dir, "clamd.sock")
	conf := fmt.Sprintf("DatabaseDirectory %[1]s/db\nLocalSocket %[2]s\nLocalSocketMode 660\nForeground yes\n"+
		"PidFile %[1]s/clamd.pid\nLogFile %[1]s/clamd.log\nTemporaryDirectory %[1]s/tmp\n"+
		"StreamMaxLength 32M\nMaxThreads 12\nSelfCheck 0\nDisableCache yes\n", dir, sock)
	if os.Geteuid() == 0 {
		conf += "User root\n" // stay root: the directories are root's
	}
	confFile := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("clamd", "--foreground", "-c", confFile)
	if benchClamdAttr != nil {
		cmd.SysProcAttr = benchClamdAttr()
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &benchClamd{cmd: cmd, dir: dir, exited: make(chan struct{}), engine: &scan.Clamd{Network: "unix", Address: sock}}
	go func() { cmd.Wait(); close(c.exited) }()
	return c, nil
}

// ready waits until clamd answers VERSION, then checks that it detects the
// EICAR file and its own marker: its database is loaded and it matches.
func (c *benchClamd) ready(ctx context.Context, i int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		vctx, cancel := context.WithTimeout(ctx, time.Second)
		v, err := c.engine.Version(vctx)
		cancel()
		if err == nil {
			c.version = v
			break
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited: %s", c.engine.Name(), c.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never answered: %v\n%s", c.engine.Name(), err, c.logTail())
		}
	}
	for data, want := range map[string]string{
		benchEICAR: "Resguardo.Bench.EICAR",
		fmt.Sprintf("Asunto: prueba\r\n\r\nRESGUARDO-BENCH-ENGINE-%02d\r\n", i): fmt.Sprintf("Resguardo.Bench.Engine%02d", i),
		"RESGUARDO-MUESTRA de firma con comodines FIN-DE-MUESTRA":               "Resguardo.Bench.Wildcard",
		"Oficio sin nada que detectar.\r\n":                                     "",
	} {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		r, err := c.engine.Scan(sctx, []byte(data))
		cancel()
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", c.engine.Name(), err)
		case want == "" && r.Verdict != scan.Clean, want != "" && (r.Verdict != scan.Infected || !strings.HasPrefix(r.Threat, want)):
			return fmt.Errorf("%s: %q gave %s %q, want %q", c.engine.Name(), data[:min(len(data), 30)], r.Verdict, r.Threat, want)
		}
	}
	return nil
}

// kill stops clamd and waits for it; it may be called more than once.
func (c *benchClamd) kill() {
	c.once.Do(func() {
		c.cmd.Process.Kill()
		<-c.exited
	})
}

func (c *benchClamd) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "clamd.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// cpuMS is the process's user + system time from /proc (in clock ticks of
// 10 ms, Linux's USER_HZ); 0 where /proc is missing.
func (c *benchClamd) cpuMS() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) * 10
}

// peakRSSMB is the process's peak resident set (VmHWM); 0 where /proc is missing.
func (c *benchClamd) peakRSSMB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
