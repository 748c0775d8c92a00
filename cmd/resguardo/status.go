package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/search"
)

// statusOutput is `resguardo status --json`.
type statusOutput struct {
	Records        int64  `json:"records"`
	Bytes          int64  `json:"bytes"`
	Malformed      int64  `json:"malformed"`
	LedgerSize     int64  `json:"ledger_size"`
	LedgerPending  int64  `json:"ledger_pending"` // committed in the catalog, not yet in the Merkle log
	LastStamp      string `json:"last_stamp,omitempty"`
	StampedSize    int64  `json:"stamped_size"`
	IndexLag       int64  `json:"index_lag"`
	IndexLagOldest string `json:"index_lag_oldest,omitempty"`
}

func runStatus(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	st, err := a.Cat.Stats(ctx)
	if err != nil {
		return err
	}
	out := statusOutput{Records: st.Records, Bytes: st.Bytes, Malformed: st.Malformed, LedgerSize: a.Log.Size()}
	out.LedgerPending = st.Entries - out.LedgerSize
	if cp, err := a.Cat.LatestCheckpoint(ctx); err == nil {
		out.LastStamp, out.StampedSize = cp.StampTime.Format(time.RFC3339), cp.Size
	} else if !errors.Is(err, catalog.ErrNoCheckpoint) {
		return err
	}
	lag, oldest, err := a.Cat.IndexLag(ctx)
	if err != nil {
		return err
	}
	out.IndexLag = lag
	if !oldest.IsZero() {
		out.IndexLagOldest = oldest.Format(time.RFC3339)
	}
	if *jsonOut {
		return writeJSON(m, out)
	}
	p := m.P
	fmt.Fprintf(m.Stdout, "records:        %s (%s, %s malformed)\n", p.Int(out.Records), p.Bytes(out.Bytes), p.Int(out.Malformed))
	fmt.Fprintf(m.Stdout, "ledger:         %s entries (%s pending)\n", p.Int(out.LedgerSize), p.Int(out.LedgerPending))
	fmt.Fprintf(m.Stdout, "last timestamp: %s (tree of %s)\n", out.LastStamp, p.Int(out.StampedSize))
	fmt.Fprintf(m.Stdout, "search lag:     %s records not indexed", p.Int(out.IndexLag))
	if out.IndexLagOldest != "" {
		fmt.Fprintf(m.Stdout, " (oldest archived %s)", out.IndexLagOldest)
	}
	fmt.Fprintln(m.Stdout)
	return nil
}

func runReindex(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("reindex", flag.ContinueOnError)
	progress := fs.String("progress", "auto", "progress bar: auto, always, never")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	a, err := m.openArchive(ctx, true, "reindex")
	if err != nil {
		return err
	}
	defer a.Close()
	dir := archive.Layout{Dir: a.Dir()}.Index()
	if err := search.RemoveBleve(dir); err != nil {
		return err
	}
	if err := a.Cat.EnqueueAll(ctx); err != nil {
		return err
	}
	showBar := *progress == "always" || (*progress == "auto" && isTerminal(m.Stderr))
	idx, err := m.openIndex(ctx, a, showBar)
	if err != nil {
		return err
	}
	defer idx.Close()
	n, err := idx.Count()
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, m.P.T("reindex.done", m.P.Int(int64(n))))
	return nil
}
