package notary

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// flipAt returns a copy of tok with needle[i] replaced by b; needle must occur once.
func flipAt(t *testing.T, tok, needle []byte, i int, b byte) []byte {
	t.Helper()
	if n := bytes.Count(tok, needle); n != 1 {
		t.Fatalf("needle %x occurs %d times", needle, n)
	}
	out := bytes.Clone(tok)
	out[bytes.Index(tok, needle)+i] = b
	return out
}

func TestVerifyTamper(t *testing.T) {
	a, _ := newAuthority(t, AuthorityOptions{})
	digest := digestOfString("tamper")
	st, err := a.Timestamp(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	tok := st.Token
	var pt *parsedToken
	if pt, err = parseToken(tok, nil); err != nil {
		t.Fatal(err)
	}
	genTime := []byte(st.Time.Format("20060102150405Z"))
	serial := st.Serial.Bytes()
	cert := a.Certificate()
	md := digestOf(crypto.SHA256, pt.eContent)
	roots := VerifyOptions{Roots: pool(a.CACert())}
	other, _ := newAuthority(t, AuthorityOptions{})

	tests := []struct {
		name   string
		token  []byte
		digest []byte
		opt    VerifyOptions
		want   error
	}{
		{"control", tok, digest, roots, nil},
		{"signature byte", append(bytes.Clone(tok[:len(tok)-1]), tok[len(tok)-1]^0x01), digest, roots, ErrBadSignature},
		{"tstinfo genTime", flipAt(t, tok, genTime, len(genTime)-2, genTime[len(genTime)-2]^0x01), digest, roots, ErrBadSignature},
		{"tstinfo serial", flipAt(t, tok, serial, 3, serial[3]^0x01), digest, roots, ErrBadSignature},
		{"tstinfo policy", flipAt(t, tok, mustDER(t, DefaultPolicy()), 12, 2), digest, roots, ErrBadSignature},
		{"tstinfo imprint", flipAt(t, tok, digest, 0, digest[0]^0x01), digest, roots, ErrImprintMismatch},
		{"message-digest attribute", flipAt(t, tok, md, 5, md[5]^0x01), digest, roots, ErrBadSignature},
		{"certificate signature", flipAt(t, tok, cert.Signature[8:], 0, cert.Signature[8]^0x01), digest, roots, ErrBadSignature},
		{"signed data version", flipAt(t, tok, []byte{0x02, 0x01, 0x03, 0x31}, 2, 0x04), digest, roots, ErrMalformed},
		{"truncated", tok[:len(tok)-1], digest, roots, ErrMalformed},
		{"trailing byte", append(bytes.Clone(tok), 0), digest, roots, ErrMalformed},
		{"empty", nil, digest, roots, ErrMalformed},
		{"wrong digest", tok, digestOfString("other"), roots, ErrImprintMismatch},
		{"wrong hash expected", tok, digest, VerifyOptions{Roots: roots.Roots, Hash: crypto.SHA384}, ErrImprintMismatch},
		{"wrong roots", tok, digest, VerifyOptions{Roots: pool(other.CACert())}, ErrUntrustedSigner},
		{"TSA certificate pinned as root", tok, digest, VerifyOptions{Roots: pool(cert)}, nil},
		{"no roots", tok, digest, VerifyOptions{}, ErrUntrustedSigner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.token, tc.digest, tc.opt)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if got := sentinel(err); got != sentinel(tc.want) {
				t.Fatalf("Verify: %v\nwant %v", err, tc.want)
			}
		})
	}
}

func mustDER(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Corrupting any byte of a token must make Verify fail with one of the four typed
// errors (the property the x/mod tlog tests check for proofs).
func TestVerifyEveryByte(t *testing.T) {
	a, _ := newAuthority(t, AuthorityOptions{})
	digest := digestOfString("every byte")
	st, err := a.Timestamp(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	opt := VerifyOptions{Roots: pool(a.CACert())}
	for i := range st.Token {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			mut := bytes.Clone(st.Token)
			mut[i] ^= x
			_, err := Verify(mut, digest, opt)
			if err == nil {
				t.Fatalf("byte %d ^ %#x: Verify succeeded", i, x)
			}
			if sentinel(err) == "" {
				t.Fatalf("byte %d ^ %#x: untyped error %v", i, x, err)
			}
		}
	}
}

// testCA is a CA built in the test, for certificates CreateAuthority never makes.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-10 * 24 * time.Hour), NotAfter: time.Now().Add(10 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return testCA{c, key}
}

// issueToken signs a token at genTime with a leaf from tmpl, bypassing every check the
// Authority makes.
func (ca testCA) issueToken(t *testing.T, tmpl *x509.Certificate, genTime time.Time, digest []byte) ([]byte, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	alg, _ := hashAlg(crypto.SHA256, true)
	info := mustDER(t, tstInfo{Version: 1, Policy: DefaultPolicy(), SerialNumber: randomSerial(), GenTime: genTime.UTC().Truncate(time.Second),
		MessageImprint: messageImprint{HashAlgorithm: alg, HashedMessage: digest}})
	tok, err := signToken(info, key, cert, []*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	return tok, cert
}

// Certificates that are not RFC 3161 §2.3 TSA certificates, or not valid at genTime,
// are ErrUntrustedSigner; OpenSSL agrees on each verdict.
func TestVerifySignerProfile(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	eku := func(critical bool, oids ...asn1.ObjectIdentifier) []pkix.Extension {
		v, _ := asn1.Marshal(oids)
		return []pkix.Extension{{Id: oidExtKeyUsage(), Critical: critical, Value: v}}
	}
	serverAuth := asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	tests := []struct {
		name     string
		ext      []pkix.Extension
		ku       x509.KeyUsage
		from, to time.Time
		ok       bool
	}{
		{"profile", eku(true, oidTimeStamping()), x509.KeyUsageDigitalSignature, now.Add(-time.Hour), now.Add(time.Hour), true},
		{"nonRepudiation", eku(true, oidTimeStamping()), x509.KeyUsageContentCommitment, now.Add(-time.Hour), now.Add(time.Hour), true},
		{"expired at genTime", eku(true, oidTimeStamping()), x509.KeyUsageDigitalSignature, now.Add(-2 * time.Hour), now.Add(-time.Hour), false},
		{"not yet valid at genTime", eku(true, oidTimeStamping()), x509.KeyUsageDigitalSignature, now.Add(time.Hour), now.Add(2 * time.Hour), false},
		{"no EKU", nil, x509.KeyUsageDigitalSignature, now.Add(-time.Hour), now.Add(time.Hour), false},
		{"EKU not critical", eku(false, oidTimeStamping()), x509.KeyUsageDigitalSignature, now.Add(-time.Hour), now.Add(time.Hour), false},
		{"EKU serverAuth", eku(true, serverAuth), x509.KeyUsageDigitalSignature, now.Add(-time.Hour), now.Add(time.Hour), false},
		{"EKU timeStamping+serverAuth", eku(true, oidTimeStamping(), serverAuth), x509.KeyUsageDigitalSignature, now.Add(-time.Hour), now.Add(time.Hour), false},
		{"key usage keyEncipherment", eku(true, oidTimeStamping()), x509.KeyUsageKeyEncipherment, now.Add(-time.Hour), now.Add(time.Hour), false},
	}
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			digest := digestOfString(tc.name)
			tok, _ := ca.issueToken(t, &x509.Certificate{
				SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "tsa " + tc.name},
				NotBefore: tc.from, NotAfter: tc.to, KeyUsage: tc.ku, ExtraExtensions: tc.ext,
			}, now, digest)
			_, err := Verify(tok, digest, VerifyOptions{Roots: pool(ca.cert)})
			if tc.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tc.ok && sentinel(err) != "ErrUntrustedSigner" {
				t.Fatalf("Verify: %v, want ErrUntrustedSigner", err)
			}
			name := filepath.Join(work, "tok"+string(rune('a'+i))+".der")
			writeFile(t, name, tok)
			out, oerr := runOpenSSL(t, work, "ts", "-verify", "-digest", hex.EncodeToString(digest), "-token_in", "-in", name, "-CAfile", "ca.pem")
			if osOK := oerr == nil && strings.Contains(out, "Verification: OK"); osOK != tc.ok {
				t.Errorf("openssl verdict %v, ours %v:\n%s", osOK, tc.ok, out)
			}
		})
	}
}

// A token whose tsa field names someone other than the signer is rejected.
func TestVerifyTSANameMismatch(t *testing.T) {
	a, _ := newAuthority(t, AuthorityOptions{Name: "Resguardo TSA a"})
	b, _ := newAuthority(t, AuthorityOptions{Name: "Resguardo TSA b"})
	digest := digestOfString("name")
	alg, _ := hashAlg(crypto.SHA256, true)
	gn := mustDER(t, directoryName(b.Certificate().RawSubject))
	info := mustDER(t, tstInfo{Version: 1, Policy: DefaultPolicy(), SerialNumber: randomSerial(), GenTime: time.Now().UTC().Truncate(time.Second),
		MessageImprint: messageImprint{HashAlgorithm: alg, HashedMessage: digest}, Tsa: explicit0(gn)})
	tok, err := signToken(info, a.key, a.Certificate(), []*x509.Certificate{a.Certificate()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(tok, digest, VerifyOptions{Roots: pool(a.CACert())}); sentinel(err) != "ErrUntrustedSigner" {
		t.Fatalf("Verify: %v, want ErrUntrustedSigner", err)
	}
}

func TestParseToken(t *testing.T) {
	a, _ := newAuthority(t, AuthorityOptions{Name: "Resguardo TSA display"})
	digest := digestOfString("display")
	st, err := a.Timestamp(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseToken(st.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Time.Equal(st.Time) || p.Serial.Cmp(st.Serial) != 0 || !bytes.Equal(p.Digest, digest) || p.Authority != st.Authority ||
		len(p.Chain) != 1 || !p.Chain[0].Equal(a.Certificate()) {
		t.Errorf("ParseToken = %+v\nVerify = %+v", p, st)
	}
	// Stamps do not alias the token or each other.
	p.Policy[0] = 9
	p.Token[0] = 0
	if q, _ := ParseToken(st.Token); q.Policy[0] == 9 || st.Token[0] == 0 || DefaultPolicy()[0] == 9 {
		t.Error("Stamp aliases shared memory")
	}
	for _, bad := range [][]byte{nil, {0x30, 0x00}, []byte("not a token"), st.Token[:100]} {
		if _, err := ParseToken(bad); sentinel(err) != "ErrMalformed" {
			t.Errorf("ParseToken(%x): %v", bad, err)
		}
	}
}
