package relay

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/dnstest"
	"github.com/resguardo/resguardo/internal/intake"
	"github.com/resguardo/resguardo/internal/ledger"
	"github.com/resguardo/resguardo/internal/mailauth"
)

const (
	instDomain = "sefin.ejemplo.gob.mx"
	extDomain  = "destino.mx"
)

// sink is a go-smtp server standing for a remote MX or the next hop. Its
// answers per recipient local part: "rechazo" gets 550, "luego" 451 on the
// first attempt and 250 after.
type sink struct {
	conns    atomic.Int64 // TCP connections accepted
	mu       sync.Mutex
	msgs     []sinkMsg
	tempSeen map[string]bool
	addr     string
	srv      *smtp.Server
}

type sinkMsg struct {
	from string
	to   []string
	data []byte
}

type sinkSession struct {
	s    *sink
	from string
	to   []string
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}
func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	local := strings.SplitN(to, "@", 2)[0]
	switch local {
	case "rechazo":
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	case "luego":
		ss.s.mu.Lock()
		seen := ss.s.tempSeen[to]
		ss.s.tempSeen[to] = true
		ss.s.mu.Unlock()
		if !seen {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Mailbox busy"}
		}
	}
	ss.to = append(ss.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sinkMsg{ss.from, append([]string{}, ss.to...), b})
	ss.s.mu.Unlock()
	return nil
}

func (s *sink) received() []sinkMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMsg{}, s.msgs...)
}

// testCA makes a CA and a server certificate for names (the leaf only, as
// most servers send it).
func testCA(t *testing.T, names ...string) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	ch := newDANEChain(t, time.Now().Add(time.Hour), names...)
	pool := x509.NewCertPool()
	pool.AddCert(ch.ca)
	return pool, tls.Certificate{Certificate: ch.cert.Certificate[:1], PrivateKey: ch.cert.PrivateKey}
}

func startSink(t *testing.T, cert *tls.Certificate) *sink {
	t.Helper()
	s := &sink{tempSeen: map[string]bool{}}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "mx." + extDomain
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = sinkReadTimeout
	if cert != nil {
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go s.srv.Serve(countingListener{ln, &s.conns})
	t.Cleanup(func() { s.srv.Close() })
	return s
}

type env struct {
	a     *archive.Archive
	in    *archive.Ingester
	r     *Relay
	dns   *dnstest.Server
	key   *mailauth.DKIMKey
	sink  *sink
	cfg   Config
	stop  context.CancelFunc
	done  chan struct{}
	dkDir string
}

// newEnv opens an archive and a relay whose next hop and MX for destino.mx are
// the sink (TLS with a certificate from a test CA that the relay trusts).
func newEnv(t *testing.T, mod func(*Config), extraDNS ...string) *env {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := archive.Init(dir, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(context.Background(), archive.Options{Dir: dir, Writer: true, LockName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	pool, cert := testCA(t, "mx."+extDomain, "localhost")
	s := startSink(t, &cert)
	_, port, _ := net.SplitHostPort(s.addr)
	key, err := mailauth.GenerateKey(mailauth.KeyEd25519, 0)
	if err != nil {
		t.Fatal(err)
	}
	dkDir := filepath.Join(dir, "dkim")
	os.MkdirAll(filepath.Join(dkDir, instDomain), 0o700)
	if err := os.WriteFile(filepath.Join(dkDir, instDomain, "sel.key"), key.PrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	records := append([]string{
		extDomain + `. MX 10 mx.` + extDomain + `.`,
		`mx.` + extDomain + `. A 127.0.0.1`,
		`sel._domainkey.` + instDomain + `. TXT "` + key.TXT + `"`,
		`nulo.mx. MX 0 .`,
	}, extraDNS...)
	dns := dnstest.StartT(t, dnstest.Zone{Records: dnstest.MustParse(records...)})
	var p int
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	cfg := Config{Hostname: "mx." + instDomain, Domains: []string{instDomain}, NextHop: s.addr,
		MXPort: p, RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, Poll: 20 * time.Millisecond,
		ConnectTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second, DKIMDir: dkDir,
		Resolver: mailauth.NewResolver(mailauth.ResolverOptions{Server: dns.Addr, Timeout: 2 * time.Second}),
		RootCAs:  pool, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	in := a.Ingest(context.Background(), archive.IngestOptions{MaxDelay: time.Millisecond})
	t.Cleanup(func() { in.Close() })
	r, err := New(cfg, a, in)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{a: a, in: in, r: r, dns: dns, key: key, sink: s, cfg: cfg, done: make(chan struct{}), dkDir: dkDir}
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	go func() { r.Run(ctx); close(e.done) }()
	t.Cleanup(func() { cancel(); <-e.done })
	return e
}

// submit archives data as a message of channel with the relay's plan.
func (e *env) submit(t *testing.T, channel, from string, to []string, data []byte, mod func(*intake.Envelope)) archive.Result {
	t.Helper()
	ev := &intake.Envelope{Format: intake.EnvelopeFormat, Channel: channel, Session: "s1", HELO: "cliente.ejemplo",
		ClientIP: "192.0.2.7", MailFrom: from, RcptTo: to, ReceivedAt: time.Now().UTC(),
		Verdict: intake.Verdict{Action: intake.ActionAccept}, Checks: []intake.CheckRecord{}}
	if mod != nil {
		mod(ev)
	}
	out, err := e.r.Plan(ev, data)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(ev)
	done := make(chan archive.Result, 1)
	if err := e.in.Add(context.Background(), &archive.Item{Data: data, Channel: channel, Source: "test", Envelope: string(b),
		Done: done, Outbound: out}); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	e.r.Wake()
	return res
}

// waitQueue waits until no entry is queued or deferred.
func (e *env) waitQueue(t *testing.T) []catalog.Outbound {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		all, err := e.a.Cat.ListOutbound(context.Background(), catalog.OutboundFilter{})
		if err != nil {
			t.Fatal(err)
		}
		pending := 0
		for _, o := range all {
			if o.State == catalog.OutQueued || o.State == catalog.OutDeferred {
				pending++
			}
		}
		if pending == 0 {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained: %+v", all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func msg(from, to, subject string) []byte {
	return []byte("From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nDate: Tue, 12 Mar 2024 10:15:00 -0600\r\nMessage-ID: <" + subject + "@" + instDomain + ">\r\n\r\nEstimados: se remite el oficio.\r\n")
}

func TestPlan(t *testing.T) {
	e := newEnv(t, nil)
	data := msg("ana.lopez@"+instDomain, "x@"+extDomain, "plan")
	tests := []struct {
		name    string
		channel string
		to      []string
		mod     func(*intake.Envelope)
		routes  []string
		prefix  []string // fields the prefix must contain
	}{
		{"mx to next hop with Authentication-Results", "mx", []string{"juan@" + instDomain},
			func(ev *intake.Envelope) {
				ev.AuthenticationResults = "mx." + instDomain + "; spf=pass smtp.mailfrom=remitente.mx"
			},
			[]string{RouteNextHop}, []string{"Received: from cliente.ejemplo ([192.0.2.7])", "Authentication-Results: mx." + instDomain + "; spf=pass"}},
		{"mx tagged", "mx", []string{"juan@" + instDomain},
			func(ev *intake.Envelope) {
				ev.Verdict.Tagged = true
				ev.Verdict.Reasons = []intake.Reason{{Check: "auth", Code: "spf_fail", Applied: intake.ActionTag}}
			},
			[]string{RouteNextHop}, []string{"X-Resguardo-Tag: spf_fail"}},
		{"submission: internal to next hop, external to MX, DKIM-signed", "submission",
			[]string{"juan@" + instDomain, "x@" + extDomain}, nil,
			[]string{RouteNextHop, RouteMX}, []string{"DKIM-Signature: a=ed25519-sha256", "d=" + instDomain}},
		{"journal is not relayed", "journal", []string{"juan@" + instDomain}, nil, nil, nil},
		{"quarantine is not relayed", "mx", []string{"juan@" + instDomain},
			func(ev *intake.Envelope) { ev.Verdict.Action = intake.ActionQuarantine }, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := &intake.Envelope{Channel: tc.channel, Session: "s", HELO: "cliente.ejemplo", ClientIP: "192.0.2.7",
				MailFrom: "ana.lopez@" + instDomain, RcptTo: tc.to, Verdict: intake.Verdict{Action: intake.ActionAccept}}
			if tc.mod != nil {
				tc.mod(ev)
			}
			out, err := e.r.Plan(ev, data)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(tc.routes) {
				t.Fatalf("got %d entries, want %d", len(out), len(tc.routes))
			}
			for i, o := range out {
				if o.Route != tc.routes[i] {
					t.Errorf("entry %d route %s, want %s", i, o.Route, tc.routes[i])
				}
				unfolded := strings.ReplaceAll(string(o.Prefix), "\r\n\t", " ")
				for _, p := range tc.prefix {
					if !strings.Contains(unfolded, p) {
						t.Errorf("prefix lacks %q:\n%s", p, o.Prefix)
					}
				}
				if !bytes.HasSuffix(o.Prefix, []byte("\r\n")) {
					t.Errorf("prefix does not end with CRLF")
				}
			}
		})
	}
	// Without a next hop, inbound mail is archived only.
	e2, err := New(Config{Hostname: "mx." + instDomain, Domains: []string{instDomain}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := e2.Plan(&intake.Envelope{Channel: "mx", RcptTo: []string{"juan@" + instDomain}}, data)
	if len(out) != 0 {
		t.Errorf("no next hop: %d entries", len(out))
	}
}

func TestDeliverSubmission(t *testing.T) {
	e := newEnv(t, nil)
	from := "ana.lopez@" + instDomain
	data := msg(from, "varios", "entrega")
	res := e.submit(t, "submission", from, []string{"pedro@" + extDomain, "rechazo@" + extDomain, "luego@" + extDomain}, data, nil)
	all := e.waitQueue(t)
	// Wait for the DSN to reach the next hop too.
	states := map[string]catalog.Outbound{}
	for _, o := range all {
		states[o.Rcpt] = o
	}
	if o := states["pedro@"+extDomain]; o.State != catalog.OutDelivered || o.DeliveryIndex < 0 {
		t.Errorf("pedro: %+v", o)
	}
	if o := states["luego@"+extDomain]; o.State != catalog.OutDelivered || o.Attempts != 2 {
		t.Errorf("luego (451 then 250): %+v", o)
	}
	o := states["rechazo@"+extDomain]
	if o.State != catalog.OutFailed || !strings.Contains(o.LastError, "550") || o.DSNSHA256 == "" {
		t.Fatalf("rechazo: %+v", o)
	}
	// The DSN went to the sender (internal: next hop = the sink) from <>.
	if d := states[from]; d.State != catalog.OutDelivered || d.MailFrom != "" || d.SHA256 != o.DSNSHA256 {
		t.Errorf("DSN entry: %+v", d)
	}

	var copies, dsns []sinkMsg
	for _, m := range e.sink.received() {
		if m.from == "" {
			dsns = append(dsns, m)
		} else {
			copies = append(copies, m)
		}
	}
	if len(copies) != 2 {
		t.Fatalf("%d copies delivered, want 2 (pedro, then luego on retry)", len(copies))
	}
	// Byte-identical copies (the retry keeps the DKIM signature and Message-ID),
	// ending with the archived bytes.
	if !bytes.Equal(copies[0].data, copies[1].data) || !bytes.HasSuffix(copies[0].data, data) {
		t.Errorf("copies differ or do not end with the archived message")
	}
	// The DKIM signature verifies against the published key.
	ck, err := mailauth.New(mailauth.Options{DNS: mailauth.ResolverOptions{Server: e.dns.Addr, Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	dk := ck.VerifyDKIM(context.Background(), copies[0].data)
	if len(dk) != 1 || dk[0].Result != "pass" || dk[0].Domain != instDomain {
		t.Errorf("DKIM on the relayed copy: %+v", dk)
	}
	if len(dsns) != 1 {
		t.Fatalf("%d DSNs, want 1", len(dsns))
	}
	dsn := string(dsns[0].data)
	for _, want := range []string{"multipart/report; report-type=delivery-status", "Final-Recipient: rfc822; rechazo@" + extDomain,
		"Action: failed", "Status: 5.1.1", "Remote-MTA: dns; mx." + extDomain, "Content-Type: text/rfc822-headers",
		"Message-ID: <entrega@" + instDomain + ">"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("DSN lacks %q:\n%s", want, dsn)
		}
	}

	// Delivery entries: one per accepted transaction, with TLS facts, in the ledger.
	recs, _ := e.a.Cat.RecordsBySeq(context.Background(), []int64{states["pedro@"+extDomain].RecordSeq})
	ds, err := e.a.Cat.Deliveries(context.Background(), recs[0].Seq, 0)
	if err != nil || len(ds) != 2 {
		t.Fatalf("deliveries: %d, %v", len(ds), err)
	}
	var d archive.DeliveryDetail
	if err := json.Unmarshal(ds[0].Detail, &d); err != nil {
		t.Fatal(err)
	}
	if d.SHA256 != res.SHA256 || d.RemoteHost != "mx."+extDomain || d.RemoteIP != "127.0.0.1" || d.Route != RouteMX ||
		d.TLS == nil || !d.TLS.Verified || d.TLS.CertSHA256 == "" || !strings.HasPrefix(d.Reply, "250") ||
		d.MessageID != "entrega@"+instDomain || len(d.Recipients) != 1 || d.Format != archive.DeliveryFormat {
		t.Errorf("delivery detail: %+v tls %+v", d, d.TLS)
	}
	entry, err := ledger.ParseDeliveryEntry(ds[0].Entry)
	if err != nil || entry.SHA256 != res.SHA256 {
		t.Errorf("entry %s: %v", ds[0].Entry, err)
	}
	// The catalog commit comes first; the Merkle log follows in the same call.
	for deadline := time.Now().Add(5 * time.Second); e.a.Log.Size() <= ds[1].LedgerIndex; {
		if time.Now().After(deadline) {
			t.Fatalf("ledger size %d does not include delivery entry %d", e.a.Log.Size(), ds[1].LedgerIndex)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDeliverFailures(t *testing.T) {
	t.Run("null MX fails at once with a DSN", func(t *testing.T) {
		e := newEnv(t, nil)
		from := "ana.lopez@" + instDomain
		e.submit(t, "submission", from, []string{"alguien@nulo.mx"}, msg(from, "alguien@nulo.mx", "nulo"), nil)
		all := e.waitQueue(t)
		if all[0].State != catalog.OutFailed || !strings.Contains(all[0].LastError, "5.1.10") {
			t.Errorf("%+v", all[0])
		}
	})
	t.Run("unreachable next hop defers, then expires", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.NextHop = "127.0.0.1:1"; c.MaxAge = 300 * time.Millisecond })
		e.submit(t, "mx", "x@remitente.mx", []string{"juan@" + instDomain}, msg("x@remitente.mx", "juan", "caido"), nil)
		deadline := time.Now().Add(10 * time.Second)
		for {
			all, _ := e.a.Cat.ListOutbound(context.Background(), catalog.OutboundFilter{RecordSeq: 1})
			if all[0].State == catalog.OutFailed {
				if !strings.Contains(all[0].LastError, "4.4.7") || all[0].Attempts < 2 {
					t.Errorf("%+v", all[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("never expired: %+v", all[0])
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("required TLS without STARTTLS defers", func(t *testing.T) {
		plain := startSink(t, nil)
		e := newEnv(t, func(c *Config) { c.NextHop = plain.addr; c.NextHopTLS = TLSRequired })
		e.submit(t, "mx", "x@remitente.mx", []string{"juan@" + instDomain}, msg("x@remitente.mx", "juan", "tls"), nil)
		time.Sleep(300 * time.Millisecond)
		all, _ := e.a.Cat.ListOutbound(context.Background(), catalog.OutboundFilter{})
		if all[0].State != catalog.OutDeferred || !strings.Contains(all[0].LastError, "STARTTLS") || len(plain.received()) != 0 {
			t.Errorf("%+v", all[0])
		}
	})
	t.Run("hold and release", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.NextHop = "127.0.0.1:1" })
		e.submit(t, "mx", "x@remitente.mx", []string{"juan@" + instDomain}, msg("x@remitente.mx", "juan", "hold"), nil)
		all, _ := e.a.Cat.ListOutbound(context.Background(), catalog.OutboundFilter{})
		n, err := e.a.Cat.SetOutboundState(context.Background(), []int64{all[0].ID}, []string{catalog.OutQueued, catalog.OutDeferred}, catalog.OutHeld, time.Now())
		if err != nil || n != 1 {
			t.Fatalf("hold: %d %v", n, err)
		}
		if n, _ := e.a.Cat.SetOutboundState(context.Background(), []int64{all[0].ID}, []string{catalog.OutHeld}, catalog.OutQueued, time.Now()); n != 1 {
			t.Fatalf("release moved %d", n)
		}
	})
}

func TestMTASTS(t *testing.T) {
	p, err := parseSTSPolicy("version: STSv1\r\nmode: enforce\r\nmx: mx.destino.mx\r\nmx: *.respaldo.mx\r\nmax_age: 86400\r\n")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{"mx.destino.mx": true, "a.respaldo.mx": true, "a.b.respaldo.mx": false,
		"respaldo.mx": false, "otro.mx": false, "MX.DESTINO.MX.": true} {
		if p.matches(host) != want {
			t.Errorf("matches(%q) = %v", host, !want)
		}
	}
	for _, bad := range []string{"", "version: STSv2\nmode: enforce\nmx: a\nmax_age: 1", "version: STSv1\nmode: enforce\nmax_age: 1",
		"version: STSv1\nmode: nada\nmx: a\nmax_age: 1", "version: STSv1\nmode: testing\nmx: a\nmax_age: x"} {
		if _, err := parseSTSPolicy(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestMTASTSEnforce(t *testing.T) {
	// An HTTPS policy server for mta-sts.destino.mx (a test CA the relay trusts).
	for _, tc := range []struct {
		name, mx string
		state    string
	}{
		{"matching MX with a verified certificate", "mx.destino.mx", catalog.OutDelivered},
		{"MX not in the policy", "otro.destino.mx", catalog.OutDeferred},
	} {
		t.Run(tc.name, func(t *testing.T) {
			policy := "version: STSv1\nmode: enforce\nmx: " + tc.mx + "\nmax_age: 86400\n"
			var e *env
			e = newEnv(t, func(c *Config) {
				c.MTASTS = true
				c.HTTPClient = &http.Client{Transport: policyServer(policy)}
			}, `_mta-sts.destino.mx. TXT "v=STSv1; id=20240312"`)
			from := "ana.lopez@" + instDomain
			e.submit(t, "submission", from, []string{"pedro@" + extDomain}, msg(from, "pedro", "sts"), nil)
			deadline := time.Now().Add(5 * time.Second)
			for {
				all, _ := e.a.Cat.ListOutbound(context.Background(), catalog.OutboundFilter{})
				if all[0].State == tc.state {
					if tc.state == catalog.OutDeferred && !strings.Contains(all[0].LastError, "MTA-STS") {
						t.Errorf("%+v", all[0])
					}
					if tc.state == catalog.OutDelivered {
						ds, _ := e.a.Cat.Deliveries(context.Background(), all[0].RecordSeq, 0)
						var d archive.DeliveryDetail
						json.Unmarshal(ds[0].Detail, &d)
						if d.MTASTS != "enforce" || !d.TLS.Verified {
							t.Errorf("detail %+v", d)
						}
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("state %s, want %s: %+v", all[0].State, tc.state, all[0])
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// policyServer answers the MTA-STS policy URL of destino.mx with body.
type policyServer string

func (p policyServer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.String() != "https://mta-sts.destino.mx/.well-known/mta-sts.txt" {
		return nil, errors.New("unexpected policy URL " + req.URL.String())
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		Body: io.NopCloser(strings.NewReader(string(p))), Request: req}, nil
}

// TestConnectionReuse: many messages to the next hop share cached connections
// (one TLS handshake for many deliveries), and a cached connection the server
// closed meanwhile is replaced without losing a message.
func TestConnectionReuse(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Workers = 2 })
	for i := 0; i < 20; i++ {
		e.submit(t, "mx", "x@remitente.mx", []string{"juan@" + instDomain}, msg("x@remitente.mx", "juan", fmt.Sprintf("reuso%02d", i)), nil)
	}
	e.waitQueue(t)
	if n := len(e.sink.received()); n != 20 {
		t.Fatalf("%d delivered, want 20", n)
	}
	if c := e.sink.conns.Load(); c > 6 {
		t.Errorf("%d connections for 20 messages: no reuse", c)
	}

	// A server that drops idle connections after 200 ms: the next delivery,
	// on the dead cached connection, still succeeds on a new one.
	sinkReadTimeout = 200 * time.Millisecond
	defer func() { sinkReadTimeout = 0 }()
	e = newEnv(t, nil)
	e.submit(t, "mx", "x@remitente.mx", []string{"juan@" + instDomain}, msg("x@remitente.mx", "juan", "antes"), nil)
	e.waitQueue(t)
	time.Sleep(500 * time.Millisecond)
	e.submit(t, "mx", "x@remitente.mx", []string{"juan@" + instDomain}, msg("x@remitente.mx", "juan", "tras-cierre"), nil)
	all := e.waitQueue(t)
	for _, o := range all {
		if o.State != catalog.OutDelivered || o.Attempts != 1 {
			t.Errorf("%+v", o)
		}
	}
	if n := len(e.sink.received()); n != 2 || e.sink.conns.Load() != 2 {
		t.Errorf("%d delivered on %d connections, want 2 on 2", n, e.sink.conns.Load())
	}
}

// sinkReadTimeout, when set, is the sinks' idle timeout.
var sinkReadTimeout time.Duration
