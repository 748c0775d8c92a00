package extract

import (
	"strconv"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/encoding/charmap"
)

// pdfFont maps the codes of shown strings to text and widths.
type pdfFont struct {
	twoByte   bool      // composite (Type0) font: 2-byte codes unless the CMap says otherwise
	ucs2      bool      // Type0 with a predefined UCS-2/UTF-16 CMap: codes are Unicode
	toUnicode *pdfCMap  // /ToUnicode, when present and readable
	enc       [256]rune // simple fonts: code → character (0: none)
	widths    []float64 // simple fonts: widths from firstChar, in 1/1000 em
	firstChar int       // simple fonts
	cidW      map[int]float64
	dw        float64 // default width (Type0 /DW, or an estimate)
}

// font returns the font named in the resources, loading it once per
// indirect object; nil when there is none.
func (d *pdfDoc) font(res pdfDict, name pdfName) *pdfFont {
	fonts := d.dict(res["Font"])
	if fonts == nil {
		return nil
	}
	ref := fonts[name]
	if r, ok := ref.(pdfRef); ok {
		if f, ok := d.fonts[r]; ok {
			return f
		}
	}
	fd := d.dict(ref)
	if fd == nil {
		return nil
	}
	f := d.loadFont(fd)
	if r, ok := ref.(pdfRef); ok {
		d.fonts[r] = f
	}
	return f
}

// loadFont reads a font dictionary (ISO 32000-1 §9.6–9.10).
func (d *pdfDoc) loadFont(fd pdfDict) *pdfFont {
	f := &pdfFont{dw: 500}
	if s, ok := d.resolve(fd["ToUnicode"]).(*pdfStream); ok {
		if data, err := d.decode(s); len(data) > 0 && !isBudget(err) {
			f.toUnicode = d.parseCMap(data)
		}
	}
	if d.resolve(fd["Subtype"]) == pdfName("Type0") {
		f.twoByte = true
		f.dw = 1000
		if e, ok := d.resolve(fd["Encoding"]).(pdfName); ok {
			s := string(e)
			f.ucs2 = strings.Contains(s, "UCS2") || strings.Contains(s, "UTF16")
		}
		if desc, ok := d.resolve(fd["DescendantFonts"]).(pdfArray); ok && len(desc) > 0 {
			if cf := d.dict(desc[0]); cf != nil {
				if dw, ok := d.resolve(cf["DW"]).(float64); ok {
					f.dw = dw
				}
				f.cidW = d.cidWidths(cf["W"])
			}
		}
		return f
	}
	f.enc = d.simpleEncoding(fd)
	f.firstChar = int(num(d.resolve(fd["FirstChar"])))
	if w, ok := d.resolve(fd["Widths"]).(pdfArray); ok && len(w) <= 256 {
		f.widths = make([]float64, len(w))
		for i, v := range w {
			f.widths[i] = num(d.resolve(v))
		}
	}
	if base, _ := d.resolve(fd["BaseFont"]).(pdfName); strings.HasPrefix(string(base), "Courier") {
		f.dw = 600
	}
	return f
}

// cidWidths reads a CIDFont /W array: "c [w1 w2 …]" and "cfirst clast w".
func (d *pdfDoc) cidWidths(o any) map[int]float64 {
	a, ok := d.resolve(o).(pdfArray)
	if !ok {
		return nil
	}
	m := map[int]float64{}
	for i := 0; i+1 < len(a) && len(m) < 1<<16; {
		c := int(num(d.resolve(a[i])))
		if ws, ok := d.resolve(a[i+1]).(pdfArray); ok {
			for k, w := range ws {
				m[c+k] = num(d.resolve(w))
			}
			i += 2
			continue
		}
		if i+2 >= len(a) {
			break
		}
		last, w := int(num(d.resolve(a[i+1]))), num(d.resolve(a[i+2]))
		for c2 := c; c2 <= last && c2-c < 1<<16; c2++ {
			m[c2] = w
		}
		i += 3
	}
	return m
}

// simpleEncoding builds the code → character table of a simple font from
// its /Encoding: a base encoding (WinAnsi by default, also for fonts whose
// built-in encoding is unknown) and /Differences glyph names.
func (d *pdfDoc) simpleEncoding(fd pdfDict) [256]rune {
	var enc [256]rune
	base := pdfName("WinAnsiEncoding")
	var diffs pdfArray
	switch e := d.resolve(fd["Encoding"]).(type) {
	case pdfName:
		base = e
	case pdfDict:
		if b, ok := d.resolve(e["BaseEncoding"]).(pdfName); ok {
			base = b
		}
		diffs, _ = d.resolve(e["Differences"]).(pdfArray)
	}
	for c := range 256 {
		switch base {
		case "MacRomanEncoding":
			enc[c] = charmap.Macintosh.DecodeByte(byte(c))
		case "StandardEncoding":
			enc[c] = d.standardEncoding(byte(c))
		default:
			enc[c] = charmap.Windows1252.DecodeByte(byte(c))
		}
		if c < 0x20 || (c >= 0x7F && c < 0xA0 && enc[c] < 0xA0) {
			enc[c] = 0
		}
	}
	code := 0
	for _, o := range diffs {
		switch v := d.resolve(o).(type) {
		case float64:
			code = int(v)
		case pdfName:
			if code >= 0 && code < 256 {
				if r := d.glyphRune(string(v)); r != 0 {
					enc[code] = r
				}
			}
			code++
		}
	}
	return enc
}

// standardEncoding decodes Adobe StandardEncoding: ASCII with curly
// quotes, and its own upper half.
func (d *pdfDoc) standardEncoding(c byte) rune {
	switch {
	case c == 0x27:
		return '’'
	case c == 0x60:
		return '‘'
	case c < 0x80:
		return rune(c)
	}
	const upper = "A1exclamdown A2cent A3sterling A4fraction A5yen A6florin A7section A8currency A9quotesingle " +
		"AAquotedblleft ABguillemotleft ACguilsinglleft ADguilsinglright AEfi AFfl B1endash B2dagger B3daggerdbl " +
		"B4periodcentered B6paragraph B7bullet B8quotesinglbase B9quotedblbase BAquotedblright BBguillemotright " +
		"BCellipsis BDperthousand BFquestiondown C1grave C2acute C3circumflex C4tilde C5macron C6breve C7dotaccent " +
		"C8dieresis CAring CBcedilla CDhungarumlaut CEogonek CFcaron D0emdash E1AE E3ordfeminine E8Lslash E9Oslash " +
		"EAOE EBordmasculine F1ae F5dotlessi F8lslash F9oslash FAoe FBgermandbls"
	key := strings.ToUpper(strconv.FormatUint(uint64(c), 16))
	for _, e := range strings.Fields(upper) {
		if e[:2] == key {
			return d.glyphRune(e[2:])
		}
	}
	return 0
}

// glyphRune maps a glyph name to its character: the names of the Latin-1
// and windows-1252 characters, common extras, uniXXXX and uXXXX[XX]
// (Adobe Glyph List conventions). Unknown names give 0.
func (d *pdfDoc) glyphRune(name string) rune {
	if i := strings.IndexByte(name, '.'); i > 0 {
		name = name[:i] // "a.sc", "one.oldstyle"
	}
	if d.glyphs == nil {
		d.glyphs = map[string]rune{}
		// windows-1252 code order from 0x20 to 0xFF ("-" for unassigned).
		const names = "space exclam quotedbl numbersign dollar percent ampersand quotesingle parenleft parenright " +
			"asterisk plus comma hyphen period slash zero one two three four five six seven eight nine colon " +
			"semicolon less equal greater question at A B C D E F G H I J K L M N O P Q R S T U V W X Y Z " +
			"bracketleft backslash bracketright asciicircum underscore grave a b c d e f g h i j k l m n o p q r " +
			"s t u v w x y z braceleft bar braceright asciitilde - Euro - quotesinglbase florin quotedblbase " +
			"ellipsis dagger daggerdbl circumflex perthousand Scaron guilsinglleft OE - Zcaron - - quoteleft " +
			"quoteright quotedblleft quotedblright bullet endash emdash tilde trademark scaron guilsinglright oe - " +
			"zcaron Ydieresis nbspace exclamdown cent sterling currency yen brokenbar section dieresis copyright " +
			"ordfeminine guillemotleft logicalnot sfthyphen registered macron degree plusminus twosuperior " +
			"threesuperior acute mu paragraph periodcentered cedilla onesuperior ordmasculine guillemotright " +
			"onequarter onehalf threequarters questiondown Agrave Aacute Acircumflex Atilde Adieresis Aring AE " +
			"Ccedilla Egrave Eacute Ecircumflex Edieresis Igrave Iacute Icircumflex Idieresis Eth Ntilde Ograve " +
			"Oacute Ocircumflex Otilde Odieresis multiply Oslash Ugrave Uacute Ucircumflex Udieresis Yacute Thorn " +
			"germandbls agrave aacute acircumflex atilde adieresis aring ae ccedilla egrave eacute ecircumflex " +
			"edieresis igrave iacute icircumflex idieresis eth ntilde ograve oacute ocircumflex otilde odieresis " +
			"divide oslash ugrave uacute ucircumflex udieresis yacute thorn ydieresis"
		for i, n := range strings.Fields(names) {
			if n != "-" {
				d.glyphs[n] = charmap.Windows1252.DecodeByte(byte(0x20 + i))
			}
		}
		for n, r := range map[string]rune{"fi": 'ﬁ', "fl": 'ﬂ', "ff": 'ﬀ', "ffi": 'ﬃ', "ffl": 'ﬄ', "minus": '−',
			"fraction": '⁄', "dotlessi": 'ı', "Lslash": 'Ł', "lslash": 'ł', "breve": '˘', "dotaccent": '˙',
			"ring": '˚', "ogonek": '˛', "caron": 'ˇ', "hungarumlaut": '˝', "space.alt": ' ', "uni00A0": ' ',
			"nonbreakingspace": ' ', "softhyphen": '-', "sfthyphen": '-', "periodcentered.loclCAT": '·',
			"dcroat": 'đ', "Dcroat": 'Đ', "ntilde.sc": 'ñ', "quoteleftreversed": '‛', "numero": '№'} {
			d.glyphs[n] = r
		}
	}
	if r, ok := d.glyphs[name]; ok {
		return r
	}
	hexRune := func(h string) rune {
		v, err := strconv.ParseUint(h, 16, 32)
		if err != nil || v > 0x10FFFF || (v >= 0xD800 && v < 0xE000) {
			return 0
		}
		return rune(v)
	}
	switch {
	case strings.HasPrefix(name, "uni") && len(name) >= 7:
		return hexRune(name[3:7])
	case strings.HasPrefix(name, "u") && len(name) >= 5 && len(name) <= 7:
		return hexRune(name[1:])
	}
	return 0
}

// pdfCMap is a ToUnicode CMap (Adobe Technical Note 5411): codespace
// ranges give the code lengths, bfchar/bfrange the text of each code.
type pdfCMap struct {
	space  []cmapSpace
	single map[uint64]string // (length<<32 | code) → text
	ranges []cmapRange
}

type cmapSpace struct {
	n      int
	lo, hi uint32
}

type cmapRange struct {
	n      int
	lo, hi uint32
	dst    []uint16 // UTF-16 of the first code; the last unit counts up
	arr    []string // or one text per code
}

// parseCMap reads the codespace ranges and bf mappings of a CMap stream.
func (d *pdfDoc) parseCMap(data []byte) *pdfCMap {
	m := &pdfCMap{single: map[uint64]string{}}
	l := &pdfLexer{b: data}
	var ops []any
	mode := ""
	for steps := 0; steps < 1<<22; steps++ {
		if d.x.alive() != nil {
			break
		}
		o, err := l.object(0)
		if err != nil {
			break
		}
		kw, isKw := o.(pdfKeyword)
		if !isKw {
			ops = append(ops, o)
			if mode == "" && len(ops) > 16 {
				ops = ops[1:]
			}
			if mode == "" || (len(ops) < 2 || mode == "range" && len(ops) < 3) {
				continue
			}
			switch mode {
			case "space":
				lo, hi := bytesOf(ops[0]), bytesOf(ops[1])
				if len(lo) > 0 && len(lo) <= 4 && len(lo) == len(hi) {
					m.space = append(m.space, cmapSpace{len(lo), beUint(lo), beUint(hi)})
				}
			case "char":
				src := bytesOf(ops[0])
				if len(src) > 0 && len(src) <= 4 {
					m.single[uint64(len(src))<<32|uint64(beUint(src))] = utf16Text(ops[1])
				}
			case "range":
				lo, hi := bytesOf(ops[0]), bytesOf(ops[1])
				if len(lo) > 0 && len(lo) <= 4 && len(lo) == len(hi) && beUint(lo) <= beUint(hi) {
					r := cmapRange{n: len(lo), lo: beUint(lo), hi: beUint(hi)}
					if a, ok := ops[2].(pdfArray); ok {
						for _, e := range a[:min(len(a), 1<<16)] {
							r.arr = append(r.arr, utf16Text(e))
						}
					} else if s := bytesOf(ops[2]); len(s) >= 2 {
						for i := 0; i+1 < len(s); i += 2 {
							r.dst = append(r.dst, uint16(s[i])<<8|uint16(s[i+1]))
						}
					}
					m.ranges = append(m.ranges, r)
				}
			}
			ops = ops[:0]
			continue
		}
		switch kw {
		case "begincodespacerange":
			mode = "space"
		case "beginbfchar":
			mode = "char"
		case "beginbfrange":
			mode = "range"
		case "endcodespacerange", "endbfchar", "endbfrange":
			mode = ""
		}
		ops = ops[:0]
	}
	return m
}

func bytesOf(o any) []byte {
	s, _ := o.(pdfString)
	return s
}

func beUint(b []byte) uint32 {
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v
}

// utf16Text decodes a bf destination: UTF-16BE bytes, or a glyph name.
func utf16Text(o any) string {
	s := bytesOf(o)
	if len(s) == 0 {
		if n, ok := o.(pdfName); ok && n == "space" {
			return " "
		}
		return ""
	}
	if len(s)%2 == 1 {
		return string(charmap.ISO8859_1.DecodeByte(s[0])) // a one-byte destination, as some producers write
	}
	u := make([]uint16, len(s)/2)
	for i := range u {
		u[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
	}
	return string(utf16.Decode(u))
}

// codeLen returns the length of the code starting at s[0] per the
// codespace ranges, or 0 when none matches.
func (m *pdfCMap) codeLen(s []byte) int {
	for n := 1; n <= 4 && n <= len(s); n++ {
		v := beUint(s[:n])
		for _, sp := range m.space {
			if sp.n == n && v >= sp.lo && v <= sp.hi {
				return n
			}
		}
	}
	return 0
}

// lookup returns the text of a code of n bytes.
func (m *pdfCMap) lookup(code uint32, n int) (string, bool) {
	if s, ok := m.single[uint64(n)<<32|uint64(code)]; ok {
		return s, true
	}
	for _, r := range m.ranges {
		if r.n != n || code < r.lo || code > r.hi {
			continue
		}
		off := code - r.lo
		if r.arr != nil {
			if int(off) < len(r.arr) {
				return r.arr[off], true
			}
			return "", false
		}
		if len(r.dst) == 0 {
			return "", false
		}
		u := append([]uint16(nil), r.dst...)
		u[len(u)-1] += uint16(off)
		return string(utf16.Decode(u)), true
	}
	return "", false
}

// each calls fn with the text, width (1/1000 em) and single-byte-space
// flag of every code in s.
func (f *pdfFont) each(s []byte, fn func(text string, w float64, space bool)) {
	for i := 0; i < len(s); {
		n := 1
		if f.twoByte {
			n = 2
		}
		if f.toUnicode != nil && len(f.toUnicode.space) > 0 {
			if k := f.toUnicode.codeLen(s[i:]); k > 0 {
				n = k
			}
		}
		n = min(n, len(s)-i)
		code := beUint(s[i : i+n])
		i += n
		text, ok := "", false
		if f.toUnicode != nil {
			text, ok = f.toUnicode.lookup(code, n)
		}
		switch {
		case ok:
		case f.ucs2:
			text = string(rune(code))
		case !f.twoByte && code < 256 && f.enc[code] != 0:
			text = string(f.enc[code])
		}
		w := f.dw
		if f.twoByte {
			if cw, ok := f.cidW[int(code)]; ok {
				w = cw
			}
		} else if k := int(code) - f.firstChar; k >= 0 && k < len(f.widths) && f.widths[k] > 0 {
			w = f.widths[k]
		}
		fn(text, w, n == 1 && code == 32)
	}
}
