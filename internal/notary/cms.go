package notary

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// CMS SignedData (RFC 5652 §5), written on encoding/asn1: the TimeStampToken is a
// ContentInfo whose SignedData encapsulates a DER TSTInfo (RFC 3161 §2.4.2).

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0"` // [0] EXPLICIT: Bytes is the inner TLV
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapsulatedContentInfo
	Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos      []asn1.RawValue `asn1:"set"`
}

type encapsulatedContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue `asn1:"optional,tag:0"` // [0] EXPLICIT OCTET STRING
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type issuerAndSerialNumber struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue // SET OF AttributeValue
}

// explicit0 wraps an encoding in a [0] constructed tag.
func explicit0(inner []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}
}

// signToken builds the TimeStampToken for a DER TSTInfo, signed by key/cert with
// SHA-256: signed attributes content-type, message-digest and signingCertificateV2
// (RFC 5816 §2.2.1, ESSCertIDv2 with issuerSerial). certs are included as given
// (nil for certReq=false). It does no policy checks; see Authority.issue.
func signToken(tst []byte, key crypto.Signer, cert *x509.Certificate, certs []*x509.Certificate) ([]byte, error) {
	var sigAlg pkix.AlgorithmIdentifier
	switch key.Public().(type) {
	case *ecdsa.PublicKey:
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256()}
	case *rsa.PublicKey:
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, Parameters: asn1.NullRawValue}
	default:
		return nil, fmt.Errorf("sign token: unsupported key type %T", key.Public())
	}
	digestAlg, _ := hashAlg(crypto.SHA256, false)
	contentDigest := digestOf(crypto.SHA256, tst)
	certHash := digestOf(crypto.SHA256, cert.Raw)
	essDER, err := asn1.Marshal(signingCertificateV2{Certs: []essCertIDv2{{
		CertHash:     certHash,
		IssuerSerial: issuerSerial{Issuer: []asn1.RawValue{directoryName(cert.RawIssuer)}, Serial: cert.SerialNumber},
	}}})
	if err != nil {
		return nil, fmt.Errorf("sign token: ess: %w", err)
	}
	ctDER, _ := asn1.Marshal(oidTSTInfo())
	mdDER, _ := asn1.Marshal(contentDigest)
	var attrs [][]byte
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		val []byte
	}{{oidContentType(), ctDER}, {oidMessageDigest(), mdDER}, {oidSigningCertV2(), essDER}} {
		der, err := asn1.Marshal(attribute{Type: a.oid, Values: asn1.RawValue{FullBytes: derSet([][]byte{a.val})}})
		if err != nil {
			return nil, fmt.Errorf("sign token: attribute: %w", err)
		}
		attrs = append(attrs, der)
	}
	// The signature covers the DER SET OF the attributes (RFC 5652 §5.4); the
	// SignerInfo carries the same contents under [0] IMPLICIT.
	set := derSet(attrs)
	sig, err := key.Sign(rand.Reader, digestOf(crypto.SHA256, set), crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign token: %w", err)
	}
	sid, err := asn1.Marshal(issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber})
	if err != nil {
		return nil, fmt.Errorf("sign token: sid: %w", err)
	}
	siDER, err := asn1.Marshal(signerInfo{
		Version:            1, // issuerAndSerialNumber (RFC 5652 §5.3)
		SID:                asn1.RawValue{FullBytes: sid},
		DigestAlgorithm:    digestAlg,
		SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sortedConcat(attrs)},
		SignatureAlgorithm: sigAlg,
		Signature:          sig,
	})
	if err != nil {
		return nil, fmt.Errorf("sign token: signer info: %w", err)
	}
	octets, _ := asn1.Marshal(tst)
	sd := signedData{
		Version:          3, // eContentType is not id-data (RFC 5652 §5.1)
		DigestAlgorithms: []pkix.AlgorithmIdentifier{digestAlg},
		EncapContentInfo: encapsulatedContentInfo{EContentType: oidTSTInfo(), EContent: explicit0(octets)},
		SignerInfos:      []asn1.RawValue{{FullBytes: siDER}},
	}
	if len(certs) > 0 {
		var raws [][]byte
		for _, c := range certs {
			raws = append(raws, c.Raw)
		}
		// CertificateSet is a SET OF: DER order, like the signed attributes.
		sd.Certificates = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sortedConcat(raws)}
	}
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("sign token: signed data: %w", err)
	}
	token, err := asn1.Marshal(contentInfo{ContentType: oidSignedData(), Content: explicit0(sdDER)})
	if err != nil {
		return nil, fmt.Errorf("sign token: content info: %w", err)
	}
	return token, nil
}

func digestOf(h crypto.Hash, data []byte) []byte {
	w := h.New()
	w.Write(data)
	return w.Sum(nil)
}

// parsedToken is a structurally valid TimeStampToken; nothing is verified yet.
type parsedToken struct {
	eContent []byte // DER TSTInfo
	info     tstInfo
	digests  []pkix.AlgorithmIdentifier
	si       signerInfo
	certs    []*x509.Certificate // as carried in the token
	signer   *x509.Certificate   // nil if not found
	certErr  error               // first certificate parse error, if any
}

// parseToken decodes a TimeStampToken. All failures wrap ErrMalformed. extra are
// candidate signer certificates for tokens issued without certificates.
func parseToken(der []byte, extra []*x509.Certificate) (*parsedToken, error) {
	var ci contentInfo
	if err := unmarshalDER(der, &ci, "content info"); err != nil {
		return nil, err
	}
	if !ci.ContentType.Equal(oidSignedData()) {
		return nil, fmt.Errorf("%w: content type %v is not signed-data", ErrMalformed, ci.ContentType)
	}
	var sd signedData
	if err := unmarshalDER(ci.Content.Bytes, &sd, "signed data"); err != nil {
		return nil, err
	}
	if sd.Version != 3 {
		return nil, fmt.Errorf("%w: signed data version %d, want 3", ErrMalformed, sd.Version)
	}
	eci := sd.EncapContentInfo
	if !eci.EContentType.Equal(oidTSTInfo()) {
		return nil, fmt.Errorf("%w: encapsulated content type %v is not id-ct-TSTInfo", ErrMalformed, eci.EContentType)
	}
	var octets []byte
	if err := unmarshalDER(eci.EContent.Bytes, &octets, "encapsulated content"); err != nil {
		return nil, err
	}
	// RFC 3161 §2.4.2: the token MUST NOT contain any signature other than the TSA's.
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("%w: %d signer infos, want 1", ErrMalformed, len(sd.SignerInfos))
	}
	pt := &parsedToken{eContent: octets, digests: sd.DigestAlgorithms}
	if err := unmarshalDER(sd.SignerInfos[0].FullBytes, &pt.si, "signer info"); err != nil {
		return nil, err
	}
	if len(pt.si.SignedAttrs.FullBytes) == 0 {
		return nil, fmt.Errorf("%w: signer info without signed attributes", ErrMalformed)
	}
	if err := unmarshalDER(octets, &pt.info, "tst info"); err != nil {
		return nil, err
	}
	if pt.info.Version != 1 {
		return nil, fmt.Errorf("%w: tst info version %d, want 1", ErrMalformed, pt.info.Version)
	}
	if pt.info.SerialNumber == nil || pt.info.Nonce != nil && pt.info.Nonce.Sign() < 0 {
		return nil, fmt.Errorf("%w: tst info serial or nonce", ErrMalformed)
	}
	for rest := sd.Certificates.Bytes; len(rest) > 0; {
		var choice asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &choice); err != nil {
			return nil, fmt.Errorf("%w: certificates: %w", ErrMalformed, err)
		}
		if choice.Class != asn1.ClassUniversal || choice.Tag != asn1.TagSequence {
			continue // attribute or other certificate formats (RFC 5652 §10.2.2)
		}
		c, err := x509.ParseCertificate(choice.FullBytes)
		if err != nil {
			if pt.certErr == nil {
				pt.certErr = err
			}
			continue
		}
		pt.certs = append(pt.certs, c)
	}
	signer, err := findSigner(pt.si, append(pt.certs[:len(pt.certs):len(pt.certs)], extra...))
	if err != nil {
		return nil, err
	}
	pt.signer = signer
	return pt, nil
}

// findSigner matches the SignerIdentifier against certs. It returns nil, nil when no
// certificate matches.
func findSigner(si signerInfo, certs []*x509.Certificate) (*x509.Certificate, error) {
	sid := si.SID
	switch {
	case si.Version == 1 && sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias issuerAndSerialNumber
		if err := unmarshalDER(sid.FullBytes, &ias, "signer identifier"); err != nil {
			return nil, err
		}
		for _, c := range certs {
			if c.SerialNumber.Cmp(ias.Serial) == 0 && sameName(c.RawIssuer, ias.Issuer.FullBytes) {
				return c, nil
			}
		}
	case si.Version == 3 && sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 && !sid.IsCompound:
		for _, c := range certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c, nil
			}
		}
	default:
		return nil, fmt.Errorf("%w: signer info version %d with signer identifier tag %d", ErrMalformed, si.Version, sid.Tag)
	}
	return nil, nil
}

// sameName compares two DER Names: byte-equal, or equal after decoding (different
// string types for the same text), the way OpenSSL's X509_NAME_cmp tolerates.
func sameName(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var ra, rb pkix.RDNSequence
	if unmarshalDER(a, &ra, "name") != nil || unmarshalDER(b, &rb, "name") != nil {
		return false
	}
	return ra.String() == rb.String()
}

// checkSignedAttrs verifies the SignerInfo against the encapsulated TSTInfo and the
// signer: digest algorithms, content-type, message-digest, ESS signing certificate
// (v1 or v2, when present) and the signature itself. Failures wrap ErrBadSignature.
func checkSignedAttrs(pt *parsedToken) error {
	h, ok := hashFromAlg(pt.si.DigestAlgorithm)
	if !ok {
		return fmt.Errorf("%w: digest algorithm %v (want SHA-256/384/512)", ErrBadSignature, pt.si.DigestAlgorithm.Algorithm)
	}
	listed := false
	for _, d := range pt.digests {
		if dh, ok := hashFromAlg(d); ok && dh == h {
			listed = true
		}
	}
	if !listed {
		return fmt.Errorf("%w: digest algorithm not listed in signed data", ErrBadSignature)
	}
	attrs, err := parseAttributes(pt.si.SignedAttrs.Bytes)
	if err != nil {
		return err
	}
	var ct asn1.ObjectIdentifier
	if err := unmarshalDER(attrs[oidContentType().String()], &ct, "content-type attribute"); err != nil || !ct.Equal(oidTSTInfo()) {
		return fmt.Errorf("%w: content-type attribute is not id-ct-TSTInfo", ErrBadSignature)
	}
	var md []byte
	if err := unmarshalDER(attrs[oidMessageDigest().String()], &md, "message-digest attribute"); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if !bytes.Equal(md, digestOf(h, pt.eContent)) {
		return fmt.Errorf("%w: message-digest does not match the TSTInfo", ErrBadSignature)
	}
	if v1, ok := attrs[oidSigningCert().String()]; ok {
		if err := checkESSv1(v1, pt.signer); err != nil {
			return err
		}
	}
	if v2, ok := attrs[oidSigningCertV2().String()]; ok {
		if err := checkESSv2(v2, pt.signer); err != nil {
			return err
		}
	}
	signed := bytes.Clone(pt.si.SignedAttrs.FullBytes)
	signed[0] = 0x31 // [0] IMPLICIT → SET OF for the signature input (RFC 5652 §5.4)
	if err := checkSignature(pt.signer.PublicKey, pt.si.SignatureAlgorithm, h, signed, pt.si.Signature); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}

// parseAttributes returns the single value of each signed attribute by OID string.
// RFC 5652 §5.3 forbids repeating content-type/message-digest; repeats of any
// attribute and multi-valued attributes are rejected.
func parseAttributes(der []byte) (map[string][]byte, error) {
	out := make(map[string][]byte)
	for rest := der; len(rest) > 0; {
		var a attribute
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			return nil, fmt.Errorf("%w: signed attributes: %w", ErrBadSignature, err)
		}
		if a.Values.Class != asn1.ClassUniversal || a.Values.Tag != asn1.TagSet {
			return nil, fmt.Errorf("%w: attribute %v values are not a SET", ErrBadSignature, a.Type)
		}
		var v asn1.RawValue
		r, err := asn1.Unmarshal(a.Values.Bytes, &v)
		if err != nil || len(r) != 0 {
			return nil, fmt.Errorf("%w: attribute %v must have exactly one value", ErrBadSignature, a.Type)
		}
		k := a.Type.String()
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%w: repeated attribute %v", ErrBadSignature, a.Type)
		}
		out[k] = v.FullBytes
	}
	return out, nil
}

func checkESSv1(der []byte, signer *x509.Certificate) error {
	var sc signingCertificate
	if err := unmarshalDER(der, &sc, "signingCertificate"); err != nil || len(sc.Certs) == 0 {
		return fmt.Errorf("%w: malformed signingCertificate attribute", ErrBadSignature)
	}
	id := sc.Certs[0] // the first ESSCertID identifies the signer (RFC 2634 §5.4)
	return checkESSCertID(crypto.SHA1, id.CertHash, id.IssuerSerial, signer)
}

func checkESSv2(der []byte, signer *x509.Certificate) error {
	var sc signingCertificateV2
	if err := unmarshalDER(der, &sc, "signingCertificateV2"); err != nil || len(sc.Certs) == 0 {
		return fmt.Errorf("%w: malformed signingCertificateV2 attribute", ErrBadSignature)
	}
	id := sc.Certs[0]
	h := crypto.SHA256 // DEFAULT id-sha256 (RFC 5035 §4)
	if id.HashAlgorithm.Algorithm != nil {
		var ok bool
		if h, ok = hashFromAlg(id.HashAlgorithm); !ok {
			return fmt.Errorf("%w: ESSCertIDv2 hash %v", ErrBadSignature, id.HashAlgorithm.Algorithm)
		}
	}
	return checkESSCertID(h, id.CertHash, id.IssuerSerial, signer)
}

func checkESSCertID(h crypto.Hash, certHash []byte, is issuerSerial, signer *x509.Certificate) error {
	if !bytes.Equal(certHash, digestOf(h, signer.Raw)) {
		return fmt.Errorf("%w: ESS certificate hash does not match the signer certificate", ErrBadSignature)
	}
	if is.Serial == nil {
		return nil
	}
	if is.Serial.Cmp(signer.SerialNumber) != 0 {
		return fmt.Errorf("%w: ESS issuerSerial does not name the signer certificate", ErrBadSignature)
	}
	for _, gn := range is.Issuer {
		if gn.Class == asn1.ClassContextSpecific && gn.Tag == 4 && sameName(gn.Bytes, signer.RawIssuer) {
			return nil
		}
	}
	return fmt.Errorf("%w: ESS issuerSerial does not name the signer's issuer", ErrBadSignature)
}
