package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/corpustest"
)

// serveProc is `resguardo serve` running as a process of its own.
type serveProc struct {
	cmd    *exec.Cmd
	stderr *lockedBuf
	base   string
	done   chan struct{}
}

// startServeProc starts serve over data and waits until its import socket answers.
func startServeProc(t *testing.T, data string, extra ...string) *serveProc {
	t.Helper()
	addr := freePort(t)
	s := &serveProc{stderr: &lockedBuf{}, base: "http://" + addr, done: make(chan struct{})}
	s.cmd = selfCmd(t, append([]string{"serve", "--data", data, "--listen", addr}, extra...)...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.kill(syscall.SIGTERM) })
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", importSocketPath(data)); err == nil {
			c.Close()
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("serve ended:\n%s", s.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if i == 1200 {
			t.Fatalf("serve's import socket never answered:\n%s", s.stderr.String())
		}
	}
}

// kill sends sig and waits for serve to end.
func (s *serveProc) kill(sig syscall.Signal) {
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(90 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// importRun runs `resguardo import --json` as a process and returns its events,
// summary, exit status and stderr.
func importRun(t *testing.T, args ...string) (map[string]int, importSummary, int, string) {
	t.Helper()
	cmd := selfCmd(t, append([]string{"import", "--json", "--progress", "never"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	events := map[string]int{}
	var sum importSummary
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var ev struct {
			Event string `json:"event"`
		}
		if json.Unmarshal([]byte(l), &ev) != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if ev.Event == "summary" {
			json.Unmarshal([]byte(l), &sum)
			continue
		}
		events[ev.Event]++
	}
	if sum.Event != "summary" {
		t.Fatalf("import: no summary (exit %d)\n%s", code, clipOut(stderr.String()))
	}
	return events, sum, code, stderr.String()
}

func importServeInputs(t *testing.T) []string {
	corpus := corpustest.Dir(t)
	es, _ := filepath.Abs(filepath.Join("testdata", "es"))
	return []string{es,
		filepath.Join(corpus, "real", "open-iscsi-googlegroups"),
		filepath.Join(corpus, "torture", "sisimai-bounces"), // maildirs and mbox files
		filepath.Join(corpus, "torture", "stalwart-mail-parser", "malformed"),
	}
}

func sameCounts(t *testing.T, what string, got, want importSummary) {
	t.Helper()
	if got.Archived != want.Archived || got.Duplicate != want.Duplicate || got.Malformed != want.Malformed ||
		got.Failed != want.Failed || got.Skipped != want.Skipped || got.Bytes != want.Bytes || got.Interrupted {
		t.Fatalf("%s: %+v\nwant the lock-holding import's %+v", what, got, want)
	}
}

// TestImportThroughServe imports while serve runs: the messages go through
// serve's import socket, with the same results as an import holding the lock,
// constancias at once and the records searchable in serve's web application.
func TestImportThroughServe(t *testing.T) {
	inputs := importServeInputs(t)
	ref := filepath.Join(t.TempDir(), "ref")
	_, want, code, errOut := importRun(t, append([]string{"--data", ref}, inputs...)...)
	if code != 0 || strings.Contains(errOut, "through serve") {
		t.Fatalf("reference import: exit %d\n%s", code, clipOut(errOut))
	}

	// A data directory with an auditor who can log in, then serve over it.
	data := filepath.Join(t.TempDir(), "data")
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }, DataDir: data}
	if err := m.setup(); err != nil {
		t.Fatal(err)
	}
	pw, totpKey, _, err := benchWebAccount(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServeProc(t, data)
	sock := importSocketPath(data)
	if st, err := os.Stat(sock); err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("import socket %v: mode %v", err, st.Mode())
	}

	events, got, code, errOut := importRun(t, append([]string{"--data", data}, inputs...)...)
	if code != 0 || !strings.Contains(errOut, "archived through serve") {
		t.Fatalf("import through serve: exit %d\n%s", code, clipOut(errOut))
	}
	sameCounts(t, "import through serve", got, want)
	t.Logf("%d messages: %.2f s holding the lock, %.2f s through serve", want.Archived+want.Duplicate, want.Seconds, got.Seconds)
	if int64(events["archived"]) != want.Archived || int64(events["duplicate"]) != want.Duplicate {
		t.Fatalf("events %v, summary %+v", events, got)
	}
	if got.LedgerSize < want.LedgerSize {
		t.Fatalf("ledger size %d, want at least %d", got.LedgerSize, want.LedgerSize)
	}
	if !strings.Contains(srv.stderr.String(), "import batch") {
		t.Errorf("serve did not log the import batches:\n%s", clipOut(srv.stderr.String()))
	}
	// The same records as the lock-holding import.
	refIDs, ids := allIDs(t, ref), allIDs(t, data)
	if len(ids) != len(refIDs) {
		t.Fatalf("%d records, the lock-holding import has %d", len(ids), len(refIDs))
	}
	for id := range refIDs {
		if !ids[id] {
			t.Fatalf("record %s missing", id)
		}
	}

	// serve timestamped at the end: the constancia is there at once.
	oficio := idOf(t, filepath.Join("testdata", "es", "oficio-licitacion.eml"))
	if out, errOut, code := cli(t, "constancia", "--data", data, oficio, "--out", t.TempDir()); code != 0 {
		t.Fatalf("constancia right after the import: exit %d\n%s\n%s", code, out, errOut)
	}
	// serve indexed before the import ended: a search in its web application finds it.
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, Timeout: time.Minute}
	if err := benchWebLoginFlow(cl, srv.base, pw, totpKey); err != nil {
		t.Fatal(err)
	}
	r, err := cl.Get(srv.base + "/buscar?" + url.Values{"q": {"LPN-014"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(page), "/mensaje/"+oficio) {
		t.Fatalf("search through serve does not find the imported oficio:\n%s", clipOut(string(page)))
	}

	// Again: everything already present.
	_, again, code, errOut := importRun(t, append([]string{"--data", data}, inputs...)...)
	if code != 0 || again.Archived != 0 || again.Duplicate != want.Archived+want.Duplicate || again.Failed != want.Failed {
		t.Fatalf("second import through serve: exit %d %+v\n%s", code, again, clipOut(errOut))
	}

	// serve stopped: the socket is gone and import takes the lock itself.
	srv.kill(syscall.SIGTERM)
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("import socket left behind after serve stopped: %v", err)
	}
	_, alone, code, errOut := importRun(t, "--data", data, inputs[0])
	if code != 0 || strings.Contains(errOut, "through serve") || alone.Archived != 0 || alone.Duplicate != 5 {
		t.Fatalf("import with serve stopped: exit %d %+v\n%s", code, alone, clipOut(errOut))
	}
}

// TestImportLockedWithoutServe: a lock held by something that is not serve
// (no import socket) gives the same error as before.
func TestImportLockedWithoutServe(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	mustCLI(t, "init", "--data", data)
	l, err := archive.AcquireLock(data, "import")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, errOut, code := cli(t, "import", "--data", data, "testdata/es")
	if code != 1 || !strings.Contains(errOut, "in use by another resguardo process") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
}

// TestImportThroughServeKill9 SIGKILLs imports going through serve at random
// moments; a final run completes the import with no gaps and no duplicates. A
// serve killed with SIGKILL leaves its socket behind: the next serve replaces it.
func TestImportThroughServeKill9(t *testing.T) {
	corpus := corpustest.Dir(t)
	inputs := append(importServeInputs(t), filepath.Join(corpus, "real", "osst-users-spam"), filepath.Join(corpus, "real", "linux-mips", "sample"))
	ref := filepath.Join(t.TempDir(), "ref")
	_, want, code, _ := importRun(t, append([]string{"--data", ref}, inputs...)...)
	if code != 0 {
		t.Fatalf("reference import: exit %d", code)
	}
	refIDs := allIDs(t, ref)

	data := filepath.Join(t.TempDir(), "data")
	mustCLI(t, "init", "--data", data)
	srv := startServeProc(t, data)
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 11))
	reported := map[string]bool{}
	kills := 0
	for i := 0; i < 5; i++ {
		cmd := selfCmd(t, append([]string{"import", "--data", data, "--json", "--progress", "never"}, inputs...)...)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan []string)
		go func() {
			var ls []string
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<24)
			for sc.Scan() {
				ls = append(ls, sc.Text())
			}
			lines <- ls
		}()
		delay := time.Duration(300+rng.IntN(1200)) * time.Millisecond
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		ls := <-lines
		if err := cmd.Wait(); err != nil {
			kills++
		}
		n := 0
		for _, l := range ls {
			var ev importEvent
			if json.Unmarshal([]byte(l), &ev) == nil && ev.Event == "archived" {
				reported[ev.ID] = true
				n++
			}
		}
		t.Logf("run %d: killed after %v, %d archived reported", i, delay, n)
	}
	if kills == 0 {
		t.Fatal("no import was actually killed")
	}
	have := allIDs(t, data)
	for id := range reported {
		if !have[id] {
			t.Fatalf("%s was reported archived but is not in the archive", id)
		}
	}

	// serve dies without removing its socket; the next one replaces it.
	srv.kill(syscall.SIGKILL)
	if st, err := os.Stat(importSocketPath(data)); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("a SIGKILLed serve should leave its socket: %v", err)
	}
	srv = startServeProc(t, data)
	if !strings.Contains(srv.stderr.String(), "removed a stale import socket") {
		t.Errorf("the stale socket was not reported:\n%s", clipOut(srv.stderr.String()))
	}
	if st, err := os.Stat(importSocketPath(data)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("import socket %v", err)
	}
	// A second serve refuses to start (the writer lock already refuses it).
	if out, err := selfCmd(t, "serve", "--data", data, "--listen", freePort(t)).CombinedOutput(); err == nil {
		t.Fatalf("a second serve started:\n%s", out)
	}

	// SIGINT: the batches sent are answered, the summary says interrupted, exit 130.
	cmd := selfCmd(t, append([]string{"import", "--data", data, "--json", "--progress", "never"}, inputs...)...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var last string
	for n := 1; sc.Scan(); n++ {
		if last = sc.Text(); n == 300 {
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	cmd.Wait()
	var isum importSummary
	if err := json.Unmarshal([]byte(last), &isum); err != nil || !isum.Interrupted || cmd.ProcessState.ExitCode() != 130 {
		t.Fatalf("interrupted import through serve: exit %d, last line %q", cmd.ProcessState.ExitCode(), last)
	}

	_, got, code, errOut := importRun(t, append([]string{"--data", data}, inputs...)...)
	if code != 0 || !strings.Contains(errOut, "through serve") {
		t.Fatalf("final import: exit %d\n%s", code, clipOut(errOut))
	}
	if got.Archived+got.Duplicate != want.Archived+want.Duplicate || got.Failed != want.Failed {
		t.Fatalf("final import %+v, want %d archived or present", got, want.Archived+want.Duplicate)
	}
	srv.kill(syscall.SIGTERM)
	fsckClean(t, data, false)
	have = allIDs(t, data)
	if len(have) != len(refIDs) {
		t.Fatalf("%d records, the uninterrupted import has %d", len(have), len(refIDs))
	}
	for id := range refIDs {
		if !have[id] {
			t.Fatalf("record %s missing", id)
		}
	}
}

// TestImportThroughServeGateway: with SMTP listeners, the import's messages go
// through the gateway's ingester, alongside mail arriving by SMTP.
func TestImportThroughServeGateway(t *testing.T) {
	g := startGatewayServe(t, "")
	es, _ := filepath.Abs(filepath.Join("testdata", "es"))
	events, sum, code, errOut := importRun(t, "--data", g.data, es)
	if code != 0 || !strings.Contains(errOut, "through serve") || sum.Archived != 5 || events["archived"] != 5 {
		t.Fatalf("import through serve's gateway: exit %d %+v\n%s", code, sum, clipOut(errOut))
	}
	if err := g.stop(t); err != nil {
		t.Fatalf("serve: %v\n%s", err, g.stderr.String())
	}
	if _, err := os.Stat(importSocketPath(g.data)); !os.IsNotExist(err) {
		t.Fatalf("import socket left behind: %v", err)
	}
}
