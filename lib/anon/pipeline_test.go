package anon

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/pseudo"
)

type sliceSource struct {
	frames [][]byte
	i      int
}

func (s *sliceSource) Next() ([]byte, int64, string, error) {
	if s.i == len(s.frames) {
		return nil, 0, "", io.EOF
	}
	s.i++
	return bytes.Clone(s.frames[s.i-1]), int64(s.i), "test", nil
}

func (s *sliceSource) Buffered() bool { return s.i < len(s.frames) }

type memSink struct{ frames [][]byte }

func (m *memSink) WriteFrames(b []byte, n int) error {
	for len(b) > 0 {
		l := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		m.frames = append(m.frames, bytes.Clone(b[4:4+l]))
		b = b[4+l:]
	}
	return nil
}

func (m *memSink) Flush() error { return nil }

// Frames come out in the order they went in, whatever the workers do,
// and each is the frame a Rewriter makes alone; bad frames are left out.
func TestPipelineOrder(t *testing.T) {
	cfg := &Config{Keys: keyring(t, RotateNever)}
	var in [][]byte
	f := sample(t)
	for i := range 5000 {
		f.QueryAddress = []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		f.QueryTimeSec = uint64(i)
		in = append(in, f.AppendMarshal(nil))
		if i%1000 == 999 {
			in = append(in, []byte("not dnstap\xff"))
		}
	}
	var want [][]byte
	rw := NewRewriter(cfg)
	for _, b := range in {
		if out, err := rw.Rewrite(nil, bytes.Clone(b)); err == nil {
			want = append(want, out)
		}
	}
	sink := &memSink{}
	p := &Pipeline{Config: cfg, Workers: 4, C: NewCounters(metrics.New("t")), Log: slog.New(slog.DiscardHandler), MaxIssues: 10}
	if err := p.Run(context.Background(), &sliceSource{frames: in}, sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.frames) != len(want) {
		t.Fatalf("%d frames, want %d", len(sink.frames), len(want))
	}
	for i := range want {
		if !bytes.Equal(sink.frames[i], want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
	if p.C.Dropped.Load() != 5 || p.C.Frames.Load() != 5000 {
		t.Errorf("dropped %d, frames %d", p.C.Dropped.Load(), p.C.Frames.Load())
	}
}

// FuzzRewrite: any input is rewritten or refused, never a panic, and what
// comes out is dnstap whose addresses are not the ones that went in.
func FuzzRewrite(f *testing.F) {
	s := sample(f)
	f.Add(s.AppendMarshal(nil))
	s.QueryAddress = make([]byte, 16)
	f.Add(s.AppendMarshal(nil))
	k, err := NewKeyring(pseudo.NameCryptoPAn, testKey, pseudo.Options{CacheSize: 64}, RotateDaily)
	if err != nil {
		f.Fatal(err)
	}
	rw := NewRewriter(&Config{Keys: k})
	f.Fuzz(func(t *testing.T, b []byte) {
		var in dnstap.Frame
		inOK := in.Unmarshal(bytes.Clone(b)) == nil
		qa := bytes.Clone(in.QueryAddress)
		out, err := rw.Rewrite(nil, b)
		if err != nil {
			if inOK {
				t.Fatalf("a dnstap frame was refused: %v", err)
			}
			return
		}
		var g dnstap.Frame
		if err := g.Unmarshal(out); err != nil {
			t.Fatalf("output is not dnstap: %v", err)
		}
		if (len(qa) == 4 || len(qa) == 16) && bytes.Equal(g.QueryAddress, qa) && !bytes.Equal(qa, make([]byte, len(qa))) {
			// Crypto-PAn maps no address but by chance to itself; a
			// fuzzer finding one is worth a look.
			t.Logf("address %x mapped to itself", qa)
		}
		if len(g.QueryAddress) != 0 && len(g.QueryAddress) != len(qa) {
			t.Fatalf("address of %d bytes became %d", len(qa), len(g.QueryAddress))
		}
		if g.Identity != nil || g.Version != nil || g.QueryPort != 0 {
			t.Fatalf("identity, version or port left")
		}
	})
}
