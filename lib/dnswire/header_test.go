package dnswire_test

import (
	"errors"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnswire"
)

func TestParseHeader(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeA)
	m.Id = 0xbeef
	m.Response = true
	m.Opcode = dns.OpcodeNotify
	m.Authoritative = true
	m.Truncated = true
	m.RecursionDesired = true
	m.RecursionAvailable = true
	m.Zero = true
	m.AuthenticatedData = true
	m.CheckingDisabled = true
	m.Rcode = dns.RcodeNameError
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET}}}
	m.Ns = []dns.RR{&dns.NS{Hdr: dns.RR_Header{Name: "com.", Rrtype: dns.TypeNS, Class: dns.ClassINET}, Ns: "a."}}
	m.SetEdns0(1232, false)
	msg, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	h, err := dnswire.ParseHeader(msg)
	if err != nil {
		t.Fatal(err)
	}
	want := dnswire.Header{ID: 0xbeef, Flags: 0xa7f3, QDCount: 1, ANCount: 1, NSCount: 1, ARCount: 1}
	if h != want {
		t.Errorf("ParseHeader = %+v, want %+v", h, want)
	}
	checks := []struct {
		name      string
		got, want bool
	}{
		{"QR", h.QR(), m.Response},
		{"AA", h.Flags&dnswire.FlagAA != 0, m.Authoritative},
		{"TC", h.Flags&dnswire.FlagTC != 0, m.Truncated},
		{"RD", h.Flags&dnswire.FlagRD != 0, m.RecursionDesired},
		{"RA", h.Flags&dnswire.FlagRA != 0, m.RecursionAvailable},
		{"Z", h.Flags&dnswire.FlagZ != 0, m.Zero},
		{"AD", h.Flags&dnswire.FlagAD != 0, m.AuthenticatedData},
		{"CD", h.Flags&dnswire.FlagCD != 0, m.CheckingDisabled},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := h.Rcode(); int(got) != m.Rcode {
		t.Errorf("Rcode() = %d, want %d", got, m.Rcode)
	}

	var zero dnswire.Header
	if h.QR() == zero.QR() || zero.Rcode() != 0 {
		t.Error("accessors of a zero header are not all zero")
	}
}

func TestParseHeaderShort(t *testing.T) {
	for n := range dnswire.HeaderLen {
		if _, err := dnswire.ParseHeader(make([]byte, n)); !errors.Is(err, dnswire.ErrShort) {
			t.Errorf("ParseHeader(%d bytes): err = %v, want ErrShort", n, err)
		}
	}
}
