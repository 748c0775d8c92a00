package notary

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// File names inside an authority directory.
const (
	caCertFile  = "ca.pem"
	caKeyFile   = "ca.key"
	tsaCertFile = "tsa.pem"
	tsaKeyFile  = "tsa.key"
)

// AuthorityOptions configures CreateAuthority and LoadAuthority.
type AuthorityOptions struct {
	Name     string                // TSA subject CN, e.g. "Resguardo TSA resguardo/abcd"; the CA is "<Name> CA". Default "Resguardo TSA".
	Policy   asn1.ObjectIdentifier // TSA policy; default DefaultPolicy()
	Now      func() time.Time      // default time.Now
	Validity time.Duration         // TSA certificate; default 10 years (the CA gets 20 years)
}

func (o AuthorityOptions) withDefaults() AuthorityOptions {
	if o.Name == "" {
		o.Name = "Resguardo TSA"
	}
	if len(o.Policy) == 0 {
		o.Policy = DefaultPolicy()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Authority is the built-in RFC 3161 TSA. It is safe for concurrent use.
type Authority struct {
	ca     *x509.Certificate
	cert   *x509.Certificate
	key    crypto.Signer
	policy asn1.ObjectIdentifier
	now    func() time.Time
}

// CreateAuthority creates in dir a CA (ECDSA P-256, self-signed, CA:TRUE, keyCertSign)
// and a TSA key and certificate issued by it with the critical extended key usage
// id-kp-timeStamping only and key usage digitalSignature (RFC 3161 §2.3): ca.pem,
// ca.key, tsa.pem, tsa.key (PEM; keys PKCS #8, mode 0600; certificates 0644). dir is
// created if needed and set to mode 0700. Existing files are never overwritten: the
// call fails with an error wrapping fs.ErrExist if any of the four exists. Only
// LoadAuthority's files (ca.pem, tsa.pem, tsa.key) are needed afterwards; ca.key
// may be moved offline.
func CreateAuthority(dir string, opt AuthorityOptions) error {
	opt = opt.withDefaults()
	now := opt.Now().UTC()
	validity := opt.Validity
	caNotAfter := now.AddDate(20, 0, 0)
	tsaNotAfter := now.AddDate(10, 0, 0)
	if validity < 0 {
		return fmt.Errorf("create authority: negative validity %v", validity)
	} else if validity > 0 {
		tsaNotAfter = now.Add(validity)
	}
	if tsaNotAfter.After(caNotAfter) {
		return fmt.Errorf("create authority: validity %v exceeds the CA's 20 years", validity)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create authority: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("create authority: %w", err)
	}
	for _, name := range []string{caCertFile, caKeyFile, tsaCertFile, tsaKeyFile} {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("create authority: %s: %w", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("create authority: %w", err)
		}
	}
	notBefore := now.Add(-time.Minute) // tolerate small clock differences between hosts
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("create authority: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: opt.Name + " CA"},
		NotBefore:             notBefore,
		NotAfter:              caNotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true, // issues the TSA certificate only
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return fmt.Errorf("create authority: ca certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("create authority: %w", err)
	}
	tsaKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("create authority: %w", err)
	}
	tsaDER, err := x509.CreateCertificate(rand.Reader, tsaTemplate(opt.Name, tsaKey.Public(), notBefore, tsaNotAfter), ca, tsaKey.Public(), caKey)
	if err != nil {
		return fmt.Errorf("create authority: tsa certificate: %w", err)
	}
	caKeyDER, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return fmt.Errorf("create authority: %w", err)
	}
	tsaKeyDER, err := x509.MarshalPKCS8PrivateKey(tsaKey)
	if err != nil {
		return fmt.Errorf("create authority: %w", err)
	}
	// Keys first: a crash leaves files behind, and the next CreateAuthority refuses
	// to run instead of silently replacing a key whose certificate was published.
	for _, f := range []struct {
		name, typ string
		der       []byte
		perm      os.FileMode
	}{
		{caKeyFile, "PRIVATE KEY", caKeyDER, 0o600},
		{tsaKeyFile, "PRIVATE KEY", tsaKeyDER, 0o600},
		{caCertFile, "CERTIFICATE", caDER, 0o644},
		{tsaCertFile, "CERTIFICATE", tsaDER, 0o644},
	} {
		data := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := writeNew(dir, f.name, data, f.perm); err != nil {
			return fmt.Errorf("create authority: %w", err)
		}
	}
	return syncDir(dir)
}

// tsaTemplate is the RFC 3161 §2.3 TSA certificate profile. crypto/x509 always marks
// the extended key usage non-critical, so the extension is supplied explicitly.
func tsaTemplate(name string, pub crypto.PublicKey, notBefore, notAfter time.Time) *x509.Certificate {
	ekuValue, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping()})
	spki, _ := x509.MarshalPKIXPublicKey(pub)
	skid := sha256.Sum256(spki)
	return &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          skid[:20],
		ExtraExtensions:       []pkix.Extension{{Id: oidExtKeyUsage(), Critical: true, Value: ekuValue}},
	}
}

// writeNew writes dir/name atomically (temp file, fsync, link) and fails if it exists.
func writeNew(dir, name string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if rmErr := os.Remove(tmp); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = rmErr
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// link(2) fails with EEXIST instead of replacing, unlike rename(2).
	return os.Link(tmp, filepath.Join(dir, name))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("create authority: %w", err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("create authority: sync %s: %w", dir, err)
	}
	return d.Close()
}

// LoadAuthority loads ca.pem, tsa.pem and tsa.key from dir (ca.key is not read) and
// checks that the TSA certificate matches its key, is currently valid, chains to the
// CA and has the RFC 3161 §2.3 profile.
func LoadAuthority(dir string, opt AuthorityOptions) (*Authority, error) {
	opt = opt.withDefaults()
	ca, err := readCert(filepath.Join(dir, caCertFile))
	if err != nil {
		return nil, fmt.Errorf("load authority: %w", err)
	}
	cert, err := readCert(filepath.Join(dir, tsaCertFile))
	if err != nil {
		return nil, fmt.Errorf("load authority: %w", err)
	}
	keyPath := filepath.Join(dir, tsaKeyFile)
	block, err := readPEM(keyPath, "PRIVATE KEY")
	if err != nil {
		return nil, fmt.Errorf("load authority: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(block)
	if err != nil {
		return nil, fmt.Errorf("load authority: %s: %w", keyPath, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("load authority: %s: unsupported key type %T", keyPath, k)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := key.Public().(equaler); !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("load authority: %s does not match %s", keyPath, tsaCertFile)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: opt.Now(),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}); err != nil {
		return nil, fmt.Errorf("load authority: %s: %w", tsaCertFile, err)
	}
	if err := checkTSACert(cert); err != nil {
		return nil, fmt.Errorf("load authority: %s: %w", tsaCertFile, err)
	}
	return &Authority{ca: ca, cert: cert, key: key, policy: cloneOID(opt.Policy), now: opt.Now}, nil
}

func readPEM(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != typ {
		return nil, fmt.Errorf("%s: no %s PEM block", path, typ)
	}
	return block.Bytes, nil
}

func readCert(path string) (*x509.Certificate, error) {
	der, err := readPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// randomSerial is a positive 128-bit random serial number (RFC 3161 §2.4.2 allows
// up to 160 bits; RFC 5280 §4.1.2.2 up to 20 octets).
func randomSerial() *big.Int {
	b := make([]byte, 16)
	rand.Read(b)            // never fails (crypto/rand, Go ≥ 1.24)
	b[0] = b[0]&0x7f | 0x40 // exactly 127 bits: non-zero, 16 DER octets
	return new(big.Int).SetBytes(b)
}

// CACert returns the trust anchor of the authority's tokens.
func (a *Authority) CACert() *x509.Certificate { return a.ca }

// Certificate returns the TSA signing certificate.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// Timestamp issues a token over a SHA-256 digest and returns it verified against the
// authority's own CA.
func (a *Authority) Timestamp(ctx context.Context, digest []byte) (*Stamp, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("timestamp: %w", err)
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("timestamp: %w: %d-byte digest, want SHA-256", errUnsupportedHash, len(digest))
	}
	alg, _ := hashAlg(crypto.SHA256, true)
	token, err := a.issue(messageImprint{HashAlgorithm: alg, HashedMessage: digest}, nil, true)
	if err != nil {
		return nil, fmt.Errorf("timestamp: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.ca)
	st, err := Verify(token, digest, VerifyOptions{Roots: roots, Hash: crypto.SHA256})
	if err != nil {
		return nil, fmt.Errorf("timestamp: self-check: %w", err)
	}
	return st, nil
}

var errOutsideValidity = errors.New("clock outside the TSA certificate validity")

// issue signs a TSTInfo (RFC 3161 §2.4.2) for imprint: random serial, genTime at
// one-second precision with accuracy 1s, ordering false, the nonce echoed, the tsa
// name set to the certificate subject, and the TSA certificate when certReq.
func (a *Authority) issue(imprint messageImprint, nonce *big.Int, certReq bool) ([]byte, error) {
	now := a.now().UTC().Truncate(time.Second)
	if now.Before(a.cert.NotBefore) || now.After(a.cert.NotAfter) {
		return nil, fmt.Errorf("%w: %s not in [%s, %s]", errOutsideValidity, now.Format(time.RFC3339),
			a.cert.NotBefore.UTC().Format(time.RFC3339), a.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	gn, err := asn1.Marshal(directoryName(a.cert.RawSubject))
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(tstInfo{
		Version:        1,
		Policy:         a.policy,
		MessageImprint: imprint,
		SerialNumber:   randomSerial(),
		GenTime:        now,
		Accuracy:       accuracy{Seconds: 1},
		Nonce:          nonce,
		Tsa:            explicit0(gn),
	})
	if err != nil {
		return nil, fmt.Errorf("tst info: %w", err)
	}
	var certs []*x509.Certificate
	if certReq {
		certs = []*x509.Certificate{a.cert}
	}
	return signToken(der, a.key, a.cert, certs)
}

// Respond answers a DER TimeStampReq with a DER TimeStampResp (RFC 3161 §2.4.2). It
// never fails: bad requests get status rejection with PKIFailureInfo badDataFormat,
// badAlg (hash other than SHA-256/384/512), unacceptedPolicy (reqPolicy other than
// the authority's) or unacceptedExtension; signing problems get systemFailure or
// timeNotAvailable. The nonce is echoed and the certificate included when certReq.
func (a *Authority) Respond(req []byte) []byte {
	pr, rerr := parseRequest(req)
	if rerr != nil {
		return marshalResponse(StatusRejection, rerr.bit, rerr.text, nil)
	}
	if len(pr.policy) > 0 && !pr.policy.Equal(a.policy) {
		return marshalResponse(StatusRejection, FailUnacceptedPolicy,
			fmt.Sprintf("policy %v not accepted (this TSA uses %v)", pr.policy, a.policy), nil)
	}
	token, err := a.issue(pr.imprint, pr.nonce, pr.certReq)
	switch {
	case errors.Is(err, errOutsideValidity):
		return marshalResponse(StatusRejection, FailTimeNotAvailable, "time source unavailable", nil)
	case err != nil:
		return marshalResponse(StatusRejection, FailSystemFailure, "internal error", nil)
	}
	return marshalResponse(StatusGranted, -1, "", token)
}
