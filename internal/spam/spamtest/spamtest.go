// Package spamtest starts real SpamAssassin (spamd) and rspamd daemons for
// tests: private working directories under t.TempDir(), free loopback ports,
// no network (spamd runs local tests only; rspamd's DNS goes to an empty
// loopback DNS server, so every lookup is answered NXDOMAIN at once). The
// daemons are stopped when the test ends.
//
// When a program is not installed the test is skipped, or fails when CI=true
// (where nothing may be skipped). Debian packages: spamassassin, spamd
// (spamc is handy by hand) and rspamd.
//
// rspamd compiles its Hyperscan regular expressions on first start (about
// 13 s on the reference machine); the compiled cache is kept between runs in
// $RESGUARDO_RSPAMD_CACHE, or the user cache directory
// (resguardo/rspamd-hs-VERSION), which brings a start down to about 1 s.
package spamtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/dnstest"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// daemon is a started process group.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    *bytes.Buffer
}

func startDaemon(t testing.TB, dir, path string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out := &bytes.Buffer{}
	cmd.Stdout = &cappedWriter{b: out}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	d := &daemon{cmd: cmd, exited: make(chan struct{}), out: out}
	go func() {
		cmd.Wait()
		close(d.exited)
	}()
	return d
}

// stop ends the daemon's process group: SIGTERM, then SIGKILL after 10 s.
func (d *daemon) stop() {
	pgid := d.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-d.exited
	}
	// Workers that outlived their parent.
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// wait polls ready until it succeeds, the daemon exits or timeout passes.
func (d *daemon) wait(timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ready() {
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("exited: %v", d.cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready after %v", timeout)
}

// cappedWriter keeps the first MiB of the daemon's output. exec.Cmd calls it
// from one goroutine at a time (Stdout and Stderr are the same writer).
type cappedWriter struct {
	b *bytes.Buffer
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	if len(p) > 0 && w.b.Len() < 1<<20 {
		w.b.Write(p)
	}
	return len(p), nil
}

// tail returns the last lines of a log file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// StartSpamd starts spamd (SpamAssassin's stock rules, local tests only: no
// DNS or network checks, no user configuration) on a free loopback port with
// two children, and returns its "127.0.0.1:port" address.
func StartSpamd(t testing.TB) string {
	t.Helper()
	path := corpustest.Program(t, "spamd", "spamd")
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		logFile := filepath.Join(dir, fmt.Sprintf("spamd-%d.log", attempt))
		args := []string{"-L", "-x", "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-A", "127.0.0.1",
			"-m", "2", "--helper-home-dir=" + dir, "-s", logFile}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "nobody") // spamd does not run children as root
		}
		start := time.Now()
		d := startDaemon(t, dir, path, args...)
		err := d.wait(60*time.Second, func() bool { return spamdPing(addr) })
		if err == nil {
			t.Logf("spamtest: spamd ready on %s in %v", addr, time.Since(start).Round(time.Millisecond))
			t.Cleanup(d.stop)
			return addr
		}
		d.stop()
		lastErr = fmt.Errorf("spamd on %s: %v\n%s\n%s", addr, err, d.out.String(), tail(logFile, 20))
	}
	t.Fatal(lastErr)
	return ""
}

// spamdPing sends PING and expects PONG.
func spamdPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING SPAMC/1.5\r\n\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.Contains(line, "PONG")
}

// StartRspamd starts rspamd (the stock Debian configuration, one scanner
// worker, no controller or proxy, DNS to an empty loopback server, and off
// what cannot work offline: fuzzy checks and hfilter's DNS checks) on a
// free loopback port and returns the scanner's base URL
// ("http://127.0.0.1:port"), for POST /checkv2. It takes about 1 s with a
// warm Hyperscan cache and 13 s or more without (see the package doc).
func StartRspamd(t testing.TB) string {
	t.Helper()
	path := corpustest.Program(t, "rspamd", "rspamd")
	dir := t.TempDir()
	dnsSrv := dnstest.StartT(t, dnstest.Zone{})
	cache := hsCacheDir(path)
	if cache == "" {
		cache = filepath.Join(dir, "hs")
	}
	local := filepath.Join(dir, "local")
	for _, d := range []string{filepath.Join(local, "local.d"), filepath.Join(local, "override.d"), cache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel, content string) {
		if err := os.WriteFile(filepath.Join(local, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("local.d/options.inc", fmt.Sprintf(
		"dns {\n  nameserver = [\"%s\"];\n  timeout = 1s;\n  retransmits = 1;\n}\nhs_cache_dir = %q;\n",
		dnsSrv.Addr, cache))
	write("override.d/worker-controller.inc", "enabled = false;\n")
	write("override.d/worker-proxy.inc", "enabled = false;\n")
	write("override.d/fuzzy_check.conf", "enabled = false;\n") // would resolve rspamd.com's servers
	// hfilter penalises host names that do not resolve: offline, that is
	// every name, so it would flag all mail.
	write("override.d/hfilter.conf", "enabled = false;\n")
	write("local.d/logging.inc", "level = \"warning\";\n")

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		write("override.d/worker-normal.inc", fmt.Sprintf("bind_socket = \"127.0.0.1:%d\";\ncount = 1;\n", port))
		args := []string{"-f", "--var=LOCAL_CONFDIR=" + local, "--var=RUNDIR=" + dir,
			"--var=DBDIR=" + dir, "--var=LOGDIR=" + dir}
		if os.Geteuid() == 0 {
			// The work directory is private to this user; run the workers
			// as root rather than as _rspamd.
			args = append(args, "-i")
		}
		start := time.Now()
		d := startDaemon(t, dir, path, args...)
		client := &http.Client{Timeout: 2 * time.Second}
		err := d.wait(240*time.Second, func() bool { return rspamdPing(client, base) })
		if err == nil {
			t.Logf("spamtest: rspamd ready on %s in %v", base, time.Since(start).Round(time.Millisecond))
			t.Cleanup(d.stop)
			return base
		}
		d.stop()
		lastErr = fmt.Errorf("rspamd on %s: %v\n%s\n%s", base, err, d.out.String(),
			tail(filepath.Join(dir, "rspamd.log"), 30))
	}
	t.Fatal(lastErr)
	return ""
}

func rspamdPing(c *http.Client, base string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ping", nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var buf [16]byte
	n, _ := resp.Body.Read(buf[:])
	return resp.StatusCode == http.StatusOK && strings.HasPrefix(string(buf[:n]), "pong")
}

// hsCacheDir is where compiled Hyperscan databases are kept between runs,
// per rspamd version; "" when no cache directory can be used.
func hsCacheDir(rspamdPath string) string {
	if d := os.Getenv("RESGUARDO_RSPAMD_CACHE"); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	ver := "unknown"
	if out, err := exec.Command(rspamdPath, "--version").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) > 0 {
			ver = f[len(f)-1]
		}
	}
	return filepath.Join(base, "resguardo", "rspamd-hs-"+ver)
}
