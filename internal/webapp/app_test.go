package webapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/message"
	"github.com/resguardo/resguardo/internal/search"
)

const goodPW = "Contraseña-larga-2026"

// msgXSS is Ana's message, with script in every place a browser could run it.
const msgXSS = "From: \"<script>alert(4)</script>\" <ana@ejemplo.gob.mx>\r\n" +
	"To: Carlos <carlos@ejemplo.gob.mx>\r\n" +
	"Subject: Informe <script>alert(1)</script>\r\n" +
	"Date: Mon, 02 Mar 2026 10:00:00 -0600\r\n" +
	"Message-ID: <xss@ejemplo.gob.mx>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
	"--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n" +
	"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n<script>alert(5)</script> contrato de obra\r\n" +
	"--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>contrato</p><script>alert(6)</script><img src=\"http://malo.example/x.png\">\r\n" +
	"--b2--\r\n" +
	"--b1\r\nContent-Type: text/html; name=\"x.html\"\r\nContent-Disposition: attachment; filename=\"\\\"><script>alert(7)</script>.html\"\r\n\r\n<script>alert(8)</script>\r\n" +
	"--b1--\r\n"

const msgBeto = "From: Beto <beto@ejemplo.gob.mx>\r\nTo: diana@ejemplo.gob.mx\r\nSubject: Secreto de Beto\r\n" +
	"Date: Tue, 03 Mar 2026 10:00:00 -0600\r\nMessage-ID: <beto@ejemplo.gob.mx>\r\n\r\nUn contrato confidencial.\r\n"

type fakeArchive struct {
	mu      sync.Mutex
	recs    map[string]*catalog.Record
	raw     map[string][]byte
	access  []archive.AccessDetail
	ids     []string
	arrival map[string][]constancia.Arrival
}

func (f *fakeArchive) add(t *testing.T, idx search.Index, raw string) string {
	t.Helper()
	b := []byte(raw)
	sum := sha256.Sum256(b)
	id := hex.EncodeToString(sum[:])
	m := message.Parse(b, message.Limits{})
	meta := archive.Meta{V: 1, SHA256: id, Size: int64(len(b)), From: m.From, Sender: m.Sender, ReplyTo: m.ReplyTo,
		To: m.To, Cc: m.Cc, Bcc: m.Bcc, Subject: m.Subject, MessageID: m.MessageID}
	mj, _ := json.Marshal(meta)
	var parts []catalog.Part
	for _, p := range m.Attachments() {
		parts = append(parts, catalog.Part{Path: p.Path, ContentType: p.ContentType, Filename: p.Filename, Size: p.Size, SHA256: p.SHA256})
	}
	f.recs[id] = &catalog.Record{SHA256: id, Size: int64(len(b)), Date: m.Date, Subject: m.Subject, Meta: mj, Parts: parts}
	f.raw[id] = b
	f.ids = append(f.ids, id)
	conv := func(list []message.Address) (out []search.Address) {
		for _, a := range list {
			out = append(out, search.Address{Name: a.Name, Address: a.Address})
		}
		return out
	}
	var body string
	if tp, ok := bodyPart(m, "text/plain"); ok {
		d, _ := message.DecodePart(b, tp)
		body = string(d)
	}
	if err := idx.Index(context.Background(), []search.Doc{{ID: id, Date: m.Date, Subject: m.Subject, Body: body,
		From: conv(m.From), To: conv(m.To), Cc: conv(m.Cc), Sender: conv(m.Sender), ReplyTo: conv(m.ReplyTo),
		MessageID: m.MessageID, Size: int64(len(b)), HasAttach: len(parts) > 0}}); err != nil {
		t.Fatal(err)
	}
	return id
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	srv           *httptest.Server
	ids           *identity.Service
	arc           *fakeArchive
	clk           *clock
	xssID, betoID string
	cat           *catalog.SQLite // the identity store; also holds the fixture records and access log (ops_test.go)
	dash          *clock          // the dashboard's clock (Operations.Now)
	idx           *search.Bleve
	threads       map[string][]string // conversations, by id (Options.Thread; search_export_test.go)
	pending       map[string]bool     // records whose constancia is pending (Options.Export)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.OpenSQLite(ctx, filepath.Join(t.TempDir(), "catalog.db"), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	clk := &clock{t: time.Now()}
	ids, err := identity.New(cat, identity.Options{SecretKey: bytes.Repeat([]byte{7}, 32), Now: clk.now,
		Argon2: identity.Argon2Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []identity.NewUser{
		{Login: "ana", DisplayName: "Ana", Roles: []identity.Role{identity.RoleServidorPublico}, Addresses: []string{"ana@ejemplo.gob.mx"}, Password: goodPW},
		{Login: "beto", DisplayName: "Beto", Roles: []identity.Role{identity.RoleServidorPublico}, Addresses: []string{"beto@ejemplo.gob.mx"}, Password: goodPW},
		{Login: "olga", DisplayName: "Olga", Roles: []identity.Role{identity.RoleAuditor}, Addresses: []string{"olga@ejemplo.gob.mx"}, Password: goodPW},
	} {
		if _, _, err := ids.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := search.OpenBleve(filepath.Join(t.TempDir(), "index"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	arc := &fakeArchive{recs: map[string]*catalog.Record{}, raw: map[string][]byte{}, arrival: map[string][]constancia.Arrival{}}
	e := &env{ids: ids, arc: arc, clk: clk, cat: cat, dash: &clock{t: clk.now()}, idx: idx,
		threads: map[string][]string{}, pending: map[string]bool{}}
	e.xssID = arc.add(t, idx, msgXSS)
	e.betoID = arc.add(t, idx, msgBeto)
	arc.arrival[e.xssID] = []constancia.Arrival{{Channel: "mx", ReceivedAt: "2026-03-02T16:00:00Z", MailFrom: "ana@ejemplo.gob.mx",
		RcptTo: []string{"carlos@ejemplo.gob.mx"}, Verdict: "accept", SPF: "pass (ejemplo.gob.mx)", DMARC: "pass (ejemplo.gob.mx)",
		DKIM: []string{"pass d=ejemplo.gob.mx s=s1"}, Antivirus: []constancia.EngineVerdict{{Engine: "clamav", Verdict: "clean"}}}}
	e.catalogue(t)
	app, err := New(Options{
		Identity: ids, Index: idx,
		Lookup: func(_ context.Context, id string) (*catalog.Record, error) {
			if r, ok := arc.recs[id]; ok {
				return r, nil
			}
			return nil, catalog.ErrNotFound
		},
		Bytes: func(_ context.Context, r *catalog.Record) ([]byte, error) { return arc.raw[r.SHA256], nil },
		LogAccess: func(_ context.Context, d archive.AccessDetail) error {
			arc.mu.Lock()
			arc.access = append(arc.access, d)
			arc.mu.Unlock()
			return catalogAccess(cat, d)
		},
		Arrivals: func(_ context.Context, r *catalog.Record) ([]constancia.Arrival, error) {
			return arc.arrival[r.SHA256], nil
		},
		Constancia: func(_ context.Context, r *catalog.Record) (*Constancia, error) {
			return &Constancia{JSON: []byte(`{"record":"` + r.SHA256 + `"}`), P7S: []byte("p7s"), PDF: []byte("%PDF-1.7")}, nil
		},
		Ops:    e.ops(),
		Thread: e.thread,
		Export: e.export(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(app)
	t.Cleanup(e.srv.Close)
	return e
}

// browser is a client with its own cookie jar that does not follow redirects.
type browser struct {
	t   *testing.T
	e   *env
	c   *http.Client
	jar http.CookieJar
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, jar: jar, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type resp struct {
	code int
	body string
	h    http.Header
}

func (b *browser) do(req *http.Request) resp {
	b.t.Helper()
	r, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, string(body), r.Header}
}

func (b *browser) get(path string) resp {
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) resp {
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) cookie() string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == identity.CookieName(false) {
			return c.Value
		}
	}
	return ""
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in:\n%s", body)
	}
	return m[1]
}

// login logs in with a password and returns the redirect target.
func (b *browser) login(user, pw string) resp {
	b.t.Helper()
	r := b.get("/entrar")
	return b.post("/entrar", url.Values{"csrf": {csrfOf(b.t, r.body)}, "usuario": {user}, "contrasena": {pw}})
}

func TestLoginAndSessionFixation(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	r := b.get("/entrar")
	if r.code != 200 || !strings.Contains(r.body, `name="usuario"`) {
		t.Fatalf("login form: %d", r.code)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} {
		if r.h.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	if r.h.Get("Content-Security-Policy") != CSP || strings.Contains(CSP, "unsafe") {
		t.Errorf("CSP %q", r.h.Get("Content-Security-Policy"))
	}
	before := b.cookie()
	if before == "" {
		t.Fatal("no anonymous session cookie")
	}
	bad := b.post("/entrar", url.Values{"csrf": {csrfOf(t, r.body)}, "usuario": {"ana"}, "contrasena": {"equivocada-123456"}})
	if bad.code != http.StatusUnauthorized || !strings.Contains(bad.body, "Usuario o contraseña incorrectos.") {
		t.Fatalf("wrong password: %d %s", bad.code, bad.body)
	}
	planted := b.cookie()
	ok := b.post("/entrar", url.Values{"csrf": {csrfOf(t, bad.body)}, "usuario": {"ana"}, "contrasena": {goodPW}})
	if ok.code != http.StatusSeeOther || ok.h.Get("Location") != "/inicio" {
		t.Fatalf("login: %d %q", ok.code, ok.h.Get("Location"))
	}
	after := b.cookie()
	if after == "" || after == planted || after == before {
		t.Fatal("the session id did not change at login (fixation)")
	}
	// The planted (pre-login) id is worthless.
	old := e.browser(t)
	u, _ := url.Parse(e.srv.URL)
	old.jar.SetCookies(u, []*http.Cookie{{Name: identity.CookieName(false), Value: planted, Path: "/"}})
	if r := old.get("/buscar"); r.code != http.StatusSeeOther || r.h.Get("Location") != "/entrar" {
		t.Fatalf("planted session id still works: %d", r.code)
	}
	if r := b.get("/buscar"); r.code != 200 || !strings.Contains(r.body, `id="usuario">ana<`) {
		t.Fatalf("search page after login: %d", r.code)
	}
	// Logout ends the session.
	s := b.get("/buscar")
	if r := b.post("/salir", url.Values{"csrf": {csrfOf(t, s.body)}}); r.code != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.code)
	}
	old.jar.SetCookies(u, []*http.Cookie{{Name: identity.CookieName(false), Value: after, Path: "/"}})
	if r := old.get("/buscar"); r.code != http.StatusSeeOther {
		t.Fatalf("session alive after logout: %d", r.code)
	}
}

func TestLogoutEverywhere(t *testing.T) {
	e := newEnv(t)
	one, two := e.browser(t), e.browser(t)
	one.login("ana", goodPW)
	two.login("ana", goodPW)
	s := one.get("/buscar")
	if r := one.post("/salir/todos", url.Values{"csrf": {csrfOf(t, s.body)}}); r.code != http.StatusSeeOther {
		t.Fatalf("logout everywhere: %d", r.code)
	}
	if r := two.get("/buscar"); r.code != http.StatusSeeOther {
		t.Fatalf("other device still logged in: %d", r.code)
	}
}

func TestThrottle(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	for i := 0; i < 5; i++ {
		if r := b.login("beto", "equivocada-123456"); r.code != http.StatusUnauthorized && !(i == 4 && r.code == http.StatusTooManyRequests) {
			t.Fatalf("attempt %d: %d", i, r.code)
		}
	}
	r := b.login("beto", goodPW)
	if r.code != http.StatusTooManyRequests || !strings.Contains(r.body, "Demasiados intentos") {
		t.Fatalf("locked account accepted the right password: %d", r.code)
	}
}

func TestCSRFRequired(t *testing.T) {
	e := newEnv(t)
	anon := e.browser(t)
	form := anon.get("/entrar")
	for _, tok := range []string{"", "AAAA" + csrfOf(t, form.body)[4:]} {
		r := anon.post("/entrar", url.Values{"csrf": {tok}, "usuario": {"ana"}, "contrasena": {goodPW}})
		if r.code != http.StatusForbidden {
			t.Fatalf("login without a valid CSRF token: %d", r.code)
		}
	}
	b := e.browser(t)
	b.login("ana", goodPW)
	good := csrfOf(t, b.get("/buscar").body)
	for _, path := range []string{"/salir", "/salir/todos", "/justificacion", "/cuenta/contrasena", "/cuenta/segundo-factor"} {
		for _, tok := range []string{"", "x" + good} {
			if r := b.post(path, url.Values{"csrf": {tok}, "actual": {goodPW}, "nueva": {"otra-contraseña-larga"}, "confirmacion": {"otra-contraseña-larga"}}); r.code != http.StatusForbidden {
				t.Errorf("POST %s with CSRF %q: %d", path, tok, r.code)
			}
		}
	}
	if r := b.get("/buscar"); r.code != 200 {
		t.Fatalf("the session must survive refused posts: %d", r.code)
	}
}

func TestIDOR(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login("ana", goodPW)
	missing := strings.Repeat("ab", 32)
	notFound := b.get("/mensaje/" + missing)
	for _, p := range []string{"", "/cuerpo.html", "/adjunto/2", "/constancia/json", "/constancia/pdf", "/constancia/p7s"} {
		r := b.get("/mensaje/" + e.betoID + p)
		if r.code != http.StatusNotFound {
			t.Errorf("ana opened Beto's %q: %d", p, r.code)
		}
		if p == "" && r.body != notFound.body {
			t.Error("another's message must look exactly like a missing one")
		}
		if strings.Contains(r.body, "Secreto") {
			t.Errorf("%q reveals Beto's subject", p)
		}
	}
	if r := b.get("/mensaje/" + e.betoID[:16]); r.code != http.StatusNotFound {
		t.Errorf("id prefix: %d", r.code)
	}
	// Searches see only Ana's mail.
	r := b.get("/buscar?q=contrato")
	if !strings.Contains(r.body, `id="total">1<`) || strings.Contains(r.body, "Secreto") || !strings.Contains(r.body, e.xssID) {
		t.Fatalf("ana's search must find only her message:\n%s", r.body)
	}
	last := e.arc.access[len(e.arc.access)-1]
	if last.Actor != "user:ana" || last.Action != "search" || last.Results != 1 || !strings.Contains(last.Query, "participant:{ana@ejemplo.gob.mx}") {
		t.Fatalf("search access entry: %+v", last)
	}
	// Her own message opens, and the view is an access entry.
	if r := b.get("/mensaje/" + e.xssID); r.code != 200 {
		t.Fatalf("own message: %d", r.code)
	}
	last = e.arc.access[len(e.arc.access)-1]
	if last.Action != "read" || len(last.Records) != 1 || last.Records[0] != e.xssID {
		t.Fatalf("read access entry: %+v", last)
	}
}

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
		"&lt;script&gt;alert(7)&lt;/script&gt;", `sandbox title=`, `class="badge ok"><span>SPF</span>`, "/constancia/json"} {
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

func TestQueryText(t *testing.T) {
	f := form{Q: "a OR b", From: "juan@x.mx", To: "Lucía Sánchez", Since: "2024-01-01", Until: "2024-12-31", Attach: true, Words: "contrato -borrador"}
	got, err := f.queryText()
	want := `(a OR b) from:juan@x.mx to:"Lucía Sánchez" date:2024-01-01..2024-12-31 has:attachment contrato borrador`
	if err != nil || got != want {
		t.Fatalf("got %q, %v\nwant %q", got, err, want)
	}
	if _, err := (form{Since: "ayer"}).queryText(); !errors.Is(err, errDate) {
		t.Fatal("a bad date must be refused")
	}
}

// TestAuditorEnrolmentAndJustification: an auditor's first login leads to TOTP
// enrolment (mandatory for the role), then recovery codes; the first search
// asks for a justification, which every access entry then carries; the next
// login asks for the TOTP code.
func TestAuditorEnrolmentAndJustification(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	r := b.login("olga", goodPW)
	if r.h.Get("Location") != "/cuenta/segundo-factor" {
		t.Fatalf("auditor without TOTP: redirected to %q", r.h.Get("Location"))
	}
	if r := b.get("/buscar"); r.code != http.StatusSeeOther || r.h.Get("Location") != "/cuenta/segundo-factor" {
		t.Fatalf("search before enrolment: %d %q", r.code, r.h.Get("Location"))
	}
	page := b.get("/cuenta/segundo-factor")
	secret := regexp.MustCompile(`id="secreto">([A-Z2-7]+)<`).FindStringSubmatch(page.body)
	if secret == nil {
		t.Fatalf("no secret:\n%s", page.body)
	}
	if qr := b.get("/cuenta/segundo-factor/qr.png"); qr.code != 200 || !strings.HasPrefix(qr.body, "\x89PNG") {
		t.Fatalf("QR: %d", qr.code)
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret[1])
	if err != nil {
		t.Fatal(err)
	}
	rec := b.post("/cuenta/segundo-factor", url.Values{"csrf": {csrfOf(t, page.body)}, "codigo": {identity.TOTPCode(key, e.clk.now())}})
	if rec.code != 200 || strings.Count(rec.body, "<li><code>") != identity.RecoveryCodes {
		t.Fatalf("recovery codes: %d\n%s", rec.code, rec.body)
	}
	j := b.get("/buscar?q=contrato")
	if !strings.Contains(j.body, `name="justificacion"`) {
		t.Fatalf("no justification form:\n%s", j.body)
	}
	if r := b.post("/justificacion", url.Values{"csrf": {csrfOf(t, j.body)}, "justificacion": {"corta"}, "volver": {"/buscar?q=contrato"}}); r.code != http.StatusBadRequest {
		t.Fatalf("short justification: %d", r.code)
	}
	why := "Auditoría 12/2026 sobre contratos de obra"
	r = b.post("/justificacion", url.Values{"csrf": {csrfOf(t, j.body)}, "justificacion": {why}, "volver": {"//malo.example/"}})
	if r.code != http.StatusSeeOther || r.h.Get("Location") != "/buscar" {
		t.Fatalf("justification: %d %q (must not redirect off-site)", r.code, r.h.Get("Location"))
	}
	res := b.get("/buscar?q=contrato")
	if !strings.Contains(res.body, `id="total">2<`) {
		t.Fatalf("the auditor reads everyone's mail:\n%s", res.body)
	}
	if r := b.get("/mensaje/" + e.betoID); r.code != 200 {
		t.Fatalf("auditor view: %d", r.code)
	}
	for _, d := range e.arc.access {
		if d.Actor == "user:olga" && d.Justification != why {
			t.Fatalf("access without the justification: %+v", d)
		}
	}
	// Log out; the next login asks for a code (a later one: codes are single-use).
	b.post("/salir", url.Values{"csrf": {csrfOf(t, res.body)}})
	e.clk.add(time.Minute)
	if r := b.login("olga", goodPW); r.h.Get("Location") != "/entrar/codigo" {
		t.Fatalf("second login: %q", r.h.Get("Location"))
	}
	cp := b.get("/entrar/codigo")
	if r := b.post("/entrar/codigo", url.Values{"csrf": {csrfOf(t, cp.body)}, "codigo": {"000000"}}); r.code != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", r.code)
	}
	r = b.post("/entrar/codigo", url.Values{"csrf": {csrfOf(t, cp.body)}, "codigo": {identity.TOTPCode(key, e.clk.now())}})
	if r.code != http.StatusSeeOther || r.h.Get("Location") != "/inicio" {
		t.Fatalf("code: %d %q", r.code, r.h.Get("Location"))
	}
}

func TestForcedPasswordChange(t *testing.T) {
	e := newEnv(t)
	_, pw, _ := must3(e.ids.CreateUser(context.Background(), identity.NewUser{Login: "nuevo", Roles: []identity.Role{identity.RoleServidorPublico}}))
	b := e.browser(t)
	if r := b.login("nuevo", pw); r.h.Get("Location") != "/cuenta/contrasena" {
		t.Fatalf("first login: %q", r.h.Get("Location"))
	}
	form := b.get("/cuenta/contrasena")
	if !strings.Contains(form.body, "Debe cambiar su contraseña") {
		t.Fatal("no notice")
	}
	newPW := "Otra-contraseña-segura-1"
	r := b.post("/cuenta/contrasena", url.Values{"csrf": {csrfOf(t, form.body)}, "actual": {pw}, "nueva": {newPW}, "confirmacion": {newPW}})
	if r.code != http.StatusSeeOther || r.h.Get("Location") != "/inicio" {
		t.Fatalf("change: %d %q\n%s", r.code, r.h.Get("Location"), r.body)
	}
	if r := b.get("/buscar?q=x"); r.code != 200 || !strings.Contains(r.body, "no tiene direcciones") {
		t.Fatalf("search: %d", r.code)
	}
}

func must3[A, B any](a A, b B, err error) (A, B, error) {
	if err != nil {
		panic(err)
	}
	return a, b, err
}
