package dnstap

import (
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"
)

// AppendMarshal appends the protobuf encoding of f to dst and returns the
// extended slice. It allocates nothing when dst has room for [Frame.Size]
// more bytes.
//
// The encoding is canonical: known fields in ascending field number, each
// once, with minimal varints, followed by the unknown fields as they were
// decoded. See [Frame] and [Message] for which fields are written.
func (f *Frame) AppendMarshal(dst []byte) []byte {
	dst = appendBytes(dst, tagIdentity, f.Identity)
	dst = appendBytes(dst, tagVersion, f.Version)
	dst = appendBytes(dst, tagExtra, f.Extra)
	if f.hasMessage() {
		dst = append(dst, byte(tagMessage))
		dst = protowire.AppendVarint(dst, uint64(f.Message.size()))
		dst = f.Message.appendTo(dst)
	}
	dst = append(dst, byte(tagFrameType))
	dst = protowire.AppendVarint(dst, enumValue(int32(f.frameType())))
	return append(dst, f.Unknown...)
}

// Size returns the length of the encoding that AppendMarshal writes.
func (f *Frame) Size() int {
	n := bytesSize(f.Identity) + bytesSize(f.Version) + bytesSize(f.Extra)
	if f.hasMessage() {
		n += 1 + lengthSize(f.Message.size())
	}
	n += 1 + protowire.SizeVarint(enumValue(int32(f.frameType())))
	return n + len(f.Unknown)
}

func (f *Frame) hasMessage() bool {
	return f.HasMessage || !f.Message.isZero()
}

func (f *Frame) frameType() FrameType {
	if f.FrameType == 0 {
		return FrameMessage
	}
	return f.FrameType
}

// appendTo appends the fields of m, without a tag and length.
func (m *Message) appendTo(dst []byte) []byte {
	p := m.Present
	dst = appendEnum(dst, tagType, int32(m.Type), p&FieldType != 0)
	dst = appendEnum(dst, tagSocketFamily, int32(m.SocketFamily), p&FieldSocketFamily != 0)
	dst = appendEnum(dst, tagSocketProtocol, int32(m.SocketProtocol), p&FieldSocketProtocol != 0)
	dst = appendBytes(dst, tagQueryAddress, m.QueryAddress)
	dst = appendBytes(dst, tagResponseAddress, m.ResponseAddress)
	dst = appendVarint(dst, tagQueryPort, uint64(m.QueryPort), p&FieldQueryPort != 0)
	dst = appendVarint(dst, tagResponsePort, uint64(m.ResponsePort), p&FieldResponsePort != 0)
	dst = appendVarint(dst, tagQueryTimeSec, m.QueryTimeSec, p&FieldQueryTimeSec != 0)
	dst = appendFixed32(dst, tagQueryTimeNsec, m.QueryTimeNsec, p&FieldQueryTimeNsec != 0)
	dst = appendBytes(dst, tagQueryMessage, m.QueryMessage)
	dst = appendBytes(dst, tagQueryZone, m.QueryZone)
	dst = appendVarint(dst, tagResponseTimeSec, m.ResponseTimeSec, p&FieldResponseTimeSec != 0)
	dst = appendFixed32(dst, tagResponseTimeNsec, m.ResponseTimeNsec, p&FieldResponseTimeNsec != 0)
	dst = appendBytes(dst, tagResponseMessage, m.ResponseMessage)
	return append(dst, m.Unknown...)
}

// size returns the length of what appendTo appends.
func (m *Message) size() int {
	p := m.Present
	return enumSize(int32(m.Type), p&FieldType != 0) +
		enumSize(int32(m.SocketFamily), p&FieldSocketFamily != 0) +
		enumSize(int32(m.SocketProtocol), p&FieldSocketProtocol != 0) +
		bytesSize(m.QueryAddress) +
		bytesSize(m.ResponseAddress) +
		varintSize(uint64(m.QueryPort), p&FieldQueryPort != 0) +
		varintSize(uint64(m.ResponsePort), p&FieldResponsePort != 0) +
		varintSize(m.QueryTimeSec, p&FieldQueryTimeSec != 0) +
		fixed32Size(m.QueryTimeNsec, p&FieldQueryTimeNsec != 0) +
		bytesSize(m.QueryMessage) +
		bytesSize(m.QueryZone) +
		varintSize(m.ResponseTimeSec, p&FieldResponseTimeSec != 0) +
		fixed32Size(m.ResponseTimeNsec, p&FieldResponseTimeNsec != 0) +
		bytesSize(m.ResponseMessage) +
		len(m.Unknown)
}

// enumValue returns the varint protobuf writes for an enum: negative
// values are sign-extended to 64 bits.
func enumValue(v int32) uint64 { return uint64(int64(v)) }

// The field writers below write a field if it is present, which for a byte
// field means non-nil and for a scalar means marked present or not zero.
// Every tag of the schema is one byte.

func appendBytes(dst []byte, tag uint64, v []byte) []byte {
	if v == nil {
		return dst
	}
	dst = append(dst, byte(tag))
	dst = protowire.AppendVarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func appendVarint(dst []byte, tag uint64, v uint64, present bool) []byte {
	if v == 0 && !present {
		return dst
	}
	return protowire.AppendVarint(append(dst, byte(tag)), v)
}

func appendEnum(dst []byte, tag uint64, v int32, present bool) []byte {
	return appendVarint(dst, tag, enumValue(v), present)
}

func appendFixed32(dst []byte, tag uint64, v uint32, present bool) []byte {
	if v == 0 && !present {
		return dst
	}
	return binary.LittleEndian.AppendUint32(append(dst, byte(tag)), v)
}

func bytesSize(v []byte) int {
	if v == nil {
		return 0
	}
	return 1 + lengthSize(len(v))
}

// lengthSize returns the size of a length prefix and the n bytes after it.
func lengthSize(n int) int {
	return protowire.SizeVarint(uint64(n)) + n
}

func varintSize(v uint64, present bool) int {
	if v == 0 && !present {
		return 0
	}
	return 1 + protowire.SizeVarint(v)
}

func enumSize(v int32, present bool) int {
	return varintSize(enumValue(v), present)
}

func fixed32Size(v uint32, present bool) int {
	if v == 0 && !present {
		return 0
	}
	return 5
}
