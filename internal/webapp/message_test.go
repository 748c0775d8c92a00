package webapp

import (
	"net/url"
	"strings"
	"testing"
)

func TestXSSInert(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login("ana", goodPW)
	for _, path := range []string{"/mensaje/" + e.xssID, "/mensaje/" + e.xssID + "?ver=texto", "/buscar?q=contrato"} {
		r := b.get(path)
		if r.code != 200 {
			t.Fatalf("%s: %d", path, r.code)
		}
		if strings.Contains(r.body, "<script>alert") || strings.Contains(r.body, "<img src=\"http") {
			t.Fatalf("%s: unescaped markup from the message:\n%s", path, r.body)
		}
		if strings.Count(r.body, "<script") != 1 { // the app's own, from /estatico/
			t.Fatalf("%s: scripts in the page", path)
		}
	}
	if r := b.get("/buscar?q=contrato").body; !strings.Contains(r, "&lt;script&gt;alert(5)") || strings.Contains(r, "&amp;lt;") || !strings.Contains(r, "<mark>contrato</mark>") {
		t.Fatalf("snippet not escaped exactly once:\n%s", r)
	}
	page := b.get("/mensaje/" + e.xssID).body
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;script&gt;alert(4)&lt;/script&gt;",
		"&lt;script&gt;alert(7)&lt;/script&gt;", `sandbox="allow-popups allow-popups-to-escape-sandbox" title=`, `class="badge ok"><span>SPF</span>`, "/constancia/json"} {
		if !strings.Contains(page, want) {
			t.Errorf("message page lacks %q", want)
		}
	}
	// The plain-text alternative (?ver=texto), escaped, without the frame.
	if txt := b.get("/mensaje/" + e.xssID + "?ver=texto").body; !strings.Contains(txt, "&lt;script&gt;alert(5)&lt;/script&gt;") || strings.Contains(txt, "<iframe") {
		t.Errorf("plain-text view:\n%s", txt)
	}
	body := b.get("/mensaje/" + e.xssID + "/cuerpo.html")
	// The body is sanitized (sanitize.go) and served under a CSP that loads no
	// image but data: ones (the message's own, embedded).
	if body.h.Get("Content-Security-Policy") != BodyCSP || !strings.Contains(BodyCSP, "img-src data:;") || !strings.Contains(body.body, "contrato") {
		t.Fatalf("HTML body CSP %q", body.h.Get("Content-Security-Policy"))
	}
	if strings.Contains(body.body, "<script") || strings.Contains(body.body, "alert(6)") || strings.Contains(body.body, "malo.example") ||
		!strings.Contains(body.body, `class="remota"`) {
		t.Fatalf("HTML body not sanitized:\n%s", body.body)
	}
	att := b.get("/mensaje/" + e.xssID + "/adjunto/2")
	if att.code != 200 || att.h.Get("Content-Type") != "application/octet-stream" || att.h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("attachment: %d %v", att.code, att.h)
	}
	cd := att.h.Get("Content-Disposition")
	if !strings.HasPrefix(cd, "attachment;") || strings.ContainsAny(strings.TrimPrefix(cd, "attachment;"), "<>") {
		t.Fatalf("Content-Disposition %q", cd)
	}
	c := b.get("/mensaje/" + e.xssID + "/constancia/json")
	if c.code != 200 || !strings.Contains(c.body, e.xssID) || !strings.HasPrefix(c.h.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("constancia: %d %q", c.code, c.body)
	}
}

func TestSafeFilename(t *testing.T) {
	for in, want := range map[string]string{
		`../../etc/passwd`: "passwd", `C:\x\informe.pdf`: "informe.pdf", "a\r\nb\".pdf": "a__b_.pdf", "": "fb", "...": "fb",
	} {
		if got := safeFilename(in, "fb"); got != want {
			t.Errorf("safeFilename(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestExternalLinkPage: a web link from a mail body opens /enlace, which shows
// where it goes (a punycode host decoded and flagged) and follows it only on a
// click, without a Referer; anything but http(s) is refused.
func TestExternalLinkPage(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t) // no login needed: the page shows only the address it was given
	for _, tc := range []struct {
		u    string
		code int
		want []string
		not  []string
	}{
		{"https://www.plataformadetransparencia.org.mx/solicitud?folio=330026", 200,
			[]string{`id="enlace-host">www.plataformadetransparencia.org.mx<`, `href="https://www.plataformadetransparencia.org.mx/solicitud?folio=330026"`,
				`rel="noopener noreferrer nofollow"`}, []string{`id="enlace-distinto"`}},
		{"https://xn--pypal-4ve.com/entrar", 200, []string{"pаypal.com (xn--pypal-4ve.com)", `id="enlace-distinto"`}, nil},
		{"javascript:alert(1)", 400, []string{"no es una dirección web válida"}, []string{`href="javascript`}},
		{"/salir", 400, nil, []string{`id="enlace-abrir"`}},
		{"ftp://archivos.example/x", 400, nil, nil},
	} {
		r := b.get(LinkPath + "?u=" + url.QueryEscape(tc.u))
		if r.code != tc.code {
			t.Errorf("%s: %d, want %d", tc.u, r.code, tc.code)
		}
		contains(t, tc.u, r.body, tc.want...)
		lacks(t, tc.u, r.body, tc.not...)
	}
}
