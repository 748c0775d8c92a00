package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/resguardo/resguardo/internal/dnstest"
	"github.com/resguardo/resguardo/internal/mailauth"
)

// TestDKIMKeygen: the key `dkim keygen` writes signs mail that verifies against the
// TXT record it prints, served by a real DNS server on loopback; keys are private
// files and never replaced.
func TestDKIMKeygen(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	mustCLI(t, "init", "--data", data)
	msg := []byte("From: Lucía Sánchez <lsanchez@finanzas.ejemplo.gob.mx>\r\nTo: ventas@proveedor.com.mx\r\n" +
		"Subject: =?UTF-8?Q?Aclaraci=C3=B3n?= de la licitación LPN-014/2026\r\nDate: Mon, 16 Nov 2026 10:00:00 -0600\r\n" +
		"Message-ID: <aclaracion-014@finanzas.ejemplo.gob.mx>\r\n\r\nSe adjunta el acta de la junta de aclaraciones.\r\n")
	for _, alg := range []string{"rsa", "ed25519"} {
		var k dkimKey
		if err := json.Unmarshal([]byte(mustCLI(t, "dkim", "keygen", "finanzas.ejemplo.gob.mx", "--data", data, "--alg", alg, "--selector", "s"+alg, "--json")), &k); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(k.File); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: key file %v %v", alg, fi, err)
		}
		if k.RecordName != "s"+alg+"._domainkey.finanzas.ejemplo.gob.mx" || !strings.Contains(k.TXT, "k="+alg) {
			t.Fatalf("%s: %+v", alg, k)
		}
		pem, _ := os.ReadFile(k.File)
		key, err := mailauth.ParsePrivateKeyPEM(pem)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := mailauth.Sign(msg, "finanzas.ejemplo.gob.mx", "s"+alg, key)
		if err != nil {
			t.Fatal(err)
		}
		rr, err := dns.NewRR(k.Zone)
		if err != nil {
			t.Fatalf("%s: the printed zone line does not parse: %v\n%s", alg, err, k.Zone)
		}
		srv := dnstest.StartT(t, dnstest.Zone{Records: []dns.RR{rr}})
		c, err := mailauth.New(mailauth.Options{DNS: mailauth.ResolverOptions{Server: srv.Addr}})
		if err != nil {
			t.Fatal(err)
		}
		res := c.VerifyDKIM(context.Background(), signed)
		if len(res) != 1 || res[0].Result != "pass" {
			t.Fatalf("%s: verification %+v", alg, res)
		}
		tampered := []byte(strings.Replace(string(signed), "acta", "ACTA", 1))
		if res := c.VerifyDKIM(context.Background(), tampered); len(res) != 1 || res[0].Result != "fail" {
			t.Fatalf("%s: tampered message: %+v", alg, res)
		}
	}
	// A second key under a selector in use is refused; list shows both.
	if _, errOut, code := cli(t, "dkim", "keygen", "finanzas.ejemplo.gob.mx", "--data", data, "--alg", "rsa", "--selector", "srsa"); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("overwrite: exit %d %s", code, errOut)
	}
	var list []dkimKey
	json.Unmarshal([]byte(mustCLI(t, "dkim", "list", "--data", data, "--json")), &list)
	if len(list) != 2 {
		t.Fatalf("list %+v", list)
	}
	for _, bad := range [][]string{{"dkim", "keygen", "no_es_dominio", "--data", data}, {"dkim", "keygen", "ejemplo.gob.mx", "--bits", "512", "--data", data},
		{"dkim", "keygen", "ejemplo.gob.mx", "--alg", "dsa", "--data", data}, {"dkim", "keygen", "ejemplo.gob.mx", "--selector", "a b", "--data", data}} {
		if _, _, code := cli(t, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}
