package ledger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/resguardo/resguardo/internal/fsutil"
)

// TileSource reads a log's hash tiles from a directory (a copy of ledger/) or an
// HTTP base URL (…/ledger/ of a running service), as a tlog.TileReader. Tiles are
// verified against the tree by tlog.TileHashReader, so the source need not be
// trusted.
type TileSource struct {
	Base string
	HTTP *http.Client
}

// Height is the C2SP tile height.
func (s TileSource) Height() int { return TileHeight }

// ReadTiles fetches tiles.
func (s TileSource) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := TilePath(t.L, t.N, t.W)
		var b []byte
		var err error
		if strings.HasPrefix(s.Base, "http://") || strings.HasPrefix(s.Base, "https://") {
			b, err = s.get(strings.TrimSuffix(s.Base, "/") + "/" + p)
		} else {
			b, err = os.ReadFile(filepath.Join(s.Base, filepath.FromSlash(p)))
		}
		if err != nil {
			return nil, fmt.Errorf("read tile %s: %w", p, err)
		}
		out[i] = b
	}
	return out, nil
}

// SaveTiles does nothing: tiles are fetched again when needed.
func (s TileSource) SaveTiles([]tlog.Tile, [][]byte) {}

func (s TileSource) get(url string) ([]byte, error) {
	c := s.HTTP
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// Witness is the state of a witness for one log: the last checkpoint it cosigned.
type Witness struct {
	StateDir string // holds <sanitised origin>.checkpoint
	Signer   *Cosigner
	Log      note.Verifier
	Tiles    tlog.TileReader
}

// ErrNotConsistent reports a checkpoint that does not extend the one the witness saw.
var ErrNotConsistent = errors.New("checkpoint is not consistent with the last one this witness cosigned")

// Cosign verifies a checkpoint's signature, checks — with a consistency proof built
// from the log's tiles — that it extends the last checkpoint this witness cosigned,
// records it, and returns it cosigned.
func (w *Witness) Cosign(_ context.Context, checkpoint []byte) ([]byte, error) {
	c, err := ParseCheckpoint(checkpoint, w.Log)
	if err != nil {
		return nil, err
	}
	state := filepath.Join(w.StateDir, strings.NewReplacer("/", "_", ":", "_").Replace(c.Origin)+".checkpoint")
	if prev, err := os.ReadFile(state); err == nil {
		p, err := ParseCheckpoint(prev, w.Log)
		if err != nil {
			return nil, fmt.Errorf("witness state %s: %w", state, err)
		}
		switch {
		case c.Size < p.Size:
			return nil, fmt.Errorf("%w: size %d is smaller than %d", ErrNotConsistent, c.Size, p.Size)
		case c.Size == p.Size && c.Root != p.Root:
			return nil, fmt.Errorf("%w: two roots for %d entries (a fork)", ErrNotConsistent, c.Size)
		case c.Size > p.Size:
			r := tlog.TileHashReader(tlog.Tree{N: c.Size, Hash: c.Root}, w.Tiles)
			proof, err := tlog.ProveTree(c.Size, p.Size, r)
			if err == nil {
				err = tlog.CheckTree(proof, c.Size, c.Root, p.Size, p.Root)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrNotConsistent, err)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	out, err := Cosign(checkpoint, w.Log, w.Signer)
	if err != nil {
		return nil, err
	}
	if err := fsutil.MkdirAll(w.StateDir, 0o700); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(state, checkpoint, 0o600); err != nil {
		return nil, err
	}
	return out, nil
}
