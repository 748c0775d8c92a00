package intake

import (
	"encoding/json"
	"time"

	"github.com/resguardo/resguardo/internal/smtpgw"
)

// EnvelopeFormat identifies the reception envelope document.
const EnvelopeFormat = "resguardo-envelope/1"

// Envelope is the reception envelope stored with each arrival
// (archive.Item.Envelope). Its field names are part of the record format:
// add fields, never rename them.
type Envelope struct {
	Format     string        `json:"format"`
	Channel    string        `json:"channel"`
	Listener   string        `json:"listener,omitempty"`
	Session    string        `json:"session,omitempty"`
	ClientIP   string        `json:"client_ip,omitempty"`
	ClientPort uint16        `json:"client_port,omitempty"`
	LocalAddr  string        `json:"local_addr,omitempty"`
	HELO       string        `json:"helo,omitempty"`
	TLS        *TLSFacts     `json:"tls,omitempty"`
	MailFrom   string        `json:"mail_from"` // "" for the null reverse-path
	RcptTo     []string      `json:"rcpt_to"`
	Body       string        `json:"body,omitempty"` // BODY= of MAIL FROM
	SMTPUTF8   bool          `json:"smtputf8,omitempty"`
	AuthUser   string        `json:"auth_user,omitempty"`
	ReceivedAt time.Time     `json:"received_at"`
	Flags      []string      `json:"flags,omitempty"`
	Journal    *Journal      `json:"journal,omitempty"`
	Verdict    Verdict       `json:"verdict"`
	Checks     []CheckRecord `json:"checks"`
	// AuthenticationResults is the RFC 8601 field for the relayed copy (the
	// archived bytes never carry it).
	AuthenticationResults string `json:"authentication_results,omitempty"`
}

// TLSFacts describe the client's TLS connection.
type TLSFacts struct {
	Version    string `json:"version"`
	Cipher     string `json:"cipher"`
	ServerName string `json:"server_name,omitempty"`
}

// Journal is how a journaled message arrived.
type Journal struct {
	// Kind is "exchange" (an unwrapped envelope journal report) or "bcc".
	Kind string `json:"kind"`
	// MailFrom and RcptTo are the journal transaction's own envelope (the
	// journaling server and the journal address).
	MailFrom string   `json:"mail_from"`
	RcptTo   []string `json:"rcpt_to"`
	// Report is the Exchange report's envelope (Exchange only).
	Report *JournalReport `json:"report,omitempty"`
	// ReportSHA256 is the hash of the report as received (Exchange only);
	// the archived bytes are the original message it carried.
	ReportSHA256 string `json:"report_sha256,omitempty"`
}

// JournalReport is the envelope an Exchange journal report listed.
type JournalReport struct {
	Sender     string             `json:"sender"`
	OnBehalfOf string             `json:"on_behalf_of,omitempty"`
	Subject    string             `json:"subject,omitempty"`
	MessageID  string             `json:"message_id,omitempty"`
	Recipients []JournalRecipient `json:"recipients"`
}

type JournalRecipient struct {
	Address   string `json:"address"`
	Field     string `json:"field"`
	Expanded  string `json:"expanded,omitempty"`
	Forwarded string `json:"forwarded,omitempty"`
}

// CheckRecord is one check's outcome as kept in the record.
type CheckRecord struct {
	Name     string          `json:"name"`
	Findings []Reason        `json:"findings,omitempty"`
	Error    string          `json:"error,omitempty"`
	Detail   json.RawMessage `json:"detail,omitempty"`
}

var flagNames = []struct {
	f    smtpgw.Flags
	name string
}{
	{smtpgw.FlagNUL, "nul"},
	{smtpgw.Flag8BitWithout8BITMIME, "8bit_without_8bitmime"},
	{smtpgw.FlagJournalMalformed, "journal_malformed"},
	{smtpgw.FlagNoHeaderBody, "no_header_body"},
}

// envelopeOf builds the reception envelope of env (verdict and checks are
// filled by the caller).
func envelopeOf(env smtpgw.Envelope) Envelope {
	e := Envelope{
		Format: EnvelopeFormat, Channel: string(env.Channel), Listener: env.Listener, Session: env.SessionID,
		HELO: env.HELO, MailFrom: env.MailFrom, RcptTo: append([]string{}, env.Recipients...), Body: env.Body,
		SMTPUTF8: env.SMTPUTF8, AuthUser: env.AuthUser, ReceivedAt: env.Received.UTC(), Checks: []CheckRecord{},
	}
	if env.ClientAddr.IsValid() {
		e.ClientIP = env.ClientAddr.Addr().Unmap().String()
		e.ClientPort = env.ClientAddr.Port()
	}
	if env.LocalAddr.IsValid() {
		e.LocalAddr = env.LocalAddr.String()
	}
	if env.TLS != nil {
		e.TLS = &TLSFacts{Version: env.TLS.VersionName(), Cipher: env.TLS.CipherSuiteName(), ServerName: env.TLS.ServerName}
	}
	for _, f := range flagNames {
		if env.Flags.Has(f.f) {
			e.Flags = append(e.Flags, f.name)
		}
	}
	if j := env.Journal; j != nil {
		e.Journal = &Journal{Kind: "bcc", MailFrom: j.MailFrom, RcptTo: append([]string{}, j.Recipients...)}
		if r := j.Report; r != nil {
			e.Journal.Kind = "exchange"
			e.Journal.ReportSHA256 = sha256Hex(j.ReportBytes)
			jr := &JournalReport{Sender: r.Sender, OnBehalfOf: r.OnBehalfOf, Subject: r.Subject, MessageID: r.MessageID,
				Recipients: []JournalRecipient{}}
			for _, rc := range r.Recipients {
				jr.Recipients = append(jr.Recipients, JournalRecipient{rc.Address, rc.Field, rc.Expanded, rc.Forwarded})
			}
			e.Journal.Report = jr
		}
	}
	return e
}
