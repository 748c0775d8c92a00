package smtpgw

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// ErrServerClosed is returned by Serve after Close or Shutdown.
var ErrServerClosed = errors.New("smtpgw: server closed")

// Options are a Server's dependencies besides its Deliverer.
type Options struct {
	// Logger receives details that clients never see. Default: discard.
	Logger *slog.Logger
	// Authenticator checks submission credentials (required for the
	// submission channel).
	Authenticator Authenticator
	// AuthLimiter counts AUTH failures; share one between the 587 and 465
	// listeners. Default: a new one from the Config's Auth* fields.
	AuthLimiter *AuthLimiter
	// Now is the clock for envelopes and lockouts. Default: time.Now.
	Now func() time.Time
}

// Server is one SMTP listener (MX, submission or journal).
type Server struct {
	cfg       Config
	deliverer Deliverer
	auth      Authenticator
	limiter   *AuthLimiter
	log       *slog.Logger
	now       func() time.Time
	domains   map[string]bool
	journal   map[string]bool

	seq atomic.Uint64

	mu     sync.Mutex
	ln     net.Listener
	closed bool
	conns  map[*guard]struct{}
	perIP  map[string]int
	total  int
	wg     sync.WaitGroup
}

// New checks cfg and returns a Server; call Serve or ListenAndServe.
func New(cfg Config, d Deliverer, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("smtpgw config: %w", err)
	}
	if d == nil {
		return nil, errors.New("smtpgw: nil Deliverer")
	}
	cfg = cfg.withDefaults()
	if cfg.Channel == ChannelSubmission && opts.Authenticator == nil {
		return nil, errors.New("smtpgw: submission needs an Authenticator")
	}
	s := &Server{
		cfg:       cfg,
		deliverer: d,
		auth:      opts.Authenticator,
		limiter:   opts.AuthLimiter,
		log:       opts.Logger,
		now:       opts.Now,
		domains:   map[string]bool{},
		journal:   map[string]bool{},
		conns:     map[*guard]struct{}{},
		perIP:     map[string]int{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("listener", cfg.Name)
	if s.now == nil {
		s.now = time.Now
	}
	if s.limiter == nil {
		s.limiter = NewAuthLimiter(cfg.AuthMaxFailures, cfg.AuthWindow, cfg.AuthLockout, s.now)
	}
	for _, d := range cfg.Domains {
		s.domains[strings.ToLower(strings.TrimSuffix(d, "."))] = true
	}
	for _, a := range cfg.JournalAddresses {
		s.journal[strings.ToLower(a)] = true
	}
	return s, nil
}

// Config returns the effective configuration (defaults applied).
func (s *Server) Config() Config { return s.cfg }

// ListenAndServe listens on Config.Addr and serves until Close/Shutdown.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ln)
}

// Addr is the listening address once Serve has started, else nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections on ln until Close or Shutdown, then returns
// ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	s.mu.Unlock()
	s.log.Info("smtp listener started", "addr", ln.Addr().String(), "channel", s.cfg.Channel,
		"tls", s.cfg.TLS != nil, "implicit_tls", s.cfg.ImplicitTLS)

	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		delay = 0
		s.accept(c)
	}
}

// ipKey is the per-client key for connection limits: the address, or its
// /64 for IPv6.
func ipKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	if !a.IsValid() {
		return "unknown"
	}
	return a.String()
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

func (s *Server) allowedClient(a netip.Addr) bool {
	if len(s.cfg.AllowedClients) == 0 {
		return true
	}
	a = a.Unmap()
	for _, p := range s.cfg.AllowedClients {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Server) accept(c net.Conn) {
	remote := addrPort(c.RemoteAddr())
	key := ipKey(remote.Addr())
	if !s.allowedClient(remote.Addr()) {
		s.log.Warn("client not allowed", "remote", remote.String())
		s.refuse(c, "554 5.7.1 Access denied")
		return
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		_ = c.Close()
		return
	case s.total >= s.cfg.MaxConns:
		s.mu.Unlock()
		s.log.Warn("too many connections", "remote", remote.String(), "total", s.cfg.MaxConns)
		s.refuse(c, "421 4.7.0 Too many connections, try again later")
		return
	case s.perIP[key] >= s.cfg.MaxConnsPerIP:
		s.mu.Unlock()
		s.log.Warn("too many connections from client", "remote", remote.String(), "limit", s.cfg.MaxConnsPerIP)
		s.refuse(c, "421 4.7.0 Too many connections from your address, try again later")
		return
	}
	s.total++
	s.perIP[key]++
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			s.total--
			if s.perIP[key]--; s.perIP[key] <= 0 {
				delete(s.perIP, key)
			}
			s.mu.Unlock()
		}()
		s.serveConn(c, remote)
	}()
}

// refuse answers a connection we will not serve and closes it. With
// implicit TLS nothing can be said in plaintext; the connection is closed.
func (s *Server) refuse(c net.Conn, reply string) {
	go func() {
		if !s.cfg.ImplicitTLS {
			_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_, _ = io.WriteString(c, reply+"\r\n")
		}
		_ = c.Close()
	}()
}

// conn is the state of one client connection, across STARTTLS.
type conn struct {
	s      *Server
	guard  *guard
	ctx    context.Context
	id     string
	log    *slog.Logger
	remote netip.AddrPort
	local  netip.AddrPort
}

func (s *Server) serveConn(c net.Conn, remote netip.AddrPort) {
	raw := newRawConn(c)
	id := fmt.Sprintf("%s-%d-%d", s.cfg.Name, s.now().Unix(), s.seq.Add(1))
	log := s.log.With("cid", id, "remote", remote.String())
	g := newGuard(raw, s.cfg, log)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = raw.Close()
		return
	}
	s.conns[g] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, g)
		s.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := &conn{s: s, guard: g, ctx: ctx, id: id, log: log, remote: remote, local: addrPort(c.LocalAddr())}
	log.Debug("connection opened")

	var nc net.Conn = raw
	if s.cfg.ImplicitTLS {
		tc := tls.Server(raw, s.cfg.TLS)
		nc = tc
		g.setPlain(tc)
	}

	srv := smtp.NewServer(smtp.BackendFunc(cs.newSession))
	srv.Domain = s.cfg.Hostname
	srv.TLSConfig = s.cfg.TLS
	srv.MaxMessageBytes = s.cfg.MaxMessageBytes
	srv.MaxRecipients = s.cfg.MaxRecipients
	srv.MaxLineLength = s.cfg.MaxLineLength
	srv.ReadTimeout = s.cfg.ReadTimeout
	srv.WriteTimeout = s.cfg.WriteTimeout
	srv.EnableSMTPUTF8 = !s.cfg.DisableSMTPUTF8
	// We enforce "AUTH only over TLS" ourselves so that AUTH before TLS
	// gets RFC 3207's 530 5.7.0 (go-smtp would answer 523 5.7.10);
	// AuthMechanisms returns nothing before TLS, so EHLO does not
	// advertise AUTH.
	srv.AllowInsecureAuth = true
	srv.Debug = g
	srv.ErrorLog = errorLog{log}

	timer := time.AfterFunc(s.cfg.SessionTimeout, func() {
		log.Info("session timeout")
		g.closeNow()
	})
	defer timer.Stop()

	l := newSingleListener(nc, raw.closed)
	if err := srv.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) {
		log.Debug("serve", "err", err)
	}
	cancel() // a Deliver still running on a dead connection is abandoned
	// Wait for go-smtp's connection goroutine to finish.
	if err := srv.Shutdown(context.Background()); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		log.Debug("shutdown", "err", err)
	}
	log.Debug("connection closed")
}

// errorLog routes go-smtp's internal error log to slog. go-smtp logs a
// recovered panic here.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Printf(format string, v ...any) {
	e.log.Warn("go-smtp", "msg", strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (e errorLog) Println(v ...any) {
	e.log.Warn("go-smtp", "msg", strings.TrimSpace(fmt.Sprintln(v...)))
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	ln := s.ln
	gs := make([]*guard, 0, len(s.conns))
	for g := range s.conns {
		gs = append(gs, g)
	}
	s.mu.Unlock()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	for _, g := range gs {
		g.closeNow()
	}
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Shutdown stops accepting connections and waits for the open ones to end
// (each ends at the latest after Config.SessionTimeout). If ctx ends first
// the remaining connections are closed and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("close listener", "err", err)
		}
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		_ = s.Close()
		return ctx.Err()
	}
}
