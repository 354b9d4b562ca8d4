package fstrm

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

func control(t ControlType, cts ...string) []byte {
	return AppendControl(nil, Control{Type: t, ContentTypes: cts})
}

func data(frames ...string) []byte {
	var b []byte
	for _, f := range frames {
		b = append(b, byte(len(f)>>24), byte(len(f)>>16), byte(len(f)>>8), byte(len(f)))
		b = append(b, f...)
	}
	return b
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Under Continue, a FIFO's stream may begin midway and a writer may
// restart without STOP; the rest is refused as without it.
func TestContinue(t *testing.T) {
	start, stop := control(ControlStart, ct), control(ControlStop)
	one := []string{ct}
	for _, tc := range []struct {
		name string
		in   []byte
		opts ReaderOptions
		want string // frames joined with ",", then the log's messages
		err  error
	}{
		{"begins with data", join(data("a", "b"), stop), ReaderOptions{ContentTypes: one, Continue: true}, "a,b continuing", nil},
		{"begins with data, strict", join(data("a", "b"), stop), ReaderOptions{ContentTypes: one}, "", ErrNoStart},
		{"begins with data, two types", join(data("a"), stop), ReaderOptions{ContentTypes: []string{ct, "x"}, Continue: true}, "", ErrNoStart},
		{"begins with data, any type", join(data("a"), stop), ReaderOptions{Continue: true}, "", ErrNoStart},
		{"begins with STOP", join(stop, start, data("a"), stop), ReaderOptions{ContentTypes: one, Continue: true}, "a continuing", nil},
		{"begins with STOP, strict", join(stop, start, data("a"), stop), ReaderOptions{ContentTypes: one}, "", ErrNoStart},
		{"writer restarted", join(start, data("a"), start, data("b"), stop), ReaderOptions{ContentTypes: one, Continue: true}, "a,b restarted", nil},
		{"writer restarted, strict", join(start, data("a"), start, data("b"), stop), ReaderOptions{ContentTypes: one}, "a", ErrUnexpected},
		{"joined, then restarted", join(data("a"), start, data("b"), stop), ReaderOptions{ContentTypes: one, Continue: true}, "a,b continuing restarted", nil},
		{"restarted with another type", join(start, data("a"), control(ControlStart, "x"), data("b"), stop), ReaderOptions{Continue: true}, "a", ErrContentType},
		{"data after STOP", join(start, data("a"), stop, data("b")), ReaderOptions{ContentTypes: one, Continue: true}, "a", ErrUnexpected},
		{"READY mid-stream", join(start, data("a"), control(ControlReady, ct)), ReaderOptions{ContentTypes: one, Continue: true}, "a", ErrUnexpected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			tc.opts.Log = slog.New(slog.NewTextHandler(&logs, nil))
			var got []string
			r, err := NewFileReader(bytes.NewReader(tc.in), tc.opts)
			if err == nil {
				got, err = readAll(r)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if tc.err == nil && r.ContentType() != ct {
				t.Errorf("content type %q", r.ContentType())
			}
			s := strings.Join(got, ",")
			for _, m := range []string{"continuing", "restarted"} {
				if strings.Contains(logs.String(), m) {
					s += " " + m
				}
			}
			if tc.err == nil || s != "" {
				if s != tc.want {
					t.Errorf("got %q, want %q; log:\n%s", s, tc.want, logs.String())
				}
			}
		})
	}
}

// The message of a START mid-stream under Continue names both types.
func TestContinueMessage(t *testing.T) {
	in := join(data("a"), control(ControlStart, "json:tapir.Record"))
	r, err := NewFileReader(bytes.NewReader(in), ReaderOptions{ContentTypes: []string{ct}, Continue: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = readAll(r)
	want := `frame 2 at byte 5: wrong content type: "json:tapir.Record", want "protobuf:dnstap.Dnstap"`
	if err == nil || err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
}

// next runs r.Next in a goroutine, as a stage reads while its signal
// handler calls Stop.
func next(r *Reader) <-chan result {
	c := make(chan result, 1)
	go func() {
		f, err := r.Next()
		c <- result{string(f), err}
	}()
	return c
}

type result struct {
	frame string
	err   error
}

func wait(t *testing.T, c <-chan result, within time.Duration) result {
	t.Helper()
	select {
	case res := <-c:
		return res
	case <-time.After(within):
		t.Fatalf("Next did not return within %v", within)
	}
	return result{}
}

// pipe is an os.Pipe, whose read end has deadlines, as a FIFO has.
func pipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	return pr, pw
}

// Stop with part of a frame read: Next waits for the rest, reads nothing
// beyond it, and the next reader of the pipe begins at the next frame.
func TestStopPartialFrame(t *testing.T) {
	pr, pw := pipe(t)
	second, third := data(strings.Repeat("2", 1000)), data("third")
	pw.Write(join(control(ControlStart, ct), data("first"), second[:300]))
	opts := ReaderOptions{ContentTypes: []string{ct}, Continue: true}
	r, err := NewFileReader(pr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(t, next(r), time.Second); res.frame != "first" {
		t.Fatalf("got %q, %v", res.frame, res.err)
	}
	c := next(r)
	time.Sleep(50 * time.Millisecond) // blocked on the rest of the second frame
	r.Stop()
	time.Sleep(50 * time.Millisecond)
	pw.Write(join(second[300:], third)) // the writer goes on
	if res := wait(t, c, 2*time.Second); res.frame != strings.Repeat("2", 1000) {
		t.Fatalf("got %d bytes, %v; want the second frame", len(res.frame), res.err)
	}
	if res := wait(t, next(r), time.Second); res.err != io.EOF {
		t.Fatalf("after Stop: %q, %v; want io.EOF", res.frame, res.err)
	}
	pr.SetReadDeadline(time.Time{})
	r2, err := NewFileReader(pr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(t, next(r2), time.Second); res.frame != "third" {
		t.Fatalf("next reader: %q, %v; want the third frame whole", res.frame, res.err)
	}
}

// Stop while waiting on an empty pipe returns at once and consumes
// nothing: the frame written next goes whole to the next reader.
func TestStopIdle(t *testing.T) {
	pr, pw := pipe(t)
	pw.Write(join(control(ControlStart, ct), data("first", "second")))
	opts := ReaderOptions{ContentTypes: []string{ct}, Continue: true}
	r, err := NewFileReader(pr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(t, next(r), time.Second); res.frame != "first" {
		t.Fatalf("got %q, %v", res.frame, res.err)
	}
	// The second frame is buffered: Stop before Next still returns it.
	r.Stop()
	if res := wait(t, next(r), time.Second); res.frame != "second" {
		t.Fatalf("got %q, %v; want the buffered frame", res.frame, res.err)
	}
	if res := wait(t, next(r), time.Second); res.err != io.EOF {
		t.Fatalf("got %q, %v; want io.EOF", res.frame, res.err)
	}

	// Stop's deadline stays on the pipe; the next reader clears it, as
	// the next process has a deadline of its own.
	pr.SetReadDeadline(time.Time{})
	r, err = readerOnce(t, pr, pw, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := next(r)
	time.Sleep(50 * time.Millisecond) // blocked on the empty pipe
	began := time.Now()
	r.Stop()
	if res := wait(t, c, time.Second); res.err != io.EOF {
		t.Fatalf("got %q, %v; want io.EOF", res.frame, res.err)
	}
	if d := time.Since(began); d > 500*time.Millisecond {
		t.Errorf("Stop took %v", d)
	}
	pw.Write(data("after"))
	pr.SetReadDeadline(time.Time{})
	r2, err := NewFileReader(pr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(t, next(r2), time.Second); res.frame != "after" {
		t.Fatalf("next reader: %q, %v", res.frame, res.err)
	}
}

// readerOnce opens a reader on the pipe from one frame, and reads it.
func readerOnce(t *testing.T, pr, pw *os.File, opts ReaderOptions) (*Reader, error) {
	t.Helper()
	pw.Write(data("one"))
	r, err := NewFileReader(pr, opts)
	if err != nil {
		return nil, err
	}
	if res := wait(t, next(r), time.Second); res.frame != "one" {
		t.Fatalf("got %q, %v", res.frame, res.err)
	}
	return r, nil
}

// A frame whose rest does not come within StopWait is an error that says
// so, not a frame.
func TestStopGivesUp(t *testing.T) {
	pr, pw := pipe(t)
	pw.Write(join(control(ControlStart, ct), data("first")[:4]))
	r, err := NewFileReader(pr, ReaderOptions{ContentTypes: []string{ct}, Continue: true, StopWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := next(r)
	time.Sleep(50 * time.Millisecond)
	r.Stop()
	res := wait(t, c, 2*time.Second)
	var fe *Error
	if !errors.Is(res.err, ErrTruncated) || !errors.As(res.err, &fe) || fe.Frame != 1 || !strings.Contains(res.err.Error(), "stopped with 4 of 9 bytes") {
		t.Fatalf("got %q, %v; want a truncated first frame", res.frame, res.err)
	}
}

// On input without deadlines, Stop takes effect at the next read: the
// frames buffered come first.
func TestStopBuffered(t *testing.T) {
	r, err := NewFileReader(bytes.NewReader(stream(t, "a", "b", "c")), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Stop()
	got, err := readAll(r)
	if err != nil || strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("got %q, %v", got, err)
	}
}
