package notary

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"mime"
	"net/http"
	"time"
)

const (
	defaultTimeout   = 10 * time.Second
	defaultRetries   = 2
	maxResponseBytes = 1 << 20
	// maxSkew bounds |genTime − local clock| for tokens the Client accepts.
	maxSkew = 5 * time.Minute
)

// Client timestamps digests at an external RFC 3161 TSA over HTTP (RFC 3161 §3.4).
type Client struct {
	URL           string
	HTTP          *http.Client          // nil = a client with Timeout
	Timeout       time.Duration         // per attempt, default 10s
	Retries       int                   // extra attempts on network errors / 5xx / status "waiting", with backoff; default 2, negative = none
	Policy        asn1.ObjectIdentifier // if set: requested and required in the response
	Roots         *x509.CertPool        // trust anchors for verifying responses (required)
	Intermediates *x509.CertPool        // optional
	Username      string                // optional HTTP basic auth (accredited providers use it)
	Password      string
	Now           func() time.Time // default time.Now; genTime must be within 5 minutes of it
}

// Timestamp sends a SHA-256 TimeStampReq with a random 64-bit nonce and certReq=true,
// and returns the verified Stamp. It checks the HTTP status and content type, the
// PKIStatus (granted or grantedWithMods; anything else is a *StatusError naming the
// PKIFailureInfo bits and statusString), the nonce echo (ErrNonceMismatch), the
// imprint (ErrImprintMismatch), the policy (ErrPolicyMismatch), then Verify, and
// finally that genTime agrees with the local clock (ErrTimeSkew).
func (c *Client) Timestamp(ctx context.Context, digest []byte) (*Stamp, error) {
	if c.Roots == nil {
		return nil, fmt.Errorf("timestamp %s: no trust anchors configured", c.URL)
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("timestamp %s: %w: %d-byte digest, want SHA-256", c.URL, errUnsupportedHash, len(digest))
	}
	nb := make([]byte, 8)
	rand.Read(nb) // never fails (crypto/rand, Go ≥ 1.24)
	nonce := new(big.Int).SetBytes(nb)
	req, err := NewRequest(digest, crypto.SHA256, nonce, true, c.Policy)
	if err != nil {
		return nil, fmt.Errorf("timestamp %s: %w", c.URL, err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	retries := c.Retries
	if retries == 0 {
		retries = defaultRetries
	} else if retries < 0 {
		retries = 0
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: timeout}
	}
	var last error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return nil, fmt.Errorf("timestamp %s: %w (after %w)", c.URL, err, last)
			}
		}
		body, retry, err := c.post(ctx, hc, timeout, req)
		if err == nil {
			var token []byte
			token, err = ParseResponse(body)
			if se, ok := errors.AsType[*StatusError](err); ok && se.Status == StatusWaiting {
				retry = true
			} else if err == nil {
				return c.check(token, digest, nonce)
			}
		}
		if !retry || ctx.Err() != nil {
			return nil, fmt.Errorf("timestamp %s: %w", c.URL, err)
		}
		last = err
	}
	return nil, fmt.Errorf("timestamp %s: %d attempts: %w", c.URL, retries+1, last)
}

// post performs one attempt. retry reports whether the failure is transient.
func (c *Client) post(ctx context.Context, hc *http.Client, timeout time.Duration, req []byte) (body []byte, retry bool, err error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(actx, http.MethodPost, c.URL, bytes.NewReader(req))
	if err != nil {
		return nil, false, err
	}
	hreq.Header.Set("Content-Type", "application/timestamp-query")
	hreq.Header.Set("Accept", "application/timestamp-reply")
	if c.Username != "" || c.Password != "" {
		hreq.SetBasicAuth(c.Username, c.Password)
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, true, fmt.Errorf("read response: %w", err)
	}
	switch {
	case resp.StatusCode >= 500:
		return nil, true, fmt.Errorf("http status %s", resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, false, fmt.Errorf("http status %s", resp.Status)
	}
	// "application/timestamp-response" is the pre-RFC name some servers still send.
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "application/timestamp-reply" && mt != "application/timestamp-response" {
		return nil, false, fmt.Errorf("%w: content type %q", ErrMalformed, resp.Header.Get("Content-Type"))
	}
	if len(body) > maxResponseBytes {
		return nil, false, fmt.Errorf("%w: response over %d bytes", ErrMalformed, maxResponseBytes)
	}
	return body, false, nil
}

// check matches the token against the request, then verifies it.
func (c *Client) check(token, digest []byte, nonce *big.Int) (*Stamp, error) {
	st, err := ParseToken(token)
	if err != nil {
		return nil, fmt.Errorf("timestamp %s: %w", c.URL, err)
	}
	switch {
	case st.Nonce == nil || st.Nonce.Cmp(nonce) != 0:
		return nil, fmt.Errorf("timestamp %s: %w: sent %#x, got %#x", c.URL, ErrNonceMismatch, nonce, st.Nonce)
	case st.Hash != crypto.SHA256 || !bytes.Equal(st.Digest, digest):
		return nil, fmt.Errorf("timestamp %s: %w: sent %x, got %v %x", c.URL, ErrImprintMismatch, digest, st.Hash, st.Digest)
	case len(c.Policy) > 0 && !st.Policy.Equal(c.Policy):
		return nil, fmt.Errorf("timestamp %s: %w: requested %v, got %v", c.URL, ErrPolicyMismatch, c.Policy, st.Policy)
	}
	vst, err := Verify(token, digest, VerifyOptions{Roots: c.Roots, Intermediates: c.Intermediates, Hash: crypto.SHA256})
	if err != nil {
		return nil, fmt.Errorf("timestamp %s: %w", c.URL, err)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if d := vst.Time.Sub(now()).Abs(); d > maxSkew {
		return nil, fmt.Errorf("timestamp %s: %w: genTime %s is %v away", c.URL, ErrTimeSkew, vst.Time.Format(time.RFC3339), d.Round(time.Second))
	}
	return vst, nil
}

// backoff is 250ms·2^(attempt−1), capped at 4s, with jitter in [d/2, d).
func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << min(attempt-1, 4)
	return d/2 + mrand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
