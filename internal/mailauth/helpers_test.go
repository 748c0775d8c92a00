package mailauth

import (
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/dnstest"
)

// testTimeout is the DNS timeout in tests: short, because dnstest answers at once
// or, for names made to time out, never.
const testTimeout = 400 * time.Millisecond

// newTestChecker starts a DNS server for zone and returns a checker that uses it.
func newTestChecker(t *testing.T, zone dnstest.Zone, o Options) *Checker {
	t.Helper()
	srv := dnstest.StartT(t, zone)
	o.DNS = ResolverOptions{Server: srv.Addr, Timeout: testTimeout}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func crlf(s string) []byte {
	out := make([]byte, 0, len(s)+32)
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' && (i == 0 || s[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, s[i])
	}
	return out
}
