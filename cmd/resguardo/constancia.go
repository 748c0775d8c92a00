package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/efirma"
)

func runConstancia(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("constancia", flag.ContinueOnError)
	out := fs.String("out", ".", "directory for constancia.json, constancia.p7s and constancia.pdf")
	cosignCer := fs.String("cosign-cer", "", "e.firma certificate (.cer) of the official who certifies")
	cosignKey := fs.String("cosign-key", "", "e.firma private key (.key)")
	cosignPass := fs.String("cosign-password-file", "", "file holding the e.firma password (else $RESGUARDO_EFIRMA_PASSWORD, else asked on the terminal)")
	delivery := fs.Int64("delivery", -1, "a constancia de entrega: the ledger index of one of the record's delivery entries (resguardo queue show)")
	ownPSC := fs.Bool("psc", false, "also obtain a NOM-151 constancia de conservación from the PSC for this message's own hash (constancia-nom151.asn1)")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if err := oneID("constancia", pos); err != nil {
		return err
	}
	var cosigners []constancia.Cosigner
	if (*cosignCer == "") != (*cosignKey == "") {
		return &exitError{code: 2, err: errors.New("constancia: --cosign-cer and --cosign-key go together")}
	}
	if *cosignCer != "" {
		pw, err := m.efirmaPassword(*cosignPass)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		cert, key, err := efirma.Load(*cosignCer, *cosignKey, pw, time.Now())
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		cosigners = append(cosigners, constancia.Cosigner{Cert: cert, Key: key})
		fmt.Fprintf(m.Stderr, "co-firma: %s\n", efirma.IdentityOf(cert))
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.Cat.Lookup(ctx, pos[0])
	if err != nil {
		return lookupError(err)
	}
	if err := archive.InitEvidence(a.Dir(), m.Config.Evidence.Issuer, nowUTC()); err != nil {
		return err
	}
	_, anchors, err := m.notaryFor(a)
	if err != nil {
		return err
	}
	var in constancia.Inputs
	if *delivery >= 0 {
		in, err = a.DeliveryConstanciaInputs(ctx, r, *delivery, m.Config.Evidence.Issuer, anchors)
		if errors.Is(err, archive.ErrNoDelivery) {
			return &exitError{code: 1, err: fmt.Errorf("constancia --delivery %d: not a delivery entry of %s (see resguardo queue show)", *delivery, r.SHA256[:16])}
		}
	} else {
		in, err = a.ConstanciaInputs(ctx, r, m.Config.Evidence.Issuer, anchors)
	}
	if errors.Is(err, archive.ErrPending) {
		return &exitError{code: 3, err: fmt.Errorf("%s: %w; it is timestamped at the end of an import and every %s while serving", r.SHA256[:16], err, m.Config.Evidence.Interval.D())}
	}
	if err != nil {
		return err
	}
	var own []byte
	if *ownPSC {
		psc, _, err := m.pscFor()
		if err != nil {
			return err
		}
		if psc == nil {
			return &exitError{code: 2, err: errors.New("constancia --psc: no PSC configured (evidence.psc.url)")}
		}
		sum, _ := hex.DecodeString(r.SHA256)
		st, err := psc.Timestamp(ctx, sum)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		own = st.Token
	}
	doc, p7s, pdf, err := m.issueConstancia(ctx, a, r, in, cosigners)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"constancia.json", doc}, {"constancia.p7s", p7s}, {"constancia.pdf", pdf}, {"constancia-nom151.asn1", own}} {
		if f.data == nil {
			continue
		}
		path := filepath.Join(*out, f.name)
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, path)
	}
	return nil
}

// efirmaPassword reads the e.firma password from a file, the environment, or the
// terminal (never echoed, never logged).
func (m *Main) efirmaPassword(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--cosign-password-file: %w", err)
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	if pw := m.Getenv("RESGUARDO_EFIRMA_PASSWORD"); pw != "" {
		return []byte(pw), nil
	}
	if f, ok := m.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(m.Stderr, "Contraseña de la e.firma: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(m.Stderr)
		return pw, err
	}
	return nil, errors.New("e.firma password: give --cosign-password-file or $RESGUARDO_EFIRMA_PASSWORD")
}

// issueConstancia completes a record's constancia inputs (verification URL,
// arrivals, PSC anchors) and renders it as JSON, CMS-signed (p7s) and PDF. The
// command and the web application (serve) both use it.
func (m *Main) issueConstancia(ctx context.Context, a *archive.Archive, r *catalog.Record, in constancia.Inputs,
	cosigners []constancia.Cosigner) (doc, p7s, pdf []byte, err error) {
	in.VerifyURL = m.Config.Evidence.VerifyURL
	if in.Arrivals, err = arrivalsOf(ctx, a, r.Seq); err != nil {
		return nil, nil, nil, err
	}
	_, pscAnchors, err := m.pscFor()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := a.AnchorInputs(ctx, &in, pscAnchors); err != nil {
		return nil, nil, nil, err
	}
	c := constancia.Build(in)
	if doc, err = c.Marshal(); err != nil {
		return nil, nil, nil, err
	}
	tz, err := time.LoadLocation("America/Mexico_City")
	if err != nil {
		tz = time.UTC
	}
	if pdf, err = constancia.PDF(c, tz); err != nil {
		return nil, nil, nil, err
	}
	cert, err := m.certification(a)
	if err != nil {
		return nil, nil, nil, err
	}
	if p7s, err = constancia.Sign(doc, cert.Cert, cert.Key, nil, cosigners...); err != nil {
		return nil, nil, nil, err
	}
	return doc, p7s, pdf, nil
}
