package dnswire

import (
	"encoding/binary"
	"errors"
)

// EDNS option codes (IANA "DNS EDNS0 Option Codes (OPT)" registry) that
// tapir tools look at.
const (
	OptionNSID      = 3  // name server identifier, RFC 5001
	OptionECS       = 8  // EDNS Client Subnet, RFC 7871: the client's address prefix
	OptionExpire    = 9  // zone expire timer, RFC 7314
	OptionCookie    = 10 // DNS cookie, RFC 7873: a token that follows a client from query to query
	OptionKeepalive = 11 // TCP keepalive, RFC 7828
	OptionPadding   = 12 // padding, RFC 7830
	OptionEDE       = 15 // extended DNS error, RFC 8914
)

// typeOPT is the type of the EDNS pseudo-record (RFC 6891).
const typeOPT = 41

// Errors about EDNS, beside those of errors.go.
var (
	// ErrBadOPT means the RDATA of an OPT record is not a sequence of
	// whole options: an option header or data runs past the RDATA.
	ErrBadOPT = errors.New("dnswire: bad OPT record")
	// ErrPointer means that a name reads, through a compression
	// pointer, bytes that removing the options would move, so that
	// StripOptions would change the name; see StripOptions.
	ErrPointer = errors.New("dnswire: compression pointer past options to remove")
)

// StripOptions removes, in place, the EDNS options of msg's OPT record for
// which drop returns true, and returns the shortened message, a prefix of
// msg, and how many options it removed. The rest of the message is
// unchanged byte for byte: the OPT record's RDLENGTH is the only other
// field written, and the header counts stay as they are since no record
// goes. Bytes after the last record that the header counts are kept too:
// no parser reads them, but they may hold a client's data, such as an OPT
// record that a server sent without counting it (DVE-2017-0007).
// A message with no option that drop selects comes back as it is, with 0.
// drop may be called more than once for an option.
//
// A message has at most one OPT record, in the additional section
// (RFC 6891). A malformed one may have more, or have one elsewhere:
// StripOptions strips every record of type OPT, since a client's subnet
// identifies it wherever it sits.
//
// StripOptions checks the whole message before it writes anything. On
// error msg is left as it was and the result is nil, so that a caller
// that misses the error forwards nothing rather than the client's data.
// The errors are ErrShort if msg ends before a question or record that the
// header counts, ErrBadName for an invalid name, ErrBadOPT for OPT RDATA
// that is not a sequence of whole options, and ErrPointer, below.
//
// Removing bytes must not change a name that a compression pointer spells.
// A pointer is an absolute offset in the message, so a name that reads,
// through a pointer, bytes that then move or change, reads something else
// afterwards, wherever the pointer itself sits. The bytes before the
// RDLENGTH of the OPT record with the first removed option stay in
// place; the others may not. Encoders point only back, at names written
// earlier, and OPT RDATA holds no names, so nothing points to a byte
// that moves when the OPT record comes last, as servers write it, or is
// followed only by a TSIG or SIG(0) record (RFC 8945, RFC 2931), which
// comes last and so can point only before the OPT record. But RFC 6891
// lets the OPT record sit anywhere in the additional section: a record
// after it, glue say, may point to the name of another record after it,
// which moves. A crafted message may point forward, or into option data.
// So StripOptions reads every name, question and owner names and the
// names in the RDATA of the types that miekg/dns decompresses (more than
// RFC 3597 section 4 lets a decoder decompress), follows their pointers,
// and returns ErrPointer if any leads that way to the OPT record's
// RDLENGTH or after it. Rewriting those pointers would change bytes
// outside the OPT record; a caller that must keep these rare messages
// can strip them with miekg/dns, which compresses names afresh.
//
// Removing options invalidates a TSIG or SIG(0) signature over the
// message; the message still parses.
func StripOptions(msg []byte, drop func(code uint16) bool) ([]byte, int, error) {
	return strip(msg, drop, len(msg))
}

// TrimOptions is StripOptions that also cuts off the bytes after the last
// record the header counts. No parser reads them, but a server may have
// put a client's data there (an uncounted OPT record with its subnet, as
// in DVE-2017-0007); a tool that must not pass such data on trims it.
func TrimOptions(msg []byte, drop func(code uint16) bool) ([]byte, int, error) {
	return strip(msg, drop, -1)
}

// strip is StripOptions keeping msg[:end]; end -1 means the counted
// records only.
func strip(msg []byte, drop func(code uint16) bool, end int) ([]byte, int, error) {
	s, err := scan(msg, drop)
	if err != nil {
		return nil, 0, err
	}
	if end < 0 {
		end = s.end
	}
	if s.drops == 0 {
		return msg[:end], 0, nil
	}
	if s.far >= s.changed {
		return nil, 0, ErrPointer
	}

	// One pass from the first OPT record on: bytes before keep have been
	// moved to before w, and msg[keep:] is still as it was, since w never
	// passes keep. Each removed option widens the gap between them.
	w, keep, r := s.firstOPT, s.firstOPT, s.firstOPT
	n := 0
	for range s.records {
		nameEnd := skipName(msg, r)
		typ := binary.BigEndian.Uint16(msg[nameEnd:])
		rdata := nameEnd + 10
		r = rdata + int(binary.BigEndian.Uint16(msg[nameEnd+8:]))
		if typ != typeOPT {
			continue
		}
		moved := keep - w // how far this record moves
		for o := rdata; o < r; {
			next := o + 4 + int(binary.BigEndian.Uint16(msg[o+2:]))
			// The check against cut keeps ErrPointer's promise even if
			// drop changes its mind: nothing before cut goes.
			if o >= s.cut && drop(binary.BigEndian.Uint16(msg[o:])) {
				w = moveLeft(msg, w, keep, o)
				keep = next
				n++
			}
			o = next
		}
		removed := keep - w - moved
		if removed == 0 {
			continue // RDLENGTH stays
		}
		// Move the rest of the record, so that its RDLENGTH, which
		// comes before any removed option, is in its final place.
		w = moveLeft(msg, w, keep, r)
		keep = r
		binary.BigEndian.PutUint16(msg[nameEnd+8-moved:], uint16(r-rdata-removed))
	}
	w = moveLeft(msg, w, keep, end)
	return msg[:w], n, nil
}

// scanned is what scan learns about a message.
type scanned struct {
	firstOPT int // offset of the first OPT record
	records  int // records from the first OPT record to the end, 0 if there is no OPT record
	cut      int // offset of the first option that drop selects
	changed  int // offset of the first byte that removing it changes: the RDLENGTH before it
	drops    int // options that drop selects
	far      int // the highest offset that a name reads away from its own field, or -1
	end      int // offset after the last record the header counts
}

// scan checks that msg is a whole DNS message: the questions and records
// that the header counts, names that are valid wherever their pointers
// lead, OPT RDATA made of whole options. It finds the OPT records and
// calls drop, unless nil, for each of their options.
func scan(msg []byte, drop func(uint16) bool) (scanned, error) {
	s := scanned{far: -1}
	if len(msg) < HeaderLen {
		return s, ErrShort
	}
	off := HeaderLen
	for range binary.BigEndian.Uint16(msg[4:]) {
		end, err := readName(msg, off, len(msg), &s.far)
		if err != nil {
			return s, err
		}
		if len(msg)-end < 4 {
			return s, ErrShort
		}
		off = end + 4
	}
	records := int(binary.BigEndian.Uint16(msg[6:])) + int(binary.BigEndian.Uint16(msg[8:])) + int(binary.BigEndian.Uint16(msg[10:]))
	for i := range records {
		start := off
		end, err := readName(msg, off, len(msg), &s.far)
		if err != nil {
			return s, err
		}
		// type, class, TTL, RDLENGTH
		if len(msg)-end < 10 {
			return s, ErrShort
		}
		typ := binary.BigEndian.Uint16(msg[end:])
		rdata := end + 10
		rdlength := int(binary.BigEndian.Uint16(msg[end+8:]))
		if rdlength > len(msg)-rdata {
			return s, ErrShort
		}
		off = rdata + rdlength
		if typ != typeOPT {
			if err := rdataNames(msg, rdata, off, typ, &s.far); err != nil {
				return s, err
			}
			continue
		}
		if s.records == 0 {
			s.firstOPT, s.records = start, records-i
		}
		for o := rdata; o < off; {
			if off-o < 4 {
				return s, ErrBadOPT
			}
			length := int(binary.BigEndian.Uint16(msg[o+2:]))
			if length > off-o-4 {
				return s, ErrBadOPT
			}
			if drop != nil && drop(binary.BigEndian.Uint16(msg[o:])) {
				if s.drops == 0 {
					s.cut, s.changed = o, rdata-2
				}
				s.drops++
			}
			o += 4 + length
		}
	}
	s.end = off
	return s, nil
}

// readName checks the name at msg[off:] and returns the offset that
// follows it. The name's own field is msg[off:limit]: it raises *far to
// the highest offset of the bytes it reads elsewhere, through a
// compression pointer or past limit, since those are the bytes that do
// not move with the field. The checks are those of appendName.
func readName(msg []byte, off, limit int, far *int) (int, error) {
	end := -1 // the offset after the name, once a pointer has been followed
	wire := 1 // octets of the name in wire format, starting with the root label
	pointers := 0
	for {
		if off >= len(msg) {
			return 0, overrun(pointers)
		}
		c := int(msg[off])
		last := off // the last byte this step reads
		switch c & 0xc0 {
		case 0x00:
			if wire += c + 1; wire > maxWireLen {
				return 0, ErrBadName
			}
			if c >= len(msg)-off {
				return 0, overrun(pointers)
			}
			last += c
		case 0xc0:
			if off+1 >= len(msg) {
				return 0, overrun(pointers)
			}
			last++
		default: // 0x40 and 0x80: extended label types, deprecated (RFC 6891 section 5)
			return 0, ErrBadName
		}
		if (pointers > 0 || last >= limit) && last > *far {
			*far = last
		}
		switch {
		case c == 0:
			if end < 0 {
				end = off + 1
			}
			return end, nil
		case c < 0xc0:
			off = last + 1
		default:
			if end < 0 {
				end = off + 2
			}
			if pointers++; pointers > maxPointers {
				return 0, ErrBadName
			}
			off = (c&0x3f)<<8 | int(msg[off+1])
		}
	}
}

// rdataNames checks the names in the RDATA msg[off:end] of a record of type
// typ, for the types whose names miekg/dns decompresses, as readName does.
// Each name's field is the RDATA. Fields that do not fit in the RDATA end
// the check without error: the package does not check RDATA, and a
// decoder reads no name there.
func rdataNames(msg []byte, off, end int, typ uint16, far *int) error {
	skip, names := 0, 1 // bytes before the first name; names, -1 for as many as fit
	switch typ {
	case 2, 3, 4, 5, 7, 8, 9, 12, 23, 30, 39, 47, 249, 250:
		// NS, MD, MF, CNAME, MB, MG, MR, PTR, NSAP-PTR, NXT, DNAME,
		// NSEC, TKEY, TSIG: a name first.
	case 6, 14, 17, 58: // SOA, MINFO, RP, TALINK: two names first
		names = 2
	case 15, 18, 21, 36, 64, 65, 107: // MX, AFSDB, RT, KX, SVCB, HTTPS, LP: a 16-bit field, a name
		skip = 2
	case 26: // PX: preference, two names
		skip, names = 2, 2
	case 33: // SRV: priority, weight, port, target
		skip = 6
	case 24, 46: // SIG, RRSIG: 18 octets of fields, the signer's name
		skip = 18
	case 35: // NAPTR: order, preference, three character strings, replacement
		skip = 4
		for range 3 {
			if off+skip >= end {
				return nil
			}
			skip += 1 + int(msg[off+skip])
		}
	case 45: // IPSECKEY: precedence, gateway type, algorithm, gateway
		if end-off < 3 || msg[off+1] != 3 {
			return nil
		}
		skip = 3
	case 260: // AMTRELAY: precedence, D bit and 7-bit gateway type, gateway
		if end-off < 2 || msg[off+1]&0x7f != 3 {
			return nil
		}
		skip = 2
	case 55: // HIP: HIT length, algorithm, key length, HIT, key, rendezvous servers
		if end-off < 4 {
			return nil
		}
		skip = 4 + int(msg[off]) + int(binary.BigEndian.Uint16(msg[off+2:]))
		names = -1
	default:
		return nil
	}
	off += skip
	for i := 0; off < end && i != names; i++ {
		var err error
		if off, err = readName(msg, off, end, far); err != nil {
			return err
		}
	}
	return nil
}

// moveLeft copies msg[from:to] to msg[w:], w <= from, and returns the
// offset after the copy.
func moveLeft(msg []byte, w, from, to int) int {
	if w != from {
		copy(msg[w:], msg[from:to])
	}
	return w + to - from
}

// skipName returns the offset after the name at msg[off:], which readName
// has checked.
func skipName(msg []byte, off int) int {
	for {
		switch c := int(msg[off]); {
		case c == 0:
			return off + 1
		case c >= 0xc0:
			return off + 2
		default:
			off += c + 1
		}
	}
}
