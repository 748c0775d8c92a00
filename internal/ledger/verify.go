package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"
)

// Problem is one inconsistency found by Verify.
type Problem struct {
	Kind   string // "checkpoint", "bundle-missing", "bundle-malformed", "bundle-mismatch", "tile-missing", "tile-mismatch", "root-mismatch"
	Path   string // file relative to the ledger directory
	Detail string
}

func (p Problem) String() string { return fmt.Sprintf("%s %s: %s", p.Kind, p.Path, p.Detail) }

// Verify recomputes the whole tree from the entry bundles, compares it with every
// hash tile (full and partial) on disk and with the signed checkpoint's root, and
// calls fn with each entry it could read, in order. Memory stays O(log n) tiles.
func (l *Log) Verify(fn func(i int64, entry []byte) error) ([]Problem, error) {
	size, root := l.Root()
	var probs []Problem
	add := func(kind, path, format string, a ...any) {
		probs = append(probs, Problem{Kind: kind, Path: path, Detail: fmt.Sprintf(format, a...)})
	}
	last := map[int][]byte{} // rightmost computed tile per level
	var up []tlog.Hash       // hashes for the next level up
	for level := 0; ; level++ {
		count := size >> (TileHeight * level)
		if count == 0 {
			break
		}
		var next []tlog.Hash
		for n := int64(0); n*tileWidth < count; n++ {
			w := tileWidthAt(level, n, size)
			var hashes []tlog.Hash
			if level == 0 {
				hashes = l.verifyBundle(n, w, add, fn)
			} else {
				hashes = up[n*tileWidth : n*tileWidth+int64(w)]
			}
			var data []byte
			disk, err := os.ReadFile(l.abs(TilePath(level, n, w)))
			if hashes == nil { // entries unavailable: fall back to the stored tile
				if err != nil {
					add("tile-missing", TilePath(level, n, w), "neither entries nor tile available")
					return probs, fmt.Errorf("ledger: cannot recompute tree: %w", ErrTampered)
				}
				data = disk
			} else {
				for _, h := range hashes {
					data = append(data, h[:]...)
				}
				switch {
				case errors.Is(err, os.ErrNotExist):
					add("tile-missing", TilePath(level, n, w), "hash tile is missing")
				case err != nil:
					return probs, err
				case !bytes.Equal(disk, data):
					add("tile-mismatch", TilePath(level, n, w), "stored hashes differ from the ones recomputed from the entries")
				}
			}
			l.checkPartials(TilePath(level, n, tileWidth)+".p", data, tlog.HashSize, add)
			if w == tileWidth {
				next = append(next, subtreeRoot(data))
			}
			last[level] = data
		}
		up = next
	}
	if size > 0 {
		th, err := tlog.TreeHash(size, lastTiles{size: size, last: last})
		if err != nil {
			return probs, err
		}
		if th != root {
			add("root-mismatch", "checkpoint", "recomputed root %s, checkpoint says %s", th, root)
		}
	}
	return probs, nil
}

func (l *Log) verifyBundle(n int64, w int, add func(kind, path, format string, a ...any), fn func(int64, []byte) error) []tlog.Hash {
	path := BundlePath(n, w)
	data, err := os.ReadFile(l.abs(path))
	if err != nil {
		add("bundle-missing", path, "entry bundle is missing: %v", errors.Unwrap(err))
		return nil
	}
	es, err := SplitBundle(data)
	if err != nil || len(es) != w {
		add("bundle-malformed", path, "want %d entries", w)
		return nil
	}
	hashes := make([]tlog.Hash, w)
	for i, e := range es {
		hashes[i] = tlog.RecordHash(e)
		if fn != nil {
			if err := fn(n*tileWidth+int64(i), e); err != nil {
				add("entry", path, "%v", err)
			}
		}
	}
	// Older partial bundles must be prefixes of this one.
	l.checkPartials(BundlePath(n, tileWidth)+".p", nil, 0, func(kind, p, format string, a ...any) {
		w2, _ := strconv.Atoi(p[len(BundlePath(n, tileWidth))+3:])
		old, err := os.ReadFile(l.abs(p))
		if err != nil || w2 > len(es) || !bytes.Equal(old, JoinBundle(es[:w2])) {
			add("bundle-mismatch", p, "partial entry bundle differs from the complete one")
		}
	})
	return hashes
}

// checkPartials compares each partial file in dir (relative) with the prefix of want
// of its width; with want nil it calls add for every partial (the caller checks).
func (l *Log) checkPartials(dir string, want []byte, unit int, add func(kind, path, format string, a ...any)) {
	ents, err := os.ReadDir(l.abs(dir))
	if err != nil {
		return
	}
	for _, e := range ents {
		w, err := strconv.Atoi(e.Name())
		if err != nil || w <= 0 || w >= tileWidth {
			continue
		}
		p := dir + "/" + e.Name()
		if want == nil {
			add("", p, "")
			continue
		}
		if w*unit > len(want) { // beyond the checkpoint (a crash mid-append): not part of the tree
			continue
		}
		got, err := os.ReadFile(l.abs(p))
		if err != nil || !bytes.Equal(got, want[:w*unit]) {
			add("tile-mismatch", p, "partial tile differs from the recomputed hashes")
		}
	}
}

// subtreeRoot is the Merkle root of a full tile's 256 hashes.
func subtreeRoot(data []byte) tlog.Hash {
	hs := make([]tlog.Hash, len(data)/tlog.HashSize)
	for i := range hs {
		copy(hs[i][:], data[i*tlog.HashSize:])
	}
	for len(hs) > 1 {
		for i := 0; i < len(hs)/2; i++ {
			hs[i] = tlog.NodeHash(hs[2*i], hs[2*i+1])
		}
		hs = hs[:len(hs)/2]
	}
	return hs[0]
}

// lastTiles serves the stored hashes that TreeHash needs (all in the rightmost tile
// of each level) from recomputed tiles.
type lastTiles struct {
	size int64
	last map[int][]byte
}

func (r lastTiles) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		t := tlog.TileForIndex(TileHeight, idx)
		data, ok := r.last[t.L]
		if !ok {
			return nil, fmt.Errorf("ledger: hash %d not in a rightmost tile", idx)
		}
		t.W = len(data) / tlog.HashSize
		lastN := (r.size>>(TileHeight*t.L) - 1) / tileWidth
		if t.N != lastN {
			return nil, fmt.Errorf("ledger: hash %d not in a rightmost tile", idx)
		}
		h, err := tlog.HashFromTile(t, data, idx)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}
