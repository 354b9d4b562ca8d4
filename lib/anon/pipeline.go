package anon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/stage"
)

// Sink takes runs of frames, each after its length (fstrm.AppendFrame),
// in order.
type Sink interface {
	WriteFrames(b []byte, n int) error
	Flush() error
}

// job is a batch on its way through the pipeline: the frames read, and
// what a worker made of them.
type job struct {
	in     *stage.Batch
	out    []byte // the rewritten frames, each after its length
	nout   int
	issues []issue
	done   chan struct{} // a worker is done with it
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

// Pipeline rewrites the batches of a stage on several goroutines and
// writes them to a Sink in the order they came: rewriting costs more
// than reading and writing, and one core cannot keep up with a busy
// resolver.
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
	failed atomic.Pointer[error] // the output's error, once it failed
}

// Run runs stage.Run with in, whose frames are dnstap, rewrites them and
// writes them to out in order, then flushes out. Once out fails, Run
// stops reading; it returns the error of out, else that of stage.Run.
func (p *Pipeline) Run(ctx context.Context, in stage.Config, out Sink) error {
	workers := max(p.Workers, 1)
	work := make(chan *job, workers)
	order := make(chan *job, 2*workers)
	p.pool.New = func() any {
		return &job{out: make([]byte, 0, 320<<10), done: make(chan struct{}, 1)}
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { p.rewriteAll(work) })
	}
	p.failed.Store(nil)
	werr := make(chan error, 1)
	go func() { werr <- p.write(order, out) }()

	in.ContentType = dnstap.ContentType
	in.Handle = func(b *stage.Batch) error {
		if err := p.failed.Load(); err != nil {
			b.Release()
			return *err
		}
		j := p.pool.Get().(*job)
		j.in = b
		order <- j
		work <- j
		return nil
	}
	err := stage.Run(ctx, in)
	close(work)
	close(order)
	wg.Wait()
	if e := <-werr; e != nil {
		return e
	}
	return err
}

// rewriteAll rewrites the jobs of work until it is closed, with a
// Rewriter of its own.
func (p *Pipeline) rewriteAll(work <-chan *job) {
	rw := NewRewriter(p.Config)
	for j := range work {
		before := rw.Stats
		p.rewrite(rw, j)
		d := rw.Stats
		d.sub(before)
		p.C.add(d)
		j.done <- struct{}{}
	}
}

func (p *Pipeline) rewrite(rw *Rewriter, j *job) {
	for n, f := range j.in.All() {
		out, err := fstrm.AppendFrameFunc(j.out, func(dst []byte) ([]byte, error) { return rw.Rewrite(dst, f) })
		j.out = out
		if err != nil {
			j.issues = append(j.issues, issue{n, err.Error()})
			continue
		}
		j.nout++
		if rw.Problem != "" {
			j.issues = append(j.issues, issue{n, rw.Problem})
		}
	}
}

// write writes the jobs of order as their workers finish them, and
// flushes out whenever no more are waiting, so that a quiet live stream
// is not held back. After an error of out, it only gives the jobs back.
func (p *Pipeline) write(order <-chan *job, out Sink) error {
	var err error
	for j := range order {
		<-j.done
		if err == nil {
			if err = writeJob(out, j, len(order) == 0); err != nil {
				p.failed.Store(&err)
			}
		}
		p.logIssues(j)
		p.put(j)
	}
	if err == nil {
		err = writeJob(out, nil, true)
	}
	return err
}

// writeJob writes what j holds (if any), then flushes if asked.
func writeJob(out Sink, j *job, flush bool) error {
	if j != nil && j.nout > 0 {
		if err := out.WriteFrames(j.out, j.nout); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	if flush {
		if err := out.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return nil
}

func (p *Pipeline) logIssues(j *job) {
	for _, is := range j.issues {
		if p.logged < p.MaxIssues {
			p.Log.Warn(is.what, "input", j.in.Input, "frame", is.frame)
		} else if p.logged == p.MaxIssues {
			p.Log.Warn("more problems: counting, not logging them")
		}
		p.logged++
	}
}

// put releases the job's batch, its output written, and keeps the job
// for another.
func (p *Pipeline) put(j *job) {
	j.in.Release()
	j.in, j.out, j.issues, j.nout = nil, j.out[:0], j.issues[:0], 0
	p.pool.Put(j)
}

func (s *Stats) sub(o Stats) {
	s.Frames -= o.Frames
	s.NotDnstap -= o.NotDnstap
	s.BadAddresses -= o.BadAddresses
	s.BadMessages -= o.BadMessages
	s.OptionsRemoved -= o.OptionsRemoved
}
