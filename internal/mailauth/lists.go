package mailauth

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ListEntry is one parsed allow/block list entry.
type ListEntry struct {
	// Text is the entry as configured.
	Text string
	// Exactly one of the following is set.
	Prefix  netip.Prefix // an IP address (as a /32 or /128) or a CIDR block
	Address string       // a mail address, lower case: matches that address only
	Domain  string       // a domain, lower case: matches it and every subdomain
}

// ParseListEntry parses a list entry: an IPv4 or IPv6 address ("192.0.2.7"), a CIDR
// block ("192.0.2.0/24", "2001:db8::/32"), a mail address ("jefe@example.org") or a
// domain ("example.org", which also matches "mx.example.org"; a leading "@" or "." is
// accepted and ignored). Matching is case-insensitive.
func ParseListEntry(s string) (ListEntry, error) {
	text := strings.TrimSpace(s)
	e := ListEntry{Text: text}
	if text == "" {
		return e, errors.New("empty list entry")
	}
	if strings.Contains(text, "/") {
		p, err := netip.ParsePrefix(text)
		if err != nil {
			return e, fmt.Errorf("list entry %q: bad CIDR block: %w", text, err)
		}
		e.Prefix = p.Masked()
		if p.Addr().Is4In6() {
			return e, fmt.Errorf("list entry %q: IPv4-mapped IPv6 block; write it as IPv4", text)
		}
		return e, nil
	}
	if a, err := netip.ParseAddr(text); err == nil {
		a = a.Unmap()
		e.Prefix = netip.PrefixFrom(a, a.BitLen())
		return e, nil
	}
	lower := strings.ToLower(text)
	if i := strings.LastIndexByte(lower, '@'); i > 0 {
		local, dom := lower[:i], lower[i+1:]
		if strings.ContainsAny(local, " \t<>") {
			return e, fmt.Errorf("list entry %q: bad local part", text)
		}
		if err := checkDomain(dom); err != nil {
			return e, fmt.Errorf("list entry %q: %w", text, err)
		}
		e.Address = local + "@" + dom
		return e, nil
	}
	dom := strings.TrimPrefix(strings.TrimPrefix(lower, "@"), ".")
	if err := checkDomain(dom); err != nil {
		return e, fmt.Errorf("list entry %q: %w", text, err)
	}
	e.Domain = strings.TrimSuffix(dom, ".")
	return e, nil
}

// checkDomain accepts LDH labels (and "_" and non-ASCII, for IDNs in UTF-8) of 1 to
// 63 octets.
func checkDomain(d string) error {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 {
		return errors.New("bad domain")
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("bad domain label %q", label)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r > 0x7f) {
				return fmt.Errorf("bad character %q in domain", r)
			}
		}
	}
	return nil
}

// Lists are the local allow and block lists.
type Lists struct {
	allow, block []ListEntry
}

// NewLists parses the entries of both lists (see ParseListEntry); it reports every
// bad entry.
func NewLists(allow, block []string) (*Lists, error) {
	l := &Lists{}
	var errs []error
	for _, s := range allow {
		e, err := ParseListEntry(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("allow: %w", err))
			continue
		}
		l.allow = append(l.allow, e)
	}
	for _, s := range block {
		e, err := ParseListEntry(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("block: %w", err))
			continue
		}
		l.block = append(l.block, e)
	}
	return l, errors.Join(errs...)
}

// Check matches the client address, the envelope sender and the RFC5322.From
// addresses against the lists. A block entry wins over an allow entry: a gateway
// should not let an allow entry for a whole domain open a door that a block entry
// closed for one address.
func (l *Lists) Check(ip net.IP, mailFrom string, fromAddrs []string) ListResult {
	if l == nil {
		return ListResult{}
	}
	if r, ok := match(l.block, ip, mailFrom, fromAddrs); ok {
		r.Verdict = ListBlock
		return r
	}
	if r, ok := match(l.allow, ip, mailFrom, fromAddrs); ok {
		r.Verdict = ListAllow
		return r
	}
	return ListResult{}
}

func match(entries []ListEntry, ip net.IP, mailFrom string, fromAddrs []string) (ListResult, bool) {
	addr, hasIP := netip.AddrFromSlice(ip)
	addr = addr.Unmap()
	type subject struct{ what, addr string }
	subjects := []subject{}
	if mf := strings.ToLower(strings.Trim(strings.TrimSpace(mailFrom), "<>")); mf != "" {
		subjects = append(subjects, subject{"mailfrom", mf})
	}
	for _, a := range fromAddrs {
		subjects = append(subjects, subject{"from", strings.ToLower(a)})
	}
	for _, e := range entries {
		switch {
		case e.Prefix.IsValid():
			if hasIP && e.Prefix.Contains(addr) {
				return ListResult{Entry: e.Text, Matched: "ip"}, true
			}
		case e.Address != "":
			for _, s := range subjects {
				if s.addr == e.Address {
					return ListResult{Entry: e.Text, Matched: s.what}, true
				}
			}
		case e.Domain != "":
			for _, s := range subjects {
				if d := addressDomain(s.addr); d == e.Domain || strings.HasSuffix(d, "."+e.Domain) {
					return ListResult{Entry: e.Text, Matched: s.what}, true
				}
			}
		}
	}
	return ListResult{}, false
}
