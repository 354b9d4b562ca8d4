package dnsname

import (
	"errors"
	"fmt"
	"strings"
)

// AppendEscaped checks text, an absolute name in presentation format in
// which any octet may be written as \X or \DDD, and appends it to dst in
// the form in which dnswire.Question writes query names: A to Z
// lowercased, the characters that are special in a zone file escaped
// with a backslash, other octets outside printable ASCII as \DDD, a
// trailing dot (added if text lacks it; "." is the root). So a name
// compares equal, byte for byte, to the query names it stands for.
//
// Unescaped, text may hold printable ASCII but for '"', '(', ')', ';' and
// '@'; octets outside ASCII must be escaped, so an internationalised name
// is written as A-labels. On error AppendEscaped returns dst unchanged;
// on success it allocates only if dst has too little room.
func AppendEscaped(dst, text []byte) ([]byte, error) {
	if len(text) == 0 {
		return dst, errors.New("empty name")
	}
	if len(text) == 1 && text[0] == '.' {
		return append(dst, '.'), nil
	}
	out := dst
	wire := 1  // octets in wire format, counting the root label
	label := 0 // octets in the current label
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '.':
			if err := checkLabel(label); err != nil {
				return dst, err
			}
			wire += label + 1
			label = 0
			out = append(out, '.')
			continue
		case c == '\\':
			if i+1 >= len(text) {
				return dst, errors.New("backslash at the end")
			}
			i++
			c = text[i]
			if isDigit(c) {
				if i+2 >= len(text) || !isDigit(text[i+1]) || !isDigit(text[i+2]) {
					return dst, errors.New(`\DDD escape needs three decimal digits`)
				}
				v := int(c-'0')*100 + int(text[i+1]-'0')*10 + int(text[i+2]-'0')
				if v > 255 {
					return dst, fmt.Errorf(`\%03d: not an octet`, v)
				}
				c = byte(v)
				i += 2
			}
		case c >= 0x80:
			return dst, errors.New("byte outside ASCII: write internationalised names in A-label (xn--) form")
		case c <= ' ' || c == 0x7f:
			return dst, fmt.Errorf("control or space character %#02x inside the name", c)
		case strings.IndexByte(`"();@`, c) >= 0:
			return dst, fmt.Errorf("%q must be escaped with a backslash", c)
		}
		label++
		out = appendOctet(out, lower(c))
	}
	if label > 0 { // no trailing dot: the name is absolute all the same
		if err := checkLabel(label); err != nil {
			return dst, err
		}
		wire += label + 1
		out = append(out, '.')
	}
	if err := checkLen(wire); err != nil {
		return dst, err
	}
	return out, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// appendOctet appends one octet of a label as dnswire writes it.
func appendOctet(dst []byte, c byte) []byte {
	switch {
	case c < ' ' || c > '~':
		return append(dst, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
	case strings.IndexByte(` .@;()"\'`, c) >= 0:
		return append(dst, '\\', c)
	}
	return append(dst, c)
}
