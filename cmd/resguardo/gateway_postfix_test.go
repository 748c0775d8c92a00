package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
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
	postfix, err := exec.LookPath("postfix")
	if err != nil {
		postfix = "/usr/sbin/postfix"
		if _, err := os.Stat(postfix); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("postfix not installed (apt-get install -y postfix)")
			}
			t.Skip("postfix not installed")
		}
	}
	pfUser, err := user.Lookup("postfix")
	if err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("a Postfix instance needs root and the postfix user: euid %d, %v", os.Geteuid(), err)
		}
		t.Skip("needs root and the postfix user")
	}
	uid, _ := strconv.Atoi(pfUser.Uid)
	gid, _ := strconv.Atoi(pfUser.Gid)

	g := startGatewayServe(t, "")
	_, jport, _ := strings.Cut(g.journal, ":")
	smtpd := freePort(t)
	dir, err := os.MkdirTemp("", "resguardo-postfix-") // short: Postfix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The queue belongs to root (postfix start sets its subdirectories' owners), the
	// data directory to the postfix user, who must be able to reach it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"spool", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(dir, "data"), uid, gid); err != nil {
		t.Fatal(err)
	}
	_, journalDomain, _ := strings.Cut(gwJournalAddr, "@")
	mainCf := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
mail_owner = postfix
setgid_group = postdrop
myhostname = correo.%[2]s
mydomain = %[2]s
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relay_domains = %[2]s
relay_transport = discard:
default_transport = discard:
always_bcc = %[3]s
transport_maps = inline:{ %[4]s=smtp:[127.0.0.1]:%[5]s }
smtp_tls_security_level = may
alias_maps =
alias_database =
biff = no
`, dir, gwDomain, gwJournalAddr, journalDomain, jport)
	masterCf := smtpd + " inet n - n - - smtpd\n" + `pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
`
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(mainCf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.cf"), []byte(masterCf), 0o644); err != nil {
		t.Fatal(err)
	}
	pf := func(args ...string) (string, error) {
		out, err := exec.Command(postfix, append([]string{"-c", dir}, args...)...).CombinedOutput()
		return string(out), err
	}
	log := func() string { b, _ := os.ReadFile(filepath.Join(dir, "maillog")); return string(b) }
	if out, err := pf("start"); err != nil {
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, log())
	}
	t.Cleanup(func() { pf("stop") })

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
