package dnswire

import "encoding/binary"

// HeaderLen is the length of a DNS message header.
const HeaderLen = 12

// Header is the fixed header of a DNS message.
type Header struct {
	ID uint16
	// Flags is the second 16-bit word of the header: QR, Opcode, AA, TC,
	// RD, RA, Z, AD, CD and the low four bits of the Rcode.
	Flags   uint16
	QDCount uint16 // number of questions
	ANCount uint16 // number of answer records
	NSCount uint16 // number of authority records
	ARCount uint16 // number of additional records
}

// ParseHeader returns the header of msg, or ErrShort if msg is shorter
// than a header.
func ParseHeader(msg []byte) (Header, error) {
	if len(msg) < HeaderLen {
		return Header{}, ErrShort
	}
	return Header{
		ID:      binary.BigEndian.Uint16(msg[0:]),
		Flags:   binary.BigEndian.Uint16(msg[2:]),
		QDCount: binary.BigEndian.Uint16(msg[4:]),
		ANCount: binary.BigEndian.Uint16(msg[6:]),
		NSCount: binary.BigEndian.Uint16(msg[8:]),
		ARCount: binary.BigEndian.Uint16(msg[10:]),
	}, nil
}

// Bits of Header.Flags.
const (
	FlagQR = 1 << 15 // response
	FlagAA = 1 << 10 // authoritative answer
	FlagTC = 1 << 9  // truncated
	FlagRD = 1 << 8  // recursion desired
	FlagRA = 1 << 7  // recursion available
	FlagZ  = 1 << 6  // reserved, zero
	FlagAD = 1 << 5  // authentic data, RFC 4035
	FlagCD = 1 << 4  // checking disabled, RFC 4035
)

// QR reports whether the message is a response.
func (h Header) QR() bool { return h.Flags&FlagQR != 0 }

// Rcode returns the response code in the header: its low four bits only,
// since EDNS (RFC 6891) keeps the upper eight in the OPT record.
func (h Header) Rcode() uint8 { return uint8(h.Flags & 0xf) }
