package extract

import (
	"unicode"
	"unicode/utf8"
)

// textBuf accumulates extracted text, normalising whitespace as it goes:
// a run of blanks becomes one space, a run holding a line break one
// newline, and leading and trailing whitespace is dropped. It keeps at most
// max bytes and cuts only between characters.
type textBuf struct {
	b         []byte
	max       int
	pending   byte // ' ' or '\n' waiting for the next visible character
	truncated bool
}

// String returns the text so far.
func (t *textBuf) String() string { return string(t.b) }

// full reports whether nothing more will be kept.
func (t *textBuf) full() bool { return t.truncated }

// space asks for a blank before the next visible character.
func (t *textBuf) space() {
	if t.pending == 0 {
		t.pending = ' '
	}
}

// newline asks for a line break before the next visible character.
func (t *textBuf) newline() { t.pending = '\n' }

// WriteString adds s; invalid UTF-8 becomes U+FFFD.
func (t *textBuf) WriteString(s string) {
	for i := 0; i < len(s) && !t.truncated; {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		t.rune(r, false)
	}
}

// Write adds p; invalid UTF-8 becomes U+FFFD.
func (t *textBuf) Write(p []byte) {
	for i := 0; i < len(p) && !t.truncated; {
		r, n := utf8.DecodeRune(p[i:])
		i += n
		t.rune(r, false)
	}
}

// inline adds s as running text, where line breaks are only blanks (HTML
// text outside pre, XML text nodes).
func (t *textBuf) inline(s string) {
	for i := 0; i < len(s) && !t.truncated; {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		t.rune(r, true)
	}
}

// rune adds r. With inline set, line breaks count as blanks.
func (t *textBuf) rune(r rune, inline bool) {
	if t.truncated {
		return
	}
	switch classify(r) {
	case classSpace:
		t.space()
		return
	case classBreak:
		if inline {
			t.space()
		} else {
			t.newline()
		}
		return
	case classDrop:
		return
	}
	need := utf8.RuneLen(r)
	if need < 0 {
		r, need = utf8.RuneError, 3
	}
	sep := t.pending != 0 && len(t.b) > 0
	if sep {
		need++
	}
	if len(t.b)+need > t.max {
		t.truncated = true
		return
	}
	if sep {
		t.b = append(t.b, t.pending)
	}
	t.pending = 0
	t.b = utf8.AppendRune(t.b, r)
}

const (
	classText = iota
	classSpace
	classBreak
	classDrop
)

func classify(r rune) int {
	switch r {
	case ' ', '\t', 0xA0, 0x1680, 0x202F, 0x205F, 0x3000:
		return classSpace
	case '\n', '\r', '\v', '\f', 0x85, 0x2028, 0x2029:
		return classBreak
	case 0xAD, 0xFEFF, 0x200B, 0x2060, 0xFFFE, 0xFFFF:
		return classDrop // soft hyphen, BOM, zero-width space and word joiner, noncharacters
	}
	if r >= 0x2000 && r <= 0x200A {
		return classSpace
	}
	if r < 0x20 || (r >= 0x7F && r < 0xA0) || unicode.Is(unicode.Cs, r) {
		return classDrop
	}
	return classText
}
