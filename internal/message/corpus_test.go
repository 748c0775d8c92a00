package message

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// skipCorpusFile reports the corpus files that are not messages.
func skipCorpusFile(name string) bool {
	return strings.HasSuffix(name, ".tar.zst") || name == "MANIFEST.tsv" || name == "index.tsv" ||
		name == "DUPLICATES_SKIPPED.tsv" || strings.HasPrefix(name, "README") || strings.HasPrefix(name, "LICENSE")
}

// corpusFiles lists the message files under dir, relative to the corpus.
func corpusFiles(t testing.TB, corpus string, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(corpus, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.Type().IsRegular() && !skipCorpusFile(e.Name()) {
				rel, err := filepath.Rel(corpus, path)
				if err != nil {
					return err
				}
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk corpus %s: %v", d, err)
		}
	}
	return out
}

// checkInvariants asserts what Parse promises for any input.
func checkInvariants(t testing.TB, name string, raw []byte, m *Message) {
	t.Helper()
	if m == nil {
		t.Fatalf("%s: Parse returned nil", name)
	}
	if m.Size != int64(len(raw)) {
		t.Errorf("%s: Size = %d, want %d", name, m.Size, len(raw))
	}
	for _, d := range m.Defects {
		if d.Code == DefectInternal {
			t.Errorf("%s: %s: %s", name, d.Code, d.Detail)
		}
	}
	for _, p := range m.Parts {
		if p.BodyOffset < 0 || p.BodyLength < 0 || p.BodyOffset+p.BodyLength > int64(len(raw)) {
			t.Errorf("%s: part %s body [%d,+%d) outside %d bytes", name, p.Path, p.BodyOffset, p.BodyLength, len(raw))
			continue
		}
		got, err := DecodePart(raw, p)
		if err != nil {
			t.Errorf("%s: DecodePart %s: %v", name, p.Path, err)
			continue
		}
		sum := sha256.Sum256(got)
		if int64(len(got)) != p.Size || hex.EncodeToString(sum[:]) != p.SHA256 {
			t.Errorf("%s: part %s: DecodePart gives %d bytes %x, Parse recorded %d %s",
				name, p.Path, len(got), sum[:4], p.Size, p.SHA256[:8])
		}
	}
}

// setOf names the corpus set of a file: its first three path elements.
func setOf(rel string) string {
	parts := strings.SplitN(rel, "/", 4)
	if len(parts) < 3 {
		return rel
	}
	if len(parts) == 3 {
		return strings.Join(parts[:2], "/")
	}
	return strings.Join(parts[:3], "/")
}

// TestCorpus parses every unpacked message of the shared corpus: no panic,
// the invariants hold, and well-formed mailing-list mail is not flagged.
func TestCorpus(t *testing.T) {
	corpus := corpustest.Dir(t)
	files := corpusFiles(t, corpus, "torture", "real")
	if len(files) < 1000 {
		t.Fatalf("found %d corpus files, want the whole corpus", len(files))
	}
	type stats struct {
		n, clean, complete int
		codes              map[string]int
		examples           map[string]string
	}
	sets := map[string]*stats{}
	for _, rel := range files {
		raw, err := os.ReadFile(filepath.Join(corpus, rel))
		if err != nil {
			t.Fatal(err)
		}
		m := Parse(raw, Limits{})
		checkInvariants(t, rel, raw, m)
		s := sets[setOf(rel)]
		if s == nil {
			s = &stats{codes: map[string]int{}, examples: map[string]string{}}
			sets[setOf(rel)] = s
		}
		s.n++
		if !m.Malformed() {
			s.clean++
		}
		if len(m.From) > 0 && m.From[0].Address != "" && !m.Date.IsZero() && m.MessageID != "" && !m.Malformed() {
			s.complete++
		}
		seen := map[string]bool{}
		for _, d := range m.Defects {
			if !seen[d.Code] {
				seen[d.Code] = true
				s.codes[d.Code]++
				if _, ok := s.examples[d.Code]; !ok {
					s.examples[d.Code] = fmt.Sprintf("%s [%s] %s", rel, d.Part, d.Detail)
				}
			}
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range sets {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		s := sets[name]
		type kv struct {
			code string
			n    int
		}
		var top []kv
		for c, n := range s.codes {
			top = append(top, kv{c, n})
		}
		slices.SortFunc(top, func(a, b kv) int { return cmp.Or(b.n-a.n, strings.Compare(a.code, b.code)) })
		var b strings.Builder
		for i, e := range top {
			if i == 6 {
				break
			}
			fmt.Fprintf(&b, " %s=%d (e.g. %s)", e.code, e.n, s.examples[e.code])
		}
		t.Logf("%-45s %5d msgs, %5.1f%% clean, %5.1f%% complete;%s", name, s.n,
			100*float64(s.clean)/float64(s.n), 100*float64(s.complete)/float64(s.n), b.String())
	}
	// Thresholds measured on the corpus (99.3%, 100% and 90.3% complete at
	// the time of writing): well-formed list mail must not be flagged, and
	// the malformed fixtures must be.
	for _, want := range []struct {
		set      string
		complete float64 // at least this share has From, Date, Message-ID and no defect
		maxClean float64 // at most this share has no defect
	}{
		{"real/linux-mips/sample", 0.98, 1},
		{"real/open-iscsi-googlegroups", 0.995, 1},
		{"real/osst-users-spam", 0.85, 1},
		{"torture/stalwart-mail-parser/malformed", 0, 0.10},
		{"torture/enmime/low-quality", 0, 0.60},
	} {
		s := sets[want.set]
		if s == nil {
			t.Errorf("corpus set %s missing", want.set)
			continue
		}
		if got := float64(s.complete) / float64(s.n); got < want.complete {
			t.Errorf("%s: %.3f complete and without defects, want >= %.3f", want.set, got, want.complete)
		}
		if got := float64(s.clean) / float64(s.n); got > want.maxClean {
			t.Errorf("%s: %.3f without defects, want <= %.2f", want.set, got, want.maxClean)
		}
	}
}
