package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// benchWebServer is serve, the binary itself, under measurement, and the
// bench's client logged in to it.
type benchWebServer struct {
	cmd     *exec.Cmd
	base    string
	stderr  bytes.Buffer
	stopped bool
	jar     *cookiejar.Jar
	cl      *http.Client
}

// benchWebStart makes the bench account through the identity service before
// serve starts (auditor, password without forced change, TOTP enrolled, so the
// bench knows the secret), starts serve over data and logs in like a browser.
// It returns serve and the archive's record ids.
func benchWebStart(ctx context.Context, m *Main, rep *benchWebReport, say func(string, ...any), self, data string) (*benchWebServer, []string, error) {
	pw, totpKey, ids, err := benchWebAccount(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	rep.Records = len(ids)
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("bench web: no records in %s", data)
	}
	say("%d records; account %q enrolled", len(ids), benchWebLogin)

	addr, err := benchFreePort()
	if err != nil {
		return nil, nil, err
	}
	s := &benchWebServer{base: "http://" + addr}
	serveArgs := []string{"serve", "--data", data, "--listen", addr}
	if prof := m.Getenv("RESGUARDO_BENCH_CPUPROFILE"); prof != "" {
		serveArgs = append([]string{"--cpuprofile", prof}, serveArgs...) // where serve's time goes
	}
	s.cmd = exec.Command(self, serveArgs...)
	s.cmd.Env = append(os.Environ(), "RESGUARDO_LANG=en")
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, nil, err
	}
	if err := benchWaitHTTP(ctx, s.base+"/healthz", 10*time.Minute); err != nil {
		return nil, nil, s.fail(err)
	}

	// Log in like a browser.
	s.jar, _ = cookiejar.New(nil)
	s.cl = &http.Client{Jar: s.jar, Timeout: 2 * time.Minute}
	if err := benchWebLoginFlow(s.cl, s.base, pw, totpKey); err != nil {
		return nil, nil, s.fail(err)
	}
	return s, ids, nil
}

// stop ends serve (once).
func (s *benchWebServer) stop() {
	if !s.stopped {
		s.stopped = true
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
	}
}

// fail stops serve and adds what it said to err.
func (s *benchWebServer) fail(err error) error {
	s.stop()
	return fmt.Errorf("bench web: %w\nserve said:\n%s", err, lastLines(s.stderr.String(), 30))
}

// get requests path with the session and times it.
func (s *benchWebServer) get(path string) (int, []byte, float64, error) {
	t0 := time.Now()
	r, err := s.cl.Get(s.base + path)
	if err != nil {
		return 0, nil, 0, err
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	return r.StatusCode, b, ms(time.Since(t0)), err
}
