package hll

import (
	"encoding/binary"
	"math/bits"

	"github.com/tapir-edge/tapir/lib/siphash"
)

// HashEDM is the hash EDM adds to its client sketches: murmur3 x64 128-bit
// with seed 0, its first 64-bit half (github.com/twmb/murmur3's Sum64).
// EDM hashes the client address as dnstap carries it (QueryAddress): 4
// bytes for IPv4, 16 for IPv6; an IPv4-mapped IPv6 address is hashed as its
// 16 bytes, though EDM counts it as an IPv4 client. The hash is unkeyed:
// anyone holding a sketch can test whether a given address is likely in it.
func HashEDM(b []byte) uint64 {
	const (
		c1 = 0x87c37b91114253d5
		c2 = 0x4cf5ad432745937f
	)
	var h1, h2 uint64
	n := len(b)
	for ; len(b) >= 16; b = b[16:] {
		k1 := binary.LittleEndian.Uint64(b)
		k2 := binary.LittleEndian.Uint64(b[8:])
		h1 ^= bits.RotateLeft64(k1*c1, 31) * c2
		h1 = bits.RotateLeft64(h1, 27) + h2
		h1 = h1*5 + 0x52dce729
		h2 ^= bits.RotateLeft64(k2*c2, 33) * c1
		h2 = bits.RotateLeft64(h2, 31) + h1
		h2 = h2*5 + 0x38495ab5
	}
	if len(b) > 0 {
		var k1, k2 uint64
		for i := len(b) - 1; i >= 8; i-- {
			k2 = k2<<8 | uint64(b[i])
		}
		for i := min(len(b), 8) - 1; i >= 0; i-- {
			k1 = k1<<8 | uint64(b[i])
		}
		if len(b) > 8 {
			h2 ^= bits.RotateLeft64(k2*c2, 33) * c1
		}
		h1 ^= bits.RotateLeft64(k1*c1, 31) * c2
	}
	h1 ^= uint64(n)
	h2 ^= uint64(n)
	h1 += h2
	h2 += h1
	h1 = fmix64(h1)
	h2 = fmix64(h2)
	return h1 + h2
}

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// Hash is SipHash-2-4 of b under key: a keyed hash for sketches, so that
// a sketch reveals nothing about which addresses it holds to whoever lacks
// the key. Sketches agree, and merge, only when made with the same key;
// they do not agree with EDM's (see HashEDM).
func Hash(key *[16]byte, b []byte) uint64 {
	return siphash.Sum64(binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:]), b)
}
