package dnsname

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{
		"example", "example.", "Example.COM", "xn--bcher-kva.example", "xn--zz.example",
		"_dmarc.a-b.example", "-a.example", strings.Repeat("a", 63) + ".x",
		strings.Repeat("a.", 126) + "a.", strings.Repeat("a.", 126) + "a", // 253 characters
	} {
		if err := Check(ok); err != nil {
			t.Errorf("Check(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{
		"", ".", "..", "a..example", ".a.example", "a.example..", "a b.example",
		"bücher.example", "*.example", `a\.b.example`, "a/b", "-bad name",
		strings.Repeat("a", 64) + ".example",
		strings.Repeat("a.", 127) + "ab", // 254 characters
	} {
		err := Check(bad)
		if err == nil {
			t.Errorf("Check(%q) accepted", bad)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("Check(%q) = %v: the error does not name the name", bad, err)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		in     string
		name   string
		suffix bool
		bad    bool
	}{
		{"Example.COM", "example.com.", false, false},
		{"example.com.", "example.com.", false, false},
		{"*.example.com", "example.com.", true, false},
		{".Example.com.", "example.com.", true, false},
		{"_dmarc.example.com", "_dmarc.example.com.", false, false},
		{"bücher.example", "xn--bcher-kva.example.", false, false},
		{"BÜCHER.example", "xn--bcher-kva.example.", false, false},
		{"xn--bcher-kva.example", "xn--bcher-kva.example.", false, false},
		{"XN--BCHER-KVA.example", "xn--bcher-kva.example.", false, false},
		{"*.bücher.example", "xn--bcher-kva.example.", true, false},
		{strings.Repeat("a", 63) + ".com", strings.Repeat("a", 63) + ".com.", false, false},
		{strings.Repeat("a.", 125) + "com", strings.Repeat("a.", 125) + "com.", false, false}, // 253 characters
		{"xn--zz.example", "", false, true},
		{".", "", false, true},
		{"*.", "", false, true},
		{"..", "", false, true},
		{"*..", "", false, true},
		{"", "", false, true},
		{"a..b", "", false, true},
		{"a.b..", "", false, true},
		{"a b", "", false, true},
		{"a.*.b", "", false, true},
		{"*", "", false, true},
		{"**.example", "", false, true},
		{"*.*.example", "", false, true},
		{"a\xffb.example", "", false, true},
		{strings.Repeat("a", 64) + ".com", "", false, true},
		{strings.Repeat("a.", 127) + "com", "", false, true},
		{strings.Repeat("a.", 125) + "com" + "x", "", false, true}, // 254 characters
	} {
		name, suffix, err := Canonical(tc.in)
		if (err != nil) != tc.bad || name != tc.name || suffix != tc.suffix {
			t.Errorf("Canonical(%q) = %q, %v, %v; want %q, %v, bad %v", tc.in, name, suffix, err, tc.name, tc.suffix, tc.bad)
		}
	}
}

func TestCanonicalAllocs(t *testing.T) {
	for _, in := range []string{"Example.COM", "*.example.com."} {
		if n := testing.AllocsPerRun(100, func() { _, _, _ = Canonical(in) }); n != 1 {
			t.Errorf("Canonical(%q): %v allocations, want 1", in, n)
		}
	}
}
