package relay

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/ledger"
)

// target is one server to try.
type target struct {
	host   string // name (for TLS and the record)
	port   int
	tls    string      // opportunistic, required, none
	verify bool        // the certificate must verify for host
	sts    string      // MTA-STS mode that applied ("" none)
	dane   *daneTarget // secure TLSA records of the host (nil: DANE does not apply)
}

// errPermanent marks a failure that no retry will fix.
type errPermanent struct{ msg string }

func (e errPermanent) Error() string { return e.msg }

// targets lists the servers for a group, best first.
func (r *Relay) targets(ctx context.Context, o catalog.Outbound) ([]target, error) {
	hostPort := func(hp, mode string, verify bool) ([]target, error) {
		h, p, err := net.SplitHostPort(hp)
		if err != nil {
			return nil, errPermanent{"5.3.5 bad relay address " + hp}
		}
		port, _ := strconv.Atoi(p)
		return []target{{host: h, port: port, tls: mode, verify: verify}}, nil
	}
	switch o.Route {
	case RouteNextHop:
		return hostPort(r.c.NextHop, r.c.NextHopTLS, r.c.NextHopVerify)
	case RouteSmarthost:
		return hostPort(r.c.Smarthost, r.c.SmarthostTLS, r.c.SmarthostVerify)
	case RouteMX:
	default:
		return nil, errPermanent{"5.3.5 unknown route " + o.Route}
	}
	var policy *stsPolicy
	if r.c.MTASTS {
		p, err := r.sts.get(ctx, o.Domain)
		if err != nil {
			r.c.Logger.Warn("relay: MTA-STS policy", "domain", o.Domain, "err", err)
		}
		policy = p
	}
	mxs, err := r.c.Resolver.LookupMX(ctx, o.Domain)
	var hosts []string
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			// No MX: the domain itself is the implicit MX (RFC 5321 §5.1), if it
			// has an address.
			if _, aerr := r.c.Resolver.LookupIPAddr(ctx, o.Domain); aerr != nil {
				if errors.As(aerr, &de) && de.IsNotFound {
					return nil, errPermanent{"5.1.2 domain " + o.Domain + " has no MX and no address"}
				}
				return nil, fmt.Errorf("4.4.3 DNS: %v", aerr)
			}
			hosts = []string{o.Domain}
		} else {
			return nil, fmt.Errorf("4.4.3 DNS MX lookup for %s: %v", o.Domain, err)
		}
	} else {
		for _, mx := range mxs {
			h := strings.TrimSuffix(mx.Host, ".")
			if h == "" { // null MX (RFC 7505)
				return nil, errPermanent{"5.1.10 domain " + o.Domain + " accepts no mail (null MX)"}
			}
			hosts = append(hosts, h)
		}
	}
	// DANE (dane.go) applies only when the MX RRset is authenticated, and
	// then takes precedence over MTA-STS (RFC 8461 §2).
	mxSecure := false
	if r.dnssec != nil {
		if mxSecure, err = r.dnssec.secureMX(ctx, o.Domain); err != nil {
			return nil, fmt.Errorf("4.4.3 DNS: DNSSEC status of the MX of %s: %v", o.Domain, err)
		}
	}
	var out []target
	var daneErr error
	for _, h := range hosts {
		t := target{host: h, port: r.c.MXPort, tls: TLSOpportunistic}
		if mxSecure {
			d, err := r.daneFor(ctx, h, t.port)
			if err != nil {
				r.c.Logger.Warn("relay: DANE", "domain", o.Domain, "mx", h, "err", err)
				daneErr = err
				continue
			}
			if d != nil {
				t.dane, t.tls = d, TLSRequired
				out = append(out, t)
				continue
			}
		}
		if policy != nil && policy.mode != "none" {
			t.sts = policy.mode
			if policy.mode == "enforce" {
				if !policy.matches(h) {
					r.c.Logger.Warn("relay: MX not allowed by MTA-STS policy", "domain", o.Domain, "mx", h)
					continue
				}
				t.tls, t.verify = TLSRequired, true
			}
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		if daneErr != nil {
			return nil, daneErr
		}
		return nil, fmt.Errorf("4.7.5 no MX of %s matches its MTA-STS policy", o.Domain)
	}
	return out, nil
}

// attempt tries the targets in order until one takes the message (or refuses
// it permanently).
func (r *Relay) attempt(ctx context.Context, entries []catalog.Outbound, data []byte) outcome {
	ts, err := r.targets(ctx, entries[0])
	if err != nil {
		return failedOrDeferred(entries, err)
	}
	var last error
	for _, t := range ts {
		ips, err := r.addrs(ctx, t.host)
		if err != nil {
			last = err
			continue
		}
		for _, ip := range ips {
			out, err := r.transaction(ctx, t, ip, entries, data)
			if err == nil {
				return out
			}
			last = err
			var pe errPermanent
			if errors.As(err, &pe) {
				return failedOrDeferred(entries, err)
			}
			var se *smtp.SMTPError
			if errors.As(err, &se) && se.Code >= 500 {
				return failedOrDeferred(entries, err)
			}
		}
	}
	if last == nil {
		last = errors.New("4.4.1 no server to connect to")
	}
	return failedOrDeferred(entries, last)
}

// failedOrDeferred gives every entry err: failed when it is permanent (5xx).
func failedOrDeferred(entries []catalog.Outbound, err error) outcome {
	out := outcome{reason: reasonAll(entries, replyText(err))}
	var pe errPermanent
	var se *smtp.SMTPError
	if errors.As(err, &pe) || (errors.As(err, &se) && se.Code >= 500) {
		out.failed = entries
	} else {
		out.deferred = entries
	}
	return out
}

func (r *Relay) addrs(ctx context.Context, host string) ([]string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []string{host}, nil
	}
	as, err := r.c.Resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("4.4.3 DNS address lookup for %s: %v", host, err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.IP.String())
	}
	return out, nil
}

// transaction sends one copy to one server address. An error means nothing was
// accepted there (try the next server, or defer/fail); a nil error is the
// per-recipient outcome.
func (r *Relay) transaction(ctx context.Context, t target, ip string, entries []catalog.Outbound, data []byte) (outcome, error) {
	useTLS := t.tls != TLSNone
	out, err := r.try(ctx, t, ip, entries, data, useTLS)
	var tlsErr errTLS
	if err != nil && errors.As(err, &tlsErr) && t.tls == TLSOpportunistic {
		// A failed handshake on opportunistic TLS: again, in clear (as Postfix does).
		r.c.Logger.Warn("relay: STARTTLS failed; retrying without TLS", "host", t.host, "err", err)
		return r.try(ctx, t, ip, entries, data, false)
	}
	return out, err
}

type errTLS struct{ err error }

func (e errTLS) Error() string { return "4.7.0 TLS: " + e.err.Error() }

// session is an open SMTP connection to one server, after EHLO (and STARTTLS).
type session struct {
	key       string // what it may be reused for: address, host, TLS mode
	c         *smtp.Client
	greeting  string
	tls       *tls.Conn
	verified  bool
	verifyErr error
	dane      string // DANEVerified, DANEUnusableTLS or ""
	daneTLSA  string // the TLSA record the certificate matched
	uses      int
}

func (s *session) close() {
	_ = s.c.Quit()
	_ = s.c.Close()
}

// maxUses is how many transactions one cached connection carries.
const maxUses = 100

// open connects to ip for target t, greets, says EHLO and starts TLS as t asks.
func (r *Relay) open(ctx context.Context, t target, ip string, useTLS bool, key string) (*session, error) {
	addr := net.JoinHostPort(ip, strconv.Itoa(t.port))
	d := net.Dialer{Timeout: r.c.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("4.4.1 connect to %s (%s): %v", t.host, addr, err)
	}
	// The greeting, EHLO and STARTTLS are done here, before go-smtp's client
	// takes the connection: its STARTTLS is not exported in v0.25, and
	// NewClientStartTLS would introduce us as "localhost".
	_ = conn.SetDeadline(time.Now().Add(r.c.CommandTimeout))
	tp := textproto.NewConn(conn)
	_, greeting, err := tp.ReadResponse(220)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: greeting: %w", t.host, smtpErr(err))
	}
	exts, err := ehlo(tp, r.c.Hostname)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: EHLO: %w", t.host, smtpErr(err))
	}
	s := &session{key: key, greeting: "220 " + greeting}
	if exts["STARTTLS"] && useTLS {
		if err := tp.PrintfLine("STARTTLS"); err != nil {
			conn.Close()
			return nil, errTLS{err}
		}
		if _, _, err := tp.ReadResponse(220); err != nil {
			conn.Close()
			return nil, errTLS{smtpErr(err)}
		}
		cfg := &tls.Config{ServerName: t.host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				s.verifyErr = verifyChain(cs, t.host, r.c.RootCAs)
				s.verified = s.verifyErr == nil
				if t.dane != nil {
					// DANE replaces the PKIX check (recorded all the same).
					s.dane = t.dane.state
					if t.dane.state == DANEVerified {
						rec, err := verifyDANE(cs, t.host, t.dane, r.c.Now())
						if err != nil {
							return err
						}
						s.daneTLSA = rec.String()
					}
					return nil
				}
				if t.verify && s.verifyErr != nil {
					return s.verifyErr
				}
				return nil
			}}
		s.tls = tls.Client(conn, cfg)
		if err := s.tls.HandshakeContext(ctx); err != nil {
			conn.Close()
			var de errDANE
			if errors.As(err, &de) {
				return nil, de
			}
			return nil, errTLS{err}
		}
		conn = s.tls
	} else if t.dane != nil {
		conn.Close()
		return nil, fmt.Errorf("4.7.5 DANE: %s has TLSA records but does not offer STARTTLS", t.host)
	} else if t.tls == TLSRequired {
		conn.Close()
		return nil, fmt.Errorf("4.7.10 %s does not offer STARTTLS, which is required for it", t.host)
	}
	_ = conn.SetDeadline(time.Time{})
	// go-smtp reads a greeting first: give it the one already read; it then
	// says EHLO again (allowed at any time, RFC 5321 §4.1.4).
	s.c = smtp.NewClient(&greetedConn{Conn: conn, r: io.MultiReader(strings.NewReader(s.greeting+"\r\n"), conn)})
	s.c.CommandTimeout = r.c.CommandTimeout
	s.c.SubmissionTimeout = r.c.CommandTimeout
	if err := s.c.Hello(r.c.Hostname); err != nil {
		s.c.Close()
		return nil, fmt.Errorf("%s: %w", t.host, err)
	}
	return s, nil
}

// connCache keeps idle connections for reuse (as Postfix's connection cache
// does): a queue of many messages to one next hop does not pay a TCP and TLS
// handshake per message. An idle connection is closed after idleFor.
type connCache struct {
	mu   sync.Mutex
	idle map[string][]*idleSession
}

type idleSession struct {
	s     *session
	since time.Time
}

const idleFor = 5 * time.Second

func (cc *connCache) get(key string) *session {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	list := cc.idle[key]
	for len(list) > 0 {
		is := list[len(list)-1]
		list = list[:len(list)-1]
		if time.Since(is.since) < idleFor {
			cc.idle[key] = list
			return is.s
		}
		go is.s.close()
	}
	delete(cc.idle, key)
	return nil
}

func (cc *connCache) put(s *session) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.idle == nil {
		cc.idle = map[string][]*idleSession{}
	}
	if len(cc.idle[s.key]) >= 8 {
		go s.close()
		return
	}
	cc.idle[s.key] = append(cc.idle[s.key], &idleSession{s: s, since: time.Now()})
	time.AfterFunc(idleFor, func() { cc.expire(s) })
}

// expire closes s if it is still idle.
func (cc *connCache) expire(s *session) {
	cc.mu.Lock()
	list := cc.idle[s.key]
	for i, is := range list {
		if is.s == s {
			cc.idle[s.key] = append(list[:i:i], list[i+1:]...)
			cc.mu.Unlock()
			s.close()
			return
		}
	}
	cc.mu.Unlock()
}

// closeAll closes every idle connection (Run's end).
func (cc *connCache) closeAll() {
	cc.mu.Lock()
	idle := cc.idle
	cc.idle = nil
	cc.mu.Unlock()
	for _, list := range idle {
		for _, is := range list {
			is.s.close()
		}
	}
}

// try sends one copy to one server address, on a cached connection when there
// is one (a cached connection the server has meanwhile closed is replaced by a
// new one before anything is sent).
func (r *Relay) try(ctx context.Context, t target, ip string, entries []catalog.Outbound, data []byte, useTLS bool) (outcome, error) {
	key := fmt.Sprintf("%s|%d|%s|%s|%v|%v|%s", ip, t.port, t.host, t.tls, t.verify, useTLS, t.dane.key())
	s := r.conns.get(key)
	reused := s != nil
	if s != nil {
		if err := s.c.Reset(); err != nil {
			go s.close()
			s, reused = nil, false
		}
	}
	if s == nil {
		var err error
		if s, err = r.open(ctx, t, ip, useTLS, key); err != nil {
			return outcome{}, err
		}
	}
	out, reusable, err := r.transact(s, t, ip, entries, data)
	var se *smtp.SMTPError
	if reused && err != nil && !errors.As(err, &se) {
		// The cached connection broke under us (the server timed it out):
		// once more on a new one. Nothing was accepted on the broken one.
		go s.close()
		if s, err = r.open(ctx, t, ip, useTLS, key); err != nil {
			return outcome{}, err
		}
		out, reusable, err = r.transact(s, t, ip, entries, data)
	}
	s.uses++
	if reusable && s.uses < maxUses {
		r.conns.put(s)
	} else {
		go s.close()
	}
	return out, err
}

// transact runs one mail transaction on s. reusable says whether s may carry
// another one.
func (r *Relay) transact(s *session, t target, ip string, entries []catalog.Outbound, data []byte) (outcome, bool, error) {
	c := s.c
	needUTF8 := false
	for _, o := range entries {
		if !isASCII(o.Rcpt) || !isASCII(o.MailFrom) {
			needUTF8 = true
		}
	}
	if err := c.Mail(entries[0].MailFrom, &smtp.MailOptions{Size: int64(len(data)), UTF8: needUTF8}); err != nil {
		return outcome{}, false, fmt.Errorf("%s: MAIL: %w", t.host, err)
	}
	out := outcome{reason: map[int64]string{}}
	var accepted []catalog.Outbound
	for _, o := range entries {
		if err := c.Rcpt(o.Rcpt, nil); err != nil {
			out.reason[o.ID] = fmt.Sprintf("%s: RCPT: %s", t.host, replyText(err))
			var se *smtp.SMTPError
			if !errors.As(err, &se) {
				return outcome{}, false, fmt.Errorf("%s: RCPT: %w", t.host, err) // the connection broke
			}
			if se.Code >= 500 {
				out.failed = append(out.failed, o)
			} else {
				out.deferred = append(out.deferred, o)
			}
			continue
		}
		accepted = append(accepted, o)
	}
	if len(accepted) == 0 {
		return out, true, nil
	}
	w, err := c.Data()
	if err != nil {
		var se *smtp.SMTPError
		return dataFailed(out, accepted, t, err), errors.As(err, &se), nil
	}
	if _, err := w.Write(data); err != nil {
		return outcome{}, false, fmt.Errorf("4.4.2 %s: sending data: %v", t.host, err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		var se *smtp.SMTPError
		return dataFailed(out, accepted, t, err), errors.As(err, &se), nil
	}
	at := r.c.Now().UTC()
	sum := sha256.Sum256(data)
	p := &archive.DeliveryDetail{
		Time: ledger.FormatTime(at), SentSHA256: hex.EncodeToString(sum[:]), SentSize: int64(len(data)),
		Route: accepted[0].Route, MailFrom: accepted[0].MailFrom, RemoteHost: t.host, RemoteIP: ip, RemotePort: t.port,
		MTASTS: t.sts, Reply: formatReply(resp), Attempt: accepted[0].Attempts + 1,
		QueuedAt: ledger.FormatTime(accepted[0].CreatedAt), ReportingHost: r.c.Hostname, Greeting: s.greeting,
	}
	for _, o := range accepted {
		p.Recipients = append(p.Recipients, o.Rcpt)
	}
	if s.tls != nil {
		p.TLS = tlsFacts(s.tls.ConnectionState(), t.host, s.verified, s.verifyErr)
		p.TLS.DANE, p.TLS.DANETLSA = s.dane, s.daneTLSA
	}
	out.delivered = accepted
	out.proof = p
	return out, true, nil
}

func dataFailed(out outcome, accepted []catalog.Outbound, t target, err error) outcome {
	var se *smtp.SMTPError
	for _, o := range accepted {
		out.reason[o.ID] = fmt.Sprintf("%s: DATA: %s", t.host, replyText(err))
		if errors.As(err, &se) && se.Code >= 500 {
			out.failed = append(out.failed, o)
		} else {
			out.deferred = append(out.deferred, o)
		}
	}
	return out
}

func formatReply(resp *smtp.DataResponse) string {
	if resp == nil || resp.StatusText == "" {
		return "250"
	}
	return "250 " + resp.StatusText
}

// verifyChain checks the server's certificate against roots (nil: the system's)
// for host.
func verifyChain(cs tls.ConnectionState, host string, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no server certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
	return err
}

func tlsFacts(cs tls.ConnectionState, host string, verified bool, verifyErr error) *archive.DeliveryTLS {
	f := &archive.DeliveryTLS{Version: tls.VersionName(cs.Version), Cipher: tls.CipherSuiteName(cs.CipherSuite),
		ServerName: host, Verified: verified}
	if verifyErr != nil {
		f.VerifyError = verifyErr.Error()
	}
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		sum := sha256.Sum256(leaf.Raw)
		f.CertSHA256 = hex.EncodeToString(sum[:])
		f.CertSubject = leaf.Subject.String()
		f.CertIssuer = leaf.Issuer.String()
		f.CertNotAfter = leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z")
	}
	return f
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// greetedConn is a connection whose greeting was already read: its reads start
// with a copy of it.
type greetedConn struct {
	net.Conn
	r io.Reader
}

func (g *greetedConn) Read(p []byte) (int, error) { return g.r.Read(p) }

// ehlo sends EHLO and returns the extension keywords (upper case).
func ehlo(tp *textproto.Conn, name string) (map[string]bool, error) {
	if err := tp.PrintfLine("EHLO %s", name); err != nil {
		return nil, err
	}
	_, msg, err := tp.ReadResponse(250)
	if err != nil {
		return nil, err
	}
	exts := map[string]bool{}
	lines := strings.Split(msg, "\n")
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			exts[strings.ToUpper(f[0])] = true
		}
	}
	return exts, nil
}

// smtpErr turns a textproto error into go-smtp's, so that 5xx replies are
// permanent everywhere.
func smtpErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &smtp.SMTPError{Code: te.Code, Message: te.Msg}
	}
	return err
}
