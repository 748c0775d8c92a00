package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF    tokKind = iota
	tWord           // a bare word; with quoted set, field:"phrase"
	tPhrase         // "phrase"
	tLParen         // (
	tRParen         // )
	tMinus          // - at the start of a word
)

type token struct {
	kind   tokKind
	pos    int    // byte offset of the token
	end    int    // byte offset just after it
	word   string // tWord: the bare text (for field:"…", "field:")
	text   string // tPhrase, or tWord with quoted: the unescaped phrase
	quoted bool   // tWord: followed by a phrase
	qpos   int    // byte offset of the opening quote
}

// lexer splits a query into tokens. Words end at white space, parentheses
// and the end of the query; a " starts a phrase, which may be glued only to
// a field name (from:"…"); a - starting a word negates it.
type lexer struct {
	q string
	i int
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// checkText rejects invalid UTF-8 and control characters other than white
// space, before lexing.
func checkText(q string) error {
	for i, r := range q {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(q[i:]); size == 1 {
				return errAt(i, "invalid UTF-8", "UTF-8 no válido")
			}
		case unicode.IsControl(r) && !isSpace(r):
			return errAt(i, fmt.Sprintf("control character %U not allowed", r), fmt.Sprintf("carácter de control %U no permitido", r))
		}
	}
	return nil
}

func (l *lexer) next() (token, error) {
	for l.i < len(l.q) {
		r, size := utf8.DecodeRuneInString(l.q[l.i:])
		if !isSpace(r) {
			break
		}
		l.i += size
	}
	start := l.i
	if start == len(l.q) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	switch l.q[start] {
	case '(':
		l.i++
		return token{kind: tLParen, pos: start, end: l.i}, nil
	case ')':
		l.i++
		return token{kind: tRParen, pos: start, end: l.i}, nil
	case '-':
		l.i++
		return token{kind: tMinus, pos: start, end: l.i}, nil
	case '"':
		text, err := l.phrase()
		if err != nil {
			return token{}, err
		}
		return token{kind: tPhrase, pos: start, end: l.i, text: text, qpos: start}, nil
	}
	for l.i < len(l.q) {
		r, size := utf8.DecodeRuneInString(l.q[l.i:])
		if isSpace(r) || r == '(' || r == ')' || r == '"' {
			break
		}
		l.i += size
	}
	t := token{kind: tWord, pos: start, end: l.i, word: l.q[start:l.i]}
	if l.i < len(l.q) && l.q[l.i] == '"' {
		if !fieldPrefix(t.word) {
			return token{}, errAt(l.i, "unexpected quote inside a word (put a space before it, or quote the whole word)",
				"comillas inesperadas dentro de una palabra (ponga un espacio antes o entrecomille la palabra completa)")
		}
		t.quoted, t.qpos = true, l.i
		text, err := l.phrase()
		if err != nil {
			return token{}, err
		}
		t.text, t.end = text, l.i
	}
	return t, nil
}

// phrase reads a quoted phrase starting at l.i. Inside it, \" and \\ stand
// for " and \; any other character, \ included, stands for itself. The
// closing quote must be followed by white space, a parenthesis or the end.
func (l *lexer) phrase() (string, error) {
	open := l.i
	var b strings.Builder
	j := open + 1
	for {
		if j >= len(l.q) {
			return "", errAt(open, "the quote opened here is never closed", "las comillas abiertas aquí no se cierran")
		}
		c := l.q[j]
		if c == '\\' && j+1 < len(l.q) && (l.q[j+1] == '"' || l.q[j+1] == '\\') {
			b.WriteByte(l.q[j+1])
			j += 2
			continue
		}
		j++
		if c == '"' {
			break
		}
		b.WriteByte(c)
	}
	l.i = j
	if j < len(l.q) {
		r, _ := utf8.DecodeRuneInString(l.q[j:])
		if !isSpace(r) && r != '(' && r != ')' {
			return "", errAt(j, "expected a space after the closing quote", "se esperaba un espacio después de las comillas de cierre")
		}
	}
	return b.String(), nil
}

// fieldPrefix reports whether w is "name:" with a field-shaped name, the
// only thing a phrase may be glued to.
func fieldPrefix(w string) bool {
	name, ok := strings.CutSuffix(w, ":")
	return ok && fieldShaped(name)
}

// fieldShaped reports whether name looks like a field name: two or more
// letters (accents included), nothing else. A colon after anything else
// (10:30, C:\x, :x) is part of a bare word.
func fieldShaped(name string) bool {
	n := 0
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r) {
			return false
		}
		n++
	}
	return n >= 2
}
