package dnstap

import (
	"encoding/binary"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// Unmarshal resets f and decodes the dnstap frame b into it. The byte
// fields of f alias b (see [Frame]); Unknown may instead alias a buffer
// that f owns and reuses on the next call, when unknown fields were
// interleaved with known ones. Unmarshal allocates nothing, except for
// that buffer's first growth and for the error it returns.
//
// An error is a *[DecodeError] naming the field and offset. Unmarshal
// checks the protobuf encoding, not the schema: it accepts a frame without
// the required Dnstap.type or Message.type, and any enum value.
func (f *Frame) Unmarshal(b []byte) error {
	f.Reset()
	var unknown, msgUnknown span
	for i := 0; i < len(b); {
		at := i
		var (
			t   uint64
			err error
		)
		// Every tag of the schema is one byte.
		if t = uint64(b[i]); t < 0x80 {
			i++
		} else if t, i, err = consumeLongVarint(b, i); err != nil {
			return &DecodeError{Offset: at, Err: err}
		}
		switch t {
		case tagIdentity:
			f.Identity, i, err = consumeBytes(b, i)
		case tagVersion:
			f.Version, i, err = consumeBytes(b, i)
		case tagExtra:
			f.Extra, i, err = consumeBytes(b, i)
		case tagMessage:
			var start int
			if start, i, err = consumeLength(b, i); err != nil {
				break
			}
			f.HasMessage = true
			// A second message field merges into the first, as in
			// protobuf, so the Message is not reset here.
			if err := f.Message.unmarshal(b[:i], start, &msgUnknown, &f.spill[1]); err != nil {
				return err
			}
		case tagFrameType:
			var v uint64
			v, i, err = consumeVarint(b, i)
			f.FrameType = FrameType(int32(v))
		default:
			if i, err = skipField(b, i, t); err == nil {
				unknown.add(b, &f.spill[0], at, i)
			}
		}
		if err != nil {
			return &DecodeError{Offset: at, Field: fieldNumber(t), Err: err}
		}
	}
	f.Unknown = unknown.bytes(b, f.spill[0])
	f.Message.Unknown = msgUnknown.bytes(b, f.spill[1])
	return nil
}

// unmarshal decodes the Message fields in b[i:] into m. Offsets are
// relative to b, the whole frame, so that errors and unknown-field spans
// refer to the frame.
func (m *Message) unmarshal(b []byte, i int, unknown *span, spill *[]byte) error {
	for i < len(b) {
		at := i
		var (
			t, v uint64
			err  error
		)
		// Every tag of the schema is one byte.
		if t = uint64(b[i]); t < 0x80 {
			i++
		} else if t, i, err = consumeLongVarint(b, i); err != nil {
			return &DecodeError{Offset: at, InMessage: true, Err: err}
		}
		switch t {
		case tagType:
			v, i, err = consumeVarint(b, i)
			m.Type = MessageType(int32(v))
			m.Present |= FieldType
		case tagSocketFamily:
			v, i, err = consumeVarint(b, i)
			m.SocketFamily = SocketFamily(int32(v))
			m.Present |= FieldSocketFamily
		case tagSocketProtocol:
			v, i, err = consumeVarint(b, i)
			m.SocketProtocol = SocketProtocol(int32(v))
			m.Present |= FieldSocketProtocol
		case tagQueryAddress:
			m.QueryAddress, i, err = consumeBytes(b, i)
		case tagResponseAddress:
			m.ResponseAddress, i, err = consumeBytes(b, i)
		case tagQueryPort:
			v, i, err = consumeVarint(b, i)
			m.QueryPort = uint32(v)
			m.Present |= FieldQueryPort
		case tagResponsePort:
			v, i, err = consumeVarint(b, i)
			m.ResponsePort = uint32(v)
			m.Present |= FieldResponsePort
		case tagQueryTimeSec:
			m.QueryTimeSec, i, err = consumeVarint(b, i)
			m.Present |= FieldQueryTimeSec
		case tagQueryTimeNsec:
			m.QueryTimeNsec, i, err = consumeFixed32(b, i)
			m.Present |= FieldQueryTimeNsec
		case tagQueryMessage:
			m.QueryMessage, i, err = consumeBytes(b, i)
		case tagQueryZone:
			m.QueryZone, i, err = consumeBytes(b, i)
		case tagResponseTimeSec:
			m.ResponseTimeSec, i, err = consumeVarint(b, i)
			m.Present |= FieldResponseTimeSec
		case tagResponseTimeNsec:
			m.ResponseTimeNsec, i, err = consumeFixed32(b, i)
			m.Present |= FieldResponseTimeNsec
		case tagResponseMessage:
			m.ResponseMessage, i, err = consumeBytes(b, i)
		default:
			if i, err = skipField(b, i, t); err == nil {
				unknown.add(b, spill, at, i)
			}
		}
		if err != nil {
			return &DecodeError{Offset: at, Field: fieldNumber(t), InMessage: true, Err: err}
		}
	}
	return nil
}

// consumeVarint decodes the varint at b[i:] and returns it with the
// offset that follows it.
func consumeVarint(b []byte, i int) (uint64, int, error) {
	// Enums and most lengths are one byte: decode those without a call.
	if i < len(b) && b[i] < 0x80 {
		return uint64(b[i]), i + 1, nil
	}
	return consumeLongVarint(b, i)
}

// consumeLongVarint is consumeVarint for varints of any length.
func consumeLongVarint(b []byte, i int) (uint64, int, error) {
	v, n := protowire.ConsumeVarint(b[i:])
	if n < 0 {
		return 0, i, varintError(n)
	}
	return v, i + n, nil
}

// consumeFixed32 decodes the little-endian 32-bit value at b[i:].
func consumeFixed32(b []byte, i int) (uint32, int, error) {
	if len(b)-i < 4 {
		return 0, i, ErrTruncated
	}
	return binary.LittleEndian.Uint32(b[i:]), i + 4, nil
}

// consumeLength decodes the length prefix at b[i:] and returns the start
// and end offsets of the value that follows it.
func consumeLength(b []byte, i int) (start, end int, err error) {
	var l uint64
	if i < len(b) && b[i] < 0x80 {
		l, i = uint64(b[i]), i+1
	} else if l, i, err = consumeLongVarint(b, i); err != nil {
		return 0, i, err
	}
	if l > uint64(len(b)-i) {
		return 0, i, ErrTruncated
	}
	return i, i + int(l), nil
}

// consumeBytes returns the length-delimited value at b[i:], capped so that
// appending to it cannot overwrite what follows in b, and the offset
// after it.
func consumeBytes(b []byte, i int) ([]byte, int, error) {
	start, end, err := consumeLength(b, i)
	if err != nil {
		return nil, i, err
	}
	return b[start:end:end], end, nil
}

// skipField returns the offset after the value, at b[i:], of a field with
// tag t that the decoder does not interpret.
func skipField(b []byte, i int, t uint64) (int, error) {
	num := fieldNumber(t)
	if num == 0 {
		return i, errFieldNumber
	}
	switch typ := protowire.Type(t & 7); typ {
	case protowire.EndGroupType:
		return i, errEndGroup
	case 6, 7:
		return i, errWireType
	default:
		n := protowire.ConsumeFieldValue(protowire.Number(num), typ, b[i:])
		switch {
		case n >= 0:
			return i + n, nil
		case protowire.ParseError(n) == io.ErrUnexpectedEOF:
			return i, ErrTruncated
		case typ == protowire.StartGroupType:
			// Nested fields of the group are malformed; protowire does
			// not say where.
			return i, errGroup
		}
		return i, errVarint
	}
}

// fieldNumber returns the field number of tag t, or 0 if it is not a
// valid one.
func fieldNumber(t uint64) int {
	if n := t >> 3; n >= uint64(protowire.MinValidNumber) && n <= uint64(protowire.MaxValidNumber) {
		return int(n)
	}
	return 0
}

// varintError converts a protowire error code from ConsumeVarint.
func varintError(n int) error {
	if protowire.ParseError(n) == io.ErrUnexpectedEOF {
		return ErrTruncated
	}
	return errVarint
}

// span accumulates the unknown fields of one message level. While they
// are contiguous in the input it only records where they are; once they
// are not, it copies them into a spill buffer.
type span struct {
	start, end int // in the input; end == 0 while there are none
	spilled    bool
}

// add records the field at b[start:end].
func (s *span) add(b []byte, spill *[]byte, start, end int) {
	switch {
	case s.spilled:
		*spill = append(*spill, b[start:end]...)
	case s.end == 0:
		s.start, s.end = start, end
	case s.end == start:
		s.end = end
	default:
		*spill = append(append((*spill)[:0], b[s.start:s.end]...), b[start:end]...)
		s.spilled = true
	}
}

// bytes returns the fields recorded, or nil if there are none.
func (s *span) bytes(b []byte, spill []byte) []byte {
	switch {
	case s.spilled:
		return spill[:len(spill):len(spill)]
	case s.end == 0:
		return nil
	}
	return b[s.start:s.end:s.end]
}
