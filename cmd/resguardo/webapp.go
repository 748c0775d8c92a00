package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/config"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/export"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/search"
	"github.com/resguardo/resguardo/internal/webapp"
)

// identityService is the accounts and sessions service over the catalog, with
// TOTP secrets sealed under a key derived from the key ring's name key (which
// never rotates), and the [identity] configuration.
func (m *Main) identityService(a *archive.Archive) (*identity.Service, error) {
	c := m.Config.Identity
	dir, err := ldapDirectory(c.LDAP)
	if err != nil {
		return nil, err
	}
	op, err := oidcProvider(c.OIDC, m.Config.Server.Listen)
	if err != nil {
		return nil, err
	}
	return identity.New(a.Cat, identity.Options{
		Directory: dir,
		OIDC:      op,
		SecretKey: identity.DeriveSecretKey(a.Keys.NameKey()),
		Logger:    m.Logger,
		Issuer:    c.TOTPIssuer,
		Sessions:  identity.SessionPolicy{Idle: c.SessionIdle.D(), Absolute: c.SessionAbsolute.D()},
		Throttle: identity.ThrottlePolicy{Failures: c.LoginFailures, IPFailures: c.IPFailures,
			Lockout: c.Lockout.D(), MaxLockout: c.MaxLockout.D()},
	})
}

// ldapDirectory is the [identity.ldap] directory (nil when no url is set).
func ldapDirectory(c config.IdentityLDAP) (identity.Directory, error) {
	if !c.Enabled() {
		return nil, nil
	}
	pw, err := c.BindPassword()
	if err != nil {
		return nil, err
	}
	var tlsConf *tls.Config
	if c.CAFile != "" || c.ServerName != "" {
		tlsConf = &tls.Config{ServerName: c.ServerName, MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pemBytes, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("identity.ldap.ca_file: %w", err)
			}
			tlsConf.RootCAs = x509.NewCertPool()
			if !tlsConf.RootCAs.AppendCertsFromPEM(pemBytes) {
				return nil, fmt.Errorf("identity.ldap.ca_file %s: no PEM certificates", c.CAFile)
			}
		}
	}
	roles := map[identity.Role][]string{}
	for r, groups := range c.Roles {
		roles[identity.Role(r)] = groups
	}
	d, err := identity.NewLDAP(identity.LDAPConfig{
		URL: c.URL, StartTLS: c.StartTLS, TLS: tlsConf, AllowInsecure: c.AllowInsecure,
		BindDN: c.BindDN, BindPassword: pw, BaseDN: c.BaseDN, UserFilter: c.UserFilter,
		LoginAttribute: c.LoginAttribute, IDAttribute: c.IDAttribute, DisplayNameAttribute: c.DisplayNameAttribute,
		MailAttributes: c.MailAttributes, Groups: c.Groups, MemberOfAttribute: c.MemberOfAttribute,
		GroupBaseDN: c.GroupBaseDN, GroupFilter: c.GroupFilter, RoleGroups: roles,
		DefaultRole: identity.Role(c.DefaultRole), Timeout: c.Timeout.D(),
	})
	if err != nil {
		return nil, fmt.Errorf("identity.ldap: %w", err)
	}
	return d, nil
}

// oidcProvider is the [identity.oidc] provider (nil when no issuer is set).
func oidcProvider(c config.IdentityOIDC, listen string) (*identity.OIDC, error) {
	if !c.Enabled() {
		return nil, nil
	}
	secret, err := c.ClientSecret()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.CAFile != "" {
		pemBytes, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("identity.oidc.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("identity.oidc.ca_file %s: no PEM certificates", c.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	roles := map[identity.Role][]string{}
	for r, groups := range c.Roles {
		roles[identity.Role(r)] = groups
	}
	o, err := identity.NewOIDC(identity.OIDCConfig{
		Name: c.Name, Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: secret, RedirectURL: c.RedirectURLFor(listen),
		Scopes: c.Scopes, LoginClaim: c.LoginClaim, NameClaim: c.NameClaim, EmailClaim: c.EmailClaim, GroupsClaim: c.GroupsClaim,
		RoleGroups: roles, DefaultRole: identity.Role(c.DefaultRole), Domains: c.AllowedDomains, AutoCreate: c.AutoCreate,
		TrustIdPMFA: c.TrustIdPMFA, HTTPClient: &http.Client{Transport: tr, Timeout: c.Timeout.D()},
	})
	if err != nil {
		return nil, fmt.Errorf("identity.oidc: %w", err)
	}
	return o, nil
}

// newWebApp builds the web application over the archive, serve's search index
// (opened for writing by serve; searches share it) and the identity service.
func (m *Main) newWebApp(a *archive.Archive, idx search.Index, ids *identity.Service, tz *time.Location, https bool) (*webapp.App, error) {
	return webapp.New(webapp.Options{
		Identity: ids, Index: idx, TZ: tz, Logger: m.Logger, TLS: https,
		Ops:    m.webOps(a), // dashboard, access log, administration (webapp_ops.go)
		Lookup: func(ctx context.Context, id string) (*catalog.Record, error) { return a.Cat.Lookup(ctx, id) },
		Bytes:  a.Bytes,
		LogAccess: func(ctx context.Context, d archive.AccessDetail) error {
			_, err := a.LogAccess(ctx, d)
			return err
		},
		Arrivals: func(ctx context.Context, r *catalog.Record) ([]constancia.Arrival, error) {
			return arrivalsOf(ctx, a, r.Seq)
		},
		Constancia: func(ctx context.Context, r *catalog.Record) (*webapp.Constancia, error) {
			_, anchors, err := m.notaryFor(a)
			if err != nil {
				return nil, err
			}
			in, err := a.ConstanciaInputs(ctx, r, m.Config.Evidence.Issuer, anchors)
			if err != nil {
				return nil, err
			}
			doc, p7s, pdf, err := m.issueConstancia(ctx, a, r, in, nil)
			if err != nil {
				return nil, err
			}
			return &webapp.Constancia{JSON: doc, P7S: p7s, PDF: pdf}, nil
		},
		Thread: a.Cat.ThreadMembers,
		Export: m.webExport(a),
	})
}

// webExport is the web application's export of a result set: the package of
// `resguardo export` (export.go) for ids, in order, with every id in its
// access entry.
func (m *Main) webExport(a *archive.Archive) func(ctx context.Context, path string, ids []string, req webapp.ExportRequest) (*export.Result, error) {
	return func(ctx context.Context, path string, ids []string, req webapp.ExportRequest) (*export.Result, error) {
		opt, err := m.exportOptions(a)
		if err != nil {
			return nil, err
		}
		opt.Actor, opt.Justification, opt.Via, opt.Records = req.Actor, req.Justification, req.Via, true
		return export.Write(ctx, path, func(fn func(id string) error) error {
			for _, id := range ids {
				if err := fn(id); err != nil {
					return err
				}
			}
			return nil
		}, req.Query, opt)
	}
}
