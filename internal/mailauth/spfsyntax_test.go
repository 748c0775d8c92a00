package mailauth

import (
	"strings"
	"testing"
)

func TestSPFSyntax(t *testing.T) {
	valid := []string{
		"v=spf1",
		"v=spf1 -all",
		"v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 ip6:2001:db8::/32 a mx -all",
		"v=spf1 a:mail.finanzas.ejemplo.gob.mx/28 mx:ejemplo.gob.mx//64 a/24//64 ~all",
		"v=spf1 include:_spf.ejemplo.gob.mx exists:%{i}.%{l1r+-}._spf.%{d} ?all",
		"v=spf1 redirect=_spf.ejemplo.gob.mx",
		"v=spf1 -all exp=explica.%{d2}",
		"v=spf1 ptr ptr:ejemplo.gob.mx -all",
		"v=spf1 a:foo:bar/baz.example.com -all",               // ':' and '/' are macro-literals
		"v=spf1 mx:%{d} -all",                                 // domain-end may be a macro-expand
		"v=spf1 a:ejemplo.gob.mx. -all",                       // trailing dot
		"v=spf1 a:servidor.123-4 -all",                        // toplabel: digits around a hyphen
		"v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all", // unknown modifier
		"V=SPF1 IP4:1.2.3.4 -ALL",
		"v=spf1  ip4:1.2.3.4   -all ",
	}
	for _, r := range valid {
		if err := spfSyntax(r); err != nil {
			t.Errorf("%q: %v", r, err)
		}
	}
	invalid := []string{
		"v=spf1 ip4:1.2.3.4/032 -all",       // leading zero
		"v=spf1 ip4:1.2.3.4/33",             //
		"v=spf1 ip4:1.2.3 -all",             //
		"v=spf1 ip4:01.2.3.4",               //
		"v=spf1 ip6",                        // needs a network
		"v=spf1 ip6:1.2.3.4",                // not IPv6
		"v=spf1 ip6::1/129",                 //
		"v=spf1 a:ejemplo.123 -all",         // numeric toplabel
		"v=spf1 a:com -all",                 // no top-level label
		"v=spf1 mx:ejemplo.gob.mx- -all",    //
		"v=spf1 a:ejemplo.gob.mx\x00 -all",  // control character
		"v=spf1 a:ejemplo.gob.mx -all exp=", // empty
		"v=spf1 redirect=",                  //
		"v=spf1 redirect=a.ejemplo.gob.mx redirect=b.ejemplo.gob.mx",
		"v=spf1 exp=a.ejemplo.gob.mx exp=b.ejemplo.gob.mx -all",
		"v=spf1 -all 9foo=bar",                           // modifier name starts with a digit
		"v=spf1 -all foo",                                // unknown mechanism, after the match
		"v=spf1 include",                                 //
		"v=spf1 exists:%{q}.ejemplo.gob.mx",              // unknown macro letter
		"v=spf1 exists:%{i}%x.ejemplo.gob.mx",            // bad escape
		"v=spf1 exists:%{i.ejemplo.gob.mx",               // unterminated
		"v=spf1 exists:%{ir+*}.ejemplo.gob.mx",           // bad delimiter
		"v=spf1 all:ejemplo.gob.mx",                      //
		"v=spf1 ptr/24",                                  //
		"v=spf1 a:transparencia.gob.mx -all información", // non-ASCII
	}
	for _, r := range invalid {
		if err := spfSyntax(r); err == nil {
			t.Errorf("%q: accepted", r)
		}
	}
	for rec, want := range map[string]bool{"v=spf1": true, "v=spf1 -all": true, "V=SpF1 a": true, "v=spf10": false, "v=spf": false, "spf2.0/pra": false} {
		if isSPFRecord(rec) != want {
			t.Errorf("isSPFRecord(%q) = %v", rec, !want)
		}
	}
}

// FuzzSPFSyntax: the checker never panics and accepts only printable ASCII.
func FuzzSPFSyntax(f *testing.F) {
	for _, s := range []string{"v=spf1 -all", "v=spf1 exists:%{i}.%{l1r+-}._spf.%{d} a/24//64", "v=spf1 ip6:2001:db8::/32 redirect=x.y", "v=spf1 %{", "v=spf1 a:%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec := "v=spf1 " + s
		if err := spfSyntax(rec); err == nil && strings.IndexFunc(rec, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
			t.Fatalf("accepted %q", rec)
		}
	})
}
