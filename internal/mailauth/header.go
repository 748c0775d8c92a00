package mailauth

import (
	"bytes"
	"errors"
	"net/mail"
	"strings"
)

// headerField is one raw header field: its name and its value with folding kept.
type headerField struct {
	Name  string
	Value string
}

// splitHeader returns the header fields of a raw RFC 5322 message, in order. Lines
// may end in CRLF or LF; a line that is neither a field nor a continuation is
// skipped, as MTAs do. The header ends at the first empty line or the end of msg.
func splitHeader(msg []byte) []headerField {
	var fields []headerField
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i+1], msg[i+1:]
		} else {
			msg = nil
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			break // end of header
		}
		if trimmed[0] == ' ' || trimmed[0] == '\t' {
			if n := len(fields); n > 0 {
				fields[n-1].Value += "\r\n" + string(trimmed)
			}
			continue
		}
		name, value, ok := bytes.Cut(trimmed, []byte(":"))
		name = bytes.TrimRight(name, " \t")
		if !ok || !validFieldName(name) {
			continue
		}
		fields = append(fields, headerField{Name: string(name), Value: string(value)})
	}
	return fields
}

// validFieldName: printable US-ASCII except ":" (RFC 5322 section 2.2).
func validFieldName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// unfold removes folding whitespace line breaks and trims the value.
func unfold(v string) string {
	v = strings.ReplaceAll(v, "\r\n", "")
	v = strings.ReplaceAll(v, "\n", "")
	return strings.TrimSpace(v)
}

// parseTags parses a DKIM tag-list (RFC 6376 section 3.2): "tag=value; tag=value".
// Whitespace around tags and values is removed, and inside values too, since no tag
// used here may contain any. A repeated tag is an error, as the RFC requires.
func parseTags(s string) (map[string]string, error) {
	tags := map[string]string{}
	for spec := range strings.SplitSeq(s, ";") {
		if strings.TrimSpace(spec) == "" {
			continue
		}
		name, value, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, errors.New("tag without '='")
		}
		name = strings.TrimSpace(unfold(name))
		if name == "" {
			return nil, errors.New("empty tag name")
		}
		if _, dup := tags[name]; dup {
			return nil, errors.New("duplicate tag " + name)
		}
		tags[name] = strings.Join(strings.Fields(value), "")
	}
	return tags, nil
}

// fromDomains returns the domains of the addresses in the RFC5322.From fields of a
// message (lower case, without a final dot). DMARC needs exactly one (RFC 7489
// section 6.6.1); the caller decides what to do with none or several.
func fromDomains(fields []headerField) (addrs, domains []string) {
	for _, f := range fields {
		if !strings.EqualFold(f.Name, "From") {
			continue
		}
		v := unfold(f.Value)
		list, err := mail.ParseAddressList(v)
		if err != nil {
			// Lenient fallback for addresses net/mail refuses (e.g. unquoted
			// specials in the display name): take the last "@domain" in the value.
			if a := lastAddress(v); a != "" {
				list = []*mail.Address{{Address: a}}
			}
		}
		for _, a := range list {
			addrs = append(addrs, a.Address)
			domains = append(domains, addressDomain(a.Address))
		}
	}
	return addrs, domains
}

// lastAddress extracts the address in the last <...> of v, or v's last
// whitespace-separated word containing '@'.
func lastAddress(v string) string {
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
	}
	words := strings.Fields(v)
	for i := len(words) - 1; i >= 0; i-- {
		if strings.Contains(words[i], "@") {
			return strings.Trim(words[i], "<>,;\"")
		}
	}
	return ""
}

// addressDomain is the lower-case domain of an address, without a final dot; "" when
// there is none.
func addressDomain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return normDomain(addr[i+1:])
}

func normDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}
