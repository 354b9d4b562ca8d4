package fstrm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// plausible takes the test frames ("f" and printable bytes) for frames,
// as the tools take a frame that decodes for one.
func plausible(f []byte) bool {
	if len(f) == 0 || f[0] != 'f' {
		return false
	}
	for _, c := range f {
		if c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// chunks is an input that arrives in the pieces given, one a read, as
// writes arrive in a FIFO.
type chunks [][]byte

func (c *chunks) Read(p []byte) (int, error) {
	for len(*c) > 0 && len((*c)[0]) == 0 {
		*c = (*c)[1:]
	}
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	(*c)[0] = (*c)[0][n:]
	return n, nil
}

func numbered(from, to int) []string {
	var fs []string
	for i := from; i < to; i++ {
		fs = append(fs, fmt.Sprintf("f%03d", i))
	}
	return fs
}

// Under Continue, a framing error is no failure: the reader skips to the
// next START of its content type, counts what it skipped, logs it once,
// and reads on.
func TestResync(t *testing.T) {
	start, stop := control(ControlStart, ct), control(ControlStop)
	long := data("f2-" + strings.Repeat("x", 97)) // 100 bytes
	torn := long[:10]                             // its length and 6 bytes
	for _, tc := range []struct {
		name    string
		in      [][]byte // chunks
		max     int
		want    string // frames joined with ","
		skipped int64
	}{
		{"frame too large", [][]byte{join(start, data("f1"), []byte{0x7f, 0xff, 0xff, 0xff}, []byte("garbage"), start, data("f2"), stop)}, 0, "f1,f2", 11},
		{"data after STOP", [][]byte{join(start, data("f1"), stop, data("junk"), start, data("f2"), stop)}, 0, "f1,f2", 8},
		{"READY mid-stream", [][]byte{join(start, data("f1"), control(ControlReady, ct), []byte("junk"), start, data("f2"), stop)}, 0, "f1,f2", 4},
		{"malformed control frame", [][]byte{join(start, data("f1"), []byte{0, 0, 0, 0, 0, 0, 0x10, 0}, []byte("junk"), start, data("f2"), stop)}, 0, "f1,f2", 12},
		// A reader died mid-frame; the next joins there.
		{"join misaligned: too large", [][]byte{join(data("f0-abcdef")[6:], data("f1"), start, data("f2"), stop)}, 0, "f2", 7 + 6},
		{"join misaligned: too large for a first frame", [][]byte{join([]byte{0, 0x20, 0, 0}, []byte("rest"), start, data("f2"), stop)}, 4 << 20, "f2", 8},
		{"join misaligned: implausible", [][]byte{join([]byte{0, 0, 0, 3}, []byte("xyzrest"), data("f1"), start, data("f2"), stop)}, 0, "f2", 11 + 6},
		{"join misaligned: at zero bytes", [][]byte{join([]byte{0, 0, 0, 0, 0xff, 0xff, 0, 0}, []byte("junk"), start, data("f2"), stop)}, 0, "f2", 12},
		// A writer died mid-frame; the next began with START.
		{"torn frame, START within", [][]byte{join(start, data("f1"), torn, start, data(numbered(3, 30)...), stop)}, 0, "f1," + strings.Join(numbered(3, 30), ","), 10},
		{"torn frame, START past its end", [][]byte{join(start, data("f1"), data("f2-" + strings.Repeat("x", 17))[:10], start, data("f3", "f4"), stop)}, 0, "f1,f3,f4", 10},
		// The reader had read up to the torn frame's end, which is two
		// bytes into START, when the rest came: it took a frame, and
		// finds its place at the START it cut.
		{"torn frame, START past its end, read apart", [][]byte{join(start, data("f1"), data("f2-lonxx")[:10], start[:2]), join(start[2:], data("f3", "f4"), stop)}, 0, "f1,f2-lon\x00\x00,f3,f4", 0},
		{"a frame that holds START, plausible", [][]byte{join(start, data("f1", "f2-"+string(start)), stop)}, 0, "f1,f2-" + string(start), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			in := chunks(tc.in)
			opts := ReaderOptions{ContentTypes: []string{ct}, Continue: true, MaxFrameSize: tc.max, Plausible: plausible, Log: slog.New(slog.NewTextHandler(&logs, nil))}
			if tc.name == "a frame that holds START, plausible" {
				opts.Plausible = func([]byte) bool { return true }
			}
			r, err := NewFileReader(&in, opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(r)
			if err != nil {
				t.Fatalf("error %v after %q", err, got)
			}
			if s := strings.Join(got, ","); s != tc.want {
				t.Errorf("got %q\nwant %q", s, tc.want)
			}
			if r.Skipped() != tc.skipped {
				t.Errorf("skipped %d bytes, want %d", r.Skipped(), tc.skipped)
			}
			n := strings.Count(logs.String(), "skipped to the next START")
			if resynced := tc.want != "f1,f2-"+string(start); n != 1 && resynced || n != 0 && !resynced {
				t.Errorf("logged %d resynchronisations; log:\n%s", n, logs.String())
			}
		})
	}
}

// Without Continue the same inputs fail, with the messages they always
// had; and under Continue, an input that ends before the next START
// returns the error that began the search.
func TestResyncStrict(t *testing.T) {
	start, stop := control(ControlStart, ct), control(ControlStop)
	for _, tc := range []struct {
		in   []byte
		opts ReaderOptions
		want string
	}{
		{join(start, data("f1"), []byte{0x7f, 0xff, 0xff, 0xff}, []byte("garbage"), start, data("f2"), stop), ReaderOptions{}, "frame 2 at byte 48: frame too large: 2147483647 bytes, more than 1048576"},
		{join(start, data("f1"), data("f2-long")[:6], start, data("f3"), stop), ReaderOptions{}, "frame 3 at byte 59: truncated: 55 of 8708 bytes"},
		{join(start, data("f1"), []byte{0x7f, 0xff, 0xff, 0xff}, []byte("garbage")), ReaderOptions{ContentTypes: []string{ct}, Continue: true}, "frame 2 at byte 48: frame too large: 2147483647 bytes, more than 1048576"},
		{join(start, data("f1"), stop, data("f2")), ReaderOptions{ContentTypes: []string{ct}, Continue: true}, "frame 2 at byte 60: unexpected control frame: data after STOP"},
	} {
		r, err := NewFileReader(bytes.NewReader(tc.in), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = readAll(r)
		if err == nil || err.Error() != tc.want {
			t.Errorf("error %v\nwant  %s", err, tc.want)
		}
	}
}

// The search keeps no more than the buffer: megabytes of garbage pass
// through it.
func TestResyncBounded(t *testing.T) {
	start, stop := control(ControlStart, ct), control(ControlStop)
	garbage := bytes.Repeat([]byte{0x7f}, 10<<20)
	in := join(start, data("f1"), garbage, start[:20], garbage[:100], start, data("f2"), stop)
	r, err := NewFileReader(bytes.NewReader(in), ReaderOptions{ContentTypes: []string{ct}, Continue: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	if err != nil || strings.Join(got, ",") != "f1,f2" {
		t.Fatalf("got %q, %v", got, err)
	}
	if len(r.buf) > initialBuffer {
		t.Errorf("buffer grew to %d bytes", len(r.buf))
	}
	if want := int64(len(garbage) + 20 + 100); r.Skipped() != want {
		t.Errorf("skipped %d, want %d", r.Skipped(), want)
	}
}

// A record stream's frames may be huge: a torn frame's length may claim
// hundreds of megabytes. The START within it is seen as it arrives, not
// after the reader has waited for them all.
func TestResyncLargeFrame(t *testing.T) {
	const rct = "json:tapir.Record"
	start, stop := control(ControlStart, rct), control(ControlStop)
	big := []byte{0x10, 0, 0, 0} // 256 MiB claimed
	in := chunks{join(control(ControlStart, rct), data("{}"), big, []byte(`{"type":"hist`)), join(start, data(`{"a":1}`), stop)}
	r, err := NewFileReader(&in, ReaderOptions{ContentTypes: []string{rct}, Continue: true, MaxFrameSize: 512 << 20})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	if err != nil || strings.Join(got, ",") != `{},{"a":1}` {
		t.Fatalf("got %q, %v", got, err)
	}
	if len(r.buf) > 1<<20 {
		t.Errorf("buffer grew to %d bytes", len(r.buf))
	}
}

// A writer's sync points (STOP, START) read as concatenated streams, with
// or without Continue. A reader that joins the stream at any byte, as
// after a reader died there, returns frames of the stream only, in order,
// without a gap, and every frame after the first sync point past where it
// joined.
func TestSyncPoints(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b, ct)
	var want []string
	var syncs []int64 // stream offsets just after each sync point
	var before []int  // the number of frames before each
	for i := range 800 {
		f := fmt.Sprintf("f%03d", i) + strings.Repeat("-", i%13)
		want = append(want, f)
		w.WriteFrame([]byte(f))
		if i%100 == 99 {
			w.Sync()
			w.Flush()
			syncs = append(syncs, int64(b.Len()))
			before = append(before, i+1)
		}
	}
	w.Close()
	s := b.Bytes()
	r, err := NewFileReader(bytes.NewReader(s), ReaderOptions{ContentTypes: []string{ct}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(r); err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("strict: %q, %v", got, err)
	}
	for cut := 1; cut < len(s); cut++ {
		r, err := NewFileReader(bytes.NewReader(s[cut:]), ReaderOptions{ContentTypes: []string{ct}, Continue: true, Plausible: plausible, MaxFrameSize: 1 << 10})
		var got []string
		if err == nil {
			got, err = readAll(r)
		}
		// The frames after the first sync point at or past the cut.
		must := len(want)
		for i, off := range syncs {
			if off-int64(len(control(ControlStart, ct))) >= int64(cut) {
				must = before[i]
				break
			}
		}
		if err != nil && must < len(want) {
			// Past the last sync point, the stream may end before the
			// reader finds its place: a finite input's end.
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if len(got) < len(want)-must {
			t.Fatalf("cut at %d: %d frames, want at least %d", cut, len(got), len(want)-must)
		}
		if tail := want[len(want)-len(got):]; strings.Join(got, ",") != strings.Join(tail, ",") {
			t.Fatalf("cut at %d: got %q\nwant %q", cut, got, tail)
		}
	}
}

// Continue never fails on garbage but at its end, never panics, and never
// returns a frame over the bound.
func FuzzReaderContinue(f *testing.F) {
	addSeeds(f)
	start := control(ControlStart, ct)
	f.Add(stream(f, "a", "bb", "ccc"))
	f.Add(join(data("f0-abcdef")[6:], data("f1"), start, data("f2"), control(ControlStop)))
	f.Add(join(start, data("f1"), data("f2-" + strings.Repeat("x", 17))[:10], start, data("f3", "f4")))
	f.Fuzz(func(t *testing.T, in []byte) {
		opts := ReaderOptions{ContentTypes: []string{ct}, Continue: true, MaxFrameSize: 1 << 16}
		if len(in) > 0 && in[0]&1 == 1 {
			opts.Plausible = plausible
		}
		r, err := NewFileReader(bytes.NewReader(in), opts)
		if err != nil {
			return
		}
		for n := int64(0); ; n++ {
			b, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var fe *Error
				if !errors.As(err, &fe) || fe.Frame != n+1 {
					t.Fatalf("error %v after %d frames", err, n)
				}
				break
			}
			if len(b) == 0 || len(b) > 1<<16 {
				t.Fatalf("frame of %d bytes", len(b))
			}
		}
		if r.Skipped() < 0 || r.Skipped() > int64(len(in)) || r.Offset() > int64(len(in)) {
			t.Fatalf("skipped %d, offset %d of %d bytes", r.Skipped(), r.Offset(), len(in))
		}
	})
}
