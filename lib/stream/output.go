package stream

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

// Output is the stream a tool writes: stdout or the -w file, encoded as
// the flags say. It is safe for use by one goroutine at a time, except
// Reopen, which the caller serialises with writes.
//
// When the output is a FIFO named with -w, not compressed or encrypted, Flush
// and FlushFrames first write a sync point (fstrm.Writer.Sync: STOP, then
// START) if frames were written since the last one and it is
// SyncInterval ago: the next stage, if it died mid-frame, or if this
// process dies mid-frame, finds its place again there. An idle pipe
// carries nothing.
type Output struct {
	*fstrm.Writer
	path string
	opts WriterOptions
	f    *os.File
	enc  io.WriteCloser

	sync     bool      // write sync points
	synced   int64     // Writer.Frames at the last sync point
	syncedAt time.Time // when it was written
}

// SyncInterval is the least time between an Output's sync points.
const SyncInterval = time.Second

// Create opens the output at path (stdout for "" or "-") for a stream of
// content type ct, encoded as opts say. It refuses to write a binary
// stream to a terminal (an error of kind fault.Config).
func Create(path, ct string, opts WriterOptions) (*Output, error) {
	o := &Output{path: path, opts: opts}
	if err := o.open(os.O_TRUNC); err != nil {
		return nil, err
	}
	o.Writer = fstrm.NewWriter(o.enc, ct)
	o.synced, o.syncedAt = 0, time.Now()
	return o, nil
}

// open opens the output; flag is os.O_TRUNC at start, and os.O_APPEND on
// SIGHUP, so that a file that was not moved away first keeps what it has.
func (o *Output) open(flag int) error {
	if o.path == "" || o.path == "-" {
		if term.IsTerminal(int(os.Stdout.Fd())) {
			return fault.Errorf(fault.Config, "refusing to write a binary stream to a terminal: redirect stdout or use -w FILE")
		}
		o.f = os.Stdout
	} else {
		f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_CREATE|flag, 0o644)
		if err != nil {
			return err
		}
		o.f = f
	}
	enc, err := NewWriter(o.f, o.opts)
	if err != nil {
		return err
	}
	o.enc = enc
	fi, err := o.f.Stat()
	// Only a FIFO named with -w, as the units' stages write: a shell pipe
	// on stdout may feed a reader that ends at the first STOP (dnstap -r).
	o.sync = err == nil && o.f != os.Stdout && fi.Mode()&os.ModeNamedPipe != 0 && !o.opts.Zstd && len(o.opts.Recipients) == 0
	return nil
}

// syncPoint writes a sync point when one is due (see Output).
func (o *Output) syncPoint() {
	if !o.sync || o.Writer.Frames() == o.synced {
		return
	}
	if now := time.Now(); now.Sub(o.syncedAt) >= SyncInterval {
		o.Writer.Sync()
		o.synced, o.syncedAt = o.Writer.Frames(), now
	}
}

// Flush writes out what is buffered, through the compressor.
func (o *Output) Flush() error {
	o.syncPoint()
	if err := o.Writer.Flush(); err != nil {
		return err
	}
	return Flush(o.enc)
}

// Reopen ends the stream in the current file (STOP) and starts a new one
// in a file opened anew at the same path, as logrotate expects on SIGHUP.
// If the file was not moved away, the new stream follows the old one in it
// (tapir tools read such a file whole). On stdout it only flushes.
func (o *Output) Reopen() error {
	if o.f == os.Stdout {
		return o.Flush()
	}
	if err := o.finish(); err != nil {
		return err
	}
	if err := o.open(os.O_APPEND); err != nil {
		return err
	}
	o.Writer.Reset(o.enc)
	o.synced, o.syncedAt = o.Writer.Frames(), time.Now()
	return nil
}

func (o *Output) finish() error {
	err := o.Writer.Close()
	if e := o.enc.Close(); err == nil {
		err = e
	}
	if o.f != os.Stdout {
		if e := o.f.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Close ends the stream (STOP), finishes the encodings and closes the file.
func (o *Output) Close() error {
	if err := o.finish(); err != nil {
		return fmt.Errorf("close output: %w", err)
	}
	return nil
}

// FlushFrames writes buffered frames on to the encoder or file without
// ending a compressed block.
// It writes a sync point when one is due (see Output).
func (o *Output) FlushFrames() error {
	o.syncPoint()
	return o.Writer.Flush()
}
