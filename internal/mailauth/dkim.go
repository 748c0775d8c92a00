package mailauth

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// DefaultMaxDKIMSignatures is how many DKIM signatures of one message are verified
// when Options.MaxDKIMSignatures is zero; the rest are reported as "policy".
const DefaultMaxDKIMSignatures = 8

// VerifyDKIM verifies every DKIM-Signature of the raw message msg (RFC 6376),
// fetching keys through the checker's resolver. It returns one result per signature
// in header order, or nil when there is none.
func (c *Checker) VerifyDKIM(ctx context.Context, msg []byte) []DKIMResult {
	return verifyDKIM(ctx, c.resolver, msg, c.maxDKIM)
}

func verifyDKIM(ctx context.Context, r *Resolver, msg []byte, limit int) []DKIMResult {
	var sigs []map[string]string
	for _, f := range splitHeader(msg) {
		if strings.EqualFold(f.Name, "DKIM-Signature") {
			tags, err := parseTags(f.Value)
			if err != nil {
				tags = map[string]string{}
			}
			sigs = append(sigs, tags)
		}
	}
	if len(sigs) == 0 {
		return nil
	}
	results := make([]DKIMResult, len(sigs))
	for i, tags := range sigs {
		results[i] = DKIMResult{
			Domain:    normDomain(tags["d"]),
			Selector:  tags["s"],
			Algorithm: tags["a"],
			HeaderB:   prefix(tags["b"], 8),
		}
	}

	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT:        r.txtFunc(ctx),
		MaxVerifications: limit,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		// The message could not be read as a message at all.
		for i := range results {
			results[i].Result, results[i].Error = DKIMPermError, err.Error()
		}
		return results
	}
	// go-msgauth returns one verification per signature, in header order, for the
	// first limit signatures; our header reader may disagree on a broken header, in
	// which case the verifications' own fields are used and the extra ones dropped.
	if len(verifs) > len(results) || (len(verifs) < len(results) && err == nil) {
		results = make([]DKIMResult, len(verifs))
	}
	for i := range results {
		if i >= len(verifs) {
			results[i].Result = DKIMPolicy
			results[i].Error = "not verified: more than " + strconv.Itoa(limit) + " signatures"
			continue
		}
		v := verifs[i]
		if v.Domain != "" {
			results[i].Domain = normDomain(v.Domain)
		}
		results[i].Identifier = v.Identifier
		switch {
		case v.Err == nil:
			results[i].Result = DKIMPass
		case dkim.IsTempFail(v.Err):
			results[i].Result = DKIMTempError
		case dkim.IsPermFail(v.Err):
			results[i].Result = DKIMPermError
		default:
			results[i].Result = DKIMFail
		}
		if v.Err != nil {
			results[i].Error = strings.TrimPrefix(v.Err.Error(), "dkim: ")
		}
	}
	return results
}

func prefix(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
