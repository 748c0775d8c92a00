package mailauth

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
)

// blitiri.com.ar/go/spf evaluates a record term by term and stops at the first
// match, so a syntax error after it goes unseen; it also checks little of the
// domain-spec syntax. RFC 7208 section 4.6 wants the whole record checked first:
// "If there are any syntax errors anywhere in the record, check_host() returns
// immediately with the result permerror". spfSyntax is that check, written from the
// ABNF of RFC 7208 section 12; it is applied to every SPF record the library reads
// (through the resolver), so an included or redirected record is checked when, and
// only when, it is evaluated.

// syntaxTracker is the resolver of one SPF check: it passes lookups through and
// remembers the first SPF record with a syntax error.
type syntaxTracker struct {
	*Resolver
	mu  sync.Mutex
	bad string
}

func (t *syntaxTracker) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := t.Resolver.LookupTXT(ctx, name)
	for _, txt := range txts {
		if !isSPFRecord(txt) {
			continue
		}
		if serr := spfSyntax(txt); serr != nil {
			t.mu.Lock()
			if t.bad == "" {
				t.bad = fmt.Sprintf("SPF record of %s: %v", strings.TrimSuffix(name, "."), serr)
			}
			t.mu.Unlock()
		}
	}
	return txts, err
}

func (t *syntaxTracker) syntaxError() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bad
}

// isSPFRecord: "v=spf1" (any case) followed by a space or the end (section 4.5).
func isSPFRecord(txt string) bool {
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") {
		return false
	}
	return len(txt) == 6 || txt[6] == ' '
}

// spfSyntax checks a whole SPF record (section 12 of RFC 7208).
func spfSyntax(rec string) error {
	for i := 0; i < len(rec); i++ {
		if c := rec[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("character 0x%02x at %d", c, i)
		}
	}
	seen := map[string]bool{}
	for _, term := range strings.Split(rec[6:], " ") {
		if term == "" {
			continue
		}
		if err := spfTerm(term, seen); err != nil {
			return fmt.Errorf("%q: %w", term, err)
		}
	}
	return nil
}

func spfTerm(term string, seen map[string]bool) error {
	// A modifier is name "=" …, with name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
	if eq := strings.IndexByte(term, '='); eq > 0 && strings.IndexAny(term[:eq], ":/") < 0 {
		name := strings.ToLower(term[:eq])
		if !isAlpha(name[0]) {
			return fmt.Errorf("modifier name must start with a letter")
		}
		for i := 1; i < len(name); i++ {
			if c := name[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
				return fmt.Errorf("bad modifier name")
			}
		}
		val := term[eq+1:]
		switch name {
		case "redirect", "exp":
			if seen[name] {
				return fmt.Errorf("%s= given twice", name)
			}
			seen[name] = true
			return domainSpec(val)
		}
		return macroString(val)
	}
	if term[0] == '+' || term[0] == '-' || term[0] == '~' || term[0] == '?' {
		term = term[1:]
	}
	name, arg, hasArg := strings.Cut(term, ":")
	if !hasArg {
		if i := strings.IndexByte(term, '/'); i >= 0 {
			name, arg = term[:i], term[i:]
		}
	}
	switch strings.ToLower(name) {
	case "all":
		if hasArg || arg != "" {
			return fmt.Errorf("all takes no argument")
		}
		return nil
	case "include", "exists":
		if !hasArg {
			return fmt.Errorf("%s needs a domain", name)
		}
		return domainSpec(arg)
	case "ptr":
		if !hasArg && arg != "" {
			return fmt.Errorf("ptr takes no CIDR length")
		}
		if hasArg {
			return domainSpec(arg)
		}
		return nil
	case "a", "mx":
		spec, err := stripDualCIDR(arg)
		if err != nil {
			return err
		}
		if hasArg {
			return domainSpec(spec)
		}
		if spec != "" {
			return fmt.Errorf("bad CIDR length")
		}
		return nil
	case "ip4":
		if !hasArg {
			return fmt.Errorf("ip4 needs a network")
		}
		addr, cidr, hasCIDR := strings.Cut(arg, "/")
		if !ip4Network(addr) {
			return fmt.Errorf("bad IPv4 network")
		}
		if hasCIDR && !cidrLength(cidr, 32) {
			return fmt.Errorf("bad IPv4 CIDR length")
		}
		return nil
	case "ip6":
		if !hasArg {
			return fmt.Errorf("ip6 needs a network")
		}
		addr, cidr, hasCIDR := strings.Cut(arg, "/")
		if ip := net.ParseIP(addr); ip == nil || !strings.Contains(addr, ":") {
			return fmt.Errorf("bad IPv6 network")
		}
		if hasCIDR && !cidrLength(cidr, 128) {
			return fmt.Errorf("bad IPv6 CIDR length")
		}
		return nil
	}
	return fmt.Errorf("unknown mechanism")
}

// stripDualCIDR removes a trailing dual-cidr-length ([ "/" ip4 ] [ "//" ip6 ]).
func stripDualCIDR(s string) (string, error) {
	if i := strings.LastIndex(s, "//"); i >= 0 && allDigitsStr(s[i+2:]) {
		if !cidrLength(s[i+2:], 128) {
			return "", fmt.Errorf("bad IPv6 CIDR length")
		}
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 && allDigitsStr(s[i+1:]) {
		if !cidrLength(s[i+1:], 32) {
			return "", fmt.Errorf("bad IPv4 CIDR length")
		}
		s = s[:i]
	}
	return s, nil
}

// cidrLength: "0" / %x31-39 0*2DIGIT, at most max.
func cidrLength(s string, max int) bool {
	if s == "" || !allDigitsStr(s) || (len(s) > 1 && s[0] == '0') {
		return false
	}
	n, err := strconv.Atoi(s)
	return err == nil && n <= max
}

// ip4Network: four qnums without leading zeros.
func ip4Network(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if !cidrLength(p, 255) {
			return false
		}
	}
	return true
}

// domainSpec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand.
func domainSpec(s string) error {
	if s == "" {
		return fmt.Errorf("empty domain")
	}
	if err := macroString(s); err != nil {
		return err
	}
	if strings.HasSuffix(s, "}") { // ends with a macro-expand
		if i := strings.LastIndex(s, "%{"); i >= 0 && !strings.Contains(s[i:], "%%") {
			return nil
		}
	}
	if len(s) >= 2 && (strings.HasSuffix(s, "%%") || strings.HasSuffix(s, "%_") || strings.HasSuffix(s, "%-")) {
		return nil
	}
	t := strings.TrimSuffix(s, ".")
	i := strings.LastIndexByte(t, '.')
	if i < 0 {
		return fmt.Errorf("domain has no top-level label")
	}
	if !toplabel(t[i+1:]) {
		return fmt.Errorf("bad top-level label %q", t[i+1:])
	}
	return nil
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
func toplabel(l string) bool {
	if l == "" {
		return false
	}
	alpha := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case isAlpha(c):
			alpha = true
		case isDigit(c):
		case c == '-':
			if i == 0 || i == len(l)-1 {
				return false
			}
			alpha = true // the second form: digits around a hyphen
		default:
			return false
		}
	}
	return alpha
}

// macroString = *( macro-expand / macro-literal ), macro-literal = %x21-24 / %x26-7E.
func macroString(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if c < 0x21 || c > 0x7e {
				return fmt.Errorf("character 0x%02x", c)
			}
			continue
		}
		if i+1 >= len(s) {
			return fmt.Errorf("lone %%")
		}
		switch s[i+1] {
		case '%', '_', '-':
			i++
			continue
		case '{':
		default:
			return fmt.Errorf("bad macro %%%c", s[i+1])
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return fmt.Errorf("unterminated macro")
		}
		body := s[i+2 : i+end]
		if body == "" || !strings.ContainsRune("slodiphvSLODIPHV", rune(body[0])) {
			return fmt.Errorf("bad macro letter")
		}
		j := 1
		for j < len(body) && isDigit(body[j]) {
			j++
		}
		if j < len(body) && (body[j] == 'r' || body[j] == 'R') {
			j++
		}
		for ; j < len(body); j++ {
			if !strings.ContainsRune(".-+,/_=", rune(body[j])) {
				return fmt.Errorf("bad macro delimiter")
			}
		}
		i += end
	}
	return nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigitsStr(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
