package mailauth

import (
	"context"
	"testing"

	"github.com/resguardo/resguardo/internal/dnstest"
)

func TestOrganizationalDomain(t *testing.T) {
	for in, want := range map[string]string{
		"example.org":            "example.org",
		"mail.example.org":       "example.org",
		"a.b.dependencia.gob.mx": "dependencia.gob.mx",
		"gob.mx":                 "gob.mx",
		"Correo.Example.CO.UK.":  "example.co.uk",
		"localhost":              "localhost",
	} {
		if got := OrganizationalDomain(in); got != want {
			t.Errorf("OrganizationalDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEvaluateDMARC(t *testing.T) {
	zone := dnstest.Zone{
		Records: dnstest.MustParse(
			`_dmarc.example.org. TXT "v=DMARC1; p=reject; sp=quarantine"`,
			`_dmarc.strict.example. TXT "v=DMARC1; p=quarantine; adkim=s; aspf=s"`,
			`_dmarc.half.example. TXT "v=DMARC1; p=reject; pct=50"`,
			`_dmarc.monitor.example. TXT "v=DMARC1; p=none; rua=mailto:dmarc@monitor.example"`,
			`_dmarc.own.example.org. TXT "v=DMARC1; p=none"`,
			`_dmarc.bad.example. TXT "v=DMARC1; p=whatever"`,
			`_dmarc.nosp.example. TXT "v=DMARC1; p=reject"`,
		),
		Failures: []dnstest.Failure{{Name: "_dmarc.flaky.example", Kind: dnstest.ServFail}},
	}
	c := newTestChecker(t, zone, Options{Intn: func(int) int { return 70 }}) // outside a 50% sample

	spf := func(res, dom string) SPFResult { return SPFResult{Result: res, Domain: dom} }
	dk := func(res, dom string) []DKIMResult { return []DKIMResult{{Result: res, Domain: dom}} }
	tests := []struct {
		name        string
		from        []string
		spf         SPFResult
		dkim        []DKIMResult
		result      string
		disposition string
		spfAl       bool
		dkimAl      bool
		record      string
	}{
		{"spf aligned exact", []string{"example.org"}, spf("pass", "example.org"), nil, "pass", "none", true, false, "example.org"},
		{"spf relaxed subdomain", []string{"example.org"}, spf("pass", "bounces.example.org"), nil, "pass", "none", true, false, "example.org"},
		{"dkim relaxed parent", []string{"news.example.org"}, spf("fail", "news.example.org"), dk("pass", "example.org"), "pass", "none", false, true, "example.org"},
		{"spf pass not aligned", []string{"example.org"}, spf("pass", "mailer.example.net"), nil, "fail", "reject", false, false, "example.org"},
		{"dkim fail aligned domain", []string{"example.org"}, spf("none", ""), dk("fail", "example.org"), "fail", "reject", false, false, "example.org"},
		{"subdomain uses sp", []string{"news.example.org"}, spf("fail", "news.example.org"), nil, "fail", "quarantine", false, false, "example.org"},
		{"subdomain own record", []string{"own.example.org"}, spf("fail", "own.example.org"), nil, "fail", "none", false, false, "own.example.org"},
		{"subdomain without sp uses p", []string{"x.nosp.example"}, spf("softfail", "x.nosp.example"), nil, "fail", "reject", false, false, "nosp.example"},
		{"strict spf subdomain", []string{"strict.example"}, spf("pass", "mail.strict.example"), nil, "fail", "quarantine", false, false, "strict.example"},
		{"strict dkim subdomain", []string{"strict.example"}, spf("none", ""), dk("pass", "mail.strict.example"), "fail", "quarantine", false, false, "strict.example"},
		{"strict dkim exact", []string{"strict.example"}, spf("none", ""), dk("pass", "strict.example"), "pass", "none", false, true, "strict.example"},
		{"pct sample excluded", []string{"half.example"}, spf("fail", "half.example"), nil, "fail", "quarantine", false, false, "half.example"},
		{"p=none", []string{"monitor.example"}, spf("fail", "monitor.example"), nil, "fail", "none", false, false, "monitor.example"},
		{"no record", []string{"norecord.example"}, spf("pass", "norecord.example"), nil, "none", "none", false, false, ""},
		{"temperror", []string{"flaky.example"}, spf("pass", "flaky.example"), nil, "temperror", "none", false, false, ""},
		{"bad record", []string{"bad.example"}, spf("pass", "bad.example"), nil, "permerror", "none", false, false, ""},
		{"no from", nil, spf("pass", "example.org"), nil, "permerror", "none", false, false, ""},
		{"two from domains", []string{"example.org", "example.net"}, spf("pass", "example.org"), nil, "permerror", "none", false, false, ""},
		{"public suffix does not align", []string{"example.org"}, spf("pass", "org"), nil, "fail", "reject", false, false, "example.org"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := c.EvaluateDMARC(context.Background(), tc.from, tc.spf, tc.dkim)
			if got.Result != tc.result || got.Disposition != tc.disposition ||
				got.SPFAligned != tc.spfAl || got.DKIMAligned != tc.dkimAl ||
				(tc.record != "" && got.RecordDomain != tc.record) {
				t.Errorf("got %+v\nwant result=%s disposition=%s spf_aligned=%v dkim_aligned=%v record=%s",
					got, tc.result, tc.disposition, tc.spfAl, tc.dkimAl, tc.record)
			}
		})
	}
}
