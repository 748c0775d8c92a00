package constancia

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/smallstep/pkcs7"
)

// Sign returns a detached CMS SignedData (DER) over doc, signed with key under cert,
// carrying cert and chain. `openssl cms -verify -binary -inform DER -in F.p7s
// -content constancia.json -CAfile ca.pem` accepts it.
func Sign(doc []byte, cert *x509.Certificate, key crypto.Signer, chain []*x509.Certificate) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(doc)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(cert, key, chain, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("sign constancia: %w", err)
	}
	sd.Detach()
	return sd.Finish()
}

// ErrSignature reports a CMS signature that does not verify.
var ErrSignature = errors.New("CMS signature does not verify")

// Signer is one verified CMS signer.
type Signer struct {
	Subject     string
	Fingerprint string
	SigningTime time.Time
}

// VerifyCMS checks a detached SignedData over doc: every signature, and every
// signer's chain to roots (at the signing time when present, else now).
func VerifyCMS(p7s, doc []byte, roots *x509.CertPool, now time.Time) ([]Signer, error) {
	p7, err := pkcs7.Parse(p7s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	p7.Content = doc
	if err := p7.VerifyWithChainAtTime(roots, now); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	var out []Signer
	for _, c := range p7.Certificates {
		if c.IsCA {
			continue
		}
		out = append(out, Signer{Subject: c.Subject.String(), Fingerprint: fingerprint(c)})
	}
	return out, nil
}
