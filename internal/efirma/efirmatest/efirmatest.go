// Package efirmatest makes e.firma files in the SAT formats for tests: a test CA, a
// holder certificate (.cer, DER) whose subject carries RFC and CURP as SAT puts them,
// and the private key (.key) encrypted by OpenSSL (`openssl pkcs8 -topk8 -v2 …`), an
// implementation independent of ours. The people are invented.
package efirmatest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Files are the paths of a generated e.firma.
type Files struct {
	CACert   string // PEM, the test "SAT" root
	Cer      string // DER certificate
	Key      string // DER EncryptedPrivateKeyInfo
	Password string
	RFC      string
	CURP     string
	Name     string
}

// Make writes an e.firma into dir; cipher is an `openssl pkcs8 -v2` cipher name
// ("des3" as the SAT issues them, or "aes256").
func Make(dir, cipher string) (Files, error) {
	f := Files{Password: "Clave-Secreta-2024", RFC: "RICM800101AB1", CURP: "RICM800101MDFSZR09", Name: "MARIA FERNANDA RIOS CAZARES"}
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return f, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "AC DE PRUEBAS DEL SAT (NO VALIDA)", Organization: []string{"Pruebas"}},
		NotBefore:    now.Add(-24 * time.Hour), NotAfter: now.AddDate(4, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return f, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return f, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes([]byte("00001000000504465028")),
		Subject: pkix.Name{CommonName: f.Name, Organization: []string{f.Name}, ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{2, 5, 4, 45}, Value: f.RFC + " / " + f.CURP},
			{Type: asn1.ObjectIdentifier{2, 5, 4, 5}, Value: f.CURP},
		}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(4, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return f, err
	}
	f.CACert = filepath.Join(dir, "ac-sat-pruebas.pem")
	f.Cer = filepath.Join(dir, "00001000000504465028.cer")
	f.Key = filepath.Join(dir, "Claveprivada_FIEL_RICM800101AB1.key")
	plain := filepath.Join(dir, "plain.der")
	pk8, _ := x509.MarshalPKCS8PrivateKey(key)
	for _, w := range []struct {
		path string
		data []byte
	}{{f.CACert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}, {f.Cer, der}, {plain, pk8}} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return f, err
		}
	}
	out, err := exec.Command("openssl", "pkcs8", "-topk8", "-v2", cipher, "-inform", "DER", "-outform", "DER",
		"-in", plain, "-out", f.Key, "-passout", "pass:"+f.Password).CombinedOutput()
	os.Remove(plain)
	if err != nil {
		return f, fmt.Errorf("openssl pkcs8: %v: %s", err, out)
	}
	return f, nil
}
