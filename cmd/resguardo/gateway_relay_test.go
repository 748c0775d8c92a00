package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/keys"
	"github.com/resguardo/resguardo/internal/mailauth"
)

// needPostfix fails (CI=true) or skips without Debian's postfix and root.
func needPostfix(t *testing.T) {
	t.Helper()
	corpustest.Program(t, "postfix", "postfix")
	if os.Geteuid() != 0 {
		corpustest.Require(t, "a Postfix instance needs root")
	}
}

// postfixMailbox is a real Postfix that accepts mail for domains over
// STARTTLS and delivers it to one maildir: the institution's mail server (the
// next hop) and, on the same port, a remote domain's MX.
type postfixMailbox struct {
	addr, port, maildir string
	pf                  *postfixInstance
}

func startPostfixMailbox(t *testing.T, domains ...string) *postfixMailbox {
	t.Helper()
	needPostfix(t)
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	dir, err := os.MkdirTemp("", "resguardo-pfmb-") // short: Postfix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cert, key, _, err := keys.InitGatewayTLS(filepath.Join(dir, "tls"), "correo."+gwDomain, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pf, err := newPostfixInstance(dir, addr, "")
	if err != nil {
		t.Fatal(err)
	}
	mail := filepath.Join(dir, "mail")
	os.MkdirAll(mail, 0o755)
	os.Chown(mail, pf.uid, pf.gid)
	f, err := os.OpenFile(filepath.Join(dir, "main.cf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `myhostname = correo.%[1]s
virtual_mailbox_domains = %[2]s
virtual_mailbox_base = %[3]s
virtual_mailbox_maps = static:buzon/
virtual_uid_maps = static:%[4]d
virtual_gid_maps = static:%[5]d
smtpd_tls_cert_file = %[6]s
smtpd_tls_key_file = %[7]s
smtpd_tls_security_level = may
`, gwDomain, strings.Join(domains, ", "), mail, pf.uid, pf.gid, cert, key)
	f.Close()
	if out, err := pf.command("start").CombinedOutput(); err != nil {
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, pf.log())
	}
	t.Cleanup(func() { pf.command("stop").Run() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i == 200 {
			t.Fatalf("postfix never listened:\n%s", pf.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &postfixMailbox{addr: addr, port: port, maildir: filepath.Join(mail, "buzon"), pf: pf}
}

// waitMail returns the delivered message (CRLF line endings) whose text
// contains marker.
func (p *postfixMailbox) waitMail(t *testing.T, marker string) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(p.maildir, "new", "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err == nil && bytes.Contains(b, []byte(marker)) {
				return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message with %q in the Postfix mailbox; maillog:\n%s", marker, p.pf.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type queueLine struct {
	ID            int64  `json:"id"`
	Record        string `json:"record"`
	Rcpt          string `json:"rcpt"`
	MailFrom      string `json:"mail_from"`
	Route         string `json:"route"`
	State         string `json:"state"`
	DeliveryIndex *int64 `json:"delivery_ledger_index"`
	LastError     string `json:"last_error"`
}

func queueList(t *testing.T, data string) []queueLine {
	t.Helper()
	out := mustCLI(t, "queue", "list", "--state", "all", "--json", "--data", data)
	var list []queueLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var q queueLine
		if err := json.Unmarshal([]byte(l), &q); err != nil {
			t.Fatalf("queue list: %v: %s", err, l)
		}
		list = append(list, q)
	}
	return list
}

// waitDelivered waits until the queue entry of record id for rcpt is delivered.
func waitDelivered(t *testing.T, data, id, rcpt string) queueLine {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, q := range queueList(t, data) {
			if q.Record == id && q.Rcpt == rcpt && q.State == "delivered" {
				return q
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s for %s never delivered: %+v", id, rcpt, queueList(t, data))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func recordBySubject(t *testing.T, data, subject string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, r := range listRecords(t, data) {
			if r.Subject == subject {
				return r.ID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record with subject %q", subject)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGatewayRelayPostfix: the whole path with a real Postfix as the next hop and
// as a remote MX. Mail swaks sends to the MX listener reaches Postfix with
// Authentication-Results (on the relayed copy only), and the queue entry has a
// delivery entry naming Postfix's TLS session and reply; mail submitted for
// another domain goes to that domain's MX, DKIM-signed with the key from
// `resguardo dkim keygen`, and the signature verifies; a quarantined message is
// not delivered until `quarantine release`.
func TestGatewayRelayPostfix(t *testing.T) {
	t.Parallel()
	pfx := startPostfixMailbox(t, gwDomain, "destino.mx")
	g := startGatewayServeOpts(t, gwOpts{
		extra: fmt.Sprintf("\n[gateway.relay]\nnext_hop = %q\nmx_port = %s\nretry_base = \"200ms\"\nretry_max = \"1s\"\n"+
			"\n[gateway.policy.mx.actions]\ndmarc_reject = \"quarantine\"\n\n[evidence]\ninterval = \"1s\"\n", pfx.addr, pfx.port),
		dns: []string{"destino.mx. MX 10 mx.destino.mx.", "mx.destino.mx. A 127.0.0.1"},
		before: func(data string) []string {
			mustCLI(t, "init", "--data", data)
			var k dkimKey
			if err := json.Unmarshal([]byte(mustCLI(t, "dkim", "keygen", gwDomain, "--selector", "relevo", "--alg", "ed25519", "--json", "--data", data)), &k); err != nil {
				t.Fatal(err)
			}
			return []string{k.RecordName + `. TXT "` + k.TXT + `"`}
		},
	})

	// Inbound: MX → next hop.
	subject := "Oficio SF/0312/2026 relevo a correo institucional"
	out, err := runSwaks(t, g.mx, "--tls", "--helo", "mail.remitente.mx", "--from", "oficialia@remitente.mx",
		"--to", "juan.perez@"+gwDomain, "--header", "Subject: "+subject)
	if err != nil || !strings.Contains(out, "<~  250 2.0.0") {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	id := recordBySubject(t, g.data, subject)
	got := pfx.waitMail(t, subject)
	archived := []byte(mustCLI(t, "cat", "--data", g.data, id))
	if !bytes.HasSuffix(got, archived) {
		t.Errorf("the relayed copy does not end with the archived bytes")
	}
	if bytes.Contains(archived, []byte("Authentication-Results")) {
		t.Errorf("the archived bytes carry Authentication-Results")
	}
	unfolded := strings.ReplaceAll(string(got), "\r\n\t", " ")
	for _, want := range []string{"Authentication-Results: mx." + gwDomain + "; spf=pass", "Received: from mail.remitente.mx ([127.0.0.1]) by mx." + gwDomain + " (Resguardo) with ESMTPS"} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("relayed copy lacks %q:\n%s", want, got)
		}
	}
	q := waitDelivered(t, g.data, id, "juan.perez@"+gwDomain)
	if q.Route != "next_hop" || q.DeliveryIndex == nil {
		t.Errorf("queue entry: %+v", q)
	}
	var shown struct {
		Deliveries []struct {
			LedgerIndex int64 `json:"ledger_index"`
			Detail      struct {
				RemoteIP string `json:"remote_ip"`
				Reply    string `json:"reply"`
				SHA256   string `json:"sha256"`
				TLS      *struct {
					Version    string `json:"version"`
					CertSHA256 string `json:"cert_sha256"`
				} `json:"tls"`
			} `json:"detail"`
		} `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "queue", "show", fmt.Sprint(q.ID), "--json", "--data", g.data)), &shown); err != nil {
		t.Fatal(err)
	}
	if len(shown.Deliveries) != 1 {
		t.Fatalf("deliveries: %+v", shown)
	}
	d := shown.Deliveries[0]
	if d.LedgerIndex != *q.DeliveryIndex || d.Detail.RemoteIP != "127.0.0.1" || d.Detail.SHA256 != id ||
		!strings.HasPrefix(d.Detail.Reply, "250 2.0.0 Ok: queued as") || d.Detail.TLS == nil || !strings.HasPrefix(d.Detail.TLS.Version, "TLS 1.") ||
		len(d.Detail.TLS.CertSHA256) != 64 {
		t.Errorf("delivery: %+v tls %+v", d, d.Detail.TLS)
	}

	// A constancia de entrega: the record and its delivery entry under one
	// timestamped checkpoint; verify checks both, and a changed detail fails.
	cdir := t.TempDir()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, errOut, code := cli(t, "constancia", id, "--delivery", fmt.Sprint(*q.DeliveryIndex), "--out", cdir, "--config", g.cfg)
		if code == 0 {
			break
		}
		if code != 3 || time.Now().After(deadline) {
			t.Fatalf("constancia --delivery: %d %s", code, errOut)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if _, errOut, code := cli(t, "constancia", id, "--delivery", "0", "--out", t.TempDir(), "--config", g.cfg); code != 1 || !strings.Contains(errOut, "not a delivery entry") {
		t.Errorf("constancia for a non-delivery index: %d %s", code, errOut)
	}
	emlPath := filepath.Join(cdir, "mensaje.eml")
	os.WriteFile(emlPath, archived, 0o600)
	vout, verrOut, code := cli(t, "verify", emlPath, filepath.Join(cdir, "constancia.json"), "--p7s", filepath.Join(cdir, "constancia.p7s"), "--json", "--config", g.cfg)
	if code != 0 || !strings.Contains(vout, `"delivery"`) {
		t.Fatalf("verify of the constancia de entrega: %d\n%s\n%s", code, vout, verrOut)
	}
	doc, _ := os.ReadFile(filepath.Join(cdir, "constancia.json"))
	if !strings.Contains(string(doc), `\"remote_ip\":\"127.0.0.1\"`) || !strings.Contains(string(doc), "aceptó la entrega") {
		t.Errorf("constancia lacks the delivery:\n%s", doc)
	}
	tampered := strings.Replace(string(doc), `\"remote_ip\":\"127.0.0.1\"`, `\"remote_ip\":\"127.0.0.2\"`, 1)
	os.WriteFile(filepath.Join(cdir, "alterada.json"), []byte(tampered), 0o600)
	if _, _, code := cli(t, "verify", emlPath, filepath.Join(cdir, "alterada.json"), "--config", g.cfg); code == 0 {
		t.Errorf("a constancia with a changed delivery detail verified")
	}
	if pdf, err := os.ReadFile(filepath.Join(cdir, "constancia.pdf")); err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Errorf("constancia.pdf: %v", err)
	}

	// Outbound: submission → destino.mx's MX, DKIM-signed.
	subject = "Respuesta a solicitud de información 330026426000123"
	out, err = runSwaks(t, g.sub, "--tls", "--helo", "pc-ana."+gwDomain, "--from", "ana.lopez@"+gwDomain, "--to", "pedro@destino.mx",
		"--header", "Subject: "+subject, "--header", "From: Ana López <ana.lopez@"+gwDomain+">",
		"--auth", "PLAIN", "--auth-user", gwUser, "--auth-password", gwPassword)
	if err != nil || !strings.Contains(out, "<~  250 2.0.0") {
		t.Fatalf("swaks submission: %v\n%s", err, out)
	}
	got = pfx.waitMail(t, subject)
	ck, err := mailauth.New(mailauth.Options{DNS: mailauth.ResolverOptions{Server: g.dns, Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	dk := ck.VerifyDKIM(context.Background(), got)
	if len(dk) != 1 || dk[0].Result != "pass" || dk[0].Domain != gwDomain || dk[0].Selector != "relevo" {
		t.Errorf("DKIM of the outbound copy: %+v", dk)
	}
	sid := recordBySubject(t, g.data, subject)
	if q := waitDelivered(t, g.data, sid, "pedro@destino.mx"); q.Route != "mx" {
		t.Errorf("outbound route %q", q.Route)
	}

	// Quarantine: the spoof (DMARC reject, turned into quarantine by policy) is
	// archived, not delivered, until released.
	subject = "Aviso de cargo no reconocido"
	msg := gwMessage("alertas@banco.mx", "juan.perez@"+gwDomain, subject, "Confirme sus datos.")
	if r := sendSMTP(g.mx, "mail.banco.mx", "alertas@banco.mx", []string{"juan.perez@" + gwDomain}, msg); r != "" {
		t.Fatalf("spoof refused: %s", r)
	}
	qid := recordBySubject(t, g.data, subject)
	time.Sleep(300 * time.Millisecond)
	for _, q := range queueList(t, g.data) {
		if q.Record == qid {
			t.Fatalf("a quarantined message was queued: %+v", q)
		}
	}
	if _, errOut, code := cli(t, "quarantine", "release", qid, "--config", g.cfg); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Errorf("release without a reason: %d %s", code, errOut)
	}
	if _, errOut, code := cli(t, "quarantine", "release", qid, "--reason", "sin configuración", "--data", g.data); code != 1 || !strings.Contains(errOut, "next_hop") {
		t.Errorf("release without the relay's configuration: %d %s", code, errOut)
	}
	mustCLI(t, "quarantine", "release", qid, "--reason", "Falso positivo confirmado por la Unidad de TI", "--config", g.cfg)
	waitDelivered(t, g.data, qid, "juan.perez@"+gwDomain)
	pfx.waitMail(t, subject)
	if _, errOut, code := cli(t, "quarantine", "release", qid, "--reason", "otra vez", "--config", g.cfg); code != 1 || !strings.Contains(errOut, "not in quarantine") {
		t.Errorf("second release: %d %s", code, errOut)
	}
}
