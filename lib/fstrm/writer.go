package fstrm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Writer writes a Frame Streams stream of one content type.
type Writer struct {
	bw     *bufio.Writer
	rw     io.ReadWriter // the peer, when bidirectional
	ct     string
	frames int64
	hdr    [4]byte
	closed bool
}

// WriterOptions tune a Writer. The zero value is usable.
type WriterOptions struct {
	// BufferSize is the size of the write buffer; 0 means 64 KiB.
	BufferSize int
	// Bidirectional makes the writer the sending end of a socket: it
	// offers READY, waits for ACCEPT, and after STOP waits for FINISH.
	Bidirectional bool
	// Timeout bounds each wait for the receiver when bidirectional.
	Timeout time.Duration
}

// NewWriter starts a unidirectional stream of content type ct on w. START
// is buffered, not yet written.
func NewWriter(w io.Writer, ct string) *Writer {
	fw, _ := newWriter(w, nil, ct, WriterOptions{})
	return fw
}

// Dial starts a bidirectional stream on a connection: it sends READY,
// waits for ACCEPT of ct, and sends START.
func Dial(rw io.ReadWriter, ct string, opts WriterOptions) (*Writer, error) {
	opts.Bidirectional = true
	return newWriter(rw, rw, ct, opts)
}

func newWriter(w io.Writer, rw io.ReadWriter, ct string, opts WriterOptions) (*Writer, error) {
	size := opts.BufferSize
	if size <= 0 {
		size = 64 << 10
	}
	fw := &Writer{bw: bufio.NewWriterSize(w, size), ct: ct}
	if opts.Bidirectional {
		fw.rw = rw
		fw.control(ControlReady)
		if err := fw.bw.Flush(); err != nil {
			return nil, fmt.Errorf("write READY: %w", err)
		}
		if err := fw.await(ControlAccept, opts.Timeout); err != nil {
			return nil, err
		}
	}
	fw.control(ControlStart)
	if opts.Bidirectional {
		// The receiver's handshake ends with START: do not keep it
		// waiting for the first frame.
		if err := fw.bw.Flush(); err != nil {
			return nil, fmt.Errorf("write START: %w", err)
		}
	}
	return fw, nil
}

func (w *Writer) control(t ControlType) {
	var cts []string
	if w.ct != "" && t != ControlStop {
		cts = []string{w.ct}
	}
	w.bw.Write(AppendControl(nil, Control{Type: t, ContentTypes: cts}))
}

// await reads one control frame of type t from the receiver.
func (w *Writer) await(t ControlType, timeout time.Duration) error {
	if d, ok := w.rw.(deadliner); ok && timeout > 0 {
		d.SetReadDeadline(time.Now().Add(timeout))
		defer d.SetReadDeadline(time.Time{})
	}
	var hdr [8]byte
	if _, err := io.ReadFull(w.rw, hdr[:]); err != nil {
		return fmt.Errorf("wait for %v: %w", t, err)
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if binary.BigEndian.Uint32(hdr[:]) != 0 || n > MaxControlSize {
		return fmt.Errorf("wait for %v: %w", t, ErrBadControl)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(w.rw, body); err != nil {
		return fmt.Errorf("wait for %v: %w", t, err)
	}
	c, err := ParseControl(body)
	if err != nil {
		return fmt.Errorf("wait for %v: %w", t, err)
	}
	if c.Type != t {
		return fmt.Errorf("wait for %v: %w: got %v", t, ErrUnexpected, c.Type)
	}
	if t == ControlAccept && w.ct != "" && len(c.ContentTypes) > 0 {
		for _, ct := range c.ContentTypes {
			if ct == w.ct {
				return nil
			}
		}
		return fmt.Errorf("%w: receiver accepts %q, not %q", ErrContentType, c.ContentTypes, w.ct)
	}
	return nil
}

// ContentType is the content type of the stream.
func (w *Writer) ContentType() string { return w.ct }

// Frames is the number of data frames written so far.
func (w *Writer) Frames() int64 { return w.frames }

// WriteFrame writes one data frame. An empty frame cannot be written: its
// zero length would be read as a control frame.
func (w *Writer) WriteFrame(p []byte) error {
	if len(p) == 0 {
		return errors.New("fstrm: empty data frame")
	}
	if uint64(len(p)) > 1<<32-1 {
		return ErrFrameTooLarge
	}
	binary.BigEndian.PutUint32(w.hdr[:], uint32(len(p)))
	w.bw.Write(w.hdr[:])
	_, err := w.bw.Write(p)
	w.frames++
	return err
}

// WriteFrames writes frames that are already framed, as a Reader's caller
// may keep them: each a 4-byte length and its payload. n is their number.
func (w *Writer) WriteFrames(b []byte, n int) error {
	_, err := w.bw.Write(b)
	w.frames += int64(n)
	return err
}

// Sync writes a sync point: STOP, then START of the same content type,
// which every reader takes for two streams one after the other. A reader
// of a FIFO that lost its place, as the next one does after a reader or
// writer died mid-frame, finds its place again at START (see
// ReaderOptions.Continue). It is buffered like a frame. A bidirectional
// stream has none: STOP would end it.
func (w *Writer) Sync() {
	if w.rw != nil || w.closed {
		return
	}
	w.control(ControlStop)
	w.control(ControlStart)
}

// Flush writes buffered frames to the underlying writer.
func (w *Writer) Flush() error { return w.bw.Flush() }

// Close writes STOP and flushes; when bidirectional it waits up to timeout
// for FINISH. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.control(ControlStop)
	if err := w.bw.Flush(); err != nil {
		return err
	}
	if w.rw != nil {
		return w.await(ControlFinish, 5*time.Second)
	}
	return nil
}

// Reset makes w write a new stream to dst, discarding anything buffered;
// the caller flushes first. It serves output files reopened on SIGHUP.
func (w *Writer) Reset(dst io.Writer) {
	w.bw.Reset(dst)
	w.closed = false
	w.control(ControlStart)
}
