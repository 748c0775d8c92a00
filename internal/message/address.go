package message

import (
	"strings"
)

// addressList parses an address-list field (RFC 5322 section 3.4) with
// net/mail and, when that rejects it, with a tolerant splitter. Elements with
// no recognisable addr-spec are kept with Address "" and the raw text as
// Name, and reported as bad-address with the field name as detail.
func (p *parser) addressList(id fieldID, v []byte) []Address {
	s := text(v)
	if s == "" {
		return nil
	}
	if list, ok := simpleAddressList(s); ok {
		return list
	}
	if list, err := p.addrs.ParseList(s); err == nil {
		out := make([]Address, 0, len(list))
		for _, a := range list {
			name := fixC1(a.Name)
			if strings.Contains(name, "=?") {
				name = p.decodeWords(name, "")
			}
			out = append(out, Address{Name: name, Address: normAddr(a.Address)})
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	var out []Address
	bad := false
	els := splitAddressList(s)
	for i := 0; i < len(els); i++ {
		el := els[i]
		// An unquoted comma in a display name ("Prime, Amazon <a@x>")
		// splits it; give the orphan words back to the next element.
		for i+1 < len(els) && !strings.ContainsAny(el, "@<\"") && strings.IndexByte(els[i+1], '<') > 0 {
			i++
			el += ", " + els[i]
			bad = true
		}
		a, ok := p.looseAddress(el)
		if !ok {
			bad = true
		}
		if a.Name != "" || a.Address != "" {
			out = append(out, a)
		}
	}
	if bad {
		p.defect(DefectBadAddress, "", id.String())
	}
	return out
}

// normAddr lowercases the domain of an addr-spec and keeps the local part.
func normAddr(a string) string {
	at := strings.LastIndexByte(a, '@')
	if at < 0 {
		return a
	}
	dom := a[at+1:]
	for i := 0; i < len(dom); i++ {
		if c := dom[i]; 'A' <= c && c <= 'Z' {
			return a[:at+1] + strings.ToLower(dom)
		}
	}
	return a
}

// splitAddressList splits at commas outside quotes, angle brackets, comments
// and domain literals. A group ("name: a, b;") is flattened into its members.
func splitAddressList(s string) []string {
	var out []string
	depth, angle, square := 0, false, false
	quoted := false
	start := 0
	cut := func(end int) {
		el := strings.TrimSpace(s[start:end])
		if el != "" {
			out = append(out, el)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '\\':
			i++
		case c == '"':
			quoted = true
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case c == '[' && !angle:
			square = true
		case c == ']':
			square = false
		case angle || square:
		case c == ',':
			cut(i)
			start = i + 1
		case c == ':':
			// group display name: "name:" before any address in this element
			if !strings.ContainsAny(s[start:i], "@<") {
				start = i + 1
			}
		case c == ';':
			cut(i)
			start = i + 1
		}
	}
	cut(len(s))
	return out
}

// looseAddress extracts an address from one list element that net/mail
// rejected: the last <...> if any, else a word holding '@'.
func (p *parser) looseAddress(el string) (Address, bool) {
	var name, addr string
	if lt := strings.LastIndexByte(el, '<'); lt >= 0 {
		gt := strings.IndexByte(el[lt:], '>')
		if gt < 0 {
			addr = el[lt+1:]
		} else {
			addr = el[lt+1 : lt+gt]
		}
		name = strings.TrimSpace(el[:lt])
		if gt >= 0 && name == "" {
			name = strings.TrimSpace(el[lt+gt+1:])
		}
		// <@route,@route:user@domain> (RFC 5322 section 4.4 obs-route)
		if c := strings.LastIndexByte(addr, ':'); c >= 0 && strings.HasPrefix(addr, "@") {
			addr = addr[c+1:]
		}
	} else {
		rest := el
		for f := range strings.FieldsSeq(el) {
			w := strings.Trim(f, "\"'()[],;")
			if strings.Contains(w, "@") && addr == "" {
				addr = w
				rest = strings.Replace(rest, f, "", 1)
			}
		}
		name = strings.TrimSpace(rest)
	}
	addr = strings.TrimSpace(addr)
	name = unquoteName(name)
	if strings.Contains(name, "=?") {
		name = p.decodeWords(name, "")
	}
	if !plausibleAddr(addr) {
		raw := el
		if strings.Contains(raw, "=?") {
			raw = p.decodeWords(raw, "")
		}
		return Address{Name: raw}, false
	}
	return Address{Name: name, Address: normAddr(addr)}, true
}

// unquoteName strips one level of quotes or comment parentheses around a
// display name and its backslash escapes.
func unquoteName(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '(' && s[len(s)-1] == ')' ||
		s[0] == '\'' && s[len(s)-1] == '\'') {
		s = s[1 : len(s)-1]
	}
	if strings.IndexByte(s, '\\') >= 0 {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			b.WriteByte(s[i])
		}
		s = b.String()
	}
	return strings.TrimSpace(s)
}

// plausibleAddr accepts local@domain with both sides non-empty and no blanks
// or angle brackets.
func plausibleAddr(a string) bool {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return false
	}
	return !strings.ContainsAny(a, " \t<>,")
}

// simpleAddressList parses the plain lists that make up nearly all mail
// (addr-spec, "Name <addr-spec>", "\"Quoted\" <addr-spec>", ASCII only, no
// comments, groups, escapes or encoded words) without net/mail, which
// allocates heavily. It returns false for anything else, and for what it
// accepts it gives exactly what net/mail would.
func simpleAddressList(s string) ([]Address, bool) {
	n := 1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ',':
			n++
		case c >= 0x80, c < ' ' && c != '\t', c == '(', c == ')', c == '\\', c == ':', c == ';', c == '[', c == ']':
			return nil, false
		case c == '=' && i+1 < len(s) && s[i+1] == '?':
			return nil, false
		}
	}
	out := make([]Address, 0, n)
	for len(s) > 0 {
		var name, addr string
		s = trimLeftSet(s, " \t")
		if s == "" {
			break
		}
		if s[0] == ',' {
			s = s[1:]
			continue
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, false
			}
			name, s = s[1:1+end], trimLeftSet(s[2+end:], " \t")
			if s == "" || s[0] != '<' {
				return nil, false
			}
		}
		if s[0] == '<' {
			end := strings.IndexByte(s, '>')
			if end < 0 {
				return nil, false
			}
			addr, s = s[1:end], s[end+1:]
		} else {
			// words up to '<' are the display name, else the element is an addr-spec
			end := strings.IndexAny(s, ",<\"")
			if end < 0 {
				end = len(s)
			}
			if end < len(s) && s[end] == '<' {
				if name != "" {
					return nil, false
				}
				name = trimRightSet(s[:end], " \t")
				if strings.Contains(name, "  ") || strings.IndexByte(name, '\t') >= 0 {
					name = strings.Join(strings.Fields(name), " ")
				}
				if !simplePhrase(name) {
					return nil, false
				}
				s = s[end:]
				gt := strings.IndexByte(s, '>')
				if gt < 0 {
					return nil, false
				}
				addr, s = s[1:gt], s[gt+1:]
			} else if end < len(s) && s[end] == '"' {
				return nil, false
			} else {
				addr, s = trimRightSet(s[:end], " \t"), s[end:]
			}
		}
		if !simpleAddrSpec(addr) {
			return nil, false
		}
		s = trimLeftSet(s, " \t")
		if s != "" && s[0] != ',' {
			return nil, false
		}
		out = append(out, Address{Name: name, Address: normAddr(addr)})
	}
	return out, true
}

// isAtext reports RFC 5322 atext (ASCII).
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '/', '=', '?', '^', '_', '`', '{', '|', '}', '~':
		return true
	}
	return false
}

// simplePhrase accepts display-name words of atext and dots (obs-phrase).
func simplePhrase(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAtext(c) && c != '.' && c != ' ' {
			return false
		}
	}
	return true
}

// simpleAddrSpec accepts dot-atom "@" dot-atom.
func simpleAddrSpec(a string) bool {
	at := strings.IndexByte(a, '@')
	return at > 0 && dotAtom(a[:at]) && dotAtom(a[at+1:])
}

func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAtext(c) && c != '.' {
			return false
		}
	}
	return true
}
