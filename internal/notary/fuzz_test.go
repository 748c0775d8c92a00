package notary

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// corpusSeeds returns the RFC 3161 corpus files (requests, responses, the token),
// or nothing when the corpus is absent: fuzzing still runs on the generated seeds.
func corpusSeeds(f *testing.F) [][]byte {
	f.Helper()
	dir := corpustest.Find()
	if dir == "" {
		return nil
	}
	var out [][]byte
	for _, name := range []string{"reqNonce", "reqNoNonce", "reqNoCert", "respNonce", "respNoNonce", "respNoCert", "timeStampToken"} {
		if b, err := os.ReadFile(filepath.Join(dir, "tsa", "digitorus-timestamp", name)); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// fuzzAuthority is an Authority plus a token, a granted response and a request.
func fuzzAuthority(f *testing.F) (a *Authority, token, resp, req []byte) {
	f.Helper()
	a, _ = newAuthority(f, AuthorityOptions{})
	digest := digestOfString("fuzz")
	st, err := a.Timestamp(context.Background(), digest)
	if err != nil {
		f.Fatal(err)
	}
	req, err = NewRequest(digest, crypto.SHA256, big.NewInt(42), true, nil)
	if err != nil {
		f.Fatal(err)
	}
	return a, st.Token, a.Respond(req), req
}

func FuzzParseToken(f *testing.F) {
	a, token, resp, _ := fuzzAuthority(f)
	f.Add(token)
	for _, b := range corpusSeeds(f) {
		if tok, err := ParseResponse(b); err == nil {
			f.Add(tok)
		} else {
			f.Add(b)
		}
	}
	f.Add(resp)
	opt := VerifyOptions{Roots: pool(a.CACert())}
	digest := digestOfString("fuzz")
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseToken(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseToken error not ErrMalformed: %v", err)
			}
		} else if st.Serial == nil || st.Time.IsZero() {
			t.Fatalf("ParseToken returned an incomplete stamp: %+v", st)
		}
		_, err = Verify(data, digest, opt)
		if err != nil && sentinel(err) == "" {
			t.Fatalf("Verify error untyped: %v", err)
		}
		if err == nil && st == nil {
			t.Fatal("Verify accepted what ParseToken rejected")
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	_, token, resp, _ := fuzzAuthority(f)
	f.Add(resp)
	f.Add(token)
	f.Add(marshalResponse(StatusRejection, FailBadAlg, "texto", nil))
	f.Add(marshalResponse(StatusWaiting, -1, "", nil))
	f.Add(systemFailureResponse())
	for _, b := range corpusSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseResponse(data)
		if err != nil {
			var se *StatusError
			if !errors.As(err, &se) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error: %v", err)
			}
			if se != nil {
				_ = se.Error()
			}
			return
		}
		if len(tok) == 0 {
			t.Fatal("granted without a token")
		}
		ParseToken(tok) // must not panic
	})
}

// FuzzRespond: the Authority answers anything with a parseable TimeStampResp, and a
// granted token verifies against the request's own imprint.
func FuzzRespond(f *testing.F) {
	a, _, resp, req := fuzzAuthority(f)
	f.Add(req)
	f.Add(resp)
	for _, b := range corpusSeeds(f) {
		f.Add(b)
	}
	for _, h := range []crypto.Hash{crypto.SHA384, crypto.SHA512} {
		r, _ := NewRequest(make([]byte, h.Size()), h, nil, false, DefaultPolicy())
		f.Add(r)
	}
	opt := VerifyOptions{Roots: pool(a.CACert()), Certificates: []*x509.Certificate{a.Certificate()}}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := a.Respond(data)
		tok, err := ParseResponse(out)
		if err != nil {
			if _, ok := errors.AsType[*StatusError](err); !ok {
				t.Fatalf("Respond produced an unparseable response: %v\n%x", err, out)
			}
			return
		}
		pr, rerr := parseRequest(data)
		if rerr != nil {
			t.Fatalf("granted a request parseRequest rejects: %v", rerr)
		}
		st, err := Verify(tok, pr.imprint.HashedMessage, opt)
		if err != nil {
			t.Fatalf("granted token does not verify: %v", err)
		}
		if (st.Nonce == nil) != (pr.nonce == nil) || st.Nonce != nil && st.Nonce.Cmp(pr.nonce) != 0 {
			t.Fatalf("nonce %v, request %v", st.Nonce, pr.nonce)
		}
	})
}
