// Package dnstest runs a small authoritative DNS server on loopback for tests.
//
// The server answers UDP and TCP queries on the same 127.0.0.1 port from a fixed set
// of resource records (any type github.com/miekg/dns can express: TXT, A, AAAA, MX,
// PTR, CNAME, SPF, ...). Chosen names (optionally only for one query type) can be
// made to answer SERVFAIL or never to answer at all, so that callers can test their
// temporary-error paths (RFC 1035, RFC 2308 for NXDOMAIN/NODATA).
//
//	srv, err := dnstest.Start(dnstest.Zone{
//		Records: dnstest.MustParse(
//			`example.org. TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
//			`example.org. MX 10 mail.example.org.`,
//		),
//		Failures: []dnstest.Failure{{Name: "broken.example.org", Kind: dnstest.ServFail}},
//	})
//	defer srv.Stop()
//	// point a resolver at srv.Addr ("127.0.0.1:port")
//
// Answers follow CNAME chains inside the zone (at most 8 links; a loop ends the
// chain), set TC on UDP answers larger than the client allows (RFC 6891), answer
// NODATA for names that exist without the asked type and NXDOMAIN otherwise.
// Names listed in Zone.Secure get the AD bit, as from a validating resolver
// (for DANE tests; TLSA is one more record type).
package dnstest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// FailureKind selects how a query for a failing name is answered.
type FailureKind int

const (
	// ServFail answers with RCODE 2 (SERVFAIL).
	ServFail FailureKind = iota + 1
	// Timeout never answers, so the client times out.
	Timeout
)

// Failure makes queries for Name (and Type, unless zero: any type) fail.
type Failure struct {
	Name string
	Type uint16 // dns.TypeTXT etc.; 0 for every type
	Kind FailureKind
}

// Zone is what the server answers from.
type Zone struct {
	Records  []dns.RR
	Failures []Failure
	// Secure lists the names whose answers are "authenticated": the server then
	// acts as a validating resolver and sets the AD bit (RFC 4035 §3.2.3) on
	// answers for them — only when the query set DO or AD (RFC 6840 §5.7), and
	// for a CNAME chain only when every name of it is secure. "*.example.org"
	// covers every name under example.org (not example.org itself). Records are
	// not signed: clients are meant to trust the bit, as they trust their
	// validating resolver.
	Secure []string
}

// Server is a running test DNS server. Addr is "127.0.0.1:port", the same port for
// UDP and TCP.
type Server struct {
	Addr string

	zone    map[string][]dns.RR // canonical owner name -> records
	failing map[failKey]FailureKind
	secure  []string // canonical names; "*.x." for the names under x.
	udp     *dns.Server
	tcp     *dns.Server
	wg      sync.WaitGroup
	once    sync.Once
}

type failKey struct {
	name  string
	qtype uint16
}

func canonical(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// Start listens on a free loopback port (UDP and TCP) and serves z until Stop.
func Start(z Zone) (*Server, error) {
	s := &Server{zone: make(map[string][]dns.RR), failing: make(map[failKey]FailureKind)}
	for _, rr := range z.Records {
		name := canonical(rr.Header().Name)
		s.zone[name] = append(s.zone[name], rr)
	}
	for _, f := range z.Failures {
		if f.Kind != ServFail && f.Kind != Timeout {
			return nil, fmt.Errorf("dnstest: failure for %q: unknown kind %d", f.Name, f.Kind)
		}
		s.failing[failKey{canonical(f.Name), f.Type}] = f.Kind
	}
	for _, n := range z.Secure {
		s.secure = append(s.secure, canonical(n))
	}

	// Bind UDP on a free port, then TCP on the same port; retry a few times in the
	// unlikely case that the TCP port is taken.
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 10 {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("dnstest: listen udp: %w", err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dnstest: listen tcp: %w", err)
	}
	s.Addr = pc.LocalAddr().String()
	handler := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: handler, UDPSize: dns.MaxMsgSize}
	s.tcp = &dns.Server{Listener: ln, Handler: handler}

	started := make(chan struct{}, 2)
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = srv.ActivateAndServe() // returns when Shutdown is called
		}()
	}
	<-started
	<-started
	return s, nil
}

// StartT starts a server for a test and stops it when the test ends.
func StartT(t testing.TB, z Zone) *Server {
	t.Helper()
	s, err := Start(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("dnstest: stop: %v", err)
		}
	})
	return s
}

// Stop shuts both listeners down and waits for them. It may be called more than once.
func (s *Server) Stop() error {
	var err error
	s.once.Do(func() {
		err = errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
		s.wg.Wait()
	})
	return err
}

// Parse turns zone-file lines (`name [ttl] [class] type rdata`, names absolute) into
// records.
func Parse(lines ...string) ([]dns.RR, error) {
	rrs := make([]dns.RR, 0, len(lines))
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			return nil, fmt.Errorf("dnstest: parse %q: %w", l, err)
		}
		if rr == nil {
			continue // empty line or comment
		}
		rrs = append(rrs, rr)
	}
	return rrs, nil
}

// MustParse is Parse for fixed test data; it panics on a malformed line.
func MustParse(lines ...string) []dns.RR {
	rrs, err := Parse(lines...)
	if err != nil {
		panic(err)
	}
	return rrs
}

// TXT builds a TXT record whose text is split into strings of at most 255 octets, as
// a DNS TXT record must be (RFC 1035 section 3.3.14); resolvers join them again.
func TXT(name, text string) dns.RR {
	var parts []string
	for len(text) > 255 {
		parts = append(parts, text[:255])
		text = text[255:]
	}
	parts = append(parts, text)
	return &dns.TXT{
		Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300},
		Txt: parts,
	}
}

func (s *Server) failure(name string, qtype uint16) FailureKind {
	if k, ok := s.failing[failKey{name, qtype}]; ok {
		return k
	}
	return s.failing[failKey{name, 0}]
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		m.SetRcode(req, dns.RcodeNotImplemented)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := canonical(q.Name)
	switch s.failure(name, q.Qtype) {
	case Timeout:
		return // no answer at all
	case ServFail:
		m.SetRcode(req, dns.RcodeServerFailure)
		_ = w.WriteMsg(m)
		return
	}

	m.SetReply(req)
	m.Authoritative = true
	m.Compress = true
	seen := map[string]bool{}
	authenticated := req.AuthenticatedData || (req.IsEdns0() != nil && req.IsEdns0().Do())
	for hop := 0; hop < 8 && !seen[name]; hop++ {
		seen[name] = true
		authenticated = authenticated && s.isSecure(name)
		var cname dns.RR
		for _, rr := range s.zone[name] {
			switch rr.Header().Rrtype {
			case q.Qtype:
				m.Answer = append(m.Answer, rr)
			case dns.TypeCNAME:
				cname = rr
			}
		}
		if len(m.Answer) > 0 && m.Answer[len(m.Answer)-1].Header().Rrtype == q.Qtype || cname == nil || q.Qtype == dns.TypeCNAME {
			break
		}
		m.Answer = append(m.Answer, cname)
		name = canonical(cname.(*dns.CNAME).Target)
		if k := s.failure(name, q.Qtype); k == Timeout {
			return
		} else if k == ServFail {
			m.Rcode = dns.RcodeServerFailure
			break
		}
	}
	if len(m.Answer) == 0 && !s.exists(name) {
		m.Rcode = dns.RcodeNameError
	}
	if m.Rcode == dns.RcodeNameError || (len(m.Answer) == 0 && m.Rcode == dns.RcodeSuccess) {
		m.Ns = []dns.RR{soa(name)}
	}
	m.AuthenticatedData = authenticated && m.Rcode != dns.RcodeServerFailure

	size := dns.MinMsgSize
	if w.LocalAddr().Network() == "tcp" {
		size = dns.MaxMsgSize
	} else if opt := req.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		m.SetEdns0(opt.UDPSize(), false)
	}
	m.Truncate(size)
	_ = w.WriteMsg(m)
}

// isSecure reports whether answers for name are authenticated (Zone.Secure).
func (s *Server) isSecure(name string) bool {
	for _, n := range s.secure {
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if strings.HasSuffix(name, "."+rest) {
				return true
			}
		} else if n == name {
			return true
		}
	}
	return false
}

// exists reports whether name owns records or failures, or has descendants that do
// (an "empty non-terminal", which answers NODATA rather than NXDOMAIN, RFC 8020).
func (s *Server) exists(name string) bool {
	for n := range s.zone {
		if n == name || strings.HasSuffix(n, "."+name) {
			return true
		}
	}
	for k := range s.failing {
		if k.name == name || strings.HasSuffix(k.name, "."+name) {
			return true
		}
	}
	return false
}

func soa(name string) dns.RR {
	labels := dns.SplitDomainName(name)
	zone := "test."
	if len(labels) >= 2 {
		zone = dns.Fqdn(strings.Join(labels[len(labels)-2:], "."))
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns:      "ns." + zone,
		Mbox:    "hostmaster." + zone,
		Serial:  1,
		Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60,
	}
}
