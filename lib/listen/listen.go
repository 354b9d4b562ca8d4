// Package listen receives dnstap from resolvers on sockets and writes it as
// one Frame Streams stream. It is the work behind tapir-listen.
//
// Each connection has its own goroutine, which reads frames into batches
// (already framed, so the writer copies them out whole) and hands each
// batch to a bounded queue. The queue never blocks a resolver unless told
// to: when it is full, batches are dropped and counted.
package listen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/stage"
)

// Sink is where frames go: a *stream.Output in the tool, anything in
// tests.
type Sink interface {
	// WriteFrames writes n frames that are already framed.
	WriteFrames(b []byte, n int) error
	// FlushFrames writes buffered frames on, cheaply; Flush also pushes
	// them through compression, which costs compression ratio.
	FlushFrames() error
	Flush() error
	// Reopen starts a new output file (SIGHUP).
	Reopen() error
	// Close ends the stream (STOP).
	Close() error
}

// DefaultTimeout is how long a resolver may stall in the handshake or in a
// frame before it is cut off.
const DefaultTimeout = 10 * time.Second

// Config says what to listen on and how to treat what arrives.
type Config struct {
	Listeners []Listener
	// Timeout cuts off a peer stalled in the handshake or in a frame.
	Timeout time.Duration
	// MaxFrameSize bounds a frame; a larger one ends the connection.
	MaxFrameSize int
	// Buffer is how many bytes of frames may wait for the output.
	Buffer int64
	// Block makes a full buffer wait for the output instead of dropping.
	Block bool
	// Types, when not empty, keeps only messages of these types.
	Types []dnstap.MessageType
	// Identity, when not nil, replaces the identity in every frame.
	Identity []byte
	// Drain bounds how long, at shutdown, connections are still read.
	Drain time.Duration
	// FlushInterval bounds how long output may sit in the compressor.
	FlushInterval time.Duration
}

// Counters are the numbers tapir-listen reports.
type Counters struct {
	Connections, Frames, Bytes, Dropped, Filtered, Errors, Timeouts *metrics.Counter
	open                                                            atomic.Int64
}

func newCounters(m *metrics.Set) *Counters {
	c := &Counters{
		Connections: m.Counter("connections", "Resolver connections accepted."),
		Frames:      m.Counter("frames", "Frames written to the output."),
		Bytes:       m.Counter("bytes", "Bytes of frames written to the output."),
		Dropped:     m.Counter("dropped_frames", "Frames dropped because the output buffer was full.", "reason", "full"),
		Filtered:    m.Counter("filtered_frames", "Frames left out by --types."),
		Errors:      m.Counter("errors", "Connections ended by a protocol error or bad frame."),
		Timeouts:    m.Counter("timeouts", "Connections cut off for stalling in the handshake or a frame."),
	}
	m.Gauge("connections_open", "Resolver connections open now.", func() float64 { return float64(c.open.Load()) })
	return c
}

// Server receives dnstap from resolvers.
type Server struct {
	cfg  Config
	out  Sink
	log  *slog.Logger
	m    *metrics.Set
	C    *Counters
	sem  *semaphore.Weighted
	q    chan *batch
	pool sync.Pool

	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing bool
	nconn   atomic.Int64
	queued  atomic.Int64
	reopen  chan chan error
	// dead ends when the writer has failed, to free readers that wait
	// for room in the buffer.
	dead context.Context
	kill context.CancelFunc
}

// New returns a Server that writes to out.
func New(cfg Config, out Sink) *Server {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 64 << 20
	}
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = 256 << 10
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Drain <= 0 {
		cfg.Drain = time.Second
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	m := metrics.New("tapir_listen")
	s := &Server{
		cfg:    cfg,
		out:    out,
		log:    slog.Default(),
		m:      m,
		C:      newCounters(m),
		sem:    semaphore.NewWeighted(cfg.Buffer),
		q:      make(chan *batch, cfg.Buffer/minWeight+1),
		conns:  map[*conn]struct{}{},
		reopen: make(chan chan error),
	}
	s.dead, s.kill = context.WithCancel(context.Background())
	s.pool.New = func() any { return &batch{buf: make([]byte, 0, batchSize+cfg.MaxFrameSize+4)} }
	m.Gauge("queued_bytes", "Bytes of frames waiting for the output.", func() float64 { return float64(s.queued.Load()) })
	return s
}

// Metrics are the counters of tapir-listen, to serve.
func (s *Server) Metrics() *metrics.Set { return s.m }

// Run listens on every listener and writes what arrives to the output
// until ctx ends; then it stops accepting, reads open connections for up
// to Drain, writes what is queued, and closes the output (STOP).
// Meanwhile it answers sig: Reload reopens the output between two
// batches, Report logs the counters.
func (s *Server) Run(ctx context.Context, sig stage.Signals) error {
	err := s.run(ctx, sig)
	if cerr := s.out.Close(); err == nil {
		err = cerr
	}
	s.m.Log(s.log, "counters at exit")
	return err
}

func (s *Server) run(ctx context.Context, sig stage.Signals) error {
	ls, err := s.listen()
	if err != nil {
		return err
	}
	var readers sync.WaitGroup
	for i, l := range ls {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s.accept(l, s.cfg.Listeners[i], &readers)
		}()
	}
	werr := make(chan error, 1)
	go func() { werr <- s.write() }()
	if err := s.answer(ctx, sig, werr); err != nil {
		// The output failed: stop everything; nothing more can be written.
		s.kill()
		s.shutdown(ls, 0)
		readers.Wait()
		return err
	}
	s.shutdown(ls, s.cfg.Drain)
	readers.Wait()
	close(s.q)
	return <-werr
}

// listen opens every listener, or none.
func (s *Server) listen() ([]net.Listener, error) {
	ls := make([]net.Listener, 0, len(s.cfg.Listeners))
	for _, l := range s.cfg.Listeners {
		nl, err := l.Listen()
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return nil, err
		}
		s.log.Info("listening", "on", l.String())
		ls = append(ls, nl)
	}
	if len(ls) == 0 {
		return nil, errors.New("nothing to listen on")
	}
	return ls, nil
}

// answer answers the signals until ctx ends (nil) or the writer fails
// (its error).
func (s *Server) answer(ctx context.Context, sig stage.Signals, werr <-chan error) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-werr:
			return err
		case <-sig.Report:
			s.m.Log(s.log, "counters")
		case <-sig.Reload:
			// The writer owns the output: it reopens it between
			// two batches.
			ch := make(chan error, 1)
			select {
			case s.reopen <- ch:
			case err := <-werr:
				return err
			}
			if err := <-ch; err != nil {
				s.log.Error("reopen output", "err", err)
			} else {
				s.log.Info("output reopened")
			}
		}
	}
}

func (s *Server) shutdown(ls []net.Listener, drain time.Duration) {
	for _, l := range ls {
		l.Close()
	}
	s.mu.Lock()
	s.closing = true
	deadline := time.Now().Add(drain)
	for c := range s.conns {
		c.drain(deadline)
	}
	s.mu.Unlock()
}

func (s *Server) accept(l net.Listener, spec Listener, wg *sync.WaitGroup) {
	for {
		nc, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Error("accept", "on", spec.String(), "err", err)
			time.Sleep(100 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		c := &conn{Conn: nc, s: s, name: peerName(spec, nc, s.nconn.Add(1))}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.C.Connections.Add(1)
		s.C.open.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.serve(spec)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			s.C.open.Add(-1)
		}()
	}
}

func peerName(spec Listener, nc net.Conn, n int64) string {
	if a := nc.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return fmt.Sprintf("%s#%d from %s", spec.String(), n, a)
	}
	return fmt.Sprintf("%s#%d", spec.String(), n)
}

// minWeight is what a batch costs in the buffer at least, so that a queue
// of many tiny batches is bounded too.
const minWeight = 4 << 10

// batchSize is the size at which a connection hands on its batch.
const batchSize = 64 << 10

type batch struct {
	buf    []byte
	frames int
	weight int64
}

// write is the writer goroutine: it owns the output.
func (s *Server) write() error {
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	dirty := false
	for {
		select {
		case b, ok := <-s.q:
			if !ok {
				return s.out.Flush()
			}
			// Take what else is queued, and write it all at once.
			n := 0
			for {
				n += len(b.buf)
				if err := s.writeBatch(b); err != nil {
					return err
				}
				var more bool
				select {
				case b, more = <-s.q:
				default:
				}
				if !more {
					break
				}
			}
			dirty = true
			if err := s.out.FlushFrames(); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
			// A trickle of small batches would wake this goroutine, and
			// write, once for each: let a few collect instead. Batches
			// wait in the queue meanwhile, so no reader waits on this.
			if n < batchSize {
				time.Sleep(collectDelay)
			}
		case <-t.C:
			if dirty {
				if err := s.out.Flush(); err != nil {
					return fmt.Errorf("write output: %w", err)
				}
				dirty = false
			}
		case ch := <-s.reopen:
			ch <- s.out.Reopen()
		}
	}
}

// collectDelay is how long the writer lets small batches collect.
const collectDelay = 2 * time.Millisecond

func (s *Server) writeBatch(b *batch) error {
	err := s.out.WriteFrames(b.buf, b.frames)
	s.C.Frames.Add(uint64(b.frames))
	s.C.Bytes.Add(uint64(len(b.buf) - 4*b.frames))
	s.queued.Add(-b.weight)
	s.sem.Release(b.weight)
	s.put(b)
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func (s *Server) get() *batch { return s.pool.Get().(*batch) }

func (s *Server) put(b *batch) {
	b.buf = b.buf[:0]
	b.frames = 0
	s.pool.Put(b)
}

// submit queues a batch, or drops it if the buffer is full and the server
// does not block. It takes ownership of b.
func (s *Server) submit(b *batch) {
	if b.frames == 0 {
		s.put(b)
		return
	}
	// A batch may pass batchSize by one frame; it must still fit the buffer.
	b.weight = min(max(int64(len(b.buf)), minWeight), s.cfg.Buffer)
	var ok bool
	if s.cfg.Block {
		ok = s.sem.Acquire(s.dead, b.weight) == nil
	} else {
		ok = s.sem.TryAcquire(b.weight)
	}
	if !ok {
		s.C.Dropped.Add(uint64(b.frames))
		s.put(b)
		return
	}
	s.queued.Add(b.weight)
	s.q <- b
}
