package notary

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// newAuthority creates and loads an Authority in a fresh temp dir.
func newAuthority(t testing.TB, opt AuthorityOptions) (*Authority, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tsa")
	if err := CreateAuthority(dir, opt); err != nil {
		t.Fatalf("CreateAuthority: %v", err)
	}
	a, err := LoadAuthority(dir, opt)
	if err != nil {
		t.Fatalf("LoadAuthority: %v", err)
	}
	return a, dir
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func digestOfString(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// openssl returns the openssl binary or skips (fails in CI) when it is missing.
func openssl(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		corpustest.Require(t, "openssl")
	}
	return p
}

// runOpenSSL runs openssl in dir and returns combined output; failures are returned,
// not fatal, so that tests can assert rejections.
func runOpenSSL(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(openssl(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPENSSL_CONF=/dev/null")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustOpenSSL is runOpenSSL that fails the test on error.
func mustOpenSSL(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := runOpenSSL(t, dir, args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(corpustest.Path(t, "tsa", "digitorus-timestamp", name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			corpustest.Require(t, "corpus file "+name)
		}
		t.Fatal(err)
	}
	return b
}

// sentinel returns which of the four Verify sentinels err wraps ("" if none).
func sentinel(err error) string {
	for _, s := range []struct {
		err  error
		name string
	}{
		{ErrMalformed, "ErrMalformed"},
		{ErrImprintMismatch, "ErrImprintMismatch"},
		{ErrBadSignature, "ErrBadSignature"},
		{ErrUntrustedSigner, "ErrUntrustedSigner"},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return ""
}

func pkixAlg(oid asn1.ObjectIdentifier) pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}
}
