package dnstap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	pb "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"

	"github.com/tapir-edge/tapir/lib/dnstap"
)

// violationsDirs are where the dns-violations captures may be, relative
// to this package's directory: the copy in the repository, then the
// shared data beside it.
var violationsDirs = []string{"../../testdata/dns-violations", "../../../shared/data/dns-violations"}

// captureFrames returns the data frames of every dnstap file of the
// dns-violations captures, by file name, or skips the test if there are
// none.
func captureFrames(tb testing.TB) map[string][][]byte {
	tb.Helper()
	var paths []string
	for _, dir := range violationsDirs {
		if paths, _ = filepath.Glob(filepath.Join(dir, "*.dnstap")); len(paths) > 0 {
			break
		}
	}
	if len(paths) == 0 {
		tb.Skipf("no dnstap captures in %v", violationsDirs)
	}
	sort.Strings(paths)
	out := make(map[string][][]byte, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		frames, err := readFrameStream(data)
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = frames
	}
	return out
}

// readFrameStream returns the data frames of a Frame Streams file: each
// frame is a 32-bit big-endian length and that many bytes; a zero length
// introduces a control frame (its own length, then its body), which is
// skipped.
func readFrameStream(data []byte) ([][]byte, error) {
	var frames [][]byte
	next := func() (int, bool) {
		if len(data) < 4 {
			return 0, false
		}
		n := int(binary.BigEndian.Uint32(data))
		data = data[4:]
		return n, true
	}
	for len(data) > 0 {
		n, ok := next()
		if !ok {
			return nil, errors.New("frame length cut")
		}
		if n == 0 {
			if n, ok = next(); !ok {
				return nil, errors.New("control frame length cut")
			}
			if n > len(data) {
				return nil, errors.New("control frame cut")
			}
			data = data[n:]
			continue
		}
		if n > len(data) {
			return nil, errors.New("data frame cut")
		}
		frames = append(frames, data[:n:n])
		data = data[n:]
	}
	return frames, nil
}

// compareProto checks that f holds what golang-dnstap decoded into p from
// the same bytes, field by field.
func compareProto(t *testing.T, f *dnstap.Frame, p *pb.Dnstap) {
	t.Helper()
	checkBytes(t, "identity", f.Identity, p.Identity)
	checkBytes(t, "version", f.Version, p.Version)
	checkBytes(t, "extra", f.Extra, p.Extra)
	// AppendMarshal cannot tell a zero type from none: it writes both as
	// MESSAGE.
	checkScalar(t, "type", f.FrameType != 0, f.FrameType, zeroAsNil(p.Type))
	if f.HasMessage != (p.Message != nil) {
		t.Fatalf("HasMessage = %v, golang-dnstap has message %v", f.HasMessage, p.Message != nil)
	}
	if p.Message == nil {
		return
	}
	m, pm := &f.Message, p.Message
	has := func(b dnstap.FieldSet) bool { return m.Present&b != 0 }
	checkEnum(t, "message.type", has(dnstap.FieldType), m.Type, pm.Type)
	checkEnum(t, "message.socket_family", has(dnstap.FieldSocketFamily), m.SocketFamily, pm.SocketFamily)
	checkEnum(t, "message.socket_protocol", has(dnstap.FieldSocketProtocol), m.SocketProtocol, pm.SocketProtocol)
	checkBytes(t, "message.query_address", m.QueryAddress, pm.QueryAddress)
	checkBytes(t, "message.response_address", m.ResponseAddress, pm.ResponseAddress)
	checkScalar(t, "message.query_port", has(dnstap.FieldQueryPort), m.QueryPort, pm.QueryPort)
	checkScalar(t, "message.response_port", has(dnstap.FieldResponsePort), m.ResponsePort, pm.ResponsePort)
	checkScalar(t, "message.query_time_sec", has(dnstap.FieldQueryTimeSec), m.QueryTimeSec, pm.QueryTimeSec)
	checkScalar(t, "message.query_time_nsec", has(dnstap.FieldQueryTimeNsec), m.QueryTimeNsec, pm.QueryTimeNsec)
	checkBytes(t, "message.query_message", m.QueryMessage, pm.QueryMessage)
	checkBytes(t, "message.query_zone", m.QueryZone, pm.QueryZone)
	checkScalar(t, "message.response_time_sec", has(dnstap.FieldResponseTimeSec), m.ResponseTimeSec, pm.ResponseTimeSec)
	checkScalar(t, "message.response_time_nsec", has(dnstap.FieldResponseTimeNsec), m.ResponseTimeNsec, pm.ResponseTimeNsec)
	checkBytes(t, "message.response_message", m.ResponseMessage, pm.ResponseMessage)
}

func checkBytes(t *testing.T, name string, got, want []byte) {
	t.Helper()
	if (got == nil) != (want == nil) || !bytes.Equal(got, want) {
		t.Fatalf("%s = %q (nil %v), golang-dnstap has %q (nil %v)", name, got, got == nil, want, want == nil)
	}
}

func checkScalar[T comparable](t *testing.T, name string, present bool, got T, want *T) {
	t.Helper()
	if present != (want != nil) || (want != nil && got != *want) {
		t.Fatalf("%s = %v (present %v), golang-dnstap has %v", name, got, present, want)
	}
}

// checkEnum is checkScalar for enums. Go's protobuf keeps any value of
// an enum, even one the schema does not define, as this package does.
func checkEnum[E1, E2 ~int32](t *testing.T, name string, present bool, got E1, want *E2) {
	t.Helper()
	if present != (want != nil) || (want != nil && int32(got) != int32(*want)) {
		t.Fatalf("%s = %v (present %v), golang-dnstap has %v", name, got, present, want)
	}
}

// zeroAsNil converts golang-dnstap's Dnstap.type for comparing with
// Frame.FrameType, which has no presence.
func zeroAsNil(p *pb.Dnstap_Type) *dnstap.FrameType {
	if p == nil || *p == 0 {
		return nil
	}
	v := dnstap.FrameType(*p)
	return &v
}

// protoDecode decodes b with golang-dnstap, not requiring the required
// fields, which this package does not require either.
func protoDecode(b []byte) (*pb.Dnstap, error) {
	p := new(pb.Dnstap)
	err := proto.UnmarshalOptions{AllowPartial: true}.Unmarshal(b, p)
	return p, err
}
