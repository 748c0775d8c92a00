package mailauth

import (
	"net"
	"testing"
)

func TestParseListEntry(t *testing.T) {
	for _, tc := range []struct {
		in, prefix, addr, domain string
		bad                      bool
	}{
		{in: "192.0.2.7", prefix: "192.0.2.7/32"},
		{in: "::ffff:192.0.2.7", prefix: "192.0.2.7/32"},
		{in: "192.0.2.9/24", prefix: "192.0.2.0/24"},
		{in: "2001:DB8::/32", prefix: "2001:db8::/32"},
		{in: " Jefe@Example.ORG ", addr: "jefe@example.org"},
		{in: "Example.org.", domain: "example.org"},
		{in: "@example.org", domain: "example.org"},
		{in: ".example.org", domain: "example.org"},
		{in: "dependencia.gob.mx", domain: "dependencia.gob.mx"},
		{in: "", bad: true},
		{in: "192.0.2.0/33", bad: true},
		{in: "exa mple.org", bad: true},
		{in: "-bad.example", bad: true},
		{in: "a..b", bad: true},
		{in: "user@", bad: true},
		{in: "::ffff:192.0.2.0/120", bad: true},
	} {
		e, err := ParseListEntry(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseListEntry(%q) = %+v, want error", tc.in, e)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseListEntry(%q): %v", tc.in, err)
			continue
		}
		p := ""
		if e.Prefix.IsValid() {
			p = e.Prefix.String()
		}
		if p != tc.prefix || e.Address != tc.addr || e.Domain != tc.domain {
			t.Errorf("ParseListEntry(%q) = %+v", tc.in, e)
		}
	}
}

func TestLists(t *testing.T) {
	l, err := NewLists(
		[]string{"192.0.2.0/24", "partner.example", "jefe@example.org", "2001:db8::/32"},
		[]string{"192.0.2.66", "spam.example", "bad@partner.example"},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ip, mailFrom string
		from               []string
		want               ListResult
	}{
		{"nothing", "198.51.100.1", "a@example.net", []string{"a@example.net"}, ListResult{}},
		{"allowed cidr", "192.0.2.10", "", nil, ListResult{ListAllow, "192.0.2.0/24", "ip"}},
		{"allowed ipv6", "2001:db8::25", "", nil, ListResult{ListAllow, "2001:db8::/32", "ip"}},
		{"blocked ip inside allowed cidr", "192.0.2.66", "", nil, ListResult{ListBlock, "192.0.2.66", "ip"}},
		{"ipv4-mapped", "::ffff:192.0.2.66", "", nil, ListResult{ListBlock, "192.0.2.66", "ip"}},
		{"parent domain", "198.51.100.1", "<x@mx.Partner.Example>", nil, ListResult{ListAllow, "partner.example", "mailfrom"}},
		{"not a parent", "198.51.100.1", "x@notpartner.example", nil, ListResult{}},
		{"address block beats domain allow", "198.51.100.1", "bad@partner.example", nil, ListResult{ListBlock, "bad@partner.example", "mailfrom"}},
		{"header from", "198.51.100.1", "", []string{"Jefe@example.org"}, ListResult{ListAllow, "jefe@example.org", "from"}},
		{"blocked header domain", "198.51.100.1", "ok@example.net", []string{"x@a.spam.example"}, ListResult{ListBlock, "spam.example", "from"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := l.Check(net.ParseIP(tc.ip), tc.mailFrom, tc.from); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := New(Options{Block: []string{"ok.example", "bad entry"}}); err == nil {
		t.Error("New accepted a bad list entry")
	}
}
