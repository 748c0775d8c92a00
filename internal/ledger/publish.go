package ledger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/resguardo/resguardo/internal/fsutil"
)

// Publication is a timestamped checkpoint sent outside the institution, so that
// copies exist that it cannot rewrite.
type Publication struct {
	Origin     string `json:"origin"`
	Size       int64  `json:"size"`
	Checkpoint []byte `json:"-"`
	Token      []byte `json:"-"` // RFC 3161 token over SHA-256(Checkpoint), may be nil
}

// Publisher sends publications to one destination.
type Publisher interface {
	Publish(ctx context.Context, p Publication) error
	String() string
}

// DirPublisher writes <size>.checkpoint and <size>.tst into a directory (a mounted
// external disk, a synced folder). Files are written once.
type DirPublisher struct{ Dir string }

func (d DirPublisher) String() string { return "dir:" + d.Dir }

// Publish writes the files.
func (d DirPublisher) Publish(_ context.Context, p Publication) error {
	if err := fsutil.MkdirAll(d.Dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(d.Dir, fmt.Sprintf("%d", p.Size))
	if err := fsutil.WriteOnce(base+".checkpoint", p.Checkpoint, 0o644); err != nil {
		return err
	}
	if p.Token != nil {
		return fsutil.WriteOnce(base+".tst", p.Token, 0o644)
	}
	return nil
}

// HTTPPublisher POSTs {"origin","size","checkpoint","timestamp"} (JSON; checkpoint
// as text, timestamp base64 DER) to a URL, e.g. a witness run by another institution.
type HTTPPublisher struct {
	URL    string
	Client *http.Client
}

func (h HTTPPublisher) String() string { return "url:" + h.URL }

// Publish sends one publication; any status other than 2xx is an error.
func (h HTTPPublisher) Publish(ctx context.Context, p Publication) error {
	body, _ := json.Marshal(map[string]any{
		"origin": p.Origin, "size": p.Size, "checkpoint": string(p.Checkpoint),
		"timestamp": base64.StdEncoding.EncodeToString(p.Token),
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", h.URL, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("publish to %s: HTTP %s", h.URL, resp.Status)
	}
	return nil
}

// ReadPublished reads <size>.checkpoint files (and their .tst) from dirs or files.
func ReadPublished(paths []string) ([]Publication, error) {
	var out []Publication
	add := func(path string) error {
		cp, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		p := Publication{Checkpoint: cp}
		if tok, err := os.ReadFile(path[:len(path)-len(filepath.Ext(path))] + ".tst"); err == nil {
			p.Token = tok
		}
		out = append(out, p)
		return nil
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if err := add(p); err != nil {
				return nil, err
			}
			continue
		}
		files, err := filepath.Glob(filepath.Join(p, "*.checkpoint"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := add(f); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
