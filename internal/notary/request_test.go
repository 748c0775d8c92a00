package notary

import (
	"encoding/asn1"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// PKIFailureInfo encodings: DER named BIT STRINGs, decoded back by ParseResponse and
// named the same way by OpenSSL.
func TestRejectionEncoding(t *testing.T) {
	tests := []struct {
		bit     int
		name    string
		openssl string
	}{
		{FailBadAlg, "badAlg", "unrecognized or unsupported algorithm identifier"},
		{FailBadRequest, "badRequest", "transaction not permitted or supported"},
		{FailBadDataFormat, "badDataFormat", "the data submitted has the wrong format"},
		{FailTimeNotAvailable, "timeNotAvailable", "the TSA's time source is not available"},
		{FailUnacceptedPolicy, "unacceptedPolicy", "the requested TSA policy is not supported by the TSA"},
		{FailUnacceptedExtension, "unacceptedExtension", "the requested extension is not supported by the TSA"},
		{FailAddInfoNotAvailable, "addInfoNotAvailable", "the additional information requested could not be understood or is not available"},
		{FailSystemFailure, "systemFailure", "the request cannot be handled due to system failure"},
	}
	work := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			der := marshalResponse(StatusRejection, tc.bit, "motivo: ñ", nil)
			_, err := ParseResponse(der)
			var se *StatusError
			if !errors.As(err, &se) || se.FailInfo != 1<<tc.bit || !se.Has(tc.bit) || se.Status != StatusRejection ||
				len(se.Text) != 1 || se.Text[0] != "motivo: ñ" {
				t.Fatalf("ParseResponse: %#v", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "rejection ("+tc.name+")") || !strings.Contains(msg, "motivo") {
				t.Errorf("Error() = %q", msg)
			}
			// The BIT STRING is minimal: no trailing zero bits (X.690 §11.2.2).
			var resp timeStampResp
			if _, err := asn1.Unmarshal(der, &resp); err != nil || resp.Status.FailInfo.BitLength != tc.bit+1 {
				t.Errorf("bit length %d, want %d", resp.Status.FailInfo.BitLength, tc.bit+1)
			}
			p := filepath.Join(work, tc.name+".tsr")
			writeFile(t, p, der)
			if out := mustOpenSSL(t, work, "ts", "-reply", "-in", p, "-text"); !strings.Contains(out, tc.openssl) {
				t.Errorf("openssl: missing %q in\n%s", tc.openssl, out)
			}
		})
	}
	// The precomputed fallback is a valid systemFailure rejection.
	_, err := ParseResponse(systemFailureResponse())
	if se, ok := errors.AsType[*StatusError](err); !ok || se.FailInfo != 1<<FailSystemFailure {
		t.Errorf("systemFailureResponse: %v", err)
	}
	// Unknown bits and statuses are still reported.
	if msg := (&StatusError{Status: 9, FailInfo: 1<<3 | 1<<FailBadAlg}).Error(); !strings.Contains(msg, "unknown(9)") || !strings.Contains(msg, "badAlg, bit3") {
		t.Errorf("Error() = %q", msg)
	}
	// Granted without a token, and a non-ContentInfo token, are malformed.
	for _, der := range [][]byte{marshalResponse(StatusGranted, -1, "", nil), marshalResponse(StatusGranted, -1, "", []byte{0x02, 0x01, 0x01})} {
		if _, err := ParseResponse(der); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseResponse(%x): %v", der, err)
		}
	}
}
