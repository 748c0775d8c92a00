package extract

import (
	"fmt"
	"strconv"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// rtfMaxDepth bounds group nesting; deeper input is reported corrupt.
const rtfMaxDepth = 1000

// rtfState is the part of the RTF state that groups save and restore.
type rtfState struct {
	skip bool // inside a destination whose text is not shown
	uc   int  // fallback characters after \uN (RTF 1.5+)
	font int  // current \fN
	tbl  bool // inside \fonttbl
}

// rtf adds the text of an RTF document (RTF 1.9.1): control words are
// dropped, \par, \line, \row and \sect become line breaks, \tab and \cell
// blanks; \'hh bytes are decoded with the code page of the current font
// (\fcharset in the font table) or of \ansicpg, \uN is Unicode with its
// \ucN fallback skipped. Destinations that hold no body text (font, colour
// and style tables, pictures, objects, field instructions, document info,
// index entries,
// \* destinations) are skipped; \binN data is skipped.
func (x *extractor) rtf(b []byte) error {
	var (
		st      = rtfState{uc: 1}
		stack   []rtfState
		pending []byte // \'hh bytes awaiting decoding (double-byte code pages)
		skipN   int    // fallback characters still to skip after \uN
		cpg     = 1252
		fonts   = map[int]int{} // font number → code page
		tblFont int
		high    rune // high surrogate from a previous \uN
	)
	flush := func() {
		if len(pending) == 0 {
			return
		}
		cp := cpg
		if c, ok := fonts[st.font]; ok && c != 0 {
			cp = c
		}
		s, err := codePage(cp).NewDecoder().Bytes(pending)
		if err != nil {
			s, _ = charmap.Windows1252.NewDecoder().Bytes(pending)
		}
		x.out.Write(s)
		pending = pending[:0]
	}
	emit := func(r rune) {
		if st.skip || st.tbl {
			return
		}
		flush()
		x.out.rune(r, false)
	}
	for i := 0; i < len(b); {
		if x.out.full() {
			return nil
		}
		if err := x.alive(); err != nil {
			return err
		}
		c := b[i]
		switch c {
		case '{':
			i++
			flush()
			if len(stack) >= rtfMaxDepth {
				return fmt.Errorf("rtf: groups nested deeper than %d: %w", rtfMaxDepth, ErrCorrupt)
			}
			stack = append(stack, st)
			skipN = 0
			if i+1 < len(b) && b[i] == '\\' && b[i+1] == '*' {
				st.skip = true // an ignorable destination: \*\name
			}
			continue
		case '}':
			i++
			flush()
			if len(stack) > 0 {
				st = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			}
			skipN = 0
			continue
		case '\r', '\n':
			i++
			continue
		case '\\':
		default:
			i++
			if skipN > 0 {
				skipN--
				continue
			}
			if c >= 0x80 {
				if !st.skip && !st.tbl {
					pending = append(pending, c)
				}
				continue
			}
			if c == '\t' {
				emit(' ')
				continue
			}
			emit(rune(c))
			continue
		}
		// A control symbol or control word.
		i++
		if i >= len(b) {
			break
		}
		c = b[i]
		if !isASCIILetter(c) {
			i++
			switch c {
			case '\'':
				if i+2 <= len(b) {
					if v, err := strconv.ParseUint(string(b[i:i+2]), 16, 8); err == nil {
						i += 2
						if skipN > 0 {
							skipN--
						} else if !st.skip && !st.tbl {
							pending = append(pending, byte(v))
						}
					}
				}
			case '\\', '{', '}':
				if skipN > 0 {
					skipN--
				} else {
					emit(rune(c))
				}
			case '~':
				emit(' ')
			case '_':
				emit('-')
			case '\n', '\r':
				emit('\n')
			}
			continue
		}
		start := i
		for i < len(b) && isASCIILetter(b[i]) && i-start < 32 {
			i++
		}
		word := string(b[start:i])
		num, hasNum := 0, false
		if i < len(b) && (b[i] == '-' || (b[i] >= '0' && b[i] <= '9')) {
			j := i
			if b[i] == '-' {
				i++
			}
			for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-j < 11 {
				i++
			}
			if n, err := strconv.Atoi(string(b[j:i])); err == nil {
				num, hasNum = n, true
			}
		}
		if i < len(b) && b[i] == ' ' {
			i++ // the delimiter space belongs to the control word
		}
		if word != "u" && word != "bin" {
			skipN = 0
		}
		switch word {
		case "par", "line", "row", "sect", "page", "outlinelevel":
			if !st.skip && !st.tbl {
				flush()
				x.out.newline()
			}
		case "tab", "cell", "nestcell":
			emit(' ')
		case "emdash":
			emit('—')
		case "endash":
			emit('–')
		case "bullet":
			emit('•')
		case "lquote":
			emit('‘')
		case "rquote":
			emit('’')
		case "ldblquote":
			emit('“')
		case "rdblquote":
			emit('”')
		case "u":
			if hasNum {
				r := rune(num)
				if r < 0 {
					r += 65536
				}
				switch {
				case r >= 0xD800 && r < 0xDC00:
					high = r
				case r >= 0xDC00 && r < 0xE000 && high != 0:
					emit((high-0xD800)<<10 + (r - 0xDC00) + 0x10000)
					high = 0
				default:
					emit(r)
				}
				skipN = st.uc
			}
		case "uc":
			if hasNum && num >= 0 && num < 10 {
				st.uc = num
			}
		case "ansicpg":
			if hasNum {
				cpg = num
			}
		case "f":
			if hasNum {
				flush()
				if st.tbl {
					tblFont = num
				} else {
					st.font = num
				}
			}
		case "fcharset":
			if hasNum && st.tbl {
				fonts[tblFont] = charsetCodePage(num, cpg)
			}
		case "cpg":
			if hasNum && st.tbl && num > 0 {
				fonts[tblFont] = num
			}
		case "fonttbl":
			st.tbl = true
		case "bin":
			if hasNum && num > 0 {
				i = min(len(b), i+num)
			}
		case "colortbl", "stylesheet", "info", "pict", "object", "fldinst", "themedata", "datastore",
			"xmlnstbl", "listtable", "listoverridetable", "rsidtbl", "generator", "latentstyles",
			"mmathPr", "pgdsctbl", "revtbl", "filetbl", "colorschememapping", "bkmkstart", "bkmkend",
			"nonshppict", "shpinst", "sp", "sn", "sv", "xe", "tc", "objdata", "blipuid", "passwordhash",
			"wgrffmtfilter", "listtext", "pntext", "pntxta", "pntxtb", "protusertbl", "docvar", "userprops":
			st.skip = true
		}
	}
	flush()
	return nil
}

// charsetCodePage maps an RTF \fcharset value to a Windows code page.
func charsetCodePage(cs, ansi int) int {
	switch cs {
	case 0, 1:
		return ansi
	case 77:
		return 10000
	case 128:
		return 932
	case 129:
		return 949
	case 134:
		return 936
	case 136:
		return 950
	case 161:
		return 1253
	case 162:
		return 1254
	case 163:
		return 1258
	case 177:
		return 1255
	case 178:
		return 1256
	case 186:
		return 1257
	case 204:
		return 1251
	case 222:
		return 874
	case 238:
		return 1250
	case 255:
		return 437
	}
	return ansi
}

// codePage returns the golang.org/x/text encoding of a Windows code page;
// unknown ones read as windows-1252.
func codePage(cp int) encoding.Encoding {
	switch cp {
	case 437:
		return charmap.CodePage437
	case 850:
		return charmap.CodePage850
	case 852:
		return charmap.CodePage852
	case 866:
		return charmap.CodePage866
	case 874:
		return charmap.Windows874
	case 932:
		return japanese.ShiftJIS
	case 936:
		return simplifiedchinese.GBK
	case 949:
		return korean.EUCKR
	case 950:
		return traditionalchinese.Big5
	case 1250:
		return charmap.Windows1250
	case 1251:
		return charmap.Windows1251
	case 1253:
		return charmap.Windows1253
	case 1254:
		return charmap.Windows1254
	case 1255:
		return charmap.Windows1255
	case 1256:
		return charmap.Windows1256
	case 1257:
		return charmap.Windows1257
	case 1258:
		return charmap.Windows1258
	case 10000:
		return charmap.Macintosh
	case 28591:
		return charmap.ISO8859_1
	case 28605:
		return charmap.ISO8859_15
	}
	return charmap.Windows1252
}
