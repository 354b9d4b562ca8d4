package dnswire

import (
	"bytes"
	"testing"

	"github.com/miekg/dns"
)

// TrimOptions cuts what follows the counted records: there an uncounted
// OPT record could carry a client's subnet past StripOptions.
func TestTrimOptions(t *testing.T) {
	m := new(dns.Msg).SetQuestion("example.com.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{198, 51, 100, 0}})
	packed, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	trailer := []byte("\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x0b\x00\x08\x00\x07\x00\x01\x18\x00\xcb\x00\x71") // an uncounted OPT with ECS 203.0.113/24
	for _, tc := range []struct {
		name string
		drop func(uint16) bool
		want int // options removed
	}{
		{"dropping ECS", func(c uint16) bool { return c == OptionECS }, 1},
		{"dropping nothing", func(uint16) bool { return false }, 0},
	} {
		msg := append(bytes.Clone(packed), trailer...)
		strip, n, err := StripOptions(bytes.Clone(msg), tc.drop)
		if err != nil || n != tc.want || !bytes.HasSuffix(strip, trailer) {
			t.Errorf("%s: StripOptions kept %v the trailer, removed %d, %v", tc.name, bytes.HasSuffix(strip, trailer), n, err)
		}
		trim, n, err := TrimOptions(msg, tc.drop)
		if err != nil || n != tc.want {
			t.Fatalf("%s: TrimOptions removed %d, %v", tc.name, n, err)
		}
		if bytes.Contains(trim, []byte{0xcb, 0x00, 0x71}) {
			t.Errorf("%s: the trailer's subnet is still there", tc.name)
		}
		var got dns.Msg
		if err := got.Unpack(trim); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Question[0].Name != "example.com." {
			t.Errorf("%s: question %v", tc.name, got.Question)
		}
		if len(trim) != len(packed)-11*tc.want { // an ECS /24 option is 11 bytes
			t.Errorf("%s: %d bytes, want %d", tc.name, len(trim), len(packed)-11*tc.want)
		}
	}
}
