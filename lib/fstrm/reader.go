package fstrm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
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
}

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
	c, err := r.control()
	if errors.Is(err, io.EOF) {
		return r.fail(fmt.Errorf("%w: empty stream", ErrNoStart))
	}
	if err != nil {
		return r.fail(err)
	}
	if c != ControlStart {
		return r.fail(fmt.Errorf("%w: %v", ErrNoStart, c))
	}
	return nil
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
		if typ == ControlStart && r.stopped && match != r.ct {
			return 0, fmt.Errorf("%w: concatenated stream of %q after %q", ErrContentType, match, r.ct)
		}
		if typ == ControlReady || !r.stopped {
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
// wrapping ErrTruncated; the Reader is not usable after an error.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	for {
		if err := r.need(4); err != nil {
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
		m, err := r.r.Read(r.buf[r.end:])
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
			if r.stillGoing(err) {
				continue
			}
			return err
		}
	}
	return nil
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
