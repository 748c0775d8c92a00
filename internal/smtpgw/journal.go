package smtpgw

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
)

// JournalMode says how the journal listener treats what it receives.
type JournalMode string

const (
	// JournalAuto unwraps a message carrying the X-MS-Journal-Report header
	// and keeps anything else as plain BCC journaling. Use it only when
	// the listener's clients cannot pass through outside mail unchanged:
	// with Postfix always_bcc, an outsider could send a forged "report".
	JournalAuto JournalMode = ""
	// JournalExchange treats every message as an Exchange envelope journal
	// report (a message that is not one is kept as received and flagged
	// FlagJournalMalformed).
	JournalExchange JournalMode = "exchange"
	// JournalBCC never unwraps (Postfix always_bcc, sender_bcc_maps, ...).
	JournalBCC JournalMode = "bcc"
)

// ErrNotJournalReport: the message is not an Exchange journal report.
var ErrNotJournalReport = errors.New("smtpgw: not a journal report")

// ErrMalformedJournalReport: the message claims to be an Exchange journal
// report but cannot be unwrapped.
var ErrMalformedJournalReport = errors.New("smtpgw: malformed journal report")

// JournalReport is a parsed Microsoft Exchange envelope journal report
// (Exchange 2007 and later, Exchange Online): a message whose first part is
// text listing the original envelope and whose message/rfc822 part is the
// original message.
type JournalReport struct {
	Sender     string
	OnBehalfOf string
	Subject    string
	MessageID  string
	Recipients []JournalRecipient
	// Original is the attached original message, exactly as attached
	// (after undoing a base64 or quoted-printable transfer encoding).
	Original []byte
}

// JournalRecipient is one recipient line of a journal report, e.g.
// "To: ana@dominio.gob.mx, Expanded: direccion@dominio.gob.mx".
type JournalRecipient struct {
	Address string
	// Field is the report field: "To", "Cc", "Bcc" or "Recipient"
	// (Exchange 2003 style, kind unknown).
	Field string
	// Expanded is the distribution group whose expansion reached Address.
	Expanded string
	// Forwarded is the original recipient whose mail was forwarded to
	// Address.
	Forwarded string
}

// Addresses returns the distinct recipient addresses, in report order.
func (r *JournalReport) Addresses() []string {
	seen := map[string]bool{}
	var out []string
	for _, rc := range r.Recipients {
		k := strings.ToLower(rc.Address)
		if rc.Address == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, rc.Address)
	}
	return out
}

const (
	maxJournalParts = 64
	// maxJournalLine bounds one line of the envelope text part.
	maxJournalLine = 64 << 10
)

// IsJournalReport reports whether data's header carries Exchange's
// X-MS-Journal-Report field.
func IsJournalReport(data []byte) bool {
	h, _, err := splitHeader(data)
	if err != nil {
		return false
	}
	_, ok := h["X-Ms-Journal-Report"]
	return ok
}

// ParseJournalReport unwraps an Exchange envelope journal report. It
// returns an error matching ErrNotJournalReport when data is not
// multipart with an envelope text part, and ErrMalformedJournalReport when
// it looks like one but the envelope or the original message is missing.
func ParseJournalReport(data []byte) (*JournalReport, error) {
	h, body, err := splitHeader(data)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrNotJournalReport, err)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil, fmt.Errorf("%w: content type %q", ErrNotJournalReport, h.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	rep := &JournalReport{}
	var envelope []byte
	haveEnvelope, haveOriginal := false, false
	for i := 0; i < maxJournalParts && !(haveEnvelope && haveOriginal); i++ {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !haveEnvelope {
				return nil, fmt.Errorf("%w: part %d: %v", ErrNotJournalReport, i, err)
			}
			return nil, fmt.Errorf("%w: part %d: %v", ErrMalformedJournalReport, i, err)
		}
		pt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			pt = "text/plain" // RFC 2045 section 5.2 default
		}
		switch {
		case !haveEnvelope && pt == "text/plain":
			envelope, err = decodePart(p)
			if err != nil {
				return nil, fmt.Errorf("%w: envelope part: %v", ErrNotJournalReport, err)
			}
			haveEnvelope = true
		case haveEnvelope && pt == "message/rfc822":
			rep.Original, err = decodePart(p)
			if err != nil {
				return nil, fmt.Errorf("%w: original part: %v", ErrMalformedJournalReport, err)
			}
			haveOriginal = true
		}
	}
	if !haveEnvelope {
		return nil, fmt.Errorf("%w: no envelope text part", ErrNotJournalReport)
	}
	if err := rep.parseEnvelope(envelope); err != nil {
		return nil, err
	}
	if !haveOriginal || len(rep.Original) == 0 {
		return nil, fmt.Errorf("%w: no message/rfc822 part", ErrMalformedJournalReport)
	}
	return rep, nil
}

// parseEnvelope reads the "Field: value" lines of the envelope part.
func (r *JournalReport) parseEnvelope(text []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), maxJournalLine)
	sawSender := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		switch key {
		case "sender":
			r.Sender = trimAngle(val)
			sawSender = true
		case "on-behalf-of":
			r.OnBehalfOf = trimAngle(val)
		case "subject":
			r.Subject = val
		case "message-id":
			r.MessageID = val
		case "to", "cc", "bcc", "recipient":
			if rc, ok := parseJournalRecipient(key, val); ok {
				r.Recipients = append(r.Recipients, rc)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: envelope: %v", ErrMalformedJournalReport, err)
	}
	if !sawSender {
		return fmt.Errorf("%w: envelope has no Sender line", ErrNotJournalReport)
	}
	return nil
}

func parseJournalRecipient(key, val string) (JournalRecipient, bool) {
	fields := map[string]string{"to": "To", "cc": "Cc", "bcc": "Bcc", "recipient": "Recipient"}
	rc := JournalRecipient{Field: fields[key]}
	for i, item := range strings.Split(val, ",") {
		item = strings.TrimSpace(item)
		if i == 0 {
			rc.Address = trimAngle(item)
			continue
		}
		k, v, ok := strings.Cut(item, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "expanded":
			rc.Expanded = trimAngle(strings.TrimSpace(v))
		case "forwarded":
			rc.Forwarded = trimAngle(strings.TrimSpace(v))
		}
	}
	if _, _, ok := splitAddr(rc.Address); !ok || strings.ContainsAny(rc.Address, " \t<>") {
		return rc, false
	}
	return rc, true
}

func trimAngle(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = s[1 : len(s)-1]
	}
	return s
}

// decodePart returns a raw part's body with its transfer encoding undone;
// 7bit, 8bit and binary bodies are returned byte for byte.
func decodePart(p *multipart.Part) ([]byte, error) {
	var r io.Reader = p
	switch strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &stripSpace{r: p})
	case "quoted-printable":
		r = quotedprintable.NewReader(p)
	}
	return io.ReadAll(r)
}

// stripSpace drops CR, LF, space and tab (base64 line breaks).
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, b := range p[:n] {
			if b != '\r' && b != '\n' && b != ' ' && b != '\t' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// splitHeader parses the header section (CRLF or LF line endings) and
// returns it and the body.
func splitHeader(data []byte) (textproto.MIMEHeader, []byte, error) {
	end, sep := len(data), 0
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		end, sep = i, 4
	}
	if i := bytes.Index(data[:end], []byte("\n\n")); i >= 0 {
		end, sep = i, 2
	}
	hdr := make([]byte, 0, end+4)
	hdr = append(hdr, data[:end]...)
	hdr = append(hdr, "\r\n\r\n"...)
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(hdr))).ReadMIMEHeader()
	if err != nil {
		return nil, nil, err
	}
	return h, data[min(end+sep, len(data)):], nil
}
