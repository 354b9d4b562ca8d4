package fstrm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	framestream "github.com/farsightsec/golang-framestream"
)

const ct = "protobuf:dnstap.Dnstap"

func stream(t testing.TB, frames ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b, ct)
	for _, f := range frames {
		if err := w.WriteFrame([]byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readAll(r *Reader) ([]string, error) {
	var out []string
	for {
		f, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(f))
	}
}

func TestRoundTrip(t *testing.T) {
	big := string(bytes.Repeat([]byte("x"), 200<<10)) // larger than the initial buffer
	want := []string{"a", "bc", big, "def"}
	r, err := NewFileReader(bytes.NewReader(stream(t, want...)), ReaderOptions{ContentTypes: []string{ct}})
	if err != nil {
		t.Fatal(err)
	}
	if r.ContentType() != ct {
		t.Errorf("content type %q", r.ContentType())
	}
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("frame %d differs", i+1)
		}
	}
	if r.Frames() != 4 {
		t.Errorf("Frames() = %d", r.Frames())
	}
}

// oneByte makes every read return at most one byte, as a slow socket may.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func TestShortReads(t *testing.T) {
	r, err := NewFileReader(oneByte{bytes.NewReader(stream(t, "hello", "world"))}, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	if err != nil || len(got) != 2 || got[1] != "world" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// The same stream twice, as `cat a b` makes, reads as one.
func TestConcatenated(t *testing.T) {
	s := append(stream(t, "a", "b"), stream(t, "c")...)
	r, err := NewFileReader(bytes.NewReader(s), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	if err != nil || len(got) != 3 {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestErrors(t *testing.T) {
	good := stream(t, "first", "second")
	// The byte offset of the second frame: START, then 4+5 bytes.
	startLen := len(AppendControl(nil, Control{Type: ControlStart, ContentTypes: []string{ct}}))
	huge := append([]byte{}, good[:startLen]...)
	huge = binary.BigEndian.AppendUint32(huge, 5<<20)
	huge = append(huge, "xxxx"...)

	for _, tc := range []struct {
		name   string
		in     []byte
		opts   ReaderOptions
		err    error
		frame  int64
		frames int // read before the error
	}{
		{"truncated mid-frame", good[:startLen+4+5+4+3], ReaderOptions{}, ErrTruncated, 2, 1},
		{"truncated in length", good[:startLen+4+5+2], ReaderOptions{}, ErrTruncated, 2, 1},
		{"no STOP", good[:len(good)-12], ReaderOptions{}, ErrMissingStop, 3, 2},
		{"oversized", huge, ReaderOptions{}, ErrFrameTooLarge, 1, 0},
		{"over option", good, ReaderOptions{MaxFrameSize: 5}, ErrFrameTooLarge, 2, 1},
		{"wrong type", good, ReaderOptions{ContentTypes: []string{"json:tapir.Record"}}, ErrContentType, 1, 0},
		{"empty", nil, ReaderOptions{}, ErrNoStart, 1, 0},
		{"no START", good[startLen:], ReaderOptions{}, ErrNoStart, 1, 0},
		{"bad control", append(append([]byte{}, good[:len(good)-12]...), 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 9), ReaderOptions{}, ErrBadControl, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewFileReader(bytes.NewReader(tc.in), tc.opts)
			var got []string
			if err == nil {
				got, err = readAll(r)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.Frame != tc.frame {
				t.Errorf("error %v: want frame %d", err, tc.frame)
			}
			if len(got) != tc.frames {
				t.Errorf("read %d frames before the error, want %d", len(got), tc.frames)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := NewFileReader(bytes.NewReader(stream(t)), ReaderOptions{ContentTypes: []string{"json:tapir.Record"}})
	want := `frame 1 at byte 0: wrong content type: "protobuf:dnstap.Dnstap", want "json:tapir.Record"`
	if err == nil || err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
}

func TestControl(t *testing.T) {
	c := Control{Type: ControlReady, ContentTypes: []string{"a", "bb"}}
	b := AppendControl(nil, c)
	got, err := ParseControl(b[8:])
	if err != nil || got.Type != c.Type || len(got.ContentTypes) != 2 || got.ContentTypes[1] != "bb" {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, bad := range [][]byte{
		{0, 0, 0},                            // short
		{0, 0, 0, 9},                         // unknown type
		{0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9}, // field longer than frame
		{0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 'x'}, // STOP with content type
	} {
		if _, err := ParseControl(bad); !errors.Is(err, ErrBadControl) {
			t.Errorf("ParseControl(%x) = %v", bad, err)
		}
	}
}

// The bidirectional handshake against golang-framestream, the library that
// golang-dnstap uses, in both roles.
func TestBidirectionalInterop(t *testing.T) {
	t.Run("we receive", func(t *testing.T) {
		a, b := net.Pipe()
		done := make(chan error, 1)
		go func() {
			enc, err := framestream.NewEncoder(b, &framestream.EncoderOptions{ContentType: []byte(ct), Bidirectional: true})
			if err != nil {
				done <- err
				return
			}
			for i := range 3 {
				if _, err := enc.Write(fmt.Appendf(nil, "frame %d", i)); err != nil {
					done <- err
					return
				}
			}
			done <- enc.Close()
		}()
		r, err := NewReader(a, ReaderOptions{Bidirectional: true, ContentTypes: []string{ct}, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(r)
		if err != nil || len(got) != 3 || got[2] != "frame 2" {
			t.Fatalf("got %q, %v", got, err)
		}
		if err := <-done; err != nil {
			t.Fatalf("sender: %v", err)
		}
	})
	t.Run("we send", func(t *testing.T) {
		a, b := net.Pipe()
		done := make(chan []string, 1)
		go func() {
			dec, err := framestream.NewDecoder(b, &framestream.DecoderOptions{ContentType: []byte(ct), Bidirectional: true})
			if err != nil {
				t.Error(err)
				done <- nil
				return
			}
			var got []string
			for {
				f, err := dec.Decode()
				if err != nil {
					break
				}
				got = append(got, string(f))
			}
			done <- got
		}()
		w, err := Dial(a, ct, WriterOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		w.WriteFrame([]byte("one"))
		w.WriteFrame([]byte("two"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := <-done; len(got) != 2 || got[1] != "two" {
			t.Fatalf("receiver got %q", got)
		}
	})
}

// A sender that stalls in the handshake or inside a frame is cut off; one
// that is idle between frames is not.
func TestTimeout(t *testing.T) {
	opts := ReaderOptions{Bidirectional: true, Timeout: 100 * time.Millisecond}
	t.Run("handshake", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		go b.Write([]byte{0, 0, 0, 0}) // half an escape, then nothing
		_, err := NewReader(a, opts)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("error %v, want a timeout", err)
		}
	})
	t.Run("mid-frame", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		go func() {
			b.Write(AppendControl(nil, Control{Type: ControlReady, ContentTypes: []string{ct}}))
			io.ReadFull(b, make([]byte, 8+4+8+len(ct)))
			b.Write(AppendControl(nil, Control{Type: ControlStart, ContentTypes: []string{ct}}))
			b.Write([]byte{0, 0, 0, 5, 'x'}) // one byte of five
		}()
		r, err := NewReader(a, opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Next()
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("error %v, want a timeout", err)
		}
	})
	t.Run("idle", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		go func() {
			w, err := Dial(b, ct, WriterOptions{})
			if err != nil {
				return
			}
			time.Sleep(300 * time.Millisecond) // idle, longer than the timeout
			w.WriteFrame([]byte("late"))
			w.Close()
		}()
		r, err := NewReader(a, opts)
		if err != nil {
			t.Fatal(err)
		}
		f, err := r.Next()
		if err != nil || string(f) != "late" {
			t.Fatalf("got %q, %v", f, err)
		}
	})
}
