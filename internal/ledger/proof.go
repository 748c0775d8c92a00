package ledger

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ProofHeader is the first line of a C2SP tlog-proof.
const ProofHeader = "c2sp.org/tlog-proof@v1"

// Proof is a C2SP tlog-proof: an entry's index, its RFC 6962 inclusion path (leaf's
// sibling first), and the signed checkpoint of the tree it is proven against.
type Proof struct {
	Extra      []byte // optional, unauthenticated
	Index      int64
	Path       tlog.RecordProof
	Checkpoint []byte // signed note, verbatim
}

// Marshal renders the proof in the C2SP text format.
func (p Proof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(ProofHeader + "\n")
	if len(p.Extra) > 0 {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Extra) + "\n")
	}
	fmt.Fprintf(&b, "index %d\n", p.Index)
	for _, h := range p.Path {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// Proof parsing errors.
var ErrProofSyntax = errors.New("tlog-proof: malformed")

// ParseProof parses the C2SP text format (it does not verify anything).
func ParseProof(text []byte) (Proof, error) {
	var p Proof
	head, cp, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok || len(cp) == 0 {
		return p, fmt.Errorf("%w: no blank line before the checkpoint", ErrProofSyntax)
	}
	p.Checkpoint = cp
	lines := strings.Split(string(head), "\n")
	if lines[0] != ProofHeader {
		return p, fmt.Errorf("%w: first line is not %q", ErrProofSyntax, ProofHeader)
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		x, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(lines[0], "extra "))
		if err != nil || len(x) == 0 {
			return p, fmt.Errorf("%w: bad extra line", ErrProofSyntax)
		}
		p.Extra, lines = x, lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return p, fmt.Errorf("%w: missing index line", ErrProofSyntax)
	}
	s := strings.TrimPrefix(lines[0], "index ")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || (s != "0" && strings.HasPrefix(s, "0")) || strconv.FormatInt(n, 10) != s {
		return p, fmt.Errorf("%w: bad index %q", ErrProofSyntax, s)
	}
	p.Index = n
	for _, l := range lines[1:] {
		h, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(h) != tlog.HashSize {
			return p, fmt.Errorf("%w: bad hash line %q", ErrProofSyntax, l)
		}
		p.Path = append(p.Path, tlog.Hash(h))
	}
	if len(p.Path) > 64 {
		return p, fmt.Errorf("%w: inclusion path of %d hashes", ErrProofSyntax, len(p.Path))
	}
	return p, nil
}

// Verification errors name the step that failed.
var (
	ErrCheckpointSignature = errors.New("checkpoint signature does not verify with the log key")
	ErrInclusion           = errors.New("inclusion proof does not lead to the checkpoint's root")
)

// VerifyProof checks the checkpoint's signature with v and that entry is at
// p.Index in its tree. It returns the verified checkpoint.
func VerifyProof(p Proof, entry []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(p.Checkpoint, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrCheckpointSignature, err)
	}
	c, err := ParseCheckpointBody(n.Text)
	if err != nil {
		return c, err
	}
	if c.Origin != v.Name() {
		return c, fmt.Errorf("%w: origin %q, key for %q", ErrCheckpointSignature, c.Origin, v.Name())
	}
	if p.Index >= c.Size {
		return c, fmt.Errorf("%w: index %d outside a tree of %d", ErrInclusion, p.Index, c.Size)
	}
	if err := tlog.CheckRecord(p.Path, c.Size, c.Root, p.Index, tlog.RecordHash(entry)); err != nil {
		return c, fmt.Errorf("%w: %v", ErrInclusion, err)
	}
	return c, nil
}

// ProveAt returns the inclusion path of entry i in the tree of size t (t ≤ Size).
func (l *Log) ProveAt(i, t int64) (tlog.RecordProof, error) {
	size := l.Size()
	if t <= 0 || t > size || i < 0 || i >= t {
		return nil, fmt.Errorf("%w: entry %d in tree %d (log has %d)", ErrRange, i, t, size)
	}
	return tlog.ProveRecord(t, i, l.hashReader(size, nil))
}

// TreeHash returns the root hash of the tree of size t (t ≤ Size).
func (l *Log) TreeHash(t int64) (tlog.Hash, error) {
	size := l.Size()
	if t < 0 || t > size {
		return tlog.Hash{}, fmt.Errorf("%w: tree %d (log has %d)", ErrRange, t, size)
	}
	return tlog.TreeHash(t, l.hashReader(size, nil))
}

// ProveConsistency returns the RFC 6962 consistency proof from tree size old to
// tree size cur (both ≤ Size).
func (l *Log) ProveConsistency(old, cur int64) (tlog.TreeProof, error) {
	size := l.Size()
	if old <= 0 || old > cur || cur > size {
		return nil, fmt.Errorf("%w: consistency %d → %d (log has %d)", ErrRange, old, cur, size)
	}
	return tlog.ProveTree(cur, old, l.hashReader(size, nil))
}
