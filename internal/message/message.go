package message

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits bound the work Parse does on one message. Zero (or negative) fields
// mean the default.
type Limits struct {
	MaxHeaderBytes  int // bytes of one header section (default 1 MiB)
	MaxHeaderFields int // fields in one header section (default 5000)
	MaxDepth        int // multipart / message/rfc822 nesting (default 32, at most 256)
	MaxParts        int // total MIME entities, containers included (default 5000)
}

// maxDepthCeiling keeps recursion far from the goroutine stack limit whatever
// Limits say.
const maxDepthCeiling = 256

// maxPerCode bounds the defects kept per code; identical ones count once.
const maxPerCode = 10

// DefaultLimits returns the limits used for zero fields of a Limits.
func DefaultLimits() Limits {
	return Limits{MaxHeaderBytes: 1 << 20, MaxHeaderFields: 5000, MaxDepth: 32, MaxParts: 5000}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxHeaderFields <= 0 {
		l.MaxHeaderFields = d.MaxHeaderFields
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	l.MaxDepth = min(l.MaxDepth, maxDepthCeiling)
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	return l
}

// Address is one mailbox of an address field.
type Address struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address"` // addr-spec as written (local part case kept, domain lowercased); "" if unparseable, then Name holds the raw text
}

// Part is one leaf of the MIME tree (and each message/rfc822 entity, which is
// also listed before the parts inside it).
type Part struct {
	Path        string `json:"path"`                  // IMAP part number (RFC 3501 section 6.4.5); the body of a single-part message is "1"
	ContentType string `json:"content_type"`          // lowercased media type; text/plain by default (message/rfc822 inside multipart/digest)
	Charset     string `json:"charset,omitempty"`     // lowercased charset parameter as written; "" when absent
	Disposition string `json:"disposition,omitempty"` // "attachment" | "inline" | ""
	Filename    string `json:"filename,omitempty"`    // decoded UTF-8: Content-Disposition filename, else Content-Type name
	ContentID   string `json:"content_id,omitempty"`  // without angle brackets
	Encoding    string `json:"encoding,omitempty"`    // Content-Transfer-Encoding, lowercased; "" when absent
	Size        int64  `json:"size"`                  // size of the decoded content
	SHA256      string `json:"sha256"`                // hex SHA-256 of the decoded content
	Attachment  bool   `json:"-"`                     // a file rather than body text (see Message.Attachments)
	BodyOffset  int64  `json:"-"`                     // offset of the encoded body in the raw message
	BodyLength  int64  `json:"-"`                     // length of the encoded body in the raw message
}

// Defect is one departure from the RFCs found while parsing. Codes are listed
// in the package documentation and are stable.
type Defect struct {
	Code   string `json:"code"`
	Part   string `json:"part,omitempty"`   // part path where it happened, "" for the top-level header
	Detail string `json:"detail,omitempty"` // short English detail, never message body bytes
}

// Message is the metadata of one parsed message.
type Message struct {
	MessageID  string    `json:"message_id,omitempty"` // without angle brackets
	Date       time.Time `json:"-"`                    // zero if missing or unparseable; JSON "date" in RFC 3339
	DateRaw    string    `json:"date_raw,omitempty"`   // the Date field as written (unfolded, trimmed)
	From       []Address `json:"from,omitempty"`
	Sender     []Address `json:"sender,omitempty"`
	ReplyTo    []Address `json:"reply_to,omitempty"`
	To         []Address `json:"to,omitempty"`
	Cc         []Address `json:"cc,omitempty"`
	Bcc        []Address `json:"bcc,omitempty"`
	Subject    string    `json:"subject,omitempty"` // RFC 2047 decoded to UTF-8
	InReplyTo  []string  `json:"in_reply_to,omitempty"`
	References []string  `json:"references,omitempty"`
	Size       int64     `json:"size"`
	Parts      []Part    `json:"parts"` // every leaf in order, body text included
	Defects    []Defect  `json:"defects,omitempty"`
}

// messageJSON adds the RFC 3339 date to Message's own fields.
type messageJSON struct {
	*plainMessage
	Date string `json:"date,omitempty"`
}

type plainMessage Message

// MarshalJSON writes Message with "date" in RFC 3339 (with the original
// offset), omitted when Date is zero.
func (m Message) MarshalJSON() ([]byte, error) {
	v := messageJSON{plainMessage: (*plainMessage)(&m)}
	if !m.Date.IsZero() {
		v.Date = m.Date.Format(time.RFC3339)
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *Message) UnmarshalJSON(b []byte) error {
	v := messageJSON{plainMessage: (*plainMessage)(m)}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode message metadata: %w", err)
	}
	m.Date = time.Time{}
	if v.Date != "" {
		t, err := time.Parse(time.RFC3339, v.Date)
		if err != nil {
			return fmt.Errorf("decode message date: %w", err)
		}
		m.Date = t
	}
	return nil
}

// Attachments returns the parts that are files rather than body text.
func (m *Message) Attachments() []Part {
	var out []Part
	for _, p := range m.Parts {
		if p.Attachment {
			out = append(out, p)
		}
	}
	return out
}

// Malformed reports whether Parse found any defect.
func (m *Message) Malformed() bool { return len(m.Defects) > 0 }

// parser holds the state of one Parse call.
type parser struct {
	raw     []byte
	lim     Limits
	msg     *Message
	fields  []hfield // header fields of the entity being read
	params  []param  // scratch for splitParams
	nparts  int
	stopped bool // parts limit reached
	sink    sink
	words   mime.WordDecoder
	addrs   mail.AddressParser
}

// Parse reads the metadata and MIME structure of raw, an RFC 5322 message.
// It never returns nil and never panics: whatever raw holds, what could be
// understood is returned and everything else is listed in Defects. Parse
// keeps no state between calls and may run concurrently; raw is not modified
// or retained.
func Parse(raw []byte, lim Limits) (m *Message) {
	m = &Message{Size: int64(len(raw))}
	p := &parser{raw: raw, lim: lim.withDefaults(), msg: m, fields: make([]hfield, 0, 64)}
	p.sink.h = sha256.New()
	p.words.CharsetReader = charsetReader
	p.addrs.WordDecoder = &p.words
	defer func() {
		// Parse must not take the importer down with it; a panic here is a
		// bug, surfaced as a defect (and made a failure by the fuzz test).
		if r := recover(); r != nil {
			m.Defects = append(m.Defects, Defect{Code: DefectInternal, Detail: fmt.Sprint("recovered: ", r)})
		}
	}()
	if bytes.IndexByte(raw, 0) >= 0 {
		p.defect(DefectNULByte, "", "")
	}
	p.entity(entityCtx{start: 0, end: len(raw), prefix: "", leaf: "1", top: true, message: true, defType: "text/plain"})
	return m
}

// defect records a defect once (same code, part and detail). At most
// maxPerCode defects of one code are kept, so that a flood of one kind (a
// thousand unterminated multiparts) cannot hide the others; the first one
// dropped is noted as too-many-defects with the code as detail.
func (p *parser) defect(code, part, detail string) {
	if len(detail) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(detail[cut]) {
			cut--
		}
		detail = detail[:cut]
	}
	n := 0
	for _, d := range p.msg.Defects {
		if d.Code == code {
			if d.Part == part && d.Detail == detail {
				return
			}
			n++
		}
	}
	if n >= maxPerCode {
		if code != DefectTooManyDefects {
			p.defect(DefectTooManyDefects, "", code)
		}
		return
	}
	p.msg.Defects = append(p.msg.Defects, Defect{Code: code, Part: part, Detail: detail})
}

// messageFields fills the top-level Message fields from p.fields.
func (p *parser) messageFields() {
	m := p.msg
	var seen [numFieldIDs]bool
	var first [numFieldIDs][]byte
	for _, f := range p.fields {
		id := f.id
		switch id {
		case fOther, fContentType, fContentTransferEncoding, fContentDisposition, fContentID:
			continue
		}
		v := p.raw[f.vStart:f.vEnd]
		if seen[id] {
			// RFC 5322 section 3.6: each of these may occur at most once.
			// An exact repetition (some list servers add one) is harmless.
			if !bytes.Equal(unfold(first[id]), unfold(v)) {
				p.defect(DefectDuplicateField, "", id.String())
			}
			continue
		}
		seen[id], first[id] = true, v
		switch id {
		case fFrom:
			m.From = p.addressList(id, v)
		case fSender:
			m.Sender = p.addressList(id, v)
		case fReplyTo:
			m.ReplyTo = p.addressList(id, v)
		case fTo:
			m.To = p.addressList(id, v)
		case fCc:
			m.Cc = p.addressList(id, v)
		case fBcc:
			m.Bcc = p.addressList(id, v)
		case fSubject:
			m.Subject = p.decodeWords(text(v), "")
		case fDate:
			m.DateRaw = text(v)
			if t, ok := parseDate(m.DateRaw); ok {
				m.Date = t
			} else {
				p.defect(DefectBadDate, "", "")
			}
		case fMessageID:
			if ids := msgIDs(text(v)); len(ids) > 0 {
				m.MessageID = ids[0]
			}
		case fInReplyTo:
			m.InReplyTo = msgIDs(text(v))
		case fReferences:
			m.References = msgIDs(text(v))
		}
	}
	if !seen[fFrom] || len(m.From) == 0 {
		p.defect(DefectMissingFrom, "", "")
	}
	if !seen[fDate] {
		p.defect(DefectMissingDate, "", "")
	}
}

// msgIDs returns the msg-ids of a Message-ID, In-Reply-To or References
// field without angle brackets (RFC 5322 section 3.6.4). Without any <...>,
// words holding '@' are taken as written; a bare Message-ID is kept whole.
func msgIDs(s string) []string {
	var out []string
	rest := s
	for {
		lt := strings.IndexByte(rest, '<')
		if lt < 0 {
			break
		}
		gt := strings.IndexByte(rest[lt:], '>')
		if gt < 0 {
			if id := trimID(rest[lt+1:]); id != "" {
				out = append(out, id)
			}
			break
		}
		if id := trimID(rest[lt+1 : lt+gt]); id != "" {
			out = append(out, id)
		}
		rest = rest[lt+gt+1:]
	}
	if out != nil || s == "" || strings.IndexByte(s, '<') >= 0 {
		return out
	}
	for w := range strings.FieldsSeq(s) {
		if strings.IndexByte(w, '@') >= 0 {
			out = append(out, w)
		}
	}
	if out == nil {
		out = []string{s}
	}
	return out
}

func trimID(s string) string { return strings.TrimSpace(s) }
