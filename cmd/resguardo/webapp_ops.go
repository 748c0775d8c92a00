package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/config"
	"github.com/resguardo/resguardo/internal/keys"
	"github.com/resguardo/resguardo/internal/webapp"
)

// webOps are the sources of the web application's dashboard, access-log and
// administration pages: catalog queries, the ledger, the antivirus engines
// (probed at most every 30 s), the keys and the configuration file.
func (m *Main) webOps(a *archive.Archive) webapp.Operations {
	return webapp.Operations{
		Archived:      a.Cat.CountArchived,
		Status:        func(ctx context.Context) (*webapp.SystemStatus, error) { return systemStatus(ctx, a) },
		Engines:       m.engineProbe(),
		AccessLog:     a.Cat.AccessEntries,
		AccessActions: a.Cat.AccessActions,
		Keys:          func(context.Context) ([]webapp.Key, error) { return m.webKeys(a), nil },
		ConfigCheck:   func(context.Context) (*webapp.ConfigCheck, error) { return m.configCheck(), nil },
		Domains:       m.Config.Gateway.Domains,
	}
}

// systemStatus are the dashboard's operational figures, as `resguardo status`
// and `resguardo queue` compute them.
func systemStatus(ctx context.Context, a *archive.Archive) (*webapp.SystemStatus, error) {
	var s webapp.SystemStatus
	var err error
	if s.Quarantined, err = a.Cat.CountQuarantined(ctx); err != nil {
		return nil, err
	}
	if s.Outbound, err = a.Cat.OutboundCounts(ctx); err != nil {
		return nil, err
	}
	if s.IndexLag, s.IndexOldest, err = a.Cat.IndexLag(ctx); err != nil {
		return nil, err
	}
	next, err := a.Cat.LedgerNext(ctx)
	if err != nil {
		return nil, err
	}
	_, s.CheckpointAt = a.Log.Checkpoint()
	s.LedgerSize = a.Log.Size()
	s.LedgerPending = max(next-s.LedgerSize, 0)
	cp, err := a.Cat.LatestCheckpoint(ctx)
	switch {
	case err == nil:
		s.StampedSize, s.StampedAt, s.StampAuthority = cp.Size, cp.StampTime, cp.Authority
	case !errors.Is(err, catalog.ErrNoCheckpoint):
		return nil, err
	}
	return &s, nil
}

// engineProbe probes the configured antivirus engines, in parallel, reusing
// the answer for 30 s so that dashboard visits do not load the engines (nil
// when none is configured: the section is hidden).
func (m *Main) engineProbe() func(context.Context) ([]webapp.Engine, error) {
	g := m.Config.Gateway
	if len(g.Antivirus) == 0 {
		return nil
	}
	s := antivirusScanner(g)
	var mu sync.Mutex
	var last []webapp.Engine
	var at time.Time
	return func(ctx context.Context) ([]webapp.Engine, error) {
		mu.Lock()
		defer mu.Unlock()
		if last != nil && time.Since(at) < 30*time.Second {
			return last, nil
		}
		out := make([]webapp.Engine, len(s.Engines))
		var wg sync.WaitGroup
		for i, e := range s.Engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := probeEngine(ctx, e, g.Antivirus[i])
				out[i] = webapp.Engine{Name: l.Name, Type: l.Type, Address: l.Address, Up: l.Up, Version: l.Version,
					Error: l.Error, LatencyMS: l.LatencyMS}
			}()
		}
		wg.Wait()
		last, at = out, time.Now()
		return out, nil
	}
}

// keyKinds are the identifiers (webapp.Key.Role, translated by the page) of
// the roles keyInfos names.
var keyKinds = map[string]string{
	"master key (wraps blob keys), current": "master_current", "master key (wraps blob keys)": "master",
	"blob-name key": "blob_name", "ledger signing key": "ledger", "built-in TSA CA": "tsa_ca",
	"built-in TSA certificate": "tsa", "certification CA": "certification_ca", "certification signer": "certification",
}

// webKeys are the keys of `resguardo keys show`, the DKIM signing keys (the
// SHA-256 of the DNS record they publish) and the gateway's TLS certificate.
func (m *Main) webKeys(a *archive.Archive) []webapp.Key {
	var out []webapp.Key
	for _, k := range m.keyInfos(a) {
		role := k.Role
		if kind, ok := keyKinds[role]; ok {
			role = kind
		}
		wk := webapp.Key{Role: role, ID: k.ID, Subject: k.Subject, Fingerprint: k.Fingerprint, Public: k.Public}
		if t, err := time.Parse("2006-01-02", k.NotAfter); err == nil {
			wk.NotAfter = t
		}
		out = append(out, wk)
	}
	files, _ := filepath.Glob(filepath.Join(dkimKeyDir(a.Dir()), "*", "*.key"))
	sort.Strings(files)
	for _, f := range files {
		k, err := describeDKIMKey(f, filepath.Base(filepath.Dir(f)), strings.TrimSuffix(filepath.Base(f), ".key"))
		if err != nil {
			m.Logger.Warn("system page: DKIM key", "file", f, "err", err)
			continue
		}
		out = append(out, webapp.Key{Role: "dkim", ID: k.RecordName, Subject: k.Algorithm, Fingerprint: k.SHA256})
	}
	certFile := m.Config.Gateway.TLSCertFile
	if certFile == "" {
		certFile = filepath.Join(keys.GatewayTLSDir(archive.Layout{Dir: a.Dir()}.Keys()), "tls.crt")
	}
	if b, err := os.ReadFile(certFile); err == nil {
		if blk, _ := pem.Decode(b); blk != nil {
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
				out = append(out, webapp.Key{Role: "gateway_tls", Subject: c.Subject.String(),
					Fingerprint: keys.Fingerprint(c), NotAfter: c.NotAfter})
			}
		}
	}
	return out
}

// configCheck reads the configuration file again and validates it, as
// `resguardo config check` does.
func (m *Main) configCheck() *webapp.ConfigCheck {
	c := &webapp.ConfigCheck{File: m.ConfigPath}
	if m.ConfigPath == "" {
		return c
	}
	_, err := config.Load(m.ConfigPath)
	var ce *config.Error
	switch {
	case errors.As(err, &ce):
		c.Problems = strings.Split(ce.Error(), "\n")
	case err != nil:
		c.Problems = []string{err.Error()}
	}
	return c
}
