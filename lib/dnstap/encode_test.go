package dnstap_test

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	pb "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tapir-edge/tapir/lib/dnstap"
)

// fullProto returns a CLIENT_RESPONSE frame with every field set, as
// Unbound would log it, plus a policy and an http_protocol that
// golang-dnstap v0.4.0 does not know.
func fullProto() *pb.Dnstap {
	query := []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x03www\x07example\x03com\x00\x00\x01\x00\x01" +
		"\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00")
	response := append([]byte("\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x01"), query[12:33]...)
	response = append(response, "\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x01"...)
	response = append(response, query[33:]...)
	m := &pb.Message{
		Type:             pb.Message_CLIENT_RESPONSE.Enum(),
		SocketFamily:     pb.SocketFamily_INET6.Enum(),
		SocketProtocol:   pb.SocketProtocol_UDP.Enum(),
		QueryAddress:     netip.MustParseAddr("2001:db8::53").AsSlice(),
		ResponseAddress:  netip.MustParseAddr("2001:db8::1").AsSlice(),
		QueryPort:        proto.Uint32(40123),
		ResponsePort:     proto.Uint32(53),
		QueryTimeSec:     proto.Uint64(1700000000),
		QueryTimeNsec:    proto.Uint32(123456789),
		QueryMessage:     query,
		QueryZone:        []byte("\x07example\x03com\x00"),
		ResponseTimeSec:  proto.Uint64(1700000000),
		ResponseTimeNsec: proto.Uint32(123999999),
		ResponseMessage:  response,
	}
	m.ProtoReflect().SetUnknown(protoreflect.RawFields(enc{}.bytes(15, enc{}.bytes(1, []byte("rpz")).varint(3, 2)).varint(16, 2)))
	return &pb.Dnstap{
		Identity: []byte("resolver1.example.net"),
		Version:  []byte("unbound 1.19.0"),
		Type:     pb.Dnstap_MESSAGE.Enum(),
		Message:  m,
	}
}

func fullFrame(tb testing.TB) []byte {
	b, err := proto.Marshal(fullProto())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// randomProto returns a frame with a random subset of fields set to
// random values, zero included.
func randomProto(r *rand.Rand) *pb.Dnstap {
	maybe := func() bool { return r.IntN(2) == 0 }
	u32 := func() uint32 {
		if maybe() {
			return 0
		}
		return r.Uint32() >> r.IntN(32)
	}
	u64 := func() uint64 {
		if maybe() {
			return 0
		}
		return r.Uint64() >> r.IntN(64)
	}
	bs := func() []byte {
		if maybe() {
			return nil
		}
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	p := &pb.Dnstap{Identity: bs(), Version: bs(), Extra: bs(), Type: pb.Dnstap_MESSAGE.Enum()}
	if !maybe() {
		return p
	}
	m := &pb.Message{Type: pb.Message_Type(1 + r.IntN(14)).Enum()}
	if maybe() {
		m.SocketFamily = pb.SocketFamily(1 + r.IntN(2)).Enum()
	}
	if maybe() {
		m.SocketProtocol = pb.SocketProtocol(1 + r.IntN(4)).Enum()
	}
	m.QueryAddress, m.ResponseAddress = bs(), bs()
	if maybe() {
		m.QueryPort = proto.Uint32(u32())
	}
	if maybe() {
		m.ResponsePort = proto.Uint32(u32())
	}
	if maybe() {
		m.QueryTimeSec = proto.Uint64(u64())
	}
	if maybe() {
		m.QueryTimeNsec = proto.Uint32(u32())
	}
	m.QueryMessage, m.QueryZone = bs(), bs()
	if maybe() {
		m.ResponseTimeSec = proto.Uint64(u64())
	}
	if maybe() {
		m.ResponseTimeNsec = proto.Uint32(u32())
	}
	m.ResponseMessage = bs()
	if maybe() {
		m.ProtoReflect().SetUnknown(protoreflect.RawFields(enc{}.varint(16, uint64(r.IntN(4)))))
	}
	p.Message = m
	return p
}

// TestRoundTrip checks that frames written by golang-dnstap come out of
// Unmarshal and AppendMarshal byte for byte the same, since both write
// fields in order of number.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ps := []*pb.Dnstap{fullProto(), {Type: pb.Dnstap_MESSAGE.Enum()}}
	for range 2000 {
		ps = append(ps, randomProto(r))
	}
	var f dnstap.Frame
	var out []byte
	for i, p := range ps {
		in, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Unmarshal(in); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		compareProto(t, &f, p)
		out = f.AppendMarshal(out[:0])
		if !bytes.Equal(out, in) {
			t.Fatalf("frame %d: AppendMarshal\n%x\nwant\n%x", i, out, in)
		}
		if n := f.Size(); n != len(out) {
			t.Fatalf("frame %d: Size() = %d, AppendMarshal wrote %d", i, n, len(out))
		}
		q := new(pb.Dnstap)
		if err := proto.Unmarshal(out, q); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(p, q) {
			t.Fatalf("frame %d: golang-dnstap decodes\n%v\nnot\n%v", i, q, p)
		}
	}
}

// TestBuild checks a frame filled by hand, as a tool would build one.
func TestBuild(t *testing.T) {
	when := time.Date(2025, 3, 1, 12, 0, 0, 500, time.UTC)
	f := dnstap.Frame{
		Identity: []byte("edge"),
		Message: dnstap.Message{
			Type:           dnstap.ClientQuery,
			SocketFamily:   dnstap.FamilyINET,
			SocketProtocol: dnstap.ProtocolTCP,
			QueryAddress:   []byte{192, 0, 2, 7},
			QueryPort:      5353,
			QueryMessage:   []byte("query"),
		},
	}
	f.SetQueryTime(when)
	f.Present |= dnstap.FieldResponsePort // a zero that must be written
	out := f.AppendMarshal(nil)
	p := new(pb.Dnstap)
	if err := proto.Unmarshal(out, p); err != nil {
		t.Fatal(err)
	}
	want := &pb.Dnstap{
		Identity: []byte("edge"),
		Type:     pb.Dnstap_MESSAGE.Enum(),
		Message: &pb.Message{
			Type:           pb.Message_CLIENT_QUERY.Enum(),
			SocketFamily:   pb.SocketFamily_INET.Enum(),
			SocketProtocol: pb.SocketProtocol_TCP.Enum(),
			QueryAddress:   []byte{192, 0, 2, 7},
			QueryPort:      proto.Uint32(5353),
			ResponsePort:   proto.Uint32(0),
			QueryTimeSec:   proto.Uint64(uint64(when.Unix())),
			QueryTimeNsec:  proto.Uint32(500),
			QueryMessage:   []byte("query"),
		},
	}
	if !proto.Equal(p, want) {
		t.Errorf("built\n%v\nwant\n%v", p, want)
	}
	if f.Size() != len(out) {
		t.Errorf("Size() = %d, AppendMarshal wrote %d", f.Size(), len(out))
	}

	// Removing fields: nil for bytes, zero and no bit for scalars.
	f.QueryAddress = nil
	f.QueryPort = 0
	f.Present &^= dnstap.FieldResponsePort
	p.Reset()
	if err := proto.Unmarshal(f.AppendMarshal(nil), p); err != nil {
		t.Fatal(err)
	}
	if p.Message.QueryAddress != nil || p.Message.QueryPort != nil || p.Message.ResponsePort != nil {
		t.Errorf("fields not removed: %v", p)
	}

	// A frame without message.
	var empty dnstap.Frame
	p.Reset()
	if err := proto.Unmarshal(empty.AppendMarshal(nil), p); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(p, &pb.Dnstap{Type: pb.Dnstap_MESSAGE.Enum()}) {
		t.Errorf("empty frame: %v", p)
	}
}

func TestMarshalNegativeEnum(t *testing.T) {
	f := dnstap.Frame{Message: dnstap.Message{Type: -2}}
	out := f.AppendMarshal(nil)
	if f.Size() != len(out) {
		t.Errorf("Size() = %d, AppendMarshal wrote %d", f.Size(), len(out))
	}
	var g dnstap.Frame
	if err := g.Unmarshal(out); err != nil || g.Type != -2 {
		t.Errorf("decoded type %d, %v", g.Type, err)
	}
}

func TestMarshalAllocs(t *testing.T) {
	var f dnstap.Frame
	if err := f.Unmarshal(fullFrame(t)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, f.Size())
	allocs := testing.AllocsPerRun(100, func() {
		buf = f.AppendMarshal(buf[:0])
	})
	if allocs != 0 {
		t.Errorf("AppendMarshal allocates %v times per run", allocs)
	}
}
