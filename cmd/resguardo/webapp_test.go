package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/resguardo/resguardo/internal/config"
)

// TestLDAPDirectoryConfig: [identity.ldap] becomes serve's directory, or none
// without a url; bad settings are errors at start, not at the first login.
func TestLDAPDirectoryConfig(t *testing.T) {
	base := config.DefaultIdentity().LDAP
	if d, err := ldapDirectory(base); err != nil || d != nil {
		t.Fatalf("no url: %v %v", d, err)
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("secreto\n"), 0o600)
	good := base
	good.URL, good.BindDN, good.BindPasswordFile, good.BaseDN = "ldaps://127.0.0.1:6360", "cn=svc,dc=x", pw, "dc=x"
	good.Roles = map[string][]string{"auditor": {"cn=oic,dc=x"}}
	if d, err := ldapDirectory(good); err != nil || d == nil {
		t.Fatalf("good config: %v %v", d, err)
	}
	bad := good
	bad.CAFile = pw // not PEM
	if _, err := ldapDirectory(bad); err == nil {
		t.Fatal("a CA file without certificates must be refused")
	}
	bad = good
	bad.URL = "ldap://127.0.0.1:3890" // neither StartTLS nor allow_insecure
	if _, err := ldapDirectory(bad); err == nil {
		t.Fatal("plain ldap:// must be refused")
	}
}
