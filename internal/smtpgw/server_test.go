package smtpgw

import (
	"crypto/tls"
	"net/smtp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMXAcceptsInstitutionMail(t *testing.T) {
	t.Parallel()
	ts := startServer(t, mxConfig(), Options{})
	msg := testMessage("Oficio 0142/2024", "Le remito el oficio solicitado.")
	err := smtp.SendMail(ts.addr, nil, "remitente@externo.mx",
		[]string{"juan.perez@" + testDomain, "JUAN.PEREZ@" + strings.ToUpper(testDomain), "contacto@cdmx.gob.mx"}, []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	ds := ts.d.deliveries()
	if len(ds) != 1 {
		t.Fatalf("%d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if string(d.data) != msg {
		t.Errorf("data changed:\n%q\nwant\n%q", d.data, msg)
	}
	e := d.env
	if e.Channel != ChannelMX || e.MailFrom != "remitente@externo.mx" || e.HELO != "localhost" || e.TLS != nil {
		t.Errorf("envelope %+v", e)
	}
	if len(e.Recipients) != 2 {
		t.Errorf("recipients %v, want 2 (case-insensitive duplicates merged)", e.Recipients)
	}
	if !e.ClientAddr.Addr().IsLoopback() || e.Received.IsZero() || e.SessionID == "" {
		t.Errorf("envelope %+v", e)
	}
}

func TestMXOpenRelayRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, mxConfig(), Options{})
	c := dialRaw(t, ts.addr)
	ehlo := c.greet()
	for _, ext := range []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "SIZE 52428800", "LIMITS RCPTMAX=100"} {
		if !strings.Contains(ehlo, ext) {
			t.Errorf("EHLO lacks %s:\n%s", ext, ehlo)
		}
	}
	if strings.Contains(ehlo, "STARTTLS") || strings.Contains(ehlo, "AUTH") {
		t.Errorf("EHLO without certificate offers STARTTLS or AUTH:\n%s", ehlo)
	}
	c.cmd("MAIL FROM:<spammer@externo.mx>", "250 ")
	for _, rcpt := range []string{
		"victima@gmail.com",
		"otro@" + testDomain + ".evil.com",
		"victima%gmail.com@" + testDomain,
		"gmail.com!victima@" + testDomain,
		"@" + testDomain + ":victima@gmail.com",
	} {
		r := c.cmd("RCPT TO:<"+rcpt+">", "5")
		if !strings.HasPrefix(r, "550 5.7.1 ") && !strings.HasPrefix(r, "501 ") {
			t.Errorf("RCPT %s: %q, want 550 5.7.1 or 501", rcpt, r)
		}
	}
	// go-smtp's parser refuses a bare "postmaster" (RFC 5321 4.5.1).
	c.cmd("RCPT TO:<Postmaster@"+testDomain+">", "250 ")
	c.cmd("QUIT", "221 ")
}

func TestOversize(t *testing.T) {
	t.Parallel()
	cfg := mxConfig()
	cfg.MaxMessageBytes = 4096
	ts := startServer(t, cfg, Options{})
	c := dialRaw(t, ts.addr)
	c.greet()
	c.cmd("MAIL FROM:<a@externo.mx> SIZE=5000", "552 5.3.4 ")
	c.cmd("MAIL FROM:<a@externo.mx> SIZE=100", "250 ")
	c.cmd("RCPT TO:<juan.perez@"+testDomain+">", "250 ")
	c.cmd("DATA", "354 ")
	c.send(testMessage("grande", strings.Repeat("0123456789abcdef\r\n", 400)) + ".\r\n")
	c.expect("552 5.3.4 ")
	// The session goes on.
	c.cmd("MAIL FROM:<a@externo.mx>", "250 ")
	c.cmd("RCPT TO:<juan.perez@"+testDomain+">", "250 ")
	c.cmd("DATA", "354 ")
	c.send(testMessage("chico", "hola") + ".\r\n")
	c.expect("250 ")
	if n := len(ts.d.deliveries()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

func TestTooManyRecipients(t *testing.T) {
	t.Parallel()
	cfg := mxConfig()
	cfg.MaxRecipients = 3
	ts := startServer(t, cfg, Options{})
	c := dialRaw(t, ts.addr)
	c.greet()
	c.cmd("MAIL FROM:<a@externo.mx>", "250 ")
	for i := range 3 {
		c.cmd("RCPT TO:<u"+string(rune('0'+i))+"@"+testDomain+">", "250 ")
	}
	c.cmd("RCPT TO:<u9@"+testDomain+">", "452 4.5.3 ")
	c.cmd("DATA", "354 ")
	c.send(testMessage("tres", "hola") + ".\r\n")
	c.expect("250 ")
	if ds := ts.d.deliveries(); len(ds) != 1 || len(ds[0].env.Recipients) != 3 {
		t.Errorf("deliveries %+v", ds)
	}
}

func TestPipelining(t *testing.T) {
	t.Parallel()
	ts := startServer(t, mxConfig(), Options{})
	c := dialRaw(t, ts.addr)
	c.greet()
	rcpt := "juan.perez@" + testDomain
	c.send("MAIL FROM:<a@externo.mx>\r\nRCPT TO:<" + rcpt + ">\r\nRCPT TO:<nadie@gmail.com>\r\nDATA\r\n")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("550 5.7.1 ")
	c.expect("354 ")
	// RFC 2920: after the end of data, the next group may follow at once.
	c.send(testMessage("uno", "primero") + ".\r\nRSET\r\nMAIL FROM:<b@externo.mx>\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\n")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send(testMessage("dos", "segundo") + ".\r\nQUIT\r\n")
	c.expect("250 ")
	c.expect("221 ")
	ds := ts.d.deliveries()
	if len(ds) != 2 || ds[0].env.MailFrom != "a@externo.mx" || ds[1].env.MailFrom != "b@externo.mx" {
		t.Fatalf("deliveries %+v", ds)
	}
	if !strings.Contains(string(ds[0].data), "primero") || strings.Contains(string(ds[0].data), "segundo") {
		t.Errorf("first message %q", ds[0].data)
	}
}

func TestSlowClientTimeout(t *testing.T) {
	t.Parallel()
	cfg := mxConfig()
	cfg.ReadTimeout = 300 * time.Millisecond
	cfg.DataTimeout = 1 * time.Second
	ts := startServer(t, cfg, Options{})

	t.Run("idle command", func(t *testing.T) {
		c := dialRaw(t, ts.addr)
		c.expect("220 ")
		c.send("EHL") // and then nothing
		start := time.Now()
		// textproto hands go-smtp the partial line at the timeout (501),
		// then the next read times out at once.
		r := c.rest()
		if len(r) == 0 || !strings.HasPrefix(r[len(r)-1], "421 4.4.2 ") {
			t.Errorf("replies %q, want 421 4.4.2 last", r)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("timeout after %v", d)
		}
	})
	t.Run("trickled data", func(t *testing.T) {
		c := dialRaw(t, ts.addr)
		c.greet()
		c.cmd("MAIL FROM:<a@externo.mx>", "250 ")
		c.cmd("RCPT TO:<juan.perez@"+testDomain+">", "250 ")
		c.cmd("DATA", "354 ")
		start := time.Now()
		// One byte every 100ms: less than 1 KiB per ReadTimeout.
		var got string
		for i := 0; i < 60; i++ {
			if _, err := c.conn.Write([]byte("x")); err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
			_ = c.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
			if b, err := c.r.Peek(1); err == nil && len(b) > 0 {
				break
			}
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		got = c.reply()
		if !strings.HasPrefix(got, "421 4.4.2 ") {
			t.Errorf("got %q, want 421 4.4.2", got)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("data timeout after %v", d)
		}
		if n := len(ts.d.deliveries()); n != 0 {
			t.Errorf("%d deliveries", n)
		}
	})
}

func TestCommandFlooding(t *testing.T) {
	t.Parallel()
	cfg := mxConfig()
	cfg.MaxCommands = 20
	cfg.MaxErrors = 5
	ts := startServer(t, cfg, Options{})

	t.Run("noop flood", func(t *testing.T) {
		c := dialRaw(t, ts.addr)
		c.expect("220 ")
		c.send(strings.Repeat("NOOP\r\n", 200))
		replies := c.rest()
		ok := 0
		for _, r := range replies {
			if strings.HasPrefix(r, "250 ") {
				ok++
			}
		}
		if ok > 20 || len(replies) == 0 || !strings.HasPrefix(replies[len(replies)-1], "421 4.7.0 ") {
			t.Errorf("%d replies, %d OK, last %q; want at most 20 OK then 421 4.7.0", len(replies), ok, replies[len(replies)-1])
		}
	})
	t.Run("error flood", func(t *testing.T) {
		c := dialRaw(t, ts.addr)
		c.greet()
		c.cmd("MAIL FROM:<a@externo.mx>", "250 ")
		for range 5 {
			c.cmd("RCPT TO:<x@gmail.com>", "550 5.7.1 ")
		}
		c.send("RCPT TO:<x@gmail.com>\r\n")
		c.expect("550 5.7.1 ")
		c.expect("421 4.7.0 ")
		if r := c.rest(); len(r) != 0 {
			t.Errorf("after 421: %q", r)
		}
	})
}

func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	cfg := mxConfig()
	cfg.MaxConnsPerIP = 2
	ts := startServer(t, cfg, Options{})
	a := dialRaw(t, ts.addr)
	a.expect("220 ")
	b := dialRaw(t, ts.addr)
	b.expect("220 ")
	c := dialRaw(t, ts.addr)
	c.expect("421 4.7.0 ")
	a.cmd("QUIT", "221 ")
	// The slot is released when the first connection is gone.
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := dialRaw(t, ts.addr)
		if r := d.reply(); strings.HasPrefix(r, "220 ") {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("slot not released: %q", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDelivererReplies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		reply func() Reply
		want  string
	}{
		{"accepted", Accepted, "250 2.0.0 "},
		{"temporary failure", TempFail, "451 4.3.0 Temporary failure, try again later"},
		{"temporary with details", func() Reply {
			return Reply{Code: 451, Text: "tempfail\r\n250 OK"}
		}, "451 4.3.0 tempfail  250 OK"},
		{"421 is not allowed", func() Reply { return Reply{Code: 421, Enhanced: [3]int{4, 4, 1}} }, "451 4.4.1 "},
		{"zero reply", func() Reply { return Reply{} }, "451 4.3.0 "},
		{"2xx other than 250", func() Reply { return Reply{Code: 251} }, "451 4.3.0 "},
		{"reject", func() Reply { return Reject(550, [3]int{5, 7, 1}, "Message rejected by policy") }, "550 5.7.1 Message rejected by policy"},
		{"reject bad enhanced", func() Reply { return Reject(554, [3]int{4, 1, 1}, "") }, "554 5.7.1 Message rejected"},
		{"reject odd code", func() Reply { return Reply{Code: 521, Enhanced: [3]int{5, 6, 0}} }, "554 5.6.0 "},
		{"panic", func() Reply { panic("disk on fire") }, "451 4.3.0 "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, mxConfig(), Options{})
			ts.d.Reply = func(Envelope, []byte) Reply { return tc.reply() }
			c := dialRaw(t, ts.addr)
			c.greet()
			c.cmd("MAIL FROM:<a@externo.mx>", "250 ")
			c.cmd("RCPT TO:<juan.perez@"+testDomain+">", "250 ")
			c.cmd("DATA", "354 ")
			c.send(testMessage("prueba", "hola") + ".\r\n")
			r := c.expect(tc.want)
			if !strings.HasPrefix(tc.want, "250") && strings.HasPrefix(r, "2") {
				t.Fatalf("got %q for a failure", r)
			}
			if strings.Contains(ts.logs.text(), "disk on fire") == (tc.name != "panic") {
				t.Errorf("panic detail logged: %v", tc.name == "panic")
			}
			if n := len(ts.d.deliveries()); n != 1 {
				t.Errorf("%d deliveries, want 1", n)
			}
			c.cmd("QUIT", "221 ")
		})
	}
}

func TestMXStartTLS(t *testing.T) {
	t.Parallel()
	srvTLS, cliTLS := testTLS(t)
	cfg := mxConfig()
	cfg.TLS = srvTLS
	ts := startServer(t, cfg, Options{})
	c, err := smtp.Dial(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Fatal("AUTH offered on MX")
	}
	if err := c.StartTLS(cliTLS); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered again inside TLS")
	}
	if err := c.Mail("a@externo.mx"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("juan.perez@" + testDomain); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(testMessage("cifrado", "por TLS"))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	ds := ts.d.deliveries()
	if len(ds) != 1 || ds[0].env.TLS == nil {
		t.Fatalf("deliveries %+v", ds)
	}
	if v := ds[0].env.TLS.Version; v < tls.VersionTLS12 {
		t.Errorf("TLS version %x", v)
	}
	if ds[0].env.TLS.CipherSuiteName() == "" || ds[0].env.TLS.VersionName() == "" {
		t.Error("TLS names empty")
	}
}

func TestMXRequireTLS(t *testing.T) {
	t.Parallel()
	srvTLS, _ := testTLS(t)
	cfg := mxConfig()
	cfg.TLS = srvTLS
	cfg.RequireTLS = true
	ts := startServer(t, cfg, Options{})
	c := dialRaw(t, ts.addr)
	c.greet()
	c.cmd("MAIL FROM:<a@externo.mx>", "530 5.7.0 ")
}

func TestContentRules(t *testing.T) {
	t.Parallel()
	rcpt := "juan.perez@" + testDomain
	send := func(t *testing.T, ts *testServer, mailArgs, data string) string {
		c := dialRaw(t, ts.addr)
		c.greet()
		c.cmd("MAIL FROM:<a@externo.mx>"+mailArgs, "250 ")
		c.cmd("RCPT TO:<"+rcpt+">", "250 ")
		c.cmd("DATA", "354 ")
		c.send(data + ".\r\n")
		return c.reply()
	}
	t.Run("8bit without 8BITMIME is flagged", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, mxConfig(), Options{})
		if r := send(t, ts, "", testMessage("acentos", "Atención: información pública")); !strings.HasPrefix(r, "250 ") {
			t.Fatal(r)
		}
		if r := send(t, ts, " BODY=8BITMIME", testMessage("acentos", "Atención")); !strings.HasPrefix(r, "250 ") {
			t.Fatal(r)
		}
		ds := ts.d.deliveries()
		if !ds[0].env.Flags.Has(Flag8BitWithout8BITMIME) || ds[1].env.Flags.Has(Flag8BitWithout8BITMIME) {
			t.Errorf("flags %b %b", ds[0].env.Flags, ds[1].env.Flags)
		}
		if ds[1].env.Body != "8BITMIME" {
			t.Errorf("body %q", ds[1].env.Body)
		}
	})
	t.Run("NUL is kept and flagged", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, mxConfig(), Options{})
		msg := testMessage("nulo", "antes\x00despues")
		if r := send(t, ts, "", msg); !strings.HasPrefix(r, "250 ") {
			t.Fatal(r)
		}
		ds := ts.d.deliveries()
		if !ds[0].env.Flags.Has(FlagNUL) || string(ds[0].data) != msg {
			t.Errorf("flags %b data %q", ds[0].env.Flags, ds[0].data)
		}
	})
	t.Run("NUL refused when configured", func(t *testing.T) {
		t.Parallel()
		cfg := mxConfig()
		cfg.RejectNUL = true
		ts := startServer(t, cfg, Options{})
		if r := send(t, ts, "", testMessage("nulo", "antes\x00despues")); !strings.HasPrefix(r, "554 5.6.0 ") {
			t.Fatal(r)
		}
		if n := len(ts.d.deliveries()); n != 0 {
			t.Errorf("%d deliveries", n)
		}
	})
	t.Run("long line", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, mxConfig(), Options{})
		r := send(t, ts, "", testMessage("larga", strings.Repeat("a", 9000)))
		if !strings.HasPrefix(r, "554 5.6.0 ") {
			t.Fatal(r)
		}
		if n := len(ts.d.deliveries()); n != 0 {
			t.Errorf("%d deliveries", n)
		}
	})
	t.Run("long command", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, mxConfig(), Options{})
		c := dialRaw(t, ts.addr)
		c.greet()
		c.send("MAIL FROM:<" + strings.Repeat("a", 9000) + "@externo.mx>\r\n")
		c.expect("500 5.4.0 ")
	})
	t.Run("long header", func(t *testing.T) {
		t.Parallel()
		cfg := mxConfig()
		cfg.MaxHeaderBytes = 2000
		ts := startServer(t, cfg, Options{})
		hdr := strings.Repeat("X-Relleno: "+strings.Repeat("h", 60)+"\r\n", 40)
		if r := send(t, ts, "", hdr+testMessage("cabecera", "hola")); !strings.HasPrefix(r, "552 5.3.4 ") {
			t.Fatal(r)
		}
		if n := len(ts.d.deliveries()); n != 0 {
			t.Errorf("%d deliveries", n)
		}
	})
	t.Run("no header body separator is flagged", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, mxConfig(), Options{})
		if r := send(t, ts, "", "Subject: solo cabecera\r\n"); !strings.HasPrefix(r, "250 ") {
			t.Fatal(r)
		}
		if ds := ts.d.deliveries(); !ds[0].env.Flags.Has(FlagNoHeaderBody) {
			t.Errorf("flags %b", ds[0].env.Flags)
		}
	})
}

func TestBDAT(t *testing.T) {
	t.Parallel()
	ts := startServer(t, mxConfig(), Options{})
	c := dialRaw(t, ts.addr)
	c.greet()
	c.cmd("MAIL FROM:<a@externo.mx>", "250 ")
	c.cmd("RCPT TO:<juan.perez@"+testDomain+">", "250 ")
	msg := testMessage("por partes", "cuerpo en dos fragmentos")
	half := len(msg) / 2
	c.send("BDAT " + strconv.Itoa(half) + "\r\n" + msg[:half])
	c.expect("250 ")
	c.send("BDAT " + strconv.Itoa(len(msg)-half) + " LAST\r\n" + msg[half:])
	c.expect("250 ")
	if ds := ts.d.deliveries(); len(ds) != 1 || string(ds[0].data) != msg {
		t.Fatalf("deliveries %+v", ds)
	}
	// A BDAT chunk with a bare LF is refused like DATA.
	c.cmd("MAIL FROM:<a@externo.mx>", "250 ")
	c.cmd("RCPT TO:<juan.perez@"+testDomain+">", "250 ")
	bad := "Subject: x\r\n\r\nuno\ndos\r\n"
	c.send("BDAT " + strconv.Itoa(len(bad)) + " LAST\r\n" + bad)
	c.expect("554 5.6.0 ")
	if n := len(ts.d.deliveries()); n != 1 {
		t.Errorf("%d deliveries", n)
	}
}
