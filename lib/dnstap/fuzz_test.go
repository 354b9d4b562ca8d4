package dnstap_test

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/dnstap/golang-dnstap"

	"github.com/tapir-edge/tapir/lib/dnstap"
)

// FuzzUnmarshal checks that Unmarshal never panics, fails only with a
// DecodeError, decodes whatever golang-dnstap decodes to the same values,
// and that what AppendMarshal writes decodes to the same frame. The corpus
// in testdata holds the frames of the dns-violations captures.
func FuzzUnmarshal(f *testing.F) {
	f.Add(fullFrame(f))
	f.Add([]byte(enc{}.varint(20, 1).bytes(1, []byte("id")).varint(21, 2).
		bytes(14, enc{}.varint(17, 3).varint(1, 5).varint(18, 4)).varint(15, 1)))
	f.Add([]byte(enc{}.bytes(14, enc{}.varint(1, 5)).varint(15, 1).bytes(14, enc{}.varint(6, 0))))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr dnstap.Frame
		err := fr.Unmarshal(b)
		p, perr := protoDecode(b)
		if err != nil {
			var de *dnstap.DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset >= len(b) ||
				!(errors.Is(err, dnstap.ErrTruncated) || errors.Is(err, dnstap.ErrMalformed)) {
				t.Fatalf("bad error %#v", err)
			}
			if perr == nil {
				t.Fatalf("golang-dnstap decodes what Unmarshal refuses: %v", err)
			}
			return
		}
		if perr == nil {
			compareProto(t, &fr, p)
		}

		out := fr.AppendMarshal(nil)
		if len(out) != fr.Size() {
			t.Fatalf("Size() = %d, AppendMarshal wrote %d", fr.Size(), len(out))
		}
		var g dnstap.Frame
		if err := g.Unmarshal(out); err != nil {
			t.Fatalf("Unmarshal of AppendMarshal output: %v", err)
		}
		if again := g.AppendMarshal(nil); !bytes.Equal(again, out) {
			t.Fatalf("AppendMarshal not stable:\n%x\n%x", out, again)
		}
		if fr.FrameType == 0 {
			fr.FrameType = dnstap.FrameMessage // which AppendMarshal wrote
		}
		fr.HasMessage = fr.HasMessage || g.HasMessage
		if !sameFrame(&fr, &g) {
			t.Fatalf("decoded again\n%+v\nnot\n%+v", g, fr)
		}

		if perr == nil {
			// Unknown fields are compared above as bytes; golang-dnstap
			// may order them differently when the input mixed them with
			// known ones.
			q := new(pb.Dnstap)
			opts := proto.UnmarshalOptions{AllowPartial: true, DiscardUnknown: true}
			if err := opts.Unmarshal(out, q); err != nil {
				t.Fatalf("golang-dnstap on AppendMarshal output: %v", err)
			}
			p.ProtoReflect().SetUnknown(nil)
			if p.Message != nil {
				p.Message.ProtoReflect().SetUnknown(nil)
			}
			if p.Type == nil || *p.Type == 0 {
				p.Type = pb.Dnstap_MESSAGE.Enum() // which AppendMarshal wrote
			}
			if !proto.Equal(p, q) {
				t.Fatalf("golang-dnstap decodes\n%v\nafter AppendMarshal, not\n%v", q, p)
			}
		}
	})
}

// sameFrame reports whether a and b hold the same fields, telling absent
// byte fields from empty ones.
func sameFrame(a, b *dnstap.Frame) bool {
	same := func(x, y []byte) bool { return (x == nil) == (y == nil) && bytes.Equal(x, y) }
	ma, mb := &a.Message, &b.Message
	return same(a.Identity, b.Identity) && same(a.Version, b.Version) && same(a.Extra, b.Extra) &&
		a.FrameType == b.FrameType && a.HasMessage == b.HasMessage && same(a.Unknown, b.Unknown) &&
		ma.Present == mb.Present && ma.Type == mb.Type && ma.SocketFamily == mb.SocketFamily &&
		ma.SocketProtocol == mb.SocketProtocol && same(ma.QueryAddress, mb.QueryAddress) &&
		same(ma.ResponseAddress, mb.ResponseAddress) && ma.QueryPort == mb.QueryPort &&
		ma.ResponsePort == mb.ResponsePort && ma.QueryTimeSec == mb.QueryTimeSec &&
		ma.QueryTimeNsec == mb.QueryTimeNsec && same(ma.QueryMessage, mb.QueryMessage) &&
		same(ma.QueryZone, mb.QueryZone) && ma.ResponseTimeSec == mb.ResponseTimeSec &&
		ma.ResponseTimeNsec == mb.ResponseTimeNsec && same(ma.ResponseMessage, mb.ResponseMessage) &&
		same(ma.Unknown, mb.Unknown)
}
