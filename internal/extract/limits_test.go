package extract

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// run extracts and asserts the invariants that hold whatever the input:
// text within MaxText and normalised, a kind, an answer within bound.
func run(t *testing.T, data []byte, ct, name string, lim Limits, bound time.Duration) Result {
	t.Helper()
	start := time.Now()
	res := Text(context.Background(), data, ct, name, lim)
	if d := time.Since(start); d > bound {
		t.Errorf("took %v, bound %v", d, bound)
	}
	checkText(t, res.Text, lim.withDefaults().MaxText)
	if res.Kind == "" {
		t.Errorf("empty Kind")
	}
	return res
}

// deflated returns raw Flate data of n bytes of c.
func deflated(t testing.TB, c byte, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	chunk := bytes.Repeat([]byte{c}, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		w.Write(chunk[:k])
		n -= k
	}
	w.Close()
	return buf.Bytes()
}

// bombDocx is a DOCX whose document.xml inflates to size bytes; with lie
// set, its headers declare 1000 bytes instead.
func bombDocx(t testing.TB, size int, lie bool) []byte {
	t.Helper()
	entries := docxFixture()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e[0] != "word/document.xml" {
			w, _ := zw.Create(e[0])
			w.Write([]byte(e[1]))
			continue
		}
		body := deflated(t, ' ', size)
		h := &zip.FileHeader{Name: e[0], Method: zip.Deflate, CompressedSize64: uint64(len(body)),
			UncompressedSize64: uint64(size), CRC32: crc32.ChecksumIEEE(nil)}
		if lie {
			h.UncompressedSize64 = 1000
		}
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	zw.Close()
	return buf.Bytes()
}

func TestZipBomb(t *testing.T) {
	const ct = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	honest := bombDocx(t, 512<<20, false) // 512 MiB of blanks in ~500 KB
	t.Logf("bomb: %d bytes inflating to 512 MiB", len(honest))
	res := run(t, honest, ct, "bomba.docx", Limits{}, time.Second)
	if !errors.Is(res.Err, ErrTooLarge) || res.Kind != "docx" {
		t.Errorf("declared bomb: kind %q err %v, want docx and ErrTooLarge", res.Kind, res.Err)
	}
	res = run(t, bombDocx(t, 64<<20, true), ct, "bomba.docx", Limits{}, time.Second)
	if !errors.Is(res.Err, ErrCorrupt) && !errors.Is(res.Err, ErrTooLarge) {
		t.Errorf("lying bomb: err %v, want ErrCorrupt or ErrTooLarge", res.Err)
	}
	// Declared within the budget but more than the file may inflate in
	// total: the budget stops it.
	res = run(t, bombDocx(t, 8<<20, false), ct, "", Limits{MaxInput: 64 << 10}, time.Second)
	if !errors.Is(res.Err, ErrTooLarge) {
		t.Errorf("small budget: err %v, want ErrTooLarge", res.Err)
	}
	// The same bomb attached to a message shares the message's budget.
	msg := "Subject: bomba\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
		"Content-Type: text/plain\r\n\r\ncuerpo visible\r\n--b\r\nContent-Type: " + ct + "\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64Lines(honest) + "\r\n--b--\r\n"
	res = run(t, []byte(msg), "message/rfc822", "", Limits{}, time.Second)
	if res.Err != nil || !strings.Contains(res.Text, "cuerpo visible") {
		t.Errorf("message with bomb: err %v text %q, want the body and no error", res.Err, res.Text)
	}
}

func TestZipEntries(t *testing.T) {
	entries := docxFixture()
	for i := range 30 {
		entries = append(entries, [2]string{fmt.Sprintf("word/media/image%d.png", i), "x"})
	}
	data := zipOf(t, entries)
	res := run(t, data, "", "x.docx", Limits{MaxZipFiles: 20}, time.Second)
	if !errors.Is(res.Err, ErrTooLarge) || res.Text != "" {
		t.Errorf("err %v text %q, want ErrTooLarge and no text", res.Err, res.Text)
	}
	if res := run(t, data, "", "x.docx", Limits{MaxZipFiles: 40}, time.Second); res.Err != nil || res.Kind != "docx" {
		t.Errorf("within limit: kind %q err %v", res.Kind, res.Err)
	}
	// A plain zip archive is not an Office document.
	res = run(t, zipOf(t, [][2]string{{"leeme.txt", "hola"}}), "application/zip", "a.zip", Limits{}, time.Second)
	if res.Kind != "unsupported" || !errors.Is(res.Err, ErrUnsupported) {
		t.Errorf("zip: kind %q err %v", res.Kind, res.Err)
	}
}

func TestPDFLoops(t *testing.T) {
	page := func(extra, content string) []string {
		return []string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [2 0 R 3 0 R 2 0 R] /Count 3 /Parent 2 0 R >>", // a tree that contains itself
			"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> /XObject << /A 6 0 R /B 7 0 R >> >> /Contents 5 0 R " + extra + ">>",
			"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
			pdfStreamObj("", []byte(content)),
			// Forms that draw each other and themselves.
			pdfStreamObj("/Type /XObject /Subtype /Form /Resources << /Font << /F1 4 0 R >> /XObject << /A 6 0 R /B 7 0 R >> >>",
				[]byte("BT /F1 9 Tf (forma A) Tj ET /B Do /A Do")),
			pdfStreamObj("/Type /XObject /Subtype /Form /Resources << /XObject << /A 6 0 R >> >>", []byte("/A Do /A Do /A Do")),
		}
	}
	res := run(t, pdfFile(page("", "BT /F1 12 Tf 72 700 Td (Hoja con ciclos) Tj ET /A Do /B Do")), "application/pdf", "", Limits{}, 2*time.Second)
	if res.Err != nil || !strings.Contains(res.Text, "Hoja con ciclos") || !strings.Contains(res.Text, "forma A") {
		t.Errorf("cycles: err %v text %q", res.Err, res.Text)
	}
	for name, data := range map[string][]byte{
		"deep arrays":   []byte("%PDF-1.4\n1 0 obj " + strings.Repeat("[", 1<<20) + " endobj"),
		"deep dicts":    []byte("%PDF-1.4\n1 0 obj " + strings.Repeat("<< /A ", 1<<18) + " endobj"),
		"q flood":       pdfFile(page("", strings.Repeat("q ", 1<<20)+"BT (fin) Tj ET")),
		"self length":   []byte("%PDF-1.4\n1 0 obj << /Length 1 0 R /Filter /FlateDecode >> stream\nxx\nendstream endobj"),
		"ref chain":     pdfFile([]string{"<< /Type /Catalog /Pages 2 0 R >>", "3 0 R", "2 0 R"}),
		"truncated":     pdfFile(page("", "BT /F1 12 Tf (texto)"))[:300],
		"garbage":       append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("obj 1 0 obj << [ ( \\ "), 50000)...),
		"obj flood":     []byte("%PDF-1.4\n" + strings.Repeat("1 0 obj 2 0 R endobj\n", 100000)),
		"inline images": pdfFile(page("", strings.Repeat("BI /W 1 ID x EI ", 50000))),
	} {
		t.Run(name, func(t *testing.T) {
			res := run(t, data, "", "", Limits{}, 3*time.Second)
			if res.Kind != "pdf" {
				t.Errorf("kind %q", res.Kind)
			}
		})
	}
	// A Flate bomb inside a content stream is stopped by the budget.
	bomb := append([]byte{0x78, 0xda}, deflated(t, ' ', 64<<20)...)
	res = run(t, pdfFile(append(page("", "")[:4], pdfStreamObj("/Filter /FlateDecode", bomb))), "", "", Limits{MaxInput: 1 << 20}, 2*time.Second)
	if !errors.Is(res.Err, ErrTooLarge) {
		t.Errorf("flate bomb: err %v, want ErrTooLarge", res.Err)
	}
}

// nestedMessage returns a message encapsulating itself n times.
func nestedMessage(n int) []byte {
	msg := "Subject: nivel 0\r\n\r\ntexto del nivel 0\r\n"
	for i := 1; i <= n; i++ {
		msg = fmt.Sprintf("Subject: nivel %d\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n"+
			"--b%d\r\nContent-Type: text/plain\r\n\r\ntexto del nivel %d\r\n--b%d\r\nContent-Type: message/rfc822\r\n\r\n%s\r\n--b%d--\r\n",
			i, i, i, i, i, msg, i)
	}
	return []byte(msg)
}

func TestMessageDepth(t *testing.T) {
	res := run(t, nestedMessage(10), "message/rfc822", "", Limits{MaxDepth: 3}, time.Second)
	for i := 7; i <= 10; i++ {
		if !strings.Contains(res.Text, fmt.Sprintf("texto del nivel %d", i)) {
			t.Errorf("level %d missing", i)
		}
	}
	if strings.Contains(res.Text, "nivel 6") || !res.Truncated || res.Err != nil {
		t.Errorf("truncated %v err %v, text %q: want levels 10..7 only", res.Truncated, res.Err, res.Text)
	}
	// A very deep chain stays fast (message.Parse bounds its own nesting).
	run(t, nestedMessage(400), "message/rfc822", "", Limits{}, 3*time.Second)
}

func TestTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Text(ctx, []byte("texto"), "text/plain", "", Limits{})
	if !errors.Is(res.Err, ErrTimeout) || !errors.Is(res.Err, context.Canceled) {
		t.Errorf("cancelled: err %v", res.Err)
	}
	heavy := map[string][]byte{
		"application/pdf": pdfFile([]string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] >>",
			"<< /Type /Page /Contents 4 0 R >>", pdfStreamObj("", bytes.Repeat([]byte("1 0 0 1 5 5 Tm (a) Tj "), 1<<20))}),
		"text/html":       bytes.Repeat([]byte("<p>a</p><b>b</b>"), 1<<20),
		"application/rtf": append([]byte(`{\rtf1 `), bytes.Repeat([]byte(`{\b a}\par `), 1<<20)...),
		"text/plain":      bytes.Repeat([]byte("palabra "), 2<<20),
	}
	goroutines := runtime.NumGoroutine()
	for ct, data := range heavy {
		lim := Limits{Timeout: time.Millisecond, MaxText: 64 << 20}
		res := run(t, data, ct, "", lim, 500*time.Millisecond)
		if !errors.Is(res.Err, ErrTimeout) {
			t.Errorf("%s: err %v, want ErrTimeout", ct, res.Err)
		}
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after extraction, %d before", n, goroutines)
	}
}

func TestMaxTextAndInput(t *testing.T) {
	data := []byte(strings.Repeat("ñandú ", 1000))
	res := run(t, data, "text/plain", "", Limits{MaxText: 101}, time.Second)
	if !res.Truncated || res.Err != nil || len(res.Text) < 95 {
		t.Errorf("truncated %v err %v len %d", res.Truncated, res.Err, len(res.Text))
	}
	res = run(t, data, "text/plain", "", Limits{MaxInput: 100}, time.Second)
	if !errors.Is(res.Err, ErrTooLarge) || res.Text != "" || res.Kind != "text" {
		t.Errorf("kind %q err %v text %q", res.Kind, res.Err, res.Text)
	}
	for _, name := range []string{"fpdf.pdf", "oficio.docx", "presupuesto.xlsx", "acta.odt", "circular.rtf", "reenvio.eml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		res := run(t, data, "", name, Limits{MaxText: 50}, time.Second)
		if !res.Truncated || res.Err != nil {
			t.Errorf("%s: truncated %v err %v", name, res.Truncated, res.Err)
		}
	}
}

func b64Lines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(s) > 76 {
		sb.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	return sb.String() + s
}
