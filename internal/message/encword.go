package message

import (
	"strings"
)

// wordStatus is the outcome of scanning for an RFC 2047 encoded word.
type wordStatus uint8

const (
	notWord wordStatus = iota // "=?" that does not start an encoded word
	badWord                   // looks like an encoded word but is malformed
	validWord
)

// encodedWord is one scanned encoded word (RFC 2047 section 2).
type encodedWord struct {
	charset string // normalized, RFC 2231 language suffix removed
	data    []byte // decoded bytes (still in charset)
	end     int    // offset after "?="
}

func isCharsetChar(c byte) bool {
	if c <= ' ' || c >= 127 {
		return false
	}
	return strings.IndexByte(`()<>@,;:"/[]?=`, c) < 0
}

// scanWord parses the encoded word that starts at s[i:] ("=?").
func scanWord(s string, i int) (w encodedWord, st wordStatus) {
	j := i + 2
	k := j
	for k < len(s) && k-j <= 75 && isCharsetChar(s[k]) {
		k++
	}
	if k == j || k+2 >= len(s) || s[k] != '?' || s[k+2] != '?' {
		return w, notWord
	}
	cs := normCharset(s[j:k])
	if l := strings.IndexByte(cs, '*'); l >= 0 {
		cs = cs[:l]
	}
	enc := s[k+1] | 0x20
	t := k + 3
	e := strings.Index(s[t:], "?=")
	if e < 0 {
		w.end = len(s)
		return w, badWord
	}
	w.end = t + e + 2
	w.charset = cs
	txt := s[t : t+e]
	var ok bool
	switch enc {
	case 'b':
		w.data, ok = decodeWordB(txt)
	case 'q':
		w.data, ok = decodeWordQ(txt)
	}
	if !ok {
		return w, badWord
	}
	return w, validWord
}

// decodeWordB decodes B-encoded text; missing padding is tolerated.
func decodeWordB(t string) ([]byte, bool) {
	out := make([]byte, 0, len(t)*3/4+2)
	var acc uint32
	n := 0
	pad := false
	for i := 0; i < len(t); i++ {
		c := t[i]
		if v := b64val(c); v != 0xff {
			if pad {
				return nil, false
			}
			acc = acc<<6 | v
			n++
			if n == 4 {
				out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
				n, acc = 0, 0
			}
			continue
		}
		if c == '=' {
			pad = true
			continue
		}
		if c == ' ' || c == '\t' {
			continue
		}
		return nil, false
	}
	switch n {
	case 1:
		return nil, false
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	return out, true
}

// decodeWordQ decodes Q-encoded text (RFC 2047 section 4.2).
func decodeWordQ(t string) ([]byte, bool) {
	out := make([]byte, 0, len(t))
	for i := 0; i < len(t); i++ {
		switch c := t[i]; c {
		case '_':
			out = append(out, ' ')
		case '=':
			if i+2 >= len(t) {
				return nil, false
			}
			hi, lo := unhex(t[i+1]), unhex(t[i+2])
			if hi == 0xff || lo == 0xff {
				return nil, false
			}
			out = append(out, hi<<4|lo)
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out, true
}

func onlyLWSP(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// decodeWords decodes the RFC 2047 encoded words in unstructured text s (a
// Subject, a display name, a filename) the way mail clients do: words need not
// be separated from surrounding text, white space between adjacent encoded
// words is dropped, and adjacent words in the same charset are joined before
// conversion so that a character split across two words survives. A
// malformed word, or a run of words in an unknown charset, is kept as written
// and reported.
//
// mime.WordDecoder does the same job for net/mail's address parser, but its
// DecodeHeader fails on the whole field for one unknown charset, converts
// word by word, and does not say which words were malformed.
func (p *parser) decodeWords(s, path string) string {
	i := strings.Index(s, "=?")
	if i < 0 {
		return s
	}
	var out strings.Builder
	out.Grow(len(s))
	out.WriteString(s[:i])
	var (
		grp      []byte // decoded bytes of the pending run of words
		grpCS    string
		grpStart int // span in s of the pending run
		grpEnd   int
		inGroup  bool
		prevWord bool
	)
	flush := func() {
		if !inGroup {
			return
		}
		inGroup = false
		if str, ok := convertCharset(grpCS, grp); ok {
			out.WriteString(str)
			return
		}
		p.defect(DefectUnknownCharset, path, grpCS)
		out.WriteString(s[grpStart:grpEnd])
	}
	pos := i
	for {
		j := strings.Index(s[pos:], "=?")
		if j < 0 {
			break
		}
		start := pos + j
		w, st := scanWord(s, start)
		if st == notWord {
			flush()
			out.WriteString(s[pos : start+2])
			pos = start + 2
			prevWord = false
			continue
		}
		between := s[pos:start]
		if !prevWord || !onlyLWSP(between) {
			flush()
			out.WriteString(between)
		}
		if st == badWord {
			flush()
			p.defect(DefectBadEncodedWord, path, "")
			out.WriteString(s[start:w.end])
			pos = w.end
			prevWord = false
			continue
		}
		if inGroup && grpCS == w.charset {
			grp = append(grp, w.data...)
			grpEnd = w.end
		} else {
			flush()
			inGroup = true
			grp = append(grp[:0], w.data...)
			grpCS, grpStart, grpEnd = w.charset, start, w.end
		}
		pos = w.end
		prevWord = true
	}
	flush()
	out.WriteString(s[pos:])
	return noNUL(out.String())
}
