package notary

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The GlobalSign tokens in the corpus carry the TSA certificate and its issuing CA but
// not the root (Adobe Root CA, GlobalSign Root CA - R3), so the tests anchor trust at
// the top certificate of the carried chain.

func corpusToken(t *testing.T, name string) []byte {
	t.Helper()
	b := readCorpus(t, name)
	if name == "timeStampToken" {
		return b
	}
	tok, err := ParseResponse(b)
	if err != nil {
		t.Fatalf("ParseResponse(%s): %v", name, err)
	}
	return tok
}

// topOfChain returns the carried certificate that is not the signer.
func topOfChain(t *testing.T, token []byte) (signer, top *x509.Certificate) {
	t.Helper()
	st, err := ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Chain) != 2 {
		t.Fatalf("chain has %d certificates, want 2", len(st.Chain))
	}
	return st.Chain[0], st.Chain[1]
}

func TestVerifyCorpusGlobalSign(t *testing.T) {
	hashed := readCorpus(t, "hashedMessage")
	// timeStampToken was issued for a different message: its imprint is not
	// hashedMessage (the corpus does not include that message).
	tstImprint, _ := hex.DecodeString("2da82c1572ff020524e05069219975c9ba90723f1a4dd5b9722aee8ec547a2ff")
	tests := []struct {
		name      string
		digest    []byte
		time      string
		nonce     string // hex, "" = none
		policy    string
		authority string
	}{
		{"respNonce", hashed, "2017-04-19T06:29:53Z", "092ef19ffb5d2ae8", "1.3.6.1.4.1.4146.2.1", "CN=GlobalSign TSA for Adobe CDS - G2,O=GMO GlobalSign Pte Ltd,C=SG"},
		{"respNoNonce", hashed, "2017-04-19T06:28:13Z", "", "1.3.6.1.4.1.4146.2.1", "CN=GlobalSign TSA for Adobe CDS - G2,O=GMO GlobalSign Pte Ltd,C=SG"},
		{"timeStampToken", tstImprint, "2017-02-01T15:39:50Z", "3f2b95d0728bed57", "1.3.6.1.4.1.4146.1.31", "CN=Globalsign TSA for AATL - SHA256 - G2,O=GMO GlobalSign Pte Ltd,C=SG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := corpusToken(t, tc.name)
			signer, top := topOfChain(t, tok)
			st, err := Verify(tok, tc.digest, VerifyOptions{Roots: pool(top), Hash: crypto.SHA256})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got := st.Time.Format(time.RFC3339); got != tc.time {
				t.Errorf("Time = %s, want %s", got, tc.time)
			}
			var wantNonce *big.Int
			if tc.nonce != "" {
				wantNonce, _ = new(big.Int).SetString(tc.nonce, 16)
			}
			if (st.Nonce == nil) != (wantNonce == nil) || st.Nonce != nil && st.Nonce.Cmp(wantNonce) != 0 {
				t.Errorf("Nonce = %v, want %v", st.Nonce, wantNonce)
			}
			if st.Policy.String() != tc.policy || st.Hash != crypto.SHA256 || st.Authority != tc.authority {
				t.Errorf("Policy %v Hash %v Authority %q", st.Policy, st.Hash, st.Authority)
			}
			if len(st.Chain) != 2 || st.Chain[0] != signer && !st.Chain[0].Equal(signer) {
				t.Errorf("Chain = %v", st.Chain)
			}

			// OpenSSL agrees when anchored at the same certificate at genTime.
			work := t.TempDir()
			writeFile(t, filepath.Join(work, "tok.der"), tok)
			writeFile(t, filepath.Join(work, "top.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: top.Raw}))
			if out := mustOpenSSL(t, work, "ts", "-verify", "-digest", hex.EncodeToString(tc.digest), "-token_in", "-in", "tok.der",
				"-CAfile", "top.pem", "-partial_chain", "-attime", strconv.FormatInt(st.Time.Unix(), 10)); !strings.Contains(out, "Verification: OK") {
				t.Errorf("openssl:\n%s", out)
			}

			// The same token against the wrong digest, wrong roots, no roots.
			if _, err := Verify(tok, digestOfString("other"), VerifyOptions{Roots: pool(top)}); !errors.Is(err, ErrImprintMismatch) {
				t.Errorf("wrong digest: %v", err)
			}
			other, _ := newAuthority(t, AuthorityOptions{})
			if _, err := Verify(tok, tc.digest, VerifyOptions{Roots: pool(other.CACert())}); !errors.Is(err, ErrUntrustedSigner) {
				t.Errorf("wrong roots: %v", err)
			}
			if _, err := Verify(tok, tc.digest, VerifyOptions{}); !errors.Is(err, ErrUntrustedSigner) {
				t.Errorf("no roots: %v", err)
			}
			if _, err := Verify(tok, tc.digest, VerifyOptions{Roots: pool(top), Hash: crypto.SHA512}); !errors.Is(err, ErrImprintMismatch) {
				t.Errorf("wrong hash: %v", err)
			}
		})
	}
}

// respNoCert was requested with certReq=false: the signer (the same GlobalSign TSA
// certificate as respNonce) must be supplied through VerifyOptions.Certificates.
func TestVerifyCorpusNoCert(t *testing.T) {
	hashed := readCorpus(t, "hashedMessage")
	tok := corpusToken(t, "respNoCert")
	signer, top := topOfChain(t, corpusToken(t, "respNonce"))
	if _, err := Verify(tok, hashed, VerifyOptions{Roots: pool(top)}); !errors.Is(err, ErrUntrustedSigner) {
		t.Fatalf("without certificates: %v, want ErrUntrustedSigner", err)
	}
	st, err := Verify(tok, hashed, VerifyOptions{Roots: pool(top), Certificates: []*x509.Certificate{signer}})
	if err != nil {
		t.Fatalf("with the signer supplied: %v", err)
	}
	if len(st.Chain) != 2 {
		t.Errorf("chain %d", len(st.Chain))
	}
	pst, err := ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(pst.Chain) != 0 || pst.Authority != "CN=GlobalSign TSA for Adobe CDS - G2,O=GMO GlobalSign Pte Ltd,C=SG" {
		t.Errorf("ParseToken without certs: chain %d, authority %q (from the tsa field)", len(pst.Chain), pst.Authority)
	}
}

// The corpus requests were made by OpenSSL; NewRequest must encode the same bytes.
func TestNewRequestMatchesCorpus(t *testing.T) {
	hashed := readCorpus(t, "hashedMessage")
	n := func(s string) *big.Int { v, _ := new(big.Int).SetString(s, 16); return v }
	tests := []struct {
		file    string
		nonce   *big.Int
		certReq bool
	}{
		{"reqNonce", n("092ef19ffb5d2ae8"), true},
		{"reqNoNonce", nil, true},
		{"reqNoCert", n("b1fc81dec95749d9"), false},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			want := readCorpus(t, tc.file)
			got, err := NewRequest(hashed, crypto.SHA256, tc.nonce, tc.certReq, nil)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != hex.EncodeToString(want) {
				t.Errorf("NewRequest =\n%x\nwant\n%x", got, want)
			}
			pr, rerr := parseRequest(want)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if pr.hash != crypto.SHA256 || pr.certReq != tc.certReq || (pr.nonce == nil) != (tc.nonce == nil) {
				t.Errorf("parseRequest = %+v", pr)
			}
		})
	}
	if _, err := NewRequest(hashed[:20], crypto.SHA256, nil, true, nil); err == nil {
		t.Error("short digest accepted")
	}
	if _, err := NewRequest(hashed[:20], crypto.SHA1, nil, true, nil); err == nil {
		t.Error("SHA-1 accepted")
	}
	if _, err := NewRequest(hashed, crypto.SHA256, big.NewInt(-1), true, nil); err == nil {
		t.Error("negative nonce accepted")
	}
	der, err := NewRequest(hashed, crypto.SHA256, nil, false, asn1.ObjectIdentifier{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if pr, rerr := parseRequest(der); rerr != nil || !pr.policy.Equal(asn1.ObjectIdentifier{1, 2, 3}) {
		t.Errorf("policy round trip: %v %v", pr, rerr)
	}
}
