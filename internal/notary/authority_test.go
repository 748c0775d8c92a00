package notary

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCreateAuthorityFiles(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	opt := AuthorityOptions{Name: "Resguardo TSA resguardo/abcd", Now: fixedClock(now)}
	a, dir := newAuthority(t, opt)

	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, %v; want 0700", st.Mode().Perm(), err)
	}
	for name, perm := range map[string]fs.FileMode{"ca.pem": 0o644, "tsa.pem": 0o644, "ca.key": 0o600, "tsa.key": 0o600} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != perm {
			t.Errorf("%s: mode %v, %v; want %v", name, st.Mode().Perm(), err, perm)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	ca, tsa := a.CACert(), a.Certificate()
	if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 || !bytes.Equal(ca.RawIssuer, ca.RawSubject) {
		t.Errorf("CA: IsCA %v KeyUsage %v", ca.IsCA, ca.KeyUsage)
	}
	if k, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("CA key %T", ca.PublicKey)
	}
	if got := ca.NotAfter.Sub(now); got < 20*365*24*time.Hour {
		t.Errorf("CA validity %v", got)
	}
	if got := tsa.NotAfter.Sub(now); got < 10*365*24*time.Hour || got > 11*365*24*time.Hour {
		t.Errorf("TSA validity %v, want 10 years", got)
	}
	if tsa.Subject.CommonName != opt.Name || tsa.IsCA || tsa.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("TSA: CN %q IsCA %v KeyUsage %v", tsa.Subject.CommonName, tsa.IsCA, tsa.KeyUsage)
	}
	if err := checkTSACert(tsa); err != nil {
		t.Errorf("TSA profile: %v", err)
	}
	if err := tsa.CheckSignatureFrom(ca); err != nil {
		t.Errorf("TSA not issued by CA: %v", err)
	}
	// OpenSSL reads the profile the same way.
	out := mustOpenSSL(t, dir, "x509", "-in", "tsa.pem", "-noout", "-ext", "extendedKeyUsage,keyUsage,basicConstraints")
	for _, want := range []string{"Extended Key Usage: critical", "Time Stamping", "Digital Signature", "CA:FALSE"} {
		if !strings.Contains(out, want) {
			t.Errorf("openssl x509: missing %q in\n%s", want, out)
		}
	}
	mustOpenSSL(t, dir, "verify", "-CAfile", "ca.pem", "-purpose", "timestampsign", "tsa.pem")
	mustOpenSSL(t, dir, "pkey", "-in", "tsa.key", "-noout")

	// Never overwritten, even partially.
	before, _ := os.ReadFile(filepath.Join(dir, "tsa.key"))
	if err := CreateAuthority(dir, opt); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second CreateAuthority: %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "tsa.key"))
	if !bytes.Equal(before, after) {
		t.Error("tsa.key changed")
	}
	partial := t.TempDir()
	writeFile(t, filepath.Join(partial, "tsa.pem"), []byte("x"))
	if err := CreateAuthority(partial, opt); !errors.Is(err, fs.ErrExist) {
		t.Errorf("with tsa.pem present: %v, want fs.ErrExist", err)
	}
	if _, err := os.Stat(filepath.Join(partial, "ca.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("ca.key written although tsa.pem existed")
	}
	if err := CreateAuthority(t.TempDir(), AuthorityOptions{Validity: 21 * 365 * 24 * time.Hour}); err == nil {
		t.Error("validity beyond the CA accepted")
	}
}

func TestLoadAuthorityErrors(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	_, good := newAuthority(t, AuthorityOptions{Now: fixedClock(now), Validity: 24 * time.Hour})
	_, other := newAuthority(t, AuthorityOptions{Now: fixedClock(now)})
	tests := []struct {
		name  string
		setup func(dir string)
		now   time.Time
	}{
		{"missing", func(dir string) { os.Remove(filepath.Join(dir, "tsa.key")) }, now},
		{"key of another authority", func(dir string) { copyFile(t, other, dir, "tsa.key") }, now},
		{"CA key as TSA key", func(dir string) { copyFile(t, dir, dir, "ca.key", "tsa.key") }, now},
		{"certificate of another CA", func(dir string) { copyFile(t, other, dir, "ca.pem") }, now},
		{"CA as TSA certificate", func(dir string) { copyFile(t, dir, dir, "ca.pem", "tsa.pem") }, now},
		{"garbage PEM", func(dir string) {
			writeFile(t, filepath.Join(dir, "tsa.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
		}, now},
		{"expired", func(string) {}, now.Add(48 * time.Hour)},
		{"not yet valid", func(string) {}, now.Add(-time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"ca.pem", "ca.key", "tsa.pem", "tsa.key"} {
				copyFile(t, good, dir, f)
			}
			tc.setup(dir)
			if _, err := LoadAuthority(dir, AuthorityOptions{Now: fixedClock(tc.now)}); err == nil {
				t.Error("LoadAuthority succeeded")
			}
		})
	}
	if _, err := LoadAuthority(good, AuthorityOptions{Now: fixedClock(now)}); err != nil {
		t.Errorf("control: %v", err)
	}
}

func copyFile(t *testing.T, from, to, name string, rename ...string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(from, name))
	if err != nil {
		t.Fatal(err)
	}
	if len(rename) > 0 {
		name = rename[0]
	}
	writeFile(t, filepath.Join(to, name), b)
}

func TestAuthorityTimestamp(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 700_000_000, time.UTC)
	policy := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 9, 9}
	a, _ := newAuthority(t, AuthorityOptions{Name: "Resguardo TSA test", Now: fixedClock(now), Policy: policy})
	ctx := context.Background()
	digest := digestOfString("checkpoint 1")
	serials := map[string]bool{}
	for range 50 {
		st, err := a.Timestamp(ctx, digest)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Time.Equal(now.Truncate(time.Second)) || st.Time.Location() != time.UTC {
			t.Errorf("Time = %v", st.Time)
		}
		if st.Hash != crypto.SHA256 || !bytes.Equal(st.Digest, digest) || st.Nonce != nil || !st.Policy.Equal(policy) {
			t.Errorf("stamp %+v", st)
		}
		if st.Authority != "CN=Resguardo TSA test" || len(st.Chain) != 2 || !st.Chain[0].Equal(a.Certificate()) || !st.Chain[1].Equal(a.CACert()) {
			t.Errorf("Authority %q chain %d", st.Authority, len(st.Chain))
		}
		if st.Serial.BitLen() != 127 || serials[st.Serial.String()] {
			t.Errorf("serial %v (bits %d) repeated or short", st.Serial, st.Serial.BitLen())
		}
		serials[st.Serial.String()] = true
	}
	if _, err := a.Timestamp(ctx, digest[:20]); err == nil {
		t.Error("20-byte digest accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Timestamp(cctx, digest); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}

	// The clock outside the certificate validity: refused, and Respond says so.
	late := *a
	late.now = fixedClock(a.Certificate().NotAfter.Add(time.Hour))
	if _, err := late.Timestamp(ctx, digest); err == nil {
		t.Error("timestamp after the certificate expired")
	}
	req, _ := NewRequest(digest, crypto.SHA256, nil, true, nil)
	var se *StatusError
	if _, err := ParseResponse(late.Respond(req)); !errors.As(err, &se) || !se.Has(FailTimeNotAvailable) {
		t.Errorf("Respond after expiry: %v", err)
	}
}

// OpenSSL is the independent verifier of our tokens: `ts -verify` with -digest and
// with -data, and `ts -reply -text` shows the fields.
func TestAuthorityTokensOpenSSL(t *testing.T) {
	a, dir := newAuthority(t, AuthorityOptions{Name: "Resguardo TSA resguardo/abcd"})
	work := t.TempDir()
	data := []byte("checkpoint\nresguardo/abcd\n42\n")
	digest := digestOfString(string(data))
	st, err := a.Timestamp(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, "token.der"), st.Token)
	writeFile(t, filepath.Join(work, "data.txt"), data)
	ca := filepath.Join(dir, "ca.pem")
	for _, args := range [][]string{
		{"ts", "-verify", "-digest", hex.EncodeToString(digest), "-token_in", "-in", "token.der", "-CAfile", ca},
		{"ts", "-verify", "-data", "data.txt", "-token_in", "-in", "token.der", "-CAfile", ca},
	} {
		if out := mustOpenSSL(t, work, args...); !strings.Contains(out, "Verification: OK") {
			t.Errorf("openssl %v:\n%s", args, out)
		}
	}
	// The wrong digest and the wrong CA are rejected by OpenSSL too.
	other, _ := newAuthority(t, AuthorityOptions{})
	writeFile(t, filepath.Join(work, "other.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.CACert().Raw}))
	for _, args := range [][]string{
		{"ts", "-verify", "-digest", hex.EncodeToString(digestOfString("x")), "-token_in", "-in", "token.der", "-CAfile", ca},
		{"ts", "-verify", "-data", "data.txt", "-token_in", "-in", "token.der", "-CAfile", "other.pem"},
	} {
		if out, err := runOpenSSL(t, work, args...); err == nil || strings.Contains(out, "Verification: OK") {
			t.Errorf("openssl %v accepted:\n%s", args, out)
		}
	}

	out := mustOpenSSL(t, work, "ts", "-reply", "-token_in", "-in", "token.der", "-text")
	for _, want := range []string{
		"Version: 1",
		"Policy OID: 1.3.6.1.4.1.32473.3161.1",
		"Hash Algorithm: sha256",
		"Serial number: 0x" + strings.ToUpper(st.Serial.Text(16)),
		"Time stamp: " + st.Time.Format("Jan _2 15:04:05 2006 GMT"),
		"Accuracy: 0x01 seconds",
		"Ordering: no",
		"Nonce: unspecified",
		`TSA: DirName:/CN=Resguardo TSA resguardo\/abcd`, // OpenSSL escapes the slash
	} {
		if !strings.Contains(out, want) {
			t.Errorf("openssl ts -reply -text: missing %q in\n%s", want, out)
		}
	}
	// CMS structure as OpenSSL sees it: version 3, ESSCertIDv2, ecdsa-with-SHA256.
	asn := mustOpenSSL(t, work, "asn1parse", "-inform", "DER", "-in", "token.der")
	for _, want := range []string{"id-smime-ct-TSTInfo", "id-smime-aa-signingCertificateV2", "ecdsa-with-SHA256", "messageDigest"} {
		if !strings.Contains(asn, want) {
			t.Errorf("asn1parse: missing %s", want)
		}
	}
}

func TestRespond(t *testing.T) {
	a, _ := newAuthority(t, AuthorityOptions{})
	d256, d384, d512 := make([]byte, 32), make([]byte, 48), make([]byte, 64)
	nonce := big.NewInt(0x1234567890)
	req := func(d []byte, h crypto.Hash, nonce *big.Int, certReq bool, pol asn1.ObjectIdentifier) []byte {
		b, err := NewRequest(d, h, nonce, certReq, pol)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Hand-built requests for what NewRequest refuses to produce.
	raw := func(v any) []byte {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sha1Req := raw(timeStampReq{Version: 1, MessageImprint: messageImprint{
		HashAlgorithm: pkixAlg(asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}), HashedMessage: make([]byte, 20)}})
	alg256, _ := hashAlg(crypto.SHA256, true)
	shortReq := raw(timeStampReq{Version: 1, MessageImprint: messageImprint{HashAlgorithm: alg256, HashedMessage: make([]byte, 20)}})
	v2Req := raw(timeStampReq{Version: 2, MessageImprint: messageImprint{HashAlgorithm: alg256, HashedMessage: d256}})
	extReq := raw(timeStampReq{Version: 1, MessageImprint: messageImprint{HashAlgorithm: alg256, HashedMessage: d256},
		Extensions: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: raw([]int{1})}})
	negNonce := raw(timeStampReq{Version: 1, MessageImprint: messageImprint{HashAlgorithm: alg256, HashedMessage: d256}, Nonce: big.NewInt(-5)})

	tests := []struct {
		name   string
		req    []byte
		fail   int // -1 = granted
		hash   crypto.Hash
		nonce  *big.Int
		certs  bool
		digest []byte
	}{
		{"sha256 nonce cert", req(d256, crypto.SHA256, nonce, true, nil), -1, crypto.SHA256, nonce, true, d256},
		{"sha384", req(d384, crypto.SHA384, nil, true, nil), -1, crypto.SHA384, nil, true, d384},
		{"sha512 no cert", req(d512, crypto.SHA512, nonce, false, nil), -1, crypto.SHA512, nonce, false, d512},
		{"our policy", req(d256, crypto.SHA256, nil, true, DefaultPolicy()), -1, crypto.SHA256, nil, true, d256},
		{"other policy", req(d256, crypto.SHA256, nil, true, asn1.ObjectIdentifier{1, 2, 3}), FailUnacceptedPolicy, 0, nil, false, nil},
		{"sha1", sha1Req, FailBadAlg, 0, nil, false, nil},
		{"short imprint", shortReq, FailBadDataFormat, 0, nil, false, nil},
		{"version 2", v2Req, FailBadDataFormat, 0, nil, false, nil},
		{"extensions", extReq, FailUnacceptedExtension, 0, nil, false, nil},
		{"negative nonce", negNonce, FailBadDataFormat, 0, nil, false, nil},
		{"garbage", []byte("GET / HTTP/1.1\r\n"), FailBadDataFormat, 0, nil, false, nil},
		{"empty", nil, FailBadDataFormat, 0, nil, false, nil},
		{"trailing byte", append(req(d256, crypto.SHA256, nil, true, nil), 0), FailBadDataFormat, 0, nil, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ParseResponse(a.Respond(tc.req))
			if tc.fail >= 0 {
				var se *StatusError
				if !errors.As(err, &se) || se.Status != StatusRejection || se.FailInfo != 1<<tc.fail || len(se.Text) == 0 {
					t.Fatalf("ParseResponse: %v, want rejection with bit %d", err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			opt := VerifyOptions{Roots: pool(a.CACert()), Hash: tc.hash}
			if !tc.certs {
				if _, err := Verify(tok, tc.digest, opt); !errors.Is(err, ErrUntrustedSigner) {
					t.Errorf("certReq=false token verified without certificates: %v", err)
				}
				opt.Certificates = []*x509.Certificate{a.Certificate()}
			}
			st, err := Verify(tok, tc.digest, opt)
			if err != nil {
				t.Fatal(err)
			}
			if (st.Nonce == nil) != (tc.nonce == nil) || st.Nonce != nil && st.Nonce.Cmp(tc.nonce) != 0 {
				t.Errorf("nonce %v, want %v", st.Nonce, tc.nonce)
			}
		})
	}
}
