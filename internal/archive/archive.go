// Package archive is the only writer of records. It turns received bytes into a
// record in one durable step: the sealed blob (package blob), the catalog row with its
// ledger entry (package catalog), and the entry in the Merkle ledger (package ledger),
// committed in groups so that thousands of messages per second share each fsync. A
// message counts as archived only when all three are durable.
package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/blob"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/keys"
	"github.com/resguardo/resguardo/internal/ledger"
	"github.com/resguardo/resguardo/internal/message"
)

// Options configures Open.
type Options struct {
	Dir          string
	Writer       bool   // take the writer lock and open stores for appending
	Check        bool   // open a possibly damaged archive for fsck (no catch-up, ledger not verified on open)
	LockName     string // what holds the lock ("import", "serve", …)
	MasterKeyB64 string // optional master key from outside the data directory
	ZstdLevel    int    // 1–4; 0 = default
	PackSize     int64  // 0 = blob.DefaultPackSize
	Limits       message.Limits
	Logger       *slog.Logger
	Now          func() time.Time
}

// Archive is an open data directory.
type Archive struct {
	opt    Options
	Format Format
	Keys   *keys.Ring
	Cat    *catalog.SQLite
	Blobs  *blob.Packs
	Sealer *blob.Sealer
	Log    *ledger.Log
	LogErr error // with Options.Check: why the ledger could not be opened (Log is nil then)
	lock   *Lock
	logger *slog.Logger
	now    func() time.Time

	checkedCPs sync.Map // SHA-256 of a stored checkpoint note → verified against the key and the ledger

	// appendMu serialises appends to the Merkle log: an ingester's batches and
	// catch-ups (serve's tick, access entries) may otherwise race for the same
	// catalog entries.
	appendMu sync.Mutex

	// soon is the pending deferred catch-up of entries committed without an
	// immediate ledger append (delivery entries); nil when none is pending.
	soonMu    sync.Mutex
	soon      *time.Timer
	soonDelay time.Duration // appendSoonDelay; tests change it
}

// appendSoonDelay is how long a committed delivery entry may wait for the Merkle
// log: an ingester batch in that time appends it with its own entries (one
// append, one set of fsyncs), else a catch-up does.
const appendSoonDelay = time.Second

// appendSoon schedules a catch-up of the Merkle log with the catalog within
// appendSoonDelay, unless one is already scheduled.
func (a *Archive) appendSoon() {
	a.soonMu.Lock()
	defer a.soonMu.Unlock()
	if a.soon != nil {
		return
	}
	d := a.soonDelay
	if d == 0 {
		d = appendSoonDelay
	}
	a.soon = time.AfterFunc(d, func() {
		a.soonMu.Lock()
		a.soon = nil
		a.soonMu.Unlock()
		if err := a.catchUpLedger(context.Background()); err != nil {
			a.logger.Warn("ledger catch-up of committed entries", "err", err)
		}
	})
}

// flushSoon runs a scheduled catch-up now (Close).
func (a *Archive) flushSoon() error {
	a.soonMu.Lock()
	t := a.soon
	a.soon = nil
	a.soonMu.Unlock()
	if t == nil || !t.Stop() {
		return nil // none pending, or already running (catchUpLedger holds appendMu)
	}
	return a.catchUpLedger(context.Background())
}

// Open opens an initialised data directory. A writer also brings the ledger up to
// date with the catalog (after a crash between the two).
func Open(ctx context.Context, opt Options) (*Archive, error) {
	f, err := ReadFormat(opt.Dir)
	if err != nil {
		return nil, err
	}
	a := &Archive{opt: opt, Format: f, logger: opt.Logger, now: opt.Now}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	if opt.Writer {
		if a.lock, err = AcquireLock(opt.Dir, opt.LockName); err != nil {
			return nil, err
		}
	}
	lay := Layout{opt.Dir}
	if a.Keys, err = keys.Load(lay.Keys(), keys.Options{MasterKeyB64: opt.MasterKeyB64}); err != nil {
		return nil, err
	}
	if a.Sealer, err = blob.NewSealer(a.Keys, opt.ZstdLevel); err != nil {
		return nil, err
	}
	if a.Cat, err = catalog.OpenSQLite(ctx, lay.Catalog(), catalog.Options{ReadOnly: false}); err != nil {
		return nil, err
	}
	if a.Blobs, err = blob.OpenPacks(lay.Blobs(), blob.PackOptions{Writer: opt.Writer, MaxPackSize: opt.PackSize}); err != nil {
		return nil, err
	}
	lo := ledger.Options{Origin: f.Origin, Verifier: a.Keys.LedgerVerifier(), Check: opt.Check}
	if opt.Writer && !opt.Check {
		// The catalog commits every ledger entry before it is appended, and
		// Open catches the ledger up from it: a checkpoint an unclean stop
		// lost is signed again, identically (ledger.Options.Derived).
		lo.Signer, lo.Derived = a.Keys.LedgerSigner(), true
	}
	if a.Log, err = ledger.Open(lay.Ledger(), lo); err != nil {
		if !opt.Check {
			return nil, err
		}
		a.Log, a.LogErr = nil, err
	}
	if opt.Writer && !opt.Check {
		if err := a.catchUpLedger(ctx); err != nil {
			return nil, err
		}
	}
	ok = true
	return a, nil
}

// Close releases everything.
func (a *Archive) Close() error {
	var errs []error
	if a.Cat != nil && a.Log != nil {
		errs = append(errs, a.flushSoon())
	}
	if a.Blobs != nil {
		errs = append(errs, a.Blobs.Close())
	}
	if a.Cat != nil {
		errs = append(errs, a.Cat.Close())
	}
	errs = append(errs, a.lock.Release())
	return errors.Join(errs...)
}

// ErrLedgerAhead reports a ledger holding entries the catalog does not know.
var ErrLedgerAhead = errors.New("archive: ledger has entries the catalog does not have (catalog restored from an old backup?)")

// catchUpLedger appends to the Merkle log the entries that the catalog committed but
// the log had not yet made durable: after a crash between the two, or entries that
// another process (a search's access entry) committed while this one held the log.
func (a *Archive) catchUpLedger(ctx context.Context) error {
	a.appendMu.Lock()
	defer a.appendMu.Unlock()
	next, err := a.Cat.LedgerNext(ctx)
	if err != nil {
		return err
	}
	return a.catchUpTo(ctx, next)
}

// catchUpTo appends catalog entries [log size, upto) to the Merkle log. The caller
// holds appendMu.
func (a *Archive) catchUpTo(ctx context.Context, upto int64) error {
	size := a.Log.Size()
	if size > upto {
		return fmt.Errorf("%w: ledger %d entries, catalog %d; run resguardo fsck", ErrLedgerAhead, size, upto)
	}
	if size == upto {
		return nil
	}
	for from := size; from < upto; {
		pending, err := a.catalogEntries(ctx, from, min(upto, from+4096))
		if err == nil {
			_, err = a.Log.Append(pending)
		}
		if err != nil {
			return fmt.Errorf("catch up ledger from catalog: %w", err)
		}
		from += int64(len(pending))
	}
	a.logger.Debug("ledger caught up with catalog", "from", size, "to", upto)
	return nil
}

// catalogEntries reads the catalog's ledger entries [from, upto).
func (a *Archive) catalogEntries(ctx context.Context, from, upto int64) ([][]byte, error) {
	var out [][]byte
	err := a.Cat.LedgerEntries(ctx, from, func(idx int64, _ string, data []byte) error {
		if idx >= upto {
			return errStopScan
		}
		if idx != from+int64(len(out)) {
			return fmt.Errorf("catalog ledger entry %d missing", from+int64(len(out)))
		}
		out = append(out, bytes.Clone(data))
		return nil
	})
	if errors.Is(err, errStopScan) {
		err = nil
	}
	if err == nil && int64(len(out)) != upto-from {
		err = fmt.Errorf("catalog has %d of ledger entries [%d, %d)", len(out), from, upto)
	}
	return out, err
}

var errStopScan = errors.New("stop")

// CatchUp appends pending catalog entries to the ledger (writers only).
func (a *Archive) CatchUp(ctx context.Context) error { return a.catchUpLedger(ctx) }

// ErrHashMismatch reports a blob whose content no longer has its record's SHA-256.
var ErrHashMismatch = errors.New("archive: stored bytes do not match the record's SHA-256")

// Bytes returns a record's message bytes, verified against its SHA-256.
func (a *Archive) Bytes(ctx context.Context, r *catalog.Record) ([]byte, error) {
	sum, err := hex.DecodeString(r.SHA256)
	if err != nil || len(sum) != 32 {
		return nil, fmt.Errorf("record %d: bad sha256 in catalog", r.Seq)
	}
	name := blob.NameFor(a.Keys.NameKey(), [32]byte(sum))
	sealed, err := a.Blobs.Get(blob.Ref(r.BlobRef), name)
	if err != nil {
		return nil, err
	}
	plain, err := a.Sealer.Open(name, sealed)
	if err != nil {
		return nil, fmt.Errorf("open blob of %s: %w", r.SHA256, err)
	}
	if got := sha256.Sum256(plain); hex.EncodeToString(got[:]) != r.SHA256 {
		return nil, fmt.Errorf("%s: %w", r.SHA256, ErrHashMismatch)
	}
	return plain, nil
}

// Dir is the data directory.
func (a *Archive) Dir() string { return a.opt.Dir }

// Writer reports whether this process holds the writer lock.
func (a *Archive) Writer() bool { return a.opt.Writer && a.lock != nil }
