package dnswire

import "encoding/binary"

// Options is for the tests, which read with it the options that
// StripOptions leaves; no tool needs it, so it is no part of the package.
// It calls yield for each EDNS option of msg's OPT record, in order,
// until yield returns false. data is the option's data, a part of msg
// that yield must copy to keep; its capacity ends with it, so that
// appending to it copies it. As StripOptions does, Options reads every
// record of type OPT, wherever it sits.
//
// Options checks the whole message before it calls yield, so it calls
// yield either for every option or, when it returns an error, not at all.
// The errors are those of StripOptions but ErrPointer.
func Options(msg []byte, yield func(code uint16, data []byte) bool) error {
	s, err := scan(msg, nil)
	if err != nil {
		return err
	}
	r := s.firstOPT
	for range s.records {
		nameEnd := skipName(msg, r)
		typ := binary.BigEndian.Uint16(msg[nameEnd:])
		rdata := nameEnd + 10
		r = rdata + int(binary.BigEndian.Uint16(msg[nameEnd+8:]))
		if typ != typeOPT {
			continue
		}
		for o := rdata; o < r; {
			next := o + 4 + int(binary.BigEndian.Uint16(msg[o+2:]))
			if !yield(binary.BigEndian.Uint16(msg[o:]), msg[o+4:next:next]) {
				return nil
			}
			o = next
		}
	}
	return nil
}
