package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/resguardo/resguardo/internal/fsutil"
)

// GatewayTLSDir is where the gateway's generated TLS certificate lives.
func GatewayTLSDir(keyDir string) string { return filepath.Join(keyDir, "gateway") }

// InitGatewayTLS returns the paths of the gateway's TLS certificate and key
// (PEM) in keys/gateway/, generating a self-signed ECDSA P-256 certificate
// for hostname (plus localhost and the loopback addresses), valid five
// years, when there is none yet. An existing certificate is kept as is,
// even for another host name: replace the files (or configure
// gateway.tls_cert_file) to change it.
func InitGatewayTLS(keyDir, hostname string, now time.Time) (certFile, keyFile string, created bool, err error) {
	dir := GatewayTLSDir(keyDir)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	_, errC := os.Stat(certFile)
	_, errK := os.Stat(keyFile)
	if errC == nil && errK == nil {
		return certFile, keyFile, false, nil
	}
	if !errors.Is(errC, os.ErrNotExist) && errC != nil {
		return "", "", false, errC
	}
	if err := fsutil.MkdirAll(dir, 0o700); err != nil {
		return "", "", false, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", false, err
	}
	if hostname == "" {
		hostname = "localhost"
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: hostname, Organization: []string{"Resguardo (autofirmado)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{hostname},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if hostname != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, "localhost")
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", false, fmt.Errorf("gateway certificate: %w", err)
	}
	// The key first: a certificate without its key is never left behind.
	if err := fsutil.WriteFile(keyFile, pemKey(key), 0o600); err != nil {
		return "", "", false, err
	}
	if err := fsutil.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", false, err
	}
	return certFile, keyFile, true, nil
}
