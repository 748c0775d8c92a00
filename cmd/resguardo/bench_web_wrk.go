package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/identity"
)

// runWrk runs wrk with --latency against base+path and reads its report.
func runWrk(ctx context.Context, wrk, base, path, cookie string, conns int, d time.Duration) (benchWrk, error) {
	threads := min(2, conns)
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(max(1, int(d.Seconds()))) + "s", "--latency"}
	if cookie != "" {
		args = append(args, "-H", "Cookie: "+cookie)
	}
	args = append(args, base+path)
	c := exec.CommandContext(ctx, wrk, args...)
	t0 := time.Now()
	out, err := c.CombinedOutput()
	if err != nil {
		return benchWrk{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	w, err := parseWrk(string(out))
	if err != nil {
		return benchWrk{}, fmt.Errorf("%w\n%s", err, out)
	}
	w.WrkCores = cpuMS(c.ProcessState) / ms(time.Since(t0))
	w.Path, w.Threads, w.Connections = path, threads, conns
	return w, nil
}

// runWrks runs wrk on msgPath with the bench's session, and on two pages
// without a session as baselines, into rep.Wrk.
func (s *benchWebServer) runWrks(ctx context.Context, rep *benchWebReport, say func(string, ...any), wrkPath, msgPath string, conns int, d time.Duration) error {
	pid := s.cmd.Process.Pid
	var cookie string
	u, _ := url.Parse(s.base)
	for _, c := range s.jar.Cookies(u) {
		if c.Name == identity.CookieName(false) {
			cookie = c.Name + "=" + c.Value
		}
	}
	for _, t := range []struct{ name, path, cookie string }{
		{"message page (session, access entry each)", msgPath, cookie},
		{"/verificar (public form, no session)", "/verificar", ""},
		{"/healthz (catalog stats)", "/healthz", ""},
	} {
		say("wrk %s for %s", t.path, d)
		cpu0, busy0, t0 := procCPUMS(pid), machineBusyMS(), time.Now()
		w, err := runWrk(ctx, wrkPath, s.base, t.path, t.cookie, conns, d)
		if err != nil {
			return err
		}
		wall := ms(time.Since(t0))
		srvMS := procCPUMS(pid) - cpu0
		w.ServerCores = srvMS / wall
		w.OtherCores = max(0, (machineBusyMS()-busy0-srvMS)/wall-w.WrkCores)
		w.Name = t.name
		if w.Bad > 0 {
			return fmt.Errorf("wrk %s: %d responses were not 2xx/3xx or failed", t.path, w.Bad)
		}
		rep.Wrk = append(rep.Wrk, w)
	}
	return nil
}

var (
	wrkDoneRE   = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(us|ms|s|m)`)
	wrkRateRE   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkPctRE    = regexp.MustCompile(`(?m)^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	wrkNon2xxRE = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSockRE   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads wrk's text report (with --latency).
func parseWrk(out string) (benchWrk, error) {
	var w benchWrk
	toMS := func(v, unit string) float64 {
		f, _ := strconv.ParseFloat(v, 64)
		switch unit {
		case "us":
			return f / 1000
		case "s":
			return f * 1000
		case "m":
			return f * 60000
		}
		return f
	}
	d := wrkDoneRE.FindStringSubmatch(out)
	r := wrkRateRE.FindStringSubmatch(out)
	if d == nil || r == nil {
		return w, errors.New("wrk: report not understood")
	}
	w.Requests, _ = strconv.ParseInt(d[1], 10, 64)
	w.Seconds = toMS(d[2], d[3]) / 1000
	w.Rate, _ = strconv.ParseFloat(r[1], 64)
	for _, p := range wrkPctRE.FindAllStringSubmatch(out, -1) {
		v := toMS(p[2], p[3])
		switch p[1] {
		case "50":
			w.P50 = v
		case "75":
			w.P75 = v
		case "90":
			w.P90 = v
		case "99":
			w.P99 = v
		}
	}
	if x := wrkNon2xxRE.FindStringSubmatch(out); x != nil {
		n, _ := strconv.ParseInt(x[1], 10, 64)
		w.Bad += n
	}
	if x := wrkSockRE.FindStringSubmatch(out); x != nil {
		for _, s := range x[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			w.Bad += n
		}
	}
	return w, nil
}

// percentiles are p50, p95, p99 and the maximum of xs.
func percentiles(xs []float64) (p50, p95, p99, mx float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return
	}
	at := func(p int) float64 { return s[min(len(s)-1, len(s)*p/100)] }
	return at(50), at(95), at(99), s[len(s)-1]
}

// procCPUMS is the user + system CPU time of a running process in ms, from
// /proc/PID/stat (0 where there is no /proc).
func procCPUMS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may contain spaces
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // utime, field 14
	st, _ := strconv.ParseFloat(f[12], 64) // stime, field 15
	return (ut + st) * 1000 / 100          // USER_HZ is 100 on Linux
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
