package listen

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/stage"
)

// fileSink is the Sink tapir-listen has, minus compression: a Frame
// Streams writer over an io.Writer.
type fileSink struct{ *fstrm.Writer }

func (s fileSink) FlushFrames() error { return s.Writer.Flush() }
func (s fileSink) Reopen() error      { return nil }

// BenchmarkServer measures frames per second from a resolver socket to the
// output: the sending side is one goroutine writing prepared frames, the
// output is discarded after framing. Run with -cpu 1 for one core.
func BenchmarkServer(b *testing.B) {
	var f dnstap.Frame
	f.Identity = []byte("resolver-1")
	f.Type = dnstap.ClientResponse
	f.QueryAddress = []byte{198, 51, 100, 7}
	f.ResponseMessage = bytes.Repeat([]byte{0x42}, 180) // a typical response
	frame := f.AppendMarshal(nil)

	sock := filepath.Join(b.TempDir(), "s")
	sink := fileSink{fstrm.NewWriter(io.Discard, dnstap.ContentType)}
	s := New(Config{Listeners: []Listener{{Network: "unix", Addr: sock}}, Block: true}, sink)
	ctx, cancel := context.WithCancel(context.Background())
	s.log = slog.New(slog.DiscardHandler)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, stage.Signals{}) }()
	var c net.Conn
	for {
		var err error
		if c, err = net.Dial("unix", sock); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	w, err := fstrm.Dial(c, dnstap.ContentType, fstrm.WriterOptions{BufferSize: 256 << 10})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	for range b.N {
		w.WriteFrame(frame)
	}
	w.Close()
	for s.C.Frames.Load() < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	cancel()
	<-done
	c.Close()
}
