package mailauth

import (
	"context"
	"errors"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
)

// CheckSPF evaluates the SPF record (RFC 7208) for a message from ip whose envelope
// sender is mailFrom, after HELO/EHLO helo. When mailFrom is null ("" or "<>") or has
// no domain, the HELO identity "postmaster@helo" is checked instead (RFC 7208
// section 2.4).
func (c *Checker) CheckSPF(ctx context.Context, ip net.IP, helo, mailFrom string) SPFResult {
	return checkSPF(ctx, c.resolver, ip, helo, mailFrom)
}

func checkSPF(ctx context.Context, r *Resolver, ip net.IP, helo, mailFrom string) SPFResult {
	mailFrom = strings.Trim(strings.TrimSpace(mailFrom), "<>")
	res := SPFResult{Identity: "mailfrom", Sender: mailFrom}
	if _, dom, ok := strings.Cut(mailFrom, "@"); !ok || dom == "" {
		res.Identity = "helo"
		res.Sender = "postmaster@" + helo
	}
	if i := strings.LastIndexByte(res.Sender, '@'); i >= 0 {
		res.Domain = strings.ToLower(res.Sender[i+1:])
	}
	if ip == nil {
		res.Result, res.Explanation = SPFPermError, "no client IP address"
		return res
	}
	tr := &syntaxTracker{Resolver: r}
	got, err := spf.CheckHostWithSender(ip, helo, res.Sender,
		spf.WithContext(ctx), spf.WithResolver(tr))
	res.Result = string(got)
	res.Explanation = spfExplanation(spf.Result(res.Result), err)
	if bad := tr.syntaxError(); bad != "" && got != spf.None {
		// A record the evaluation read has a syntax error somewhere (section 4.6).
		res.Result, res.Explanation = SPFPermError, "syntax error in the "+bad
	}
	return res
}

// spfExplanation turns the library's debugging error into a short reason.
func spfExplanation(r spf.Result, err error) string {
	if err == nil {
		switch r {
		case spf.None:
			return "no SPF record"
		case spf.Neutral:
			return "no mechanism matched"
		}
		return ""
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, spf.ErrMatchedAll):
		return "matched all"
	case errors.As(err, &dnsErr):
		// Keep the name and the kind of failure, not the server address.
		kind := "lookup failed"
		switch {
		case dnsErr.IsTimeout:
			kind = "timeout"
		case dnsErr.IsNotFound:
			kind = "not found"
		case dnsErr.IsTemporary:
			kind = "server failure"
		}
		return "dns " + kind + ": " + strings.TrimSuffix(dnsErr.Name, ".")
	}
	return err.Error()
}
