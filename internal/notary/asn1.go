package notary

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// Object identifiers. They are functions rather than package variables so that no
// caller can mutate a shared slice (STYLE §7: no mutable package-level state).

// DefaultPolicy is the TSA policy of a built-in Authority when AuthorityOptions.Policy
// is empty: 1.3.6.1.4.1.32473.3161.1.
//
// 1.3.6.1.4.1.32473 is the IANA Private Enterprise Number reserved for documentation
// (RFC 5612), so it cannot collide with a real organisation's arc. It is a placeholder:
// once Resguardo registers its own PEN, deployments should set Policy to an OID under
// it. Tokens carry the policy they were issued under, so old tokens stay verifiable.
func DefaultPolicy() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 3161, 1}
}

func oidSignedData() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2} }

// id-ct-TSTInfo, RFC 3161 §2.4.2.
func oidTSTInfo() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
}
func oidContentType() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
}
func oidMessageDigest() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
}

// id-aa-signingCertificate (RFC 2634 §5.4) and id-aa-signingCertificateV2 (RFC 5035 §3).
func oidSigningCert() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
}
func oidSigningCertV2() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
}

func oidExtKeyUsage() asn1.ObjectIdentifier  { return asn1.ObjectIdentifier{2, 5, 29, 37} }
func oidTimeStamping() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8} }
func oidECDSAWithSHA256() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
}

// hashOID returns the algorithm identifier of the SHA-2 hashes accepted in message
// imprints and CMS digests.
func hashOID(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	switch h {
	case crypto.SHA256:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, true
	case crypto.SHA384:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, true
	case crypto.SHA512:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}, true
	}
	return nil, false
}

// hashFromAlg maps an AlgorithmIdentifier to SHA-256/384/512. Parameters must be
// absent or NULL (RFC 5754 §2: implementations MUST accept both).
func hashFromAlg(alg pkix.AlgorithmIdentifier) (crypto.Hash, bool) {
	if !nullOrAbsent(alg.Parameters) {
		return 0, false
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if oid, _ := hashOID(h); alg.Algorithm.Equal(oid) {
			return h, true
		}
	}
	return 0, false
}

func nullOrAbsent(p asn1.RawValue) bool {
	return len(p.FullBytes) == 0 || bytes.Equal(p.FullBytes, asn1.NullBytes)
}

// hashAlg is the AlgorithmIdentifier for h. withNull selects NULL parameters, which
// is what OpenSSL and most clients send in a MessageImprint; CMS digest algorithms
// are generated with absent parameters (RFC 5754 §2).
func hashAlg(h crypto.Hash, withNull bool) (pkix.AlgorithmIdentifier, error) {
	oid, ok := hashOID(h)
	if !ok {
		return pkix.AlgorithmIdentifier{}, fmt.Errorf("%w: hash %v", errUnsupportedHash, h)
	}
	a := pkix.AlgorithmIdentifier{Algorithm: oid}
	if withNull {
		a.Parameters = asn1.NullRawValue
	}
	return a, nil
}

// messageImprint, RFC 3161 §2.4.1.
type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

// timeStampReq, RFC 3161 §2.4.1.
type timeStampReq struct {
	Version        int
	MessageImprint messageImprint
	ReqPolicy      asn1.ObjectIdentifier `asn1:"optional"`
	Nonce          *big.Int              `asn1:"optional"`
	CertReq        bool                  `asn1:"optional"`
	Extensions     asn1.RawValue         `asn1:"optional,tag:0"`
}

// pkiStatusInfo, RFC 3161 §2.4.2 (PKIFreeText is a SEQUENCE OF UTF8String).
type pkiStatusInfo struct {
	Status       int
	StatusString []asn1.RawValue `asn1:"optional"`
	FailInfo     asn1.BitString  `asn1:"optional"`
}

// timeStampResp, RFC 3161 §2.4.2.
type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

// accuracy, RFC 3161 §2.4.2.
type accuracy struct {
	Seconds int `asn1:"optional"`
	Millis  int `asn1:"optional,tag:0"`
	Micros  int `asn1:"optional,tag:1"`
}

// tstInfo, RFC 3161 §2.4.2. Tsa is the [0] EXPLICIT GeneralName wrapper (kept raw,
// see tsaName); Extensions is [1] IMPLICIT.
type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	SerialNumber   *big.Int
	GenTime        time.Time     `asn1:"generalized"`
	Accuracy       accuracy      `asn1:"optional"`
	Ordering       bool          `asn1:"optional"`
	Nonce          *big.Int      `asn1:"optional"`
	Tsa            asn1.RawValue `asn1:"optional,tag:0"`
	Extensions     asn1.RawValue `asn1:"optional,tag:1"`
}

// essCertID, RFC 2634 §5.4.1 (SHA-1 certHash); essCertIDv2, RFC 5035 §4 / RFC 5816
// (hashAlgorithm DEFAULT id-sha256, so it is omitted for SHA-256 in DER).
type essCertID struct {
	CertHash     []byte
	IssuerSerial issuerSerial `asn1:"optional"`
}

type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"`
	CertHash      []byte
	IssuerSerial  issuerSerial `asn1:"optional"`
}

type signingCertificate struct {
	Certs    []essCertID
	Policies asn1.RawValue `asn1:"optional"`
}

type signingCertificateV2 struct {
	Certs    []essCertIDv2
	Policies asn1.RawValue `asn1:"optional"`
}

// issuerSerial, RFC 5035 §4: issuer is GeneralNames (SEQUENCE OF GeneralName).
type issuerSerial struct {
	Issuer []asn1.RawValue
	Serial *big.Int
}

// directoryName wraps a DER Name as the GeneralName directoryName [4] (explicit,
// because Name is a CHOICE).
func directoryName(rawName []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: rawName}
}

// utf8Strings encodes a PKIFreeText.
func utf8Strings(text []string) []asn1.RawValue {
	var out []asn1.RawValue
	for _, s := range text {
		out = append(out, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(s)})
	}
	return out
}

// unmarshalDER parses exactly one DER value, rejecting trailing bytes.
func unmarshalDER(der []byte, v any, what string) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %s: %d trailing bytes", ErrMalformed, what, len(rest))
	}
	return nil
}

// derSet encodes elements as a DER SET OF: sorted by their encodings (X.690 §11.6).
// Complete TLVs cannot be proper prefixes of each other, so bytes.Compare suffices.
func derSet(elems [][]byte) []byte {
	rv := asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: sortedConcat(elems)}
	out, _ := asn1.Marshal(rv) // a RawValue with Bytes always marshals
	return out
}

// sortedConcat is the contents of a DER SET OF elems.
func sortedConcat(elems [][]byte) []byte {
	sorted := slices.Clone(elems)
	slices.SortFunc(sorted, bytes.Compare)
	return bytes.Join(sorted, nil)
}

// cloneOID copies an OID so that Stamps never share backing arrays.
func cloneOID(o asn1.ObjectIdentifier) asn1.ObjectIdentifier {
	if o == nil {
		return nil
	}
	return slices.Clone(o)
}
