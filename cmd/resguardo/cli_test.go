package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/ledger"
)

func idOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestSpanishFixtures imports the institutional fixtures and checks their metadata
// against golden files, byte-exact round trips, and the mbox unquoting.
func TestSpanishFixtures(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	out := mustCLI(t, "import", "--data", data, "--json", "testdata/es")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum importSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Archived != 5 || sum.Malformed != 1 || sum.Failed != 0 || sum.LedgerSize != 5 {
		t.Fatalf("summary %+v", sum)
	}
	for _, f := range []string{"oficio-licitacion", "respuesta-solicitud", "mensaje-danado"} {
		id := idOf(t, filepath.Join("testdata", "es", f+".eml"))
		show := mustCLI(t, "show", "--data", data, id[:8])
		checkGolden(t, filepath.Join("testdata", "golden", "es-"+f+".json"), normalizeShow(t, show))
		raw, _ := os.ReadFile(filepath.Join("testdata", "es", f+".eml"))
		if got := mustCLI(t, "cat", "--data", data, id); got != string(raw) {
			t.Errorf("%s: cat is not byte-exact", f)
		}
	}
	// The mbox messages come out without the From_ line and unquoted one level (mboxrd).
	var found bool
	for _, l := range lines {
		var ev importEvent
		json.Unmarshal([]byte(l), &ev)
		if ev.Event == "archived" && strings.Contains(ev.Source, "transferencias.mbox:0") {
			found = true
			body := mustCLI(t, "cat", "--data", data, ev.ID)
			if !strings.HasPrefix(body, "From: =?UTF-8?Q?Mar") || !strings.Contains(body, "\nFrom the archive's point of view") ||
				!strings.Contains(body, "\n>From this one twice.") || strings.HasSuffix(body, "\n\n") {
				t.Errorf("mbox message not unquoted as mboxrd:\n%s", body)
			}
		}
	}
	if !found {
		t.Errorf("no record from transferencias.mbox offset 0 in %s", out)
	}
	// list shows the Spanish subjects, newest first.
	list := mustCLI(t, "list", "--data", data)
	if !strings.Contains(list, "Licitación pública LPN-014/2024") || strings.Index(list, "RE: Solicitud") > strings.Index(list, "Licitación") {
		t.Errorf("list:\n%s", list)
	}
	if mal := mustCLI(t, "list", "--data", data, "--malformed", "--json"); strings.Count(mal, "\n") != 1 || !strings.Contains(mal, "Escaneo de oficio") {
		t.Errorf("list --malformed:\n%s", mal)
	}
}

// TestLedgerProveVerifiesIndependently checks `ledger prove --json` with x/mod's tlog
// and note directly, as an outside verifier would.
func TestLedgerProveVerifiesIndependently(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	mustCLI(t, "import", "--data", data, "testdata/es")
	id := idOf(t, filepath.Join("testdata", "es", "oficio-licitacion.eml"))
	var pr ledgerProof
	if err := json.Unmarshal([]byte(mustCLI(t, "ledger", "prove", "--data", data, "--json", id[:8])), &pr); err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(pr.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(pr.Checkpoint), note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ledger.ParseCheckpointBody(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	var proof tlog.RecordProof
	for _, h := range pr.Proof {
		hh, err := tlog.ParseHash(h)
		if err != nil {
			t.Fatal(err)
		}
		proof = append(proof, hh)
	}
	if err := tlog.CheckRecord(proof, cp.Size, cp.Root, pr.Index, tlog.RecordHash([]byte(pr.Entry))); err != nil {
		t.Fatal(err)
	}
	e, err := ledger.ParseRecordEntry([]byte(pr.Entry))
	if err != nil || e.SHA256 != id {
		t.Fatalf("entry %+v %v", e, err)
	}
	status := mustCLI(t, "ledger", "status", "--data", data)
	if !strings.Contains(status, "size:        5") {
		t.Errorf("status:\n%s", status)
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	mustCLI(t, "import", "--data", data, "testdata/es/mensaje-danado.eml")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"show", "--data", data, "xyz"}, 2, "8 to 64 hex digits"},
		{[]string{"show", "--data", data, "0000000000"}, 1, "no such record"},
		{[]string{"cat", "--data", data}, 2, "usage"},
		{[]string{"import", "--data", data}, 2, "at least one"},
		{[]string{"import", "--data", data, "/no/such/path"}, 2, "no such file"},
		{[]string{"list", "--data", data, "--after", "ayer"}, 2, "YYYY-MM-DD"},
		{[]string{"list", "--data", filepath.Join(t.TempDir(), "empty")}, 1, "not initialised"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"ledger", "--data", data}, 2, "usage"},
		{[]string{"config"}, 2, "usage"},
	}
	for _, tc := range cases {
		_, errOut, code := cli(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("[archive]\norigin = \"correo.ejemplo.gob.mx/resguardo\"\n"), 0o644)
	if out := mustCLI(t, "config", "check", "--config", good); !strings.Contains(out, "valid") {
		t.Errorf("good config: %s", out)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("data = \"x\"\n[server]\nlisten = \"nada\"\n[log]\nlevel = \"ruidoso\"\nsabor = 1\n"), 0o644)
	out, _, code := cli(t, "config", "check", "--config", bad)
	if code != 1 || !strings.Contains(out, "bad.toml:3: server.listen") || !strings.Contains(out, "bad.toml:5: log.level") || !strings.Contains(out, "bad.toml:6: log.sabor: unknown setting") {
		t.Errorf("bad config: exit %d\n%s", code, out)
	}
}

// freePort returns a loopback address that was free a moment ago and that no
// other call in this test process has returned (the kernel may hand a just-closed
// port out again, and tests ask for several at once).
func freePort(t *testing.T) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if !portsGiven[addr] {
			portsGiven[addr] = true
			return addr
		}
	}
}

var (
	portsMu    sync.Mutex
	portsGiven = map[string]bool{}
)

// TestServe starts the service on a fresh data directory, as the README's first
// command does, and checks the status page and /healthz; a second start reuses it.
func TestServe(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	for run := 0; run < 2; run++ {
		addr := freePort(t)
		ctx, cancel := context.WithCancel(context.Background())
		var stderr strings.Builder
		done := make(chan error, 1)
		go func() {
			m := &Main{Stdout: io.Discard, Stderr: &syncWriter{w: &stderr}, Getenv: func(string) string { return "" }}
			done <- m.Run(ctx, []string{"serve", "--data", data, "--listen", addr})
		}()
		var resp *http.Response
		var err error
		for i := 0; i < 100; i++ {
			if resp, err = http.Get("http://" + addr + "/healthz"); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"ok"`) {
			t.Fatalf("healthz: %d %s", resp.StatusCode, b)
		}
		resp, err = http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), "Estado del archivo de correo") || resp.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("status page:\n%s", page)
		}
		resp, _ = http.Get("http://" + addr + "/?lang=en")
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), "Mail archive status") {
			t.Fatalf("English status page:\n%s", page)
		}
		// While serving, the data directory is locked for other writers; an
		// import goes through serve's socket instead.
		if _, err := archive.AcquireLock(data, "test"); !errors.Is(err, archive.ErrLocked) {
			t.Errorf("writer lock while serving: %v", err)
		}
		if _, errOut, code := cli(t, "import", "--data", data, "testdata/es"); code != 0 || !strings.Contains(errOut, "through serve") {
			t.Errorf("import during serve: exit %d %s", code, errOut)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v", err)
		}
		created := strings.Contains(stderr.String(), "creado en")
		if (run == 0) != created {
			t.Fatalf("run %d: created=%v\n%s", run, created, stderr.String())
		}
	}
	mustCLI(t, "fsck", "--data", data)
}

func TestKeysShowNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	mustCLI(t, "init", "--data", data)
	out := mustCLI(t, "keys", "show", "--data", data)
	for _, want := range []string{"master key", "current", "ledger signing key", "built-in TSA CA", "certification signer", "SHA-256"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys show lacks %q:\n%s", want, out)
		}
	}
	secrets, _ := filepath.Glob(filepath.Join(data, "keys", "master", "*.key"))
	more, _ := filepath.Glob(filepath.Join(data, "keys", "*", "*.key"))
	secrets = append(append(secrets, more...), filepath.Join(data, "keys", "blobname.key"), filepath.Join(data, "keys", "ledger.key"))
	for _, f := range secrets {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			if len(line) > 20 && !strings.HasPrefix(line, "-----") && strings.Contains(out, line) {
				t.Fatalf("keys show printed secret material from %s", f)
			}
		}
	}
}
