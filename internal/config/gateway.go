package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/mailauth"
)

// Gateway configures the SMTP gateway of `resguardo serve` (docs/GATEWAY.md).
// It is off while every listener address is empty.
type Gateway struct {
	// Hostname is announced in the greeting and EHLO and is the
	// Authentication-Results authserv-id; default: the machine's host name.
	Hostname string   `toml:"hostname"`
	Domains  []string `toml:"domains"` // the institution's domains: MX accepts mail only for these
	// TLS certificate and key (PEM). Empty: serve generates a self-signed
	// certificate for Hostname into keys/gateway/ at first start.
	TLSCertFile string `toml:"tls_cert_file"`
	TLSKeyFile  string `toml:"tls_key_file"`

	DNSServer  string   `toml:"dns_server"`  // host:port of the resolver for checks; empty: the system's
	DNSTimeout Duration `toml:"dns_timeout"` // per lookup
	DNSBLZones []string `toml:"dnsbl_zones"` // DNSBL zones queried with the client IP
	RHSBLZones []string `toml:"rhsbl_zones"` // RHSBL zones queried with sender domains
	Allow      []string `toml:"allow"`       // local allow list: IP, CIDR, domain, address
	Block      []string `toml:"block"`       // local block list (wins over allow)

	MaxMessageSize      Size     `toml:"max_message_size"`
	MaxRecipients       int      `toml:"max_recipients"`
	MaxConnections      int      `toml:"max_connections"`        // per listener
	MaxConnectionsPerIP int      `toml:"max_connections_per_ip"` // per listener and client (/64 for IPv6)
	ShutdownTimeout     Duration `toml:"shutdown_timeout"`       // SIGTERM: how long open sessions may finish

	Listen  GatewayListen            `toml:"listen"`
	Journal GatewayJournal           `toml:"journal"`
	Policy  map[string]GatewayPolicy `toml:"policy"` // per channel: mx, submission, journal
	Users   []GatewayUser            `toml:"users"`

	Antivirus        []GatewayEngine `toml:"antivirus"`         // engines every message is scanned with, all at once
	AntivirusTimeout Duration        `toml:"antivirus_timeout"` // per engine and message

	Relay    GatewayRelay    `toml:"relay"`
	Antispam GatewayAntispam `toml:"antispam"`
}

// GatewayAntispam configures the antispam check: the built-in classifier (on by
// default) and external engines. Thresholds are on each engine's own scale
// (built-in: spam probability 0..1; rspamd and SpamAssassin: points); 0 is off.
type GatewayAntispam struct {
	Builtin    *bool    `toml:"builtin"` // default true
	Model      string   `toml:"model"`   // default <data>/spam/bayes.model (resguardo spam train)
	Tag        float64  `toml:"tag"`
	Quarantine float64  `toml:"quarantine"`
	Reject     float64  `toml:"reject"`
	Timeout    Duration `toml:"timeout"` // per engine and message

	Engines []GatewaySpamEngine `toml:"engines"`
}

// BuiltinOn reports whether the built-in classifier runs.
func (a GatewayAntispam) BuiltinOn() bool { return a.Builtin == nil || *a.Builtin }

// GatewaySpamEngine is an external antispam engine.
type GatewaySpamEngine struct {
	Name       string  `toml:"name"`
	Type       string  `toml:"type"`    // rspamd or spamd
	Address    string  `toml:"address"` // rspamd: "http://127.0.0.1:11333"; spamd: "127.0.0.1:783"
	Tag        float64 `toml:"tag"`
	Quarantine float64 `toml:"quarantine"`
	Reject     float64 `toml:"reject"`
}

// GatewayRelay is where accepted mail goes next (internal/relay).
type GatewayRelay struct {
	// NextHop is the institution's mail server (host:port): mail received on
	// the MX listener, and submitted mail for the institution's domains, is
	// delivered there. Empty: such mail is archived only.
	NextHop       string `toml:"next_hop"`
	NextHopTLS    string `toml:"next_hop_tls"`    // opportunistic (default), required, none
	NextHopVerify bool   `toml:"next_hop_verify"` // its certificate must verify for its host name
	// Outbound is where submitted mail for other domains goes: mx (the
	// recipients' MX hosts, default), smarthost, or none (archived only).
	Outbound        string   `toml:"outbound"`
	Smarthost       string   `toml:"smarthost"`
	SmarthostTLS    string   `toml:"smarthost_tls"`
	SmarthostVerify bool     `toml:"smarthost_verify"`
	MXPort          int      `toml:"mx_port"`        // 25; other values only for tests
	MTASTS          *bool    `toml:"mta_sts"`        // honour MTA-STS policies (default true)
	DANE            *bool    `toml:"dane"`           // honour DNSSEC-authenticated TLSA records, RFC 7672 (default true)
	CAFile          string   `toml:"ca_file"`        // extra trusted roots (PEM) for verified TLS and MTA-STS
	Workers         int      `toml:"workers"`        // deliveries at once
	RetryBase       Duration `toml:"retry_base"`     // first retry delay, doubled per attempt
	RetryMax        Duration `toml:"retry_max"`      // longest delay between attempts
	MaxQueueTime    Duration `toml:"max_queue_time"` // then the sender gets a DSN
	ConnectTimeout  Duration `toml:"connect_timeout"`
	CommandTimeout  Duration `toml:"command_timeout"`
	// DelayWarning: entries still deferred this long get one delayed-delivery
	// DSN to their sender (unset: 4h, or none when max_queue_time is not
	// longer; "0s": never).
	DelayWarning *Duration `toml:"delay_warning"`
}

// DefaultDelayWarning is delay_warning when unset (as Exchange and Postfix's
// delay_warning_time).
const DefaultDelayWarning = 4 * time.Hour

// DelayWarningD is how long entries wait before their sender is warned; 0:
// never. Unset, it is DefaultDelayWarning when max_queue_time is longer.
func (r GatewayRelay) DelayWarningD() time.Duration {
	if r.DelayWarning != nil {
		return r.DelayWarning.D()
	}
	if DefaultDelayWarning < r.MaxQueueTime.D() {
		return DefaultDelayWarning
	}
	return 0
}

// MTASTSOn reports whether MTA-STS policies are honoured.
func (r GatewayRelay) MTASTSOn() bool { return r.MTASTS == nil || *r.MTASTS }

// DANEOn reports whether DANE (RFC 7672) is honoured on the mx route. It only
// acts when gateway.dns_server answers with the AD bit (a validating resolver).
func (r GatewayRelay) DANEOn() bool { return r.DANE == nil || *r.DANE }

// GatewayListen are the listener addresses; empty = off.
type GatewayListen struct {
	MX          string `toml:"mx"`          // e.g. ":25"
	Submission  string `toml:"submission"`  // STARTTLS, e.g. ":587"
	Submissions string `toml:"submissions"` // implicit TLS, e.g. ":465"
	Journal     string `toml:"journal"`     // e.g. ":2525"
}

// GatewayJournal configures the journal listener.
type GatewayJournal struct {
	Addresses      []string `toml:"addresses"`       // the journal mailbox(es) it accepts RCPT TO for
	Mode           string   `toml:"mode"`            // auto, exchange, bcc
	AllowedClients []string `toml:"allowed_clients"` // CIDRs of the Exchange/Postfix servers; empty: anyone
}

// GatewayPolicy is what one channel does with the checks' findings.
type GatewayPolicy struct {
	Skip      []string          `toml:"skip"`       // checks that do not run ("auth")
	MaxAction string            `toml:"max_action"` // the strongest action the channel may apply
	Actions   map[string]string `toml:"actions"`    // finding code → action
}

// GatewayEngine is one antivirus engine.
type GatewayEngine struct {
	Name    string `toml:"name"`    // in records and constancias, e.g. "clamav-1"
	Type    string `toml:"type"`    // clamd, icap or command
	Address string `toml:"address"` // clamd: "unix:/run/clamav/clamd.ctl" or "tcp:127.0.0.1:3310"; icap: "icap://host:1344/service"
	Mode    string `toml:"mode"`    // icap: respmod (default) or reqmod
	// MaxConcurrent is the most scans this engine runs at once (0: no limit);
	// waiting for a slot counts against antivirus_timeout.
	MaxConcurrent int `toml:"max_concurrent"`
	// command: program and arguments, "{file}" being the data; exit statuses of a
	// clean and of an infected scan; output that means infected (first group: threat).
	Command         []string `toml:"command"`
	CleanExit       []int    `toml:"clean_exit"`
	InfectedExit    []int    `toml:"infected_exit"`
	InfectedPattern string   `toml:"infected_pattern"`
}

// Network and address of the engine ("unix", path) or ("tcp", host:port).
func (e GatewayEngine) Network() (network, address string) {
	n, a, _ := strings.Cut(e.Address, ":")
	return n, a
}

// GatewayUser is a submission user until the web application brings user
// management.
type GatewayUser struct {
	Name         string   `toml:"name"`
	PasswordHash string   `toml:"password_hash"` // argon2id, PHC string format
	AllowedFrom  []string `toml:"allowed_from"`  // addresses, or "@domain" for all of a domain
}

// Enabled reports whether any listener is configured.
func (g Gateway) Enabled() bool {
	l := g.Listen
	return l.MX != "" || l.Submission != "" || l.Submissions != "" || l.Journal != ""
}

// GatewayActions are the action names of a policy, weakest first.
var GatewayActions = []string{"accept", "tag", "quarantine", "tempfail", "reject"}

// GatewayChecks are the checks a policy may skip.
var GatewayChecks = []string{"auth", "antivirus", "antispam"}

// GatewayFindingCodes are the finding codes a policy may give an action
// (internal/intake's codes; a test keeps both lists equal).
var GatewayFindingCodes = []string{"block_list", "dnsbl", "dmarc_reject", "dmarc_quarantine", "dmarc_temperror",
	"spf_fail", "dkim_fail", "check_error", "virus", "av_error", "spam_tag", "spam_quarantine", "spam_reject", "spam_error"}

func defaultGateway() Gateway {
	return Gateway{
		DNSTimeout: Duration(5 * time.Second), MaxMessageSize: 50 << 20, MaxRecipients: 100,
		MaxConnections: 500, MaxConnectionsPerIP: 20, ShutdownTimeout: Duration(30 * time.Second),
		Journal: GatewayJournal{Mode: "auto"}, AntivirusTimeout: Duration(30 * time.Second),
		Relay: GatewayRelay{NextHopTLS: "opportunistic", Outbound: "mx", SmarthostTLS: "opportunistic", MXPort: 25,
			Workers: 8, RetryBase: Duration(time.Minute), RetryMax: Duration(time.Hour), MaxQueueTime: Duration(5 * 24 * time.Hour),
			ConnectTimeout: Duration(30 * time.Second), CommandTimeout: Duration(5 * time.Minute)},
		Antispam: GatewayAntispam{Tag: 0.9, Quarantine: 0.995, Timeout: Duration(20 * time.Second)},
	}
}

var (
	domainRe = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	argonRe  = regexp.MustCompile(`^\$argon2id\$v=19\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`)
	addrRe   = regexp.MustCompile(`^[^@\s<>]+@([a-z0-9-]+\.)+[a-z0-9-]+$`)
)

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (g *Gateway) validate(bad func(key, format string, a ...any)) {
	if g.Hostname != "" && !domainRe.MatchString(strings.ToLower(g.Hostname)) && g.Hostname != "localhost" {
		bad("gateway.hostname", "want a host name such as \"mx.ejemplo.gob.mx\", got %q", g.Hostname)
	}
	for _, d := range g.Domains {
		if !domainRe.MatchString(strings.ToLower(strings.TrimSuffix(d, "."))) {
			bad("gateway.domains", "%q is not a domain name (e.g. \"ejemplo.gob.mx\")", d)
		}
	}
	if g.Listen.MX != "" && len(g.Domains) == 0 {
		bad("gateway.listen.mx", "the MX listener needs gateway.domains, the institution's domains (it accepts mail only for them)")
	}
	seen := map[string]string{}
	for _, l := range []struct{ key, addr string }{{"gateway.listen.mx", g.Listen.MX}, {"gateway.listen.submission", g.Listen.Submission},
		{"gateway.listen.submissions", g.Listen.Submissions}, {"gateway.listen.journal", g.Listen.Journal}} {
		if l.addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(l.addr); err != nil || !isPort(port) {
			bad(l.key, "want host:port, e.g. \"127.0.0.1:2525\" or \":25\", got %q", l.addr)
		} else if other, dup := seen[l.addr]; dup {
			bad(l.key, "%s is already used by %s", l.addr, other)
		}
		seen[l.addr] = l.key
	}
	if (g.TLSCertFile == "") != (g.TLSKeyFile == "") {
		bad("gateway.tls_cert_file", "tls_cert_file and tls_key_file go together (or leave both empty for a generated certificate)")
	}
	for _, f := range []struct{ key, path string }{{"gateway.tls_cert_file", g.TLSCertFile}, {"gateway.tls_key_file", g.TLSKeyFile}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				bad(f.key, "%v", err)
			}
		}
	}
	if g.DNSServer != "" {
		if _, port, err := net.SplitHostPort(g.DNSServer); err != nil || !isPort(port) {
			bad("gateway.dns_server", "want host:port of a resolver, e.g. \"127.0.0.1:53\", got %q", g.DNSServer)
		}
	}
	if g.DNSTimeout.D() < 100*time.Millisecond || g.DNSTimeout.D() > time.Minute {
		bad("gateway.dns_timeout", "want between 100ms and 1m")
	}
	for _, z := range append(append([]string{}, g.DNSBLZones...), g.RHSBLZones...) {
		if !domainRe.MatchString(strings.ToLower(strings.Trim(z, "."))) {
			key := "gateway.dnsbl_zones"
			if contains(g.RHSBLZones, z) {
				key = "gateway.rhsbl_zones"
			}
			bad(key, "%q is not a DNS zone", z)
		}
	}
	for _, l := range []struct {
		key     string
		entries []string
	}{{"gateway.allow", g.Allow}, {"gateway.block", g.Block}} {
		for _, e := range l.entries {
			if _, err := mailauth.ParseListEntry(e); err != nil {
				bad(l.key, "%v", err)
			}
		}
	}
	if g.MaxMessageSize < 1<<10 || g.MaxMessageSize > 1<<30 {
		bad("gateway.max_message_size", "want between 1KiB and 1GiB")
	}
	if g.MaxRecipients < 1 || g.MaxRecipients > 10000 {
		bad("gateway.max_recipients", "want 1 to 10000, got %d", g.MaxRecipients)
	}
	if g.MaxConnections < 1 {
		bad("gateway.max_connections", "want at least 1")
	}
	if g.MaxConnectionsPerIP < 1 || g.MaxConnectionsPerIP > g.MaxConnections {
		bad("gateway.max_connections_per_ip", "want 1 to max_connections (%d)", g.MaxConnections)
	}
	if g.ShutdownTimeout.D() < time.Second {
		bad("gateway.shutdown_timeout", "want at least 1s")
	}

	switch g.Journal.Mode {
	case "auto", "exchange", "bcc":
	default:
		bad("gateway.journal.mode", "want auto, exchange or bcc, got %q", g.Journal.Mode)
	}
	if g.Listen.Journal != "" && len(g.Journal.Addresses) == 0 {
		bad("gateway.listen.journal", "the journal listener needs gateway.journal.addresses, the journal address(es) it receives for")
	}
	for _, a := range g.Journal.Addresses {
		if !addrRe.MatchString(strings.ToLower(a)) {
			bad("gateway.journal.addresses", "%q is not an address", a)
		}
	}
	for _, c := range g.Journal.AllowedClients {
		if _, err := netip.ParsePrefix(c); err != nil {
			if _, err := netip.ParseAddr(c); err != nil {
				bad("gateway.journal.allowed_clients", "want an IP address or CIDR such as \"10.20.1.0/24\", got %q", c)
			}
		}
	}

	for ch, p := range g.Policy {
		key := "gateway.policy." + ch
		if ch != "mx" && ch != "submission" && ch != "journal" {
			bad(key, "unknown channel %q (want mx, submission or journal)", ch)
			continue
		}
		for _, s := range p.Skip {
			if !contains(GatewayChecks, s) {
				bad(key+".skip", "unknown check %q (known: %s)", s, strings.Join(GatewayChecks, ", "))
			}
		}
		if p.MaxAction != "" && !contains(GatewayActions, p.MaxAction) {
			bad(key+".max_action", "want %s, got %q", strings.Join(GatewayActions, ", "), p.MaxAction)
		}
		if ch == "journal" && (p.MaxAction == "reject" || p.MaxAction == "tempfail") {
			bad(key+".max_action", "the journal channel never refuses mail (it was already delivered): want accept, tag or quarantine")
		}
		for code, a := range p.Actions {
			if !contains(GatewayFindingCodes, code) {
				bad(key+".actions."+code, "unknown finding %q (known: %s)", code, strings.Join(GatewayFindingCodes, ", "))
			} else if !contains(GatewayActions, a) {
				bad(key+".actions."+code, "want %s, got %q", strings.Join(GatewayActions, ", "), a)
			}
		}
	}

	if (g.Listen.Submission != "" || g.Listen.Submissions != "") && len(g.Users) == 0 {
		key := "gateway.listen.submission"
		if g.Listen.Submission == "" {
			key = "gateway.listen.submissions"
		}
		bad(key, "the submission listener needs at least one [[gateway.users]] entry")
	}
	engines := map[string]bool{}
	for i, e := range g.Antivirus {
		key := fmt.Sprintf("gateway.antivirus[%d]", i)
		if strings.TrimSpace(e.Name) == "" {
			bad(key+".name", "engine %d has no name", i+1)
		} else if engines[e.Name] {
			bad(key+".name", "engine %q is listed twice", e.Name)
		}
		engines[e.Name] = true
		if e.MaxConcurrent < 0 || e.MaxConcurrent > 10000 {
			bad(key+".max_concurrent", "engine %q: want 0 (no limit) to 10000, got %d", e.Name, e.MaxConcurrent)
		}
		switch e.Type {
		case "clamd":
			if n, a := e.Network(); (n != "unix" && n != "tcp") || a == "" {
				bad(key+".address", "engine %q: want \"unix:/path/to/clamd.sock\" or \"tcp:host:port\", got %q", e.Name, e.Address)
			}
		case "icap":
			if u, err := url.Parse(e.Address); err != nil || u.Scheme != "icap" || u.Host == "" || strings.Trim(u.Path, "/") == "" {
				bad(key+".address", "engine %q: want \"icap://host:1344/service\" (e.g. icap://127.0.0.1:1344/avscan), got %q", e.Name, e.Address)
			}
			if e.Mode != "" && e.Mode != "respmod" && e.Mode != "reqmod" {
				bad(key+".mode", "engine %q: want respmod or reqmod, got %q", e.Name, e.Mode)
			}
		case "command":
			if len(e.Command) == 0 || !slices.ContainsFunc(e.Command[1:], func(a string) bool { return strings.Contains(a, "{file}") }) {
				bad(key+".command", "engine %q: want the program and its arguments, one of them \"{file}\"", e.Name)
			}
			if _, err := regexp.Compile(e.InfectedPattern); err != nil {
				bad(key+".infected_pattern", "engine %q: %v", e.Name, err)
			}
			if len(e.InfectedExit) == 0 && e.InfectedPattern == "" {
				bad(key+".infected_exit", "engine %q: say how it reports a detection: infected_exit or infected_pattern", e.Name)
			}
		default:
			bad(key+".type", "engine %q: want clamd, icap or command, got %q", e.Name, e.Type)
		}
	}
	if t := time.Duration(g.AntivirusTimeout); t <= 0 || t > 10*time.Minute {
		bad("gateway.antivirus_timeout", "want a duration above 0 and at most 10m")
	}
	g.Relay.validate(bad)
	g.Antispam.validate(bad)
	names := map[string]bool{}
	for i, u := range g.Users {
		key := fmt.Sprintf("gateway.users[%d]", i)
		if strings.TrimSpace(u.Name) == "" {
			bad(key+".name", "user %d has no name", i+1)
		} else if names[strings.ToLower(u.Name)] {
			bad(key+".name", "user %q is listed twice", u.Name)
		}
		names[strings.ToLower(u.Name)] = true
		if !argonRe.MatchString(u.PasswordHash) {
			bad(key+".password_hash", "user %q: want an argon2id hash \"$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>\" (see docs/GATEWAY.md), never a password", u.Name)
		}
		if len(u.AllowedFrom) == 0 {
			bad(key+".allowed_from", "user %q may send from no address", u.Name)
		}
		for _, a := range u.AllowedFrom {
			la := strings.ToLower(a)
			if !(strings.HasPrefix(la, "@") && domainRe.MatchString(la[1:])) && !addrRe.MatchString(la) {
				bad(key+".allowed_from", "user %q: %q is neither an address nor \"@domain\"", u.Name, a)
			}
		}
	}
}

func (r *GatewayRelay) validate(bad func(key, format string, a ...any)) {
	for _, hp := range []struct{ key, v string }{{"gateway.relay.next_hop", r.NextHop}, {"gateway.relay.smarthost", r.Smarthost}} {
		if hp.v == "" {
			continue
		}
		if h, port, err := net.SplitHostPort(hp.v); err != nil || h == "" || !isPort(port) {
			bad(hp.key, "want host:port of a mail server, e.g. \"correo.ejemplo.gob.mx:25\", got %q", hp.v)
		}
	}
	for _, m := range []struct{ key, v string }{{"gateway.relay.next_hop_tls", r.NextHopTLS}, {"gateway.relay.smarthost_tls", r.SmarthostTLS}} {
		switch m.v {
		case "opportunistic", "required", "none":
		default:
			bad(m.key, "want opportunistic, required or none, got %q", m.v)
		}
	}
	switch r.Outbound {
	case "mx", "none":
	case "smarthost":
		if r.Smarthost == "" {
			bad("gateway.relay.smarthost", "outbound = \"smarthost\" needs the smarthost's host:port")
		}
	default:
		bad("gateway.relay.outbound", "want mx, smarthost or none, got %q", r.Outbound)
	}
	if r.MXPort < 1 || r.MXPort > 65535 {
		bad("gateway.relay.mx_port", "want a port, got %d", r.MXPort)
	}
	if r.CAFile != "" {
		if _, err := os.Stat(r.CAFile); err != nil {
			bad("gateway.relay.ca_file", "%v", err)
		}
	}
	if r.Workers < 1 || r.Workers > 1000 {
		bad("gateway.relay.workers", "want 1 to 1000, got %d", r.Workers)
	}
	for _, d := range []struct {
		key      string
		v        Duration
		min, max time.Duration
	}{{"gateway.relay.retry_base", r.RetryBase, 10 * time.Millisecond, 24 * time.Hour},
		{"gateway.relay.retry_max", r.RetryMax, 10 * time.Millisecond, 7 * 24 * time.Hour},
		{"gateway.relay.max_queue_time", r.MaxQueueTime, 100 * time.Millisecond, 30 * 24 * time.Hour},
		{"gateway.relay.connect_timeout", r.ConnectTimeout, 100 * time.Millisecond, 10 * time.Minute},
		{"gateway.relay.command_timeout", r.CommandTimeout, 100 * time.Millisecond, 30 * time.Minute}} {
		if d.v.D() < d.min || d.v.D() > d.max {
			bad(d.key, "want between %s and %s", d.min, d.max)
		}
	}
	if r.RetryMax.D() < r.RetryBase.D() {
		bad("gateway.relay.retry_max", "must be at least retry_base (%s)", r.RetryBase.D())
	}
	if r.DelayWarning != nil {
		if d := r.DelayWarning.D(); d != 0 && (d < time.Minute || d >= r.MaxQueueTime.D()) {
			bad("gateway.relay.delay_warning", "want \"0s\" (no warnings) or at least 1m and below max_queue_time (%s), got %s", r.MaxQueueTime.D(), d)
		}
	}
}

func (a *GatewayAntispam) validate(bad func(key, format string, a ...any)) {
	for _, t := range []struct {
		key string
		v   float64
	}{{"gateway.antispam.tag", a.Tag}, {"gateway.antispam.quarantine", a.Quarantine}, {"gateway.antispam.reject", a.Reject}} {
		if t.v < 0 || t.v > 1 {
			bad(t.key, "the built-in classifier's thresholds are probabilities: want 0 (off) to 1, got %g", t.v)
		}
	}
	if t := a.Timeout.D(); t <= 0 || t > 10*time.Minute {
		bad("gateway.antispam.timeout", "want a duration above 0 and at most 10m")
	}
	names := map[string]bool{"bayes": true}
	for i, e := range a.Engines {
		key := fmt.Sprintf("gateway.antispam.engines[%d]", i)
		if strings.TrimSpace(e.Name) == "" {
			bad(key+".name", "engine %d has no name", i+1)
		} else if names[e.Name] {
			bad(key+".name", "engine %q is listed twice (\"bayes\" is the built-in classifier)", e.Name)
		}
		names[e.Name] = true
		switch e.Type {
		case "rspamd":
			if u, err := url.Parse(e.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(key+".address", "engine %q: want rspamd's URL, e.g. \"http://127.0.0.1:11333\", got %q", e.Name, e.Address)
			}
		case "spamd":
			if h, port, err := net.SplitHostPort(e.Address); err != nil || h == "" || !isPort(port) {
				bad(key+".address", "engine %q: want spamd's host:port, e.g. \"127.0.0.1:783\", got %q", e.Name, e.Address)
			}
		default:
			bad(key+".type", "engine %q: want rspamd or spamd, got %q", e.Name, e.Type)
		}
		if e.Tag < 0 || e.Quarantine < 0 || e.Reject < 0 {
			bad(key+".tag", "engine %q: thresholds are scores, 0 for off", e.Name)
		}
		if e.Tag == 0 && e.Quarantine == 0 && e.Reject == 0 {
			bad(key+".tag", "engine %q: give at least one of tag, quarantine, reject (its score thresholds)", e.Name)
		}
	}
}
