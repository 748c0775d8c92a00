package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/resguardo/resguardo/internal/corpustest"
)

func searchJSON(t *testing.T, data string, q ...string) searchOutput {
	t.Helper()
	out := mustCLI(t, append([]string{"search", "--data", data, "--json", "--limit", "5"}, q...)...)
	var s searchOutput
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return s
}

// TestSearchCorpusCounts imports a real mailing-list sample and checks query counts
// against counts computed independently here with net/mail and mime.
func TestSearchCorpusCounts(t *testing.T) {
	t.Parallel()
	dir := corpustest.Path(t, "real", "linux-mips", "sample")
	data := filepath.Join(t.TempDir(), "data")
	mustCLI(t, "import", "--data", data, "--progress", "never", dir)
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	dec := mime.WordDecoder{}
	domains := map[string]int{}
	years := map[int]int{}
	subjWord := map[string]int{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		m, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			continue
		}
		if a, err := mail.ParseAddress(m.Header.Get("From")); err == nil {
			if i := strings.LastIndex(a.Address, "@"); i > 0 {
				domains[strings.ToLower(a.Address[i+1:])]++
			}
		}
		if d, err := mail.ParseDate(m.Header.Get("Date")); err == nil {
			years[d.UTC().Year()]++
		}
		subj, err := dec.DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			continue
		}
		seen := map[string]bool{}
		for _, w := range strings.FieldsFunc(strings.ToLower(subj), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if !seen[w] {
				seen[w] = true
				subjWord[w]++
			}
		}
	}
	best, bestN := "", 0
	for d, n := range domains {
		if n > bestN {
			best, bestN = d, n
		}
	}
	cases := []struct {
		q    string
		want int
	}{
		{"from:@" + best, bestN},
		{"year:2005", years[2005]},
		{"year:2014", years[2014]},
		{"subject:kernel", subjWord["kernel"]},
		{"subject:irq", subjWord["irq"]},
		{"*", len(files)},
	}
	for _, tc := range cases {
		if got := searchJSON(t, data, tc.q); int(got.Total) != tc.want {
			t.Errorf("%q: %d results, independent count %d", tc.q, got.Total, tc.want)
		}
	}
}

// TestSearchAndExportSpanish: Spanish analysis through the CLI, a syntax error with
// its position, the access ledger, and an export that round-trips byte-exact with a
// manifest whose signature and hashes verify.
func TestSearchAndExportSpanish(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustCLI(t, "import", "--data", data, "testdata/es")
	for q, want := range map[string]uint64{
		"licitacion":                   1, // accent folding
		"contratos OR solicitudes":     1, // stemming: "solicitud"
		"de:@finanzas.ejemplo.gob.mx":  3, // the oficio and both mbox messages
		"tiene:adjunto":                3,
		"adjunto:pdf":                  1,
		`asunto:"solicitud de acceso"`: 1,
		"attachment:folio":             1, // text inside the forwarded message
		"-is:malformed":                4,
	} {
		if got := searchJSON(t, data, q); got.Total != want {
			t.Errorf("%q: %d results, want %d", q, got.Total, want)
		}
	}
	_, errOut, code := cli(t, "search", "--data", data, "--lang", "es", `subject:"sin cerrar`)
	if code != 2 || !strings.Contains(errOut, "^") {
		t.Fatalf("syntax error: exit %d %s", code, errOut)
	}
	before := mustCLI(t, "ledger", "status", "--data", data, "--json")
	zipPath := filepath.Join(dir, "exportacion.zip")
	mustCLI(t, "export", "--data", data, "--query", "de:@finanzas.ejemplo.gob.mx OR tiene:adjunto", "--out", zipPath)
	after := mustCLI(t, "ledger", "status", "--data", data, "--json")
	var b1, b2 ledgerStatus
	json.Unmarshal([]byte(before), &b1)
	json.Unmarshal([]byte(after), &b2)
	if b2.Size != b1.Size+1 {
		t.Fatalf("export did not add an access entry: %d → %d", b1.Size, b2.Size)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := filepath.Join(dir, "x")
	msgs := 0
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		p := filepath.Join(out, f.Name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o644)
		if strings.HasPrefix(f.Name, "mensajes/") {
			msgs++
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:])+".eml" != filepath.Base(f.Name) {
				t.Fatalf("%s is not byte-exact", f.Name)
			}
		}
	}
	if msgs != 5 {
		t.Fatalf("%d messages exported, want 5", msgs)
	}
	if o, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(out, "sello.p7s"),
		"-content", filepath.Join(out, "sello.json"), "-CAfile", filepath.Join(out, "certificados", "ca-institucion.pem"), "-out", os.DevNull).CombinedOutput(); err != nil {
		t.Fatalf("seal signature: %v %s", err, o)
	}
	var seal exportSeal
	sb, _ := os.ReadFile(filepath.Join(out, "sello.json"))
	json.Unmarshal(sb, &seal)
	for name, want := range map[string]string{"manifest.json": seal.ManifestJSON, "manifest.csv": seal.ManifestCSV} {
		b, _ := os.ReadFile(filepath.Join(out, name))
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != want || seal.Count != 5 {
			t.Fatalf("%s does not match the seal (%+v)", name, seal)
		}
	}
	var manifest []exportEntry
	mb, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err := json.Unmarshal(mb, &manifest); err != nil || len(manifest) != 5 {
		t.Fatalf("manifest: %v %d", err, len(manifest))
	}
	// A constancia inside the export verifies with the certificates shipped with it.
	for _, e := range manifest {
		if e.Constancia == "" {
			t.Fatalf("%s exported without its constancia", e.ID)
		}
		res := mustCLI(t, "verify", filepath.Join(out, e.File), filepath.Join(out, e.Constancia), "--log-key",
			filepath.Join(out, "certificados", "ledger.pub"), "--tsa-ca", filepath.Join(out, "certificados", "ca-sello-de-tiempo-1.pem"))
		if !strings.Contains(res, "VERIF") {
			t.Fatalf("exported constancia:\n%s", res)
		}
	}
	// mbox export: mboxrd that our own importer reads back to the same bytes.
	mbox := filepath.Join(dir, "exportacion.mbox")
	mustCLI(t, "export", "--data", data, "--query", "*", "--format", "mbox", "--out", mbox)
	data2 := filepath.Join(dir, "data2")
	out2 := mustCLI(t, "import", "--data", data2, "--json", mbox)
	lines := strings.Split(strings.TrimSpace(out2), "\n")
	var sum importSummary
	json.Unmarshal([]byte(lines[len(lines)-1]), &sum)
	if sum.Archived != 5 {
		t.Fatalf("mbox round trip archived %d, want 5", sum.Archived)
	}
	for _, l := range lines[:len(lines)-1] {
		var ev importEvent
		json.Unmarshal([]byte(l), &ev)
		if _, _, code := cli(t, "show", "--data", data, ev.ID); code != 0 {
			t.Fatalf("mbox round trip changed message %s", ev.ID)
		}
	}
}

func TestIndexDue(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		busy    bool
		maxLag  time.Duration
		pending int64
		age     time.Duration
		want    bool
	}{
		{"quiet gateway indexes", false, time.Minute, 10, time.Second, true},
		{"quiet with nothing pending still runs (cheap no-op)", false, time.Minute, 0, 0, true},
		{"busy, young backlog waits", true, time.Minute, 500, 30 * time.Second, false},
		{"busy, backlog older than max_lag indexes", true, time.Minute, 500, 61 * time.Second, true},
		{"busy, exactly max_lag indexes", true, time.Minute, 1, time.Minute, true},
		{"max_lag 0 always indexes", true, 0, 500, time.Millisecond, true},
		{"busy, nothing pending", true, time.Minute, 0, 0, false},
	} {
		if got := indexDue(c.busy, c.maxLag, c.pending, now.Add(-c.age), now); got != c.want {
			t.Errorf("%s: indexDue = %v, want %v", c.name, got, c.want)
		}
	}
}
