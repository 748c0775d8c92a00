// Package scantest starts real antivirus engines for tests: clamd from Debian's
// clamav-daemon, offline, with a database of signatures the test writes, and
// c-icap (Debian's c-icap and libc-icap-mod-virus-scan) in front of it; and
// ICAPResponder, a minimal ICAP service that misbehaves as told.
package scantest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/scan"
)

// EICARHash is the .hdb line that detects the EICAR test file.
const EICARHash = "44d88612fea8a8f36de82e1278abb02f:68:Resguardo.EICAR.HDB\n"

// EICAR is the EICAR test file: not a virus, a string every antivirus detects.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// StartClamd starts clamd on a unix socket with db (file name → signatures) as its
// whole database, and stops it when the test ends. With CI=true a missing clamd
// fails the test; otherwise it skips.
func StartClamd(t testing.TB, db map[string]string) *scan.Clamd {
	t.Helper()
	bin := corpustest.Program(t, "clamd", "clamav-daemon")
	dir := t.TempDir()
	for _, d := range []string{"db", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range db {
		if err := os.WriteFile(filepath.Join(dir, "db", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "clamd.sock")
	conf := fmt.Sprintf("DatabaseDirectory %[1]s/db\nLocalSocket %[2]s\nLocalSocketMode 666\nForeground true\nUser root\n"+
		"PidFile %[1]s/clamd.pid\nLogFile %[1]s/clamd.log\nTemporaryDirectory %[1]s/tmp\nStreamMaxLength 1M\nMaxThreads 4\nSelfCheck 0\n", dir, sock)
	if err := os.WriteFile(filepath.Join(dir, "clamd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "clamd.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := &scan.Clamd{EngineName: "clamd-" + filepath.Base(dir), Network: "unix", Address: sock}
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Version(ctx)
		cancel()
		if err == nil {
			return c
		}
		if i == 200 {
			log, _ := os.ReadFile(filepath.Join(dir, "clamd.log"))
			t.Fatalf("clamd never answered: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
