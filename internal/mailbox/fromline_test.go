package mailbox

import (
	"strings"
	"testing"
)

func TestIsFromLine(t *testing.T) {
	tests := []struct {
		line         string
		strict, anyF bool // want with the shape check (auto/mboxrd/mboxcl2), and in mboxo
	}{
		// Real separators (corpus and common writers).
		{"From MAILER-DAEMON Thu Sep 18 17:54:04 2008\n", true, true},
		{"From MAILER-DAEMON  Wed Sep 17 22:25:40 2008\r\n", true, true},
		{"From jm@dogma.slashnull.org  Wed May 16 00:40:34 2001\n", true, true},
		{"From - \n", true, true},
		{"From -\n", true, true},
		{"From - Mon Jun  3 12:50:27 1996\n", true, true},
		{"From 1844347792267117879@xxx\n", true, true},
		{"From 1844347792267117879@xxx Mon Jan 06 09:15:02 +0000 2025\n", true, true},
		{"From \"Lic. José Ángel\"@sep.gob.mx Mon Jan  6 09:15 2025\n", true, true},
		{"From jamartinez@sep.gob.mx Mon Jan  6 09:15:02 2025", true, true}, // at EOF
		// Prose: rejected by the shape check, a separator only in mboxo.
		{"From Russia with love\n", false, true},
		{"From here on, los pagos se programan los días 15 y 30.\n", false, true},
		{"From la Secretaría de Educación Pública, 2025\n", false, true},
		// Known blind spots of the shape check.
		{"From Mexico\n", true, true},
		{"From 9:00 to 14:00 atendemos en ventanilla\n", true, true},
		{"From juan@sep.gob.mx Mon Jan 6 2025\n", false, true},
		// Never separators.
		{"From:\n", false, false},
		{"From: Lic. José <j@sep.gob.mx>\n", false, false},
		{"from a@b Mon Jan  6 09:15:02 2025\n", false, false},
		{">From a@b Mon Jan  6 09:15:02 2025\n", false, false},
		{" From a@b Mon Jan  6 09:15:02 2025\n", false, false},
		{"From \n", false, true},
		{"From a 10:00\rSubject: x\r\n", false, false}, // CR-only file
		{"From a " + strings.Repeat("x", maxFromLine) + " 10:00\n", false, false},
	}
	for _, tc := range tests {
		if got := isFromLine([]byte(tc.line), true); got != tc.strict {
			t.Errorf("isFromLine(%q, strict) = %v, want %v", tc.line, got, tc.strict)
		}
		if got := isFromLine([]byte(tc.line), false); got != tc.anyF {
			t.Errorf("isFromLine(%q, mboxo) = %v, want %v", tc.line, got, tc.anyF)
		}
	}
}

func TestIsClock(t *testing.T) {
	for f, want := range map[string]bool{
		"17:54:04": true, "9:15": true, "09:15": true, "0:00:00": true,
		"17:54:4": false, "175:04": false, ":15": false, "17:": false, "17-54": false,
		"1:2:3:4": false, "ab:cd": false, "2025": false, "10:00,": false,
	} {
		if got := isClock([]byte(f)); got != want {
			t.Errorf("isClock(%q) = %v, want %v", f, got, want)
		}
	}
}

func TestContentLength(t *testing.T) {
	tests := []struct {
		line   string
		n      int64
		header bool
	}{
		{"Content-Length: 1213\n", 1213, true},
		{"content-length:0\r\n", 0, true},
		{"CONTENT-LENGTH:   32  \n", 32, true},
		{"Content-Length : 7\n", 7, true},
		{"Content-Length: -1\n", -1, true},
		{"Content-Length: 12 bytes\n", -1, true},
		{"Content-Length:\n", -1, true},
		{"Content-Length: 9999999999999999\n", -1, true},
		{"Content-Lengths: 3\n", 0, false},
		{"Content-Type: text/plain\n", 0, false},
		{"X-Content-Length: 3\n", 0, false},
	}
	for _, tc := range tests {
		n, ok := contentLength([]byte(tc.line))
		if ok != tc.header || ok && n != tc.n {
			t.Errorf("contentLength(%q) = %d, %v; want %d, %v", tc.line, n, ok, tc.n, tc.header)
		}
	}
}

func TestStripSeparator(t *testing.T) {
	for in, want := range map[string]string{
		"a\n\n": "a\n", "a\r\n\r\n": "a\r\n", "a\n\r\n": "a\n", "a\r\n\n": "a\r\n",
		"a\n\n\n": "a\n\n", "a\n": "a\n", "a": "a", "\n": "", "\r\n": "", "": "",
		"\n\n": "\n", "a\r\n": "a\r\n",
	} {
		if got := string(stripSeparator([]byte(in))); got != want {
			t.Errorf("stripSeparator(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuotedFrom(t *testing.T) {
	for in, want := range map[string]int{
		">From a\n": 1, ">>>From a\n": 3, ">From \n": 1, "From a\n": 0, ">From\n": 0,
		"> From a\n": 0, ">>\n": 0, ">Fromage\n": 0, "": 0,
	} {
		if got := quotedFrom([]byte(in)); got != want {
			t.Errorf("quotedFrom(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestSniff(t *testing.T) {
	notField := "not mail: first line is not a header field"
	tests := []struct {
		name, head string
		eof        bool
		kind       kind
		reason     string
	}{
		{"empty", "", true, kindNotMail, "empty file"},
		{"blank", " \n\r\n\t\n", true, kindNotMail, "not mail: only blank lines"},
		{"blank, more to come", strings.Repeat("\n", 100), false, kindNotMail, "not mail: no text in the first 8 KiB"},
		{"header", "Subject: Oficio\n", true, kindMessage, ""},
		{"header after BOM and blank lines", "\xef\xbb\xbf\n\r\nReceived: from x\n", true, kindMessage, ""},
		{"obsolete header", "Subject\t: x\n", true, kindMessage, ""},
		{"header without newline", "X-Folio:", true, kindMessage, ""},
		{"mbox", "From a@sep.gob.mx Mon Jan  6 09:15:02 2025\nS: x\n", true, kindMbox, ""},
		{"mbox after BOM", "\xef\xbb\xbfFrom -\nS: x\n", true, kindMbox, ""},
		{"From line cut by the sniff window", "From a@sep.gob.mx Mon Jan  6 09:15:02", false, kindMessage, ""},
		{"prose From line", "From here on, nada.\n", true, kindMessage, ""},
		{"tsv", "# file\tbytes\tsha256\n", true, kindNotMail, notField},
		{"markdown", "# Título\n\nTexto: uno\n", true, kindNotMail, notField},
		{"zstd", "\x28\xb5\x2f\xfd\x00", true, kindNotMail, notField},
		{"leading colon", ": x\n", true, kindNotMail, notField},
		{"continuation first", " folded: x\n", true, kindNotMail, notField},
		{"utf-8 name", "Asunto√: x\n", true, kindNotMail, notField},
	}
	for _, tc := range tests {
		k, reason := sniff([]byte(tc.head), tc.eof, true)
		if k != tc.kind || reason != tc.reason {
			t.Errorf("%s: sniff = %v %q, want %v %q", tc.name, k, reason, tc.kind, tc.reason)
		}
	}
}

func TestKnownNonMail(t *testing.T) {
	for name, want := range map[string]bool{
		"dovecot.index": true, "dovecot.index.log": true, "dovecot.index.cache": true,
		"dovecot.list.index.log": true, "dovecot-uidlist": true, "dovecot-keywords": true,
		"dovecot-uidvalidity.5f3a1b2c": true, "maildirfolder": true, "courierimapuiddb": true,
		"courierimapkeywords": true, "subscriptions": true, ".DS_Store": true, "Thumbs.db": true,
		"dovecot.eml": false, "MANIFEST.tsv": false, "cur": false, "1736176502.M1P100.archivo:2,S": false,
	} {
		if got := knownNonMail(name); got != want {
			t.Errorf("knownNonMail(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSniffDamagedFirstLine(t *testing.T) {
	for in, want := range map[string]kind{
		" From: Lic. Ana Ruiz <aruiz@sep.gob.mx>\nSubject: Oficio\nDate: Tue, 5 Mar 2024 10:00:00 -0600\n\ncuerpo\n": kindMessage,
		"garbage\nX-Foo: 1\nSubject: Oficio\n\n":  kindMessage,
		"// Not an RFC-822 Document\nsome text\n": kindNotMail,
		"# file\tbytes\tsha256\nx.eml\t12\tab\n":  kindNotMail,
		"notes\nX-Foo: 1\nX-Bar: 2\n":             kindNotMail,
	} {
		if got, _ := sniff([]byte(in), true, true); got != want {
			t.Errorf("sniff(%q) = %v, want %v", in, got, want)
		}
	}
}
