package intake

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/resguardo/resguardo/internal/mailauth"
)

// AuthCheckName is the name of the authentication check.
const AuthCheckName = "auth"

// Finding codes of the authentication check, with their default actions.
const (
	CodeBlockList       = "block_list"       // local block list: reject
	CodeDNSBL           = "dnsbl"            // listed in a DNSBL/RHSBL zone: reject
	CodeDMARCReject     = "dmarc_reject"     // DMARC fail, the domain asks for reject: reject
	CodeDMARCQuarantine = "dmarc_quarantine" // DMARC fail, the domain asks for quarantine: quarantine
	CodeDMARCTempError  = "dmarc_temperror"  // DMARC could not be evaluated (DNS): tag
	CodeSPFFail         = "spf_fail"         // SPF fail (DMARC decides the policy): tag
	CodeDKIMFail        = "dkim_fail"        // a DKIM signature does not verify: tag
)

// AuthCodes are the finding codes of AuthCheck with their default actions.
var AuthCodes = map[string]Action{
	CodeBlockList:       ActionReject,
	CodeDNSBL:           ActionReject,
	CodeDMARCReject:     ActionReject,
	CodeDMARCQuarantine: ActionQuarantine,
	CodeDMARCTempError:  ActionTag,
	CodeSPFFail:         ActionTag,
	CodeDKIMFail:        ActionTag,
	CodeCheckError:      ActionTempFail,
}

// AuthCheck runs mailauth (SPF, DKIM, DMARC, DNSBL, local lists). An allow
// list entry keeps every finding but a block list match from counting. Its
// Detail is the mailauth.Result.
type AuthCheck struct {
	Checker *mailauth.Checker
}

// Name is AuthCheckName.
func (AuthCheck) Name() string { return AuthCheckName }

// Run checks m.
func (c AuthCheck) Run(ctx context.Context, m *Message) Outcome {
	var ip net.IP
	if m.Env.ClientAddr.IsValid() {
		ip = net.IP(m.Env.ClientAddr.Addr().Unmap().AsSlice())
	}
	r := c.Checker.Check(ctx, mailauth.Input{IP: ip, Helo: m.Env.HELO, MailFrom: m.Env.MailFrom, Message: m.Data})
	return Outcome{Findings: AuthFindings(r), Detail: r}
}

// AuthFindings turns a mailauth.Result into findings.
func AuthFindings(r mailauth.Result) []Finding {
	var fs []Finding
	switch r.List.Verdict {
	case mailauth.ListBlock:
		return []Finding{{Code: CodeBlockList, Action: ActionReject, Text: fmt.Sprintf("block list entry %q matched %s", r.List.Entry, r.List.Matched)}}
	case mailauth.ListAllow:
		return nil
	}
	var listed []string
	for _, d := range r.DNSBL {
		if d.Listed {
			listed = append(listed, d.Subject+" in "+d.Zone)
		}
	}
	if len(listed) > 0 {
		fs = append(fs, Finding{Code: CodeDNSBL, Action: ActionReject, Text: "listed: " + strings.Join(listed, ", ")})
	}
	switch {
	case r.DMARC.Result == mailauth.DMARCFail && r.DMARC.Disposition == mailauth.DispositionReject:
		fs = append(fs, Finding{Code: CodeDMARCReject, Action: ActionReject, Text: "DMARC fail for " + r.DMARC.FromDomain + " (p=reject)"})
	case r.DMARC.Result == mailauth.DMARCFail && r.DMARC.Disposition == mailauth.DispositionQuarantine:
		fs = append(fs, Finding{Code: CodeDMARCQuarantine, Action: ActionQuarantine, Text: "DMARC fail for " + r.DMARC.FromDomain + " (quarantine)"})
	case r.DMARC.Result == mailauth.DMARCTempError:
		fs = append(fs, Finding{Code: CodeDMARCTempError, Action: ActionTag, Text: "DMARC temperror: " + r.DMARC.Error})
	}
	if r.SPF.Result == mailauth.SPFFail {
		fs = append(fs, Finding{Code: CodeSPFFail, Action: ActionTag, Text: "SPF fail for " + r.SPF.Domain})
	}
	for _, d := range r.DKIM {
		if d.Result == mailauth.DKIMFail || d.Result == mailauth.DKIMPermError {
			fs = append(fs, Finding{Code: CodeDKIMFail, Action: ActionTag, Text: "DKIM " + d.Result + " d=" + d.Domain + ": " + d.Error})
			break
		}
	}
	return fs
}
