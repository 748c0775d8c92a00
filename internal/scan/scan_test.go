package scan_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/scan"
	"github.com/resguardo/resguardo/internal/scan/scantest"
)

// eicar is the EICAR test file (not a virus: a string every antivirus detects).
var eicar = scantest.EICAR

func startClamd(t *testing.T, db map[string]string) *scan.Clamd { return scantest.StartClamd(t, db) }

func message(body string) []byte {
	return []byte("From: Mesa de ayuda <soporte@finanzas.ejemplo.gob.mx>\r\nTo: juan.perez@finanzas.ejemplo.gob.mx\r\n" +
		"Subject: Archivo de prueba\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

// TestTwoClamdEngines: two real clamd instances with different databases scan the
// same messages at once; what each finds is combined, with each engine named.
func TestTwoClamdEngines(t *testing.T) {
	a := startClamd(t, map[string]string{"a.hdb": scantest.EICARHash})
	b := startClamd(t, map[string]string{"b.ndb": "Resguardo.Prueba.NDB:0:*:" + hex.EncodeToString([]byte("FIRMA-DE-PRUEBA-RESGUARDO")) + "\n"})
	s := &scan.Scanner{Engines: []scan.Engine{a, b}, Timeout: 10 * time.Second}
	ctx := context.Background()
	cases := []struct {
		name   string
		data   []byte
		va, vb scan.Verdict
		threat string
	}{
		{"eicar file", []byte(eicar), scan.Infected, scan.Clean, "Resguardo.EICAR.HDB"},
		{"signature in a message", message("Texto con FIRMA-DE-PRUEBA-RESGUARDO dentro."), scan.Clean, scan.Infected, "Resguardo.Prueba.NDB"},
		{"clean message", message("Se remite el oficio para su atención."), scan.Clean, scan.Clean, ""},
		{"too long for clamd", bytes2M(), scan.Error, scan.Error, ""},
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
			if r.Verdict == scan.Infected && !strings.HasPrefix(r.Threat, tc.threat) { // clamd adds ".UNOFFICIAL" to local signatures
				t.Fatalf("%s: threat %q, want %q", tc.name, r.Threat, tc.threat)
			}
			if r.Verdict != scan.Error && !strings.HasPrefix(r.Version, "ClamAV ") {
				t.Fatalf("%s: version %q", tc.name, r.Version)
			}
		}
	}
}

func bytes2M() []byte { return []byte(strings.Repeat("relleno ", 2<<20/8+1)) }

// fakeEngine listens on loopback and misbehaves as told, speaking just enough
// clamd to be reached by the scan.Clamd client.
func fakeEngine(t *testing.T, behave func(net.Conn)) *scan.Clamd {
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
	return &scan.Clamd{EngineName: "fake", Network: "tcp", Address: l.Addr().String()}
}

// TestEngineFaults: an engine that hangs, closes the connection, answers garbage
// or is not running gives scan.Error within the timeout — never a silent "clean" and
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
	down := &scan.Clamd{EngineName: "down", Network: "tcp", Address: l.Addr().String()}
	l.Close()
	s := &scan.Scanner{Engines: []scan.Engine{hang, closes, garbage, down, okButSlow, okButSlow, okButSlow}, Timeout: 2 * time.Second}
	start := time.Now()
	res := s.Scan(context.Background(), message("hola"))
	took := time.Since(start)
	for i, r := range res[:4] {
		if r.Verdict != scan.Error || r.Detail == "" {
			t.Errorf("engine %d: %+v", i, r)
		}
	}
	for _, r := range res[4:] {
		if r.Verdict != scan.Clean {
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

// TestCommandEngine: YARA through Debian's `yara` tool as a command-line engine,
// next to clamd; a command that hangs is killed at the timeout and a failing one
// is an error, never clean.
func TestCommandEngine(t *testing.T) {
	t.Parallel()
	bin := corpustest.Program(t, "yara", "yara")
	rules := filepath.Join(t.TempDir(), "reglas.yar")
	os.WriteFile(rules, []byte(`rule Oficio_Apocrifo { strings: $a = "SELLO-APOCRIFO-SEFIN" condition: $a }`+"\n"), 0o644)
	y := &scan.Command{EngineName: "yara", Argv: []string{bin, rules, "{file}"}, InfectedPattern: regexp.MustCompile(`(?m)^(\w+) `)}
	hang := &scan.Command{EngineName: "cuelga", Argv: []string{"sleep", "30"}}
	fails := &scan.Command{EngineName: "falla", Argv: []string{bin, "/no/existe.yar", "{file}"}}
	s := &scan.Scanner{Engines: []scan.Engine{y, hang, fails}, Timeout: time.Second}
	start := time.Now()
	res := s.Scan(context.Background(), message("Oficio con SELLO-APOCRIFO-SEFIN al pie."))
	if time.Since(start) > 5*time.Second {
		t.Fatalf("the hanging command was not killed at the timeout")
	}
	if res[0].Verdict != scan.Infected || res[0].Threat != "Oficio_Apocrifo" || res[1].Verdict != scan.Error || res[2].Verdict != scan.Error {
		t.Fatalf("%+v", res)
	}
	if res := s.Scan(context.Background(), message("Oficio en orden.")); res[0].Verdict != scan.Clean {
		t.Fatalf("clean: %+v", res[0])
	}
}

// TestSixteenEngines: sixteen engines at once — ten real clamd instances with
// different databases, two YARA command engines and four slow engines (500 ms
// each) — scan one message: every engine answers, detections from different
// engines are combined, and the scan takes about as long as the slowest engine,
// not the sum (sequentially the slow ones alone would take 2 s).
func TestSixteenEngines(t *testing.T) {
	t.Parallel()
	yara, err := exec.LookPath("yara")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("yara not installed (apt-get install -y yara)")
		}
		t.Skip("yara not installed")
	}
	var engines []scan.Engine
	for i := 0; i < 10; i++ {
		db := map[string]string{"x.ndb": fmt.Sprintf("Resguardo.Motor%d:0:*:%s\n", i, hex.EncodeToString([]byte(fmt.Sprintf("MARCA-MOTOR-%02d", i))))}
		if i%3 == 0 { // EICAR anywhere in the data, not only as a whole file (.hdb)
			db["e.ndb"] = "Resguardo.EICAR.NDB:0:*:" + hex.EncodeToString([]byte("EICAR-STANDARD-ANTIVIRUS-TEST-FILE")) + "\n"
		}
		engines = append(engines, scantest.StartClamd(t, db))
	}
	for i := 0; i < 2; i++ {
		rules := filepath.Join(t.TempDir(), "r.yar")
		os.WriteFile(rules, []byte(fmt.Sprintf("rule Regla_%d { strings: $a = \"MARCA-YARA-%d\" condition: $a }\n", i, i)), 0o644)
		engines = append(engines, &scan.Command{EngineName: fmt.Sprintf("yara-%d", i), Argv: []string{yara, rules, "{file}"}, InfectedPattern: regexp.MustCompile(`(?m)^(\w+) `)})
	}
	for i := 0; i < 4; i++ {
		engines = append(engines, fakeEngine(t, func(c net.Conn) {
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			buf := make([]byte, 1<<16)
			for {
				if _, err := c.Read(buf); err != nil {
					break
				}
			}
			time.Sleep(500 * time.Millisecond)
			c.Write([]byte("stream: OK\x00"))
		}))
	}
	s := &scan.Scanner{Engines: engines, Timeout: 10 * time.Second}
	msg := message(scantest.EICAR + " MARCA-MOTOR-04 MARCA-YARA-1")
	s.Scan(context.Background(), msg) // warm up: first connections, page cache
	start := time.Now()
	res := s.Scan(context.Background(), msg)
	took := time.Since(start)
	found := map[string]bool{}
	for _, r := range res {
		if r.Verdict == scan.Error {
			t.Fatalf("engine %s failed: %s", r.Engine, r.Detail)
		}
		if r.Verdict == scan.Infected {
			found[r.Engine+":"+strings.TrimSuffix(r.Threat, ".UNOFFICIAL")] = true
		}
	}
	// EICAR by clamd 0, 3, 6 and 9; the signature of engine 4; the YARA rule of yara-1.
	if len(res) != 16 || len(found) != 6 || !found["yara-1:Regla_1"] || !found[res[4].Engine+":Resguardo.Motor4"] {
		t.Fatalf("%d results, detections %v", len(res), found)
	}
	var slowest, sum float64
	for _, r := range res {
		slowest = max(slowest, r.TookMS)
		sum += r.TookMS
	}
	ms := float64(took.Microseconds()) / 1000
	t.Logf("16 engines in %.0f ms; slowest engine %.0f ms; sum of engines %.0f ms", ms, slowest, sum)
	if ms > slowest*1.5+100 || ms > sum/2 { // one after another it would be the sum
		t.Fatalf("16 engines took %.0f ms: not in parallel (slowest %.0f ms, sum %.0f ms)", ms, slowest, sum)
	}
}
