package smtpgw

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/netip"
	"time"
)

// Deliverer takes a complete message from a session. It is the only seam
// between the SMTP side and the rest of Resguardo (checks, archive, queue).
//
// Deliver is called at most once per DATA (or BDAT ... LAST) command, after
// the whole message has been read and passed the gateway's own checks. It
// must return Accepted() only when the message is durable: the client is
// told "250" and may then delete its copy. A temporary problem (disk full,
// catalog locked, ctx cancelled) must be reported with TempFail(); a
// verdict to refuse the message with Reject. ctx is cancelled when the
// connection closes or Config.DeliverTimeout passes.
//
// data is owned by the Deliverer after the call; the gateway does not
// modify or reuse it.
type Deliverer interface {
	Deliver(ctx context.Context, env Envelope, data []byte) Reply
}

// DelivererFunc adapts a function to Deliverer.
type DelivererFunc func(ctx context.Context, env Envelope, data []byte) Reply

// Deliver calls f.
func (f DelivererFunc) Deliver(ctx context.Context, env Envelope, data []byte) Reply {
	return f(ctx, env, data)
}

// Authenticator checks submission credentials.
//
// Authenticate returns the user's identity when username and password are
// right. It returns an error matching ErrInvalidCredentials (errors.Is) for
// an unknown user or a wrong password; any other error is treated as a
// temporary failure (454 4.7.0) and does not count towards the lockout.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (Identity, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, username, password string) (Identity, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, username, password string) (Identity, error) {
	return f(ctx, username, password)
}

// ErrInvalidCredentials is returned (possibly wrapped) by an Authenticator
// for a wrong user name or password.
var ErrInvalidCredentials = errors.New("smtpgw: invalid credentials")

// Identity is an authenticated submission user.
type Identity struct {
	// User is the canonical user name, recorded in Envelope.AuthUser.
	User string
	// AllowedFrom lists the addresses the user may use in MAIL FROM and in
	// the From header. An entry "@dominio.gob.mx" allows every address of
	// that domain. Comparison is case-insensitive.
	AllowedFrom []string
}

// Channel names the listener kind a message came through.
type Channel string

// The three SMTP channels.
const (
	ChannelMX         Channel = "mx"
	ChannelSubmission Channel = "submission"
	ChannelJournal    Channel = "journal"
)

// Flags record facts about a message that the gateway accepted but that a
// later check or the archive may want to know. The bytes are never changed.
type Flags uint32

const (
	// FlagNUL: the message contains NUL bytes (kept; see Config.RejectNUL).
	FlagNUL Flags = 1 << iota
	// Flag8BitWithout8BITMIME: bytes >= 0x80 without BODY=8BITMIME or
	// SMTPUTF8 on MAIL FROM (RFC 6152 section 3 violation; accepted).
	Flag8BitWithout8BITMIME
	// FlagJournalMalformed: a journal message that looked like an Exchange
	// journal report but could not be unwrapped; delivered as received.
	FlagJournalMalformed
	// FlagNoHeaderBody: the message has no empty line separating the
	// header from the body.
	FlagNoHeaderBody
)

// Has reports whether all flags in g are set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// TLSInfo describes the TLS connection a message came over.
type TLSInfo struct {
	Version     uint16
	CipherSuite uint16
	ServerName  string
	// PeerCertificates is the client certificate chain, if the client sent
	// one (see tls.Config.ClientAuth); not verified unless the TLS config
	// asks for verification.
	PeerCertificates []*x509.Certificate
}

// VersionName is the TLS version, e.g. "TLS 1.3".
func (t TLSInfo) VersionName() string { return tls.VersionName(t.Version) }

// CipherSuiteName is the IANA name of the cipher suite.
func (t TLSInfo) CipherSuiteName() string { return tls.CipherSuiteName(t.CipherSuite) }

// Envelope is what the gateway knows about a message besides its bytes.
type Envelope struct {
	Channel  Channel
	Listener string // Config.Name
	// SessionID identifies the connection in logs.
	SessionID  string
	ClientAddr netip.AddrPort
	LocalAddr  netip.AddrPort
	HELO       string
	TLS        *TLSInfo // nil for a plaintext session
	MailFrom   string   // "" for the null reverse-path <>
	// Recipients are the envelope recipients. For an unwrapped Exchange
	// journal report they are the original message's real recipients
	// (Bcc included) and the journal's own envelope is in Journal.
	Recipients []string
	// Body is the BODY= parameter of MAIL FROM ("7BIT", "8BITMIME" or "").
	Body     string
	SMTPUTF8 bool
	AuthUser string // submission: Identity.User; "" otherwise
	Received time.Time
	Flags    Flags
	Journal  *JournalEnvelope // journal channel only
}

// JournalEnvelope tells how a journal message was received.
type JournalEnvelope struct {
	// Report is the parsed Exchange envelope journal report, or nil for
	// plain BCC journaling (Postfix always_bcc and the like), in which case
	// the data is the message as received.
	Report *JournalReport
	// ReportBytes is the journal report exactly as received (only set with
	// Report). The data given to Deliver is the unwrapped original.
	ReportBytes []byte
	// MailFrom and Recipients are the envelope of the journal transaction
	// itself (the journaling server and the journal address).
	MailFrom   string
	Recipients []string
}

// Reply is a Deliverer's answer.
//
// Only Code 250 makes the gateway answer 250. A 4xx code answers 451 4.3.0
// unless Enhanced is a 4.x.x code; a 5xx code answers 550 or 554 with the
// given enhanced code (5.7.1 when missing). Any other code is treated as a
// temporary failure. Text is sent to the client: it must be public and
// generic (e.g. "Message rejected as spam"); it is reduced to printable
// ASCII, one line, 200 bytes. Empty Text gets a generic text.
type Reply struct {
	Code     int
	Enhanced [3]int
	Text     string
}

// Accepted is the reply for a message that is durable.
func Accepted() Reply { return Reply{Code: 250, Enhanced: [3]int{2, 0, 0}} }

// TempFail is the reply for a temporary failure (451 4.3.0).
func TempFail() Reply { return Reply{Code: 451, Enhanced: [3]int{4, 3, 0}} }

// Reject is the reply for a verdict that refuses the message, e.g.
// Reject(550, [3]int{5, 7, 1}, "Message rejected by policy").
func Reject(code int, enhanced [3]int, text string) Reply {
	return Reply{Code: code, Enhanced: enhanced, Text: text}
}
