package pseudo

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// This file holds what Crypto-PAn and ipcrypt-pfx share. Both are
// prefix-preserving in the same way: bit p of the pseudonym (p = 0 the most
// significant) is bit p of the address XOR a pseudo-random "flip" bit that
// depends on the key and on the address's first p bits only. Two addresses
// that share their first n bits therefore share the first n flips, and so
// the first n bits of their pseudonyms; at the first bit where they differ,
// the flips are still equal, so the pseudonyms differ there too.
//
// A flip costs one block-cipher call (two for ipcrypt-pfx), so an address
// costs 32 or 128 calls. Flips depend on prefixes only, and clients crowd
// into few prefixes, so the cache below computes each flip of a popular
// prefix once.

// u128 is a 128-bit value; hi holds the first 8 bytes in network order. As
// an address, position p (0 = the first, most significant bit) is bit 127-p
// of the integer. An IPv4 address is held left-aligned: its 32 bits are the
// top of hi, positions 0 to 31.
type u128 struct{ hi, lo uint64 }

func load128(b []byte) u128 {
	return u128{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
}

func (x u128) store(b []byte) {
	binary.BigEndian.PutUint64(b, x.hi)
	binary.BigEndian.PutUint64(b[8:], x.lo)
}

// pos returns the bit at position p.
func (x u128) pos(p int) uint64 {
	if p < 64 {
		return x.hi >> (63 - p) & 1
	}
	return x.lo >> (127 - p) & 1
}

// orPos returns x with bit b (0 or 1) ORed in at position p. Unlike a
// branch on b, it lets the processor run ahead into the next block-cipher
// call while this one's result is pending: the flips of one address are
// independent of each other, and a mispredicted branch (one flip in two)
// would throw that work away.
func (x u128) orPos(p int, b uint64) u128 {
	if p < 64 {
		x.hi |= b << (63 - p)
	} else {
		x.lo |= b << (127 - p)
	}
	return x
}

// leading returns a mask of positions 0 to p-1.
func leading(p int) u128 {
	if p <= 64 {
		return u128{^uint64(0) << (64 - p), 0} // Go gives 0 for a shift by 64
	}
	return u128{^uint64(0), ^uint64(0) << (128 - p)}
}

// shr returns the integer x shifted right by s bits.
func (x u128) shr(s int) u128 {
	switch {
	case s >= 128:
		return u128{}
	case s >= 64:
		return u128{0, x.hi >> (s - 64)}
	}
	return u128{x.hi >> s, x.lo>>s | x.hi<<(64-s)}
}

// A family is an address family, by its number of bits.
type family int

const (
	v4 family = 32
	v6 family = 128
)

// scratch is the memory for one block-cipher call: input and output. It
// comes from a sync.Pool because a slice handed to cipher.Block.Encrypt, an
// interface method, escapes: on the stack it would be one allocation per
// address.
type scratch [32]byte

// A flipper computes the flip bits of one prefix-preserving scheme.
type flipper interface {
	// flips returns the flips of positions from to to-1 of the address a
	// of family f, at their positions; all other bits are zero. The flip
	// of position p reads positions 0 to p-1 of a only.
	flips(f family, a u128, from, to int, sc *scratch) u128
}

// prefixCipher is a prefix-preserving method made of a flipper, with an
// optional cache.
type prefixCipher struct {
	name string
	f    flipper
	pool sync.Pool // of *scratch
	c    *prefixCache
}

// Cache tags: the kinds of key in the tables of a prefixCache.
const (
	tagAddr4 = 1 + iota
	tagAddr6
	tagNet24 // IPv4 /24
	tagNet32 // IPv6 /32, /48, /64
	tagNet48
	tagNet64
)

// A prefixCache remembers pseudonyms and the flips of prefixes, in bounded
// memory: the pseudonyms of whole addresses; for each IPv4 /24 its 24 flips
// and those of its last octet's tree as they become known; for IPv6 /32,
// /48 and /64 prefixes their flips, so that a new address in a known /64
// costs its last 64 flips only. The first 16 flips of each family come
// from a table made at creation.
type prefixCache struct {
	top   [2]*[1 << 16]uint16 // IPv4, IPv6: flips of positions 0 to 15, by first 16 bits
	addrs *setCache[u128]
	nodes *setCache[node24]
	nets  *setCache[uint64]
}

// node24 is what the cache knows of an IPv4 /24: the flips of its
// positions 0 to 23, and the flips of positions 24 to 31 that it has met,
// as a binary tree of the last octet's bits: node 1 is the root (position
// 24), the children of node i are 2i and 2i+1 (next bit 0 and 1).
type node24 struct {
	mask  uint64    // flips of positions 0 to 23, at their places in u128.hi
	known [4]uint64 // bit i: node i's flip is known
	flip  [4]uint64 // bit i: node i's flip
}

// init sets up e, which must not be copied afterwards. sameTop says that
// the flips of positions 0 to 15 are the same for IPv4 and IPv6.
func (e *prefixCipher) init(name string, f flipper, cacheSize int, sameTop bool) {
	e.name, e.f = name, f
	e.pool.New = func() any { return new(scratch) }
	if cacheSize > 0 {
		c := &prefixCache{
			addrs: newSetCache[u128](cacheSize),
			nodes: newSetCache[node24](max(cacheSize/8, ways)),
			nets:  newSetCache[uint64](max(cacheSize/4, ways)),
		}
		c.top[1] = e.topTable(v6)
		c.top[0] = c.top[1]
		if !sameTop {
			c.top[0] = e.topTable(v4)
		}
		e.c = c
	}
}

// job is one computation's use of the scratch pool: it takes a scratch on
// the first flip it needs, so that a cache hit costs no pool operation.
type job struct {
	e  *prefixCipher
	sc *scratch
}

func (j *job) flips(f family, a u128, from, to int) u128 {
	if j.sc == nil {
		j.sc = j.e.pool.Get().(*scratch)
	}
	return j.e.f.flips(f, a, from, to, j.sc)
}

func (j *job) release() {
	if j.sc != nil {
		j.e.pool.Put(j.sc)
	}
}

// topTable computes the flips of positions 0 to 15 of family f for all
// 65536 values of the first 16 bits: 65535 flips, a few milliseconds.
func (e *prefixCipher) topTable(f family) *[1 << 16]uint16 {
	var tree [1 << 16 / 64]uint64 // bit i: flip of tree node i
	j := job{e: e}
	for i := 1; i < 1<<16; i++ {
		d := bits.Len(uint(i)) - 1   // depth: the position flipped
		x := uint64(i) &^ (1 << d)   // the d bits before it
		a := u128{hi: x << (64 - d)} // left-aligned
		tree[i/64] |= j.flips(f, a, d, d+1).pos(d) << (i % 64)
	}
	j.release()
	t := new([1 << 16]uint16)
	for y := range t {
		var m uint16
		for d := range 16 {
			i := 1<<d | y>>(16-d)
			m |= uint16(tree[i/64]>>(i%64)&1) << (15 - d)
		}
		t[y] = m
	}
	return t
}

func (e *prefixCipher) Name() string { return e.name }

// Map implements [Method].
func (e *prefixCipher) Map(dst, addr []byte) ([]byte, error) {
	switch len(addr) {
	case 4:
		r := e.pseudonym(v4, u128{hi: uint64(binary.BigEndian.Uint32(addr)) << 32})
		return binary.BigEndian.AppendUint32(dst, uint32(r.hi>>32)), nil
	case 16:
		if isMapped(addr) {
			r := e.pseudonym(v4, u128{hi: uint64(binary.BigEndian.Uint32(addr[12:])) << 32})
			dst = append(dst, v4Mapped[:]...)
			return binary.BigEndian.AppendUint32(dst, uint32(r.hi>>32)), nil
		}
		r := e.pseudonym(v6, load128(addr))
		dst, out := grow(dst, 16)
		r.store(out)
		return dst, nil
	}
	return dst, AddressLengthError(len(addr))
}

// Decrypt implements [Decrypter]. It undoes the flips one position after
// the other, since the flip of each position depends on the address bits
// before it; it does not use the cache. A 16-byte IPv4-mapped p is taken
// for the pseudonym of an IPv4 address: an IPv6 address whose pseudonym
// falls in ::ffff:0:0/96 (a chance of 2^-96) does not decrypt.
func (e *prefixCipher) Decrypt(dst, p []byte) ([]byte, error) {
	switch len(p) {
	case 4:
		r := e.invert(v4, u128{hi: uint64(binary.BigEndian.Uint32(p)) << 32})
		return binary.BigEndian.AppendUint32(dst, uint32(r.hi>>32)), nil
	case 16:
		if isMapped(p) {
			r := e.invert(v4, u128{hi: uint64(binary.BigEndian.Uint32(p[12:])) << 32})
			dst = append(dst, v4Mapped[:]...)
			return binary.BigEndian.AppendUint32(dst, uint32(r.hi>>32)), nil
		}
		r := e.invert(v6, load128(p))
		dst, out := grow(dst, 16)
		r.store(out)
		return dst, nil
	}
	return dst, AddressLengthError(len(p))
}

func (e *prefixCipher) invert(f family, c u128) u128 {
	j := job{e: e}
	var a u128
	for p := range int(f) {
		a = a.orPos(p, c.pos(p)^j.flips(f, a, p, p+1).pos(p))
	}
	j.release()
	return a
}

// pseudonym returns the pseudonym of a.
func (e *prefixCipher) pseudonym(f family, a u128) u128 {
	switch {
	case e.c == nil:
		j := job{e: e}
		m := j.flips(f, a, 0, int(f))
		j.release()
		return u128{a.hi ^ m.hi, a.lo ^ m.lo}
	case f == v4:
		return e.cached4(a)
	}
	return e.cached6(a)
}

func (e *prefixCipher) cached4(a u128) u128 {
	c := e.c
	ak := cacheKey{hi: a.hi, tag: tagAddr4}
	if r, ok := c.addrs.get(ak); ok {
		return r
	}
	j := job{e: e}
	nk := cacheKey{hi: a.hi >> 40, tag: tagNet24}
	n, ok := c.nodes.get(nk)
	dirty := !ok
	if !ok {
		n = node24{mask: uint64(c.top[0][a.hi>>48])<<48 | j.flips(v4, a, 16, 24).hi}
	}
	m := n.mask
	x := int(a.hi >> 32 & 0xff)
	for d := range 8 {
		i := 1<<d | x>>(8-d)
		w, b := i/64, uint(i%64)
		if n.known[w]>>b&1 == 0 {
			n.known[w] |= 1 << b
			n.flip[w] |= j.flips(v4, a, 24+d, 25+d).pos(24+d) << b
			dirty = true
		}
		m |= n.flip[w] >> b & 1 << (63 - 24 - d)
	}
	j.release()
	// Another goroutine may have stored flips of this /24 meanwhile; this
	// put can drop them, which costs their recomputation, never a wrong
	// pseudonym: every flip stored is right.
	if dirty {
		c.nodes.put(nk, n)
	}
	r := u128{hi: a.hi ^ m}
	c.addrs.put(ak, r)
	return r
}

func (e *prefixCipher) cached6(a u128) u128 {
	c := e.c
	ak := cacheKey{hi: a.hi, lo: a.lo, tag: tagAddr6}
	if r, ok := c.addrs.get(ak); ok {
		return r
	}
	j := job{e: e}
	k64 := cacheKey{hi: a.hi, tag: tagNet64}
	m, ok := c.nets.get(k64)
	if !ok {
		k48 := cacheKey{hi: a.hi >> 16, tag: tagNet48}
		m48, ok := c.nets.get(k48)
		if !ok {
			k32 := cacheKey{hi: a.hi >> 32, tag: tagNet32}
			m32, ok := c.nets.get(k32)
			if !ok {
				m32 = uint64(c.top[1][a.hi>>48])<<48 | j.flips(v6, a, 16, 32).hi
				c.nets.put(k32, m32)
			}
			m48 = m32 | j.flips(v6, a, 32, 48).hi
			c.nets.put(k48, m48)
		}
		m = m48 | j.flips(v6, a, 48, 64).hi
		c.nets.put(k64, m)
	}
	lo := j.flips(v6, a, 64, 128).lo
	j.release()
	r := u128{a.hi ^ m, a.lo ^ lo}
	c.addrs.put(ak, r)
	return r
}
