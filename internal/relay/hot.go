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
// as after a restart. Bytes are keyed by their SHA-256, checked on insertion, so
// a cached copy is always the archived message.
type hotCache struct {
	mu    sync.Mutex
	max   int
	size  int
	byID  map[string][]byte
	order []string // insertion order, oldest first
}

func newHotCache(max int) *hotCache { return &hotCache{max: max, byID: map[string][]byte{}} }

// put remembers data under sha (hex); data that does not hash to sha, or is
// larger than a quarter of the cache, is not kept. Sizes count capacity: the
// memory actually held.
func (c *hotCache) put(sha string, data []byte) {
	if c == nil || c.max <= 0 || cap(data) > c.max/4 {
		return
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != sha {
		return
	}
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
