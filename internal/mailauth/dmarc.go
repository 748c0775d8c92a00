package mailauth

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// OrganizationalDomain returns the organizational domain of d (RFC 7489 section
// 3.2): the public suffix of d (per the Public Suffix List in
// golang.org/x/net/publicsuffix) plus one label. A public suffix itself, or a name
// the list cannot handle, is its own organizational domain.
func OrganizationalDomain(d string) string {
	d = normDomain(d)
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// aligned reports whether an authenticated domain aligns with the From domain in
// mode "s" (strict: equal) or "r" (relaxed: same organizational domain), RFC 7489
// section 3.1.
func aligned(authDomain, fromDomain, mode string) bool {
	a, f := normDomain(authDomain), normDomain(fromDomain)
	if a == "" || f == "" {
		return false
	}
	if a == f {
		return true
	}
	if mode == string(dmarc.AlignmentStrict) {
		return false
	}
	return OrganizationalDomain(a) == OrganizationalDomain(f)
}

// EvaluateDMARC applies the DMARC record of the RFC5322.From domain(s) to the SPF and
// DKIM results (RFC 7489 section 6.6). fromDomains are the domains of all From
// addresses; DMARC needs exactly one distinct domain, anything else is permerror.
func (c *Checker) EvaluateDMARC(ctx context.Context, fromDomains []string, spfRes SPFResult, dkimRes []DKIMResult) DMARCResult {
	return evaluateDMARC(ctx, c.resolver, c.intn, fromDomains, spfRes, dkimRes)
}

func evaluateDMARC(ctx context.Context, r *Resolver, intn func(int) int, fromDomains []string,
	spfRes SPFResult, dkimRes []DKIMResult) DMARCResult {
	res := DMARCResult{Disposition: DispositionNone}
	doms := slices.Compact(slices.Sorted(slices.Values(fromDomains)))
	switch {
	case len(doms) == 0:
		res.Result, res.Error = DMARCPermError, "no RFC5322.From address"
		return res
	case len(doms) > 1:
		res.Result, res.Error = DMARCPermError, "RFC5322.From has several domains: "+strings.Join(doms, ", ")
		return res
	case doms[0] == "" || !strings.Contains(doms[0], "."):
		res.Result, res.Error = DMARCPermError, "RFC5322.From has no usable domain"
		return res
	}
	from := doms[0]
	res.FromDomain = from

	// RFC 7489 section 6.6.3: the From domain's record, else the organizational
	// domain's.
	opts := &dmarc.LookupOptions{LookupTXT: r.txtFunc(ctx)}
	rec, err := dmarc.LookupWithOptions(from, opts)
	res.RecordDomain = from
	if errors.Is(err, dmarc.ErrNoPolicy) {
		if org := OrganizationalDomain(from); org != from {
			rec, err = dmarc.LookupWithOptions(org, opts)
			res.RecordDomain = org
		}
	}
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		res.Result, res.RecordDomain = DMARCNone, ""
		return res
	case dmarc.IsTempFail(err):
		res.Result, res.Error = DMARCTempError, err.Error()
		return res
	case err != nil:
		res.Result, res.Error = DMARCPermError, err.Error()
		return res
	}

	res.Policy = string(rec.Policy)
	res.SubdomainPolicy = string(rec.SubdomainPolicy)
	res.Percent = 100
	if rec.Percent != nil {
		res.Percent = min(max(*rec.Percent, 0), 100)
	}
	res.ADKIM, res.ASPF = string(rec.DKIMAlignment), string(rec.SPFAlignment)
	if res.ADKIM == "" {
		res.ADKIM = string(dmarc.AlignmentRelaxed)
	}
	if res.ASPF == "" {
		res.ASPF = string(dmarc.AlignmentRelaxed)
	}
	res.AppliedPolicy = res.Policy
	if res.RecordDomain != from && res.SubdomainPolicy != "" {
		res.AppliedPolicy = res.SubdomainPolicy
	}
	if res.AppliedPolicy == "" {
		res.AppliedPolicy = DispositionNone
	}

	res.SPFAligned = spfRes.Result == SPFPass && aligned(spfRes.Domain, from, res.ASPF)
	for _, d := range dkimRes {
		if d.Result == DKIMPass && aligned(d.Domain, from, res.ADKIM) {
			res.DKIMAligned = true
		}
	}
	if res.SPFAligned || res.DKIMAligned {
		res.Result = DMARCPass
		return res
	}

	res.Result = DMARCFail
	res.Sampled = true
	res.Disposition = res.AppliedPolicy
	// RFC 7489 section 6.6.4: a message outside the pct= sample gets the next lower
	// policy.
	if res.Percent < 100 && intn(100) >= res.Percent {
		res.Sampled = false
		switch res.Disposition {
		case DispositionReject:
			res.Disposition = DispositionQuarantine
		case DispositionQuarantine:
			res.Disposition = DispositionNone
		}
	}
	return res
}

// defaultIntn is the pct= sampler when Options.Intn is nil.
func defaultIntn(n int) int { return rand.IntN(n) }
