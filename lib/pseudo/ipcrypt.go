package pseudo

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
)

// The ipcrypt methods are those of the IETF draft "Methods for IP Address
// Encryption and Obfuscation" (draft-denis-ipcrypt, as of March 2026), and
// pass all its test vectors. Except for ipcrypt-pfx, they encrypt the
// 16-byte form of an address: an IPv6 address as it is, an IPv4 address
// IPv4-mapped (::ffff:a.b.c.d), so that an IPv4 address and its mapped
// form give the same output. Their Decrypt therefore returns an IPv4
// address as 4 bytes, whichever form was encrypted.

// to16 writes the 16-byte form of addr to out.
func to16(out, addr []byte) error {
	switch len(addr) {
	case 4:
		copy(out, v4Mapped[:])
		copy(out[12:], addr)
	case 16:
		copy(out, addr)
	default:
		return AddressLengthError(len(addr))
	}
	return nil
}

// unmap shortens dst, whose last 16 bytes are an address, to end in a
// 4-byte address if that one is IPv4-mapped.
func unmap(dst []byte) []byte {
	a := dst[len(dst)-16:]
	if !isMapped(a) {
		return dst
	}
	copy(a, a[12:])
	return dst[:len(dst)-12]
}

// IPCryptDeterministic is ipcrypt-deterministic: one AES-128 block over the
// 16-byte form of the address. Its output is always 16 bytes, an IPv6
// address (an IPv4 client's pseudonym is IPv6, so a dnstap socket family
// must change with it).
//
// Without the key, a pseudonym shows nothing of the address, not even its
// family or network; it shows only that two records carry the same address,
// since equal addresses give equal pseudonyms. The key holder can decrypt.
type IPCryptDeterministic struct {
	b cipher.Block
}

// NewIPCryptDeterministic returns ipcrypt-deterministic with the 16-byte
// AES-128 key.
func NewIPCryptDeterministic(key []byte) (*IPCryptDeterministic, error) {
	if err := checkKey(NameDeterministic, key, 16); err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("pseudo: %s: %w", NameDeterministic, err)
	}
	return &IPCryptDeterministic{b}, nil
}

// Name implements [Method].
func (d *IPCryptDeterministic) Name() string { return NameDeterministic }

// Map implements [Method].
func (d *IPCryptDeterministic) Map(dst, addr []byte) ([]byte, error) {
	if len(addr) != 4 && len(addr) != 16 {
		return dst, AddressLengthError(len(addr))
	}
	dst, out := grow(dst, 16)
	to16(out, addr)
	d.b.Encrypt(out, out)
	return dst, nil
}

// Decrypt implements [Decrypter]. p is 16 bytes.
func (d *IPCryptDeterministic) Decrypt(dst, p []byte) ([]byte, error) {
	if len(p) != 16 {
		return dst, fmt.Errorf("pseudo: %s: ciphertext of %d bytes, want 16", NameDeterministic, len(p))
	}
	dst, out := grow(dst, 16)
	d.b.Decrypt(out, p)
	return unmap(dst), nil
}

// IPCryptPFX is ipcrypt-pfx, the prefix-preserving method of the draft: as
// Crypto-PAn, bit p of the pseudonym is the address's bit XOR a flip that
// depends on the first p bits, but the flip is the last bit of
// AES_K1(x) XOR AES_K2(x), x the prefix padded to a block, a
// pseudo-random function of 128-bit security where Crypto-PAn uses a
// permutation. An IPv4 address (or an IPv4-mapped one) is encrypted as the
// last 32 bits of its mapped form, so the IPv4 and IPv6 trees are
// independent; the output has the input's length.
//
// What the pseudonyms show without the key: which addresses share a prefix
// and its exact length, as for [CryptoPAn], and nothing else. The key
// holder can decrypt.
type IPCryptPFX struct {
	prefixCipher
}

// ipcryptPFX computes ipcrypt-pfx's flips.
type ipcryptPFX struct {
	k1, k2 cipher.Block
}

// NewIPCryptPFX returns ipcrypt-pfx with the 32-byte key, two AES-128
// keys, which must differ (equal halves cancel out and leave addresses in
// clear). cacheSize is as for [NewCryptoPAn], but the tables made at
// creation are two, 256 KiB; uncached, an address costs 64 AES blocks
// (IPv4) or 256 (IPv6).
func NewIPCryptPFX(key []byte, cacheSize int) (*IPCryptPFX, error) {
	if err := checkKey(NamePFX, key, 32); err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(key[:16], key[16:]) == 1 {
		return nil, fmt.Errorf("pseudo: %s: the two halves of the key are equal, which would leave addresses unencrypted", NamePFX)
	}
	if cacheSize < 0 {
		return nil, fmt.Errorf("pseudo: %s: negative cache size %d", NamePFX, cacheSize)
	}
	k1, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, fmt.Errorf("pseudo: %s: %w", NamePFX, err)
	}
	k2, err := aes.NewCipher(key[16:])
	if err != nil {
		return nil, fmt.Errorf("pseudo: %s: %w", NamePFX, err)
	}
	m := new(IPCryptPFX)
	m.init(NamePFX, &ipcryptPFX{k1, k2}, cacheSize, false)
	return m, nil
}

func (x *ipcryptPFX) flips(f family, a u128, from, to int, sc *scratch) u128 {
	var m u128
	in, out := sc[:16], sc[16:]
	for p := from; p < to; p++ {
		// The block is the integer 1<<n | (the first n bits of the
		// 128-bit form), n the number of bits before this one.
		var b u128
		if f == v4 {
			// 1, then the 96 bits of ::ffff:0:0/96, then p address bits.
			b = u128{hi: 1 << (32 + p), lo: 0xffff<<p | a.hi>>32>>(32-p)}
		} else {
			b = a.shr(128 - p)
			if p < 64 {
				b.lo |= 1 << p
			} else {
				b.hi |= 1 << (p - 64)
			}
		}
		b.store(in)
		x.k1.Encrypt(out, in)
		x.k2.Encrypt(in, in)
		m = m.orPos(p, uint64((in[15]^out[15])&1))
	}
	return m
}

// IPCryptND is ipcrypt-nd: KIASU-BC, AES-128 with a random 8-byte tweak,
// over the 16-byte form of the address. Its output is 24 bytes, the tweak
// then the ciphertext.
//
// Without the key, an output shows nothing of the address, and two outputs
// do not show whether they are of the same address, unless their tweaks
// collide, which becomes likely after about 2^32 encryptions under one key.
// Pseudonyms made this way cannot be counted or joined per client; use it
// where no such analysis is wanted. The key holder can decrypt. This
// KIASU-BC is portable, constant-time Go, some microseconds an address.
type IPCryptND struct {
	k    *kiasuBC
	rand io.Reader // nil: crypto/rand
}

// NewIPCryptND returns ipcrypt-nd with the 16-byte key. Its tweaks come
// from crypto/rand.
func NewIPCryptND(key []byte) (*IPCryptND, error) {
	if err := checkKey(NameND, key, 16); err != nil {
		return nil, err
	}
	return &IPCryptND{k: newKiasuBC(key)}, nil
}

// Name implements [Method].
func (n *IPCryptND) Name() string { return NameND }

// Map implements [Method]; it draws a random tweak.
func (n *IPCryptND) Map(dst, addr []byte) ([]byte, error) {
	if len(addr) != 4 && len(addr) != 16 {
		return dst, AddressLengthError(len(addr))
	}
	dst, out := grow(dst, 24)
	if err := readTweak(n.rand, out[:8]); err != nil {
		return dst[:len(dst)-24], fmt.Errorf("pseudo: %s: %w", NameND, err)
	}
	n.encrypt(out, addr)
	return dst, nil
}

// Encrypt appends the encryption of addr with the 8-byte tweak: the tweak,
// then 16 bytes. Tweaks must be uniformly random for the privacy that Map
// gives; Encrypt exists for test vectors and for callers with their own
// random source.
func (n *IPCryptND) Encrypt(dst, addr, tweak []byte) ([]byte, error) {
	if len(tweak) != 8 {
		return dst, fmt.Errorf("pseudo: %s: tweak of %d bytes, want 8", NameND, len(tweak))
	}
	if len(addr) != 4 && len(addr) != 16 {
		return dst, AddressLengthError(len(addr))
	}
	dst, out := grow(dst, 24)
	copy(out, tweak)
	n.encrypt(out, addr)
	return dst, nil
}

// encrypt encrypts addr under the tweak in out[:8] into out[8:24].
func (n *IPCryptND) encrypt(out, addr []byte) {
	var in, ct [16]byte
	to16(in[:], addr)
	t := padTweak(out[:8])
	n.k.encrypt(&ct, &in, &t)
	copy(out[8:], ct[:])
}

// Decrypt implements [Decrypter]. p is 24 bytes.
func (n *IPCryptND) Decrypt(dst, p []byte) ([]byte, error) {
	if len(p) != 24 {
		return dst, fmt.Errorf("pseudo: %s: ciphertext of %d bytes, want 24", NameND, len(p))
	}
	t := padTweak(p[:8])
	var ct, pt [16]byte
	copy(ct[:], p[8:])
	n.k.decrypt(&pt, &ct, &t)
	return unmap(append(dst, pt[:]...)), nil
}

// IPCryptNDX is ipcrypt-ndx: AES-XTS (one block, so AES-XEX) with a random
// 16-byte tweak over the 16-byte form of the address, two AES-128 keys. Its
// output is 32 bytes, the tweak then the ciphertext.
//
// Without the key, an output shows nothing of the address, and two outputs
// do not show whether they are of the same address unless their tweaks
// collide, which is expected only after about 2^64 encryptions. The key
// holder can decrypt.
type IPCryptNDX struct {
	k1, k2 cipher.Block
	rand   io.Reader // nil: crypto/rand
}

// NewIPCryptNDX returns ipcrypt-ndx with the 32-byte key: the block key,
// then the tweak key. Its tweaks come from crypto/rand.
func NewIPCryptNDX(key []byte) (*IPCryptNDX, error) {
	if err := checkKey(NameNDX, key, 32); err != nil {
		return nil, err
	}
	k1, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, fmt.Errorf("pseudo: %s: %w", NameNDX, err)
	}
	k2, err := aes.NewCipher(key[16:])
	if err != nil {
		return nil, fmt.Errorf("pseudo: %s: %w", NameNDX, err)
	}
	return &IPCryptNDX{k1: k1, k2: k2}, nil
}

// Name implements [Method].
func (n *IPCryptNDX) Name() string { return NameNDX }

// Map implements [Method]; it draws a random tweak.
func (n *IPCryptNDX) Map(dst, addr []byte) ([]byte, error) {
	if len(addr) != 4 && len(addr) != 16 {
		return dst, AddressLengthError(len(addr))
	}
	dst, out := grow(dst, 32)
	if err := readTweak(n.rand, out[:16]); err != nil {
		return dst[:len(dst)-32], fmt.Errorf("pseudo: %s: %w", NameNDX, err)
	}
	n.encrypt(out, addr)
	return dst, nil
}

// Encrypt appends the encryption of addr with the 16-byte tweak: the
// tweak, then 16 bytes. See [IPCryptND.Encrypt].
func (n *IPCryptNDX) Encrypt(dst, addr, tweak []byte) ([]byte, error) {
	if len(tweak) != 16 {
		return dst, fmt.Errorf("pseudo: %s: tweak of %d bytes, want 16", NameNDX, len(tweak))
	}
	if len(addr) != 4 && len(addr) != 16 {
		return dst, AddressLengthError(len(addr))
	}
	dst, out := grow(dst, 32)
	copy(out, tweak)
	n.encrypt(out, addr)
	return dst, nil
}

// encrypt encrypts addr under the tweak in out[:16] into out[16:32]:
// AES_K1(x XOR e) XOR e, with e = AES_K2(tweak).
func (n *IPCryptNDX) encrypt(out, addr []byte) {
	ct := out[16:32]
	n.k2.Encrypt(ct, out[:16])
	e := load128(ct)
	to16(ct, addr)
	x := load128(ct)
	u128{x.hi ^ e.hi, x.lo ^ e.lo}.store(ct)
	n.k1.Encrypt(ct, ct)
	x = load128(ct)
	u128{x.hi ^ e.hi, x.lo ^ e.lo}.store(ct)
}

// Decrypt implements [Decrypter]. p is 32 bytes.
func (n *IPCryptNDX) Decrypt(dst, p []byte) ([]byte, error) {
	if len(p) != 32 {
		return dst, fmt.Errorf("pseudo: %s: ciphertext of %d bytes, want 32", NameNDX, len(p))
	}
	dst, out := grow(dst, 16)
	n.k2.Encrypt(out, p[:16])
	e := load128(out)
	x := load128(p[16:])
	u128{x.hi ^ e.hi, x.lo ^ e.lo}.store(out)
	n.k1.Decrypt(out, out)
	x = load128(out)
	u128{x.hi ^ e.hi, x.lo ^ e.lo}.store(out)
	return unmap(dst), nil
}

// readTweak fills t from r, or from crypto/rand if r is nil.
func readTweak(r io.Reader, t []byte) error {
	if r == nil {
		// crypto/rand.Read does not fail: it crashes the program if the
		// kernel has no randomness to give.
		rand.Read(t)
		return nil
	}
	if _, err := io.ReadFull(r, t); err != nil {
		return fmt.Errorf("reading tweak: %w", err)
	}
	return nil
}
