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

// Checkpoint is the body of a C2SP tlog-checkpoint: origin, tree size, root hash and
// optional extension lines.
type Checkpoint struct {
	Origin     string
	Size       int64
	Root       tlog.Hash
	Extensions []string
}

// Body renders the checkpoint text that is signed.
func (c Checkpoint) Body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
	for _, e := range c.Extensions {
		b.WriteString(e + "\n")
	}
	return b.String()
}

// SignCheckpoint returns the signed note for c.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	if c.Origin == "" || strings.ContainsAny(c.Origin, "\n") {
		return nil, errors.New("ledger: invalid origin")
	}
	out, err := note.Sign(&note.Note{Text: c.Body()}, s)
	if err != nil {
		return nil, fmt.Errorf("ledger: sign checkpoint: %w", err)
	}
	return out, nil
}

// ParseCheckpoint verifies a signed checkpoint with v and parses its body.
func ParseCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	var c Checkpoint
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return c, fmt.Errorf("signature does not verify: %w", err)
	}
	return ParseCheckpointBody(n.Text)
}

// ParseCheckpointBody parses an (already verified) checkpoint body.
func ParseCheckpointBody(text string) (Checkpoint, error) {
	var c Checkpoint
	if !strings.HasSuffix(text, "\n") {
		return c, errors.New("checkpoint: missing final newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return c, errors.New("checkpoint: want origin, size and root lines")
	}
	c.Origin = lines[0]
	if c.Origin == "" {
		return c, errors.New("checkpoint: empty origin")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || (lines[1] != "0" && strings.HasPrefix(lines[1], "0")) {
		return c, fmt.Errorf("checkpoint: bad tree size %q", lines[1])
	}
	c.Size = size
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, fmt.Errorf("checkpoint: bad root hash %q", lines[2])
	}
	copy(c.Root[:], root)
	for _, e := range lines[3:] {
		if e == "" {
			return c, errors.New("checkpoint: empty extension line")
		}
		c.Extensions = append(c.Extensions, e)
	}
	if !bytes.Equal([]byte(c.Body()), []byte(text)) {
		return c, errors.New("checkpoint: not in canonical form")
	}
	return c, nil
}
