package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/resguardo/resguardo/internal/archive"
)

func runFsck(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("fsck", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "check presence and the ledger only (no blob is decrypted)")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	progress := fs.String("progress", "auto", "progress on stderr: auto, always, never")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("fsck takes no arguments")}
	}
	showBar := *progress == "always" || (*progress == "auto" && !*jsonOut && isTerminal(m.Stderr))
	opt := archive.FsckOptions{Quick: *quick}
	if showBar {
		opt.Progress = func(done, total int64) {
			if done%500 == 0 || done == total {
				fmt.Fprintf(m.Stderr, "\r\x1b[Kfsck: %s / %s", m.P.Int(done), m.P.Int(total))
			}
		}
	}
	rep, err := archive.Fsck(ctx, m.DataDir, opt)
	if showBar {
		fmt.Fprintln(m.Stderr)
	}
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if *jsonOut {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			id := p.Record
			if len(id) > 16 {
				id = id[:16]
			}
			fmt.Fprintf(m.Stdout, "%-7s %-24s %-16s %s: %s\n", p.Severity, p.Kind, id, p.Where, p.Detail)
		}
		P := m.P
		switch {
		case rep.ErrorCount > 0 || rep.WarningCount > 0:
			fmt.Fprintln(m.Stdout, P.T("fsck.bad", P.Int(int64(rep.ErrorCount)), P.Int(int64(rep.WarningCount)), P.Int(rep.Records)))
		case rep.Quick:
			fmt.Fprintln(m.Stdout, P.T("fsck.okquick", P.Int(rep.Records), P.Int(rep.LedgerSize)))
		default:
			fmt.Fprintln(m.Stdout, P.T("fsck.ok", P.Int(rep.Records), P.Bytes(rep.BytesRead), P.Int(rep.LedgerSize)))
		}
		if rep.Recovered > 0 {
			fmt.Fprintln(m.Stdout, P.T("fsck.recovered", P.Int(rep.Recovered)))
		}
		if rep.OrphanBlobs > 0 {
			fmt.Fprintln(m.Stdout, P.T("fsck.orphans", P.Int(rep.OrphanBlobs)))
		}
		if rep.Live {
			fmt.Fprintln(m.Stdout, P.T("fsck.live"))
		}
	}
	if rep.ErrorCount > 0 {
		return &exitError{code: 1}
	}
	return nil
}
