package webapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

func must3[A, B any](a A, b B, err error) (A, B, error) {
	if err != nil {
		panic(err)
	}
	return a, b, err
}
