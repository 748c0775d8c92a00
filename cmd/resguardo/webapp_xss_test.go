package main

import (
	"archive/tar"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/net/html"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/webapp"
)

// xssPayloads are messages with markup that would run if it reached the app's
// origin unescaped: in the subject (plain and RFC 2047), display names, the text
// body, the HTML body, attachment names and file names (quoted, RFC 2047, RFC
// 2231 and RFC 2231 continuations).
func xssPayloads() []string {
	b64 := func(s string) string { return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?=" }
	head := func(n int, from, to, subject string) string {
		return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 02 Mar 2026 1%d:00:00 -0600\r\nMessage-ID: <carga-%d@ejemplo.com>\r\nMIME-Version: 1.0\r\n", from, to, subject, n, n)
	}
	html := "<html><head><meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\"><base href=\"javascript:alert(2)//\">" +
		"<style>body{background:url(javascript:alert(3));width:expression(alert(4))}</style></head>" +
		"<body onload=\"alert(5)\"><script>alert(6)</script><img src=x onerror=\"alert(7)\"><svg onload=alert(8)><script>alert(9)</script></svg>" +
		"<a href=\"javascript:alert(10)\">carga</a><a href=\" JaVaScRiPt:alert(11)\">x</a><iframe src=\"javascript:alert(12)\"></iframe>" +
		"<object data=\"data:text/html,<script>alert(13)</script>\"></object><form action=\"javascript:alert(14)\"><button formaction=\"javascript:alert(15)\">b</button></form>" +
		"<div style=\"width:expression(alert(16))\">carga</div><math><mtext><table><mglyph><style><img src=x onerror=alert(17)></style></mglyph></table></mtext></math>" +
		"<noscript><p title=\"</noscript><img src=x onerror=alert(18)>\"></noscript></body></html>"
	return []string{
		head(0, "\"<script>alert(20)</script>\" <a@ejemplo.com>", "\"<img src=x onerror=alert(21)>\" <b@ejemplo.com>, \"javascript:alert(22)\" <c@ejemplo.com>",
			"carga <script>alert(23)</script><img src=x onerror=alert(24)> javascript:alert(25)") +
			"Content-Type: text/plain; charset=utf-8\r\n\r\ncarga <script>alert(26)</script> <img src=x onerror=alert(27)> javascript:alert(28) \"><svg onload=alert(29)>\r\n",
		head(1, b64("<svg onload=alert(30)>")+" <d@ejemplo.com>", "e@ejemplo.com", "carga "+b64("<script>alert(31)</script>\"'><img src=x onerror=alert(32)>")) +
			"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
			"--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n" +
			"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncarga &lt;script&gt;alert(33)&lt;/script&gt; <b onmouseover=alert(34)>\r\n" +
			"--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--b2--\r\n" +
			"--b1\r\nContent-Type: text/html; name=\"<script>alert(35)</script>.html\"\r\nContent-Disposition: attachment; filename=\"\\\"><img src=x onerror=alert(36)>.html\"\r\n\r\n<script>alert(37)</script>\r\n" +
			"--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''%3Cscript%3Ealert(38)%3C%2Fscript%3E%0D%0AX-Injected%3A%201.pdf\r\n\r\n%PDF-1.4\r\n" +
			"--b1\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename*0*=UTF-8''%3Csvg%20onload%3D; filename*1*=alert(39)%3E; filename*2=\".txt\"\r\n\r\ncarga\r\n" +
			"--b1\r\nContent-Type: application/octet-stream; name=\"" + b64("../../<img src=x onerror=alert(40)>.exe") + "\"\r\nContent-Disposition: attachment\r\n\r\nMZ\r\n" +
			"--b1\r\nContent-Type: image/svg+xml\r\nContent-Disposition: inline; filename=\"javascript:alert(41).svg\"\r\n\r\n<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(42)\"/>\r\n" +
			"--b1--\r\n",
		head(2, "f@ejemplo.com", "g@ejemplo.com", "carga html sola") + "Content-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n",
	}
}

// phishingSample reads up to n messages with script-like markup from the
// phishing-pot set (packed because it may hold live malware: only its bytes are
// read, into the test's directory).
func phishingSample(t *testing.T, corpus, out string, n int) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(corpus, "real", "phishing-pot", "phishing-pot-sample.tar.zst"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	risky := regexp.MustCompile(`(?i)<script|\son[a-z]+\s*=|javascript:|http-equiv|<iframe|<svg`)
	tr := tar.NewReader(zr)
	var files []string
	for len(files) < n {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(h.Name, ".eml") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if !risky.Match(b) {
			continue
		}
		p := filepath.Join(out, fmt.Sprintf("phishing-%03d.eml", len(files)))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	if len(files) < n/2 {
		t.Fatalf("phishing-pot: only %d messages with markup", len(files))
	}
	return files
}

// inert fails when an HTML page of the app has markup that could run: a script
// other than the app's own, an event handler attribute, a style attribute or
// element, a URL with a scheme other than http(s), a frame other than the
// sandboxed mail body, a meta refresh, a base, object or embed element, SVG.
func inert(body string) (problems []string) {
	scheme := regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	z := html.NewTokenizer(strings.NewReader(body))
	bad := func(tok html.Token, why string) { problems = append(problems, why+" in "+tok.String()) }
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				problems = append(problems, z.Err().Error())
			}
			return problems
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		attr := map[string]string{}
		for _, a := range tok.Attr {
			attr[a.Key] = a.Val
			k := strings.ToLower(a.Key)
			v := strings.ToLower(strings.Map(func(r rune) rune {
				if r <= ' ' {
					return -1
				}
				return r
			}, a.Val))
			switch {
			case strings.HasPrefix(k, "on"):
				bad(tok, "event handler")
			case k == "style":
				bad(tok, "style attribute")
			case k == "href" || k == "src" || k == "action" || k == "formaction" || k == "data" || strings.HasSuffix(k, ":href"):
				if m := scheme.FindString(v); m != "" && m != "http:" && m != "https:" {
					bad(tok, "URL scheme "+m)
				}
			}
		}
		switch tok.Data {
		case "script":
			if attr["src"] != "/estatico/app.js" {
				bad(tok, "script")
			}
		case "iframe":
			// The frame's sandbox allows only popups (a link opens /enlace in a
			// new tab); never scripts, same-origin, forms or top navigation.
			if s, ok := attr["sandbox"]; !ok || s != "allow-popups allow-popups-to-escape-sandbox" || !regexp.MustCompile(`^/mensaje/[0-9a-f]{64}/cuerpo\.html$`).MatchString(attr["src"]) {
				bad(tok, "frame")
			}
		case "meta":
			if _, ok := attr["http-equiv"]; ok {
				bad(tok, "meta http-equiv")
			}
		case "style", "base", "object", "embed", "applet", "frame", "frameset", "svg", "math", "link":
			if tok.Data != "link" || attr["href"] != "/estatico/app.css" {
				bad(tok, "element")
			}
		}
	}
}

// TestWebAppXSSInert archives hostile messages — payloads of our own, phishing
// from the honeypot set and MIME torture fixtures of the shared corpus — with
// `resguardo import`, then reads every one through `serve` as an auditor: the
// search result pages, the message page, the HTML body, every attachment, and
// the JSON API. No page of the app's origin carries executable markup from
// mail; the HTML body is served only from its own route under the sandbox CSP;
// downloads are octet-stream attachments with clean file names.
func TestWebAppXSSInert(t *testing.T) {
	t.Parallel()
	corpus := corpustest.Dir(t)
	dir := t.TempDir()
	mail := filepath.Join(dir, "correo")
	os.MkdirAll(mail, 0o755)
	var files []string
	for i, m := range xssPayloads() {
		p := filepath.Join(mail, fmt.Sprintf("carga-%d.eml", i))
		if err := os.WriteFile(p, []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	files = append(files, phishingSample(t, corpus, mail, 30)...)
	torture := []string{"zbateson-mail-mime-parser/m3004.txt", "nodemailer-mailparser/nodemailer.eml", "nodemailer-mailparser/htmllargecallstack.eml",
		"nodemailer-mailparser/spam.eml", "rspamd/phishing1.eml"}
	stalwart, _ := filepath.Glob(filepath.Join(corpus, "torture", "stalwart-mail-parser", "*", "*.eml"))
	for _, f := range torture {
		if _, err := os.Stat(filepath.Join(corpus, "torture", f)); err == nil {
			files = append(files, filepath.Join(corpus, "torture", f))
		}
	}
	files = append(files, stalwart...)
	data := filepath.Join(dir, "data")
	mustCLI(t, append([]string{"import", "--data", data}, files...)...)
	ids := map[string]string{}
	for _, f := range files {
		ids[idOf(t, f)] = f
	}

	addr := freePort(t)
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
		done <- m.Run(ctx, []string{"serve", "--data", data, "--listen", addr})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitHTTP(t, base+"/healthz")
	cat, err := catalog.OpenSQLite(ctx, archive.Layout{Dir: data}.Catalog(), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	idsvc, err := identity.New(cat, identity.Options{SecretKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "Contraseña-de-la-auditora-2026"
	if _, _, err := idsvc.CreateUser(ctx, identity.NewUser{Login: "olga", DisplayName: "Olga", Password: pw, Roles: []identity.Role{identity.RoleAuditor}}); err != nil {
		t.Fatal(err)
	}
	cat.Close()

	// The auditor logs in, enrols TOTP and types a justification.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		r, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r, string(b)
	}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	// post sends a form with the CSRF token of the page it is on.
	post := func(path, from string, form url.Values) (*http.Response, string) {
		t.Helper()
		m := csrfRE.FindStringSubmatch(from)
		if m == nil {
			t.Fatalf("no CSRF token for %s in:\n%s", path, from)
		}
		form.Set("csrf", m[1])
		r, err := c.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r, string(b)
	}
	_, page := get("/entrar")
	r, page := post("/entrar", page, url.Values{"usuario": {"olga"}, "contrasena": {pw}})
	sec := regexp.MustCompile(`id="secreto">([A-Z2-7]+)<`).FindStringSubmatch(page)
	if sec == nil {
		t.Fatalf("TOTP enrolment expected at %s:\n%s", r.Request.URL, page)
	}
	key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(sec[1])
	if r, page = post("/cuenta/segundo-factor", page, url.Values{"codigo": {identity.TOTPCode(key, time.Now())}}); !strings.Contains(page, `id="codigos"`) {
		t.Fatalf("TOTP confirmation: %s\n%s", r.Request.URL, page)
	}
	_, page = get("/buscar")
	if r, _ = post("/justificacion", page, url.Values{"justificacion": {"Prueba de seguridad: contenido hostil"}, "volver": {"/buscar"}}); r.StatusCode != 200 {
		t.Fatalf("justification: %d", r.StatusCode)
	}

	// Every result page, and the API's results.
	seen := map[string]bool{}
	hrefRE := regexp.MustCompile(`href="/mensaje/([0-9a-f]{64})"`)
	for p := 1; ; p++ {
		r, page := get(fmt.Sprintf("/buscar?q=channel:import&pagina=%d", p))
		if r.StatusCode != 200 {
			t.Fatalf("search page %d: %d", p, r.StatusCode)
		}
		for _, pr := range inert(page) {
			t.Errorf("search page %d: %s", p, pr)
		}
		hits := hrefRE.FindAllStringSubmatch(page, -1)
		for _, h := range hits {
			seen[h[1]] = true
		}
		if len(hits) == 0 || p > 20 {
			break
		}
	}
	for id, f := range ids {
		if !seen[id] {
			t.Errorf("%s (%s) not in the search results", id, f)
		}
	}
	r, page = get("/api/v1/search?q=channel:import&size=100")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("API search: %d %v", r.StatusCode, r.Header)
	}
	var res struct {
		Hits []struct {
			Subject  string   `json:"subject"`
			Snippets []string `json:"snippets"`
		} `json:"hits"`
	}
	if err := json.Unmarshal([]byte(page), &res); err != nil {
		t.Fatal(err)
	}
	for _, h := range res.Hits {
		for _, s := range h.Snippets { // HTML fragments: only <mark> may be markup
			if tags := regexp.MustCompile(`<(/?)([a-zA-Z]+)`).FindAllStringSubmatch(s, -1); len(tags) > 0 {
				for _, tg := range tags {
					if tg[2] != "mark" {
						t.Errorf("API snippet of %q has <%s>: %s", h.Subject, tg[2], s)
					}
				}
			}
		}
	}

	// Every message: its page, HTML body, attachments, and API document.
	attachments := 0
	for id, f := range ids {
		where := filepath.Base(f)
		r, page := get("/mensaje/" + id)
		if r.StatusCode != 200 {
			t.Errorf("%s: message page %d", where, r.StatusCode)
			continue
		}
		for _, pr := range inert(page) {
			t.Errorf("%s: message page: %s", where, pr)
		}
		r, doc := get("/api/v1/messages/" + id)
		if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: API document %d %v", where, r.StatusCode, r.Header)
			continue
		}
		var m struct {
			HasHTML     bool `json:"has_html"`
			Attachments []struct {
				Path, Href string
				Filename   string `json:"filename"`
			} `json:"attachments"`
		}
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			t.Errorf("%s: API document: %v", where, err)
			continue
		}
		if m.HasHTML {
			if !strings.Contains(page, `src="/mensaje/`+id+`/cuerpo.html"`) {
				t.Errorf("%s: the HTML body is not in its frame", where)
			}
			r, _ := get("/mensaje/" + id + "/cuerpo.html")
			if r.StatusCode != 200 || r.Header.Get("Content-Security-Policy") != webapp.BodyCSP || r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: HTML body %d, CSP %q", where, r.StatusCode, r.Header.Get("Content-Security-Policy"))
			}
		}
		for _, a := range m.Attachments {
			attachments++
			for _, path := range []string{"/mensaje/" + id + "/adjunto/" + a.Path, a.Href} {
				r, _ := get(path)
				cd, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition"))
				name := params["filename"]
				if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/octet-stream" || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
					!strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") || err != nil || cd != "attachment" ||
					name == "" || strings.ContainsAny(name, "<>\"'/\\\r\n\x00") {
					t.Errorf("%s: attachment %s (%q): %d %v (filename %q, %v)", where, path, a.Filename, r.StatusCode, r.Header, name, err)
				}
			}
		}
	}
	if attachments < 5 {
		t.Fatalf("only %d attachments checked", attachments)
	}
	t.Logf("%d messages (%d of our payloads), %d attachments: inert", len(ids), len(xssPayloads()), attachments)
}

func TestInertChecker(t *testing.T) {
	ok := `<html><head><link rel="stylesheet" href="/estatico/app.css"><script src="/estatico/app.js" defer></script></head>` +
		`<body><a href="/buscar?q=x">x</a> &lt;script&gt;alert(1)&lt;/script&gt; <pre>&lt;img src=x onerror=alert(1)&gt;</pre>` +
		`<iframe class="html" src="/mensaje/` + strings.Repeat("a", 64) + `/cuerpo.html" sandbox="allow-popups allow-popups-to-escape-sandbox" title="t"></iframe></body></html>`
	if p := inert(ok); len(p) != 0 {
		t.Fatalf("the app's own markup: %v", p)
	}
	for _, bad := range []string{"<script>alert(1)</script>", "<img src=x onerror=alert(1)>", `<a href=" java	script:alert(1)">`,
		`<svg onload=alert(1)>`, `<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`, `<div style="width:expression(alert(1))">`,
		`<iframe src="/mensaje/x/cuerpo.html"></iframe>`, `<iframe src="/mensaje/` + strings.Repeat("a", 64) + `/cuerpo.html" sandbox="allow-scripts">`,
		`<form action="javascript:alert(1)">`, `<base href="/">`, `<object data="data:text/html,x">`} {
		if len(inert(ok+bad)) == 0 {
			t.Errorf("not caught: %s", bad)
		}
	}
}
