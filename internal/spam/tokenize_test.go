package spam

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func has(t *testing.T, toks []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(toks, w) {
			t.Errorf("token %q missing from %q", w, toks)
		}
	}
}

func TestTokenizeFeatures(t *testing.T) {
	msg := "Received: from a by b\r\nReceived: from c by d\r\nReceived: from e by f\r\n" +
		"From: =?utf-8?q?Administraci=C3=B3n?= <avisos@correo.banco.example.co.uk>\r\n" +
		"Reply-To: cobros@otra.example.net\r\n" +
		"To: archivo@ayto.example.es\r\n" +
		"Subject: =?utf-8?q?Validaci=C3=B3n_URGENTE?=\r\n" +
		"X-Mailer: PHPMailer 6.1\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"<html><head><style>p{color:red}</style></head><body><p>Transferencia pendiente de validaci=F3n." +
		" <a href=3D\"https://login.phish.example.com.br/x?y=3D1\">Pulse aqu=ED</a> http://192.0.2.7/a</p></body></html>\r\n" +
		"--XX\r\nContent-Type: application/octet-stream; name=\"factura.ZIP\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n" +
		"--XX--\r\n"
	toks := Tokenize([]byte(msg), Hints{SPF: "Fail", DKIM: "none", DNSBLListed: true})
	has(t, toks,
		"spf:fail", "dkim:none", "dnsbl:listed",
		"rcvd:3-4", "xm:phpmailer", "ct:multipart/mixed", "cs:iso-8859-1",
		"from:correo.banco.example.co.uk", "from:example.co.uk", "fn:administracion",
		"rt:otra.example.net", "rt:differs", "to:ayto.example.es",
		"s:validacion", "s:urgente",
		"transferencia", "pendiente", "validacion", "pulse", "aqui",
		"url:login.phish.example.com.br", "url:example.com.br", "url:ip",
		"att:zip", "html:only", "urls:2",
	)
	for _, tok := range toks {
		if strings.Contains(tok, "color") || strings.Contains(tok, "href") {
			t.Errorf("HTML markup leaked into tokens: %q", tok)
		}
	}
}

func TestTokenizeFolding(t *testing.T) {
	a := Tokenize([]byte("Subject: x\n\nInformación PÚBLICA año ÉXITO"), Hints{})
	b := Tokenize([]byte("Subject: x\n\ninformacion publica ano exito"), Hints{})
	for _, w := range []string{"informacion", "publica", "ano", "exito"} {
		if !slices.Contains(a, w) || !slices.Contains(b, w) {
			t.Errorf("%q: %q / %q", w, a, b)
		}
	}
	// Base64 body in windows-1252.
	c := Tokenize([]byte("Subject: x\nContent-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: base64\n\n"+
		"Q29udHJhdGFjafNuIHD6YmxpY2E=\n"), Hints{}) // "Contratación pública" in windows-1252
	has(t, c, "contratacion", "publica")
}

func TestTokenizeShapes(t *testing.T) {
	toks := Tokenize([]byte("Subject: \n\n12345678 abcdefghijklmnopqrstuvwxyz0123456789 会員情報変更 x 2026"), Hints{})
	has(t, toks, "s:empty", "num:8", "skip:a:30", "会員", "員情", "2026", "from:none", "rcvd:0")
	for _, tok := range toks {
		if tok == "x" {
			t.Error("one-letter word kept")
		}
	}
}

func TestTokenizeBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: big\n\n")
	for i := 0; b.Len() < 2<<20; i++ {
		b.WriteString("palabra")
		b.WriteString(strings.Repeat("x", i%13))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(" ")
	}
	toks := Tokenize([]byte(b.String()), Hints{})
	if len(toks) > maxTokens {
		t.Fatalf("%d tokens", len(toks))
	}
}

// TestTokenizeInvariants runs the tokenizer over the Spanish fixtures and
// checks basic invariants.
func TestTokenizeInvariants(t *testing.T) {
	files, _ := filepath.Glob("testdata/es/*/*.eml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkTokens(t, Tokenize(b, Hints{}))
	}
}

func checkTokens(t testing.TB, toks []string) {
	t.Helper()
	if len(toks) > maxTokens {
		t.Fatalf("%d tokens", len(toks))
	}
	seen := map[string]bool{}
	for _, tok := range toks {
		if tok == "" || !utf8.ValidString(tok) || seen[tok] {
			t.Fatalf("bad or duplicate token %q", tok)
		}
		seen[tok] = true
	}
}

func FuzzTokenize(f *testing.F) {
	f.Add([]byte("Subject: hola\r\n\r\nbody"), "pass")
	f.Add([]byte("From: <a@b>\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\n<a href='http://x.y/'>x</a>\n--b--\n"), "fail")
	f.Add([]byte("Content-Transfer-Encoding: base64\nContent-Type: text/plain; charset=shift_jis\n\n!!!===\n"), "")
	f.Add([]byte("\r\r\r\n\n From \x00\xff\xfe: \n\t\n"), "x")
	f.Add([]byte("Subject: =?utf-8?b?5Lya5ZOh?=\n\nhttp://[::1]:80/ https://user@host.example:8080/ www."), "none")
	files, _ := filepath.Glob("testdata/es/*/*.eml")
	for _, p := range files[:min(4, len(files))] {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, "pass")
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte, spf string) {
		toks := Tokenize(msg, Hints{SPF: spf, DNSBLListed: len(msg)%2 == 0})
		checkTokens(t, toks)
	})
}
