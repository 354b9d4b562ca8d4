package stream

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

// Frames reads the frames of several inputs one after another, as a
// filter reads its -r files or stdin. An input that cannot be opened, or
// that turns out corrupt, is logged with where it went wrong, and reading
// goes on with the next; Err reports them at the end.
type Frames struct {
	names []string
	ids   []age.Identity
	opts  fstrm.ReaderOptions
	log   *slog.Logger
	in    *Input
	bad   []error
	seen  int64        // in.Skipped(), counted in skipped
	skip  atomic.Int64 // bytes skipped resynchronising, all inputs

	mu       sync.Mutex // the fields below, between Next and Stop
	stopping bool
	file     *os.File // the input being opened or read
	reading  *Input   // in, once open
}

// NewFrames returns a reader of the named inputs ("-" is stdin). With
// opts.Continue, a FIFO or socket among them is read as a pipeline stage
// reads its input (see Open); opts.Log defaults to log.
func NewFrames(names []string, ids []age.Identity, opts fstrm.ReaderOptions, log *slog.Logger) *Frames {
	if opts.Continue && opts.Log == nil {
		opts.Log = log
	}
	return &Frames{names: names, ids: ids, opts: opts, log: log}
}

// Stop makes Next return io.EOF once it has returned what it read, and
// open no further input; it may be called from another goroutine, as on
// SIGTERM. A plain FIFO or pipe is left at a frame boundary, for the next
// reader (fstrm.Reader.Stop). A read that waits on a FIFO or pipe returns
// at once; under compression or encryption it fails, and what the
// decoders held is lost, as it would be at exit: the next reader could not
// begin mid-way in such a stream anyway.
func (fs *Frames) Stop() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.stopping = true
	if fs.reading != nil {
		fs.reading.Reader.Stop()
		if len(fs.reading.s.Layers) == 0 {
			return
		}
	}
	if fs.file != nil {
		fs.file.SetReadDeadline(time.Now())
	}
}

// opened notes the file being opened, for Stop.
func (fs *Frames) opened(f *os.File) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.file = f
	if fs.stopping {
		f.SetReadDeadline(time.Now())
	}
}

// setInput notes the input being read, for Stop.
func (fs *Frames) setInput(in *Input) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.reading = in
	if in == nil {
		fs.file = nil
	} else if fs.stopping {
		in.Reader.Stop()
	}
}

func (fs *Frames) isStopping() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.stopping
}

// Next returns the next frame (valid until the next call), its number in
// its input, and the input's name; io.EOF after the last input.
func (fs *Frames) Next() ([]byte, int64, string, error) {
	for {
		if fs.in == nil {
			if len(fs.names) == 0 || fs.isStopping() {
				return nil, 0, "", io.EOF
			}
			in, err := open(fs.names[0], fs.ids, fs.opts, fs.opened)
			fs.names = fs.names[1:]
			if err != nil {
				fs.setInput(nil)
				if fs.isStopping() && errors.Is(err, os.ErrDeadlineExceeded) {
					// Stopped before the input said anything.
					return nil, 0, "", io.EOF
				}
				if fault.Of(err) == fault.Config {
					// A missing identity: no input will do better.
					return nil, 0, "", err
				}
				fs.fail(err)
				continue
			}
			fs.in = in
			fs.setInput(in)
		}
		b, err := fs.in.Next()
		if s := fs.in.Skipped(); s != fs.seen {
			fs.skip.Add(s - fs.seen)
			fs.seen = s
		}
		if err == nil {
			return b, fs.in.Frames(), fs.in.Name, nil
		}
		if err != io.EOF && fs.isStopping() && errors.Is(err, os.ErrDeadlineExceeded) {
			// Stop cut a read under compression or encryption.
			fs.log.Info("stopped reading", "input", fs.in.Name, "frames", fs.in.Frames())
		} else if errors.Is(err, fstrm.ErrMissingStop) {
			// Nothing lost: the writer did not finish (a capture cut
			// short between frames).
			fs.log.Warn("stream ended without STOP", "input", fs.in.Name, "frames", fs.in.Frames())
		} else if err != io.EOF {
			fs.fail(fmt.Errorf("%s: %w", fs.in.Name, err))
		}
		fs.setInput(nil)
		fs.in.Close()
		fs.in = nil
		fs.seen = 0
	}
}

// Skipped is the number of bytes the inputs skipped to find their place
// again after framing errors (fstrm.ReaderOptions.Continue). It may be
// called from any goroutine, as a metric's.
func (fs *Frames) Skipped() int64 { return fs.skip.Load() }

func (fs *Frames) fail(err error) {
	fs.log.Error("input", "err", err)
	fs.bad = append(fs.bad, err)
}

// Buffered reports whether Next can return without waiting for input.
// Control frames do not count: after a sync point or STOP, Next would
// wait.
func (fs *Frames) Buffered() bool { return fs.in != nil && fs.in.DataBuffered() }

// Err returns an error of kind fault.Input if any input could not be
// read whole.
func (fs *Frames) Err() error {
	switch len(fs.bad) {
	case 0:
		return nil
	case 1:
		return fault.New(fault.Input, fs.bad[0])
	}
	return fault.Errorf(fault.Input, "%d inputs could not be read whole: %w", len(fs.bad), errors.Join(fs.bad...))
}

// Close closes the input being read.
func (fs *Frames) Close() error {
	if fs.in != nil {
		return fs.in.Close()
	}
	return nil
}

// ContentType is the content type of the input the last frame came from.
func (fs *Frames) ContentType() string {
	if fs.in == nil {
		return ""
	}
	return fs.in.ContentType()
}
