package fstrm

import (
	"bytes"
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
	// ErrTorn and ErrImplausible are causes of a resynchronisation under
	// ReaderOptions.Continue (see there): a frame that holds a new
	// stream's START, and a first frame after joining that fails the
	// checks. Next returns ErrImplausible only when the input ends before
	// the next START.
	ErrTorn        = errors.New("frame cut short by a new stream")
	ErrImplausible = errors.New("implausible first frame after joining")
)

// MaxJoinFrameSize bounds the first data frame of a stream joined midway
// (ReaderOptions.Continue), or ReaderOptions.MaxFrameSize if that is less:
// a larger length there is taken for the reader being misaligned. A
// larger frame that really was first is lost, with what follows it up to
// the next START.
const MaxJoinFrameSize = 1 << 20

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
	// checked as that of a concatenated stream is. Files must not be
	// read so, or a stream cut at its start would pass unnoticed.
	//
	// Continue also resynchronises after a crash: a reader killed
	// mid-frame leaves the FIFO in the middle of one, and a writer killed
	// mid-frame leaves part of a frame before the next writer's START. On
	// a framing error (a length over MaxFrameSize, a malformed control
	// frame, a control frame other than START or STOP, data after STOP)
	// the Reader does not fail: it discards the input up to the next
	// START of its content type (a writer to a FIFO writes STOP and START
	// each second that it writes, see Writer.Sync), logs what it skipped,
	// counts it (Skipped), and reads on from there. Only when the input
	// ends before such a START is the error returned. A START of another
	// content type stays an error. To catch a misaligned join, the first
	// data frame after joining must be at most MaxJoinFrameSize and pass
	// Plausible. And a data frame that holds a START of the content type
	// is taken to be cut short by a new stream if it fails Plausible (or
	// there is none, or the frame is over MaxJoinFrameSize: then it is
	// watched as it arrives): the bytes before that START are discarded.
	Continue bool
	// Plausible, with Continue, says whether a frame can be one of the
	// content type read (see Continue). Nil takes any frame to be.
	Plausible func(frame []byte) bool
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

	cont    bool   // Continue, on a unidirectional stream: resynchronise
	pat     []byte // START of the content type, for resynchronising
	joined  bool   // the next data frame is the first after a join
	skipped int64  // bytes discarded resynchronising
	back    int    // bytes of the last data frame before buf[start], for resync
	backAt  int64  // the offset where that frame ended

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
	rd.cont = opts.Continue && !opts.Bidirectional
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

// DataBuffered reports whether a data frame has begun to arrive in the
// buffer, after any whole control frames there: whether the next Next
// has a frame to return without waiting for more than its rest. A caller
// that batches frames asks this rather than Buffered, so that control
// frames at the end of what came (a writer's sync point, STOP) do not
// hold a batch back.
func (r *Reader) DataBuffered() bool {
	for i := r.start; r.end-i >= 4; {
		if binary.BigEndian.Uint32(r.buf[i:]) != 0 {
			return true
		}
		if r.end-i < 8 {
			return false
		}
		i += 8 + int(binary.BigEndian.Uint32(r.buf[i+4:]))
	}
	return false
}

// Offset is the number of bytes of the stream consumed so far.
func (r *Reader) Offset() int64 { return r.offset }

// Skipped is the number of bytes discarded, under Continue, to get back to
// a frame boundary after framing errors. Like Next, it is for one
// goroutine at a time.
func (r *Reader) Skipped() int64 { return r.skipped }

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
	joinable := r.cont && len(r.opts.ContentTypes) == 1
	if joinable {
		if err := r.need(4); err == nil && binary.BigEndian.Uint32(r.buf[r.start:]) != 0 {
			r.join("a data frame")
			r.joined = true
			return nil
		}
	}
	at := r.offset
	c, err := r.control()
	if errors.Is(err, io.EOF) {
		return r.fail(fmt.Errorf("%w: empty stream", ErrNoStart))
	}
	if err != nil {
		if joinable && errors.Is(err, ErrBadControl) {
			// Joined in the middle of a frame, at zero bytes.
			r.join("a malformed control frame")
			r.handshaking = false
			return r.resync(r.at(err))
		}
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
		err := fmt.Errorf("%w: %v", ErrNoStart, c)
		if joinable {
			r.join(c.String())
			r.handshaking = false
			return r.resync(&Error{Frame: 1, Offset: at, Err: err})
		}
		return r.fail(err)
	}
	if r.cont {
		r.pattern()
	}
	return nil
}

// pattern builds the START that resynchronising looks for.
func (r *Reader) pattern() []byte {
	if r.pat == nil {
		var cts []string
		if r.ct != "" {
			cts = []string{r.ct}
		}
		r.pat = AppendControl(nil, Control{Type: ControlStart, ContentTypes: cts})
	}
	return r.pat
}

// at is err with the position of the frame about to be read.
func (r *Reader) at(err error) *Error {
	return &Error{Frame: r.frames + 1, Offset: r.offset, Err: err}
}

// join takes the stream, which begins with what, to be one begun before
// this process, of the one content type the caller reads.
func (r *Reader) join(what string) {
	r.ct = r.opts.ContentTypes[0]
	r.pattern()
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
		if n != 0 && r.cont {
			f, err := r.dataContinue(int64(n))
			if f == nil && err == nil {
				continue // resynchronised at START
			}
			return f, err
		}
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
		at := r.offset
		t, err := r.controlBody()
		if err != nil {
			if r.cont && errors.Is(err, ErrBadControl) {
				if err := r.resync(r.at(err)); err != nil {
					return nil, err
				}
				continue
			}
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
			err := fmt.Errorf("%w: %v", ErrUnexpected, t)
			if r.cont {
				// Consumed: resynchronising looks past it.
				if err := r.resync(&Error{Frame: r.frames + 1, Offset: at, Err: err}); err != nil {
					return nil, err
				}
				continue
			}
			return nil, r.fail(err)
		}
	}
}

// dataContinue reads a data frame of n bytes, its length at buf[start],
// under Continue: it resynchronises (returning nil, nil) where a strict
// reader fails, and where the frame is misaligned or torn (see
// ReaderOptions.Continue).
func (r *Reader) dataContinue(n int64) ([]byte, error) {
	var cause error
	bound := int64(min(r.max, MaxJoinFrameSize))
	switch {
	case r.stopped:
		cause = fmt.Errorf("%w: data after STOP", ErrUnexpected)
	case n > int64(r.max):
		cause = fmt.Errorf("%w: %d bytes, more than %d", ErrFrameTooLarge, n, r.max)
	case r.joined && n > bound:
		cause = fmt.Errorf("%w: %d bytes, more than %d", ErrImplausible, n, bound)
	}
	if cause != nil {
		return nil, r.resync(r.at(cause))
	}
	torn := -1
	if n <= bound {
		if err := r.need(4 + int(n)); err != nil {
			return nil, r.fail(err)
		}
		// A START that begins in the frame, though it may end past it,
		// as far as the input has come.
		pat := r.pattern()
		if i := index(r.buf[r.start+4:min(r.end, r.start+4+int(n)+len(pat)-1)], pat); i < int(n) {
			torn = i
		}
	} else {
		var err error
		if torn, err = r.watch(int(n)); err != nil {
			return nil, r.fail(err)
		}
	}
	plausible := func(f []byte) bool { return r.opts.Plausible == nil || r.opts.Plausible(f) }
	if torn >= 0 && (n > bound || !plausible(r.buf[r.start+4:r.start+4+int(n)])) {
		return nil, r.resync(r.at(fmt.Errorf("%w: START at byte %d of a frame of %d", ErrTorn, torn, n)))
	}
	f := r.buf[r.start+4 : r.start+4+int(n)]
	if r.joined {
		if r.opts.Plausible != nil && !r.opts.Plausible(f) {
			return nil, r.resync(r.at(fmt.Errorf("%w: %d bytes that do not pass", ErrImplausible, n)))
		}
		r.joined = false
	}
	r.consume(4 + int(n))
	r.frames++
	r.back, r.backAt = min(int(n), len(r.pat)-1), r.offset
	return f, nil
}

// watch reads a data frame of n bytes, its length at buf[start], watching
// what arrives for START: it returns where in the frame START is as soon
// as it is seen, or -1 with the frame read whole.
func (r *Reader) watch(n int) (int, error) {
	searched := 0
	for {
		have := min(r.end-r.start-4, n)
		if have > searched {
			from := max(0, searched-len(r.pat)+1)
			if i := index(r.buf[r.start+4+from:r.start+4+have], r.pat); i >= 0 {
				return from + i, nil
			}
			searched = have
		}
		if have == n {
			return -1, nil
		}
		want := 4 + have + 1 // whatever has come
		if r.halt.Load() {
			want = 4 + n // stopping: the rest, and no more
		}
		if err := r.need(want); err != nil {
			return -1, err
		}
	}
}

// index is bytes.Index(b, pat) for a START pattern. It looks for the
// content type, whose bytes are rarer than the zeros before it, which
// frames hold many of.
func index(b, pat []byte) int {
	const head = 20 // escape, length, type, field type and length
	if len(pat) < head+4 {
		return bytes.Index(b, pat)
	}
	for i := head; i+len(pat)-head <= len(b); {
		j := bytes.Index(b[i:], pat[head:])
		if j < 0 {
			return -1
		}
		if i += j; bytes.Equal(b[i-head:i], pat[:head]) {
			return i - head
		}
		i++
	}
	return -1
}

// resync discards the input up to the next START of the content type,
// from buf[start], and consumes that START. cause is the framing error
// that made the reader lose its place; it is returned if the input ends
// first. When the Reader is stopped meanwhile, resync returns io.EOF: the
// next reader of the input resynchronises in its turn.
func (r *Reader) resync(cause *Error) error {
	pat := r.pattern()
	var skipped int64
	defer func() { r.skipped += skipped }()
	if r.backAt == r.offset && r.back > 0 {
		// A START may have begun in the frame just read: a torn frame
		// whose length took in part of the next writer's START.
		if !r.halt.Load() {
			r.need(len(pat) - 1)
		}
		lb := min(r.back, r.start)
		if i := index(r.buf[r.start-lb:min(r.end, r.start+len(pat)-1)], pat); i >= 0 && i < lb {
			if err := r.need(len(pat) - (lb - i)); err == nil {
				r.consume(len(pat) - (lb - i))
				return r.resynced(cause, 0)
			}
		}
	}
	r.back = 0
	for {
		if i := index(r.buf[r.start:r.end], pat); i >= 0 {
			r.consume(i)
			skipped += int64(i)
			break
		}
		// Keep what may be the beginning of START.
		if d := r.end - r.start - (len(pat) - 1); d > 0 {
			r.consume(d)
			skipped += int64(d)
		}
		if r.halt.Load() {
			r.err = io.EOF
			return io.EOF
		}
		if err := r.need(len(pat)); err != nil {
			switch {
			case err == errStopped || r.halt.Load():
				r.err = io.EOF
				return io.EOF
			case errors.Is(err, io.EOF) || errors.Is(err, ErrTruncated):
				// The input ended before the next START.
				skipped += int64(r.end - r.start)
				r.consume(r.end - r.start)
				return r.fail(cause)
			}
			return r.fail(err)
		}
	}
	r.consume(len(pat))
	return r.resynced(cause, skipped)
}

// resynced notes a resynchronisation that ended after START.
func (r *Reader) resynced(cause *Error, skipped int64) error {
	r.back = 0
	r.stopped = false
	r.joined = false
	if r.opts.Log != nil {
		r.opts.Log.Warn("framing error: skipped to the next START", "err", cause.Err, "frame", cause.Frame, "offset", cause.Offset, "skipped_bytes", skipped)
	}
	return nil
}

// need makes at least n bytes available at buf[start:]. At a clean end of
// input with nothing buffered it returns io.EOF, else ErrTruncated.
func (r *Reader) need(n int) error {
	if r.end-r.start >= n {
		return nil
	}
	if r.start+n > len(r.buf) {
		// Under Continue, the end of the data frame just read stays,
		// for resync to look back into.
		keep := 0
		if r.back > 0 && r.backAt == r.offset {
			keep = min(r.back, r.start)
		}
		if n+keep > len(r.buf) {
			// Grow to the frame, bounded by max; doubling keeps a run
			// of growing frames from copying each time.
			nb := make([]byte, max(n+keep, min(2*len(r.buf), r.max+8)))
			r.end = copy(nb, r.buf[r.start-keep:r.end])
			r.buf = nb
		} else {
			r.end = copy(r.buf, r.buf[r.start-keep:r.end])
		}
		r.start = keep
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
