package dnstap_test

import (
	"testing"

	pb "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"

	"github.com/tapir-edge/tapir/lib/dnstap"
)

// The benchmarks use fullFrame, a CLIENT_RESPONSE with every field set as
// Unbound logs it, 225 bytes long.

func BenchmarkUnmarshal(b *testing.B) {
	in := fullFrame(b)
	var f dnstap.Frame
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Unmarshal(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProtoUnmarshal is the baseline for BenchmarkUnmarshal:
// golang-dnstap's generated code, reusing the message.
func BenchmarkProtoUnmarshal(b *testing.B) {
	in := fullFrame(b)
	var p pb.Dnstap
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := proto.Unmarshal(in, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	var f dnstap.Frame
	if err := f.Unmarshal(fullFrame(b)); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, f.Size())
	b.SetBytes(int64(f.Size()))
	b.ReportAllocs()
	for b.Loop() {
		buf = f.AppendMarshal(buf[:0])
	}
}

// BenchmarkProtoMarshal is the baseline for BenchmarkMarshal.
func BenchmarkProtoMarshal(b *testing.B) {
	p := fullProto()
	buf := make([]byte, 0, proto.Size(p))
	opts := proto.MarshalOptions{}
	b.SetBytes(int64(cap(buf)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = opts.MarshalAppend(buf[:0], p); err != nil {
			b.Fatal(err)
		}
	}
}
