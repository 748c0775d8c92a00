package message

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// param is one parameter of a Content-Type or Content-Disposition value.
type param struct {
	name    string // lowercased, without the RFC 2231 "*N*" suffix
	section int    // RFC 2231 continuation number, -1 if none
	ext     bool   // RFC 2231 extended value (charset'lang'%XX)
	value   string // unquoted
}

func isTokenChar(c byte) bool {
	if c <= ' ' || c >= 127 {
		return false
	}
	return strings.IndexByte(`()<>@,;:\"/[]?=`, c) < 0
}

// splitParams splits a structured value "token *(; param)" (RFC 2045 section
// 5.1, RFC 2183) tolerantly: it returns the leading value as written (without
// blanks), whether junk followed it before the first ';', and the parameters
// (appended to ps). Unquoted values may contain blanks; a missing closing
// quote takes the rest of the field; parameters without '=' are dropped.
// bad reports anything that is not RFC syntax.
func splitParams(s string, ps []param) (value string, junk bool, out []param, bad bool) {
	i := 0
	for i < len(s) && (isTokenChar(s[i]) || s[i] == '/') {
		i++
	}
	value = s[:i]
	rest := trimLeftSet(s[i:], " \t")
	if rest != "" && rest[0] != ';' {
		junk = true
		if k := strings.IndexByte(rest, ';'); k >= 0 && !strings.Contains(rest[:k], "=") {
			rest = rest[k:]
		} else {
			rest = ";" + rest
		}
	}
	out = ps
	for len(rest) > 0 {
		// rest starts with ';' (or with the junk that was made a parameter).
		rest = trimLeftSet(rest[1:], " \t;")
		if rest == "" {
			break
		}
		eq := strings.IndexAny(rest, "=;")
		if eq < 0 || rest[eq] == ';' {
			bad = true
			if eq < 0 {
				break
			}
			rest = rest[eq:]
			continue
		}
		name := lowerASCII(trimRightSet(rest[:eq], " \t"))
		rest = trimLeftSet(rest[eq+1:], " \t")
		var v string
		if len(rest) > 0 && rest[0] == '"' {
			var b strings.Builder
			k := 1
			closed := false
			for ; k < len(rest); k++ {
				c := rest[k]
				if c == '\\' && k+1 < len(rest) {
					k++
					b.WriteByte(rest[k])
					continue
				}
				if c == '"' {
					closed = true
					k++
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				bad = true
			}
			v = b.String()
			rest = rest[k:]
			if j := strings.IndexByte(rest, ';'); j >= 0 {
				rest = rest[j:]
			} else {
				rest = ""
			}
		} else {
			j := strings.IndexByte(rest, ';')
			if j < 0 {
				j = len(rest)
			}
			v = trimRightSet(rest[:j], " \t")
			rest = rest[j:]
		}
		p := param{name: name, section: -1, value: v}
		if k := strings.IndexByte(name, '*'); k >= 0 {
			p.name = name[:k]
			suf := name[k+1:]
			if strings.HasSuffix(suf, "*") {
				p.ext = true
				suf = suf[:len(suf)-1]
			} else if suf == "" {
				p.ext = true
			}
			if suf != "" {
				n, err := strconv.Atoi(suf)
				if err != nil || n < 0 || n > 999 {
					bad = true
					continue
				}
				p.section = n
			}
		}
		if p.name == "" {
			bad = true
			continue
		}
		out = append(out, p)
	}
	return value, junk, out, bad
}

// paramValue returns parameter name of ps, assembling RFC 2231 continuations
// and decoding extended values in any charset x/text knows; an RFC 2231 form
// wins over the plain one (RFC 2231 section 4). RFC 2047 encoded words inside
// the value, which many clients write in filenames, are decoded as well.
func (p *parser) paramValue(ps []param, name, path string) string {
	plain, havePlain := "", false
	var segs [16]param
	nseg := 0
	for _, it := range ps {
		if it.name != name {
			continue
		}
		if it.section < 0 && !it.ext {
			if !havePlain {
				plain, havePlain = it.value, true
			}
			continue
		}
		if it.section < 0 {
			it.section = 0
		}
		if nseg < len(segs) {
			segs[nseg] = it
			nseg++
		}
	}
	v := plain
	if nseg > 0 {
		if s, ok := p.assemble2231(segs[:nseg], path); ok {
			v = s
		}
	}
	if strings.Contains(v, "=?") {
		v = p.decodeWords(v, path)
	}
	return noNUL(v)
}

// assemble2231 joins the sections 0..n of an RFC 2231 parameter.
func (p *parser) assemble2231(segs []param, path string) (string, bool) {
	// insertion sort by section; sections are few
	for i := 1; i < len(segs); i++ {
		for j := i; j > 0 && segs[j].section < segs[j-1].section; j-- {
			segs[j], segs[j-1] = segs[j-1], segs[j]
		}
	}
	if segs[0].section != 0 {
		return "", false
	}
	var buf []byte
	charset := ""
	encoded := false
	for i, sg := range segs {
		if sg.section != i {
			if sg.section == i-1 { // duplicate section: keep the first
				continue
			}
			break
		}
		v := sg.value
		if sg.ext {
			encoded = true
			if i == 0 {
				if a := strings.IndexByte(v, '\''); a >= 0 {
					if b := strings.IndexByte(v[a+1:], '\''); b >= 0 {
						charset = v[:a]
						v = v[a+1+b+1:]
					}
				}
			}
			buf = pctDecode(buf, v)
		} else {
			buf = append(buf, v...)
		}
	}
	if !encoded || utf8Label(normCharset(charset)) {
		if utf8.Valid(buf) {
			return string(buf), true
		}
		return latin(buf), true
	}
	if s, ok := convertCharset(charset, buf); ok {
		return s, true
	}
	p.defect(DefectUnknownCharset, path, normCharset(charset))
	if utf8.Valid(buf) {
		return string(buf), true
	}
	return latin(buf), true
}

// pctDecode appends the %XX-decoded v to dst; a stray '%' is kept.
func pctDecode(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' && i+2 < len(v) {
			hi, lo := unhex(v[i+1]), unhex(v[i+2])
			if hi != 0xff && lo != 0xff {
				dst = append(dst, hi<<4|lo)
				i += 2
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// trimLeftSet and trimRightSet trim the bytes of a small ASCII set without the
// per-call set construction of strings.TrimLeft.
func trimLeftSet(s, set string) string {
	for len(s) > 0 && strings.IndexByte(set, s[0]) >= 0 {
		s = s[1:]
	}
	return s
}

func trimRightSet(s, set string) string {
	for len(s) > 0 && strings.IndexByte(set, s[len(s)-1]) >= 0 {
		s = s[:len(s)-1]
	}
	return s
}

// lowerASCII lowercases s, allocating only when it has uppercase letters.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
