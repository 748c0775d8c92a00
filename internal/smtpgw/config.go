package smtpgw

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Config configures one listener. Zero fields take the defaults of
// DefaultConfig for the channel.
type Config struct {
	// Name identifies the listener in logs and in Envelope.Listener
	// (e.g. "mx", "submission-465").
	Name    string
	Channel Channel
	// Addr is the TCP address to listen on (":25", ":587", ":465", ...).
	Addr string
	// Hostname is announced in the greeting and in EHLO.
	Hostname string

	// TLS, when set, enables STARTTLS (or implicit TLS with ImplicitTLS).
	// AUTH is only offered and accepted over TLS.
	TLS *tls.Config
	// ImplicitTLS makes the listener speak TLS from the first byte
	// (submissions, port 465, RFC 8314). Requires TLS.
	ImplicitTLS bool
	// RequireTLS refuses MAIL FROM before STARTTLS with 530 5.7.0. Always
	// on for the submission channel; off by default for MX (RFC 3207
	// section 4: a publicly-referenced server must not require TLS).
	RequireTLS bool

	// MaxMessageBytes is advertised with SIZE and enforced while reading
	// DATA/BDAT (552 5.3.4).
	MaxMessageBytes int64
	// MaxRecipients per transaction (452 4.5.3 beyond it).
	MaxRecipients int
	// MaxLineLength bounds every command line and every line of message
	// data, CRLF included. A longer line ends the session (500 5.4.0 on a
	// command, 554 5.6.0 in DATA).
	MaxLineLength int
	// MaxHeaderBytes bounds the message header section (552 5.3.4).
	MaxHeaderBytes int

	// MaxConns is the limit on concurrent connections to the listener;
	// MaxConnsPerIP the limit per client address (per /64 for IPv6).
	// Beyond them a client gets 421 4.7.0 and is disconnected.
	MaxConns      int
	MaxConnsPerIP int
	// AllowedClients, when not empty, is the list of networks that may
	// connect (journal: the Exchange or Postfix servers). Others get
	// 554 5.7.1 and are disconnected.
	AllowedClients []netip.Prefix

	// ReadTimeout is how long the server waits for a command line or for
	// the next KiB of message data; WriteTimeout for a reply write.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// DataTimeout bounds the whole transfer of one message.
	DataTimeout time.Duration
	// SessionTimeout bounds a whole connection.
	SessionTimeout time.Duration
	// DeliverTimeout bounds one Deliverer.Deliver call (through its ctx).
	DeliverTimeout time.Duration

	// MaxCommands is the number of replies (commands) a session may get
	// before 421 4.7.0 and disconnect; MaxErrors the number of 4xx/5xx
	// replies.
	MaxCommands int
	MaxErrors   int

	// Domains are the institution's domains. MX accepts RCPT TO only for
	// addresses in these domains (and the bare "postmaster"); anything
	// else is 550 5.7.1 relaying denied.
	Domains []string
	// JournalAddresses are the addresses the journal listener accepts
	// RCPT TO for.
	JournalAddresses []string
	// JournalMode: JournalAuto (default), JournalExchange or JournalBCC.
	JournalMode JournalMode

	// DisableSMTPUTF8 stops advertising SMTPUTF8 (RFC 6531), on by default.
	DisableSMTPUTF8 bool
	// RejectNUL answers 554 5.6.0 to a message that contains NUL bytes.
	// By default such a message is accepted and flagged FlagNUL, because
	// the archive keeps bytes exactly and the checks decide.
	RejectNUL bool

	// AuthLimits: submission AUTH failure lockout.
	AuthMaxFailures int           // failures within AuthWindow before lockout (default 5)
	AuthWindow      time.Duration // default 15m
	AuthLockout     time.Duration // default 15m
}

// DefaultConfig returns the defaults for a channel; for submission with
// implicit TLS call it and set ImplicitTLS and Addr ":465".
func DefaultConfig(ch Channel) Config {
	c := Config{
		Name:            string(ch),
		Channel:         ch,
		Hostname:        "localhost",
		MaxMessageBytes: 50 << 20,
		MaxRecipients:   100,
		MaxLineLength:   8192,
		MaxHeaderBytes:  1 << 20,
		MaxConns:        500,
		MaxConnsPerIP:   20,
		ReadTimeout:     5 * time.Minute,
		WriteTimeout:    5 * time.Minute,
		DataTimeout:     10 * time.Minute,
		SessionTimeout:  30 * time.Minute,
		DeliverTimeout:  2 * time.Minute,
		MaxCommands:     2000,
		MaxErrors:       10,
		AuthMaxFailures: 5,
		AuthWindow:      15 * time.Minute,
		AuthLockout:     15 * time.Minute,
	}
	switch ch {
	case ChannelMX:
		c.Addr = ":25"
	case ChannelSubmission:
		c.Addr = ":587"
		c.RequireTLS = true
		c.MaxConnsPerIP = 10
	case ChannelJournal:
		c.Addr = ":2525"
		c.MaxRecipients = 10
		c.MaxConnsPerIP = 50
	}
	return c
}

// withDefaults fills zero fields from DefaultConfig(c.Channel).
func (c Config) withDefaults() Config {
	d := DefaultConfig(c.Channel)
	if c.Name == "" {
		c.Name = d.Name
	}
	if c.Addr == "" {
		c.Addr = d.Addr
		if c.ImplicitTLS {
			c.Addr = ":465"
		}
	}
	if c.Hostname == "" {
		c.Hostname = d.Hostname
	}
	setInt64(&c.MaxMessageBytes, d.MaxMessageBytes)
	setInt(&c.MaxRecipients, d.MaxRecipients)
	setInt(&c.MaxLineLength, d.MaxLineLength)
	setInt(&c.MaxHeaderBytes, d.MaxHeaderBytes)
	setInt(&c.MaxConns, d.MaxConns)
	setInt(&c.MaxConnsPerIP, d.MaxConnsPerIP)
	setDur(&c.ReadTimeout, d.ReadTimeout)
	setDur(&c.WriteTimeout, d.WriteTimeout)
	setDur(&c.DataTimeout, d.DataTimeout)
	setDur(&c.SessionTimeout, d.SessionTimeout)
	setDur(&c.DeliverTimeout, d.DeliverTimeout)
	setInt(&c.MaxCommands, d.MaxCommands)
	setInt(&c.MaxErrors, d.MaxErrors)
	setInt(&c.AuthMaxFailures, d.AuthMaxFailures)
	setDur(&c.AuthWindow, d.AuthWindow)
	setDur(&c.AuthLockout, d.AuthLockout)
	if c.Channel == ChannelSubmission {
		c.RequireTLS = true
	}
	return c
}

func setInt(p *int, d int) {
	if *p <= 0 {
		*p = d
	}
}

func setInt64(p *int64, d int64) {
	if *p <= 0 {
		*p = d
	}
}

func setDur(p *time.Duration, d time.Duration) {
	if *p <= 0 {
		*p = d
	}
}

// Validate reports every problem in c (after defaults), joined.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	switch c.Channel {
	case ChannelMX:
		if len(c.Domains) == 0 {
			errs = append(errs, errors.New("mx: no accepted domains (would refuse all mail)"))
		}
	case ChannelSubmission:
		if c.TLS == nil {
			errs = append(errs, errors.New("submission: a TLS certificate is required (AUTH needs TLS)"))
		}
	case ChannelJournal:
		if len(c.JournalAddresses) == 0 {
			errs = append(errs, errors.New("journal: no journal address"))
		}
		switch c.JournalMode {
		case JournalAuto, JournalExchange, JournalBCC:
		default:
			errs = append(errs, fmt.Errorf("journal: unknown mode %q", c.JournalMode))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown channel %q", c.Channel))
	}
	if c.ImplicitTLS && c.TLS == nil {
		errs = append(errs, fmt.Errorf("%s: implicit TLS without a TLS config", c.Name))
	}
	if c.RequireTLS && c.TLS == nil {
		errs = append(errs, fmt.Errorf("%s: TLS required but no TLS config", c.Name))
	}
	for _, d := range c.Domains {
		if d == "" || strings.ContainsAny(d, "@ \t") {
			errs = append(errs, fmt.Errorf("%s: bad domain %q", c.Name, d))
		}
	}
	for _, a := range c.JournalAddresses {
		if _, dom, ok := splitAddr(a); !ok || dom == "" {
			errs = append(errs, fmt.Errorf("%s: bad journal address %q", c.Name, a))
		}
	}
	if c.MaxMessageBytes < 1024 {
		errs = append(errs, fmt.Errorf("%s: max message size %d is too small", c.Name, c.MaxMessageBytes))
	}
	if c.MaxLineLength < 1000 {
		errs = append(errs, fmt.Errorf("%s: max line length %d is below RFC 5321's 1000", c.Name, c.MaxLineLength))
	}
	return errors.Join(errs...)
}

// splitAddr splits local@domain at the last '@' and lowercases the domain.
func splitAddr(a string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(a, '@')
	if i <= 0 || i == len(a)-1 {
		return a, "", false
	}
	return a[:i], strings.ToLower(strings.TrimSuffix(a[i+1:], ".")), true
}
