// Package stream opens the byte streams under Frame Streams: it reads
// plain, zstd-compressed and age-encrypted input, in any nesting, by
// sniffing the first bytes, and writes compressed and encrypted output.
package stream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/klauspost/compress/zstd"

	"github.com/tapir-edge/tapir/lib/keyfile"
)

var (
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	ageMagic   = []byte("age-encryption.org/v1\n")
	armorMagic = []byte(armor.Header)
)

// ErrNoIdentity reports age-encrypted input with no identity to open it.
var ErrNoIdentity = errors.New("input is age-encrypted: give an identity file (--identity)")

// maxLayers bounds nesting, so that a crafted input cannot recurse forever.
const maxLayers = 4

// Layer names an encoding found around a stream.
type Layer string

// Layers a Reader can take off.
const (
	Zstd  Layer = "zstd"
	Age   Layer = "age"
	Armor Layer = "age-armor"
)

// Reader reads a stream with its compression and encryption taken off.
type Reader struct {
	io.Reader
	// Layers lists the encodings taken off, outermost first.
	Layers  []Layer
	closers []func()
}

// Close releases the decoders (not the underlying reader).
func (r *Reader) Close() error {
	for _, c := range r.closers {
		c()
	}
	r.closers = nil
	return nil
}

// SetReadDeadline sets the read deadline of the input under a plain
// stream, as Frame Streams readers use to stop at a frame boundary. Under
// compression or encryption it is os.ErrNoDeadline: the decoders read
// ahead, and where they stopped is no place to resume anyway.
func (r *Reader) SetReadDeadline(t time.Time) error {
	if d, ok := r.Reader.(interface{ SetReadDeadline(time.Time) error }); ok && len(r.Layers) == 0 {
		return d.SetReadDeadline(t)
	}
	return os.ErrNoDeadline
}

// rest reads what the sniffer buffered, then straight from r: a plain
// stream is read with no read-ahead but the reader's own, so that a
// reader that stops at a frame boundary leaves the input there.
type rest struct {
	buf []byte
	r   io.Reader
}

func (p *rest) Read(b []byte) (int, error) {
	if len(p.buf) == 0 {
		return p.r.Read(b)
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

func (p *rest) SetReadDeadline(t time.Time) error {
	if d, ok := p.r.(interface{ SetReadDeadline(time.Time) error }); ok {
		return d.SetReadDeadline(t)
	}
	return os.ErrNoDeadline
}

// NewReader sniffs r and takes off each layer of zstd compression and age
// encryption it finds. ids open age layers. It reads no more than r
// returns at once before it knows the stream is plain: a Frame Streams
// stream, plain, begins with a byte that no encoding does.
func NewReader(r io.Reader, ids []age.Identity) (*Reader, error) {
	sr := &Reader{}
	src := r
	br := bufio.NewReaderSize(r, 64<<10)
	for range maxLayers + 1 {
		head, err := br.Peek(1)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(head) > 0 && (head[0] == zstdMagic[0] || head[0] == ageMagic[0] || head[0] == armorMagic[0]) {
			head, err = br.Peek(len(armorMagic))
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
		}
		var next io.Reader
		switch {
		case bytes.HasPrefix(head, zstdMagic):
			d, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
			if err != nil {
				return nil, fmt.Errorf("zstd: %w", err)
			}
			sr.closers = append(sr.closers, d.Close)
			sr.Layers = append(sr.Layers, Zstd)
			next = d
		case bytes.HasPrefix(head, ageMagic), bytes.HasPrefix(head, armorMagic):
			if len(ids) == 0 {
				return nil, ErrNoIdentity
			}
			var src io.Reader = br
			if bytes.HasPrefix(head, armorMagic) {
				src = armor.NewReader(br)
				sr.Layers = append(sr.Layers, Armor)
			} else {
				sr.Layers = append(sr.Layers, Age)
			}
			d, err := age.Decrypt(src, ids...)
			if err != nil {
				return nil, fmt.Errorf("age: %w", err)
			}
			next = d
		default:
			buffered, _ := br.Peek(br.Buffered())
			sr.Reader = &rest{buf: buffered, r: src}
			return sr, nil
		}
		if len(sr.Layers) > maxLayers {
			break
		}
		src = next
		br = bufio.NewReaderSize(next, 64<<10)
	}
	sr.Close()
	return nil, fmt.Errorf("more than %d layers of compression and encryption", maxLayers)
}

// WriterOptions say how to encode output.
type WriterOptions struct {
	Zstd       bool
	Recipients []age.Recipient
}

// Encoded reports whether o asks for any encoding.
func (o WriterOptions) Encoded() bool { return o.Zstd || len(o.Recipients) > 0 }

type writer struct {
	io.Writer
	closers []io.Closer // innermost first
}

func (w *writer) Close() error {
	var first error
	for _, c := range w.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// flusher is the zstd encoder's Flush: it ends a block so that what was
// written can be decoded before the stream ends.
type flusher interface{ Flush() error }

// Flush pushes out what the compressor holds.
func (w *writer) Flush() error {
	if f, ok := w.Writer.(flusher); ok {
		return f.Flush()
	}
	return nil
}

// NewWriter returns a writer that compresses and then encrypts to w, as o
// says. Close finishes the encodings but does not close w. With no
// encoding it returns w itself, wrapped only to add a no-op Close.
func NewWriter(w io.Writer, o WriterOptions) (io.WriteCloser, error) {
	out := &writer{Writer: w}
	if len(o.Recipients) > 0 {
		e, err := age.Encrypt(out.Writer, o.Recipients...)
		if err != nil {
			return nil, fmt.Errorf("age: %w", err)
		}
		out.Writer = e
		out.closers = append(out.closers, e)
	}
	if o.Zstd {
		e, err := zstd.NewWriter(out.Writer, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		out.Writer = e
		out.closers = append([]io.Closer{e}, out.closers...)
	}
	return out, nil
}

// Flush flushes w if it is a writer from NewWriter that can be flushed.
func Flush(w io.Writer) error {
	if f, ok := w.(*writer); ok {
		return f.Flush()
	}
	return nil
}

// ReadIdentities reads age identities from files, which must not be
// readable by others.
func ReadIdentities(paths []string) ([]age.Identity, error) {
	var ids []age.Identity
	for _, p := range paths {
		b, err := keyfile.Read(p)
		if err != nil {
			return nil, err
		}
		got, err := age.ParseIdentities(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// ParseRecipients parses recipients given on the command line (age1…) and
// in recipients files, one per line with # comments.
func ParseRecipients(args, files []string) ([]age.Recipient, error) {
	var rs []age.Recipient
	for _, a := range args {
		got, err := age.ParseRecipients(strings.NewReader(a))
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %w", a, err)
		}
		rs = append(rs, got...)
	}
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		got, err := age.ParseRecipients(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		rs = append(rs, got...)
	}
	return rs, nil
}
