package anon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/metrics"
)

// Frames rewritten per batch: enough that handing batches between
// goroutines costs little per frame, few enough to keep latency low.
const (
	batchFrames = 256
	batchBytes  = 256 << 10
)

// Source yields frames: the next frame, its number in its input, and the
// input's name. It returns io.EOF at the end of all inputs.
type Source interface {
	Next() (frame []byte, n int64, input string, err error)
	// Buffered reports whether Next can return without waiting.
	Buffered() bool
}

// Stopper is a Source that can stop at a frame boundary: after Stop, Next
// returns what the source has read and then io.EOF (tool.Frames).
type Stopper interface {
	Stop()
}

// StopWait bounds how long Run, when ctx ends, waits for a Stopper to
// return what it has read: longer than fstrm's wait for the rest of a
// frame.
var StopWait = fstrm.DefaultStopWait + 5*time.Second

// Sink takes framed frames in order.
type Sink interface {
	WriteFrames(b []byte, n int) error
	Flush() error
}

type batch struct {
	in     []byte // frames, each with its 4-byte length, copied from the source
	nums   []int64
	input  string
	out    []byte
	nout   int
	issues []issue
	done   chan struct{}
}

type issue struct {
	frame int64
	what  string
}

// Counters are what tapir-anon counts, served as metrics.
type Counters struct {
	Frames, Dropped, BadAddresses, BadMessages, OptionsRemoved *metrics.Counter
}

// NewCounters registers the counters in m.
func NewCounters(m *metrics.Set) *Counters {
	return &Counters{
		Frames:         m.Counter("frames", "Frames rewritten and written."),
		Dropped:        m.Counter("dropped_frames", "Frames dropped because they are not dnstap.", "reason", "not_dnstap"),
		BadAddresses:   m.Counter("bad_addresses", "Addresses dropped because they are neither 4 nor 16 bytes."),
		BadMessages:    m.Counter("bad_messages", "DNS messages dropped because they do not parse."),
		OptionsRemoved: m.Counter("options_removed", "EDNS options (client subnet, cookie) removed."),
	}
}

func (c *Counters) add(d Stats) {
	c.Frames.Add(d.Frames)
	c.Dropped.Add(d.NotDnstap)
	c.BadAddresses.Add(d.BadAddresses)
	c.BadMessages.Add(d.BadMessages)
	c.OptionsRemoved.Add(d.OptionsRemoved)
}

// Pipeline rewrites frames from a Source on several goroutines and writes
// them to a Sink in the order they came.
type Pipeline struct {
	Config  *Config
	Workers int
	C       *Counters
	Log     *slog.Logger
	// MaxIssues bounds the problems logged one by one; the rest are
	// only counted.
	MaxIssues int

	pool   sync.Pool
	logged int
}

// Run rewrites until the source ends or ctx ends, and flushes the sink.
// A source error (a corrupt input) is returned after everything read
// before it has been written. When ctx ends, a Stopper source is stopped
// and what it still returns is rewritten and written (for up to
// StopWait), so that a FIFO is left at a frame boundary with every frame
// taken from it written; another source is left where it is.
func (p *Pipeline) Run(ctx context.Context, src Source, out Sink) error {
	workers := max(p.Workers, 1)
	work := make(chan *batch, workers)
	order := make(chan *batch, 2*workers)
	p.pool.New = func() any {
		return &batch{in: make([]byte, 0, batchBytes+64<<10), out: make([]byte, 0, batchBytes+64<<10), done: make(chan struct{}, 1)}
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rw := NewRewriter(p.Config)
			for b := range work {
				before := rw.Stats
				p.rewrite(rw, b)
				d := rw.Stats
				d.sub(before)
				p.C.add(d)
				b.done <- struct{}{}
			}
		}()
	}
	werr := make(chan error, 1)
	go func() { werr <- p.write(order, out) }()

	batches := make(chan *batch)
	quit := make(chan struct{})
	rerr := make(chan error, 1)
	go func() { rerr <- p.read(src, batches, quit) }()
	var err error
	done := ctx.Done()
	var giveUp <-chan time.Time
loop:
	for {
		select {
		case b, ok := <-batches:
			if !ok {
				err = <-rerr
				break loop
			}
			order <- b
			work <- b
		case <-done:
			done = nil
			if s, ok := src.(Stopper); ok {
				s.Stop()
				t := time.NewTimer(StopWait)
				defer t.Stop()
				giveUp = t.C
				continue
			}
			// The source may be blocked on a quiet pipe: leave it
			// there and finish what was read.
			close(quit)
			break loop
		case <-giveUp:
			p.Log.Warn("input did not stop in time: leaving it", "after", StopWait)
			close(quit)
			break loop
		}
	}
	close(work)
	close(order)
	wg.Wait()
	if e := <-werr; e != nil {
		return e
	}
	return err
}

// read fills batches from the source until it ends or quit is closed.
func (p *Pipeline) read(src Source, batches chan<- *batch, quit <-chan struct{}) error {
	defer close(batches)
	b := p.get()
	send := func() bool {
		if len(b.nums) == 0 {
			return true
		}
		select {
		case batches <- b:
			b = p.get()
			return true
		case <-quit:
			return false
		}
	}
	for {
		f, n, input, err := src.Next()
		if err != nil {
			send()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if input != b.input && len(b.nums) > 0 && !send() {
			return nil
		}
		b.input = input
		b.in = append(b.in, byte(len(f)>>24), byte(len(f)>>16), byte(len(f)>>8), byte(len(f)))
		b.in = append(b.in, f...)
		b.nums = append(b.nums, n)
		// Hand the batch on when full, or when the source would wait,
		// so a quiet live stream is not held back.
		if len(b.nums) >= batchFrames || len(b.in) >= batchBytes || !src.Buffered() {
			if !send() {
				return nil
			}
		}
	}
}

func (p *Pipeline) rewrite(rw *Rewriter, b *batch) {
	in := b.in
	for i := 0; len(in) >= 4; i++ {
		l := int(in[0])<<24 | int(in[1])<<16 | int(in[2])<<8 | int(in[3])
		f := in[4 : 4+l]
		in = in[4+l:]
		mark := len(b.out)
		out, err := rw.Rewrite(append(b.out, 0, 0, 0, 0), f)
		if err != nil {
			b.out = b.out[:mark]
			b.issues = append(b.issues, issue{b.nums[i], err.Error()})
			continue
		}
		n := len(out) - mark - 4
		out[mark], out[mark+1], out[mark+2], out[mark+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		b.out = out
		b.nout++
		if rw.Problem != "" {
			b.issues = append(b.issues, issue{b.nums[i], rw.Problem})
		}
	}
}

func (p *Pipeline) write(order chan *batch, out Sink) error {
	var err error
	for b := range order {
		<-b.done
		if err == nil && b.nout > 0 {
			err = out.WriteFrames(b.out, b.nout)
		}
		for _, is := range b.issues {
			if p.logged < p.MaxIssues {
				p.Log.Warn(is.what, "input", b.input, "frame", is.frame)
			} else if p.logged == p.MaxIssues {
				p.Log.Warn("more problems: counting, not logging them")
			}
			p.logged++
		}
		if err == nil && len(order) == 0 {
			err = out.Flush()
		}
		p.put(b)
	}
	if err != nil {
		return err
	}
	return out.Flush()
}

func (p *Pipeline) get() *batch { return p.pool.Get().(*batch) }

func (p *Pipeline) put(b *batch) {
	b.in, b.out, b.nums, b.issues, b.nout, b.input = b.in[:0], b.out[:0], b.nums[:0], b.issues[:0], 0, ""
	p.pool.Put(b)
}

func (s *Stats) sub(o Stats) {
	s.Frames -= o.Frames
	s.NotDnstap -= o.NotDnstap
	s.BadAddresses -= o.BadAddresses
	s.BadMessages -= o.BadMessages
	s.OptionsRemoved -= o.OptionsRemoved
}
