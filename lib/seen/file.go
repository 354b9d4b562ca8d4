package seen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/tapir-edge/tapir/lib/keyfile"
)

// A state file holds one slice. Layout, little-endian:
//
//	 0  magic "TAPIRSN1"
//	 8  slice start, Unix nanoseconds (a multiple of the slice duration)
//	16  slice duration, nanoseconds
//	24  number of 64-byte blocks, n
//	32  bits set per name, k (uint32)
//	36  zero (uint32)
//	40  names inserted
//	48  key check: SipHash of "tapir seen key check" under the node key
//	56  n blocks of 8 uint64 words
//	    CRC-32C of everything before it (uint32)
//
// The CRC catches a torn or damaged file; the key check and the geometry
// fields catch a file made under another key or other options, whose bits
// would mean nothing under the current ones.
const (
	fileMagic  = "TAPIRSN1"
	headerLen  = 56
	trailerLen = 4
	fileSuffix = ".seen"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the fixed part of a state file.
type header struct {
	start, dur int64
	nblocks    uint64
	k          uint32
	inserted   uint64
	keyCheck   uint64
}

// encodeSlice returns the state file for one slice.
func encodeSlice(h header, words []uint64) []byte {
	b := make([]byte, headerLen, headerLen+8*len(words)+trailerLen)
	copy(b, fileMagic)
	binary.LittleEndian.PutUint64(b[8:], uint64(h.start))
	binary.LittleEndian.PutUint64(b[16:], uint64(h.dur))
	binary.LittleEndian.PutUint64(b[24:], h.nblocks)
	binary.LittleEndian.PutUint32(b[32:], h.k)
	binary.LittleEndian.PutUint64(b[40:], h.inserted)
	binary.LittleEndian.PutUint64(b[48:], h.keyCheck)
	for _, w := range words {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeSlice checks and reads a state file. It trusts nothing in data:
// every field is checked before it is used, so a damaged file gives an
// error, never a panic or a huge allocation.
func decodeSlice(data []byte) (header, []uint64, error) {
	var h header
	if len(data) < headerLen+trailerLen {
		return h, nil, fmt.Errorf("%d bytes, shorter than a header", len(data))
	}
	if !bytes.Equal(data[:8], []byte(fileMagic)) {
		return h, nil, errors.New("not a seen-names state file (bad magic)")
	}
	h.start = int64(binary.LittleEndian.Uint64(data[8:]))
	h.dur = int64(binary.LittleEndian.Uint64(data[16:]))
	h.nblocks = binary.LittleEndian.Uint64(data[24:])
	h.k = binary.LittleEndian.Uint32(data[32:])
	h.inserted = binary.LittleEndian.Uint64(data[40:])
	h.keyCheck = binary.LittleEndian.Uint64(data[48:])
	body := uint64(len(data) - headerLen - trailerLen)
	if h.nblocks == 0 || body%64 != 0 || h.nblocks != body/64 {
		return h, nil, fmt.Errorf("%d bytes, wrong for %d blocks (truncated?)", len(data), h.nblocks)
	}
	end := len(data) - trailerLen
	if got, want := crc32.Checksum(data[:end], castagnoli), binary.LittleEndian.Uint32(data[end:]); got != want {
		return h, nil, fmt.Errorf("checksum %#08x, want %#08x (damaged?)", got, want)
	}
	if binary.LittleEndian.Uint32(data[36:]) != 0 {
		return h, nil, errors.New("unknown flags")
	}
	if h.k == 0 || h.k > maxK {
		return h, nil, fmt.Errorf("%d bits per name, want 1 to %d", h.k, maxK)
	}
	if h.dur <= 0 || h.start%h.dur != 0 {
		return h, nil, fmt.Errorf("slice start %d not a multiple of duration %d", h.start, h.dur)
	}
	words := make([]uint64, h.nblocks*8)
	for i := range words {
		words[i] = binary.LittleEndian.Uint64(data[headerLen+8*i:])
	}
	return h, words, nil
}

// writeAtomic writes a state file so that a crash leaves the old file or
// the new one, never a torn one.
func writeAtomic(path string, data []byte) error {
	if err := keyfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// tempPrefix starts the names of temporary files, which Open removes: a
// crash between create and rename leaves one behind.
const tempPrefix = keyfile.TempPrefix
