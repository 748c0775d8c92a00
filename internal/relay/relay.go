// Package relay is the gateway's outbound side: it plans where an accepted
// message goes (Plan, called by internal/intake before the 250, so that the
// queue entries commit with the record), and delivers the durable queue in
// the catalog to the institution's next hop or to recipients' MX hosts, with
// STARTTLS, DANE (RFC 7672), MTA-STS, retries with backoff, DKIM signatures made at planning
// time (a retried copy is byte-identical, Message-ID included) and a DSN
// (RFC 3464) to the sender when a delivery finally fails. Every remote
// acceptance is a `delivery` ledger entry (archive.LogDeliveries) naming the
// remote host, IP, TLS session and the server's reply.
//
// The SMTP client is emersion's go-smtp; MX lookups go through
// mailauth.Resolver (the gateway's configured DNS server). MTA-STS (RFC 8461)
// is written here: there is no maintained Go library for its client side,
// and the policy format is a few lines.
package relay

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/intake"
	"github.com/resguardo/resguardo/internal/mailauth"
)

// Routes.
const (
	RouteNextHop   = "next_hop"  // the institution's own mail server
	RouteMX        = "mx"        // the recipient domain's MX hosts
	RouteSmarthost = "smarthost" // every outbound message through one relay host
)

// TLS modes for the next hop and the smarthost.
const (
	TLSOpportunistic = "opportunistic" // STARTTLS when offered, clear otherwise
	TLSRequired      = "required"      // no STARTTLS (or a failed handshake): try later
	TLSNone          = "none"          // never STARTTLS
)

// Config is the relay's configuration (config.GatewayRelay, resolved).
type Config struct {
	Hostname string   // EHLO name, Received "by", DSN Reporting-MTA
	Domains  []string // the institution's domains: their recipients go to NextHop

	NextHop       string // host:port of the institution's mail server; "" = inbound mail is archived only
	NextHopTLS    string // opportunistic (default), required, none
	NextHopVerify bool   // the next hop's certificate must verify (RootCAs) for its host name

	Outbound        string // mx (default), smarthost, none: where submitted mail for other domains goes
	Smarthost       string // host:port, with Outbound = smarthost
	SmarthostTLS    string
	SmarthostVerify bool
	MXPort          int  // 25; tests point it elsewhere
	MTASTS          bool // honour MTA-STS policies (RFC 8461) on the mx route
	// MTASTSCache is the file that keeps fetched policies across restarts
	// (empty: memory only).
	MTASTSCache string
	// DANE honours TLSA records (RFC 7672) on the mx route when the resolver
	// (Resolver's server) authenticates them with the AD bit; it takes
	// precedence over MTA-STS. The resolver must validate DNSSEC and be
	// trusted (loopback).
	DANE bool

	Workers        int           // deliveries at once (default 8)
	RetryBase      time.Duration // first retry delay (default 1m), doubled per attempt
	RetryMax       time.Duration // longest delay between attempts (default 1h)
	MaxAge         time.Duration // give up and send a DSN after this long in the queue (default 5 days)
	ConnectTimeout time.Duration // per connection (default 30s)
	CommandTimeout time.Duration // per SMTP command (default 5m)
	Poll           time.Duration // how often the queue is read without a wake-up (default 1s)

	// DelayWarning: once deferred entries have waited this long, their sender
	// gets one delayed-delivery DSN (RFC 3464 Action: delayed). 0: never
	// ([gateway.relay] delay_warning, "4h" by default, sets it).
	DelayWarning time.Duration

	DKIMDir  string // keys/dkim/<domain>/<selector>.key
	Resolver *mailauth.Resolver
	RootCAs  *x509.CertPool // nil: the system's roots
	// HTTPClient fetches MTA-STS policies (nil: a client with RootCAs, no
	// redirects, 60 s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
	// Observe, when set, counts recipients per route and result (delivered,
	// deferred, failed) of every attempt (metrics).
	Observe func(route, result string, n int)
}

func (c *Config) defaults() {
	if c.NextHopTLS == "" {
		c.NextHopTLS = TLSOpportunistic
	}
	if c.SmarthostTLS == "" {
		c.SmarthostTLS = TLSOpportunistic
	}
	if c.Outbound == "" {
		c.Outbound = RouteMX
	}
	if c.MXPort == 0 {
		c.MXPort = 25
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Minute
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Hour
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 5 * 24 * time.Hour
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 5 * time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Resolver == nil {
		c.Resolver = mailauth.NewResolver(mailauth.ResolverOptions{})
	}
}

// Archiver takes the DSNs the relay writes (the gateway's ingester).
type Archiver interface {
	Add(ctx context.Context, it *archive.Item) error
}

// Relay plans and delivers. Plan is safe to call from any session; Run is the
// delivery loop of the one serving process.
type Relay struct {
	c       Config
	a       *archive.Archive // nil for a planner only (CLI)
	in      Archiver
	signers map[string][]dkimSigner // domain → keys, loaded once
	sts     *stsCache
	dnssec  *dnssec // DANE lookups (nil: DANE off)
	wake    chan struct{}
	logq    chan *logReq // the delivery entries' group commit (set by Run)
	conns   connCache
	hot     *hotCache // bytes of messages just accepted

	mu       sync.Mutex
	inflight map[int64]bool
	gen      uint64           // counts releases of in-flight entries
	released map[int64]uint64 // entry → the gen of its release, until a later queue read
	sem      chan struct{}
}

type dkimSigner struct {
	selector string
	key      crypto.Signer
}

// New returns a Relay. a and in may be nil for a Relay that only plans (the
// CLI's quarantine release).
func New(c Config, a *archive.Archive, in Archiver) (*Relay, error) {
	c.defaults()
	for _, m := range []struct{ key, v string }{{"next_hop_tls", c.NextHopTLS}, {"smarthost_tls", c.SmarthostTLS}} {
		switch m.v {
		case TLSOpportunistic, TLSRequired, TLSNone:
		default:
			return nil, fmt.Errorf("relay: %s: want opportunistic, required or none, got %q", m.key, m.v)
		}
	}
	switch c.Outbound {
	case RouteMX, RouteSmarthost, "none":
	default:
		return nil, fmt.Errorf("relay: outbound: want mx, smarthost or none, got %q", c.Outbound)
	}
	if c.Outbound == RouteSmarthost && c.Smarthost == "" {
		return nil, errors.New("relay: outbound = smarthost needs a smarthost host:port")
	}
	r := &Relay{c: c, a: a, in: in, wake: make(chan struct{}, 1), inflight: map[int64]bool{}, released: map[int64]uint64{}, sem: make(chan struct{}, c.Workers)}
	r.sts = newSTSCache(c)
	r.hot = newHotCache(hotCacheBytes)
	var err error
	if c.DANE {
		// Without a resolver to ask (no dns_server, no /etc/resolv.conf) DANE
		// cannot act: delivery goes on as without it, and the log says why.
		if r.dnssec, err = newDNSSEC(c.Resolver.Server(), c.Resolver.Timeout()); err != nil {
			c.Logger.Warn("relay: DANE off: no resolver to ask for DNSSEC-validated answers; set gateway.dns_server", "err", err)
			r.dnssec = nil
		}
	}
	if r.signers, err = loadDKIM(c.DKIMDir); err != nil {
		return nil, err
	}
	return r, nil
}

// loadDKIM reads every key under dir/<domain>/<selector>.key.
func loadDKIM(dir string) (map[string][]dkimSigner, error) {
	out := map[string][]dkimSigner{}
	if dir == "" {
		return out, nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.key"))
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("relay: DKIM key: %w", err)
		}
		k, err := mailauth.ParsePrivateKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("relay: DKIM key %s: %w", f, err)
		}
		d := strings.ToLower(filepath.Base(filepath.Dir(f)))
		out[d] = append(out[d], dkimSigner{selector: strings.TrimSuffix(filepath.Base(f), ".key"), key: k})
	}
	return out, nil
}

// DKIMDomains lists the domains the relay signs for.
func (r *Relay) DKIMDomains() []string {
	var out []string
	for d := range r.signers {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// hotCacheBytes bounds the bytes kept for first delivery attempts.
const hotCacheBytes = 64 << 20

// Accepted tells the relay that a message with queue entries was just archived
// (sha is its SHA-256, hex): its bytes are kept in memory for the first delivery
// attempt, and the delivery loop is woken.
func (r *Relay) Accepted(sha string, data []byte) {
	if r.hot.get(sha) == nil {
		r.hot.put(data)
	}
	r.Wake()
}

// Wake makes the delivery loop read the queue now.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Relay) internal(domain string) bool {
	for _, d := range r.c.Domains {
		if strings.EqualFold(strings.TrimSuffix(d, "."), domain) {
			return true
		}
	}
	return false
}

func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

// ChannelDSN is the channel of the delivery status notifications the relay writes.
const ChannelDSN = "dsn"

// Plan implements intake.Router: the queue entries of one accepted message.
//
//   - mx: every recipient to the next hop (none configured: archived only), with
//     a Received and the Authentication-Results field (and X-Resguardo-Tag when
//     the verdict tagged it) on the relayed copy only;
//   - submission and DSNs: recipients in the institution's domains to the next
//     hop, the others to their MX hosts (or the smarthost); submitted mail is
//     DKIM-signed with every key of its From domain;
//   - journal, and any quarantined message: nothing.
func (r *Relay) Plan(e *intake.Envelope, data []byte) ([]catalog.Outbound, error) {
	if e.Verdict.Action == intake.ActionQuarantine || e.Channel == "journal" {
		return nil, nil
	}
	now := r.c.Now().UTC()
	var prefix bytes.Buffer
	prefix.WriteString(r.received(e))
	switch e.Channel {
	case "mx":
		if e.AuthenticationResults != "" {
			prefix.WriteString(foldField("Authentication-Results", e.AuthenticationResults))
		}
		if e.Verdict.Tagged {
			var codes []string
			for _, rs := range e.Verdict.Reasons {
				if rs.Applied == intake.ActionTag && !contains(codes, rs.Code) {
					codes = append(codes, rs.Code)
				}
			}
			prefix.WriteString(foldField("X-Resguardo-Tag", strings.Join(codes, ", ")))
			if contains(codes, intake.CodeSpamTag) {
				prefix.WriteString("X-Spam-Flag: YES\r\n") // what mail servers' filter rules look for
			}
		}
	case "submission", ChannelDSN:
		sigs, err := r.sign(data, e.MailFrom)
		if err != nil {
			return nil, err
		}
		prefix.Write(sigs)
	default:
		return nil, nil
	}
	var out []catalog.Outbound
	for _, rcpt := range e.RcptTo {
		d := domainOf(rcpt)
		o := catalog.Outbound{MailFrom: e.MailFrom, Rcpt: rcpt, Domain: d, Prefix: prefix.Bytes(), State: catalog.OutQueued,
			CreatedAt: now, NextAttempt: now}
		switch {
		case e.Channel == "mx" || r.internal(d):
			if r.c.NextHop == "" {
				continue
			}
			o.Route = RouteNextHop
		case r.c.Outbound == RouteMX:
			o.Route = RouteMX
		case r.c.Outbound == RouteSmarthost:
			o.Route = RouteSmarthost
		default:
			continue
		}
		out = append(out, o)
	}
	if len(out) > 0 && r.a != nil {
		// Kept before the commit: the delivery loop may read the new entries
		// before intake hears the message is archived.
		r.hot.put(data)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// received is the Received field (RFC 5321 §4.4, RFC 3848 protocol names) for
// the relayed copy.
func (r *Relay) received(e *intake.Envelope) string {
	proto := "ESMTP"
	if e.TLS != nil {
		proto += "S"
	}
	if e.AuthUser != "" {
		proto += "A"
	}
	var b strings.Builder
	if e.Channel == ChannelDSN {
		fmt.Fprintf(&b, "by %s (Resguardo) id %s", r.c.Hostname, e.Session)
	} else {
		helo := e.HELO
		if helo == "" {
			helo = "unknown"
		}
		fmt.Fprintf(&b, "from %s ([%s]) by %s (Resguardo) with %s id %s", helo, e.ClientIP, r.c.Hostname, proto, e.Session)
	}
	if e.TLS != nil {
		fmt.Fprintf(&b, " (version=%s cipher=%s)", strings.ReplaceAll(e.TLS.Version, " ", ""), e.TLS.Cipher)
	}
	at := e.ReceivedAt
	if at.IsZero() {
		at = r.c.Now()
	}
	b.WriteString("; " + at.Format(time.RFC1123Z))
	return foldField("Received", b.String())
}

// foldField renders "Name: value" with CRLF, folded at spaces before 78 columns.
func foldField(name, value string) string {
	var b strings.Builder
	line := name + ":"
	for _, w := range strings.Fields(value) {
		if len(line)+1+len(w) > 76 && len(line) > len(name)+1 {
			b.WriteString(line + "\r\n")
			line = "\t" + w
			continue
		}
		line += " " + w
	}
	b.WriteString(line + "\r\n")
	return b.String()
}

// sign returns the DKIM-Signature fields for data: one per key of the From
// header's domain (or of the envelope sender's, without a From); none when the
// relay has no key for it.
func (r *Relay) sign(data []byte, mailFrom string) ([]byte, error) {
	d := fromDomain(data)
	if d == "" {
		d = domainOf(mailFrom)
	}
	keys := r.signers[d]
	var out []byte
	for _, k := range keys {
		signed, err := mailauth.Sign(data, d, k.selector, k.key)
		if err != nil {
			return nil, fmt.Errorf("DKIM signature for %s (%s): %w", d, k.selector, err)
		}
		out = append(out, signed[:len(signed)-len(data)]...)
	}
	return out, nil
}
