package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/config"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/dnstest"
	"github.com/resguardo/resguardo/internal/intake"
	"github.com/resguardo/resguardo/internal/mailauth"
	"github.com/resguardo/resguardo/internal/scan"
	"github.com/resguardo/resguardo/internal/scan/scantest"
)

const (
	gwDomain      = "sefin.ejemplo.gob.mx"
	gwJournalAddr = "archivo.journal@sefin.edomex.gob.mx" // the Exchange fixture's journal mailbox
	gwUser        = "ana.lopez"
	gwPassword    = "Contraseña-de-prueba-2024"
)

// lockedBuf is a concurrency-safe log sink.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type gwServe struct {
	data             string
	mx, sub, journal string
	dns              string // the loopback DNS server's address
	cfg              string // the configuration file
	http             string // serve's web listener
	stderr           *lockedBuf
	cancel           context.CancelFunc
	done             chan error
	dkimKey          *mailauth.DKIMKey
	stopped          bool
}

var (
	gwDKIMOnce sync.Once
	gwDKIM     *mailauth.DKIMKey
	gwHash     string
)

// startGatewayServe runs `resguardo serve` in-process with MX, submission and
// journal listeners on loopback and a loopback DNS server holding the
// senders' SPF, DKIM and DMARC records. extra is appended to the config.
func startGatewayServe(t *testing.T, extra string) *gwServe {
	t.Helper()
	return startGatewayServeOpts(t, gwOpts{extra: extra})
}

// gwOpts add to startGatewayServe's setup: config text, DNS records, and a
// step run on the new data directory before serve starts (its records join
// the zone).
type gwOpts struct {
	extra  string
	dns    []string
	before func(data string) []string
}

func startGatewayServeOpts(t *testing.T, o gwOpts) *gwServe {
	t.Helper()
	extra := o.extra
	gwDKIMOnce.Do(func() {
		var err error
		if gwDKIM, err = mailauth.GenerateKey(mailauth.KeyEd25519, 0); err != nil {
			panic(err)
		}
		if gwHash, err = intake.HashPassword(gwPassword); err != nil {
			panic(err)
		}
	})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	records := append([]string{}, o.dns...)
	if o.before != nil {
		records = append(records, o.before(data)...)
	}
	dns, err := dnstest.Start(dnstest.Zone{Records: dnstest.MustParse(append(records,
		// remitente.mx: SPF passes for loopback, DMARC p=reject.
		`remitente.mx. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.remitente.mx. TXT "v=DMARC1; p=reject"`,
		// banco.mx: SPF does not list us, no DKIM, DMARC p=reject: a spoof.
		`banco.mx. TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`_dmarc.banco.mx. TXT "v=DMARC1; p=reject"`,
		// firmado.mx: no SPF, DKIM only.
		`sel._domainkey.firmado.mx. TXT "`+gwDKIM.TXT+`"`,
		`_dmarc.firmado.mx. TXT "v=DMARC1; p=reject"`,
	)...)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Stop() })
	g := &gwServe{data: data, dns: dns.Addr, mx: freePort(t), sub: freePort(t), journal: freePort(t),
		stderr: &lockedBuf{}, done: make(chan error, 1), dkimKey: gwDKIM}
	cfg := fmt.Sprintf(`data = %q
[log]
level = "debug"

[gateway]
hostname = "mx.%s"
domains = [%q]
dns_server = %q
dns_timeout = "2s"

[gateway.listen]
mx = %q
submission = %q
journal = %q

[gateway.journal]
addresses = [%q]

[[gateway.users]]
name = %q
password_hash = %q
allowed_from = ["ana.lopez@%s"]
%s`, g.data, gwDomain, gwDomain, dns.Addr, g.mx, g.sub, g.journal, gwJournalAddr, gwUser, gwHash, gwDomain, extra)
	cfgPath := filepath.Join(dir, "resguardo.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.cfg = cfgPath
	if out, _, code := cli(t, "config", "check", "--config", cfgPath); code != 0 {
		t.Fatalf("config check: %s", out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	httpAddr := freePort(t)
	g.http = httpAddr
	go func() {
		m := &Main{Stdout: io.Discard, Stderr: g.stderr, Getenv: func(string) string { return "" }}
		g.done <- m.Run(ctx, []string{"serve", "--config", cfgPath, "--listen", httpAddr})
	}()
	t.Cleanup(func() { g.stop(t) })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", g.journal)
		if err == nil {
			c.Close()
			break
		}
		if i == 400 {
			t.Fatalf("gateway never listened:\n%s", g.stderr.String())
		}
		select {
		case err := <-g.done:
			t.Fatalf("serve ended: %v\n%s", err, g.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return g
}

// stop ends serve as SIGTERM does and returns its error.
func (g *gwServe) stop(t *testing.T) error {
	if g.stopped {
		return nil
	}
	g.stopped = true
	g.cancel()
	select {
	case err := <-g.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop:\n%s", g.stderr.String())
		return nil
	}
}

func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n"))
}

// sendSMTP sends msg with net/smtp and returns the server's final answer
// ("" for 250) or the error of the first refused command.
func sendSMTP(addr, helo, from string, to []string, msg []byte) string {
	return strings.ReplaceAll(sendSMTPRaw(addr, helo, from, to, msg), `"`, "")
}

func sendSMTPRaw(addr, helo, from string, to []string, msg []byte) string {
	c, err := smtp.Dial(addr)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	if err := c.Hello(helo); err != nil {
		return err.Error()
	}
	if err := c.Mail(from); err != nil {
		return err.Error()
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err.Error()
		}
	}
	w, err := c.Data()
	if err != nil {
		return err.Error()
	}
	if _, err := w.Write(msg); err != nil {
		return err.Error()
	}
	if err := w.Close(); err != nil {
		return err.Error()
	}
	c.Quit()
	return ""
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type gwShow struct {
	ID         string `json:"id"`
	Receptions []struct {
		Channel  string          `json:"channel"`
		Envelope intake.Envelope `json:"envelope"`
	} `json:"receptions"`
}

func showRecord(t *testing.T, data, id string) (gwShow, bool) {
	t.Helper()
	out, errOut, code := cli(t, "show", "--data", data, id)
	if code != 0 {
		if strings.Contains(errOut, "no such record") {
			return gwShow{}, false
		}
		t.Fatalf("show %s: %d %s", id, code, errOut)
	}
	var s gwShow
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("show: %v\n%s", err, out)
	}
	return s, true
}

type gwListed struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	Channel string `json:"channel"`
}

func listRecords(t *testing.T, data string) []gwListed {
	t.Helper()
	out := mustCLI(t, "list", "--data", data, "--json", "--limit", "1000")
	var recs []gwListed
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r gwListed
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("list: %v: %s", err, line)
		}
		recs = append(recs, r)
	}
	return recs
}

func gwMessage(from, to, subject, body string) []byte {
	return crlf(fmt.Sprintf("From: %s\nTo: %s\nSubject: %s\nDate: Tue, 12 Mar 2024 10:15:34 -0600\nMessage-ID: <%d.%s>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s\n",
		from, to, subject, time.Now().UnixNano(), strings.SplitN(from, "@", 2)[1], body))
}

func findCheck(e intake.Envelope, name string) (intake.CheckRecord, mailauth.Result) {
	var r mailauth.Result
	for _, c := range e.Checks {
		if c.Name == name {
			json.Unmarshal(c.Detail, &r)
			return c, r
		}
	}
	return intake.CheckRecord{}, r
}

func swaksPath(t *testing.T) string {
	return corpustest.Program(t, "swaks", "swaks")
}

func runSwaks(t *testing.T, addr string, args ...string) (string, error) {
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, swaksPath(t), append([]string{"--server", host, "--port", port}, args...)...).CombinedOutput()
	return string(out), err
}

// TestGatewayMX: swaks over STARTTLS to an institution address gets 250 only
// once archived, and the record carries the envelope and the check results;
// a DKIM-signed message verifies; a foreign recipient is refused (no open
// relay); then serve stops cleanly and fsck finds everything in order.
func TestGatewayMX(t *testing.T) {
	t.Parallel()
	g := startGatewayServe(t, "")
	subject := "Oficio SF/0142/2024 por swaks"
	out, err := runSwaks(t, g.mx, "--tls", "--helo", "cliente.remitente.mx", "--from", "oficialia@remitente.mx",
		"--to", "juan.perez@"+gwDomain, "--header", "Subject: "+subject, "--header", "From: Oficialía <oficialia@remitente.mx>")
	if err != nil || !strings.Contains(out, "<~  250 2.0.0") || !strings.Contains(out, "Ready to start TLS") {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	var id string
	for _, r := range listRecords(t, g.data) {
		if r.Subject == subject {
			id = r.ID
		}
	}
	if id == "" {
		t.Fatalf("message from swaks not archived; list: %+v", listRecords(t, g.data))
	}
	s, ok := showRecord(t, g.data, id)
	if !ok || len(s.Receptions) != 1 {
		t.Fatalf("show: %+v", s)
	}
	e := s.Receptions[0].Envelope
	if s.Receptions[0].Channel != "mx" || e.Channel != "mx" || e.ClientIP != "127.0.0.1" || e.HELO != "cliente.remitente.mx" ||
		e.TLS == nil || !strings.HasPrefix(e.TLS.Version, "TLS 1.") || e.TLS.Cipher == "" || e.MailFrom != "oficialia@remitente.mx" ||
		len(e.RcptTo) != 1 || e.RcptTo[0] != "juan.perez@"+gwDomain || e.Verdict.Action != intake.ActionAccept || e.Format != intake.EnvelopeFormat {
		t.Errorf("envelope: %+v", e)
	}
	if _, r := findCheck(e, "auth"); r.SPF.Result != "pass" || r.DMARC.Result != "pass" || !r.DMARC.SPFAligned {
		t.Errorf("auth results: %+v", r)
	}
	if !strings.Contains(e.AuthenticationResults, "mx."+gwDomain) || !strings.Contains(e.AuthenticationResults, "spf=pass") {
		t.Errorf("Authentication-Results: %q", e.AuthenticationResults)
	}

	// DKIM only (no SPF record), aligned: DMARC passes.
	msg, err := mailauth.Sign(gwMessage("avisos@firmado.mx", "juan.perez@"+gwDomain, "Firmado con DKIM", "Hola."), "firmado.mx", "sel", g.dkimKey.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if r := sendSMTP(g.mx, "smtp.firmado.mx", "avisos@firmado.mx", []string{"juan.perez@" + gwDomain}, msg); r != "" {
		t.Fatalf("DKIM-signed message: %s", r)
	}
	s, ok = showRecord(t, g.data, shaHex(msg))
	if !ok {
		t.Fatal("DKIM-signed message not archived")
	}
	if _, r := findCheck(s.Receptions[0].Envelope, "auth"); len(r.DKIM) != 1 || r.DKIM[0].Result != "pass" || r.DMARC.Result != "pass" || !r.DMARC.DKIMAligned {
		t.Errorf("DKIM results: %+v", r)
	}

	// No open relay.
	out, err = runSwaks(t, g.mx, "--helo", "cliente.remitente.mx", "--from", "oficialia@remitente.mx", "--to", "alguien@otro-dominio.mx")
	if err == nil || !strings.Contains(out, "550 5.7.1") {
		t.Errorf("relay attempt: %v\n%s", err, out)
	}
	if err := g.stop(t); err != nil {
		t.Fatalf("serve: %v\n%s", err, g.stderr.String())
	}
	if !strings.Contains(g.stderr.String(), "Pasarela SMTP detenida: 2 aceptados") {
		t.Errorf("no clean gateway stop:\n%s", g.stderr.String())
	}
	mustCLI(t, "fsck", "--data", g.data)
}

// TestGatewayDMARCReject: a spoof of a p=reject domain is refused on MX
// (550, not archived) but archived and only marked on the journal channel.
func TestGatewayDMARCReject(t *testing.T) {
	t.Parallel()
	g := startGatewayServe(t, "")
	msg := gwMessage("avisos@banco.mx", "juan.perez@"+gwDomain, "Su cuenta ha sido bloqueada", "Ingrese aquí.")
	r := sendSMTP(g.mx, "mail.falso.example", "avisos@banco.mx", []string{"juan.perez@" + gwDomain}, msg)
	if !strings.HasPrefix(r, "550 5.7.1") {
		t.Fatalf("MX answer to a DMARC p=reject failure: %q", r)
	}
	if _, ok := showRecord(t, g.data, shaHex(msg)); ok {
		t.Fatal("a rejected message was archived")
	}
	if r := sendSMTP(g.journal, "exch01."+gwDomain, "avisos@banco.mx", []string{gwJournalAddr}, msg); r != "" {
		t.Fatalf("journal answer: %q", r)
	}
	s, ok := showRecord(t, g.data, shaHex(msg))
	if !ok {
		t.Fatal("journaled message not archived")
	}
	e := s.Receptions[0].Envelope
	if e.Channel != "journal" || e.Verdict.Action != intake.ActionAccept || !e.Verdict.Tagged || e.Journal == nil || e.Journal.Kind != "bcc" {
		t.Fatalf("journal envelope: %+v", e)
	}
	found := false
	for _, rs := range e.Verdict.Reasons {
		if rs.Code == intake.CodeDMARCReject && rs.Suggested == intake.ActionReject && rs.Applied == intake.ActionTag {
			found = true
		}
	}
	if _, ar := findCheck(e, "auth"); !found || ar.DMARC.Result != "fail" || ar.DMARC.Disposition != "reject" {
		t.Errorf("journal verdict: %+v, dmarc %+v", e.Verdict, ar.DMARC)
	}
}

// TestGatewayExchangeJournal: an Exchange envelope journal report is archived
// as the original message, with the report's recipients (Bcc included) in
// the envelope.
func TestGatewayExchangeJournal(t *testing.T) {
	t.Parallel()
	g := startGatewayServe(t, "")
	rep, err := os.ReadFile(filepath.Join("testdata", "gateway", "exchange-envelope.eml"))
	if err != nil {
		t.Fatal(err)
	}
	rep = crlf(string(rep))
	if r := sendSMTP(g.journal, "exch01.sefin.edomex.gob.mx", "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@sefin.edomex.gob.mx",
		[]string{gwJournalAddr}, rep); r != "" {
		t.Fatalf("journal report: %q", r)
	}
	var id string
	for _, r := range listRecords(t, g.data) {
		if r.Channel == "journal" {
			id = r.ID
		}
	}
	if id == "" {
		t.Fatal("journal report not archived")
	}
	raw := mustCLI(t, "cat", "--data", g.data, id)
	if strings.Contains(raw, "X-MS-Journal-Report") || !strings.Contains(raw, "Ana López") {
		t.Errorf("archived bytes are not the original message:\n%s", clipOut(raw))
	}
	s, _ := showRecord(t, g.data, id)
	e := s.Receptions[0].Envelope
	rcpts := append([]string{}, e.RcptTo...)
	sort.Strings(rcpts)
	want := []string{"contralor.interno@sefin.edomex.gob.mx", "juan.perez@sefin.edomex.gob.mx", "lucia.gomez@correo-externo.mx",
		"pablo.ruiz@sefin.edomex.gob.mx", "rocio.martinez@sefin.edomex.gob.mx"}
	if strings.Join(rcpts, ",") != strings.Join(want, ",") || e.MailFrom != "ana.lopez@sefin.edomex.gob.mx" {
		t.Errorf("envelope recipients %v from %q, want %v", rcpts, e.MailFrom, want)
	}
	j := e.Journal
	if j == nil || j.Kind != "exchange" || j.Report == nil || len(j.RcptTo) != 1 || j.RcptTo[0] != gwJournalAddr || j.ReportSHA256 != shaHex(rep) {
		t.Fatalf("journal facts: %+v", j)
	}
	bcc := false
	for _, r := range j.Report.Recipients {
		bcc = bcc || (r.Field == "Bcc" && r.Address == "contralor.interno@sefin.edomex.gob.mx")
	}
	if !bcc {
		t.Errorf("Bcc recipient missing from the report: %+v", j.Report.Recipients)
	}
}

// TestGatewaySubmission: swaks authenticates (STARTTLS, AUTH PLAIN) against
// the configured users and sends outside the institution.
func TestGatewaySubmission(t *testing.T) {
	t.Parallel()
	g := startGatewayServe(t, "")
	subject := "Envío autenticado"
	base := []string{"--tls", "--helo", "pc-ana." + gwDomain, "--from", "ana.lopez@" + gwDomain, "--to", "destino@otro-dominio.mx",
		"--header", "Subject: " + subject, "--auth", "PLAIN", "--auth-user", gwUser}
	out, err := runSwaks(t, g.sub, append(base, "--auth-password", gwPassword)...)
	if err != nil || !strings.Contains(out, "235 2.0.0") || !strings.Contains(out, "<~  250 2.0.0") {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	out, err = runSwaks(t, g.sub, append(base, "--auth-password", "equivocada")...)
	if err == nil || !strings.Contains(out, "535 5.7.8") {
		t.Errorf("wrong password: %v\n%s", err, out)
	}
	var id string
	for _, r := range listRecords(t, g.data) {
		if r.Subject == subject {
			id = r.ID
		}
	}
	s, ok := showRecord(t, g.data, id)
	if !ok {
		t.Fatal("submitted message not archived")
	}
	e := s.Receptions[0].Envelope
	if e.Channel != "submission" || e.AuthUser != gwUser || e.TLS == nil {
		t.Errorf("submission envelope: %+v", e)
	}
	for _, c := range e.Checks { // submission skips SPF/DKIM/DMARC: the user authenticated
		if c.Name == intake.AuthCheckName {
			t.Errorf("the auth check ran on submission: %+v", c)
		}
	}
}

// TestGatewayArchiveFailure: when the archive cannot store the message, the
// client gets 451 and nothing is acknowledged or archived.
func TestGatewayArchiveFailure(t *testing.T) {
	t.Parallel()
	g := startGatewayServe(t, "")
	// serve's pack store creates its next pack (00000001.pack) at the first
	// message; taking that name makes the append fail, as a full or broken
	// disk would (works as root, unlike a read-only directory).
	if err := os.WriteFile(filepath.Join(g.data, "blobs", "00000001.pack"), []byte("ocupado"), 0o444); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		msg := gwMessage("oficialia@remitente.mx", "juan.perez@"+gwDomain, fmt.Sprintf("Intento %d", i), "Texto.")
		r := sendSMTP(g.mx, "cliente.remitente.mx", "oficialia@remitente.mx", []string{"juan.perez@" + gwDomain}, msg)
		if !strings.HasPrefix(r, "451 4.3.0") {
			t.Fatalf("message %d: answer %q, want 451 4.3.0", i, r)
		}
	}
	g.stop(t) // reports the storage error
	if recs := listRecords(t, g.data); len(recs) != 0 {
		t.Fatalf("archived after a storage failure: %+v", recs)
	}
}

// TestGatewayConcurrentSessions: 20 parallel sessions all get 250, all 20
// messages are archived, and they shared fewer group commits (fsync
// batches) than messages.
func TestGatewayConcurrentSessions(t *testing.T) {
	t.Parallel()
	g := startGatewayServe(t, "\n[archive]\nbatch_delay = \"200ms\"\n")
	const n = 20
	msgs := make([][]byte, n)
	answers := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		msgs[i] = gwMessage("oficialia@remitente.mx", "juan.perez@"+gwDomain, fmt.Sprintf("Mensaje paralelo %02d", i), "Texto.")
		wg.Go(func() {
			answers[i] = sendSMTP(g.mx, "cliente.remitente.mx", "oficialia@remitente.mx", []string{"juan.perez@" + gwDomain}, msgs[i])
		})
	}
	wg.Wait()
	for i, a := range answers {
		if a != "" {
			t.Errorf("session %d: %q", i, a)
		}
	}
	if err := g.stop(t); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if _, ok := showRecord(t, g.data, shaHex(m)); !ok {
			t.Errorf("message %d not archived", i)
		}
	}
	batches := strings.Count(g.stderr.String(), `msg="batch committed"`)
	if batches == 0 || batches >= n {
		t.Errorf("%d group commits for %d messages", batches, n)
	}
	t.Logf("%d messages in %d group commits", n, batches)
}

// TestGatewayFindingCodes keeps the configuration's list of finding codes
// equal to intake's.
func TestGatewayFindingCodes(t *testing.T) {
	t.Parallel()
	var a, b []string
	for c := range intake.AuthCodes {
		a = append(a, c)
	}
	for c := range intake.AVCodes {
		a = append(a, c)
	}
	for c := range intake.SpamCodes {
		a = append(a, c)
	}
	b = append(b, config.GatewayFindingCodes...)
	sort.Strings(a)
	sort.Strings(b)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("config %v, intake %v", b, a)
	}
}

// TestGatewayQuarantine: a policy that quarantines instead of rejecting archives the
// message, answers 250, marks the record, and `quarantine list|show` find it with
// the reasons; mail that passed is not in the list.
func TestGatewayQuarantine(t *testing.T) {
	t.Parallel()
	g := startGatewayServe(t, "[gateway.policy.mx.actions]\ndmarc_reject = \"quarantine\"\n")
	spoof := gwMessage("avisos@banco.mx", "juan.perez@"+gwDomain, "Su cuenta ha sido bloqueada", "Ingrese aquí.")
	if r := sendSMTP(g.mx, "mail.falso.example", "avisos@banco.mx", []string{"juan.perez@" + gwDomain}, spoof); r != "" {
		t.Fatalf("MX answer to a quarantined message: %q", r)
	}
	good := gwMessage("oficialia@remitente.mx", "juan.perez@"+gwDomain, "Oficio SF/0150/2026", "Se remite el oficio.")
	if r := sendSMTP(g.mx, "cliente.remitente.mx", "oficialia@remitente.mx", []string{"juan.perez@" + gwDomain}, good); r != "" {
		t.Fatalf("MX answer: %q", r)
	}
	out := mustCLI(t, "quarantine", "list", "--data", g.data, "--json")
	var items []listItem
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var it listItem
		if err := json.Unmarshal([]byte(line), &it); err != nil {
			t.Fatalf("%v: %q", err, out)
		}
		items = append(items, it)
	}
	if len(items) != 1 || items[0].ID != shaHex(spoof) || !items[0].Quarantined {
		t.Fatalf("quarantine list: %+v", items)
	}
	var s quarantineShow
	if err := json.Unmarshal([]byte(mustCLI(t, "quarantine", "show", shaHex(spoof)[:12], "--data", g.data, "--json")), &s); err != nil {
		t.Fatal(err)
	}
	if !s.Quarantined || len(s.Arrivals) != 1 || s.Arrivals[0].Verdict == nil || s.Arrivals[0].Verdict.Action != intake.ActionQuarantine ||
		s.Arrivals[0].MailFrom != "avisos@banco.mx" || len(s.Arrivals[0].Verdict.Reasons) == 0 || s.Arrivals[0].Verdict.Reasons[0].Code != intake.CodeDMARCReject {
		t.Fatalf("quarantine show: %+v", s)
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "quarantine", "show", shaHex(good), "--data", g.data, "--json")), &s); err != nil || s.Quarantined {
		t.Fatalf("a message that passed shows as quarantined: %+v %v", s, err)
	}
	if text := mustCLI(t, "quarantine", "show", shaHex(spoof), "--data", g.data, "--lang", "es"); !strings.Contains(text, "EN CUARENTENA") || !strings.Contains(text, "dmarc_reject") {
		t.Fatalf("quarantine show (text):\n%s", text)
	}
}

// TestGatewayAntivirus: a message carrying EICAR in an attachment, sent to the MX
// listener, is scanned by two real clamd engines with different databases at once,
// quarantined (archived, 250, marked), and its record names the engine that found
// it, the one that did not, and their versions; a clean message passes; an engine
// that is down flags the message but does not stop mail.
func TestGatewayAntivirus(t *testing.T) {
	t.Parallel()
	a := scantest.StartClamd(t, map[string]string{"a.hdb": scantest.EICARHash})
	b := scantest.StartClamd(t, map[string]string{"b.ndb": "Resguardo.Prueba.NDB:0:*:" + hex.EncodeToString([]byte("FIRMA-DE-PRUEBA-RESGUARDO")) + "\n"})
	icap := scantest.StartCICAP(t, a.Address) // c-icap's virus_scan in front of clamav-a's clamd
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	down := l.Addr().String()
	l.Close()
	g := startGatewayServe(t, fmt.Sprintf(`
[[gateway.antivirus]]
name = "clamav-a"
type = "clamd"
address = "unix:%s"
[[gateway.antivirus]]
name = "clamav-b"
type = "clamd"
address = "unix:%s"
[[gateway.antivirus]]
name = "caido"
type = "clamd"
address = "tcp:%s"
[[gateway.antivirus]]
name = "c-icap"
type = "icap"
address = %q
max_concurrent = 4

[evidence]
interval = "1s"
`, a.Address, b.Address, down, icap.URL))
	infected := crlf("From: Oficialía <oficialia@remitente.mx>\nTo: juan.perez@" + gwDomain + "\nSubject: Factura pendiente\n" +
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\nSe adjunta la factura.\n" +
		"--b1\nContent-Type: application/octet-stream; name=\"factura.com\"\nContent-Disposition: attachment; filename=\"factura.com\"\n" +
		"Content-Transfer-Encoding: base64\n\n" + base64.StdEncoding.EncodeToString([]byte(scantest.EICAR)) + "\n--b1--\n")
	if r := sendSMTP(g.mx, "cliente.remitente.mx", "oficialia@remitente.mx", []string{"juan.perez@" + gwDomain}, infected); r != "" {
		t.Fatalf("MX answer to an infected message: %q", r)
	}
	clean := gwMessage("oficialia@remitente.mx", "juan.perez@"+gwDomain, "Oficio SF/0300/2026", "Se remite el oficio.")
	if r := sendSMTP(g.mx, "cliente.remitente.mx", "oficialia@remitente.mx", []string{"juan.perez@" + gwDomain}, clean); r != "" {
		t.Fatalf("MX answer to a clean message: %q", r)
	}
	s, ok := showRecord(t, g.data, shaHex(infected))
	if !ok {
		t.Fatal("infected message not archived")
	}
	e := s.Receptions[0].Envelope
	if e.Verdict.Action != intake.ActionQuarantine {
		t.Fatalf("verdict %+v", e.Verdict)
	}
	var results []scan.Result
	for _, c := range e.Checks {
		if c.Name == intake.AVCheckName {
			json.Unmarshal(c.Detail, &results)
		}
	}
	if len(results) != 4 || results[0].Engine != "clamav-a" || results[0].Verdict != scan.Infected || !strings.HasPrefix(results[0].Threat, "Resguardo.EICAR") ||
		!strings.HasPrefix(results[0].Version, "ClamAV ") || results[1].Verdict != scan.Clean || results[2].Engine != "caido" || results[2].Verdict != scan.Error ||
		results[3].Engine != "c-icap" || results[3].Verdict != scan.Infected || !strings.Contains(results[3].Threat, "EICAR") || results[3].Version == "" {
		t.Fatalf("engine results: %+v", results)
	}
	// Both detecting engines are named in the quarantine finding.
	named := map[string]bool{}
	for _, r := range e.Verdict.Reasons {
		if r.Code == intake.CodeVirus {
			named[strings.SplitN(r.Text, ":", 2)[0]] = true
		}
	}
	if !named["clamav-a"] || !named["c-icap"] || len(named) != 2 {
		t.Errorf("detecting engines named in the verdict: %v", named)
	}
	var q quarantineShow
	json.Unmarshal([]byte(mustCLI(t, "quarantine", "show", shaHex(infected), "--data", g.data, "--json")), &q)
	if !q.Quarantined {
		t.Fatalf("not marked: %+v", q)
	}
	s, ok = showRecord(t, g.data, shaHex(clean))
	if !ok || s.Receptions[0].Envelope.Verdict.Action != intake.ActionAccept || !s.Receptions[0].Envelope.Verdict.Tagged {
		t.Fatalf("clean message (one engine down: accepted and flagged): %+v", s)
	}
	// The constancia names every engine's verdict on arrival, and still verifies.
	cdir := t.TempDir()
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, errOut, code := cli(t, "constancia", shaHex(infected), "--out", cdir, "--config", g.cfg)
		if code == 0 {
			break
		}
		if code != 3 || time.Now().After(deadline) {
			t.Fatalf("constancia: %d %s", code, errOut)
		}
		time.Sleep(300 * time.Millisecond)
	}
	doc, _ := os.ReadFile(filepath.Join(cdir, "constancia.json"))
	var c constancia.Constancia
	if err := json.Unmarshal(doc, &c); err != nil || len(c.Arrivals) != 1 {
		t.Fatalf("constancia arrivals: %v\n%s", err, doc)
	}
	ar := c.Arrivals[0]
	byEngine := map[string]constancia.EngineVerdict{}
	for _, v := range ar.Antivirus {
		byEngine[v.Engine] = v
	}
	if ar.Channel != "mx" || ar.Verdict != "quarantine" || ar.SPF == "" || len(ar.Antivirus) != 4 || byEngine["clamav-a"].Verdict != "infected" ||
		byEngine["c-icap"].Verdict != "infected" || byEngine["clamav-b"].Verdict != "clean" || byEngine["caido"].Verdict != "error" || ar.EnvelopeSHA256 == "" {
		t.Errorf("arrival in the constancia: %+v", ar)
	}
	eml := filepath.Join(cdir, "m.eml")
	os.WriteFile(eml, infected, 0o600)
	if out, errOut, code := cli(t, "verify", eml, filepath.Join(cdir, "constancia.json"), "--p7s", filepath.Join(cdir, "constancia.p7s"), "--config", g.cfg); code != 0 {
		t.Errorf("verify: %d\n%s\n%s", code, out, errOut)
	}
	if pdf, err := os.ReadFile(filepath.Join(cdir, "constancia.pdf")); err != nil || len(pdf) < 1000 {
		t.Errorf("pdf: %v", err)
	}

	// Prometheus metrics: the verdicts, each engine's scans and detections.
	resp, err := http.Get("http://" + g.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`resguardo_smtp_messages_total{channel="mx",verdict="quarantine"} 1`,
		`resguardo_smtp_messages_total{channel="mx",verdict="accept"} 1`, `resguardo_av_detections_total{engine="c-icap"} 1`,
		`resguardo_av_detections_total{engine="clamav-a"} 1`, `resguardo_av_scans_total{engine="caido",result="error"} 2`,
		`resguardo_av_scan_seconds_bucket{engine="clamav-b",le=`, `resguardo_av_engine_up{engine="clamav-a"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
