package constancia

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/resguardo/resguardo/internal/efirma"
)

// Cosigner is an additional signer of a constancia: an official with the power to
// certify, signing with their e.firma.
type Cosigner struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Sign returns a detached CMS SignedData (DER, SHA-256) over doc, signed with key
// under cert and by every cosigner (one SignerInfo each, all in one file), carrying
// their certificates. `openssl cms -verify -binary -inform DER -in F.p7s -content
// constancia.json -CAfile cas.pem` accepts it.
func Sign(doc []byte, cert *x509.Certificate, key crypto.Signer, chain []*x509.Certificate, cosigners ...Cosigner) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(doc)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(cert, key, chain, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("sign constancia: %w", err)
	}
	for _, c := range cosigners {
		if err := sd.AddSignerChain(c.Cert, c.Key, c.Chain, pkcs7.SignerInfoConfig{}); err != nil {
			return nil, fmt.Errorf("co-sign constancia as %s: %w", c.Cert.Subject.CommonName, err)
		}
	}
	sd.Detach()
	return sd.Finish()
}

// ErrSignature reports a CMS signature that does not verify.
var ErrSignature = errors.New("CMS signature does not verify")

// Signer is one verified CMS signer.
type Signer struct {
	Subject     string    `json:"subject"`
	Fingerprint string    `json:"fingerprint_sha256"`
	SigningTime time.Time `json:"signing_time"`
	RFC         string    `json:"rfc,omitempty"`  // when the certificate is an e.firma
	CURP        string    `json:"curp,omitempty"` //
}

var oidSigningTime = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}

// VerifyCMS checks a detached SignedData over doc: every signature, and every
// signer's chain to roots at now (roots nil: signatures only).
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
	for _, si := range p7.Signers {
		var c *x509.Certificate
		for _, cand := range p7.Certificates {
			if cand.SerialNumber.Cmp(si.IssuerAndSerialNumber.SerialNumber) == 0 {
				c = cand
			}
		}
		if c == nil {
			return nil, fmt.Errorf("%w: a signer's certificate is missing", ErrSignature)
		}
		s := Signer{Subject: c.Subject.CommonName, Fingerprint: fingerprint(c)}
		if id := efirma.IdentityOf(c); id.RFC != "" || id.CURP != "" {
			s.RFC, s.CURP = id.RFC, id.CURP
		}
		for _, a := range si.AuthenticatedAttributes {
			if a.Type.Equal(oidSigningTime) {
				var t time.Time
				if _, err := asn1.Unmarshal(a.Value.Bytes, &t); err == nil {
					s.SigningTime = t.UTC()
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}
