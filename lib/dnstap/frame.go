package dnstap

import (
	"net/netip"
	"strconv"
	"time"
)

// FrameType is the type of a dnstap frame (Dnstap.type).
type FrameType int32

// FrameMessage is the only frame type dnstap.proto defines: the frame
// carries a Message.
const FrameMessage FrameType = 1

// String returns the proto name of t, "MESSAGE".
func (t FrameType) String() string {
	if t == FrameMessage {
		return "MESSAGE"
	}
	return "FrameType(" + strconv.Itoa(int(t)) + ")"
}

// Frame is one dnstap frame (the Dnstap protobuf message) with its
// Message embedded, so that f.Type, f.QueryAddress and so on reach the
// Message's fields.
//
// After [Frame.Unmarshal] the byte fields alias the input: they stay valid
// as long as the input is not modified, and the caller must copy what it
// keeps beyond that. Their capacity ends with the field, so appending to
// one never overwrites the input.
//
// A byte field is present when it is not nil: Unmarshal sets a present
// but empty field to an empty, non-nil slice, and AppendMarshal writes it.
// See [Message] for the scalar fields.
//
// A Frame can be filled by hand and encoded with [Frame.AppendMarshal].
type Frame struct {
	Identity []byte // name of the server that produced the frame
	Version  []byte // software version of that server
	Extra    []byte // opaque data added by the server's operator

	// FrameType is Dnstap.type. The schema requires it and defines only
	// FrameMessage, so AppendMarshal writes FrameMessage when it is zero
	// (Unmarshal does not tell an absent type from a zero one).
	FrameType FrameType

	// HasMessage reports whether the frame had a message field.
	// AppendMarshal writes the message if HasMessage is set or if any
	// field of Message is set.
	HasMessage bool

	Message

	// Unknown holds the Dnstap fields that this package does not
	// interpret, encoded (tag and value), in the order they came.
	// AppendMarshal writes them after the known fields, as the protobuf
	// libraries do.
	Unknown []byte

	// spill holds the unknown fields of the frame (0) and of the message
	// (1) when they were not contiguous in the input, so that Unknown can
	// still be one slice; it is reused by later calls to Unmarshal.
	spill [2][]byte
}

// FieldSet is a set of scalar Message fields, used to record which were
// present. Each field's bit is 1 shifted by its field number.
type FieldSet uint32

// The scalar fields of Message.
const (
	FieldType             FieldSet = 1 << 1
	FieldSocketFamily     FieldSet = 1 << 2
	FieldSocketProtocol   FieldSet = 1 << 3
	FieldQueryPort        FieldSet = 1 << 6
	FieldResponsePort     FieldSet = 1 << 7
	FieldQueryTimeSec     FieldSet = 1 << 8
	FieldQueryTimeNsec    FieldSet = 1 << 9
	FieldResponseTimeSec  FieldSet = 1 << 12
	FieldResponseTimeNsec FieldSet = 1 << 13
)

// Message is a dnstap Message: one DNS message seen by the server, with
// where and when it was seen.
//
// Presence of a scalar field, which protobuf distinguishes from a zero
// value, is recorded in Present. AppendMarshal writes a scalar field if its
// bit is in Present or its value is not zero, so a Message filled by hand
// needs Present only to write a zero; to remove a field, zero it and clear
// its bit.
type Message struct {
	Present FieldSet // scalar fields present

	Type           MessageType
	SocketFamily   SocketFamily
	SocketProtocol SocketProtocol

	QueryAddress    []byte // address of the initiator of the query: 4 or 16 bytes
	ResponseAddress []byte // address of the responder: 4 or 16 bytes
	QueryPort       uint32
	ResponsePort    uint32

	QueryTimeSec  uint64 // when the query was sent or received, seconds since the epoch
	QueryTimeNsec uint32

	QueryMessage []byte // the DNS query, in wire format
	QueryZone    []byte // the zone the query was sent to (resolver and forwarder types), in wire format

	ResponseTimeSec  uint64 // when the response was sent or received
	ResponseTimeNsec uint32

	ResponseMessage []byte // the DNS response, in wire format

	// Unknown holds the Message fields that this package does not
	// interpret (policy, http_protocol, future fields), encoded, in the
	// order they came. AppendMarshal writes them after the known fields.
	Unknown []byte
}

// isZero reports whether no field of m is set.
func (m *Message) isZero() bool {
	return m.Present == 0 && m.Type == 0 && m.SocketFamily == 0 && m.SocketProtocol == 0 &&
		m.QueryAddress == nil && m.ResponseAddress == nil && m.QueryPort == 0 && m.ResponsePort == 0 &&
		m.QueryTimeSec == 0 && m.QueryTimeNsec == 0 && m.QueryMessage == nil && m.QueryZone == nil &&
		m.ResponseTimeSec == 0 && m.ResponseTimeNsec == 0 && m.ResponseMessage == nil && m.Unknown == nil
}

// Reset clears f, keeping the buffers it owns for reuse.
func (f *Frame) Reset() {
	*f = Frame{spill: [2][]byte{f.spill[0][:0], f.spill[1][:0]}}
}

// HasQueryPort reports whether the query port is set.
func (m *Message) HasQueryPort() bool {
	return m.Present&FieldQueryPort != 0 || m.QueryPort != 0
}

// HasResponsePort reports whether the response port is set.
func (m *Message) HasResponsePort() bool {
	return m.Present&FieldResponsePort != 0 || m.ResponsePort != 0
}

// HasQueryTime reports whether either part of the query time is set.
func (m *Message) HasQueryTime() bool {
	return m.Present&(FieldQueryTimeSec|FieldQueryTimeNsec) != 0 || m.QueryTimeSec != 0 || m.QueryTimeNsec != 0
}

// HasResponseTime reports whether either part of the response time is set.
func (m *Message) HasResponseTime() bool {
	return m.Present&(FieldResponseTimeSec|FieldResponseTimeNsec) != 0 || m.ResponseTimeSec != 0 || m.ResponseTimeNsec != 0
}

// SetQueryTime sets the query time to t, marking both parts present.
func (m *Message) SetQueryTime(t time.Time) {
	m.QueryTimeSec, m.QueryTimeNsec = uint64(t.Unix()), uint32(t.Nanosecond())
	m.Present |= FieldQueryTimeSec | FieldQueryTimeNsec
}

// SetResponseTime sets the response time to t, marking both parts present.
func (m *Message) SetResponseTime(t time.Time) {
	m.ResponseTimeSec, m.ResponseTimeNsec = uint64(t.Unix()), uint32(t.Nanosecond())
	m.Present |= FieldResponseTimeSec | FieldResponseTimeNsec
}

// Time returns the time of the event the message records: the query time
// for a query type and the response time otherwise, or the other one if
// that is absent (Unbound's CLIENT_RESPONSE carries only the response
// time). ok is false if the message has neither.
func (m *Message) Time() (sec uint64, nsec uint32, ok bool) {
	q, r := m.HasQueryTime(), m.HasResponseTime()
	switch {
	case q && (m.Type.IsQuery() || !r):
		return m.QueryTimeSec, m.QueryTimeNsec, true
	case r:
		return m.ResponseTimeSec, m.ResponseTimeNsec, true
	}
	return 0, 0, false
}

// DNS returns the DNS message in wire format that the message type is
// about: QueryMessage for a query type, ResponseMessage for a response
// type. For a type the schema does not define, it returns ResponseMessage
// if present and QueryMessage otherwise. The result is nil if that field
// is absent.
func (m *Message) DNS() []byte {
	switch {
	case m.Type.IsQuery():
		return m.QueryMessage
	case m.Type.IsResponse(), m.ResponseMessage != nil:
		return m.ResponseMessage
	}
	return m.QueryMessage
}

// ClientAddr returns the address of the client, the initiator of the
// DNS transaction (QueryAddress): for CLIENT_* messages the resolver's
// client, for RESOLVER_* messages the resolver itself.
func (m *Message) ClientAddr() []byte {
	return m.QueryAddress
}

// QueryAddrPort returns QueryAddress and QueryPort as a netip.AddrPort,
// or the zero AddrPort if the address is not 4 or 16 bytes long.
func (m *Message) QueryAddrPort() netip.AddrPort {
	return addrPort(m.QueryAddress, m.QueryPort)
}

// ResponseAddrPort returns ResponseAddress and ResponsePort as a
// netip.AddrPort, or the zero AddrPort if the address is not 4 or 16
// bytes long.
func (m *Message) ResponseAddrPort() netip.AddrPort {
	return addrPort(m.ResponseAddress, m.ResponsePort)
}

func addrPort(a []byte, port uint32) netip.AddrPort {
	ip, ok := netip.AddrFromSlice(a)
	if !ok {
		return netip.AddrPort{}
	}
	// Ports are uint32 on the wire but 16 bits in every transport.
	return netip.AddrPortFrom(ip, uint16(port))
}

// ContentType is the Frame Streams content type of a dnstap stream.
const ContentType = "protobuf:dnstap.Dnstap"

// Plausible reports whether b can be a dnstap frame as the tools read
// them: it decodes, and holds a Message. A reader that lost its place in
// a stream checks the first frame after it resynchronised with it
// (fstrm.ReaderOptions.Plausible).
func Plausible(b []byte) bool {
	var f Frame
	return f.Unmarshal(b) == nil && f.HasMessage
}
