package pseudo

import (
	"math/bits"
	"math/rand/v2"
	"sync"
)

// ways is the associativity of a setCache: a key can live in any of the
// ways of one bucket. Eight ways make conflict misses rare while a lookup
// still touches only one bucket, a few cache lines.
const ways = 8

// cacheKey is a cache key: up to 128 bits and a tag that keeps apart keys
// of different kinds (IPv4 and IPv6 addresses, prefixes of each length)
// stored in one table.
type cacheKey struct {
	hi, lo uint64
	tag    uint8
}

type bucket[V any] struct {
	mu   sync.Mutex
	used uint8 // bit i: way i holds an entry
	ref  uint8 // bit i: way i was used since the clock hand last passed it
	hand uint8 // next way the clock hand examines
	keys [ways]cacheKey
	vals [ways]V
}

// A setCache is a fixed-size map from cacheKey to V: a set-associative
// table whose buckets each evict by CLOCK, an approximation of LRU that
// needs one bit per entry. Memory is allocated once, at creation; a lookup
// or insertion costs one hash and one bucket lock, and never allocates. It
// is safe for concurrent use: each bucket has its own lock, so goroutines
// rarely wait for each other.
//
// The bucket index comes from a keyed hash with a random seed, so that
// whoever chooses the addresses that reach the cache (any client of the
// resolver) cannot aim them all at one bucket to evict others: the worst
// they can do is what any workload larger than the cache does.
type setCache[V any] struct {
	buckets      []bucket[V]
	mask         uint64
	seed0, seed1 uint64
}

// newSetCache returns a cache that holds at least n entries (n > 0).
func newSetCache[V any](n int) *setCache[V] {
	nb := 1
	for nb*ways < n {
		nb <<= 1
	}
	return &setCache[V]{
		buckets: make([]bucket[V], nb),
		mask:    uint64(nb - 1),
		seed0:   rand.Uint64(),
		seed1:   rand.Uint64() | 1,
	}
}

func (c *setCache[V]) bucket(k cacheKey) *bucket[V] {
	// Two 64×64→128-bit multiplications mix every key bit into the index.
	h1, l1 := bits.Mul64(k.hi^c.seed0, 0x9e3779b97f4a7c15)
	h2, l2 := bits.Mul64(k.lo^uint64(k.tag)<<56^c.seed1, 0xc2b2ae3d27d4eb4f)
	return &c.buckets[(h1^l1^h2^l2)&c.mask]
}

// get returns the value stored for k.
func (c *setCache[V]) get(k cacheKey) (v V, ok bool) {
	b := c.bucket(k)
	b.mu.Lock()
	for i := range ways {
		if b.used>>i&1 != 0 && b.keys[i] == k {
			b.ref |= 1 << i
			v, ok = b.vals[i], true
			break
		}
	}
	b.mu.Unlock()
	return v, ok
}

// put stores v for k, replacing the value already stored for k, if any,
// or else the entry that the bucket's clock evicts.
func (c *setCache[V]) put(k cacheKey, v V) {
	b := c.bucket(k)
	b.mu.Lock()
	i := b.find(k)
	b.keys[i], b.vals[i] = k, v
	b.used |= 1 << i
	b.ref |= 1 << i
	b.mu.Unlock()
}

// find returns the way of k, or of a free or evicted entry. The caller
// holds b.mu.
func (b *bucket[V]) find(k cacheKey) int {
	for i := range ways {
		if b.used>>i&1 != 0 && b.keys[i] == k {
			return i
		}
	}
	if b.used != 1<<ways-1 {
		return bits.TrailingZeros8(^b.used)
	}
	// CLOCK: pass over recently used entries, clearing their bit, and
	// take the first one not used since the last pass. Within ways+1
	// steps some bit is clear.
	for {
		i := int(b.hand)
		b.hand = (b.hand + 1) % ways
		if b.ref>>i&1 == 0 {
			return i
		}
		b.ref &^= 1 << i
	}
}
