package mailauth

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/dnstest"
)

func TestCheck(t *testing.T) {
	rsaKey, _, records := testKeys(t)
	records = append(records, dnstest.MustParse(
		`example.org. TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`_dmarc.example.org. TXT "v=DMARC1; p=reject"`,
		`2.0.0.127.bl.example. A 127.0.0.2`,
	)...)
	c := newTestChecker(t, dnstest.Zone{Records: records}, Options{
		DNSBL: DNSBLOptions{IPZones: []string{"bl.example"}},
		Allow: []string{"192.0.2.0/24"},
	})
	signed, err := Sign(crlf(testMessage), "example.org", "rsa", rsaKey.Signer)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("authenticated", func(t *testing.T) {
		res := c.Check(context.Background(), Input{IP: net.ParseIP("192.0.2.25"), Helo: "mx.example.org", MailFrom: "<ana@example.org>", Message: signed})
		if res.SPF.Result != SPFPass || len(res.DKIM) != 1 || res.DKIM[0].Result != DKIMPass ||
			res.DMARC.Result != DMARCPass || !res.DMARC.SPFAligned || !res.DMARC.DKIMAligned ||
			res.List.Verdict != ListAllow || len(res.DNSBL) != 1 || res.DNSBL[0].Listed {
			t.Errorf("got %+v", res)
		}
		// The record keeps it as JSON; the field names are the documented ones.
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		var back Result
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.DMARC != res.DMARC || back.SPF != res.SPF || back.DKIM[0] != res.DKIM[0] {
			t.Errorf("JSON round trip changed the result: %s", b)
		}
		for _, key := range []string{`"spf":{"result":"pass"`, `"dkim":[{"result":"pass"`, `"dmarc":{"result":"pass"`, `"disposition":"none"`} {
			if !strings.Contains(string(b), key) {
				t.Errorf("JSON lacks %s: %s", key, b)
			}
		}
	})

	t.Run("spoofed", func(t *testing.T) {
		res := c.Check(context.Background(), Input{IP: net.ParseIP("127.0.0.2"), Helo: "x", MailFrom: "ana@example.org", Message: crlf(testMessage)})
		if res.SPF.Result != SPFFail || res.DKIM != nil || res.DMARC.Result != DMARCFail ||
			res.DMARC.Disposition != DispositionReject || !res.DNSBL[0].Listed || res.List.Verdict != ListNone {
			t.Errorf("got %+v", res)
		}
		ar := AuthenticationResults("mx.test", res)
		for _, want := range []string{"spf=fail smtp.mailfrom=ana@example.org", "dkim=none", "dmarc=fail (p=reject dis=reject) header.from=example.org"} {
			if !strings.Contains(ar, want) {
				t.Errorf("Authentication-Results lacks %q:\n%s", want, ar)
			}
		}
	})
}
