package mailauth

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
)

// Options configures a Checker. The zero value checks SPF, DKIM and DMARC through
// the system resolver, with no blocklists and empty local lists.
type Options struct {
	// DNS is the resolver configuration for every lookup.
	DNS ResolverOptions
	// DNSBL lists the blocklist zones.
	DNSBL DNSBLOptions
	// Allow and Block are the local lists (see ParseListEntry for the entry syntax).
	Allow, Block []string
	// MaxDKIMSignatures bounds how many signatures of one message are verified;
	// zero means DefaultMaxDKIMSignatures.
	MaxDKIMSignatures int
	// Intn returns a number in [0, n); DMARC pct= sampling uses it. Nil means
	// math/rand/v2. Tests set it to make sampling deterministic.
	Intn func(n int) int
}

// Checker runs the authentication checks. It is safe for concurrent use.
type Checker struct {
	resolver *Resolver
	dnsbl    DNSBLOptions
	lists    *Lists
	maxDKIM  int
	intn     func(int) int
}

// New returns a Checker for o; it fails on a bad list entry.
func New(o Options) (*Checker, error) {
	lists, err := NewLists(o.Allow, o.Block)
	if err != nil {
		return nil, fmt.Errorf("mailauth: %w", err)
	}
	c := &Checker{
		resolver: NewResolver(o.DNS),
		dnsbl:    o.DNSBL,
		lists:    lists,
		maxDKIM:  o.MaxDKIMSignatures,
		intn:     o.Intn,
	}
	if c.maxDKIM <= 0 {
		c.maxDKIM = DefaultMaxDKIMSignatures
	}
	if c.intn == nil {
		c.intn = defaultIntn
	}
	return c, nil
}

// Resolver is the checker's DNS client.
func (c *Checker) Resolver() *Resolver { return c.resolver }

// Input is one message as the gateway received it.
type Input struct {
	// IP is the SMTP client's address.
	IP net.IP
	// Helo is the HELO/EHLO argument.
	Helo string
	// MailFrom is the envelope sender (MAIL FROM), "" or "<>" for a null sender.
	MailFrom string
	// Message is the raw message, header and body, as received.
	Message []byte
}

// Check runs every check on in: SPF, DKIM and the blocklists at once, then DMARC
// (which needs the SPF and DKIM results), and the local lists. Failures of the
// checks themselves (DNS timeouts, malformed records) are results (temperror,
// permerror, an Error field), never errors: the gateway's policy decides what they
// mean.
func (c *Checker) Check(ctx context.Context, in Input) Result {
	fields := splitHeader(in.Message)
	fromAddrs, fromDoms := fromDomains(fields)

	var res Result
	var wg sync.WaitGroup
	wg.Go(func() { res.SPF = c.CheckSPF(ctx, in.IP, in.Helo, in.MailFrom) })
	wg.Go(func() { res.DKIM = c.VerifyDKIM(ctx, in.Message) })
	wg.Go(func() {
		doms := []string{addressDomain(strings.Trim(in.MailFrom, "<> "))}
		res.DNSBL = c.CheckDNSBL(ctx, in.IP, append(doms, fromDoms...))
	})
	wg.Wait()
	res.DMARC = c.EvaluateDMARC(ctx, fromDoms, res.SPF, res.DKIM)
	res.List = c.lists.Check(in.IP, in.MailFrom, fromAddrs)
	return res
}
