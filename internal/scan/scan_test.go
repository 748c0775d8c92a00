package scan

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// eicar is the EICAR test file (not a virus: a string every antivirus detects).
var eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// startClamd starts a real clamd (Debian clamav-daemon) on a unix socket with a
// database of the given signature files. With CI=true a missing clamd fails.
func startClamd(t *testing.T, db map[string]string) *Clamd {
	t.Helper()
	bin, err := exec.LookPath("clamd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("clamd not installed (apt-get install -y clamav-daemon)")
		}
		t.Skip("clamd not installed")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "db"), 0o755)
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
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
	c := &Clamd{EngineName: "clamd-" + filepath.Base(dir), Network: "unix", Address: sock}
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

func message(body string) []byte {
	return []byte("From: Mesa de ayuda <soporte@finanzas.ejemplo.gob.mx>\r\nTo: juan.perez@finanzas.ejemplo.gob.mx\r\n" +
		"Subject: Archivo de prueba\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

// TestTwoClamdEngines: two real clamd instances with different databases scan the
// same messages at once; what each finds is combined, with each engine named.
func TestTwoClamdEngines(t *testing.T) {
	a := startClamd(t, map[string]string{"a.hdb": "44d88612fea8a8f36de82e1278abb02f:68:Resguardo.EICAR.HDB\n"})
	b := startClamd(t, map[string]string{"b.ndb": "Resguardo.Prueba.NDB:0:*:" + hex.EncodeToString([]byte("FIRMA-DE-PRUEBA-RESGUARDO")) + "\n"})
	s := &Scanner{Engines: []Engine{a, b}, Timeout: 10 * time.Second}
	ctx := context.Background()
	cases := []struct {
		name   string
		data   []byte
		va, vb Verdict
		threat string
	}{
		{"eicar file", []byte(eicar), Infected, Clean, "Resguardo.EICAR.HDB"},
		{"signature in a message", message("Texto con FIRMA-DE-PRUEBA-RESGUARDO dentro."), Clean, Infected, "Resguardo.Prueba.NDB"},
		{"clean message", message("Se remite el oficio para su atención."), Clean, Clean, ""},
		{"too long for clamd", bytes2M(), Error, Error, ""},
	}
	for _, tc := range cases {
		res := s.Scan(ctx, tc.data)
		if len(res) != 2 || res[0].Verdict != tc.va || res[1].Verdict != tc.vb {
			t.Fatalf("%s: %+v", tc.name, res)
		}
		if res[0].Engine != a.Name() || res[1].Engine != b.Name() {
			t.Fatalf("%s: engines not named: %+v", tc.name, res)
		}
		for _, r := range res {
			if r.Verdict == Infected && !strings.HasPrefix(r.Threat, tc.threat) { // clamd adds ".UNOFFICIAL" to local signatures
				t.Fatalf("%s: threat %q, want %q", tc.name, r.Threat, tc.threat)
			}
			if r.Verdict != Error && !strings.HasPrefix(r.Version, "ClamAV ") {
				t.Fatalf("%s: version %q", tc.name, r.Version)
			}
		}
	}
}

func bytes2M() []byte { return []byte(strings.Repeat("relleno ", 2<<20/8+1)) }

// fakeEngine listens on loopback and misbehaves as told, speaking just enough
// clamd to be reached by the Clamd client.
func fakeEngine(t *testing.T, behave func(net.Conn)) *Clamd {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); behave(c) }()
		}
	}()
	return &Clamd{EngineName: "fake", Network: "tcp", Address: l.Addr().String()}
}

// TestEngineFaults: an engine that hangs, closes the connection, answers garbage
// or is not running gives Error within the timeout — never a silent "clean" and
// never a stuck scan — and the scan time is the slowest engine's, not the sum.
func TestEngineFaults(t *testing.T) {
	t.Parallel()
	readAll := func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		buf := make([]byte, 1<<16)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}
	hang := fakeEngine(t, func(c net.Conn) { time.Sleep(5 * time.Second) })
	closes := fakeEngine(t, func(c net.Conn) {})
	garbage := fakeEngine(t, func(c net.Conn) { readAll(c); c.Write([]byte("¿hola?\x00")) })
	okButSlow := fakeEngine(t, func(c net.Conn) { readAll(c); time.Sleep(300 * time.Millisecond); c.Write([]byte("stream: OK\x00")) })
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	down := &Clamd{EngineName: "down", Network: "tcp", Address: l.Addr().String()}
	l.Close()
	s := &Scanner{Engines: []Engine{hang, closes, garbage, down, okButSlow, okButSlow, okButSlow}, Timeout: 2 * time.Second}
	start := time.Now()
	res := s.Scan(context.Background(), message("hola"))
	took := time.Since(start)
	for i, r := range res[:4] {
		if r.Verdict != Error || r.Detail == "" {
			t.Errorf("engine %d: %+v", i, r)
		}
	}
	for _, r := range res[4:] {
		if r.Verdict != Clean {
			t.Errorf("slow engine: %+v", r)
		}
	}
	if !strings.Contains(res[0].Detail, "timed out") && !strings.Contains(res[0].Detail, "deadline") && !strings.Contains(res[0].Detail, "timeout") {
		t.Errorf("hanging engine: %q", res[0].Detail)
	}
	if took > 4*time.Second {
		t.Errorf("scan took %v: engines did not run in parallel or the timeout was not honoured", took)
	}
}

// FuzzParseClamd: any answer gives a verdict or an error, never a clean verdict
// for an answer that does not say OK.
func FuzzParseClamd(f *testing.F) {
	for _, s := range []string{"stream: OK", "stream: Eicar-Test-Signature FOUND", "INSTREAM size limit exceeded. ERROR", "stream: OK FOUND", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ans string) {
		r, err := parseClamd(ans, "")
		if err == nil && r.Verdict == Clean && ans != "stream: OK" {
			t.Fatalf("%q read as clean", ans)
		}
		if err == nil && r.Verdict == Infected && r.Threat == "" && ans != "stream:  FOUND" {
			t.Fatalf("%q: infected without a name", ans)
		}
	})
}
