package dnswire

import "encoding/binary"

// Question reads the first question of msg. It appends the name to
// name[:0] in presentation format, lowercased, and returns the extended
// slice: a buffer with capacity [MaxNameLen] saves Question from ever
// allocating. On error qname is name[:0], so the buffer is not lost.
//
// The name is written as miekg/dns writes it: labels each followed by a
// dot ("." alone for the root), the characters that are special in a zone
// file escaped with a backslash ("\." for a dot inside a label) and bytes
// outside printable ASCII as \DDD in decimal. Only A to Z are lowercased;
// other bytes are not letters in DNS (RFC 4343).
//
// A compression pointer in the question name, rare but legal, is followed.
// The error is ErrShort if msg ends before the question does (including
// its type and class), ErrNoQuestion if the header counts no question and
// ErrBadName if the name is invalid.
func Question(msg, name []byte) (qname []byte, qtype, qclass uint16, err error) {
	name = name[:0]
	if len(msg) < HeaderLen {
		return name, 0, 0, ErrShort
	}
	if binary.BigEndian.Uint16(msg[4:]) == 0 {
		return name, 0, 0, ErrNoQuestion
	}
	qname, end, err := appendName(name, msg, HeaderLen)
	if err != nil {
		return name, 0, 0, err
	}
	if len(msg)-end < 4 {
		return name, 0, 0, ErrShort
	}
	return qname, binary.BigEndian.Uint16(msg[end:]), binary.BigEndian.Uint16(msg[end+2:]), nil
}
