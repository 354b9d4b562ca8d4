package dnswire_test

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnswire"
)

// benchMessage returns a typical resolver response: one question, two
// answers, EDNS.
func benchMessage(b *testing.B) []byte {
	m := new(dns.Msg)
	m.SetQuestion("www.Example.com.", dns.TypeA)
	m.Response = true
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: "www.example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
			A:   net.ParseIP(ip),
		})
	}
	m.SetEdns0(1232, true)
	msg, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}
	return msg
}

func BenchmarkQuestion(b *testing.B) {
	msg := benchMessage(b)
	buf := make([]byte, 0, dnswire.MaxNameLen)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, _, _, err = dnswire.Question(msg, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHeader(b *testing.B) {
	msg := benchMessage(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dnswire.ParseHeader(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiekgUnpack is the baseline for BenchmarkQuestion: what a tool
// would otherwise do to get the same lowercased name.
func BenchmarkMiekgUnpack(b *testing.B) {
	msg := benchMessage(b)
	b.ReportAllocs()
	for b.Loop() {
		var m dns.Msg
		if err := m.Unpack(msg); err != nil {
			b.Fatal(err)
		}
		_ = strings.ToLower(m.Question[0].Name)
	}
}

// BenchmarkMiekgUnpackDomainName is the narrower baseline: miekg/dns
// reading only the question name.
func BenchmarkMiekgUnpackDomainName(b *testing.B) {
	msg := benchMessage(b)
	b.ReportAllocs()
	for b.Loop() {
		name, _, err := dns.UnpackDomainName(msg, dnswire.HeaderLen)
		if err != nil {
			b.Fatal(err)
		}
		_ = strings.ToLower(name)
	}
}
