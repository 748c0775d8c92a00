package smtpgw

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

const testDomain = "sefin.edomex.gob.mx"

// testTLS generates a self-signed server certificate for 127.0.0.1 and
// returns the server config and a client config that trusts it.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "mx.sefin.edomex.gob.mx", Organization: []string{"Secretaría de Finanzas (prueba)"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"mx.sefin.edomex.gob.mx", "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}
	client = &tls.Config{RootCAs: pool, ServerName: "mx.sefin.edomex.gob.mx"}
	return server, client
}

// delivery is one recorded Deliver call.
type delivery struct {
	env  Envelope
	data []byte
}

// fakeDeliverer records calls and answers with Reply (Accepted when nil).
type fakeDeliverer struct {
	mu    sync.Mutex
	calls []delivery
	Reply func(env Envelope, data []byte) Reply
}

func (d *fakeDeliverer) Deliver(_ context.Context, env Envelope, data []byte) Reply {
	d.mu.Lock()
	d.calls = append(d.calls, delivery{env, append([]byte(nil), data...)})
	f := d.Reply
	d.mu.Unlock()
	if f != nil {
		return f(env, data)
	}
	return Accepted()
}

func (d *fakeDeliverer) deliveries() []delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]delivery(nil), d.calls...)
}

// fakeAuth knows users with a password and allowed From addresses.
type fakeAuth struct {
	users map[string]fakeUser
}

type fakeUser struct {
	pass  string
	allow []string
}

func (a fakeAuth) Authenticate(_ context.Context, user, pass string) (Identity, error) {
	u, ok := a.users[strings.ToLower(user)]
	if !ok || u.pass != pass {
		return Identity{}, fmt.Errorf("user %q: %w", user, ErrInvalidCredentials)
	}
	return Identity{User: strings.ToLower(user), AllowedFrom: u.allow}, nil
}

func testAuth() fakeAuth {
	return fakeAuth{users: map[string]fakeUser{
		"ana.lopez": {pass: "Contraseña-Segura-2024", allow: []string{"ana.lopez@" + testDomain, "direccion.juridica@" + testDomain}},
		"oficialia": {pass: "otra-clave", allow: []string{"@cdmx.gob.mx"}},
	}}
}

// logRecorder is a slog handler that keeps messages for the test and
// flags go-smtp panics.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{r: r, attrs: as}
}
func (r *logRecorder) WithGroup(string) slog.Handler { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	return r.handle(nil, rec)
}

func (r *logRecorder) handle(attrs []slog.Attr, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	for _, a := range attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

type attrHandler struct {
	r     *logRecorder
	attrs []slog.Attr
}

func (h *attrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *attrHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{r: h.r, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}
func (h *attrHandler) WithGroup(string) slog.Handler { return h }
func (h *attrHandler) Handle(_ context.Context, rec slog.Record) error {
	return h.r.handle(h.attrs, rec)
}

type testServer struct {
	*Server
	addr string
	d    *fakeDeliverer
	logs *logRecorder
}

// startServer serves cfg on 127.0.0.1:0 until the test ends.
func startServer(t testing.TB, cfg Config, opts Options) *testServer {
	t.Helper()
	d := &fakeDeliverer{}
	logs := &logRecorder{}
	if opts.Logger == nil {
		opts.Logger = slog.New(logs)
	}
	s, err := New(cfg, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		<-done
		if strings.Contains(logs.text(), "panic serving") {
			t.Errorf("panic in server log:\n%s", logs.text())
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.text())
		}
	})
	return &testServer{Server: s, addr: ln.Addr().String(), d: d, logs: logs}
}

func mxConfig() Config {
	c := DefaultConfig(ChannelMX)
	c.Domains = []string{testDomain, "cdmx.gob.mx"}
	c.Hostname = "mx." + testDomain
	c.ReadTimeout = 5 * time.Second
	c.WriteTimeout = 5 * time.Second
	return c
}

// rawClient speaks SMTP by hand over TCP (or TLS).
type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawClient{t: t, conn: c, r: bufio.NewReader(c)}
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// reply reads one (possibly multi-line) reply and returns its lines
// joined with "\n"; "" at EOF.
func (c *rawClient) reply() string {
	c.t.Helper()
	var lines []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			if line != "" {
				lines = append(lines, line)
			}
			return strings.Join(lines, "\n")
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if len(line) < 4 || line[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// expect reads a reply and fails unless it starts with prefix.
func (c *rawClient) expect(prefix string) string {
	c.t.Helper()
	r := c.reply()
	if !strings.HasPrefix(lastLine(r), prefix) {
		c.t.Fatalf("got reply %q, want %q", r, prefix)
	}
	return r
}

func (c *rawClient) cmd(line, prefix string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(prefix)
}

// rest reads every remaining reply until the server closes.
func (c *rawClient) rest() []string {
	var out []string
	for {
		r := c.reply()
		if r == "" {
			return out
		}
		out = append(out, r)
	}
}

func lastLine(r string) string {
	if i := strings.LastIndexByte(r, '\n'); i >= 0 {
		return r[i+1:]
	}
	return r
}

// greet reads the banner and says EHLO.
func (c *rawClient) greet() string {
	c.t.Helper()
	c.expect("220 ")
	return c.cmd("EHLO cliente.ejemplo.mx", "250 ")
}

func testMessage(subject, body string) string {
	return "From: Ana López <ana.lopez@" + testDomain + ">\r\n" +
		"To: juan.perez@" + testDomain + "\r\n" +
		"Subject: " + subject + "\r\n" +
		"Message-ID: <" + fmt.Sprint(time.Now().UnixNano()) + "@" + testDomain + ">\r\n" +
		"\r\n" + body + "\r\n"
}
