package fstrm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ControlType is the type of a control frame.
type ControlType uint32

// Control frame types, from the Frame Streams specification.
const (
	ControlAccept ControlType = 1
	ControlStart  ControlType = 2
	ControlStop   ControlType = 3
	ControlReady  ControlType = 4
	ControlFinish ControlType = 5
)

func (t ControlType) String() string {
	switch t {
	case ControlAccept:
		return "ACCEPT"
	case ControlStart:
		return "START"
	case ControlStop:
		return "STOP"
	case ControlReady:
		return "READY"
	case ControlFinish:
		return "FINISH"
	}
	return fmt.Sprintf("CONTROL_%d", uint32(t))
}

// fieldContentType is the only control field the specification defines.
const fieldContentType = 1

// Limits from the reference implementation (libfstrm): a longer control
// frame or content type is not a Frame Streams stream.
const (
	MaxControlSize     = 512
	MaxContentTypeSize = 256
)

// ErrBadControl reports a control frame that does not parse.
var ErrBadControl = errors.New("malformed control frame")

// Control is a decoded control frame.
type Control struct {
	Type         ControlType
	ContentTypes []string
}

// ParseControl decodes the body of a control frame: the bytes after the
// escape and the control frame length. Unknown field types are skipped, as
// the specification asks.
func ParseControl(b []byte) (Control, error) {
	var c Control
	err := parseControl(b, func(t ControlType) { c.Type = t }, func(ct []byte) {
		c.ContentTypes = append(c.ContentTypes, string(ct))
	})
	return c, err
}

// parseControl walks a control frame without allocating; the callbacks see
// the type and each content type in order.
func parseControl(b []byte, typ func(ControlType), ct func([]byte)) error {
	if len(b) > MaxControlSize {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrBadControl, len(b), MaxControlSize)
	}
	if len(b) < 4 {
		return fmt.Errorf("%w: %d bytes, too short for a type", ErrBadControl, len(b))
	}
	t := ControlType(binary.BigEndian.Uint32(b))
	if t < ControlAccept || t > ControlFinish {
		return fmt.Errorf("%w: unknown type %d", ErrBadControl, uint32(t))
	}
	typ(t)
	b = b[4:]
	for len(b) > 0 {
		if len(b) < 8 {
			return fmt.Errorf("%w: %d stray bytes after the fields", ErrBadControl, len(b))
		}
		ft := binary.BigEndian.Uint32(b)
		n := binary.BigEndian.Uint32(b[4:])
		b = b[8:]
		if uint64(n) > uint64(len(b)) {
			return fmt.Errorf("%w: field length %d, only %d bytes left", ErrBadControl, n, len(b))
		}
		if ft == fieldContentType {
			if n > MaxContentTypeSize {
				return fmt.Errorf("%w: content type of %d bytes, more than %d", ErrBadControl, n, MaxContentTypeSize)
			}
			// STOP and FINISH carry no content type; READY and ACCEPT
			// may carry several; START at most one.
			if t == ControlStop || t == ControlFinish {
				return fmt.Errorf("%w: %v with a content type", ErrBadControl, t)
			}
			ct(b[:n])
		}
		b = b[n:]
	}
	return nil
}

// AppendControl appends c, framed (escape, length, body), to dst.
func AppendControl(dst []byte, c Control) []byte {
	n := 4
	for _, ct := range c.ContentTypes {
		n += 8 + len(ct)
	}
	dst = binary.BigEndian.AppendUint32(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Type))
	for _, ct := range c.ContentTypes {
		dst = binary.BigEndian.AppendUint32(dst, fieldContentType)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(ct)))
		dst = append(dst, ct...)
	}
	return dst
}
