package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/ledger"
)

// ledgerStatus is `resguardo ledger status --json` (docs/CLI.md).
type ledgerStatus struct {
	Origin         string `json:"origin"`
	Size           int64  `json:"size"`
	Root           string `json:"root"` // base64, as in the checkpoint
	Checkpoint     string `json:"checkpoint"`
	CheckpointTime string `json:"checkpoint_written,omitempty"`
	PublicKey      string `json:"public_key"`
	CatalogEntries int64  `json:"catalog_entries"`
}

// ledgerProof is `resguardo ledger prove ID --json`: a C2SP tlog-proof-style bundle.
type ledgerProof struct {
	Format     string   `json:"format"` // "resguardo-inclusion/1"
	Record     string   `json:"record"`
	Index      int64    `json:"index"`
	Entry      string   `json:"entry"`     // the entry bytes (canonical JSON)
	LeafHash   string   `json:"leaf_hash"` // base64 SHA-256(0x00 || entry)
	TreeSize   int64    `json:"tree_size"`
	Root       string   `json:"root"`
	Proof      []string `json:"proof"` // base64 hashes, leaf to root
	Checkpoint string   `json:"checkpoint"`
	PublicKey  string   `json:"public_key"`
	Verified   bool     `json:"verified"`
}

func runLedger(ctx context.Context, m *Main, args []string) error {
	sub, rest := subcommand(args)
	switch sub {
	case "status":
		return ledgerStatusCmd(ctx, m, rest)
	case "prove":
		return ledgerProveCmd(ctx, m, rest)
	case "consistency":
		return ledgerConsistencyCmd(ctx, m, rest)
	case "audit":
		return ledgerAuditCmd(ctx, m, rest)
	case "publish":
		return ledgerPublishCmd(ctx, m, rest)
	case "anchor":
		return ledgerAnchorCmd(ctx, m, rest)
	case "cosignatures":
		return ledgerCosignaturesCmd(ctx, m, rest)
	case "":
		return &exitError{code: 2, err: errors.New("usage: resguardo ledger status | prove ID | consistency OLD_SIZE NEW_SIZE | audit DIR... | publish [--dir D] | anchor | cosignatures add FILE...")}
	}
	return &exitError{code: 2, err: fmt.Errorf("ledger: unknown subcommand %q (want status, prove, consistency, audit, publish, anchor or cosignatures)", sub)}
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func ledgerStatusCmd(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("ledger status", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	size, root := a.Log.Root()
	cp, when := a.Log.Checkpoint()
	next, err := a.Cat.LedgerNext(ctx)
	if err != nil {
		return err
	}
	st := ledgerStatus{Origin: a.Format.Origin, Size: size, Root: b64(root), Checkpoint: string(cp),
		PublicKey: a.Keys.LedgerPublicKey(), CatalogEntries: next}
	if !when.IsZero() {
		st.CheckpointTime = ledger.FormatTime(when)
	}
	if *jsonOut {
		return writeJSON(m, st)
	}
	p := m.P
	fmt.Fprintf(m.Stdout, "origin:      %s\n", st.Origin)
	fmt.Fprintf(m.Stdout, "size:        %s\n", p.Int(size))
	fmt.Fprintf(m.Stdout, "root:        %s\n", st.Root)
	fmt.Fprintf(m.Stdout, "public key:  %s\n", st.PublicKey)
	if st.CheckpointTime != "" {
		fmt.Fprintf(m.Stdout, "written:     %s\n", st.CheckpointTime)
	}
	if next != size {
		fmt.Fprintf(m.Stdout, "pending:     %s entries committed in the catalog, not yet in the ledger\n", p.Int(next-size))
	}
	fmt.Fprintf(m.Stdout, "\n%s", st.Checkpoint)
	return nil
}

func ledgerProveCmd(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("ledger prove", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if err := oneID("ledger prove", pos); err != nil {
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
	pr, err := proveRecord(a, r.SHA256, r.LedgerIndex)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if *jsonOut {
		if err := writeJSON(m, pr); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(m.Stdout, "record:      %s\n", pr.Record)
		fmt.Fprintf(m.Stdout, "index:       %d\n", pr.Index)
		fmt.Fprintf(m.Stdout, "entry:       %s\n", pr.Entry)
		fmt.Fprintf(m.Stdout, "leaf hash:   %s\n", pr.LeafHash)
		fmt.Fprintf(m.Stdout, "tree size:   %d\n", pr.TreeSize)
		fmt.Fprintf(m.Stdout, "root:        %s\n", pr.Root)
		fmt.Fprintf(m.Stdout, "proof:\n")
		for _, h := range pr.Proof {
			fmt.Fprintf(m.Stdout, "  %s\n", h)
		}
		fmt.Fprintf(m.Stdout, "\n%s\n", pr.Checkpoint)
		fmt.Fprintln(m.Stdout, m.P.T("ledger.verified", m.P.Int(pr.TreeSize)))
	}
	return nil
}

// proveRecord builds the inclusion proof of a record's entry against the latest
// checkpoint and verifies it the way an outside verifier would: checkpoint signature,
// entry → leaf hash, proof → root.
func proveRecord(a *archive.Archive, sha string, idx int64) (*ledgerProof, error) {
	if idx < 0 {
		return nil, fmt.Errorf("record %s has no ledger entry yet", sha)
	}
	entry, err := a.Log.Entry(idx)
	if err != nil {
		return nil, err
	}
	e, err := ledger.ParseRecordEntry(entry)
	if err != nil || e.SHA256 != sha {
		return nil, fmt.Errorf("ledger entry %d does not describe record %s", idx, sha)
	}
	proof, size, root, err := a.Log.Prove(idx)
	if err != nil {
		return nil, err
	}
	cp, _ := a.Log.Checkpoint()
	c, err := ledger.ParseCheckpoint(cp, a.Keys.LedgerVerifier())
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if c.Size != size || c.Root != root {
		return nil, errors.New("checkpoint changed while proving; retry")
	}
	leaf := tlog.RecordHash(entry)
	if err := tlog.CheckRecord(proof, size, root, idx, leaf); err != nil {
		return nil, fmt.Errorf("inclusion proof does not verify: %w", err)
	}
	pr := &ledgerProof{Format: "resguardo-inclusion/1", Record: sha, Index: idx, Entry: string(entry), LeafHash: b64(leaf),
		TreeSize: size, Root: b64(root), Proof: []string{}, Checkpoint: string(cp), PublicKey: a.Keys.LedgerPublicKey(), Verified: true}
	for _, h := range proof {
		pr.Proof = append(pr.Proof, b64(h))
	}
	return pr, nil
}

func writeJSON(m *Main, v any) error {
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// ledgerConsistency is `resguardo ledger consistency --json`.
type ledgerConsistency struct {
	Format   string   `json:"format"` // "resguardo-consistency/1"
	OldSize  int64    `json:"old_size"`
	OldRoot  string   `json:"old_root"`
	NewSize  int64    `json:"new_size"`
	NewRoot  string   `json:"new_root"`
	Proof    []string `json:"proof"`
	Verified bool     `json:"verified"`
}

func ledgerConsistencyCmd(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("ledger consistency", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return &exitError{code: 2, err: errors.New("usage: resguardo ledger consistency OLD_SIZE NEW_SIZE")}
	}
	var sizes [2]int64
	for i, p := range pos {
		if _, err := fmt.Sscan(p, &sizes[i]); err != nil || sizes[i] <= 0 {
			return &exitError{code: 2, err: fmt.Errorf("ledger consistency: %q is not a tree size", p)}
		}
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	old, cur := sizes[0], sizes[1]
	proof, err := a.Log.ProveConsistency(old, cur)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	oldRoot, err := a.Log.TreeHash(old)
	if err != nil {
		return err
	}
	newRoot, err := a.Log.TreeHash(cur)
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(proof, cur, newRoot, old, oldRoot); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("consistency proof does not verify: %w", err)}
	}
	out := ledgerConsistency{Format: "resguardo-consistency/1", OldSize: old, OldRoot: b64(oldRoot), NewSize: cur,
		NewRoot: b64(newRoot), Proof: []string{}, Verified: true}
	for _, h := range proof {
		out.Proof = append(out.Proof, b64(h))
	}
	if *jsonOut {
		return writeJSON(m, out)
	}
	fmt.Fprintf(m.Stdout, "old:   %d  %s\nnew:   %d  %s\nproof:\n", old, out.OldRoot, cur, out.NewRoot)
	for _, h := range out.Proof {
		fmt.Fprintf(m.Stdout, "  %s\n", h)
	}
	if m.P.Lang == "en" {
		fmt.Fprintln(m.Stdout, "Consistent: the tree of", cur, "entries extends the tree of", old, "without changing it.")
	} else {
		fmt.Fprintln(m.Stdout, "Consistente: el árbol de", cur, "entradas extiende al de", old, "sin modificarlo.")
	}
	return nil
}

// ledgerAnchorCmd anchors the latest checkpoint with the configured PSC now.
func ledgerAnchorCmd(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("ledger anchor", flag.ContinueOnError)
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	psc, _, err := m.pscFor()
	if err != nil {
		return err
	}
	if psc == nil {
		return &exitError{code: 2, err: errors.New("ledger anchor: no PSC configured (evidence.psc.url)")}
	}
	a, err := m.openArchive(ctx, true, "anchor")
	if err != nil {
		return err
	}
	defer a.Close()
	cp, err := a.Anchor(ctx, psc)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if cp == nil {
		fmt.Fprintln(m.Stdout, "nothing new to anchor")
		return nil
	}
	fmt.Fprintf(m.Stdout, "checkpoint of %d entries anchored: %s, %s\n", cp.Size, cp.Authority, cp.StampTime.Format(time.RFC3339))
	return nil
}
