package relay

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("policy host unreachable")
}

// A fetched MTA-STS policy survives a restart until its max_age (RFC 8461
// §5.1): with the policy host unreachable after the restart, the relay still
// enforces it; an expired or damaged cache is not used.
func TestMTASTSCacheSurvivesRestart(t *testing.T) {
	e := newEnv(t, nil, `_mta-sts.destino.mx. TXT "v=STSv1; id=20240312"`)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "mta-sts-cache.json")
	base := e.r.c
	base.MTASTSCache = file
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	base.Now = func() time.Time { return now }

	c := base
	c.HTTPClient = &http.Client{Transport: policyServer("version: STSv1\nmode: enforce\nmx: mx.destino.mx\nmax_age: 86400\n")}
	if p, err := newSTSCache(c).get(ctx, "destino.mx"); err != nil || p == nil || p.mode != "enforce" {
		t.Fatalf("first fetch: %+v %v", p, err)
	}
	b, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(b), stsCacheFormat) || !strings.Contains(string(b), "mx.destino.mx") {
		t.Fatalf("cache file: %s %v", b, err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v", st.Mode().Perm())
	}

	restarted := base
	restarted.HTTPClient = &http.Client{Transport: failingTransport{}}
	p, err := newSTSCache(restarted).get(ctx, "destino.mx")
	if err != nil || p == nil || p.mode != "enforce" || !p.matches("mx.destino.mx") {
		t.Fatalf("after a restart with the policy host down: %+v %v (the cached policy must still apply)", p, err)
	}

	later := restarted
	later.Now = func() time.Time { return now.Add(25 * time.Hour) }
	if p, err := newSTSCache(later).get(ctx, "destino.mx"); p != nil || err == nil {
		t.Fatalf("expired policy used: %+v %v", p, err)
	}

	if err := os.WriteFile(file, []byte("{no es json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, _ := newSTSCache(restarted).get(ctx, "destino.mx"); p != nil {
		t.Fatalf("a damaged cache file gave a policy: %+v", p)
	}
}
