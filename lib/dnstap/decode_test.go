package dnstap_test

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tapir-edge/tapir/lib/dnstap"
)

// enc builds protobuf encodings for tests.
type enc []byte

func (e enc) bytes(num protowire.Number, v []byte) enc {
	return protowire.AppendBytes(protowire.AppendTag(e, num, protowire.BytesType), v)
}

func (e enc) varint(num protowire.Number, v uint64) enc {
	return protowire.AppendVarint(protowire.AppendTag(e, num, protowire.VarintType), v)
}

func (e enc) fixed32(num protowire.Number, v uint32) enc {
	return protowire.AppendFixed32(protowire.AppendTag(e, num, protowire.Fixed32Type), v)
}

func (e enc) raw(b ...byte) enc { return append(e, b...) }

func (e enc) tag(num protowire.Number, typ protowire.Type) enc {
	return protowire.AppendTag(e, num, typ)
}

func TestUnmarshalErrors(t *testing.T) {
	msg := enc{}.varint(1, 5).bytes(4, []byte{192, 0, 2, 1}) // 8 bytes
	tests := []struct {
		name string
		in   []byte
		want string
		is   error
	}{
		{"message cut", enc{}.bytes(2, []byte("v")).raw(0x72, 10, 1, 2, 3),
			"dnstap: field 14 (message) at offset 3: truncated", dnstap.ErrTruncated},
		{"message length cut", enc{}.raw(0x72, 0x80),
			"dnstap: field 14 (message) at offset 0: truncated", dnstap.ErrTruncated},
		{"query_message cut", enc{}.raw(0x72, 12).raw(msg...).raw(0x52, 5, 1, 2),
			"dnstap: field 14.10 (message.query_message) at offset 10: truncated", dnstap.ErrTruncated},
		{"query_message runs past message", enc{}.raw(0x72, 12).raw(msg...).raw(0x52, 4, 1, 2).raw(0x78, 1),
			"dnstap: field 14.10 (message.query_message) at offset 10: truncated", dnstap.ErrTruncated},
		{"query_time_nsec cut", enc{}.raw(0x72, 3, 0x4d, 1, 2),
			"dnstap: field 14.9 (message.query_time_nsec) at offset 2: truncated", dnstap.ErrTruncated},
		{"type cut", enc{}.raw(0x78),
			"dnstap: field 15 (type) at offset 0: truncated", dnstap.ErrTruncated},
		{"tag cut", enc{}.varint(15, 1).raw(0xff),
			"dnstap: tag at offset 2: truncated", dnstap.ErrTruncated},
		{"tag in message cut", enc{}.raw(0x72, 1, 0x80),
			"dnstap: tag in message at offset 2: truncated", dnstap.ErrTruncated},
		{"varint overflow", enc{}.raw(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
			"dnstap: tag at offset 0: malformed: varint longer than 64 bits", dnstap.ErrMalformed},
		{"field number 0", enc{}.raw(0x02, 0),
			"dnstap: tag at offset 0: malformed: invalid field number", dnstap.ErrMalformed},
		{"field number too large", protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3),
			"dnstap: tag at offset 0: malformed: invalid field number", dnstap.ErrMalformed},
		{"reserved wire type", enc{}.tag(20, 6).raw(0),
			"dnstap: field 20 at offset 0: malformed: reserved wire type", dnstap.ErrMalformed},
		{"stray end of group", enc{}.raw(0x72, 2).tag(20, protowire.EndGroupType),
			"dnstap: field 14.20 at offset 2: malformed: end of group without start", dnstap.ErrMalformed},
		{"unbalanced group", enc{}.tag(20, protowire.StartGroupType).tag(21, protowire.EndGroupType),
			"dnstap: field 20 at offset 0: malformed: bad group", dnstap.ErrMalformed},
		{"unknown field cut", enc{}.raw(0x72, 3, 15<<3|2, 5, 0),
			"dnstap: field 14.15 (message.policy) at offset 2: truncated", dnstap.ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f dnstap.Frame
			err := f.Unmarshal(tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %q", err, tc.is)
			}
			var de *dnstap.DecodeError
			if !errors.As(err, &de) {
				t.Errorf("error %T is not a *DecodeError", err)
			}
			// golang-dnstap must refuse it too.
			if _, err := protoDecode(tc.in); err == nil {
				t.Error("golang-dnstap decodes it")
			}
		})
	}
}

func TestUnmarshal(t *testing.T) {
	var (
		addr4  = []byte{192, 0, 2, 1}
		policy = enc{}.bytes(1, []byte("rpz")).varint(3, 2) // Policy: type, action
		// An unknown group, which protobuf skips as a whole.
		group = enc{}.tag(30, protowire.StartGroupType).varint(1, 7).tag(30, protowire.EndGroupType)
	)
	tests := []struct {
		name  string
		in    []byte
		check func(t *testing.T, f *dnstap.Frame)
	}{
		{"empty", nil, func(t *testing.T, f *dnstap.Frame) {
			if f.HasMessage || f.Identity != nil || f.Unknown != nil {
				t.Errorf("%+v", f)
			}
		}},
		{"present but empty", enc{}.bytes(1, nil).raw(0x72, 0).varint(15, 1), func(t *testing.T, f *dnstap.Frame) {
			if f.Identity == nil || len(f.Identity) != 0 || f.Version != nil || !f.HasMessage || f.Message.Present != 0 {
				t.Errorf("%+v", f)
			}
		}},
		{"zero scalars present", enc{}.bytes(14, enc{}.varint(6, 0).fixed32(9, 0).varint(1, 5)).varint(15, 1), func(t *testing.T, f *dnstap.Frame) {
			if !f.HasQueryPort() || f.HasResponsePort() || !f.HasQueryTime() || f.HasResponseTime() {
				t.Errorf("Present = %b", f.Present)
			}
			if f.Present != dnstap.FieldQueryPort|dnstap.FieldQueryTimeNsec|dnstap.FieldType {
				t.Errorf("Present = %b", f.Present)
			}
		}},
		{"wrong wire type is unknown", enc{}.varint(1, 7).bytes(14, enc{}.bytes(6, []byte{1})).varint(15, 1), func(t *testing.T, f *dnstap.Frame) {
			if f.Identity != nil || !bytes.Equal(f.Unknown, enc{}.varint(1, 7)) {
				t.Errorf("Identity %q, Unknown %x", f.Identity, f.Unknown)
			}
			if f.HasQueryPort() || !bytes.Equal(f.Message.Unknown, enc{}.bytes(6, []byte{1})) {
				t.Errorf("QueryPort %d, Message.Unknown %x", f.QueryPort, f.Message.Unknown)
			}
		}},
		{"last value wins", enc{}.bytes(1, []byte("a")).bytes(1, []byte("b")).varint(15, 1).varint(15, 1), func(t *testing.T, f *dnstap.Frame) {
			if string(f.Identity) != "b" {
				t.Errorf("Identity = %q", f.Identity)
			}
		}},
		{"messages merge", enc{}.
			bytes(14, enc{}.varint(1, 5).bytes(4, addr4).bytes(16, []byte("x"))).
			varint(15, 1).
			bytes(14, enc{}.varint(1, 6).varint(6, 53).bytes(17, []byte("y"))), func(t *testing.T, f *dnstap.Frame) {
			if f.Type != dnstap.ClientResponse || !bytes.Equal(f.QueryAddress, addr4) || f.QueryPort != 53 {
				t.Errorf("%+v", f.Message)
			}
			if want := (enc{}).bytes(16, []byte("x")).bytes(17, []byte("y")); !bytes.Equal(f.Message.Unknown, want) {
				t.Errorf("Message.Unknown = %x, want %x", f.Message.Unknown, want)
			}
		}},
		{"unknown fields kept", enc{}.
			bytes(14, enc{}.varint(1, 5).bytes(15, policy).varint(16, 2)).
			varint(15, 1).raw(group...).bytes(99, []byte("future")), func(t *testing.T, f *dnstap.Frame) {
			if want := (enc{}).bytes(15, policy).varint(16, 2); !bytes.Equal(f.Message.Unknown, want) {
				t.Errorf("Message.Unknown = %x, want %x", f.Message.Unknown, want)
			}
			if want := group.bytes(99, []byte("future")); !bytes.Equal(f.Unknown, want) {
				t.Errorf("Unknown = %x, want %x", f.Unknown, want)
			}
		}},
		{"unknown fields scattered", enc{}.
			varint(20, 1).bytes(1, []byte("id")).varint(21, 2).
			bytes(14, enc{}.varint(17, 3).varint(1, 5).varint(18, 4)).varint(15, 1), func(t *testing.T, f *dnstap.Frame) {
			if want := (enc{}).varint(20, 1).varint(21, 2); !bytes.Equal(f.Unknown, want) {
				t.Errorf("Unknown = %x, want %x", f.Unknown, want)
			}
			if want := (enc{}).varint(17, 3).varint(18, 4); !bytes.Equal(f.Message.Unknown, want) {
				t.Errorf("Message.Unknown = %x, want %x", f.Message.Unknown, want)
			}
		}},
		{"enum values not in the schema", enc{}.
			bytes(14, enc{}.varint(1, 99).varint(2, 0).varint(3, uint64(1<<64-1))).varint(15, 7), func(t *testing.T, f *dnstap.Frame) {
			if f.Type != 99 || f.SocketFamily != 0 || f.SocketProtocol != -1 || f.FrameType != 7 {
				t.Errorf("%+v", f)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f dnstap.Frame
			if err := f.Unmarshal(tc.in); err != nil {
				t.Fatal(err)
			}
			tc.check(t, &f)
			p, err := protoDecode(tc.in)
			if err != nil {
				t.Fatalf("golang-dnstap: %v", err)
			}
			compareProto(t, &f, p)

			// Encoding again must keep everything.
			out := f.AppendMarshal(nil)
			var g dnstap.Frame
			if err := g.Unmarshal(out); err != nil {
				t.Fatal(err)
			}
			tc.check(t, &g)
			q, err := protoDecode(out)
			if err != nil {
				t.Fatal(err)
			}
			if p.Type == nil {
				p.Type = q.Type // AppendMarshal adds the required type
			}
			if !proto.Equal(p, q) {
				t.Errorf("golang-dnstap decodes\n%v\nafter AppendMarshal, not\n%v", q, p)
			}
		})
	}
}

func TestUnmarshalAliases(t *testing.T) {
	in := enc{}.bytes(1, []byte("id")).bytes(14, enc{}.bytes(10, []byte("query")).varint(15, 1)).varint(15, 1).varint(16, 2)
	var f dnstap.Frame
	if err := f.Unmarshal(in); err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{f.Identity, f.QueryMessage, f.Message.Unknown, f.Unknown} {
		if len(b) == 0 || cap(b) != len(b) {
			t.Fatalf("field %q: len %d, cap %d", b, len(b), cap(b))
		}
		if i := bytes.Index(in, b); i < 0 || &in[i] != &b[0] {
			t.Errorf("field %q does not alias the input", b)
		}
	}
	f.Identity = append(f.Identity, 'X')
	if in[4] == 'X' {
		t.Error("appending to a field wrote into the input")
	}
}

func TestUnmarshalReuse(t *testing.T) {
	scattered := enc{}.varint(20, 1).bytes(1, []byte("id")).varint(21, 2).
		bytes(14, enc{}.varint(17, 3).varint(1, 5).varint(18, 4)).varint(15, 1)
	plain := enc{}.bytes(2, []byte("v")).bytes(14, enc{}.varint(1, 6).varint(6, 53)).varint(15, 1)
	var f dnstap.Frame
	for _, in := range [][]byte{scattered, plain} {
		if err := f.Unmarshal(in); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing of the first frame may remain.
	if f.Identity != nil || f.Unknown != nil || f.Message.Unknown != nil || f.Type != dnstap.ClientResponse || f.Present != dnstap.FieldType|dnstap.FieldQueryPort {
		t.Errorf("%+v", f)
	}
}

func TestUnmarshalAllocs(t *testing.T) {
	scattered := enc{}.varint(20, 1).bytes(1, []byte("id")).varint(21, 2).
		bytes(14, enc{}.varint(17, 3).varint(1, 5).varint(18, 4)).varint(15, 1)
	for name, in := range map[string][]byte{"full": fullFrame(t), "scattered unknown fields": scattered} {
		var f dnstap.Frame
		allocs := testing.AllocsPerRun(100, func() {
			if err := f.Unmarshal(in); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Unmarshal allocates %v times per run", name, allocs)
		}
	}
}
