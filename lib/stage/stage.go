// Package stage is the loop of a pipeline stage: tapir-anon, tapir-agg,
// tapir-send and tapir-rpz serve each read a stream that the stage before
// them writes, often through a FIFO that systemd holds open, and must
// join it mid-way, find their place again after a crash, hand frames on in
// batches, answer SIGHUP and SIGUSR1, and on SIGTERM stop at a frame
// boundary having handled every frame they took. Run does all of that
// once, around a function that handles a batch.
package stage

import (
	"context"
	"errors"
	"io"
	"iter"
	"log/slog"
	"os"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/stream"
)

// Signals carries the signals that ask a running tool to do something
// besides stopping: Reload (SIGHUP: reload keys and lists, reopen output)
// and Report (SIGUSR1: log the counters). A nil channel never fires.
type Signals struct {
	Reload, Report <-chan os.Signal
}

// Config is what a stage reads and what it does besides handling frames.
type Config struct {
	// Inputs names the inputs, read one after the other ("-" is stdin);
	// with none, Run only ticks and answers signals until ctx ends.
	Inputs     []string
	Identities []age.Identity // to open encrypted inputs
	// ContentType is the input's: dnstap or records.
	ContentType string

	// Handle handles a batch of frames, on the goroutine that called
	// Run. An error ends Run.
	Handle func(*Batch) error

	// OnTick, when set, runs every Tick on Run's goroutine, between
	// batches; an error ends Run.
	Tick   time.Duration
	OnTick func() error
	// OnReload runs on Signals.Reload, OnReport on Signals.Report
	// before the counters of Metrics are logged.
	Signals  Signals
	OnReload func()
	OnReport func()

	// Metrics, when set, gets input_skipped_bytes, and is logged on
	// Signals.Report.
	Metrics *metrics.Set
	Log     *slog.Logger
}

// StopWait bounds how long Run, once ctx ends, waits for the input to
// stop at a frame boundary: longer than fstrm's own wait for the rest of
// a frame it has begun.
var StopWait = fstrm.DefaultStopWait + 5*time.Second

// Batches hold up to this many frames or bytes: enough that handing them
// between goroutines costs little a frame, few enough for low latency.
const (
	batchFrames = 256
	batchBytes  = 256 << 10
)

// Run reads the inputs and hands their frames to cfg.Handle in batches
// until the inputs end or ctx ends.
//
// A FIFO, pipe or socket among the inputs is read as the pipeline's
// stream: it may begin mid-way (an earlier run took START), a writer may
// restart without STOP, and after a framing error or a torn frame the
// reader skips to the next START, checking that the frame found there is
// plausible for the content type (fstrm.ReaderOptions.Continue), counting
// the bytes skipped. A batch is handed on when full, or as soon as the
// input would wait, so that a quiet live stream is not held back.
//
// When ctx ends, the input is stopped at a frame boundary, and the frames
// it still returns are handled, for up to StopWait: a FIFO is left where
// the next run goes on, with every frame taken from it handled. An input
// that does not stop in time is left where it is.
//
// Run returns the error of Handle or OnTick, else an input that could
// not be opened for want of an identity (fault.Config), else, once the
// inputs are done, the errors of those that could not be read whole
// (fault.Input); they were logged as they came.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	var tick <-chan time.Time
	if cfg.Tick > 0 && cfg.OnTick != nil {
		t := time.NewTicker(cfg.Tick)
		defer t.Stop()
		tick = t.C
	}
	var r *reader
	var batches <-chan *Batch
	if len(cfg.Inputs) > 0 {
		opts := fstrm.ReaderOptions{ContentTypes: []string{cfg.ContentType}, Continue: true, Plausible: plausible(cfg.ContentType)}
		r = &reader{src: stream.NewFrames(cfg.Inputs, cfg.Identities, opts, log), out: make(chan *Batch, 2), quit: make(chan struct{})}
		if cfg.Metrics != nil {
			cfg.Metrics.CounterFunc("input_skipped_bytes", "Input bytes skipped to find a frame boundary again, after a stage or writer died mid-frame.",
				func() float64 { return float64(r.src.Skipped()) })
		}
		go r.run()
		batches = r.out
	}
	done := ctx.Done()
	var giveUp <-chan time.Time
	for {
		select {
		case b, ok := <-batches:
			if !ok {
				r.src.Close()
				if r.err != nil {
					return r.err
				}
				return r.src.Err()
			}
			if err := cfg.Handle(b); err != nil {
				r.abandon()
				return err
			}
		case <-tick:
			if err := cfg.OnTick(); err != nil {
				if r != nil {
					r.abandon()
				}
				return err
			}
		case <-cfg.Signals.Reload:
			if cfg.OnReload != nil {
				cfg.OnReload()
			}
		case <-cfg.Signals.Report:
			if cfg.OnReport != nil {
				cfg.OnReport()
			}
			if cfg.Metrics != nil {
				cfg.Metrics.Log(log, "counters")
			}
		case <-done:
			if r == nil {
				return nil
			}
			done = nil
			r.src.Stop()
			t := time.NewTimer(StopWait)
			defer t.Stop()
			giveUp = t.C
		case <-giveUp:
			log.Warn("input did not stop in time: leaving it", "after", StopWait)
			r.abandon()
			return nil
		}
	}
}

// plausible is the check of the first frame after a resynchronisation.
func plausible(ct string) func([]byte) bool {
	switch ct {
	case dnstap.ContentType:
		return dnstap.Plausible
	case record.ContentType:
		return record.Plausible
	}
	return nil
}

// reader fills batches from the inputs on its own goroutine, so that a
// quiet input cannot keep Run from ticking, answering signals or
// stopping.
type reader struct {
	src  *stream.Frames
	out  chan *Batch
	quit chan struct{} // closed when Run no longer takes batches
	err  error         // what ended the input, other than its end; read after out is closed
}

func (r *reader) run() {
	defer close(r.out)
	b := newBatch()
	send := func() bool {
		if b.Len() == 0 {
			return true
		}
		select {
		case r.out <- b:
			b = newBatch()
			return true
		case <-r.quit:
			return false
		}
	}
	for {
		f, n, input, err := r.src.Next()
		if err != nil {
			if send() && !errors.Is(err, io.EOF) {
				r.err = err
			}
			return
		}
		if input != b.Input && b.Len() > 0 && !send() {
			return
		}
		b.Input = input
		b.frames = fstrm.AppendFrame(b.frames, f)
		b.nums = append(b.nums, n)
		if b.Len() >= batchFrames || len(b.frames) >= batchBytes || !r.src.Buffered() {
			if !send() {
				return
			}
		}
	}
}

// abandon lets the goroutine end without handing on what it holds.
func (r *reader) abandon() {
	if r != nil {
		close(r.quit)
	}
}

// Batch is frames read one after the other from one input.
type Batch struct {
	Input  string  // the input's name
	frames []byte  // each after its length (fstrm.AppendFrame)
	nums   []int64 // each frame's number in its input
}

var batchPool = sync.Pool{New: func() any {
	return &Batch{frames: make([]byte, 0, batchBytes+64<<10), nums: make([]int64, 0, batchFrames)}
}}

func newBatch() *Batch { return batchPool.Get().(*Batch) }

// Len is the number of frames in the batch.
func (b *Batch) Len() int { return len(b.nums) }

// All yields each frame with its number in its input. A frame is valid
// until the batch is released.
func (b *Batch) All() iter.Seq2[int64, []byte] {
	return func(yield func(int64, []byte) bool) {
		rest := b.frames
		for _, n := range b.nums {
			var f []byte
			f, rest, _ = fstrm.Cut(rest)
			if !yield(n, f) {
				return
			}
		}
	}
}

// Framed returns the frames each after its length, as
// fstrm.Writer.WriteFrames takes them, and their number.
func (b *Batch) Framed() ([]byte, int) { return b.frames, len(b.nums) }

// Release gives the batch back for reuse, once its handler, or whatever
// the handler passed it to, is done with it. A batch not released is
// collected as garbage.
func (b *Batch) Release() {
	b.Input, b.frames, b.nums = "", b.frames[:0], b.nums[:0]
	batchPool.Put(b)
}
