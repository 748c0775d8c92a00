package scantest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/scan"
)

// StartCICAP starts c-icap (Debian's c-icap and libc-icap-mod-virus-scan) on a
// free loopback port, with the virus_scan service backed by the clamd at
// clamd: a unix socket path (as scan.Clamd.Address of StartClamd) or
// host:port. It returns an ICAP engine for its "avscan" service once OPTIONS
// answers, and stops c-icap when the test ends. With CI=true a missing c-icap
// fails the test; otherwise it skips.
func StartCICAP(t testing.TB, clamd string) *scan.ICAP {
	t.Helper()
	bin, err := exec.LookPath("c-icap")
	modules := ""
	if err == nil {
		modules, err = cicapModules()
	}
	if err != nil {
		corpustest.Require(t, fmt.Sprintf("c-icap not installed (apt-get install -y c-icap libc-icap-mod-virus-scan): %v", err))
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	engine := "clamd_mod.ClamdSocket " + clamd
	if !strings.HasPrefix(clamd, "/") {
		host, port, err := net.SplitHostPort(clamd)
		if err != nil {
			t.Fatalf("clamd %q: neither a socket path nor host:port", clamd)
		}
		engine = "clamd_mod.ClamdHost " + host + "\nclamd_mod.ClamdPort " + port
	}
	// A port taken by someone else between FreePort and c-icap's bind makes
	// c-icap exit: try again on another.
	var why string
	for attempt := 0; attempt < 3; attempt++ {
		var c *scan.ICAP
		if c, why = startCICAP(t, bin, dir, modules, attempt, engine); c != nil {
			return c
		}
	}
	t.Fatalf("c-icap never answered OPTIONS: %s", why)
	return nil
}

// startCICAP runs c-icap once; on failure it returns why.
func startCICAP(t testing.TB, bin, dir, modules string, attempt int, engine string) (*scan.ICAP, string) {
	port := FreePort(t)
	conf := filepath.Join(dir, fmt.Sprintf("c-icap-%d.conf", attempt))
	if err := os.WriteFile(conf, []byte(cicapConf(dir, port, modules, engine)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, fmt.Sprintf("c-icap-%d.out", attempt)))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-N", "-f", conf)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // c-icap forks its workers: stop the whole group
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(exited) }()
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	c := &scan.ICAP{EngineName: "c-icap-" + filepath.Base(dir), URL: fmt.Sprintf("icap://127.0.0.1:%d/avscan", port)}
	for i := 0; i < 200; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = c.Version(ctx)
		cancel()
		if err == nil {
			t.Cleanup(stop)
			return c, ""
		}
		select {
		case <-exited:
			i = 200
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	stdout, _ := os.ReadFile(out.Name())
	log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
	return nil, fmt.Sprintf("%v\n%s\n%s", err, stdout, log)
}

// cicapModules is where Debian puts c-icap's modules (one directory per
// architecture).
func cicapModules() (string, error) {
	m, _ := filepath.Glob("/usr/lib/*/c_icap/virus_scan.so")
	if len(m) == 0 {
		return "", errors.New("no c_icap/virus_scan.so under /usr/lib/*")
	}
	return filepath.Dir(m[0]), nil
}

// cicapConf is a c-icap configuration with everything under dir; all file
// type groups are scanned (c-icap answers 204, unscanned, for the others).
func cicapConf(dir string, port int, modules, engine string) string {
	return fmt.Sprintf(`PidFile %[1]s/c-icap.pid
CommandsSocket %[1]s/c-icap.ctl
Port 127.0.0.1:%[2]d
User root
Timeout 60
StartServers 1
MaxServers 2
ThreadsPerChild 8
MinSpareThreads 1
MaxSpareThreads 8
TmpDir %[1]s/tmp
ServerLog %[1]s/server.log
AccessLog %[1]s/access.log
DebugLevel 1
ModulesDir %[3]s
ServicesDir %[3]s
TemplateDir /usr/share/c_icap/templates/
TemplateDefaultLanguage en
LoadMagicFile /etc/c-icap/c-icap.magic
Module common clamd_mod.so
%[4]s
Service antivirus_module virus_scan.so
ServiceAlias avscan virus_scan?allow204=on&sizelimit=off&mode=simple
virus_scan.ScanFileTypes TEXT DATA EXECUTABLE ARCHIVE GRAPHICS STREAM DOCUMENT
virus_scan.DefaultEngine clamd
`, dir, port, modules, engine)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
