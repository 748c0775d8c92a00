package notary

import (
	"crypto"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// NewRequest encodes a DER TimeStampReq (RFC 3161 §2.4.1) for digest, computed with
// hash (SHA-256, SHA-384 or SHA-512). nonce and policy are optional (nil). The hash
// AlgorithmIdentifier carries NULL parameters, as OpenSSL and most clients send.
func NewRequest(digest []byte, hash crypto.Hash, nonce *big.Int, certReq bool, policy asn1.ObjectIdentifier) ([]byte, error) {
	alg, err := hashAlg(hash, true)
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	if len(digest) != hash.Size() {
		return nil, fmt.Errorf("new request: %w: %d-byte digest for %v", errUnsupportedHash, len(digest), hash)
	}
	if nonce != nil && nonce.Sign() < 0 {
		return nil, fmt.Errorf("new request: negative nonce")
	}
	req := timeStampReq{
		Version:        1,
		MessageImprint: messageImprint{HashAlgorithm: alg, HashedMessage: digest},
		Nonce:          nonce,
		CertReq:        certReq,
	}
	if len(policy) > 0 {
		req.ReqPolicy = policy
	}
	der, err := asn1.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	return der, nil
}

// parsedRequest is a validated TimeStampReq. Failures carry the PKIFailureInfo bit the
// Authority answers with.
type parsedRequest struct {
	imprint messageImprint // copied verbatim into TSTInfo (RFC 3161 §2.4.2)
	hash    crypto.Hash
	policy  asn1.ObjectIdentifier
	nonce   *big.Int
	certReq bool
}

type requestError struct {
	bit  int
	text string
}

func (e *requestError) Error() string { return e.text }

func parseRequest(der []byte) (*parsedRequest, *requestError) {
	var req timeStampReq
	if err := unmarshalDER(der, &req, "timestamp request"); err != nil {
		return nil, &requestError{FailBadDataFormat, err.Error()}
	}
	if req.Version != 1 {
		return nil, &requestError{FailBadDataFormat, fmt.Sprintf("unsupported request version %d", req.Version)}
	}
	h, ok := hashFromAlg(req.MessageImprint.HashAlgorithm)
	if !ok {
		return nil, &requestError{FailBadAlg, fmt.Sprintf("unsupported hash algorithm %v (want SHA-256, SHA-384 or SHA-512)", req.MessageImprint.HashAlgorithm.Algorithm)}
	}
	if len(req.MessageImprint.HashedMessage) != h.Size() {
		return nil, &requestError{FailBadDataFormat, fmt.Sprintf("%d-byte imprint for %v", len(req.MessageImprint.HashedMessage), h)}
	}
	if req.Extensions.FullBytes != nil {
		return nil, &requestError{FailUnacceptedExtension, "request extensions are not supported"}
	}
	if req.Nonce != nil && req.Nonce.Sign() < 0 {
		return nil, &requestError{FailBadDataFormat, "negative nonce"}
	}
	return &parsedRequest{
		imprint: req.MessageImprint,
		hash:    h,
		policy:  req.ReqPolicy,
		nonce:   req.Nonce,
		certReq: req.CertReq,
	}, nil
}

// ParseResponse decodes a DER TimeStampResp (RFC 3161 §2.4.2) and returns its
// TimeStampToken, unverified. A status other than granted/grantedWithMods is
// returned as *StatusError (use errors.As); structural problems wrap ErrMalformed.
func ParseResponse(der []byte) (token []byte, err error) {
	var resp timeStampResp
	if err := unmarshalDER(der, &resp, "timestamp response"); err != nil {
		return nil, err
	}
	st := resp.Status
	if st.Status != StatusGranted && st.Status != StatusGrantedWithMods {
		se := &StatusError{Status: st.Status}
		for i := 0; i < st.FailInfo.BitLength && i < 63; i++ {
			if st.FailInfo.At(i) == 1 {
				se.FailInfo |= 1 << i
			}
		}
		for _, s := range st.StatusString {
			se.Text = append(se.Text, string(s.Bytes))
		}
		return nil, se
	}
	if len(resp.TimeStampToken.FullBytes) == 0 {
		return nil, fmt.Errorf("%w: status %s without a token", ErrMalformed, statusName(st.Status))
	}
	if resp.TimeStampToken.Class != asn1.ClassUniversal || resp.TimeStampToken.Tag != asn1.TagSequence {
		return nil, fmt.Errorf("%w: token is not a ContentInfo", ErrMalformed)
	}
	return resp.TimeStampToken.FullBytes, nil
}

// marshalResponse encodes a TimeStampResp; token is nil for rejections. It cannot fail
// for the values the Authority produces; should it, a fixed systemFailure is returned.
func marshalResponse(status int, failBit int, text string, token []byte) []byte {
	resp := timeStampResp{Status: pkiStatusInfo{Status: status}}
	if text != "" {
		resp.Status.StatusString = utf8Strings([]string{text})
	}
	if failBit >= 0 {
		resp.Status.FailInfo = namedBit(failBit)
	}
	if token != nil {
		resp.TimeStampToken = asn1.RawValue{FullBytes: token}
	}
	der, err := asn1.Marshal(resp)
	if err != nil {
		return systemFailureResponse()
	}
	return der
}

// systemFailureResponse is a precomputed rejection:
// SEQUENCE { SEQUENCE { INTEGER 2, BIT STRING systemFailure(25) } }.
func systemFailureResponse() []byte {
	return []byte{0x30, 0x0c, 0x30, 0x0a, 0x02, 0x01, 0x02, 0x03, 0x05, 0x06, 0x00, 0x00, 0x00, 0x40}
}

// namedBit encodes a PKIFailureInfo with the single named bit n set. DER drops
// trailing zero bits of a named BIT STRING (X.690 §11.2.2), so the length is n+1.
func namedBit(n int) asn1.BitString {
	b := make([]byte, n/8+1)
	b[n/8] = 0x80 >> (n % 8)
	return asn1.BitString{Bytes: b, BitLength: n + 1}
}
