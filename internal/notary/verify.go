package notary

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// Stamp is a verified RFC 3161 timestamp.
type Stamp struct {
	Token     []byte                // DER TimeStampToken (ContentInfo: SignedData over TSTInfo), stored and shipped unmodified
	Time      time.Time             // TSTInfo.genTime (UTC)
	Serial    *big.Int              // TSTInfo.serialNumber
	Policy    asn1.ObjectIdentifier // TSTInfo.policy
	Hash      crypto.Hash           // of the message imprint
	Digest    []byte                // the imprinted digest
	Nonce     *big.Int              // nil if none
	Authority string                // subject of the TSA signing certificate (String())
	Chain     []*x509.Certificate   // signer first, as verified
}

// Notary timestamps a digest (SHA-256 of the data unless the implementation says
// otherwise).
type Notary interface {
	Timestamp(ctx context.Context, digest []byte) (*Stamp, error)
}

// VerifyOptions configures Verify.
type VerifyOptions struct {
	Roots         *x509.CertPool // trust anchors (pinned TSA CA, accredited PSC roots…; a pinned TSA certificate also works); required
	Intermediates *x509.CertPool // optional; certificates carried in the token are added
	Hash          crypto.Hash    // expected imprint algorithm, 0 = any of SHA-256/384/512

	// Certificates are candidate signer certificates for tokens that carry none
	// (requested with certReq=false). Optional; not trusted by being listed here.
	Certificates []*x509.Certificate
}

// ParseToken decodes a TimeStampToken for display. It makes no trust decision and
// checks no signature: Chain holds the certificates carried in the token, the signer
// first when it can be identified, and Authority falls back to the TSTInfo tsa name.
// Errors wrap ErrMalformed.
func ParseToken(token []byte) (*Stamp, error) {
	pt, err := parseToken(token, nil)
	if err != nil {
		return nil, fmt.Errorf("parse token: %w", err)
	}
	st := stampOf(token, pt)
	if pt.signer != nil {
		st.Chain = []*x509.Certificate{pt.signer}
	}
	for _, c := range pt.certs {
		if c != pt.signer {
			st.Chain = append(st.Chain, c)
		}
	}
	return st, nil
}

// Verify checks that token is a well-formed TimeStampToken (RFC 3161 §2.4.2) whose
// imprint equals digest, whose CMS signature verifies (RFC 5652 §5.4/§5.6: signed
// content-type = id-ct-TSTInfo, message-digest over the eContent, and the ESSCertID
// or ESSCertIDv2 of RFC 2634/RFC 5816 naming the signer certificate when present),
// and whose signer certificate chains to opt.Roots at genTime and is a TSA
// certificate per RFC 3161 §2.3 (see checkTSACert). Failures wrap ErrMalformed,
// ErrImprintMismatch, ErrBadSignature or ErrUntrustedSigner.
func Verify(token, digest []byte, opt VerifyOptions) (*Stamp, error) {
	pt, err := parseToken(token, opt.Certificates)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	h, ok := hashFromAlg(pt.info.MessageImprint.HashAlgorithm)
	switch {
	case !ok:
		return nil, fmt.Errorf("verify: %w: imprint algorithm %v not accepted", ErrImprintMismatch, pt.info.MessageImprint.HashAlgorithm.Algorithm)
	case opt.Hash != 0 && h != opt.Hash:
		return nil, fmt.Errorf("verify: %w: imprint uses %v, want %v", ErrImprintMismatch, h, opt.Hash)
	case !bytes.Equal(pt.info.MessageImprint.HashedMessage, digest):
		return nil, fmt.Errorf("verify: %w: token imprints %x", ErrImprintMismatch, pt.info.MessageImprint.HashedMessage)
	}
	if pt.signer == nil {
		msg := "signer certificate not in token or options"
		if pt.certErr != nil {
			msg += fmt.Sprintf(" (unparsable certificate: %v)", pt.certErr)
		}
		return nil, fmt.Errorf("verify: %w: %s", ErrUntrustedSigner, msg)
	}
	if err := checkSignedAttrs(pt); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	chain, err := verifySigner(pt, opt)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	st := stampOf(token, pt)
	st.Chain = chain
	return st, nil
}

// verifySigner chains the signer to opt.Roots at genTime with the time-stamping EKU,
// then applies the RFC 3161 §2.3 certificate profile and the tsa-name check.
func verifySigner(pt *parsedToken, opt VerifyOptions) ([]*x509.Certificate, error) {
	if opt.Roots == nil {
		// A nil pool would make crypto/x509 fall back to the system roots.
		return nil, fmt.Errorf("%w: no trust anchors configured", ErrUntrustedSigner)
	}
	inter := x509.NewCertPool()
	if opt.Intermediates != nil {
		inter = opt.Intermediates.Clone()
	}
	for _, c := range pt.certs {
		if c != pt.signer {
			inter.AddCert(c)
		}
	}
	genTime := pt.info.GenTime
	// The EKU is checked on the signer only (checkTSACert), as OpenSSL does.
	// crypto/x509 would also require every CA in the chain that has an EKU to allow
	// time-stamping, which rejects real hierarchies: GlobalSign's "Primary SHA256 CA
	// for Adobe" in the corpus carries only Adobe's document-signing EKU.
	chains, err := pt.signer.Verify(x509.VerifyOptions{
		Roots:         opt.Roots,
		Intermediates: inter,
		CurrentTime:   genTime,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: at %s: %w", ErrUntrustedSigner, genTime.UTC().Format(time.RFC3339), err)
	}
	if err := checkTSACert(pt.signer); err != nil {
		return nil, err
	}
	if name, ok := tsaDirectoryName(pt.info.Tsa); ok && !sameName(name, pt.signer.RawSubject) {
		return nil, fmt.Errorf("%w: TSTInfo tsa name does not match the signer subject", ErrUntrustedSigner)
	}
	return chains[0], nil
}

// checkTSACert applies RFC 3161 §2.3: the certificate "MUST contain only one instance
// of the extended key usage field extension ... with KeyPurposeID having value
// id-kp-timeStamping. This extension MUST be critical." Like OpenSSL's
// X509_PURPOSE_TIMESTAMP_SIGN, a key usage extension, when present, may only assert
// digitalSignature and/or nonRepudiation. Non-critical EKUs are not tolerated: the
// real GlobalSign TSA certificates in the test corpus, OpenSSL-issued ones and ours
// all mark it critical, and OpenSSL's verifier rejects non-critical ones too.
func checkTSACert(c *x509.Certificate) error {
	var eku *pkix.Extension
	for i, e := range c.Extensions {
		if e.Id.Equal(oidExtKeyUsage()) {
			if eku != nil {
				return fmt.Errorf("%w: repeated extended key usage extension", ErrUntrustedSigner)
			}
			eku = &c.Extensions[i]
		}
	}
	switch {
	case eku == nil:
		return fmt.Errorf("%w: signer certificate has no extended key usage", ErrUntrustedSigner)
	case !eku.Critical:
		return fmt.Errorf("%w: extended key usage is not critical (RFC 3161 §2.3)", ErrUntrustedSigner)
	case len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) != 0:
		return fmt.Errorf("%w: extended key usage must be id-kp-timeStamping only", ErrUntrustedSigner)
	}
	const allowed = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	if c.KeyUsage != 0 && (c.KeyUsage&^allowed != 0 || c.KeyUsage&allowed == 0) {
		return fmt.Errorf("%w: key usage %#x not limited to digitalSignature/nonRepudiation", ErrUntrustedSigner, c.KeyUsage)
	}
	return nil
}

// tsaDirectoryName returns the Name of a TSTInfo tsa field ([0] EXPLICIT GeneralName)
// when it is a directoryName. Other GeneralName forms are only a hint and not checked.
func tsaDirectoryName(tsa asn1.RawValue) ([]byte, bool) {
	if len(tsa.Bytes) == 0 {
		return nil, false
	}
	var gn asn1.RawValue
	if err := unmarshalDER(tsa.Bytes, &gn, "tsa name"); err != nil {
		return nil, false
	}
	if gn.Class != asn1.ClassContextSpecific || gn.Tag != 4 || !gn.IsCompound {
		return nil, false
	}
	return gn.Bytes, true
}

func stampOf(token []byte, pt *parsedToken) *Stamp {
	info := pt.info
	st := &Stamp{
		Token:  bytes.Clone(token),
		Time:   info.GenTime.UTC(),
		Serial: new(big.Int).Set(info.SerialNumber),
		Policy: cloneOID(info.Policy),
		Digest: slices.Clone(info.MessageImprint.HashedMessage),
	}
	if h, ok := hashFromAlg(info.MessageImprint.HashAlgorithm); ok {
		st.Hash = h
	} else if info.MessageImprint.HashAlgorithm.Algorithm.Equal(asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}) {
		st.Hash = crypto.SHA1 // shown by ParseToken; never accepted by Verify
	}
	if info.Nonce != nil {
		st.Nonce = new(big.Int).Set(info.Nonce)
	}
	switch name, ok := tsaDirectoryName(info.Tsa); {
	case pt.signer != nil:
		st.Authority = pt.signer.Subject.String()
	case ok:
		var rdn pkix.RDNSequence
		if unmarshalDER(name, &rdn, "tsa name") == nil {
			var n pkix.Name
			n.FillFromRDNSequence(&rdn)
			st.Authority = n.String()
		}
	}
	return st
}
