package pseudo

import "encoding/binary"

// KIASU-BC (Jean, Nikolić, Peyrin, "Tweaks and keys for block ciphers: the
// TWEAKEY framework", 2014) is AES-128 with a 64-bit tweak XORed into every
// round key. crypto/aes does not expose AES rounds, so this file has its
// own AES, written from FIPS 197: correct, portable and constant-time
// rather than fast (a few microseconds a block).
//
// Constant-time: no branch and no memory index depends on the key, the
// tweak or the data. The S-box, usually a table indexed by secret bytes
// (which leaks them through the CPU cache to whoever shares it), is
// computed instead: the 16 bytes of the state are bitsliced into 8 16-bit
// planes, inverted in GF(2^8) as x^254 by multiplications and squarings of
// whole planes, and mapped by the S-box's affine transform.

// xtime multiplies b by x (that is, 2) in GF(2^8) modulo the AES
// polynomial x^8 + x^4 + x^3 + x + 1, without a branch on b.
func xtime(b byte) byte {
	return b<<1 ^ 0x1b&-(b>>7)
}

// mul multiplies a by the public constant c in GF(2^8). It branches on c
// only.
func mul(a, c byte) byte {
	var p byte
	for ; c != 0; c >>= 1 {
		if c&1 != 0 {
			p ^= a
		}
		a = xtime(a)
	}
	return p
}

// gf8 is 16 elements of GF(2^8), bitsliced: bit j of plane i is bit i of
// element j.
type gf8 [8]uint16

func bitslice(s *[16]byte) (x gf8) {
	lo := transpose8(binary.LittleEndian.Uint64(s[:8]))
	hi := transpose8(binary.LittleEndian.Uint64(s[8:]))
	for i := range 8 {
		x[i] = uint16(lo>>(8*i)&0xff) | uint16(hi>>(8*i)&0xff)<<8
	}
	return x
}

func (x gf8) unslice(s *[16]byte) {
	var lo, hi uint64
	for i := range 8 {
		lo |= uint64(x[i]&0xff) << (8 * i)
		hi |= uint64(x[i]>>8) << (8 * i)
	}
	binary.LittleEndian.PutUint64(s[:8], transpose8(lo))
	binary.LittleEndian.PutUint64(s[8:], transpose8(hi))
}

// transpose8 transposes the 8×8 bit matrix whose row j is byte j of x
// (little-endian): bit i of byte j goes to bit j of byte i. Three rounds
// swap ever larger blocks across the diagonal: 1×1, 2×2, then 4×4 bits.
func transpose8(x uint64) uint64 {
	t := (x ^ x>>7) & 0x00aa00aa00aa00aa
	x ^= t ^ t<<7
	t = (x ^ x>>14) & 0x0000cccc0000cccc
	x ^= t ^ t<<14
	t = (x ^ x>>28) & 0x00000000f0f0f0f0
	return x ^ t ^ t<<28
}

// reduce reduces a product of degree up to 14 modulo the AES polynomial:
// x^8 = x^4 + x^3 + x + 1, from the highest degree down (unrolled, for
// constant indices).
func reduce(t *[15]uint16) gf8 {
	t[10] ^= t[14]
	t[9] ^= t[14]
	t[7] ^= t[14]
	t[6] ^= t[14]
	t[9] ^= t[13]
	t[8] ^= t[13]
	t[6] ^= t[13]
	t[5] ^= t[13]
	t[8] ^= t[12]
	t[7] ^= t[12]
	t[5] ^= t[12]
	t[4] ^= t[12]
	t[7] ^= t[11]
	t[6] ^= t[11]
	t[4] ^= t[11]
	t[3] ^= t[11]
	t[6] ^= t[10]
	t[5] ^= t[10]
	t[3] ^= t[10]
	t[2] ^= t[10]
	t[5] ^= t[9]
	t[4] ^= t[9]
	t[2] ^= t[9]
	t[1] ^= t[9]
	t[4] ^= t[8]
	t[3] ^= t[8]
	t[1] ^= t[8]
	t[0] ^= t[8]
	return gf8(t[:8])
}

func gfMul(a, b gf8) gf8 {
	var t [15]uint16
	for i := range 8 {
		ai := a[i]
		u := t[i : i+8 : i+8]
		for j := range 8 {
			u[j] ^= ai & b[j]
		}
	}
	return reduce(&t)
}

// gfSquare is gfMul(a, a): squaring is linear in GF(2^8), bit i going to
// bit 2i before reduction.
func gfSquare(a gf8) gf8 {
	var t [15]uint16
	for i := range 8 {
		t[2*i] = a[i]
	}
	return reduce(&t)
}

// gfInv returns x^254, the inverse of x in GF(2^8) (and 0 for 0).
func gfInv(x gf8) gf8 {
	x2 := gfSquare(x)
	x3 := gfMul(x2, x)
	x12 := gfSquare(gfSquare(x3))
	x15 := gfMul(x12, x3)
	x240 := gfSquare(gfSquare(gfSquare(gfSquare(x15))))
	return gfMul(gfMul(x240, x12), x2)
}

// subBytes applies the AES S-box to the 16 bytes of s: inversion, then
// b ^ rotl(b,1) ^ rotl(b,2) ^ rotl(b,3) ^ rotl(b,4) ^ 0x63.
func subBytes(s *[16]byte) {
	b := gfInv(bitslice(s))
	var y gf8
	for i := range 8 {
		y[i] = b[i] ^ b[(i+7)%8] ^ b[(i+6)%8] ^ b[(i+5)%8] ^ b[(i+4)%8] ^ -uint16(0x63>>i&1)
	}
	y.unslice(s)
}

// invSubBytes applies the inverse S-box: the inverse affine map,
// rotl(y,1) ^ rotl(y,3) ^ rotl(y,6) ^ 0x05, then inversion.
func invSubBytes(s *[16]byte) {
	y := bitslice(s)
	var b gf8
	for i := range 8 {
		b[i] = y[(i+7)%8] ^ y[(i+5)%8] ^ y[(i+2)%8] ^ -uint16(0x05>>i&1)
	}
	gfInv(b).unslice(s)
}

// kiasuBC is KIASU-BC with an expanded AES-128 key. The state is a
// 16-byte block in the order of FIPS 197: byte r+4c is row r, column c.
type kiasuBC struct {
	rk [11][16]byte // round keys
}

func newKiasuBC(key []byte) *kiasuBC {
	k := new(kiasuBC)
	copy(k.rk[0][:], key)
	rcon := byte(1)
	for r := 1; r <= 10; r++ {
		p, n := &k.rk[r-1], &k.rk[r]
		// First word: previous first word ^ SubWord(RotWord(previous
		// last word)) ^ Rcon; the others: previous word ^ new word before.
		w := [16]byte{p[13], p[14], p[15], p[12]}
		subBytes(&w)
		n[0] = p[0] ^ w[0] ^ rcon
		n[1] = p[1] ^ w[1]
		n[2] = p[2] ^ w[2]
		n[3] = p[3] ^ w[3]
		for i := 4; i < 16; i++ {
			n[i] = p[i] ^ n[i-4]
		}
		rcon = xtime(rcon)
	}
	return k
}

// padTweak spreads the 8-byte tweak over the first two rows of the state,
// as the draft specifies: T0 T1 00 00 T2 T3 00 00 ...
func padTweak(t []byte) (p [16]byte) {
	for i := range 4 {
		p[4*i], p[4*i+1] = t[2*i], t[2*i+1]
	}
	return p
}

// encrypt encrypts src with the padded tweak t into dst.
func (k *kiasuBC) encrypt(dst, src, t *[16]byte) {
	var s [16]byte
	for i := range s {
		s[i] = src[i] ^ k.rk[0][i] ^ t[i]
	}
	for r := 1; r <= 10; r++ {
		subBytes(&s)
		// ShiftRows: row i moves left by i columns.
		var u [16]byte
		for c := range 4 {
			for i := range 4 {
				u[i+4*c] = s[i+4*((c+i)%4)]
			}
		}
		if r < 10 {
			mixColumns(&u)
		}
		for i := range s {
			s[i] = u[i] ^ k.rk[r][i] ^ t[i]
		}
	}
	*dst = s
}

// decrypt inverts encrypt.
func (k *kiasuBC) decrypt(dst, src, t *[16]byte) {
	var s [16]byte
	for i := range s {
		s[i] = src[i] ^ k.rk[10][i] ^ t[i]
	}
	for r := 9; r >= 0; r-- {
		var u [16]byte
		for c := range 4 {
			for i := range 4 {
				u[i+4*((c+i)%4)] = s[i+4*c]
			}
		}
		invSubBytes(&u)
		for i := range s {
			s[i] = u[i] ^ k.rk[r][i] ^ t[i]
		}
		if r > 0 {
			invMixColumns(&s)
		}
	}
	*dst = s
}

func mixColumns(s *[16]byte) {
	for c := 0; c < 16; c += 4 {
		a0, a1, a2, a3 := s[c], s[c+1], s[c+2], s[c+3]
		s[c] = xtime(a0^a1) ^ a1 ^ a2 ^ a3
		s[c+1] = a0 ^ xtime(a1^a2) ^ a2 ^ a3
		s[c+2] = a0 ^ a1 ^ xtime(a2^a3) ^ a3
		s[c+3] = xtime(a3^a0) ^ a0 ^ a1 ^ a2
	}
}

func invMixColumns(s *[16]byte) {
	for c := 0; c < 16; c += 4 {
		a0, a1, a2, a3 := s[c], s[c+1], s[c+2], s[c+3]
		s[c] = mul(a0, 14) ^ mul(a1, 11) ^ mul(a2, 13) ^ mul(a3, 9)
		s[c+1] = mul(a0, 9) ^ mul(a1, 14) ^ mul(a2, 11) ^ mul(a3, 13)
		s[c+2] = mul(a0, 13) ^ mul(a1, 9) ^ mul(a2, 14) ^ mul(a3, 11)
		s[c+3] = mul(a0, 11) ^ mul(a1, 13) ^ mul(a2, 9) ^ mul(a3, 14)
	}
}
