package relay

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stsPolicy is a domain's MTA-STS policy (RFC 8461 §3.2).
type stsPolicy struct {
	id      string
	mode    string // enforce, testing, none
	mx      []string
	maxAge  time.Duration
	fetched time.Time
}

// matches reports whether an MX host name is allowed by the policy's mx
// patterns ("mail.example.com" or "*.example.com", one label).
func (p *stsPolicy) matches(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, m := range p.mx {
		m = strings.ToLower(m)
		if rest, ok := strings.CutPrefix(m, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
		} else if host == m {
			return true
		}
	}
	return false
}

// parseSTSPolicy parses a policy file body.
func parseSTSPolicy(body string) (*stsPolicy, error) {
	p := &stsPolicy{}
	version := ""
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "version":
			version = v
		case "mode":
			p.mode = v
		case "mx":
			p.mx = append(p.mx, v)
		case "max_age":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || n > 31557600 {
				return nil, fmt.Errorf("mta-sts: bad max_age %q", v)
			}
			p.maxAge = time.Duration(n) * time.Second
		}
	}
	if version != "STSv1" {
		return nil, fmt.Errorf("mta-sts: version %q, want STSv1", version)
	}
	switch p.mode {
	case "enforce", "testing":
		if len(p.mx) == 0 {
			return nil, errors.New("mta-sts: no mx patterns")
		}
	case "none":
	default:
		return nil, fmt.Errorf("mta-sts: mode %q", p.mode)
	}
	if p.maxAge == 0 {
		return nil, errors.New("mta-sts: no max_age")
	}
	return p, nil
}

// stsCache fetches and keeps policies (in memory: a restart fetches them again).
type stsCache struct {
	c      Config
	client *http.Client
	mu     sync.Mutex
	byDom  map[string]*stsPolicy
}

func newSTSCache(c Config) *stsCache {
	cl := c.HTTPClient
	if cl == nil {
		cl = &http.Client{Timeout: 60 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return errors.New("mta-sts: redirects are not followed (RFC 8461 §3.3)")
			}}
	}
	return &stsCache{c: c, client: cl, byDom: map[string]*stsPolicy{}}
}

// get returns the domain's policy, nil when it publishes none. A cached,
// unexpired policy is used when the TXT record is gone or unchanged, and when
// fetching fails (RFC 8461 §5.1).
func (s *stsCache) get(ctx context.Context, domain string) (*stsPolicy, error) {
	now := s.c.Now()
	s.mu.Lock()
	cached := s.byDom[domain]
	s.mu.Unlock()
	if cached != nil && now.Sub(cached.fetched) >= cached.maxAge {
		cached = nil
	}
	txts, err := s.c.Resolver.LookupTXT(ctx, "_mta-sts."+domain)
	id := ""
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1") {
			for _, f := range strings.Split(t, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(f), "="); ok && k == "id" {
					id = v
				}
			}
		}
	}
	if id == "" {
		return cached, nil
	}
	if cached != nil && cached.id == id {
		return cached, nil
	}
	p, err := s.fetch(ctx, domain)
	if err != nil {
		return cached, err
	}
	p.id, p.fetched = id, now
	s.mu.Lock()
	s.byDom[domain] = p
	s.mu.Unlock()
	return p, nil
}

func (s *stsCache) fetch(ctx context.Context, domain string) (*stsPolicy, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://mta-sts."+domain+"/.well-known/mta-sts.txt", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mta-sts: fetch policy of %s: %w", domain, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mta-sts: policy of %s: HTTP %d", domain, resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/plain" {
		return nil, fmt.Errorf("mta-sts: policy of %s: content type %q, want text/plain", domain, mt)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	return parseSTSPolicy(string(b))
}
