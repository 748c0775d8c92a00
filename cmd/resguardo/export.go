package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/export"
	"github.com/resguardo/resguardo/internal/search"
	"github.com/resguardo/resguardo/internal/search/query"
)

// The export package's manifest line and seal (docs/SEARCH.md).
type (
	exportEntry = export.Entry
	exportSeal  = export.Seal
)

func runExport(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	q := fs.String("query", "", "the search query (docs/SEARCH.md); empty exports everything")
	out := fs.String("out", "", "output file: FILE.zip, or FILE.mbox with --format mbox")
	format := fs.String("format", "zip", "zip (messages + constancias + signed manifest) or mbox (mboxrd, manifest files beside it)")
	progress := fs.String("progress", "auto", "progress bar on stderr: auto, always, never")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	if *out == "" || (*format != "zip" && *format != "mbox") {
		return &exitError{code: 2, err: errors.New("usage: resguardo export --query Q --out FILE.zip [--format zip|mbox]")}
	}
	n, err := m.parseQuery(*q)
	if err != nil {
		return err
	}
	a, err := m.openArchiveMaybeWriter(ctx, "export")
	if err != nil {
		return err
	}
	defer a.Close()
	showBar := *progress == "always" || (*progress == "auto" && isTerminal(m.Stderr))
	idx, err := m.openIndex(ctx, a, showBar)
	if err != nil {
		return err
	}
	defer idx.Close()
	opt, err := m.exportOptions(a)
	if err != nil {
		return err
	}
	start := time.Now()
	opt.Format, opt.Actor = *format, actor()
	if showBar {
		opt.Progress = func(count, bytes int64) {
			secs := max(time.Since(start).Seconds(), 0.001)
			fmt.Fprintf(m.Stderr, "\r\x1b[K%s %s · %s · %s msg/s", m.P.T("export.progress"), m.P.Int(count), m.P.Bytes(bytes), m.P.Float(float64(count)/secs, 0))
		}
	}
	e := export.New(opt)
	if err := e.Open(*out); err != nil {
		e.Abort()
		return &exitError{code: 2, err: err}
	}
	err = e.Run(ctx, func(fn func(id string) error) error {
		return idx.Scan(ctx, search.Request{Query: n}, func(h search.Hit) error { return fn(h.ID) })
	})
	var res *export.Result
	if err == nil {
		res, err = e.Finish(ctx, query.String(n))
	}
	if err != nil {
		e.Abort()
		return err
	}
	if showBar {
		fmt.Fprintln(m.Stderr)
	}
	fmt.Fprintln(m.Stdout, m.P.T("export.done", m.P.Int(res.Count), *out, m.P.Float(float64(res.Count)/max(time.Since(start).Seconds(), 0.001), 0)))
	return nil
}

// exportOptions are the export package's sources and signing material over an
// open archive: the CLI's export and the web application's (webapp.go) share
// them. Format, Actor, Justification, Records and Progress are the caller's.
func (m *Main) exportOptions(a *archive.Archive) (export.Options, error) {
	cert, err := m.certification(a)
	if err != nil {
		return export.Options{}, err
	}
	_, anchors, err := m.notaryFor(a)
	if err != nil {
		return export.Options{}, err
	}
	return export.Options{
		Lookup: func(ctx context.Context, id string) (*catalog.Record, error) { return a.Cat.Lookup(ctx, id) },
		Bytes:  a.Bytes,
		Constancia: func(ctx context.Context, r *catalog.Record) ([]byte, error) {
			in, err := a.ConstanciaInputs(ctx, r, m.Config.Evidence.Issuer, anchors)
			if err != nil {
				return nil, err
			}
			in.VerifyURL = m.Config.Evidence.VerifyURL
			if in.Arrivals, err = arrivalsOf(ctx, a, r.Seq); err != nil {
				return nil, err
			}
			return constancia.Build(in).Marshal()
		},
		LogAccess: a.LogAccess,
		Cert:      cert, Issuer: m.Config.Evidence.Issuer, Origin: a.Format.Origin, LedgerKey: a.Keys.LedgerPublicKey(),
		Anchors: anchors,
	}, nil
}
