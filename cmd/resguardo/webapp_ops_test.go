package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/webapp"
)

// TestWebOps: the web application's dashboard and system sources over a real
// data directory with one imported message and a DKIM key.
func TestWebOps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	msg := filepath.Join(dir, "m.eml")
	os.WriteFile(msg, []byte("From: ana@ejemplo.gob.mx\r\nTo: beto@ejemplo.gob.mx\r\nSubject: hola\r\n\r\nhola\r\n"), 0o644)
	mustCLI(t, "import", "--data", data, msg)
	mustCLI(t, "dkim", "keygen", "--data", data, "--alg", "ed25519", "ejemplo.gob.mx")
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("[gateway]\ndomains = [\"ejemplo.gob.mx\"]\n"), 0o644)
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" },
		DataDir: data, ConfigPath: good}
	if err := m.setup(); err != nil {
		t.Fatal(err)
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ops := m.webOps(a)
	if ops.Engines != nil {
		t.Error("no antivirus engine is configured: the section must be hidden")
	}
	if !slices.Equal(ops.Domains, []string{"ejemplo.gob.mx"}) {
		t.Errorf("domains %v", ops.Domains)
	}
	now := time.Now()
	n, err := ops.Archived(ctx, []time.Time{now.Add(-time.Hour), now.Add(time.Hour)})
	if err != nil || n[0] != 1 {
		t.Fatalf("archived %v %v", n, err)
	}
	st, err := ops.Status(ctx)
	if err != nil || st.LedgerSize != 1 || st.LedgerPending != 0 || st.IndexLag != 0 || st.Quarantined != 0 || st.CheckpointAt.IsZero() {
		t.Fatalf("status %+v %v", st, err)
	}
	ks, err := ops.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]webapp.Key{}
	for _, k := range ks {
		roles[k.Role] = k
	}
	if roles["ledger"].Public == "" || roles["master_current"].ID == "" || roles["dkim"].ID != "resguardo._domainkey.ejemplo.gob.mx" || len(roles["dkim"].Fingerprint) != 64 {
		t.Fatalf("keys %+v", ks)
	}
	for _, k := range ks {
		if strings.Contains(k.Public+k.Fingerprint+k.ID, "PRIVATE") {
			t.Fatalf("key material: %+v", k)
		}
	}
	if c, _ := ops.ConfigCheck(ctx); c.File != good || len(c.Problems) != 0 {
		t.Fatalf("good config: %+v", c)
	}
	os.WriteFile(good, []byte("[server]\nlisten = \"nada\"\n"), 0o644) // the file is read again at each check
	if c, _ := ops.ConfigCheck(ctx); len(c.Problems) != 1 || !strings.Contains(c.Problems[0], "good.toml:2: server.listen") {
		t.Fatalf("bad config: %+v", c)
	}
	es, err := ops.AccessLog(ctx, catalog.AccessFilter{})
	if err != nil || len(es) != 0 {
		t.Fatalf("access log %v %v", es, err)
	}
}
