package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/keys"
)

func runConstancia(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("constancia", flag.ContinueOnError)
	out := fs.String("out", ".", "directory for constancia.json, constancia.p7s and constancia.pdf")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if err := oneID("constancia", pos); err != nil {
		return err
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
	in, err := a.ConstanciaInputs(ctx, r, m.Config.Evidence.Issuer, anchors)
	if errors.Is(err, archive.ErrPending) {
		return &exitError{code: 3, err: fmt.Errorf("%s: %w; it is timestamped at the end of an import and every %s while serving", r.SHA256[:16], err, m.Config.Evidence.Interval.D())}
	}
	if err != nil {
		return err
	}
	in.VerifyURL = m.Config.Evidence.VerifyURL
	c := constancia.Build(in)
	doc, err := c.Marshal()
	if err != nil {
		return err
	}
	tz, err := time.LoadLocation("America/Mexico_City")
	if err != nil {
		tz = time.UTC
	}
	pdf, err := constancia.PDF(c, tz)
	if err != nil {
		return err
	}
	cert, err := keys.LoadCertification(archive.Layout{Dir: a.Dir()}.Keys())
	if err != nil {
		return err
	}
	p7s, err := constancia.Sign(doc, cert.Cert, cert.Key, nil)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"constancia.json", doc}, {"constancia.p7s", p7s}, {"constancia.pdf", pdf}} {
		path := filepath.Join(*out, f.name)
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, path)
	}
	return nil
}
