package mailauth

// Result is everything the checks found about one message. It is kept, as JSON, in
// the message's archive record, so its field names are part of the record format:
// add fields, never rename them.
type Result struct {
	// SPF is the RFC 7208 check of the envelope sender (or HELO when MAIL FROM is null).
	SPF SPFResult `json:"spf"`
	// DKIM has one entry per DKIM-Signature header field, in header order; it is
	// empty when the message is unsigned (RFC 8601 reports that as dkim=none).
	DKIM []DKIMResult `json:"dkim"`
	// DMARC is the RFC 7489 evaluation for the RFC5322.From domain.
	DMARC DMARCResult `json:"dmarc"`
	// DNSBL has one entry per (zone, queried name); empty when no zone is configured.
	DNSBL []DNSBLResult `json:"dnsbl,omitempty"`
	// List is the verdict of the local allow/block lists.
	List ListResult `json:"list"`
}

// SPF results (RFC 7208 section 2.6).
const (
	SPFNone      = "none"
	SPFNeutral   = "neutral"
	SPFPass      = "pass"
	SPFFail      = "fail"
	SPFSoftFail  = "softfail"
	SPFTempError = "temperror"
	SPFPermError = "permerror"
)

// SPFResult is the outcome of check_host() for one identity.
type SPFResult struct {
	// Result is one of none, neutral, pass, fail, softfail, temperror, permerror.
	Result string `json:"result"`
	// Identity is "mailfrom" or "helo": which identity was checked (RFC 8601 smtp.mailfrom
	// or smtp.helo).
	Identity string `json:"identity"`
	// Sender is the checked identity: the MAIL FROM address, or
	// "postmaster@<helo>" for the HELO identity (RFC 7208 section 2.3).
	Sender string `json:"sender"`
	// Domain is the domain whose SPF record was evaluated.
	Domain string `json:"domain"`
	// Explanation says, for people, why the result is what it is (the mechanism that
	// matched or the error met). It is not the record's exp= text.
	Explanation string `json:"explanation,omitempty"`
}

// DKIM results (RFC 8601 section 2.7.1).
const (
	DKIMNone      = "none"
	DKIMPass      = "pass"
	DKIMFail      = "fail"
	DKIMPolicy    = "policy"
	DKIMNeutral   = "neutral"
	DKIMTempError = "temperror"
	DKIMPermError = "permerror"
)

// DKIMResult is the verification of one DKIM-Signature (RFC 6376).
type DKIMResult struct {
	// Result is pass, fail (the signature does not verify), temperror (key lookup
	// failed temporarily) or permerror (malformed signature, missing or bad key).
	Result string `json:"result"`
	// Domain is the signing domain (d=), Selector its selector (s=).
	Domain   string `json:"domain"`
	Selector string `json:"selector"`
	// Identifier is the agent or user identifier (i=, default "@" + d).
	Identifier string `json:"identifier,omitempty"`
	// Algorithm is the a= tag, e.g. rsa-sha256 or ed25519-sha256.
	Algorithm string `json:"algorithm,omitempty"`
	// HeaderB is the first 8 characters of the signature (b=), which tells apart
	// several signatures by the same domain and selector (RFC 6008).
	HeaderB string `json:"header_b,omitempty"`
	// Error is the reason for any result but pass.
	Error string `json:"error,omitempty"`
}

// DMARC results (RFC 7489 section 11.2).
const (
	DMARCNone      = "none"
	DMARCPass      = "pass"
	DMARCFail      = "fail"
	DMARCTempError = "temperror"
	DMARCPermError = "permerror"
)

// DMARC policies and dispositions (RFC 7489 section 6.3, p= and sp=).
const (
	DispositionNone       = "none"
	DispositionQuarantine = "quarantine"
	DispositionReject     = "reject"
)

// DMARCResult is the DMARC evaluation (RFC 7489 section 6.6).
type DMARCResult struct {
	// Result is none (no record), pass, fail, temperror or permerror (no usable
	// RFC5322.From domain, or a malformed record).
	Result string `json:"result"`
	// FromDomain is the RFC5322.From domain, lower case.
	FromDomain string `json:"from_domain"`
	// RecordDomain is where the DMARC record was found: FromDomain or its
	// organizational domain (RFC 7489 section 6.6.3).
	RecordDomain string `json:"record_domain,omitempty"`
	// Policy is the record's p=, SubdomainPolicy its sp= (empty when absent),
	// Percent its pct= (100 when absent).
	Policy          string `json:"policy,omitempty"`
	SubdomainPolicy string `json:"subdomain_policy,omitempty"`
	Percent         int    `json:"percent,omitempty"`
	// ADKIM and ASPF are the alignment modes: "r" (relaxed) or "s" (strict).
	ADKIM string `json:"adkim,omitempty"`
	ASPF  string `json:"aspf,omitempty"`
	// SPFAligned and DKIMAligned say which authenticated identifier aligned with
	// FromDomain (and passed).
	SPFAligned  bool `json:"spf_aligned"`
	DKIMAligned bool `json:"dkim_aligned"`
	// AppliedPolicy is the policy that applies to FromDomain (p=, or sp= for a
	// subdomain whose record came from the organizational domain).
	AppliedPolicy string `json:"applied_policy,omitempty"`
	// Sampled is false when pct= excluded this message from the policy, which then
	// drops one level (reject → quarantine → none, RFC 7489 section 6.6.4).
	Sampled bool `json:"sampled,omitempty"`
	// Disposition is what the domain owner asks for this message: none, quarantine
	// or reject. It is none unless Result is fail.
	Disposition string `json:"disposition"`
	// Error explains temperror and permerror.
	Error string `json:"error,omitempty"`
}

// DNSBLResult is one DNS blocklist lookup (RFC 5782).
type DNSBLResult struct {
	// Zone is the list's zone, e.g. "zen.spamhaus.org".
	Zone string `json:"zone"`
	// Kind is "ip" for a DNSBL query of the client address, "domain" for an RHSBL
	// query of a domain.
	Kind string `json:"kind"`
	// Subject is the address or domain looked up; Query the DNS name asked.
	Subject string `json:"subject"`
	Query   string `json:"query"`
	// Listed is true when the zone answered an A record in 127.0.0.0/8.
	Listed bool `json:"listed"`
	// Codes are the A records answered (e.g. "127.0.0.2"), which lists use as
	// reason codes.
	Codes []string `json:"codes,omitempty"`
	// Reason is the list's TXT record for the entry, when published.
	Reason string `json:"reason,omitempty"`
	// Error is set when the lookup failed (timeout, SERVFAIL, or an answer outside
	// 127.0.0.0/8); the subject then counts as not listed.
	Error string `json:"error,omitempty"`
}

// List verdicts.
const (
	ListNone  = ""
	ListAllow = "allow"
	ListBlock = "block"
)

// ListResult is the verdict of the local allow/block lists.
type ListResult struct {
	// Verdict is "block", "allow" or empty (no entry matched). A block entry wins
	// over an allow entry.
	Verdict string `json:"verdict,omitempty"`
	// Entry is the list entry that decided, as configured.
	Entry string `json:"entry,omitempty"`
	// Matched says what it matched: "ip", "mailfrom" or "from".
	Matched string `json:"matched,omitempty"`
}
