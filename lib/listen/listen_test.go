package listen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/stage"
)

// memSink collects frames; when gate is set, every write waits for it.
type memSink struct {
	mu      sync.Mutex
	frames  [][]byte
	gate    chan struct{}
	reopens int
	closed  bool
}

func (m *memSink) WriteFrames(b []byte, n int) error {
	if m.gate != nil {
		<-m.gate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for f := range fstrm.Split(b) {
		m.frames = append(m.frames, bytes.Clone(f))
		n--
	}
	if n != 0 {
		return fmt.Errorf("frame count off by %d", n)
	}
	return nil
}
func (m *memSink) FlushFrames() error { return nil }
func (m *memSink) Flush() error       { return nil }
func (m *memSink) Reopen() error      { m.mu.Lock(); m.reopens++; m.mu.Unlock(); return nil }
func (m *memSink) Close() error       { m.mu.Lock(); m.closed = true; m.mu.Unlock(); return nil }

func (m *memSink) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.frames)
}

func (m *memSink) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for m.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("have %d frames, want %d", m.count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func frame(identity string, typ dnstap.MessageType, seq int) []byte {
	var f dnstap.Frame
	f.Identity = []byte(identity)
	f.Type = typ
	f.QueryAddress = []byte{192, 0, 2, byte(seq)}
	f.QueryMessage = fmt.Appendf(nil, "message %d", seq)
	return f.AppendMarshal(nil)
}

type server struct {
	*Server
	sink   *memSink
	sock   string
	reload chan os.Signal
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config, sink *memSink) *server {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "dnstap.sock")
	cfg.Listeners = append(cfg.Listeners, Listener{Network: "unix", Addr: sock})
	s := &server{Server: New(cfg, sink), sink: sink, sock: sock, reload: make(chan os.Signal), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- s.Run(ctx, stage.Signals{Reload: s.reload}) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not listen")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The probe above was one connection that sent nothing.
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *server) stop(t *testing.T) {
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		s.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

// resolver dials the server and sends frames as a resolver does.
func resolver(t *testing.T, sock string, frames ...[]byte) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := fstrm.Dial(c, dnstap.ContentType, fstrm.WriterOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := w.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// Reload reopens the output between two batches; at the end Run closes
// it, having written everything.
func TestReloadAndClose(t *testing.T) {
	sink := &memSink{}
	s := start(t, Config{}, sink)
	resolver(t, s.sock, frame("r", dnstap.ClientQuery, 1))
	sink.waitFor(t, 1)
	s.reload <- syscall.SIGHUP
	s.reload <- syscall.SIGHUP // taken once the first is answered
	resolver(t, s.sock, frame("r", dnstap.ClientQuery, 2))
	s.stop(t)
	if sink.reopens != 2 || !sink.closed || len(sink.frames) != 2 {
		t.Errorf("reopens %d (want 2), closed %v, %d frames (want 2)", sink.reopens, sink.closed, len(sink.frames))
	}
}

func TestManyResolvers(t *testing.T) {
	s := start(t, Config{}, &memSink{})
	var wg sync.WaitGroup
	for r := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fs [][]byte
			for i := range 1000 {
				fs = append(fs, frame(fmt.Sprintf("r%d", r), dnstap.ClientQuery, i))
			}
			resolver(t, s.sock, fs...)
		}()
	}
	wg.Wait()
	s.sink.waitFor(t, 8000)
	// Each resolver's frames arrive whole and in its order.
	next := map[string]int{}
	var f dnstap.Frame
	for _, b := range s.sink.frames {
		if err := f.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		id := string(f.Identity)
		if want := fmt.Sprintf("message %d", next[id]); string(f.QueryMessage) != want {
			t.Fatalf("%s: got %q, want %q", id, f.QueryMessage, want)
		}
		next[id]++
	}
	if len(next) != 8 {
		t.Errorf("frames from %d resolvers, want 8", len(next))
	}
	if got := s.C.Connections.Load(); got != 9 { // 8 and the probe
		t.Errorf("connections %d", got)
	}
}

// A resolver that sends garbage, or stalls in the handshake or mid-frame,
// is cut off, and the others go on.
func TestBadResolvers(t *testing.T) {
	s := start(t, Config{Timeout: 200 * time.Millisecond}, &memSink{})
	dial := func() net.Conn {
		c, err := net.Dial("unix", s.sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	garbage := dial()
	garbage.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	stalled := dial()
	stalled.Write([]byte{0, 0, 0, 0, 0, 0}) // half a READY
	midframe := dial()
	w, err := fstrm.Dial(midframe, dnstap.ContentType, fstrm.WriterOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteFrame(frame("mid", dnstap.ClientQuery, 1))
	w.Flush()
	midframe.Write([]byte{0, 0, 1, 0, 'x'}) // 1 byte of a 256-byte frame

	resolver(t, s.sock, frame("good", dnstap.ClientQuery, 0), frame("good", dnstap.ClientQuery, 1))
	s.sink.waitFor(t, 3) // the good two and the mid-frame resolver's whole one

	deadline := time.Now().Add(5 * time.Second)
	for s.C.Timeouts.Load() < 2 || s.C.Errors.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("timeouts %d (want 2), errors %d (want 1)", s.C.Timeouts.Load(), s.C.Errors.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range []net.Conn{garbage, stalled, midframe} {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("connection not closed by the server: %v", err)
		}
	}
	// Still serving.
	resolver(t, s.sock, frame("later", dnstap.ClientQuery, 0))
	s.sink.waitFor(t, 4)
}

// A resolver that disconnects mid-frame loses that frame only.
func TestDisconnectMidFrame(t *testing.T) {
	s := start(t, Config{}, &memSink{})
	c, err := net.Dial("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	w, err := fstrm.Dial(c, dnstap.ContentType, fstrm.WriterOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteFrame(frame("r", dnstap.ClientQuery, 0))
	w.WriteFrame(frame("r", dnstap.ClientQuery, 1))
	w.Flush()
	c.Write([]byte{0, 0, 1, 0, 'x', 'y'})
	c.Close()
	s.sink.waitFor(t, 2)
	time.Sleep(50 * time.Millisecond)
	if n := s.sink.count(); n != 2 {
		t.Errorf("%d frames, want 2", n)
	}
}

// When the output is slower than the input, the buffer fills and frames
// are dropped and counted; the resolver is never blocked.
func TestDropWhenFull(t *testing.T) {
	sink := &memSink{gate: make(chan struct{})}
	s := start(t, Config{Buffer: 64 << 10}, sink)
	const n = 20000
	fs := make([][]byte, n)
	for i := range fs {
		fs[i] = frame("r", dnstap.ClientQuery, i)
	}
	sent := make(chan struct{})
	go func() {
		resolver(t, s.sock, fs...)
		close(sent)
	}()
	select {
	case <-sent: // the resolver finished though the output is stuck
	case <-time.After(10 * time.Second):
		t.Fatal("resolver blocked by a stuck output")
	}
	close(sink.gate)
	s.stop(t)
	got, dropped := sink.count(), int(s.C.Dropped.Load())
	if dropped == 0 {
		t.Fatal("nothing dropped with a stuck output and a small buffer")
	}
	if got+dropped != n {
		t.Errorf("%d written + %d dropped = %d, want %d", got, dropped, got+dropped, n)
	}
}

// With --on-full block nothing is dropped: the resolver waits instead.
func TestBlockWhenFull(t *testing.T) {
	sink := &memSink{gate: make(chan struct{})}
	s := start(t, Config{Buffer: 64 << 10, Block: true}, sink)
	const n = 20000
	fs := make([][]byte, n)
	for i := range fs {
		fs[i] = frame("r", dnstap.ClientQuery, i)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		close(sink.gate)
	}()
	resolver(t, s.sock, fs...)
	s.sink.waitFor(t, n)
	if d := s.C.Dropped.Load(); d != 0 {
		t.Errorf("%d dropped", d)
	}
}

func TestFilters(t *testing.T) {
	s := start(t, Config{Types: []dnstap.MessageType{dnstap.ClientResponse}, Identity: []byte("edge-1")}, &memSink{})
	resolver(t, s.sock,
		frame("r", dnstap.ClientQuery, 0),
		frame("r", dnstap.ClientResponse, 1),
		[]byte("not dnstap \xff\xff\xff"),
		frame("r", dnstap.ResolverQuery, 2),
		frame("r", dnstap.ClientResponse, 3),
	)
	s.sink.waitFor(t, 2)
	s.stop(t)
	if n := s.sink.count(); n != 2 {
		t.Fatalf("%d frames, want 2", n)
	}
	var f dnstap.Frame
	for i, b := range s.sink.frames {
		if err := f.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		if f.Type != dnstap.ClientResponse || string(f.Identity) != "edge-1" || string(f.QueryMessage) != fmt.Sprintf("message %d", 2*i+1) {
			t.Errorf("frame %d: type %v identity %q message %q", i, f.Type, f.Identity, f.QueryMessage)
		}
	}
	if s.C.Filtered.Load() != 2 || s.C.Errors.Load() != 1 {
		t.Errorf("filtered %d (want 2), errors %d (want 1)", s.C.Filtered.Load(), s.C.Errors.Load())
	}
}

// At shutdown, what a connected resolver has sent is still written.
func TestShutdownDrains(t *testing.T) {
	s := start(t, Config{}, &memSink{})
	c, err := net.Dial("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := fstrm.Dial(c, dnstap.ContentType, fstrm.WriterOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		w.WriteFrame(frame("r", dnstap.ClientQuery, i))
	}
	w.Flush() // no STOP: the resolver stays connected
	time.Sleep(50 * time.Millisecond)
	s.stop(t)
	if n := s.sink.count(); n != 100 {
		t.Errorf("%d frames written at shutdown, want 100", n)
	}
}

func TestStaleSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s")
	l := Listener{Network: "unix", Addr: sock}
	live, err := l.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Listen(); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second listener on a live socket: %v", err)
	}
	// A socket file whose listener died without removing it.
	live.(*net.UnixListener).SetUnlinkOnClose(false)
	live.Close()
	again, err := l.Listen()
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	again.Close()
}
