package webapp

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/resguardo/resguardo/internal/message"
)

// hostileHTML are the payloads of the XSS tests (internal/webapp and
// cmd/resguardo), one per case, each with what must not survive sanitizing.
var hostileHTML = []struct {
	name, in string
	gone     []string // substrings (lowercase) absent from the output
	kept     []string // substrings present in the output
}{
	{"script", `<p>contrato</p><script>alert(6)</script>`, []string{"<script", "alert"}, []string{"<p>contrato</p>"}},
	{"script in body onload", `<body onload="alert(5)"><script src="http://malo.example/x.js"></script>texto</body>`, []string{"onload", "<script", "malo"}, []string{"texto"}},
	{"img onerror", `<img src=x onerror="alert(7)">`, []string{"onerror", "alert"}, nil},
	{"javascript link", `<a href="javascript:alert(10)">carga</a>`, []string{"javascript", "href"}, []string{"carga"}},
	{"javascript link, case and space", `<a href=" JaVaScRiPt:alert(11)">x</a><a href="java&#x09;script:alert(1)">y</a>`, []string{"javascript", "href", "alert"}, []string{"x", "y"}},
	{"vbscript and data links", `<a href="vbscript:msgbox(1)">v</a><a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">d</a>`, []string{"vbscript", "data:", "href"}, nil},
	{"svg onload", `<svg onload=alert(8)><script>alert(9)</script></svg>`, []string{"<svg", "onload", "<script", "alert"}, nil},
	{"svg image", `<svg><image href="http://malo.example/p.png"/><a xlink:href="javascript:alert(1)">s</a></svg>`, []string{"<svg", "<image", "xlink", "javascript", "malo"}, nil},
	{"meta refresh", `<meta http-equiv="refresh" content="0;url=javascript:alert(1)"><p>hola</p>`, []string{"<meta", "refresh", "javascript"}, []string{"hola"}},
	{"base href", `<base href="javascript:alert(2)//"><a href="x">rel</a>`, []string{"<base", "javascript", "href"}, []string{"rel"}},
	{"style element", `<style>body{background:url(javascript:alert(3));width:expression(alert(4))}</style><p>t</p>`, []string{"<style", "url(", "expression", "javascript"}, []string{"<p>t</p>"}},
	{"css expression", `<div style="width:expression(alert(16))">carga</div>`, []string{"expression", "style"}, []string{"carga"}},
	{"css url", `<div style="background-image:url(http://malo.example/p.gif); color:red">c</div><p style="list-style:url(http://malo.example/l.gif)">l</p>`, []string{"url(", "malo", "background-image", "list-style"}, []string{`style="color: red"`}},
	{"css escapes", `<div style="color:red; background-color:\75 rl(http://malo.example/)">e</div>`, []string{"malo", `\`, "background-color"}, []string{`color: red`}},
	{"css overlay", `<div style="position:fixed; top:0; left:0; z-index:9999; width:100%; transform:scale(9)">overlay</div>`, []string{"position", "z-index", "top", "left", "transform"}, []string{"width: 100%", "overlay"}},
	{"form action", `<form action="javascript:alert(14)"><input name="clave" onfocus="alert(1)" autofocus><button formaction="javascript:alert(15)">b</button></form>`, []string{"<form", "<input", "<button", "action", "javascript", "onfocus"}, []string{"b"}},
	{"iframe srcdoc", `<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;" src="javascript:alert(12)"></iframe><p>f</p>`, []string{"<iframe", "srcdoc", "javascript", "alert"}, []string{"<p>f</p>"}},
	{"object and embed", `<object data="data:text/html,<script>alert(13)</script>"></object><embed src="http://malo.example/x.swf"><applet code="X"></applet>`, []string{"<object", "<embed", "<applet", "alert", "malo"}, nil},
	{"link stylesheet", `<link rel="stylesheet" href="http://malo.example/x.css"><p>k</p>`, []string{"<link", "malo"}, []string{"<p>k</p>"}},
	{"math mxss", `<math><mtext><table><mglyph><style><img src=x onerror=alert(17)></style></mglyph></table></mtext></math>`, []string{"<math", "onerror", "alert"}, nil},
	{"noscript mxss", `<noscript><p title="</noscript><img src=x onerror=alert(18)>"></noscript>`, []string{"onerror", "alert"}, nil},
	{"td background", `<table><tr><td background="http://malo.example/fondo.png">celda</td></tr></table>`, []string{"background", "malo"}, []string{"celda"}},
	{"svg data image", `<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+" alt="svg">`, []string{"data:", "svg+xml"}, []string{`alt="svg"`}},
	{"relative link", `<a href="/salir">salir</a><a href="#arriba">arriba</a>`, []string{"href", "/salir"}, []string{"salir", "arriba"}},
	{"template", `<template><img src=x onerror=alert(1)></template>t`, []string{"<template", "onerror"}, nil},
}

func TestSanitizePolicy(t *testing.T) {
	s := newSanitizer()
	for _, tc := range hostileHTML {
		t.Run(tc.name, func(t *testing.T) {
			got := s.clean(tc.in, nil).html
			low := strings.ToLower(got)
			for _, g := range tc.gone {
				if strings.Contains(low, g) {
					t.Errorf("%q survives:\n%s", g, got)
				}
			}
			for _, k := range tc.kept {
				if !strings.Contains(got, k) {
					t.Errorf("%q lost:\n%s", k, got)
				}
			}
			for _, p := range unsafeMarkup(got) {
				t.Error(p)
			}
		})
	}
}

// TestSanitizeKeeps: what mail formatting needs survives.
func TestSanitizeKeeps(t *testing.T) {
	s := newSanitizer()
	for in, want := range map[string]string{
		`<table width="600" cellpadding="6" cellspacing="0" border="1" bgcolor="#ffffff" align="center"><tr><td colspan="2" rowspan="1" valign="top" nowrap>x</td></tr></table>`: `<table width="600" cellpadding="6" cellspacing="0" border="1" bgcolor="#ffffff" align="center"><tr><td colspan="2" rowspan="1" valign="top" nowrap="">x</td></tr></table>`,
		`<font face="Georgia, serif" size="2" color="#5b6475">cita</font>`:                                               `<font face="Georgia, serif" size="2" color="#5b6475">cita</font>`,
		`<p style="color:#611232; font-family:Arial, sans-serif; margin:0 0 12px 0; text-align:justify">p</p>`:           `<p style="color: #611232; font-family: Arial, sans-serif; margin: 0 0 12px 0; text-align: justify">p</p>`,
		`<a href="https://www.gob.mx/">gob.mx</a>`:                                                                       `<a href="/enlace?u=https%3A%2F%2Fwww.gob.mx%2F" rel="nofollow noreferrer noopener" target="_blank">gob.mx</a>`,
		`<a href="mailto:ut@ejemplo.gob.mx">ut</a>`:                                                                      `<a href="mailto:ut@ejemplo.gob.mx" rel="nofollow noreferrer">ut</a>`,
		`<blockquote type="cite"><center><h2 dir="ltr" lang="es-MX">T</h2></center></blockquote>`:                        `<blockquote type="cite"><center><h2 dir="ltr" lang="es-MX">T</h2></center></blockquote>`,
		`<ol type="a" start="3"><li>uno</li></ol><ul><li><b>b</b><i>i</i><u>u</u><em>e</em><strong>s</strong></li></ul>`: `<ol type="a" start="3"><li>uno</li></ol><ul><li><b>b</b><i>i</i><u>u</u><em>e</em><strong>s</strong></li></ul>`,
		`<pre><code>a &lt; b</code></pre><hr size="1" noshade><br>`:                                                      `<pre><code>a &lt; b</code></pre><hr size="1" noshade=""><br>`,
		`<img src="data:image/png;base64,iVBORw0KGgo=" alt="logo" width="10" height="10">`:                               `<img src="data:image/png;base64,iVBORw0KGgo=" alt="logo" width="10" height="10">`,
	} {
		if got := s.clean(in, nil).html; got != want {
			t.Errorf("clean(%s)\n got %s\nwant %s", in, got, want)
		}
	}
}

// TestSanitizeRemoteImages: remote images (absolute, protocol-relative or
// relative) lose their src, keep alt and size, are marked and counted.
func TestSanitizeRemoteImages(t *testing.T) {
	in := `<img src="http://rastreo.example/p.gif" width="1" height="1" alt=""><img src="HTTPS://boletines.ejemplo.gob.mx/firma.png" alt="Firma" class="firma">` +
		`<img src="//rastreo.example/q.gif"><img src="imagen.png" alt="relativa"><img alt="sin origen"><img src="cid:nadie@x">`
	c := newSanitizer().clean(in, func(string) string { return "" })
	want := `<img width="1" height="1" alt="" class="remota"><img alt="Firma" class="firma remota">` +
		`<img class="remota"><img alt="relativa" class="remota"><img alt="sin origen"><img>`
	if c.html != want || c.remote != 4 {
		t.Fatalf("got %d remote:\n%s\nwant 4:\n%s", c.remote, c.html, want)
	}
}

// TestSanitizeGolden: a Spanish institutional newsletter (an oficio with
// tables, inline styles, font tags, a cid logo, a remote signature and a
// tracking pixel) keeps its structure. go test -update rewrites the golden
// file.
func TestSanitizeGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "boletin.in"))
	if err != nil {
		t.Fatal(err)
	}
	cid := func(ref string) string {
		if ref == "logo-sep@transparencia.ejemplo.gob.mx" {
			return "data:image/png;base64,iVBORw0KGgo="
		}
		return ""
	}
	c := newSanitizer().clean(string(in), cid)
	golden := filepath.Join("testdata", "boletin.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(c.html), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if c.html != string(want) {
		t.Errorf("sanitized newsletter differs from %s (go test -update to rewrite):\n%s", golden, c.html)
	}
	if c.remote != 2 {
		t.Errorf("%d remote images blocked, want 2 (signature, pixel)", c.remote)
	}
	for _, k := range []string{`<table class="contenedor" width="600" cellpadding="0" cellspacing="0" border="0" bgcolor="#ffffff" align="center"`,
		`<img src="data:image/png;base64,iVBORw0KGgo=" alt="Secretaría de Educación Pública"`, `<th align="right" nowrap="">Días hábiles</th>`,
		`<font face="Georgia, serif" size="2" color="#5b6475">`, `<blockquote type="cite"`, `<ol type="1">`, `<center>`,
		`<td colspan="2" align="right"><strong>Total</strong></td>`, `Oficio núm. UT/0457/2026<br>`,
		`<a href="/enlace?u=https%3A%2F%2Fwww.plataformadetransparencia.org.mx%2F" style="color: #611232" rel="nofollow noreferrer noopener" target="_blank">`,
		`<img alt="Firma del titular" width="160" height="60" class="remota">`, "Expediente: 2026/UT/DGTIC-015</pre>"} {
		if !strings.Contains(c.html, k) {
			t.Errorf("lost: %s", k)
		}
	}
	for _, g := range []string{"rastreo", "<style", "position", "z-index", "url(", "onclick", "javascript", "<script", "<title", "<meta", "target=\"_self\""} {
		if strings.Contains(c.html, g) {
			t.Errorf("survives: %s", g)
		}
	}
	for _, p := range unsafeMarkup(c.html) {
		t.Error(p)
	}
}

// safeHref: a link is mailto: or goes through the external-link page with an
// http(s) address.
func safeHref(v string) bool {
	if strings.HasPrefix(strings.ToLower(v), "mailto:") {
		return true
	}
	rest, ok := strings.CutPrefix(v, LinkPath+"?u=")
	if !ok {
		return false
	}
	u, err := url.QueryUnescape(rest)
	return err == nil && regexp.MustCompile(`^https?://`).MatchString(strings.ToLower(u))
}

// unsafeMarkup lists what in sanitized output could run, load or submit, as
// a browser would build it (html.Parse): an element outside the mail
// allowlist, an on… attribute, an href that is not http(s) or mailto, a src
// that is not a data: image, a style with url(), expression or position, a
// script tag anywhere in the text.
func unsafeMarkup(out string) (problems []string) {
	if strings.Contains(strings.ToLower(out), "<script") {
		problems = append(problems, "<script in "+out)
	}
	allowed := map[string]bool{"html": true, "head": true, "body": true}
	for _, e := range mailElements {
		allowed[e] = true
	}
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		return append(problems, err.Error())
	}
	squash := func(s string) string {
		return strings.ToLower(strings.Map(func(r rune) rune {
			if r <= ' ' || r == 0x7f {
				return -1
			}
			return r
		}, s))
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if !allowed[n.Data] || n.Namespace != "" {
				problems = append(problems, "element "+n.Namespace+" "+n.Data)
			}
			for _, a := range n.Attr {
				v := squash(a.Val)
				switch k := strings.ToLower(a.Key); {
				case strings.HasPrefix(k, "on"), a.Namespace != "":
					problems = append(problems, "attribute "+a.Namespace+":"+a.Key)
				case strings.Contains(v, "javascript:"), strings.Contains(v, "vbscript:"):
					problems = append(problems, "script URL in "+a.Key+"="+a.Val)
				case k == "href" && !safeHref(a.Val):
					problems = append(problems, "href "+a.Val)
				case k == "src" && !strings.HasPrefix(v, "data:image/"):
					problems = append(problems, "src "+a.Val)
				case k == "style" && (strings.Contains(v, "url(") || strings.Contains(v, "expression") || strings.Contains(v, "position") || strings.Contains(v, `\`)):
					problems = append(problems, "style "+a.Val)
				case k == "srcset", k == "srcdoc", k == "action", k == "formaction", k == "background", k == "data", k == "poster", k == "http-equiv":
					problems = append(problems, "attribute "+a.Key)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return problems
}

func TestDecodeHTMLCharset(t *testing.T) {
	head := "From: ana@ejemplo.gob.mx\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
	for _, tc := range []struct{ name, msg, want string }{
		{"Content-Type charset", head + "Content-Type: text/html; charset=iso-8859-1\r\n\r\n<p>Informaci\xf3n p\xfablica</p>\r\n", "Información pública"},
		{"meta charset", head + "Content-Type: text/html\r\n\r\n<html><head><meta charset=\"ISO-8859-1\"></head><body>Se\xf1or</body></html>\r\n", "Señor"},
		{"meta http-equiv", head + "Content-Type: text/html\r\n\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"><p>\x93cita\x94</p>\r\n", "“cita”"},
		{"Content-Type wins over meta", head + "Content-Type: text/html; charset=windows-1252\r\n\r\n<meta charset=\"utf-8\"><p>a\xf1o</p>\r\n", "año"},
		{"meta utf-16 is utf-8", head + "Content-Type: text/html\r\n\r\n<meta charset=\"utf-16\"><p>año</p>\r\n", "año"},
		{"none: utf-8", head + "Content-Type: text/html\r\n\r\n<p>año</p>\r\n", "año"},
		{"quoted-printable", head + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>a=C3=B1o</p>\r\n", "año"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.msg)
			hp, ok := bodyPart(message.Parse(raw, message.Limits{}), "text/html")
			if !ok {
				t.Fatal("no HTML part")
			}
			if got := decodeHTML(raw, hp); !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q in it", got, tc.want)
			}
		})
	}
}

// tinyPNG is a 2×2 PNG.
func tinyPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{0x61, 0x12, 0x32, 0xff})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// msgImages is Ana's oficio with inline images: a cid logo (referenced twice,
// once percent-encoded and in another case), a cid naming a PDF, a cid
// naming an "image/png" part that holds HTML, a cid naming nothing, and two
// remote images.
func msgImages(logo []byte) string {
	return "From: Ana <ana@ejemplo.gob.mx>\r\nTo: Carlos <carlos@ejemplo.gob.mx>\r\nSubject: Oficio con imagenes\r\n" +
		"Date: Wed, 04 Mar 2026 10:00:00 -0600\r\nMessage-ID: <imagenes@ejemplo.gob.mx>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/related; boundary=\"r\"\r\n\r\n" +
		"--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		"<p>Oficio de imágenes</p><img src=\"cid:logo@ejemplo.gob.mx\" alt=\"Logo\"><img src=\"CID:Logo%40Ejemplo.gob.mx\" alt=\"Logo 2\">" +
		"<img src=\"cid:acuse@ejemplo.gob.mx\" alt=\"Acuse\"><img src=\"cid:falso@ejemplo.gob.mx\" alt=\"Falso\"><img src=\"cid:nadie@ejemplo.gob.mx\" alt=\"Nadie\">" +
		"<img src=\"http://rastreo.example/p.gif\" alt=\"Pixel\"><img src=\"//rastreo.example/q.gif\">\r\n" +
		"--r\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <logo@ejemplo.gob.mx>\r\n\r\n" +
		base64.StdEncoding.EncodeToString(logo) + "\r\n" +
		"--r\r\nContent-Type: application/pdf; name=\"acuse.pdf\"\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <acuse@ejemplo.gob.mx>\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCg==\r\n" +
		"--r\r\nContent-Type: image/png\r\nContent-ID: <falso@ejemplo.gob.mx>\r\n\r\n<html><script>alert(1)</script></html>\r\n" +
		"--r--\r\n"
}

// TestBodyRoute: /mensaje/{id}/cuerpo.html serves the sanitized body as a
// UTF-8 document under BodyCSP and nosniff; cid: images are embedded from the
// message's own image parts only; remote images are blocked and counted on
// the message page; the body keeps the read rule (another's → 404) and its
// access entry; the archived bytes are untouched.
func TestBodyRoute(t *testing.T) {
	e := newEnv(t)
	logo := tinyPNG(t)
	raw := msgImages(logo)
	id := e.arc.add(t, e.idx, raw)
	ana := e.browser(t)
	ana.login("ana", goodPW)

	body := ana.get("/mensaje/" + id + "/cuerpo.html")
	if body.code != 200 || body.h.Get("Content-Security-Policy") != BodyCSP || body.h.Get("X-Content-Type-Options") != "nosniff" ||
		body.h.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("body: %d %v", body.code, body.h)
	}
	if !strings.Contains(BodyCSP, "img-src data:;") || !strings.Contains(BodyCSP, "default-src 'none'") || !strings.HasSuffix(BodyCSP, "; sandbox") {
		t.Fatalf("BodyCSP %q", BodyCSP)
	}
	dataURL := "data:image/png;base64," + base64.StdEncoding.EncodeToString(logo)
	for _, want := range []string{"<!DOCTYPE html>", `<meta charset="utf-8">`, "Oficio de imágenes", `<img src="` + dataURL + `" alt="Logo">`,
		`<img src="` + dataURL + `" alt="Logo 2">`, `<img alt="Acuse">`, `<img alt="Falso">`, `<img alt="Nadie">`,
		`<img alt="Pixel" class="remota">`, `<img class="remota">`, "img.remota{"} {
		if !strings.Contains(body.body, want) {
			t.Errorf("body lacks %s:\n%s", want, body.body)
		}
	}
	for _, gone := range []string{"rastreo", "JVBER", "application/pdf", "alert", "cid:"} {
		if strings.Contains(body.body, gone) {
			t.Errorf("body has %q", gone)
		}
	}
	e.arc.mu.Lock()
	last := e.arc.access[len(e.arc.access)-1]
	e.arc.mu.Unlock()
	if last.Actor != "user:ana" || last.Action != "read" || last.Query != "html body" || len(last.Records) != 1 || last.Records[0] != id {
		t.Fatalf("body access entry: %+v", last)
	}
	if got := string(e.arc.raw[id]); got != raw {
		t.Fatal("the archived bytes changed")
	}

	page := ana.get("/mensaje/" + id)
	if !strings.Contains(page.body, `<p class="alert info" id="imagenes-remotas">Se bloquearon 2 imágenes remotas`) {
		t.Errorf("message page lacks the blocked-images notice:\n%s", page.body)
	}
	if p := ana.get("/mensaje/" + e.xssID); !strings.Contains(p.body, "Se bloqueó 1 imagen remota") {
		t.Errorf("one remote image: notice missing")
	}
	if p := ana.get("/mensaje/" + e.xssID + "?ver=texto"); strings.Contains(p.body, "imagenes-remotas") {
		t.Errorf("the text view has the notice")
	}
	if p := ana.get("/mensaje/" + id + "?lang=en"); !strings.Contains(p.body, "2 remote images were blocked") {
		t.Errorf("English notice missing")
	}

	// Beto may not read Ana's oficio: its body (and so its images) is 404.
	beto := e.browser(t)
	beto.login("beto", goodPW)
	for _, p := range []string{"", "/cuerpo.html"} {
		r := beto.get("/mensaje/" + id + p)
		if r.code != http.StatusNotFound || strings.Contains(r.body, "data:image") || strings.Contains(r.body, "Oficio") {
			t.Errorf("beto opened %q: %d", p, r.code)
		}
	}
}

func TestInlineImages(t *testing.T) {
	logo := tinyPNG(t)
	raw := []byte(msgImages(logo))
	m := message.Parse(raw, message.Limits{})
	cid := inlineImages(raw, m)
	first := cid("logo@ejemplo.gob.mx")
	if !strings.HasPrefix(first, "data:image/png;base64,") || cid("logo%40ejemplo.gob.mx") != first || cid("<LOGO@ejemplo.gob.mx>") != first {
		t.Fatalf("logo: %.40q", first)
	}
	for _, ref := range []string{"acuse@ejemplo.gob.mx", "falso@ejemplo.gob.mx", "nadie@ejemplo.gob.mx", "", "%zz"} {
		if u := cid(ref); u != "" {
			t.Errorf("cid %q: %.40q", ref, u)
		}
	}
}
