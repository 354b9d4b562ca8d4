package dnsname

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Check checks a host name, with or without its trailing dot: ASCII
// labels of 1 to 63 letters, digits, '-' and '_' (internationalised
// labels as A-labels, which Check does not decode), at most 253
// characters without the trailing dot. The root alone is refused. Case
// does not matter. The error names s.
func Check(s string) error {
	n := strings.TrimSuffix(s, ".")
	if n == "" {
		return fmt.Errorf("name %q is empty", s)
	}
	if err := checkHost(n); err != nil {
		return fmt.Errorf("name %q: %w", s, err)
	}
	return nil
}

// Canonical checks one entry of a list and returns its canonical name:
// lowercase, internationalised labels converted to A-labels (with the
// IDNA Lookup profile of golang.org/x/net/idna), with a trailing dot. A
// leading "*." or "." marks a suffix entry: suffix is set and name is the
// parent domain ("*.example.com" → "example.com.", true).
//
// The name must be a host name as [Check] wants it, once converted to
// A-labels, and those must read back as themselves. The root alone, and
// a suffix entry for the root, are refused: they would match every name.
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
			return "", false, fmt.Errorf("internationalised name: %w", err)
		}
		// The A-labels must read back as themselves, or the entry
		// would not be canonical.
		if b, err := idna.Lookup.ToASCII(a); err != nil || b != a {
			return "", false, fmt.Errorf("internationalised name %q: no stable A-label form", text)
		}
		text = a
	}
	if strings.IndexByte(text, '*') >= 0 {
		return "", false, errors.New(`'*' is allowed only as the whole first label ("*.example.com")`)
	}
	if err := checkHost(text); err != nil {
		return "", false, err
	}
	var b strings.Builder
	b.Grow(len(text) + 1)
	for i := 0; i < len(text); i++ {
		b.WriteByte(lower(text[i]))
	}
	b.WriteByte('.')
	return b.String(), suffix, nil
}

// checkHost checks s, a host name without its trailing dot.
func checkHost(s string) error {
	label := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if err := checkLabel(label); err != nil {
				return err
			}
			label = 0
			continue
		case !isHostChar(c):
			return fmt.Errorf("character %q not allowed in a host name", c)
		}
		label++
	}
	if err := checkLabel(label); err != nil {
		return err
	}
	// In wire format each dot is a length octet; add the first one and
	// the root label.
	return checkLen(len(s) + 2)
}

func isHostChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
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
