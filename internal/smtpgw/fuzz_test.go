package smtpgw

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func FuzzParseJournalReport(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "journal", "*.eml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nSender: a@b\r\nBcc: c@d, Expanded: e@f\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nb\r\n--x--\r\n"))
	f.Add([]byte("X-MS-Journal-Report:\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := ParseJournalReport(data)
		_ = IsJournalReport(data)
		if err != nil {
			if rep != nil {
				t.Fatal("report with an error")
			}
			return
		}
		if len(rep.Original) == 0 {
			t.Fatal("report without an original")
		}
		for _, a := range rep.Addresses() {
			if !strings.Contains(a, "@") {
				t.Fatalf("recipient %q without @", a)
			}
		}
	})
}

var dataCmd = regexp.MustCompile(`(?im)^\s*(DATA|BDAT)`)

// FuzzSession sends arbitrary bytes to a live MX listener (loopback). The
// server must not panic (go-smtp logs a recovered panic: see startServer)
// and must not call Deliver more often than the input has DATA or BDAT
// commands.
func FuzzSession(f *testing.F) {
	rcpt := "juan.perez@" + testDomain
	seeds := []string{
		"EHLO a\r\nMAIL FROM:<a@b.mx>\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\nSubject: x\r\n\r\nhola\r\n.\r\nQUIT\r\n",
		"EHLO a\r\nMAIL FROM:<a@b.mx>\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\nx\n.\nMAIL FROM:<c@d.mx>\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\ny\r\n.\r\n",
		"EHLO a\r\nMAIL FROM:<a@b.mx>\r\nRCPT TO:<" + rcpt + ">\r\nBDAT 5 LAST\r\nab\r\n\r\nQUIT\r\n",
		"EHLO a\r\nMAIL FROM:<a@b.mx>\r\nRCPT TO:<" + rcpt + ">\r\nBDAT 3\r\nab\rBDAT 2 LAST\r\n\nx",
		"HELO a\r\nRSET\r\nNOOP\r\nVRFY x\r\nAUTH PLAIN AGFAYg==\r\nSTARTTLS\r\nMAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nDATA\r\n\x00\x00\r\n.\r\n",
		"EHLO a\r\nMAIL FROM:<a@b.mx> SIZE=99999999999 BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<" + rcpt + "> NOTIFY=NEVER\r\nDATA\r\n\xff\xfe\r\n.\r\n",
		"EHLO a\r\nMAIL FROM:<a@b.mx>\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\n.\r\nDATA\r\n.\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	cfg := mxConfig()
	cfg.ReadTimeout = time.Second
	cfg.MaxMessageBytes = 64 << 10
	cfg.MaxCommands = 200
	ts := startServer(f, cfg, Options{})
	f.Fuzz(func(t *testing.T, in []byte) {
		before := len(ts.d.deliveries())
		c, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			_, _ = c.Write(in)
			_ = c.(*net.TCPConn).CloseWrite()
		}()
		out, _ := io.ReadAll(c)
		after := len(ts.d.deliveries())
		if max := len(dataCmd.FindAll(in, -1)); after-before > max {
			t.Fatalf("%d deliveries for %d DATA/BDAT commands; replies:\n%s", after-before, max, out)
		}
		if bytes.Contains(out, []byte("Internal server error")) {
			t.Fatalf("server error:\n%s", out)
		}
	})
}
