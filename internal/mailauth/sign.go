package mailauth

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// signedHeaders are the header fields Sign covers (RFC 6376 section 5.4.1), From
// first. Fields absent from a message are still listed, which forbids adding them
// later ("oversigning" of one instance).
var signedHeaders = []string{
	"From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID",
	"In-Reply-To", "References", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "Content-Disposition", "List-Id",
	"List-Unsubscribe", "List-Unsubscribe-Post",
}

// Sign adds a DKIM-Signature (RFC 6376) for domain and selector to msg, a complete
// message with CRLF line endings, and returns the signed message. Canonicalization
// is relaxed/relaxed; the algorithm follows the key: rsa-sha256 for an *rsa key
// (RFC 8301 requires at least 1024 bits; use 2048), ed25519-sha256 for an ed25519
// key (RFC 8463).
func Sign(msg []byte, domain, selector string, key crypto.Signer) ([]byte, error) {
	if key == nil {
		return nil, errors.New("dkim sign: no key")
	}
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("dkim sign: RSA key of %d bits is too short", k.N.BitLen())
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("dkim sign: unsupported key type %T", k)
	}
	var hdrs []string
	present := map[string]bool{}
	for _, f := range splitHeader(msg) {
		present[strings.ToLower(f.Name)] = true
	}
	for _, h := range signedHeaders {
		if present[strings.ToLower(h)] || h == "From" {
			hdrs = append(hdrs, h)
		}
	}
	s, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 domain,
		Selector:               selector,
		Signer:                 key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             hdrs,
	})
	if err != nil {
		return nil, fmt.Errorf("dkim sign: %w", err)
	}
	if _, err := s.Write(msg); err != nil {
		s.Close()
		return nil, fmt.Errorf("dkim sign: %w", err)
	}
	if err := s.Close(); err != nil {
		return nil, fmt.Errorf("dkim sign: %w", err)
	}
	sig := s.Signature()
	out := make([]byte, 0, len(sig)+len(msg))
	out = append(out, sig...)
	return append(out, msg...), nil
}

// Key algorithms for GenerateKey.
const (
	KeyRSA     = "rsa"
	KeyEd25519 = "ed25519"
)

// DKIMKey is a new signing key with what an operator needs to publish it.
type DKIMKey struct {
	Signer crypto.Signer
	// PrivateKeyPEM is the key as PKCS #8 in a "PRIVATE KEY" PEM block.
	PrivateKeyPEM []byte
	// TXT is the DNS TXT record text, e.g. "v=DKIM1; k=rsa; p=MIIB...", to publish at
	// <selector>._domainkey.<domain> (RFC 6376 section 3.6.1).
	TXT string
}

// GenerateKey creates a DKIM key: alg is KeyRSA (bits 0 means 2048; at least 1024)
// or KeyEd25519 (bits ignored).
func GenerateKey(alg string, bits int) (*DKIMKey, error) {
	var key crypto.Signer
	switch alg {
	case KeyRSA:
		if bits == 0 {
			bits = 2048
		}
		if bits < 1024 {
			return nil, fmt.Errorf("dkim keygen: RSA keys need at least 1024 bits, not %d", bits)
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, fmt.Errorf("dkim keygen: %w", err)
		}
		key = k
	case KeyEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("dkim keygen: %w", err)
		}
		key = k
	default:
		return nil, fmt.Errorf("dkim keygen: unknown algorithm %q (want rsa or ed25519)", alg)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("dkim keygen: %w", err)
	}
	txt, err := DNSRecord(key.Public())
	if err != nil {
		return nil, err
	}
	return &DKIMKey{
		Signer:        key,
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		TXT:           txt,
	}, nil
}

// DNSRecord returns the DKIM key record text for a public key (RFC 6376 section
// 3.6.1): for RSA, p= is the base64 DER SubjectPublicKeyInfo; for ed25519 the 32 raw
// key bytes (RFC 8463 section 4.2).
func DNSRecord(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", fmt.Errorf("dkim record: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	}
	return "", fmt.Errorf("dkim record: unsupported key type %T", pub)
}

// RecordName is the DNS name of a DKIM key record: "<selector>._domainkey.<domain>".
func RecordName(domain, selector string) string {
	return selector + "._domainkey." + strings.TrimSuffix(domain, ".")
}

// ZoneFileRecord formats a key record as a zone-file line, its text split into
// strings of at most 255 octets (a longer TXT string is not valid DNS).
func ZoneFileRecord(domain, selector, txt string) string {
	var b strings.Builder
	b.WriteString(RecordName(domain, selector) + ". IN TXT (")
	for len(txt) > 0 {
		n := min(len(txt), 255)
		b.WriteString(` "` + txt[:n] + `"`)
		txt = txt[n:]
	}
	b.WriteString(" )")
	return b.String()
}

// ParsePrivateKeyPEM reads a DKIM signing key from PEM: PKCS #8 ("PRIVATE KEY"),
// PKCS #1 ("RSA PRIVATE KEY", as opendkim-genkey writes).
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(bytes.TrimSpace(data))
	if block == nil {
		return nil, errors.New("dkim key: no PEM block")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("dkim key: unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim key: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("dkim key: unsupported key type %T", key)
}
