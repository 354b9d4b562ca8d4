package dnswire

// MaxNameLen is the length of the longest name in presentation format that
// this package writes: a 255-octet wire name holds at most four labels of
// 63, 63, 63 and 61 octets, and each octet may take four characters
// (\DDD), plus a dot after each label.
const MaxNameLen = 4*(63+63+63+61) + 4

// maxPointers bounds the compression pointers followed in one name, which
// is what stops a loop of pointers. A 255-octet name has at most 127
// labels and an encoder needs no more than one pointer per label, so no
// name a sane encoder writes comes near it.
const maxPointers = 128

// maxWireLen is the longest a name may be in wire format, root label
// included (RFC 1035 section 3.1).
const maxWireLen = 255

// appendName appends to dst the presentation format of the name at
// msg[off:], lowercased, and returns the extended slice and the offset
// that follows the name.
func appendName(dst, msg []byte, off int) ([]byte, int, error) {
	start := len(dst)
	end := -1 // the offset after the name, once a pointer has been followed
	wire := 1 // octets of the name in wire format, starting with the root label
	pointers := 0
	for {
		if off >= len(msg) {
			return dst, 0, overrun(pointers)
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00: // a label of c octets, or the root label if c is 0
			if c == 0 {
				if end < 0 {
					end = off + 1
				}
				if len(dst) == start {
					dst = append(dst, '.')
				}
				return dst, end, nil
			}
			if wire += c + 1; wire > maxWireLen {
				return dst, 0, ErrBadName
			}
			off++
			if c > len(msg)-off {
				return dst, 0, overrun(pointers)
			}
			dst = appendLabel(dst, msg[off:off+c])
			off += c
		case 0xc0: // a compression pointer: 14 bits of offset in msg
			if off+1 >= len(msg) {
				return dst, 0, overrun(pointers)
			}
			if end < 0 {
				end = off + 2
			}
			if pointers++; pointers > maxPointers {
				return dst, 0, ErrBadName
			}
			off = (c&0x3f)<<8 | int(msg[off+1])
		default: // 0x40 and 0x80: extended label types, deprecated (RFC 6891 section 5)
			return dst, 0, ErrBadName
		}
	}
}

// overrun returns the error for a name that runs past the end of the
// message: the message is cut short, unless a pointer led there.
func overrun(pointers int) error {
	if pointers > 0 {
		return ErrBadName
	}
	return ErrShort
}

// appendLabel appends label in presentation format, lowercased, and a dot.
func appendLabel(dst, label []byte) []byte {
	for _, b := range label {
		if p := plain[b]; p != 0 {
			dst = append(dst, p)
			continue
		}
		if b >= ' ' && b <= '~' {
			// Printable but special in a zone file.
			dst = append(dst, '\\', b)
			continue
		}
		dst = append(dst, '\\', '0'+b/100, '0'+b/10%10, '0'+b%10)
	}
	return append(dst, '.')
}

// plain maps each byte that stands for itself in a name's presentation
// format to its lowercase form (A to Z) or to itself, and the others to
// zero.
var plain = plainTable()

func plainTable() (lower [256]byte) {
	for b := ' '; b <= '~'; b++ {
		switch b {
		case ' ', '.', '@', ';', '(', ')', '"', '\\':
			// Special in a zone file (RFC 1035 section 5.1).
			continue
		case '\'':
			// Not special in RFC 1035, but miekg/dns escapes it, and
			// names must compare equal to its output.
			continue
		}
		lower[b] = byte(b)
		if b >= 'A' && b <= 'Z' {
			lower[b] = byte(b) + 'a' - 'A'
		}
	}
	return lower
}
