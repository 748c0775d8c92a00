package mailauth

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/dnstest"
)

func TestDNSBLQuery(t *testing.T) {
	for _, tc := range []struct{ ip, want string }{
		{"192.0.2.99", "99.2.0.192.bl.example"},
		{"::ffff:192.0.2.99", "99.2.0.192.bl.example"},
		{"2001:db8:1:2:3:4:567:89ab", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example"}, // RFC 5782 section 2.4
	} {
		if got := DNSBLQuery(net.ParseIP(tc.ip), "bl.example."); got != tc.want {
			t.Errorf("DNSBLQuery(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
}

func TestCheckDNSBL(t *testing.T) {
	zone := dnstest.Zone{
		Records: dnstest.MustParse(
			`2.0.0.127.bl.example. A 127.0.0.2`,
			`2.0.0.127.bl.example. TXT "listed: see https://bl.example/127.0.0.2"`,
			`b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example. A 127.0.0.4`,
			`2.0.0.127.bad.example. A 192.0.2.1`,
			`2.0.0.127.public.example. A 127.255.255.254`,
			`spammer.example.dbl.example. A 127.0.1.2`,
		),
		Failures: []dnstest.Failure{{Name: "2.0.0.127.slow.example", Kind: dnstest.Timeout}},
	}
	c := newTestChecker(t, zone, Options{DNSBL: DNSBLOptions{
		IPZones:     []string{"bl.example", "slow.example", "bad.example", "public.example"},
		DomainZones: []string{"dbl.example"},
		Timeout:     200 * time.Millisecond,
	}})
	summary := func(rs []DNSBLResult) string {
		var parts []string
		for _, r := range rs {
			s := r.Zone + ":" + r.Subject + "="
			switch {
			case r.Listed:
				s += "listed(" + strings.Join(r.Codes, ",") + ")"
			case r.Error != "":
				s += "error(" + r.Error + ")"
			default:
				s += "clean"
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " ")
	}
	tests := []struct {
		name    string
		ip      string
		domains []string
		want    string
	}{
		{"listed ipv4 and domain", "127.0.0.2", []string{"spammer.example", "SPAMMER.example."},
			"bl.example:127.0.0.2=listed(127.0.0.2) slow.example:127.0.0.2=error(timeout) " +
				"bad.example:127.0.0.2=error(unexpected answer 192.0.2.1) public.example:127.0.0.2=error(unexpected answer 127.255.255.254) " +
				"dbl.example:spammer.example=listed(127.0.1.2)"},
		{"clean", "192.0.2.1", []string{"example.org"},
			"bl.example:192.0.2.1=clean slow.example:192.0.2.1=clean bad.example:192.0.2.1=clean public.example:192.0.2.1=clean dbl.example:example.org=clean"},
		{"listed ipv6", "2001:db8:1:2:3:4:567:89ab", nil,
			"bl.example:2001:db8:1:2:3:4:567:89ab=listed(127.0.0.4) slow.example:2001:db8:1:2:3:4:567:89ab=clean " +
				"bad.example:2001:db8:1:2:3:4:567:89ab=clean public.example:2001:db8:1:2:3:4:567:89ab=clean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res := c.CheckDNSBL(context.Background(), net.ParseIP(tc.ip), tc.domains)
			if got := summary(res); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v: queries are not bounded by the timeout", d)
			}
			for _, r := range res {
				if r.Zone == "bl.example" && r.Subject == "127.0.0.2" && !strings.HasPrefix(r.Reason, "listed: see") {
					t.Errorf("reason %q", r.Reason)
				}
			}
		})
	}
}
