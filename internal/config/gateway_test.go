package config

import (
	"fmt"
	"os"
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
malware = "reject"
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
		`gw.toml:15: gateway.policy.mx.actions.malware: unknown finding "malware"`,
		`gw.toml:16: gateway.policy.mx.actions.dnsbl: want accept, tag`,
		`gw.toml:25: gateway.users[1].password_hash: user "luis": want an argon2id hash`,
		`gw.toml:26: gateway.users[1].allowed_from: user "luis": "luis" is neither`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestGatewayAntivirusConfig(t *testing.T) {
	t.Parallel()
	good := "[gateway]\nhostname = \"mx.finanzas.ejemplo.gob.mx\"\ndomains = [\"finanzas.ejemplo.gob.mx\"]\nantivirus_timeout = \"20s\"\n[gateway.listen]\nmx = \":2525\"\n" +
		"[[gateway.antivirus]]\nname = \"clamav-1\"\ntype = \"clamd\"\naddress = \"unix:/run/clamav/clamd.ctl\"\n" +
		"[[gateway.antivirus]]\nname = \"clamav-2\"\ntype = \"clamd\"\naddress = \"tcp:127.0.0.1:3310\"\n"
	c, err := Parse("av.toml", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Gateway.Antivirus) != 2 || c.Gateway.AntivirusTimeout.D().Seconds() != 20 {
		t.Fatalf("%+v", c.Gateway)
	}
	if n, a := c.Gateway.Antivirus[1].Network(); n != "tcp" || a != "127.0.0.1:3310" {
		t.Fatalf("network %q %q", n, a)
	}
	bad := "[gateway]\nhostname = \"mx.finanzas.ejemplo.gob.mx\"\ndomains = [\"finanzas.ejemplo.gob.mx\"]\nantivirus_timeout = \"0s\"\n[gateway.listen]\nmx = \":2525\"\n" +
		"[[gateway.antivirus]]\nname = \"av\"\ntype = \"clamd\"\naddress = \"udp:1.2.3.4\"\n" +
		"[[gateway.antivirus]]\nname = \"av\"\ntype = \"clamd\"\naddress = \"/run/clamd.sock\"\n" +
		"[[gateway.antivirus]]\nname = \"kav\"\ntype = \"kaspersky\"\n" +
		"[[gateway.antivirus]]\nname = \"yara\"\ntype = \"command\"\ncommand = [\"/usr/bin/yara\", \"reglas.yar\"]\ninfected_pattern = \"(\"\n"
	_, err = Parse("av.toml", strings.NewReader(bad))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"gateway.antivirus_timeout", `engine "kav": want clamd, icap or command, got "kaspersky"`, `engine "yara": want the program and its arguments, one of them "{file}"`, `gateway.antivirus[3].infected_pattern`, `engine "av" is listed twice`, `"udp:1.2.3.4"`, `"/run/clamd.sock"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%s", want, err)
		}
	}
}

func TestGatewayRelayConfig(t *testing.T) {
	t.Parallel()
	good := "[gateway]\nhostname = \"mx.finanzas.ejemplo.gob.mx\"\ndomains = [\"finanzas.ejemplo.gob.mx\"]\n[gateway.listen]\nmx = \":2525\"\n" +
		"[gateway.relay]\nnext_hop = \"correo.finanzas.ejemplo.gob.mx:25\"\nnext_hop_tls = \"required\"\nretry_base = \"30s\"\n"
	c, err := Parse("relay.toml", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Gateway.Relay
	if r.NextHop != "correo.finanzas.ejemplo.gob.mx:25" || r.NextHopTLS != "required" || r.RetryBase.D().Seconds() != 30 ||
		r.Outbound != "mx" || r.MXPort != 25 || !r.MTASTSOn() || r.MaxQueueTime.D().Hours() != 120 {
		t.Fatalf("%+v", r)
	}
	bad := "[gateway.relay]\nnext_hop = \"correo\"\nnext_hop_tls = \"siempre\"\noutbound = \"smarthost\"\nworkers = 0\nretry_base = \"2h\"\nretry_max = \"1h\"\n"
	_, err = Parse("relay.toml", strings.NewReader(bad))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`relay.toml:2: gateway.relay.next_hop: want host:port`, `relay.toml:3: gateway.relay.next_hop_tls: want opportunistic, required or none, got "siempre"`,
		`gateway.relay.smarthost: outbound = "smarthost" needs`, `relay.toml:5: gateway.relay.workers`, `relay.toml:7: gateway.relay.retry_max: must be at least retry_base`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%s", want, err)
		}
	}
}

// TestREADMEConfigs: the deployment configurations the README and
// docs/GATEWAY.md show are valid (those with a placeholder hash excepted).
func TestREADMEConfigs(t *testing.T) {
	t.Parallel()
	n := 0
	for _, doc := range []string{"../../README.md", "../../docs/GATEWAY.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		blocks := strings.Split(string(b), "```toml\n")
		for i, blk := range blocks[1:] {
			src, _, _ := strings.Cut(blk, "```")
			if strings.Contains(src, "…") {
				continue
			}
			if _, err := Parse(fmt.Sprintf("%s block %d", doc, i+1), strings.NewReader(src)); err != nil {
				t.Errorf("%v\n%s", err, src)
			}
			n++
		}
	}
	if n < 4 {
		t.Errorf("only %d configuration blocks checked", n)
	}
}
