package ledger

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func newKeys(t testing.TB, origin string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// rfc6962Root is an independent implementation of RFC 6962 §2.1 MTH, used to check
// the tlog-based log against the specification.
func rfc6962Root(entries [][]byte) [32]byte {
	switch len(entries) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return sha256.Sum256(append([]byte{0}, entries[0]...))
	}
	k := 1
	for k*2 < len(entries) {
		k *= 2
	}
	l, r := rfc6962Root(entries[:k]), rfc6962Root(entries[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

func entry(i int) []byte { return []byte(fmt.Sprintf(`{"v":1,"type":"test","n":%d}`, i)) }

func TestAppendProveVerify(t *testing.T) {
	t.Parallel()
	origin := "resguardo.test/ledger"
	s, v := newKeys(t, origin)
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, total := range []int{1, 2, 3, 7, 255, 256, 257, 511, 513, 700, 65536 + 300} {
		t.Run(fmt.Sprint(total), func(t *testing.T) {
			dir := t.TempDir()
			var all [][]byte
			for len(all) < total {
				l, err := Open(dir, Options{Origin: origin, Signer: s, Verifier: v}) // reopen between batches
				if err != nil {
					t.Fatal(err)
				}
				k := min(total-len(all), 1+rng.IntN(600))
				var batch [][]byte
				for i := 0; i < k; i++ {
					batch = append(batch, entry(len(all)+i))
				}
				first, err := l.Append(batch)
				if err != nil {
					t.Fatal(err)
				}
				if first != int64(len(all)) {
					t.Fatalf("first = %d, want %d", first, len(all))
				}
				all = append(all, batch...)
			}
			l, err := Open(dir, Options{Origin: origin, Signer: s, Verifier: v})
			if err != nil {
				t.Fatal(err)
			}
			size, root := l.Root()
			if size != int64(total) || root != tlog.Hash(rfc6962Root(all)) {
				t.Fatalf("size %d root %s, want %d %x", size, root, total, rfc6962Root(all))
			}
			step := max(1, total/97)
			for i := 0; i < total; i += step {
				p, sz, rt, err := l.Prove(int64(i))
				if err != nil {
					t.Fatal(err)
				}
				if err := tlog.CheckRecord(p, sz, rt, int64(i), tlog.RecordHash(all[i])); err != nil {
					t.Fatalf("proof %d: %v", i, err)
				}
				if len(p) > 0 {
					p[len(p)/2][0] ^= 1
					if tlog.CheckRecord(p, sz, rt, int64(i), tlog.RecordHash(all[i])) == nil {
						t.Fatalf("corrupted proof %d verified", i)
					}
				}
				e, err := l.Entry(int64(i))
				if err != nil || string(e) != string(all[i]) {
					t.Fatalf("entry %d = %q, %v", i, e, err)
				}
			}
			n := 0
			probs, err := l.Verify(func(i int64, e []byte) error {
				if string(e) != string(all[i]) {
					return fmt.Errorf("entry %d differs", i)
				}
				n++
				return nil
			})
			if err != nil || len(probs) > 0 || n != total {
				t.Fatalf("verify: %v %v, saw %d entries", probs, err, n)
			}
		})
	}
}

func TestTamperDetected(t *testing.T) {
	t.Parallel()
	origin := "resguardo.test/tamper"
	s, v := newKeys(t, origin)
	build := func(t *testing.T) string {
		dir := t.TempDir()
		l, err := Open(dir, Options{Origin: origin, Signer: s, Verifier: v})
		if err != nil {
			t.Fatal(err)
		}
		var b [][]byte
		for i := 0; i < 300; i++ {
			b = append(b, entry(i))
		}
		if _, err := l.Append(b[:100]); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(b[100:]); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	flip := func(path string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, filepath.FromSlash(path))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x20
			os.Chmod(p, 0o644)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		kind   string
	}{
		{"full level-0 tile", flip("tile/0/000"), "tile-mismatch"},
		{"partial level-0 tile", flip("tile/0/001.p/44"), "tile-mismatch"},
		{"old partial tile", flip("tile/0/000.p/100"), "tile-mismatch"},
		{"level-1 tile", flip("tile/1/000.p/1"), "tile-mismatch"},
		{"entry bundle", flip("tile/entries/000"), "tile-mismatch"},
		{"old partial bundle", flip("tile/entries/000.p/100"), "bundle-mismatch"},
		{"missing bundle", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "tile/entries/001.p/44")) }, "bundle-missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := build(t)
			tc.tamper(t, dir)
			l, err := Open(dir, Options{Origin: origin, Verifier: v, Check: true})
			if err != nil {
				t.Fatal(err)
			}
			probs, err := l.Verify(nil)
			found := false
			for _, p := range probs {
				found = found || p.Kind == tc.kind
			}
			if !found {
				t.Fatalf("problems %v (err %v), want kind %s", probs, err, tc.kind)
			}
		})
	}
	t.Run("checkpoint signature", func(t *testing.T) {
		dir := build(t)
		flip("checkpoint")(t, dir)
		if _, err := Open(dir, Options{Origin: origin, Verifier: v, Check: true}); err == nil {
			t.Fatal("opened a log with an altered checkpoint")
		}
	})
	t.Run("open refuses altered tiles", func(t *testing.T) {
		dir := build(t)
		flip("tile/1/000.p/1")(t, dir)
		if _, err := Open(dir, Options{Origin: origin, Signer: s, Verifier: v}); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v, want ErrTampered", err)
		}
	})
}

func TestCheckpointParse(t *testing.T) {
	t.Parallel()
	s, v := newKeys(t, "example.gob.mx/log")
	cp, err := SignCheckpoint(Checkpoint{Origin: "example.gob.mx/log", Size: 12, Root: tlog.RecordHash([]byte("x"))}, s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCheckpoint(cp, v)
	if err != nil || c.Size != 12 || c.Origin != "example.gob.mx/log" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{"", "o\n", "o\n1\n", "o\n01\nAAAA\n", "o\n1\nAAAA\n", "o\n-1\n" + "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n"} {
		if _, err := ParseCheckpointBody(bad); err == nil {
			t.Errorf("ParseCheckpointBody(%q) succeeded", bad)
		}
	}
}

func TestRecordEntryCanonical(t *testing.T) {
	t.Parallel()
	e, err := NewRecordEntry("ab", 10, "import", mustTime("2026-11-28T12:00:00.5Z"), "cd")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"type":"record","sha256":"ab","size":10,"channel":"import","time":"2026-11-28T12:00:00.500000000Z","meta_sha256":"cd"}`
	if string(e) != want {
		t.Fatalf("got  %s\nwant %s", e, want)
	}
	if _, err := ParseRecordEntry(e); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRecordEntry([]byte(`{"type":"record","v":1,"sha256":"ab","size":10,"channel":"import","time":"2026-11-28T12:00:00.500000000Z","meta_sha256":"cd"}`)); err == nil {
		t.Fatal("non-canonical entry accepted")
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
