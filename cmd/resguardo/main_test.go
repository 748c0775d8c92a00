package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// TestMain lets tests run this test binary as the resguardo command (for kill -9
// and signal tests): with RESGUARDO_TEST_MAIN=1 it behaves exactly like main().
func TestMain(m *testing.M) {
	if os.Getenv("RESGUARDO_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	if unpackDir != "" {
		os.RemoveAll(unpackDir)
	}
	os.Exit(code)
}

// cli runs one command in-process and returns its output and exit status.
func cli(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e, Getenv: func(k string) string {
		if k == "RESGUARDO_LANG" {
			return "en"
		}
		return ""
	}}
	err := m.Run(context.Background(), args)
	code = 0
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
			if ee.err != nil {
				e.WriteString(ee.err.Error() + "\n")
			}
		} else {
			code = 1
			e.WriteString(err.Error() + "\n")
		}
	}
	return o.String(), e.String(), code
}

// mustCLI runs a command that must succeed.
func mustCLI(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, code := cli(t, args...)
	if code != 0 {
		t.Fatalf("resguardo %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, clipOut(out), clipOut(errOut))
	}
	return out
}

func clipOut(s string) string {
	if len(s) > 4000 {
		return s[:2000] + "\n…\n" + s[len(s)-2000:]
	}
	return s
}

// selfCmd runs this test binary as the resguardo command.
func selfCmd(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "RESGUARDO_TEST_MAIN=1", "RESGUARDO_LANG=en")
	return cmd
}

var (
	unpackOnce sync.Once
	unpackDir  string
	unpackErr  error
)

// unpackedCorpus extracts the corpus's packed sets (*.tar.zst) once per test run and
// returns the directory holding them (mirroring their corpus-relative paths).
func unpackedCorpus(t testing.TB) string {
	t.Helper()
	corpus := corpustest.Dir(t)
	unpackOnce.Do(func() {
		unpackDir, unpackErr = os.MkdirTemp("", "resguardo-corpus-")
		if unpackErr == nil {
			unpackErr = extractPacks(corpus, unpackDir)
		}
	})
	if unpackErr != nil {
		t.Fatal(unpackErr)
	}
	return unpackDir
}

// copyDir copies a data directory (for tamper tests on a pristine copy).
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "data")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

// syncWriter serialises writes from concurrent goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func httpGet(url string) (*http.Response, error) { return http.Get(url) }
