package extract

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// plain adds text/* content. It is taken as UTF-8; content with no valid
// multi-byte sequence but some 8-bit bytes is read as windows-1252 (what
// legacy Spanish text almost always is), otherwise invalid bytes become
// U+FFFD.
func (x *extractor) plain(b []byte) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(b) && !hasUTF8Sequence(b) {
		x.writeWindows1252(b)
		return
	}
	for len(b) > 0 && !x.out.full() {
		if x.alive() != nil {
			return
		}
		n := min(len(b), 4096)
		for n < len(b) && !utf8.RuneStart(b[n]) && n < 4100 {
			n++
		}
		x.out.Write(b[:n])
		b = b[n:]
	}
}

// hasUTF8Sequence reports whether b holds at least one valid multi-byte
// UTF-8 sequence.
func hasUTF8Sequence(b []byte) bool {
	for i := 0; i < len(b); {
		if b[i] < 0x80 {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			return true
		}
		i++
	}
	return false
}

// writeWindows1252 adds b decoded as windows-1252.
func (x *extractor) writeWindows1252(b []byte) {
	for i, c := range b {
		if i&4095 == 0 && (x.alive() != nil || x.out.full()) {
			return
		}
		x.out.rune(charmap.Windows1252.DecodeByte(c), false)
	}
}

// csv adds comma-, semicolon- or tab-separated values: the fields of a
// record separated by blanks, one record a line. The delimiter is the one
// of the three most frequent in the first line. Malformed CSV is added as
// plain text.
func (x *extractor) csv(b []byte) error {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(b) && !hasUTF8Sequence(b) {
		x.writeWindows1252(b)
		return x.timedOut
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.Comma = csvDelimiter(b)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	mark := len(x.out.b)
	for !x.out.full() {
		if err := x.alive(); err != nil {
			return err
		}
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// Not CSV after all: start over as plain text.
			x.out.b, x.out.pending, x.out.truncated = x.out.b[:mark], '\n', false
			x.plain(b)
			return x.timedOut
		}
		for _, f := range rec {
			x.out.space()
			x.out.WriteString(f)
		}
		x.out.newline()
	}
	return nil
}

// csvDelimiter picks ',', ';' or tab, whichever occurs most in the first
// line outside quotes.
func csvDelimiter(b []byte) rune {
	var n [3]int
	quoted := false
	for _, c := range b[:min(len(b), 4096)] {
		if c == '"' {
			quoted = !quoted
		}
		if quoted {
			continue
		}
		if c == '\n' {
			break
		}
		switch c {
		case ',':
			n[0]++
		case ';':
			n[1]++
		case '\t':
			n[2]++
		}
	}
	switch {
	case n[1] > n[0] && n[1] >= n[2]:
		return ';'
	case n[2] > n[0] && n[2] > n[1]:
		return '\t'
	}
	return ','
}
