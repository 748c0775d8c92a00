package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
)

// busySink is a remote MX that answers every RCPT with 452 4.2.2.
type busySink struct{}

func (busySink) NewSession(*smtp.Conn) (smtp.Session, error) { return busySession{}, nil }

type busySession struct{}

func (busySession) Reset()                               {}
func (busySession) Logout() error                        { return nil }
func (busySession) Mail(string, *smtp.MailOptions) error { return nil }
func (busySession) Data(io.Reader) error                 { return nil }
func (busySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"}
}

// startBusy starts a busySink and returns its port.
func startBusy(t *testing.T) int {
	t.Helper()
	srv := smtp.NewServer(busySink{})
	srv.Domain = "mx." + extDomain
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	return p
}

// dsnReport is a DSN as its recipient reads it.
type dsnReport struct {
	subject string
	text    string // the human part, decoded
	status  string // the message/delivery-status part
}

func readDSN(t *testing.T, data []byte) dsnReport {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var d dsnReport
	d.subject = m.Header.Get("Subject")
	_, params, _ := strings.Cut(m.Header.Get("Content-Type"), "boundary=")
	mr := multipart.NewReader(m.Body, strings.Trim(params, `"`))
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		switch i {
		case 0:
			d.text = string(b)
		case 1:
			d.status = string(b)
		}
	}
	return d
}

// dsnsAt are the DSNs (mail from <>) the sink received.
func dsnsAt(s *sink) []sinkMsg {
	var out []sinkMsg
	for _, m := range s.received() {
		if m.from == "" {
			out = append(out, m)
		}
	}
	return out
}

// TestDelayWarning: an entry deferred past delay_warning gets exactly one
// delayed-delivery DSN; the final failure later still sends the failure DSN.
func TestDelayWarning(t *testing.T) {
	busy := startBusy(t)
	maxAge := 1500 * time.Millisecond
	e := newEnv(t, func(c *Config) { c.MXPort = busy; c.DelayWarning = 50 * time.Millisecond; c.MaxAge = maxAge })
	from := "ana.lopez@" + instDomain
	rcpt := "pedro@" + extDomain
	e.submit(t, "submission", from, []string{rcpt}, msg(from, rcpt, "retraso"), nil)
	all := e.waitQueue(t) // the entry expires; both DSNs reach the next hop (the sink)
	var entry catalog.Outbound
	var dsnEntries []catalog.Outbound
	for _, o := range all {
		if o.Rcpt == rcpt {
			entry = o
		} else if o.MailFrom == "" && o.Rcpt == from {
			dsnEntries = append(dsnEntries, o)
		}
	}
	if entry.State != catalog.OutFailed || !strings.Contains(entry.LastError, "4.4.7") || entry.DSNSHA256 == "" {
		t.Fatalf("entry: %+v", entry)
	}
	if entry.WarnedAt.IsZero() || entry.WarningDSNSHA256 == "" || entry.WarningDSNSHA256 == entry.DSNSHA256 ||
		entry.WarnedAt.Sub(entry.CreatedAt) < 50*time.Millisecond {
		t.Fatalf("warning not recorded: %+v", entry)
	}
	if len(dsnEntries) != 2 {
		t.Fatalf("%d DSN queue entries, want 2 (warning, failure): %+v", len(dsnEntries), dsnEntries)
	}
	var delayed, failed []dsnReport
	for _, m := range dsnsAt(e.sink) {
		d := readDSN(t, m.data)
		switch {
		case strings.Contains(d.status, "Action: delayed"):
			delayed = append(delayed, d)
		case strings.Contains(d.status, "Action: failed"):
			failed = append(failed, d)
		default:
			t.Errorf("DSN without a known action:\n%s", m.data)
		}
	}
	if len(delayed) != 1 || len(failed) != 1 {
		t.Fatalf("%d delayed and %d failed DSNs, want 1 and 1", len(delayed), len(failed))
	}
	d := delayed[0]
	until := entry.CreatedAt.Add(maxAge)
	for _, want := range []string{"Reporting-MTA: dns; mx." + instDomain, "Final-Recipient: rfc822; " + rcpt, "Action: delayed",
		"Status: 4.2.2", "Remote-MTA: dns; mx." + extDomain, "Diagnostic-Code: smtp; ", "452 4.2.2 Mailbox full",
		"Last-Attempt-Date: ", "Will-Retry-Until: " + until.Format(time.RFC1123Z)} {
		if !strings.Contains(d.status, want) {
			t.Errorf("delayed DSN lacks %q:\n%s", want, d.status)
		}
	}
	if d.subject != "Aviso de retraso en la entrega / Delivery delayed" {
		t.Errorf("subject %q", d.subject)
	}
	es := strings.Index(d.text, "Su mensaje aún no ha sido entregado")
	en := strings.Index(d.text, "has not been delivered yet")
	if es < 0 || en < es || !strings.Contains(d.text, "se seguirá intentando hasta el "+until.UTC().Format(humanTime)) {
		t.Errorf("text (Spanish first, then English):\n%s", d.text)
	}
	if f := failed[0]; !strings.Contains(f.status, "Status: 4.4.7") || strings.Contains(f.status, "Will-Retry-Until") {
		t.Errorf("failure DSN:\n%s", f.status)
	}
}

// TestDelayWarningNone: no warning to the null sender, nor when delay_warning
// is 0.
func TestDelayWarningNone(t *testing.T) {
	for _, tc := range []struct {
		name  string
		from  string
		delay time.Duration
	}{
		{"null sender", "", 50 * time.Millisecond},
		{"disabled", "ana.lopez@" + instDomain, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			busy := startBusy(t)
			e := newEnv(t, func(c *Config) { c.MXPort = busy; c.DelayWarning = tc.delay })
			rcpt := "pedro@" + extDomain
			e.submit(t, "submission", tc.from, []string{rcpt}, msg("ana.lopez@"+instDomain, rcpt, "sin-aviso"), nil)
			deadline := time.Now().Add(10 * time.Second)
			for {
				all, err := e.a.Cat.ListOutbound(context.Background(), catalog.OutboundFilter{})
				if err != nil {
					t.Fatal(err)
				}
				if len(all) != 1 {
					t.Fatalf("queue: %+v", all)
				}
				if o := all[0]; o.Attempts >= 4 {
					if !o.WarnedAt.IsZero() || o.State != catalog.OutDeferred || time.Since(o.CreatedAt) < 200*time.Millisecond {
						t.Fatalf("%+v", o)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not retried: %+v", all[0])
				}
				time.Sleep(20 * time.Millisecond)
			}
			if n := len(dsnsAt(e.sink)); n != 0 {
				t.Errorf("%d DSNs sent", n)
			}
		})
	}
}

// failingArchiver refuses every item.
type failingArchiver struct{}

func (failingArchiver) Add(context.Context, *archive.Item) error { return errors.New("disco lleno") }

// TestDelayWarningArchiveError: with a fake clock past delay_warning, a warning
// that cannot be archived leaves the deferral recorded and the entry not
// warned; the next attempt sends it, and the one after does not repeat it.
func TestDelayWarningArchiveError(t *testing.T) {
	busy := startBusy(t)
	e := newEnv(t, func(c *Config) { c.MXPort = busy })
	from := "ana.lopez@" + instDomain
	rcpt := "pedro@" + extDomain
	e.submit(t, "submission", from, []string{rcpt}, msg(from, rcpt, "aviso-reintento"), nil)
	ctx := context.Background()
	var entry catalog.Outbound
	for deadline := time.Now().Add(10 * time.Second); ; {
		all, _ := e.a.Cat.ListOutbound(ctx, catalog.OutboundFilter{})
		if len(all) == 1 && all[0].Attempts >= 1 {
			entry = all[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no attempt: %+v", all)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.stop() // the test makes the attempts from here on
	<-e.done

	now := entry.CreatedAt.Add(5 * time.Hour)
	cfg := e.cfg
	cfg.DelayWarning, cfg.MaxAge = 4*time.Hour, 24*time.Hour
	cfg.Now = func() time.Time { return now }
	log := slog.New(slog.DiscardHandler)
	reason := "mx." + extDomain + ": RCPT: 452 4.2.2 Mailbox full"
	attempt := func(in Archiver) catalog.Outbound {
		t.Helper()
		r, err := New(cfg, e.a, in)
		if err != nil {
			t.Fatal(err)
		}
		all, _ := e.a.Cat.ListOutbound(ctx, catalog.OutboundFilter{IDs: []int64{entry.ID}})
		r.record(ctx, log, all, outcome{deferred: all, reason: reasonAll(all, reason)})
		all, _ = e.a.Cat.ListOutbound(ctx, catalog.OutboundFilter{IDs: []int64{entry.ID}})
		return all[0]
	}
	o := attempt(failingArchiver{})
	if o.State != catalog.OutDeferred || o.Attempts != entry.Attempts+1 || !o.NextAttempt.After(now) || !o.WarnedAt.IsZero() {
		t.Fatalf("after a failed warning: %+v", o)
	}
	o = attempt(e.in)
	if !o.WarnedAt.Equal(now) || o.WarningDSNSHA256 == "" || o.Attempts != entry.Attempts+2 {
		t.Fatalf("after the warning: %+v", o)
	}
	o = attempt(e.in)
	if o.Attempts != entry.Attempts+3 {
		t.Fatalf("third attempt: %+v", o)
	}
	all, _ := e.a.Cat.ListOutbound(ctx, catalog.OutboundFilter{})
	var dsns []catalog.Outbound
	for _, x := range all {
		if x.MailFrom == "" {
			dsns = append(dsns, x)
		}
	}
	if len(dsns) != 1 || dsns[0].SHA256 != o.WarningDSNSHA256 || dsns[0].Rcpt != from {
		t.Fatalf("DSN entries: %+v (warning %s)", dsns, o.WarningDSNSHA256)
	}
}

// TestBuildDSNDelayed: the delayed DSN's fields with a fixed clock, and the
// status class per action.
func TestBuildDSNDelayed(t *testing.T) {
	t.Parallel()
	created := time.Date(2024, 3, 12, 16, 15, 0, 0, time.UTC)
	now := created.Add(4 * time.Hour)
	r, err := New(Config{Hostname: "mx." + instDomain, MaxAge: 120 * time.Hour, Now: func() time.Time { return now }}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	es := []catalog.Outbound{
		{ID: 1, MailFrom: "ana@" + instDomain, Rcpt: "a@" + extDomain, Route: RouteMX, CreatedAt: created, LastAttempt: now},
		{ID: 2, MailFrom: "ana@" + instDomain, Rcpt: "b@" + extDomain, Route: RouteMX, CreatedAt: created, LastAttempt: now},
	}
	reason := map[int64]string{1: "mx.destino.mx: RCPT: 451 4.7.1 Greylisted", 2: "dial tcp 192.0.2.1:25: connection refused"}
	data, env := r.buildDSN(actionDelayed, es, reason, msg("ana@"+instDomain, "a", "fijo"), now)
	if env.MailFrom != "" || len(env.RcptTo) != 1 || env.RcptTo[0] != "ana@"+instDomain || env.Channel != ChannelDSN {
		t.Fatalf("envelope %+v", env)
	}
	d := readDSN(t, data)
	for _, want := range []string{
		"Arrival-Date: Tue, 12 Mar 2024 16:15:00 +0000",
		"Final-Recipient: rfc822; a@destino.mx\r\nAction: delayed\r\nStatus: 4.7.1\r\nRemote-MTA: dns; mx.destino.mx\r\n",
		"Final-Recipient: rfc822; b@destino.mx\r\nAction: delayed\r\nStatus: 4.0.0\r\n",
		"Last-Attempt-Date: Tue, 12 Mar 2024 20:15:00 +0000\r\nWill-Retry-Until: Sun, 17 Mar 2024 16:15:00 +0000\r\n",
	} {
		if !strings.Contains(d.status, want) {
			t.Errorf("lacks %q:\n%s", want, d.status)
		}
	}
	if !strings.Contains(d.text, "hasta el 2024-03-17 16:15 UTC") || !strings.Contains(d.text, "retried until 2024-03-17 16:15 UTC") {
		t.Errorf("text:\n%s", d.text)
	}
	for _, tc := range []struct{ action, reason, want string }{
		{actionFailed, "mx: RCPT: 550 5.1.1 No such user", "5.1.1"},
		{actionFailed, "4.4.7 delivery time expired; last error: mx: RCPT: 451 4.2.0 busy", "4.4.7"},
		{actionFailed, "5.4.6 routing loop detected", "5.4.6"},
		{actionFailed, "connection refused", "5.0.0"},
		{actionDelayed, "mx: RCPT: 451 4.2.0 busy", "4.2.0"},
		{actionDelayed, "4.3.0 archive read error: x", "4.3.0"},
		{actionDelayed, "connection refused", "4.0.0"},
	} {
		if got := statusOf(tc.action, tc.reason); got != tc.want {
			t.Errorf("statusOf(%s, %q) = %s, want %s", tc.action, tc.reason, got, tc.want)
		}
	}
}
