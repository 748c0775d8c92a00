package identity

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Directory authenticates against an external directory. *LDAP implements it.
type Directory interface {
	// Authenticate checks login and password. A wrong login or password is
	// ErrInvalidCredentials; an unreachable or misconfigured directory is any
	// other error (the service shows ErrDirectoryUnavailable).
	Authenticate(ctx context.Context, login, password string) (*DirectoryUser, error)
}

// DirectoryUser is what the directory says about a person who just authenticated.
type DirectoryUser struct {
	DN string
	// ID is the entry's stable identifier, "attribute:value" (e.g.
	// "entryUUID:…", "objectGUID:<hex>"), when the directory is configured with
	// one; "" otherwise. Unlike the DN it survives moves and renames, and a new
	// person who is given a former colleague's login gets a different one.
	ID          string
	Login       string // the login attribute's value ("" if none configured or absent)
	DisplayName string
	Addresses   []string
	Groups      []string // group DNs
	Roles       []Role   // mapped from Groups (or the default role); empty: no access
}

// LDAPConfig configures bind authentication against LDAP or Active Directory:
// find the person's entry with the service account, bind as that entry with the
// typed password, read their groups, map groups to roles.
type LDAPConfig struct {
	URL           string      // ldaps://dc1.ejemplo.gob.mx:636, or ldap://…:389 with StartTLS
	StartTLS      bool        // upgrade an ldap:// connection with StartTLS
	TLS           *tls.Config // trust anchors (RootCAs) and ServerName; nil: system roots, the URL's host
	AllowInsecure bool        // permit ldap:// without StartTLS: passwords cross the network in clear (tests, loopback only)
	BindDN        string      // service account ("" binds anonymously for the search)
	BindPassword  string
	BaseDN        string // where people are searched, whole subtree
	// UserFilter finds the entry; every %s becomes the login, escaped (RFC 4515):
	// "(&(objectClass=user)(sAMAccountName=%s))" for AD, "(&(objectClass=inetOrgPerson)(uid=%s))" for OpenLDAP.
	UserFilter     string
	LoginAttribute string // the local login is this attribute's value (sAMAccountName, uid); "": the typed login
	// IDAttribute is an attribute that names the entry for good: "objectGUID"
	// (AD) or "entryUUID" (OpenLDAP). With it, an account is bound to its entry:
	// a login reused for another person's entry is refused until an
	// administrator deletes the old account. "": accounts follow the login.
	IDAttribute          string
	DisplayNameAttribute string   // "displayName" (cn when empty on the entry)
	MailAttributes       []string // ["mail"]; AD: add "proxyAddresses" (its smtp: values count)
	// Groups says how group membership is read: "memberof" (the entry's
	// MemberOfAttribute, AD and OpenLDAP's memberof overlay) or "search"
	// (GroupFilter under GroupBaseDN, %s being the person's DN, escaped).
	Groups            string
	MemberOfAttribute string // "memberOf"
	GroupBaseDN       string // BaseDN when empty
	// GroupFilter, e.g. "(&(objectClass=groupOfNames)(member=%s))"; for nested AD
	// groups "(member:1.2.840.113556.1.4.1941:=%s)".
	GroupFilter string
	RoleGroups  map[Role][]string // role → group DNs (compared case-insensitively, as DNs)
	DefaultRole Role              // role for people in none of the groups; "": they may not log in
	Timeout     time.Duration     // per connection and operation; 10 s
}

// LDAP is a Directory over LDAP (github.com/go-ldap/ldap/v3).
type LDAP struct {
	cfg    LDAPConfig
	url    *url.URL
	groups []roleGroup
}

type roleGroup struct {
	role Role
	dn   *ldap.DN
}

// BuildFilter puts value into every %s of template, escaped per RFC 4515, so
// nothing a person types can change the filter's structure.
func BuildFilter(template, value string) string {
	return strings.ReplaceAll(template, "%s", ldap.EscapeFilter(value))
}

// NewLDAP checks cfg and returns the directory.
func NewLDAP(cfg LDAPConfig) (*LDAP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return nil, fmt.Errorf("ldap url: want ldaps://host:636 or ldap://host:389, got %q", cfg.URL)
	}
	if u.Scheme == "ldaps" && cfg.StartTLS {
		return nil, errors.New("ldap: start_tls is for ldap:// URLs; ldaps:// is TLS already")
	}
	if u.Scheme == "ldap" && !cfg.StartTLS && !cfg.AllowInsecure {
		return nil, errors.New("ldap: an ldap:// URL without start_tls sends passwords in clear; use ldaps:// or start_tls")
	}
	if cfg.BaseDN == "" {
		return nil, errors.New("ldap: base_dn is required")
	}
	if _, err := ldap.ParseDN(cfg.BaseDN); err != nil {
		return nil, fmt.Errorf("ldap base_dn: %v", err)
	}
	if !strings.Contains(cfg.UserFilter, "%s") {
		return nil, errors.New(`ldap user_filter: want a filter with %s for the login, e.g. "(&(objectClass=user)(sAMAccountName=%s))"`)
	}
	if _, err := ldap.CompileFilter(BuildFilter(cfg.UserFilter, "prueba")); err != nil {
		return nil, fmt.Errorf("ldap user_filter: %v", err)
	}
	if cfg.DisplayNameAttribute == "" {
		cfg.DisplayNameAttribute = "displayName"
	}
	if len(cfg.MailAttributes) == 0 {
		cfg.MailAttributes = []string{"mail"}
	}
	if cfg.MemberOfAttribute == "" {
		cfg.MemberOfAttribute = "memberOf"
	}
	if cfg.GroupBaseDN == "" {
		cfg.GroupBaseDN = cfg.BaseDN
	}
	switch cfg.Groups {
	case "", "memberof":
		cfg.Groups = "memberof"
	case "search":
		if !strings.Contains(cfg.GroupFilter, "%s") {
			return nil, errors.New(`ldap group_filter: want a filter with %s for the person's DN, e.g. "(&(objectClass=groupOfNames)(member=%s))"`)
		}
		if _, err := ldap.CompileFilter(BuildFilter(cfg.GroupFilter, "cn=prueba,dc=ejemplo")); err != nil {
			return nil, fmt.Errorf("ldap group_filter: %v", err)
		}
	default:
		return nil, fmt.Errorf("ldap groups: want memberof or search, got %q", cfg.Groups)
	}
	if cfg.DefaultRole != "" && !cfg.DefaultRole.Valid() {
		return nil, fmt.Errorf("ldap default_role: unknown role %q", cfg.DefaultRole)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	l := &LDAP{cfg: cfg, url: u}
	for _, r := range Roles { // in Roles order, so mapped roles come out sorted the same way
		for _, g := range cfg.RoleGroups[r] {
			dn, err := ldap.ParseDN(g)
			if err != nil {
				return nil, fmt.Errorf("ldap roles.%s: %q is not a DN: %v", r, g, err)
			}
			l.groups = append(l.groups, roleGroup{r, dn})
		}
	}
	for r := range cfg.RoleGroups {
		if !r.Valid() {
			return nil, fmt.Errorf("ldap roles: unknown role %q", r)
		}
	}
	if len(l.groups) == 0 && cfg.DefaultRole == "" {
		return nil, errors.New("ldap: map at least one group to a role (roles), or set default_role")
	}
	return l, nil
}

func (l *LDAP) tlsConfig() *tls.Config {
	var c *tls.Config
	if l.cfg.TLS != nil {
		c = l.cfg.TLS.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = l.url.Hostname()
	}
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// conn dials the directory (TLS as configured) and binds as the service account.
func (l *LDAP) conn(ctx context.Context) (*ldap.Conn, func(), error) {
	d := &net.Dialer{Timeout: l.cfg.Timeout}
	c, err := ldap.DialURL(l.cfg.URL, ldap.DialWithDialer(d), ldap.DialWithTLSConfig(l.tlsConfig()))
	if err != nil {
		return nil, nil, fmt.Errorf("ldap dial %s: %w", l.url.Host, err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	done := func() {
		stop()
		c.Close()
	}
	c.SetTimeout(l.cfg.Timeout)
	if l.cfg.StartTLS {
		if err := c.StartTLS(l.tlsConfig()); err != nil {
			done()
			return nil, nil, fmt.Errorf("ldap StartTLS with %s: %w", l.url.Host, err)
		}
	}
	if err := l.serviceBind(c); err != nil {
		done()
		return nil, nil, err
	}
	return c, done, nil
}

func (l *LDAP) serviceBind(c *ldap.Conn) error {
	var err error
	if l.cfg.BindDN == "" {
		err = c.UnauthenticatedBind("")
	} else {
		err = c.Bind(l.cfg.BindDN, l.cfg.BindPassword)
	}
	if err != nil {
		return fmt.Errorf("ldap bind as the service account %q: %w", l.cfg.BindDN, err)
	}
	return nil
}

// Check connects and binds as the service account and reads the base entry: for
// the configuration check page.
func (l *LDAP) Check(ctx context.Context) error {
	c, done, err := l.conn(ctx)
	if err != nil {
		return err
	}
	defer done()
	_, err = c.Search(ldap.NewSearchRequest(l.cfg.BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1,
		int(l.cfg.Timeout/time.Second), false, "(objectClass=*)", []string{"1.1"}, nil))
	if err != nil {
		return fmt.Errorf("ldap base_dn %q: %w", l.cfg.BaseDN, err)
	}
	return nil
}

// Authenticate implements Directory: search the entry with the service account
// (exactly one must match), bind as it with password, then read its groups (as
// the service account again for "search") and map them to roles.
func (l *LDAP) Authenticate(ctx context.Context, login, password string) (*DirectoryUser, error) {
	if password == "" || login == "" {
		// An empty password would be an "unauthenticated bind", which servers
		// answer with success (RFC 4513 §5.1.2).
		return nil, ErrInvalidCredentials
	}
	c, done, err := l.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	attrs := append([]string{l.cfg.DisplayNameAttribute, "cn"}, l.cfg.MailAttributes...)
	if l.cfg.LoginAttribute != "" {
		attrs = append(attrs, l.cfg.LoginAttribute)
	}
	if l.cfg.IDAttribute != "" {
		attrs = append(attrs, l.cfg.IDAttribute)
	}
	if l.cfg.Groups == "memberof" {
		attrs = append(attrs, l.cfg.MemberOfAttribute)
	}
	res, err := c.Search(ldap.NewSearchRequest(l.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2,
		int(l.cfg.Timeout/time.Second), false, BuildFilter(l.cfg.UserFilter, login), attrs, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return nil, fmt.Errorf("%w (the user filter matches more than one entry for %q)", ErrInvalidCredentials, login)
	}
	if err != nil {
		return nil, fmt.Errorf("ldap search for %q: %w", login, err)
	}
	if len(res.Entries) != 1 {
		if len(res.Entries) > 1 {
			return nil, fmt.Errorf("%w (the user filter matches %d entries for %q)", ErrInvalidCredentials, len(res.Entries), login)
		}
		return nil, ErrInvalidCredentials
	}
	e := res.Entries[0]
	if err := c.Bind(e.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return nil, ErrInvalidCredentials
		}
		return nil, fmt.Errorf("ldap bind as %q: %w", e.DN, err)
	}
	du := &DirectoryUser{DN: e.DN, DisplayName: e.GetAttributeValue(l.cfg.DisplayNameAttribute)}
	if du.DisplayName == "" {
		du.DisplayName = e.GetAttributeValue("cn")
	}
	if l.cfg.LoginAttribute != "" {
		du.Login = e.GetAttributeValue(l.cfg.LoginAttribute)
	}
	if l.cfg.IDAttribute != "" {
		raw := e.GetEqualFoldRawAttributeValue(l.cfg.IDAttribute)
		if len(raw) == 0 {
			return nil, fmt.Errorf("ldap: entry %q has no %s (id_attribute)", e.DN, l.cfg.IDAttribute)
		}
		du.ID = l.cfg.IDAttribute + ":" + idValue(raw)
	}
	for _, a := range l.cfg.MailAttributes {
		for _, v := range e.GetEqualFoldAttributeValues(a) {
			if strings.EqualFold(a, "proxyAddresses") {
				kind, addr, ok := strings.Cut(v, ":")
				if !ok || !strings.EqualFold(kind, "smtp") {
					continue // X500:, SIP:, … are not mail addresses
				}
				v = addr
			}
			if n := NormalizeAddress(v); n != "" && !slices.Contains(du.Addresses, n) {
				du.Addresses = append(du.Addresses, n)
			}
		}
	}
	if l.cfg.Groups == "memberof" {
		du.Groups = e.GetEqualFoldAttributeValues(l.cfg.MemberOfAttribute)
	} else {
		if err := l.serviceBind(c); err != nil {
			return nil, err
		}
		gr, err := c.Search(ldap.NewSearchRequest(l.cfg.GroupBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0,
			int(l.cfg.Timeout/time.Second), false, BuildFilter(l.cfg.GroupFilter, e.DN), []string{"1.1"}, nil))
		if err != nil {
			return nil, fmt.Errorf("ldap group search for %q: %w", e.DN, err)
		}
		for _, g := range gr.Entries {
			du.Groups = append(du.Groups, g.DN)
		}
	}
	du.Roles = l.mapRoles(du.Groups)
	return du, nil
}

// idValue is a printable identifier as is (entryUUID), anything else in hex (objectGUID).
func idValue(raw []byte) string {
	for _, c := range raw {
		if c < 0x21 || c > 0x7e {
			return hex.EncodeToString(raw)
		}
	}
	return string(raw)
}

// mapRoles maps group DNs to roles (in Roles order), or the default role.
func (l *LDAP) mapRoles(groups []string) []Role {
	var roles []Role
	for _, g := range groups {
		dn, err := ldap.ParseDN(g)
		if err != nil {
			continue
		}
		for _, rg := range l.groups {
			if rg.dn.EqualFold(dn) && !slices.Contains(roles, rg.role) {
				roles = append(roles, rg.role)
			}
		}
	}
	if len(roles) == 0 && l.cfg.DefaultRole != "" {
		roles = []Role{l.cfg.DefaultRole}
	}
	slices.SortFunc(roles, func(a, b Role) int { return slices.Index(Roles, a) - slices.Index(Roles, b) })
	return roles
}
