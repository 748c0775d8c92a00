package mailauth

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultDNSBLTimeout bounds one blocklist query when DNSBLOptions.Timeout is zero.
const DefaultDNSBLTimeout = 2 * time.Second

// DNSBLOptions configures the DNS blocklists (RFC 5782).
type DNSBLOptions struct {
	// IPZones are DNSBL zones queried with the client address, e.g.
	// "zen.spamhaus.org".
	IPZones []string
	// DomainZones are RHSBL zones queried with domains (envelope sender and
	// RFC5322.From), e.g. "dbl.spamhaus.org".
	DomainZones []string
	// Timeout bounds each query; zero means DefaultDNSBLTimeout. A query that times
	// out counts as not listed and is reported with an error.
	Timeout time.Duration
}

// DNSBLQuery returns the name to look up in zone for ip (RFC 5782 section 2.1 and
// 2.4): the IPv4 octets, or the 32 IPv6 nibbles, in reverse order, then the zone.
// IPv4-mapped IPv6 addresses are queried as IPv4.
func DNSBLQuery(ip net.IP, zone string) string {
	zone = strings.Trim(zone, ".")
	if v4 := ip.To4(); v4 != nil {
		return strconv.Itoa(int(v4[3])) + "." + strconv.Itoa(int(v4[2])) + "." +
			strconv.Itoa(int(v4[1])) + "." + strconv.Itoa(int(v4[0])) + "." + zone
	}
	v6 := ip.To16()
	if v6 == nil {
		return ""
	}
	const hexdigits = "0123456789abcdef"
	var b strings.Builder
	for i := len(v6) - 1; i >= 0; i-- {
		b.WriteByte(hexdigits[v6[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hexdigits[v6[i]>>4])
		b.WriteByte('.')
	}
	b.WriteString(zone)
	return b.String()
}

// CheckDNSBL looks ip up in every IP zone and each of domains in every domain zone,
// all queries at once. Results are in zone order, then subject order.
func (c *Checker) CheckDNSBL(ctx context.Context, ip net.IP, domains []string) []DNSBLResult {
	var queries []DNSBLResult
	if ip != nil {
		for _, z := range c.dnsbl.IPZones {
			queries = append(queries, DNSBLResult{Zone: z, Kind: "ip", Subject: ip.String(), Query: DNSBLQuery(ip, z)})
		}
	}
	seen := map[string]bool{}
	var doms []string
	for _, d := range domains {
		if d = normDomain(d); d != "" && !seen[d] {
			seen[d] = true
			doms = append(doms, d)
		}
	}
	for _, z := range c.dnsbl.DomainZones {
		for _, d := range doms {
			queries = append(queries, DNSBLResult{Zone: z, Kind: "domain", Subject: d, Query: d + "." + strings.Trim(z, ".")})
		}
	}
	var wg sync.WaitGroup
	for i := range queries {
		wg.Go(func() { c.lookupDNSBL(ctx, &queries[i]) })
	}
	wg.Wait()
	return queries
}

func (c *Checker) lookupDNSBL(ctx context.Context, q *DNSBLResult) {
	timeout := c.dnsbl.Timeout
	if timeout <= 0 {
		timeout = DefaultDNSBLTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ips, err := c.resolver.LookupIP(ctx, "ip4", q.Query)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return // not listed
	}
	if err != nil {
		q.Error = dnsErrorText(err)
		return
	}
	for _, a := range ips {
		v4 := a.To4()
		// 127.0.0.0/8 means listed (RFC 5782 section 2.3); Spamhaus and others answer
		// 127.255.255.0/24 for errors such as queries through public resolvers.
		if v4 == nil || v4[0] != 127 || (v4[1] == 255 && v4[2] == 255) {
			q.Listed, q.Codes = false, nil
			q.Error = "unexpected answer " + a.String()
			return
		}
		q.Listed = true
		q.Codes = append(q.Codes, a.String())
	}
	if !q.Listed {
		return
	}
	if txts, err := c.resolver.LookupTXT(ctx, q.Query); err == nil {
		q.Reason = strings.Join(txts, " ")
	}
}

// dnsErrorText describes a lookup error without the resolver's address.
func dnsErrorText(err error) string {
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) {
		return err.Error()
	}
	switch {
	case dnsErr.IsTimeout:
		return "timeout"
	case dnsErr.IsNotFound:
		return "not found"
	case dnsErr.IsTemporary:
		return "server failure"
	}
	return dnsErr.Err
}
