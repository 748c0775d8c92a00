package main

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/ledger"
	"github.com/resguardo/resguardo/internal/notary"
)

// auditFinding is one problem `ledger audit` found.
type auditFinding struct {
	Size   int64  `json:"size"`
	Kind   string `json:"kind"` // signature, timestamp, fork, rewritten, beyond-ledger, inconsistent
	Detail string `json:"detail"`
}

type auditReport struct {
	Checkpoints int            `json:"checkpoints"`
	Timestamped int            `json:"timestamped"`
	LedgerSize  int64          `json:"ledger_size"`
	Findings    []auditFinding `json:"findings"`
}

// ledgerAuditCmd checks published checkpoints: each is signed by the log key and
// timestamped, no two disagree about a tree, and the local ledger is consistent with
// every one of them (a rewritten or forked log fails).
func ledgerAuditCmd(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("ledger audit", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	logKey := fs.String("log-key", "", "ledger public key to pin (default: this archive's keys/ledger.pub)")
	tsaCA := fs.String("tsa-ca", "", "timestamp authority certificate(s) (default: the configured TSA's)")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return &exitError{code: 2, err: errors.New("usage: resguardo ledger audit DIR_OR_FILE... (published <size>.checkpoint files with their .tst)")}
	}
	pubs, err := ledger.ReadPublished(pos)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	key := a.Keys.LedgerPublicKey()
	if *logKey != "" {
		key = *logKey
		if b, err := os.ReadFile(*logKey); err == nil {
			key = strings.TrimSpace(string(b))
		}
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--log-key: %w", err)}
	}
	roots := x509.NewCertPool()
	if *tsaCA != "" {
		certs, err := readCerts(*tsaCA)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--tsa-ca: %w", err)}
		}
		for _, c := range certs {
			roots.AddCert(c)
		}
	} else {
		if err := archive.InitEvidence(a.Dir(), m.Config.Evidence.Issuer, nowUTC()); err != nil {
			return err
		}
		_, anchors, err := m.notaryFor(a)
		if err != nil {
			return err
		}
		pool, _, err := certPool([]byte(strings.Join(anchors, "")))
		if err != nil {
			return err
		}
		roots = pool
	}
	rep := auditReport{Checkpoints: len(pubs), LedgerSize: a.Log.Size(), Findings: []auditFinding{}}
	add := func(size int64, kind, format string, a ...any) {
		rep.Findings = append(rep.Findings, auditFinding{size, kind, fmt.Sprintf(format, a...)})
	}
	var good []ledger.Checkpoint
	for _, p := range pubs {
		c, err := ledger.ParseCheckpoint(p.Checkpoint, v)
		if err != nil {
			add(-1, "signature", "%v", err)
			continue
		}
		good = append(good, c)
		if p.Token == nil {
			add(c.Size, "timestamp", "checkpoint of %d entries has no timestamp", c.Size)
		} else {
			d := sha256.Sum256(p.Checkpoint)
			if _, err := notary.Verify(p.Token, d[:], notary.VerifyOptions{Roots: roots, Hash: crypto.SHA256}); err != nil {
				add(c.Size, "timestamp", "%v", err)
			} else {
				rep.Timestamped++
			}
		}
	}
	sort.Slice(good, func(i, j int) bool { return good[i].Size < good[j].Size })
	for i, c := range good {
		if i > 0 && good[i-1].Size == c.Size && good[i-1].Root != c.Root {
			add(c.Size, "fork", "two signed checkpoints for %d entries with different roots: the log was forked", c.Size)
		}
		if c.Size > rep.LedgerSize {
			add(c.Size, "beyond-ledger", "published for %d entries but the ledger has only %d: it was truncated or rolled back", c.Size, rep.LedgerSize)
			continue
		}
		root, err := a.Log.TreeHash(c.Size)
		if err != nil {
			return err
		}
		if root != c.Root {
			add(c.Size, "rewritten", "the ledger's tree of %d entries has root %s, the published checkpoint %s: history was rewritten", c.Size, root, c.Root)
			continue
		}
		if i > 0 && good[i-1].Size < c.Size && good[i-1].Size <= rep.LedgerSize {
			old := good[i-1]
			proof, err := a.Log.ProveConsistency(old.Size, c.Size)
			if err == nil {
				err = tlog.CheckTree(proof, c.Size, c.Root, old.Size, old.Root)
			}
			if err != nil {
				add(c.Size, "inconsistent", "not an extension of the checkpoint of %d entries: %v", old.Size, err)
			}
		}
	}
	if *jsonOut {
		if err := writeJSON(m, rep); err != nil {
			return err
		}
	} else {
		for _, f := range rep.Findings {
			fmt.Fprintf(m.Stdout, "✗ %-13s %8d  %s\n", f.Kind, f.Size, f.Detail)
		}
		if m.P.Lang == "en" {
			fmt.Fprintf(m.Stdout, "%d published checkpoints, %d timestamped; ledger of %d entries: %d problems.\n", rep.Checkpoints, rep.Timestamped, rep.LedgerSize, len(rep.Findings))
		} else {
			fmt.Fprintf(m.Stdout, "%d puntos de control publicados, %d con sello de tiempo; bitácora de %d entradas: %d problemas.\n", rep.Checkpoints, rep.Timestamped, rep.LedgerSize, len(rep.Findings))
		}
	}
	if len(rep.Findings) > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// ledgerPublishCmd sends every timestamped checkpoint to the configured destinations
// (or to --dir), e.g. after a destination was down.
func ledgerPublishCmd(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("ledger publish", flag.ContinueOnError)
	dir := fs.String("dir", "", "publish into this directory instead of the configured destinations")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	pubs := m.publishers()
	if *dir != "" {
		abs, _ := filepath.Abs(*dir)
		pubs = []ledger.Publisher{ledger.DirPublisher{Dir: abs}}
	}
	if len(pubs) == 0 {
		return &exitError{code: 2, err: errors.New("no destinations: set evidence.publish_dirs / publish_urls or give --dir")}
	}
	n := 0
	var failed error
	err = a.Cat.Checkpoints(ctx, func(cp *catalog.Checkpoint) error {
		p := ledger.Publication{Origin: a.Format.Origin, Size: cp.Size, Checkpoint: cp.Note, Token: cp.Token}
		for _, d := range pubs {
			if err := d.Publish(ctx, p); err != nil {
				failed = errors.Join(failed, fmt.Errorf("%s: %w", d, err))
			}
		}
		n++
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%d checkpoints → %d destinations\n", n, len(pubs))
	if failed != nil {
		return &exitError{code: 1, err: failed}
	}
	return nil
}
