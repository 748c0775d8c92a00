package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestGatewayPostfixJournal uses a real Postfix (Debian postfix) as the
// institution's mail server with always_bcc: a message it receives is delivered
// (here: discarded) and its BCC copy is relayed to Resguardo's journal listener,
// which archives it. With CI=true a missing postfix is a failure.
func TestGatewayPostfixJournal(t *testing.T) {
	t.Parallel()
	needPostfix(t)

	g := startGatewayServe(t, "")
	_, jport, _ := strings.Cut(g.journal, ":")
	smtpd := freePort(t)
	dir, err := os.MkdirTemp("", "resguardo-postfix-") // short: Postfix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_, journalDomain, _ := strings.Cut(gwJournalAddr, "@")
	pf, err := newPostfixInstance(dir, smtpd, fmt.Sprintf(`myhostname = correo.%[1]s
mydomain = %[1]s
relay_domains = %[1]s
relay_transport = discard:
default_transport = discard:
always_bcc = %[2]s
transport_maps = inline:{ %[3]s=smtp:[127.0.0.1]:%[4]s }
smtp_tls_security_level = may
`, gwDomain, gwJournalAddr, journalDomain, jport))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := pf.command("start").CombinedOutput(); err != nil {
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, pf.log())
	}
	t.Cleanup(func() { pf.command("stop").Run() })
	log := pf.log

	subject := "Oficio SF/0200/2026 con copia al archivo"
	msg := gwMessage("oficialia@remitente.mx", "juan.perez@"+gwDomain, subject, "Se remite el oficio para su atención.")
	var r string
	for i := 0; i < 100; i++ { // until Postfix's smtpd listens
		if r = sendSMTP(smtpd, "cliente.remitente.mx", "oficialia@remitente.mx", []string{"juan.perez@" + gwDomain}, msg); !strings.HasPrefix(r, "dial:") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r != "" {
		t.Fatalf("Postfix refused the message: %s\n%s", r, log())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, rec := range listRecords(t, g.data) {
			if rec.Subject != subject {
				continue
			}
			s, ok := showRecord(t, g.data, rec.ID)
			if !ok || len(s.Receptions) != 1 {
				t.Fatalf("show: %+v", s)
			}
			e := s.Receptions[0].Envelope
			if e.Channel != "journal" || e.HELO != "correo."+gwDomain || e.ClientIP != "127.0.0.1" ||
				len(e.RcptTo) != 1 || e.RcptTo[0] != gwJournalAddr || e.TLS == nil {
				t.Fatalf("journal envelope from Postfix: %+v", e)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postfix's BCC copy never reached the journal listener; maillog:\n%s", log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
