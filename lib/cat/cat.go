// Package cat is tapir-cat: it prints tapir streams, dnstap or tapir
// records, for people (the one-line format of dnstap -q) and for scripts
// (JSON, YAML, counts), keeping only the messages that a Filter selects.
package cat

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

// RecordType is the content type of a stream of tapir records.
const RecordType = "json:tapir.Record"

// ContentTypes are the content types a Printer reads, for
// fstrm.ReaderOptions. A stream that declares none is read as dnstap.
var ContentTypes = []string{dnstap.ContentType, RecordType}

// Format is an output format.
type Format int

// Output formats.
const (
	// Text is one line per message: for dnstap the line of dnstap -q,
	// for a record its JSON.
	Text Format = iota
	// JSON is one JSON object per line per message.
	JSON
	// YAML is one YAML document per message.
	YAML
)

// Options say what a Printer prints.
type Options struct {
	Format Format
	// Time is the time format of the Text output of dnstap.
	Time TimeFormat
	// Location is the time zone of TimeDnstap; nil means time.Local, as
	// in dnstap -q.
	Location *time.Location
	// Count prints only the number of messages that match, at Close.
	Count  bool
	Filter Filter
	// RPZ, when set, prints instead how many messages each rule of the
	// zone would have matched, at Close.
	RPZ *RPZ
}

// maxReported bounds the bad frames of one input that are logged one by
// one; the rest are counted in one line.
const maxReported = 10

// Printer prints the frames of tapir streams to a writer, buffered.
//
// Print, PrintInput, Flush and Close are called from one goroutine.
// Interrupt may be called from another, to print what is held and stop.
type Printer struct {
	opts  Options
	match *matcher // nil without filters
	frame dnstap.Frame
	q     quiet
	line  []byte

	mu     sync.Mutex // guards w and closed
	w      *bufio.Writer
	closed bool

	matched atomic.Int64
	frames  atomic.Int64 // data frames read
	bad     atomic.Int64 // frames that could not be decoded
}

// NewPrinter returns a Printer that writes to w.
func NewPrinter(w io.Writer, o Options) *Printer {
	p := &Printer{
		opts: o,
		q:    quiet{loc: o.Location, tf: o.Time},
		w:    bufio.NewWriterSize(w, 64<<10),
		line: make([]byte, 0, 4096),
	}
	if !o.Filter.IsZero() {
		p.match = newMatcher(&o.Filter)
	}
	return p
}

// Matched is the number of messages that matched so far.
func (p *Printer) Matched() int64 { return p.matched.Load() }

// Bad is the number of frames that could not be decoded so far.
func (p *Printer) Bad() int64 { return p.bad.Load() }

// Frames is the number of data frames read so far.
func (p *Printer) Frames() int64 { return p.frames.Load() }

// WriteError is the error of a failed write to the output, which ends
// printing, unlike an error in one input.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "write output: " + e.Err.Error() }

// Unwrap returns the write's error.
func (e *WriteError) Unwrap() error { return e.Err }

// Print prints the matching messages of the stream r, read to its end;
// name names it in messages. A frame that cannot be decoded is logged
// and counted (see Bad), and printing goes on with the next. Print
// returns an error, wrapping the *fstrm.Error that says where, if the
// stream could not be read to its end, after printing the frames before
// that point; or a *WriteError.
func (p *Printer) Print(r *fstrm.Reader, name string) error {
	if p.opts.Count && p.match == nil {
		return p.count(r, name)
	}
	records := r.ContentType() == RecordType
	bad := int64(0)
	defer func() {
		if bad > maxReported {
			slog.Error(fmt.Sprintf("%s: %d frames could not be decoded", name, bad))
		}
	}()
	for {
		if r.Buffered() == 0 && !p.opts.Count {
			// The next read may wait for a live stream: show what
			// came so far.
			if err := p.Flush(); err != nil {
				return err
			}
		}
		b, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			if err := p.Flush(); err != nil {
				return err
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		p.frames.Add(1)
		if records {
			err = p.record(b)
		} else {
			err = p.dnstap(b)
		}
		if err == nil {
			continue
		}
		if _, ok := err.(*WriteError); ok {
			return err
		}
		p.bad.Add(1)
		if bad++; bad <= maxReported {
			if err := p.Flush(); err != nil {
				return err
			}
			off := r.Offset() - 4 - int64(len(b))
			slog.Error(fmt.Sprintf("%s: frame %d at byte %d: %v", name, r.Frames(), off, err))
		}
	}
}

// count counts frames without decoding them.
func (p *Printer) count(r *fstrm.Reader, name string) error {
	for {
		if _, err := r.Next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		p.frames.Add(1)
		p.matched.Add(1)
	}
}

// dnstap handles one dnstap frame.
func (p *Printer) dnstap(b []byte) error {
	f := &p.frame
	if err := f.Unmarshal(b); err != nil {
		return err
	}
	if p.match != nil && !p.match.frame(f) {
		return nil
	}
	if p.opts.RPZ != nil {
		if p.opts.RPZ.count(f) {
			p.matched.Add(1)
		}
		return nil
	}
	p.matched.Add(1)
	if p.opts.Count {
		return nil
	}
	switch p.opts.Format {
	case JSON:
		p.line = append(appendJSON(p.line[:0], frameObject(f)), '\n')
	case YAML:
		p.line = appendYAMLDoc(p.line[:0], frameObject(f))
	default:
		p.line = p.q.appendQuiet(p.line[:0], f)
	}
	return p.write(p.line)
}

// record handles one tapir record frame.
func (p *Printer) record(b []byte) error {
	line, err := appendRecord(p.line[:0], b)
	if err != nil {
		return err
	}
	p.line = line
	if p.match != nil && !p.match.record(b) {
		return nil
	}
	p.matched.Add(1)
	if p.opts.Count {
		return nil
	}
	if p.opts.Format == YAML {
		v, err := parseJSON(b)
		if err != nil {
			return err // not reached: appendRecord checked it
		}
		p.line = appendYAMLDoc(p.line[:0], v)
	}
	return p.write(p.line)
}

func (p *Printer) write(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.Write(b); err != nil {
		return &WriteError{err}
	}
	return nil
}

// Flush writes out what is buffered, but not the count that Close writes:
// for a caller that stops early, when a count would be short.
func (p *Printer) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.w.Flush(); err != nil {
		return &WriteError{err}
	}
	return nil
}

// Close writes the count, if counting, and flushes the output.
func (p *Printer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.finish()
}

func (p *Printer) finish() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if p.opts.Count {
		p.w.Write(strconv.AppendInt(nil, p.matched.Load(), 10))
		p.w.WriteByte('\n')
	}
	if p.opts.RPZ != nil {
		p.opts.RPZ.report(p.w)
	}
	if err := p.w.Flush(); err != nil {
		return &WriteError{err}
	}
	return nil
}

// Interrupt is Close for another goroutine, on a signal: it waits for the
// message being printed, writes out what is buffered (and the count so
// far), and leaves the Printer locked, so that nothing more is printed;
// the caller then exits. It reports false, and does nothing, if Close
// has already run.
func (p *Printer) Interrupt() (bool, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false, nil
	}
	return true, p.finish()
}
