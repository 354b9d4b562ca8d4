package cat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The YAML output is written by hand: the trees are small and regular,
// and writing every string double-quoted, with JSON's escapes, makes each
// document read the same in YAML 1.1 and 1.2 parsers without a library.

// appendYAMLDoc writes v as one YAML document, starting with "---".
func appendYAMLDoc(dst []byte, v any) []byte {
	dst = append(dst, "---\n"...)
	switch v := v.(type) {
	case object:
		if len(v) > 0 {
			return appendYAMLObject(dst, v, 0, false)
		}
	case array:
		if len(v) > 0 {
			return appendYAMLArray(dst, v, 0, false)
		}
	}
	dst = appendYAMLScalar(dst, v)
	return append(dst, '\n')
}

// appendYAMLObject writes the members of a non-empty object in block
// style, each on its own line at indent, except that with inline the
// first goes where the caller left off (after "- ").
func appendYAMLObject(dst []byte, o object, indent int, inline bool) []byte {
	for i, m := range o {
		if i > 0 || !inline {
			dst = appendIndent(dst, indent)
		}
		dst = appendYAMLKey(dst, m.key)
		dst = append(dst, ':')
		dst = appendYAMLValue(dst, m.val, indent+2)
	}
	return dst
}

// appendYAMLArray writes the elements of a non-empty array as "- " items.
func appendYAMLArray(dst []byte, a array, indent int, inline bool) []byte {
	for i, e := range a {
		if i > 0 || !inline {
			dst = appendIndent(dst, indent)
		}
		dst = append(dst, "- "...)
		switch e := e.(type) {
		case object:
			if len(e) > 0 {
				dst = appendYAMLObject(dst, e, indent+2, true)
				continue
			}
		case array:
			if len(e) > 0 {
				dst = appendYAMLArray(dst, e, indent+2, true)
				continue
			}
		}
		dst = appendYAMLScalar(dst, e)
		dst = append(dst, '\n')
	}
	return dst
}

// appendYAMLValue writes the value of a member, after its key and colon.
func appendYAMLValue(dst []byte, v any, indent int) []byte {
	switch v := v.(type) {
	case object:
		if len(v) > 0 {
			return appendYAMLObject(append(dst, '\n'), v, indent, false)
		}
	case array:
		if len(v) > 0 {
			return appendYAMLArray(append(dst, '\n'), v, indent, false)
		}
	}
	dst = append(dst, ' ')
	dst = appendYAMLScalar(dst, v)
	return append(dst, '\n')
}

// appendYAMLScalar writes a scalar, or an empty object or array in flow
// style.
func appendYAMLScalar(dst []byte, v any) []byte {
	switch v := v.(type) {
	case object:
		return append(dst, "{}"...)
	case array:
		return append(dst, "[]"...)
	case json.Number:
		return appendYAMLNumber(dst, string(v))
	}
	return appendScalar(dst, v, true)
}

// appendYAMLNumber writes a JSON number so that YAML 1.1 reads it as a
// number too: there a float needs a dot, and its exponent a sign
// ("1e5" would be a string; "1.0e+5" is not).
func appendYAMLNumber(dst []byte, n string) []byte {
	mant, exp, hasExp := strings.Cut(strings.ToLower(n), "e")
	if !hasExp && !strings.Contains(mant, ".") {
		return append(dst, n...) // an integer
	}
	dst = append(dst, mant...)
	if !strings.Contains(mant, ".") {
		dst = append(dst, ".0"...)
	}
	if !hasExp {
		return dst
	}
	dst = append(dst, 'e')
	if exp[0] != '+' && exp[0] != '-' {
		dst = append(dst, '+')
	}
	return append(dst, exp...)
}

func appendIndent(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, ' ')
	}
	return dst
}

// appendYAMLKey writes a key plain when it is a simple word that no YAML
// version reads as anything but a string, and quoted otherwise.
func appendYAMLKey(dst []byte, k string) []byte {
	plain := k != ""
	for i, c := range []byte(k) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9') || c == '-':
			plain = plain && i > 0
		default:
			plain = false
		}
	}
	switch strings.ToLower(k) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		plain = false
	}
	if plain {
		return append(dst, k...)
	}
	return appendString(dst, k, true)
}

// parseJSON reads one JSON value into a tree, keeping the order of
// object members and numbers as they are written.
func parseJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := parseValue(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func parseValue(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := object{}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				v, err := parseValue(d)
				if err != nil {
					return nil, err
				}
				o = o.add(k.(string), v)
			}
			_, err := d.Token()
			return o, err
		case '[':
			a := array{}
			for d.More() {
				v, err := parseValue(d)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := d.Token()
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	}
	return t, nil // string, bool, nil or json.Number
}
