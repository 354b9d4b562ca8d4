package pseudo

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// CryptoPAn is Crypto-PAn, the prefix-preserving pseudonymisation of Xu,
// Fan, Ammar and Moon ("Prefix-preserving IP address anonymization", 2002),
// over the 32 bits of IPv4 and, the same way, over the 128 bits of IPv6 (as
// DNS TAPIR's EDM does). Its pseudonyms are those of the original Crypto-PAn
// 1.0 distribution and of EDM for the same 32-byte key; see [DeriveKey] for
// EDM's passphrases. EDM turns an IPv4-mapped address into a 4-byte
// pseudonym; Map gives the same pseudonym, IPv4-mapped, keeping the
// input's length.
//
// The key is 32 bytes: the first 16 are an AES-128 key K, and the AES
// encryption under K of the last 16 is a pad. The flip bit of position p is
// the most significant bit of AES_K(the address's first p bits followed by
// the pad's bits from position p on).
//
// What the pseudonyms show without the key: which addresses share a prefix
// and its exact length, and so the shape of the client population's
// address tree; the original address is hidden only as well as that shape
// and any known addresses allow. An attacker who knows some addresses and
// their pseudonyms (a probe sent from a known address, say) learns the
// pseudonyms of the prefixes of those addresses, and so narrows every
// address sharing them. The flips of IPv4 and of IPv6 use the same tree,
// so an IPv4 address and an IPv6 address with the same first 32 bits get
// the same first 32 pseudonym bits. Crypto-PAn takes AES, a permutation,
// as its pseudo-random function, which is sound up to the birthday bound
// (2^64 blocks); ipcrypt-pfx ([NewIPCryptPFX]) XORs two AES keys to reach
// 128-bit security and keeps IPv4 apart from IPv6: it is the better choice
// where EDM compatibility is not needed. The key holder can reverse
// pseudonyms ([CryptoPAn.Decrypt]).
type CryptoPAn struct {
	prefixCipher
}

// cryptoPAn computes Crypto-PAn's flips.
type cryptoPAn struct {
	block cipher.Block
	pad   u128
}

// NewCryptoPAn returns Crypto-PAn with the 32-byte key.
//
// With cacheSize > 0 it remembers the pseudonyms of up to about cacheSize
// recent addresses and, for their prefixes (IPv4 /24, IPv6 /32, /48, /64),
// the work done so far, so an address in a known prefix costs only the
// bits below it. The cache takes about 64 bytes per entry (up to twice
// that, as its tables round up to powers of two), plus a 128 KiB table of
// the first 16 bits' flips computed at creation (65535 AES blocks, a few
// milliseconds). With cacheSize = 0 every address costs 32 AES blocks
// (IPv4) or 128 (IPv6).
func NewCryptoPAn(key []byte, cacheSize int) (*CryptoPAn, error) {
	if err := checkKey(NameCryptoPAn, key, 32); err != nil {
		return nil, err
	}
	if cacheSize < 0 {
		return nil, fmt.Errorf("pseudo: cryptopan: negative cache size %d", cacheSize)
	}
	b, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, fmt.Errorf("pseudo: cryptopan: %w", err)
	}
	var pad [16]byte
	b.Encrypt(pad[:], key[16:])
	f := &cryptoPAn{block: b, pad: load128(pad[:])}
	// IPv4's flips are the first 32 of IPv6's: one top table serves both.
	c := new(CryptoPAn)
	c.init(NameCryptoPAn, f, cacheSize, true)
	return c, nil
}

func (c *cryptoPAn) flips(_ family, a u128, from, to int, sc *scratch) u128 {
	var m u128
	in, out := sc[:16], sc[16:]
	for p := from; p < to; p++ {
		l := leading(p)
		u128{a.hi&l.hi | c.pad.hi&^l.hi, a.lo&l.lo | c.pad.lo&^l.lo}.store(in)
		c.block.Encrypt(out, in)
		m = m.orPos(p, uint64(out[0]>>7))
	}
	return m
}
