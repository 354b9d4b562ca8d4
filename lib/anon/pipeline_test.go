package anon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/pseudo"
	"github.com/tapir-edge/tapir/lib/stage"
)

// writeStream writes frames to a dnstap file, as stage.Run reads them.
func writeStream(t testing.TB, frames [][]byte) string {
	t.Helper()
	var b bytes.Buffer
	w := fstrm.NewWriter(&b, dnstap.ContentType)
	for _, f := range frames {
		w.WriteFrame(f)
	}
	w.Close()
	p := filepath.Join(t.TempDir(), "in.fstrm")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type memSink struct{ frames [][]byte }

func (m *memSink) WriteFrames(b []byte, n int) error {
	for f := range fstrm.Split(b) {
		m.frames = append(m.frames, bytes.Clone(f))
	}
	return nil
}

func (m *memSink) Flush() error { return nil }

// testFrames are n frames of distinct clients, with a frame that is not
// dnstap after every thousand.
func testFrames(t testing.TB, n int) [][]byte {
	var in [][]byte
	f := sample(t)
	for i := range n {
		f.QueryAddress = []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		f.QueryTimeSec = uint64(i)
		in = append(in, f.AppendMarshal(nil))
		if i%1000 == 999 {
			in = append(in, []byte("not dnstap\xff"))
		}
	}
	return in
}

// Frames come out in the order they went in, whatever the workers do,
// and each is the frame a Rewriter makes alone; bad frames are left out.
func TestPipelineOrder(t *testing.T) {
	cfg := &Config{Keys: keyring(t, RotateNever)}
	in := testFrames(t, 5000)
	var want [][]byte
	rw := NewRewriter(cfg)
	for _, b := range in {
		if out, err := rw.Rewrite(nil, bytes.Clone(b)); err == nil {
			want = append(want, out)
		}
	}
	sink := &memSink{}
	p := &Pipeline{Config: cfg, Workers: 4, C: NewCounters(metrics.New("t")), Log: slog.New(slog.DiscardHandler), MaxIssues: 10}
	if err := p.Run(context.Background(), stage.Config{Inputs: []string{writeStream(t, in)}}, sink); err != nil {
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

// failSink fails its second write.
type failSink struct{ writes int }

var errFull = errors.New("no space left on device")

func (s *failSink) WriteFrames([]byte, int) error {
	if s.writes++; s.writes > 1 {
		return errFull
	}
	return nil
}

func (s *failSink) Flush() error { return nil }

// An output that fails is a runtime failure, not an unreadable input, and
// ends the run.
func TestPipelineOutputError(t *testing.T) {
	cfg := &Config{Keys: keyring(t, RotateNever)}
	p := &Pipeline{Config: cfg, Workers: 2, C: NewCounters(metrics.New("t")), Log: slog.New(slog.DiscardHandler)}
	sink := &failSink{}
	err := p.Run(context.Background(), stage.Config{Inputs: []string{writeStream(t, testFrames(t, 20000))}}, sink)
	if !errors.Is(err, errFull) || fault.Of(err) != fault.Other || !strings.Contains(err.Error(), "write output") {
		t.Fatalf("err %v (kind %v), want the output's, of no kind", err, fault.Of(err))
	}
	if sink.writes != 2 {
		t.Errorf("%d writes: the pipeline went on writing after a failure", sink.writes)
	}
}

// BenchmarkPipeline rewrites a stream from a file on as many workers as
// there are CPUs: the throughput of tapir-anon but for the output.
func BenchmarkPipeline(b *testing.B) {
	in := writeStream(b, testFrames(b, 20000))
	cfg := &Config{Keys: keyring(b, RotateNever)}
	b.ResetTimer()
	for range b.N {
		p := &Pipeline{Config: cfg, Workers: runtime.GOMAXPROCS(0), C: NewCounters(metrics.New("t")), Log: slog.New(slog.DiscardHandler)}
		if err := p.Run(context.Background(), stage.Config{Inputs: []string{in}}, discard{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*20020/b.Elapsed().Seconds(), "frames/s")
}

type discard struct{}

func (discard) WriteFrames([]byte, int) error { return nil }
func (discard) Flush() error                  { return nil }

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
