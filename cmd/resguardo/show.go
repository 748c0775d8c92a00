package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/ledger"
)

// showOutput is what `resguardo show` prints (docs/CLI.md). Metadata is the record's
// canonical metadata document exactly as stored and digested into the ledger.
type showOutput struct {
	Format      string          `json:"format"` // "resguardo-show/1"
	ID          string          `json:"id"`
	Metadata    json.RawMessage `json:"metadata"`
	MetaSHA256  string          `json:"meta_sha256"`
	AccessClass string          `json:"access_class"`
	Ledger      *showLedger     `json:"ledger"`
	Receptions  []showReception `json:"receptions"`
}

type showLedger struct {
	Index int64           `json:"index"`
	Entry json.RawMessage `json:"entry"`
}

type showReception struct {
	Channel    string          `json:"channel"`
	Source     string          `json:"source"`
	ReceivedAt string          `json:"received_at"`
	Envelope   json.RawMessage `json:"envelope"`
}

func oneID(cmd string, args []string) error {
	if len(args) != 1 {
		return &exitError{code: 2, err: fmt.Errorf("usage: resguardo %s ID (the record's SHA-256, or 8+ hex digits of it)", cmd)}
	}
	return nil
}

func runShow(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	args, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if err := oneID("show", args); err != nil {
		return err
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.Cat.Lookup(ctx, args[0])
	if err != nil {
		return lookupError(err)
	}
	out := showOutput{Format: "resguardo-show/1", ID: r.SHA256, Metadata: r.Meta, MetaSHA256: r.MetaSHA256,
		AccessClass: r.AccessClass, Receptions: []showReception{}}
	if idx, entry, err := a.Cat.EntryOf(ctx, r.Seq); err != nil {
		return err
	} else if idx >= 0 {
		out.Ledger = &showLedger{Index: idx, Entry: entry}
	}
	recs, err := a.Cat.Receptions(ctx, r.Seq)
	if err != nil {
		return err
	}
	for _, rc := range recs {
		out.Receptions = append(out.Receptions, showReception{rc.Channel, rc.Source, ledger.FormatTime(rc.At), json.RawMessage(rc.Envelope)})
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func lookupError(err error) error {
	if errors.Is(err, catalog.ErrNotFound) || errors.Is(err, catalog.ErrAmbiguous) {
		return &exitError{code: 1, err: err}
	}
	return &exitError{code: 2, err: err}
}

func runCat(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("cat", flag.ContinueOnError)
	outPath := fs.String("o", "", "write to this file instead of standard output")
	args, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if err := oneID("cat", args); err != nil {
		return err
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.Cat.Lookup(ctx, args[0])
	if err != nil {
		return lookupError(err)
	}
	b, err := a.Bytes(ctx, r) // verified against the record's SHA-256 before any byte is written
	if err != nil {
		return err
	}
	if *outPath != "" {
		return os.WriteFile(*outPath, b, 0o600)
	}
	_, err = m.Stdout.Write(b)
	return err
}
