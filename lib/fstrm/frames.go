package fstrm

import (
	"encoding/binary"
	"iter"
)

// AppendFrame appends p to dst as a data frame: its 4-byte big-endian
// length, then p. A run of such frames is what Writer.WriteFrames takes,
// and what the tools hand between goroutines and keep in spool items.
func AppendFrame(dst, p []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...)
}

// AppendFrameFunc appends to dst a data frame whose payload appendPayload
// appends to the slice it is given, and writes the length in front of it
// afterwards: a payload made in place (a rewritten frame) is not copied.
// When appendPayload fails, dst is returned as it was, with its error.
func AppendFrameFunc(dst []byte, appendPayload func([]byte) ([]byte, error)) ([]byte, error) {
	mark := len(dst)
	out, err := appendPayload(binary.BigEndian.AppendUint32(dst, 0))
	if err != nil {
		return dst[:mark], err
	}
	binary.BigEndian.PutUint32(out[mark:], uint32(len(out)-mark-4))
	return out, nil
}

// Cut cuts the first data frame off b, a run of frames as AppendFrame
// makes them, and returns its payload and the rest. ok is false when b
// holds no whole frame: it is empty, or the frame is torn.
func Cut(b []byte) (frame, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, b, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, b, false
	}
	return b[4 : 4+n], b[4+n:], true
}

// Split yields the payloads of the whole frames of b, a run of frames as
// AppendFrame makes them, in order.
func Split(b []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for f, rest, ok := Cut(b); ok; f, rest, ok = Cut(rest) {
			if !yield(f) {
				return
			}
		}
	}
}
