package keys

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitLoad(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	created, err := Init(dir, "correo.ejemplo.gob.mx/resguardo")
	if err != nil || !created {
		t.Fatalf("init: %v %v", created, err)
	}
	if created, err := Init(dir, "otro"); err != nil || created {
		t.Fatalf("second init created=%v err=%v", created, err)
	}
	r, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, k := r.Current()
	if len(k) != KeySize || id != ID(k) || len(r.NameKey()) != KeySize {
		t.Fatalf("keys: %s %d", id, len(k))
	}
	if r.LedgerSigner().Name() != "correo.ejemplo.gob.mx/resguardo" || !strings.HasPrefix(r.LedgerPublicKey(), "correo.ejemplo.gob.mx/resguardo+") {
		t.Fatalf("ledger key %q", r.LedgerPublicKey())
	}
	for _, f := range []string{"master/" + id + ".key", "blobname.key", "ledger.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, err, st.Mode())
		}
	}
	// A master key from outside becomes current; the generated one stays readable.
	ext := make([]byte, KeySize)
	rand.Read(ext)
	r2, err := Load(dir, Options{MasterKeyB64: base64.StdEncoding.EncodeToString(ext)})
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := r2.Current(); cur != ID(ext) {
		t.Fatalf("current %s", cur)
	}
	if _, ok := r2.Master(id); !ok || len(r2.MasterIDs()) != 2 {
		t.Fatal("old master key lost")
	}
	if _, err := Load(dir, Options{MasterKeyB64: "bm90IGEga2V5"}); err == nil {
		t.Fatal("short external key accepted")
	}
}

func TestLoadRejectsDamage(t *testing.T) {
	t.Parallel()
	cases := map[string]func(dir string){
		"renamed master key": func(dir string) {
			ms, _ := filepath.Glob(filepath.Join(dir, "master", "mk*.key"))
			os.Rename(ms[0], filepath.Join(dir, "master", "mk000000000000.key"))
		},
		"bad blob-name key": func(dir string) { os.WriteFile(filepath.Join(dir, "blobname.key"), []byte("xx\n"), 0o600) },
		"foreign ledger.pub": func(dir string) {
			other := t.TempDir()
			Init(other, "otro/origen")
			b, _ := os.ReadFile(filepath.Join(other, "ledger.pub"))
			os.WriteFile(filepath.Join(dir, "ledger.pub"), b, 0o644)
		},
		"missing current": func(dir string) { os.Remove(filepath.Join(dir, "master", "current")) },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Init(dir, "x/y"); err != nil {
				t.Fatal(err)
			}
			damage(dir)
			if _, err := Load(dir, Options{}); err == nil {
				t.Fatal("damaged key directory loaded")
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none"), Options{}); err == nil {
		t.Fatal("missing directory loaded")
	}
}
