package dnstest

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestServer(t *testing.T) {
	long := strings.Repeat("x", 1500) // forces TC over UDP and a retry over TCP
	srv := StartT(t, Zone{
		Records: append(MustParse(
			`example.org. A 192.0.2.1`,
			`example.org. AAAA 2001:db8::1`,
			`example.org. MX 10 mx.example.org.`,
			`alias.example.org. CNAME example.org.`,
			`loop1.example.org. CNAME loop2.example.org.`,
			`loop2.example.org. CNAME loop1.example.org.`,
			`1.2.0.192.in-addr.arpa. PTR example.org.`,
			`deep.sub.example.org. TXT "x"`,
		), TXT("long.example.org", long)),
		Failures: []Failure{
			{Name: "fail.example.org", Kind: ServFail},
			{Name: "slow.example.org", Kind: Timeout},
			{Name: "example.org", Type: dns.TypeTXT, Kind: Timeout},
		},
	})
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Addr)
	}}
	ctx := context.Background()
	withTimeout := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 300*time.Millisecond) }

	if ips, err := r.LookupIPAddr(ctx, "alias.example.org."); err != nil || len(ips) != 2 {
		t.Errorf("CNAME to A/AAAA: %v %v", ips, err)
	}
	if mx, err := r.LookupMX(ctx, "example.org."); err != nil || len(mx) != 1 || mx[0].Host != "mx.example.org." {
		t.Errorf("MX: %v %v", mx, err)
	}
	if names, err := r.LookupAddr(ctx, "192.0.2.1"); err != nil || len(names) != 1 || names[0] != "example.org." {
		t.Errorf("PTR: %v %v", names, err)
	}
	if txt, err := r.LookupTXT(ctx, "long.example.org."); err != nil || len(txt) != 1 || txt[0] != long {
		t.Errorf("long TXT over TCP: %d records, %v", len(txt), err)
	}
	var dnsErr *net.DNSError
	if _, err := r.LookupTXT(ctx, "nothere.example.org."); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("NXDOMAIN: %v", err)
	}
	if _, err := r.LookupTXT(ctx, "sub.example.org."); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("empty non-terminal: %v", err)
	}
	if _, err := r.LookupTXT(ctx, "fail.example.org."); !errors.As(err, &dnsErr) || !dnsErr.IsTemporary {
		t.Errorf("SERVFAIL: %v", err)
	}
	c, cancel := withTimeout()
	defer cancel()
	if _, err := r.LookupTXT(c, "slow.example.org."); !errors.As(err, &dnsErr) || !dnsErr.IsTimeout {
		t.Errorf("timeout: %v", err)
	}
	c2, cancel2 := withTimeout()
	defer cancel2()
	if _, err := r.LookupTXT(c2, "example.org."); !errors.As(err, &dnsErr) || !dnsErr.IsTimeout {
		t.Errorf("timeout for one type: %v", err)
	}
	c3, cancel3 := withTimeout()
	defer cancel3()
	if _, err := r.LookupIPAddr(c3, "loop1.example.org."); err == nil {
		t.Error("CNAME loop resolved")
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestStartBadFailure(t *testing.T) {
	if _, err := Start(Zone{Failures: []Failure{{Name: "x.example"}}}); err == nil {
		t.Error("Start accepted a failure without a kind")
	}
}

func TestSecure(t *testing.T) {
	srv := StartT(t, Zone{
		Records: MustParse(
			`example.org. MX 10 mx.example.org.`,
			`_25._tcp.mx.example.org. TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`,
			`alias.example.org. CNAME other.example.net.`,
			`other.example.net. A 192.0.2.1`,
			`plain.example.org. A 192.0.2.2`,
		),
		Secure: []string{"example.org", "*.example.org"},
	})
	ask := func(name string, qtype uint16, do, ad bool) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.AuthenticatedData = ad
		if do {
			m.SetEdns0(1232, true)
		}
		r, err := dns.Exchange(m, srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		qtype  uint16
		do, ad bool
		want   bool
	}{
		{"example.org.", dns.TypeMX, true, false, true},
		{"example.org.", dns.TypeMX, false, true, true},
		{"example.org.", dns.TypeMX, false, false, false}, // the client did not ask
		{"_25._tcp.mx.example.org.", dns.TypeTLSA, true, true, true},
		{"nothere.example.org.", dns.TypeTLSA, true, true, true}, // secure denial
		{"alias.example.org.", dns.TypeA, true, true, false},     // the chain leaves the secure names
		{"other.example.net.", dns.TypeA, true, true, false},
	} {
		if r := ask(tc.name, tc.qtype, tc.do, tc.ad); r.AuthenticatedData != tc.want {
			t.Errorf("%s %s do=%v ad=%v: AD=%v, want %v", tc.name, dns.TypeToString[tc.qtype], tc.do, tc.ad, r.AuthenticatedData, tc.want)
		}
	}
	if r := ask("_25._tcp.mx.example.org.", dns.TypeTLSA, true, true); len(r.Answer) != 1 {
		t.Errorf("TLSA answer: %v", r.Answer)
	} else if tl, ok := r.Answer[0].(*dns.TLSA); !ok || tl.Usage != 3 || tl.Selector != 1 || tl.MatchingType != 1 {
		t.Errorf("TLSA: %v", r.Answer[0])
	}
}
