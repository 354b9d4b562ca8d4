package fstrm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxFrameSize bounds a data frame when ReaderOptions does not. It is
// far above any dnstap frame (two DNS messages of at most 64 KiB) and keeps
// a bad length from a broken peer from costing more than this in memory.
const DefaultMaxFrameSize = 1 << 20

// Errors a Reader reports, wrapped in an *Error that says where.
var (
	ErrTruncated     = errors.New("truncated")
	ErrFrameTooLarge = errors.New("frame too large")
	ErrContentType   = errors.New("wrong content type")
	ErrNoStart       = errors.New("stream does not begin with START")
	ErrUnexpected    = errors.New("unexpected control frame")
	// ErrMissingStop reports a stream that ended at a frame boundary
	// without STOP: nothing was lost in it, but its writer did not finish.
	ErrMissingStop = errors.New("stream ended without STOP")
)

// Error is an error in a stream, with its position: the number of the data
// frame being read (counting from 1) and the byte offset of its start.
type Error struct {
	Frame  int64
	Offset int64
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("frame %d at byte %d: %v", e.Frame, e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// DefaultStopWait is how long, after Stop, a Reader waits for the rest of
// a frame it has begun to read, when ReaderOptions does not say.
const DefaultStopWait = 5 * time.Second

// ReaderOptions tune a Reader. The zero value is usable.
type ReaderOptions struct {
	// ContentTypes lists the content types the caller reads; a stream of
	// another type is refused with ErrContentType. Empty accepts any.
	ContentTypes []string
	// MaxFrameSize bounds data frames; 0 means DefaultMaxFrameSize.
	MaxFrameSize int
	// Bidirectional makes the reader the receiving end of a socket: it
	// expects READY, answers ACCEPT, and answers STOP with FINISH.
	Bidirectional bool
	// Timeout, with Bidirectional, bounds the handshake and any frame
	// that has begun to arrive, so that a peer that stalls mid-frame or
	// mid-handshake is cut off. An idle peer between frames is not.
	// The connection must have SetReadDeadline.
	Timeout time.Duration
	// Continue reads a stream that this process may join midway: a FIFO
	// that outlives its readers and writers, as systemd holds the FIFOs
	// between the stages of the pipeline (ListenFIFO=). The stream may
	// begin with data frames, or with STOP, when ContentTypes names
	// exactly one type, which it is then taken to be: a reader before
	// this one consumed START. And START may follow data frames without
	// STOP, when the writer restarted after a crash; its content type is
	// checked as that of a concatenated stream is. Data after STOP stays
	// an error: no writer starts without START. Files must not be read
	// so, or a stream cut at its start would pass unnoticed.
	Continue bool
	// Log, with Continue, notes a stream joined midway and a writer that
	// restarted without STOP. Nil notes nothing.
	Log *slog.Logger
	// StopWait bounds how long, after Stop, the Reader waits for the rest
	// of a frame it has begun to read; 0 means DefaultStopWait.
	StopWait time.Duration
}

type deadliner interface {
	SetReadDeadline(time.Time) error
}

// Reader reads data frames from a Frame Streams stream.
type Reader struct {
	r    io.Reader
	w    io.Writer // for ACCEPT and FINISH, when bidirectional
	dl   deadliner // for Timeout, when the connection has deadlines
	opts ReaderOptions
	max  int

	buf         []byte
	start, end  int
	offset      int64 // stream offset of buf[start]
	frames      int64
	ct          string
	handshaking bool
	armed       bool  // a read deadline is set
	mark        int64 // stream offset read when it was set
	stopped     bool
	err         error
	ctScratch   []byte // the refused content type, for the error

	halt      atomic.Bool // Stop was called
	haltMu    sync.Mutex  // orders Stop's deadline before finish's
	sdl       deadliner   // to interrupt a read on Stop, if r has deadlines
	finishing bool        // reading only the rest of a frame, after Stop
}

// errStopped is need's report of a Stop that took effect at a frame
// boundary; Next returns io.EOF for it.
var errStopped = errors.New("stopped")

const initialBuffer = 64 << 10

// NewReader reads the opening of a stream from r (START, or READY then
// START when bidirectional) and returns a Reader positioned at the first
// data frame.
func NewReader(r io.ReadWriter, opts ReaderOptions) (*Reader, error) {
	rd := newReader(r, opts)
	if opts.Bidirectional {
		rd.w = r
	}
	if err := rd.open(); err != nil {
		return nil, err
	}
	return rd, nil
}

// NewFileReader is NewReader for a unidirectional stream: a file or pipe.
func NewFileReader(r io.Reader, opts ReaderOptions) (*Reader, error) {
	opts.Bidirectional = false
	rd := newReader(r, opts)
	if err := rd.open(); err != nil {
		return nil, err
	}
	return rd, nil
}

func newReader(r io.Reader, opts ReaderOptions) *Reader {
	rd := &Reader{r: r, opts: opts, max: opts.MaxFrameSize}
	if rd.max <= 0 {
		rd.max = DefaultMaxFrameSize
	}
	size := min(initialBuffer, rd.max+8)
	rd.buf = make([]byte, max(size, 8+MaxControlSize))
	if opts.Timeout > 0 {
		rd.dl, _ = r.(deadliner)
	}
	rd.sdl, _ = r.(deadliner)
	return rd
}

// ContentType is the content type the stream declared in START ("" when it
// declared none).
func (r *Reader) ContentType() string { return r.ct }

// Frames is the number of data frames read so far.
func (r *Reader) Frames() int64 { return r.frames }

// SetMaxFrameSize changes the bound on data frames, once the content type
// is known: records may be far larger than dnstap frames.
func (r *Reader) SetMaxFrameSize(n int) {
	if n > 0 {
		r.max = n
	}
}

// Buffered is the number of bytes read from the connection and not yet
// returned as frames. When it is zero, the next Next will block on a read:
// a caller that batches frames hands its batch on then.
func (r *Reader) Buffered() int { return r.end - r.start }

// Offset is the number of bytes of the stream consumed so far.
func (r *Reader) Offset() int64 { return r.offset }

func (r *Reader) fail(err error) error {
	if _, ok := err.(*Error); !ok {
		err = &Error{Frame: r.frames + 1, Offset: r.offset, Err: err}
	}
	r.err = err
	return err
}

func (r *Reader) open() error {
	r.handshaking = true
	defer func() { r.handshaking = false }()
	if r.opts.Bidirectional {
		c, err := r.control()
		if err != nil {
			return r.fail(err)
		}
		if c != ControlReady {
			return r.fail(fmt.Errorf("%w: %v, want READY", ErrUnexpected, c))
		}
		if err := r.write(ControlAccept, r.ct); err != nil {
			return r.fail(fmt.Errorf("write ACCEPT: %w", err))
		}
	}
	joinable := r.opts.Continue && !r.opts.Bidirectional && len(r.opts.ContentTypes) == 1
	if joinable {
		if err := r.need(4); err == nil && binary.BigEndian.Uint32(r.buf[r.start:]) != 0 {
			r.join("a data frame")
			return nil
		}
	}
	c, err := r.control()
	if errors.Is(err, io.EOF) {
		return r.fail(fmt.Errorf("%w: empty stream", ErrNoStart))
	}
	if err != nil {
		return r.fail(err)
	}
	if c == ControlStop && joinable {
		// The writer finished the stream before this process came:
		// START follows, or nothing.
		r.join("STOP")
		r.stopped = true
		return nil
	}
	if c != ControlStart {
		return r.fail(fmt.Errorf("%w: %v", ErrNoStart, c))
	}
	return nil
}

// join takes the stream, which begins with what, to be one begun before
// this process, of the one content type the caller reads.
func (r *Reader) join(what string) {
	r.ct = r.opts.ContentTypes[0]
	if r.opts.Log != nil {
		r.opts.Log.Info("continuing a stream begun before this process", "first", what, "content_type", r.ct)
	}
}

// control reads one control frame and records its content type, which it
// checks against the options.
func (r *Reader) control() (ControlType, error) {
	if err := r.need(8); err != nil {
		return 0, err
	}
	if binary.BigEndian.Uint32(r.buf[r.start:]) != 0 {
		return 0, fmt.Errorf("%w: a data frame", ErrNoStart)
	}
	return r.controlBody()
}

// controlBody reads a control frame whose escape is at r.start.
func (r *Reader) controlBody() (ControlType, error) {
	if err := r.need(8); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(r.buf[r.start+4:])
	if n > MaxControlSize {
		return 0, fmt.Errorf("%w: control frame of %d bytes, more than %d", ErrBadControl, n, MaxControlSize)
	}
	if err := r.need(8 + int(n)); err != nil {
		return 0, err
	}
	var typ ControlType
	r.ctScratch = r.ctScratch[:0]
	offered, matched := false, false
	match := ""
	err := parseControl(r.buf[r.start+8:r.start+8+int(n)], func(t ControlType) { typ = t }, func(ct []byte) {
		offered = true
		if matched {
			return
		}
		if len(r.opts.ContentTypes) == 0 || slices.Contains(r.opts.ContentTypes, string(ct)) {
			matched = true
			match = string(ct)
		} else if len(r.ctScratch) == 0 {
			r.ctScratch = append(r.ctScratch[:0], ct...)
		}
	})
	if err != nil {
		return 0, err
	}
	if typ == ControlStart || typ == ControlReady {
		// A stream that declares no content type is taken to be what the
		// caller reads: some writers omit it.
		if offered && !matched {
			return 0, fmt.Errorf("%w: %q, want %s", ErrContentType, r.ctScratch, wantList(r.opts.ContentTypes))
		}
		if typ == ControlStart && !r.handshaking && (r.stopped || r.opts.Continue) && match != r.ct {
			return 0, fmt.Errorf("%w: concatenated stream of %q after %q", ErrContentType, match, r.ct)
		}
		if r.handshaking {
			r.ct = match
		}
	}
	r.consume(8 + int(n))
	return typ, nil
}

func wantList(cts []string) string {
	s := ""
	for i, ct := range cts {
		if i > 0 {
			s += " or "
		}
		s += fmt.Sprintf("%q", ct)
	}
	return s
}

func (r *Reader) write(t ControlType, ct string) error {
	var cts []string
	if ct != "" {
		cts = []string{ct}
	}
	b := AppendControl(make([]byte, 0, 16+len(ct)), Control{Type: t, ContentTypes: cts})
	_, err := r.w.Write(b)
	return err
}

func (r *Reader) consume(n int) {
	r.start += n
	r.offset += int64(n)
}

// Next returns the next data frame. The slice is valid until the next call.
// At the end of the stream it returns io.EOF; if the stream ended without
// STOP, an *Error wrapping ErrMissingStop. A frame cut short is an *Error
// wrapping ErrTruncated; the Reader is not usable after an error. After
// Stop it returns io.EOF at the first frame boundary where it would read.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	for {
		if err := r.need(4); err != nil {
			if err == errStopped {
				r.err = io.EOF
				return nil, io.EOF
			}
			if errors.Is(err, io.EOF) {
				if r.stopped {
					r.err = io.EOF
					return nil, io.EOF
				}
				return nil, r.fail(ErrMissingStop)
			}
			return nil, r.fail(err)
		}
		n := binary.BigEndian.Uint32(r.buf[r.start:])
		if n != 0 {
			if r.stopped {
				return nil, r.fail(fmt.Errorf("%w: data after STOP", ErrUnexpected))
			}
			if uint64(n) > uint64(r.max) {
				return nil, r.fail(fmt.Errorf("%w: %d bytes, more than %d", ErrFrameTooLarge, n, r.max))
			}
			if err := r.need(4 + int(n)); err != nil {
				return nil, r.fail(err)
			}
			f := r.buf[r.start+4 : r.start+4+int(n)]
			r.consume(4 + int(n))
			r.frames++
			return f, nil
		}
		t, err := r.controlBody()
		if err != nil {
			return nil, r.fail(err)
		}
		switch {
		case t == ControlStop && !r.stopped:
			r.stopped = true
			if r.opts.Bidirectional {
				if err := r.write(ControlFinish, ""); err != nil {
					return nil, r.fail(fmt.Errorf("write FINISH: %w", err))
				}
				r.err = io.EOF
				return nil, io.EOF
			}
		case t == ControlStart && r.stopped && !r.opts.Bidirectional:
			// Another stream follows, as in files joined with cat.
			r.stopped = false
		case t == ControlStart && r.opts.Continue && !r.opts.Bidirectional:
			// The writer died and a new one began: what it had
			// written whole was read; a frame it left cut short
			// would have failed above.
			if r.opts.Log != nil {
				r.opts.Log.Warn("the writer restarted without STOP: a new stream follows", "frame", r.frames+1, "offset", r.offset)
			}
		default:
			return nil, r.fail(fmt.Errorf("%w: %v", ErrUnexpected, t))
		}
	}
}

// need makes at least n bytes available at buf[start:]. At a clean end of
// input with nothing buffered it returns io.EOF, else ErrTruncated.
func (r *Reader) need(n int) error {
	if r.end-r.start >= n {
		return nil
	}
	if r.start+n > len(r.buf) {
		if n > len(r.buf) {
			// Grow to the frame, bounded by max; doubling keeps a run
			// of growing frames from copying each time.
			nb := make([]byte, max(n, min(2*len(r.buf), r.max+8)))
			r.end = copy(nb, r.buf[r.start:r.end])
			r.buf = nb
		} else {
			r.end = copy(r.buf, r.buf[r.start:r.end])
		}
		r.start = 0
	}
	r.arm()
	for r.end-r.start < n {
		buf := r.buf[r.end:]
		if r.halt.Load() {
			// Stopping: at a frame boundary, read nothing more; in a
			// frame, read only its rest, so that the next reader of
			// the input starts at a frame.
			if r.end == r.start {
				return errStopped
			}
			if !r.finishing {
				r.finish()
			}
			buf = r.buf[r.end : r.start+n]
		}
		m, err := r.r.Read(buf)
		r.end += m
		if err != nil {
			if r.end-r.start >= n {
				return nil
			}
			if errors.Is(err, io.EOF) {
				if r.end == r.start {
					return io.EOF
				}
				return fmt.Errorf("%w: %d of %d bytes", ErrTruncated, r.end-r.start, n)
			}
			if r.halt.Load() && isTimeout(err) {
				if r.end == r.start {
					return errStopped
				}
				if !r.finishing {
					continue // Stop's own deadline: finish the frame
				}
				return fmt.Errorf("%w: stopped with %d of %d bytes, the rest not come in %v", ErrTruncated, r.end-r.start, n, r.stopWait())
			}
			if r.stillGoing(err) {
				continue
			}
			return err
		}
	}
	return nil
}

// Stop makes the Reader end at a frame boundary, leaving its input where
// the next reader can begin: Next returns the frames already buffered,
// completes a frame it has begun by reading only the bytes it lacks
// (waiting up to StopWait for them), and then returns io.EOF. Stop may be
// called from another goroutine. A read blocked on an input with read
// deadlines (an os.File of a pipe or FIFO, a network connection) returns
// at once; on other inputs Stop takes effect at the next read. With
// Timeout, Stop's interruption may be lost to the timeout's deadline.
func (r *Reader) Stop() {
	r.haltMu.Lock()
	defer r.haltMu.Unlock()
	r.halt.Store(true)
	if r.sdl != nil {
		r.sdl.SetReadDeadline(time.Now())
	}
}

// finish replaces Stop's deadline with one that leaves time for the rest
// of a frame. Stop sets its deadline under haltMu before a reader can see
// halt, so this one comes after it.
func (r *Reader) finish() {
	r.haltMu.Lock()
	defer r.haltMu.Unlock()
	r.finishing = true
	if r.sdl != nil {
		r.sdl.SetReadDeadline(time.Now().Add(r.stopWait()))
	}
}

func (r *Reader) stopWait() time.Duration {
	if r.opts.StopWait > 0 {
		return r.opts.StopWait
	}
	return DefaultStopWait
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// arm sets the timeout when the handshake or a frame is under way and
// none is set. Deadlines are set lazily, not around every read, since a
// busy peer sends many small writes: a deadline that expires between
// frames, or after progress, is not a stall (see stillGoing).
func (r *Reader) arm() {
	if r.dl == nil || r.armed || !r.handshaking && r.end == r.start {
		return
	}
	r.dl.SetReadDeadline(time.Now().Add(r.opts.Timeout))
	r.armed = true
	r.mark = r.offset + int64(r.end-r.start)
}

// stillGoing reports whether a read error is an expired deadline that is
// no stall: the peer was idle between frames, or made progress since the
// deadline was set. It disarms or re-arms the deadline accordingly.
func (r *Reader) stillGoing(err error) bool {
	var ne net.Error
	if r.dl == nil || !r.armed || !errors.As(err, &ne) || !ne.Timeout() {
		return false
	}
	r.armed = false
	switch {
	case r.handshaking:
		return false
	case r.end == r.start:
		r.dl.SetReadDeadline(time.Time{})
		return true
	case r.offset+int64(r.end-r.start) > r.mark:
		r.arm()
		return true
	}
	return false
}
