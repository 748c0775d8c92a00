package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// TestProofsInteropAndTamper proves every entry of trees of many sizes against
// stamped checkpoints of older sizes, checks each proof with transparency-dev/merkle
// (an independent RFC 6962 implementation) and with VerifyProof, round-trips the
// C2SP text format, and checks that any altered byte makes verification fail at the
// right step.
func TestProofsInteropAndTamper(t *testing.T) {
	t.Parallel()
	origin := "resguardo.test/proofs"
	s, v := newKeys(t, origin)
	l, err := Open(t.TempDir(), Options{Origin: origin, Signer: s, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	var all [][]byte
	type stamped struct {
		size int64
		cp   []byte
	}
	var cps []stamped
	for _, k := range []int{1, 2, 5, 120, 300, 1, 600} {
		var b [][]byte
		for i := 0; i < k; i++ {
			b = append(b, entry(len(all)+i))
		}
		if _, err := l.Append(b); err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
		cp, _ := l.Checkpoint()
		cps = append(cps, stamped{l.Size(), bytes.Clone(cp)})
	}
	for ci, c := range cps {
		root, err := l.TreeHash(c.size)
		if err != nil {
			t.Fatal(err)
		}
		for i := int64(0); i < c.size; i += 1 + c.size/40 {
			path, err := l.ProveAt(i, c.size)
			if err != nil {
				t.Fatal(err)
			}
			var raw [][]byte
			for _, h := range path {
				raw = append(raw, h[:])
			}
			leaf := rfc6962.DefaultHasher.HashLeaf(all[i])
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(c.size), leaf, raw, root[:]); err != nil {
				t.Fatalf("transparency-dev rejects entry %d of %d: %v", i, c.size, err)
			}
			p := Proof{Index: i, Path: path, Checkpoint: c.cp, Extra: []byte("x")}
			text := p.Marshal()
			q, err := ParseProof(text)
			if err != nil || !bytes.Equal(q.Marshal(), text) {
				t.Fatalf("round trip: %v", err)
			}
			if _, err := VerifyProof(q, all[i], v); err != nil {
				t.Fatalf("entry %d of %d: %v", i, c.size, err)
			}
			if _, err := VerifyProof(q, append(bytes.Clone(all[i]), ' '), v); !errors.Is(err, ErrInclusion) {
				t.Fatalf("altered entry: %v", err)
			}
			if len(q.Path) > 0 {
				q.Path[0][3] ^= 1
				if _, err := VerifyProof(q, all[i], v); !errors.Is(err, ErrInclusion) {
					t.Fatalf("altered path: %v", err)
				}
				q.Path[0][3] ^= 1
			}
			bad := bytes.Clone(q.Checkpoint)
			bad[len(origin)+2] ^= 1 // a digit of the size or the root
			q.Checkpoint = bad
			if _, err := VerifyProof(q, all[i], v); !errors.Is(err, ErrCheckpointSignature) {
				t.Fatalf("altered checkpoint: %v", err)
			}
		}
		// Consistency from every earlier stamped checkpoint.
		for _, old := range cps[:ci] {
			oldRoot, _ := l.TreeHash(old.size)
			tp, err := l.ProveConsistency(old.size, c.size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(tp, c.size, root, old.size, oldRoot); err != nil {
				t.Fatalf("consistency %d→%d: %v", old.size, c.size, err)
			}
			var raw [][]byte
			for _, h := range tp {
				raw = append(raw, h[:])
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old.size), uint64(c.size), raw, oldRoot[:], root[:]); err != nil {
				t.Fatalf("transparency-dev rejects consistency %d→%d: %v", old.size, c.size, err)
			}
		}
	}
	if _, err := l.ProveAt(5, l.Size()+1); !errors.Is(err, ErrRange) {
		t.Fatalf("proof beyond the log: %v", err)
	}
}

func TestParseProofErrors(t *testing.T) {
	t.Parallel()
	good := "c2sp.org/tlog-proof@v1\nindex 3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\no\n4\nAAAA\n"
	if _, err := ParseProof([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"", "c2sp.org/tlog-proof@v1\nindex 3\n", "c2sp.org/tlog-proof@v2\nindex 3\n\ncp\n",
		"c2sp.org/tlog-proof@v1\nindex 03\n\ncp\n", "c2sp.org/tlog-proof@v1\nindex -1\n\ncp\n",
		"c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\ncp\n", "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\ncp\n",
	} {
		if _, err := ParseProof([]byte(bad)); !errors.Is(err, ErrProofSyntax) {
			t.Errorf("ParseProof(%q) = %v", bad, err)
		}
	}
}

func FuzzParseProof(f *testing.F) {
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra eA==\nindex 3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\no\n4\nAAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err == nil && !bytes.Equal(p.Marshal(), b) {
			t.Fatal(fmt.Sprintf("accepted a non-canonical proof: %q", b))
		}
	})
}
