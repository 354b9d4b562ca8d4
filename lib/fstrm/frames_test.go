package fstrm

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestAppendSplit(t *testing.T) {
	frames := [][]byte{[]byte("a"), bytes.Repeat([]byte("b"), 300), {}, []byte("end")}
	var b []byte
	for _, f := range frames {
		b = AppendFrame(b, f)
	}
	if !bytes.Equal(b[:5], []byte{0, 0, 0, 1, 'a'}) || !bytes.Equal(b[5:9], []byte{0, 0, 1, 44}) {
		t.Fatalf("not big-endian length-prefixed: % x", b[:9])
	}
	got := slices.Collect(Split(b))
	if len(got) != len(frames) {
		t.Fatalf("%d frames back, want %d", len(got), len(frames))
	}
	for i := range frames {
		if !bytes.Equal(got[i], frames[i]) {
			t.Errorf("frame %d: %q, want %q", i, got[i], frames[i])
		}
	}
	// The Writer takes the same bytes as its own framing.
	var out bytes.Buffer
	w := NewWriter(&out, "t")
	if err := w.WriteFrames(b[:5+304], 2); err != nil { // "a" and 300 "b"
		t.Fatal(err)
	}
	w.Close()
	r, err := NewFileReader(&out, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		f, err := r.Next()
		if err != nil || !bytes.Equal(f, frames[i]) {
			t.Errorf("read back frame %d: %q, %v", i, f, err)
		}
	}
}

// A payload made in place is framed as AppendFrame frames it; a failed
// one leaves nothing behind.
func TestAppendFrameFunc(t *testing.T) {
	b := AppendFrame(nil, []byte("a"))
	b, err := AppendFrameFunc(b, func(d []byte) ([]byte, error) { return append(d, bytes.Repeat([]byte("b"), 300)...), nil })
	if err != nil {
		t.Fatal(err)
	}
	want := AppendFrame(AppendFrame(nil, []byte("a")), bytes.Repeat([]byte("b"), 300))
	if !bytes.Equal(b, want) {
		t.Fatalf("% x\nwant % x", b, want)
	}
	boom := errors.New("boom")
	b, err = AppendFrameFunc(b, func(d []byte) ([]byte, error) { return append(d, "partial"...), boom })
	if err != boom || !bytes.Equal(b, want) {
		t.Errorf("after a failure: %v, % x", err, b)
	}
}

func TestCutTorn(t *testing.T) {
	b := AppendFrame(nil, []byte("hello"))
	for n := range len(b) {
		if _, rest, ok := Cut(b[:n]); ok || len(rest) != n {
			t.Errorf("Cut of %d of %d bytes: ok %v, rest %d", n, len(b), ok, len(rest))
		}
	}
	f, rest, ok := Cut(b)
	if !ok || string(f) != "hello" || len(rest) != 0 {
		t.Errorf("Cut = %q, %q, %v", f, rest, ok)
	}
}
