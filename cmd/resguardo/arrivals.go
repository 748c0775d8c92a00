package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/intake"
	"github.com/resguardo/resguardo/internal/ledger"
	"github.com/resguardo/resguardo/internal/mailauth"
	"github.com/resguardo/resguardo/internal/scan"
)

// arrivalsOf summarises a record's receptions for its constancia: how it came
// in and what every check and engine said.
func arrivalsOf(ctx context.Context, a *archive.Archive, seq int64) ([]constancia.Arrival, error) {
	recps, err := a.Cat.Receptions(ctx, seq)
	if err != nil {
		return nil, err
	}
	var out []constancia.Arrival
	for _, rc := range recps {
		ar := constancia.Arrival{Channel: rc.Channel, ReceivedAt: ledger.FormatTime(rc.At)}
		var e intake.Envelope
		if json.Unmarshal([]byte(rc.Envelope), &e) != nil || e.Format != intake.EnvelopeFormat {
			out = append(out, ar) // an import: no envelope
			continue
		}
		sum := sha256.Sum256([]byte(rc.Envelope))
		ar.EnvelopeSHA256 = hex.EncodeToString(sum[:])
		ar.ClientIP, ar.HELO, ar.MailFrom, ar.RcptTo = e.ClientIP, e.HELO, e.MailFrom, e.RcptTo
		if e.TLS != nil {
			ar.TLS = e.TLS.Version + " " + e.TLS.Cipher
		}
		ar.Verdict = string(e.Verdict.Action)
		for _, r := range e.Verdict.Reasons {
			ar.Reasons = append(ar.Reasons, fmt.Sprintf("%s/%s → %s: %s", r.Check, r.Code, r.Applied, r.Text))
		}
		for _, c := range e.Checks {
			switch c.Name {
			case intake.AuthCheckName:
				var r mailauth.Result
				if json.Unmarshal(c.Detail, &r) == nil {
					ar.SPF = r.SPF.Result
					if r.SPF.Sender != "" {
						ar.SPF += " (" + r.SPF.Sender + ")"
					}
					for _, d := range r.DKIM {
						ar.DKIM = append(ar.DKIM, fmt.Sprintf("%s d=%s s=%s", d.Result, d.Domain, d.Selector))
					}
					ar.DMARC = r.DMARC.Result
					if r.DMARC.FromDomain != "" {
						ar.DMARC += " (" + r.DMARC.FromDomain + ")"
					}
				}
			case intake.AVCheckName:
				var rs []scan.Result
				if json.Unmarshal(c.Detail, &rs) == nil {
					for _, r := range rs {
						threat := r.Threat
						if r.Verdict == scan.Error {
							threat = r.Detail
						}
						ar.Antivirus = append(ar.Antivirus, constancia.EngineVerdict{Engine: r.Engine, Version: r.Version,
							Verdict: string(r.Verdict), Threat: threat, TookMS: r.TookMS})
					}
				}
			case intake.SpamCheckName:
				var rs []intake.SpamResult
				if json.Unmarshal(c.Detail, &rs) == nil {
					for _, r := range rs {
						v := constancia.EngineVerdict{Engine: r.Engine, Verdict: "ham", TookMS: r.TookMS}
						switch {
						case r.Error != "":
							v.Verdict, v.Threat = "error", r.Error
						case r.Action != "":
							v.Verdict = "spam"
						}
						if r.Error == "" {
							score := r.Score
							v.Score = &score
						}
						ar.Antispam = append(ar.Antispam, v)
					}
				}
			}
		}
		out = append(out, ar)
	}
	return out, nil
}
