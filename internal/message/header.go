package message

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// lineScanner walks lines ending in CRLF, LF or a bare CR (all three occur in
// real archives). It remembers the next LF and CR it found so that a file
// using only one kind of line break is still scanned in linear time.
type lineScanner struct {
	b      []byte
	pos    int
	lf, cr int // next LF at or after pos (len(b) if none); next CR before lf (lf if none)
}

func newLineScanner(b []byte, pos int) lineScanner {
	return lineScanner{b: b, pos: pos, lf: -1, cr: -1}
}

// next returns the line at pos as b[start:end] (without its break) and the
// offset of the following line, and advances past it. Call only while
// pos < len(b).
func (s *lineScanner) next() (start, end, next int) {
	b, pos := s.b, s.pos
	if s.lf < pos {
		if j := bytes.IndexByte(b[pos:], '\n'); j >= 0 {
			s.lf = pos + j
		} else {
			s.lf = len(b)
		}
		s.cr = -1
	}
	if s.cr < pos {
		if j := bytes.IndexByte(b[pos:s.lf], '\r'); j >= 0 {
			s.cr = pos + j
		} else {
			s.cr = s.lf
		}
	}
	start = pos
	switch {
	case s.cr+1 == s.lf && s.lf < len(b): // CRLF
		end, next = s.cr, s.lf+1
	case s.cr < s.lf: // bare CR
		end, next = s.cr, s.cr+1
	default: // LF, or end of input
		end, next = s.lf, min(s.lf+1, len(b))
	}
	s.pos = next
	return start, end, next
}

// hfield is one header field: its name as written, which field it is, and
// the raw span of its value (after the colon, folding line breaks included).
type hfield struct {
	name         []byte
	id           fieldID
	vStart, vEnd int
}

// fieldColon returns the end of the field name and the index of the colon of
// a header line (RFC 5322 section 3.6.8 ftext, with the obsolete blanks
// before the colon of section 4.5), or -1, -1.
func fieldColon(line []byte) (nameEnd, colon int) {
	i := 0
	for i < len(line) && line[i] > ' ' && line[i] < 127 && line[i] != ':' {
		i++
	}
	if i == 0 {
		return -1, -1
	}
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if j < len(line) && line[j] == ':' {
		return i, j
	}
	return -1, -1
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// foldedColon recognises a field name alone on its line whose colon starts
// the next, folded, line. It returns the name length and the value start, or
// -1, -1.
func foldedColon(ls lineScanner, line []byte) (nameEnd, vStart int) {
	n := 0
	for n < len(line) && line[n] > ' ' && line[n] < 127 && line[n] != ':' {
		n++
	}
	if n == 0 || !blankLine(line[n:]) || ls.pos >= len(ls.b) {
		return -1, -1
	}
	s, e, _ := ls.next()
	i := s
	for i < e && isWSP(ls.b[i]) {
		i++
	}
	if i == s || i == e || ls.b[i] != ':' {
		return -1, -1
	}
	return n, i + 1
}

func blankLine(line []byte) bool {
	for _, c := range line {
		if !isWSP(c) {
			return false
		}
	}
	return true
}

// lineKind classifies the line at the scanner's position without consuming it.
type lineKind uint8

const (
	lineEOF lineKind = iota
	lineEmpty
	lineField
	lineContinuation
	lineOther
)

func peekLine(ls lineScanner, end int) lineKind {
	if ls.pos >= end {
		return lineEOF
	}
	s, e, _ := ls.next()
	line := ls.b[s:e]
	switch {
	case len(line) == 0:
		return lineEmpty
	case isWSP(line[0]):
		return lineContinuation
	}
	if _, c := fieldColon(line); c >= 0 {
		return lineField
	}
	return lineOther
}

// header scans the header section that starts at start (RFC 5322 section
// 2.2) into p.fields and returns the offset where the body starts. It never
// fails: lines that are not fields are reported and skipped or joined, a body
// that starts without the empty separator line is recognised, and the
// MaxHeaderBytes and MaxHeaderFields limits end the section early. The
// header of a message (not of a MIME part) may start with an mbox "From "
// line, which is skipped.
func (p *parser) header(start, end int, path string, isMessage bool) (body int) {
	p.fields = p.fields[:0]
	raw := p.raw[:end]
	ls := newLineScanner(raw, start)
	cur := -1         // index in p.fields of the field being continued
	skipping := false // the field being continued was dropped (limit)
	nfields := 0
	body = end
	for ls.pos < end {
		s, e, next := ls.next()
		if e-start > p.lim.MaxHeaderBytes {
			p.defect(DefectHeaderLimit, path, "header section over "+strconv.Itoa(p.lim.MaxHeaderBytes)+" bytes")
			body = s
			break
		}
		line := raw[s:e]
		if len(line) == 0 {
			body = next
			break
		}
		if isWSP(line[0]) {
			if blankLine(line) && peekLine(ls, end) == lineOther {
				p.defect(DefectBadHeaderLine, path, "blank line with spaces ends the header")
				body = next
				break
			}
			if skipping {
				continue
			}
			if cur >= 0 {
				p.fields[cur].vEnd = e
				continue
			}
			for s < e && isWSP(raw[s]) {
				s++
			}
			line = raw[s:e]
			if len(line) == 0 {
				continue
			}
			p.defect(DefectBadHeaderLine, path, "continuation line without a field")
		}
		if s == start && bytes.HasPrefix(line, []byte("\xef\xbb\xbf")) {
			p.defect(DefectBadHeaderLine, path, "byte order mark before the header")
			s += 3
			line = raw[s:e]
		}
		nameEnd, colon := fieldColon(line)
		vStart, vEnd := s+colon+1, e
		if colon < 0 {
			n, vs := foldedColon(ls, line)
			if vs < 0 {
				switch {
				case isMessage && s == start && bytes.HasPrefix(line, []byte("From ")):
					p.defect(DefectMboxFrom, path, "")
				case cur >= 0 && bytes.HasSuffix(bytes.TrimRight(raw[p.fields[cur].vStart:p.fields[cur].vEnd], " \t\r\n"), []byte(";")) &&
					bytes.IndexByte(line, '=') >= 0:
					p.defect(DefectBadHeaderLine, path, "unfolded parameter line joined to previous field")
					p.fields[cur].vEnd = e
				case peekLine(ls, end) == lineField:
					p.defect(DefectBadHeaderLine, path, "line without colon skipped")
					cur = -1
				default:
					p.defect(DefectMissingSeparator, path, "")
					body = s
					p.check8bit(start, body, path)
					return body
				}
				continue
			}
			// "From\r\n : x": unfolded, this is obsolete field syntax; it is
			// also a trick to hide a sender, so it is reported.
			p.defect(DefectBadHeaderLine, path, "field name folded before the colon")
			_, e2, _ := ls.next()
			nameEnd, vStart, vEnd = n, vs, e2
		}
		nfields++
		if nfields > p.lim.MaxHeaderFields {
			if !skipping {
				p.defect(DefectHeaderLimit, path, "more than "+strconv.Itoa(p.lim.MaxHeaderFields)+" fields")
			}
			skipping = true
			cur = -1
			continue
		}
		skipping = false
		p.fields = append(p.fields, hfield{name: line[:nameEnd], id: identify(line[:nameEnd]), vStart: vStart, vEnd: vEnd})
		cur = len(p.fields) - 1
	}
	p.check8bit(start, body, path)
	return body
}

// check8bit reports a header section holding 8-bit bytes that are not UTF-8
// (RFC 6532 allows UTF-8 only); such text is read as windows-1252.
func (p *parser) check8bit(start, end int, path string) {
	if utf8.Valid(p.raw[start:end]) {
		return
	}
	detail := ""
	for _, f := range p.fields {
		if !utf8.Valid(p.raw[f.vStart:f.vEnd]) {
			detail = string(f.name)
			break
		}
	}
	p.defect(DefectHeader8bit, path, detail)
}

// field identifiers for the header fields the parser reads.
type fieldID uint8

const (
	fOther fieldID = iota
	fFrom
	fSender
	fReplyTo
	fTo
	fCc
	fBcc
	fDate
	fSubject
	fMessageID
	fInReplyTo
	fReferences
	fContentType
	fContentTransferEncoding
	fContentDisposition
	fContentID
	numFieldIDs
)

// canonical field names, for defect details.
func (id fieldID) String() string {
	return [...]string{"", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Date", "Subject",
		"Message-ID", "In-Reply-To", "References", "Content-Type",
		"Content-Transfer-Encoding", "Content-Disposition", "Content-ID", ""}[id]
}

func identify(name []byte) fieldID {
	if len(name) < 2 || len(name) > 25 {
		return fOther
	}
	var buf [25]byte
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(name)]) {
	case "from":
		return fFrom
	case "sender":
		return fSender
	case "reply-to":
		return fReplyTo
	case "to":
		return fTo
	case "cc":
		return fCc
	case "bcc":
		return fBcc
	case "date":
		return fDate
	case "subject":
		return fSubject
	case "message-id":
		return fMessageID
	case "in-reply-to":
		return fInReplyTo
	case "references":
		return fReferences
	case "content-type":
		return fContentType
	case "content-transfer-encoding":
		return fContentTransferEncoding
	case "content-disposition":
		return fContentDisposition
	case "content-id":
		return fContentID
	}
	return fOther
}

// unfold returns v without line breaks (RFC 5322 section 2.2.3) and without
// surrounding blanks. It copies only when v is folded.
func unfold(v []byte) []byte {
	v = trimSpaceBytes(v)
	if bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\r') < 0 {
		return v
	}
	out := make([]byte, 0, len(v))
	for _, c := range v {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return out
}

func trimSpaceBytes(v []byte) []byte {
	for len(v) > 0 && (isWSP(v[0]) || v[0] == '\r' || v[0] == '\n') {
		v = v[1:]
	}
	for len(v) > 0 && (isWSP(v[len(v)-1]) || v[len(v)-1] == '\r' || v[len(v)-1] == '\n') {
		v = v[:len(v)-1]
	}
	return v
}

// text returns a header value as a UTF-8 string: unfolded, trimmed, and, when
// its bytes are not UTF-8, read as windows-1252 (reported by check8bit).
func text(v []byte) string {
	v = unfold(v)
	if utf8.Valid(v) {
		return noNUL(string(v))
	}
	return noNUL(latin(v))
}

// noNUL replaces NUL characters, which header text may carry (raw or
// encoded) but which text columns (PostgreSQL) cannot store, with U+FFFD.
func noNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// latin decodes b as windows-1252, the usual real encoding of unlabeled
// 8-bit text and of text labeled iso-8859-1 or us-ascii.
func latin(b []byte) string {
	out := make([]byte, 0, len(b)+len(b)/4)
	for _, c := range b {
		if c < utf8.RuneSelf {
			out = append(out, c)
			continue
		}
		out = utf8.AppendRune(out, charmap.Windows1252.DecodeByte(c))
	}
	return string(out)
}
