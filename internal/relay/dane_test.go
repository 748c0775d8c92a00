package relay

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/dnstest"
	"github.com/resguardo/resguardo/internal/mailauth"
)

// daneChain is a CA (trusted only by the pools tests build from it) and a leaf it issued for names; the
// tls.Certificate presents the leaf and the CA.
type daneChain struct {
	ca, leaf *x509.Certificate
	cert     tls.Certificate
}

// newDANEChain makes a CA and a server certificate for names valid until
// notAfter; the chain sent holds the leaf and the CA.
func newDANEChain(t *testing.T, notAfter time.Time, names ...string) daneChain {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA propia de destino.mx"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return daneChain{ca: ca, leaf: leaf, cert: tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}}
}

// record makes the TLSA record usage/selector/mtype for c.
func record(usage, selector, mtype uint8, c *x509.Certificate) tlsa {
	content := c.Raw
	if selector == selectorSPKI {
		content = c.RawSubjectPublicKeyInfo
	}
	data := content
	switch mtype {
	case matchSHA256:
		s := sha256.Sum256(content)
		data = s[:]
	case matchSHA512:
		s := sha512.Sum512(content)
		data = s[:]
	}
	return tlsa{usage: usage, selector: selector, mtype: mtype, data: data}
}

func TestDANEVerify(t *testing.T) {
	const host = "mx.destino.mx"
	ch := newDANEChain(t, time.Now().Add(time.Hour), host)
	other := newDANEChain(t, time.Now().Add(time.Hour), host)
	expired := newDANEChain(t, time.Now().Add(-time.Minute), host)
	full := []*x509.Certificate{ch.leaf, ch.ca}
	now := time.Now()
	short := record(3, 1, 1, ch.leaf)
	short.data = short.data[:31]
	tests := []struct {
		name   string
		chain  []*x509.Certificate
		host   string
		recs   []tlsa
		now    time.Time
		usable bool // of recs[0]
		ok     bool
	}{
		{"EE cert full", full, host, []tlsa{record(3, 0, 0, ch.leaf)}, now, true, true},
		{"EE cert SHA-256", full, host, []tlsa{record(3, 0, 1, ch.leaf)}, now, true, true},
		{"EE cert SHA-512", full, host, []tlsa{record(3, 0, 2, ch.leaf)}, now, true, true},
		{"EE SPKI full", full, host, []tlsa{record(3, 1, 0, ch.leaf)}, now, true, true},
		{"EE SPKI SHA-256", full, host, []tlsa{record(3, 1, 1, ch.leaf)}, now, true, true},
		{"EE SPKI SHA-512", full, host, []tlsa{record(3, 1, 2, ch.leaf)}, now, true, true},
		{"EE ignores the name", full, "otro.destino.mx", []tlsa{record(3, 1, 1, ch.leaf)}, now, true, true},
		{"EE ignores expiry", []*x509.Certificate{expired.leaf}, host, []tlsa{record(3, 1, 1, expired.leaf)}, now, true, true},
		{"EE of another key", full, host, []tlsa{record(3, 1, 1, other.leaf)}, now, true, false},
		{"EE naming the CA", full, host, []tlsa{record(3, 1, 1, ch.ca)}, now, true, false},
		{"one of several matches", full, host, []tlsa{record(3, 1, 1, other.leaf), record(3, 1, 1, ch.leaf)}, now, true, true},
		{"TA cert SHA-256", full, host, []tlsa{record(2, 0, 1, ch.ca)}, now, true, true},
		{"TA SPKI SHA-512", full, host, []tlsa{record(2, 1, 2, ch.ca)}, now, true, true},
		{"TA checks the name", full, "otro.destino.mx", []tlsa{record(2, 0, 1, ch.ca)}, now, true, false},
		{"TA checks expiry", full, host, []tlsa{record(2, 0, 1, ch.ca)}, now.Add(2 * time.Hour), true, false},
		{"TA not presented", []*x509.Certificate{ch.leaf}, host, []tlsa{record(2, 0, 1, ch.ca)}, now, true, false},
		{"TA of another CA", full, host, []tlsa{record(2, 0, 1, other.ca)}, now, true, false},
		{"TA presented but did not issue the leaf", []*x509.Certificate{other.leaf, ch.ca}, host, []tlsa{record(2, 0, 1, ch.ca)}, now, true, false},
		{"PKIX-TA unusable", full, host, []tlsa{record(0, 0, 1, ch.ca)}, now, false, false},
		{"PKIX-EE unusable", full, host, []tlsa{record(1, 0, 1, ch.leaf)}, now, false, false},
		{"unknown selector", full, host, []tlsa{{usage: 3, selector: 2, mtype: 1, data: make([]byte, 32)}}, now, false, false},
		{"unknown matching type", full, host, []tlsa{{usage: 3, selector: 1, mtype: 3, data: make([]byte, 32)}}, now, false, false},
		{"digest of the wrong length", full, host, []tlsa{short}, now, false, false},
		{"no certificate", nil, host, []tlsa{record(3, 1, 1, ch.leaf)}, now, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if u := tc.recs[0].usable(); u != tc.usable {
				t.Errorf("usable = %v", u)
			}
			rec, err := daneVerify(tc.chain, tc.host, tc.recs, tc.now)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && rec.String() != tc.recs[len(tc.recs)-1].String() && rec.String() != tc.recs[0].String() {
				t.Errorf("matched %s", rec)
			}
		})
	}
}

// tlsaLine is the zone-file line of rec at _port._tcp.mx.destino.mx.
func tlsaLine(port int, rec tlsa) string {
	return fmt.Sprintf("_%d._tcp.mx.%s. TLSA %d %d %d %s", port, extDomain, rec.usage, rec.selector, rec.mtype, hex.EncodeToString(rec.data))
}

// TestDANEDelivery delivers to an MX host with TLSA records, with a resolver
// that does (or does not) authenticate them.
func TestDANEDelivery(t *testing.T) {
	ch := newDANEChain(t, time.Now().Add(time.Hour), "mx."+extDomain)
	other := newDANEChain(t, time.Now().Add(time.Hour), "mx."+extDomain)
	allSecure := []string{extDomain, "*." + extDomain}
	tests := []struct {
		name     string
		noTLS    bool // the MX does not offer STARTTLS
		tlsa     func(port int) []string
		secure   []string
		fail     []dnstest.Failure
		sts      string // an MTA-STS policy's mx, enforced
		state    string
		dane     string // in the proof
		errWant  string // in LastError when deferred
		verified bool   // PKIX, in the proof
	}{
		{name: "EE SPKI SHA-256 matches, untrusted CA", tlsa: func(p int) []string { return []string{tlsaLine(p, record(3, 1, 1, ch.leaf))} },
			secure: allSecure, state: catalog.OutDelivered, dane: DANEVerified},
		{name: "mismatch defers", tlsa: func(p int) []string { return []string{tlsaLine(p, record(3, 1, 1, other.leaf))} },
			secure: allSecure, state: catalog.OutDeferred, errWant: "DANE: certificate of mx.destino.mx does not match TLSA"},
		{name: "without AD the records are ignored", tlsa: func(p int) []string { return []string{tlsaLine(p, record(3, 1, 1, other.leaf))} },
			state: catalog.OutDelivered},
		{name: "insecure MX: no DANE (RFC 7672 §2.2)", tlsa: func(p int) []string { return []string{tlsaLine(p, record(3, 1, 1, other.leaf))} },
			secure: []string{"*." + extDomain}, state: catalog.OutDelivered},
		{name: "TA cert SHA-256 matches the CA", tlsa: func(p int) []string { return []string{tlsaLine(p, record(2, 0, 1, ch.ca))} },
			secure: allSecure, state: catalog.OutDelivered, dane: DANEVerified},
		{name: "no STARTTLS defers, never in clear", noTLS: true, tlsa: func(p int) []string { return []string{tlsaLine(p, record(3, 1, 1, ch.leaf))} },
			secure: allSecure, state: catalog.OutDeferred, errWant: "does not offer STARTTLS"},
		{name: "only unusable records: mandatory unauthenticated TLS", tlsa: func(p int) []string { return []string{tlsaLine(p, record(1, 1, 1, other.leaf))} },
			secure: allSecure, state: catalog.OutDelivered, dane: DANEUnusableTLS},
		{name: "only unusable records, no STARTTLS: defers", noTLS: true, tlsa: func(p int) []string { return []string{tlsaLine(p, record(0, 0, 1, other.ca))} },
			secure: allSecure, state: catalog.OutDeferred, errWant: "does not offer STARTTLS"},
		{name: "TLSA SERVFAIL under a secure MX defers", tlsa: func(int) []string { return nil },
			fail:   []dnstest.Failure{{Name: "_PORT._tcp.mx." + extDomain, Type: dns.TypeTLSA, Kind: dnstest.ServFail}},
			secure: allSecure, state: catalog.OutDeferred, errWant: "TLSA lookup"},
		{name: "DANE takes precedence over MTA-STS (RFC 8461 §2)", tlsa: func(p int) []string { return []string{tlsaLine(p, record(3, 1, 1, ch.leaf))} },
			sts: "otro." + extDomain, secure: allSecure, state: catalog.OutDelivered, dane: DANEVerified},
		{name: "secure MX without TLSA: as before", tlsa: func(int) []string { return nil },
			secure: allSecure, state: catalog.OutDelivered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mx *sink
			if tc.noTLS {
				mx = startSink(t, nil)
			} else {
				mx = startSink(t, &ch.cert)
			}
			_, ps, _ := net.SplitHostPort(mx.addr)
			port, _ := strconv.Atoi(ps)
			for i := range tc.fail {
				tc.fail[i].Name = strings.Replace(tc.fail[i].Name, "PORT", ps, 1)
			}
			zone := dnstest.StartT(t, dnstest.Zone{Records: dnstest.MustParse(append([]string{
				extDomain + `. MX 10 mx.` + extDomain + `.`,
				`mx.` + extDomain + `. A 127.0.0.1`,
				`_mta-sts.` + extDomain + `. TXT "v=STSv1; id=1"`,
			}, tc.tlsa(port)...)...), Secure: tc.secure, Failures: tc.fail})
			e := newEnv(t, func(c *Config) {
				if tc.sts != "" {
					c.MTASTS = true
					c.HTTPClient = &http.Client{Transport: policyServer("version: STSv1\nmode: enforce\nmx: " + tc.sts + "\nmax_age: 86400\n")}
				}
				c.DANE = true
				c.MXPort = port
				c.Resolver = mailauth.NewResolver(mailauth.ResolverOptions{Server: zone.Addr, Timeout: 2 * time.Second})
			})
			from := "ana.lopez@" + instDomain
			e.submit(t, "submission", from, []string{"pedro@" + extDomain}, msg(from, "pedro", "dane"), nil)
			var o catalog.Outbound
			for deadline := time.Now().Add(10 * time.Second); ; {
				all, _ := e.a.Cat.ListOutbound(context.Background(), catalog.OutboundFilter{})
				o = all[0]
				if o.State == tc.state && (o.State != catalog.OutDeferred || o.Attempts >= 2) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("state %s, want %s: %+v", o.State, tc.state, o)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if tc.state == catalog.OutDeferred {
				if !strings.Contains(o.LastError, tc.errWant) {
					t.Errorf("last error %q, want %q", o.LastError, tc.errWant)
				}
				if n := len(mx.received()); n != 0 {
					t.Errorf("%d messages reached the MX", n)
				}
				return
			}
			ds, err := e.a.Cat.Deliveries(context.Background(), o.RecordSeq, 0)
			if err != nil || len(ds) != 1 {
				t.Fatalf("deliveries %d %v", len(ds), err)
			}
			var d archive.DeliveryDetail
			if err := json.Unmarshal(ds[0].Detail, &d); err != nil {
				t.Fatal(err)
			}
			if d.TLS == nil {
				t.Fatalf("sent in clear: %+v", d)
			}
			if d.MTASTS != "" {
				t.Errorf("mta_sts %q under DANE", d.MTASTS)
			}
			if d.TLS.DANE != tc.dane || d.TLS.Verified != tc.verified {
				t.Errorf("proof tls %+v, want dane %q verified %v", d.TLS, tc.dane, tc.verified)
			}
			if (tc.dane == DANEVerified) != (d.TLS.DANETLSA != "") {
				t.Errorf("dane_tlsa %q", d.TLS.DANETLSA)
			}
			if tc.dane == "" && (strings.Contains(string(ds[0].Detail), `"dane":`) || strings.Contains(string(ds[0].Detail), `"dane_tlsa":`)) {
				t.Errorf("dane fields without DANE: %s", ds[0].Detail)
			}
		})
	}
}
