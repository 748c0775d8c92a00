// Package mailauth is the gateway's sender authentication: SPF (RFC 7208), DKIM
// verification and signing (RFC 6376, RFC 8301, RFC 8463), DMARC (RFC 7489), DNS
// blocklists (RFC 5782) and local allow/block lists, with the results formatted as an
// Authentication-Results header field (RFC 8601) and kept, as Result, in the
// message's archive record.
//
// Checker.Check runs everything for one message; the single checks are also methods
// (CheckSPF, VerifyDKIM, EvaluateDMARC, CheckDNSBL) so that the SMTP server can, for
// example, check SPF at MAIL FROM. Every lookup goes through one Resolver, a pure-Go
// net.Resolver sent to a configured server with a timeout per lookup, which tests
// point at an internal/dnstest server.
//
// Libraries, and why:
//   - blitiri.com.ar/go/spf evaluates SPF: complete (all mechanisms, modifiers and
//     macros, the lookup limits), small, fuzzed, and it takes our resolver. It does
//     not expand exp= explanations, so SPFResult.Explanation is our own short reason;
//     and it evaluates records lazily, stopping at the first match, so the RFC 7208
//     syntax check of whole records (section 4.6 and the ABNF of section 12) is ours:
//     spfsyntax.go, applied to every SPF record the library reads. With it the
//     openspf RFC 7208 suite passes 197 of 203 tests (172 without).
//   - github.com/emersion/go-msgauth verifies and signs DKIM (dkim) and looks up and
//     parses DMARC records (dmarc).
//   - golang.org/x/net/publicsuffix gives organizational domains for DMARC alignment.
//
// Written here, because the libraries leave it out: the DMARC evaluation itself
// (alignment, record discovery at the organizational domain, p/sp/pct to a
// disposition); reading the d=, s=, a= and b= tags of each DKIM-Signature, since
// go-msgauth reports neither selector nor algorithm (parseTags, a minimal RFC 6376
// section 3.2 tag-list parser, and splitHeader, a raw header reader); DNSBL/RHSBL
// queries (a few lines on top of the resolver); the list entry parser; and the
// Authentication-Results formatter, because go-msgauth's authres cannot write
// header.s, folds nothing and does not strip control characters from
// network-provided values.
package mailauth
