package relay

// DANE for SMTP (RFC 7672) on the mx route, as Postfix's
// smtp_tls_security_level = dane does it:
//
//   - DNSSEC is not validated here: like Postfix, the relay trusts the AD bit
//     of the configured resolver (gateway.dns_server), which must therefore be
//     a validating resolver on loopback or reached over a trusted path. The
//     queries ask for it (DO and AD set, RFC 6840 §5.7).
//   - The TLSA records of an MX host are looked up only when the domain's MX
//     RRset (or its secure denial, for an implicit MX) is authenticated (RFC
//     7672 §2.2), and used only when their own answer is.
//   - Usable records (DANE-TA(2) and DANE-EE(3); PKIX-TA/EE are unusable for
//     SMTP, RFC 7672 §3.1.3) make TLS mandatory and the certificate must match
//     one of them; a secure RRset of only unusable records makes TLS mandatory
//     without authentication (RFC 7672 §2.2). A failed secure TLSA lookup
//     defers that host: it is never downgraded (§2.2.1).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DANE states recorded in the delivery proof (DeliveryTLS.DANE).
const (
	DANEVerified    = "verified"     // the certificate matched a usable TLSA record
	DANEUnusableTLS = "unusable-tls" // secure TLSA records, none usable: mandatory unauthenticated TLS
)

// TLSA certificate usages, selectors and matching types (RFC 6698 §2.1, RFC 7218).
const (
	usagePKIXTA = 0
	usagePKIXEE = 1
	usageDANETA = 2
	usageDANEEE = 3

	selectorCert = 0
	selectorSPKI = 1

	matchFull   = 0
	matchSHA256 = 1
	matchSHA512 = 2
)

// tlsa is one TLSA record.
type tlsa struct {
	usage, selector, mtype uint8
	data                   []byte
}

func (t tlsa) String() string {
	return fmt.Sprintf("%d %d %d %s", t.usage, t.selector, t.mtype, hex.EncodeToString(t.data))
}

// usable reports whether an SMTP client can use the record (RFC 7672 §3.1.3:
// PKIX usages are not; unknown selectors and matching types, or a digest of
// the wrong length, neither).
func (t tlsa) usable() bool {
	if t.usage != usageDANETA && t.usage != usageDANEEE {
		return false
	}
	if t.selector != selectorCert && t.selector != selectorSPKI {
		return false
	}
	switch t.mtype {
	case matchFull:
		return len(t.data) > 0
	case matchSHA256:
		return len(t.data) == sha256.Size
	case matchSHA512:
		return len(t.data) == sha512.Size
	}
	return false
}

// matches reports whether c is the certificate (or key) the record names.
func (t tlsa) matches(c *x509.Certificate) bool {
	var content []byte
	switch t.selector {
	case selectorCert:
		content = c.Raw
	case selectorSPKI:
		content = c.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch t.mtype {
	case matchFull:
		return bytes.Equal(content, t.data)
	case matchSHA256:
		sum := sha256.Sum256(content)
		return bytes.Equal(sum[:], t.data)
	case matchSHA512:
		sum := sha512.Sum512(content)
		return bytes.Equal(sum[:], t.data)
	}
	return false
}

// daneTarget is what DANE asks of one MX host.
type daneTarget struct {
	state   string // DANEVerified (certificate must match records) or DANEUnusableTLS
	records []tlsa // the usable ones
}

// errDANE is a certificate that matches none of the host's TLSA records.
type errDANE struct {
	host string
	err  error
}

func (e errDANE) Error() string {
	return fmt.Sprintf("4.7.5 DANE: certificate of %s does not match TLSA: %v", e.host, e.err)
}

func (e errDANE) Unwrap() error { return e.err }

// daneVerify checks the chain a server presented against usable records:
// DANE-EE matches the leaf (name and expiry ignored, RFC 7672 §3.1.1);
// DANE-TA matches a certificate of the chain, which must then validate from
// the leaf to it for host (RFC 7672 §3.1.2). It returns the record matched.
func daneVerify(chain []*x509.Certificate, host string, records []tlsa, now time.Time) (tlsa, error) {
	if len(chain) == 0 {
		return tlsa{}, errors.New("no server certificate")
	}
	var lastErr error
	for _, rec := range records {
		if !rec.usable() {
			continue
		}
		switch rec.usage {
		case usageDANEEE:
			if rec.matches(chain[0]) {
				return rec, nil
			}
		case usageDANETA:
			for i, c := range chain {
				if !rec.matches(c) {
					continue
				}
				roots := x509.NewCertPool()
				roots.AddCert(c)
				inter := x509.NewCertPool()
				for _, ic := range chain[1:i] {
					inter.AddCert(ic)
				}
				_, err := chain[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter,
					CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
				if err == nil {
					return rec, nil
				}
				lastErr = err
			}
		}
	}
	if lastErr != nil {
		return tlsa{}, lastErr
	}
	return tlsa{}, errors.New("no usable TLSA record matches the certificate chain")
}

// verifyDANE is a tls.Config.VerifyConnection for host under d.
func verifyDANE(cs tls.ConnectionState, host string, d *daneTarget, now time.Time) (tlsa, error) {
	rec, err := daneVerify(cs.PeerCertificates, host, d.records, now)
	if err != nil {
		return tlsa{}, errDANE{host: host, err: err}
	}
	return rec, nil
}

// dnssec asks the configured resolver, reading its AD bit.
type dnssec struct {
	server  string // host:port
	timeout time.Duration
}

// newDNSSEC returns a client for server, or for the first name server of
// /etc/resolv.conf when server is empty.
func newDNSSEC(server string, timeout time.Duration) (*dnssec, error) {
	if server == "" {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("relay: DANE: resolver: %w", err)
		}
		if len(cc.Servers) == 0 {
			return nil, errors.New("relay: DANE: no name server in /etc/resolv.conf")
		}
		server = net.JoinHostPort(cc.Servers[0], cc.Port)
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &dnssec{server: server, timeout: timeout}, nil
}

// query asks for name/qtype with DO and AD set, over UDP and, when the answer
// is truncated, TCP. A SERVFAIL (the resolver's answer to bogus data, among
// others) or any other error than NXDOMAIN is an error.
func (d *dnssec) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.AuthenticatedData = true
	m.SetEdns0(1232, true)
	c := &dns.Client{Net: "udp", Timeout: d.timeout}
	r, _, err := c.ExchangeContext(ctx, m, d.server)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, d.server)
	}
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("%s %s: %s", name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode])
	}
	return r, nil
}

// secureMX reports whether the MX RRset of domain (or its denial) is
// authenticated.
func (d *dnssec) secureMX(ctx context.Context, domain string) (bool, error) {
	r, err := d.query(ctx, domain, dns.TypeMX)
	if err != nil {
		return false, err
	}
	return r.AuthenticatedData, nil
}

// lookupTLSA returns the TLSA records of port/host (_port._tcp.host) and
// whether the answer is authenticated. No records is not an error.
func (d *dnssec) lookupTLSA(ctx context.Context, host string, port int) ([]tlsa, bool, error) {
	name := "_" + strconv.Itoa(port) + "._tcp." + strings.TrimSuffix(host, ".")
	r, err := d.query(ctx, name, dns.TypeTLSA)
	if err != nil {
		return nil, false, err
	}
	var out []tlsa
	for _, rr := range r.Answer {
		t, ok := rr.(*dns.TLSA)
		if !ok {
			continue // the CNAME of a chain
		}
		data, err := hex.DecodeString(t.Certificate)
		if err != nil {
			data = nil // unusable
		}
		out = append(out, tlsa{usage: t.Usage, selector: t.Selector, mtype: t.MatchingType, data: data})
	}
	return out, r.AuthenticatedData, nil
}

// daneFor decides what DANE asks of one host of a domain whose MX RRset is
// secure: nil when it publishes no secure TLSA records (DANE does not apply),
// an error when the lookup failed (defer that host, never downgrade).
func (r *Relay) daneFor(ctx context.Context, host string, port int) (*daneTarget, error) {
	recs, secure, err := r.dnssec.lookupTLSA(ctx, host, port)
	if err != nil {
		return nil, fmt.Errorf("4.7.5 DANE: TLSA lookup for %s: %v", host, err)
	}
	if !secure || len(recs) == 0 {
		return nil, nil
	}
	d := &daneTarget{state: DANEUnusableTLS}
	for _, t := range recs {
		if t.usable() {
			d.records = append(d.records, t)
		}
	}
	if len(d.records) > 0 {
		d.state = DANEVerified
	}
	return d, nil
}

// key identifies the DANE requirements in a connection cache key.
func (d *daneTarget) key() string {
	if d == nil {
		return ""
	}
	parts := []string{d.state}
	for _, t := range d.records {
		parts = append(parts, t.String())
	}
	return strings.Join(parts, ",")
}
