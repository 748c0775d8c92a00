package mailauth

import (
	"context"
	"net"
	"strings"
	"time"
)

// DefaultDNSTimeout bounds one DNS lookup when ResolverOptions.Timeout is zero.
const DefaultDNSTimeout = 5 * time.Second

// ResolverOptions configures a Resolver.
type ResolverOptions struct {
	// Server is the "host:port" of the recursive resolver to ask (for example a local
	// unbound on "127.0.0.1:53", or a dnstest server in tests). Empty means the
	// system's resolver configuration (/etc/resolv.conf).
	Server string
	// Timeout bounds each lookup (all retries included); zero means DefaultDNSTimeout.
	Timeout time.Duration
}

// Resolver is the DNS client every check uses. It is a net.Resolver (pure Go) that
// sends its queries to one configured server, with a timeout per lookup. Names are
// made absolute (a final dot is added) so the search list in resolv.conf never
// applies. Errors are returned unwrapped (*net.DNSError), because the SPF, DKIM and
// DMARC libraries classify them by type (IsNotFound, Temporary).
//
// It implements blitiri.com.ar/go/spf's DNSResolver interface.
type Resolver struct {
	r       *net.Resolver
	server  string
	timeout time.Duration
}

// NewResolver returns a Resolver for o.
func NewResolver(o ResolverOptions) *Resolver {
	r := &Resolver{r: &net.Resolver{PreferGo: true}, server: o.Server, timeout: o.Timeout}
	if r.timeout <= 0 {
		r.timeout = DefaultDNSTimeout
	}
	if o.Server != "" {
		server := o.Server
		r.r.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		}
	}
	return r
}

// Server is the configured "host:port" of the recursive resolver; empty means the
// system's configuration. Clients that need more than net.Resolver offers (the
// relay's DANE lookups read the AD bit) send their queries there.
func (r *Resolver) Server() string { return r.server }

// Timeout is the per-lookup timeout.
func (r *Resolver) Timeout() time.Duration { return r.timeout }

func absolute(name string) string {
	if name == "" || strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

// LookupTXT returns the TXT records of name, the strings of each record joined.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.r.LookupTXT(ctx, absolute(name))
}

// LookupMX returns the MX records of name, sorted by preference.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.r.LookupMX(ctx, absolute(name))
}

// LookupIPAddr returns the A and AAAA records of host.
func (r *Resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.r.LookupIPAddr(ctx, absolute(host))
}

// LookupIP returns the addresses of host for network "ip", "ip4" (A only) or "ip6"
// (AAAA only).
func (r *Resolver) LookupIP(ctx context.Context, network, host string) ([]net.IP, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.r.LookupIP(ctx, network, absolute(host))
}

// LookupAddr returns the PTR names of the address addr.
func (r *Resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.r.LookupAddr(ctx, addr)
}

// txtFunc adapts LookupTXT to the context-free callback go-msgauth takes.
func (r *Resolver) txtFunc(ctx context.Context) func(string) ([]string, error) {
	return func(name string) ([]string, error) { return r.LookupTXT(ctx, name) }
}
