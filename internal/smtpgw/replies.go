package smtpgw

import (
	"strings"

	"github.com/emersion/go-smtp"
)

// Every reply the gateway sends itself. Texts are generic: the reason for
// a refusal may be named, never an internal detail (those go to the log).
// go-smtp sends the text of any non-*smtp.SMTPError verbatim, so session
// methods only ever return these or ones built by replyError.
var (
	errTempFail         = smtpErr(451, 4, 3, 0, "Temporary failure, try again later")
	errClosing          = smtpErr(421, 4, 3, 0, "Service not available, closing connection")
	errTimeout          = smtpErr(421, 4, 4, 2, "Timeout, closing connection")
	errNestedMail       = smtpErr(503, 5, 5, 1, "Sender already specified")
	errTLSRequired      = smtpErr(530, 5, 7, 0, "Must issue a STARTTLS command first")
	errAuthRequired     = smtpErr(530, 5, 7, 0, "Authentication required")
	errSenderNotAllowed = smtpErr(550, 5, 7, 1, "Sender address not allowed")
	errNullSender       = smtpErr(550, 5, 7, 1, "Null sender not allowed")
	errRelayDenied      = smtpErr(550, 5, 7, 1, "Relaying denied")
	errBadRcpt          = smtpErr(501, 5, 1, 3, "Bad recipient address syntax")
	errBareEOL          = smtpErr(554, 5, 6, 0, "Bare CR or LF received, lines must end with CRLF")
	errNUL              = smtpErr(554, 5, 6, 0, "Message contains NUL characters")
	errTooLarge         = smtpErr(552, 5, 3, 4, "Message size exceeds fixed limit")
	errHeaderTooLarge   = smtpErr(552, 5, 3, 4, "Message header exceeds fixed limit")
	errLineTooLong      = smtpErr(554, 5, 6, 0, "Message line too long")
	errMalformedHeader  = smtpErr(554, 5, 6, 0, "Malformed message header")
	errAuthFailed       = smtpErr(535, 5, 7, 8, "Authentication credentials invalid")
	errAuthTemp         = smtpErr(454, 4, 7, 0, "Temporary authentication failure")
	errAuthLocked       = smtpErr(454, 4, 7, 0, "Too many authentication failures, try again later")
	errAuthUnsupported  = smtpErr(502, 5, 7, 0, "Authentication not supported")
	errAuthMechanism    = smtpErr(504, 5, 7, 4, "Unsupported authentication mechanism")
	errAuthSyntax       = smtpErr(501, 5, 5, 2, "Malformed authentication response")
)

func smtpErr(code, a, b, c int, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{a, b, c}, Message: msg}
}

// replyError maps a Deliverer's Reply to what go-smtp sends: nil (250)
// only for Code 250.
func replyError(r Reply) (err *smtp.SMTPError, valid bool) {
	text := publicText(r.Text)
	switch {
	case r.Code == 250:
		return nil, true
	case r.Code >= 400 && r.Code <= 499:
		code := r.Code
		if code != 450 && code != 451 && code != 452 {
			code = 451
		}
		ec := smtp.EnhancedCode(r.Enhanced)
		if ec[0] != 4 || !validEnhanced(ec) {
			ec = smtp.EnhancedCode{4, 3, 0}
		}
		if text == "" {
			text = errTempFail.Message
		}
		return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: text}, true
	case r.Code >= 500 && r.Code <= 599:
		code := r.Code
		if code != 550 && code != 552 && code != 553 && code != 554 {
			code = 554
		}
		ec := smtp.EnhancedCode(r.Enhanced)
		if ec[0] != 5 || !validEnhanced(ec) {
			ec = smtp.EnhancedCode{5, 7, 1}
		}
		if text == "" {
			text = "Message rejected"
		}
		return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: text}, true
	default:
		return errTempFail, false
	}
}

func validEnhanced(ec smtp.EnhancedCode) bool {
	return ec[1] >= 0 && ec[1] <= 999 && ec[2] >= 0 && ec[2] <= 999
}

// publicText reduces a Deliverer's text to one printable ASCII line of at
// most 200 bytes.
func publicText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 200 {
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.TrimSpace(b.String())
}
