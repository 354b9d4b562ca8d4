package dnsname

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnswire"
)

func TestAppendEscaped(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	for _, tc := range []struct{ in, want string }{
		{".", "."},
		{"example.com.", "example.com."},
		{"Upper.Example.ORG", "upper.example.org."},
		{`A\066C.test.`, "abc.test."},
		{`\097.test`, "a.test."},
		{`semi\;colon.test.`, `semi\;colon.test.`},
		{`quote'.test.`, `quote\'.test.`},
		{`sp\032ace.test.`, `sp\ ace.test.`},
		{`nul\000.test.`, `nul\000.test.`},
		{`hi\200.test.`, `hi\200.test.`},
		{`\195\137T`, `\195\137t.`}, // only A to Z are letters
		{`_dmarc.example.com.`, `_dmarc.example.com.`},
		{`*.wild.test.`, `*.wild.test.`},
		{`dot\.in.test.`, `dot\.in.test.`},
		{`back\\slash.test.`, `back\\slash.test.`},
		{"!#$%&*+,-/09:<=>?[]^_`{|}~", "!#$%&*+,-/09:<=>?[]^_`{|}~."},
		{`\(\)\"\@`, `\(\)\"\@.`},
		{long63 + ".x.", long63 + ".x."},
		{strings.Repeat(long63+".", 3) + long63[:61], strings.Repeat(long63+".", 3) + long63[:61] + "."}, // 255 octets
	} {
		got, err := AppendEscaped([]byte("keep"), []byte(tc.in))
		if err != nil || string(got) != "keep"+tc.want {
			t.Errorf("AppendEscaped(%q) = %q, %v; want %q", tc.in, got, err, "keep"+tc.want)
		}
	}
	for _, bad := range []string{
		"", "..", "bad..test.", ".x.test.", "a..",
		strings.Repeat("a", 64) + ".test.",
		strings.Repeat(long63+".", 3) + long63[:62], // 256 octets
		strings.Repeat(long63+".", 4),               // 257 octets
		"space in.test.", "tab\tin.test.", "del\x7f.test.",
		"r\xc3\xa4ksm\xc3\xb6rg\xc3\xa5s.se.",
		"semi;colon.test.", "bad(.test.", `quote".test.`, "at@.test.",
		`bad\99.test.`, `bad\9`, `bad\256.test.`, `trailing\`,
	} {
		got, err := AppendEscaped([]byte("keep"), []byte(bad))
		if err == nil || string(got) != "keep" {
			t.Errorf("AppendEscaped(%q) = %q, %v; want an error and dst unchanged", bad, got, err)
		}
	}
}

// TestAppendEscapedMatchesDnswire checks that a name in any valid
// presentation form comes out as dnswire.Question writes it from the wire.
func TestAppendEscapedMatchesDnswire(t *testing.T) {
	for _, in := range []string{
		`A\066C.test.`, `\097.test`, `semi\;colon.test.`, `quote'.test.`,
		`sp\032ace.test.`, `nul\000.test.`, `hi\200.test.`, `_dmarc.example.com.`,
		`*.wild.test.`, `dot\.in.test.`, `back\\slash.test.`, `\@\(\)\"\$`, ".",
	} {
		name, err := AppendEscaped(nil, []byte(in))
		if err != nil {
			t.Fatalf("AppendEscaped(%q): %v", in, err)
		}
		if q := question(t, in); string(name) != q {
			t.Errorf("AppendEscaped(%q) = %q, dnswire.Question reads %q", in, name, q)
		}
	}
}

// question packs name, in presentation format, as the question of a
// message with miekg/dns and reads it back with dnswire.Question.
func question(t *testing.T, name string) string {
	t.Helper()
	msg := make([]byte, dnswire.HeaderLen+dnswire.MaxNameLen)
	msg[5] = 1 // QDCOUNT
	off, err := dns.PackDomainName(dns.Fqdn(name), msg, dnswire.HeaderLen, nil, false)
	if err != nil {
		t.Fatalf("miekg/dns packs %q: %v", name, err)
	}
	msg = append(msg[:off], 0, 1, 0, 1)
	q, _, _, err := dnswire.Question(msg, nil)
	if err != nil {
		t.Fatalf("dnswire.Question of %q: %v", name, err)
	}
	return string(q)
}

func TestAppendEscapedAllocs(t *testing.T) {
	buf := make([]byte, 0, dnswire.MaxNameLen)
	for _, in := range []string{"Example.COM.", `back\\slash\000.test`, "."} {
		text := []byte(in)
		if n := testing.AllocsPerRun(100, func() { _, _ = AppendEscaped(buf, text) }); n != 0 {
			t.Errorf("AppendEscaped(%q): %v allocations", in, n)
		}
	}
}
