package notary

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// pscStandIn is a local stand-in for an accredited PSC's REST API: it takes
// {"hash": hex}, asks OpenSSL for the query and the signed answer, and returns the
// token in {"constancia": base64}.
type pscStandIn struct {
	t   *testing.T
	tsa *opensslTSA
}

func (p pscStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct{ Hash string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Hash) != 64 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	dir := p.t.TempDir()
	q := filepath.Join(dir, "q.tsq")
	if _, err := runOpenSSL(p.t, dir, "ts", "-query", "-digest", req.Hash, "-sha256", "-cert", "-no_nonce", "-out", q); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body, _ := os.ReadFile(q)
	rec := httptest.NewRecorder()
	p.tsa.ServeHTTP(rec, httptest.NewRequest("POST", "/", bytesReader(body)))
	token, err := ParseResponse(rec.Body.Bytes())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"constancia": base64.StdEncoding.EncodeToString(token), "folio": "PSC-000123"})
}

func TestPSCRESTStandIn(t *testing.T) {
	t.Parallel()
	tsa := newOpenSSLTSA(t, "RSA", "sha256")
	srv := httptest.NewServer(pscStandIn{t: t, tsa: tsa})
	defer srv.Close()
	digest := digestOfString("punto de control 42")
	p := &PSC{Protocol: "rest", URL: srv.URL, Roots: pool(tsa.ca), BearerToken: "t0k3n"}
	st, err := p.Timestamp(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(st.Digest) != hex.EncodeToString(digest) || st.Authority == "" {
		t.Fatalf("stamp %+v", st)
	}
	// The stored object verifies later, offline, on its own.
	if _, err := Verify(st.Token, digest, VerifyOptions{Roots: pool(tsa.ca)}); err != nil {
		t.Fatal(err)
	}
	// Pinned roots matter.
	other := newOpenSSLTSA(t, "EC", "sha256")
	if _, err := (&PSC{Protocol: "rest", URL: srv.URL, Roots: pool(other.ca)}).Timestamp(context.Background(), digest); !errors.Is(err, ErrPSC) {
		t.Fatalf("foreign roots: %v", err)
	}
	// The RFC 3161 protocol goes through the client.
	tsaSrv := httptest.NewServer(tsa)
	defer tsaSrv.Close()
	if _, err := (&PSC{Protocol: "rfc3161", URL: tsaSrv.URL, Roots: pool(tsa.ca)}).Timestamp(context.Background(), digest); err != nil {
		t.Fatal(err)
	}
}

func TestPSCRESTErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]http.HandlerFunc{
		"http 500":      func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) },
		"not json":      func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") },
		"missing field": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"otro":"x"}`) },
		"garbage token": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"constancia":"AAAA"}`) },
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			_, err := (&PSC{Protocol: "rest", URL: srv.URL, Roots: pool()}).Timestamp(context.Background(), digestOfString("x"))
			if !errors.Is(err, ErrPSC) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if _, err := (&PSC{Protocol: "smoke", URL: "http://x"}).Timestamp(context.Background(), digestOfString("x")); !errors.Is(err, ErrPSC) {
		t.Fatalf("unknown protocol: %v", err)
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
