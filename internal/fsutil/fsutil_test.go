package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteOnce(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "a", "b", "tile")
	if err := WriteOnce(p, []byte("hashes"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := WriteOnce(p, []byte("hashes"), 0o444); err != nil {
		t.Fatalf("identical rewrite: %v", err)
	}
	if err := WriteOnce(p, []byte("other"), 0o444); !errors.Is(err, ErrExists) {
		t.Fatalf("different content: %v", err)
	}
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(b) != "hashes" || st.Mode().Perm() != 0o444 {
		t.Fatalf("content %q mode %v", b, st.Mode())
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".tmp-*"))
	if len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

func TestWriteFileReplaces(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "checkpoint")
	for _, s := range []string{"one", "two"} {
		if err := WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("%q", b)
	}
	if err := MkdirAll(p, 0o700); err == nil {
		t.Fatal("MkdirAll over a file succeeded")
	}
}
