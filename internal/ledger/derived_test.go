package ledger

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A derived log writes the same files as a synced one, and a checkpoint lost in
// an unclean stop (the older one survives) is signed again byte for byte when
// the same entries are appended again, over whatever the interrupted append
// left past the surviving checkpoint.
func TestDerivedLostCheckpoint(t *testing.T) {
	t.Parallel()
	origin := "resguardo.test/derived"
	s, v := newKeys(t, origin)
	var all [][]byte
	for i := range 600 {
		all = append(all, entry(i))
	}
	open := func(t *testing.T, dir string, derived bool) *Log {
		l, err := Open(dir, Options{Origin: origin, Signer: s, Verifier: v, Derived: derived})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	synced, derived := filepath.Join(t.TempDir(), "s"), filepath.Join(t.TempDir(), "d")
	ls, ld := open(t, synced, false), open(t, derived, true)
	for _, l := range []*Log{ls, ld} {
		if _, err := l.Append(all[:300]); err != nil {
			t.Fatal(err)
		}
	}
	older, _ := ld.Checkpoint()
	for _, l := range []*Log{ls, ld} {
		if _, err := l.Append(all[300:]); err != nil {
			t.Fatal(err)
		}
	}
	newer, _ := ld.Checkpoint()
	if sc, _ := ls.Checkpoint(); !bytes.Equal(sc, newer) {
		t.Fatalf("derived and synced checkpoints differ:\n%s\n%s", sc, newer)
	}
	for _, f := range []string{"tile/0/000", "tile/0/001", "tile/0/002.p/88", "tile/1/000.p/2", "tile/entries/001", "tile/entries/002.p/88"} {
		a, err1 := os.ReadFile(filepath.Join(synced, f))
		b, err2 := os.ReadFile(filepath.Join(derived, f))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: synced and derived files differ (%v %v)", f, err1, err2)
		}
	}

	// The unclean stop: the newer checkpoint is lost, and a file the
	// interrupted append wrote past the older one is damaged.
	if err := os.WriteFile(filepath.Join(derived, "checkpoint"), older, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(derived, "tile", "entries", "002.p", "88"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := open(t, derived, true)
	if l.Size() != 300 {
		t.Fatalf("size after the lost checkpoint: %d", l.Size())
	}
	if _, err := l.Append(all[300:]); err != nil {
		t.Fatalf("append again over the interrupted append's files: %v", err)
	}
	if cp, _ := l.Checkpoint(); !bytes.Equal(cp, newer) {
		t.Fatalf("the lost checkpoint was not signed again identically:\n%s\n%s", cp, newer)
	}
	if _, err := Open(derived, Options{Origin: origin, Verifier: v}); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if e, err := l.Entry(599); err != nil || !bytes.Equal(e, all[599]) {
		t.Errorf("entry 599: %q %v", e, err)
	}
}
