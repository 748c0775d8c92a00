package notary

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// opensslTSA is an independent RFC 3161 TSA: `openssl ts -reply` behind httptest.
type opensslTSA struct {
	bin string
	dir string
	ca  *x509.Certificate
	mu  sync.Mutex
	n   int
}

const opensslTSAConf = `[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[tsa_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[tsa]
default_tsa = tsa_config1
[tsa_config1]
serial = ./tsaserial
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = %s
`

// newOpenSSLTSA makes a CA (EC P-256) and a TSA certificate with key keyAlg ("RSA" or
// "EC"); essAlg selects ESSCertID (sha1) or ESSCertIDv2 (sha256).
func newOpenSSLTSA(t *testing.T, keyAlg, essAlg string) *opensslTSA {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "tsa.cnf"), fmt.Appendf(nil, opensslTSAConf, essAlg))
	writeFile(t, filepath.Join(dir, "tsaserial"), []byte("01\n"))
	mustOpenSSL(t, dir, "req", "-config", "tsa.cnf", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=OpenSSL Test CA", "-days", "30", "-extensions", "ca_ext")
	keyOpt := "rsa_keygen_bits:2048"
	if keyAlg == "EC" {
		keyOpt = "ec_paramgen_curve:P-384"
	}
	mustOpenSSL(t, dir, "genpkey", "-algorithm", keyAlg, "-pkeyopt", keyOpt, "-out", "tsa.key")
	mustOpenSSL(t, dir, "req", "-config", "tsa.cnf", "-new", "-key", "tsa.key", "-subj", "/O=OpenSSL/CN=OpenSSL TSA "+keyAlg, "-out", "tsa.csr")
	mustOpenSSL(t, dir, "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
		"-days", "30", "-extfile", "tsa.cnf", "-extensions", "tsa_ext", "-out", "tsa.pem")
	ca, err := readCert(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &opensslTSA{bin: openssl(t), dir: dir, ca: ca}
}

func (o *opensslTSA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock() // openssl updates the serial file
	defer o.mu.Unlock()
	o.n++
	q, s := fmt.Sprintf("q%d.tsq", o.n), fmt.Sprintf("r%d.tsr", o.n)
	if err := os.WriteFile(filepath.Join(o.dir, q), body, 0o600); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	cmd := exec.Command(o.bin, "ts", "-reply", "-queryfile", q, "-config", "tsa.cnf",
		"-inkey", "tsa.key", "-signer", "tsa.pem", "-chain", "ca.pem", "-out", s)
	cmd.Dir = o.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		http.Error(w, string(out), http.StatusInternalServerError)
		return
	}
	resp, err := os.ReadFile(filepath.Join(o.dir, s))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(resp)
}

func TestClientOpenSSLTSA(t *testing.T) {
	openssl(t)
	for _, v := range []struct{ key, ess string }{{"RSA", "sha1"}, {"EC", "sha256"}} {
		t.Run(v.key+"-"+v.ess, func(t *testing.T) {
			o := newOpenSSLTSA(t, v.key, v.ess)
			srv := httptest.NewServer(o)
			defer srv.Close()
			ctx := context.Background()
			digest := digestOfString("checkpoint via openssl")

			c := &Client{URL: srv.URL, Roots: pool(o.ca)}
			st, err := c.Timestamp(ctx, digest)
			if err != nil {
				t.Fatalf("Timestamp: %v", err)
			}
			if st.Policy.String() != "1.2.3.4.1" || st.Authority != "CN=OpenSSL TSA "+v.key+",O=OpenSSL" || len(st.Chain) != 2 || st.Nonce == nil {
				t.Errorf("stamp: policy %v authority %q chain %d nonce %v", st.Policy, st.Authority, len(st.Chain), st.Nonce)
			}
			if d := time.Since(st.Time); d < -2*time.Second || d > time.Minute {
				t.Errorf("genTime %v", st.Time)
			}
			if _, err := Verify(st.Token, digest, VerifyOptions{Roots: pool(o.ca), Hash: crypto.SHA256}); err != nil {
				t.Errorf("offline Verify: %v", err)
			}

			c.Policy = asn1.ObjectIdentifier{1, 2, 3, 4, 5}
			if st, err := c.Timestamp(ctx, digest); err != nil || st.Policy.String() != "1.2.3.4.5" {
				t.Errorf("other_policies: %v %v", st, err)
			}
			c.Policy = asn1.ObjectIdentifier{1, 2, 3, 4, 9}
			_, err = c.Timestamp(ctx, digest)
			if se, ok := errors.AsType[*StatusError](err); !ok || !se.Has(FailUnacceptedPolicy) || se.Status != StatusRejection {
				t.Errorf("unknown policy: %v", err)
			}

			other, _ := newAuthority(t, AuthorityOptions{})
			c = &Client{URL: srv.URL, Roots: pool(other.CACert())}
			if _, err := c.Timestamp(ctx, digest); !errors.Is(err, ErrUntrustedSigner) {
				t.Errorf("wrong roots: %v", err)
			}
		})
	}
}

// rewrite re-encodes a request with a different nonce, digest or policy.
func rewrite(t *testing.T, der []byte, f func(*timeStampReq)) []byte {
	var req timeStampReq
	if _, err := asn1.Unmarshal(der, &req); err != nil {
		t.Error(err)
		return der
	}
	f(&req)
	out, err := asn1.Marshal(req)
	if err != nil {
		t.Error(err)
	}
	return out
}

func TestClientFailures(t *testing.T) {
	a, _ := newAuthority(t, AuthorityOptions{})
	reply := func(w http.ResponseWriter, der []byte) {
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(der)
	}
	respond := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		reply(w, a.Respond(body))
	}
	type handler func(call int, w http.ResponseWriter, r *http.Request)
	tests := []struct {
		name   string
		h      handler
		client Client
		calls  int
		check  func(error) bool
	}{
		{"ok", func(_ int, w http.ResponseWriter, r *http.Request) { respond(w, r) }, Client{}, 1, nil},
		{"rejection", func(_ int, w http.ResponseWriter, r *http.Request) {
			reply(w, marshalResponse(StatusRejection, FailBadAlg, "algo no soportado", nil))
		}, Client{}, 1, func(err error) bool {
			se, ok := errors.AsType[*StatusError](err)
			return ok && se.Has(FailBadAlg) && strings.Contains(err.Error(), "badAlg") && strings.Contains(err.Error(), "algo no soportado")
		}},
		{"500 then success", func(call int, w http.ResponseWriter, r *http.Request) {
			if call == 1 {
				http.Error(w, "boom", http.StatusInternalServerError)
				return
			}
			respond(w, r)
		}, Client{}, 2, nil},
		{"waiting then success", func(call int, w http.ResponseWriter, r *http.Request) {
			if call == 1 {
				reply(w, marshalResponse(StatusWaiting, -1, "busy", nil))
				return
			}
			respond(w, r)
		}, Client{}, 2, nil},
		{"always 503", func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}, Client{Retries: 1}, 2, func(err error) bool { return strings.Contains(err.Error(), "503") }},
		{"404 not retried", func(_ int, w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, Client{}, 1,
			func(err error) bool { return strings.Contains(err.Error(), "404") }},
		{"wrong nonce", func(_ int, w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			reply(w, a.Respond(rewrite(t, body, func(q *timeStampReq) { q.Nonce = big.NewInt(7) })))
		}, Client{}, 1, func(err error) bool { return errors.Is(err, ErrNonceMismatch) }},
		{"wrong imprint", func(_ int, w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			reply(w, a.Respond(rewrite(t, body, func(q *timeStampReq) { q.MessageImprint.HashedMessage = digestOfString("evil") })))
		}, Client{}, 1, func(err error) bool { return errors.Is(err, ErrImprintMismatch) }},
		{"policy dropped", func(_ int, w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			reply(w, a.Respond(rewrite(t, body, func(q *timeStampReq) { q.ReqPolicy = nil })))
		}, Client{Policy: asn1.ObjectIdentifier{1, 2, 3}}, 1, func(err error) bool { return errors.Is(err, ErrPolicyMismatch) }},
		{"garbage", func(_ int, w http.ResponseWriter, r *http.Request) { reply(w, []byte("<html>hello</html>")) }, Client{}, 1,
			func(err error) bool { return errors.Is(err, ErrMalformed) }},
		{"wrong content type", func(_ int, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			body, _ := io.ReadAll(r.Body)
			w.Write(a.Respond(body))
		}, Client{}, 1, func(err error) bool { return errors.Is(err, ErrMalformed) }},
		{"slow", func(_ int, w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body) // lets the server notice the client hanging up
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}, Client{Timeout: 100 * time.Millisecond, Retries: -1}, 1, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"clock skew", func(_ int, w http.ResponseWriter, r *http.Request) { respond(w, r) },
			Client{Now: func() time.Time { return time.Now().Add(time.Hour) }}, 1, func(err error) bool { return errors.Is(err, ErrTimeSkew) }},
		{"basic auth", func(_ int, w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "psc" || p != "s3cret" {
				http.Error(w, "auth", http.StatusUnauthorized)
				return
			}
			respond(w, r)
		}, Client{Username: "psc", Password: "s3cret"}, 1, nil},
		{"basic auth missing", func(_ int, w http.ResponseWriter, r *http.Request) {
			if _, _, ok := r.BasicAuth(); !ok {
				http.Error(w, "auth", http.StatusUnauthorized)
				return
			}
			respond(w, r)
		}, Client{}, 1, func(err error) bool { return strings.Contains(err.Error(), "401") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/timestamp-query" {
					t.Errorf("request %s %q", r.Method, r.Header.Get("Content-Type"))
				}
				tc.h(int(calls.Add(1)), w, r)
			}))
			defer srv.Close()
			c := tc.client
			c.URL, c.Roots = srv.URL, pool(a.CACert())
			start := time.Now()
			st, err := c.Timestamp(context.Background(), digestOfString(tc.name))
			if tc.check == nil && err != nil {
				t.Fatalf("Timestamp: %v", err)
			}
			if tc.check != nil && (err == nil || !tc.check(err)) {
				t.Fatalf("Timestamp: %v (stamp %v)", err, st)
			}
			if got := int(calls.Load()); got != tc.calls {
				t.Errorf("%d calls, want %d", got, tc.calls)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestClientContext(t *testing.T) {
	a, _ := newAuthority(t, AuthorityOptions{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	c := &Client{URL: srv.URL, Roots: pool(a.CACert()), Retries: 10}
	start := time.Now()
	if _, err := c.Timestamp(ctx, digestOfString("ctx")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Timestamp: %v", err)
	}
	if d := time.Since(start); d > time.Second || calls.Load() > 3 {
		t.Errorf("took %v, %d calls", d, calls.Load())
	}
	if _, err := (&Client{URL: srv.URL}).Timestamp(context.Background(), digestOfString("x")); err == nil {
		t.Error("client without roots")
	}
	if _, err := (&Client{URL: srv.URL, Roots: pool(a.CACert())}).Timestamp(context.Background(), []byte("short")); err == nil {
		t.Error("short digest")
	}
}

// Our Authority behind its Handler, through our Client: the round trip the archive
// uses when it runs its own TSA on another host.
func TestClientAuthorityRoundTrip(t *testing.T) {
	a, _ := newAuthority(t, AuthorityOptions{Name: "Resguardo TSA remote"})
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	var n Notary = &Client{URL: srv.URL, Roots: pool(a.CACert()), Policy: DefaultPolicy()}
	digest := digestOfString("checkpoint 7")
	st, err := n.Timestamp(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	if st.Authority != "CN=Resguardo TSA remote" || !st.Policy.Equal(DefaultPolicy()) || st.Nonce == nil {
		t.Errorf("stamp %+v", st)
	}
	var local Notary = a
	if _, err := local.Timestamp(context.Background(), digest); err != nil {
		t.Fatal(err)
	}
}
