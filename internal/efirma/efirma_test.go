package efirma

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/efirma/efirmatest"
)

func TestLoadSATFiles(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		corpustest.Require(t, "openssl is not installed")
	}
	for _, cipher := range []string{"des3", "aes256", "aes128"} {
		t.Run(cipher, func(t *testing.T) {
			f, err := efirmatest.Make(t.TempDir(), cipher)
			if err != nil {
				t.Fatal(err)
			}
			cert, key, err := Load(f.Cer, f.Key, []byte(f.Password), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if key == nil {
				t.Fatal("no key")
			}
			id := IdentityOf(cert)
			if id.RFC != f.RFC || id.CURP != f.CURP || id.Name != f.Name || id.Number != "00001000000504465028" {
				t.Fatalf("identity %+v", id)
			}
			if _, _, err := Load(f.Cer, f.Key, []byte("otra"), time.Now()); !errors.Is(err, ErrBadPassword) {
				t.Fatalf("wrong password: %v", err)
			}
			if _, _, err := Load(f.Cer, f.Key, []byte(f.Password), time.Now().AddDate(10, 0, 0)); !errors.Is(err, ErrExpired) {
				t.Fatalf("expired: %v", err)
			}
			other, _ := efirmatest.Make(t.TempDir(), cipher)
			if _, _, err := Load(other.Cer, f.Key, []byte(f.Password), time.Now()); !errors.Is(err, ErrMismatch) {
				t.Fatalf("mismatched pair: %v", err)
			}
		})
	}
}

func TestDecryptKeyRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, b := range [][]byte{nil, []byte("x"), {0x30, 0x03, 0x02, 0x01, 0x00}} {
		if _, err := DecryptKey(b, []byte("p")); err == nil {
			t.Errorf("DecryptKey(%x) succeeded", b)
		}
	}
}

func FuzzDecryptKey(f *testing.F) {
	if dir, err := os.MkdirTemp("", "efirma"); err == nil {
		defer os.RemoveAll(dir)
		if fl, err := efirmatest.Make(dir, "des3"); err == nil {
			b, _ := os.ReadFile(fl.Key)
			f.Add(b)
		}
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		DecryptKey(b, []byte("Clave-Secreta-2024")) // must not panic
	})
}
