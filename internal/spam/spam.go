// Package spam scores messages for spam: a built-in naive Bayes classifier
// (Bayes) and adapters for two external engines, rspamd (Rspamd, HTTP
// /checkv2) and SpamAssassin's spamd (Spamd, the SPAMC/1.5 protocol). All
// three implement Classifier, so the gateway can consult any combination and
// record each engine's verdict.
//
// # Scores
//
// Every engine reports on its own scale, kept as is in Result.Score, with the
// engine's own cut-off in Result.Threshold and its own decision in
// Result.Spam:
//
//	engine      Score                                  Threshold             Spam when
//	bayes       spam probability 0..1 (chi-square      BayesOptions.Threshold  trained enough and Score >= Threshold
//	            combining of token probabilities)      (default 0.995)
//	rspamd      rspamd's score (points)                required_score        action is "reject", "add header" or "rewrite subject"
//	spamassassin SpamAssassin's score (points)         required score (5.0)  spamd says "Spam: True"
//
// The built-in classifier is tuned for few false positives (see Bayes and
// docs/QUALITY.md): an archive must never hide an institution's real mail.
//
// Evaluate measures precision, recall and false-positive rate of any set of
// engines on labelled messages; CorpusFiles lists the shared test corpus.
package spam

import (
	"context"
	"errors"
)

// Classifier scores one raw RFC 5322 message. Implementations are safe for
// concurrent use and honour ctx (deadline and cancellation).
type Classifier interface {
	Score(ctx context.Context, msg []byte, hints Hints) (Result, error)
}

// Result is one engine's verdict on one message.
type Result struct {
	Engine    string   `json:"engine"`            // "bayes", "rspamd", "spamassassin"
	Score     float64  `json:"score"`             // on the engine's own scale (see the package documentation)
	Spam      bool     `json:"spam"`              // the engine's own decision
	Threshold float64  `json:"threshold"`         // the engine's spam cut-off on Score's scale
	Symbols   []string `json:"symbols,omitempty"` // rules or tokens that fired, most significant first (short list)
	TookMS    float64  `json:"took_ms"`           // wall time of the call
}

// Hints carries what the gateway already knows about a message: the results
// of its own authentication and DNSBL checks and the SMTP envelope. The
// built-in classifier turns the check results into tokens ("spf:fail",
// "dkim:pass", "dnsbl:listed"); the rspamd adapter passes the envelope on.
// Every field is optional.
type Hints struct {
	SPF         string // SPF result: "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"
	DKIM        string // DKIM result, same vocabulary
	DMARC       string // DMARC result, same vocabulary
	DNSBLListed bool   // the client IP is listed in a DNSBL the gateway consults
	Envelope    Envelope
}

// Envelope is the SMTP envelope of a message.
type Envelope struct {
	MailFrom string   // reverse path, without angle brackets ("" for the null sender)
	Rcpt     []string // forward paths
	IP       string   // client IP address
	Helo     string   // HELO/EHLO argument
	Hostname string   // client host name as resolved by the gateway ("" if unknown)
	User     string   // authenticated user, if any
}

// Errors shared by the adapters.
var (
	// ErrTooLarge: the message exceeds the adapter's MaxSize and was not sent.
	ErrTooLarge = errors.New("spam: message too large for the engine")
	// ErrProtocol: the engine answered something that is not a valid reply.
	ErrProtocol = errors.New("spam: invalid reply from engine")
)
