package mailauth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/dnstest"
)

const testMessage = `From: Ana Pérez <ana@example.org>
To: buzon@dependencia.gob.mx
Subject: Oficio 123/2025
Date: Mon, 03 Mar 2025 10:00:00 -0600
Message-ID: <oficio-123@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Adjunto el oficio solicitado.
`

// testKeys generates one RSA and one ed25519 key and a zone publishing them as
// rsa._domainkey.example.org and ed._domainkey.example.org.
func testKeys(t *testing.T) (rsaKey, edKey *DKIMKey, records []dns.RR) {
	t.Helper()
	rsaKey, err := GenerateKey(KeyRSA, 1024) // short for speed; production uses 2048
	if err != nil {
		t.Fatal(err)
	}
	edKey, err = GenerateKey(KeyEd25519, 0)
	if err != nil {
		t.Fatal(err)
	}
	records = []dns.RR{
		dnstest.TXT(RecordName("example.org", "rsa"), rsaKey.TXT),
		dnstest.TXT(RecordName("example.org", "ed"), edKey.TXT),
	}
	return rsaKey, edKey, records
}

func TestVerifyDKIM(t *testing.T) {
	rsaKey, edKey, records := testKeys(t)
	records = append(records, dnstest.TXT("revoked._domainkey.example.org", "v=DKIM1; k=rsa; p="))
	c := newTestChecker(t, dnstest.Zone{
		Records:  records,
		Failures: []dnstest.Failure{{Name: "broken._domainkey.example.org", Kind: dnstest.ServFail}},
	}, Options{})

	msg := crlf(testMessage)
	sign := func(m []byte, sel string, key *DKIMKey) []byte {
		t.Helper()
		out, err := Sign(m, "example.org", sel, key.Signer)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	signedRSA := sign(msg, "rsa", rsaKey)
	signedBoth := sign(signedRSA, "ed", edKey)

	tests := []struct {
		name string
		msg  []byte
		want []string // result per signature, "sel=result"
	}{
		{"unsigned", msg, nil},
		{"rsa pass", signedRSA, []string{"rsa=pass"}},
		{"ed25519 pass", sign(msg, "ed", edKey), []string{"ed=pass"}},
		{"two signatures", signedBoth, []string{"ed=pass", "rsa=pass"}},
		{"body changed", bytes.Replace(signedRSA, []byte("solicitado"), []byte("SOLICITADO"), 1), []string{"rsa=fail"}},
		{"subject changed", bytes.Replace(signedBoth, []byte("Oficio 123"), []byte("Oficio 124"), 1), []string{"ed=fail", "rsa=fail"}},
		{"no key", sign(msg, "missing", rsaKey), []string{"missing=permerror"}},
		{"revoked key", sign(msg, "revoked", rsaKey), []string{"revoked=permerror"}},
		{"key lookup servfail", sign(msg, "broken", rsaKey), []string{"broken=temperror"}},
		{"wrong key", sign(msg, "ed", rsaKey), []string{"ed=permerror"}},
		{"malformed signature", append([]byte("DKIM-Signature: v=1; a=rsa-sha256; d=example.org\r\n"), msg...), []string{"=permerror"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := c.VerifyDKIM(context.Background(), tc.msg)
			var got []string
			for _, r := range res {
				got = append(got, r.Selector+"="+r.Result)
				if r.Result == DKIMPass && (r.Domain != "example.org" || r.Error != "" || r.HeaderB == "") {
					t.Errorf("pass result incomplete: %+v", r)
				}
				if r.Result != DKIMPass && r.Error == "" {
					t.Errorf("%s without error text: %+v", r.Result, r)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %v, want %v (%+v)", got, tc.want, res)
			}
		})
	}
}

// TestVerifyDKIMCorpus verifies the RFC 8463 appendix A example (an ed25519 and an
// RSA signature by football.example.com), with the keys published as in RFC 8463
// appendix A.2, from the dkimpy fixtures.
func TestVerifyDKIMCorpus(t *testing.T) {
	dir := corpustest.Path(t, "auth", "dkim", "dkimpy")
	read := func(name string) []byte {
		b, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			corpustest.Require(t, err.Error())
		}
		return b
	}
	msg := crlf(string(read("rfc6376.signed.msg")))
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(read("rfc8032_7_1.key"))))
	if err != nil {
		t.Fatal(err)
	}
	edPub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	edTXT, err := DNSRecord(edPub)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(edTXT, "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=") {
		t.Fatalf("ed25519 key record %q is not RFC 8463's", edTXT)
	}
	c := newTestChecker(t, dnstest.Zone{Records: []dns.RR{
		dnstest.TXT("brisbane._domainkey.football.example.com", edTXT),
		dnstest.TXT("test._domainkey.football.example.com", strings.TrimSpace(string(read("test.txt")))),
	}}, Options{})

	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"as published", msg, "brisbane=pass test=pass"},
		{"tampered", bytes.Replace(msg, []byte("We lost"), []byte("We won"), 1), "brisbane=fail test=fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range c.VerifyDKIM(context.Background(), tc.msg) {
				got = append(got, r.Selector+"="+r.Result)
				if r.Domain != "football.example.com" {
					t.Errorf("domain %q", r.Domain)
				}
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
}
