package notary

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/template"
	"time"
)

// PSC obtains NOM-151-SCFI-2016 constancias de conservación from an accredited
// Prestador de Servicios de Certificación. The PSC receives only a SHA-256 digest and
// returns a signed, timestamped CMS object (DER, usually distributed as ".asn1") in
// the RFC 3161 TimeStampToken shape; it is kept unmodified and verified like any
// token, against the PSC's pinned certificates.
//
// Providers speak RFC 3161 over HTTP (Protocol "rfc3161": the Client does the work)
// or a REST API that takes the hash and returns the object (Protocol "rest"): the
// request body is a text/template over {{.Hex}} and {{.Base64}} of the digest, and
// RESTResponse says where the DER is: "der" (the body), "base64" (the body), or
// "json:FIELD" (a base64 string field of a JSON object).
type PSC struct {
	Protocol        string
	URL             string
	Roots           *x509.CertPool
	Intermediates   *x509.CertPool
	Username        string
	Password        string
	BearerToken     string
	RESTBody        string // default {"hash":"{{.Hex}}","algorithm":"SHA-256"}
	RESTContentType string // default application/json
	RESTResponse    string // default json:constancia
	HTTP            *http.Client
	Timeout         time.Duration
}

// ErrPSC reports a PSC that could not deliver a verifiable constancia.
var ErrPSC = errors.New("notary: PSC")

// Timestamp asks the PSC for a constancia over digest (SHA-256) and verifies it.
func (p *PSC) Timestamp(ctx context.Context, digest []byte) (*Stamp, error) {
	if len(digest) != 32 {
		return nil, fmt.Errorf("%w: want a SHA-256 digest", ErrPSC)
	}
	switch p.Protocol {
	case "", "rfc3161":
		c := &Client{URL: p.URL, HTTP: p.HTTP, Timeout: p.Timeout, Roots: p.Roots, Intermediates: p.Intermediates,
			Username: p.Username, Password: p.Password}
		return c.Timestamp(ctx, digest)
	case "rest":
		token, err := p.rest(ctx, digest)
		if err != nil {
			return nil, err
		}
		st, err := Verify(token, digest, VerifyOptions{Roots: p.Roots, Intermediates: p.Intermediates, Hash: crypto.SHA256})
		if err != nil {
			return nil, fmt.Errorf("%w: constancia from %s does not verify: %w", ErrPSC, p.URL, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("%w: unknown protocol %q", ErrPSC, p.Protocol)
}

func (p *PSC) rest(ctx context.Context, digest []byte) ([]byte, error) {
	tmplText := p.RESTBody
	if tmplText == "" {
		tmplText = `{"hash":"{{.Hex}}","algorithm":"SHA-256"}`
	}
	tmpl, err := template.New("body").Parse(tmplText)
	if err != nil {
		return nil, fmt.Errorf("%w: request template: %v", ErrPSC, err)
	}
	var body bytes.Buffer
	if err := tmpl.Execute(&body, struct{ Hex, Base64 string }{hex.EncodeToString(digest), base64.StdEncoding.EncodeToString(digest)}); err != nil {
		return nil, fmt.Errorf("%w: request template: %v", ErrPSC, err)
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, &body)
	if err != nil {
		return nil, err
	}
	ct := p.RESTContentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	switch {
	case p.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+p.BearerToken)
	case p.Username != "":
		req.SetBasicAuth(p.Username, p.Password)
	}
	hc := p.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrPSC, p.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrPSC, p.URL, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%w: %s answered HTTP %s", ErrPSC, p.URL, resp.Status)
	}
	mode := p.RESTResponse
	if mode == "" {
		mode = "json:constancia"
	}
	var token []byte
	switch {
	case mode == "der":
		token = raw
	case mode == "base64":
		token, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	case strings.HasPrefix(mode, "json:"):
		var obj map[string]any
		if err = json.Unmarshal(raw, &obj); err == nil {
			s, ok := obj[strings.TrimPrefix(mode, "json:")].(string)
			if !ok {
				err = fmt.Errorf("no string field %q in the answer", strings.TrimPrefix(mode, "json:"))
			} else {
				token, err = base64.StdEncoding.DecodeString(s)
			}
		}
	default:
		err = fmt.Errorf("unknown response mode %q", mode)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrPSC, p.URL, err)
	}
	// A provider may return a whole TimeStampResp instead of the bare token.
	if t, perr := ParseResponse(token); perr == nil {
		token = t
	}
	return token, nil
}
