package intake

import (
	"context"

	"github.com/resguardo/resguardo/internal/scan"
)

// AVCheckName is the antivirus check's name in policies and records.
const AVCheckName = "antivirus"

// Finding codes of AVCheck.
const (
	CodeVirus   = "virus"    // an engine detected something: quarantine
	CodeAVError = "av_error" // an engine failed (down, timeout, garbage): tag (accept and flag); a policy may tempfail
)

// AVCodes are the finding codes of AVCheck with their default actions.
var AVCodes = map[string]Action{
	CodeVirus:   ActionQuarantine,
	CodeAVError: ActionTag,
}

// AVCheck scans the message, and each of its decoded attachments, with every
// antivirus engine at once (scan.Scanner.ScanMessage). Its Detail is
// the list of engine results (engine, version, verdict, threat, time), kept in
// the record. An engine that fails is never read as clean: it is an av_error
// finding.
type AVCheck struct {
	Scanner *scan.Scanner
	// Observe, when set, sees every scan's results (metrics).
	Observe func([]scan.Result)
}

// Name is AVCheckName.
func (AVCheck) Name() string { return AVCheckName }

// Run scans m.Data.
func (c AVCheck) Run(ctx context.Context, m *Message) Outcome {
	res := c.Scanner.ScanMessage(ctx, m.Data)
	if c.Observe != nil {
		c.Observe(res)
	}
	var out Outcome
	out.Detail = res
	for _, r := range res {
		switch r.Verdict {
		case scan.Infected:
			out.Findings = append(out.Findings, Finding{Code: CodeVirus, Action: AVCodes[CodeVirus], Text: r.Engine + ": " + r.Threat})
		case scan.Error:
			out.Findings = append(out.Findings, Finding{Code: CodeAVError, Action: AVCodes[CodeAVError], Text: r.Engine + ": " + r.Detail})
		}
	}
	return out
}
