package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/fsutil"
	"github.com/resguardo/resguardo/internal/ledger"
)

// keyArg returns a key given inline or as a file holding it.
func keyArg(s string) string {
	if b, err := os.ReadFile(s); err == nil {
		return strings.TrimSpace(string(b))
	}
	return strings.TrimSpace(s)
}

// runWitness is the witness side (another institution, the órgano interno de
// control): it needs no data directory, only the log's public key and its tiles.
func runWitness(ctx context.Context, m *Main, args []string) error {
	sub, rest := subcommand(args)
	switch sub {
	case "keygen":
		return witnessKeygen(m, rest)
	case "cosign":
		return witnessCosign(ctx, m, rest)
	}
	return &exitError{code: 2, err: errors.New("usage: resguardo witness keygen NAME --out FILE | cosign --key FILE --log-key KEY --tiles DIR|URL --state DIR CHECKPOINT...")}
}

func witnessKeygen(m *Main, args []string) error {
	fs := flag.NewFlagSet("witness keygen", flag.ContinueOnError)
	out := fs.String("out", "", "file for the private key (0600)")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return &exitError{code: 2, err: errors.New("usage: resguardo witness keygen NAME --out FILE (NAME such as oic.finanzas.ejemplo.gob.mx/testigo)")}
	}
	skey, vkey, err := ledger.GenerateWitnessKey(pos[0])
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if _, err := os.Stat(*out); err == nil {
		return &exitError{code: 2, err: fmt.Errorf("%s exists: not overwriting a key", *out)}
	}
	if err := fsutil.WriteFile(*out, []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, vkey)
	return nil
}

func witnessCosign(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("witness cosign", flag.ContinueOnError)
	keyFile := fs.String("key", "", "the witness's private key file")
	logKey := fs.String("log-key", "", "the log's public key (text or file)")
	tiles := fs.String("tiles", "", "the log's tiles: a directory (copy of ledger/) or URL (https://…/ledger/)")
	state := fs.String("state", "", "directory where the witness remembers the last checkpoint it cosigned")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if *keyFile == "" || *logKey == "" || *tiles == "" || *state == "" || len(pos) == 0 {
		return &exitError{code: 2, err: errors.New("usage: resguardo witness cosign --key FILE --log-key KEY --tiles DIR|URL --state DIR CHECKPOINT_FILE...")}
	}
	skey, err := os.ReadFile(*keyFile)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	signer, err := ledger.NewCosigner(string(skey), nil)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("%s: %w", *keyFile, err)}
	}
	v, err := note.NewVerifier(keyArg(*logKey))
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--log-key: %w", err)}
	}
	w := &ledger.Witness{StateDir: *state, Signer: signer, Log: v, Tiles: ledger.TileSource{Base: *tiles}}
	for _, f := range pos {
		cp, err := os.ReadFile(f)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		out, err := w.Cosign(ctx, cp)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("%s: %w", f, err)}
		}
		dst := strings.TrimSuffix(f, filepath.Ext(f)) + ".cosigned"
		if err := os.WriteFile(dst, out, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, dst)
	}
	return nil
}

// ledgerCosignaturesCmd stores witnesses' cosignatures of stamped checkpoints, so
// that constancias carry them.
func ledgerCosignaturesCmd(ctx context.Context, m *Main, args []string) error {
	sub, rest := subcommand(args)
	if sub != "add" {
		return &exitError{code: 2, err: errors.New("usage: resguardo ledger cosignatures add FILE.cosigned...")}
	}
	fs := flag.NewFlagSet("ledger cosignatures add", flag.ContinueOnError)
	pos, err := m.parse(fs, rest)
	if err != nil {
		return err
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	added := 0
	for _, f := range pos {
		b, err := os.ReadFile(f)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		c, err := ledger.ParseCheckpoint(b, a.Keys.LedgerVerifier())
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("%s: %w", f, err)}
		}
		cp, err := a.Cat.CheckpointAt(ctx, c.Size)
		if errors.Is(err, catalog.ErrNoCheckpoint) {
			return &exitError{code: 1, err: fmt.Errorf("%s: no stamped checkpoint of %d entries here", f, c.Size)}
		}
		if err != nil {
			return err
		}
		lines := ledger.SignatureLines(b, cp.Note)
		if !strings.HasPrefix(string(b), string(cp.Note[:len(cp.Note)-1])) {
			return &exitError{code: 1, err: fmt.Errorf("%s: not a cosignature of our checkpoint of %d entries", f, c.Size)}
		}
		for _, l := range lines {
			name := strings.Fields(strings.TrimPrefix(l, "— "))
			if len(name) != 2 {
				return &exitError{code: 1, err: fmt.Errorf("%s: malformed signature line", f)}
			}
			if err := a.Cat.AddCosignature(ctx, c.Size, name[0], l, nowUTC()); err != nil {
				return err
			}
			added++
		}
	}
	fmt.Fprintf(m.Stdout, "%d cosignatures stored\n", added)
	return nil
}
