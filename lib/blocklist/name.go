package blocklist

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Canonical checks one list entry and returns its canonical name: lowercase,
// internationalised labels converted to A-labels (with the IDNA Lookup
// profile of golang.org/x/net/idna), with a trailing dot. A leading "*." or
// "." marks a suffix entry: suffix is set and name is the parent domain
// ("*.example.com" → "example.com.", true).
//
// A name is a host name in the wide sense that blocklists use: labels of
// letters, digits, '-' and '_' (1 to 63 octets), at most 253 characters
// without the trailing dot. The root alone, and a suffix entry for the root,
// are refused: they would match every name.
func Canonical(text string) (name string, suffix bool, err error) {
	switch {
	case strings.HasPrefix(text, "*."):
		suffix, text = true, text[2:]
	case strings.HasPrefix(text, ".") && len(text) > 1:
		suffix, text = true, text[1:]
	}
	text = strings.TrimSuffix(text, ".")
	if text == "" {
		return "", false, errors.New("empty name, or the root: it would match every name")
	}
	if !isASCII(text) || hasALabel(text) {
		if !utf8.ValidString(text) {
			return "", false, errors.New("not valid UTF-8")
		}
		a, err := idna.Lookup.ToASCII(text)
		if err != nil {
			return "", false, fmt.Errorf("internationalised name: %v", err)
		}
		// The A-labels must read back as themselves, or the entry
		// would not be canonical.
		if b, err := idna.Lookup.ToASCII(a); err != nil || b != a {
			return "", false, fmt.Errorf("internationalised name %q: no stable A-label form", text)
		}
		text = a
	}
	if len(text) > 253 {
		return "", false, fmt.Errorf("name of %d characters, more than 253", len(text))
	}
	var b strings.Builder
	b.Grow(len(text) + 1)
	label := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '.':
			if label == 0 {
				return "", false, errors.New("empty label")
			}
			label = 0
			b.WriteByte('.')
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '*':
			return "", false, errors.New("'*' is allowed only as the whole first label (\"*.example.com\")")
		default:
			return "", false, fmt.Errorf("character %q not allowed in a host name", c)
		}
		label++
		if label > 63 {
			return "", false, errors.New("label longer than 63 octets")
		}
		b.WriteByte(c)
	}
	if label == 0 {
		return "", false, errors.New("empty label")
	}
	b.WriteByte('.')
	return b.String(), suffix, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// hasALabel reports whether s has a label that starts with "xn--" (in any
// case), which IDNA must check.
func hasALabel(s string) bool {
	for l := range strings.SplitSeq(s, ".") {
		if len(l) >= 4 && strings.EqualFold(l[:4], "xn--") {
			return true
		}
	}
	return false
}
