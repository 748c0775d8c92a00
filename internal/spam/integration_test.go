package spam

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/spam/spamtest"
)

// gtube is the Generic Test for Unsolicited Bulk Email: every engine must
// call a message holding it spam.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

func testMessages() (spamMsg, hamMsg []byte) {
	spamMsg = []byte("From: Ofertas <ofertas@promo.example.com>\r\n" +
		"To: mesa.de.partes@ayuntamiento.example.org\r\n" +
		"Subject: Test spam mail (GTUBE)\r\n" +
		"Date: Mon, 2 Mar 2026 10:00:00 +0100\r\n" +
		"Message-ID: <gtube-1@promo.example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" +
		"This is the GTUBE, the\r\n\tGeneric\r\n\tTest for\r\n\tUnsolicited\r\n\tBulk\r\n\tEmail\r\n\r\n" +
		gtube + "\r\n")
	hamMsg = []byte("From: Secretaria General <secretaria@ayuntamiento.example.org>\r\n" +
		"To: archivo@ayuntamiento.example.org\r\n" +
		"Subject: Remision del acta de la sesion ordinaria\r\n" +
		"Date: Mon, 2 Mar 2026 10:00:00 +0100\r\n" +
		"Message-ID: <acta-2026-03@ayuntamiento.example.org>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Buenos dias:\r\n\r\nSe remite el acta de la sesion ordinaria del pleno para su archivo.\r\n\r\n" +
		"Atentamente,\r\nSecretaria General\r\n")
	return
}

// TestSpamdIntegration runs the adapter against a real spamd.
func TestSpamdIntegration(t *testing.T) {
	addr := spamtest.StartSpamd(t)
	c := &Spamd{Addr: addr, Timeout: 30 * time.Second}
	spamMsg, hamMsg := testMessages()
	ctx := context.Background()

	res, err := c.Score(ctx, spamMsg, Hints{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GTUBE: %+v", res)
	if !res.Spam || res.Score < 100 || res.Threshold != 5 || !contains(res.Symbols, "GTUBE") {
		t.Errorf("GTUBE: %+v", res)
	}
	res, err = c.Score(ctx, hamMsg, Hints{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ham: %+v", res)
	if res.Spam {
		t.Errorf("ham: %+v", res)
	}
	// A deadline that cannot be met is an error, not a verdict.
	tctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	time.Sleep(2 * time.Millisecond)
	if _, err := c.Score(tctx, hamMsg, Hints{}); err == nil {
		t.Error("expired context: no error")
	}
}

// TestRspamdIntegration runs the adapter against a real rspamd.
func TestRspamdIntegration(t *testing.T) {
	base := spamtest.StartRspamd(t)
	c := &Rspamd{URL: base, Timeout: 30 * time.Second}
	spamMsg, hamMsg := testMessages()
	ctx := context.Background()
	h := Hints{Envelope: Envelope{MailFrom: "ofertas@promo.example.com", Rcpt: []string{"mesa.de.partes@ayuntamiento.example.org"},
		IP: "192.0.2.10", Helo: "mail.promo.example.com"}}

	res, err := c.Score(ctx, spamMsg, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GTUBE: %+v", res)
	if !res.Spam || res.Score < res.Threshold || !contains(res.Symbols, "GTUBE") {
		t.Errorf("GTUBE: %+v", res)
	}
	res, err = c.Score(ctx, hamMsg, Hints{Envelope: Envelope{MailFrom: "secretaria@ayuntamiento.example.org",
		Rcpt: []string{"archivo@ayuntamiento.example.org"}, IP: "192.0.2.20", Helo: "mx.ayuntamiento.example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ham: %+v", res)
	if res.Spam {
		t.Errorf("ham: %+v", res)
	}
	tctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	time.Sleep(2 * time.Millisecond)
	if _, err := c.Score(tctx, hamMsg, Hints{}); err == nil {
		t.Error("expired context: no error")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s || strings.HasPrefix(x, s+"(") {
			return true
		}
	}
	return false
}
