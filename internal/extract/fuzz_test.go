package extract

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzTypes are the content types FuzzText tries each input with.
var fuzzTypes = []string{"", "text/plain", "text/html", "text/csv", "application/pdf", "application/rtf", "message/rfc822",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation",
	"application/vnd.oasis.opendocument.text", "image/png"}

// FuzzText feeds random data to Text under every content type: it must not
// panic, must keep to the limits and must finish fast.
func FuzzText(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".golden") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 8<<10 {
			f.Add(b, uint8(0))
		}
	}
	for _, s := range []string{"%PDF-1.4\n1 0 obj << /Length 5 0 R >> stream\nBT (x) Tj ET\nendstream endobj",
		`{\rtf1\ansi\ansicpg1251{\fonttbl{\f0\fcharset128 MS;}}\f0\'82\'a0\u-3913?\bin5 abcde}`,
		"<p>a &amp; b<script>x</script>", "Subject: a\r\nContent-Type: message/rfc822\r\n\r\nSubject: b\r\n\r\nc", "a;b;\"c\nd\"\n1;2;3"} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, ti uint8) {
		lim := Limits{MaxInput: 1 << 20, MaxText: 4096, Timeout: 2 * time.Second, MaxZipFiles: 50}
		ct := fuzzTypes[int(ti)%len(fuzzTypes)]
		start := time.Now()
		res := Text(context.Background(), data, ct, "", lim)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: took %v", ct, d)
		}
		if res.Err != nil && strings.Contains(res.Err.Error(), "internal error") {
			t.Fatalf("%s: %v", ct, res.Err)
		}
		if len(res.Text) > lim.MaxText || !utf8.ValidString(res.Text) || res.Kind == "" {
			t.Fatalf("%s: kind %q, %d bytes of text, valid %v", ct, res.Kind, len(res.Text), utf8.ValidString(res.Text))
		}
		if h := HTML(data); !utf8.ValidString(h) {
			t.Fatalf("HTML gives invalid UTF-8")
		}
	})
}
