package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/search"
	"github.com/resguardo/resguardo/internal/search/query"
	"github.com/resguardo/resguardo/internal/webapp"
)

// TestWebExport: the web application's export over a real archive is the
// package of `resguardo export` — the listed ids only, their constancias
// verifiable with the files shipped with it, a seal signed by the
// institution — and its access entry names every id and the manifest.
func TestWebExport(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustCLI(t, "import", "--data", data, "testdata/es")
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }, DataDir: data}
	if err := m.setup(); err != nil {
		t.Fatal(err)
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	idx, err := search.OpenBleveReadOnly(archive.Layout{Dir: a.Dir()}.Index(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	n, _ := query.Parse("tiene:adjunto")
	var ids []string
	if err := idx.Scan(ctx, search.Request{Query: n}, func(h search.Hit) error { ids = append(ids, h.ID); return nil }); err != nil || len(ids) != 3 {
		t.Fatalf("ids %v %v", ids, err)
	}
	zipPath := filepath.Join(dir, "web.zip")
	res, err := m.webExport(a)(ctx, zipPath, ids, webapp.ExportRequest{Query: "has:attachment", Actor: "user:olga", Justification: "Auditoría 12/2026 de contratos"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 3 || res.Pending != 0 || !slices.Equal(res.IDs, ids) {
		t.Fatalf("result %+v", res)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := filepath.Join(dir, "x")
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		p := filepath.Join(out, f.Name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o644)
	}
	if o, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(out, "sello.p7s"),
		"-content", filepath.Join(out, "sello.json"), "-CAfile", filepath.Join(out, "certificados", "ca-institucion.pem"), "-out", os.DevNull).CombinedOutput(); err != nil {
		t.Fatalf("seal signature: %v %s", err, o)
	}
	var manifest []exportEntry
	mb, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err := json.Unmarshal(mb, &manifest); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, e := range manifest {
		listed = append(listed, e.ID)
		res := mustCLI(t, "verify", filepath.Join(out, e.File), filepath.Join(out, e.Constancia), "--log-key",
			filepath.Join(out, "certificados", "ledger.pub"), "--tsa-ca", filepath.Join(out, "certificados", "ca-sello-de-tiempo-1.pem"))
		if !strings.Contains(res, "VERIF") {
			t.Fatalf("exported constancia:\n%s", res)
		}
	}
	if !slices.Equal(listed, ids) {
		t.Fatalf("manifest %v, want %v", listed, ids)
	}
	es, err := a.Cat.AccessEntries(ctx, catalog.AccessFilter{Action: "export"})
	if err != nil || len(es) != 1 {
		t.Fatalf("access log %v %v", es, err)
	}
	var d archive.AccessDetail
	json.Unmarshal(es[0].Detail, &d)
	if d.Actor != "user:olga" || d.Manifest != res.Manifest || !slices.Equal(d.Records, ids) || d.Justification == "" || d.Results != 3 {
		t.Fatalf("access entry %+v", d)
	}
}
