package archive

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"sync"
)

// presence is a Bloom filter over the SHA-256 of every record, so that the
// ingest workers ask the catalog "is this already archived?" only when the answer
// may be yes. A catalog query costs ≈35 µs through database/sql; the filter costs
// ≈50 ns and 10 bits per record (≈1 % false positives, which only cost a query).
// It is rebuilt from the catalog when an ingester starts and fed every commit.
type presence struct {
	mu   sync.RWMutex
	bits []uint64
	m    uint64 // number of bits
	n    int64  // items added
}

const bloomK = 7

func newPresence(expected int64) *presence {
	m := uint64(max(expected, 1<<16)) * 10 * 2 // room to double before the rate degrades
	m = (m + 63) &^ 63
	return &presence{bits: make([]uint64, m/64), m: m}
}

// positions derives the k bit positions from the digest itself (it is uniformly
// distributed), by double hashing two 64-bit halves.
func (p *presence) positions(sum *[32]byte, out *[bloomK]uint64) {
	h1 := binary.LittleEndian.Uint64(sum[0:8])
	h2 := binary.LittleEndian.Uint64(sum[8:16]) | 1
	for i := range out {
		out[i] = (h1 + uint64(i)*h2) % p.m
	}
}

func (p *presence) add(sum *[32]byte) {
	var pos [bloomK]uint64
	p.positions(sum, &pos)
	p.mu.Lock()
	for _, b := range pos {
		p.bits[b/64] |= 1 << (b % 64)
	}
	p.n++
	p.mu.Unlock()
}

func (p *presence) mayHave(sum *[32]byte) bool {
	var pos [bloomK]uint64
	p.positions(sum, &pos)
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, b := range pos {
		if p.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// loadPresence builds the filter from every record in the catalog.
func (a *Archive) loadPresence(ctx context.Context) (*presence, error) {
	st, err := a.Cat.Stats(ctx)
	if err != nil {
		return nil, err
	}
	p := newPresence(st.Records)
	err = a.Cat.EachSHA256(ctx, func(h string) error {
		var sum [32]byte
		if _, err := hex.Decode(sum[:], []byte(h)); err == nil {
			p.add(&sum)
		}
		return nil
	})
	return p, err
}
