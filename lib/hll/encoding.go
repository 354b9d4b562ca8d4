package hll

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// The layout, storage spec schema version 1: a version byte (schema version
// in the high nibble, type in the low), the parameter byte (regwidth-1 in
// the top 3 bits, log2m in the low 5), the cutoff byte (a zero padding bit,
// sparseEnabled, a 6-bit explicit cutoff), then the data: EXPLICIT, the
// hashes as big-endian 8-byte words ascending as signed integers; SPARSE,
// (index, value) short-words of log2m+regwidth bits, ascending by index;
// FULL, every register in index order; words packed from the high bit of
// the first data byte down, the last byte padded with zero bits.

const (
	schemaVersion = 1
	headerLen     = 3
	sparseWord    = Log2m + Regwidth // bits in a SPARSE short-word
)

// EncodedLen is the length of the serialised sketch.
func (s *Sketch) EncodedLen() int {
	switch s.typ {
	case Explicit:
		return headerLen + 8*len(s.explicit)
	case Sparse:
		return headerLen + (sparseWord*len(s.sparse)+7)/8
	case Full:
		return headerLen + FullBytes
	}
	return headerLen
}

// MarshalBinary serialises the sketch in its current storage type.
func (s *Sketch) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, s.EncodedLen()))
}

// AppendBinary appends the serialised sketch to dst. It never fails.
func (s *Sketch) AppendBinary(dst []byte) ([]byte, error) {
	s.init()
	dst = append(dst, schemaVersion<<4|byte(s.typ), paramByte, s.cutoff)
	switch s.typ {
	case Explicit:
		for _, h := range s.explicit {
			dst = binary.BigEndian.AppendUint64(dst, h)
		}
	case Sparse:
		// Accumulate short-words in the low bits of acc; flush whole bytes
		// from the top.
		var acc uint32
		n := 0
		for _, e := range s.sparse {
			acc = acc<<sparseWord | uint32(e)
			n += sparseWord
			for n >= 8 {
				n -= 8
				dst = append(dst, byte(acc>>n))
			}
		}
		if n > 0 {
			dst = append(dst, byte(acc<<(8-n)))
		}
	case Full:
		dst = append(dst, s.full[:]...)
	}
	return dst, nil
}

// UnmarshalBinary replaces s with the serialised sketch in b, of any of
// the four storage types. It fails, leaving s as it was, on a schema
// version other than 1, parameters other than log2m 10 and regwidth 4, a
// malformed cutoff byte, or data whose length does not fit the type.
// EXPLICIT hashes out of order or repeated, and SPARSE registers out of
// order, repeated or zero, are accepted and put in order; a SPARSE sketch
// with more than SparseThreshold registers comes back FULL.
func (s *Sketch) UnmarshalBinary(b []byte) error {
	if len(b) < headerLen {
		return fmt.Errorf("%w: %d bytes", ErrLength, len(b))
	}
	if v := b[0] >> 4; v != schemaVersion {
		return fmt.Errorf("%w: %d", ErrVersion, v)
	}
	typ := Type(b[0] & 0x0F)
	if typ < Empty || typ > Full {
		return fmt.Errorf("%w: %d", ErrType, typ)
	}
	if b[1] != paramByte {
		return fmt.Errorf("%w: regwidth %d, log2m %d", ErrParams, b[1]>>5+1, b[1]&0x1F)
	}
	c := b[2]
	var threshold int32
	switch e := c & 0x3F; {
	case c&0x80 != 0:
		return fmt.Errorf("%w: 0x%02x", ErrCutoff, c)
	case e == 0:
	case e == cutoffAuto:
		threshold = autoExplicitThreshold
	case e <= 18:
		threshold = 1 << (e - 1)
	default:
		return fmt.Errorf("%w: 0x%02x", ErrCutoff, c)
	}
	n := Sketch{threshold: threshold, typ: typ, cutoff: c, set: true}
	data := b[headerLen:]
	switch typ {
	case Empty:
		if len(data) != 0 {
			return fmt.Errorf("%w: EMPTY with %d data bytes", ErrLength, len(data))
		}
	case Explicit:
		if len(data)%8 != 0 {
			return fmt.Errorf("%w: EXPLICIT with %d data bytes", ErrLength, len(data))
		}
		e := make([]uint64, len(data)/8)
		for i := range e {
			e[i] = binary.BigEndian.Uint64(data[8*i:])
		}
		slices.SortFunc(e, cmpInt64)
		n.explicit = slices.Compact(e)
	case Sparse:
		words := len(data) * 8 / sparseWord
		if (words*sparseWord+7)/8 != len(data) {
			return fmt.Errorf("%w: SPARSE with %d data bytes", ErrLength, len(data))
		}
		n.sparse = make([]uint16, 0, min(words, sparseThreshold))
		var acc uint32
		bitsIn := 0
		for _, x := range data {
			acc = acc<<8 | uint32(x)
			bitsIn += 8
			if bitsIn >= sparseWord && words > 0 {
				bitsIn -= sparseWord
				words--
				w := uint16(acc>>bitsIn) & (1<<sparseWord - 1)
				if v := uint8(w & maxReg); v != 0 {
					n.setReg(int(w>>Regwidth), v)
				}
			}
		}
	case Full:
		if len(data) != FullBytes {
			return fmt.Errorf("%w: FULL with %d data bytes", ErrLength, len(data))
		}
		f := new([FullBytes]byte)
		copy(f[:], data)
		n.full = f
	}
	*s = n
	return nil
}
