package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/config"
	"github.com/resguardo/resguardo/internal/intake"
	"github.com/resguardo/resguardo/internal/keys"
	"github.com/resguardo/resguardo/internal/mailauth"
	"github.com/resguardo/resguardo/internal/metrics"
	"github.com/resguardo/resguardo/internal/relay"
	"github.com/resguardo/resguardo/internal/smtpgw"
)

// gateway is the SMTP side of `resguardo serve`: the listeners configured in
// [gateway], one intake.Pipeline and one archive.Ingester shared by every
// session (group commit across sessions).
type gateway struct {
	m         *Main
	servers   []*smtpgw.Server
	pipe      *intake.Pipeline
	in        *archive.Ingester
	relay     *relay.Relay
	stopRelay context.CancelFunc
	relayDone chan struct{}
	errc      chan error
}

// relayConfig is the relay's configuration from [gateway.relay].
func relayConfig(m *Main, host string) (relay.Config, error) {
	c := m.Config.Gateway
	rc := c.Relay
	var roots *x509.CertPool
	if rc.CAFile != "" {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		b, err := os.ReadFile(rc.CAFile)
		if err != nil {
			return relay.Config{}, fmt.Errorf("gateway.relay.ca_file: %w", err)
		}
		if !roots.AppendCertsFromPEM(b) {
			return relay.Config{}, fmt.Errorf("gateway.relay.ca_file: %s holds no PEM certificate", rc.CAFile)
		}
	}
	return relay.Config{
		Hostname: host, Domains: c.Domains,
		NextHop: rc.NextHop, NextHopTLS: rc.NextHopTLS, NextHopVerify: rc.NextHopVerify,
		Outbound: rc.Outbound, Smarthost: rc.Smarthost, SmarthostTLS: rc.SmarthostTLS, SmarthostVerify: rc.SmarthostVerify,
		MXPort: rc.MXPort, MTASTS: rc.MTASTSOn(), DANE: rc.DANEOn(), MTASTSCache: archive.Layout{Dir: m.DataDir}.MTASTSCache(), Workers: rc.Workers,
		RetryBase: rc.RetryBase.D(), RetryMax: rc.RetryMax.D(), MaxAge: rc.MaxQueueTime.D(), DelayWarning: rc.DelayWarningD(),
		ConnectTimeout: rc.ConnectTimeout.D(), CommandTimeout: rc.CommandTimeout.D(),
		DKIMDir:  dkimKeyDir(m.DataDir),
		Resolver: mailauth.NewResolver(mailauth.ResolverOptions{Server: c.DNSServer, Timeout: c.DNSTimeout.D()}),
		RootCAs:  roots, Logger: m.Logger.With("component", "relay"),
	}, nil
}

// gatewayHost is the gateway's host name: configured, or the machine's.
func gatewayHost(c config.Gateway) string {
	host := c.Hostname
	if host == "" {
		host, _ = os.Hostname()
		if host == "" {
			host = "localhost"
		}
	}
	return host
}

func gatewayPolicies(c config.Gateway) map[smtpgw.Channel]intake.Policy {
	out := map[smtpgw.Channel]intake.Policy{}
	for _, ch := range []smtpgw.Channel{smtpgw.ChannelMX, smtpgw.ChannelSubmission, smtpgw.ChannelJournal} {
		p := intake.DefaultPolicy(ch)
		if cp, ok := c.Policy[string(ch)]; ok {
			if cp.Skip != nil {
				p.Skip = cp.Skip
			}
			if cp.MaxAction != "" {
				p.MaxAction = intake.Action(cp.MaxAction)
			}
			if len(cp.Actions) > 0 {
				p.Actions = map[string]intake.Action{}
				for k, v := range cp.Actions {
					p.Actions[k] = intake.Action(v)
				}
			}
		}
		if ch == smtpgw.ChannelJournal && p.MaxAction.Rank() > intake.ActionQuarantine.Rank() {
			p.MaxAction = intake.ActionTag // journaled mail was already delivered: never refuse it
		}
		out[ch] = p
	}
	return out
}

// startGateway starts the configured listeners; nil when none is.
func startGateway(m *Main, a *archive.Archive, mets *metrics.Metrics) (*gateway, error) {
	c := m.Config.Gateway
	if !c.Enabled() {
		return nil, nil
	}
	host := gatewayHost(c)
	certFile, keyFile := c.TLSCertFile, c.TLSKeyFile
	if certFile == "" {
		var created bool
		var err error
		certFile, keyFile, created, err = keys.InitGatewayTLS(archive.Layout{Dir: a.Dir()}.Keys(), host, nowUTC())
		if err != nil {
			return nil, fmt.Errorf("gateway TLS certificate: %w", err)
		}
		if created {
			fmt.Fprintln(m.Stderr, m.P.T("gateway.tls.created", certFile))
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("gateway TLS certificate: %w", err)
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	checker, err := mailauth.New(mailauth.Options{
		DNS:   mailauth.ResolverOptions{Server: c.DNSServer, Timeout: c.DNSTimeout.D()},
		DNSBL: mailauth.DNSBLOptions{IPZones: c.DNSBLZones, DomainZones: c.RHSBLZones, Timeout: c.DNSTimeout.D()},
		Allow: c.Allow, Block: c.Block,
	})
	if err != nil {
		return nil, err
	}
	var auth smtpgw.Authenticator
	if len(c.Users) > 0 {
		us := make([]intake.User, 0, len(c.Users))
		for _, u := range c.Users {
			us = append(us, intake.User{Name: u.Name, PasswordHash: u.PasswordHash, AllowedFrom: u.AllowedFrom})
		}
		users, err := intake.NewUsers(us)
		if err != nil {
			return nil, fmt.Errorf("gateway.users: %w", err)
		}
		auth = users
	}

	// The ingester outlives serve's context: SIGTERM must not abandon a batch
	// that sessions are waiting for. It is closed after the listeners.
	in := a.Ingest(context.Background(), archive.IngestOptions{
		BatchSize: m.Config.Archive.BatchSize, MaxDelay: m.Config.Archive.BatchDelay.D(),
	})
	g := &gateway{m: m, in: in, errc: make(chan error, 4)}
	checks := []intake.Check{intake.AuthCheck{Checker: checker}}
	if len(c.Antivirus) > 0 {
		// One Scanner for serve's life: it keeps each engine's health.
		sc := antivirusScanner(c)
		checks = append(checks, intake.AVCheck{Scanner: sc, Observe: mets.Scans})
		_ = mets.Register(metrics.NewGaugeFunc("resguardo_av_engine_up", "1 while an antivirus engine is up, 0 while marked down.", "engine",
			func() map[string]float64 {
				out := map[string]float64{}
				for _, st := range sc.States() {
					out[st.Engine] = map[bool]float64{true: 1, false: 0}[st.Up]
				}
				return out
			}))
	}
	spamCheck, reload, err := m.spamCheck(mets)
	if err != nil {
		in.Close()
		return nil, err
	}
	if len(spamCheck.Engines) > 0 {
		checks = append(checks, spamCheck)
	}
	rcfg, err := relayConfig(m, host)
	if err != nil {
		in.Close()
		return nil, err
	}
	rcfg.Observe = mets.Relay
	if g.relay, err = relay.New(rcfg, a, in); err != nil {
		in.Close()
		return nil, err
	}
	g.pipe, err = intake.New(intake.Options{
		Archive: in, Checks: checks, Router: g.relay, Observer: mets,
		Policies: gatewayPolicies(c), AuthServID: host, Logger: m.Logger.With("component", "intake"),
	})
	if err != nil {
		in.Close()
		return nil, err
	}
	// The delivery loop also outlives serve's context until stop: it writes
	// DSNs through the ingester.
	rctx, cancel := context.WithCancel(context.Background())
	g.stopRelay, g.relayDone = cancel, make(chan struct{})
	go func() {
		defer close(g.relayDone)
		if reload != nil {
			go reload(rctx)
		}
		if err := g.relay.Run(rctx); err != nil {
			g.errc <- fmt.Errorf("relay: %w", err)
		}
	}()
	if c.Relay.NextHop == "" && c.Listen.MX != "" {
		m.Logger.Warn("gateway.relay.next_hop is not set: mail received on the MX listener is archived but not delivered")
	}
	if d := g.relay.DKIMDomains(); len(d) > 0 {
		m.Logger.Info("DKIM signing", "domains", strings.Join(d, ", "))
	}

	var allowed []netip.Prefix
	for _, s := range c.Journal.AllowedClients {
		if p, err := netip.ParsePrefix(s); err == nil {
			allowed = append(allowed, p)
		} else if a, err := netip.ParseAddr(s); err == nil {
			allowed = append(allowed, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	dc := smtpgw.DefaultConfig(smtpgw.ChannelSubmission)
	limiter := smtpgw.NewAuthLimiter(dc.AuthMaxFailures, dc.AuthWindow, dc.AuthLockout, nil) // shared by 587 and 465
	type listener struct {
		name, addr string
		ch         smtpgw.Channel
		implicit   bool
	}
	var ls []listener
	for _, l := range []listener{{"mx", c.Listen.MX, smtpgw.ChannelMX, false},
		{"submission", c.Listen.Submission, smtpgw.ChannelSubmission, false},
		{"submissions", c.Listen.Submissions, smtpgw.ChannelSubmission, true},
		{"journal", c.Listen.Journal, smtpgw.ChannelJournal, false}} {
		if l.addr != "" {
			ls = append(ls, l)
		}
	}
	for _, l := range ls {
		sc := smtpgw.DefaultConfig(l.ch)
		sc.Name, sc.Addr, sc.Hostname, sc.TLS, sc.ImplicitTLS = l.name, l.addr, host, tlsCfg, l.implicit
		sc.Domains = c.Domains
		sc.MaxMessageBytes = int64(c.MaxMessageSize)
		sc.MaxRecipients = c.MaxRecipients
		sc.MaxConns, sc.MaxConnsPerIP = c.MaxConnections, c.MaxConnectionsPerIP
		if l.ch == smtpgw.ChannelJournal {
			sc.JournalAddresses = c.Journal.Addresses
			sc.JournalMode = smtpgw.JournalMode(strings.TrimPrefix(c.Journal.Mode, "auto"))
			sc.AllowedClients = allowed
		}
		srv, err := smtpgw.New(sc, g.pipe, smtpgw.Options{Logger: m.Logger.With("component", "smtp"), Authenticator: auth, AuthLimiter: limiter})
		if err != nil {
			g.stop(context.Background())
			return nil, err
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			g.stop(context.Background())
			return nil, &exitError{code: 1, err: fmt.Errorf("gateway %s: listen on %s: %w", l.name, l.addr, err)}
		}
		g.servers = append(g.servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, smtpgw.ErrServerClosed) {
				g.errc <- fmt.Errorf("gateway %s: %w", l.name, err)
			}
		}()
		fmt.Fprintln(m.Stderr, m.P.T("gateway.listening", l.name, ln.Addr()))
		m.Logger.Info("smtp listening", "listener", l.name, "addr", ln.Addr().String())
	}
	return g, nil
}

// stop closes the listeners, lets open sessions finish (within ctx), then
// flushes and closes the ingester.
func (g *gateway) stop(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(g.servers))
	for i, s := range g.servers {
		wg.Go(func() { errs[i] = s.Shutdown(ctx) })
	}
	wg.Wait()
	if g.stopRelay != nil {
		g.stopRelay()
		<-g.relayDone
	}
	errs = append(errs, g.in.Close())
	if g.pipe != nil {
		st := g.pipe.Stats()
		fmt.Fprintln(g.m.Stderr, g.m.P.T("gateway.stopped", st.Accepted, st.Quarantined, st.Rejected, st.TempFailed))
	}
	return errors.Join(errs...)
}

// shutdownTimeout is how long stop waits for open sessions.
func (g *gateway) shutdownTimeout() time.Duration { return g.m.Config.Gateway.ShutdownTimeout.D() }
