package scan_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/scan"
	"github.com/resguardo/resguardo/internal/scan/scantest"
)

// filler is clean data of n bytes, text with line breaks like a message body.
func filler(n int) []byte {
	line := []byte("Se remite el oficio 1234/2026 para su atención y trámite correspondiente.\r\n")
	b := bytes.Repeat(line, n/len(line)+1)
	return b[:n]
}

// TestCICAP: c-icap's virus_scan service in front of a real clamd, reached with
// the ICAP engine: EICAR is infected with clamd's threat name, clean data is
// clean, data longer than the preview (1024 bytes) goes through 100 Continue,
// and EICAR deep inside it is still found, also past clamd's own stream limit;
// REQMOD works too.
func TestCICAP(t *testing.T) {
	t.Parallel()
	clamd := scantest.StartClamd(t, map[string]string{
		"a.hdb": scantest.EICARHash,
		"e.ndb": "Resguardo.EICAR.NDB:0:*:4549434152" + "2d5354414e444152442d414e544956495255532d544553542d46494c45\n", // EICAR-STANDARD-ANTIVIRUS-TEST-FILE anywhere
	})
	start := time.Now()
	c := scantest.StartCICAP(t, clamd.Address)
	t.Logf("c-icap ready in %v", time.Since(start).Round(time.Millisecond))
	big := filler(300 << 10)
	deep := filler(300 << 10)
	copy(deep[200<<10:], scantest.EICAR)
	cases := []struct {
		name    string
		data    []byte
		verdict scan.Verdict
		threat  string
	}{
		{"eicar", []byte(scantest.EICAR), scan.Infected, "Resguardo.EICAR."},
		{"clean", []byte("Oficio en orden."), scan.Clean, ""},
		{"empty", nil, scan.Clean, ""},
		{"big clean", big, scan.Clean, ""},
		{"eicar deep in big data", deep, scan.Infected, "Resguardo.EICAR.NDB"},
		// c-icap hands clamd a file, so clamd's StreamMaxLength (1M here) does
		// not apply.
		{"eicar at the end of 2 MiB", append(filler(2<<20), scantest.EICAR...), scan.Infected, "Resguardo.EICAR.NDB"},
	}
	for _, mode := range []string{"respmod", "reqmod"} {
		c.Mode = mode
		for _, tc := range cases {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			r, err := c.Scan(ctx, tc.data)
			cancel()
			if err != nil {
				t.Fatalf("%s %s: %v", mode, tc.name, err)
			}
			t.Logf("%s %s (%d bytes): %s %s in %v", mode, tc.name, len(tc.data), r.Verdict, r.Threat, time.Since(start).Round(time.Microsecond))
			if r.Verdict != tc.verdict || !strings.HasPrefix(r.Threat, tc.threat) {
				t.Errorf("%s %s: %+v, want %s %s", mode, tc.name, r, tc.verdict, tc.threat)
			}
			if !strings.Contains(r.Version, "C-ICAP") || !strings.Contains(r.Version, "ISTag") {
				t.Errorf("%s %s: version %q", mode, tc.name, r.Version)
			}
		}
	}
	// Through the Scanner, next to clamd itself.
	s := &scan.Scanner{Engines: []scan.Engine{c, clamd}, Timeout: 10 * time.Second}
	res := s.Scan(context.Background(), []byte(scantest.EICAR))
	if res[0].Verdict != scan.Infected || res[0].Engine != c.Name() || res[1].Verdict != scan.Infected {
		t.Fatalf("%+v", res)
	}
	if v, err := c.Version(context.Background()); err != nil || v == "" {
		t.Fatalf("version %q, %v", v, err)
	}
}

// TestICAPFaults: an ICAP service that hangs, closes the connection, answers
// garbage or 500, answers something that is not a verdict, or is not running
// gives an error — never clean — within the timeout.
func TestICAPFaults(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	notRunning := &scan.ICAP{EngineName: "down", URL: "icap://" + l.Addr().String() + "/avscan"}
	l.Close()
	// A service that stops answering after OPTIONS: the engine has the
	// OPTIONS cached, then the service goes away.
	gone := scantest.StartICAPResponder(t, scantest.ICAPScan)
	goneEngine := gone.Engine("gone")
	if _, err := goneEngine.Version(context.Background()); err != nil {
		t.Fatal(err)
	}
	gone.SetBehaviour(scantest.ICAPClose)
	optionsHang := &scan.ICAP{EngineName: "options-hang", URL: "icap://" + hangingListener(t) + "/avscan"}
	big := filler(10 << 10)
	cases := []struct {
		name   string
		engine *scan.ICAP
		data   []byte
		detail string // in the error
	}{
		{"hang", scantest.StartICAPResponder(t, scantest.ICAPHang).Engine("hang"), big, "timed out"},
		{"hang in preview", scantest.StartICAPResponder(t, scantest.ICAPHang).Engine("hang"), []byte("x"), "timed out"},
		{"hang on OPTIONS", optionsHang, big, "timed out"},
		{"close", scantest.StartICAPResponder(t, scantest.ICAPClose).Engine("close"), big, "closed"},
		{"close after preview", scantest.StartICAPResponder(t, scantest.ICAPCloseAfterPreview).Engine("close"), big, "closed"},
		{"close after OPTIONS", goneEngine, big, "closed"},
		{"garbage", scantest.StartICAPResponder(t, scantest.ICAPGarbage).Engine("garbage"), big, "bad ICAP status line"},
		{"500", scantest.StartICAPResponder(t, scantest.ICAP500).Engine("500"), big, "500 Server Error"},
		{"content back unchanged", scantest.StartICAPResponder(t, scantest.ICAPUnmodified).Engine("unmodified"), big, "unrecognised answer"},
		{"not running", notRunning, big, "refused"},
		{"bad URL", &scan.ICAP{URL: "http://127.0.0.1/avscan"}, big, "not icap://"},
		{"bad mode", &scan.ICAP{URL: "icap://127.0.0.1:1/x", Mode: "filemod"}, big, "neither respmod nor reqmod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &scan.Scanner{Engines: []scan.Engine{tc.engine}, Timeout: time.Second}
			start := time.Now()
			res := s.Scan(context.Background(), tc.data)
			took := time.Since(start)
			if res[0].Verdict != scan.Error || !strings.Contains(res[0].Detail, tc.detail) {
				t.Fatalf("%+v, want an error with %q", res[0], tc.detail)
			}
			if took > 2*time.Second {
				t.Fatalf("took %v with a 1 s timeout", took)
			}
		})
	}
}

// hangingListener accepts connections and never answers.
func hangingListener(t *testing.T) string {
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
			t.Cleanup(func() { c.Close() })
		}
	}()
	return l.Addr().String()
}

// TestICAPResponder: verdicts of the answers that are not c-icap's, preview
// sizes, the OPTIONS cache and its Options-TTL, and the ISTag as version.
func TestICAPResponder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := append(filler(5000), scantest.EICAR...)
	for _, tc := range []struct {
		b       scantest.ICAPBehaviour
		data    []byte
		verdict scan.Verdict
		threat  string
	}{
		{scantest.ICAPScan, data, scan.Infected, "Scantest.EICAR"},
		{scantest.ICAPScan, filler(5000), scan.Clean, ""},
		{scantest.ICAPForbidden, filler(10), scan.Infected, "blocked by the ICAP service (HTTP 403)"},
		{scantest.ICAPViolations, filler(10), scan.Infected, "Scantest.Violation"},
	} {
		r, err := scantest.StartICAPResponder(t, tc.b).Engine("x").Scan(ctx, tc.data)
		if err != nil || r.Verdict != tc.verdict || r.Threat != tc.threat {
			t.Errorf("%s: %+v %v", tc.b, r, err)
		}
	}
	// Every preview size the service may ask for, and none; every size of data
	// around it. The service receives exactly the data.
	for _, preview := range []int{-1, 0, 1, 1024, 70000} {
		resp := scantest.StartICAPResponderWith(t, scantest.ICAPScan, scantest.ICAPResponderOptions{Preview: preview, OptionsTTL: 3600})
		for _, mode := range []string{"respmod", "reqmod"} {
			e := resp.Engine("x")
			e.Mode = mode
			for _, n := range []int{0, 1, 1023, 1024, 1025, 69999, 70000, 70001, 200000} {
				d := filler(n)
				r, err := e.Scan(ctx, d)
				method, got := resp.Last()
				if err != nil || r.Verdict != scan.Clean || !bytes.Equal(got, d) || method != strings.ToUpper(mode) {
					t.Fatalf("preview %d, %s, %d bytes: %+v %v; service got %s %d bytes", preview, mode, n, r, err, method, len(got))
				}
			}
		}
		if n := resp.Options.Load(); n != 2 {
			t.Errorf("preview %d: %d OPTIONS requests, want 2 (one per engine, then cached)", preview, n)
		}
	}
	// Our own preview smaller than the service's.
	resp := scantest.StartICAPResponder(t, scantest.ICAPScan)
	e := resp.Engine("x")
	e.Preview = 10
	if r, err := e.Scan(ctx, data); err != nil || r.Verdict != scan.Infected {
		t.Fatalf("preview 10: %+v %v", r, err)
	}
	// No preview at all.
	e.Preview = -1
	if r, err := e.Scan(ctx, data); err != nil || r.Verdict != scan.Infected {
		t.Fatalf("no preview: %+v %v", r, err)
	}
	// Options-TTL 0: OPTIONS before every scan.
	resp = scantest.StartICAPResponderWith(t, scantest.ICAPScan, scantest.ICAPResponderOptions{Preview: 1024, OptionsTTL: 0})
	e = resp.Engine("x")
	for i := 0; i < 3; i++ {
		e.Scan(ctx, []byte("hola"))
	}
	if n := resp.Options.Load(); n != 3 {
		t.Errorf("Options-TTL 0: %d OPTIONS requests, want 3", n)
	}
	// A new ISTag in an answer is the version, and OPTIONS is asked again.
	resp = scantest.StartICAPResponder(t, scantest.ICAPScan)
	e = resp.Engine("x")
	r, _ := e.Scan(ctx, []byte("hola"))
	if r.Version != "scantest ICAP responder (ISTag scantest-1)" {
		t.Fatalf("version %q", r.Version)
	}
	resp.SetISTag("scantest-2")
	if r, _ = e.Scan(ctx, []byte("hola")); r.Version != "scantest ICAP responder (ISTag scantest-2)" {
		t.Fatalf("version after ISTag change: %q", r.Version)
	}
	e.Scan(ctx, []byte("hola"))
	if n := resp.Options.Load(); n != 2 {
		t.Errorf("%d OPTIONS requests after an ISTag change, want 2", n)
	}
}
