package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Witness cosignatures, C2SP tlog-cosignature (Ed25519, "cosignature/v1"): a witness
// — another institution, the órgano interno de control — signs a checkpoint after
// checking that it extends the last one it saw, so the log cannot show different
// histories to different people. A cosignature is a signed-note signature line
// whose key ID is SHA-256(name || "\n" || 0x04 || public key)[:4] and whose signature
// is a big-endian u64 POSIX time followed by an Ed25519 signature over
// "cosignature/v1\ntime <t>\n" || checkpoint body.

const cosigAlg = 0x04

func cosigKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{cosigAlg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func cosignedMessage(t uint64, body []byte) []byte {
	return append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), body...)
}

// Cosigner signs checkpoints as a witness. It implements note.Signer.
type Cosigner struct {
	name string
	key  ed25519.PrivateKey
	now  func() time.Time
}

// Name is the witness name.
func (c *Cosigner) Name() string { return c.name }

// KeyHash is the cosignature key ID.
func (c *Cosigner) KeyHash() uint32 { return cosigKeyHash(c.name, c.key.Public().(ed25519.PublicKey)) }

// Sign returns timestamp || Ed25519 signature over the cosigned message.
func (c *Cosigner) Sign(msg []byte) ([]byte, error) {
	t := uint64(c.now().Unix())
	sig := ed25519.Sign(c.key, cosignedMessage(t, msg))
	return append(binary.BigEndian.AppendUint64(nil, t), sig...), nil
}

// CosignVerifier checks one witness's cosignatures. It implements note.Verifier.
type CosignVerifier struct {
	name string
	pub  ed25519.PublicKey
	// When is set by Verify to the cosignature's time.
	When time.Time
}

// Name is the witness name.
func (v *CosignVerifier) Name() string { return v.name }

// KeyHash is the cosignature key ID.
func (v *CosignVerifier) KeyHash() uint32 { return cosigKeyHash(v.name, v.pub) }

// Verify checks a cosignature over a checkpoint body.
func (v *CosignVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	if !ed25519.Verify(v.pub, cosignedMessage(t, msg), sig[8:]) {
		return false
	}
	v.When = time.Unix(int64(t), 0).UTC()
	return true
}

// GenerateWitnessKey returns a new witness signer key and its verifier key, in the
// signed-note text forms "PRIVATE+KEY+<name>+<hash>+<base64(0x04||seed)>" and
// "<name>+<hash>+<base64(0x04||public key)>".
func GenerateWitnessKey(name string) (skey, vkey string, err error) {
	if name == "" || strings.ContainsAny(name, "+ \n") {
		return "", "", fmt.Errorf("witness name %q: no spaces or '+'", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	h := fmt.Sprintf("%08x", cosigKeyHash(name, pub))
	skey = "PRIVATE+KEY+" + name + "+" + h + "+" + base64.StdEncoding.EncodeToString(append([]byte{cosigAlg}, priv.Seed()...))
	vkey = name + "+" + h + "+" + base64.StdEncoding.EncodeToString(append([]byte{cosigAlg}, pub...))
	return skey, vkey, nil
}

// ErrWitnessKey reports a malformed witness key.
var ErrWitnessKey = errors.New("malformed witness key")

// NewCosigner parses a witness signer key.
func NewCosigner(skey string, now func() time.Time) (*Cosigner, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(skey), "PRIVATE+KEY+")
	if !ok {
		return nil, ErrWitnessKey
	}
	name, key, err := splitKey(rest, true)
	if err != nil || len(key) != ed25519.SeedSize {
		return nil, ErrWitnessKey
	}
	if now == nil {
		now = time.Now
	}
	return &Cosigner{name: name, key: ed25519.NewKeyFromSeed(key), now: now}, nil
}

// NewCosignVerifier parses a witness verifier key.
func NewCosignVerifier(vkey string) (*CosignVerifier, error) {
	name, key, err := splitKey(strings.TrimSpace(vkey), false)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return nil, ErrWitnessKey
	}
	return &CosignVerifier{name: name, pub: ed25519.PublicKey(key)}, nil
}

func splitKey(s string, private bool) (name string, key []byte, err error) {
	// Names cannot contain '+'; the base64 key can.
	parts := strings.SplitN(s, "+", 3)
	if len(parts) != 3 || parts[0] == "" {
		return "", nil, ErrWitnessKey
	}
	name, hash, b64 := parts[0], parts[1], parts[2]
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < 2 || raw[0] != cosigAlg {
		return "", nil, ErrWitnessKey
	}
	h, err := strconv.ParseUint(hash, 16, 32)
	if err != nil || len(hash) != 8 {
		return "", nil, ErrWitnessKey
	}
	key = raw[1:]
	if len(key) != 32 {
		return "", nil, ErrWitnessKey
	}
	pub := ed25519.PublicKey(key)
	if private {
		pub = ed25519.NewKeyFromSeed(key).Public().(ed25519.PublicKey)
	}
	if uint32(h) != cosigKeyHash(name, pub) {
		return "", nil, ErrWitnessKey
	}
	return name, key, nil
}

// Cosign adds the witness's cosignature to a signed checkpoint (which it must have
// verified first) and returns the whole note, log signature first.
func Cosign(checkpoint []byte, log note.Verifier, w *Cosigner) ([]byte, error) {
	n, err := note.Open(checkpoint, note.VerifierList(log))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpointSignature, err)
	}
	return note.Sign(n, w)
}

// SignatureLines returns the signature lines of a signed note that are not in base
// (the cosignatures added to it).
func SignatureLines(signed, base []byte) []string {
	_, sigs, ok := bytes.Cut(signed, []byte("\n\n"))
	if !ok {
		return nil
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n") {
		if l != "" && !bytes.Contains(base, []byte(l+"\n")) {
			out = append(out, l)
		}
	}
	return out
}

// WithSignatures appends signature lines to a signed note.
func WithSignatures(signed []byte, lines []string) []byte {
	out := bytes.Clone(signed)
	for _, l := range lines {
		out = append(out, l+"\n"...)
	}
	return out
}

// CheckWitnesses counts, among the note's signatures, valid cosignatures by the
// given witnesses (the log's own signature is checked with log). It returns each
// witness that cosigned and when.
func CheckWitnesses(signed []byte, log note.Verifier, witnesses []*CosignVerifier) (map[string]time.Time, error) {
	list := []note.Verifier{log}
	for _, w := range witnesses {
		list = append(list, w)
	}
	n, err := note.Open(signed, note.VerifierList(list...))
	if err != nil {
		var unk *note.UnknownVerifierError
		if !errors.As(err, &unk) {
			return nil, err
		}
	}
	got := map[string]time.Time{}
	if n == nil {
		return got, nil
	}
	for _, s := range n.Sigs {
		for _, w := range witnesses {
			if s.Name == w.Name() && s.Hash == w.KeyHash() {
				got[w.Name()] = w.When
			}
		}
	}
	return got, nil
}
