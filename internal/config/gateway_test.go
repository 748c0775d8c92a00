package config

import (
	"strings"
	"testing"
)

func TestGatewayConfig(t *testing.T) {
	t.Parallel()
	src := `[gateway]
hostname = "mx.finanzas.ejemplo.gob.mx"
domains = ["finanzas.ejemplo.gob.mx"]
dnsbl_zones = ["zen.spamhaus.org"]
allow = ["10.20.0.0/16", "@proveedor.mx"]
max_message_size = "25MiB"

[gateway.listen]
mx = "127.0.0.1:2525"
journal = "127.0.0.1:2526"

[gateway.journal]
addresses = ["archivo.journal@finanzas.ejemplo.gob.mx"]
allowed_clients = ["10.20.1.5", "10.20.2.0/24"]

[gateway.policy.mx.actions]
dnsbl = "quarantine"

[gateway.policy.journal]
max_action = "tag"
`
	c, err := Parse("gw.toml", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Gateway
	if !g.Enabled() || g.Listen.MX != "127.0.0.1:2525" || g.MaxMessageSize != 25<<20 || g.MaxRecipients != 100 ||
		g.Policy["mx"].Actions["dnsbl"] != "quarantine" || g.Journal.Mode != "auto" || g.DNSTimeout.D().Seconds() != 5 {
		t.Fatalf("gateway: %+v", g)
	}
	if d, _ := Parse("none.toml", strings.NewReader("")); d.Gateway.Enabled() {
		t.Fatal("gateway enabled by default")
	}
}

func TestGatewayConfigErrors(t *testing.T) {
	t.Parallel()
	src := `[gateway]
domains = ["no es dominio"]
allow = ["300.1.1.1/40"]
tls_cert_file = "/nonexistent/cert.pem"

[gateway.listen]
mx = "127.0.0.1"
submission = "127.0.0.1:2587"
journal = "127.0.0.1:2526"

[gateway.policy.journal]
max_action = "reject"

[gateway.policy.mx.actions]
virus = "reject"
dnsbl = "ignorar"

[[gateway.users]]
name = "ana"
password_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
allowed_from = ["ana@finanzas.ejemplo.gob.mx"]

[[gateway.users]]
name = "luis"
password_hash = "secreto"
allowed_from = ["luis"]
`
	_, err := Parse("gw.toml", strings.NewReader(src))
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	for _, want := range []string{
		`gw.toml:2: gateway.domains: "no es dominio" is not a domain name`,
		`gw.toml:3: gateway.allow:`,
		`gw.toml:4: gateway.tls_cert_file: tls_cert_file and tls_key_file go together`,
		`gw.toml:7: gateway.listen.mx: want host:port`,
		`gw.toml:9: gateway.listen.journal: the journal listener needs gateway.journal.addresses`,
		`gw.toml:12: gateway.policy.journal.max_action: the journal channel never refuses mail`,
		`gw.toml:15: gateway.policy.mx.actions.virus: unknown finding "virus"`,
		`gw.toml:16: gateway.policy.mx.actions.dnsbl: want accept, tag`,
		`gw.toml:25: gateway.users[1].password_hash: user "luis": want an argon2id hash`,
		`gw.toml:26: gateway.users[1].allowed_from: user "luis": "luis" is neither`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}
