package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/resguardo/resguardo/internal/fsutil"
)

// Certification is the institution's certification key: a self-signed CA (the
// trust anchor verifiers pin) and a signer certificate issued by it, whose key signs
// constancias (CMS SignedData, RFC 5652). Files under keys/cert/: ca.pem, ca.key,
// signer.pem, signer.key (PEM; keys PKCS#8, 0600). An institution can replace them
// with its own CA-issued certificate and key in the same files.
type Certification struct {
	CA    *x509.Certificate
	Cert  *x509.Certificate
	Key   crypto.Signer
	caKey crypto.Signer
	CAPEM []byte
	PEM   []byte
}

// CertificationDir is where the certification files live under the key directory.
func CertificationDir(keyDir string) string { return filepath.Join(keyDir, "cert") }

// InitCertification creates the CA and signer (ECDSA P-256) when missing; name is
// the institution's name for the certificates' subjects. It returns true if it
// created them.
func InitCertification(keyDir, name string, now time.Time) (bool, error) {
	dir := CertificationDir(keyDir)
	if _, err := os.Stat(filepath.Join(dir, "signer.pem")); err == nil {
		return false, nil
	}
	if err := fsutil.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name + " — Autoridad de certificación de constancias", Organization: []string{name}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(30, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid(&caKey.PublicKey),
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return false, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name + " — Certificación de constancias", Organization: []string{name}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(20, 0, 0),
		// No extended key usage: `openssl cms -verify` then accepts it for any
		// purpose; digitalSignature and contentCommitment (non-repudiation) say what
		// the signature is for.
		KeyUsage:       x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		SubjectKeyId:   skid(&key.PublicKey),
		AuthorityKeyId: ca.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return false, err
	}
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{"ca.key", pemKey(caKey), 0o600},
		{"ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644},
		{"signer.key", pemKey(key), 0o600},
		{"signer.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644}, // last: marks completion
	}
	for _, f := range files {
		if err := fsutil.WriteFile(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return false, err
		}
	}
	return true, nil
}

// LoadCertification reads keys/cert/.
func LoadCertification(keyDir string) (*Certification, error) {
	dir := CertificationDir(keyDir)
	c := &Certification{}
	var err error
	if c.CAPEM, err = os.ReadFile(filepath.Join(dir, "ca.pem")); err != nil {
		return nil, fmt.Errorf("certification CA: %w", err)
	}
	if c.CA, err = parseCertPEM(c.CAPEM); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "ca.pem"), err)
	}
	if c.PEM, err = os.ReadFile(filepath.Join(dir, "signer.pem")); err != nil {
		return nil, fmt.Errorf("certification signer: %w", err)
	}
	if c.Cert, err = parseCertPEM(c.PEM); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "signer.pem"), err)
	}
	if c.Key, err = readKeyPEM(filepath.Join(dir, "signer.key")); err != nil {
		return nil, err
	}
	if err := c.Cert.CheckSignatureFrom(c.CA); err != nil {
		return nil, fmt.Errorf("signer.pem is not issued by ca.pem: %w", err)
	}
	if !publicKeysEqual(c.Cert.PublicKey, c.Key.Public()) {
		return nil, errors.New("signer.key does not match signer.pem")
	}
	return c, nil
}

// Fingerprint is the SHA-256 of a certificate's DER, in hex.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func readKeyPEM(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", path)
	}
	return s, nil
}

func pemKey(k crypto.Signer) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func skid(pub *ecdsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	s := sha256.Sum256(der)
	return s[:20]
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	ae, ok := a.(eq)
	return ok && ae.Equal(b)
}

// CertificationFiles names an existing certification key and certificates (PEM), or
// a PKCS#12 bundle, that an institution already has, to use instead of keys/cert/.
type CertificationFiles struct {
	CertFile, KeyFile, CAFile string // PEM
	PKCS12File                string
	PKCS12Password            string
}

// LoadCertificationFiles reads an institution's own certification material.
func LoadCertificationFiles(f CertificationFiles) (*Certification, error) {
	c := &Certification{}
	if f.PKCS12File != "" {
		b, err := os.ReadFile(f.PKCS12File)
		if err != nil {
			return nil, err
		}
		key, cert, cas, err := pkcs12.DecodeChain(b, f.PKCS12Password)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.PKCS12File, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: not a signing key", f.PKCS12File)
		}
		c.Cert, c.Key = cert, signer
		c.PEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
		if len(cas) > 0 {
			c.CA = cas[len(cas)-1]
		}
	} else {
		var err error
		if c.PEM, err = os.ReadFile(f.CertFile); err != nil {
			return nil, err
		}
		if c.Cert, err = parseCertPEM(c.PEM); err != nil {
			return nil, fmt.Errorf("%s: %w", f.CertFile, err)
		}
		if c.Key, err = readKeyPEM(f.KeyFile); err != nil {
			return nil, err
		}
	}
	if f.CAFile != "" {
		b, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, err
		}
		if c.CA, err = parseCertPEM(b); err != nil {
			return nil, fmt.Errorf("%s: %w", f.CAFile, err)
		}
	}
	if c.CA == nil {
		return nil, errors.New("certification: give the CA certificate that verifiers will pin (ca_file)")
	}
	c.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.CA.Raw})
	if !publicKeysEqual(c.Cert.PublicKey, c.Key.Public()) {
		return nil, errors.New("certification: the key does not match the certificate")
	}
	if err := verifyChain(c.Cert, c.CA); err != nil {
		return nil, fmt.Errorf("certification: the certificate does not chain to the CA: %w", err)
	}
	return c, nil
}

func verifyChain(cert, ca *x509.Certificate) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}
