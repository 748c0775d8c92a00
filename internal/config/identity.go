package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// Identity is the [identity] section: sessions, login throttling, the second
// factor, and LDAP / Active Directory (docs/IDENTITY.md). To wire it into the
// file: a field Identity (toml "identity") in Config, DefaultIdentity() in
// Default, and c.Identity.validate(bad) in Config.validate.
type Identity struct {
	SessionIdle     Duration     `toml:"session_idle"`     // 30m
	SessionAbsolute Duration     `toml:"session_absolute"` // 12h
	LoginFailures   int          `toml:"login_failures"`   // per account before a lock; 5
	IPFailures      int          `toml:"ip_failures"`      // per client network; 20
	Lockout         Duration     `toml:"lockout"`          // first lock; doubles per further failure; 15m
	MaxLockout      Duration     `toml:"max_lockout"`      // 24h
	TOTPIssuer      string       `toml:"totp_issuer"`      // name in authenticator apps; "Resguardo"
	LDAP            IdentityLDAP `toml:"ldap"`
	OIDC            IdentityOIDC `toml:"oidc"`
}

// IdentityOIDC is [identity.oidc]: login with an OpenID Connect provider
// (Authorization Code flow with PKCE). Empty issuer: none.
type IdentityOIDC struct {
	Name             string              `toml:"name"`               // on the button "Entrar con <name>"; the issuer's host when empty
	Issuer           string              `toml:"issuer"`             // https://…
	ClientID         string              `toml:"client_id"`          //
	ClientSecretFile string              `toml:"client_secret_file"` // 0600; or $RESGUARDO_OIDC_CLIENT_SECRET
	RedirectURL      string              `toml:"redirect_url"`       // default http://<server.listen>/entrar/oidc/callback
	Scopes           []string            `toml:"scopes"`             // must include openid
	LoginClaim       string              `toml:"login_claim"`        // preferred_username or email
	NameClaim        string              `toml:"name_claim"`         //
	EmailClaim       string              `toml:"email_claim"`        //
	GroupsClaim      string              `toml:"groups_claim"`       //
	DefaultRole      string              `toml:"default_role"`       // "": people in no mapped group may not log in
	AllowedDomains   []string            `toml:"allowed_domains"`    // of a verified email; empty: any
	AutoCreate       bool                `toml:"auto_create"`        // true
	TrustIdPMFA      bool                `toml:"trust_idp_mfa"`      // every login counts as two-factor
	CAFile           string              `toml:"ca_file"`            // PEM trust anchors for the provider; empty: the system's
	Timeout          Duration            `toml:"timeout"`            // per request to the provider
	Roles            map[string][]string `toml:"roles"`              // role → group names
}

// Enabled reports whether OpenID Connect login is configured.
func (o *IdentityOIDC) Enabled() bool { return o.Issuer != "" }

// ClientSecret reads the client secret from client_secret_file, else
// $RESGUARDO_OIDC_CLIENT_SECRET.
func (o *IdentityOIDC) ClientSecret() (string, error) {
	if o.ClientSecretFile != "" {
		b, err := os.ReadFile(o.ClientSecretFile)
		if err != nil {
			return "", fmt.Errorf("identity.oidc.client_secret_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return os.Getenv("RESGUARDO_OIDC_CLIENT_SECRET"), nil
}

// RedirectURLFor is redirect_url, or the callback on the server's listen address.
func (o *IdentityOIDC) RedirectURLFor(listen string) string {
	if o.RedirectURL != "" {
		return o.RedirectURL
	}
	return "http://" + listen + "/entrar/oidc/callback"
}

// IdentityLDAP is [identity.ldap]: bind authentication against LDAP or Active
// Directory and group → role mapping. Empty url: local accounts only.
type IdentityLDAP struct {
	URL                  string              `toml:"url"`            // ldaps://dc1.ejemplo.gob.mx:636 or ldap://…:389 with start_tls
	StartTLS             bool                `toml:"start_tls"`      //
	CAFile               string              `toml:"ca_file"`        // PEM trust anchors; empty: the system's
	ServerName           string              `toml:"server_name"`    // certificate name when it differs from the URL's host
	AllowInsecure        bool                `toml:"allow_insecure"` // ldap:// without start_tls: passwords in clear (loopback tests only)
	BindDN               string              `toml:"bind_dn"`        // service account
	BindPasswordFile     string              `toml:"bind_password_file"`
	BaseDN               string              `toml:"base_dn"`
	UserFilter           string              `toml:"user_filter"`     // %s = the login, escaped
	LoginAttribute       string              `toml:"login_attribute"` // sAMAccountName, uid
	IDAttribute          string              `toml:"id_attribute"`    // objectGUID, entryUUID: binds accounts to entries
	DisplayNameAttribute string              `toml:"display_name_attribute"`
	MailAttributes       []string            `toml:"mail_attributes"`
	Groups               string              `toml:"groups"` // memberof or search
	MemberOfAttribute    string              `toml:"member_of_attribute"`
	GroupBaseDN          string              `toml:"group_base_dn"`
	GroupFilter          string              `toml:"group_filter"` // %s = the person's DN, escaped
	DefaultRole          string              `toml:"default_role"` // "": people in no mapped group may not log in
	Timeout              Duration            `toml:"timeout"`
	Roles                map[string][]string `toml:"roles"` // role → group DNs
}

// IdentityRoles are the role identifiers of internal/identity (a test there
// keeps the two lists equal; config does not import identity).
var IdentityRoles = []string{"administrador", "auditor", "unidad_transparencia", "responsable_archivo", "titular_unidad", "servidor_publico"}

// DefaultIdentity returns the defaults of [identity].
func DefaultIdentity() Identity {
	return Identity{
		SessionIdle: Duration(30 * time.Minute), SessionAbsolute: Duration(12 * time.Hour),
		LoginFailures: 5, IPFailures: 20, Lockout: Duration(15 * time.Minute), MaxLockout: Duration(24 * time.Hour),
		TOTPIssuer: "Resguardo",
		LDAP: IdentityLDAP{UserFilter: "(&(objectClass=user)(sAMAccountName=%s))", LoginAttribute: "sAMAccountName",
			IDAttribute: "objectGUID", DisplayNameAttribute: "displayName", MailAttributes: []string{"mail"}, Groups: "memberof",
			MemberOfAttribute: "memberOf", Timeout: Duration(10 * time.Second)},
		OIDC: IdentityOIDC{Scopes: []string{"openid", "profile", "email"}, LoginClaim: "preferred_username", NameClaim: "name",
			EmailClaim: "email", GroupsClaim: "groups", AutoCreate: true, Timeout: Duration(10 * time.Second)},
	}
}

// Enabled reports whether LDAP login is configured.
func (l *IdentityLDAP) Enabled() bool { return l.URL != "" }

// BindPassword reads the service account's password from bind_password_file,
// else $RESGUARDO_LDAP_BIND_PASSWORD.
func (l *IdentityLDAP) BindPassword() (string, error) {
	if l.BindPasswordFile != "" {
		b, err := os.ReadFile(l.BindPasswordFile)
		if err != nil {
			return "", fmt.Errorf("identity.ldap.bind_password_file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return os.Getenv("RESGUARDO_LDAP_BIND_PASSWORD"), nil
}

func (id *Identity) validate(bad func(key, format string, a ...any)) {
	if time.Duration(id.SessionIdle) < time.Minute || time.Duration(id.SessionIdle) > 24*time.Hour {
		bad("identity.session_idle", "want 1m to 24h")
	}
	if id.SessionAbsolute < id.SessionIdle || time.Duration(id.SessionAbsolute) > 30*24*time.Hour {
		bad("identity.session_absolute", "want at least session_idle and at most 720h")
	}
	if id.LoginFailures < 1 || id.LoginFailures > 100 {
		bad("identity.login_failures", "want 1 to 100, got %d", id.LoginFailures)
	}
	if id.IPFailures < 1 || id.IPFailures > 10000 {
		bad("identity.ip_failures", "want 1 to 10000, got %d", id.IPFailures)
	}
	if time.Duration(id.Lockout) < time.Minute {
		bad("identity.lockout", "want at least 1m")
	}
	if id.MaxLockout < id.Lockout {
		bad("identity.max_lockout", "want at least lockout")
	}
	if strings.TrimSpace(id.TOTPIssuer) == "" || strings.Contains(id.TOTPIssuer, ":") {
		bad("identity.totp_issuer", "want a name without ':' (authenticator apps show it)")
	}
	id.OIDC.validate(bad)
	l := &id.LDAP
	if !l.Enabled() {
		return
	}
	u, err := url.Parse(l.URL)
	switch {
	case err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "":
		bad("identity.ldap.url", "want ldaps://host:636 or ldap://host:389, got %q", l.URL)
	case u.Scheme == "ldaps" && l.StartTLS:
		bad("identity.ldap.start_tls", "is for ldap:// URLs; ldaps:// is TLS already")
	case u.Scheme == "ldap" && !l.StartTLS && !l.AllowInsecure:
		bad("identity.ldap.start_tls", "an ldap:// URL without start_tls sends passwords in clear: use ldaps:// or start_tls = true")
	}
	if l.CAFile != "" {
		if _, err := os.Stat(l.CAFile); err != nil {
			bad("identity.ldap.ca_file", "%v", err)
		}
	}
	if l.BindDN != "" && l.BindPasswordFile == "" && os.Getenv("RESGUARDO_LDAP_BIND_PASSWORD") == "" {
		bad("identity.ldap.bind_password_file", "the service account's password: a file (0600), or $RESGUARDO_LDAP_BIND_PASSWORD")
	} else if l.BindPasswordFile != "" {
		if st, err := os.Stat(l.BindPasswordFile); err != nil {
			bad("identity.ldap.bind_password_file", "%v", err)
		} else if st.Mode().Perm()&0o077 != 0 {
			bad("identity.ldap.bind_password_file", "%s is readable by group or others (mode %o): chmod 600 it", l.BindPasswordFile, st.Mode().Perm())
		}
	}
	if !strings.Contains(l.BaseDN, "=") {
		bad("identity.ldap.base_dn", "want a DN such as \"dc=ejemplo,dc=gob,dc=mx\"")
	}
	if !strings.Contains(l.UserFilter, "%s") || !strings.HasPrefix(l.UserFilter, "(") {
		bad("identity.ldap.user_filter", "want a filter with %%s for the login, e.g. \"(&(objectClass=user)(sAMAccountName=%%s))\"")
	}
	switch l.Groups {
	case "memberof":
	case "search":
		if !strings.Contains(l.GroupFilter, "%s") {
			bad("identity.ldap.group_filter", "want a filter with %%s for the person's DN, e.g. \"(&(objectClass=groupOfNames)(member=%%s))\"")
		}
	default:
		bad("identity.ldap.groups", "want memberof or search, got %q", l.Groups)
	}
	validateRoleMap("identity.ldap", l.DefaultRole, l.Roles, func(r, g string) {
		if !strings.Contains(g, "=") {
			bad("identity.ldap.roles."+r, "%q is not a group DN", g)
		}
	}, bad)
	if time.Duration(l.Timeout) < time.Second || time.Duration(l.Timeout) > time.Minute {
		bad("identity.ldap.timeout", "want 1s to 1m")
	}
}

func (o *IdentityOIDC) validate(bad func(key, format string, a ...any)) {
	if !o.Enabled() {
		return
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) {
		bad("identity.oidc.issuer", "want https://host/… (the provider's issuer URL), got %q", o.Issuer)
	}
	if o.ClientID == "" {
		bad("identity.oidc.client_id", "the client id registered with the provider")
	}
	if o.ClientSecretFile == "" && os.Getenv("RESGUARDO_OIDC_CLIENT_SECRET") == "" {
		bad("identity.oidc.client_secret_file", "the client secret: a file (0600), or $RESGUARDO_OIDC_CLIENT_SECRET (never in this file)")
	} else if o.ClientSecretFile != "" {
		if st, err := os.Stat(o.ClientSecretFile); err != nil {
			bad("identity.oidc.client_secret_file", "%v", err)
		} else if st.Mode().Perm()&0o077 != 0 {
			bad("identity.oidc.client_secret_file", "%s is readable by group or others (mode %o): chmod 600 it", o.ClientSecretFile, st.Mode().Perm())
		}
	}
	if o.RedirectURL != "" {
		if r, err := url.Parse(o.RedirectURL); err != nil || r.Host == "" || (r.Scheme != "https" && r.Scheme != "http") ||
			r.Path != "/entrar/oidc/callback" {
			bad("identity.oidc.redirect_url", "want https://<this server>/entrar/oidc/callback, got %q", o.RedirectURL)
		}
	}
	if !slices.Contains(o.Scopes, "openid") {
		bad("identity.oidc.scopes", "must include \"openid\"")
	}
	for key, v := range map[string]string{"login_claim": o.LoginClaim, "name_claim": o.NameClaim, "email_claim": o.EmailClaim, "groups_claim": o.GroupsClaim} {
		if strings.TrimSpace(v) == "" {
			bad("identity.oidc."+key, "want a claim name")
		}
	}
	for _, d := range o.AllowedDomains {
		if d = strings.TrimPrefix(d, "@"); d == "" || !strings.Contains(d, ".") || strings.ContainsAny(d, "@ /") {
			bad("identity.oidc.allowed_domains", "%q is not a domain", d)
		}
	}
	validateRoleMap("identity.oidc", o.DefaultRole, o.Roles, nil, bad)
	if o.CAFile != "" {
		if _, err := os.Stat(o.CAFile); err != nil {
			bad("identity.oidc.ca_file", "%v", err)
		}
	}
	if time.Duration(o.Timeout) < time.Second || time.Duration(o.Timeout) > time.Minute {
		bad("identity.oidc.timeout", "want 1s to 1m")
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// validateRoleMap checks a directory's group → role mapping under section
// (identity.ldap, identity.oidc): known roles only, in sorted order so the
// problems come out stable, each group through group (nil: any), and at least
// one mapping or a default role.
func validateRoleMap(section, defaultRole string, roles map[string][]string, group func(role, g string), bad func(key, format string, a ...any)) {
	if defaultRole != "" && !slices.Contains(IdentityRoles, defaultRole) {
		bad(section+".default_role", "want one of %s, got %q", strings.Join(IdentityRoles, ", "), defaultRole)
	}
	names := make([]string, 0, len(roles))
	for r := range roles {
		names = append(names, r)
	}
	sort.Strings(names)
	for _, r := range names {
		if !slices.Contains(IdentityRoles, r) {
			bad(section+".roles."+r, "unknown role; want one of %s", strings.Join(IdentityRoles, ", "))
		}
		if group != nil {
			for _, g := range roles[r] {
				group(r, g)
			}
		}
	}
	if len(roles) == 0 && defaultRole == "" {
		bad(section+".roles", "map at least one group to a role, or set default_role")
	}
}
