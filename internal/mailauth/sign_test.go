package mailauth

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/resguardo/resguardo/internal/dnstest"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, alg := range []string{KeyRSA, KeyEd25519} {
		t.Run(alg, func(t *testing.T) {
			bits := 0 // default 2048, the size the keygen command uses
			if testing.Short() {
				bits = 1024
			}
			key, err := GenerateKey(alg, bits)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(key.TXT, "v=DKIM1; k="+alg+"; p=") {
				t.Errorf("TXT record %q", key.TXT)
			}
			// The PEM reads back to the same key.
			signer, err := ParsePrivateKeyPEM(key.PrivateKeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			switch k := signer.(type) {
			case *rsa.PrivateKey:
				if !k.Equal(key.Signer) {
					t.Error("PEM round trip changed the RSA key")
				}
			case ed25519.PrivateKey:
				if !k.Equal(key.Signer) {
					t.Error("PEM round trip changed the ed25519 key")
				}
			}
			zoneLine := ZoneFileRecord("example.org", "s2025", key.TXT)
			rrs, err := dnstest.Parse(zoneLine)
			if err != nil {
				t.Fatalf("zone line %q: %v", zoneLine, err)
			}
			if got := strings.Join(rrs[0].(*dns.TXT).Txt, ""); got != key.TXT {
				t.Errorf("zone line carries %q, want %q", got, key.TXT)
			}
			c := newTestChecker(t, dnstest.Zone{Records: rrs}, Options{})

			msg := crlf(testMessage)
			signed, err := Sign(msg, "example.org", "s2025", signer)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(signed), string(msg)) {
				t.Error("Sign changed the message")
			}
			sig := string(signed[:len(signed)-len(msg)])
			for _, tag := range []string{"c=relaxed/relaxed", "a=" + alg + "-sha256", "d=example.org", "s=s2025"} {
				if !strings.Contains(strings.Join(strings.Fields(sig), ""), tag) {
					t.Errorf("signature lacks %s: %s", tag, sig)
				}
			}
			res := c.VerifyDKIM(context.Background(), signed)
			if len(res) != 1 || res[0].Result != DKIMPass || res[0].Selector != "s2025" {
				t.Fatalf("verify: %+v", res)
			}
			// Relaxed canonicalization survives what relays do to whitespace.
			relayed := strings.Replace(string(signed), "Subject: Oficio", "Subject:   Oficio", 1)
			if res := c.VerifyDKIM(context.Background(), []byte(relayed)); res[0].Result != DKIMPass {
				t.Errorf("relaxed header whitespace: %+v", res)
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	key, err := GenerateKey(KeyEd25519, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(crlf(testMessage), "", "s", key.Signer); err == nil {
		t.Error("Sign without a domain succeeded")
	}
	if _, err := Sign(crlf(testMessage), "example.org", "s", nil); err == nil {
		t.Error("Sign without a key succeeded")
	}
	if _, err := GenerateKey(KeyRSA, 512); err == nil {
		t.Error("GenerateKey accepted a 512-bit RSA key")
	}
	if _, err := GenerateKey("dsa", 0); err == nil {
		t.Error("GenerateKey accepted dsa")
	}
	if _, err := ParsePrivateKeyPEM([]byte("not pem")); err == nil {
		t.Error("ParsePrivateKeyPEM accepted garbage")
	}
}
