package message

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
)

// normCharset lowercases a charset label and strips blanks and quotes.
func normCharset(cs string) string {
	cs = strings.Trim(cs, " \t\"'")
	for i := 0; i < len(cs); i++ {
		if c := cs[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(cs)
		}
	}
	return cs
}

// utf8Label reports labels whose text is taken as UTF-8 when it validates and
// as windows-1252 otherwise (mislabelled 8-bit text is common).
func utf8Label(cs string) bool {
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "us", "ansi_x3.4-1968", "iso646-us", "iso-646-us", "csascii":
		return true
	}
	return false
}

// lookupCharset returns the decoder for a normalized charset label, or nil.
// WHATWG labels come first (they map iso-8859-1 to windows-1252, gb2312 to
// gbk, ks_c_5601-1987 to euc-kr, as mail clients do), then the IANA registry.
func lookupCharset(cs string) encoding.Encoding {
	switch cs {
	case "utf-16", "ucs-2", "unicode":
		// RFC 2781 section 4.3: big-endian unless a BOM says otherwise.
		return unicode.UTF16(unicode.BigEndian, unicode.UseBOM)
	case "latin-1", "iso-latin-1", "iso8859_1", "iso_8859_1":
		return charmap.Windows1252
	case "unknown-8bit", "x-unknown", "x-user-defined", "replacement":
		return nil
	}
	if e, err := htmlindex.Get(cs); err == nil && e != nil && e != encoding.Replacement {
		return e
	}
	if e, err := ianaindex.IANA.Encoding(cs); err == nil && e != nil {
		return e
	}
	if n, ok := strings.CutPrefix(cs, "cp"); ok && len(n) == 4 && strings.HasPrefix(n, "125") {
		return lookupCharset("windows-" + n)
	}
	if n, ok := strings.CutPrefix(cs, "win-"); ok {
		return lookupCharset("windows-" + n)
	}
	return nil
}

// knownLabel reports whether cs (normalized) names a charset we can decode,
// trying '-' for '_' ("us_ascii", "utf_8") as a last resort.
func knownLabel(cs string) (string, bool) {
	if utf8Label(cs) || lookupCharset(cs) != nil {
		return cs, true
	}
	if strings.IndexByte(cs, '_') >= 0 {
		alt := strings.ReplaceAll(cs, "_", "-")
		if utf8Label(alt) || lookupCharset(alt) != nil {
			return alt, true
		}
	}
	return cs, false
}

// knownCharset reports whether a part's charset parameter can be decoded.
func knownCharset(cs string) bool {
	_, ok := knownLabel(normCharset(cs))
	return ok
}

// asciiCompatible reports whether ASCII bytes mean ASCII in charset cs, so
// that pure-ASCII input needs no conversion.
func asciiCompatible(cs string) bool {
	return !strings.HasPrefix(cs, "utf-16") && !strings.HasPrefix(cs, "utf-32") &&
		!strings.HasPrefix(cs, "utf-7") && !strings.HasPrefix(cs, "ucs") &&
		cs != "unicode" && !strings.Contains(cs, "2022") && !strings.HasPrefix(cs, "hz")
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// convertCharset decodes b from charset cs to UTF-8. ok is false when the
// charset is unknown.
func convertCharset(cs string, b []byte) (s string, ok bool) {
	cs, _ = knownLabel(normCharset(cs))
	if utf8Label(cs) {
		if utf8.Valid(b) {
			return string(b), true
		}
		return latin(b), true
	}
	enc := lookupCharset(cs)
	if enc == nil {
		return "", false
	}
	if asciiCompatible(cs) && isASCII(b) {
		return string(b), true
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD"), true
	}
	return strings.ToValidUTF8(string(out), "\uFFFD"), true
}

// charsetReader is the mime.WordDecoder CharsetReader backed by x/text.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	cs := normCharset(charset)
	if i := strings.IndexByte(cs, '*'); i >= 0 { // RFC 2231 section 5 language suffix
		cs = cs[:i]
	}
	cs, _ = knownLabel(cs)
	if utf8Label(cs) {
		return input, nil
	}
	enc := lookupCharset(cs)
	if enc == nil {
		return nil, fmt.Errorf("charset %q: unknown", charset)
	}
	return enc.NewDecoder().Reader(input), nil
}

// fixC1 maps C1 control characters (U+0080..U+009F), which mime.WordDecoder
// produces for iso-8859-1 text that really is windows-1252, to the
// windows-1252 characters, and replaces invalid UTF-8.
func fixC1(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = noNUL(s)
	if !strings.Contains(s, "\xc2") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		if r >= 0x80 && r <= 0x9f {
			r = charmap.Windows1252.DecodeByte(byte(r))
		}
		b.WriteRune(r)
	}
	return b.String()
}

// DecodeText converts text in the named charset to UTF-8 the way header text is
// converted: unknown or failing charsets fall back to UTF-8 when the bytes validate
// and windows-1252 otherwise, so the result is always valid UTF-8.
func DecodeText(b []byte, charset string) string {
	cs, _ := knownLabel(normCharset(charset))
	if s, ok := convertCharset(cs, b); ok {
		return s
	}
	if utf8.Valid(b) {
		return string(b)
	}
	s, _ := convertCharset("windows-1252", b)
	return strings.ToValidUTF8(s, "\uFFFD")
}
