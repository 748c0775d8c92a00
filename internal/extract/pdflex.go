package extract

import (
	"bytes"
	"errors"
	"strconv"
)

// PDF objects (ISO 32000-1 §7.3) as parsed here: nil (null), bool,
// float64 (all numbers), pdfName, pdfString, pdfArray, pdfDict, pdfRef,
// *pdfStream, and pdfKeyword for operators and unknown bare words.
type (
	pdfName    string
	pdfString  []byte
	pdfArray   []any
	pdfDict    map[pdfName]any
	pdfKeyword string
	pdfRef     struct{ num, gen int }
	pdfStream  struct {
		dict     pdfDict
		raw      []byte // encoded data, a slice of the file
		num, gen int    // the object holding the stream (for decryption)
	}
)

// pdfMaxNesting bounds array/dictionary nesting while parsing.
const pdfMaxNesting = 64

var errPDFSyntax = errors.New("pdf syntax")

// pdfLexer reads PDF objects from b.
type pdfLexer struct {
	b   []byte
	pos int
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isPDFDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// skipSpace skips whitespace and comments.
func (l *pdfLexer) skipSpace() {
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		if isPDFSpace(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for l.pos < len(l.b) && l.b[l.pos] != '\n' && l.b[l.pos] != '\r' {
				l.pos++
			}
			continue
		}
		return
	}
}

// object parses the next object. At the end of input it returns
// errPDFSyntax; every call that does not fail advances pos.
func (l *pdfLexer) object(depth int) (any, error) {
	l.skipSpace()
	if l.pos >= len(l.b) {
		return nil, errPDFSyntax
	}
	if depth > pdfMaxNesting {
		return nil, errPDFSyntax
	}
	c := l.b[l.pos]
	switch {
	case c == '/':
		return l.name(), nil
	case c == '(':
		return l.literal(), nil
	case c == '<' && l.pos+1 < len(l.b) && l.b[l.pos+1] == '<':
		l.pos += 2
		d := pdfDict{}
		for {
			l.skipSpace()
			if l.pos >= len(l.b) {
				return d, nil
			}
			if l.b[l.pos] == '>' {
				l.pos++
				if l.pos < len(l.b) && l.b[l.pos] == '>' {
					l.pos++
				}
				return d, nil
			}
			k, err := l.object(depth + 1)
			if err != nil {
				return d, err
			}
			key, ok := k.(pdfName)
			if !ok {
				if kw, isKw := k.(pdfKeyword); isKw && (kw == "endobj" || kw == "stream") {
					l.pos -= len(kw)
					return d, nil // unterminated dictionary
				}
				continue
			}
			v, err := l.object(depth + 1)
			if err != nil {
				return d, err
			}
			if kw, isKw := v.(pdfKeyword); isKw && kw != "null" {
				l.pos -= len(kw)
				continue
			}
			d[key] = v
		}
	case c == '<':
		return l.hex(), nil
	case c == '[':
		l.pos++
		var a pdfArray
		for {
			l.skipSpace()
			if l.pos >= len(l.b) {
				return a, nil
			}
			if l.b[l.pos] == ']' {
				l.pos++
				return a, nil
			}
			v, err := l.object(depth + 1)
			if err != nil {
				return a, err
			}
			if kw, isKw := v.(pdfKeyword); isKw && (kw == "endobj" || kw == "stream") {
				l.pos -= len(kw)
				return a, nil
			}
			a = append(a, v)
		}
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		return l.number(), nil
	case c == ')' || c == '>' || c == ']' || c == '{' || c == '}':
		l.pos++
		return pdfKeyword(c), nil
	}
	start := l.pos
	for l.pos < len(l.b) && !isPDFSpace(l.b[l.pos]) && !isPDFDelim(l.b[l.pos]) {
		l.pos++
	}
	switch w := string(l.b[start:l.pos]); w {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	default:
		return pdfKeyword(w), nil
	}
}

// number parses a number, and an indirect reference "num gen R" when one
// starts here.
func (l *pdfLexer) number() any {
	start := l.pos
	l.pos++
	for l.pos < len(l.b) && (l.b[l.pos] >= '0' && l.b[l.pos] <= '9' || l.b[l.pos] == '.') {
		l.pos++
	}
	s := string(l.b[start:l.pos])
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		f = 0
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		// Look ahead for "gen R".
		save := l.pos
		l.skipSpace()
		gs := l.pos
		for l.pos < len(l.b) && l.b[l.pos] >= '0' && l.b[l.pos] <= '9' {
			l.pos++
		}
		if l.pos > gs && l.pos-gs < 6 {
			gen, _ := strconv.Atoi(string(l.b[gs:l.pos]))
			l.skipSpace()
			if l.pos < len(l.b) && l.b[l.pos] == 'R' && (l.pos+1 == len(l.b) || isPDFSpace(l.b[l.pos+1]) || isPDFDelim(l.b[l.pos+1])) {
				l.pos++
				return pdfRef{n, gen}
			}
		}
		l.pos = save
	}
	return f
}

// name parses /Name with #xx escapes.
func (l *pdfLexer) name() pdfName {
	l.pos++
	var out []byte
	for l.pos < len(l.b) && !isPDFSpace(l.b[l.pos]) && !isPDFDelim(l.b[l.pos]) {
		c := l.b[l.pos]
		if c == '#' && l.pos+2 < len(l.b) {
			if v, err := strconv.ParseUint(string(l.b[l.pos+1:l.pos+3]), 16, 8); err == nil {
				out = append(out, byte(v))
				l.pos += 3
				continue
			}
		}
		out = append(out, c)
		l.pos++
	}
	return pdfName(out)
}

// literal parses a (string) with escapes and balanced parentheses.
func (l *pdfLexer) literal() pdfString {
	l.pos++
	var out []byte
	depth := 1
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out
			}
		case '\r':
			if l.pos < len(l.b) && l.b[l.pos] == '\n' {
				l.pos++
			}
			c = '\n'
		case '\\':
			if l.pos >= len(l.b) {
				return out
			}
			e := l.b[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.b) && l.b[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && l.pos < len(l.b) && l.b[l.pos] >= '0' && l.b[l.pos] <= '7'; k++ {
						v = v*8 + int(l.b[l.pos]-'0')
						l.pos++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// hex parses a <hex string>; an odd final digit is followed by 0.
func (l *pdfLexer) hex() pdfString {
	l.pos++
	var out []byte
	var hi byte
	half := false
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		if c == '>' {
			break
		}
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			continue
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out
}

// skipInlineImage moves past the data of an inline image (after the ID
// operator) and its EI operator.
func (l *pdfLexer) skipInlineImage() {
	if l.pos < len(l.b) && isPDFSpace(l.b[l.pos]) {
		l.pos++
	}
	for {
		i := bytes.Index(l.b[l.pos:], []byte("EI"))
		if i < 0 {
			l.pos = len(l.b)
			return
		}
		at := l.pos + i
		l.pos = at + 2
		if (at == 0 || isPDFSpace(l.b[at-1])) && (l.pos == len(l.b) || isPDFSpace(l.b[l.pos]) || isPDFDelim(l.b[l.pos])) {
			return
		}
	}
}

// num converts a number object to float64 (0 for anything else).
func num(o any) float64 {
	if f, ok := o.(float64); ok {
		return f
	}
	return 0
}
