// Package dnsname checks domain names in presentation format (RFC 1035
// section 5.1), as lists, policy files and the core's messages write them,
// and puts them in the one form in which tapir tools compare them.
//
// Names come in two syntaxes. A host name, in the wide sense that
// blocklists and the core use, is made of labels of letters, digits, '-'
// and '_': [Check] checks one, [Canonical] checks one and writes it
// lowercase, with A-labels and a trailing dot. Any other name, with
// escapes for any octet, is the business of [AppendEscaped], which writes
// it as dnswire writes query names. Both share the limits of RFC 1035
// section 2.3.4: labels of 1 to 63 octets, names of at most 255 octets in
// wire format.
package dnsname

import (
	"errors"
	"fmt"
)

const (
	// maxLen is the longest name, in octets in wire format, counting the
	// length octet of each label and the root label.
	maxLen = 255
	// maxLabel is the longest label, in octets.
	maxLabel = 63
)

var errEmptyLabel = errors.New("empty label")

// checkLabel checks the length of a label of n octets.
func checkLabel(n int) error {
	switch {
	case n == 0:
		return errEmptyLabel
	case n > maxLabel:
		return fmt.Errorf("label of %d octets, more than %d", n, maxLabel)
	}
	return nil
}

// checkLen checks the length of a name of n octets in wire format.
func checkLen(n int) error {
	if n > maxLen {
		return fmt.Errorf("name of %d octets in wire format, more than %d", n, maxLen)
	}
	return nil
}

// lower lowercases an ASCII letter. Other octets are not letters in DNS
// (RFC 4343): they stay as they are.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
