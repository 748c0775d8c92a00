package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/keys"
	"github.com/resguardo/resguardo/internal/notary"
)

// keyInfo is one line of `resguardo keys show --json`: never key material.
type keyInfo struct {
	Role        string `json:"role"`
	ID          string `json:"id,omitempty"`
	Subject     string `json:"subject,omitempty"`
	Fingerprint string `json:"fingerprint_sha256,omitempty"`
	NotAfter    string `json:"not_after,omitempty"`
	Public      string `json:"public,omitempty"`
}

func runKeys(ctx context.Context, m *Main, args []string) error {
	sub, rest := subcommand(args)
	if sub != "show" {
		return &exitError{code: 2, err: errors.New("usage: resguardo keys show [--json]")}
	}
	fs := flag.NewFlagSet("keys show", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	if _, err := m.parse(fs, rest); err != nil {
		return err
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	if err := archive.InitEvidence(a.Dir(), m.Config.Evidence.Issuer, nowUTC()); err != nil {
		return err
	}
	out := m.keyInfos(a)
	if *jsonOut {
		return writeJSON(m, out)
	}
	for _, k := range out {
		fmt.Fprintf(m.Stdout, "%-34s", k.Role)
		for _, f := range []string{k.ID, k.Subject, k.Public} {
			if f != "" {
				fmt.Fprintf(m.Stdout, " %s", f)
			}
		}
		if k.Fingerprint != "" {
			fmt.Fprintf(m.Stdout, "\n%34s SHA-256 %s", "", k.Fingerprint)
		}
		if k.NotAfter != "" {
			fmt.Fprintf(m.Stdout, "  (until %s)", k.NotAfter)
		}
		fmt.Fprintln(m.Stdout)
	}
	return nil
}

// keyInfos describes every key and certificate of the data directory and the
// configuration by its id, fingerprint or public key (never key material):
// `resguardo keys show` and the web application's system page.
func (m *Main) keyInfos(a *archive.Archive) []keyInfo {
	var out []keyInfo
	cur, _ := a.Keys.Current()
	for _, id := range a.Keys.MasterIDs() {
		role := "master key (wraps blob keys)"
		if id == cur {
			role += ", current"
		}
		out = append(out, keyInfo{Role: role, ID: id})
	}
	nk := sha256.Sum256(append([]byte("resguardo/key-fingerprint\x00"), a.Keys.NameKey()...))
	out = append(out, keyInfo{Role: "blob-name key", Fingerprint: hex.EncodeToString(nk[:8])})
	out = append(out, keyInfo{Role: "ledger signing key", Public: a.Keys.LedgerPublicKey()})
	cert := func(role string, c *x509.Certificate) {
		out = append(out, keyInfo{Role: role, Subject: c.Subject.String(), Fingerprint: keys.Fingerprint(c), NotAfter: c.NotAfter.UTC().Format("2006-01-02")})
	}
	if auth, err := notary.LoadAuthority(archive.Layout{Dir: a.Dir()}.TSADir(), notary.AuthorityOptions{}); err == nil {
		cert("built-in TSA CA", auth.CACert())
		cert("built-in TSA certificate", auth.Certificate())
	}
	if c, err := m.certification(a); err == nil {
		cert("certification CA", c.CA)
		cert("certification signer", c.Cert)
	}
	return out
}
