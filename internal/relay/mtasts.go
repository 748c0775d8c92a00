package relay

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/fsutil"
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

// stsCache fetches and keeps policies, in memory and, when Config.MTASTSCache
// names a file, on disk: RFC 8461 §5.1 wants a policy to survive until its
// max_age, so that an attacker who blocks the policy's fetch (or its DNS) at
// the moment after a restart cannot downgrade delivery to unverified TLS.
type stsCache struct {
	c      Config
	client *http.Client
	mu     sync.Mutex
	byDom  map[string]*stsPolicy
}

// stsCacheFormat identifies the cache file (docs/FORMATS.md).
const stsCacheFormat = "resguardo-mta-sts-cache/1"

// stsFile is the cache file: every unexpired policy by domain.
type stsFile struct {
	Format   string               `json:"format"`
	Policies map[string]stsRecord `json:"policies"`
}

type stsRecord struct {
	ID      string    `json:"id"`
	Mode    string    `json:"mode"`
	MX      []string  `json:"mx"`
	MaxAge  int64     `json:"max_age"` // seconds
	Fetched time.Time `json:"fetched"`
}

// load reads the cache file; a missing file is an empty cache, a damaged one
// is reported and ignored (the policies are fetched again).
func (s *stsCache) load() {
	if s.c.MTASTSCache == "" {
		return
	}
	b, err := os.ReadFile(s.c.MTASTSCache)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var f stsFile
	if err == nil {
		err = json.Unmarshal(b, &f)
		if err == nil && f.Format != stsCacheFormat {
			err = fmt.Errorf("format %q, want %q", f.Format, stsCacheFormat)
		}
	}
	if err != nil {
		s.c.Logger.Warn("relay: MTA-STS cache not read; policies will be fetched again", "file", s.c.MTASTSCache, "err", err)
		return
	}
	now := s.c.Now()
	for d, r := range f.Policies {
		p := &stsPolicy{id: r.ID, mode: r.Mode, mx: r.MX, maxAge: time.Duration(r.MaxAge) * time.Second, fetched: r.Fetched}
		if now.Sub(p.fetched) < p.maxAge {
			s.byDom[d] = p
		}
	}
}

// save writes every unexpired policy to the cache file (the caller holds mu).
func (s *stsCache) save() {
	if s.c.MTASTSCache == "" {
		return
	}
	f := stsFile{Format: stsCacheFormat, Policies: map[string]stsRecord{}}
	now := s.c.Now()
	for d, p := range s.byDom {
		if now.Sub(p.fetched) < p.maxAge {
			f.Policies[d] = stsRecord{ID: p.id, Mode: p.mode, MX: p.mx, MaxAge: int64(p.maxAge / time.Second), Fetched: p.fetched.UTC()}
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err == nil {
		err = fsutil.WriteFile(s.c.MTASTSCache, b, 0o600)
	}
	if err != nil {
		s.c.Logger.Warn("relay: MTA-STS cache not written", "file", s.c.MTASTSCache, "err", err)
	}
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
	s := &stsCache{c: c, client: cl, byDom: map[string]*stsPolicy{}}
	s.load()
	return s
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
	s.save()
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
