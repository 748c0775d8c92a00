// Package ledger is Resguardo's tamper-evident, append-only record of everything that
// happens to the archive: an RFC 6962 Merkle tree (hashing from
// golang.org/x/mod/sumdb/tlog), stored as C2SP tlog-tiles (hash tiles and entry
// bundles under tile/), with C2SP tlog-checkpoint signed notes (Ed25519, x/mod's note
// package) at the root. Anyone holding the tiles and the public key can recompute the
// tree and check every entry; docs/FORMATS.md describes the files.
//
// We use x/mod's tlog rather than transparency-dev/tessera: tlog gives exactly the
// pieces a single-sequencer log needs (stored hashes, tile reading/writing, record and
// tree proofs) with no storage framework, and its tiles are the ones C2SP specifies.
//
// One process appends (the archive holds the data directory's writer lock). Durability:
// entry bundles and tiles are written by temp file, fsync and rename, and the signed
// checkpoint is written last; the checkpoint's size is the durable size of the log.
// Tiles past it (a crash mid-append) are rewritten identically when the same entries
// are appended again from the catalog.
package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/resguardo/resguardo/internal/fsutil"
)

// Errors.
var (
	ErrTampered = errors.New("ledger: tiles do not match the signed checkpoint")
	ErrRange    = errors.New("ledger: index out of range")
)

// Log is an open ledger.
type Log struct {
	dir    string
	origin string
	signer note.Signer
	ver    note.Verifier

	mu      sync.Mutex
	size    int64
	root    tlog.Hash
	cp      []byte // latest signed checkpoint
	cpTime  time.Time
	cache   map[tileKey][]byte // tile data at the width for the current size
	bundle  [][]byte           // entries of the trailing partial bundle
	derived bool               // Options.Derived
}

// Options configures Open.
type Options struct {
	Origin   string
	Signer   note.Signer // nil opens read-only
	Verifier note.Verifier
	// Check opens a possibly damaged log for Verify: it skips the tree-hash and
	// trailing-bundle checks (the checkpoint signature is still required).
	Check bool
	// Derived: the caller keeps every entry durably elsewhere (the archive's
	// catalog commits each entry, with its index, before appending it) and
	// appends again, after an unclean stop, what the log lacks. Append then
	// makes its bundles and tiles durable with one file-system sync (syncfs)
	// instead of an fsync per file and directory, and writes the checkpoint
	// without fsync: a crash may lose the newest checkpoint, never the tiles of
	// one that survives; the lost one is signed again, identically, when the
	// same entries are appended again. Without it every file is fsync'd.
	Derived bool
}

// Open opens the log in dir, verifying the checkpoint signature and that the tiles
// hash to its root.
func Open(dir string, opt Options) (*Log, error) {
	l := &Log{dir: dir, origin: opt.Origin, signer: opt.Signer, ver: opt.Verifier, cache: map[tileKey][]byte{}, derived: opt.Derived}
	if l.signer != nil {
		if err := fsutil.MkdirAll(l.abs("tile"), 0o700); err != nil {
			return nil, err
		}
	}
	cp, err := os.ReadFile(l.abs("checkpoint"))
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := ParseCheckpoint(cp, opt.Verifier)
	if err != nil {
		return nil, fmt.Errorf("ledger checkpoint: %w", err)
	}
	if c.Origin != l.origin && l.origin != "" {
		return nil, fmt.Errorf("ledger checkpoint origin %q, configured origin %q", c.Origin, l.origin)
	}
	l.origin = c.Origin
	l.size, l.root, l.cp = c.Size, c.Root, cp
	if st, err := os.Stat(l.abs("checkpoint")); err == nil {
		l.cpTime = st.ModTime()
	}
	if opt.Check {
		return l, nil
	}
	th, err := tlog.TreeHash(l.size, l.hashReader(l.size, nil))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTampered, err)
	}
	if th != l.root {
		return nil, fmt.Errorf("%w: tree hash %s, checkpoint root %s", ErrTampered, th, l.root)
	}
	if w := int(l.size % tileWidth); w > 0 {
		data, err := os.ReadFile(l.abs(BundlePath(l.size/tileWidth, w)))
		if err != nil {
			return nil, fmt.Errorf("ledger: read trailing entry bundle: %w", err)
		}
		if l.bundle, err = SplitBundle(data); err != nil || len(l.bundle) != w {
			return nil, fmt.Errorf("%w: trailing entry bundle %s is malformed", ErrTampered, BundlePath(l.size/tileWidth, w))
		}
	}
	return l, nil
}

// Origin is the log's origin line.
func (l *Log) Origin() string { return l.origin }

// Size returns the durable number of entries.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Checkpoint returns the latest signed checkpoint (nil for an empty log) and when it was written.
func (l *Log) Checkpoint() ([]byte, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cp, l.cpTime
}

// Root returns the size and root hash of the latest checkpoint.
func (l *Log) Root() (int64, tlog.Hash) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size, l.root
}

func (l *Log) hashReader(size int64, overlay map[int64]tlog.Hash) *tileHashes {
	return &tileHashes{l: l, size: size, overlay: overlay}
}

func (l *Log) readTile(level int, n int64, w int) ([]byte, error) {
	k := tileKey{level, n}
	l.mu.Lock()
	d, ok := l.cache[k]
	l.mu.Unlock()
	if ok && len(d) >= w*tlog.HashSize {
		return d[:w*tlog.HashSize], nil
	}
	d, err := os.ReadFile(l.abs(TilePath(level, n, w)))
	if err != nil {
		return nil, fmt.Errorf("ledger: read tile: %w", err)
	}
	if len(d) != w*tlog.HashSize {
		return nil, fmt.Errorf("%w: tile %s has %d bytes", ErrTampered, TilePath(level, n, w), len(d))
	}
	l.mu.Lock()
	if len(l.cache) > 4096 {
		clear(l.cache)
	}
	l.cache[k] = d
	l.mu.Unlock()
	return d, nil
}

// Append adds entries at the end of the log, writes their bundles and tiles, and signs
// and writes a new checkpoint. It returns the index of the first entry. When it
// returns nil the entries are durable (with Options.Derived: written, and
// durable where the caller keeps them).
func (l *Log) Append(entries [][]byte) (int64, error) {
	if l.signer == nil {
		return 0, errors.New("ledger: opened read-only")
	}
	l.mu.Lock()
	old := l.size
	bundle := l.bundle
	l.mu.Unlock()
	if len(entries) == 0 {
		return old, nil
	}
	overlay := map[int64]tlog.Hash{}
	r := l.hashReader(old, overlay)
	for i, e := range entries {
		if len(e) > maxEntrySize {
			return 0, fmt.Errorf("ledger: entry of %d bytes exceeds %d", len(e), maxEntrySize)
		}
		n := old + int64(i)
		hs, err := tlog.StoredHashes(n, e, r)
		if err != nil {
			return 0, fmt.Errorf("ledger: hash entry %d: %w", n, err)
		}
		base := tlog.StoredHashIndex(0, n)
		for j, h := range hs {
			overlay[base+int64(j)] = h
		}
	}
	size := old + int64(len(entries)) // r keeps reading the old tree from disk; new hashes are in overlay

	var files []pendingFile
	// Entry bundles.
	for n, i := old/tileWidth, 0; n*tileWidth < size; n++ {
		for int64(len(bundle)) < tileWidth && i < len(entries) {
			bundle = append(bundle, entries[i])
			i++
		}
		files = append(files, pendingFile{BundlePath(n, len(bundle)), JoinBundle(bundle)})
		if len(bundle) == tileWidth {
			bundle = nil
		}
	}
	// Hash tiles.
	newTiles := map[tileKey][]byte{}
	for _, t := range tlog.NewTiles(TileHeight, old, size) {
		data, err := tlog.ReadTileData(t, r)
		if err != nil {
			return 0, fmt.Errorf("ledger: build tile: %w", err)
		}
		files = append(files, pendingFile{TilePath(t.L, t.N, t.W), data})
		newTiles[tileKey{t.L, t.N}] = data
	}
	if err := l.writeAll(files); err != nil {
		return 0, err
	}
	root, err := tlog.TreeHash(size, r)
	if err != nil {
		return 0, fmt.Errorf("ledger: tree hash: %w", err)
	}
	cp, err := SignCheckpoint(Checkpoint{Origin: l.origin, Size: size, Root: root}, l.signer)
	if err != nil {
		return 0, err
	}
	write := fsutil.WriteFile
	if l.derived {
		write = fsutil.WriteFileNoSync
	}
	if err := write(l.abs("checkpoint"), cp, 0o644); err != nil {
		return 0, fmt.Errorf("ledger: write checkpoint: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, d := range newTiles {
		l.cache[k] = d
	}
	l.size, l.root, l.cp, l.cpTime, l.bundle = size, root, cp, time.Now(), bundle
	return old, nil
}

type pendingFile struct {
	path string
	data []byte
}

// writeAll writes bundles and tiles concurrently (each is temp file, fsync, rename,
// directory fsync: the waits overlap); all are durable when it returns. A
// derived log writes each by temp file and rename, replacing what an
// interrupted append left (every file an append writes lies past the last
// checkpoint, and its content is a function of the entries), then syncs the
// file system once.
func (l *Log) writeAll(files []pendingFile) error {
	if l.derived {
		for _, f := range files {
			if err := fsutil.WriteFileNoSync(l.abs(f.path), f.data, 0o644); err != nil {
				return fmt.Errorf("ledger: %w", err)
			}
		}
		if err := fsutil.SyncFS(l.dir); err != nil {
			return fmt.Errorf("ledger: sync: %w", err)
		}
		return nil
	}
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fsutil.WriteOnce(l.abs(f.path), f.data, 0o644); err != nil {
				errs[i] = fmt.Errorf("ledger: write %s: %w", f.path, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Entry returns the entry at index i.
func (l *Log) Entry(i int64) ([]byte, error) {
	size := l.Size()
	if i < 0 || i >= size {
		return nil, fmt.Errorf("%w: %d of %d", ErrRange, i, size)
	}
	n := i / tileWidth
	w := tileWidthAt(0, n, size)
	data, err := os.ReadFile(l.abs(BundlePath(n, w)))
	if err != nil {
		return nil, fmt.Errorf("ledger: read entry bundle: %w", err)
	}
	es, err := SplitBundle(data)
	if err != nil || len(es) != w {
		return nil, fmt.Errorf("%w: entry bundle %s is malformed", ErrTampered, BundlePath(n, w))
	}
	e := es[i%tileWidth]
	leaf, err := l.hashReader(size, nil).ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
	if err != nil {
		return nil, err
	}
	if tlog.RecordHash(e) != leaf[0] {
		return nil, fmt.Errorf("%w: entry %d does not match its leaf hash", ErrTampered, i)
	}
	return e, nil
}

// Prove returns the inclusion proof of entry i in the tree of the latest checkpoint.
func (l *Log) Prove(i int64) (tlog.RecordProof, int64, tlog.Hash, error) {
	size, root := l.Root()
	if i < 0 || i >= size {
		return nil, 0, tlog.Hash{}, fmt.Errorf("%w: %d of %d", ErrRange, i, size)
	}
	p, err := tlog.ProveRecord(size, i, l.hashReader(size, nil))
	return p, size, root, err
}

// JoinBundle encodes entries as a C2SP entry bundle: each entry prefixed with its
// length as a big-endian uint16.
func JoinBundle(entries [][]byte) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		b.Write(binary.BigEndian.AppendUint16(nil, uint16(len(e))))
		b.Write(e)
	}
	return b.Bytes()
}

// SplitBundle decodes an entry bundle.
func SplitBundle(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, errors.New("truncated length")
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, errors.New("truncated entry")
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	return out, nil
}
