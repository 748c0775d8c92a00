// Package keys creates and loads the instance's key material: the master keys that
// wrap every blob's data key (AES-256-GCM envelope encryption, rotatable by id), the
// key that names blobs (HMAC-SHA256 of the content hash, so the store does not reveal
// which known documents it holds), and the Ed25519 key that signs ledger checkpoints
// (C2SP signed-note, via golang.org/x/mod/sumdb/note).
//
// Layout under the key directory (0700; files 0600, never rewritten):
//
//	master/<id>.key   base64 of 32 random bytes; id = "mk" + first 12 hex of SHA-256(key)
//	master/current    the id used for new blobs
//	blobname.key      base64 of 32 random bytes
//	ledger.key        note signer key  "PRIVATE+KEY+<origin>+<hash>+<base64>"
//	ledger.pub        note verifier key "<origin>+<hash>+<base64>" (public)
//
// A master key may also come from the environment (RESGUARDO_MASTER_KEY="<base64>")
// so that production keeps it off the disk that holds the data; secrets are never
// logged or printed.
package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/resguardo/resguardo/internal/fsutil"
)

// KeySize is the size of master and naming keys.
const KeySize = 32

// ErrNoKeys reports a key directory that has not been initialised.
var ErrNoKeys = errors.New("keys: not initialised")

// Ring is the loaded key material. It never formats secrets in String or errors.
type Ring struct {
	current string
	master  map[string][]byte
	nameKey []byte
	signer  note.Signer
	verKey  string
	ver     note.Verifier
}

// Options adjusts where keys come from.
type Options struct {
	// MasterKeyB64, when set, is an additional master key given outside the key
	// directory (env or file); it becomes the current key.
	MasterKeyB64 string
}

// ID returns the identifier of a master key.
func ID(key []byte) string {
	sum := sha256.Sum256(key)
	return "mk" + hex.EncodeToString(sum[:6])
}

// Init generates any key that is missing in dir. origin names the ledger key (the
// log's origin line); it must be a valid note name (no spaces or '+').
// It returns true when it created something.
func Init(dir, origin string) (bool, error) {
	if err := fsutil.MkdirAll(filepath.Join(dir, "master"), 0o700); err != nil {
		return false, fmt.Errorf("create key dir: %w", err)
	}
	created := false
	cur := filepath.Join(dir, "master", "current")
	if _, err := os.Stat(cur); errors.Is(err, os.ErrNotExist) {
		k := make([]byte, KeySize)
		if _, err := rand.Read(k); err != nil {
			return false, err
		}
		id := ID(k)
		if err := fsutil.WriteOnce(filepath.Join(dir, "master", id+".key"), []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
			return false, err
		}
		if err := fsutil.WriteFile(cur, []byte(id+"\n"), 0o600); err != nil {
			return false, err
		}
		created = true
	}
	nk := filepath.Join(dir, "blobname.key")
	if _, err := os.Stat(nk); errors.Is(err, os.ErrNotExist) {
		k := make([]byte, KeySize)
		if _, err := rand.Read(k); err != nil {
			return false, err
		}
		if err := fsutil.WriteOnce(nk, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
			return false, err
		}
		created = true
	}
	lk := filepath.Join(dir, "ledger.key")
	if _, err := os.Stat(lk); errors.Is(err, os.ErrNotExist) {
		os.Remove(filepath.Join(dir, "ledger.pub")) // useless without its private half (interrupted init)
		skey, vkey, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			return false, fmt.Errorf("generate ledger key for origin %q: %w", origin, err)
		}
		if err := fsutil.WriteOnce(filepath.Join(dir, "ledger.pub"), []byte(vkey+"\n"), 0o644); err != nil {
			return false, err
		}
		if err := fsutil.WriteOnce(lk, []byte(skey+"\n"), 0o600); err != nil {
			return false, err
		}
		created = true
	}
	return created, nil
}

// Load reads the key directory.
func Load(dir string, opt Options) (*Ring, error) {
	r := &Ring{master: map[string][]byte{}}
	ents, err := os.ReadDir(filepath.Join(dir, "master"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoKeys)
	}
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".key") {
			continue
		}
		k, err := readB64Key(filepath.Join(dir, "master", name))
		if err != nil {
			return nil, err
		}
		id := strings.TrimSuffix(name, ".key")
		if ID(k) != id {
			return nil, fmt.Errorf("master key file %s: id does not match its content", name)
		}
		r.master[id] = k
	}
	cur, err := os.ReadFile(filepath.Join(dir, "master", "current"))
	if err != nil {
		return nil, fmt.Errorf("read current master key id: %w", err)
	}
	r.current = strings.TrimSpace(string(cur))
	if opt.MasterKeyB64 != "" {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(opt.MasterKeyB64))
		if err != nil || len(k) != KeySize {
			return nil, fmt.Errorf("master key from environment/config: want base64 of %d bytes", KeySize)
		}
		r.master[ID(k)] = k
		r.current = ID(k)
	}
	if _, ok := r.master[r.current]; !ok {
		return nil, fmt.Errorf("current master key %q is not available", r.current)
	}
	if r.nameKey, err = readB64Key(filepath.Join(dir, "blobname.key")); err != nil {
		return nil, err
	}
	skey, err := os.ReadFile(filepath.Join(dir, "ledger.key"))
	if err != nil {
		return nil, fmt.Errorf("read ledger key: %w", err)
	}
	if r.signer, err = note.NewSigner(strings.TrimSpace(string(skey))); err != nil {
		return nil, fmt.Errorf("ledger key %s: malformed signer key", filepath.Join(dir, "ledger.key"))
	}
	vkey, err := os.ReadFile(filepath.Join(dir, "ledger.pub"))
	if err != nil {
		return nil, fmt.Errorf("read ledger public key: %w", err)
	}
	r.verKey = strings.TrimSpace(string(vkey))
	if r.ver, err = note.NewVerifier(r.verKey); err != nil {
		return nil, fmt.Errorf("ledger public key %s: %w", filepath.Join(dir, "ledger.pub"), err)
	}
	if r.ver.Name() != r.signer.Name() || r.ver.KeyHash() != r.signer.KeyHash() {
		return nil, fmt.Errorf("ledger.pub does not match ledger.key")
	}
	return r, nil
}

func readB64Key(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != KeySize {
		return nil, fmt.Errorf("key file %s: want base64 of %d bytes", path, KeySize)
	}
	return k, nil
}

// Current returns the id and bytes of the master key used for new blobs.
func (r *Ring) Current() (string, []byte) { return r.current, r.master[r.current] }

// Master returns the master key with the given id.
func (r *Ring) Master(id string) ([]byte, bool) {
	k, ok := r.master[id]
	return k, ok
}

// MasterIDs lists the ids of the loaded master keys.
func (r *Ring) MasterIDs() []string {
	ids := make([]string, 0, len(r.master))
	for id := range r.master {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// NameKey returns the key that derives blob names.
func (r *Ring) NameKey() []byte { return r.nameKey }

// LedgerSigner signs checkpoints.
func (r *Ring) LedgerSigner() note.Signer { return r.signer }

// LedgerVerifier verifies checkpoints.
func (r *Ring) LedgerVerifier() note.Verifier { return r.ver }

// LedgerPublicKey is the note verifier key, safe to publish.
func (r *Ring) LedgerPublicKey() string { return r.verKey }
