package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/resguardo/resguardo/internal/corpustest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// indexedMessage is a row of a corpus index.tsv / INDEX.tsv: the ground truth for
// byte-exact round trips.
type indexedMessage struct {
	path   string
	sha256 string
	size   string
}

// corpusIndex reads every index of the real-mail sets (unpacked and packed).
func corpusIndex(t testing.TB, corpus, unpacked string) []indexedMessage {
	t.Helper()
	var out []indexedMessage
	for _, root := range []string{filepath.Join(corpus, "real"), filepath.Join(unpacked, "real")} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || (d.Name() != "index.tsv" && d.Name() != "INDEX.tsv" && d.Name() != "MANIFEST.tsv") {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				cols := strings.Split(sc.Text(), "\t")
				if len(cols) < 3 || strings.HasPrefix(cols[0], "#") || len(cols[2]) != 64 {
					continue
				}
				file := filepath.Join(filepath.Dir(path), cols[0])
				if _, err := os.Stat(file); err != nil && !strings.HasPrefix(root, unpacked) {
					// A packed set's manifest: its files were unpacked into
					// unpacked/<set dir>/<archive name>/<file>.
					rel, _ := filepath.Rel(corpus, filepath.Dir(path))
					file = filepath.Join(unpacked, rel, strings.Split(cols[0], "/")[0], cols[0])
				}
				out = append(out, indexedMessage{path: file, sha256: cols[2], size: cols[1]})
			}
			return sc.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

var (
	corpusOnce sync.Once
	corpusData string
	corpusSum  importSummary
	corpusOut  string
)

// importedCorpus imports the whole shared corpus (plus its unpacked sets) once into
// a data directory shared by the tests that only read it.
func importedCorpus(t *testing.T) (string, importSummary, string) {
	t.Helper()
	corpus := corpustest.Dir(t)
	unpacked := unpackedCorpus(t)
	corpusOnce.Do(func() {
		dir, err := os.MkdirTemp("", "resguardo-corpus-data-")
		if err != nil {
			t.Fatal(err)
		}
		corpusData = filepath.Join(dir, "data")
		out, errOut, code := cli(t, "import", "--data", corpusData, "--json", corpus, unpacked)
		corpusOut = out
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &corpusSum); err != nil || code != 0 {
			t.Fatalf("corpus import: exit %d, %v\n%s\n%s", code, err, clipOut(out), clipOut(errOut))
		}
	})
	if corpusData == "" {
		t.Fatal("corpus import failed earlier")
	}
	return corpusData, corpusSum, corpusOut
}

func TestImportWholeCorpus(t *testing.T) {
	corpus := corpustest.Dir(t)
	unpacked := unpackedCorpus(t)
	data, sum, out := importedCorpus(t)
	idx := corpusIndex(t, corpus, unpacked)
	if len(idx) != 22558 {
		t.Fatalf("corpus indexes list %d real messages, README says 22558", len(idx))
	}
	if sum.Failed != 0 {
		t.Errorf("failed: %d: %+v", sum.Failed, sum.Failures)
	}
	// Every event line is well-formed; archived ids are unique.
	archived := map[string]bool{}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, line := range lines[:len(lines)-1] { // the last line is the summary
		var ev importEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("bad event line %q: %v", clipOut(line), err)
		}
		if ev.Event == "archived" {
			if archived[ev.ID] {
				t.Fatalf("record %s reported archived twice", ev.ID)
			}
			archived[ev.ID] = true
		}
	}
	if int64(len(archived)) != sum.Archived || sum.LedgerSize != sum.Archived {
		t.Fatalf("archived events %d, summary %d, ledger %d", len(archived), sum.Archived, sum.LedgerSize)
	}
	// Every real message is in the archive, byte-exact.
	for _, m := range idx {
		if !archived[m.sha256] {
			t.Fatalf("%s (sha256 %s) is not in the archive", m.path, m.sha256)
		}
	}
	if sum.Archived < 22558+1000 { // plus the torture, bounce and auth fixtures
		t.Errorf("archived %d, want more than the 22558 real messages", sum.Archived)
	}
	// Manifests, tarballs and keys are not mail: skipped, and listed.
	skipped := strings.Join(func() []string {
		var s []string
		for _, k := range sum.Skips {
			s = append(s, filepath.Base(k.Source))
		}
		return s
	}(), " ")
	for _, want := range []string{"MANIFEST.tsv", "index.tsv", "linux-mips-bulk.tar.zst"} {
		if !strings.Contains(skipped, want) {
			t.Errorf("%s was not reported skipped", want)
		}
	}
	// A sample of byte-exact round trips through `cat`, against the source files.
	sort.Slice(idx, func(i, j int) bool { return idx[i].sha256 < idx[j].sha256 })
	for i := 0; i < len(idx); i += len(idx) / 150 {
		m := idx[i]
		got := mustCLI(t, "cat", "--data", data, m.sha256[:12])
		want, err := os.ReadFile(m.path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(got))
		if got != string(want) || hex.EncodeToString(sum[:]) != m.sha256 {
			t.Fatalf("cat %s: %d bytes differ from %s", m.sha256, len(got), m.path)
		}
	}
	// Constancias for a sample: the import ended with a timestamp, so every record
	// has one, and each verifies offline against the pinned keys.
	keys := filepath.Join(data, "keys")
	for i := 0; i < len(idx); i += len(idx) / 6 {
		m := idx[i]
		out := t.TempDir()
		mustCLI(t, "constancia", "--data", data, "--out", out, m.sha256)
		res := mustCLI(t, "verify", m.path, filepath.Join(out, "constancia.json"), "--p7s", filepath.Join(out, "constancia.p7s"),
			"--log-key", filepath.Join(keys, "ledger.pub"), "--tsa-ca", filepath.Join(keys, "tsa", "ca.pem"), "--ca", filepath.Join(keys, "cert", "ca.pem"), "--lang", "en")
		if !strings.Contains(res, "VERIFIED") || strings.Contains(res, "✗") {
			t.Fatalf("constancia of %s:\n%s", m.path, res)
		}
	}
	// Importing the same thing again archives nothing new.
	out2, _, code := cli(t, "import", "--data", data, "--json", filepath.Join(corpus, "real"), filepath.Join(corpus, "torture"))
	var again importSummary
	lines = strings.Split(strings.TrimSpace(out2), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &again); err != nil || code != 0 {
		t.Fatalf("re-import: exit %d %v", code, err)
	}
	if again.Archived != 0 || again.Duplicate == 0 || again.LedgerSize != sum.LedgerSize {
		t.Fatalf("re-import archived %d (dup %d), ledger %d → %d", again.Archived, again.Duplicate, sum.LedgerSize, again.LedgerSize)
	}
	// The full check passes.
	fsckOut := mustCLI(t, "fsck", "--data", data, "--json")
	var rep struct {
		Records, Errors, Warnings int64
		BlobsRead                 int64 `json:"blobs_read"`
	}
	if err := json.Unmarshal([]byte(fsckOut), &rep); err != nil || rep.Errors != 0 || rep.Records != sum.Archived || rep.BlobsRead != sum.Archived {
		t.Fatalf("fsck: %+v %v\n%s", rep, err, clipOut(fsckOut))
	}
}

// TestCorpusMalformedKept checks that the malformed fixtures were archived and flagged.
func TestCorpusMalformedKept(t *testing.T) {
	corpus := corpustest.Dir(t)
	data, _, _ := importedCorpus(t)
	dir := filepath.Join(corpus, "torture", "stalwart-mail-parser", "malformed")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	flagged := 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || e.IsDir() || !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		sum := sha256.Sum256(b)
		id := hex.EncodeToString(sum[:])
		out, _, code := cli(t, "show", "--data", data, id)
		if code != 0 {
			t.Errorf("%s was not archived", e.Name())
			continue
		}
		var show struct {
			Metadata struct {
				Malformed bool `json:"malformed"`
				Size      int  `json:"size"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(out), &show); err != nil {
			t.Fatal(err)
		}
		if show.Metadata.Size != len(b) {
			t.Errorf("%s: size %d, file %d", e.Name(), show.Metadata.Size, len(b))
		}
		if show.Metadata.Malformed {
			flagged++
		}
		if got := mustCLI(t, "cat", "--data", data, id); got != string(b) {
			t.Errorf("%s: not byte-exact", e.Name())
		}
	}
	if flagged < 3 {
		t.Errorf("only %d stalwart malformed fixtures flagged malformed", flagged)
	}
}

// TestCorpusGoldenMetadata compares `show` for hand-checked corpus messages with
// golden files (volatile fields — archive time, source path — are blanked).
func TestCorpusGoldenMetadata(t *testing.T) {
	corpus := corpustest.Dir(t)
	data, _, _ := importedCorpus(t)
	cases := []struct{ golden, file string }{
		{"linux-mips-000000", "real/linux-mips/sample/000000.eml"},
		{"open-iscsi-first", firstFile(t, filepath.Join(corpus, "real/open-iscsi-googlegroups"))},
		{"enmime-attachment", "torture/enmime/mail/attachment.raw"},
		{"zbateson-m0001", "torture/zbateson-mail-mime-parser/m0001.txt"},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			path := tc.file
			if !filepath.IsAbs(path) {
				path = filepath.Join(corpus, path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("fixture missing: %v", err)
			}
			sum := sha256.Sum256(b)
			out := mustCLI(t, "show", "--data", data, hex.EncodeToString(sum[:]))
			checkGolden(t, filepath.Join("testdata", "golden", tc.golden+".json"), normalizeShow(t, out))
		})
	}
}

func firstFile(t *testing.T, dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".eml") {
			return filepath.Join(dir, e.Name())
		}
	}
	t.Fatal("no .eml in " + dir)
	return ""
}

// normalizeShow keeps the stable part of `show`: the metadata minus archive time
// and source, and the ledger entry minus its time.
func normalizeShow(t *testing.T, out string) []byte {
	t.Helper()
	var v struct {
		Metadata map[string]any `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	v.Metadata["archived_at"] = "…"
	v.Metadata["source"] = "…"
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(v.Metadata)
	return b.Bytes()
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
