package ledger

import (
	"fmt"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"
)

// TileHeight is fixed at 8 (256 hashes per tile), as C2SP tlog-tiles requires.
const TileHeight = 8

const (
	tileWidth    = 1 << TileHeight
	maxEntrySize = 1<<16 - 1
)

// nPath encodes a tile index as C2SP tlog-tiles does: groups of three digits, all but
// the last prefixed with "x" (1234067 → x001/x234/067).
func nPath(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

// TilePath is the path of a hash tile relative to the log root: tile/<L>/<N>[.p/<W>].
func TilePath(level int, n int64, width int) string {
	p := fmt.Sprintf("tile/%d/%s", level, nPath(n))
	if width < tileWidth {
		p += fmt.Sprintf(".p/%d", width)
	}
	return p
}

// BundlePath is the path of an entry bundle: tile/entries/<N>[.p/<W>].
func BundlePath(n int64, width int) string {
	p := "tile/entries/" + nPath(n)
	if width < tileWidth {
		p += fmt.Sprintf(".p/%d", width)
	}
	return p
}

// tileWidthAt is the width of tile (level, n) in a tree of size size (0 if absent).
func tileWidthAt(level int, n, size int64) int {
	avail := (size >> (TileHeight * level)) - n*tileWidth
	if avail <= 0 {
		return 0
	}
	return int(min(avail, tileWidth))
}

func (l *Log) abs(rel string) string { return filepath.Join(l.dir, filepath.FromSlash(rel)) }

type tileKey struct {
	level int
	n     int64
}

// tileHashes is a tlog.HashReader over the log's tiles for a tree of the given size,
// with overlay holding hashes computed but not yet written.
type tileHashes struct {
	l       *Log
	size    int64
	overlay map[int64]tlog.Hash
}

func (r *tileHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if h, ok := r.overlay[idx]; ok {
			out[i] = h
			continue
		}
		t := tlog.TileForIndex(TileHeight, idx)
		w := tileWidthAt(t.L, t.N, r.size)
		if w < t.W {
			return nil, fmt.Errorf("ledger: hash %d is not in a tree of size %d", idx, r.size)
		}
		data, err := r.l.readTile(t.L, t.N, w)
		if err != nil {
			return nil, err
		}
		t.W = w
		h, err := tlog.HashFromTile(t, data, idx)
		if err != nil {
			return nil, fmt.Errorf("ledger: tile %s: %w", TilePath(t.L, t.N, w), err)
		}
		out[i] = h
	}
	return out, nil
}
