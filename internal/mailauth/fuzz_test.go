package mailauth

import (
	"strings"
	"testing"
)

func FuzzParseListEntry(f *testing.F) {
	for _, s := range []string{"192.0.2.7", "2001:db8::/32", "jefe@example.org", "@example.org", ".example.org", "a..b", "::ffff:1.2.3.4/104", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseListEntry(s)
		if err != nil {
			return
		}
		n := 0
		if e.Prefix.IsValid() {
			n++
		}
		if e.Address != "" {
			n++
		}
		if e.Domain != "" {
			n++
		}
		if n != 1 {
			t.Fatalf("ParseListEntry(%q) = %+v: want exactly one kind", s, e)
		}
		// An accepted entry parses again to the same thing.
		e2, err := ParseListEntry(e.Text)
		if err != nil || e2 != e {
			t.Fatalf("reparse of %q: %+v, %v", s, e2, err)
		}
	})
}

func FuzzParseTags(f *testing.F) {
	f.Add("v=1; a=rsa-sha256; d=example.org; s=sel;\r\n b=abc def")
	f.Add("a=;;=b")
	f.Add("x=1; x=2")
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := parseTags(s)
		if err != nil {
			return
		}
		for k, v := range tags {
			if k == "" || strings.ContainsAny(v, " \t\r\n") {
				t.Fatalf("parseTags(%q): bad tag %q=%q", s, k, v)
			}
		}
	})
}

func FuzzSplitHeader(f *testing.F) {
	f.Add([]byte("From: a@example.org\r\nSubject: x\r\n y\r\n\r\nbody"))
	f.Add([]byte(" leading continuation\nNo colon\nX:\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fields := splitHeader(msg)
		for _, h := range fields {
			if h.Name == "" || strings.ContainsAny(h.Name, ":\r\n") {
				t.Fatalf("bad field name %q", h.Name)
			}
		}
		fromDomains(fields) // must not panic
	})
}

func FuzzAuthenticationResults(f *testing.F) {
	f.Add("mx.example", "a@example.org", "example.org", "sel", "reason")
	f.Add("mx", "\"weird\r\nInjected: yes\"@x", "d;=", "(s)", "\\")
	f.Fuzz(func(t *testing.T, id, mailFrom, domain, sel, reason string) {
		v := AuthenticationResults(id, Result{
			SPF:   SPFResult{Result: SPFFail, Identity: "mailfrom", Sender: mailFrom},
			DKIM:  []DKIMResult{{Result: DKIMFail, Domain: domain, Selector: sel, Error: reason}},
			DMARC: DMARCResult{Result: DMARCFail, FromDomain: domain, Policy: reason, Disposition: "none"},
		})
		// Only the formatter's own folding may break lines.
		for _, line := range strings.Split(v, "\r\n")[1:] {
			if !strings.HasPrefix(line, "\t") {
				t.Fatalf("unfolded line %q in %q", line, v)
			}
		}
		if strings.ContainsAny(strings.ReplaceAll(v, "\r\n\t", ""), "\r\n") {
			t.Fatalf("stray line break in %q", v)
		}
	})
}
