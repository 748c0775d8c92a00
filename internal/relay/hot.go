package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// hotCache keeps the bytes of messages just accepted, so that their first
// delivery attempt does not read the blob back from the archive (read, decrypt,
// decompress, hash) moments after intake wrote it. It is bounded by total size
// and forgets the oldest first; a message not in it is read from the archive,
// as after a restart. Bytes are keyed by their own SHA-256, so a cached copy is
// always the archived message with that id (a message whose archiving then
// failed is never asked for).
type hotCache struct {
	mu    sync.Mutex
	max   int
	size  int
	byID  map[string][]byte
	order []string // insertion order, oldest first
}

func newHotCache(max int) *hotCache { return &hotCache{max: max, byID: map[string][]byte{}} }

// put remembers data under its SHA-256; data larger than a quarter of the
// cache is not kept. Sizes count capacity: the memory actually held.
func (c *hotCache) put(data []byte) {
	if c == nil || c.max <= 0 || cap(data) > c.max/4 {
		return
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[sha]; ok {
		return
	}
	for c.size+cap(data) > c.max && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.size -= cap(c.byID[old])
		delete(c.byID, old)
	}
	c.byID[sha] = data
	c.order = append(c.order, sha)
	c.size += cap(data)
}

// get returns the bytes of sha, if kept.
func (c *hotCache) get(sha string) []byte {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[sha]
}
