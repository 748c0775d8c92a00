package smtpgw

import (
	"strings"
	"testing"
)

// smugglingVariants are the end-of-data tricks from the SMTP smuggling
// research (SEC Consult, December 2023) and Postfix's and mox's follow-up
// lists. None may end the message; each must never yield two messages.
var smugglingVariants = []struct {
	name, seq string
	bare      bool // contains a bare CR or LF, so the message is refused
}{
	{"LF.LF", "\n.\n", true},
	{"LF.CRLF", "\n.\r\n", true},
	{"CRLF.LF", "\r\n.\n", true},
	{"CR.CR", "\r.\r", true},
	{"CR.CRLF", "\r.\r\n", true},
	{"CRLF.CR", "\r\n.\r", true},
	{"LF.CR", "\n.\r", true},
	{"CR.LF", "\r.\n", true},
	{"CRLF.CRCRLF", "\r\n.\r\r\n", true},
	{"CRLF.LFCRLF", "\r\n.\n\r\n", true},
	{"LF.LF no CR before", "\r\n\n.\n", true},
	{"CRLF NUL.CRLF", "\r\n\x00.\r\n", false},
	{"CRLF.NUL CRLF", "\r\n.\x00\r\n", false},
	{"CRLF space.CRLF", "\r\n .\r\n", false},
}

// TestSmuggling sends, for each variant, a message whose body holds the
// variant followed by a second, smuggled transaction, then the real end of
// data. Over raw TCP, both after waiting for 354 and fully pipelined.
func TestSmuggling(t *testing.T) {
	t.Parallel()
	const marker = "X-Smuggled: si"
	rcpt := "juan.perez@" + testDomain
	smuggled := "MAIL FROM:<director@" + testDomain + ">\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\n" +
		"From: director@" + testDomain + "\r\n" + marker + "\r\nSubject: falso\r\n\r\nmensaje falso\r\n"
	for _, v := range smugglingVariants {
		for _, pipelined := range []bool{false, true} {
			name := v.name
			if pipelined {
				name += "/pipelined"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ts := startServer(t, mxConfig(), Options{})
				c := dialRaw(t, ts.addr)
				c.greet()
				head := "MAIL FROM:<a@externo.mx>\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\n"
				body := "From: a@externo.mx\r\nSubject: legitimo\r\n\r\nhola" + v.seq + smuggled + ".\r\n"
				var replies []string
				if pipelined {
					c.send(head + body + "QUIT\r\n")
				} else {
					c.send(head)
					c.expect("250 ")
					c.expect("250 ")
					c.expect("354 ")
					c.send(body + "QUIT\r\n")
				}
				replies = c.rest()
				ds := ts.d.deliveries()
				if len(ds) > 1 {
					t.Fatalf("message split in %d: %q", len(ds), replies)
				}
				// Replies to the message's end of data and later: in the
				// pipelined case skip MAIL, RCPT and DATA's 354.
				after := replies
				if pipelined {
					after = replies[min(3, len(replies)):]
				}
				oks := 0
				for _, r := range after {
					if strings.HasPrefix(r, "250 ") {
						oks++
					}
				}
				if v.bare {
					if len(ds) != 0 {
						t.Errorf("message with bare line ending delivered: %q", ds[0].data)
					}
					if oks != 0 {
						t.Errorf("250 after DATA: %q", replies)
					}
					bad := false
					for _, r := range replies {
						if strings.HasPrefix(r, "554 5.6.0 ") || strings.HasPrefix(r, "421 4.5.2 ") {
							bad = true
						}
					}
					if !bad {
						t.Errorf("no 554 5.6.0 / 421 4.5.2 in %q", replies)
					}
					return
				}
				// Not a bare line ending: one message, containing the
				// would-be second transaction as text.
				if len(ds) != 1 || oks != 1 {
					t.Fatalf("deliveries %d, 250s after DATA %d: %q", len(ds), oks, replies)
				}
				if !strings.Contains(string(ds[0].data), marker) {
					t.Errorf("smuggled part missing from the one message: %q", ds[0].data)
				}
			})
		}
	}
}

func TestBareLF(t *testing.T) {
	t.Parallel()
	t.Run("in message", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, mxConfig(), Options{})
		c := dialRaw(t, ts.addr)
		c.greet()
		c.cmd("MAIL FROM:<a@externo.mx>", "250 ")
		c.cmd("RCPT TO:<juan.perez@"+testDomain+">", "250 ")
		c.cmd("DATA", "354 ")
		c.send("Subject: saltos\n\nlinea uno\nlinea dos\r\n.\r\n")
		c.expect("554 5.6.0 ")
		c.expect("421 4.5.2 ")
		if r := c.rest(); len(r) != 0 {
			t.Errorf("after close: %q", r)
		}
		if n := len(ts.d.deliveries()); n != 0 {
			t.Errorf("%d deliveries", n)
		}
	})
	t.Run("bare CR in message", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, mxConfig(), Options{})
		c := dialRaw(t, ts.addr)
		c.greet()
		c.cmd("MAIL FROM:<a@externo.mx>", "250 ")
		c.cmd("RCPT TO:<juan.perez@"+testDomain+">", "250 ")
		c.cmd("DATA", "354 ")
		c.send("Subject: retorno\r\n\r\nuno\rdos\r\n.\r\n")
		c.expect("554 5.6.0 ")
		if n := len(ts.d.deliveries()); n != 0 {
			t.Errorf("%d deliveries", n)
		}
	})
	t.Run("in command", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, mxConfig(), Options{})
		c := dialRaw(t, ts.addr)
		c.expect("220 ")
		c.send("EHLO cliente.ejemplo.mx\n")
		c.expect("250 ")
		c.expect("421 4.5.2 ")
		if r := c.rest(); len(r) != 0 {
			t.Errorf("after close: %q", r)
		}
	})
}
