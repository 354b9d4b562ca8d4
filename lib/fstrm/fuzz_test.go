package fstrm

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// addSeeds adds the real captures in the repository's testdata to the
// corpus (testdata/fuzz holds more, and what the fuzzer has found).
func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/dns-violations/*.dnstap")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
}

func FuzzReader(f *testing.F) {
	addSeeds(f)
	f.Add(stream(f, "a", "bb", "ccc"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := NewFileReader(bytes.NewReader(in), ReaderOptions{MaxFrameSize: 1 << 16})
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		var frames [][]byte
		for {
			b, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var fe *Error
				if !errors.As(err, &fe) || fe.Frame != int64(len(frames))+1 {
					t.Fatalf("error %v after %d frames", err, len(frames))
				}
				return
			}
			if len(b) == 0 || len(b) > 1<<16 {
				t.Fatalf("frame of %d bytes", len(b))
			}
			frames = append(frames, bytes.Clone(b))
		}
		// What reads cleanly writes back to a stream that reads the same.
		var out bytes.Buffer
		w := NewWriter(&out, r.ContentType())
		for _, b := range frames {
			w.WriteFrame(b)
		}
		w.Close()
		r2, err := NewFileReader(&out, ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(r2)
		if err != nil || len(got) != len(frames) {
			t.Fatalf("rewrite read %d frames, %v; want %d", len(got), err, len(frames))
		}
	})
}

func FuzzControl(f *testing.F) {
	for _, c := range []Control{
		{Type: ControlReady, ContentTypes: []string{ct, "json:tapir.Record"}},
		{Type: ControlStart, ContentTypes: []string{ct}},
		{Type: ControlStop},
	} {
		f.Add(AppendControl(nil, c)[8:])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseControl(in)
		if err != nil {
			return
		}
		again, err := ParseControl(AppendControl(nil, c)[8:])
		if err != nil || again.Type != c.Type || len(again.ContentTypes) != len(c.ContentTypes) {
			t.Fatalf("%+v does not round-trip: %+v, %v", c, again, err)
		}
	})
}

// FuzzHandshake feeds arbitrary bytes to the receiving end of a socket: it
// must end with a frame or an error, never hang or panic.
func FuzzHandshake(f *testing.F) {
	f.Add(append(AppendControl(nil, Control{Type: ControlReady, ContentTypes: []string{ct}}),
		AppendControl(nil, Control{Type: ControlStart, ContentTypes: []string{ct}})...))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := net.Pipe()
		defer a.Close()
		go func() {
			defer b.Close()
			go io.Copy(io.Discard, b)
			b.Write(in)
		}()
		r, err := NewReader(a, ReaderOptions{Bidirectional: true, Timeout: time.Second, MaxFrameSize: 1 << 16})
		if err != nil {
			return
		}
		for {
			if _, err := r.Next(); err != nil {
				return
			}
		}
	})
}
