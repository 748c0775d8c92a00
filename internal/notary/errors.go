package notary

import (
	"errors"
	"fmt"
	"strings"
)

// Verification failures. Verify, Client.Timestamp and ParseToken wrap exactly one of
// the first four so that callers (resguardo verify, constancia) can name the failed step
// with errors.Is.
var (
	// ErrMalformed: the token, response or request is not valid DER of the expected
	// RFC 3161 / RFC 5652 structure.
	ErrMalformed = errors.New("notary: malformed timestamp")
	// ErrImprintMismatch: the TSTInfo messageImprint is not the expected digest (or
	// uses an algorithm the caller does not accept).
	ErrImprintMismatch = errors.New("notary: message imprint mismatch")
	// ErrBadSignature: the CMS signature, the signed attributes (content-type,
	// message-digest, ESS signing certificate) or the algorithms are not acceptable.
	ErrBadSignature = errors.New("notary: bad timestamp signature")
	// ErrUntrustedSigner: the signer certificate was not found, does not chain to the
	// roots at genTime, or is not a time-stamping certificate (RFC 3161 §2.3).
	ErrUntrustedSigner = errors.New("notary: untrusted timestamp signer")

	// ErrNonceMismatch: the response does not echo the request nonce (Client).
	ErrNonceMismatch = errors.New("notary: nonce mismatch")
	// ErrPolicyMismatch: the response policy is not the requested one (Client).
	ErrPolicyMismatch = errors.New("notary: policy mismatch")
	// ErrTimeSkew: genTime is too far from the local clock (Client).
	ErrTimeSkew = errors.New("notary: timestamp time too far from local clock")
)

// errUnsupportedHash is returned by NewRequest and the Authority for hash algorithms
// other than SHA-256/384/512 or digests of the wrong length.
var errUnsupportedHash = errors.New("notary: unsupported hash algorithm")

// PKIStatus values, RFC 3161 §2.4.2.
const (
	StatusGranted                = 0
	StatusGrantedWithMods        = 1
	StatusRejection              = 2
	StatusWaiting                = 3
	StatusRevocationWarning      = 4
	StatusRevocationNotification = 5
)

// PKIFailureInfo bits, RFC 3161 §2.4.2. StatusError.FailInfo has bit 1<<n set for
// the named bit n.
const (
	FailBadAlg              = 0
	FailBadRequest          = 2
	FailBadDataFormat       = 5
	FailTimeNotAvailable    = 14
	FailUnacceptedPolicy    = 15
	FailUnacceptedExtension = 16
	FailAddInfoNotAvailable = 17
	FailSystemFailure       = 25
)

// StatusError is a TimeStampResp whose PKIStatus is neither granted nor
// grantedWithMods.
type StatusError struct {
	Status   int      // PKIStatus
	FailInfo int      // PKIFailureInfo bits: 1<<FailBadAlg, …
	Text     []string // PKIFreeText statusString
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "notary: tsa status %s", statusName(e.Status))
	if names := failInfoNames(e.FailInfo); len(names) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(names, ", "))
	}
	if len(e.Text) > 0 {
		fmt.Fprintf(&b, ": %q", strings.Join(e.Text, "; "))
	}
	return b.String()
}

// Has reports whether failure bit n (FailBadAlg, …) is set.
func (e *StatusError) Has(n int) bool { return n >= 0 && n < 63 && e.FailInfo&(1<<n) != 0 }

func statusName(s int) string {
	switch s {
	case StatusGranted:
		return "granted"
	case StatusGrantedWithMods:
		return "grantedWithMods"
	case StatusRejection:
		return "rejection"
	case StatusWaiting:
		return "waiting"
	case StatusRevocationWarning:
		return "revocationWarning"
	case StatusRevocationNotification:
		return "revocationNotification"
	}
	return fmt.Sprintf("unknown(%d)", s)
}

func failInfoNames(bits int) []string {
	names := []struct {
		bit  int
		name string
	}{
		{FailBadAlg, "badAlg"},
		{FailBadRequest, "badRequest"},
		{FailBadDataFormat, "badDataFormat"},
		{FailTimeNotAvailable, "timeNotAvailable"},
		{FailUnacceptedPolicy, "unacceptedPolicy"},
		{FailUnacceptedExtension, "unacceptedExtension"},
		{FailAddInfoNotAvailable, "addInfoNotAvailable"},
		{FailSystemFailure, "systemFailure"},
	}
	var out []string
	known := 0
	for _, n := range names {
		known |= 1 << n.bit
		if bits&(1<<n.bit) != 0 {
			out = append(out, n.name)
		}
	}
	for i := range 63 {
		if bits&^known&(1<<i) != 0 {
			out = append(out, fmt.Sprintf("bit%d", i))
		}
	}
	return out
}
