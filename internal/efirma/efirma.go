// Package efirma loads an official's e.firma (Firma Electrónica Avanzada issued by
// the SAT) so that a public servant can co-sign a constancia: the certificate is a
// DER X.509 file (.cer) and the private key a DER PKCS#8 EncryptedPrivateKeyInfo
// (.key, RFC 5958) protected by the holder's password with PBES2 (RFC 8018:
// PBKDF2 with HMAC-SHA1/SHA-256 and DES-EDE3-CBC or AES-CBC). The Go standard library
// reads unencrypted PKCS#8 only, so the PBES2 envelope is opened here (no served
// module does it for Go 1.26).
package efirma

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"
	"time"
)

// Errors.
var (
	ErrBadPassword = errors.New("efirma: wrong password or damaged .key file")
	ErrUnsupported = errors.New("efirma: unsupported key encryption")
	ErrMismatch    = errors.New("efirma: the .key does not belong to the .cer")
	ErrExpired     = errors.New("efirma: certificate not valid now")
)

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	// OIDUniqueIdentifier (x500UniqueIdentifier) holds "RFC / CURP" in SAT certificates.
	OIDUniqueIdentifier = asn1.ObjectIdentifier{2, 5, 4, 45}
	// OIDSerialNumber holds the holder's CURP in SAT certificates.
	OIDSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type encryptedPrivateKeyInfo struct {
	Algorithm     algorithmIdentifier
	EncryptedData []byte
}

type pbes2Params struct {
	KeyDerivationFunc algorithmIdentifier
	EncryptionScheme  algorithmIdentifier
}

type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                 `asn1:"optional"`
	PRF            algorithmIdentifier `asn1:"optional"`
}

// DecryptKey opens a SAT .key (DER, or PEM "ENCRYPTED PRIVATE KEY") with password.
func DecryptKey(data, password []byte) (crypto.Signer, error) {
	if blk, _ := pem.Decode(data); blk != nil {
		data = blk.Bytes
	}
	var epki encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(data, &epki); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("efirma: not an encrypted PKCS#8 key")
	}
	if !epki.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("%w: %v (want PBES2)", ErrUnsupported, epki.Algorithm.Algorithm)
	}
	var p pbes2Params
	if _, err := asn1.Unmarshal(epki.Algorithm.Parameters.FullBytes, &p); err != nil {
		return nil, fmt.Errorf("%w: PBES2 parameters: %v", ErrUnsupported, err)
	}
	if !p.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("%w: key derivation %v", ErrUnsupported, p.KeyDerivationFunc.Algorithm)
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(p.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		return nil, fmt.Errorf("%w: PBKDF2 parameters: %v", ErrUnsupported, err)
	}
	if kdf.IterationCount <= 0 || kdf.IterationCount > 10_000_000 {
		return nil, fmt.Errorf("%w: %d PBKDF2 iterations", ErrUnsupported, kdf.IterationCount)
	}
	prf := func() hash.Hash { return sha1.New() }
	switch {
	case len(kdf.PRF.Algorithm) == 0, kdf.PRF.Algorithm.Equal(oidHMACSHA1):
	case kdf.PRF.Algorithm.Equal(oidHMACSHA256):
		prf = sha256.New
	default:
		return nil, fmt.Errorf("%w: PRF %v", ErrUnsupported, kdf.PRF.Algorithm)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(p.EncryptionScheme.Parameters.FullBytes, &iv); err != nil {
		return nil, fmt.Errorf("%w: IV: %v", ErrUnsupported, err)
	}
	var keyLen int
	var newCipher func([]byte) (cipher.Block, error)
	switch s := p.EncryptionScheme.Algorithm; {
	case s.Equal(oidDESEDE3CBC):
		keyLen, newCipher = 24, des.NewTripleDESCipher
	case s.Equal(oidAES128CBC):
		keyLen, newCipher = 16, aes.NewCipher
	case s.Equal(oidAES256CBC):
		keyLen, newCipher = 32, aes.NewCipher
	default:
		return nil, fmt.Errorf("%w: cipher %v", ErrUnsupported, s)
	}
	key, err := pbkdf2.Key(prf, string(password), kdf.Salt, kdf.IterationCount, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	ct := epki.EncryptedData
	if len(iv) != block.BlockSize() || len(ct) == 0 || len(ct)%block.BlockSize() != 0 {
		return nil, ErrBadPassword
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	if n == 0 || n > block.BlockSize() || !bytes.Equal(pt[len(pt)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, ErrBadPassword
	}
	k, err := x509.ParsePKCS8PrivateKey(pt[:len(pt)-n])
	if err != nil {
		return nil, ErrBadPassword
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: key type %T", ErrUnsupported, k)
	}
	return s, nil
}

// Identity is who an e.firma certificate names.
type Identity struct {
	Name   string // CN
	RFC    string
	CURP   string
	Number string // número de certificado (the serial as SAT prints it)
}

func (id Identity) String() string {
	s := id.Name
	if id.RFC != "" {
		s += ", RFC " + id.RFC
	}
	if id.CURP != "" {
		s += ", CURP " + id.CURP
	}
	return s
}

// IdentityOf reads name, RFC and CURP from a certificate's subject.
func IdentityOf(c *x509.Certificate) Identity {
	id := Identity{Name: c.Subject.CommonName}
	for _, atv := range c.Subject.Names {
		v, _ := atv.Value.(string)
		switch {
		case atv.Type.Equal(OIDUniqueIdentifier):
			rfc, _, _ := strings.Cut(v, "/")
			id.RFC = strings.TrimSpace(rfc)
		case atv.Type.Equal(OIDSerialNumber):
			id.CURP = strings.TrimSpace(v)
		}
	}
	// SAT certificate numbers are the serial's bytes read as ASCII digits.
	b := c.SerialNumber.Bytes()
	if isDigits(b) {
		id.Number = string(b)
	} else {
		id.Number = hex.EncodeToString(b)
	}
	return id
}

func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Load reads a .cer and its .key, checks that they belong together and that the
// certificate is valid at now.
func Load(cerPath, keyPath string, password []byte, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	cb, err := os.ReadFile(cerPath)
	if err != nil {
		return nil, nil, err
	}
	if blk, _ := pem.Decode(cb); blk != nil {
		cb = blk.Bytes
	}
	cert, err := x509.ParseCertificate(cb)
	if err != nil {
		return nil, nil, fmt.Errorf("efirma: %s: %w", cerPath, err)
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	key, err := DecryptKey(kb, password)
	if err != nil {
		return nil, nil, err
	}
	type eq interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := cert.PublicKey.(eq); !ok || !pk.Equal(key.Public()) {
		return nil, nil, ErrMismatch
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, nil, fmt.Errorf("%w: %s – %s", ErrExpired, cert.NotBefore.Format(time.DateOnly), cert.NotAfter.Format(time.DateOnly))
	}
	return cert, key, nil
}
