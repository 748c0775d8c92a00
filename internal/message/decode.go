package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// ErrPartRange is returned by DecodePart when a Part's body offsets do not fit
// the raw message it is applied to.
var ErrPartRange = errors.New("message: part body outside raw message")

// transferEncoding is the decoding applied to a leaf body (RFC 2045 section 6).
type transferEncoding uint8

const (
	cteIdentity transferEncoding = iota // 7bit, 8bit, binary, absent
	cteBase64
	cteQP
	cteUU
	cteUnknown // decoded as binary, reported as unknown-encoding
)

// parseCTE maps a Content-Transfer-Encoding value (already lowercased and
// trimmed) to the decoding used for it.
func parseCTE(v string) transferEncoding {
	switch v {
	case "", "7bit", "8bit", "binary", "7-bit", "8-bit":
		return cteIdentity
	case "base64":
		return cteBase64
	case "quoted-printable":
		return cteQP
	case "x-uuencode", "uuencode", "x-uue":
		return cteUU
	}
	return cteUnknown
}

// decodeFlags records what was wrong with an encoded body.
type decodeFlags uint8

const (
	badBase64 decodeFlags = 1 << iota
	badQP
	badUU
)

// sink receives decoded bytes. In Parse it feeds a SHA-256 hash without
// keeping the bytes; in DecodePart it collects them. Both paths run the same
// decoders, so DecodePart returns exactly the bytes that were hashed.
type sink struct {
	h       hash.Hash // nil when not hashing
	collect bool
	out     []byte
	n       int64
	buf     []byte // staging buffer for decoders, allocated on first use
	nbuf    int
}

const sinkBufSize = 2048

func (s *sink) reset() {
	if s.h != nil {
		s.h.Reset()
	}
	s.out = s.out[:0]
	s.n = 0
	s.nbuf = 0
}

// write passes p on: small pieces are gathered in the staging buffer, so
// that the hash sees few large writes; large ones bypass it.
func (s *sink) write(p []byte) {
	if len(p) == 0 {
		return
	}
	if len(p) <= 512 {
		s.room(len(p))
		s.nbuf += copy(s.buf[s.nbuf:], p)
		return
	}
	s.writeDirect(p)
}

// writeDirect passes p on without staging it.
func (s *sink) writeDirect(p []byte) {
	s.flush()
	s.n += int64(len(p))
	if s.h != nil {
		s.h.Write(p)
	}
	if s.collect {
		s.out = append(s.out, p...)
	}
}

// room makes sure at least n (<= sinkBufSize) bytes are free in the
// staging buffer.
func (s *sink) room(n int) {
	if s.buf == nil {
		s.buf = make([]byte, sinkBufSize)
	}
	if len(s.buf)-s.nbuf < n {
		s.flush()
	}
}

func (s *sink) byte1(c byte) {
	if s.nbuf == len(s.buf) {
		s.room(1)
	}
	s.buf[s.nbuf] = c
	s.nbuf++
}

func (s *sink) flush() {
	if s.nbuf == 0 {
		return
	}
	p := s.buf[:s.nbuf]
	s.nbuf = 0
	s.n += int64(len(p))
	if s.h != nil {
		s.h.Write(p)
	}
	if s.collect {
		s.out = append(s.out, p...)
	}
}

// decodeBody decodes body into s according to enc and reports defects.
func decodeBody(s *sink, body []byte, enc transferEncoding) decodeFlags {
	var f decodeFlags
	switch enc {
	case cteBase64:
		if decodeBase64(s, body) {
			f |= badBase64
		}
	case cteQP:
		if decodeQP(s, body) {
			f |= badQP
		}
	case cteUU:
		if decodeUU(s, body) {
			f |= badUU
		}
	default:
		s.writeDirect(body)
	}
	s.flush()
	return f
}

// DecodePart returns the decoded content of a leaf part of raw, the message
// that Parse was given: the same bytes whose size and SHA-256 Parse recorded.
// Decoding is tolerant; defects were already reported by Parse. The only error
// is ErrPartRange, when p does not belong to raw.
func DecodePart(raw []byte, p Part) ([]byte, error) {
	if p.BodyOffset < 0 || p.BodyLength < 0 || p.BodyOffset > int64(len(raw)) ||
		p.BodyLength > int64(len(raw))-p.BodyOffset {
		return nil, fmt.Errorf("decode part %q (offset %d, length %d, message %d bytes): %w",
			p.Path, p.BodyOffset, p.BodyLength, len(raw), ErrPartRange)
	}
	body := raw[p.BodyOffset : p.BodyOffset+p.BodyLength]
	enc := parseCTE(strings.ToLower(strings.TrimSpace(p.Encoding)))
	if enc == cteIdentity || enc == cteUnknown {
		return bytes.Clone(body), nil
	}
	s := &sink{collect: true, out: make([]byte, 0, len(body))}
	decodeBody(s, body, enc)
	return s.out, nil
}

// b64val returns the value of a base64 alphabet character, or 0xff.
func b64val(c byte) uint32 {
	switch {
	case c >= 'A' && c <= 'Z':
		return uint32(c - 'A')
	case c >= 'a' && c <= 'z':
		return uint32(c-'a') + 26
	case c >= '0' && c <= '9':
		return uint32(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return 0xff
}

// b64state is the tolerant base64 state machine (RFC 2045 section 6.8:
// characters outside the alphabet are ignored, here also reported).
type b64state struct {
	acc   uint32
	n     int  // characters in the current quantum
	padOK bool // an '=' here is expected padding
	bad   bool
}

func (st *b64state) feed(s *sink, c byte) {
	if v := b64val(c); v != 0xff {
		st.acc = st.acc<<6 | v
		st.n++
		st.padOK = false
		if st.n == 4 {
			s.room(3)
			s.buf[s.nbuf] = byte(st.acc >> 16)
			s.buf[s.nbuf+1] = byte(st.acc >> 8)
			s.buf[s.nbuf+2] = byte(st.acc)
			s.nbuf += 3
			st.n, st.acc = 0, 0
		}
		return
	}
	switch c {
	case ' ', '\t', '\r', '\n', '\f', '\v':
		return
	case '=':
		switch st.n {
		case 0:
			if !st.padOK {
				st.bad = true
			}
			st.padOK = false
		case 1:
			st.bad = true
		case 2:
			s.byte1(byte(st.acc >> 4))
			st.padOK = true
		case 3:
			s.room(2)
			s.buf[s.nbuf] = byte(st.acc >> 10)
			s.buf[s.nbuf+1] = byte(st.acc >> 2)
			s.nbuf += 2
		}
		st.n, st.acc = 0, 0
		return
	}
	st.bad = true
}

// finish flushes a final quantum that lacks its padding (tolerated) or
// reports a truncated one.
func (st *b64state) finish(s *sink) {
	switch st.n {
	case 1:
		st.bad = true
	case 2:
		s.byte1(byte(st.acc >> 4))
	case 3:
		s.room(2)
		s.buf[s.nbuf] = byte(st.acc >> 10)
		s.buf[s.nbuf+1] = byte(st.acc >> 2)
		s.nbuf += 2
	}
	st.n, st.acc = 0, 0
}

// decodeBase64 decodes src tolerantly: whitespace is skipped, missing final
// padding is accepted, other characters are skipped and reported, data after
// padding is decoded as a new run. Well-formed lines take the standard
// library's fast decoder; anything else goes through the state machine.
func decodeBase64(s *sink, src []byte) (bad bool) {
	var st b64state
	for i := 0; i < len(src); {
		// Isolate the next line without its break and trailing blanks.
		j := bytes.IndexByte(src[i:], '\n')
		var line []byte
		if j < 0 {
			line = src[i:]
			i = len(src)
		} else {
			line = src[i : i+j]
			i += j + 1
		}
		for len(line) > 0 {
			c := line[len(line)-1]
			if c != '\r' && c != ' ' && c != '\t' {
				break
			}
			line = line[:len(line)-1]
		}
		for len(line) > 0 {
			if st.n == 0 && len(line) >= 4 {
				chunk := line
				if len(chunk) > sinkBufSize/3*4 {
					chunk = chunk[:sinkBufSize/3*4]
				}
				chunk = chunk[:len(chunk)&^3]
				s.room(len(chunk) / 4 * 3)
				if k, err := base64.StdEncoding.Decode(s.buf[s.nbuf:], chunk); err == nil {
					s.nbuf += k
					st.padOK = false
					line = line[len(chunk):]
					continue
				}
				for _, c := range chunk {
					st.feed(s, c)
				}
				line = line[len(chunk):]
				continue
			}
			for _, c := range line {
				st.feed(s, c)
			}
			break
		}
	}
	st.finish(s)
	return st.bad
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return 0xff
}

// decodeQP decodes quoted-printable (RFC 2045 section 6.7) tolerantly: line
// breaks are kept as written (CRLF, LF or CR), trailing blanks are dropped,
// '=' at the end of a line is a soft break, a '=' not followed by two hex
// digits (either case) is kept literally and reported.
func decodeQP(s *sink, src []byte) (bad bool) {
	ls := newLineScanner(src, 0)
	for ls.pos < len(src) {
		start, end, next := ls.next()
		line := src[start:end]
		for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
			line = line[:len(line)-1]
		}
		soft := false
		if len(line) > 0 && line[len(line)-1] == '=' {
			soft = true
			line = line[:len(line)-1]
		}
		for len(line) > 0 {
			k := bytes.IndexByte(line, '=')
			if k < 0 {
				s.write(line)
				break
			}
			if k > 0 {
				s.write(line[:k])
			}
			if k+2 < len(line) {
				hi, lo := unhex(line[k+1]), unhex(line[k+2])
				if hi != 0xff && lo != 0xff {
					s.byte1(hi<<4 | lo)
					line = line[k+3:]
					continue
				}
			}
			s.byte1('=')
			bad = true
			line = line[k+1:]
		}
		if !soft && next > end {
			s.write(src[end:next])
		}
	}
	return bad
}

// decodeUU decodes a uuencoded body (begin/end lines, length-prefixed lines).
func decodeUU(s *sink, src []byte) (bad bool) {
	ls := newLineScanner(src, 0)
	started := false
	for ls.pos < len(src) {
		start, end, _ := ls.next()
		line := src[start:end]
		if !started {
			if bytes.HasPrefix(line, []byte("begin ")) {
				started = true
			} else if len(bytes.TrimSpace(line)) > 0 {
				bad = true
			}
			continue
		}
		if bytes.Equal(bytes.TrimSpace(line), []byte("end")) {
			return bad
		}
		if len(line) == 0 {
			continue
		}
		n := int((line[0] - ' ') & 63)
		if n == 0 {
			continue
		}
		data := line[1:]
		for written := 0; written < n; data = data[4:] {
			if len(data) < 4 {
				bad = true
				break
			}
			var q [4]byte
			for k := range 4 {
				c := data[k]
				if c < ' ' || c > '`' {
					bad = true
				}
				q[k] = (c - ' ') & 63
			}
			out := [3]byte{q[0]<<2 | q[1]>>4, q[1]<<4 | q[2]>>2, q[2]<<6 | q[3]}
			for _, c := range out[:min(3, n-written)] {
				s.byte1(c)
				written++
			}
		}
	}
	// No "end" line: truncated (or never started).
	return true
}
