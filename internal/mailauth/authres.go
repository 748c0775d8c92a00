package mailauth

import (
	"strconv"
	"strings"
)

// AuthenticationResults formats r as the value of an Authentication-Results header
// field (RFC 8601) for the relayed copy of a message (the archived bytes stay as
// received). The caller writes "Authentication-Results: " before it and CRLF after
// it. The value is folded, one method per line:
//
//	mx.example.gob.mx;
//		spf=pass smtp.mailfrom=ana@example.org;
//		dkim=pass header.d=example.org header.s=sel1 header.a=rsa-sha256 header.b=Ab12Cd34;
//		dmarc=pass (p=reject dis=none) header.from=example.org
//
// Every value that came from the network is quoted when needed and stripped of
// control characters, so a hostile envelope cannot inject header lines.
func AuthenticationResults(authservID string, r Result) string {
	var b strings.Builder
	b.WriteString(token(authservID))

	method := func(name, result, comment string, props ...string) {
		b.WriteString(";\r\n\t")
		b.WriteString(name + "=" + token(result))
		if comment != "" {
			b.WriteString(" (" + comment + ")")
		}
		for i := 0; i+1 < len(props); i += 2 {
			if props[i+1] == "" {
				continue
			}
			b.WriteString(" " + props[i] + "=" + pvalue(props[i+1]))
		}
	}

	// SPF, RFC 8601 section 2.7.2.
	if r.SPF.Result != "" {
		if r.SPF.Identity == "helo" {
			method("spf", r.SPF.Result, "", "smtp.helo", strings.TrimPrefix(r.SPF.Sender, "postmaster@"))
		} else {
			method("spf", r.SPF.Result, "", "smtp.mailfrom", r.SPF.Sender)
		}
	}

	// DKIM, RFC 8601 section 2.7.1 (header.s and header.a from RFC 8601 section 2.7.1
	// and the IANA registry; header.b from RFC 6008).
	if len(r.DKIM) == 0 {
		method("dkim", DKIMNone, "")
	}
	for _, d := range r.DKIM {
		reason := ""
		if d.Result != DKIMPass {
			reason = d.Error
		}
		method("dkim", d.Result, "", "reason", reason, "header.d", d.Domain, "header.i", d.Identifier,
			"header.s", d.Selector, "header.a", d.Algorithm, "header.b", d.HeaderB)
	}

	// DMARC, RFC 7489 section 11.2; the comment follows common practice (p, sp and
	// the disposition applied).
	if r.DMARC.Result != "" {
		var comment []string
		if r.DMARC.Policy != "" {
			comment = append(comment, "p="+r.DMARC.Policy)
		}
		if r.DMARC.SubdomainPolicy != "" {
			comment = append(comment, "sp="+r.DMARC.SubdomainPolicy)
		}
		if r.DMARC.Percent != 0 && r.DMARC.Percent != 100 {
			comment = append(comment, "pct="+strconv.Itoa(r.DMARC.Percent))
		}
		if r.DMARC.Result != DMARCNone && r.DMARC.Result != DMARCTempError && r.DMARC.Result != DMARCPermError {
			comment = append(comment, "dis="+r.DMARC.Disposition)
		}
		reason := ""
		if r.DMARC.Result == DMARCTempError || r.DMARC.Result == DMARCPermError {
			reason = r.DMARC.Error
		}
		method("dmarc", r.DMARC.Result, commentText(strings.Join(comment, " ")),
			"reason", reason, "header.from", r.DMARC.FromDomain)
	}
	return b.String()
}

// clean drops control characters (CR and LF above all) from network-provided text.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

const tspecials = `()<>@,;:\"/[]?=`

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(tspecials, r) {
			return false
		}
	}
	return true
}

// token returns s as an RFC 2045 token, or as a quoted-string when it is not one.
func token(s string) string {
	s = clean(s)
	if isToken(s) {
		return s
	}
	return quote(s)
}

// pvalue formats a property value (RFC 8601 section 2.2): a token, a mailbox
// "local@domain" with token-like parts, or else a quoted-string.
func pvalue(s string) string {
	s = clean(s)
	if isToken(s) {
		return s
	}
	if local, dom, ok := strings.Cut(s, "@"); ok && (local == "" || isToken(local)) && isToken(dom) {
		return s
	}
	return quote(s)
}

func quote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}

// commentText makes s safe inside an RFC 5322 comment.
func commentText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '(' || r == ')' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
