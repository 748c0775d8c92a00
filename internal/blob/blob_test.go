package blob

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

type testKeys struct {
	cur  string
	keys map[string][]byte
}

func (k *testKeys) Current() (string, []byte) { return k.cur, k.keys[k.cur] }
func (k *testKeys) Master(id string) ([]byte, bool) {
	b, ok := k.keys[id]
	return b, ok
}

func newKeys(ids ...string) *testKeys {
	k := &testKeys{keys: map[string][]byte{}}
	for _, id := range ids {
		b := make([]byte, 32)
		rand.Read(b)
		k.keys[id] = b
		k.cur = id
	}
	return k
}

func name(b []byte) Name {
	return NameFor([]byte("0123456789abcdef0123456789abcdef"), sha256.Sum256(b))
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	k := newKeys("mk1")
	s, err := NewSealer(k, 0)
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 300_000)
	rand.Read(random)
	cases := map[string][]byte{
		"empty":        {},
		"one byte":     {'x'},
		"mail":         []byte("From: Lic. Ana Ruiz <aruiz@sep.gob.mx>\r\nSubject: Oficio 123/2024\r\n\r\nEstimada Mtra. Pérez:\r\n" + string(bytes.Repeat([]byte("texto "), 2000))),
		"chunk edge":   bytes.Repeat([]byte{'a'}, chunkSize),
		"random 300k":  random, // incompressible: stored uncompressed, several chunks
		"chunk edge+1": append(bytes.Repeat([]byte{'b'}, chunkSize), random[:chunkSize+1]...),
	}
	for n, plain := range cases {
		t.Run(n, func(t *testing.T) {
			sealed, err := s.Seal(nil, name(plain), plain)
			if err != nil {
				t.Fatal(err)
			}
			if len(plain) > 64 && bytes.Contains(sealed, plain[:64]) {
				t.Fatal("plaintext visible in sealed blob")
			}
			got, err := s.Open(name(plain), sealed)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("round trip: %v", err)
			}
			// Any single flipped byte is detected.
			for _, at := range []int{0, 5, 8, 20, len(sealed) / 2, len(sealed) - 1} {
				bad := bytes.Clone(sealed)
				bad[at] ^= 0x40
				if _, err := s.Open(name(plain), bad); err == nil {
					t.Fatalf("flip at %d not detected", at)
				}
			}
			// Truncation and chunk removal are detected.
			if _, err := s.Open(name(plain), sealed[:len(sealed)-1]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("truncated: %v", err)
			}
			// A blob does not open under another name.
			if _, err := s.Open(name([]byte("other")), sealed); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("wrong name: %v", err)
			}
		})
	}
}

func TestChunkDropDetected(t *testing.T) {
	t.Parallel()
	s, _ := NewSealer(newKeys("mk1"), 0)
	plain := make([]byte, 3*chunkSize)
	rand.Read(plain)
	sealed, _ := s.Seal(nil, name(plain), plain)
	h, body, err := parseHeader(sealed)
	if err != nil {
		t.Fatal(err)
	}
	cs := int(h.chunkSize) + tagSize
	dropped := append(bytes.Clone(h.raw), body[cs:]...) // drop chunk 0
	if _, err := s.Open(name(plain), dropped); err == nil {
		t.Fatal("dropping a chunk went unnoticed")
	}
	swapped := append(bytes.Clone(h.raw), body[cs:2*cs]...)
	swapped = append(swapped, body[:cs]...)
	swapped = append(swapped, body[2*cs:]...)
	if _, err := s.Open(name(plain), swapped); err == nil {
		t.Fatal("reordering chunks went unnoticed")
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	k := newKeys("mk-old")
	s, _ := NewSealer(k, 0)
	old := []byte("sealed under the old key")
	sealedOld, _ := s.Seal(nil, name(old), old)
	k.keys["mk-new"] = make([]byte, 32)
	rand.Read(k.keys["mk-new"])
	k.cur = "mk-new"
	sealedNew, _ := s.Seal(nil, name(old), old)
	for _, b := range [][]byte{sealedOld, sealedNew} {
		if got, err := s.Open(name(old), b); err != nil || !bytes.Equal(got, old) {
			t.Fatalf("open after rotation: %v", err)
		}
	}
	if id, _ := KeyID(sealedOld); id != "mk-old" {
		t.Fatalf("key id %q", id)
	}
	delete(k.keys, "mk-old")
	if _, err := s.Open(name(old), sealedOld); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("missing key: %v", err)
	}
}

func TestPacks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, err := OpenPacks(dir, PackOptions{Writer: true, MaxPackSize: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	type put struct {
		ref  Ref
		name Name
		data []byte
	}
	var puts []put
	for i := 0; i < 40; i++ {
		d := bytes.Repeat([]byte(fmt.Sprint(i)), 100+i*20)
		n := name(d)
		ref, err := p.Put(n, d)
		if err != nil {
			t.Fatal(err)
		}
		puts = append(puts, put{ref, n, d})
	}
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	packs, _ := filepath.Glob(filepath.Join(dir, "*.pack"))
	if len(packs) < 3 {
		t.Fatalf("want rotation into several packs, got %d", len(packs))
	}
	for _, pk := range packs {
		st, _ := os.Stat(pk)
		if st.Mode().Perm()&0o222 != 0 {
			t.Fatalf("%s is writable after close", pk)
		}
	}
	r, err := OpenPacks(dir, PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Put(name(nil), nil); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("put on reader: %v", err)
	}
	for _, pt := range puts {
		got, err := r.Get(pt.ref, pt.name)
		if err != nil || !bytes.Equal(got, pt.data) {
			t.Fatalf("get %s: %v", pt.ref, err)
		}
		if err := r.Stat(pt.ref, pt.name); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Get(pt.ref, name([]byte("someone else"))); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("get with wrong name: %v", err)
		}
	}
	var walked int
	if err := r.Walk(func(e Entry, err error) error {
		if err != nil {
			return err
		}
		walked++
		return nil
	}); err != nil || walked != len(puts) {
		t.Fatalf("walk: %d entries, %v", walked, err)
	}
	// A new writer never appends to an existing pack.
	w, err := OpenPacks(dir, PackOptions{Writer: true})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := w.Put(name([]byte("later")), []byte("later"))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if n, _, _, _ := ParseRef(ref); n != len(packs)+1 {
		t.Fatalf("new writer appended to pack %d", n)
	}
}

func TestPackTornTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, _ := OpenPacks(dir, PackOptions{Writer: true})
	ref, _ := p.Put(name([]byte("a")), []byte("complete entry"))
	p.Put(name([]byte("b")), bytes.Repeat([]byte("x"), 1000))
	p.Close()
	path := filepath.Join(dir, "00000001.pack")
	os.Chmod(path, 0o644)
	st, _ := os.Stat(path)
	os.Truncate(path, st.Size()-300) // a crash cut the last write
	r, _ := OpenPacks(dir, PackOptions{})
	defer r.Close()
	if _, err := r.Get(ref, name([]byte("a"))); err != nil {
		t.Fatalf("complete entry before the tear: %v", err)
	}
	var good, torn int
	r.Walk(func(e Entry, err error) error {
		if err != nil {
			torn++
		} else {
			good++
		}
		return nil
	})
	if good != 1 || torn != 1 {
		t.Fatalf("walk: %d good, %d torn", good, torn)
	}
}

func TestParseRef(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "pack", "pack:1:2", "pack:0:1:2", "pack:x:1:2", "pack:1:-1:2", "s3:1:2:3", "pack:1:2:3:4"} {
		if _, _, _, err := ParseRef(Ref(bad)); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

func FuzzOpen(f *testing.F) {
	k := newKeys("mk1")
	s, _ := NewSealer(k, 0)
	sealed, _ := s.Seal(nil, name([]byte("x")), []byte("hola"))
	f.Add(sealed)
	f.Add([]byte("RSGB\x01\x01\x03mk1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s.Open(name([]byte("x")), b) // must not panic
		KeyID(b)
	})
}
