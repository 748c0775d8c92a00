package relay

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func shaOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestHotCache(t *testing.T) {
	c := newHotCache(100)
	a, b, big := bytes.Repeat([]byte("a"), 20), bytes.Repeat([]byte("b"), 20), bytes.Repeat([]byte("c"), 26)
	c.put(a[:20:20])
	if got := c.get(shaOf(a)); !bytes.Equal(got, a) {
		t.Fatalf("get after put = %q", got)
	}
	if c.get(shaOf(b)) != nil {
		t.Fatal("bytes never put are found")
	}
	c.put(b)
	if c.get(shaOf(b)) == nil {
		t.Fatal("b not cached")
	}
	c.put(big) // more than a quarter of the cache: never kept
	if c.get(shaOf(big)) != nil {
		t.Fatal("an oversized message was cached")
	}
	// Filling the cache forgets the oldest first.
	var last []byte
	for i := range 4 {
		last = bytes.Repeat([]byte{byte('d' + i)}, 20)
		c.put(last[:20:20])
	}
	if c.get(shaOf(a)) != nil {
		t.Error("the oldest entry survived a full cache")
	}
	if c.get(shaOf(last)) == nil {
		t.Error("the newest entry was evicted")
	}
	if c.size > c.max {
		t.Errorf("cache holds %d bytes, limit %d", c.size, c.max)
	}
	var nilCache *hotCache
	nilCache.put(a)
	if nilCache.get("x") != nil {
		t.Error("nil cache returned bytes")
	}
}
