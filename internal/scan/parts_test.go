package scan_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/scan"
	"github.com/resguardo/resguardo/internal/scan/scantest"
)

// b64 is base64 in lines of 76 characters, as mail carries it.
func b64(data []byte) string {
	s := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	return b.String() + s + "\r\n"
}

func qp(data []byte) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Binary = true
	w.Write(data)
	w.Close()
	return b.String()
}

// attachment is one MIME part (without its delimiter line) for mixed.
func attachment(ctype, name, cte, body string) string {
	h := "Content-Type: " + ctype + "\r\n"
	if name != "" {
		h += "Content-Disposition: attachment; filename=\"" + name + "\"\r\n"
	}
	if cte != "" {
		h += "Content-Transfer-Encoding: " + cte + "\r\n"
	}
	return h + "\r\n" + body + "\r\n"
}

var boundaries atomic.Int64

// mixed is a message with a text body, an HTML alternative and parts; each
// message has boundaries of its own.
func mixed(parts ...string) []byte {
	b := fmt.Sprintf("b%d", boundaries.Add(1))
	var sb strings.Builder
	sb.WriteString("From: Mesa de ayuda <soporte@finanzas.ejemplo.gob.mx>\r\nTo: juan.perez@finanzas.ejemplo.gob.mx\r\n" +
		"Subject: Documentos\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n" +
		"--" + b + "\r\nContent-Type: multipart/alternative; boundary=\"alt" + b + "\"\r\n\r\n" +
		"--alt" + b + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64([]byte("Se remite la documentación.")) +
		"--alt" + b + "\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Se remite la documentación.</p>\r\n--alt" + b + "--\r\n")
	for _, p := range parts {
		sb.WriteString("--" + b + "\r\n" + p)
	}
	sb.WriteString("--" + b + "--\r\n")
	return []byte(sb.String())
}

func partNames(ps []scan.Part) []string {
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return names
}

func TestParts(t *testing.T) {
	t.Parallel()
	eicar := []byte(scantest.EICAR)
	pdf := []byte("%PDF-1.4\n% documento de prueba\n")
	inner := string(mixed(attachment("application/zip", "factura.zip", "base64", b64(eicar))))
	cases := []struct {
		name  string
		msg   []byte
		names []string
		data  map[string][]byte
	}{
		{"base64 attachment", mixed(attachment("application/octet-stream", "eicar.com", "base64", b64(eicar))),
			[]string{"message", "eicar.com"}, map[string][]byte{"eicar.com": eicar}},
		{"quoted-printable, unnamed, text file", mixed(
			attachment("application/pdf", "", "quoted-printable", qp(pdf)),
			attachment("text/plain", "notas.txt", "", "notas\r\n"),
			attachment("image/png; name=\"logo.png\"", "", "base64", b64([]byte("\x89PNG..."))),
		), []string{"message", "part 2 of type application/pdf", "notas.txt", "logo.png"},
			map[string][]byte{"part 2 of type application/pdf": pdf, "notas.txt": []byte("notas"), "logo.png": []byte("\x89PNG...")}},
		{"attached message", mixed(attachment("message/rfc822", "reenvio.eml", "", inner)),
			[]string{"message", "reenvio.eml > factura.zip", "reenvio.eml"}, map[string][]byte{"reenvio.eml > factura.zip": eicar, "reenvio.eml": []byte(inner)}},
		{"attached message in base64", mixed(attachment("message/rfc822", "reenvio.eml", "base64", b64([]byte(inner)))),
			[]string{"message", "reenvio.eml > factura.zip", "reenvio.eml"}, map[string][]byte{"reenvio.eml > factura.zip": eicar}},
		{"only text", message("hola"), []string{"message"}, nil},
		{"not a message", []byte("\x00\xff--b\r\n\r\n"), []string{"message"}, nil},
		{"single-part attachment", []byte("Content-Type: application/x-msdownload; name=\"setup.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(eicar)),
			[]string{"message", "setup.exe"}, map[string][]byte{"setup.exe": eicar}},
	}
	for _, tc := range cases {
		ps := scan.Parts(tc.msg)
		if got := partNames(ps); strings.Join(got, "|") != strings.Join(tc.names, "|") {
			t.Errorf("%s: parts %q, want %q", tc.name, got, tc.names)
			continue
		}
		if !bytes.Equal(ps[0].Data, tc.msg) {
			t.Errorf("%s: first part is not the message", tc.name)
		}
		for _, p := range ps {
			if want, ok := tc.data[p.Name]; ok && !bytes.Equal(bytes.TrimRight(p.Data, "\r\n"), bytes.TrimRight(want, "\r\n")) {
				t.Errorf("%s: %s is %q, want %q", tc.name, p.Name, p.Data, want)
			}
		}
	}
}

// TestPartsLimits: at most MaxParts parts, and at most MaxPartsFactor × the
// message size of decoded attachments (nested attached messages repeat the
// same bytes at each level).
func TestPartsLimits(t *testing.T) {
	t.Parallel()
	var many []string
	for i := 0; i < 150; i++ {
		many = append(many, attachment("application/octet-stream", fmt.Sprintf("f%03d.bin", i), "base64", b64([]byte{byte(i)})))
	}
	ps := scan.Parts(mixed(many...))
	if len(ps) != scan.MaxParts || ps[1].Name != "f000.bin" || ps[99].Name != "f098.bin" {
		t.Fatalf("%d parts: %q…", len(ps), partNames(ps)[:3])
	}
	// Ten attached messages inside one another, 8bit: every level lists the
	// whole rest again.
	m := string(mixed(attachment("application/octet-stream", "carga.bin", "", strings.Repeat("x", 20000))))
	for i := 0; i < 10; i++ {
		m = string(mixed(attachment("message/rfc822", fmt.Sprintf("nivel%d.eml", i), "", m)))
	}
	ps = scan.Parts([]byte(m))
	total := 0
	for _, p := range ps[1:] {
		total += len(p.Data)
	}
	if total > scan.MaxPartsFactor*len(m) || len(ps) < 4 || ps[1].Name != "nivel9.eml > nivel8.eml > nivel7.eml > nivel6.eml > nivel5.eml > nivel4.eml > nivel3.eml > nivel2.eml > nivel1.eml > nivel0.eml > carga.bin" {
		t.Fatalf("%d parts, %d decoded bytes for a %d-byte message: %q", len(ps), total, len(m), partNames(ps))
	}
	t.Logf("nested: %d parts, %d decoded bytes for %d (%.1f×)", len(ps), total, len(m), float64(total)/float64(len(m)))
}

// rawMatcher is an engine that finds EICAR only as raw bytes, as a signature
// engine does on a file: it cannot see it inside base64.
func rawMatcher(name string) *stubEngine {
	return newStub(name, func(_ context.Context, data []byte) (scan.Result, error) {
		if bytes.Contains(data, []byte(scantest.EICAR)) {
			return scan.Result{Verdict: scan.Infected, Threat: "Raw.EICAR", Version: "raw 1"}, nil
		}
		return scan.Result{Verdict: scan.Clean, Version: "raw 1"}, nil
	})
}

// TestScanMessage: EICAR in a base64 attachment is found only after decoding:
// Scan of the raw message misses it, ScanMessage finds it and names the
// attachment. One result per engine; an error on one part makes the engine's
// result an error unless something was found; real clamd agrees.
func TestScanMessage(t *testing.T) {
	t.Parallel()
	msg := mixed(
		attachment("application/pdf", "oficio.pdf", "base64", b64([]byte("%PDF-1.4 oficio"))),
		attachment("application/octet-stream", "eicar.com", "base64", b64([]byte(scantest.EICAR))),
	)
	raw := rawMatcher("raw")
	s := &scan.Scanner{Engines: []scan.Engine{raw}, Timeout: 5 * time.Second}
	ctx := context.Background()
	if r := s.Scan(ctx, msg)[0]; r.Verdict != scan.Clean {
		t.Fatalf("raw engine on the raw message: %+v (the test needs it blind to base64)", r)
	}
	res := s.ScanMessage(ctx, msg)
	if len(res) != 1 || res[0].Verdict != scan.Infected || res[0].Threat != "Raw.EICAR (in attachment eicar.com)" || res[0].Engine != "raw" || res[0].Version != "raw 1" {
		t.Fatalf("ScanMessage: %+v", res)
	}
	if raw.calls.Load() != 1+3 {
		t.Fatalf("%d scans, want 1 + 3 parts", raw.calls.Load())
	}
	if st := s.States()[0]; st.Scans != 2 {
		t.Fatalf("a ScanMessage is one observation of the engine's health: %+v", st)
	}
	if res := s.ScanMessage(ctx, mixed(attachment("application/pdf", "oficio.pdf", "base64", b64([]byte("%PDF"))))); res[0].Verdict != scan.Clean {
		t.Fatalf("clean message: %+v", res)
	}

	// Failing on one part: error, unless another part is infected.
	picky := newStub("picky", func(_ context.Context, data []byte) (scan.Result, error) {
		switch {
		case bytes.HasPrefix(data, []byte("%PDF")):
			return scan.Result{}, fmt.Errorf("cannot read PDF")
		case bytes.Contains(data, []byte(scantest.EICAR)):
			return scan.Result{Verdict: scan.Infected, Threat: "Picky.EICAR"}, nil
		}
		return scan.Result{Verdict: scan.Clean}, nil
	})
	s = &scan.Scanner{Engines: []scan.Engine{picky}, Timeout: 5 * time.Second}
	r := s.ScanMessage(ctx, msg)[0]
	if r.Verdict != scan.Infected || r.Threat != "Picky.EICAR (in attachment eicar.com)" || !strings.Contains(r.Detail, "1 of 3 parts not scanned: attachment oficio.pdf: cannot read PDF") {
		t.Fatalf("infected and failing: %+v", r)
	}
	r = s.ScanMessage(ctx, mixed(attachment("application/pdf", "oficio.pdf", "base64", b64([]byte("%PDF-1.4 oficio")))))[0]
	if r.Verdict != scan.Error || r.Detail != "1 of 2 parts not scanned: attachment oficio.pdf: cannot read PDF" {
		t.Fatalf("failing on a part: %+v", r)
	}

	// Real clamd reads mail itself: it finds EICAR in the message and in the
	// attachment, named once.
	clamd := scantest.StartClamd(t, map[string]string{"a.hdb": scantest.EICARHash})
	s = &scan.Scanner{Engines: []scan.Engine{clamd, rawMatcher("raw")}, Timeout: 10 * time.Second}
	res = s.ScanMessage(ctx, msg)
	if res[0].Verdict != scan.Infected || res[0].Threat != "Resguardo.EICAR.HDB.UNOFFICIAL (in attachment eicar.com)" || !strings.HasPrefix(res[0].Version, "ClamAV") ||
		res[1].Verdict != scan.Infected {
		t.Fatalf("clamd: %+v", res)
	}
}

// TestScanMessageTime: the parts of a message are scanned at the same time,
// so a message with six attachments takes about as long as one scan by the
// slowest engine, not six. Measured with engines of fixed latency, and with a
// real clamd (parts in parallel against MaxConcurrent 1, i.e. one after
// another).
func TestScanMessageTime(t *testing.T) {
	t.Parallel()
	var atts []string
	for i := 0; i < 6; i++ {
		atts = append(atts, attachment("application/octet-stream", fmt.Sprintf("anexo%d.bin", i), "base64", b64(filler(100<<10))))
	}
	msg := mixed(atts...)
	latency := func(d time.Duration) *stubEngine {
		return newStub(fmt.Sprint(d), func(ctx context.Context, _ []byte) (scan.Result, error) {
			select {
			case <-time.After(d):
				return scan.Result{Verdict: scan.Clean}, nil
			case <-ctx.Done():
				return scan.Result{}, ctx.Err()
			}
		})
	}
	s := &scan.Scanner{Engines: []scan.Engine{latency(100 * time.Millisecond), latency(200 * time.Millisecond), latency(50 * time.Millisecond)}, Timeout: 5 * time.Second}
	start := time.Now()
	res := s.ScanMessage(context.Background(), msg)
	took := time.Since(start)
	for _, r := range res {
		if r.Verdict != scan.Clean {
			t.Fatalf("%+v", r)
		}
	}
	t.Logf("7 parts × 3 engines of 100, 200 and 50 ms: %v (one after another per engine: 1.4 s for the slowest)", took.Round(time.Millisecond))
	if took > 600*time.Millisecond {
		t.Fatalf("took %v: parts not scanned at the same time", took)
	}

	clamd := scantest.StartClamd(t, map[string]string{"a.hdb": scantest.EICARHash})
	par := &scan.Scanner{Engines: []scan.Engine{clamd}, Timeout: 30 * time.Second}
	seq := &scan.Scanner{Engines: []scan.Engine{clamd}, Timeout: 30 * time.Second, MaxConcurrent: 1}
	par.ScanMessage(context.Background(), msg) // warm up
	var tPar, tSeq, tWhole time.Duration
	for i := 0; i < 3; i++ {
		start := time.Now()
		if r := par.ScanMessage(context.Background(), msg)[0]; r.Verdict != scan.Clean {
			t.Fatalf("%+v", r)
		}
		tPar += time.Since(start)
		start = time.Now()
		if r := seq.ScanMessage(context.Background(), msg)[0]; r.Verdict != scan.Clean {
			t.Fatalf("%+v", r)
		}
		tSeq += time.Since(start)
		start = time.Now()
		par.Scan(context.Background(), msg)
		tWhole += time.Since(start)
	}
	t.Logf("clamd, %d-byte message with 6 attachments of 100 KiB: whole message only %v; 7 parts in parallel %v; one after another %v (mean of 3)",
		len(msg), (tWhole / 3).Round(time.Millisecond), (tPar / 3).Round(time.Millisecond), (tSeq / 3).Round(time.Millisecond))
}

// FuzzParts: any bytes give the message first, at most MaxParts parts, named,
// within the decoded-size budget, without panicking.
func FuzzParts(f *testing.F) {
	f.Add(mixed(attachment("application/octet-stream", "eicar.com", "base64", b64([]byte(scantest.EICAR)))))
	f.Add(mixed(attachment("message/rfc822", "r.eml", "base64", b64(mixed(attachment("application/zip", "z.zip", "quoted-printable", "=00=FFabc"))))))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--x--"))
	f.Add([]byte("Content-Type: application/pdf; name=a\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\r\n#86)C\r\n`\r\nend\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		ps := scan.Parts(msg)
		if len(ps) == 0 || len(ps) > scan.MaxParts || ps[0].Name != scan.MessagePartName || !bytes.Equal(ps[0].Data, msg) {
			t.Fatalf("%d parts", len(ps))
		}
		total := 0
		for _, p := range ps[1:] {
			total += len(p.Data)
			if p.Name == "" || p.Name == scan.MessagePartName {
				t.Fatalf("part named %q", p.Name)
			}
		}
		if total > scan.MaxPartsFactor*len(msg) {
			t.Fatalf("%d decoded bytes for %d", total, len(msg))
		}
	})
}
