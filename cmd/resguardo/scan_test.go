package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/scan"
	"github.com/resguardo/resguardo/internal/scan/scantest"
)

// TestScanAndEngines: `resguardo scan` runs every configured engine (two real clamd
// instances and one that is down) on files and directories, and `resguardo engines`
// reports each engine's state; exit statuses say found / engine failed / clean.
func TestScanAndEngines(t *testing.T) {
	t.Parallel()
	a := scantest.StartClamd(t, map[string]string{"a.hdb": scantest.EICARHash})
	b := scantest.StartClamd(t, map[string]string{"b.ndb": "Resguardo.Prueba.NDB:0:*:" + hex.EncodeToString([]byte("FIRMA-DE-PRUEBA-RESGUARDO")) + "\n"})
	dir := t.TempDir()
	cfgFor := func(extra string) string {
		p := filepath.Join(dir, fmt.Sprintf("r%d.toml", len(extra)))
		os.WriteFile(p, []byte(fmt.Sprintf("[[gateway.antivirus]]\nname = \"clamav-a\"\ntype = \"clamd\"\naddress = \"unix:%s\"\n"+
			"[[gateway.antivirus]]\nname = \"clamav-b\"\ntype = \"clamd\"\naddress = \"unix:%s\"\n%s", a.Address, b.Address, extra)), 0o644)
		return p
	}
	files := filepath.Join(dir, "archivos")
	os.MkdirAll(filepath.Join(files, "sub"), 0o755)
	os.WriteFile(filepath.Join(files, "oficio.txt"), []byte("Se remite el oficio SF/0400/2026."), 0o644)
	os.WriteFile(filepath.Join(files, "sub", "eicar.com"), []byte(scantest.EICAR), 0o644)
	os.WriteFile(filepath.Join(files, "sub", "firma.txt"), []byte("texto FIRMA-DE-PRUEBA-RESGUARDO"), 0o644)

	cfg := cfgFor("")
	out, _, code := cli(t, "scan", "--config", cfg, "--json", files)
	if code != 1 {
		t.Fatalf("scan of infected files: exit %d\n%s", code, out)
	}
	got := map[string]scanLine{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var sl scanLine
		if err := json.Unmarshal([]byte(l), &sl); err != nil {
			t.Fatal(err)
		}
		got[filepath.Base(sl.Path)] = sl
	}
	if got["oficio.txt"].Verdict != scan.Clean || got["eicar.com"].Verdict != scan.Infected || got["firma.txt"].Verdict != scan.Infected ||
		got["eicar.com"].Results[0].Verdict != scan.Infected || got["eicar.com"].Results[1].Verdict != scan.Clean ||
		got["firma.txt"].Results[1].Engine != "clamav-b" || !strings.HasPrefix(got["firma.txt"].Results[1].Threat, "Resguardo.Prueba.NDB") {
		t.Fatalf("scan results: %+v", got)
	}
	if _, _, code := cli(t, "scan", "--config", cfg, filepath.Join(files, "oficio.txt")); code != 0 {
		t.Fatalf("clean file: exit %d", code)
	}
	out = mustCLI(t, "engines", "--config", cfg)
	if strings.Count(out, " up ") != 2 || !strings.Contains(out, "ClamAV") {
		t.Fatalf("engines:\n%s", out)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	down := l.Addr().String()
	l.Close()
	cfgDown := cfgFor(fmt.Sprintf("[[gateway.antivirus]]\nname = \"caido\"\ntype = \"clamd\"\naddress = \"tcp:%s\"\n", down))
	if _, _, code := cli(t, "scan", "--config", cfgDown, filepath.Join(files, "oficio.txt")); code != 3 {
		t.Fatalf("an engine down: exit %d, want 3", code)
	}
	if out, _, code := cli(t, "engines", "--config", cfgDown); code != 3 || !strings.Contains(out, "DOWN") {
		t.Fatalf("engines with one down: exit %d\n%s", code, out)
	}
	// YARA through the yara tool, as a command engine, next to clamd.
	yara := corpustest.Program(t, "yara", "yara")
	rules := filepath.Join(dir, "reglas.yar")
	os.WriteFile(rules, []byte(`rule Oficio_Apocrifo { strings: $a = "SELLO-APOCRIFO-SEFIN" condition: $a }`+"\n"), 0o644)
	os.WriteFile(filepath.Join(files, "apocrifo.txt"), []byte("Oficio con SELLO-APOCRIFO-SEFIN al pie."), 0o644)
	cfgYara := cfgFor(fmt.Sprintf("[[gateway.antivirus]]\nname = \"yara\"\ntype = \"command\"\ncommand = [%q, %q, \"{file}\"]\ninfected_pattern = '(?m)^(\\w+) '\n", yara, rules))
	out, _, code = cli(t, "scan", "--config", cfgYara, "--json", filepath.Join(files, "apocrifo.txt"))
	var sl scanLine
	json.Unmarshal([]byte(out), &sl)
	if code != 1 || len(sl.Results) != 3 || sl.Results[2].Engine != "yara" || sl.Results[2].Verdict != scan.Infected || sl.Results[2].Threat != "Oficio_Apocrifo" ||
		sl.Results[0].Verdict != scan.Clean {
		t.Fatalf("yara engine: exit %d %+v", code, sl)
	}
	if out := mustCLI(t, "engines", "--config", cfgYara); strings.Count(out, " up ") != 3 {
		t.Fatalf("engines with yara:\n%s", out)
	}
	if _, errOut, code := cli(t, "scan", filepath.Join(files, "oficio.txt")); code != 2 || !strings.Contains(errOut, "[[gateway.antivirus]]") {
		t.Fatalf("no engines configured: exit %d %s", code, errOut)
	}
}
