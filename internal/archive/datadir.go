package archive

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/resguardo/resguardo/internal/fsutil"
	"github.com/resguardo/resguardo/internal/keys"
)

// DataFormat identifies a Resguardo data directory; DataVersion is its layout version.
const (
	DataFormat  = "resguardo-data"
	DataVersion = 1
)

// Layout names the parts of a data directory.
type Layout struct{ Dir string }

func (l Layout) FormatFile() string { return filepath.Join(l.Dir, "FORMAT") }
func (l Layout) Keys() string       { return filepath.Join(l.Dir, "keys") }
func (l Layout) Catalog() string    { return filepath.Join(l.Dir, "catalog.db") }
func (l Layout) Blobs() string      { return filepath.Join(l.Dir, "blobs") }
func (l Layout) Ledger() string     { return filepath.Join(l.Dir, "ledger") }
func (l Layout) Index() string      { return filepath.Join(l.Dir, "index") }
func (l Layout) LockFile() string   { return filepath.Join(l.Dir, "lock") }

// MTASTSCache is the relay's cache of MTA-STS policies (RFC 8461 §5.1).
func (l Layout) MTASTSCache() string { return filepath.Join(l.Dir, "mta-sts-cache.json") }

// Format is the FORMAT file at the top of a data directory.
type Format struct {
	Format   string `json:"format"`
	Version  int    `json:"version"`
	Instance string `json:"instance"`
	Origin   string `json:"origin"`
	Created  string `json:"created"`
}

// ErrNotInitialized reports a directory that is not a data directory yet.
var ErrNotInitialized = errors.New("archive: data directory not initialised")

// ReadFormat reads and checks the FORMAT file.
func ReadFormat(dir string) (Format, error) {
	var f Format
	b, err := os.ReadFile(Layout{dir}.FormatFile())
	if errors.Is(err, os.ErrNotExist) {
		return f, fmt.Errorf("%s: %w", dir, ErrNotInitialized)
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Format != DataFormat {
		return f, fmt.Errorf("%s: not a Resguardo data directory (bad FORMAT file)", dir)
	}
	if f.Version > DataVersion {
		return f, fmt.Errorf("%s: data directory version %d is newer than this program (%d)", dir, f.Version, DataVersion)
	}
	return f, nil
}

// Init creates a data directory (or completes one whose creation was interrupted):
// keys, store directories, and last the FORMAT file that marks it complete. origin is
// the ledger's origin line; empty means "resguardo/<instance id>". It reports whether
// anything was created. It never replaces keys of a directory that holds data.
func Init(dir, origin string, now time.Time) (Format, bool, error) {
	lay := Layout{dir}
	if f, err := ReadFormat(dir); err == nil {
		if keysComplete(lay.Keys()) {
			return f, false, nil
		}
		if hasData(lay) {
			return f, false, fmt.Errorf("keys are missing from %s but the directory holds archived data: restore the keys from your backup (new keys could not read it)", lay.Keys())
		}
		created, err := keys.Init(lay.Keys(), f.Origin)
		return f, created, err
	} else if !errors.Is(err, ErrNotInitialized) {
		return f, false, err
	}
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			switch name := e.Name(); {
			case strings.HasPrefix(name, ".tmp-"):
				// A write (FORMAT) that an interrupted init left half done.
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					return Format{}, false, err
				}
			case name == "keys" || name == "lock":
			case name == "blobs" || name == "ledger": // left by an interrupted init: must still be empty
				if sub, _ := os.ReadDir(filepath.Join(dir, e.Name())); len(sub) > 0 {
					return Format{}, false, fmt.Errorf("%s holds %s/ but no FORMAT file: not a complete Resguardo data directory; move it aside", dir, e.Name())
				}
			default:
				return Format{}, false, fmt.Errorf("%s is not empty and is not a Resguardo data directory; choose an empty or new directory", dir)
			}
		}
	}
	if err := fsutil.MkdirAll(dir, 0o700); err != nil {
		return Format{}, false, fmt.Errorf("create data directory: %w", err)
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return Format{}, false, err
	}
	inst := hex.EncodeToString(id)
	if origin == "" {
		origin = "resguardo/" + inst
	}
	if strings.ContainsAny(origin, " +\n\t") {
		return Format{}, false, fmt.Errorf("ledger origin %q: must not contain spaces or '+'", origin)
	}
	if old, err := os.ReadFile(filepath.Join(lay.Keys(), "ledger.pub")); err == nil {
		// An interrupted init already named the ledger key: keep its origin.
		if name, _, ok := strings.Cut(strings.TrimSpace(string(old)), "+"); ok {
			origin = name
		}
	}
	f := Format{Format: DataFormat, Version: DataVersion, Instance: inst, Origin: origin, Created: now.UTC().Format(time.RFC3339)}
	if _, err := keys.Init(lay.Keys(), origin); err != nil {
		return f, false, err
	}
	for _, d := range []string{lay.Blobs(), lay.Ledger()} {
		if err := fsutil.MkdirAll(d, 0o700); err != nil {
			return f, false, err
		}
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	if err := fsutil.WriteFile(lay.FormatFile(), append(b, '\n'), 0o644); err != nil {
		return f, false, err
	}
	return f, true, nil
}

func keysComplete(dir string) bool {
	for _, f := range []string{"master/current", "blobname.key", "ledger.key", "ledger.pub"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

func hasData(lay Layout) bool {
	if _, err := os.Stat(lay.Catalog()); err == nil {
		return true
	}
	for _, d := range []string{lay.Blobs(), lay.Ledger()} {
		if ents, _ := os.ReadDir(d); len(ents) > 0 {
			return true
		}
	}
	return false
}

// Lock is the data directory's single-writer lock (flock on DIR/lock).
type Lock struct{ f *os.File }

// ErrLocked reports that another process holds the writer lock.
var ErrLocked = errors.New("archive: data directory is in use by another resguardo process")

// AcquireLock takes the writer lock without waiting; what names the holder in the
// lock file (e.g. "import", "serve").
func AcquireLock(dir, what string) (*Lock, error) {
	path := Layout{dir}.LockFile()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	// A lock this process has just released can still be held for a moment by a
	// child between fork and exec (it inherits the descriptor until exec closes
	// it): when the holder is this very process, wait briefly instead of failing.
	self := "pid " + strconv.Itoa(os.Getpid()) + " "
	for try := 0; errors.Is(err, unix.EWOULDBLOCK) && try < 50; try++ {
		if holder, _ := os.ReadFile(path); !strings.HasPrefix(string(holder), self) {
			break
		}
		time.Sleep(10 * time.Millisecond)
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s)", ErrLocked, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+" "+what+"\n"), 0)
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
