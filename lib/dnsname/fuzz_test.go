package dnsname

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnswire"
)

// FuzzCanonical checks, for any text, that Canonical does not panic, that
// what it returns is canonical (Canonical gives it back as it is) and a
// host name for Check and AppendEscaped alike, and that it agrees with
// Check on names that IDNA leaves alone. The seed corpus is in
// testdata/fuzz/FuzzCanonical.
func FuzzCanonical(f *testing.F) {
	f.Add("Example.COM.")
	f.Add("*.bücher.example")
	f.Fuzz(func(t *testing.T, in string) {
		name, suffix, err := Canonical(in)
		if err != nil {
			if name != "" || suffix {
				t.Fatalf("Canonical(%q) = %q, %v with error %v", in, name, suffix, err)
			}
		} else {
			if again, s, err := Canonical(name); again != name || s || err != nil {
				t.Fatalf("Canonical(%q) = %q; not canonical: %q %v %v", in, name, again, s, err)
			}
			if err := Check(name); err != nil {
				t.Fatalf("Canonical(%q) = %q, which Check refuses: %v", in, name, err)
			}
			if e, err := AppendEscaped(nil, []byte(name)); string(e) != name || err != nil {
				t.Fatalf("Canonical(%q) = %q, which AppendEscaped writes %q, %v", in, name, e, err)
			}
		}
		if Check(in) != nil || hasALabel(in) {
			return
		}
		want := strings.ToLower(strings.TrimSuffix(in, ".")) + "."
		if name != want || suffix || err != nil {
			t.Fatalf("Check accepts %q, Canonical = %q, %v, %v", in, name, suffix, err)
		}
	})
}

// FuzzAppendEscaped checks, for any text, that AppendEscaped does not
// panic, leaves dst alone on error, and otherwise writes a name that it
// gives back as it is, and that miekg/dns packs into the wire name from
// which dnswire.Question writes the same. The seed corpus is in
// testdata/fuzz/FuzzAppendEscaped.
func FuzzAppendEscaped(f *testing.F) {
	f.Add([]byte(`A\066C.test.`))
	f.Add([]byte(`back\\slash\000\.x`))
	f.Fuzz(func(t *testing.T, in []byte) {
		dst := []byte("dst")
		out, err := AppendEscaped(dst, in)
		if err != nil {
			if string(out) != "dst" {
				t.Fatalf("AppendEscaped(%q) = %q with error %v", in, out, err)
			}
			return
		}
		name := out[len(dst):]
		if again, err := AppendEscaped(nil, name); !bytes.Equal(again, name) || err != nil {
			t.Fatalf("AppendEscaped(%q) = %q; again %q, %v", in, name, again, err)
		}
		msg := make([]byte, dnswire.HeaderLen+dnswire.MaxNameLen)
		msg[5] = 1 // QDCOUNT
		off, err := dns.PackDomainName(string(name), msg, dnswire.HeaderLen, nil, false)
		if err != nil {
			t.Fatalf("AppendEscaped(%q) = %q, which miekg/dns does not pack: %v", in, name, err)
		}
		q, _, _, err := dnswire.Question(append(msg[:off], 0, 1, 0, 1), nil)
		if err != nil || !bytes.Equal(q, name) {
			t.Fatalf("AppendEscaped(%q) = %q; from the wire dnswire.Question reads %q, %v", in, name, q, err)
		}
	})
}
