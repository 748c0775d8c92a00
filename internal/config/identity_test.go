package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func parseIdentity(t *testing.T, src string) (Identity, []string) {
	t.Helper()
	var w struct {
		Identity Identity `toml:"identity"`
	}
	w.Identity = DefaultIdentity()
	md, err := toml.Decode(src, &w)
	if err != nil {
		t.Fatal(err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Fatalf("unknown settings: %v", und)
	}
	var probs []string
	w.Identity.validate(func(key, format string, a ...any) { probs = append(probs, key) })
	return w.Identity, probs
}

func TestIdentityConfig(t *testing.T) {
	t.Parallel()
	if _, probs := parseIdentity(t, ""); len(probs) > 0 {
		t.Fatalf("defaults: %v", probs)
	}
	pw := filepath.Join(t.TempDir(), "ldap.pw")
	if err := os.WriteFile(pw, []byte("secreto\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id, probs := parseIdentity(t, `[identity]
session_idle = "20m"
lockout = "10m"

[identity.ldap]
url = "ldaps://dc1.ejemplo.gob.mx:636"
bind_dn = "CN=svc-resguardo,OU=Servicios,DC=ejemplo,DC=gob,DC=mx"
bind_password_file = "`+pw+`"
base_dn = "DC=ejemplo,DC=gob,DC=mx"
mail_attributes = ["mail", "proxyAddresses"]
default_role = "servidor_publico"

[identity.ldap.roles]
administrador = ["CN=Resguardo-Admins,OU=Grupos,DC=ejemplo,DC=gob,DC=mx"]
auditor = ["CN=OIC,OU=Grupos,DC=ejemplo,DC=gob,DC=mx"]
`)
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	if id.SessionIdle.D() != 20*time.Minute || id.SessionAbsolute.D() != 12*time.Hour || !id.LDAP.Enabled() ||
		id.LDAP.UserFilter != "(&(objectClass=user)(sAMAccountName=%s))" || len(id.LDAP.Roles["auditor"]) != 1 {
		t.Fatalf("%+v", id)
	}
	if p, err := id.LDAP.BindPassword(); err != nil || p != "secreto" {
		t.Fatalf("bind password %q %v", p, err)
	}
	_, probs = parseIdentity(t, `[identity]
session_idle = "10s"
login_failures = 0
totp_issuer = "a:b"

[identity.ldap]
url = "ldap://dc1.ejemplo.gob.mx"
base_dn = "ejemplo"
user_filter = "uid=juan"
groups = "todos"
default_role = "jefe"
timeout = "5m"

[identity.ldap.roles]
superusuario = ["CN=x"]
auditor = ["no es un DN"]
`)
	want := []string{"identity.session_idle", "identity.login_failures", "identity.totp_issuer", "identity.ldap.start_tls",
		"identity.ldap.base_dn", "identity.ldap.user_filter", "identity.ldap.groups", "identity.ldap.default_role",
		"identity.ldap.roles.auditor", "identity.ldap.roles.superusuario", "identity.ldap.timeout"}
	slices.Sort(want)
	slices.Sort(probs)
	if !slices.Equal(probs, want) {
		t.Fatalf("problems\n got %s\nwant %s", strings.Join(probs, " "), strings.Join(want, " "))
	}
}

func TestIdentityOIDCConfig(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "oidc.secret")
	if err := os.WriteFile(secret, []byte("s3cr3to\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id, probs := parseIdentity(t, `[identity.oidc]
name = "Llave Institucional"
issuer = "https://idp.ejemplo.gob.mx/realms/gob"
client_id = "resguardo"
client_secret_file = "`+secret+`"
scopes = ["openid", "profile", "email", "groups"]
allowed_domains = ["ejemplo.gob.mx"]

[identity.oidc.roles]
auditor = ["OIC-Auditoria"]
servidor_publico = ["personal"]
`)
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	o := id.OIDC
	if !o.Enabled() || !o.AutoCreate || o.LoginClaim != "preferred_username" || o.GroupsClaim != "groups" || o.TrustIdPMFA ||
		o.RedirectURLFor("127.0.0.1:8025") != "http://127.0.0.1:8025/entrar/oidc/callback" {
		t.Fatalf("%+v", o)
	}
	if s, err := o.ClientSecret(); err != nil || s != "s3cr3to" {
		t.Fatalf("secret %q %v", s, err)
	}
	_, probs = parseIdentity(t, `[identity.oidc]
issuer = "http://idp.ejemplo.gob.mx"
client_secret_file = "/no/existe"
redirect_url = "https://resguardo.ejemplo.gob.mx/otra"
scopes = ["profile"]
login_claim = ""
allowed_domains = ["@"]
default_role = "jefe"
timeout = "0s"

[identity.oidc.roles]
jefe = ["x"]
`)
	want := []string{"identity.oidc.issuer", "identity.oidc.client_id", "identity.oidc.client_secret_file", "identity.oidc.redirect_url",
		"identity.oidc.scopes", "identity.oidc.login_claim", "identity.oidc.allowed_domains", "identity.oidc.default_role",
		"identity.oidc.roles.jefe", "identity.oidc.timeout"}
	for _, k := range want {
		if !slices.Contains(probs, k) {
			t.Errorf("no problem reported for %s (got %v)", k, probs)
		}
	}
	if _, probs = parseIdentity(t, "[identity.oidc]\nissuer = \"https://idp.ejemplo.gob.mx\"\nclient_id = \"r\"\nclient_secret_file = \""+secret+"\"\n"); !slices.Contains(probs, "identity.oidc.roles") {
		t.Errorf("no roles: %v", probs)
	}
}
