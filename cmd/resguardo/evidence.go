package main

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/keys"
	"github.com/resguardo/resguardo/internal/ledger"
	"github.com/resguardo/resguardo/internal/notary"
	"github.com/resguardo/resguardo/internal/web"
)

// notaryFor returns the configured timestamp authority and the PEM trust anchors
// that verifiers need for its tokens.
func (m *Main) notaryFor(a *archive.Archive) (archive.Notary, []string, error) {
	ev := m.Config.Evidence
	switch ev.TSA {
	case "url":
		pemBytes, err := os.ReadFile(ev.TSACAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("evidence.tsa_ca_file: %w", err)
		}
		roots, anchors, err := certPool(pemBytes)
		if err != nil {
			return nil, nil, fmt.Errorf("evidence.tsa_ca_file %s: %w", ev.TSACAFile, err)
		}
		c := &notary.Client{URL: ev.TSAURL, Roots: roots, Username: ev.TSAUsername}
		if ev.TSAPasswordFile != "" {
			pw, err := os.ReadFile(ev.TSAPasswordFile)
			if err != nil {
				return nil, nil, fmt.Errorf("evidence.tsa_password_file: %w", err)
			}
			c.Password = strings.TrimSpace(string(pw))
		}
		if ev.TSAPolicy != "" {
			c.Policy, err = parseOID(ev.TSAPolicy)
			if err != nil {
				return nil, nil, fmt.Errorf("evidence.tsa_policy: %w", err)
			}
		}
		return c, anchors, nil
	default:
		auth, err := notary.LoadAuthority(archive.Layout{Dir: a.Dir()}.TSADir(), notary.AuthorityOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("built-in TSA: %w", err)
		}
		return auth, []string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: auth.CACert().Raw}))}, nil
	}
}

// stampLatest timestamps the latest checkpoint with the configured authority.
func (m *Main) stampLatest(ctx context.Context, a *archive.Archive) error {
	if err := archive.InitEvidence(a.Dir(), m.Config.Evidence.Issuer, nowUTC()); err != nil {
		return err
	}
	n, _, err := m.notaryFor(a)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	cp, err := a.Stamp(sctx, n)
	if err != nil || cp == nil {
		return err
	}
	pub := ledger.Publication{Origin: a.Format.Origin, Size: cp.Size, Checkpoint: cp.Note, Token: cp.Token}
	for _, p := range m.publishers() {
		if err := p.Publish(sctx, pub); err != nil {
			// Not fatal: the checkpoint is stamped and kept; `resguardo ledger publish`
			// sends every stamped checkpoint again.
			m.Logger.Warn("checkpoint not published", "destination", p.String(), "size", cp.Size, "err", err)
		}
	}
	return nil
}

func (m *Main) publishers() []ledger.Publisher {
	var ps []ledger.Publisher
	for _, d := range m.Config.Evidence.PublishDirs {
		ps = append(ps, ledger.DirPublisher{Dir: d})
	}
	for _, u := range m.Config.Evidence.PublishURLs {
		ps = append(ps, ledger.HTTPPublisher{URL: u})
	}
	if ev := m.Config.Evidence; len(ev.PublishEmails) > 0 {
		e := ledger.EmailPublisher{Server: ev.SMTPServer, From: ev.SMTPFrom, To: ev.PublishEmails, Username: ev.SMTPUsername}
		if ev.SMTPPasswordFile != "" {
			if b, err := os.ReadFile(ev.SMTPPasswordFile); err == nil {
				e.Password = strings.TrimSpace(string(b))
			} else {
				m.Logger.Warn("evidence.smtp_password_file unreadable", "err", err)
			}
		}
		ps = append(ps, e)
	}
	return ps
}

func certPool(pemBytes []byte) (*x509.CertPool, []string, error) {
	pool := x509.NewCertPool()
	var anchors []string
	for rest := pemBytes; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, nil, err
		}
		pool.AddCert(c)
		anchors = append(anchors, string(pem.EncodeToMemory(blk)))
	}
	if len(anchors) == 0 {
		return nil, nil, errors.New("no PEM certificate")
	}
	return pool, anchors, nil
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		// DER, as certificates often come
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("%s: no PEM or DER certificate", path)
		}
		out = append(out, c)
	}
	return out, nil
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad OID %q", s)
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("bad OID %q", s)
	}
	return oid, nil
}

// pinnedVerifier verifies constancias with this institution's own trust anchors:
// its ledger key, its timestamp authority and its certification CA (the public
// verification page uses it).
func (m *Main) pinnedVerifier(a *archive.Archive) (web.VerifyFunc, error) {
	if err := archive.InitEvidence(a.Dir(), m.Config.Evidence.Issuer, nowUTC()); err != nil {
		return nil, err
	}
	_, anchors, err := m.notaryFor(a)
	if err != nil {
		return nil, err
	}
	var tsaRoots []*x509.Certificate
	for _, p := range anchors {
		blk, _ := pem.Decode([]byte(p))
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			tsaRoots = append(tsaRoots, c)
		}
	}
	cert, err := m.certification(a)
	if err != nil {
		return nil, err
	}
	logKey := a.Keys.LedgerPublicKey()
	return func(msg, doc, p7s []byte) *constancia.Report {
		opt := constancia.Options{LogKey: logKey, TSARoots: tsaRoots, Now: time.Now()}
		if len(p7s) > 0 {
			opt.P7S, opt.CARoots = p7s, []*x509.Certificate{cert.CA}
		}
		return constancia.Verify(msg, doc, opt)
	}, nil
}

// pscFor returns the configured PSC (nil when none) and its pinned certificates.
func (m *Main) pscFor() (*notary.PSC, []string, error) {
	c := m.Config.Evidence.PSC
	if c.URL == "" {
		return nil, nil, nil
	}
	pemBytes, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("evidence.psc.ca_file: %w", err)
	}
	roots, anchors, err := certPool(pemBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("evidence.psc.ca_file %s: %w", c.CAFile, err)
	}
	p := &notary.PSC{Protocol: c.Protocol, URL: c.URL, Roots: roots, Username: c.Username,
		RESTBody: c.RESTBody, RESTContentType: c.RESTContentType, RESTResponse: c.RESTResponse}
	for _, f := range []struct {
		path string
		dst  *string
	}{{c.PasswordFile, &p.Password}, {c.BearerTokenFile, &p.BearerToken}} {
		if f.path != "" {
			b, err := os.ReadFile(f.path)
			if err != nil {
				return nil, nil, fmt.Errorf("evidence.psc: %w", err)
			}
			*f.dst = strings.TrimSpace(string(b))
		}
	}
	return p, anchors, nil
}

// anchorLatest anchors the latest checkpoint with the PSC, when one is configured.
func (m *Main) anchorLatest(ctx context.Context, a *archive.Archive) error {
	psc, _, err := m.pscFor()
	if err != nil || psc == nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	_, err = a.Anchor(sctx, psc)
	return err
}

// certification returns the institution's certification key: the configured one
// (evidence.cert_file/key_file/ca_file or pkcs12_file) or the one made at init.
func (m *Main) certification(a *archive.Archive) (*keys.Certification, error) {
	ev := m.Config.Evidence
	if ev.CertFile == "" && ev.PKCS12File == "" {
		return keys.LoadCertification(archive.Layout{Dir: a.Dir()}.Keys())
	}
	f := keys.CertificationFiles{CertFile: ev.CertFile, KeyFile: ev.KeyFile, CAFile: ev.CAFile, PKCS12File: ev.PKCS12File}
	if ev.PKCS12PasswordFile != "" {
		b, err := os.ReadFile(ev.PKCS12PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("evidence.pkcs12_password_file: %w", err)
		}
		f.PKCS12Password = strings.TrimRight(string(b), "\r\n")
	}
	return keys.LoadCertificationFiles(f)
}
