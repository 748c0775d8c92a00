package mailbox

import (
	"bytes"
	"strings"
)

// maxFromLine is the longest line (with its line ending) taken as a From_ line.
const maxFromLine = 4 << 10

// sniffSize is how much of a file is looked at to classify it.
const sniffSize = 8 << 10

// bom is the UTF-8 byte order mark, tolerated at the start of a file.
const bom = "\xef\xbb\xbf"

// isFromLine reports whether line, a complete line including its line ending (none
// at end of file), separates mbox messages. Only the mboxo format (strict false)
// accepts any "From " line; the others also want the lenient RFC 4155 shape (see
// the package documentation).
func isFromLine(line []byte, strict bool) bool {
	if len(line) > maxFromLine || !bytes.HasPrefix(line, []byte("From ")) {
		return false
	}
	text := trimEOL(line)
	if bytes.IndexByte(text, '\r') >= 0 {
		// A bare CR inside: a CR-only file, whose "line" is really many lines.
		return false
	}
	return !strict || fromShape(text[len("From "):])
}

// fromShape checks the part of a From_ line after "From ": RFC 4155 section 2 wants
// an address, a space and an asctime date. Accepted: an address alone (Netscape's
// "From - "), or an address followed by text holding a clock time hh:mm[:ss].
func fromShape(rest []byte) bool {
	fields := bytes.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' })
	switch len(fields) {
	case 0:
		return false
	case 1:
		return true
	}
	for _, f := range fields[1:] {
		if isClock(f) {
			return true
		}
	}
	return false
}

// isClock matches h:mm, hh:mm, h:mm:ss and hh:mm:ss.
func isClock(f []byte) bool {
	parts := bytes.Split(f, []byte(":"))
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	for i, p := range parts {
		if len(p) != 2 && !(i == 0 && len(p) == 1) {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// trimEOL removes a trailing "\n" or "\r\n".
func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// isEmptyLine reports whether line is exactly an empty line, LF or CRLF.
func isEmptyLine(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// isBlank reports whether b holds only spaces, tabs and line endings.
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// stripSeparator removes one trailing empty line (LF or CRLF), the line mbox writers
// add after every message (RFC 4155 section 2).
func stripSeparator(b []byte) []byte {
	switch {
	case bytes.HasSuffix(b, []byte("\n\n")):
		return b[:len(b)-1]
	case bytes.HasSuffix(b, []byte("\n\r\n")):
		return b[:len(b)-2]
	case isEmptyLine(b):
		return b[:0]
	}
	return b
}

// quotedFrom reports how many '>' start line when it matches ^>+From  (mboxrd
// quoting); 0 when it does not.
func quotedFrom(line []byte) int {
	n := 0
	for n < len(line) && line[n] == '>' {
		n++
	}
	if n == 0 || !bytes.HasPrefix(line[n:], []byte("From ")) {
		return 0
	}
	return n
}

// contentLength parses line as a Content-Length header field. ok is false when the
// line is another field; n is -1 when the value is not a plain decimal number.
func contentLength(line []byte) (n int64, ok bool) {
	const name = "content-length"
	if len(line) < len(name) || !bytes.EqualFold(line[:len(name)], []byte(name)) {
		return 0, false
	}
	rest := bytes.TrimLeft(line[len(name):], " \t")
	if len(rest) == 0 || rest[0] != ':' {
		return 0, false
	}
	v := bytes.Trim(rest[1:], " \t\r\n")
	if len(v) == 0 || len(v) > 15 {
		return -1, true
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1, true
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// isFieldStart reports whether line starts with an RFC 5322 field name (1*ftext,
// ftext = %d33-57 / %d59-126, section 3.6.8) followed by a colon; whitespace
// before the colon is tolerated (obsolete syntax, section 4.5).
func isFieldStart(line []byte) bool {
	i := 0
	for i < len(line) && line[i] >= 33 && line[i] <= 126 && line[i] != ':' {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return i < len(line) && line[i] == ':'
}

// kind is what the first bytes of a file say it is.
type kind int

const (
	kindNotMail kind = iota
	kindMessage      // one message
	kindMbox         // an mbox file
)

// sniff classifies a file from its first bytes (head, up to sniffSize) under the
// given From_ line strictness. eof says head is the whole file. For kindNotMail the
// reason is returned.
func sniff(head []byte, eof, strict bool) (kind, string) {
	if len(head) == 0 && eof {
		return kindNotMail, "empty file"
	}
	b := bytes.TrimPrefix(head, []byte(bom))
	for {
		i := bytes.IndexByte(b, '\n')
		line := b
		if i >= 0 {
			line = b[:i+1]
		}
		if isBlank(line) {
			if i < 0 {
				if eof {
					return kindNotMail, "not mail: only blank lines"
				}
				return kindNotMail, "not mail: no text in the first 8 KiB"
			}
			b = b[i+1:]
			continue
		}
		complete := i >= 0 || eof
		switch {
		case complete && isFromLine(line, strict):
			return kindMbox, ""
		case bytes.HasPrefix(line, []byte("From ")), isFieldStart(line):
			return kindMessage, ""
		case hasMailHeaders(b):
			// A damaged first line (a stray continuation, garbage) followed by a
			// real header block is malformed mail, which is archived, not skipped.
			return kindMessage, ""
		}
		return kindNotMail, "not mail: first line is not a header field"
	}
}

// hasMailHeaders reports whether, among the first lines of b, at least two
// consecutive ones are header fields and one of them is a field every message
// carries (From, To, Subject, Date, Message-ID, Received, Return-Path, MIME-Version).
func hasMailHeaders(b []byte) bool {
	run, known := 0, false
	for n := 0; n < 8 && len(b) > 0; n++ {
		i := bytes.IndexByte(b, '\n')
		line := b
		if i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		if !isFieldStart(line) {
			run, known = 0, false
			continue
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		switch strings.ToLower(string(bytes.TrimSpace(name))) {
		case "from", "to", "subject", "date", "message-id", "received", "return-path", "mime-version":
			known = true
		}
		if run++; run >= 2 && known {
			return true
		}
	}
	return false
}

// knownNonMail reports files that mail servers and desktops keep next to mail; a
// walk skips them without telling OnSkip.
func knownNonMail(name string) bool {
	switch name {
	case "dovecot-uidlist", "dovecot-keywords", "maildirfolder", "subscriptions", ".DS_Store", "Thumbs.db":
		return true
	}
	for _, p := range []string{"dovecot.index", "dovecot.list.index", "dovecot-uidvalidity", "courierimap"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
