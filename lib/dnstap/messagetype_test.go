package dnstap_test

import (
	"strings"
	"testing"

	pb "github.com/dnstap/golang-dnstap"

	"github.com/tapir-edge/tapir/lib/dnstap"
)

func TestMessageTypeNames(t *testing.T) {
	// The values and names must be those of dnstap.proto, as generated
	// in golang-dnstap.
	if len(pb.Message_Type_name) != 14 {
		t.Fatalf("golang-dnstap has %d message types", len(pb.Message_Type_name))
	}
	for v, name := range pb.Message_Type_name {
		mt := dnstap.MessageType(v)
		if mt.String() != name {
			t.Errorf("MessageType(%d).String() = %q, want %q", v, mt, name)
		}
		for _, s := range []string{name, strings.ToLower(name), mt.Short(), strings.ToLower(mt.Short())} {
			if got, err := dnstap.ParseMessageType(s); err != nil || got != mt {
				t.Errorf("ParseMessageType(%q) = %v, %v; want %v", s, got, err, mt)
			}
		}
		if q, r := strings.HasSuffix(name, "_QUERY"), strings.HasSuffix(name, "_RESPONSE"); mt.IsQuery() != q || mt.IsResponse() != r {
			t.Errorf("%v: IsQuery() = %v, IsResponse() = %v", mt, mt.IsQuery(), mt.IsResponse())
		}
		if short := mt.Short(); len(short) != 2 || short[0] != name[0] || short[1] != "RQ"[btoi(mt.IsQuery())] {
			t.Errorf("%v: Short() = %q", mt, short)
		}
	}
	if dnstap.ClientQuery.String() != "CLIENT_QUERY" || dnstap.UpdateResponse.Short() != "UR" {
		t.Error("constants do not match their names")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestMessageTypeUnknown(t *testing.T) {
	for _, mt := range []dnstap.MessageType{0, 15, -1, 1 << 30} {
		if mt.IsQuery() || mt.IsResponse() {
			t.Errorf("%d: IsQuery or IsResponse", int32(mt))
		}
	}
	if s := dnstap.MessageType(15).String(); s != "MessageType(15)" {
		t.Errorf("String() = %q", s)
	}
	if s := dnstap.MessageType(15).Short(); s != "15" {
		t.Errorf("Short() = %q", s)
	}
	for _, s := range []string{"", "CLIENT", "CLIENT_QUERYX", "C", "XQ", "5"} {
		if _, err := dnstap.ParseMessageType(s); err == nil {
			t.Errorf("ParseMessageType(%q) succeeded", s)
		}
	}
}

func TestSocketNames(t *testing.T) {
	for v, name := range pb.SocketFamily_name {
		if s := dnstap.SocketFamily(v).String(); s != name {
			t.Errorf("SocketFamily(%d) = %q, want %q", v, s, name)
		}
	}
	// golang-dnstap v0.4.0 predates the DNSCrypt and DoQ values.
	for v, name := range pb.SocketProtocol_name {
		if s := dnstap.SocketProtocol(v).String(); s != name {
			t.Errorf("SocketProtocol(%d) = %q, want %q", v, s, name)
		}
	}
	for p, name := range map[dnstap.SocketProtocol]string{
		dnstap.ProtocolDNSCryptUDP: "DNSCryptUDP", dnstap.ProtocolDNSCryptTCP: "DNSCryptTCP",
		dnstap.ProtocolDOQ: "DOQ", 0: "SocketProtocol(0)", 8: "SocketProtocol(8)",
	} {
		if p.String() != name {
			t.Errorf("SocketProtocol(%d) = %q, want %q", int32(p), p, name)
		}
	}
	if s := dnstap.SocketFamily(3).String(); s != "SocketFamily(3)" {
		t.Errorf("SocketFamily(3) = %q", s)
	}
	if dnstap.FrameMessage.String() != "MESSAGE" || dnstap.FrameType(2).String() != "FrameType(2)" {
		t.Error("FrameType names")
	}
}
