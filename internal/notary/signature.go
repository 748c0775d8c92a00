package notary

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// checkSignature verifies a SignerInfo signature over the DER signed attributes,
// hashed with the SignerInfo digest algorithm h (RFC 5652 §5.4/§5.6).
//
// Supported: RSA PKCS #1 v1.5 (rsaEncryption, the form GlobalSign and OpenSSL use,
// or sha{256,384,512}WithRSAEncryption, RFC 4055) and ECDSA (ecdsa-with-SHA*, RFC
// 5758, or id-ecPublicKey as some encoders write). When the signature algorithm names
// a hash it must equal h, so that the signed digest is unambiguous. RSASSA-PSS and
// EdDSA are not accepted yet: no TSA we interoperate with uses them.
func checkSignature(pub crypto.PublicKey, alg pkix.AlgorithmIdentifier, h crypto.Hash, signed, sig []byte) error {
	oid := alg.Algorithm
	named, hasHash := signatureHash(oid)
	if hasHash && named != h {
		return fmt.Errorf("signature algorithm %v does not match digest algorithm %v", oid, h)
	}
	if !nullOrAbsent(alg.Parameters) {
		return fmt.Errorf("signature algorithm %v: unexpected parameters", oid)
	}
	digest := digestOf(h, signed)
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if !oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}) && !(hasHash && isRSAOID(oid)) {
			return fmt.Errorf("signature algorithm %v for an RSA key: %w", oid, errors.ErrUnsupported)
		}
		return rsa.VerifyPKCS1v15(pub, h, digest, sig)
	case *ecdsa.PublicKey:
		if !oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}) && !(hasHash && !isRSAOID(oid)) {
			return fmt.Errorf("signature algorithm %v for an ECDSA key: %w", oid, errors.ErrUnsupported)
		}
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return errors.New("ecdsa signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("public key %T: %w", pub, errors.ErrUnsupported)
}

// signatureHash returns the hash named by a hash-specific signature algorithm.
func signatureHash(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		h   crypto.Hash
	}{
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, crypto.SHA256},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}, crypto.SHA384},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}, crypto.SHA512},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, crypto.SHA256},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, crypto.SHA384},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, crypto.SHA512},
	} {
		if oid.Equal(a.oid) {
			return a.h, true
		}
	}
	return 0, false
}

func isRSAOID(oid asn1.ObjectIdentifier) bool {
	return len(oid) == 7 && oid[:6].Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1})
}
