// Package cattest builds dnstap frames and streams whose content is known,
// for the tests and benchmarks of tapir-cat and of the tools whose output
// it reads.
package cattest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

// Message describes one dnstap message.
type Message struct {
	Type   dnstap.MessageType
	Client netip.Addr // the query address
	Server netip.Addr // the response address; 192.0.2.53 if not valid
	Name   string     // question name, in presentation format
	Qtype  uint16
	Rcode  int // of a response
	ID     uint16
	Time   time.Time // of the query for a query type, else of the response
}

// DNS returns the DNS message: a query, or for a response type a
// response with the rcode, and for NOERROR an answer.
func (m Message) DNS() []byte {
	q := new(dns.Msg)
	q.SetQuestion(m.Name, m.Qtype)
	q.Id = m.ID
	q.SetEdns0(1232, false)
	if m.Type.IsQuery() {
		return pack(q)
	}
	r := new(dns.Msg)
	r.SetRcode(q, m.Rcode)
	r.RecursionAvailable = true
	if m.Rcode == dns.RcodeSuccess {
		switch m.Qtype {
		case dns.TypeAAAA:
			r.Answer = append(r.Answer, &dns.AAAA{Hdr: dns.RR_Header{Name: m.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 300}, AAAA: netip.MustParseAddr("2001:db8::80").AsSlice()})
		default:
			r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: m.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: netip.MustParseAddr("198.51.100.80").AsSlice()})
		}
	}
	return pack(r)
}

func pack(m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		panic(fmt.Sprintf("cattest: pack %s: %v", m.Question[0].Name, err))
	}
	return b
}

// Frame returns the encoded dnstap frame, with identity "cattest".
func (m Message) Frame() []byte {
	f := dnstap.Frame{Identity: []byte("cattest"), FrameType: dnstap.FrameMessage, HasMessage: true}
	f.Type = m.Type
	f.SocketFamily = dnstap.FamilyINET
	if m.Client.Is6() {
		f.SocketFamily = dnstap.FamilyINET6
	}
	f.SocketProtocol = dnstap.ProtocolUDP
	f.QueryAddress = m.Client.AsSlice()
	f.QueryPort = 40000 + uint32(m.ID)%20000
	server := m.Server
	if !server.IsValid() {
		server = netip.MustParseAddr("192.0.2.53")
	}
	f.ResponseAddress = server.AsSlice()
	f.ResponsePort = 53
	if m.Type.IsQuery() {
		f.QueryMessage = m.DNS()
		f.SetQueryTime(m.Time)
	} else {
		f.ResponseMessage = m.DNS()
		f.SetQueryTime(m.Time.Add(-time.Millisecond))
		f.SetResponseTime(m.Time)
	}
	return f.AppendMarshal(nil)
}

// Stream returns a Frame Streams stream of content type ct with the frames.
func Stream(ct string, frames ...[]byte) []byte {
	var b bytes.Buffer
	w := fstrm.NewWriter(&b, ct)
	for _, f := range frames {
		if err := w.WriteFrame(f); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Traffic returns n messages of a resolver's ordinary traffic, those of
// TrafficMessage.
func Traffic(n int, start time.Time) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = TrafficMessage(i, start)
	}
	return msgs
}

var (
	trafficNames = []string{"www.example.com.", "example.com.", "mail.example.org.", "cdn.example.net.", "api.example.com.", "nosuch.example.org."}
	trafficTypes = []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeA, dns.TypeMX}
)

// TrafficMessage returns message i of a resolver's ordinary traffic:
// client queries (even i) and responses (odd i) for a spread of names,
// types and clients (every fifth one IPv6), one a millisecond from start.
// A sixth of the names, under nosuch.example.org, have NXDOMAIN
// responses.
func TrafficMessage(i int, start time.Time) Message {
	c := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	if i%5 == 0 {
		c = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
	}
	m := Message{
		Type:   dnstap.ClientQuery,
		Client: c,
		Name:   fmt.Sprintf("h%d.%s", i%1000, trafficNames[i%len(trafficNames)]),
		Qtype:  trafficTypes[i%len(trafficTypes)],
		ID:     uint16(i),
		Time:   start.Add(time.Duration(i) * time.Millisecond),
	}
	if i%2 == 1 {
		m.Type = dnstap.ClientResponse
		if i%len(trafficNames) == 5 {
			m.Rcode = dns.RcodeNameError
		}
	}
	return m
}

// WriteTraffic writes a stream of the first n messages of
// TrafficMessage to w.
func WriteTraffic(w io.Writer, n int, start time.Time) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	fw := fstrm.NewWriter(bw, "protobuf:dnstap.Dnstap")
	for i := range n {
		if err := fw.WriteFrame(TrafficMessage(i, start).Frame()); err != nil {
			return err
		}
	}
	if err := fw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
