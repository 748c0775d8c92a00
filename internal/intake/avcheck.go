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

// AVCheck scans the message with every antivirus engine at once. Its Detail is
// the list of engine results (engine, version, verdict, threat, time), kept in
// the record. An engine that fails is never read as clean: it is an av_error
// finding.
type AVCheck struct {
	Scanner *scan.Scanner
}

// Name is AVCheckName.
func (AVCheck) Name() string { return AVCheckName }

// Run scans m.Data.
func (c AVCheck) Run(ctx context.Context, m *Message) Outcome {
	res := c.Scanner.Scan(ctx, m.Data)
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
