package smtpgw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/emersion/go-smtp"
)

// session is go-smtp's Session: one per EHLO/HELO (a new one after
// STARTTLS). Its methods run on go-smtp's connection goroutine, except
// Data under BDAT, which runs on its own goroutine while Reset may be
// called; hence the mutex.
type session struct {
	c    *conn
	sc   *smtp.Conn
	tls  *TLSInfo
	helo string

	mu       sync.Mutex
	identity *Identity
	hasFrom  bool
	from     string
	body     string
	utf8     bool
	rcpts    []string
}

func (c *conn) newSession(sc *smtp.Conn) (smtp.Session, error) {
	c.guard.setPlain(sc.Conn())
	if c.guard.killed.Load() {
		return nil, errClosing
	}
	s := &session{c: c, sc: sc, helo: sc.Hostname()}
	if st, ok := sc.TLSConnectionState(); ok {
		s.tls = &TLSInfo{
			Version:          st.Version,
			CipherSuite:      st.CipherSuite,
			ServerName:       st.ServerName,
			PeerCertificates: st.PeerCertificates,
		}
	}
	c.log.Debug("session", "helo", s.helo, "tls", s.tls != nil)
	return s, nil
}

// gate refuses every command once the connection is being closed or was
// poisoned by a bare line ending: go-smtp may still have pipelined
// commands buffered.
func (s *session) gate() *smtp.SMTPError {
	switch {
	case s.c.guard.killed.Load():
		return errClosing
	case s.c.guard.bareEOL.Load():
		s.c.guard.closeAfterReply.Store(true)
		return errBareEOL
	}
	return nil
}

func (s *session) ident() *Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.identity
}

// Mail implements smtp.Session.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if err := s.gate(); err != nil {
		return err
	}
	cfg := s.c.s.cfg
	if cfg.RequireTLS && s.tls == nil {
		s.c.log.Info("MAIL before STARTTLS refused")
		return errTLSRequired
	}
	if cfg.Channel == ChannelSubmission {
		id := s.ident()
		if id == nil {
			return errAuthRequired
		}
		if from == "" {
			return errNullSender
		}
		if !fromAllowed(id, from) {
			s.c.log.Warn("MAIL FROM not allowed for user", "user", id.User, "from", from)
			return errSenderNotAllowed
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hasFrom {
		return errNestedMail
	}
	s.hasFrom, s.from, s.rcpts = true, from, nil
	s.body, s.utf8 = "", false
	if opts != nil {
		s.body = strings.ToUpper(string(opts.Body))
		s.utf8 = opts.UTF8
	}
	return nil
}

// Rcpt implements smtp.Session.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.gate(); err != nil {
		return err
	}
	if err := s.checkRcpt(to); err != nil {
		s.c.log.Info("RCPT refused", "rcpt", to, "code", err.Code)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rcpts {
		if strings.EqualFold(r, to) {
			return nil
		}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) checkRcpt(to string) *smtp.SMTPError {
	cfg := s.c.s.cfg
	switch cfg.Channel {
	case ChannelMX:
		// RFC 5321 section 4.5.1: postmaster without a domain must work.
		if strings.EqualFold(to, "postmaster") {
			return nil
		}
		local, dom, ok := splitAddr(to)
		if !ok {
			return errBadRcpt
		}
		// No source routes or %-hack / bang paths: the next hop might
		// relay them.
		if strings.ContainsAny(local, "%!@") && !strings.HasPrefix(local, "\"") {
			return errRelayDenied
		}
		if !s.c.s.domains[dom] {
			return errRelayDenied
		}
	case ChannelJournal:
		if !s.c.s.journal[strings.ToLower(to)] {
			return errRelayDenied
		}
	case ChannelSubmission:
		if s.ident() == nil {
			return errAuthRequired
		}
		if _, _, ok := splitAddr(to); !ok {
			return errBadRcpt
		}
	}
	return nil
}

// Reset implements smtp.Session: it ends the transaction, not the login.
func (s *session) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hasFrom, s.from, s.rcpts, s.body, s.utf8 = false, "", nil, "", false
}

// Logout implements smtp.Session.
func (s *session) Logout() error { return nil }

// envelope snapshots the transaction.
func (s *session) envelope() (Envelope, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	env := Envelope{
		Channel:    s.c.s.cfg.Channel,
		Listener:   s.c.s.cfg.Name,
		SessionID:  s.c.id,
		ClientAddr: s.c.remote,
		LocalAddr:  s.c.local,
		HELO:       s.helo,
		TLS:        s.tls,
		MailFrom:   s.from,
		Recipients: append([]string(nil), s.rcpts...),
		Body:       s.body,
		SMTPUTF8:   s.utf8,
		Received:   s.c.s.now(),
	}
	if s.identity != nil {
		env.AuthUser = s.identity.User
	}
	return env, s.hasFrom && len(s.rcpts) > 0
}

// Data implements smtp.Session: read the whole message, apply the
// gateway's rules, call the Deliverer once, map its reply.
func (s *session) Data(r io.Reader) error {
	env, ok := s.envelope()
	data, rerr := s.readData(r)
	if rerr != nil {
		return rerr
	}
	// The whole message has been read, so the guard has seen every byte of
	// it as sent on the wire.
	if err := s.gate(); err != nil {
		s.c.log.Warn("message refused", "reason", err.Message, "bytes", len(data))
		return err
	}
	if !ok {
		s.c.log.Error("DATA without a complete envelope")
		return errTempFail
	}
	if err := s.checkContent(data, &env); err != nil {
		return err
	}
	switch env.Channel {
	case ChannelSubmission:
		if err := s.checkHeaderFrom(data); err != nil {
			return err
		}
	case ChannelJournal:
		data = s.unwrapJournal(data, &env)
	}
	reply := s.deliver(env, data)
	err, valid := replyError(reply)
	log := s.c.log.With("from", env.MailFrom, "rcpts", len(env.Recipients), "bytes", len(data),
		"code", reply.Code, "flags", uint32(env.Flags))
	switch {
	case !valid:
		log.Error("deliverer returned an invalid reply; answering temporary failure")
	case err == nil:
		log.Info("message accepted")
	default:
		log.Info("message not accepted", "reply", err.Code, "text", reply.Text)
	}
	if err != nil {
		return err
	}
	return nil
}

func (s *session) checkHeaderFrom(data []byte) *smtp.SMTPError {
	id := s.ident()
	if id == nil {
		return errAuthRequired
	}
	froms, err := headerFrom(data)
	if err != nil {
		s.c.log.Info("submission with unusable From header", "err", err)
		return errMalformedHeader
	}
	for _, f := range froms {
		if !fromAllowed(id, f) {
			s.c.log.Warn("header From not allowed for user", "user", id.User, "from", f)
			return errSenderNotAllowed
		}
	}
	return nil
}

// unwrapJournal applies the journal mode: an Exchange report becomes the
// original message with the report's recipients; anything else is kept as
// received with the envelope recipients.
func (s *session) unwrapJournal(data []byte, env *Envelope) []byte {
	env.Journal = &JournalEnvelope{MailFrom: env.MailFrom, Recipients: env.Recipients}
	mode := s.c.s.cfg.JournalMode
	if mode == JournalBCC || (mode == JournalAuto && !IsJournalReport(data)) {
		return data
	}
	rep, err := ParseJournalReport(data)
	if err != nil {
		s.c.log.Warn("journal report not unwrapped; kept as received", "err", err)
		env.Flags |= FlagJournalMalformed
		return data
	}
	env.Journal.Report = rep
	env.Journal.ReportBytes = data
	env.MailFrom = rep.Sender
	if addrs := rep.Addresses(); len(addrs) > 0 {
		env.Recipients = addrs
	}
	// The flags described the report; describe the original instead.
	sc := scanContent(rep.Original)
	env.Flags &^= FlagNUL | Flag8BitWithout8BITMIME | FlagNoHeaderBody
	if sc.nul {
		env.Flags |= FlagNUL
	}
	if sc.headerEnd < 0 {
		env.Flags |= FlagNoHeaderBody
	}
	s.c.log.Info("journal report unwrapped", "message_id", rep.MessageID, "recipients", len(env.Recipients))
	return rep.Original
}

// deliver calls the Deliverer exactly once, with a deadline, and turns a
// panic into a temporary failure.
func (s *session) deliver(env Envelope, data []byte) (r Reply) {
	ctx, cancel := context.WithTimeout(s.c.ctx, s.c.s.cfg.DeliverTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			s.c.log.Error("deliverer panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			r = TempFail()
		}
	}()
	r = s.c.s.deliverer.Deliver(ctx, env, data)
	if r.Code == 250 && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// Connection gone: the reply cannot reach the client anyway.
		s.c.log.Info("message accepted after the connection closed")
	}
	return r
}
